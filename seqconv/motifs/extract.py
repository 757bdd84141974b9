"""First-layer filters -> motifs, and how much the model uses each filter.

* :func:`activation_motifs` — activation alignment (DeepBind, Basset): run the first
  layer over a set of sequences (both strands, as the model sees them), keep for each
  filter the windows whose activation exceeds ``threshold`` x the filter's maximum
  activation over the set, and count them into a position frequency matrix.
* :func:`weight_motifs` — the direct view: each filter's weights ``(4, k)`` turned into
  probabilities ``p ∝ exp(w)`` per position (weights read as natural-log odds).
* :func:`filter_influence` — the drop in auROC (with labels) or in the mean predicted
  probability (without) when one filter's output channel is zeroed.
* :func:`max_activations` — each sequence's largest activation of each filter.

The first layer is found as ``model.first_convs`` (seqconv models: deepbind, basset,
resnet) or, for another ``nn.Module``, as its first ``nn.Conv1d`` when that is the first
layer with weights and reads the 4 one-hot channels.  The activation of a filter is
the first block's ``ReLU(BatchNorm(conv(x)))`` (``ReLU(conv(x))`` without a BatchNorm),
evaluated only where the filter's window lies wholly inside the sequence.

Filter ``i`` is numbered by its output channel of the first layer (for ``resnet`` the
channels of the widths are concatenated in order), and its motif has id ``filter{i}``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from seqconv.errors import InputError
from seqconv.motifs.core import Motif
from seqconv.progress import progress_bar, progress_iter

STRANDS = ("both", "forward")


@dataclass
class FirstLayer:
    """The first convolution(s) of a model and the channel-wise affine map that follows.

    Attributes
    ----------
    convs : list of nn.Conv1d
        Their output channels are concatenated in this order.
    block : nn.Module
        The module whose output is the first layer's activation (zeroed by :func:`filter_influence`).
    scale, shift : (F,) tensors
        BatchNorm (eval) as ``scale * z + shift``; ones / zeros when there is none.
    """

    convs: list
    block: nn.Module
    scale: torch.Tensor
    shift: torch.Tensor

    @property
    def n_filters(self) -> int:
        return sum(c.out_channels for c in self.convs)

    @property
    def widths(self) -> list[int]:
        """Kernel size of every filter, ``(F,)``."""
        return [c.kernel_size[0] for c in self.convs for _ in range(c.out_channels)]


def first_layer(model: nn.Module) -> FirstLayer:
    """Find the first convolutional layer of ``model``.

    Raises
    ------
    InputError
        If the model's first layer is not a ``Conv1d`` over the 4 one-hot channels,
        or is strided, dilated or grouped.
    """
    if getattr(getattr(model, "config", None), "members", 1) > 1:
        raise InputError(f"this model is an ensemble of {model.config.members} models, whose first layers differ; "
                         "extract motifs from one of its members (train or load a single model)")
    if hasattr(model, "first_convs") and hasattr(model, "trunk"):
        convs = list(model.first_convs)
        block = model.trunk.layers[0]
        bn = getattr(block, "bn", None)
    else:
        first = next((mod for mod in model.modules()
                      if any(True for _ in mod.parameters(recurse=False))), None)
        if not isinstance(first, nn.Conv1d):
            kind = type(first).__name__ if first is not None else "no layer with weights"
            raise InputError(f"the model has no convolutional first layer (its first layer is {kind}); "
                             "motifs are extracted from a first-layer nn.Conv1d over one-hot DNA")
        convs, block, bn = [first], first, None
    for c in convs:
        if not isinstance(c, nn.Conv1d):
            raise InputError(f"the model's first layer is {type(c).__name__}, not nn.Conv1d")
        if c.in_channels != 4:
            raise InputError(f"the first convolution reads {c.in_channels} channels, not the 4 of one-hot DNA")
        if c.stride[0] != 1 or c.dilation[0] != 1 or c.groups != 1:
            raise InputError("the first convolution is strided, dilated or grouped; motif extraction needs a "
                             "plain Conv1d (stride 1, dilation 1, groups 1)")
    n = sum(c.out_channels for c in convs)
    ref = convs[0].weight
    scale = torch.ones(n, dtype=ref.dtype, device=ref.device)
    shift = torch.zeros(n, dtype=ref.dtype, device=ref.device)
    if isinstance(bn, nn.BatchNorm1d) and bn.num_features == n and bn.running_var is not None:
        with torch.no_grad():
            scale = (bn.weight if bn.affine else 1.0) / torch.sqrt(bn.running_var + bn.eps)
            shift = (bn.bias if bn.affine else 0.0) - bn.running_mean * scale
            scale, shift = scale.detach().clone(), shift.detach().clone()
    return FirstLayer(convs, block, scale, shift)


def _batches(X, batch_size: int, strand: str, dev):
    """Yield float one-hot batches ``(B, 4, L)`` of X and, for ``both``, of its reverse complement."""
    for i in range(0, len(X), batch_size):
        xb = X[i:i + batch_size]
        xb = (xb if torch.is_tensor(xb) else torch.from_numpy(np.ascontiguousarray(xb))).to(dev, torch.float32)
        yield xb
        if strand == "both":
            yield xb.flip(1).flip(2)


def _check_X(X, model_len=None) -> None:
    shape = tuple(X.shape)
    if len(shape) != 3 or shape[1] != 4:
        raise InputError(f"sequences must be one-hot (N, 4, L), got shape {shape}")
    if shape[0] == 0:
        raise InputError("no sequences given")


def _setup(model, X, strand: str | None, device):
    """Check ``strand`` and ``X``; return (device, an eval-mode copy of the model on it, its first layer, strand).

    The caller's model keeps its device and train/eval mode; ``strand=None`` is the model's own.
    """
    import copy

    from seqconv.predict import resolve_device

    strand = strand or getattr(model, "strand", "both")
    if strand not in STRANDS:
        raise ValueError(f"strand must be one of {STRANDS}, got {strand!r}")
    _check_X(X)
    dev = resolve_device(device)
    model = copy.deepcopy(model).to(dev).eval()
    return dev, model, first_layer(model), strand


def _activations(layer: FirstLayer, xb: torch.Tensor) -> list[torch.Tensor]:
    """Per conv: activations ``(B, F_c, L - k + 1)`` at windows wholly inside the sequence."""
    out, c0 = [], 0
    for conv in layer.convs:
        z = F.conv1d(xb, conv.weight, conv.bias)
        f = conv.out_channels
        z = z * layer.scale[c0:c0 + f, None] + layer.shift[c0:c0 + f, None]
        out.append(torch.relu(z))
        c0 += f
    return out


def activation_motifs(model, X, *, threshold: float = 0.7, strand: str | None = None, min_sites: int = 10,
                      background=None, batch_size: int = 256, device=None, verbose: bool = False) -> list[Motif]:
    """Motifs of the first-layer filters by activation alignment.

    Parameters
    ----------
    model : torch.nn.Module
        A seqconv model or any module whose first layer is a ``Conv1d`` over one-hot DNA.
    X : (N, 4, L) ndarray or tensor
        One-hot sequences (uint8 at rest; float32 batches are made here).
    threshold : float
        A window is a site of filter ``f`` when its activation exceeds
        ``threshold * max_f`` (``max_f``: the filter's largest activation over
        the whole set, both strands).  Basset used 0.5; 0.7 gives sharper motifs
        that match their JASPAR motif with far smaller q-values on the bundled
        Oct4/MafK model and the Koo & Eddy synthetic set (benchmarks/results/motifs.md).
    strand : {"both", "forward"}
        Scan the reverse complement too (as models with ``strand="both"`` see it).
    min_sites : int
        Filters with fewer sites (dead or never-firing filters) give no motif.
    background : (4,) array-like, optional
        Background of the returned motifs (uniform by default).
    batch_size : int
    device : str or torch.device, optional
    verbose : bool
        Progress bar on stderr.

    Returns
    -------
    list of Motif
        One per filter with at least ``min_sites`` sites, in filter order; id and name
        ``filter{i}``, counts ``(k, 4)`` (A, C, G, T), ``n_sites`` = number of sites.
    """
    if not 0 <= threshold < 1:
        raise ValueError(f"threshold must be in [0, 1), got {threshold}")
    dev, model, layer, strand = _setup(model, X, strand, device)
    sizes = [c.out_channels for c in layer.convs]
    n_pass = 2 * (2 if strand == "both" else 1) * ((len(X) + batch_size - 1) // batch_size)
    bar = progress_bar(n_pass, desc="activations", unit="batches", enabled=verbose)
    with torch.inference_mode():
        maxima = [torch.zeros(f, device=dev) for f in sizes]
        for xb in _batches(X, batch_size, strand, dev):
            for j, a in enumerate(_activations(layer, xb)):
                if a.shape[2] > 0:
                    maxima[j] = torch.maximum(maxima[j], a.amax(dim=(0, 2)))
            bar.update()
        counts = [torch.zeros(f, k, 4, dtype=torch.float64, device=dev)
                  for f, k in zip(sizes, (c.kernel_size[0] for c in layer.convs))]
        for xb in _batches(X, batch_size, strand, dev):
            for j, a in enumerate(_activations(layer, xb)):
                k = layer.convs[j].kernel_size[0]
                thr = (threshold * maxima[j]).clamp_min(1e-12)
                b, f, p = torch.nonzero(a > thr[None, :, None], as_tuple=True)
                if b.numel():
                    win = xb.unfold(2, k, 1)[b, :, p, :]  # (S, 4, k)
                    counts[j].index_add_(0, f, win.transpose(1, 2).to(torch.float64))
            bar.update()
    bar.close()
    motifs, i = [], 0
    for cnt in counts:
        cnt = cnt.cpu().numpy()
        for f in range(cnt.shape[0]):
            c = cnt[f]
            n_sites = float(c[0].sum())
            if n_sites >= max(1, min_sites) and np.all(c.sum(1) > 0):
                motifs.append(Motif(f"filter{i}", c, kind="counts", name=f"filter{i}", background=background,
                                    n_sites=n_sites))
            i += 1
    return motifs


def max_activations(model, X, *, strand: str | None = None, batch_size: int = 256, device=None) -> np.ndarray:
    """Each sequence's largest activation of each first-layer filter.

    The activation is the one :func:`activation_motifs` thresholds (windows wholly inside
    the sequence; with ``strand="both"`` the reverse complement counts too).  Useful to ask
    in which class of sequences a filter's motif occurs, e.g. the auROC of a column against
    the labels (a filter can be *used* by the model as evidence for or against a class).

    Returns
    -------
    (N, F) float32 ndarray
        Filters numbered as in :func:`activation_motifs`.
    """
    dev, model, layer, strand = _setup(model, X, strand, device)
    views = 2 if strand == "both" else 1
    parts, pending = [], []
    with torch.inference_mode():
        for xb in _batches(X, batch_size, strand, dev):
            acts = _activations(layer, xb)
            m = torch.cat([a.amax(dim=2) if a.shape[2] > 0 else torch.zeros(a.shape[:2], device=dev)
                           for a in acts], dim=1)
            pending.append(m)
            if len(pending) == views:
                parts.append(torch.stack(pending).amax(dim=0).float().cpu().numpy())
                pending = []
    return np.concatenate(parts)


def weight_motifs(model, *, scale: float = 1.0, background=None) -> list[Motif]:
    """The direct weight view: each first-layer filter as probabilities ``p ∝ bg * exp(scale * w)``.

    ``w`` is the filter's weight ``(4, k)`` (sign-flipped when the following
    BatchNorm has a negative scale, so that high ``p`` means high activation).

    Returns
    -------
    list of Motif
        One per filter (id ``filter{i}``), probabilities ``(k, 4)``.
    """
    from seqconv.motifs.core import check_background

    layer = first_layer(model)
    bg = check_background(background)
    motifs, i = [], 0
    for conv in layer.convs:
        W = conv.weight.detach().cpu().double().numpy()  # (F, 4, k)
        sign = np.sign(layer.scale.detach().cpu().double().numpy()[i:i + W.shape[0]])
        sign[sign == 0] = 1
        for f in range(W.shape[0]):
            w = sign[f] * scale * W[f].T  # (k, 4)
            p = bg * np.exp(w - w.max(axis=1, keepdims=True))
            motifs.append(Motif(f"filter{i}", p / p.sum(1, keepdims=True), name=f"filter{i}", background=bg))
            i += 1
    return motifs


def filter_influence(model, X, y=None, *, tasks=None, strand: str | None = None, batch_size: int = 256,
                     device=None, verbose: bool = False) -> pd.DataFrame:
    """How much the model uses each first-layer filter: its output zeroed, one filter at a time.

    Parameters
    ----------
    model : torch.nn.Module
    X : (N, 4, L) one-hot ndarray or tensor
    y : (N, T) labels, optional
        With labels the influence is the drop in auROC (mean over the tasks that
        have both classes); without, the drop in the mean predicted probability.
    tasks : list of str, optional
        Task names (for the ``top_task`` column).
    strand : {"both", "forward"}
        Average the logits of the forward and reverse-complement sequence, as at prediction.
    batch_size : int
        Sequences x ablated filters evaluated per forward pass.
    device, verbose

    Returns
    -------
    pandas.DataFrame
        One row per filter: ``filter`` (index), ``id`` (``filter{i}``), ``influence``,
        ``output_drop`` (mean probability, baseline minus ablated), ``logit_change`` (mean
        absolute change of the logits; breaks ties in ``rank``), and with labels
        ``auroc_drop``, ``top_task`` and ``top_task_auroc_drop`` (the task losing the most);
        ``rank`` 1 = most influential.
    """
    from seqconv.evaluate import auroc

    dev, model, layer, strand = _setup(model, X, strand, device)
    n_f = layer.n_filters
    mask_holder: dict = {}

    def hook(_module, _inputs, output):
        m = mask_holder.get("mask")
        return output if m is None else output * m

    handle = layer.block.register_forward_hook(hook)
    N = len(X)
    seq_batch = max(1, min(64, batch_size))
    group = max(1, batch_size // seq_batch)  # filters ablated per forward pass
    base_parts, abl_parts = [], []
    try:
        with torch.inference_mode():
            total = (N + seq_batch - 1) // seq_batch
            for i in progress_iter(range(0, N, seq_batch), total=total, desc="influence", unit="batches",
                                   enabled=verbose):
                xb = X[i:i + seq_batch]
                xb = (xb if torch.is_tensor(xb) else torch.from_numpy(np.ascontiguousarray(xb))).to(dev, torch.float32)
                views = [xb, xb.flip(1).flip(2)] if strand == "both" else [xb]
                mask_holder["mask"] = None
                base = sum(model(v) for v in views) / len(views)  # (B, T)
                abl = torch.empty(n_f, len(xb), base.shape[1], device=dev)
                for f0 in range(0, n_f, group):
                    fs = list(range(f0, min(n_f, f0 + group)))
                    out = 0
                    for v in views:
                        out = out + _masked_forward(model, v.repeat(len(fs), 1, 1), fs, n_f, len(v), mask_holder)
                    abl[fs] = (out / len(views)).reshape(len(fs), len(xb), -1)
                base_parts.append(base.float().cpu().numpy())
                abl_parts.append(abl.float().cpu().numpy())
    finally:
        handle.remove()
        mask_holder.clear()
    base = np.concatenate(base_parts)  # (N, T)
    abl = np.concatenate(abl_parts, axis=1)  # (F, N, T)
    sig = lambda z: 1.0 / (1.0 + np.exp(-z))  # noqa: E731
    out_drop = sig(base).mean() - sig(abl).mean(axis=(1, 2))
    logit_change = np.abs(abl - base[None]).mean(axis=(1, 2))
    table = pd.DataFrame({"filter": np.arange(n_f), "id": [f"filter{i}" for i in range(n_f)],
                          "output_drop": out_drop, "logit_change": logit_change})
    if y is not None:
        y = np.asarray(y, dtype=np.float32).reshape(N, -1)
        if y.shape[1] != base.shape[1]:
            raise InputError(f"labels have {y.shape[1]} task(s), the model {base.shape[1]} output(s)")
        ok = [t for t in range(y.shape[1]) if 0 < y[:, t].sum() < N]
        if not ok:
            raise InputError("the labels have a single class: auROC is undefined; give labelled positives and "
                             "negatives or no labels")
        b_auc = np.array([auroc(y[:, t], base[:, t]) for t in ok])
        drops = np.array([[b_auc[j] - auroc(y[:, t], abl[f, :, t]) for j, t in enumerate(ok)] for f in range(n_f)])
        names = list(tasks) if tasks is not None else [f"task{t}" for t in range(y.shape[1])]
        table["auroc_drop"] = drops.mean(axis=1)
        table["top_task"] = [names[ok[j]] for j in drops.argmax(axis=1)]
        table["top_task_auroc_drop"] = drops.max(axis=1)
        table["influence"] = table["auroc_drop"]
    else:
        table["influence"] = table["output_drop"]
    # ties (e.g. a saturated auROC that no single filter moves) are broken by the mean |logit change|
    order = np.lexsort((-table["logit_change"].to_numpy(), -table["influence"].to_numpy().round(12)))
    rank = np.empty(n_f, dtype=np.int64)
    rank[order] = np.arange(1, n_f + 1)
    table["rank"] = rank
    cols = ["filter", "id", "influence", "rank", "output_drop", "logit_change"] + \
        [c for c in ("auroc_drop", "top_task", "top_task_auroc_drop") if c in table]
    return table[cols]


def _masked_forward(model, rep, fs, n_f, b, holder):
    """Forward ``rep`` (``len(fs)`` copies of a batch of ``b``) with filter ``fs[g]`` zeroed in copy ``g``."""
    dev = rep.device
    keep = torch.ones(len(fs) * b, n_f, 1, device=dev)
    for g, f in enumerate(fs):
        keep[g * b:(g + 1) * b, f] = 0
    holder["mask"] = keep
    try:
        return model(rep)
    finally:
        holder["mask"] = None
