"""Every chapter runs on a cohort that does not assess a vessel (a map's ``not_assessed``).

PTB-XL has no left-main proxy (``params/maps/ptbxl_export.yaml``), and a hospital may export
fewer vessels. This runs the real pipeline (every notebook, as ``make book`` does, without the
HTML) on the ci demo cohort read through the demo map with LM left out, and checks that the
numbers of the other vessels exist, LM's are missing, and every results chapter says why.
"""

from __future__ import annotations

import json
import math

import nbformat
import pandas as pd
import yaml

from conftest import CI_PARAMS, DEMO_MAP
from ecglib.config import PROJECT_ROOT, load_params
from ecglib.errors import MissingInputError
from ecglib.paths import RunPaths
from ecglib.real.collection import real_data_dir
from ecglib.report import pipeline

RESULTS_CHAPTERS = (
    "03_discrimination",
    "04_subgroups",
    "05_severity",
    "06_calibration",
    "07_risk_strata",
    "08_ptp_nri",
    "09_cumulative_incidence",
    "10_interpretability",
)


def _run_without_lm(tmp_path):
    export_map = tmp_path / "demo_without_lm.yaml"
    export_map.write_text(
        DEMO_MAP.read_text(encoding="utf-8").replace("  grade_LM: LM\n", "")
        + "not_assessed: [LM]\n",
        encoding="utf-8",
    )
    params = yaml.safe_load((PROJECT_ROOT / CI_PARAMS).read_text(encoding="utf-8"))
    params.update(name="ci-without-lm", runs_dir=str(tmp_path / "runs"))
    params["data"]["map"] = str(export_map)
    path = tmp_path / "ci_without_lm.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    return path


def _text(notebook) -> str:
    out = []
    for cell in notebook.cells:
        out.append(cell.source)
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            out.append(str(data.get("text/markdown", "")) + str(data.get("text/plain", "")))
    return "\n".join(out)


def test_every_chapter_runs_without_the_left_main(tmp_path, monkeypatch):
    params_path = _run_without_lm(tmp_path)
    root = tmp_path / "book"
    pipeline.run(str(params_path), build=False, root=root)  # raises, naming a failed notebook
    metrics = RunPaths.of(load_params(str(params_path))).metrics

    auc = json.loads((metrics / "discrimination.json").read_text())
    assert auc["auc_oof_LM"] is None and auc["pos_oof_LM"] is None
    assert all(auc[f"auc_oof_{v}"] is not None for v in ("RCA", "LAD", "LCX"))
    assert not math.isnan(auc["macro_oof"])
    table1 = (metrics / "table1.csv").read_text(encoding="utf-8")
    assert "LAD severe or occluded" in table1 and "LM " not in table1
    fold = json.loads((metrics / "train_fold0.json").read_text())
    assert fold["inner_auc"]["LM"] is None and fold["inner_macro_auc"] is not None
    real = RunPaths.of(load_params(str(params_path))).predictions / "real_mean.csv"
    try:
        real_data_dir()
    except MissingInputError:  # no ../shared/data: the real-ECG chapter skipped its predictions
        assert not real.exists()
    else:  # the real-ECG chapter predicted the real records: LM's head was never trained
        predicted = pd.read_csv(real)
        assert predicted["p_LM"].isna().all() and predicted["p_LAD"].notna().all()

    executed = root / "book" / "executed"
    for name in RESULTS_CHAPTERS:
        text = _text(nbformat.read(executed / f"{name}.ipynb", as_version=4))
        assert "Not assessed: LM" in text, name
    cohort_text = _text(nbformat.read(executed / "01_cohort.ipynb", as_version=4))
    assert "Not assessed: LM" in cohort_text
