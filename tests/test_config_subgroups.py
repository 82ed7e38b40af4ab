"""The subgroup chapter's pre-specified subgroups in EvaluationParams: the paper's defaults,
read from a params file, and bad values named."""

from pathlib import Path

import pytest

from ecglib.config import EvaluationParams, load_params
from ecglib.errors import ConfigError

#: config._coerce converts numbers for a float field but lets any other value through (a
#: string or a bool is kept as it is); reported with its fix. define_subgroups refuses such a
#: cut when the chapter runs (tests/test_metrics_subgroups.py). Strict: remove once fixed.
_FLOATS_UNCHECKED = pytest.mark.xfail(
    strict=True, reason="config._coerce does not type-check float fields"
)

BASE = "name: t\nseed: 1\ndata:\n  table: x.csv\n  map: m.yaml\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(BASE + text)
    return path


def test_subgroup_defaults_are_the_papers():
    ev = load_params("params/demo.yaml").evaluation
    assert ev.subgroup_variables == ("age", "sex", "interval")
    assert ev.subgroup_age_cut_years == 65.0 and ev.subgroup_interval_cut_hours == 3.0
    assert EvaluationParams().subgroup_variables == ev.subgroup_variables


def test_subgroups_are_read_from_the_params(tmp_path):
    text = (
        "evaluation:\n  subgroup_variables: [sex, age]\n  subgroup_age_cut_years: 70\n"
        "  subgroup_interval_cut_hours: 24\n"
    )
    ev = load_params(write(tmp_path, text)).evaluation
    assert ev.subgroup_variables == ("sex", "age")
    assert ev.subgroup_age_cut_years == 70.0 and isinstance(ev.subgroup_age_cut_years, float)
    assert ev.subgroup_interval_cut_hours == 24.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("subgroup_variables: [age, bmi]", r"subgroup_variables\[1\] = 'bmi': expected one of"),
        ("subgroup_variables: age", r"subgroup_variables = 'age': expected a list"),
        pytest.param(
            "subgroup_age_cut_years: sixty",
            r"subgroup_age_cut_years = 'sixty': expected",
            marks=_FLOATS_UNCHECKED,
        ),
        pytest.param(
            "subgroup_interval_cut_hours: true",
            r"subgroup_interval_cut_hours = True: expected",
            marks=_FLOATS_UNCHECKED,
        ),
    ],
)
def test_bad_subgroup_params_are_named(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_params(write(tmp_path, f"evaluation:\n  {text}\n"))
