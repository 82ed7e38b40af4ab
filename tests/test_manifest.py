"""The run manifest: versions, params and their hash, code, input hashes, hardware; no patient
identifiers, no home paths; git optional. Git itself is never run here: a stand-in script plays it."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import stat

import numpy as np
import pytest

from conftest import DEMO_MAP, export_row, write_export
from ecglib.config import PROJECT_ROOT, load_params, params_to_dict
from ecglib.paths import RunPaths
from ecglib.report import manifest as mf

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(autouse=True)
def no_git(monkeypatch):
    """No test here runs the real git: by default there is none."""
    monkeypatch.setattr(mf.shutil, "which", lambda name: None)


@pytest.fixture
def run(tmp_path):
    """A params file with an export of 4 rows, and a store whose meta lists 2 failing records."""
    table = write_export(tmp_path / "raw", [export_row(i) for i in range(4)], ecgs=False)
    text = (
        f"name: m\nseed: 3\nruns_dir: {tmp_path / 'runs'}\n"
        f"data:\n  table: {table}\n  map: {DEMO_MAP}\n"
    )
    (tmp_path / "p.yaml").write_text(text)
    params = load_params(tmp_path / "p.yaml")
    store = RunPaths.of(params).store
    store.mkdir(parents=True)
    (store / "meta.json").write_text(
        json.dumps(
            {
                "version": 1,
                "fingerprint": "f" * 64,
                "shape": [2, 12, 5000],
                "settings": {"npy_fs": 500.0},
                "failures": [
                    [str(tmp_path / "raw/ecg/E002.npy"), "E002", "flat leads"],
                    [str(tmp_path / "raw/ecg/E003.npy"), "E003", "too short"],
                ],
            }
        )
    )
    return params


def test_write_manifest(run, tmp_path):
    path = mf.write_manifest(run)
    assert path == run.run_dir / "manifest.json"
    text = path.read_text()
    m = json.loads(text)
    assert m["run"] == "m" and m["params_sha256"] == run.sha256 and len(run.sha256) == 64
    expected = json.loads(json.dumps(params_to_dict(run)))
    expected["data"]["map"] = "params/maps/demo_export.yaml"  # project paths made relative
    assert m["params"] == expected
    for name in (
        "python",
        "numpy",
        "pandas",
        "torch",
        "scikit-learn",
        "wfdb",
        "neurokit2",
        "statsmodels",
        "lifelines",
        "papermill",
        "jupyter-book",
    ):
        assert m["packages"][name], name
    assert m["packages"]["numpy"] == np.__version__
    table = run.path(run.data.table)
    assert m["inputs"]["export_table"]["sha256"] == hashlib.sha256(table.read_bytes()).hexdigest()
    assert m["inputs"]["column_map"]["path"] == "params/maps/demo_export.yaml"
    store = m["inputs"]["ecg_store"]
    assert store["fingerprint"] == "f" * 64 and store["n_failures"] == 2
    assert m["inputs"]["cohort_table"] == {
        "path": m["inputs"]["cohort_table"]["path"],
        "exists": False,
    }
    assert len(m["code"]["ecglib_sources_sha256"]) == 64
    assert m["hardware"]["cpu_count"] >= 1 and "cuda_available" in m["hardware"]
    written = dt.datetime.fromisoformat(m["created_utc"])
    assert abs((dt.datetime.now(dt.timezone.utc) - written).total_seconds()) < 600
    # no patient or record identifiers, no file of a failing record
    for ident in ("P000", "P001", "E002", "E003", "E002.npy"):
        assert ident not in text, ident
    assert str(PROJECT_ROOT) not in text
    assert m["python"]["executable"] and not m["python"]["executable"].startswith(str(PROJECT_ROOT))


def test_a_second_write_replaces_the_first(run):
    first = json.loads(mf.write_manifest(run).read_text())
    second = json.loads(mf.write_manifest(run).read_text())
    assert {k: v for k, v in first.items() if k != "created_utc"} == {
        k: v for k, v in second.items() if k != "created_utc"
    }
    assert not list(run.run_dir.glob("*.partial"))


def test_home_paths_are_hidden(tmp_path, monkeypatch):
    home = tmp_path / "home" / "alice"
    monkeypatch.setenv("HOME", str(home))
    table = write_export(home / "study" / "raw", [export_row(i) for i in range(2)], ecgs=False)
    (home / "p.yaml").write_text(
        f"name: h\nseed: 1\nruns_dir: {home / 'runs'}\ndata:\n  table: {table}\n  map: {DEMO_MAP}\n"
    )
    params = load_params(home / "p.yaml")
    text = mf.write_manifest(params).read_text()
    assert str(home) not in text and "alice" not in text
    m = json.loads(text)
    assert m["params"]["runs_dir"] == "~/runs" and m["params_file"] == "~/p.yaml"
    assert m["inputs"]["export_table"]["path"] == "~/study/raw/export.csv"


def test_relative():
    assert mf.relative(PROJECT_ROOT / "params" / "demo.yaml") == "params/demo.yaml"
    assert mf.relative("/srv/hospital/export.csv") == "/srv/hospital/export.csv"


# ---- git ------------------------------------------------------------------------------------
def test_no_git_and_no_checkout_gives_null(tmp_path):
    assert mf.git_state(tmp_path) == {"commit": None, "dirty": None, "source": None}


def test_without_git_the_commit_is_read_from_dot_git(tmp_path):
    git = tmp_path / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "refs" / "heads" / "main").write_text(COMMIT + "\n")
    assert mf.git_state(tmp_path) == {"commit": COMMIT, "dirty": None, "source": ".git"}
    (git / "refs" / "heads" / "main").unlink()  # packed
    (git / "packed-refs").write_text(f"# pack-refs with: peeled\n{COMMIT} refs/heads/main\n")
    assert mf.git_state(tmp_path)["commit"] == COMMIT
    (git / "HEAD").write_text(COMMIT[::-1] + "\n")  # detached
    assert mf.git_state(tmp_path)["commit"] == COMMIT[::-1]


def _fake_git(tmp_path, status: str, exit_code: int = 0):
    script = tmp_path / "bin" / "git"
    script.parent.mkdir()
    script.write_text(
        "#!/bin/sh\n"
        f'case "$*" in *rev-parse*) echo {COMMIT};; *status*) printf "{status}";; esac\n'
        f"exit {exit_code}\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


@pytest.mark.parametrize("status, dirty", [(" M ecglib/cohort.py\\n", True), ("", False)])
def test_git_program_gives_commit_and_dirty(tmp_path, monkeypatch, status, dirty):
    (tmp_path / ".git").mkdir()
    fake = _fake_git(tmp_path, status)
    monkeypatch.setattr(mf.shutil, "which", lambda name: fake)
    assert mf.git_state(tmp_path) == {"commit": COMMIT, "dirty": dirty, "source": "git"}


def test_failing_git_falls_back_without_crashing(tmp_path, monkeypatch):
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text(COMMIT + "\n")
    fake = _fake_git(tmp_path, "", exit_code=128)  # e.g. "dubious ownership"
    monkeypatch.setattr(mf.shutil, "which", lambda name: fake)
    assert mf.git_state(tmp_path) == {"commit": COMMIT, "dirty": None, "source": ".git"}
    monkeypatch.setattr(mf.shutil, "which", lambda name: str(tmp_path / "missing" / "git"))
    assert mf.git_state(tmp_path)["source"] == ".git"


# ---- the appendix's tables -----------------------------------------------------------------
def test_manifest_tables(run):
    tables = mf.manifest_tables(json.loads(mf.write_manifest(run).read_text()))
    assert set(tables) == {"run", "inputs", "packages", "hardware", "params"}
    items = dict(zip(tables["run"]["item"], tables["run"]["value"]))
    assert items["params sha256"] == run.sha256 and items["uncommitted changes"] in (
        "yes",
        "no",
        "unknown",
    )
    inputs = tables["inputs"].set_index("input")
    assert inputs.loc["ecg_store", "sha256 / fingerprint"] == "f" * 64
    assert inputs.loc["cohort_table", "sha256 / fingerprint"] == "(absent)"
    assert "torch" in set(tables["packages"]["package"])
    params = dict(zip(tables["params"]["key"], tables["params"]["value"]))
    assert params["seed"] == "3" and params["folds.n_folds"] == "5"
