"""The subgroup chapter's pre-specified subgroups in EvaluationParams: the paper's defaults,
read from a params file, and bad values named."""

from pathlib import Path

import pytest

from ecglib.config import EvaluationParams, load_params
from ecglib.errors import ConfigError

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
        ),
        pytest.param(
            "subgroup_interval_cut_hours: true",
            r"subgroup_interval_cut_hours = True: expected",
        ),
    ],
)
def test_bad_subgroup_params_are_named(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_params(write(tmp_path, f"evaluation:\n  {text}\n"))


def test_a_number_in_scientific_notation_is_a_number(tmp_path):
    # PyYAML leaves 1e-3 (no dot) a string; a float field reads it as the number it is
    params = load_params(write(tmp_path, "train:\n  lr: 1e-3\n  weight_decay: 5E-4\n"))
    assert params.train.lr == 0.001 and params.train.weight_decay == 0.0005
    with pytest.raises(ConfigError, match=r"train.lr = 'fast': expected a number"):
        load_params(write(tmp_path, "train:\n  lr: fast\n"))
