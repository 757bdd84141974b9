"""Building blocks of the seqconv CNNs.

Every block takes and returns ``(N, C, L)`` float tensors.  Blocks that change
the receptive field implement ``receptive(rf, jump) -> (rf, jump)``: given the
receptive field ``rf`` (bp) and the spacing ``jump`` (bp) between adjacent
positions of their input, they return the same for their output.  This is what
:func:`seqconv.models.describe.describe` uses.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

POOLS = ("max", "avg", "maxavg")
ACTIVATIONS = ("relu", "exp")


class Exp(nn.Module):
    """Exponential activation ``exp(x)`` (Koo & Ploenzke 2021, Nat Mach Intell 3:258)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(x)


class RCPairs(nn.Module):
    """Parametrisation of a first-layer ``Conv1d`` over one-hot ACGT: filters come in reverse-complement pairs.

    The stored tensor holds the first half of the filters, ``(F/2, 4, K)`` (bias ``(F/2,)``); the
    conv sees ``(F, 4, K)``: filter ``F/2 + i`` is filter ``i`` reversed along the length and with
    its channels flipped (A<->T, C<->G), and the pair shares its bias ("RC parameter sharing",
    Shrikumar et al. 2017).  With an odd width and ``same`` padding, the conv is then
    reverse-complement equivariant: ``conv(rc(x))[:, :F/2]`` is ``conv(x)[:, F/2:]`` reversed.
    """

    def forward(self, half: torch.Tensor) -> torch.Tensor:
        return torch.cat([half, half.flip(1, 2) if half.dim() == 3 else half])

    def right_inverse(self, full: torch.Tensor) -> torch.Tensor:
        return full[: len(full) // 2]


def rc_pair_conv(conv: nn.Conv1d) -> nn.Conv1d:
    """Tie ``conv``'s filters (and biases) in reverse-complement pairs in place (see :class:`RCPairs`)."""
    if conv.out_channels % 2 or conv.in_channels != 4 or conv.kernel_size[0] % 2 == 0:
        raise ValueError("reverse-complement pairs need an even number of filters over 4 channels, odd width")
    for name in ("weight", "bias"):
        if getattr(conv, name) is not None:
            parametrize.register_parametrization(conv, name, RCPairs(), unsafe=True)
    return conv


def plain_conv(conv: nn.Conv1d) -> nn.Conv1d:
    """A plain ``Conv1d`` with ``conv``'s (materialised) weights: an RC-paired conv made foldable.

    A new module (the parametrised class is shared by deep copies, so the parametrisation is never
    removed in place); a plain conv is returned as is.
    """
    if not parametrize.is_parametrized(conv):
        return conv
    new = nn.Conv1d(conv.in_channels, conv.out_channels, conv.kernel_size[0], stride=conv.stride[0],
                    padding=conv.padding if isinstance(conv.padding, str) else conv.padding[0],
                    dilation=conv.dilation[0], groups=conv.groups, bias=conv.bias is not None)
    new = new.to(device=conv.weight.device, dtype=conv.weight.dtype)
    with torch.no_grad():
        new.weight.copy_(conv.weight)
        if conv.bias is not None:
            new.bias.copy_(conv.bias)
    return new.train(conv.training)


# ---------------------------------------------------------------- fast inference layout
#
# On CPU, oneDNN (mkldnn) runs 1-D convolutions much faster when they are expressed as
# (1 x K) 2-D convolutions on a channels-last ("NHWC") tensor: no reorder of the activations
# between layers, and vectorisation over channels.  An inference copy (see
# ``seqconv.models.inference_copy``) switches its blocks to this layout; the activations that
# travel between blocks are then ``(N, C, L)`` tensors with "NLC" strides, so that
# ``x.unsqueeze(2)`` is already a channels-last 4-D tensor (no copy).  The math is unchanged
# (same weights, same order of operations up to float rounding); parameters and state dicts too.


def _channels_last_2d(x: torch.Tensor) -> torch.Tensor:
    """``(N, C, L)`` -> ``(N, C, 1, L)`` in channels-last memory format (a view when already NLC-strided)."""
    h = x.unsqueeze(2)
    return h if h.is_contiguous(memory_format=torch.channels_last) else h.contiguous(memory_format=torch.channels_last)


def _conv2d_cl(conv: nn.Conv1d, h: torch.Tensor) -> torch.Tensor:
    """``conv`` (a Conv1d) applied to a channels-last ``(N, C, 1, L)`` tensor as a (1 x K) Conv2d."""
    pad = conv.padding if isinstance(conv.padding, str) else (0, conv.padding[0])
    return F.conv2d(h, conv.weight.unsqueeze(2), conv.bias, (1, conv.stride[0]), pad, (1, conv.dilation[0]),
                    conv.groups)


def _pool2d(pool: nn.Module, h: torch.Tensor) -> torch.Tensor:
    if isinstance(pool, nn.MaxPool1d):
        k, s = pool.kernel_size, pool.stride
        k = k if isinstance(k, int) else k[0]
        s = s if isinstance(s, int) else s[0]
        return F.max_pool2d(h, (1, k), (1, s))
    return h


def conv_receptive(conv: nn.Conv1d, rf: int, jump: int) -> tuple[int, int]:
    """Receptive field and jump after a ``Conv1d``."""
    k, d, s = conv.kernel_size[0], conv.dilation[0], conv.stride[0]
    return rf + (k - 1) * d * jump, jump * s


def pool_receptive(pool: nn.MaxPool1d | nn.AvgPool1d, rf: int, jump: int) -> tuple[int, int]:
    """Receptive field and jump after a 1D pooling layer."""
    k = pool.kernel_size if isinstance(pool.kernel_size, int) else pool.kernel_size[0]
    s = pool.stride if isinstance(pool.stride, int) else pool.stride[0]
    return rf + (k - 1) * jump, jump * s


@torch.no_grad()
def _fold(conv: nn.Conv1d, bn: nn.BatchNorm1d, channels: slice) -> None:
    """conv <- bn(conv(.)) for the output channels ``channels`` of ``bn`` (running statistics)."""
    scale = bn.weight[channels] / torch.sqrt(bn.running_var[channels] + bn.eps)
    bias = conv.bias if conv.bias is not None else torch.zeros(conv.out_channels)
    conv.weight.mul_(scale[:, None, None])
    new_bias = (bias - bn.running_mean[channels]) * scale + bn.bias[channels]
    if conv.bias is None:
        conv.bias = nn.Parameter(new_bias)
    else:
        conv.bias.copy_(new_bias)


class ConvBlock(nn.Module):
    """Conv1d -> BatchNorm1d -> ReLU -> MaxPool1d (optional) -> Dropout (optional).

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int
    pool_size : int
        Max-pool width (and stride); 0 or 1 means no pooling.
    dropout : float
    dilation : int
    padding : {"same", "valid"}
    """

    #: set by :meth:`fast_inference` on inference copies (eval only, BatchNorm folded)
    channels_last: bool = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, pool_size: int = 0,
                 dropout: float = 0.0, dilation: int = 1, padding: str = "same"):
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, dilation=dilation, padding=padding)
        self.bn = nn.BatchNorm1d(out_channels)
        self.act = nn.ReLU()
        self.pool = nn.MaxPool1d(pool_size) if pool_size and pool_size > 1 else nn.Identity()
        self.drop = nn.Dropout(dropout) if dropout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last and not self.training:
            # (1 x K) conv2d on channels-last activations; BatchNorm is folded, dropout is off in eval
            h = _pool2d(self.pool, _conv2d_cl(self.conv, _channels_last_2d(x)))
            return torch.relu_(h).squeeze(2)
        # max-pool and ReLU commute exactly (ReLU is monotone): pooling first is cheaper
        return self.drop(self.act(self.pool(self.bn(self.conv(x)))))

    def fast_inference(self) -> None:
        """Switch this (eval, BatchNorm-folded) block to the channels-last conv2d layout; see module notes."""
        self.fold_batchnorm()
        self.channels_last = True

    def fold_batchnorm(self) -> None:
        """Fold the (eval-mode) BatchNorm into the conv weights and drop it; outputs are unchanged in eval mode."""
        if isinstance(self.bn, nn.BatchNorm1d):
            _fold(self.conv, self.bn, slice(None))
            self.bn = nn.Identity()

    def receptive(self, rf: int, jump: int) -> tuple[int, int]:
        rf, jump = conv_receptive(self.conv, rf, jump)
        if isinstance(self.pool, nn.MaxPool1d):
            rf, jump = pool_receptive(self.pool, rf, jump)
        return rf, jump


class MultiWidthConv(nn.Module):
    """Parallel first-layer convolutions of several widths, concatenated on channels.

    Each branch is a plain ``nn.Conv1d`` with ``same`` padding (so all outputs keep
    the input length); then BatchNorm, the activation and an optional max-pool.

    Parameters
    ----------
    in_channels : int
    filters : int
        Filters per width.
    widths : sequence of int
        Kernel sizes, e.g. ``(7, 15, 25)``.
    pool_size : int
        Max-pool after the concatenation; 0/1 = none.
    dropout : float
    activation : {"relu", "exp"}
        ``exp``: exponential activation (Koo & Ploenzke 2021), which makes first-layer filters
        more motif-like.  Both are monotone, so max-pooling before the activation is exact.
    rc_share : bool
        Each width's filters come in reverse-complement pairs (:class:`RCPairs`): half the
        parameters, an RC-equivariant convolution (``filters`` even, widths odd).  BatchNorm after
        it keeps per-channel statistics and scales.
    """

    channels_last: bool = False

    def __init__(self, in_channels: int, filters: int, widths, *, pool_size: int = 0, dropout: float = 0.0,
                 activation: str = "relu", rc_share: bool = False):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
        self.convs = nn.ModuleList(nn.Conv1d(in_channels, filters, int(w), padding="same") for w in widths)
        if rc_share:
            for c in self.convs:
                rc_pair_conv(c)
        self.bn = nn.BatchNorm1d(filters * len(self.convs))
        self.act = nn.ReLU() if activation == "relu" else Exp()
        self.pool = nn.MaxPool1d(pool_size) if pool_size and pool_size > 1 else nn.Identity()
        self.drop = nn.Dropout(dropout) if dropout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last and not self.training:
            h = _channels_last_2d(x)
            h = torch.cat([_conv2d_cl(c, h) for c in self.convs], dim=1)
            h = _pool2d(self.pool, h)
            return (torch.relu_(h) if isinstance(self.act, nn.ReLU) else torch.exp_(h)).squeeze(2)
        h = torch.cat([c(x) for c in self.convs], dim=1)
        return self.drop(self.act(self.pool(self.bn(h))))

    def fast_inference(self) -> None:
        """Fold BatchNorm and switch to the channels-last conv2d layout (eval only)."""
        self.fold_batchnorm()
        self.channels_last = True

    def fold_batchnorm(self) -> None:
        """Fold the (eval-mode) BatchNorm into the branch convs (see :meth:`ConvBlock.fold_batchnorm`)."""
        if isinstance(self.bn, nn.BatchNorm1d):
            n = self.convs[0].out_channels
            self.convs = nn.ModuleList(plain_conv(c) for c in self.convs)  # RC pairs: fold the full filters
            for i, c in enumerate(self.convs):
                _fold(c, self.bn, slice(i * n, (i + 1) * n))
            self.bn = nn.Identity()

    def receptive(self, rf: int, jump: int) -> tuple[int, int]:
        rf, jump = max(conv_receptive(c, rf, jump) for c in self.convs)
        if isinstance(self.pool, nn.MaxPool1d):
            rf, jump = pool_receptive(self.pool, rf, jump)
        return rf, jump


class DilatedResidualBlock(nn.Module):
    """Pre-activation residual block: x + Conv(ReLU(BN(Conv_dilated(ReLU(BN(x)))))).

    Both convolutions keep the length (``same`` padding); the first is dilated.

    Parameters
    ----------
    channels : int
    kernel_size : int
    dilation : int
    dropout : float
    """

    def __init__(self, channels: int, kernel_size: int = 3, *, dilation: int = 1, dropout: float = 0.0):
        super().__init__()
        self.bn1 = nn.BatchNorm1d(channels)
        self.conv1 = nn.Conv1d(channels, channels, kernel_size, dilation=dilation, padding="same")
        self.bn2 = nn.BatchNorm1d(channels)
        self.conv2 = nn.Conv1d(channels, channels, 1)
        self.act = nn.ReLU()
        self.drop = nn.Dropout(dropout) if dropout else nn.Identity()

    channels_last: bool = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last and not self.training:
            x4 = _channels_last_2d(x)
            b = self.bn1
            h = torch.relu_(F.batch_norm(x4, b.running_mean, b.running_var, b.weight, b.bias, False, 0.0, b.eps))
            h = torch.relu_(_conv2d_cl(self.conv1, h))  # bn2 is folded into conv1 (fast_inference)
            return (x4 + _conv2d_cl(self.conv2, h)).squeeze(2)
        h = self.conv1(self.act(self.bn1(x)))
        h = self.conv2(self.drop(self.act(self.bn2(h))))
        return x + h

    def fold_batchnorm(self) -> None:
        """Fold ``bn2`` (it directly follows ``conv1``) into ``conv1``.

        ``bn1`` acts on the residual stream and stays.
        """
        if isinstance(self.bn2, nn.BatchNorm1d):
            _fold(self.conv1, self.bn2, slice(None))
            self.bn2 = nn.Identity()

    def fast_inference(self) -> None:
        """Fold ``bn2`` and switch to the channels-last conv2d layout (eval only)."""
        self.fold_batchnorm()
        self.channels_last = True

    def receptive(self, rf: int, jump: int) -> tuple[int, int]:
        rf, jump = conv_receptive(self.conv1, rf, jump)
        return conv_receptive(self.conv2, rf, jump)


class GlobalPool(nn.Module):
    """Global pooling over length: ``(N, C, L) -> (N, C)`` (``max``/``avg``) or ``(N, 2C)`` (``maxavg``)."""

    def __init__(self, mode: str = "max"):
        super().__init__()
        if mode not in POOLS:
            raise ValueError(f"global pool must be one of {POOLS}, got {mode!r}")
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "max":
            return x.amax(dim=2)
        if self.mode == "avg":
            return x.mean(dim=2)
        return torch.cat([x.amax(dim=2), x.mean(dim=2)], dim=1)

    def out_features(self, channels: int) -> int:
        return 2 * channels if self.mode == "maxavg" else channels

    def receptive(self, rf: int, jump: int) -> tuple[int, int]:
        return rf, jump  # "whole input" is reported by describe()

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"
