"""What this run trained, in words computed from its params and its folds' summaries.

Every page that shows a result says what produced it (issue 16): the network's size in
parameters (counted on PyTorch's ``meta`` device, so the 30-million-parameter ECGFounder is
never allocated), where its weights started (fine-tuned from the ECGFounder checkpoint when
``model.pretrained`` is set, random initialisation otherwise), the epochs per fold, the
training recipe (uncertainty weighting, PCGrad, augmentation: each on or off) and the device the
folds actually ran on, read from their summaries (``metrics/train_fold{k}.json``), not from the
params' ``device: auto``.

The study's settings are the defaults of :class:`~ecglib.config.ModelParams` and
:class:`~ecglib.config.TrainParams` (the paper's, and the released ECGFounder network), so the
comparison with the study is computed from the same code, never typed.

:func:`analyse` gives a :class:`Framing`; :meth:`Framing.sentence` is the one sentence that
the intro, the training pages and the model notice of every results page
(:func:`model_notice`) share; :meth:`Framing.settings_table` is the methods page's table of the
study's settings beside this run's.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import pandas as pd

from ecglib.config import ModelParams, RunParams, TrainParams
from ecglib.errors import DataError
from ecglib.paths import RunPaths
from ecglib.report.present import format_scientific

__all__ = [
    "Framing",
    "analyse",
    "parameter_count",
    "size_words",
    "fold_devices",
    "model_notice",
    "STUDY_MODEL",
    "STUDY_TRAIN",
]

#: The study's network and training (the params' defaults: the paper's settings).
STUDY_MODEL = ModelParams()
STUDY_TRAIN = TrainParams()

_SURGERY = {
    "pcgrad": "PCGrad",
    "pcgrad_authors": "the authors' one-sided PCGrad",
    "pcgrad_features": "PCGrad on the shared features",
    "none": "no gradient surgery",
}


def parameter_count(model: ModelParams) -> int:
    """Trainable parameters of the Net1D that ``model`` describes, with the 4-logit head.

    The network is built on PyTorch's ``meta`` device: shapes without storage, so counting
    ECGFounder's 30.7 million parameters allocates nothing."""
    import torch

    from ecglib.model import Net1D
    from ecglib.train.fit import model_config

    config = model_config(RunParams(name="count", seed=0, data=None, model=model))
    with torch.device("meta"):
        net = Net1D.from_config(config)
    return sum(p.numel() for p in net.parameters() if p.requires_grad)


def size_words(n: int) -> str:
    """A parameter count for prose: ``5,768``, ``76 thousand``, ``30.7 million``."""
    if n < 10_000:
        return f"{n:,}"
    if n < 1_000_000:
        return f"{n / 1e3:.0f} thousand"
    return f"{n / 1e6:.1f} million"


def fold_devices(run: RunParams) -> dict[int, str]:
    """The device each finished fold trained on, from its summary
    (``metrics/train_fold{k}.json``): ``cpu``, ``cuda:0``, or ``2 x cuda:0`` for a fold
    trained by two processes. Folds without a summary (not trained yet) are absent; a summary
    that cannot be read is an error naming its file."""
    paths = RunPaths.of(run)
    out: dict[int, str] = {}
    for k in range(run.folds.n_folds):
        file = paths.train_summary(k)
        if not file.exists():
            continue
        try:
            summary = json.loads(file.read_text(encoding="utf-8"))
            device, world = str(summary["device"]), int(summary.get("world_size", 1))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise DataError(str(file), f"not a readable fold summary ({exc!r})") from exc
        out[k] = f"{world} x {device}" if world > 1 else device
    return out


def _device_words(devices: dict[int, str], n_folds: int) -> str:
    if not devices:
        return "no device yet: no fold has finished training"
    names = {d: ("the CPU" if d == "cpu" else d) for d in devices.values()}
    if len(set(devices.values())) == 1:
        (name,) = set(names.values())
        return name if len(devices) == n_folds else f"{name} ({_folds(list(devices))})"
    parts = []
    for device in dict.fromkeys(devices.values()):
        folds = [k for k, d in devices.items() if d == device]
        parts.append(f"{names[device]} ({_folds(folds)})")
    return ", ".join(parts)


def _folds(folds: list[int]) -> str:
    return ("fold " if len(folds) == 1 else "folds ") + ", ".join(map(str, folds))


def _architecture(model: ModelParams) -> str:
    filters, blocks = list(model.filter_list), list(model.m_blocks_list)
    width = f"{min(filters)}-{max(filters)}" if min(filters) != max(filters) else f"{filters[0]}"
    if min(blocks) == max(blocks):
        each = "one block" if blocks[0] == 1 else f"{blocks[0]} blocks"
        block_words = f"{each} each"
    else:
        block_words = f"{min(blocks)}-{max(blocks)} blocks"
    return f"{len(filters)} stages of {width} filters, {block_words}"


def _recipe(train: TrainParams) -> str:
    weighting = (
        "uncertainty-weighted losses"
        if train.loss_weighting == "uncertainty"
        else "equal task weights"
    )
    augment = "augmented copies in every batch" if train.augment else "no augmentation"
    return f"{weighting}, {_SURGERY[train.gradient_surgery]} and {augment}"


@dataclass(frozen=True)
class Framing:
    """What the run trained, beside what the study trains (:func:`analyse`)."""

    name: str
    model: ModelParams
    train: TrainParams
    #: Trainable parameters of this run's network and of the study's (:func:`parameter_count`).
    n_parameters: int
    study_parameters: int
    #: The device of each finished fold (:func:`fold_devices`).
    devices: dict[int, str]
    n_folds: int
    #: The cohort is the embedded synthetic demo cohort (the params have a ``demo:`` section).
    synthetic: bool
    #: The params file, relative to the project when inside it.
    params_file: str = ""

    @property
    def pretrained(self) -> bool:
        return self.model.pretrained is not None

    @property
    def is_study_recipe(self) -> bool:
        """Same loss weighting, gradient surgery and augmentation as the study."""
        keys = ("loss_weighting", "gradient_surgery", "augment")
        return all(getattr(self.train, k) == getattr(STUDY_TRAIN, k) for k in keys)

    @property
    def is_study_network(self) -> bool:
        fields = ("filter_list", "m_blocks_list", "base_filters", "kernel_size", "groups_width")
        return all(
            list(getattr(self.model, k)) == list(getattr(STUDY_MODEL, k))
            if isinstance(getattr(self.model, k), (list, tuple))
            else getattr(self.model, k) == getattr(STUDY_MODEL, k)
            for k in fields
        )

    def initialisation(self) -> str:
        """``fine-tuned from ECGFounder`` or ``trained from random initialisation``."""
        return (
            "fine-tuned from ECGFounder"
            if self.pretrained
            else "trained from random initialisation"
        )

    def network(self) -> str:
        """``a Net1D of 76,044 parameters (4 stages of 16-64 filters, one block each)``."""
        return (
            f"a Net1D of {self.n_parameters:,} parameters ({_architecture(self.model)})"
            if not self.pretrained
            else f"ECGFounder's Net1D of {self.n_parameters:,} parameters "
            f"({_architecture(self.model)})"
        )

    def device(self) -> str:
        return _device_words(self.devices, self.n_folds)

    def recipe(self) -> str:
        return _recipe(self.train)

    def sentence(self, *, device: bool = True) -> str:
        """The one sentence every page shares: what was trained, how, how long and (unless
        ``device=False``, for a fold's own page, which names its fold's device) where."""
        what = (
            f"This run fine-tuned {self.network()} from the pretrained ECGFounder weights"
            if self.pretrained
            else f"This run trained {self.network()} from random initialisation"
        )
        head = f"{what}, for {self.train.epochs} epochs per fold with {self.recipe()}"
        if not device:
            return f"{head}."
        if not self.devices:
            return f"{head} (no fold has finished training yet)."
        return f"{head}, on {self.device()}."

    def study_sentence(self) -> str:
        """The study's set-up, from the same code (:data:`STUDY_MODEL`, :data:`STUDY_TRAIN`)."""
        return (
            f"The study fine-tunes ECGFounder's Net1D of {size_words(self.study_parameters)} "
            f"parameters ({_architecture(STUDY_MODEL)}) for {STUDY_TRAIN.epochs} epochs with "
            f"{_recipe(STUDY_TRAIN)}."
        )

    def differences(self) -> list[str]:
        """How this run departs from the study, one phrase each (empty: it runs the study's
        set-up)."""
        out = []
        if not self.pretrained:
            out.append("random initialisation instead of the pretrained ECGFounder weights")
        if not self.is_study_network:
            share = self.n_parameters / self.study_parameters
            out.append(
                f"a network of {size_words(self.n_parameters)} parameters "
                f"({_percent(share)} of the study's {size_words(self.study_parameters)})"
            )
        if self.train.epochs != STUDY_TRAIN.epochs:
            out.append(f"{self.train.epochs} epochs instead of {STUDY_TRAIN.epochs}")
        if not self.is_study_recipe:
            out.append(f"{self.recipe()} instead of the study's {_recipe(STUDY_TRAIN)}")
        return out

    def consequence(self) -> str:
        """What the differences mean for reading the numbers."""
        diffs = self.differences()
        if not diffs:
            return "The run follows the study's set-up."
        lead = (
            "fine-tuning ECGFounder achieves"
            if not self.pretrained
            else "the study's recipe achieves"
        )
        return (
            f"It departs from the study in {_join(diffs)}: its numbers describe this model on "
            f"this run's cohort, not what {lead}."
        )

    def notice(self) -> str:
        """The model notice of every results page (Markdown)."""
        hint = (
            " Set `model.pretrained` to the ECGFounder checkpoint's path (see "
            "`params/paper.yaml`) to run the study's method."
            if not self.pretrained
            else ""
        )
        return f"**What was trained.** {self.sentence()} {self.consequence()}{hint}"

    def settings_table(self) -> pd.DataFrame:
        """The study's settings beside this run's, one row per setting."""
        m, t = self.model, self.train

        def rows(model: ModelParams, train: TrainParams, n: int, pretrained: bool) -> list[str]:
            return [
                f"{n:,}",
                _architecture(model),
                "yes" if model.use_do else "no",
                "ECGFounder checkpoint" if pretrained else "random",
                str(train.epochs),
                str(train.batch_size),
                _rate(train.lr),
                _rate(train.weight_decay),
                "uncertainty (Kendall et al.)"
                if train.loss_weighting == "uncertainty"
                else "equal",
                _SURGERY[train.gradient_surgery],
                "yes" if train.augment else "no",
            ]

        index = [
            "parameters",
            "stages",
            "dropout",
            "initial weights",
            "epochs per fold",
            "batch (ECGs)",
            "peak learning rate",
            "weight decay",
            "task weighting",
            "gradient surgery",
            "augmentation",
        ]
        study = rows(STUDY_MODEL, STUDY_TRAIN, self.study_parameters, True)
        ours = rows(m, t, self.n_parameters, self.pretrained)
        table = pd.DataFrame(
            {"the study (paper)": study, f"this run ({self.name})": ours},
            index=pd.Index(index, name="setting"),
        )
        table.loc["device"] = ["not a setting of the paper", self.device()]
        return table

    def numbers(self) -> dict[str, object]:
        """Glue keys (prefix ``fr_``) for the intro, the training and the discussion pages."""
        return {
            "fr_sentence": self.sentence(),
            "fr_study_sentence": self.study_sentence(),
            "fr_consequence": self.consequence(),
            "fr_n_parameters": self.n_parameters,
            "fr_size": size_words(self.n_parameters),
            "fr_study_parameters": self.study_parameters,
            "fr_study_size": size_words(self.study_parameters),
            "fr_epochs": self.train.epochs,
            "fr_initialisation": self.initialisation(),
            "fr_recipe": self.recipe(),
            "fr_device": self.device(),
            "fr_settings": self.settings_table(),
            "fr_params": self.params_file,
            "fr_cohort": _markdown(self.cohort_paragraph()),
        }

    def cohort_paragraph(self) -> str:
        """What the book's cohort is (Markdown): the synthetic demo cohort and what it is not,
        or the run's own export."""
        if not self.synthetic:
            return (
                f"This book runs on the cohort of run `{self.name}`: the export named by "
                "`data.table` in its params file, read through its column map. Every number "
                "in the book describes that cohort."
            )
        return _DEMO_COHORT


_DEMO_COHORT = """\
The study's hospital cohort is private. This run uses the **embedded synthetic demo cohort**
that the project generates deterministically from the run's seed: a hospital-style export (a
table and one ECG file per row) with realistic 12-lead waveforms, patients with several ECGs and
repeat CCTA exams, correlated per-vessel stenosis grades, symptoms, follow-up, and an external
site with a distribution shift. A weak, vessel-specific ST-T change is *planted* in each
vessel's ECG territory (RCA: inferior leads; LAD: V1-V4; LCX: lateral leads; LM: diffuse ST
depression with ST elevation in aVR), growing with the stenosis grade.

What the demo cohort **is**: a test bed on which every chapter is meaningful and on which the
pipeline must recover a known signal. What it **is not**: evidence about real patients. Every
number in this book describes the synthetic cohort of the run that built it; the paper's
published numbers are quoted beside ours only as context."""


def _rate(x: float) -> str:
    """A learning rate or decay as a paper prints it: ``0.003``, ``3 × 10⁻⁵`` below 0.0001
    (never Python's ``3e-05``)."""
    if x == 0 or abs(x) >= 1e-4:
        return f"{x:g}"
    return format_scientific(x)


def _markdown(text: str):
    from IPython.display import Markdown

    return Markdown(text)


def _percent(share: float) -> str:
    if share >= 0.01 or share == 0:
        return f"{share:.0%}"
    digits = max(1, -math.floor(math.log10(share * 100)))
    return f"{share * 100:.{digits}f}%"


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else "; ".join(items[:-1]) + "; and " + items[-1]


def analyse(run: RunParams) -> Framing:
    """The framing of ``run`` (module docstring)."""
    return Framing(
        name=run.name,
        model=run.model,
        train=run.train,
        n_parameters=parameter_count(run.model),
        study_parameters=parameter_count(STUDY_MODEL),
        devices=fold_devices(run),
        n_folds=run.folds.n_folds,
        synthetic=run.demo is not None,
        params_file=_relative(run.source),
    )


def _relative(path: str) -> str:
    from ecglib.config import PROJECT_ROOT, resolve_path

    file = resolve_path(path).resolve()
    return str(file.relative_to(PROJECT_ROOT)) if file.is_relative_to(PROJECT_ROOT) else file.name


def model_notice(run: RunParams) -> str:
    """:meth:`Framing.notice` of ``run``: what every results page says was trained."""
    return analyse(run).notice()
