"""Real ECG records: WFDB header comments, SNOMED CT diagnoses, PTB angiography grades, the
records of a data folder, and the PTB-XL layout.

- :mod:`ecglib.real.headers`: :func:`read_header` -> :class:`Header` (age, sex, Dx codes, PTB
  clinical fields); odd values (``Age: NaN``, ``Sex: Unknown``) parse to missing.
- :mod:`ecglib.real.snomed`: :data:`SNOMED` names, :func:`rhythm_of` (sinus, AF/flutter, other).
- :mod:`ecglib.real.ptb_angiography`: :func:`grade_stenosis_text` and
  :func:`ptb_angiography_table`, the PTB per-vessel angiography texts as 0-4 grades.
- :mod:`ecglib.real.records`: :func:`load_records`, every record of a folder loaded through
  :mod:`ecglib.signals` and checked, ``ok`` or ``rejected`` with the reason.
- :mod:`ecglib.real.ptbxl`: :func:`read_ptbxl`, a PTB-XL download as a canonical cohort table with
  MI-territory proxy labels (not stenosis grades), and :func:`export_ptbxl`, the same as an
  export table for ``params/maps/ptbxl_export.yaml``. Import it from its module: it is also a
  command line (``python -m ecglib.real.ptbxl export``), which an import here would shadow.

The records themselves stay in ``../shared/data`` (never copied into the repository); each
folder's LICENSE.txt holds the citations the book must give.
"""

from ecglib.real.headers import Header, parse_comments, read_header
from ecglib.real.ptb_angiography import (
    PERCENT_GRADES,
    PTB_VESSEL_FIELDS,
    grade_of_percent,
    grade_stenosis_text,
    grade_table,
    ptb_angiography_table,
    ptb_vessel_grades,
)
from ecglib.real.records import (
    STATUSES,
    RecordRef,
    find_records,
    load_records,
    read_ok_signals,
    source_of,
    summarise,
)
from ecglib.real.snomed import (
    RHYTHMS,
    SNOMED,
    describe,
    rhythm_of,
    snomed_name,
    split_codes,
    states_rhythm,
    to_snomed,
)

__all__ = [
    "Header",
    "read_header",
    "parse_comments",
    "SNOMED",
    "RHYTHMS",
    "rhythm_of",
    "states_rhythm",
    "snomed_name",
    "describe",
    "split_codes",
    "to_snomed",
    "PTB_VESSEL_FIELDS",
    "PERCENT_GRADES",
    "grade_of_percent",
    "grade_stenosis_text",
    "grade_table",
    "ptb_vessel_grades",
    "ptb_angiography_table",
    "STATUSES",
    "RecordRef",
    "find_records",
    "load_records",
    "read_ok_signals",
    "source_of",
    "summarise",
]
