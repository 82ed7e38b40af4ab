"""Regenerate the checked-in files of the bad-input corpus (MANIFEST.yaml says what each one is).

    .venv/bin/python tests/bad_inputs/make_corpus.py

Deterministic for the arrays, tables and text files; the checkpoints are equivalent but not
byte-identical (torch's legacy format stores random storage keys). Every ECG is made from
:func:`ecglib.report.corpus.base_ecg`: a clean, 10 s recording at 50 Hz (12 x 500; the manifest's
``npy_fs: 50``), so that each file is a few KB and carries exactly one defect.
"""
from __future__ import annotations

import argparse
import io
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import wfdb

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/: conftest.export_row, the other tests' export rows

from conftest import export_row  # noqa: E402

from ecglib.report.corpus import base_ecg, load_manifest
from ecglib.model import Net1D
from ecglib.schema import LEADS

FS = 50
N = 500  # 10 s at 50 Hz


def f16(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float16)


# ---- ECG arrays ------------------------------------------------------------------------------
def write_ecgs(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    good = base_ecg(N, FS, seed=0)
    np.save(out / "good_1.npy", f16(good))
    np.save(out / "good_2.npy", f16(base_ecg(N, FS, seed=1).T))  # (T, 12): the other orientation

    np.save(out / "npy_object_dtype.npy", good[:, :40].astype(object), allow_pickle=True)
    np.save(out / "npy_complex.npy", (good[:, :100] + 0.1j).astype(np.complex64))
    np.save(out / "npy_bool.npy", good > 0)
    np.save(out / "npy_strings.npy", np.char.mod("%.3f", good[:, :20]))
    np.save(out / "npy_1d.npy", f16(good.reshape(-1)))
    np.save(out / "npy_3d_batch.npy", f16(good[None]))
    np.save(out / "npy_8_leads.npy", f16(good[:8]))
    np.save(out / "npy_12x12.npy", f16(good[:, :12]))
    np.save(out / "npy_zero_samples.npy", f16(good[:, :0]))

    nan = good.copy()
    nan[1, [100, 101, 102]] = np.nan
    np.save(out / "npy_nan_lead_II.npy", f16(nan))
    inf = good.copy()
    inf[8, 250], inf[8, 251] = np.inf, -np.inf
    np.save(out / "npy_inf_V3.npy", f16(inf))
    flat = good.copy()
    flat[6] = 0.0
    np.save(out / "npy_flat_V1.npy", f16(flat))
    sat = good.copy()
    lo, hi = np.quantile(sat[0], [0.1, 0.9])  # clipped by the amplifier: 10% on each rail
    sat[0] = np.clip(sat[0], f16(lo).astype(float), f16(hi).astype(float))
    np.save(out / "npy_saturated_I.npy", f16(sat))
    np.save(out / "npy_too_short.npy", f16(good[:, :250]))  # 5 s at 50 Hz

    buf = io.BytesIO()
    np.save(buf, f16(good))
    raw = buf.getvalue()
    (out / "npy_truncated.npy").write_bytes(raw[: len(raw) // 2])
    (out / "npy_garbage.npy").write_bytes(np.random.default_rng(7).bytes(512))
    (out / "npy_zero_bytes.npy").write_bytes(b"")
    buf = io.BytesIO()
    np.savez(buf, ecg=f16(good))
    (out / "npy_is_npz.npy").write_bytes(buf.getvalue())
    text = ",".join(LEADS) + "\n" + "\n".join(",".join(f"{v:.3f}" for v in row) for row in good.T[:20])
    (out / "npy_is_csv_text.npy").write_text(text + "\n")
    (out / "ecg_as_csv.csv").write_text(text + "\n")


# ---- WFDB records -----------------------------------------------------------------------------
def _wfdb(out: Path, name: str, signal_mv: np.ndarray, *, names=LEADS, fs=FS, units="mV") -> None:
    digital = np.round(signal_mv * 1000.0)
    digital[~np.isfinite(digital)] = -32768  # WFDB's "no sample" for format 16
    wfdb.wrsamp(name, fs=fs, units=[units] * 12, sig_name=list(names), fmt=["16"] * 12,
                d_signal=digital.T.astype(np.int16), adc_gain=[1000.0] * 12, baseline=[0] * 12,
                write_dir=str(out))


def write_wfdb(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    good = base_ecg(N, FS, seed=2)
    _wfdb(out, "good", good)
    _wfdb(out, "wfdb_wrong_lead_names", good, names=[f"ch{i}" for i in range(1, 13)])
    _wfdb(out, "wfdb_missing_dat", good)
    (out / "wfdb_missing_dat.dat").unlink()
    _wfdb(out, "wfdb_truncated_dat", good)
    dat = out / "wfdb_truncated_dat.dat"
    dat.write_bytes(dat.read_bytes()[: dat.stat().st_size // 2])
    _wfdb(out, "wfdb_duplicate_lead", good)
    header = out / "wfdb_duplicate_lead.hea"
    header.write_text(header.read_text().replace(" V6\n", " V5\n"))  # V5 twice, no V6
    _wfdb(out, "wfdb_unknown_units", good, units="furlong")
    _wfdb(out, "wfdb_zero_fs", good)
    header = out / "wfdb_zero_fs.hea"
    lines = header.read_text().splitlines()
    lines[0] = lines[0].replace(f" 12 {FS} ", " 12 0 ")
    header.write_text("\n".join(lines) + "\n")
    _wfdb(out, "wfdb_odd_fs", good, fs=49.9999)
    missing = good.copy()
    missing[4, 200:260] = np.nan  # a 1.2 s dropout in aVL, stored as WFDB's "no sample" value
    _wfdb(out, "wfdb_missing_samples", missing)
    (out / "wfdb_garbage_header.hea").write_bytes(np.random.default_rng(8).bytes(300))
    (out / "wfdb_garbage_header.dat").write_bytes((out / "good.dat").read_bytes())


# ---- export tables ----------------------------------------------------------------------------
def _rows(n: int = 4) -> list[dict]:
    return [export_row(i) for i in range(n)]


def _csv(path: Path, rows: list[dict] | pd.DataFrame, **kwargs) -> None:
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
    frame.to_csv(path, index=False, lineterminator="\n", **kwargs)


def write_tables(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)

    _csv(out / "good_export.csv", _rows())
    rows = _rows()
    rows[2]["LAD"] = "Subtotal occlusion"
    _csv(out / "table_unknown_grade.csv", rows)
    rows = _rows()
    rows[1]["RCA"] = "3"
    _csv(out / "table_grade_numeric.csv", rows)
    rows = _rows()
    rows[3]["LM"] = ""
    _csv(out / "table_missing_grade.csv", rows)
    rows = _rows()
    rows[1]["ECG acquired"] = "2024-02-30 09:30:00"
    _csv(out / "table_date_feb30.csv", rows)
    rows = _rows()
    rows[0]["CCTA date"] = "13/03/2024 14:00"
    rows[1]["CCTA date"] = "13/03/2024 14:00"
    rows[2]["CCTA date"] = "03/13/2024 14:00"
    rows[3]["CCTA date"] = "03/13/2024 14:00"
    _csv(out / "table_date_order_mixed.csv", rows)
    rows = _rows()
    for row in rows:
        row["CCTA date"] = "05/03/2024 14:00"
        row["ECG acquired"] = "05/03/2024 09:30"
    _csv(out / "table_date_ambiguous.csv", rows)
    rows = _rows()
    rows[1]["Age"] = "-3"
    _csv(out / "table_age_negative.csv", rows)
    rows = _rows()
    rows[2]["Age"] = "250"
    _csv(out / "table_age_250.csv", rows)
    rows = _rows()
    _csv(out / "table_duplicate_row.csv", rows + [dict(rows[1])])
    rows = _rows()
    _csv(out / "table_conflicting_rows.csv", rows + [dict(rows[1], LAD="No significant stenosis")])
    rows = _rows()
    rows[1]["Hospital"] = "Demo District Hospital"
    _csv(out / "table_patient_two_sites.csv", rows)
    rows = _rows()
    rows[2]["ECG acquired"] = "2024-03-06 08:00:00"
    _csv(out / "table_ecg_after_ccta.csv", rows)
    _csv(out / "table_missing_column.csv", pd.DataFrame(_rows()).drop(columns=["LCX"]))
    frame = pd.DataFrame(_rows())
    frame.insert(frame.columns.get_loc("LCX"), "LAD_dup", frame["LAD"].str.replace("Mild", "No"))
    frame.columns = [c if c != "LAD_dup" else "LAD" for c in frame.columns]
    _csv(out / "table_duplicate_header.csv", frame)
    rows = _rows()
    rows[2]["Sex"] = "X"
    _csv(out / "table_unknown_sex.csv", rows)
    rows = _rows()
    rows[1]["Patient ID"] = ""
    _csv(out / "table_missing_patient_id.csv", rows)
    rows = _rows()
    rows[2]["ECG file"] = ""
    _csv(out / "table_missing_ecg_path.csv", rows)
    rows = _rows()
    rows[3]["ECG ID"] = ""
    _csv(out / "table_missing_ecg_id.csv", rows)
    rows = _rows()
    rows[0]["Follow-up days"] = "-30"
    _csv(out / "table_followup_negative.csv", rows)
    rows = _rows()
    rows[1]["MACE"] = "2"
    _csv(out / "table_event_not_binary.csv", rows)
    rows = _rows()
    rows[2]["Diabetes"] = "borderline"
    _csv(out / "table_risk_factor_not_yes_no.csv", rows)
    _csv(out / "table_header_only.csv", pd.DataFrame(columns=list(_rows()[0])))
    (out / "table_zero_bytes.csv").write_bytes(b"")
    (out / "table_garbage_bytes.csv").write_bytes(np.random.default_rng(9).bytes(600))
    authors = pd.DataFrame([{
        "患者编号": "P001", "检查日期": "2024-03-05", "提取后的文件名": "E001",
        "对应时间": "2024-03-05 09:30:00", "ECG文件路径": "ecg/E001.npy",
        "右冠状动脉主干_诊断结果": "未见明显狭窄", "左冠状动脉主干_诊断结果": "未见明显狭窄",
        "左前降支_诊断结果": "重度狭窄", "左回旋支_诊断结果": "轻度狭窄"}])
    _csv(out / "table_gbk_encoded.csv", authors, encoding="gbk")
    lines = (pd.DataFrame(_rows()).to_csv(index=False, lineterminator="\n")).splitlines()
    lines[2] += ",unexpected"  # the second data row has one field too many
    (out / "table_ragged_row.csv").write_text("\n".join(lines) + "\n")
    (out / "table_corrupt.xlsx").write_bytes(b"PK\x03\x04" + np.random.default_rng(10).bytes(200))
    pd.DataFrame(_rows(2)).to_json(out / "table_unsupported.json", orient="records", indent=1)

    # the prepare entries: real ECG files of the corpus, one of them bad, one after its CCTA
    rows = _rows(6)
    files = ["ecg/good_1.npy", "ecg/good_2.npy", "ecg/npy_nan_lead_II.npy",
             "wfdb/wfdb_missing_dat.hea", "ecg/good_1.npy", "wfdb/good.hea"]
    for row, file in zip(rows, files):
        row["ECG file"] = file
    rows[4]["ECG acquired"] = "2024-03-07 10:00:00"  # after its CCTA
    _csv(out / "prepare_mixed.csv", rows)


# ---- maps and params -------------------------------------------------------------------------
DEMO_MAP = (HERE.parents[1] / "params" / "maps" / "demo_export.yaml").read_text(encoding="utf-8")
PARAMS = """# a run on a hospital export{note}
name: hospital
seed: 7
data:
  table: data/export.csv
  map: params/maps/demo_export.yaml
  on_bad_ecg: raise
signals:
  npy_fs: 500
folds:
  n_folds: 5
  inner_val_fraction: 0.15
"""


def write_maps_and_params(maps: Path, params: Path) -> None:
    maps.mkdir(parents=True, exist_ok=True)
    params.mkdir(parents=True, exist_ok=True)

    def edit(text: str, old: str, new: str) -> str:
        assert text.count(old) == 1, old
        return text.replace(old, new)

    (maps / "map_unknown_canonical_column.yaml").write_text(
        edit(DEMO_MAP, "  ecg_time: ECG acquired", "  ecg_timestamp: ECG acquired"))
    (maps / "map_grade_out_of_range.yaml").write_text(
        edit(DEMO_MAP, "Occluded (100%): 4", "Occluded (100%): 5"))
    (maps / "map_typo_section.yaml").write_text(edit(DEMO_MAP, "\nlabels:\n", "\nlabel:\n"))
    (maps / "map_duplicate_key.yaml").write_text(
        edit(DEMO_MAP, "  ecg_id: ECG ID\n", "  ecg_id: ECG ID\n  patient_id: ECG ID\n"))
    (maps / "map_invalid_yaml.yaml").write_text(
        edit(DEMO_MAP, "  sex:\n    M: male", "  sex: {M: male\n    F: female"))
    (maps / "map_is_a_list.yaml").write_text("- Patient ID\n- ECG ID\n- RCA\n- LM\n- LAD\n- LCX\n")
    (maps / "map_no_grades.yaml").write_text(
        "columns:\n  patient_id: Patient ID\nlabels:\n  sex: {M: male, F: female}\n")

    def p(note: str, old: str = "", new: str = "") -> str:
        text = PARAMS.format(note=note)
        return edit(text, old, new) if old else text

    (params / "params_typo_tabel.yaml").write_text(
        p(": data.table misspelt", "  table: data", "  tabel: data"))
    (params / "params_seed_text.yaml").write_text(p(": a seed in words", "seed: 7", "seed: seven"))
    (params / "params_on_bad_ecg_skip.yaml").write_text(
        p(": an unknown choice", "on_bad_ecg: raise", "on_bad_ecg: skip"))
    (params / "params_npy_fs_zero.yaml").write_text(p(": no sampling rate", "npy_fs: 500", "npy_fs: 0"))
    (params / "params_one_fold.yaml").write_text(p(": one fold", "n_folds: 5", "n_folds: 1"))
    (params / "params_duplicate_seed.yaml").write_text(
        p(": the seed given twice", "seed: 7\n", "seed: 7\nseed: 8\n"))
    (params / "params_thresholds_missing_vessel.yaml").write_text(
        p(": a vessel left out") + "evaluation:\n  high_risk_thresholds: {RCA: 0.15, LAD: 0.15, LCX: 0.15}\n")
    (params / "params_unknown_section.yaml").write_text(
        p(": a misspelt section") + "trian:\n  epochs: 3\n")


# ---- checkpoints -----------------------------------------------------------------------------
def _save(obj, path: Path) -> None:
    # torch's legacy (non-zip) format: about a third of the size for a state dict of small tensors
    torch.save(obj, path, _use_new_zipfile_serialization=False)


def write_checkpoints(out: Path, config: dict) -> None:
    import argparse

    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    state = Net1D.from_config(config).state_dict()
    _save({"state_dict": state}, out / "ckpt_good.pth")
    renamed = {k.replace("first_conv.", "stem."): v for k, v in state.items()}
    _save({"state_dict": renamed}, out / "ckpt_renamed_keys.pth")
    extra = dict(state)
    extra["projector.weight"] = torch.zeros(8, 4)
    extra["projector.bias"] = torch.zeros(8)
    _save({"state_dict": extra}, out / "ckpt_extra_keys.pth")
    torch.manual_seed(0)
    wider = Net1D.from_config({**config, "base_filters": 8, "filter_list": [8]}).state_dict()
    _save({"state_dict": wider}, out / "ckpt_wrong_shapes.pth")
    partial = {k: v for k, v in state.items() if not k.startswith("stage_list.")}
    _save({"state_dict": partial}, out / "ckpt_missing_keys.pth")
    _save({"state_dict": state, "args": argparse.Namespace(lr=3e-5, epochs=100)},
          out / "ckpt_python_objects.pth")
    _save({"epoch": 7, "best_auc": 0.81}, out / "ckpt_not_a_state_dict.pth")
    good = (out / "ckpt_good.pth").read_bytes()
    (out / "ckpt_truncated.pth").write_bytes(good[: int(len(good) * 0.6)])
    (out / "ckpt_garbage.pth").write_bytes(np.random.default_rng(11).bytes(1024))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="corpus folder (default: here)")
    args = parser.parse_args(argv)
    out = args.out
    for sub in ("ecg", "wfdb", "tables", "maps", "params", "checkpoints"):
        shutil.rmtree(out / sub, ignore_errors=True)
    write_ecgs(out / "ecg")
    write_wfdb(out / "wfdb")
    write_tables(out / "tables")
    write_maps_and_params(out / "maps", out / "params")
    write_checkpoints(out / "checkpoints", load_manifest(HERE / "MANIFEST.yaml")["checkpoint_model"])


if __name__ == "__main__":
    main()
