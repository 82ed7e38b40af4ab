from pathlib import Path

import pytest

from ecglib.config import PROJECT_ROOT, load_params
from ecglib.errors import ConfigError

PARAMS = sorted((PROJECT_ROOT / "params").glob("*.yaml"))


@pytest.mark.parametrize("path", PARAMS, ids=[p.name for p in PARAMS])
def test_shipped_params_load(path, monkeypatch):
    params = load_params(path)
    assert params.name and params.sha256


def test_demo_params_resolve_against_the_project_root(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # not the repository: paths must not depend on the cwd
    params = load_params("params/demo.yaml")
    assert params.run_dir == PROJECT_ROOT / "runs" / "demo"
    assert params.path(params.data.table) == PROJECT_ROOT / "runs" / "demo" / "raw" / "export.csv"
    assert params.path(params.data.map).exists()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return path


BASE = "name: t\nseed: 1\ndata:\n  table: x.csv\n  map: m.yaml\n"


def test_unknown_key_is_named(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match=r"unknown key\(s\) p.yaml.data.tabel"):
        load_params(write(tmp_path, "name: t\nseed: 1\ndata:\n  tabel: x.csv\n  map: m.yaml\n"))


def test_missing_key_is_named(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match=r"missing key\(s\) p.yaml.seed"):
        load_params(write(tmp_path, "name: t\ndata:\n  table: x.csv\n  map: m.yaml\n"))


def test_bad_choice_and_type_are_named(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="signals.filter = 'butter'"):
        load_params(write(tmp_path, BASE + "signals:\n  filter: butter\n"))
    with pytest.raises(ConfigError, match="p.yaml.seed = 'one': expected int"):
        load_params(write(tmp_path, BASE.replace("seed: 1", "seed: one")))


def test_missing_file(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="not found"):
        load_params(tmp_path / "nope.yaml")


def test_evaluation_defaults_are_the_papers(monkeypatch):
    ev = load_params("params/demo.yaml").evaluation
    assert ev.high_risk_thresholds == {"RCA": 0.15, "LM": 0.01, "LAD": 0.15, "LCX": 0.15}
    assert ev.strata_specificity["LM"] == 0.87


def test_per_vessel_maps_need_every_vessel(tmp_path, monkeypatch):
    text = BASE + "evaluation:\n  high_risk_thresholds: {RCA: 0.1, LM: 0.01, LAD: 0.1}\n"
    with pytest.raises(ConfigError, match="needs exactly the vessels RCA, LM, LAD, LCX"):
        load_params(write(tmp_path, text))


def test_train_precision_is_validated(tmp_path, monkeypatch):
    assert load_params("params/demo.yaml").train.precision == "auto"
    for value in ("auto", "bf16", "fp16", "fp32"):
        params = load_params(write(tmp_path, BASE + f"train:\n  precision: {value}\n"))
        assert params.train.precision == value
    with pytest.raises(ConfigError, match=r"p.yaml.train.precision = 'fp8': expected one of"):
        load_params(write(tmp_path, BASE + "train:\n  precision: fp8\n"))


def test_the_rule_in_ppv_target_is_validated(tmp_path, monkeypatch):
    assert load_params("params/demo.yaml").evaluation.rule_in_ppv == 0.5
    params = load_params(write(tmp_path, BASE + "evaluation:\n  rule_in_ppv: 0.7\n"))
    assert params.evaluation.rule_in_ppv == 0.7
    for bad in ("0", "1", "1.5", "-0.2"):
        with pytest.raises(ConfigError, match=r"p.yaml.evaluation.rule_in_ppv = .*between 0 and 1"):
            load_params(write(tmp_path, BASE + f"evaluation:\n  rule_in_ppv: {bad}\n"))
    with pytest.raises(ConfigError, match="rule_in_ppv = 'half': expected a number"):
        load_params(write(tmp_path, BASE + "evaluation:\n  rule_in_ppv: half\n"))


def test_report_min_events_defaults_to_5_and_is_validated(tmp_path, monkeypatch):
    assert load_params(write(tmp_path, BASE)).report.min_events == 5
    assert load_params("params/demo.yaml").report.min_events == 5
    assert (
        load_params(write(tmp_path, BASE + "report:\n  min_events: 10\n")).report.min_events == 10
    )
    with pytest.raises(ConfigError, match=r"p.yaml.report.min_events = 0: must be at least 1"):
        load_params(write(tmp_path, BASE + "report:\n  min_events: 0\n"))
    with pytest.raises(ConfigError, match=r"p.yaml.report.min_events = 2.5: expected int"):
        load_params(write(tmp_path, BASE + "report:\n  min_events: 2.5\n"))
    with pytest.raises(ConfigError, match=r"unknown key\(s\) p.yaml.report.min_event\b"):
        load_params(write(tmp_path, BASE + "report:\n  min_event: 5\n"))
