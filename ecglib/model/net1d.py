"""ECGFounder's Net1D backbone, written to read top to bottom like the paper's figure.

ECGFounder: Li et al., "An electrocardiogram foundation model built on over 10 million recordings
with external evaluation across multiple domains", NEJM AI 2025. The network definition follows the
published ``net1d.py`` of github.com/PKUDigitalHealth/ECGFounder (commit 04edac7a; itself derived
from Shenda Hong's ``resnet1d``/``net1d``), module for module, so that

* the state dict has exactly the released checkpoint's keys, order, shapes and dtypes (the
  12-lead ``12_lead_ECGFounder.pth``: 509 entries, 30,819,014 parameters), and
* the outputs equal the published network's for the same weights (checked against
  ``shared/fixtures/ecgfounder`` in ``tests/test_net1d.py``).

Layout (``x``: ``(batch, in_channels, length)``)::

    stem      Conv1dSame(k, stride 2) -> BN -> Swish                       first_conv, first_bn
    stage i   block_1 (downsamples by `stride`, widens to filter_list[i]) -> block_2 ... block_M
      block   [BN -> Swish -> Dropout] -> conv1x1                          bn1, conv1
              BN -> Swish -> Dropout -> grouped Conv1dSame(k, stride)      bn2, conv2
              BN -> Swish -> Dropout -> conv1x1                            bn3, conv3
              squeeze-and-excitation: mean over time, Linear C->C/2, Swish,
                Linear C/2->C, sigmoid, scale channels                     se_fc1, se_fc2
              + identity (max-pooled when downsampling, zero-padded on channels when widening)
    pool      mean over time                                    -> forward_features: (batch, C)
    head      Linear(filter_list[-1], n_classes)                dense  -> forward_head: logits

Swish is ``x * sigmoid(x)``, i.e. ``nn.SiLU`` (the published code spells it out; same values to
float rounding). Quirks of the published network, kept on purpose because the weights were
trained with them:

* "Same" padding is TensorFlow style and computed from the input length at run time: a conv of
  kernel ``k`` and stride ``s`` pads ``p = max(0, (ceil(L/s) - 1) * s + k - L)`` zeros, ``p // 2``
  on the left and the rest on the right, so the output has ``ceil(L/s)`` samples.
* The stem's stride is always 2, whatever ``stride`` says (``stride`` is the stages' stride).
* The shortcut's max-pool (kernel = stride = ``stride``) also pads with *zeros*, ``(s-1)//2``
  left and the rest right: at an odd length the last pooled value is ``max(x_last, 0)``, not
  ``x_last``.
* Blocks are pre-activation and nothing follows the last residual sum: the pooled features are the
  raw residual stream, with no final BN or activation.
* Widening shortcuts add no parameters: the identity gets ``(C_out - C_in) // 2`` zero channels
  before and the rest after. (A narrowing stage would crop channels the same way; the published
  configurations never narrow.)
* Every stage's first block downsamples, stage 0 included, so the time axis shrinks by
  ``2 * stride ** n_stages`` (5000 samples -> 20 for the 12-lead model).
* ``use_bn`` / ``use_do`` only switch BatchNorm / Dropout off in the forward pass; the layers
  exist either way, so the state dict does not depend on them. ECGFounder's own fine-tuning
  template builds the network with ``use_bn=False, use_do=False``; this project's paper settings
  turn both on.

Unused parameters (this matters for PCGrad, which asks each task for the gradient of every shared
parameter): the very first block of stage 0 skips its leading BN-Swish-Dropout, so
``stage_list.0.block_list.0.bn1.{weight,bias}`` exist (they are in the checkpoint) but never take
part in the forward pass; with ``use_bn=False`` no BatchNorm parameter does. Such parameters never
receive a gradient. :meth:`Net1D.unused_parameter_names` lists them and
:meth:`Net1D.trunk_parameters` leaves them out by default.

One module on purpose: it is one network definition, read top to bottom (the padding layers, the
block, the stage, the network), kept module for module beside the published ``net1d.py`` whose
state-dict keys it must reproduce.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ecglib.errors import ConfigError

__all__ = [
    "Conv1dSame",
    "MaxPool1dSame",
    "BasicBlock",
    "BasicStage",
    "Net1D",
    "same_padding",
]


# --------------------------------------------------------------------------------------------
# building bricks
# --------------------------------------------------------------------------------------------
def same_padding(length: int, kernel_size: int, stride: int) -> tuple[int, int]:
    """TensorFlow-style "same" padding ``(left, right)`` for a window sliding over ``length``.

    ``p = max(0, (ceil(L/s) - 1) * s + k - L)``, ``p // 2`` on the left, the rest on the right,
    so that a conv of kernel ``k`` and stride ``s`` returns ``ceil(L/s)`` samples.
    """
    out_length = math.ceil(length / stride)
    p = max(0, (out_length - 1) * stride + kernel_size - length)
    return p // 2, p - p // 2


class Conv1dSame(nn.Module):
    """``nn.Conv1d`` (with bias) preceded by "same" zero padding; published as ``MyConv1dPadSame``.

    The convolution is the ``conv`` attribute, so its keys are ``<name>.conv.weight`` and
    ``<name>.conv.bias`` as in the checkpoint.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        groups: int = 1,
    ):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, stride=stride, groups=groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad = same_padding(x.shape[-1], self.kernel_size, self.stride)
        # a 1x1 conv pads nothing, and F.pad with (0, 0) still copies its input (and the
        # gradient back): two of every block's three convs would pay for it at each step
        return self.conv(F.pad(x, pad) if any(pad) else x)


class MaxPool1dSame(nn.Module):
    """Max-pool with kernel = stride, padded with *zeros* (published as ``MyMaxPool1dPadSame``).

    The published pool pads ``kernel - 1`` zeros whatever the length (``(k-1)//2`` left, the rest
    right), and the floor-mode pool then returns ``ceil(L/k)`` samples, the length of the strided
    conv beside it. Padding with zeros rather than ``-inf`` means an edge window that reaches into
    the padding returns ``max(values, 0)``; kept for numerical identity with the released weights.
    """

    def __init__(self, kernel_size: int):
        super().__init__()
        self.kernel_size = kernel_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = max(0, self.kernel_size - 1)
        return F.max_pool1d(F.pad(x, (p // 2, p - p // 2)), self.kernel_size)


def _pad_channels(x: torch.Tensor, out_channels: int) -> torch.Tensor:
    """Zero channels around ``x`` (dim 1) to reach ``out_channels``: half before, the rest after."""
    extra = out_channels - x.shape[1]
    if extra == 0:
        return x
    # F.pad pads the last dims first: (time left, time right, channels before, channels after).
    # A negative `extra` crops, exactly as the published transpose/pad/transpose does.
    return F.pad(x, (0, 0, extra // 2, extra - extra // 2))


# --------------------------------------------------------------------------------------------
# block and stage
# --------------------------------------------------------------------------------------------
class BasicBlock(nn.Module):
    """Pre-activation bottleneck block with squeeze-and-excitation (ECGFounder ``BasicBlock``).

    ``[BN-Swish-Dropout] -> conv1x1 -> BN-Swish-Dropout -> grouped conv k (stride) ->
    BN-Swish-Dropout -> conv1x1 -> SE``, plus the identity (max-pooled when the block downsamples,
    zero-padded on channels when it widens). ``is_first_block`` (stage 0, block 0, right after the
    stem's BN-Swish) skips the leading BN-Swish-Dropout; its ``bn1`` still exists, unused.
    Attribute names are the checkpoint's keys.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        ratio: float,
        kernel_size: int,
        stride: int,
        groups: int,
        downsample: bool,
        is_first_block: bool = False,
        use_bn: bool = True,
        use_do: bool = True,
        drop_rate: float = 0.5,
        input_mask: Sequence[int] | None = None,
    ):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.downsample = downsample
        self.stride = stride if downsample else 1
        self.is_first_block = is_first_block
        self.use_bn = use_bn
        self.use_do = use_do
        middle = int(out_channels * ratio)

        # 1) conv1x1: in -> middle (the pre-activation is skipped in the network's first block)
        self.bn1 = nn.BatchNorm1d(in_channels)
        self.act1 = nn.SiLU()
        self.do1 = nn.Dropout(drop_rate)
        self.conv1 = Conv1dSame(in_channels, middle, kernel_size=1)
        # 2) grouped conv k, the only strided conv of the block
        self.bn2 = nn.BatchNorm1d(middle)
        self.act2 = nn.SiLU()
        self.do2 = nn.Dropout(drop_rate)
        self.conv2 = Conv1dSame(middle, middle, kernel_size, stride=self.stride, groups=groups)
        # 3) conv1x1: middle -> out
        self.bn3 = nn.BatchNorm1d(middle)
        self.act3 = nn.SiLU()
        self.do3 = nn.Dropout(drop_rate)
        self.conv3 = Conv1dSame(middle, out_channels, kernel_size=1)
        # 4) squeeze-and-excitation, reduction 2
        self.se_fc1 = nn.Linear(out_channels, out_channels // 2)
        self.se_act = nn.SiLU()
        self.se_fc2 = nn.Linear(out_channels // 2, out_channels)
        # 5) shortcut: parameter-free
        self.pool = MaxPool1dSame(self.stride) if downsample else nn.Identity()

    def _pre(
        self, x: torch.Tensor, bn: nn.BatchNorm1d, act: nn.Module, do: nn.Module
    ) -> torch.Tensor:
        if self.use_bn:
            x = bn(x)
        x = act(x)
        return do(x) if self.use_do else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        if not self.is_first_block:
            out = self._pre(out, self.bn1, self.act1, self.do1)
        out = self.conv1(out)
        out = self.conv2(self._pre(out, self.bn2, self.act2, self.do2))
        out = self.conv3(self._pre(out, self.bn3, self.act3, self.do3))

        se = out.mean(dim=-1)
        se = torch.sigmoid(self.se_fc2(self.se_act(self.se_fc1(se))))
        out = out * se.unsqueeze(-1)

        identity = _pad_channels(self.pool(x), self.out_channels)
        return out + identity


class BasicStage(nn.Module):
    """``m_blocks`` blocks at one width; the first downsamples by ``stride`` and changes the width."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        ratio: float,
        kernel_size: int,
        stride: int,
        groups: int,
        i_stage: int,
        m_blocks: int,
        use_bn: bool = True,
        use_do: bool = True,
        drop_rate: float = 0.5,
        input_mask: Sequence[int] | None = None,
    ):
        super().__init__()
        self.block_list = nn.ModuleList(
            BasicBlock(
                in_channels=in_channels if i == 0 else out_channels,
                out_channels=out_channels,
                ratio=ratio,
                kernel_size=kernel_size,
                stride=stride if i == 0 else 1,
                groups=groups,
                downsample=i == 0,
                is_first_block=i_stage == 0 and i == 0,
                use_bn=use_bn,
                use_do=use_do,
                drop_rate=drop_rate,
            )
            for i in range(m_blocks)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.block_list:
            x = block(x)
        return x


# --------------------------------------------------------------------------------------------
# the network
# --------------------------------------------------------------------------------------------
class Net1D(nn.Module):
    """ECGFounder's Net1D (Li et al., NEJM AI 2025; PKUDigitalHealth/ECGFounder ``net1d.py``).

    Arguments are the published constructor's (without ``verbose``). The released 12-lead model is
    ``Net1D(in_channels=12, base_filters=64, ratio=1, filter_list=[64, 160, 160, 400, 400, 1024,
    1024], m_blocks_list=[2, 2, 2, 3, 3, 4, 4], kernel_size=16, stride=2, groups_width=16,
    n_classes=150)``. A stage of width ``C`` uses ``C // groups_width`` groups in its k-conv.
    ``drop_rate`` (not in the published signature) is the blocks' dropout probability, 0.5 there.

    timm-style interface: ``forward_features(x) -> (batch, filter_list[-1])`` is the trunk up to
    and including the mean over time, ``forward_head(features) -> logits`` the ``dense`` layer,
    ``forward(x) = forward_head(forward_features(x))`` (the head in float32 even under autocast:
    :meth:`forward_features_and_logits`), and ``reset_classifier(n)`` puts a new
    ``Linear(filter_list[-1], n)`` head in place. Input: ``(batch, in_channels, length)``, any
    length >= 1 (the 12-lead model was trained on 10 s at 500 Hz, 5000 samples).
    """

    #: Prefix of the head's state-dict keys (``dense.weight``, ``dense.bias``).
    head_name = "dense"

    def __init__(
        self,
        in_channels: int,
        base_filters: int,
        ratio: float,
        filter_list: Sequence[int],
        m_blocks_list: Sequence[int],
        kernel_size: int,
        stride: int,
        groups_width: int,
        n_classes: int,
        use_bn: bool = True,
        use_do: bool = True,
        drop_rate: float = 0.5,
        input_mask: Sequence[int] | None = None,
    ):
        super().__init__()
        filter_list, m_blocks_list = list(filter_list), list(m_blocks_list)
        if len(filter_list) != len(m_blocks_list) or not filter_list:
            raise ValueError(
                f"filter_list ({len(filter_list)} stages) and m_blocks_list "
                f"({len(m_blocks_list)} stages) must be non-empty and of equal length"
            )
        if min(m_blocks_list) < 1:
            raise ValueError(
                f"every stage needs at least one block, got m_blocks_list={m_blocks_list}"
            )
        self.in_channels = in_channels
        self.base_filters = base_filters
        self.ratio = ratio
        self.filter_list = filter_list
        self.m_blocks_list = m_blocks_list
        self.kernel_size = kernel_size
        self.stride = stride
        self.groups_width = groups_width
        self.n_classes = n_classes
        self.use_bn = use_bn
        self.use_do = use_do
        self.drop_rate = drop_rate
        #: Width of the pooled features (timm's name).
        self.num_features = filter_list[-1]
        # Reduced-lead models (params model.input_leads): the channels a 0 marks are zeroed at
        # the input, in training and prediction alike. The network keeps all its input
        # channels, so a 12-lead checkpoint (ECGFounder's) loads; the mask is a non-persistent
        # buffer, out of the state dict, and travels in config() instead.
        self.input_mask = None if input_mask is None else [int(bool(m)) for m in input_mask]
        if self.input_mask is not None:
            if len(self.input_mask) != in_channels or not any(self.input_mask):
                raise ValueError(
                    f"input_mask must have {in_channels} entries, at least one of them 1; "
                    f"got {list(input_mask)}"
                )
            mask = torch.tensor(self.input_mask, dtype=torch.float32).view(1, in_channels, 1)
            self.register_buffer("lead_mask", mask, persistent=False)
        else:
            self.lead_mask = None

        # stem: "same" conv with stride 2 (hard-wired in the published code), BN, Swish
        self.first_conv = Conv1dSame(in_channels, base_filters, kernel_size, stride=2)
        self.first_bn = nn.BatchNorm1d(base_filters)
        self.first_act = nn.SiLU()

        # stages
        self.stage_list = nn.ModuleList()
        width = base_filters
        for i_stage, (out_channels, m_blocks) in enumerate(zip(filter_list, m_blocks_list)):
            self.stage_list.append(
                BasicStage(
                    in_channels=width,
                    out_channels=out_channels,
                    ratio=ratio,
                    kernel_size=kernel_size,
                    stride=stride,
                    groups=out_channels // groups_width,
                    i_stage=i_stage,
                    m_blocks=m_blocks,
                    use_bn=use_bn,
                    use_do=use_do,
                    drop_rate=drop_rate,
                )
            )
            width = out_channels

        # head
        self.dense = nn.Linear(self.num_features, n_classes)

    # ---- construction from a JSON / params config ------------------------------------------
    #: Constructor arguments a config must give, and those it may give.
    CONFIG_REQUIRED = (
        "in_channels",
        "base_filters",
        "ratio",
        "filter_list",
        "m_blocks_list",
        "kernel_size",
        "stride",
        "groups_width",
        "n_classes",
    )
    CONFIG_OPTIONAL = ("use_bn", "use_do", "drop_rate", "input_mask")

    @classmethod
    def from_config(cls, config: Mapping[str, Any], **overrides: Any) -> Net1D:
        """Build from a mapping of constructor arguments (the fixtures' and params' ``config``).

        ``overrides`` replace entries (e.g. ``n_classes=4``, ``use_bn=False``). A ``verbose`` entry,
        which the published constructor takes, is accepted and ignored; any other unknown key, or a
        missing required one, raises :class:`~ecglib.errors.ConfigError` naming it.
        """
        merged = {**dict(config), **overrides}
        merged.pop("verbose", None)
        allowed = set(cls.CONFIG_REQUIRED) | set(cls.CONFIG_OPTIONAL)
        unknown = sorted(set(merged) - allowed)
        missing = [k for k in cls.CONFIG_REQUIRED if k not in merged]
        if unknown or missing:
            raise ConfigError(
                "Net1D config: "
                + "; ".join(
                    filter(
                        None,
                        [
                            f"missing {missing}" if missing else "",
                            f"unknown {unknown} (allowed: {sorted(allowed)})" if unknown else "",
                        ],
                    )
                )
            )
        return cls(**merged)

    def config(self) -> dict[str, Any]:
        """The constructor arguments, as :meth:`from_config` reads them (JSON-serialisable)."""
        return {
            "in_channels": self.in_channels,
            "base_filters": self.base_filters,
            "ratio": self.ratio,
            "filter_list": list(self.filter_list),
            "m_blocks_list": list(self.m_blocks_list),
            "kernel_size": self.kernel_size,
            "stride": self.stride,
            "groups_width": self.groups_width,
            "n_classes": self.n_classes,
            "use_bn": self.use_bn,
            "use_do": self.use_do,
            "drop_rate": self.drop_rate,
        } | ({"input_mask": list(self.input_mask)} if self.input_mask is not None else {})

    # ---- forward ------------------------------------------------------------------------------
    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Trunk: stem, stages and the mean over time; ``(B, in_channels, L) -> (B, num_features)``."""
        if x.ndim != 3 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"Net1D expects input of shape (batch, {self.in_channels}, length), "
                f"got {tuple(x.shape)}"
            )
        if self.lead_mask is not None:
            x = x * self.lead_mask.to(x.dtype)
        x = self.first_conv(x)
        if self.use_bn:
            x = self.first_bn(x)
        x = self.first_act(x)
        for stage in self.stage_list:
            x = stage(x)
        return x.mean(dim=-1)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """Head: ``(B, num_features) -> (B, n_classes)`` logits."""
        return self.dense(features)

    def forward_features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(features, logits)``: the trunk under whatever autocast the caller set, then the
        head in the head's own dtype (float32) with autocast off.

        The one forward path of training and prediction: a bf16 head rounds the logits to 8
        significant bits, which ties scores that differ (and moves AUCs), and PCGrad's feature
        variant differentiates these features. Without autocast this is ``forward_head(
        forward_features(x))`` exactly."""
        features = self.forward_features(x).to(self.dense.weight.dtype)
        kind = x.device.type
        if torch.amp.is_autocast_available(kind) and torch.is_autocast_enabled(kind):
            with torch.autocast(kind, enabled=False):
                return features, self.forward_head(features)
        return features, self.forward_head(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features_and_logits(x)[1]

    def reset_classifier(self, n_classes: int) -> None:
        """Replace the head by a freshly initialised ``Linear(num_features, n_classes)``.

        The new layer takes the old one's device and dtype (a meta-device model stays on meta).
        """
        old = self.dense.weight
        self.dense = nn.Linear(self.num_features, n_classes, device=old.device, dtype=old.dtype)
        self.n_classes = n_classes

    # ---- shared (trunk) vs task-specific (head) parameters -----------------------------------
    def unused_parameter_names(self) -> list[str]:
        """Parameters that the forward pass of this configuration never touches (no gradient).

        Always ``stage_list.0.block_list.0.bn1.weight/bias`` (the first block skips its leading
        BN); with ``use_bn=False`` every BatchNorm weight and bias.
        """
        unused = []
        for name, module in self.named_modules():
            if not isinstance(module, nn.BatchNorm1d):
                continue
            skipped = name == "stage_list.0.block_list.0.bn1"
            if skipped or not self.use_bn:
                unused += [f"{name}.{p}" for p, _ in module.named_parameters(recurse=False)]
        return unused

    def named_trunk_parameters(
        self, include_unused: bool = False
    ) -> Iterator[tuple[str, nn.Parameter]]:
        """``(name, parameter)`` of the shared trunk (everything but ``dense``), in model order."""
        skip = set() if include_unused else set(self.unused_parameter_names())
        for name, p in self.named_parameters():
            if not name.startswith(self.head_name + ".") and name not in skip:
                yield name, p

    def trunk_parameters(self, include_unused: bool = False) -> list[nn.Parameter]:
        """Shared trunk parameters, the ones multi-task gradient surgery (PCGrad) projects.

        By default only those that take part in the forward pass (see
        :meth:`unused_parameter_names`), so that ``torch.autograd.grad(loss, trunk_parameters())``
        works without ``allow_unused``. ``include_unused=True`` gives every trunk parameter.
        """
        return [p for _, p in self.named_trunk_parameters(include_unused)]

    def named_head_parameters(self) -> Iterator[tuple[str, nn.Parameter]]:
        """``(name, parameter)`` of the head, named as in the state dict (``dense.weight`` ...)."""
        for name, p in self.dense.named_parameters():
            yield f"{self.head_name}.{name}", p

    def head_parameters(self) -> list[nn.Parameter]:
        """The head's parameters (``dense.weight``, ``dense.bias``)."""
        return list(self.dense.parameters())
