"""PTB-XL as an export table (ecglib.real.ptbxl.export_ptbxl), read back exactly as a run reads
it: through params/maps/ptbxl_export.yaml and ecglib.data.cohort.read_export. The small PTB-XL folder
is built from the real records in ../shared/data/cinc/ptb-xl (tests skip without them)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_ptbxl import ROWS, build_ptbxl

from ecglib import schema
from ecglib.config import PROJECT_ROOT, load_params, resolve_path
from ecglib.data.cohort import ExportMap, normal_ecg_recode, read_export
from ecglib.errors import DataError
from ecglib.real.ptbxl import (
    EXPORT_MAP,
    MI_PROXY_VESSELS,
    export_ptbxl,
    main,
    proxy_col,
    read_ptbxl,
)

MAP = PROJECT_ROOT / "params" / "maps" / "ptbxl_export.yaml"
GRADED = ("RCA", "LAD", "LCX")
#: ROWS plus a child (ECG 8, 12 years, with an inferior MI statement that must not be counted).
CHILD = 8
ROWS_WITH_CHILD = {
    **ROWS,
    CHILD: ("18001.0", "12.0", "1", "{'IMI': 100.0, 'SR': 0.0}", 4, "1985-02-01 10:00:00"),
}


@pytest.fixture
def ptbxl(shared_data, tmp_path):
    return build_ptbxl(shared_data, tmp_path / "ptb-xl", ROWS_WITH_CHILD)


def _read_as_a_run(out):
    return read_export(out / "export.csv", ExportMap.from_yaml(MAP))


def test_export_reads_as_a_run_does(ptbxl, tmp_path):
    result = export_ptbxl(ptbxl, tmp_path / "out")
    cohort, report = _read_as_a_run(tmp_path / "out")
    source = read_ptbxl(ptbxl).set_index("ecg_id")
    adults = [i for i in ROWS_WITH_CHILD if i != CHILD]

    # every adult ECG is in the cohort, nothing is excluded by the run's rules
    assert list(cohort["ecg_id"]) == [f"E{i:05d}" for i in adults]
    assert len(report.excluded) == 0
    steps = {reason: len(rows) for reason, rows in report.steps}
    assert steps["ECG acquired after its CCTA"] == 0
    assert steps["a vessel without a CCTA grade"] == 0

    # labels: the MI-territory proxies, LM not assessed
    for vessel in GRADED:
        expected = [int(source.loc[str(i), proxy_col(vessel)]) for i in adults]
        assert cohort[schema.label_col(vessel)].tolist() == expected, vessel
        assert set(cohort[schema.grade_col(vessel)]) <= {0, 3}
    assert cohort["y_LM"].isna().all() and cohort["grade_LM"].isna().all()
    assert schema.assessed_vessels(cohort) == GRADED
    assert result.positives == {
        v: int(source.loc[[str(i) for i in adults], proxy_col(v)].sum()) for v in GRADED
    }
    assert result.positives["RCA"] == 4  # ECGs 2, 4, 6, 7; the child's IMI is not counted

    # ids, the reference examination, sites
    by_id = cohort.set_index("ecg_id")
    assert by_id.loc["E00002", "patient_id"] == "P13243" == by_id.loc["E00007", "patient_id"]
    assert by_id.loc["E00002", "ccta_id"] == "R00002"
    assert (cohort["ccta_time"] == cohort["ecg_time"].dt.normalize()).all()
    assert by_id.loc["E00001", "ecg_time"] == pd.Timestamp("1984-11-09 09:17:34")
    assert cohort["ecg_ccta_hours"].isna().all()  # ccta_date_only: the interval is unknown
    folds = {f"E{i:05d}": row[4] for i, row in ROWS_WITH_CHILD.items()}
    assert {i: s for i, s in by_id["site"].items()} == {
        i: "external" if folds[i] == 10 else "internal" for i in by_id.index
    }
    assert result.n_external == 1 and by_id.loc["E00005", "site"] == "external"

    # the ECG file, demographics and the normal read
    assert by_id.loc["E00002", "ecg_path"] == source.loc["2", "ecg_path"]
    assert np.isnan(by_id.loc["E00003", "age"]) and by_id.loc["E00004", "age"] == 24.0
    assert by_id.loc["E00001", "sex"] == "female" and by_id.loc["E00002", "sex"] == "male"
    assert by_id["normal_ecg"].to_dict() == {i: float(i == "E00001") for i in by_id.index}


def test_children_are_left_out_with_their_reason(ptbxl, tmp_path):
    result = export_ptbxl(ptbxl, tmp_path / "out")
    assert (result.n_read, result.n_children_left_out, result.n_left_out, result.n_exported) == (
        8,
        1,
        1,
        7,
    )
    left_out = pd.read_csv(result.left_out_table, dtype=str)
    assert list(left_out.columns) == ["ecg_id", "reason"]
    assert left_out["ecg_id"].tolist() == ["E00008"]
    assert "under 18" in left_out.loc[0, "reason"]
    export = pd.read_csv(result.table, dtype=str, keep_default_na=False)
    assert "E00008" not in set(export["ecg_id"])
    assert "grade_LM" not in export.columns
    assert export.loc[export["ecg_id"] == "E00002", "grade_RCA"].item() == "MI statement"
    assert export.loc[export["ecg_id"] == "E00001", "grade_RCA"].item() == "no MI statement"
    assert export.loc[export["ecg_id"] == "E00003", "age"].item() == ""  # PTB-XL's 300
    assert export.loc[export["ecg_id"] == "E00006", "mi_statements"].item() == "IPLMI, PMI"


def test_a_run_on_the_raw_children_would_stop(ptbxl, tmp_path):
    """Why children are left out: passed through, the adult age rule stops the whole run."""
    export_ptbxl(ptbxl, tmp_path / "out")
    export = pd.read_csv(tmp_path / "out" / "export.csv", dtype=str, keep_default_na=False)
    child = export.iloc[[0]].assign(ecg_id="E00008", ccta_id="R00008", age="12")
    pd.concat([export, child]).to_csv(tmp_path / "out" / "export.csv", index=False)
    with pytest.raises(DataError, match="outside 18-110") as err:
        _read_as_a_run(tmp_path / "out")
    assert err.value.record == "ECG E00008"


def test_external_fold_options(ptbxl, tmp_path):
    result = export_ptbxl(ptbxl, tmp_path / "none", external_fold=None)
    assert result.n_external == 0
    cohort, _ = _read_as_a_run(tmp_path / "none")
    assert (cohort["site"] == "internal").all()
    result = export_ptbxl(ptbxl, tmp_path / "two", external_fold=2)
    assert result.n_external == 2  # ECGs 2 and 7, one patient
    with pytest.raises(ValueError, match="no ECG is in strat_fold 7"):
        export_ptbxl(ptbxl, tmp_path / "seven", external_fold=7)


def test_a_patient_at_both_sites_is_an_error(shared_data, tmp_path):
    rows = {**ROWS, 7: (*ROWS[7][:4], 10, ROWS[7][5])}  # patient 13243 also in fold 10
    folder = build_ptbxl(shared_data, tmp_path / "p", rows)
    with pytest.raises(DataError, match="strat_fold 10 and in other folds") as err:
        export_ptbxl(folder, tmp_path / "out")
    assert err.value.record == "patient_id 13243"


def test_min_likelihood_reaches_the_labels(ptbxl, tmp_path):
    result = export_ptbxl(ptbxl, tmp_path / "out", min_likelihood=50)
    cohort, _ = _read_as_a_run(tmp_path / "out")
    by_id = cohort.set_index("ecg_id")
    assert by_id.loc["E00004", "y_RCA"] == 0 and by_id.loc["E00004", "y_LCX"] == 1  # IMI at 35
    assert result.positives["RCA"] == 3


def test_an_lm_proxy_needs_a_map_with_grade_lm(ptbxl, tmp_path):
    with_lm = {**MI_PROXY_VESSELS, "ALMI": ("LAD", "LM")}
    with pytest.raises(ValueError, match=r"grade_LM"):
        export_ptbxl(ptbxl, tmp_path / "out", vessels=with_lm)
    assert not (tmp_path / "out" / "export.csv").exists()
    export_ptbxl(ptbxl, tmp_path / "out", vessels=with_lm, export_map=None)
    export = pd.read_csv(tmp_path / "out" / "export.csv", dtype=str)
    assert "grade_LM" in export.columns


def test_command_line(ptbxl, tmp_path, capsys):
    out = tmp_path / "cli"
    result = main(["export", str(ptbxl), "--out", str(out), "--external-fold", "none"])
    printed = capsys.readouterr().out
    assert (out / "export.csv").is_file() and (out / "export_left_out.csv").is_file()
    assert result.n_external == 0
    assert "read 8 PTB-XL ECGs" in printed
    assert f"wrote {out / 'export.csv'}: 7 ECGs (0 external, 7 internal)" in printed
    assert "left out 1 ECGs (1 of patients under 18)" in printed
    assert "RCA 4, LAD 1, LCX 2" in printed
    main(["export", str(ptbxl), "--out", str(out), "--min-likelihood", "50"])
    assert "RCA 3, LAD 1, LCX 1" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["export", str(ptbxl), "--out", str(out), "--external-fold", "ten"])


def test_map_declares_proxies_and_lm():
    export_map = ExportMap.from_yaml(MAP)
    assert MAP == EXPORT_MAP
    assert export_map.assessed == GRADED and export_map.not_assessed == ("LM",)
    assert "grade_LM" not in export_map.columns and export_map.ccta_date_only
    assert export_map.grade_labels == {"no MI statement": 0, "MI statement": 3}
    notice = export_map.notice.lower()
    assert notice and "not ccta" in notice and "stenosis" in notice and "lm" in notice
    reads = pd.Series(
        [
            "normal ECG; sinus rhythm",
            "sinus rhythm; normal ECG",
            "normal ECG",
            "abnormal QRS; sinus rhythm",
            "sinus rhythm",
            "not a normal ECGs",
        ]
    )
    assert normal_ecg_recode(reads, export_map.normal_patterns).tolist() == [1, 1, 1, 0, 0, 0]


def test_params_template_points_at_the_map():
    params = load_params("params/ptbxl.yaml")
    assert params.name == "ptbxl" and params.demo is None
    assert resolve_path(params.data.map) == MAP
    assert params.path(params.data.table) == params.run_dir / "raw" / "export.csv"
    assert params.model.pretrained is None and params.train.epochs == 100
