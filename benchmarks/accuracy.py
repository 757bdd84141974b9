"""Accuracy on the GUE TF tasks (DNABERT-2 benchmark) for each seqconv architecture, next to published figures.

    python benchmarks/accuracy.py [--tasks tf_0 ... tf_4] [--archs deepbind basset resnet] [--seeds 0 1 2]

For each task x architecture x seed: train on GUE ``train`` (CPU, 2 threads; max 15 epochs,
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
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "pipelines"))

# DNABERT-2 paper (Zhou et al. ICLR 2024) Table 4, test MCC x 100
DNABERT2_MCC = {"tf_0": 71.99, "tf_1": 76.06, "tf_2": 66.52, "tf_3": 58.54, "tf_4": 77.43,
                "mouse_0": 56.76, "mouse_2": 79.32, "mouse_3": 66.47, "mouse_4": 52.66}
# Frozen-backbone AUCs (Nature Comms 2025, s41467-025-65823-8), human TFBS 1..5 = tf_0..tf_4
FROZEN_AUC = {"DNABERT-2": dict(zip(["tf_0", "tf_1", "tf_2", "tf_3", "tf_4"], [.838, .821, .790, .726, .920])),
              "Caduceus-Ph": dict(zip(["tf_0", "tf_1", "tf_2", "tf_3", "tf_4"], [.880, .869, .825, .773, .929]))}


def _best_threshold(y, s) -> float:
    from sklearn.metrics import matthews_corrcoef

    cands = np.quantile(s, np.linspace(0.05, 0.95, 91))
    scores = [matthews_corrcoef(y, (s > c).astype(int)) for c in cands]
    return float(cands[int(np.argmax(scores))])


def run_one(task: str, arch: str, seed: int, data: Path) -> dict:
    from train_pretrained import load_gue

    from seqconv.evaluate import auprc, auroc, mcc
    from seqconv.models import build_model, get_config
    from seqconv.predict import predict
    from seqconv.train import TrainConfig, fit

    ds = load_gue(data, task)
    model = build_model(get_config(arch), seed=seed)
    t0 = time.time()
    res = fit(model, ds, config=TrainConfig(epochs=15, patience=4, seed=seed), verbose=False)
    secs = time.time() - t0
    dev, test = ds.subset("valid"), ds.subset("test")
    s_dev = predict(res.model, dev.X())[:, 0]
    s_test = predict(res.model, test.X())[:, 0]
    y_test = test.y()[:, 0]
    thr = _best_threshold(dev.y()[:, 0], s_dev)
    return {"task": task, "arch": arch, "seed": seed, "mcc": mcc(y_test, s_test), "mcc_dev_thr": mcc(y_test, s_test, thr),
            "auroc": auroc(y_test, s_test), "auprc": auprc(y_test, s_test), "best_epoch": res.best_epoch,
            "epochs_run": len(res.history), "seconds": round(secs, 1),
            "epoch_seconds": [round(h["seconds"], 1) for h in res.history],
            "valid_auroc": [round(h["valid_auroc"], 4) for h in res.history], "threads": torch.get_num_threads(),
            "params": sum(p.numel() for p in res.model.parameters())}


def report(runs: list, out: Path, threads: int = 2) -> str:
    df = pd.DataFrame(runs)
    lines = ["# seqconv accuracy on the GUE TF tasks (test set)", "",
             "Command: `python benchmarks/accuracy.py --tasks tf_0 tf_1 tf_2 tf_3 tf_4 --archs deepbind basset resnet "
             f"--seeds 0 1 2 --threads {threads}` (CPU, {threads} torch thread(s), machine shared with other jobs).", "",
             "Training: GUE train split, early stopping on GUE dev auPRC (max 15 epochs, patience 4), AdamW, "
             "class-balanced BCE, reverse-complement + shift(<=3 bp) augmentation; predictions averaged over both "
             "strands.  MCC at probability 0.5; MCC@dev-thr: threshold maximising MCC on dev.  "
             "Values: mean ± sd over seeds (n = number of seeds finished).  GUE sequences have no coordinates, "
             "so the given split is used (no chromosome hold-out possible).", "",
             "| task | arch | n | params | MCC x100 | MCC@dev-thr x100 | auROC | auPRC | DNABERT-2 MCC x100 (117M) |"
             " frozen AUC DNABERT-2 / Caduceus-Ph | CPU s / run |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]

    def ms(x, scale=1.0, nd=2):
        x = np.asarray(x, float) * scale
        return f"{x.mean():.{nd}f} ± {x.std(ddof=1):.{nd}f}" if len(x) > 1 else f"{x.mean():.{nd}f}"

    for (task, arch), g in df.groupby(["task", "arch"], sort=False):
        fz = (f"{FROZEN_AUC['DNABERT-2'][task]:.3f} / {FROZEN_AUC['Caduceus-Ph'][task]:.3f}"
              if task in FROZEN_AUC["DNABERT-2"] else "")
        lines.append(f"| {task} | {arch} | {len(g)} | {int(g['params'].iloc[0]):,} | {ms(g['mcc'], 100)} | "
                     f"{ms(g['mcc_dev_thr'], 100)} | {ms(g['auroc'], nd=3)} | {ms(g['auprc'], nd=3)} | "
                     f"{DNABERT2_MCC.get(task, '')} | {fz} | {g['seconds'].mean():.0f} |")
    best = df.groupby(["task", "arch"])["mcc"].mean().mul(100).unstack()
    lines += ["", "Best seqconv architecture per task (mean test MCC x100) vs DNABERT-2:", "",
              "| task | best arch | seqconv MCC | DNABERT-2 MCC | difference |", "|---|---|---|---|---|"]
    for task, row in best.iterrows():
        arch = row.idxmax()
        d = DNABERT2_MCC.get(task, np.nan)
        lines.append(f"| {task} | {arch} | {row[arch]:.2f} | {d} | {row[arch] - d:+.2f} |")
    text = "\n".join(lines) + "\n"
    out.write_text(text)
    return text


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", nargs="+", default=["tf_0", "tf_1", "tf_2", "tf_3", "tf_4"])
    ap.add_argument("--archs", nargs="+", default=["deepbind", "basset", "resnet"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--data", default=str(HERE.parents[1] / "shared" / "data"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", default=str(HERE / "results" / "accuracy_runs.jsonl"))
    ap.add_argument("--out", default=str(HERE / "results" / "accuracy.md"))
    ap.add_argument("--report-only", action="store_true", help="rewrite the report from the finished runs")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    runs_path = Path(args.runs)
    runs_path.parent.mkdir(parents=True, exist_ok=True)
    runs = [json.loads(l) for l in runs_path.read_text().splitlines() if l.strip()] if runs_path.exists() else []
    done = {(r["task"], r["arch"], r["seed"]) for r in runs}
    for seed in [] if args.report_only else args.seeds:          # seed-major: a partial run covers every task/arch once first
        for task in args.tasks:
            for arch in args.archs:
                if (task, arch, seed) in done:
                    continue
                r = run_one(task, arch, seed, Path(args.data))
                print(json.dumps(r), flush=True)
                with open(runs_path, "a") as fh:
                    fh.write(json.dumps(r) + "\n")
                runs.append(r)
                report(runs, Path(args.out), args.threads)
    print(report(runs, Path(args.out), args.threads))
    return 0


if __name__ == "__main__":
    sys.exit(main())
