"""The PTB Diagnostic ECG Database records with invasive coronary angiography, as one table.

:func:`ptb_table` joins each PTB record of a data folder (folder ``ptbdb``) to its header
(age, sex, acute and former infarct location) and to the angiography texts of its clinical
summary graded per vessel (:mod:`ecglib.real.ptb_angiography`; the headers have no left-main
field). :func:`ptb_predictions` sets the grades beside a model's probabilities: an anecdote,
never an evaluation (a handful of patients, invasive angiography, no CCTA). Record and patient
names are the database's public identifiers.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ecglib import schema
from ecglib.errors import DataError, MissingInputError
from ecglib.real.headers import read_header
from ecglib.real.ptb_angiography import ptb_angiography_table

if TYPE_CHECKING:
    from ecglib.real.beat_yield import RealBeats

__all__ = ["ptb_table", "ptb_predictions"]


def ptb_table(real: RealBeats, predictions: pd.DataFrame | None = None) -> pd.DataFrame:
    """The PTB Diagnostic ECG Database records of ``real`` (folder ``ptbdb``): PTB record and
    patient names (public dataset identifiers), age, sex, acute and former infarct location, the
    angiography text per vessel and its grade (:mod:`ecglib.real.ptb_angiography`; LM has no
    field), whether the record was averaged, and, given ``predictions`` (``row`` and ``p_*``
    columns), the model's probability per vessel. Raises :class:`MissingInputError` without PTB
    records."""
    folder = real.data_dir / "ptbdb"
    if not folder.is_dir():
        raise MissingInputError(f"{folder} does not exist (the PTB records with angiography)")
    angio = ptb_angiography_table(folder)
    if angio.empty:
        raise MissingInputError(f"{folder} holds no PTB record with a clinical summary")
    records = real.records.set_index("relpath")
    rows = []
    for item in angio.itertuples(index=False):
        rel = f"ptbdb/{item.record}"
        if rel not in records.index:
            raise DataError(
                item.record,
                "is a PTB record of the folder but not in the records "
                "table: load the same data folder",
            )
        rec = records.loc[rel]
        header = read_header(rec["path"], record=item.record)
        fields = header.ptb_fields()
        rows.append(
            {
                "row": int(rec["row"]),
                "record": Path(item.record).name,
                "patient": item.patient,
                "age": header.age,
                "sex": header.sex,
                "acute infarct": fields["acute_infarction_localization"],
                "former infarct": fields["former_infarction_localization"],
                "LAD (RIVA) text": item.riva_text,
                "LCX (RCX) text": item.rcx_text,
                "RCA text": item.rca_text,
                **{schema.grade_col(v): getattr(item, schema.grade_col(v)) for v in schema.VESSELS},
                "averaged": rec["outcome"] == "averaged",
            }
        )
    out = pd.DataFrame(rows)
    for col in schema.grade_cols():
        out[col] = pd.array(out[col].tolist(), dtype="Int64")
    if predictions is not None:
        probs = predictions.set_index("row")[schema.prob_cols()]
        out = out.join(probs, on="row")
    return out


def ptb_predictions(real: RealBeats, predictions: pd.DataFrame) -> pd.DataFrame:
    """The PTB records' angiography grades beside the model's probabilities, vessel by vessel
    (an anecdote: invasive angiography, no CCTA)."""
    table = ptb_table(real, predictions)
    out = table[["record", "patient", "acute infarct"]].copy()
    for vessel in schema.VESSELS:
        out[f"{vessel} grade"] = table[schema.grade_col(vessel)]
        out[f"{vessel} p"] = table[schema.prob_col(vessel)].round(3)
    return out
