"""Training: AdamW, class-weighted BCE, warm-up + cosine schedule, early stopping on validation auPRC.

Checkpoints are data, not pickles: each epoch writes ``checkpoint/last.safetensors``
(model weights + AdamW moments + the EMA of the weights when on) and ``checkpoint/last.json`` (epoch, history,
early-stopping state, configs) into the output directory; the best model so far is
the model directory itself (``model.safetensors`` + ``model.json``).  Every random
choice of epoch ``e`` (shuffle order, reverse-complement flips, shifts, dropout)
is drawn from generators seeded with ``(seed, e)``, so a run resumed after epoch
``e`` ends with exactly the weights of an uninterrupted one, and the same seed
gives the same weights on CPU.
"""

from __future__ import annotations

import atexit
import contextlib
import csv
import dataclasses
import hashlib
import json
import math
import os
import sys
import time
import types
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from seqconv.dataset import Dataset, read_dataset
from seqconv.ema import WeightEMA
from seqconv.ema import averaged as _averaged
from seqconv.errors import InputError
from seqconv.evaluate import binary_metrics
from seqconv.fileio import atomic_open, atomic_path
from seqconv.provenance import genome_name, rows_entry

LOG = "train_log.csv"
CKPT_DIR = "checkpoint"


@dataclass(frozen=True)
class TrainConfig:
    """Training hyper-parameters (JSON-serialisable).

    Attributes
    ----------
    epochs : int
        Maximum number of epochs.
    batch_size : int
    lr : float
        Peak learning rate of AdamW.
    weight_decay : float
    schedule : {"cosine", "constant"}
        Linear warm-up over ``warmup_epochs`` then cosine decay to 0 at ``epochs``, or constant.
    warmup_epochs : float
    patience : int
        Stop after this many epochs without a better validation auPRC.
    class_weight : {"balanced", "none"}
        ``balanced``: positive-class weight ``n_neg / n_pos`` per task in the BCE.
    rc_augment : bool
        Replace each training sequence by its reverse complement with probability 1/2.
    max_shift : int
        Random shift of each training sequence by up to this many bp (N-padded).
    seed : int
    ema_decay : float
        ``0`` (default): off.  ``0 < d < 1``: keep a bias-corrected exponential moving average of
        the weights and BatchNorm statistics (:mod:`seqconv.ema`), updated after every optimiser
        step; validation, early stopping and the saved model use the averaged weights.  About
        ``1 / (1 - d)`` recent steps count, so pick ``d`` for the run's number of steps (epochs x
        batches per epoch), e.g. 0.95 for a few hundred (0.99 lagged on ~250-step GUE mouse runs:
        the best epoch was always the last; benchmarks/results/accuracy.md).
    """

    epochs: int = 20
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 1e-2
    schedule: str = "cosine"
    warmup_epochs: float = 1.0
    patience: int = 4
    class_weight: str = "balanced"
    rc_augment: bool = True
    max_shift: int = 3
    seed: int = 0
    ema_decay: float = 0.0

    def __post_init__(self):
        if self.schedule not in ("cosine", "constant"):
            raise ValueError(f"schedule must be 'cosine' or 'constant', got {self.schedule!r}")
        if self.class_weight not in ("balanced", "none"):
            raise ValueError(f"class_weight must be 'balanced' or 'none', got {self.class_weight!r}")
        if self.epochs < 1 or self.batch_size < 1 or self.max_shift < 0:
            raise ValueError("epochs and batch_size must be >= 1 and max_shift >= 0")
        if not (math.isfinite(self.ema_decay) and 0.0 <= self.ema_decay < 1.0):
            raise ValueError(f"ema_decay must be in [0, 1) (0 = off), got {self.ema_decay}")

    def to_dict(self) -> dict:
        """JSON-ready fields; ``ema_decay`` only when on (cards and checkpoints read as before it existed)."""
        d = dataclasses.asdict(self)
        if not d["ema_decay"]:
            del d["ema_decay"]
        return d


@dataclass(frozen=True)
class ParamGroup:
    """A named group of parameters with its own learning rate, or frozen.

    Attributes
    ----------
    name : str
        Shown in the log and recorded in the card (``"backbone"``, ``"head"`` ...).
    prefixes : tuple of str
        Module-name prefixes of ``model.named_parameters()`` that belong to the group
        (``("trunk",)``, ``("trunk.layers.0", "trunk.layers.1")``, ``("head",)``).  A parameter
        goes to the first group whose prefix matches; parameters no group names form a group
        ``"rest"`` at ``config.lr``.
    lr : float, optional
        Peak learning rate (default: ``config.lr``); the schedule scales every group alike.
    frozen : bool
        Never trained: no gradient, and its modules stay in eval mode (BatchNorm statistics
        and dropout frozen).
    start_epoch : int
        Frozen (as above) for epochs ``< start_epoch`` (0-based), trained from then on: gradual unfreezing.
    """

    name: str
    prefixes: tuple
    lr: float | None = None
    frozen: bool = False
    start_epoch: int = 0

    def __post_init__(self):
        object.__setattr__(self, "prefixes", tuple(str(p) for p in self.prefixes))
        if not self.prefixes:
            raise ValueError(f"parameter group {self.name!r} names no module prefix")
        if self.lr is not None and not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"parameter group {self.name!r}: lr must be a positive number, got {self.lr}")
        if self.start_epoch < 0:
            raise ValueError(f"parameter group {self.name!r}: start_epoch must be >= 0")

    def matches(self, name: str) -> bool:
        """``""`` names every parameter; ``"trunk"`` names ``trunk`` and everything under ``trunk.``."""
        return any(p == "" or name == p or name.startswith(p + ".") for p in self.prefixes)

    def frozen_at(self, epoch: int) -> bool:
        return self.frozen or epoch < self.start_epoch

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["prefixes"] = list(self.prefixes)
        return d


@dataclass
class Source:
    """Training or validation data: ``X : (N, 4, L)`` uint8 (float16 for fractional IUPAC codes),
    ``y : (N, T)`` float32 with NaN where a task is unlabelled, and their provenance."""

    X: np.ndarray
    y: np.ndarray
    tasks: list
    name: str = ""
    provenance: dict = field(default_factory=dict)


@dataclass
class FitResult:
    """What :func:`fit` returns: the best model (weights loaded), its epoch and validation metrics, the log."""

    model: nn.Module
    best_epoch: int
    best_metrics: dict
    #: one dict per epoch: losses, valid metrics, lr, ``seconds`` (wall) and ``cpu_seconds`` (process CPU)
    history: list


#: a class with fewer labelled training examples than this, for any task, is an error
MIN_PER_CLASS = 3


def augment(x: torch.Tensor, *, rc: bool, max_shift: int, gen: torch.Generator) -> torch.Tensor:
    """Random reverse complement (p = 1/2) and shift by up to ``max_shift`` bp (N-padded) of a batch ``(N, 4, L)``."""
    shifts, flips = _augment_draws(len(x), rc=rc, max_shift=max_shift, gen=gen)
    return _apply_augment(x, shifts, flips, max_shift=max_shift)


def _augment_draws(n: int, *, rc: bool, max_shift: int, gen: torch.Generator):
    """The random numbers :func:`augment` draws for ``n`` rows: shifts ``(n,)`` (or None), flips ``(n,)`` (or None)."""
    shifts = torch.randint(-max_shift, max_shift + 1, (n,), generator=gen) if max_shift else None
    flips = torch.rand(n, generator=gen) < 0.5 if rc else None
    return shifts, flips


def _apply_augment(x: torch.Tensor, shifts, flips, *, max_shift: int) -> torch.Tensor:
    """Shift (N-padded) then reverse-complement rows of ``x : (N, 4, L)``, as one gather from the padded batch.

    Row ``n`` of the result is ``x[n]`` shifted right by ``shifts[n]`` (zeros coming in), then, where
    ``flips[n]``, channels and positions reversed.  Works on any dtype (uint8 at rest: the batch is
    upcast after, 4x less memory traffic) and is exact: every output is a copy of an input or 0.
    """
    if shifts is None and flips is None:
        return x
    n, ch, length = x.shape
    m = max_shift if shifts is not None else 0
    width = length + 2 * m
    pos = torch.arange(length).expand(n, length)
    chan = torch.arange(ch).expand(n, ch)
    if flips is not None:
        pos = torch.where(flips[:, None], length - 1 - pos, pos)
        chan = torch.where(flips[:, None], ch - 1 - chan, chan)
    if shifts is not None:
        pos = pos + m - shifts[:, None]  # in [0, width): the padding holds the zeros shifted in
    idx = chan[:, :, None] * width + pos[:, None, :]
    pad = nn.functional.pad(x, (m, m)) if m else x
    return pad.reshape(n, ch * width).gather(1, idx.reshape(n, ch * length)).reshape(n, ch, length)


def _lr_factor(cfg: TrainConfig, step: int, steps_per_epoch: int) -> float:
    if cfg.schedule == "constant":
        return 1.0
    warm = max(1, int(cfg.warmup_epochs * steps_per_epoch))
    total = max(warm + 1, cfg.epochs * steps_per_epoch)
    if step < warm:
        return (step + 1) / warm
    return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / (total - warm))))


# --------------------------------------------------------------------------- data sources


def as_source(data, split: str | None, *, encoding: dict | None = None, name: str = "") -> Source:
    """A :class:`Source` from a Dataset (one split of it, or all rows with ``split=None``), a dataset
    path, a ``(X, y)`` pair or a Source; N and IUPAC codes are encoded by the model's ``encoding``."""
    if isinstance(data, Source):
        return data
    if isinstance(data, tuple) and len(data) == 2:
        X, y = np.asarray(data[0]), np.asarray(data[1], dtype=np.float32)
        y = y.reshape(len(y), -1)
        if X.ndim != 3 or X.shape[1] != 4 or len(X) != len(y):
            raise InputError(f"(X, y): X must be (N, 4, L) and y (N, T) with the same N; got {X.shape}, {y.shape}")
        return Source(X, y, [f"task{i}" for i in range(y.shape[1])], name=name or "arrays")
    ds = data if isinstance(data, Dataset) else read_dataset(data)
    label = name or (str(data) if not isinstance(data, Dataset) else ds.meta.get("name", "")) or "dataset"
    sub = ds.subset(split)
    if len(sub.table) == 0:
        raise InputError(f"{label}: the dataset has no {split!r} rows; training needs 'train' and 'valid' rows")
    iupac = (encoding or {}).get("iupac", "zero")
    prov = {"name": label, "genome": genome_name(ds), "rows": rows_entry(sub.table)}
    return Source(sub.X(iupac=iupac), sub.y(), list(ds.tasks), name=label, provenance=prov)


def _check_sources(model, train: Source, valid: Source, cfg: TrainConfig, monitor=None) -> None:
    for role, src in (("train", train), ("valid", valid)):
        if src.X.shape[2] != model.input_length:
            raise InputError(f"{src.name}: {role} windows are {src.X.shape[2]} bp but the model takes "
                             f"{model.input_length} bp")
        if src.y.shape[1] != model.n_tasks:
            raise InputError(f"{src.name}: the {role} data have {src.y.shape[1]} task(s) {src.tasks}, "
                             f"the model {model.n_tasks} output(s) {model.tasks}")
        bad = ~np.isnan(src.y) & (src.y != 0) & (src.y != 1)
        if bad.any():
            r, c = np.argwhere(bad)[0]
            raise InputError(f"{src.name}: {role} labels must be 0, 1 or missing; row {r + 1}, task "
                             f"{src.tasks[c]!r} has {src.y[r, c]}")
    from seqconv.models import default_tasks

    if list(train.tasks) != list(valid.tasks):
        raise InputError(f"the train data have tasks {train.tasks}, the valid data {valid.tasks}")
    named = list(train.tasks) != list(default_tasks(len(train.tasks)))
    if named and list(model.tasks) == list(default_tasks(model.n_tasks)):
        model.card = model.card.replace(tasks=train.tasks)  # a new model takes its task names from the data
    elif named and list(model.tasks) != list(train.tasks):
        raise InputError(f"the model's outputs are {model.tasks} but the data's tasks are {train.tasks} "
                         "(same names in the same order needed)")
    for t, task in enumerate(train.tasks):
        lab = train.y[:, t][~np.isnan(train.y[:, t])]
        npos, nneg = int(lab.sum()), int(len(lab) - lab.sum())
        if len(lab) == 0:
            raise InputError(f"{train.name}: task {task!r} has no labelled rows in the train split")
        if npos < MIN_PER_CLASS or nneg < MIN_PER_CLASS:
            what = "positives" if npos < MIN_PER_CLASS else "negatives"
            raise InputError(
                f"{train.name}: the train split has {npos} positive(s) and {nneg} negative(s) for task {task!r}; "
                f"at least {MIN_PER_CLASS} of each class are needed (too few {what}: a model trained on one class "
                "learns nothing; add negatives, e.g. `seqconv prepare --negatives gc|shuffle|both`)")
    unknown = sorted(set(monitor or []) - set(train.tasks))
    if unknown:
        raise ValueError(f"monitor names unknown task(s) {unknown}")
    ok = []
    for t, task in enumerate(valid.tasks):
        if monitor and task not in monitor:
            continue
        lab = valid.y[:, t][~np.isnan(valid.y[:, t])]
        if 0 < lab.sum() < len(lab):
            ok.append(task)
        else:
            warnings.warn(f"{valid.name}: the valid split has only one class (or no labels) for task {task!r}; "
                          "early stopping uses the other tasks", stacklevel=3)
    if not ok:
        raise InputError(f"{valid.name}: no task has both classes in the valid split, so there is nothing to "
                         "early-stop on")
    if len(train.X) < cfg.batch_size:
        raise InputError(f"{train.name}: the train split has {len(train.X)} sequences, fewer than the batch size "
                         f"{cfg.batch_size}; use a batch size <= {len(train.X)}")


def _fingerprint(src: Source) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(src.X).tobytes())
    h.update(np.nan_to_num(src.y, nan=-1).astype(np.float32).tobytes())
    h.update(json.dumps(list(src.tasks)).encode())
    return h.hexdigest()[:32]


# --------------------------------------------------------------------------- parameter groups


def _resolve_groups(model, groups) -> list[tuple[ParamGroup, list]]:
    """(group, [(name, param)]) in order; unmatched parameters form a group "rest"."""
    groups = list(groups or [ParamGroup("all", ("",))])
    names = [g.name for g in groups]
    if len(set(names)) != len(names):
        raise ValueError(f"parameter group names must be unique, got {names}")
    buckets: dict[str, list] = {g.name: [] for g in groups}
    rest = []
    for pname, p in model.named_parameters():
        g = next((g for g in groups if g.matches(pname)), None)
        (buckets[g.name] if g is not None else rest).append((pname, p))
    out = [(g, buckets[g.name]) for g in groups]
    empty = [g.name for g, ps in out if not ps]
    if empty:
        raise ValueError(f"parameter group(s) {empty} match no parameter of the model")
    if rest:
        out.append((ParamGroup("rest", tuple(sorted({n.split(".")[0] for n, _ in rest}))), rest))
    return out


def _apply_freezing(model, resolved, epoch: int) -> None:
    """requires_grad per group for this epoch; frozen groups' modules to eval mode (BatchNorm, dropout)."""
    frozen_names = set()
    for g, ps in resolved:
        fz = g.frozen_at(epoch)
        for n, p in ps:
            p.requires_grad_(not fz)
            if fz:
                frozen_names.add(n)
    if not frozen_names:
        return
    for mname, mod in model.named_modules():
        own = [f"{mname}.{n}" if mname else n for n, _ in mod.named_parameters(recurse=True)]
        if own and all(n in frozen_names for n in own):
            mod.eval()


# --------------------------------------------------------------------------- checkpoints


def _optim_tensors(opt: torch.optim.Optimizer) -> tuple[dict, dict]:
    sd = opt.state_dict()
    tensors = {}
    for idx, st in sd["state"].items():
        for k, v in st.items():
            t = v if torch.is_tensor(v) else torch.tensor(float(v))
            tensors[f"optim.{idx}.{k}"] = t.detach().reshape(-1).contiguous().clone()
    groups = [{k: v for k, v in g.items()} for g in sd["param_groups"]]
    return tensors, {"param_groups": groups}


def _save_checkpoint(out: Path, model, opt, state: dict, ema: WeightEMA | None = None) -> None:
    from safetensors.torch import save_file

    ck = out / CKPT_DIR
    ck.mkdir(parents=True, exist_ok=True)
    otensors, ometa = _optim_tensors(opt)
    tensors = {f"model.{k}": v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    tensors.update(otensors)
    if ema is not None:  # the running average, so that a resumed run averages exactly as an uninterrupted one
        tensors.update(ema.state_tensors())
        state = {**state, "ema_steps": ema.steps}
    with atomic_path(ck / "last.safetensors", suffix=".safetensors") as tmp:
        save_file({k: tensors[k] for k in sorted(tensors)}, str(tmp))
    with atomic_open(ck / "last.json") as fh:
        json.dump({**state, "optimizer": ometa}, fh, indent=1)


def _load_checkpoint(out: Path, model, opt, ema: WeightEMA | None = None) -> dict:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    ck = out / CKPT_DIR
    if not (ck / "last.json").exists() or not (ck / "last.safetensors").exists():
        raise InputError(f"--resume: no checkpoint in {ck}")
    try:
        state = json.loads((ck / "last.json").read_text())
        tensors = load_file(str(ck / "last.safetensors"))
    except (json.JSONDecodeError, SafetensorError, OSError) as exc:
        raise InputError(f"--resume: damaged checkpoint ({exc})", path=ck) from None
    msd = model.state_dict()
    model.load_state_dict({k: tensors[f"model.{k}"].reshape(msd[k].shape) for k in msd})
    params = [p for g in opt.param_groups for p in g["params"]]
    state_t = {}
    for key, t in tensors.items():
        if key.startswith("optim."):
            _, idx, k = key.split(".", 2)
            state_t.setdefault(int(idx), {})[k] = t.reshape(()) if k == "step" else t.reshape(params[int(idx)].shape)
    sd = opt.state_dict()
    groups = [{**g, "params": cur["params"]} for g, cur in zip(state["optimizer"]["param_groups"], sd["param_groups"])]
    opt.load_state_dict({"state": state_t, "param_groups": groups})
    if ema is not None and "ema_steps" in state:  # (a checkpoint without EMA fails the config check next)
        ema.load_state_tensors(tensors, state["ema_steps"])
    return state


# --------------------------------------------------------------------------- distributed (torchrun / DDP)


@dataclass(frozen=True)
class DistContext:
    """Where this process stands in a distributed run (one process per device).

    Attributes
    ----------
    rank, world, local_rank : int
        Global rank, number of processes, rank on this node (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``).
    device : torch.device
        This process's device: ``cuda:LOCAL_RANK`` (modulo the visible GPUs) for a CUDA run, else CPU.
    backend : str or None
        ``"nccl"`` on GPUs, ``"gloo"`` on CPU, ``None`` in a single-process run.
    """

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device | None = None
    backend: str | None = None

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise InputError(f"environment variable {name}={raw!r} is not an integer (set by torchrun / srun)") from None


def _rank_device(device, local_rank: int, world: int) -> torch.device:
    from seqconv.predict import resolve_device

    dev = resolve_device(device)
    if dev.type == "cuda" and dev.index is None and world > 1:
        dev = torch.device("cuda", local_rank % torch.cuda.device_count())
    return dev


def distributed_context(device=None) -> DistContext:
    """The distributed context from the environment ``torchrun`` (or ``srun`` via torchrun) sets.

    Without ``WORLD_SIZE`` > 1 (and no process group already initialised) this is a
    single-process context and nothing happens.  Otherwise the default process group is
    initialised here, once per process (later calls, e.g. by :func:`fit`, reuse it): NCCL when
    ``device`` is a CUDA device (each process takes ``cuda:LOCAL_RANK``), gloo on CPU.  The
    rendezvous comes from ``MASTER_ADDR`` / ``MASTER_PORT`` (``env://``, as torchrun sets them).

    Parameters
    ----------
    device : str, optional
        ``None`` = CPU.

    Returns
    -------
    DistContext
    """
    if dist.is_available() and dist.is_initialized():
        world, rank = dist.get_world_size(), dist.get_rank()
        local = _env_int("LOCAL_RANK", rank)
        return DistContext(rank=rank, world=world, local_rank=local, device=_rank_device(device, local, world),
                           backend=str(dist.get_backend()))
    world = _env_int("WORLD_SIZE", 1)
    if world <= 1:
        from seqconv.predict import resolve_device

        return DistContext(device=resolve_device(device))
    if not dist.is_available():
        raise InputError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    if "RANK" not in os.environ:
        raise InputError("WORLD_SIZE is set but RANK is not: launch with torchrun (or srun ... torchrun)")
    rank, local = _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
    dev = _rank_device(device, local, world)
    backend = "nccl" if dev.type == "cuda" else "gloo"
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
        dist.init_process_group(backend=backend, device_id=dev)
    else:
        dist.init_process_group(backend=backend)
    atexit.register(_shutdown_process_group)
    return DistContext(rank=rank, world=world, local_rank=local, device=dev, backend=backend)


def _shutdown_process_group() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def _shard_bounds(n: int, ctx: DistContext) -> tuple[int, int]:
    """This rank's rows ``[lo, hi)`` of ``n``: contiguous, the first ``n % world`` ranks one row more."""
    base, extra = divmod(n, ctx.world)
    lo = ctx.rank * base + min(ctx.rank, extra)
    return lo, lo + base + (1 if ctx.rank < extra else 0)


def _dropout_seed(seed: int, epoch: int, rank: int) -> int:
    """Seed of the global torch RNG (dropout) in epoch ``epoch``; rank 0 keeps the single-process seed."""
    if rank == 0:
        return seed * 100_003 + epoch
    return int(np.random.SeedSequence([seed, epoch, rank]).generate_state(1, dtype=np.uint64)[0] >> 1)


def _local_batch(Xtr_t, ytr_t, idx_global, cfg: TrainConfig, gen, ctx: DistContext, dev):
    """This rank's part of one global batch: ``(xb, yb, denom)``.

    The augmentation draws are made for the whole global batch (so every rank's generator
    stays in step and each row gets the draw it gets in a single-process run); ``denom`` is
    the global batch's count of labelled entries over the world size, so that DDP's mean of
    the ranks' gradients is the gradient of the single-process (global-batch) loss.
    """
    if not ctx.active:
        xb = augment(Xtr_t[idx_global], rc=cfg.rc_augment, max_shift=cfg.max_shift, gen=gen).float().to(dev)
        return xb, ytr_t[idx_global].to(dev), None
    shifts, flips = _augment_draws(len(idx_global), rc=cfg.rc_augment, max_shift=cfg.max_shift, gen=gen)
    lo, hi = _shard_bounds(len(idx_global), ctx)
    idx = idx_global[lo:hi]
    xb = _apply_augment(Xtr_t[idx], None if shifts is None else shifts[lo:hi],
                        None if flips is None else flips[lo:hi], max_shift=cfg.max_shift).float().to(dev)
    count = max(1, int((~torch.isnan(ytr_t[idx_global])).sum()))
    return xb, ytr_t[idx].to(dev), count / ctx.world


class _AllReduceSum(torch.autograd.Function):
    """Sum over ranks with a gradient: the gradient of the sum is the sum of the ranks' gradients."""

    @staticmethod
    def forward(ctx, x):
        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad):
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


def _sync_bn_forward(bn: nn.modules.batchnorm._BatchNorm, x: torch.Tensor) -> torch.Tensor:
    """BatchNorm over the global batch (all ranks): statistics all-reduced with autograd-aware
    collectives, so it runs on gloo (CPU) and NCCL alike, and empty shards are fine."""
    if not bn.training:
        return type(bn).forward(bn, x)
    c = x.shape[1]
    dims = [0] + list(range(2, x.dim()))
    shape = [1, c] + [1] * (x.dim() - 2)
    n_local = x.new_tensor([x.numel() / max(c, 1)])
    s = _AllReduceSum.apply(torch.cat([x.sum(dims), n_local]))
    n = s[c].detach()
    mean = s[:c] / n.clamp(min=1)
    var = _AllReduceSum.apply(((x - mean.reshape(shape)) ** 2).sum(dims)) / n.clamp(min=1)
    if bn.track_running_stats:
        with torch.no_grad():
            bn.num_batches_tracked.add_(1)
            f = 1.0 / float(bn.num_batches_tracked) if bn.momentum is None else bn.momentum
            bn.running_mean.mul_(1 - f).add_(mean.detach(), alpha=f)
            bn.running_var.mul_(1 - f).add_(var.detach() * (n / (n - 1).clamp(min=1)), alpha=f)
    y = (x - mean.reshape(shape)) * torch.rsqrt(var + bn.eps).reshape(shape)
    if bn.affine:
        y = y * bn.weight.reshape(shape) + bn.bias.reshape(shape)
    return y


@contextlib.contextmanager
def _synced_batchnorm(model, ctx: DistContext):
    """Within the block, the model's BatchNorm layers normalise by global-batch statistics (DDP only)."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)] if ctx.active else []
    for m in bns:
        m.forward = types.MethodType(_sync_bn_forward, m)
    try:
        yield
    finally:
        for m in bns:
            del m.forward


class _Replica:
    """The DDP wrapper used for the forward/backward (the bare model in a single-process run).

    DDP registers its gradient hooks for the parameters that require a gradient when it is
    built, so the wrapper is rebuilt whenever that set changes (gradual unfreezing); frozen
    parameters (``requires_grad`` False) are left out of the all-reduce.
    """

    def __init__(self, model, ctx: DistContext):
        self.model, self.ctx = model, ctx
        self._ddp, self._key = None, None

    def net(self):
        if not self.ctx.active:
            return self.model
        key = tuple(p.requires_grad for p in self.model.parameters())
        if key != self._key:
            self._ddp = None
            ids = [self.ctx.device.index] if self.ctx.device.type == "cuda" else None
            self._ddp = DistributedDataParallel(self.model, device_ids=ids, find_unused_parameters=False)
            self._key = key
        return self._ddp


def _allreduce_sum(value: float, ctx: DistContext) -> float:
    if not ctx.active:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=ctx.device)
    dist.all_reduce(t)
    return float(t.item())


def _sharded_predict(predict, model, X, ctx: DistContext, dev) -> np.ndarray:
    """Validation logits ``(N, T)``: each rank scores a contiguous slice of ``X``, all ranks get all rows."""
    if not ctx.active:
        return predict(model, X, batch_size=512, device=dev, strand="both")
    lo, hi = _shard_bounds(len(X), ctx)
    part = (predict(model, X[lo:hi], batch_size=512, device=dev, strand="both") if hi > lo
            else np.zeros((0, model.n_tasks), dtype=np.float32))
    parts = [None] * ctx.world
    dist.all_gather_object(parts, part)
    return np.concatenate(parts, axis=0)


def _from_main(obj, ctx: DistContext):
    """``obj`` as rank 0 has it, on every rank (early-stopping decisions stay in lockstep)."""
    if not ctx.active:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


# --------------------------------------------------------------------------- fit


#: the run-time estimate is made after this many training batches, or ESTIMATE_AFTER_S seconds if sooner
ESTIMATE_AFTER_BATCHES = 20
ESTIMATE_AFTER_S = 5.0
#: a run estimated to take longer than this (seconds) gets a warning line
LONG_RUN_S = 3600.0


def _duration(seconds: float) -> str:
    """``0.4 s``, ``42 s``, ``3.5 min``, ``2.1 h``."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


class _RunClock:
    """The run-time estimate ``fit`` prints (verbose) after the first batches of its first epoch.

    One plain line on stderr (``tqdm.write``: no progress-bar refresh), so it reaches log files;
    a second ``warning:`` line when the run may take over :data:`LONG_RUN_S`.  The estimate is
    wall time of the training batches (validation adds a forward pass over the valid rows).
    """

    def __init__(self, steps: int, epochs: int, clock=time.perf_counter):
        self.steps, self.epochs, self.clock = steps, epochs, clock
        self.t0 = clock()
        self.pending = True

    def batch_done(self, done: int) -> list[str]:
        """Lines to print after ``done`` batches of the first epoch (empty until the estimate is due)."""
        elapsed = self.clock() - self.t0
        if not (done >= min(ESTIMATE_AFTER_BATCHES, self.steps) or (elapsed >= ESTIMATE_AFTER_S and done >= 2)):
            return []
        self.pending = False
        per_epoch = elapsed / done * self.steps
        total = per_epoch * self.epochs
        lines = [f"estimated ~{_duration(per_epoch)} per epoch, up to {_duration(total)} for {self.epochs} "
                 f"epoch(s) (from the first {done} of {self.steps} batches)"]
        if total > LONG_RUN_S:
            lines.append(f"warning: this run may take ~{_duration(total)} on this machine; fewer --epochs, a "
                         "smaller --arch (e.g. deepbind) or a GPU (--device cuda) would be faster")
        return lines


def _masked_loss(logits, y, pos_weight, denom: float | None = None, *, complete: bool = False):
    """Mean BCE over the labelled entries (or their sum over ``denom``: a shard of a global batch).

    ``complete``: the caller knows ``y`` has no NaN, so the mask is skipped (the same value and
    gradient bit for bit: a mask of ones multiplies by 1 and counts every entry).
    """
    if complete:
        raw = nn.functional.binary_cross_entropy_with_logits(logits, y, pos_weight=pos_weight, reduction="none")
        return raw.sum() / (y.numel() if denom is None else denom)
    mask = ~torch.isnan(y)
    target = torch.nan_to_num(y, nan=0.0)
    raw = nn.functional.binary_cross_entropy_with_logits(logits, target, pos_weight=pos_weight, reduction="none")
    return (raw * mask).sum() / (mask.sum().clamp(min=1) if denom is None else denom)


def fit(model, train, valid=None, *, config: TrainConfig | None = None, groups=None, out_dir=None,
        resume: bool = False, device=None, verbose: bool = True, card_extra: dict | None = None,
        monitor=None, regularizer=None) -> FitResult:
    """Train ``model`` on ``train``; early-stop on ``valid``'s auPRC (mean over tasks).

    Parameters
    ----------
    model : SeqModel
        Its ``n_tasks`` and ``input_length`` must match the data (T tasks, L bp).
    train, valid : Dataset, dataset path, ``(X, y)`` pair or :class:`Source`
        ``X : (N, 4, L)`` uint8 at rest (float32 per batch), ``y : (N, T)`` with NaN (or -1 in a
        dataset file) where a task is unlabelled: such entries are left out of the loss (masked
        multi-task loss, for cohorts pooled from different experiments).  With ``valid=None``,
        ``train`` must be one dataset with ``train`` and ``valid`` splits.
    config : TrainConfig
    groups : sequence of ParamGroup, optional
        Named parameter groups, each with its own learning rate, frozen, or unfrozen from an
        epoch on (default: one group, every parameter at ``config.lr``).  Frozen modules are kept
        in eval mode, so their BatchNorm statistics do not move.
    out_dir : path, optional
        Writes the best model (``model.safetensors`` + ``model.json``), ``train_log.csv``
        and a checkpoint each epoch.  Without it nothing is written.
    resume : bool
        Continue from ``out_dir/checkpoint`` (same config, groups and data required).
    device : str, optional
        ``None`` = CPU.  Under ``torchrun`` (``WORLD_SIZE`` > 1) each process trains a
        DistributedDataParallel replica on ``cuda:LOCAL_RANK`` (NCCL) or the CPU (gloo); see Notes.
    verbose : bool
        One metrics line per epoch on stderr (and a progress bar when stderr is a terminal); rank 0 only.
        After the first batches, one line estimating the time per epoch and for the whole run, and a
        warning when that exceeds an hour (:class:`_RunClock`).
    card_extra : dict, optional
        Extra ``training`` fields for the saved model card.
    monitor : sequence of str, optional
        Tasks whose mean validation auPRC drives early stopping (default: every task).
    regularizer : callable, optional
        ``regularizer(model, xb, gen) -> scalar tensor`` added to each batch's loss (``xb`` the
        float batch on the device, ``gen`` the epoch's seeded generator); used by the ``adapt``
        mode of :mod:`seqconv.transfer`.

    Returns
    -------
    FitResult
        ``model`` holds the best epoch's weights and a card with the training provenance.

    Notes
    -----
    Every random choice of epoch ``e`` (order, augmentation, dropout) comes from generators
    seeded with ``(config.seed, e)`` inside a forked RNG state: the global torch RNG is left as it was.

    Distributed (``torchrun --nproc-per-node N``; see :func:`distributed_context`): ``config.batch_size``
    stays the *global* batch.  Every rank draws the same seeded permutation and augmentations and
    takes a contiguous slice of each global batch; its loss is normalised by the global batch's
    label count, DDP averages the gradients and BatchNorm uses global-batch statistics, so the run
    follows the single-process one up to float summation order (dropout masks differ: each rank
    draws its own).  Validation is sharded and gathered; rank 0's metrics decide early stopping on
    every rank.  Only rank 0 writes (model, log, checkpoints) or prints; ``resume`` reads the
    checkpoint on every rank (``out_dir`` on a shared filesystem).
    """
    from tqdm.auto import tqdm

    from seqconv.modelfile import load_model, save_model
    from seqconv.predict import predict, resolve_device

    cfg = config or TrainConfig()
    ctx = distributed_context(device)
    verbose = verbose and ctx.is_main
    name = ""
    if isinstance(train, (str, Path)):  # read once: both splits and the test provenance come from it
        name, train = str(train), read_dataset(train)
    if valid is None:
        tr_src = as_source(train, "train", encoding=model.encoding, name=name)
        va_src = as_source(train, "valid", encoding=model.encoding, name=name)
    else:
        tr_src = as_source(train, None, encoding=model.encoding, name=name)
        va_src = as_source(valid, None, encoding=model.encoding)
    _check_sources(model, tr_src, va_src, cfg, monitor)
    mon = [tr_src.tasks.index(t) for t in monitor] if monitor else list(range(len(tr_src.tasks)))
    dev = ctx.device if ctx.active else resolve_device(device)
    Xtr, ytr, Xva, yva = tr_src.X, tr_src.y, va_src.X, va_src.y
    lab = ~np.isnan(ytr)
    npos = np.nansum(ytr, 0)
    pos_weight = None
    if cfg.class_weight == "balanced":
        pos_weight = torch.tensor((lab.sum(0) - npos) / npos, dtype=torch.float32, device=dev)
    model = model.to(dev)
    resolved = _resolve_groups(model, groups)
    opt_groups = [{"params": [p for _, p in ps], "lr": g.lr or cfg.lr, "name": g.name}
                  for g, ps in resolved if not g.frozen]
    if not opt_groups:
        raise ValueError("every parameter group is frozen: nothing to train")
    for g, ps in resolved:
        if g.frozen:
            for _, p in ps:
                p.requires_grad_(False)
    opt = torch.optim.AdamW(opt_groups, lr=cfg.lr, weight_decay=cfg.weight_decay)
    ema = WeightEMA(model, cfg.ema_decay) if cfg.ema_decay else None
    steps = math.ceil(len(Xtr) / cfg.batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _lr_factor(cfg, s, steps))
    out = Path(out_dir) if out_dir is not None else None
    fingerprint = {"train": _fingerprint(tr_src), "valid": _fingerprint(va_src), "tasks": list(tr_src.tasks),
                   "monitor": list(monitor or [])}
    groups_info = [g.to_dict() for g, _ in resolved]
    splits = {"train": tr_src.provenance.get("rows", {}), "valid": va_src.provenance.get("rows", {})}
    test_entry = _test_entry(train if valid is None else None)
    if test_entry:
        splits["test"] = test_entry
    training_info = {"datasets": sorted({tr_src.name, va_src.name}), "dataset": tr_src.name,
                     "genome": tr_src.provenance.get("genome"),
                     "splits": splits, "train_chromosomes": splits["train"].get("chromosomes", []),
                     "n_train": int(len(Xtr)), "n_valid": int(len(Xva)), "config": cfg.to_dict(),
                     "groups": groups_info, **(card_extra or {})}
    start, best, best_epoch, bad, history = 0, -1.0, -1, 0, []
    if resume:
        if out is None:
            raise InputError("--resume needs the output directory of the interrupted run")
        state = _load_checkpoint(out, model, opt, ema)
        if state["config"] != cfg.to_dict():
            raise InputError(f"--resume: the checkpoint was made with a different training config {state['config']}")
        if state.get("groups", groups_info) != groups_info:
            raise InputError("--resume: the checkpoint was made with different parameter groups "
                             f"{[g['name'] for g in state.get('groups', [])]}")
        if state.get("data") not in (None, fingerprint):
            what = "task list" if state["data"].get("tasks") != fingerprint["tasks"] else "dataset"
            raise InputError(f"--resume: the checkpoint in {out} was made with a different {what} "
                             f"(tasks {state['data'].get('tasks')}); use the same --data, or start afresh "
                             "with another --out")
        start, best, best_epoch, bad, history = (state["epoch"] + 1, state["best"], state["best_epoch"],
                                                 state["bad"], state["history"])
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _lr_factor(cfg, s, steps),
                                                  last_epoch=start * steps - 1)
    elif out is not None and (out / CKPT_DIR / "last.json").exists():
        raise InputError(f"{out} already holds a training run; use --resume to continue it or another --out")
    if ctx.active:
        dist.barrier()  # every rank has checked --out before rank 0 writes into it
    Xtr_t = torch.from_numpy(np.ascontiguousarray(Xtr))
    ytr_t = torch.from_numpy(np.array(ytr, dtype=np.float32))
    complete = not bool(np.isnan(ytr).any())  # every task labelled on every row: no mask needed in the loss
    best_state = None
    replica = _Replica(model, ctx)
    show_bar = verbose and sys.stderr.isatty()
    clock = _RunClock(steps, cfg.epochs - start) if verbose else None
    for epoch in range(start, cfg.epochs):
        if bad >= cfg.patience:
            break
        t0, c0 = time.time(), time.process_time()
        with torch.random.fork_rng(devices=[]), _synced_batchnorm(model, ctx):
            torch.manual_seed(_dropout_seed(cfg.seed, epoch, ctx.rank))
            gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + epoch)
            order = torch.from_numpy(np.random.default_rng([cfg.seed, epoch]).permutation(len(Xtr)))
            model.train()
            _apply_freezing(model, resolved, epoch)
            net = replica.net()
            total, seen = 0.0, 0
            bar = tqdm(range(steps), disable=not show_bar, desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch",
                       leave=False, file=sys.stderr)
            for b in bar:
                idx = order[b * cfg.batch_size:(b + 1) * cfg.batch_size]
                xb, yb, denom = _local_batch(Xtr_t, ytr_t, idx, cfg, gen, ctx, dev)
                opt.zero_grad(set_to_none=True)
                loss = _masked_loss(net(xb), yb, pos_weight, denom, complete=complete)
                if regularizer is not None:
                    loss = loss + regularizer(model, xb, gen)
                loss.backward()
                opt.step()
                sched.step()
                if ema is not None:
                    ema.update(model)
                total += float(loss.detach()) * len(idx) / ctx.world
                seen += len(idx)
                if b % 20 == 0:
                    bar.set_postfix(loss=f"{total * ctx.world / seen:.4f}")
                if clock is not None and clock.pending:
                    for line in clock.batch_done(b + 1):
                        tqdm.write(line, file=sys.stderr)
            bar.close()
            total = _allreduce_sum(total, ctx)
        with _averaged(ema, model):  # validation, early stopping and the saved best model: the EMA weights
            logits = _sharded_predict(predict, model, Xva, ctx, dev)
        vloss, m = None, None
        if ctx.is_main:
            with torch.no_grad():
                vloss = float(_masked_loss(torch.from_numpy(logits[:, mon]).to(dev),
                                           torch.from_numpy(yva[:, mon]).to(dev),
                                           None if pos_weight is None else pos_weight[mon]))
            m = binary_metrics(yva[:, mon], logits[:, mon])
        vloss, m = _from_main((vloss, m), ctx)
        row = {"epoch": epoch + 1, "train_loss": total / seen, "valid_loss": vloss, "valid_auroc": m["auroc"],
               "valid_auprc": m["auprc"], "valid_mcc": m["mcc"], "lr": opt.param_groups[0]["lr"],
               "seconds": time.time() - t0, "cpu_seconds": time.process_time() - c0}
        history.append(row)
        improved = m["auprc"] > best
        if improved:
            best, best_epoch, bad = m["auprc"], epoch + 1, 0
            model.card = model.card.replace(training={**training_info, "best_epoch": best_epoch},
                                            metrics={"valid": {k: row[k] for k in
                                                               ("valid_auroc", "valid_auprc", "valid_mcc")}})
            with _averaged(ema, model):
                if out is not None and ctx.is_main:
                    save_model(model, out)
                if out is None:  # with out_dir the best model is on disk, read back at the end
                    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            bad += 1
        if verbose:
            print(f"epoch {epoch + 1:3d}  train_loss {row['train_loss']:.4f}  valid_loss {vloss:.4f}  "
                  f"valid_auROC {m['auroc']:.4f}  valid_auPRC {m['auprc']:.4f}  lr {row['lr']:.2e}  "
                  f"{row['seconds']:.1f}s{'  *' if improved else ''}", file=sys.stderr, flush=True)
        if out is not None and ctx.is_main:
            _write_log(out / LOG, history)
            _save_checkpoint(out, model, opt, {"epoch": epoch, "best": best, "best_epoch": best_epoch, "bad": bad,
                                               "history": history, "config": cfg.to_dict(), "groups": groups_info,
                                               "data": fingerprint}, ema)
    for _, ps in resolved:
        for _, p in ps:
            p.requires_grad_(True)
    if best_epoch < 0:
        raise InputError("no epoch was trained (the checkpoint is already complete)")
    if ctx.active:
        dist.barrier()
    if out is not None and ctx.is_main:
        saved = load_model(out)
        model.load_state_dict(saved.state_dict())
        model.card = saved.card
    elif best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    best_row = history[best_epoch - 1]
    return FitResult(model=model, best_epoch=best_epoch, best_metrics=best_row, history=history)


def _test_entry(data) -> dict | None:
    """Provenance of the test split when training from one dataset that has one (the held-out data)."""
    if not isinstance(data, Dataset):  # arrays, separate sources: no held-out split to record
        return None
    test = data.table[data.table["split"] == "test"]
    return rows_entry(test) if len(test) else None


def _write_log(path: Path, history: list) -> None:
    with atomic_open(path, newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(history[0]))
        w.writeheader()
        w.writerows(history)
