"""The bad-input corpus: malformed files that every loader must refuse by name, never repair.

``tests/bad_inputs/MANIFEST.yaml`` lists each input: its file(s), what is wrong with it, the
loader it goes through (the project's real loading path, below) and the expected outcome, either
an error type with a regular expression its message must match (naming the record, key or file)
or the exclusion flow it must produce. ``tests/test_bad_inputs.py`` runs every entry and checks
the outcome and that nothing was silently replaced; the book's appendix renders the list with
the message each input actually gets, computed by running it here.

Loaders (``loader:`` in the manifest):

``ecg``
    :func:`ecglib.signals.ecg_preprocess` on the file, with ``record_id`` = the entry's id and
    ``fs`` = the manifest's ``npy_fs`` (what the ECG store runs on every file).
``export``
    :func:`ecglib.data.cohort.read_export` of the table through a column map (default the demo's).
``map``
    :meth:`ecglib.data.cohort.ExportMap.from_yaml`.
``params``
    :func:`ecglib.config.load_params` .
``checkpoint``
    :func:`ecglib.model.load_pretrained` into the manifest's tiny ``checkpoint_model`` Net1D.
``prepare``
    :func:`ecglib.data.prepare.prepare_data` on a params file written to a scratch folder: the export
    table of the entry, ECG paths relative to the corpus folder, ``signals.npy_fs`` = ``npy_fs``.

Some inputs are generated rather than stored, because the defect needs a full-size recording
(``generate:`` in the manifest, made by :func:`generate_input` from a named recipe).
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecglib.config import PROJECT_ROOT, load_yaml

#: The corpus folder and its manifest.
CORPUS_DIR = PROJECT_ROOT / "tests" / "bad_inputs"
MANIFEST = CORPUS_DIR / "MANIFEST.yaml"
#: Column map of export entries that name none.
DEFAULT_MAP = "params/maps/demo_export.yaml"
LOADERS = ("ecg", "export", "map", "params", "checkpoint", "prepare")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True)
class Entry:
    """One corpus input (see the module docstring for the fields' meaning)."""

    id: str
    loader: str
    defect: str
    expect: Any
    files: tuple[str, ...] = ()
    args: dict = field(default_factory=dict)
    generate: dict | None = None
    #: The file is absent on purpose (a path that does not exist).
    absent: bool = False

    @property
    def path(self) -> Path | None:
        """The input the loader is given: the first file, under the corpus folder."""
        return CORPUS_DIR / self.files[0] if self.files else None

    @property
    def expected_error(self) -> str | None:
        return self.expect.get("error") if isinstance(self.expect, dict) else None


@dataclass
class Outcome:
    """What a loader did with one input.

    ``kind``: ``"error"`` (``error_type``, ``message`` = ``str(exc)``), ``"excluded"`` (the
    loader returned, and its exclusion flow removed rows: ``steps`` = (step, excluded) in
    order, ``kept`` = the ECG ids left) or ``"ok"`` (returned, nothing excluded). ``result`` is
    what the loader returned.
    """

    entry_id: str
    kind: str
    error_type: str | None = None
    message: str | None = None
    steps: list[tuple[str, int]] | None = None
    kept: list[str] | None = None
    n_start: int | None = None
    result: Any = None
    error: BaseException | None = None


def load_manifest(path: str | os.PathLike = MANIFEST) -> dict:
    path = Path(path)
    return load_yaml(path.read_text(encoding="utf-8"), where=path.name)


def entries(manifest: dict | None = None, section: str = "entries") -> list[Entry]:
    """The manifest's ``entries`` (or ``controls``: clean inputs that must load) as :class:`Entry`."""
    manifest = load_manifest() if manifest is None else manifest
    out = []
    for raw in manifest.get(section) or []:
        raw = dict(raw)
        raw["files"] = tuple(raw.get("files") or ())
        raw["args"] = dict(raw.get("args") or {})
        out.append(Entry(**raw))
    return out


# --------------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------------
def base_ecg(n_samples: int = 500, fs: float = 50.0, seed: int = 0) -> np.ndarray:
    """A clean, plausible (12, n) ECG in mV: P, QRS and T waves at 72 /min with lead-specific
    gains, a slow baseline wander and a little noise. The corpus's defects are made from it."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_samples) / fs
    rr = 60.0 / 72.0
    beats = np.arange(-1.0, t[-1] + 2 * rr, rr) + rng.uniform(0.0, rr)

    def wave(offset: float, width: float) -> np.ndarray:
        d = t[None, :] - beats[:, None] - offset
        return np.exp(-0.5 * (d / width) ** 2).sum(axis=0)

    waves = np.stack([0.15 * wave(-0.18, 0.03), 1.0 * wave(0.0, 0.025), 0.3 * wave(0.28, 0.06)])
    gains = rng.uniform(0.3, 1.2, (12, 3)) * rng.choice([-1.0, 1.0], (12, 1))
    wander = 0.05 * np.sin(2 * np.pi * 0.2 * t[None, :] + rng.uniform(0, 2 * np.pi, (12, 1)))
    return gains @ waves + wander + 0.02 * rng.standard_normal((12, n_samples))


def generate_input(entry: Entry, folder: Path) -> Path:
    """Write a generated entry's input into ``folder`` from its recipe; returns its path.

    Recipes: ``base`` (:func:`base_ecg` of ``shape`` at ``fs``) and ``zeros`` (an all-zero
    array, what the authors' code substituted for an unreadable ECG); ``dtype`` and ``shape``
    ((12, T) or (T, 12)) as given."""
    spec = entry.generate or {}
    shape = tuple(spec["shape"])
    n = shape[1] if shape[0] == 12 else shape[0]
    if spec["recipe"] == "base":
        signal = base_ecg(n, float(spec.get("fs", 500.0)), int(spec.get("seed", 0)))
    elif spec["recipe"] == "zeros":
        signal = np.zeros((12, n))
    else:
        raise ValueError(f"{entry.id}: unknown recipe {spec['recipe']!r}")
    signal = signal if shape[0] == 12 else signal.T
    path = Path(folder) / f"{entry.id}.npy"
    np.save(path, signal.astype(spec.get("dtype", "float32")))
    return path


# --------------------------------------------------------------------------------------------
# running
# --------------------------------------------------------------------------------------------
def run_entry(entry: Entry, workdir: str | os.PathLike, manifest: dict | None = None) -> Outcome:
    """Run one input through its loader; any exception becomes an ``"error"`` outcome.

    ``workdir`` holds generated inputs and the scratch run of ``prepare`` entries (whose
    result, the prepared data, points into it)."""
    manifest = load_manifest() if manifest is None else manifest
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    path = generate_input(entry, workdir) if entry.generate else entry.path
    try:
        result = _LOADERS[entry.loader](entry, path, workdir, manifest)
    except Exception as exc:  # noqa: BLE001 - every failure is the outcome being recorded
        return Outcome(entry.id, "error", type(exc).__name__, str(exc), error=exc)
    return _returned(entry, result)


def run_corpus(manifest: dict | None = None, section: str = "entries") -> list[Outcome]:
    """Every entry of a manifest section, each in a scratch folder removed afterwards (the
    outcomes keep their messages; ``result`` is dropped)."""
    manifest = load_manifest() if manifest is None else manifest
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="ecglib-corpus-", ignore_cleanup_errors=True) as tmp:
        for i, entry in enumerate(entries(manifest, section)):
            outcome = run_entry(entry, Path(tmp) / f"{i:03d}", manifest)
            outcome.result = None
            outcome.error = None
            if outcome.message:
                outcome.message = outcome.message.replace(tmp, "<tmp>")
            if outcome.steps:
                outcome.steps = [(step.replace(tmp, "<tmp>"), n) for step, n in outcome.steps]
            outcomes.append(outcome)
    return outcomes


def matches(entry: Entry, outcome: Outcome) -> list[str]:
    """How an outcome differs from the entry's expectation (empty: as expected).

    ``expect: {error: Type, match: regex}``: that exact error type, its message matching the
    regex (``re.search``). ``expect: {steps: [[regex, n], ...], kept: [ids]}``: the loader
    returns, its exclusion flow has exactly these steps in order (step name matching the regex,
    ``n`` rows excluded), and these ECG ids remain. ``expect: ok``: it loads."""
    expect = entry.expect
    if expect == "ok":
        return (
            []
            if outcome.kind != "error"
            else [f"expected to load, got {outcome.error_type}: {outcome.message}"]
        )
    if "error" in expect:
        if outcome.kind != "error":
            return [
                f"expected {expect['error']}, but the loader returned without an error "
                f"({outcome.kind}): the defect was silently accepted"
            ]
        problems = []
        if outcome.error_type != expect["error"]:
            problems.append(f"expected {expect['error']}, got {outcome.error_type}")
        if not re.search(expect["match"], outcome.message or ""):
            problems.append(f"message {outcome.message!r} does not match {expect['match']!r}")
        return problems
    if outcome.kind == "error":
        return [f"expected an exclusion flow, got {outcome.error_type}: {outcome.message}"]
    problems = []
    steps = outcome.steps or []
    wanted = expect.get("steps", [])
    if len(steps) != len(wanted):
        problems.append(f"exclusion steps {steps} do not match the expected {wanted}")
    else:
        for (step, n), (regex, n_wanted) in zip(steps, wanted):
            if not re.search(regex, step) or n != n_wanted:
                problems.append(f"step ({step!r}, {n}) does not match ({regex!r}, {n_wanted})")
    if "kept" in expect and sorted(outcome.kept or []) != sorted(expect["kept"]):
        problems.append(f"kept {outcome.kept}, expected {expect['kept']}")
    return problems


def _returned(entry: Entry, result: Any) -> Outcome:
    from ecglib.data.cohort import ExclusionReport

    cohort = report = None
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], ExclusionReport):
        cohort, report = result
    elif hasattr(result, "report") and isinstance(result.report, ExclusionReport):
        cohort, report = result.cohort, result.report
    if report is None:
        return Outcome(entry.id, "ok", result=result)
    steps = [(reason, len(rows)) for reason, rows in report.steps]
    kind = "excluded" if any(n for _, n in steps) else "ok"
    return Outcome(
        entry.id,
        kind,
        steps=steps,
        kept=[str(x) for x in cohort["ecg_id"]],
        n_start=report.n_start,
        result=result,
    )


def _load_ecg(entry: Entry, path: Path, workdir: Path, manifest: dict) -> np.ndarray:
    from ecglib.signals import ecg_preprocess

    fs = entry.args.get("fs", (entry.generate or {}).get("fs", manifest.get("npy_fs", 500.0)))
    return ecg_preprocess(path, fs=float(fs), record_id=entry.id)


def _load_export(entry: Entry, path: Path, workdir: Path, manifest: dict):
    from ecglib.data.cohort import ExportMap, read_export

    export_map = ExportMap.from_yaml(PROJECT_ROOT / entry.args.get("map", DEFAULT_MAP))
    return read_export(path, export_map)


def _load_map(entry: Entry, path: Path, workdir: Path, manifest: dict):
    from ecglib.data.cohort import ExportMap

    return ExportMap.from_yaml(path)


def _load_params(entry: Entry, path: Path, workdir: Path, manifest: dict):
    from ecglib.config import load_params

    return load_params(path)


def _load_checkpoint(entry: Entry, path: Path, workdir: Path, manifest: dict):
    from ecglib.model import Net1D, load_pretrained

    model = Net1D.from_config(manifest["checkpoint_model"])
    return load_pretrained(model, path)


def _load_prepare(entry: Entry, path: Path, workdir: Path, manifest: dict):
    import yaml

    from ecglib.config import load_params
    from ecglib.data.prepare import prepare_data

    params = {
        "name": entry.id,
        "seed": 0,
        "runs_dir": str(workdir / "runs"),
        "data": {
            "table": str(path),
            "map": str(PROJECT_ROOT / entry.args.get("map", DEFAULT_MAP)),
            "ecg_root": str(CORPUS_DIR),
            "on_bad_ecg": entry.args.get("on_bad_ecg", "raise"),
        },
        "signals": {"npy_fs": float(manifest.get("npy_fs", 500.0))},
    }
    file = workdir / "params.yaml"
    file.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    return prepare_data(load_params(file), progress=False)


_LOADERS = {
    "ecg": _load_ecg,
    "export": _load_export,
    "map": _load_map,
    "params": _load_params,
    "checkpoint": _load_checkpoint,
    "prepare": _load_prepare,
}


# --------------------------------------------------------------------------------------------
# the appendix's table
# --------------------------------------------------------------------------------------------
def display_text(text: str | None, max_chars: int | None = 400) -> str:
    """A message as the book shows it: corpus paths relative, no machine paths, no colour
    codes, long messages shortened."""
    if text is None:
        return ""
    text = _ANSI.sub("", text)
    text = text.replace(str(CORPUS_DIR), "tests/bad_inputs").replace(str(PROJECT_ROOT), ".")
    home = str(Path.home())
    if len(home) > 1:
        text = text.replace(home, "~")
    text = re.sub(r"\s*\n\s*", " | ", text.strip())
    if max_chars is not None and len(text) > max_chars:
        text = text[: max_chars - 1].rstrip() + "…"
    return text


def corpus_table(
    outcomes: list[Outcome] | None = None, manifest: dict | None = None, max_chars: int | None = 400
) -> pd.DataFrame:
    """One row per corpus input: its files, defect, loader, the expected and the actual outcome,
    the message it actually got, and whether that is as the manifest expects."""
    manifest = load_manifest() if manifest is None else manifest
    outcomes = run_corpus(manifest) if outcomes is None else outcomes
    by_id = {o.entry_id: o for o in outcomes}
    rows = []
    for entry in entries(manifest):
        outcome = by_id[entry.id]
        if entry.generate:
            g = entry.generate
            files = f"generated: {' x '.join(map(str, g['shape']))} {g.get('dtype', 'float32')}"
        else:
            files = ", ".join(entry.files) + (" (absent on purpose)" if entry.absent else "")
        expected = (
            entry.expect["error"]
            if isinstance(entry.expect, dict) and "error" in entry.expect
            else "exclusion"
            if isinstance(entry.expect, dict)
            else str(entry.expect)
        )
        if outcome.kind == "error":
            actual, message = outcome.error_type, outcome.message
        else:
            actual = outcome.kind
            message = "; ".join(f"{step}: {n} excluded" for step, n in outcome.steps or [] if n)
        rows.append(
            {
                "input": entry.id,
                "files": files,
                "defect": entry.defect,
                "loader": entry.loader,
                "expected": expected,
                "outcome": actual,
                "message": display_text(message, max_chars),
                "as expected": not matches(entry, outcome),
            }
        )
    return pd.DataFrame(rows)
