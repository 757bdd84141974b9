"""Training: AdamW, class-weighted BCE, warm-up + cosine schedule, early stopping on validation auPRC.

Checkpoints are data, not pickles: each epoch writes ``checkpoint/last.safetensors``
(model weights + AdamW moments) and ``checkpoint/last.json`` (epoch, history,
early-stopping state, configs) into the output directory; the best model so far is
the model directory itself (``model.safetensors`` + ``model.json``).  Every random
choice of epoch ``e`` (shuffle order, reverse-complement flips, shifts, dropout)
is drawn from generators seeded with ``(seed, e)``, so a run resumed after epoch
``e`` ends with exactly the weights of an uninterrupted one, and the same seed
gives the same weights on CPU.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from seqconv.errors import InputError
from seqconv.fileio import atomic_open, atomic_path

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

    def __post_init__(self):
        if self.schedule not in ("cosine", "constant"):
            raise ValueError(f"schedule must be 'cosine' or 'constant', got {self.schedule!r}")
        if self.class_weight not in ("balanced", "none"):
            raise ValueError(f"class_weight must be 'balanced' or 'none', got {self.class_weight!r}")
        if self.epochs < 1 or self.batch_size < 1 or self.max_shift < 0:
            raise ValueError("epochs and batch_size must be >= 1 and max_shift >= 0")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class FitResult:
    """What :func:`fit` returns: the best model (weights loaded), its epoch and validation metrics, the log."""

    model: nn.Module
    best_epoch: int
    best_metrics: dict
    history: list  #: one dict per epoch: losses, valid metrics, lr, ``seconds`` (wall) and ``cpu_seconds`` (process CPU)


def augment(x: torch.Tensor, *, rc: bool, max_shift: int, gen: torch.Generator) -> torch.Tensor:
    """Random reverse complement (p = 1/2) and shift by up to ``max_shift`` bp (N-padded) of a batch ``(N, 4, L)``."""
    n, _, length = x.shape
    if max_shift:
        shifts = torch.randint(-max_shift, max_shift + 1, (n,), generator=gen)
        pad = nn.functional.pad(x, (max_shift, max_shift))
        idx = (torch.arange(length)[None, :] + max_shift - shifts[:, None]).clamp(0, length + 2 * max_shift - 1)
        x = pad.gather(2, idx[:, None, :].expand(n, 4, length))
    if rc:
        flip = torch.rand(n, generator=gen) < 0.5
        x = torch.where(flip[:, None, None], x.flip(1).flip(2), x)
    return x


def _lr_factor(cfg: TrainConfig, step: int, steps_per_epoch: int) -> float:
    if cfg.schedule == "constant":
        return 1.0
    warm = max(1, int(cfg.warmup_epochs * steps_per_epoch))
    total = max(warm + 1, cfg.epochs * steps_per_epoch)
    if step < warm:
        return (step + 1) / warm
    return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / (total - warm))))


def _optim_tensors(opt: torch.optim.Optimizer) -> tuple[dict, dict]:
    sd = opt.state_dict()
    tensors = {}
    for idx, st in sd["state"].items():
        for k, v in st.items():
            t = v if torch.is_tensor(v) else torch.tensor(float(v))
            tensors[f"optim.{idx}.{k}"] = t.detach().reshape(-1).contiguous().clone()
    groups = [{k: v for k, v in g.items()} for g in sd["param_groups"]]
    return tensors, {"param_groups": groups}


def _save_checkpoint(out: Path, model, opt, state: dict) -> None:
    from safetensors.torch import save_file

    ck = out / CKPT_DIR
    ck.mkdir(parents=True, exist_ok=True)
    otensors, ometa = _optim_tensors(opt)
    tensors = {f"model.{k}": v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    tensors.update(otensors)
    with atomic_path(ck / "last.safetensors", suffix=".safetensors") as tmp:
        save_file(tensors, str(tmp))
    with atomic_open(ck / "last.json") as fh:
        json.dump({**state, "optimizer": ometa}, fh, indent=1)


def _load_checkpoint(out: Path, model, opt) -> dict:
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
    params = [p for p in model.parameters()]
    state_t = {}
    for key, t in tensors.items():
        if key.startswith("optim."):
            _, idx, k = key.split(".", 2)
            state_t.setdefault(int(idx), {})[k] = t.reshape(()) if k == "step" else t.reshape(params[int(idx)].shape)
    opt.load_state_dict({"state": state_t, "param_groups": state["optimizer"]["param_groups"]})
    return state


def _train_split(ds, split):
    sub = ds.subset(split)
    if len(sub.table) == 0:
        raise InputError(f"the dataset has no {split!r} rows; training needs 'train' and 'valid' splits")
    return sub.X(), sub.y()


def fit(model, dataset, *, config: TrainConfig | None = None, out_dir=None, resume: bool = False,
        device=None, verbose: bool = True, card_extra: dict | None = None) -> FitResult:
    """Train ``model`` on the ``train`` split of ``dataset``; early-stop on the ``valid`` split's auPRC.

    Parameters
    ----------
    model : SeqModel
        Its ``n_tasks`` and ``input_length`` must match the dataset (T tasks, L bp).
    dataset : seqconv.dataset.Dataset or path
        ``X : (N, 4, L)`` uint8 is kept at rest; float32 batches are made on the fly.
    config : TrainConfig
    out_dir : path, optional
        Writes the best model (``model.safetensors`` + ``model.json``), ``train_log.csv``
        and a checkpoint each epoch.  Without it nothing is written.
    resume : bool
        Continue from ``out_dir/checkpoint`` (same config required).
    device : str, optional
    verbose : bool
        Progress bar and one metrics line per epoch on stderr.
    card_extra : dict, optional
        Extra ``training`` fields for the saved model card.

    Returns
    -------
    FitResult
        ``model`` holds the best epoch's weights.
    """
    from tqdm.auto import tqdm

    from seqconv.dataset import Dataset, read_dataset
    from seqconv.evaluate import binary_metrics
    from seqconv.modelfile import save_model
    from seqconv.predict import predict, resolve_device

    cfg = config or TrainConfig()
    ds = dataset if isinstance(dataset, Dataset) else read_dataset(dataset)
    if ds.width != model.input_length:
        raise InputError(f"dataset windows are {ds.width} bp but the model takes {model.input_length} bp")
    if len(ds.tasks) != model.n_tasks:
        raise InputError(f"dataset has {len(ds.tasks)} task(s) {ds.tasks}, the model {model.n_tasks} output(s)")
    dev = resolve_device(device)
    Xtr, ytr = _train_split(ds, "train")
    Xva, yva = _train_split(ds, "valid")
    npos = ytr.sum(0)
    if (npos == 0).any():
        raise InputError(f"no training positives for task(s) {[t for t, n in zip(ds.tasks, npos) if n == 0]}")
    pos_weight = None
    if cfg.class_weight == "balanced":
        pos_weight = torch.tensor((len(ytr) - npos) / npos, dtype=torch.float32, device=dev)
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    model = model.to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = math.ceil(len(Xtr) / cfg.batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _lr_factor(cfg, s, steps))
    out = Path(out_dir) if out_dir is not None else None
    training_info = {"dataset": str(dataset) if not isinstance(dataset, Dataset) else ds.meta.get("name", ""),
                     "dataset_meta": {k: ds.meta.get(k) for k in ("name", "split", "sources", "seed") if k in ds.meta},
                     "split": ds.meta.get("split"),
                     "train_chromosomes": (ds.meta.get("split") or {}).get("train")
                     or sorted(c for c in set(ds.subset("train").table["chrom"]) if c),
                     "n_train": int(len(Xtr)), "n_valid": int(len(Xva)), "config": cfg.to_dict(),
                     **(card_extra or {})}
    start, best, best_epoch, bad, history = 0, -1.0, -1, 0, []
    if resume:
        if out is None:
            raise InputError("--resume needs the output directory of the interrupted run")
        state = _load_checkpoint(out, model, opt)
        if state["config"] != cfg.to_dict():
            raise InputError(f"--resume: the checkpoint was made with a different training config {state['config']}")
        start, best, best_epoch, bad, history = (state["epoch"] + 1, state["best"], state["best_epoch"],
                                                 state["bad"], state["history"])
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _lr_factor(cfg, s, steps),
                                                  last_epoch=start * steps - 1)
    elif out is not None and (out / CKPT_DIR / "last.json").exists():
        raise InputError(f"{out} already holds a training run; use --resume to continue it or another --out")
    Xtr_t = torch.from_numpy(np.ascontiguousarray(Xtr))
    ytr_t = torch.from_numpy(np.array(ytr, dtype=np.float32))
    for epoch in range(start, cfg.epochs):
        if bad >= cfg.patience:
            break
        t0, c0 = time.time(), time.process_time()
        torch.manual_seed(cfg.seed * 100_003 + epoch)
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + epoch)
        order = torch.from_numpy(np.random.default_rng([cfg.seed, epoch]).permutation(len(Xtr)))
        model.train()
        total, seen = 0.0, 0
        bar = tqdm(range(steps), disable=not verbose, desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch",
                   leave=False, file=sys.stderr)
        for b in bar:
            idx = order[b * cfg.batch_size:(b + 1) * cfg.batch_size]
            xb = augment(Xtr_t[idx].float(), rc=cfg.rc_augment, max_shift=cfg.max_shift, gen=gen).to(dev)
            yb = ytr_t[idx].to(dev)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
            seen += len(idx)
            if b % 20 == 0:
                bar.set_postfix(loss=f"{total / seen:.4f}")
        bar.close()
        logits = predict(model, Xva, batch_size=512, device=dev, strand="both")
        with torch.no_grad():
            vloss = float(nn.BCEWithLogitsLoss(pos_weight=pos_weight)(
                torch.from_numpy(logits).to(dev), torch.tensor(yva, device=dev)))
        m = binary_metrics(yva, logits)
        row = {"epoch": epoch + 1, "train_loss": total / seen, "valid_loss": vloss, "valid_auroc": m["auroc"],
               "valid_auprc": m["auprc"], "valid_mcc": m["mcc"], "lr": opt.param_groups[0]["lr"],
               "seconds": time.time() - t0, "cpu_seconds": time.process_time() - c0}
        history.append(row)
        improved = m["auprc"] > best
        if improved:
            best, best_epoch, bad = m["auprc"], epoch + 1, 0
            if out is not None:
                save_model(model, out, tasks=ds.tasks, training={**training_info, "best_epoch": best_epoch},
                           metrics={"valid": {k: row[k] for k in ("valid_auroc", "valid_auprc", "valid_mcc")}})
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            bad += 1
        if verbose:
            print(f"epoch {epoch + 1:3d}  train_loss {row['train_loss']:.4f}  valid_loss {vloss:.4f}  "
                  f"valid_auROC {m['auroc']:.4f}  valid_auPRC {m['auprc']:.4f}  lr {row['lr']:.2e}  "
                  f"{row['seconds']:.1f}s{'  *' if improved else ''}", file=sys.stderr)
        if out is not None:
            _write_log(out / LOG, history)
            _save_checkpoint(out, model, opt, {"epoch": epoch, "best": best, "best_epoch": best_epoch, "bad": bad,
                                               "history": history, "config": cfg.to_dict()})
    if best_epoch < 0:
        raise InputError("no epoch was trained (the checkpoint is already complete)")
    if out is not None:
        from seqconv.modelfile import load_model

        model.load_state_dict(load_model(out)[0].state_dict())
    elif "best_state" in locals():
        model.load_state_dict(best_state)
    model.eval()
    best_row = history[best_epoch - 1]
    return FitResult(model=model, best_epoch=best_epoch, best_metrics=best_row, history=history)


def _write_log(path: Path, history: list) -> None:
    with atomic_open(path, newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(history[0]))
        w.writeheader()
        w.writerows(history)
