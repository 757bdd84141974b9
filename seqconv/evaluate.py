"""Held-out metrics: auROC, auPRC (with bootstrap 95% intervals) and MCC per TF; ROC/PR curve plots."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from seqconv.errors import InputError
from seqconv.figures import save_png


def _check(y: np.ndarray, score: np.ndarray):
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    score = np.asarray(score, dtype=np.float64).reshape(-1)
    if y.shape != score.shape:
        raise ValueError(f"labels {y.shape} and scores {score.shape} differ in shape")
    return y, score


def auroc(y, score) -> float:
    """Area under the ROC curve (NaN when only one class is present)."""
    from sklearn.metrics import roc_auc_score

    y, score = _check(y, score)
    return float(roc_auc_score(y, score)) if 0 < y.sum() < len(y) else float("nan")


def auprc(y, score) -> float:
    """Area under the precision-recall curve (average precision; NaN without positives)."""
    from sklearn.metrics import average_precision_score

    y, score = _check(y, score)
    return float(average_precision_score(y, score)) if y.sum() > 0 else float("nan")


def mcc(y, score, threshold: float = 0.0) -> float:
    """Matthews correlation of ``score > threshold`` (logits: 0 = probability 0.5)."""
    from sklearn.metrics import matthews_corrcoef

    y, score = _check(y, score)
    return float(matthews_corrcoef(y.astype(int), (score > threshold).astype(int)))


def binary_metrics(y, logits) -> dict:
    """``{"auroc", "auprc", "mcc"}`` per task and their means over tasks.

    Parameters
    ----------
    y : (N, T) labels 0/1, NaN where a row is unlabelled for a task (left out)
    logits : (N, T) scores (logits; MCC thresholds them at 0)

    Returns
    -------
    dict with ``auroc``, ``auprc``, ``mcc`` (means over tasks with both classes; a task with one
    class among its labelled rows gets NaN for all three) and ``per_task`` = list of dicts.
    """
    y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    logits = np.asarray(logits).reshape(len(logits), -1)
    per = []
    for t in range(y.shape[1]):
        keep = ~np.isnan(y[:, t])
        yt, st = y[keep, t], logits[keep, t]
        if 0 < yt.sum() < len(yt):
            per.append({"auroc": auroc(yt, st), "auprc": auprc(yt, st), "mcc": mcc(yt, st)})
        else:
            per.append({"auroc": float("nan"), "auprc": float("nan"), "mcc": float("nan")})
    out = {k: float(np.nanmean([p[k] for p in per])) if any(np.isfinite(p[k]) for p in per) else float("nan")
           for k in ("auroc", "auprc", "mcc")}
    out["per_task"] = per
    return out


def _boot_auc(y: np.ndarray, s: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised auROC and average precision for each bootstrap row of indices ``idx`` (B, n).

    Ties are handled as in scikit-learn: a tie group of scores is one threshold (auROC
    counts a tied positive/negative pair as 1/2).
    """
    yb, sb = y[idx], s[idx]
    order = np.argsort(-sb, axis=1, kind="stable")
    ys = np.take_along_axis(yb, order, axis=1)
    ss = np.take_along_axis(sb, order, axis=1)
    b, n = ys.shape
    pos = np.arange(n)[None, :].repeat(b, 0)
    last = np.ones((b, n), dtype=bool)
    last[:, :-1] = ss[:, :-1] != ss[:, 1:]
    first = np.ones((b, n), dtype=bool)
    first[:, 1:] = last[:, :-1]
    g_end = np.minimum.accumulate(np.where(last, pos, n)[:, ::-1], axis=1)[:, ::-1]
    g_start = np.maximum.accumulate(np.where(first, pos, -1), axis=1)
    cum_pos = np.cumsum(ys, axis=1)
    npos = cum_pos[:, -1]
    nneg = n - npos
    pos_end = np.take_along_axis(cum_pos, g_end, axis=1)
    pos_before = np.where(g_start > 0, np.take_along_axis(cum_pos, np.maximum(g_start - 1, 0), axis=1), 0)
    above = pos_before + 0.5 * (pos_end - pos_before)  # positives ranked above a negative, ties count 1/2
    roc = ((1 - ys) * above).sum(axis=1) / np.maximum(npos * nneg, 1)
    prec = pos_end / (g_end + 1)
    ap = (prec * ys).sum(axis=1) / np.maximum(npos, 1)
    ok = (npos > 0) & (nneg > 0)
    return np.where(ok, roc, np.nan), np.where(npos > 0, ap, np.nan)


def bootstrap_ci(y, score, *, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> dict:
    """Percentile bootstrap intervals of auROC and auPRC.

    Returns
    -------
    dict ``auroc_lo, auroc_hi, auprc_lo, auprc_hi`` (NaN with ``n_boot=0``: no intervals asked for)
    """
    y, score = _check(y, score)
    if n_boot == 0:
        return {"auroc_lo": np.nan, "auroc_hi": np.nan, "auprc_lo": np.nan, "auprc_hi": np.nan}
    rng = np.random.default_rng(seed)
    rocs, aps = [], []
    step = max(1, 2_000_000 // max(len(y), 1))
    for i in range(0, n_boot, step):
        idx = rng.integers(0, len(y), size=(min(step, n_boot - i), len(y)))
        r, a = _boot_auc(y, score, idx)
        rocs.append(r)
        aps.append(a)
    rocs, aps = np.concatenate(rocs), np.concatenate(aps)
    q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
    lo_r, hi_r = np.nanpercentile(rocs, q) if np.isfinite(rocs).any() else (np.nan, np.nan)
    lo_a, hi_a = np.nanpercentile(aps, q) if np.isfinite(aps).any() else (np.nan, np.nan)
    return {"auroc_lo": float(lo_r), "auroc_hi": float(hi_r), "auprc_lo": float(lo_a), "auprc_hi": float(hi_a)}


def metrics_table(y, logits, tasks, *, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """One row per TF: n_pos, n_neg, auroc [lo, hi], auprc [lo, hi], mcc.

    Parameters
    ----------
    y : (N, T) labels
    logits : (N, T) scores
    tasks : sequence of str, length T
    """
    y = np.asarray(y).reshape(len(y), -1)
    logits = np.asarray(logits).reshape(len(logits), -1)
    rows = []
    for t, name in enumerate(tasks):
        keep = ~np.isnan(y[:, t].astype(np.float64))  # unlabelled rows (pooled cohorts) are left out
        yt, st = y[keep, t], logits[keep, t]
        row = {"TF": name, "n": len(yt), "n_pos": int(yt.sum()), "n_neg": int(len(yt) - yt.sum()),
               "auroc": auroc(yt, st), "auprc": auprc(yt, st), "mcc": mcc(yt, st)}
        row.update(bootstrap_ci(yt, st, n_boot=n_boot, seed=seed + t))
        rows.append(row)
    cols = ["TF", "n", "n_pos", "n_neg", "auroc", "auroc_lo", "auroc_hi", "auprc", "auprc_lo", "auprc_hi", "mcc"]
    return pd.DataFrame(rows)[cols]


def evaluate(model, dataset, *, split: str = "test", n_boot: int = 1000, seed: int = 0, batch_size: int = 256,
             device=None, strand: str | None = None, verbose: bool = False):
    """Metrics of ``model`` on one split of ``dataset`` (held-out chromosomes: ``test``).

    Parameters
    ----------
    model : SeqModel, model directory or bundled model name
        Tasks, input width, strand and encoding come from the model's card.
    dataset : seqconv.dataset.Dataset or path to a dataset file
    split : {"test", "valid", "train"}
    n_boot : int
        Bootstrap resamples for the 95% intervals.
    seed : int
        Bootstrap seed.

    Returns
    -------
    table : DataFrame (see :func:`metrics_table`)
    y : (N, T) labels, logits : (N, T) scores  (for the curves)
    """
    from seqconv.dataset import Dataset, read_dataset
    from seqconv.modelfile import resolve_model
    from seqconv.predict import predict

    model = resolve_model(model)
    ds = dataset if isinstance(dataset, Dataset) else read_dataset(dataset)
    tasks = list(model.tasks)
    missing = [t for t in tasks if t not in ds.tasks]
    if missing:
        raise InputError(f"the dataset has no labels for the model's TF(s) {missing}; it has {ds.tasks}")
    sub = ds.subset(split)
    if len(sub.table) == 0:
        raise InputError(f"the dataset has no {split!r} rows")
    if sub.width != model.input_length:
        raise InputError(f"dataset windows are {sub.width} bp but the model takes {model.input_length} bp")
    X = sub.X(iupac=model.encoding["iupac"])
    y = sub.y()[:, [sub.tasks.index(t) for t in tasks]]
    logits = predict(model, X, batch_size=batch_size, device=device, strand=strand or model.strand, verbose=verbose)
    return metrics_table(y, logits, tasks, n_boot=n_boot, seed=seed), y, logits


def record_test_metrics(model, dataset, *, n_boot: int = 200, seed: int = 0, device=None, path=None):
    """Evaluate ``model`` on the test split of ``dataset`` (when it has one), store the table in
    ``model.card.metrics["test"]`` and, with ``path``, rewrite that model directory's card.

    Returns
    -------
    DataFrame or None
        The metrics table (see :func:`metrics_table`); ``None`` without test rows.
    """
    from seqconv.dataset import Dataset, read_dataset
    from seqconv.modelfile import write_card

    ds = dataset if isinstance(dataset, Dataset) else read_dataset(dataset)
    if not (ds.table["split"] == "test").any():
        return None
    table, _, _ = evaluate(model, ds, split="test", n_boot=n_boot, seed=seed, device=device)
    model.card = model.card.replace(metrics={**model.card.metrics,
                                             "test": json.loads(table.to_json(orient="records"))})
    if path is not None:
        write_card(model, path)
    return table


def write_report(table: pd.DataFrame, y, logits, out_dir, *, info: dict | None = None, plots: bool = True,
                 scores: pd.DataFrame | None = None, inputs=()) -> list[Path]:
    """Write ``metrics.tsv``, ``metrics.json``, ``roc.png`` / ``pr.png`` (and ``scores.tsv``) into ``out_dir``.

    The files are built in a temporary folder and appear together (a failure leaves none of them).
    ``scores``: per-sequence predictions (one row per sequence, see :func:`score_table`).
    """
    from seqconv.fileio import atomic_dir

    out = Path(out_dir)
    names = ["metrics.tsv", "metrics.json"]
    with atomic_dir(out, inputs=inputs) as tmp:
        table.to_csv(tmp / "metrics.tsv", sep="\t", index=False, float_format="%.4f")
        with open(tmp / "metrics.json", "w") as fh:
            json.dump({**(info or {}), "metrics": json.loads(table.to_json(orient="records"))}, fh, indent=2)
        if scores is not None:
            scores.to_csv(tmp / "scores.tsv", sep="\t", index=False, float_format="%.6g")
            names.append("scores.tsv")
        if plots:
            names += [p.name for p in plot_curves(y, logits, list(table["TF"]), tmp)]
    return [out / n for n in names]


def score_table(names, y, logits, tasks) -> pd.DataFrame:
    """Per-sequence predictions: ``name``, then per TF ``label:<TF>``, ``score:<TF>`` (logit), ``probability:<TF>``."""
    cols = {"name": list(names)}
    for t, task in enumerate(tasks):
        cols[f"label:{task}"] = y[:, t]
        cols[f"score:{task}"] = logits[:, t]
        cols[f"probability:{task}"] = 1.0 / (1.0 + np.exp(-logits[:, t].astype(np.float64)))
    return pd.DataFrame(cols)


def plot_curves(y, logits, tasks, out_dir) -> list[Path]:
    """ROC and precision-recall curves, one line per TF: ``roc.png`` and ``pr.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve, roc_curve

    paths = []
    for kind in ("roc", "pr"):
        fig, ax = plt.subplots(figsize=(5, 5))
        for t, name in enumerate(tasks):
            yt, st = y[:, t], logits[:, t]
            if not 0 < yt.sum() < len(yt):
                continue
            if kind == "roc":
                a, b, _ = roc_curve(yt, st)
                ax.plot(a, b, label=f"{name} ({auroc(yt, st):.3f})")
            else:
                p, r, _ = precision_recall_curve(yt, st)
                ax.plot(r, p, label=f"{name} ({auprc(yt, st):.3f})")
        if kind == "roc":
            ax.plot([0, 1], [0, 1], "k:", lw=0.8)
            ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
        else:
            ax.set(xlabel="recall", ylabel="precision", title="precision-recall")
        ax.legend(fontsize=7, loc="lower right" if kind == "roc" else "lower left")
        fig.tight_layout()
        paths.append(save_png(fig, Path(out_dir) / f"{kind}.png", dpi=110))
    return paths
