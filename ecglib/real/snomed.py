"""SNOMED CT codes of the PhysioNet/CinC Challenge ECG diagnoses, and the rhythm of a record.

The Challenge 2020/2021 headers state each record's diagnoses as SNOMED CT concept ids
(``#Dx: 164889003,59118001``). :data:`SNOMED` names every code that occurs in the real records
of ``../shared/data/cinc`` (``tests/test_real_headers.py`` checks that the table covers them all),
with the Challenge's abbreviation and name: the names follow the Challenge's own mapping tables
``dx_mapping_scored.csv`` and ``dx_mapping_unscored.csv``
(github.com/physionetchallenges/evaluation-2021; Perez Alday et al., Physiol Meas 2020;41:124003).
Where the Challenge scores two codes as one diagnosis (59118001 / 713427006 RBBB,
284470004 / 63593006 PAC, 427172004 / 17338001 PVC) both are listed, each with its own name.

The records A0011-A0150 of the early CPSC 2018 release write their ``#Dx`` as abbreviations
(``AF,RBBB``); :data:`CPSC2018_ABBREV` maps them to the codes the Challenge 2020 used for them
(the mapping stated in ``../shared/data/cinc/LICENSE.txt``), and :func:`to_snomed` applies it.

:func:`rhythm_of` sorts a record into one of :data:`RHYTHMS` for reporting yields per rhythm:

``"AF/flutter"``
    any atrial fibrillation or flutter code (:data:`AF_FLUTTER_CODES`). This wins over a sinus
    code: a record labelled both is irregular where it matters for beat averaging.
``"sinus"``
    otherwise, any sinus rhythm code (:data:`SINUS_CODES`: sinus rhythm, sinus bradycardia,
    sinus tachycardia, sinus arrhythmia). Ectopic beats (PAC, PVC) and conduction or
    morphology findings do not change the rhythm.
``"other"``
    everything else: pacing, atrial or junctional rhythms, tachyarrhythmias, and records whose
    codes state *no* rhythm at all (e.g. a CPSC record labelled only RBBB). So ``"other"`` is
    "not documented as sinus or AF/flutter", not "documented as a third rhythm";
    :func:`states_rhythm` tells the two apart (many "other" records of ``../shared/data/cinc``
    state no rhythm, above all CPSC 2018 records labelled only with conduction, ST or ectopy
    codes).
"""

from __future__ import annotations

from collections.abc import Iterable

from ecglib.errors import DataError

#: SNOMED CT code -> (Challenge abbreviation, name). Every code present in ../shared/data/cinc.
SNOMED: dict[str, tuple[str, str]] = {
    # rhythm
    "426783006": ("NSR", "sinus rhythm"),
    "426177001": ("SB", "sinus bradycardia"),
    "427084000": ("STach", "sinus tachycardia"),
    "427393009": ("SA", "sinus arrhythmia"),
    "164889003": ("AF", "atrial fibrillation"),
    "164890007": ("AFL", "atrial flutter"),
    "426627000": ("Brady", "bradycardia"),
    "713422000": ("ATach", "atrial tachycardia"),
    "106068003": ("ARH", "atrial rhythm"),
    "233897008": ("AVRT", "atrioventricular reentrant tachycardia"),
    "425856008": ("PVT", "paroxysmal ventricular tachycardia"),
    "10370003": ("PR", "pacing rhythm"),
    # ectopic beats
    "284470004": ("PAC", "premature atrial contraction"),
    "63593006": ("SVPB", "supraventricular premature beats"),
    "251170000": ("BPAC", "blocked premature atrial contraction"),
    "251187003": ("AED", "atrial escape beat"),
    "164884008": ("VEB", "ventricular ectopics"),
    "427172004": ("PVC", "premature ventricular contractions"),
    "17338001": ("VPB", "ventricular premature beats"),
    "13640000": ("FB", "fusion beats"),
    # conduction
    "270492004": ("IAVB", "1st degree AV block"),
    "233917008": ("AVB", "AV block"),
    "164947007": ("LPR", "prolonged PR interval"),
    "59118001": ("RBBB", "right bundle branch block"),
    "713427006": ("CRBBB", "complete right bundle branch block"),
    "713426002": ("IRBBB", "incomplete right bundle branch block"),
    "164909002": ("LBBB", "left bundle branch block"),
    "445118002": ("LAnFB", "left anterior fascicular block"),
    "698252002": ("NSIVCB", "nonspecific intraventricular conduction disorder"),
    # axis, voltage, hypertrophy, atria
    "39732003": ("LAD", "left axis deviation"),  # the Challenge's "LAD" is the axis, not the artery
    "47665007": ("RAD", "right axis deviation"),
    "61721007": ("CVCL/CCVCL", "clockwise or counterclockwise vectorcardiographic loop"),
    "251146004": ("LQRSV", "low QRS voltages"),
    "164873001": ("LVH", "left ventricular hypertrophy"),
    "55827005": ("LVHV", "left ventricular high voltage"),
    "89792004": ("RVH", "right ventricular hypertrophy"),
    "253352002": ("LAA", "left atrial abnormality"),
    "67741000119109": ("LAE", "left atrial enlargement"),
    "446358003": ("RAH", "right atrial hypertrophy"),
    "251223006": ("TPW", "tall P wave"),
    # QRS, ST-T, QT
    "164951009": ("abQRS", "abnormal QRS"),
    "164917005": ("QAb", "Q wave abnormal"),
    "365413008": ("PRWP", "poor R wave progression"),
    "429622005": ("STD", "ST depression"),
    "164931005": ("STE", "ST elevation"),
    "55930002": ("STC", "ST changes"),
    "164930006": ("STIAb", "ST interval abnormal"),
    "428750005": ("NSSTTA", "nonspecific ST-T abnormality"),
    "164934002": ("TAb", "T wave abnormal"),
    "59931005": ("TInv", "T wave inversion"),
    "251259000": ("HTV", "high T voltage"),
    "111975006": ("LQT", "prolonged QT interval"),
    # ischaemia and infarction
    "164861001": ("MIs", "myocardial ischemia"),
    "413844008": ("CMI", "chronic myocardial ischemia"),
    "426434006": ("AnMIs", "anterior ischemia"),
    "425623009": ("LIs", "lateral ischaemia"),
    "164865005": ("MI", "myocardial infarction"),
    "164867002": ("OldMI", "old myocardial infarction"),
}

#: The early CPSC 2018 release's #Dx abbreviations -> the Challenge 2020 SNOMED CT codes.
CPSC2018_ABBREV: dict[str, str] = {
    "Normal": "426783006",
    "AF": "164889003",
    "I-AVB": "270492004",
    "LBBB": "164909002",
    "RBBB": "59118001",
    "PAC": "284470004",
    "PVC": "164884008",
    "STD": "429622005",
    "STE": "164931005",
}

#: Sinus rhythms (sinus rhythm, sinus bradycardia, sinus tachycardia, sinus arrhythmia).
SINUS_CODES: frozenset[str] = frozenset({"426783006", "426177001", "427084000", "427393009"})
#: Atrial fibrillation and flutter, including the Challenge's variants not present here
#: (195080001 AF and flutter, 426749004 chronic AF, 282825002 paroxysmal AF, 314208002 rapid AF).
AF_FLUTTER_CODES: frozenset[str] = frozenset(
    {"164889003", "164890007", "195080001", "426749004", "282825002", "314208002"}
)
#: Every code that states a rhythm (sinus, AF/flutter, and the other rhythms of the Challenge's
#: tables: pacing, atrial, junctional, ventricular and supraventricular rhythms and tachycardias,
#: bradycardia). A record with none of these states no rhythm (:func:`states_rhythm`).
RHYTHM_STATEMENT_CODES: frozenset[str] = (
    SINUS_CODES
    | AF_FLUTTER_CODES
    | frozenset(
        {
            "426627000",
            "713422000",
            "106068003",
            "233897008",
            "425856008",
            "10370003",
            "426761007",
            "67198005",
            "251166008",
            "164895002",
            "164896001",
            "111288001",
            "251268003",
            "29320008",
            "426995002",
            "426648003",
            "426664006",
            "49260003",
            "61277005",
            "81898007",
            "233892002",
            "195101003",
            "17366009",
            "5609005",
            "251266004",
        }
    )
)
#: Findings of ischaemia, infarction or ST-T change (for grouping records in waveform comparisons).
ISCHAEMIA_CODES: frozenset[str] = frozenset(
    {
        "429622005",
        "164931005",
        "55930002",
        "164930006",
        "428750005",
        "164934002",
        "59931005",
        "164917005",
        "164861001",
        "413844008",
        "426434006",
        "425623009",
        "164865005",
        "164867002",
    }
)

#: The categories of :func:`rhythm_of`, in reporting order.
RHYTHMS: tuple[str, ...] = ("sinus", "AF/flutter", "other")


def snomed_name(code: str) -> str:
    """The Challenge's name of a SNOMED CT code; a code not in :data:`SNOMED` is named by itself
    (``"SNOMED CT 12345"``) so that reports never fail on a new code."""
    code = str(code).strip()
    entry = SNOMED.get(code)
    return entry[1] if entry else f"SNOMED CT {code}"


def to_snomed(token: str, record: str = "<unnamed>") -> str:
    """One ``#Dx`` token as a SNOMED CT code: digits are kept, CPSC 2018 abbreviations mapped.

    Raises :class:`~ecglib.errors.DataError` naming the record for any other token.
    """
    token = str(token).strip()
    if token.isdigit():
        return token
    if token in CPSC2018_ABBREV:
        return CPSC2018_ABBREV[token]
    raise DataError(
        record,
        f"diagnosis {token!r} is neither a SNOMED CT code nor a CPSC 2018 "
        f"abbreviation ({', '.join(CPSC2018_ABBREV)})",
    )


def split_codes(codes: str | Iterable[str] | None) -> tuple[str, ...]:
    """Codes from a comma-separated string (as in the headers and the records table) or an
    iterable; empty or missing gives ``()``."""
    if codes is None:
        return ()
    if isinstance(codes, str):
        return tuple(c.strip() for c in codes.split(",") if c.strip())
    try:
        if codes != codes:  # NaN from a DataFrame cell
            return ()
    except (TypeError, ValueError):
        pass
    return tuple(str(c).strip() for c in codes if str(c).strip())


def rhythm_of(codes: str | Iterable[str] | None) -> str:
    """``"AF/flutter"``, ``"sinus"`` or ``"other"`` for a record's SNOMED CT codes (rules in the
    module docstring; a comma-separated string is accepted)."""
    present = set(split_codes(codes))
    if present & AF_FLUTTER_CODES:
        return "AF/flutter"
    if present & SINUS_CODES:
        return "sinus"
    return "other"


def states_rhythm(codes: str | Iterable[str] | None) -> bool:
    """Whether any code states a rhythm (:data:`RHYTHM_STATEMENT_CODES`); ``False`` means a
    ``rhythm_of`` of ``"other"`` is "not stated", not a documented third rhythm."""
    return bool(set(split_codes(codes)) & RHYTHM_STATEMENT_CODES)


def describe(codes: str | Iterable[str] | None) -> str:
    """The codes' names joined by ``"; "`` (for tables in the book)."""
    return "; ".join(snomed_name(c) for c in split_codes(codes))
