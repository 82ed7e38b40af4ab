"""Run configuration: one params YAML is the single source of truth for a run.

:func:`load_params` reads a params file into frozen dataclasses and rejects unknown, missing
or ill-typed keys with an error that names them (a typo must not silently fall back to a
default). Relative paths inside a params file resolve against the project root, never the
working directory, so a notebook run from ``notebooks/`` and a papermill run from the root
read the same files.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from ecglib.errors import ConfigError

#: The repository holding ``params/``, ``notebooks/`` and ``runs/`` (ecglib is installed editable).
PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class DemoParams:
    """Generate the synthetic demo cohort as a raw export before loading it."""

    size: Literal["small", "medium", "paper"] = "small"
    #: Directory the export is written to; ``{run}`` stands for the run directory.
    out_dir: str = "{run}/raw"


@dataclass(frozen=True)
class DataParams:
    """Where the hospital export is and how to read it."""

    #: CSV or Excel export, one row per ECG paired with a CCTA exam.
    table: str
    #: YAML file with the ``columns:`` and ``labels:`` maps for this export.
    map: str
    #: Relative ECG paths in the table resolve against this directory (default: the table's).
    ecg_root: str | None = None
    #: What a record whose ECG file is unreadable or fails a check does: stop the run with a
    #: list of every such record (``raise``), or leave the cohort with a line in the exclusion
    #: report (``exclude``). Never replaced by zeros.
    on_bad_ecg: Literal["raise", "exclude"] = "raise"


@dataclass(frozen=True)
class SignalParams:
    """How every ECG becomes the model's (12, 5000) input."""

    #: Sampling rate assumed for ``.npy`` files (WFDB headers carry their own).
    npy_fs: float = 500.0
    #: Longer recordings: keep the first 10 s (``start``) or the central 10 s (``center``).
    length_policy: Literal["start", "center"] = "start"
    #: ``none``: lead-wise z-score only (the paper); ``ecgfounder``: ECGFounder's notch,
    #: band-pass and median baseline removal before the z-score.
    filter: Literal["none", "ecgfounder"] = "none"


@dataclass(frozen=True)
class FoldParams:
    n_folds: int = 5
    #: Share of the training folds' patients held out for epoch selection.
    inner_val_fraction: float = 0.15


@dataclass(frozen=True)
class ModelParams:
    """ECGFounder's Net1D (defaults: the released 12-lead model) and where its weights come from."""

    base_filters: int = 64
    ratio: float = 1.0
    filter_list: list[int] = (64, 160, 160, 400, 400, 1024, 1024)
    m_blocks_list: list[int] = (2, 2, 2, 3, 3, 4, 4)
    kernel_size: int = 16
    stride: int = 2
    groups_width: int = 16
    use_bn: bool = True
    use_do: bool = True
    #: The ECG leads the network sees: ``all`` (default), ``limb`` (I, II, III, aVR, aVL, aVF;
    #: :data:`ecglib.schema.LIMB_LEADS`) or a list of lead names (``[I]``: a single-lead,
    #: wearable-like ECG). The other channels are zeroed at the network's input, in training and
    #: prediction alike, so the network keeps its 12 input channels and ECGFounder's 12-lead
    #: weights still load.
    input_leads: str | list[str] = "all"
    #: Checkpoint of the pretrained ECGFounder (``{"state_dict": ...}`` or a bare state dict);
    #: ``null`` trains from random initialisation, and the book says so wherever results appear.
    pretrained: str | None = None


@dataclass(frozen=True)
class TrainParams:
    """Fine-tuning, per fold (defaults: the paper's settings)."""

    epochs: int = 100
    #: The global batch: under ``torchrun --nproc_per_node N`` each process takes
    #: ``batch_size / N`` ECGs (a multiple of ``N`` is required), so the optimiser's steps, the
    #: learning rate and the warm-up are the same whatever the number of processes.
    batch_size: int = 64
    lr: float = 3e-5
    weight_decay: float = 5e-4
    #: Linear warm-up over this share of all steps, then cosine decay to ``final_lr_fraction``
    #: of the peak learning rate.
    warmup_fraction: float = 0.1
    final_lr_fraction: float = 0.01
    #: ``uncertainty``: Kendall et al.'s learned task weights; ``equal``: the plain sum.
    loss_weighting: Literal["uncertainty", "equal"] = "uncertainty"
    #: ``pcgrad``: Yu et al.'s PCGrad on the shared trunk; ``pcgrad_authors``: the authors'
    #: one-sided fixed-order variant; ``pcgrad_features``: the representation-level
    #: approximation; ``none``: no gradient surgery.
    gradient_surgery: Literal["pcgrad", "pcgrad_authors", "pcgrad_features", "none"] = "pcgrad"
    #: Online augmentation: each batch holds the originals and their augmented copies.
    augment: bool = True
    #: ``auto``: CUDA when available, else the CPU. Under torchrun every process takes its
    #: local GPU (``auto`` or ``cuda``); a device naming one GPU (``cuda:1``) is an error there.
    device: str = "auto"
    #: Autocast of the trunk (the head is always float32): ``auto`` = bf16 on a GPU that
    #: computes it natively (Ampere or later), else fp32; ``bf16``; ``fp16`` (with a gradient
    #: scaler); ``fp32`` (no autocast).
    precision: Literal["auto", "bf16", "fp16", "fp32"] = "auto"
    num_workers: int = 0
    #: ``true``: one independent network per vessel (single-task learning, the baseline that
    #: multi-task learning must beat), each trained on its vessel's loss alone; the predictions
    #: have the same table as the multi-task network's. Loss weighting and gradient surgery have
    #: nothing to act on with one task.
    single_task: bool = False
    #: CPU threads of a training process; unset: what the job was given (SLURM_CPUS_PER_TASK,
    #: OMP_NUM_THREADS or the process's CPU affinity, shared by torchrun's local processes;
    #: ecglib.train.threads). Set it when several trainings share one machine.
    threads: int | None = None


def _per_vessel(**values: float):
    return field(default_factory=lambda: dict(values))


@dataclass(frozen=True)
class EvaluationParams:
    """Operating points and resampling for the evaluation chapters (defaults: the paper's)."""

    #: High-risk cut-offs, the paper's (kept so the book reports its operating points; chapter
    #: 06 says what they mean). RCA, LAD, LCX 15%: borrowed from the 2019 ESC pre-test
    #: probability threshold, which is a patient-level probability of obstructive CAD (>= 50% in
    #: any vessel). A calibrated per-vessel probability of a severe (>= 70%) stenosis at or above
    #: 15% implies a probability of obstructive CAD of at least 15%, not the converse: "not high
    #: risk" is no rule-out. LM 1%: ten times its 0.1% population prevalence, unrelated to the ESC.
    high_risk_thresholds: dict[str, float] = _per_vessel(RCA=0.15, LM=0.01, LAD=0.15, LCX=0.15)
    #: Targets of the low / intermediate / high strata: the lower cut-off keeps this sensitivity,
    #: the upper one this specificity (the authors' code: 0.95, 0.87 for LM). Chosen on the
    #: training folds' predictions, reported on the held-out ones.
    strata_sensitivity: dict[str, float] = _per_vessel(RCA=0.90, LM=0.90, LAD=0.90, LCX=0.90)
    strata_specificity: dict[str, float] = _per_vessel(RCA=0.95, LM=0.87, LAD=0.95, LCX=0.95)
    #: Patient resamples of the run's one shared cluster bootstrap (every bootstrap interval of
    #: the book; :meth:`ecglib.chapters.predictions.RunResults.resamples`).
    n_bootstrap: int = 1000
    #: Horizon of the cumulative-incidence chapter, in the follow-up's days.
    followup_horizon_days: int = 365
    #: The subgroup chapter's pre-specified subgroups (the paper's; exploratory, fixed before
    #: any result is seen): the variables, in the order the chapter shows them; the age cut in
    #: years at the ECG (< cut against >= cut); the ECG-CCTA interval cut in hours (<= cut
    #: against > cut). Sex has no parameter: male against female.
    subgroup_variables: list[Literal["age", "sex", "interval"]] = ("age", "sex", "interval")
    subgroup_age_cut_years: float = 65.0
    subgroup_interval_cut_hours: float = 3.0
    #: The positive predictive value chapter 12's rule-in threshold must reach (the smallest
    #: threshold whose ruled-in examinations reach it, cross-fitted on the internal
    #: out-of-fold predictions and applied unchanged externally, like the 95%-NPV rule-out).
    rule_in_ppv: float = 0.5


#: The params sections a run variant may overlay; the others (cohort, signals, folds, seed,
#: name, evaluation) are the parent run's, shared by every variant.
VARIANT_SECTIONS: tuple[str, ...] = ("model", "train")


@dataclass(frozen=True)
class Variant:
    """A run variant: a name and an overlay of ``model:``/``train:`` keys on the run's params.

    Declared in a params file's ``variants:`` mapping (``no_pcgrad: {train: {gradient_surgery:
    none}}``); :meth:`RunParams.variant` applies it. A variant reuses its run's cohort, ECG store
    and folds and trains into ``runs/<name>/variants/<variant>/`` (:meth:`ecglib.paths.RunPaths.variant`).
    """

    name: str
    overlay: dict[str, dict[str, Any]]

    def describe(self) -> str:
        """The overlay as one line, e.g. ``train.gradient_surgery = none; train.loss_weighting = equal``."""
        parts = [
            f"{section}.{key} = {_show(value)}"
            for section, keys in self.overlay.items()
            for key, value in keys.items()
        ]
        return "; ".join(parts) if parts else "(no change)"


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)


@dataclass(frozen=True)
class ReportParams:
    """How the book reports estimates (every results chapter)."""

    #: The small-count threshold: an AUC, confidence interval, calibration curve or test
    #: computed on fewer positive (or fewer negative) ECGs than this is withheld and shown as
    #: "too few events (n)" in the tables, the text and the figures. Below a handful of
    #: events such estimates are dominated by one or two patients: an AUC from 3 positives has
    #: only 3 ranks to order, and its interval is unreliable (Hanley & McNeil 1982).
    min_events: int = 5


@dataclass(frozen=True)
class RunParams:
    """A whole run: cohort, signals, folds, model and training."""

    name: str
    seed: int
    data: DataParams
    signals: SignalParams = field(default_factory=SignalParams)
    folds: FoldParams = field(default_factory=FoldParams)
    model: ModelParams = field(default_factory=ModelParams)
    train: TrainParams = field(default_factory=TrainParams)
    evaluation: EvaluationParams = field(default_factory=EvaluationParams)
    report: ReportParams = field(default_factory=ReportParams)
    demo: DemoParams | None = None
    #: Run variants (ablations), in the params file's order: :class:`Variant`.
    variants: tuple[Variant, ...] = ()
    #: Where ``runs/<name>/`` lives; default ``<project>/runs``.
    runs_dir: str = "runs"
    #: The file this was read from, and the hash of its parsed content (for the run manifest).
    source: str = field(default="", compare=False)
    sha256: str = field(default="", compare=False)

    @property
    def run_dir(self) -> Path:
        return resolve_path(self.runs_dir) / self.name

    def path(self, value: str) -> Path:
        """Resolve a params path: ``{run}`` is the run directory, relative means project root."""
        return resolve_path(value.replace("{run}", str(self.run_dir)))

    def variant(self, name: str) -> RunParams:
        """These params with variant ``name``'s overlay applied (its own ``variants`` empty).

        The run's name, folder, cohort, signals, folds and seed are unchanged: a variant's
        training reads the parent run's prepared data."""
        found = {v.name: v for v in self.variants}
        if name not in found:
            declared = ", ".join(found) if found else "none"
            raise ConfigError(f"unknown variant {name!r}; the params declare: {declared}")
        return _apply_overlay(self, found[name])


def resolve_path(value: str | os.PathLike) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


def load_params(path: str | os.PathLike) -> RunParams:
    """Read and validate a params YAML: exactly the file given, tried as given, then against
    the project root."""
    file = Path(path)
    if not file.exists():
        file = resolve_path(path)
    if not file.exists():
        raise ConfigError(f"params file {path} not found (also looked in {PROJECT_ROOT})")
    raw = load_yaml(file.read_text(encoding="utf-8"), where=str(file))
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: expected a mapping of sections at the top level")
    raw_variants = raw.pop("variants", None)
    params = _build(RunParams, raw, where=file.name)
    variants = _read_variants(params, raw_variants, where=file.name)
    params = dataclasses.replace(params, variants=variants)
    if raw_variants is not None:
        raw["variants"] = raw_variants
    digest = hashlib.sha256(yaml.safe_dump(raw, sort_keys=True).encode()).hexdigest()
    return dataclasses.replace(params, source=str(file), sha256=digest)


class UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping.

    PyYAML keeps the last of two equal keys without a word, so a params file or map with two
    ``seed:`` lines would silently use the second."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=deep)
                try:
                    first = seen.setdefault(key, key_node.start_mark.line)
                except TypeError:  # an unhashable key: the base class reports it
                    continue
                if first != key_node.start_mark.line:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        f"found duplicate key {key!r} (also on line {first + 1})",
                        key_node.start_mark,
                    )
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str, where: str) -> Any:
    """Parse YAML text (safe types only; a duplicated key is an error); ``where`` names the
    file in the :class:`ConfigError` raised for invalid YAML."""
    try:
        return yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: not valid YAML: {exc}") from exc


def _read_variants(params: RunParams, raw: Any, where: str) -> tuple[Variant, ...]:
    """The ``variants:`` mapping (name -> {section: {key: value}}), each overlay validated by
    applying it: a key outside ``model``/``train``, an unknown key or a bad value is an error
    naming the variant and the key."""
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{where}.variants: expected a mapping of variant names to overlays, got {raw!r}"
        )
    out = []
    for name, overlay in raw.items():
        at = f"{where}.variants.{name}"
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
            raise ConfigError(
                f"{at}: a variant name must be letters, digits, '_', '-' or '.' (it names a folder)"
            )
        if not isinstance(overlay, dict) or not overlay:
            raise ConfigError(
                f"{at}: expected a mapping of sections to keys, e.g. "
                "{train: {gradient_surgery: none}}; got " + repr(overlay)
            )
        for section, keys in overlay.items():
            if section not in VARIANT_SECTIONS:
                raise ConfigError(
                    f"{at}.{section}: a variant may overlay only {' and '.join(VARIANT_SECTIONS)}; "
                    f"{section} is the run's own (a variant reuses its cohort, ECG store and folds)"
                )
            if not isinstance(keys, dict) or not keys:
                raise ConfigError(f"{at}.{section}: expected a mapping of keys, got {keys!r}")
        variant = Variant(name=name, overlay={s: dict(k) for s, k in overlay.items()})
        _apply_overlay(params, variant, where=where)  # validates every key and value
        out.append(variant)
    return tuple(out)


def _apply_overlay(params: RunParams, variant: Variant, where: str | None = None) -> RunParams:
    where = where or (Path(params.source).name if params.source else "params")
    sections = {}
    for section, keys in variant.overlay.items():
        base = dataclasses.asdict(getattr(params, section))
        hint = typing.get_type_hints(RunParams)[section]
        sections[section] = _build(
            hint, {**base, **keys}, where=f"{where}.variants.{variant.name}.{section}"
        )
    return dataclasses.replace(params, variants=(), **sections)


def params_to_dict(params: Any) -> dict:
    """The params as plain data (for the run manifest and the book's appendix)."""
    out = dataclasses.asdict(params)
    out.pop("source", None)
    out.pop("sha256", None)
    if isinstance(params, RunParams):  # as the params file writes them: name -> overlay
        out["variants"] = {v.name: v.overlay for v in params.variants}
    return out


def _check_vessel_keys(value: dict, where: str) -> None:
    from ecglib.schema import VESSELS

    if set(value) != set(VESSELS):
        raise ConfigError(
            f"{where}: needs exactly the vessels {', '.join(VESSELS)}; "
            f"got {', '.join(map(str, value))}"
        )


def _build(cls: type, raw: Any, where: str) -> Any:
    """Build dataclass ``cls`` from a mapping, naming every unknown, missing or ill-typed key."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping for {cls.__name__}, got {raw!r}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in ("source", "sha256")}
    unknown = sorted(set(raw) - set(fields))
    missing = sorted(
        name
        for name, f in fields.items()
        if name not in raw
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    )
    problems = []
    if unknown:
        problems.append(
            f"unknown key(s) {', '.join(f'{where}.{k}' for k in unknown)} "
            f"(allowed: {', '.join(fields)})"
        )
    if missing:
        problems.append(f"missing key(s) {', '.join(f'{where}.{k}' for k in missing)}")
    if problems:
        raise ConfigError("; ".join(problems))
    hints = typing.get_type_hints(cls)
    values = {name: _coerce(hints[name], value, f"{where}.{name}") for name, value in raw.items()}
    for name, value in values.items():
        rule = _RANGES.get((cls.__name__, name))
        if rule is not None and value is not None and not rule[0](value):
            raise ConfigError(f"{where}.{name} = {value!r}: must be {rule[1]}")
    return cls(**values)


#: Values that type-check but cannot work, refused when the params are read rather than
#: minutes later (a non-positive ``npy_fs`` would fail every ECG file one by one).
_RANGES: dict[tuple[str, str], tuple[typing.Callable[[Any], bool], str]] = {
    ("SignalParams", "npy_fs"): (lambda v: v > 0, "a positive sampling rate in Hz"),
    ("FoldParams", "n_folds"): (lambda v: v >= 2, "at least 2"),
    ("FoldParams", "inner_val_fraction"): (lambda v: 0 < v < 1, "strictly between 0 and 1"),
    ("ModelParams", "input_leads"): (
        lambda v: _valid_leads(v),
        "all, limb, or a non-empty list of distinct lead names of I, II, III, aVR, aVL, aVF, V1-V6",
    ),
    ("EvaluationParams", "rule_in_ppv"): (lambda v: 0 < v < 1, "strictly between 0 and 1"),
    ("ReportParams", "min_events"): (lambda v: v >= 1, "at least 1 (1 withholds nothing)"),
}


def _valid_leads(value: Any) -> bool:
    from ecglib.schema import LEADS

    if isinstance(value, str):
        return value in ("all", "limb")
    return bool(value) and len(set(value)) == len(value) and all(v in LEADS for v in value)


#: A number in scientific notation as PyYAML leaves it (a string): 1e-3, 3E+5, -2.5e-4.
_SCIENTIFIC = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)[eE][-+]?\d+")


def _coerce(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        # the first alternative that takes the value (``str | list[str]``: a word or a list);
        # none does: the first one's error
        errors = []
        for alternative in inner:
            try:
                return _coerce(alternative, value, where)
            except ConfigError as exc:
                errors.append(exc)
        raise errors[0]
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{where} = {value!r}: expected one of {', '.join(map(repr, args))}")
        return value
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, where)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where} = {value!r}: expected a mapping")
        if args[0] is str and where.split(".")[-1].endswith(
            ("thresholds", "sensitivity", "specificity")
        ):
            _check_vessel_keys(value, where)
        return {k: _coerce(args[1], v, f"{where}.{k}") for k, v in value.items()}
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} = {value!r}: expected a list")
        return tuple(_coerce(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint is float and isinstance(value, str) and _SCIENTIFIC.fullmatch(value.strip()):
        # PyYAML (YAML 1.1) reads 1e-3 without a dot as a string; it is plainly a number.
        return float(value)
    if hint is float:
        raise ConfigError(f"{where} = {value!r}: expected a number")
    if hint in (int, str, bool) and type(value) is not hint:
        raise ConfigError(f"{where} = {value!r}: expected {hint.__name__}")
    return value
