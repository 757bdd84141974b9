"""Accuracy on the GUE TF tasks (DNABERT-2 benchmark) for each seqconv architecture, next to published figures.

    python benchmarks/accuracy.py [--tasks tf_0 ... tf_4] [--archs deepbind basset resnet] [--seeds 0 1 2]

For each task x architecture x seed: train on GUE ``train`` (CPU, ``--threads``; max 15 epochs,
early stopping on ``dev`` auPRC, patience 4), then score the GUE ``test`` set (strand-averaged).
MCC is at probability 0.5 (as DNABERT-2's argmax); "MCC@dev-thr" uses the threshold that
maximises MCC on ``dev`` (chosen without looking at test).  GUE has no coordinates, so the
given train/dev/test split is used (no chromosome hold-out is possible).

Each finished run is appended to ``benchmarks/results/accuracy_runs.jsonl`` and skipped when the
script is run again, so the benchmark can be run in pieces; ``benchmarks/results/accuracy.md``
is rewritten from all runs every time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "pipelines"))
sys.path.insert(0, str(HERE))

# DNABERT-2 paper (Zhou et al. ICLR 2024) Table 4, test MCC x 100
DNABERT2_MCC = {"tf_0": 71.99, "tf_1": 76.06, "tf_2": 66.52, "tf_3": 58.54, "tf_4": 77.43,
                "mouse_0": 56.76, "mouse_2": 79.32, "mouse_3": 66.47, "mouse_4": 52.66}
# Frozen-backbone AUCs (Nature Comms 2025, s41467-025-65823-8), human TFBS 1..5 = tf_0..tf_4
FROZEN_AUC = {"DNABERT-2": dict(zip(["tf_0", "tf_1", "tf_2", "tf_3", "tf_4"], [.838, .821, .790, .726, .920])),
              "Caduceus-Ph": dict(zip(["tf_0", "tf_1", "tf_2", "tf_3", "tf_4"], [.880, .869, .825, .773, .929]))}


TASKS = ["tf_0", "tf_1", "tf_2", "tf_3", "tf_4", "mouse_0", "mouse_2", "mouse_3", "mouse_4"]
ARCH_ORDER = {"plain": -1, "deepbind": 0, "basset": 1, "resnet": 2}


def _best_threshold(y, s) -> float:
    from sklearn.metrics import matthews_corrcoef

    cands = np.quantile(s, np.linspace(0.05, 0.95, 91))
    scores = [matthews_corrcoef(y, (s > c).astype(int)) for c in cands]
    return float(cands[int(np.argmax(scores))])


def _boot_ci(y, s, metric, seed: int, n: int = 1000) -> tuple[float, float]:
    """95% percentile bootstrap interval of ``metric(y, s)`` over test sequences (seeded)."""
    rng = np.random.default_rng([seed, 7])
    vals = []
    for _ in range(n):
        i = rng.integers(0, len(y), len(y))
        if 0 < y[i].sum() < len(i):
            vals.append(metric(y[i], s[i]))
    lo, hi = np.quantile(vals, [0.025, 0.975])
    return round(float(lo), 4), round(float(hi), 4)


def run_one(task: str, arch: str, seed: int, data: Path, *, epochs: int = 15, patience: int = 4,
            overrides: dict | None = None, tag: str = "") -> dict:
    from _baseline import fit_plain, score_plain
    from train_pretrained import load_gue

    from seqconv.evaluate import auprc, auroc, mcc
    from seqconv.models import build_model, get_config
    from seqconv.predict import predict
    from seqconv.train import TrainConfig, fit

    ds = load_gue(data, task)
    dev, test = ds.subset("valid"), ds.subset("test")
    load0 = os.getloadavg()
    t0, c0 = time.time(), time.process_time()
    if arch == "plain":
        tr = ds.subset("train")
        net, hist = fit_plain(tr.X(), tr.y()[:, 0], dev.X(), dev.y()[:, 0], seed=seed, epochs=epochs,
                              patience=patience)
        secs, cpu = time.time() - t0, time.process_time() - c0
        s_dev, s_test = score_plain(net, dev.X()), score_plain(net, test.X())
        best_epoch, n_epochs, epoch_s, vcurve = int(np.argmax(hist)) + 1, len(hist), [], [round(h, 4) for h in hist]
        params = sum(p.numel() for p in net.parameters())
    else:
        model = build_model(get_config(arch, **(overrides or {})), seed=seed)
        res = fit(model, ds, config=TrainConfig(epochs=epochs, patience=patience, seed=seed), verbose=False)
        secs, cpu = time.time() - t0, time.process_time() - c0
        s_dev = predict(res.model, dev.X())[:, 0]
        s_test = predict(res.model, test.X())[:, 0]
        best_epoch, n_epochs = res.best_epoch, len(res.history)
        epoch_s = [round(h["seconds"], 1) for h in res.history]
        vcurve = [round(h["valid_auroc"], 4) for h in res.history]
        params = sum(p.numel() for p in res.model.parameters())
    y_test = test.y()[:, 0]
    thr = _best_threshold(dev.y()[:, 0], s_dev)
    auroc_lo, auroc_hi = _boot_ci(y_test, s_test, auroc, seed)
    return {"task": task, "arch": arch, "seed": seed, "mcc": mcc(y_test, s_test), "mcc_dev_thr": mcc(y_test, s_test, thr),
            "auroc": auroc(y_test, s_test), "auroc_lo": auroc_lo, "auroc_hi": auroc_hi,
            "auprc": auprc(y_test, s_test), "best_epoch": best_epoch,
            "epochs_run": n_epochs, "seconds": round(secs, 1), "cpu_seconds": round(cpu, 1),
            "epoch_seconds": epoch_s, "valid_curve": vcurve, "threads": torch.get_num_threads(),
            "params": params, "test_logits": [round(float(v), 3) for v in s_test],
            "dev_logits": [round(float(v), 3) for v in s_dev], "load_before": [round(x, 2) for x in load0],
            "load_after": [round(x, 2) for x in os.getloadavg()],
            **({"tag": tag, "epochs": epochs, "patience": patience, "overrides": overrides or {}} if tag else {})}


def report(runs: list, out: Path, threads: int = 2) -> str:
    tagged = [r for r in runs if r.get("tag")]
    df = pd.DataFrame([r for r in runs if not r.get("tag")])
    lines = ["# seqconv accuracy on the GUE TF tasks (test set)", "",
             "Command: `python benchmarks/accuracy.py --tasks tf_0 tf_1 tf_2 tf_3 tf_4 --archs deepbind basset resnet "
             f"--seeds 0 1 2 --threads {threads}` (CPU, {threads} torch thread(s), machine shared with other jobs).", "",
             "Training: GUE train split, early stopping on GUE dev auPRC (max 15 epochs, patience 4), AdamW, "
             "class-balanced BCE, reverse-complement + shift(<=3 bp) augmentation; predictions averaged over both "
             "strands.  MCC at probability 0.5; MCC@dev-thr: threshold maximising MCC on dev.  "
             "Values: mean ± sd over seeds (n = number of seeds finished).  GUE sequences have no coordinates, "
             "so the given split is used (no chromosome hold-out possible).  Run times: wall seconds on a 2-core "
             "machine shared with other jobs (inflated and noisy); process CPU seconds where recorded.", "",
             "| task | arch | n | params | MCC x100 | MCC@dev-thr x100 | auROC | auPRC | DNABERT-2 MCC x100 (117M) |"
             " frozen AUC DNABERT-2 / Caduceus-Ph | wall s / run (shared CPU) | CPU s / run |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]

    def ms(x, scale=1.0, nd=2):
        x = np.asarray(x, float) * scale
        return f"{x.mean():.{nd}f} ± {x.std(ddof=1):.{nd}f}" if len(x) > 1 else f"{x.mean():.{nd}f}"

    df = df.sort_values(["task", "arch"], key=lambda c: c.map(ARCH_ORDER) if c.name == "arch" else c, kind="stable")
    for (task, arch), g in df.groupby(["task", "arch"], sort=False):
        c = g["cpu_seconds"].dropna() if "cpu_seconds" in g else []
        cpu = f"{c.mean():.0f} (n={len(c)})" if len(c) else ""
        fz = (f"{FROZEN_AUC['DNABERT-2'][task]:.3f} / {FROZEN_AUC['Caduceus-Ph'][task]:.3f}"
              if task in FROZEN_AUC["DNABERT-2"] else "")
        lines.append(f"| {task} | {arch} | {len(g)} | {int(g['params'].iloc[0]):,} | {ms(g['mcc'], 100)} | "
                     f"{ms(g['mcc_dev_thr'], 100)} | {ms(g['auroc'], nd=3)} | {ms(g['auprc'], nd=3)} | "
                     f"{DNABERT2_MCC.get(task, '')} | {fz} | {g['seconds'].mean():.0f} | {cpu} |")
    best = df.groupby(["task", "arch"])["mcc"].mean().mul(100).unstack()
    nseeds = df.groupby(["task", "arch"])["mcc"].size().unstack()
    lines += ["", "Best seqconv architecture per task (mean test MCC x100) vs DNABERT-2 (n = seeds of that "
                  "architecture; n = 1 is a single run, not a mean):", "",
              "| task | best arch | n | seqconv MCC | DNABERT-2 MCC | difference |", "|---|---|---|---|---|---|"]
    for task, row in best.iterrows():
        arch = row.idxmax()
        d = DNABERT2_MCC.get(task, np.nan)
        lines.append(f"| {task} | {arch} | {int(nseeds.loc[task, arch])} | {row[arch]:.2f} | {d} | {row[arch] - d:+.2f} |")
    other = df[df["threads"].fillna(-1) != threads] if "threads" in df else df.iloc[:0]
    if len(other):
        lines += ["", "Runs whose thread count differs or was not recorded (made under an earlier default of 2 threads; "
                  "same protocol, only float rounding can differ): "
                  + ", ".join(f"{r.task} {r.arch} seed {r.seed}" for r in other.itertuples()) + "."]
    if tagged:
        lines += _experiments(df, tagged)
    text = "\n".join(lines) + "\n"
    out.write_text(text)
    return text


def _experiments(base: pd.DataFrame, tagged: list) -> list:
    """Variants tried on single tasks (``--tag``): mean test MCC next to the default runs of the same seeds."""
    lines = ["", "## Variants tried on single tasks (not part of the table above)", "",
             "Same protocol and seeds as the default runs, one change each (`--tag`; see the `overrides`, `epochs`, "
             "`patience` fields in accuracy_runs.jsonl).  Δ = variant - default, paired over the same seeds.", "",
             "| task | arch | variant | change | seeds | MCC x100 | MCC@dev-thr x100 | auROC | default MCC x100 (same seeds) "
             "| Δ MCC | epochs run (best) | CPU s / run |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    t = pd.DataFrame(tagged)
    for (task, arch, tag), g in t.groupby(["task", "arch", "tag"], sort=False):
        seeds = sorted(g["seed"])
        b = base[(base["task"] == task) & (base["arch"] == arch) & base["seed"].isin(seeds)] if len(base) else base
        change = ", ".join(f"{k}={v}" for k, v in g["overrides"].iloc[0].items())
        change = "; ".join(x for x in (change, f"epochs={g['epochs'].iloc[0]}, patience={g['patience'].iloc[0]}") if x)
        bm = b["mcc"].mean() * 100 if len(b) == len(g) else np.nan
        lines.append(f"| {task} | {arch} | {tag} | {change} | {','.join(map(str, seeds))} | {g['mcc'].mean() * 100:.2f} | "
                     f"{g['mcc_dev_thr'].mean() * 100:.2f} | {g['auroc'].mean():.3f} | {bm:.2f} | "
                     f"{g['mcc'].mean() * 100 - bm:+.2f} | "
                     f"{'; '.join(f'{a} ({b_})' for a, b_ in zip(g['epochs_run'], g['best_epoch']))} | "
                     f"{g.get('cpu_seconds', g['seconds']).mean():.0f} |")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", nargs="+", default=TASKS)
    ap.add_argument("--archs", nargs="+", default=["plain", "deepbind", "basset", "resnet"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--data", default=str(HERE.parents[1] / "shared" / "data"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", default=str(HERE / "results" / "accuracy_runs.jsonl"))
    ap.add_argument("--out", default=str(HERE / "results" / "accuracy.md"))
    ap.add_argument("--report-only", action="store_true", help="rewrite the report from the finished runs")
    ap.add_argument("--tag", default="", help="name of a variant (runs kept apart from the main table)")
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--patience", type=int, default=4)
    ap.add_argument("--arch-options", default="{}", help='JSON config overrides, e.g. \'{"filters": [128, 96, 128]}\'')
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    runs_path = Path(args.runs)
    runs_path.parent.mkdir(parents=True, exist_ok=True)
    runs = [json.loads(l) for l in runs_path.read_text().splitlines() if l.strip()] if runs_path.exists() else []
    done = {(r["task"], r["arch"], r["seed"], r.get("tag", "")) for r in runs}
    if not args.tag and (args.epochs, args.patience, args.arch_options) != (15, 4, "{}"):
        ap.error("--epochs/--patience/--arch-options change the protocol: give the variant a --tag")
    for seed in [] if args.report_only else args.seeds:          # seed-major: a partial run covers every task/arch once first
        for task in args.tasks:
            for arch in args.archs:
                if (task, arch, seed, args.tag) in done:
                    continue
                r = run_one(task, arch, seed, Path(args.data), epochs=args.epochs, patience=args.patience,
                            overrides=json.loads(args.arch_options), tag=args.tag)
                print(json.dumps(r), flush=True)
                with open(runs_path, "a") as fh:
                    fh.write(json.dumps(r) + "\n")
                runs.append(r)
                report(runs, Path(args.out), args.threads)
    print(report(runs, Path(args.out), args.threads))
    return 0


if __name__ == "__main__":
    sys.exit(main())
