"""Transfer learning: reuse a backbone pretrained on large cohorts for a small or under-represented one.

Modes (one :func:`finetune` call each; :func:`compare` runs several on the same cohort, split and seeds):

============  =================================================================================
``frozen``    the backbone frozen (no gradient, BatchNorm statistics and dropout in eval mode),
              a new head trained; ``head="linear"`` makes it a linear probe
``finetune``  a new head on the frozen backbone for ``head_epochs`` epochs, then every layer,
              the backbone at ``backbone_lr`` x the head's learning rate (discriminative learning
              rates); ``gradual=True`` unfreezes the backbone block by block, top block first
``scratch``   the same architecture from random weights on the small cohort alone (independent)
``mixture``   the same architecture from random weights, trained on the small cohort pooled with
              the backbone's source data in one multi-task model (masked loss: a row is labelled
              only for its own cohort's tasks); early stopping on the target tasks
``adapt``     ``finetune`` plus domain adaptation: a Deep CORAL penalty (Sun & Saenko 2016) that
              matches the mean and covariance of the backbone's features on target batches to
              those on source batches, so the few target examples cannot drag the shared features
              away from what the large cohort supports.  Chosen over CCSA (Gao & Cui 2020) because
              it needs no pairing of source and target examples by class, costs one extra forward
              pass per step, and works with a single target TF.
============  =================================================================================

The leakage guard (:func:`check_leakage`) compares the target's test data with the backbone's
training data before anything is trained: the same chromosomes of the same genome, or (without
coordinates) sequences found in the backbone's training sketch, give a
:class:`TransferLeakageWarning` naming the overlap (``strict=True``: an error).
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from seqconv.dataset import LABEL_PREFIX, Dataset, read_dataset
from seqconv.errors import InputError
from seqconv.evaluate import metrics_table
from seqconv.modelfile import resolve_backbone, resolve_model
from seqconv.models import Backbone, ModelCard, SeqModel, build_model
from seqconv.models.architectures import backbone_summary
from seqconv.predict import predict
from seqconv.provenance import genome_name, sketch_overlap
from seqconv.train import FitResult, ParamGroup, TrainConfig, fit

MODES = ("frozen", "finetune", "scratch", "mixture", "adapt")
HEADS = ("dense", "linear")


class TransferLeakageWarning(UserWarning):
    """The target's test data overlap the backbone's training data."""


@dataclass(frozen=True)
class TransferConfig:
    """How a backbone is reused (the training itself is a :class:`~seqconv.train.TrainConfig`).

    Attributes
    ----------
    mode : {"frozen", "finetune", "scratch", "mixture", "adapt"}
    head : {"dense", "linear"}
        ``dense``: the architecture's hidden layer + output; ``linear``: one linear layer (a probe).
    hidden : int, optional
        Hidden width of a dense head (default: the architecture's).
    head_epochs : int
        ``finetune`` / ``adapt``: epochs of head-only training on the frozen backbone first.
    backbone_lr : float
        ``finetune`` / ``adapt``: the backbone's learning rate as a fraction of the head's.
    gradual : bool
        ``finetune`` / ``adapt``: unfreeze the backbone one block per epoch, top block first.
    adapt_weight : float
        ``adapt``: weight of the CORAL penalty.
    source_max : int
        ``mixture`` / ``adapt``: at most this many source rows are used (a seeded subsample).
    """

    mode: str = "finetune"
    head: str = "dense"
    hidden: int | None = None
    head_epochs: int = 2
    backbone_lr: float = 0.1
    gradual: bool = False
    adapt_weight: float = 1.0
    source_max: int = 20000

    def __post_init__(self):
        if self.mode not in MODES:
            raise InputError(f"unknown transfer mode {self.mode!r}; choose one of {', '.join(MODES)}")
        if self.head not in HEADS:
            raise InputError(f"unknown head {self.head!r}; choose one of {', '.join(HEADS)}")
        if not (math.isfinite(self.backbone_lr) and 0 < self.backbone_lr <= 1):
            raise InputError(f"backbone_lr must be in (0, 1], got {self.backbone_lr}")
        if self.head_epochs < 0:
            raise InputError(f"head_epochs must be >= 0, got {self.head_epochs}")
        if not (math.isfinite(self.adapt_weight) and self.adapt_weight >= 0):
            raise InputError(f"adapt_weight must be >= 0, got {self.adapt_weight}")
        if self.source_max < 1:
            raise InputError(f"source_max must be >= 1, got {self.source_max}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------- checks


def _dataset(data, what: str) -> Dataset:
    if isinstance(data, Dataset):
        return data
    if data is None:
        raise InputError(f"no {what} dataset given")
    return read_dataset(data)


def check_compatible(backbone: Backbone, ds: Dataset, *, name: str = "the data") -> None:
    """The data's window width must equal the backbone's input width (a clear error naming both)."""
    if ds.width != backbone.input_length:
        raise InputError(f"{name} has {ds.width} bp windows but the backbone takes {backbone.input_length} bp; "
                         f"prepare the target with --width {backbone.input_length}")
    if not ds.tasks:
        raise InputError(f"{name} has no label columns")


def check_leakage(backbone: Backbone, ds: Dataset, *, strict: bool = False) -> list[str]:
    """Findings where the target's test data overlap the backbone's training (or validation) data.

    Chromosomes are compared when both come from a genome of the same file name; sequences
    (strand-canonical) are looked up in the backbone's training sketch (see
    :mod:`seqconv.provenance`).  Each finding is issued as a :class:`TransferLeakageWarning`;
    with ``strict`` the first one raises :class:`~seqconv.errors.InputError`.

    Returns
    -------
    list of str
        The findings (empty: no overlap found).
    """
    t = backbone.card.training or {}
    splits = t.get("splits") or {}
    test = ds.table[ds.table["split"] == "test"]
    findings = []
    if not len(test):
        return findings
    bb_genome, ds_genome = t.get("genome"), genome_name(ds)
    test_chroms = sorted({c for c in test["chrom"] if isinstance(c, str) and c})
    for role in ("train", "valid"):
        entry = splits.get(role) or {}
        seen = set(entry.get("chromosomes") or [])
        both = sorted(seen & set(test_chroms))
        if both and bb_genome and bb_genome == ds_genome:
            findings.append(f"the target's test chromosomes {both} were in the backbone's {role} data "
                            f"(genome {bb_genome}); its test metrics would be optimistic - prepare the target "
                            f"with the backbone's held-out chromosomes as test")
        elif both:
            findings.append(f"the target's test chromosomes {both} have the names of chromosomes in the backbone's "
                            f"{role} data (genomes {bb_genome or 'unknown'} / {ds_genome or 'unknown'}); if they are "
                            "the same assembly, its test metrics would be optimistic - hold out the backbone's "
                            "test chromosomes instead")
        sk = entry.get("sketch")
        if sk:
            ov = sketch_overlap(sk, test["sequence"].tolist())
            if ov["found"]:
                findings.append(f"about {ov['estimate']} of the target's {ov['n_query']} test sequences "
                                f"({ov['found']} sampled hash(es) at 1/{ov['mod']}) were in the backbone's {role} "
                                "data")
    for f in findings:
        if strict:
            raise InputError(f"leakage (--strict): {f}")
        warnings.warn(f"leakage: {f}", TransferLeakageWarning, stacklevel=2)
    return findings


# --------------------------------------------------------------------------- building blocks


def attach_head(backbone, tasks, *, head: str = "dense", hidden: int | None = None, seed: int = 0) -> SeqModel:
    """A model = the backbone (copied) + a new head for ``tasks`` (``head="linear"``: a linear probe)."""
    bb = resolve_backbone(backbone)
    return bb.attach_head(tasks, hidden=0 if head == "linear" else hidden, seed=seed)


def _trunk_blocks(model: SeqModel) -> list[str]:
    return [f"trunk.layers.{i}" for i, layer in enumerate(model.trunk.layers)
            if any(True for _ in layer.parameters())]


def param_groups(model: SeqModel, tcfg: TransferConfig, lr: float) -> list[ParamGroup] | None:
    """The named parameter groups of a transfer mode (``None``: every parameter at ``lr``)."""
    if tcfg.mode == "frozen":
        return [ParamGroup("backbone", ("trunk",), frozen=True), ParamGroup("head", ("head",), lr=lr)]
    if tcfg.mode in ("finetune", "adapt"):
        groups = [ParamGroup("head", ("head",), lr=lr)]
        blocks = _trunk_blocks(model)
        if tcfg.gradual:
            for k, name in enumerate(reversed(blocks)):  # top block first
                groups.append(ParamGroup(f"backbone.{name.rsplit('.', 1)[1]}", (name,), lr=lr * tcfg.backbone_lr,
                                         start_epoch=tcfg.head_epochs + k))
        else:
            groups.append(ParamGroup("backbone", ("trunk",), lr=lr * tcfg.backbone_lr, start_epoch=tcfg.head_epochs))
        return groups
    return None


def _subsample(ds: Dataset, n: int, seed: int) -> Dataset:
    if len(ds.table) <= n:
        return ds
    idx = np.sort(np.random.default_rng(seed).choice(len(ds.table), size=n, replace=False))
    return Dataset(ds.table.iloc[idx].reset_index(drop=True), ds.meta)


def pool(target: Dataset, source: Dataset, *, source_max: int = 20000, seed: int = 0) -> Dataset:
    """One multi-task dataset from two cohorts: each row labelled for its own cohort's tasks, -1 (unlabelled)
    for the other's.  Tasks in both cohorts keep both cohorts' labels.  The source is subsampled to
    ``source_max`` rows (seeded) and keeps its own splits."""
    if source.width != target.width:
        raise InputError(f"the source data have {source.width} bp windows, the target {target.width} bp")
    src = _subsample(source, source_max, seed)
    tasks = list(target.tasks) + [t for t in src.tasks if t not in target.tasks]
    cols = ["name", "chrom", "start", "end", "sequence", "kind", "split"]
    parts = []
    for part, tag in ((target, "target"), (src, "source")):
        t = part.table[cols].copy()
        t["name"] = tag + ":" + t["name"].astype(str)
        for task in tasks:
            c = LABEL_PREFIX + task
            t[c] = part.table[c].to_numpy(np.int8) if c in part.table else np.int8(-1)
        parts.append(t)
    meta = {**target.meta, "width": target.width, "name": f"{target.meta.get('name', 'target')}+source",
            "pooled": {"target": target.meta.get("name"), "source": source.meta.get("name"),
                       "source_rows": int(len(src.table))}}
    return Dataset(pd.concat(parts, ignore_index=True), meta)


class CoralPenalty:
    """Deep CORAL between the backbone's features on target batches and on source batches.

    ``penalty = weight * (||mean_s - mean_t||^2 + ||cov_s - cov_t||_F^2 / (4 d^2))`` over the
    pooled trunk features (``d`` of them), one random source batch per step.
    """

    def __init__(self, X_source: np.ndarray, *, weight: float = 1.0, batch_size: int = 128):
        self.X = torch.from_numpy(np.ascontiguousarray(X_source))
        self.weight = float(weight)
        self.batch_size = int(batch_size)

    def __call__(self, model, xb, gen):
        if self.weight == 0:
            return xb.new_zeros(())
        if self.batch_size >= len(self.X):
            xs = self.X.float().to(xb.device)
        else:
            idx = torch.randint(0, len(self.X), (self.batch_size,), generator=gen)
            xs = self.X[idx].float().to(xb.device)
        ft = model.trunk(xb).flatten(1)
        fs = model.trunk(xs).flatten(1)
        d = ft.shape[1]
        mean = (fs.mean(0) - ft.mean(0)).pow(2).sum()
        cs = torch.cov(fs.T) if len(fs) > 1 else torch.zeros(d, d, device=xb.device)
        ct = torch.cov(ft.T) if len(ft) > 1 else torch.zeros(d, d, device=xb.device)
        return self.weight * (mean + (cs - ct).pow(2).sum() / (4 * d * d))


# --------------------------------------------------------------------------- finetune


def finetune(backbone, data, *, mode: str | None = None, config: TrainConfig | None = None,
             transfer: TransferConfig | None = None, source=None, out_dir=None, resume: bool = False,
             strict: bool = False, device=None, verbose: bool = True) -> FitResult:
    """Train a model for the target cohort ``data`` from ``backbone`` in one transfer mode.

    Parameters
    ----------
    backbone : Backbone, backbone directory or bundled backbone name
    data : Dataset or path
        The target cohort with ``train``, ``valid`` (and usually ``test``) splits; its window width
        must be the backbone's input width.
    mode : str, optional
        Overrides ``transfer.mode`` (see the module docstring).
    config : TrainConfig
        Epochs, batch size, the head's learning rate, early stopping, seed ...
    transfer : TransferConfig
    source : Dataset or path, optional
        The backbone's source data (needed by ``mixture`` and ``adapt``).
    out_dir : path, optional
        Model directory written as by ``seqconv train`` (with ``train_log.csv`` and checkpoints).
    resume : bool
    strict : bool
        Overlap of the target's test data with the backbone's training data is an error
        instead of a :class:`TransferLeakageWarning`.
    device : str, optional
        ``None`` = CPU.
    verbose : bool

    Returns
    -------
    FitResult
        ``result.model`` is an ordinary :class:`~seqconv.models.SeqModel` whose card records the
        backbone, mode and both cohorts (``card.transfer``).
    """
    bb = resolve_backbone(backbone)
    tcfg = transfer or TransferConfig()
    if mode is not None:
        tcfg = dataclasses.replace(tcfg, mode=mode)
    cfg = config or TrainConfig()
    ds = _dataset(data, "target")
    check_compatible(bb, ds, name=f"the target data ({ds.meta.get('name') or data})")
    leaks = check_leakage(bb, ds, strict=strict)
    target_tasks = list(ds.tasks)
    src = None
    if tcfg.mode in ("mixture", "adapt"):
        if source is None:
            raise InputError(f"mode {tcfg.mode!r} needs the backbone's source data (--source DATASET)")
        src = _dataset(source, "source")
        check_compatible(bb, src, name=f"the source data ({src.meta.get('name') or source})")
    hidden = 0 if tcfg.head == "linear" else tcfg.hidden
    regularizer, monitor, train_data = None, None, ds
    if tcfg.mode in ("scratch", "mixture"):
        tasks = target_tasks + ([t for t in src.tasks if t not in target_tasks] if tcfg.mode == "mixture" else [])
        changes = {"n_tasks": len(tasks)}
        if hidden is not None:
            changes["hidden"] = hidden
        card = ModelCard(tasks=tasks, strand=bb.card.strand, encoding=bb.card.encoding, negatives=bb.card.negatives)
        model = build_model(bb.config.replace(**changes), seed=cfg.seed, card=card)
        if tcfg.mode == "mixture":
            train_data = pool(ds, src, source_max=tcfg.source_max, seed=cfg.seed)
            monitor = target_tasks
    else:
        model = bb.attach_head(target_tasks, hidden=hidden, seed=cfg.seed)
        if tcfg.mode == "adapt":
            sub = _subsample(src.subset("train"), tcfg.source_max, cfg.seed)
            regularizer = CoralPenalty(sub.X(iupac=bb.encoding["iupac"]), weight=tcfg.adapt_weight,
                                       batch_size=cfg.batch_size)
    groups = param_groups(model, tcfg, cfg.lr)
    model.card = model.card.replace(transfer={
        "mode": tcfg.mode, "config": tcfg.to_dict(), "backbone": backbone_summary(bb.card),
        "target": {"name": ds.meta.get("name"), "tasks": target_tasks,
                   "n": {s: int((ds.table["split"] == s).sum()) for s in ("train", "valid", "test")}},
        "source": None if src is None else {"name": src.meta.get("name"), "tasks": list(src.tasks)},
        "leakage": leaks})
    return fit(model, train_data, config=cfg, groups=groups, out_dir=out_dir, resume=resume, device=device,
               verbose=verbose, monitor=monitor, regularizer=regularizer, card_extra={"transfer_mode": tcfg.mode})


def target_view(model: SeqModel, tasks) -> SeqModel:
    """``model`` restricted to some of its outputs (e.g. the target tasks of a ``mixture`` model)."""
    import copy

    idx = [model.tasks.index(t) for t in tasks]
    if idx == list(range(model.n_tasks)):
        return model
    m = copy.deepcopy(model)
    out = m.head.output
    lin = torch.nn.Linear(out.in_features, len(idx))
    with torch.no_grad():
        lin.weight.copy_(out.weight[idx])
        lin.bias.copy_(out.bias[idx])
    m.head.net[-1] = lin
    m.head.n_tasks = len(idx)
    m.config = m.config.replace(n_tasks=len(idx))
    m.card = m.card.replace(tasks=list(tasks))
    return m


# --------------------------------------------------------------------------- compare


def compare(backbone, data, *, modes=("scratch", "frozen", "finetune"), seeds=(0, 1, 2),
            config: TrainConfig | None = None, transfer: TransferConfig | None = None, source=None,
            n_boot: int = 200, strict: bool = False, device=None, verbose: bool = False) -> pd.DataFrame:
    """Run several transfer modes on the same target cohort, split and seeds; test metrics per run.

    Returns
    -------
    DataFrame
        One row per (mode, seed, task): ``mode, seed, TF, n_test, auroc, auroc_lo, auroc_hi, auprc,
        auprc_lo, auprc_hi, mcc, best_epoch, epochs_run, cpu_seconds``; see :func:`summarise`.
    """
    bb = resolve_backbone(backbone)
    ds = _dataset(data, "target")
    check_compatible(bb, ds, name="the target data")
    bad = [m for m in modes if m not in MODES]
    if bad:
        raise InputError(f"unknown transfer mode(s) {bad}; choose from {', '.join(MODES)}")
    test = ds.subset("test")
    if not len(test.table):
        raise InputError("the target data have no test rows; compare needs a held-out test split")
    check_leakage(bb, ds, strict=strict)
    cfg = config or TrainConfig()
    tcfg = transfer or TransferConfig()
    Xte, yte = test.X(iupac=bb.encoding["iupac"]), test.y()
    rows = []
    for mode in modes:
        for seed in seeds:
            c0 = time.process_time()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", TransferLeakageWarning)  # reported once above
                res = finetune(bb, ds, mode=mode, config=dataclasses.replace(cfg, seed=int(seed)),
                               transfer=tcfg, source=source, device=device, verbose=False)
            cpu = time.process_time() - c0
            model = target_view(res.model, ds.tasks)
            logits = predict(model, Xte, device=device)
            table = metrics_table(yte, logits, ds.tasks, n_boot=n_boot, seed=int(seed))
            for r in table.to_dict("records"):
                rows.append({"mode": mode, "seed": int(seed), "TF": r["TF"], "n_test": r["n"],
                             **{k: r[k] for k in ("auroc", "auroc_lo", "auroc_hi", "auprc", "auprc_lo", "auprc_hi",
                                                  "mcc")},
                             "best_epoch": res.best_epoch, "epochs_run": len(res.history), "cpu_seconds": cpu})
            if verbose:
                print(f"{mode:9s} seed {seed}: test auROC {table['auroc'].mean():.4f} auPRC "
                      f"{table['auprc'].mean():.4f}  best epoch {res.best_epoch}  {cpu:.0f} CPU-s", flush=True)
    return pd.DataFrame(rows)


def summarise(runs: pd.DataFrame, *, baseline: str = "scratch") -> pd.DataFrame:
    """Mean +- sd per mode, and the paired difference to ``baseline`` with a 95% t-interval over seeds."""
    from scipy import stats

    per = runs.groupby(["mode", "seed"], sort=False)[["auroc", "auprc", "best_epoch", "cpu_seconds"]].mean()
    out = []
    for mode, g in per.groupby(level=0, sort=False):
        row = {"mode": mode, "n_seeds": len(g)}
        for k in ("auroc", "auprc"):
            row[f"{k}_mean"], row[f"{k}_sd"] = g[k].mean(), g[k].std(ddof=1) if len(g) > 1 else float("nan")
        row["best_epoch_mean"], row["cpu_seconds_mean"] = g["best_epoch"].mean(), g["cpu_seconds"].mean()
        if baseline in per.index.get_level_values(0) and mode != baseline:
            base = per.loc[baseline]
            common = g.droplevel(0).index.intersection(base.index)
            for k in ("auroc", "auprc"):
                d = g.droplevel(0).loc[common, k] - base.loc[common, k]
                row[f"d_{k}"] = d.mean()
                if len(d) > 1 and d.std(ddof=1) > 0:
                    h = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))
                    row[f"d_{k}_lo"], row[f"d_{k}_hi"] = d.mean() - h, d.mean() + h
                else:
                    row[f"d_{k}_lo"] = row[f"d_{k}_hi"] = d.mean() if len(d) else float("nan")
        out.append(row)
    return pd.DataFrame(out)


def plot_compare(runs: pd.DataFrame, path, *, title: str = "") -> Path:
    """Test auROC and auPRC per mode (one dot per seed, bar = mean) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from seqconv.figures import save_png

    per = runs.groupby(["mode", "seed"], sort=False)[["auroc", "auprc"]].mean().reset_index()
    modes = list(dict.fromkeys(per["mode"]))
    fig, axes = plt.subplots(1, 2, figsize=(3 + 1.1 * len(modes), 3.6))
    for ax, k in zip(axes, ("auroc", "auprc")):
        for i, m in enumerate(modes):
            v = per.loc[per["mode"] == m, k].to_numpy()
            ax.bar(i, v.mean(), color="#9ecae1", width=0.6)
            ax.scatter(np.full(len(v), i), v, color="#08519c", s=14, zorder=3)
        ax.set_xticks(range(len(modes)), modes, rotation=30)
        ax.set_ylabel(f"test {'auROC' if k == 'auroc' else 'auPRC'}")
        lo = max(0.0, per[k].min() - 0.05)
        ax.set_ylim(lo, min(1.0, per[k].max() + 0.03))
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save_png(fig, path, dpi=110)


def resolve_start(backbone=None, from_model=None) -> Backbone:
    """The backbone to start from: a backbone (name or directory), or the trunk of a trained model."""
    if (backbone is None) == (from_model is None):
        raise InputError("give exactly one of --backbone (a backbone) or --from-model (a trained model)")
    if backbone is not None:
        return resolve_backbone(backbone)
    return resolve_model(from_model).backbone()
