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
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "pipelines"))
sys.path.insert(0, str(HERE))
from _machine import cpu_model, machine_record, runs_summary  # noqa: E402

# DNABERT-2 paper (Zhou et al. ICLR 2024) Table 4, test MCC x 100
DNABERT2_MCC = {"tf_0": 71.99, "tf_1": 76.06, "tf_2": 66.52, "tf_3": 58.54, "tf_4": 77.43,
                "mouse_0": 56.76, "mouse_2": 79.32, "mouse_3": 66.47, "mouse_4": 52.66}
# Frozen-backbone AUCs (Nature Comms 2025, s41467-025-65823-8), human TFBS 1..5 = tf_0..tf_4
FROZEN_AUC = {"DNABERT-2": dict(zip(["tf_0", "tf_1", "tf_2", "tf_3", "tf_4"], [.838, .821, .790, .726, .920])),
              "Caduceus-Ph": dict(zip(["tf_0", "tf_1", "tf_2", "tf_3", "tf_4"], [.880, .869, .825, .773, .929]))}


DEFAULT_ARCH = "resnet"
TASKS = ["tf_0", "tf_1", "tf_2", "tf_3", "tf_4", "mouse_0", "mouse_2", "mouse_3", "mouse_4"]
# DeepBind ENCODE TFs: the bundled deepbind_<TF> models' data (A/C train + seeded valid fraction, B test)
DEEPBIND_TASKS = ["deepbind_ARID3A", "deepbind_CTCFL", "deepbind_ELK1", "deepbind_FOXA1", "deepbind_GABPA",
                  "deepbind_MYC", "deepbind_REST", "deepbind_SP1", "deepbind_USF1", "deepbind_ZBTB7A"]
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


def _recipe_name(task: str) -> str:
    """The bundled model trained on this task (``pipelines/train_pretrained.py``'s MODELS key)."""
    return task if task.startswith("deepbind_") else f"gue_{task}"


def load_task(data: Path, task: str):
    """The task's Dataset: GUE's own train/dev/test, or a DeepBind ENCODE TF as its bundled model's recipe loads it."""
    from train_pretrained import dataset_for, load_gue

    return dataset_for(task, data) if task.startswith("deepbind_") else load_gue(data, task)


def _bundles(task, arch, seed, tag, epochs, patience, overrides, train_options=None) -> bool:
    """Is this run the recipe of a bundled model (``pipelines/train_pretrained.py``'s MODELS)?"""
    from train_pretrained import MODELS

    recipe = MODELS.get(_recipe_name(task))
    return (recipe is not None and not tag and seed == 0 and not overrides and not train_options
            and recipe[2] == (arch, {}) and recipe[3] == {"epochs": epochs, "patience": patience})


def run_one(task: str, arch: str, seed: int, data: Path, *, epochs: int = 15, patience: int = 4,
            overrides: dict | None = None, tag: str = "", bundle_out: Path | None = None,
            train_options: dict | None = None, backbone: str = "human_backbone") -> dict:
    from _baseline import fit_plain, score_plain
    from train_pretrained import package

    from seqconv.evaluate import auprc, auroc, mcc
    from seqconv.models import build_model, get_config
    from seqconv.predict import predict
    from seqconv.train import TrainConfig, fit
    from seqconv.transfer import TransferLeakageWarning, finetune

    ds = load_task(data, task)
    leakage: list = []
    dev, test = ds.subset("valid"), ds.subset("test")
    start = machine_record({"torch": torch.get_num_threads()})
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
        config = TrainConfig(epochs=epochs, patience=patience, seed=seed, **(train_options or {}))
        if arch == "finetune":
            # the bundled backbone (pretrained on many TFs) with a new head, fine-tuned on the task
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", TransferLeakageWarning)
                res = finetune(backbone, ds, mode="finetune", config=config, verbose=False)
            leakage = [str(w.message) for w in caught if issubclass(w.category, TransferLeakageWarning)]
        else:
            model = build_model(get_config(arch, **(overrides or {})), seed=seed)
            res = fit(model, ds, config=config, verbose=False)
        secs, cpu = time.time() - t0, time.process_time() - c0
        if bundle_out is not None and _bundles(task, arch, seed, tag, epochs, patience, overrides, train_options):
            entry = package(_recipe_name(task), res, ds, bundle_out, root=data, seed=seed, seconds=secs)
            index = bundle_out / "entries.json"
            entries = json.loads(index.read_text()) if index.exists() else {}
            index.write_text(json.dumps({**entries, entry["name"]: entry}, indent=1))
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
            "dev_logits": [round(float(v), 3) for v in s_dev],
            "machine": machine_record({"torch": torch.get_num_threads()}, since=start),
            **({"backbone": backbone, "leakage": leakage} if arch == "finetune" else {}),
            **({"tag": tag, "epochs": epochs, "patience": patience, "overrides": overrides or {},
                "train_options": train_options or {}} if tag else {})}


def _test_labels(data: Path, task: str) -> np.ndarray:
    """The test set's labels, in the order load_task's test split has them (read from the test file alone)."""
    if task.startswith("deepbind_"):
        from train_pretrained import deepbind_file

        return pd.read_csv(deepbind_file(data, task[len("deepbind_"):], "B"), sep="\t")["Bound"].to_numpy()
    return pd.read_csv(Path(data) / "gue_tf" / task / "test.csv.gz")["label"].to_numpy()


def _paired_ci(y, A: np.ndarray, B: np.ndarray, metric, *, n: int = 1000, seed: int = 0) -> tuple:
    """Mean over seeds of metric(A_seed) - metric(B_seed), and its 95% bootstrap interval over test sequences.

    ``A : (S_a, N)``, ``B : (S_b, N)`` logits of each seed's run on the same test set (paired resamples)."""
    def diff(i):
        return np.mean([metric(y[i], a[i]) for a in A]) - np.mean([metric(y[i], b[i]) for b in B])
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n):
        i = rng.integers(0, len(y), len(y))
        if 0 < y[i].sum() < len(i):
            boots.append(diff(i))
    lo, hi = np.quantile(boots, [0.025, 0.975])
    return diff(np.arange(len(y))), lo, hi


def _tradeoff(df: pd.DataFrame) -> list:
    """Architecture x cost x accuracy: the table the default architecture is chosen from (issue 13 item 2)."""
    speed = HERE / "results" / "train_speed.json"
    cpu = {}
    if speed.exists():
        for row in json.loads(speed.read_text())["ab"]:
            if row["threads"] == 1:
                cpu[row["arch"]] = float(np.median([r["fit_cpu_per_epoch"] for r in row["rounds"]]))
    human = [t for t in TASKS if t.startswith("tf_")]
    lines = ["", "## Architecture trade-off (the default is chosen from this table)", "",
             "CPU s / epoch: `seqconv train`'s fit on GUE tf_2 (19,000 x 101 bp, batch 128, 1 thread; "
             "benchmarks/results/train_speed.md; the plain baseline: its own runs' CPU s / epochs).  Accuracy: mean "
             "over the 5 human GUE tasks of each task's seed mean (all 3 seeds of each).  Mouse tasks: plain and "
             "resnet only.", "",
             "| arch | params | CPU s / epoch (20k x 101 bp) | human test auROC | human test MCC x100 | mouse test auROC | "
             "mouse test MCC x100 | DeepBind ENCODE test auROC (TFs, seeds) |", "|---|---|---|---|---|---|---|---|"]
    for arch in ["plain", "deepbind", "basset", "resnet"]:
        g = df[df["arch"] == arch]
        if not len(g):
            continue
        h = g[g["task"].isin(human)].groupby("task")[["auroc", "mcc"]].mean()
        m = g[g["task"].str.startswith("mouse_")].groupby("task")[["auroc", "mcc"]].mean()
        db = g[g["task"].isin(DEEPBIND_TASKS)]
        dbm = db.groupby("task")["auroc"].mean()
        dbtxt = (f"{dbm.mean():.3f} ({len(dbm)}, {db.groupby('task').size().min()}-{db.groupby('task').size().max()})"
                 if len(dbm) else "")
        if arch == "plain":
            t2 = g[g["task"] == "tf_2"]
            c = float((t2["cpu_seconds"] / t2["epochs_run"]).median()) if len(t2) else np.nan
        else:
            c = cpu.get(arch, np.nan)
        mouse = (f"{m['auroc'].mean():.3f} | {m['mcc'].mean() * 100:.2f}" if len(m) == 4 else " | ")
        lines.append(f"| {arch} | {int(g['params'].iloc[0]):,} | {c:.2f} | {h['auroc'].mean():.3f} | "
                     f"{h['mcc'].mean() * 100:.2f} | {mouse} | {dbtxt} |")
    lines += ["", f"Default: `{DEFAULT_ARCH}` (`seqconv train --arch`), the highest test auROC on every GUE and DeepBind "
                  "ENCODE task (not the highest MCC at probability 0.5 on mouse_2 and mouse_3, where the plain "
                  "baseline's is higher); it costs about 3x basset's and 10x deepbind's CPU time per epoch.  DeepBind "
                  "ENCODE column: mean over the 10 TFs of each TF's seed mean (in brackets: TFs, fewest-most seeds per "
                  "TF; resnet's seed-0 runs are the bundled models).  On the yeast genome tasks (below) resnet was not better "
                  "than basset, so the bundled yeast model stays basset."]
    return lines


def _yeast() -> list:
    """The yeast genome tasks (bundled yeast_chexmix recipe): basset vs resnet, one seed (results/accuracy_yeast.json)."""
    path = HERE / "results" / "accuracy_yeast.json"
    if not path.exists():
        return []
    rec = json.loads(path.read_text())
    lines = ["", "### Yeast genome tasks (10 TFs, held-out chr8 + chr9)", "", rec["what"] + ".  Command: `"
             + rec["command"] + "`.  One seed: no interval across seeds; per-TF test sets are 842 windows.", "",
             "| arch | params | wall s of its run (loads differed: not a speed comparison) | best epoch | mean test auROC | mean test auPRC | TFs with the "
             "higher auROC |", "|---|---|---|---|---|---|---|"]
    t = {k: pd.DataFrame(rec[k]["test"]).set_index("TF") for k in ("basset", "resnet")}
    for k, other in (("basset", "resnet"), ("resnet", "basset")):
        wins = int((t[k]["auroc"] > t[other]["auroc"]).sum())
        lines.append(f"| {k} | {rec[k]['params']:,} | {rec[k]['seconds_wall']:.0f} | {rec[k]['best_epoch']} | "
                     f"{t[k]['auroc'].mean():.3f} | {t[k]['auprc'].mean():.3f} | {wins}/{len(t[k])} |")
    lines += ["", "Per TF (auROC basset / resnet): " + ", ".join(
        f"{tf} {t['basset'].loc[tf, 'auroc']:.3f} / {t['resnet'].loc[tf, 'auroc']:.3f}" for tf in t["basset"].index)
        + ".  The bundled yeast_chexmix stays basset (lower mean auROC with resnet, at ~3x the CPU time)."]
    return lines


def _versus_plain(df: pd.DataFrame, arch: str, data: Path) -> list:
    """The default architecture against the plain one-layer CNN, paired on each task's test set; and seed ensembles."""
    from seqconv.evaluate import auroc, mcc

    if data is None or "test_logits" not in df or not (Path(data) / "gue_tf").is_dir():
        return []
    have = df[df["test_logits"].notna()]
    lines = ["", f"## Default architecture ({arch}) vs the plain baseline", "",
             "Plain baseline: one conv layer (128 filters x 24 bp), global max pool, reverse-complement averaging, "
             "trained by a bare PyTorch loop (benchmarks/_baseline.py; Adam 1e-3, batch 64, same early stopping "
             "on dev auPRC).  Δ = mean over seeds of the default's test metric minus the baseline's, with a 95% "
             "paired bootstrap interval over test sequences (1,000 resamples; both arms scored on the same "
             "resample).  'ahead' = the interval's lower end is above 0.  Ensemble = the seeds' test logits "
             "averaged (one prediction per sequence), as a shipped seed ensemble (`seqconv ensemble`) would score.  Only "
             "runs that kept their test logits are paired (seeds column): earlier resnet runs of tf_2..tf_4 did not.",
             "",
             "| task | seeds (default / plain) | plain auROC | default auROC | Δ auROC [95% CI] | ahead | "
             "Δ MCC x100 [95% CI] | ensemble auROC | ensemble MCC x100 |", "|---|---|---|---|---|---|---|---|---|"]
    ahead = total = 0
    for task in [t for t in TASKS + DEEPBIND_TASKS if t in set(have["task"])]:
        a = have[(have["task"] == task) & (have["arch"] == arch)]
        b = have[(have["task"] == task) & (have["arch"] == "plain")]
        if not len(a) or not len(b):
            continue
        y = _test_labels(data, task)
        A, B = np.array(a["test_logits"].tolist()), np.array(b["test_logits"].tolist())
        d, lo, hi = _paired_ci(y, A, B, auroc)
        dm, mlo, mhi = _paired_ci(y, A, B, lambda yy, ss: mcc(yy, ss), n=300)
        ens = A.mean(0)
        total += 1
        ahead += lo > 0
        lines.append(f"| {task} | {len(a)} / {len(b)} | {b['auroc'].mean():.3f} | {a['auroc'].mean():.3f} | "
                     f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}] | {'yes' if lo > 0 else 'no'} | "
                     f"{dm * 100:+.2f} [{mlo * 100:+.2f}, {mhi * 100:+.2f}] | {auroc(y, ens):.3f} | "
                     f"{mcc(y, ens) * 100:.2f} |")
    lines += ["", f"Default ahead of the plain baseline beyond the interval on {ahead}/{total} tasks (auROC)."]
    return lines


def _machine_of(r: dict) -> dict | None:
    """A run's machine record (runs of this session's first hours kept only the load average, on this CPU)."""
    if r.get("machine"):
        return r["machine"]
    if r.get("load_before"):
        return {"cpu": cpu_model(), "cores": os.cpu_count(), "threads": {"torch": r.get("threads")},
                "load_before": r["load_before"], "load_after": r["load_after"]}
    return None


def report(runs: list, out: Path, threads: int = 2, data: Path | None = None) -> str:
    tagged = [r for r in runs if r.get("tag")]
    df = pd.DataFrame([r for r in runs if not r.get("tag")])
    lines = ["# seqconv accuracy on the GUE TF tasks and DeepBind ENCODE TFs (test set)", "",
             "Commands: `python benchmarks/accuracy.py --tasks tf_0 tf_1 tf_2 tf_3 tf_4 --archs deepbind basset resnet "
             f"--seeds 0 1 2 --threads {threads}` and `python benchmarks/accuracy.py --archs plain resnet --seeds 0 1 2 "
             f"--threads {threads}` (all 9 tasks; CPU, {threads} torch thread(s)); DeepBind ENCODE: `python benchmarks/accuracy.py "
             f"--tasks {' '.join(DEEPBIND_TASKS)} --archs resnet plain deepbind --seeds 0 --threads {threads} "
             "--bundle-out <scratch>` (the seed-0 resnet runs are the bundled deepbind_* models) and the same with "
             "`--archs resnet plain deepbind --seeds 1 2` (no `--bundle-out`).", "",
             runs_summary([_machine_of(r) for r in runs]), "",
             "Training: GUE train split, early stopping on GUE dev auPRC (max 15 epochs, patience 4), AdamW, "
             "class-balanced BCE, reverse-complement + shift(<=3 bp) augmentation; predictions averaged over both "
             "strands.  MCC at probability 0.5; MCC@dev-thr: threshold maximising MCC on dev.  "
             "Values: mean ± sd over seeds (n = number of seeds finished).  GUE sequences have no coordinates, "
             "so the given split is used (no chromosome hold-out possible).  DeepBind ENCODE tasks: the first 12,000 A/C "
             "positives + one dinucleotide shuffle each, a seeded 10% validation fraction, the B file as test (500 "
             "bound, ranked below the training peaks, + 500 shuffles); same training protocol.  Run times: wall seconds (inflated "
             "and noisy where the load was above 1) and process CPU seconds where recorded.", "",
             "| task | arch | n | params | MCC x100 | MCC@dev-thr x100 | auROC | auPRC | DNABERT-2 MCC x100 (117M) |"
             " frozen AUC DNABERT-2 / Caduceus-Ph | wall s / run | CPU s / run |",
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
        if task not in DNABERT2_MCC:
            continue
        arch = row.idxmax()
        d = DNABERT2_MCC.get(task, np.nan)
        lines.append(f"| {task} | {arch} | {int(nseeds.loc[task, arch])} | {row[arch]:.2f} | {d} | {row[arch] - d:+.2f} |")
    other = df[df["threads"].fillna(-1) != threads] if "threads" in df else df.iloc[:0]
    if len(other):
        lines += ["", "Runs whose thread count differs or was not recorded (made under an earlier default of 2 threads; "
                  "same protocol, only float rounding can differ): "
                  + ", ".join(f"{r.task} {r.arch} seed {r.seed}" for r in other.itertuples()) + "."]
    lines += _tradeoff(df)
    lines += _yeast()
    lines += _versus_plain(df, DEFAULT_ARCH, data)
    if tagged:
        lines += _experiments(df, tagged)
    text = "\n".join(lines) + "\n"
    out.write_text(text)
    return text


def _experiments(base: pd.DataFrame, tagged: list) -> list:
    """Variants tried on single tasks (``--tag``): mean test MCC next to the default runs of the same seeds."""
    lines = ["", "## Variants tried on single tasks (not part of the table above)", "",
             "Same protocol and seeds as the default runs, one change each (`--tag`; see the `overrides`, `epochs`, "
             "`patience` fields in accuracy_runs.jsonl).  Δ = variant - default, paired over the same seeds.  Arch "
             "`finetune`: a bundled backbone with a new head, fine-tuned (`seqconv.transfer.finetune`), next to the "
             f"default ({DEFAULT_ARCH}) trained from scratch.", "",
             "| task | arch | variant | change | seeds | MCC x100 | MCC@dev-thr x100 | auROC | default MCC x100 (same seeds) "
             "| Δ MCC | epochs run (best) | CPU s / run |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    t = pd.DataFrame(tagged)
    for (task, arch, tag), g in t.groupby(["task", "arch", "tag"], sort=False):
        seeds = sorted(g["seed"])
        ref = DEFAULT_ARCH if arch == "finetune" else arch     # a fine-tuned backbone vs the default from scratch
        b = base[(base["task"] == task) & (base["arch"] == ref) & base["seed"].isin(seeds)] if len(base) else base
        opts = g["train_options"].iloc[0] if "train_options" in g else None   # TrainConfig overrides too
        change = ", ".join(f"{k}={v}" for k, v in {**g["overrides"].iloc[0], **(opts if isinstance(opts, dict) else {})}.items())
        if arch == "finetune":
            leaks = "; ".join(sorted({m for r in g["leakage"] for m in r})) or "no test overlap found"
            change = "; ".join(x for x in (f"backbone {g['backbone'].iloc[0]} + new head, fine-tuned ({leaks})",
                                           change) if x)
        change = "; ".join(x for x in (change, f"epochs={g['epochs'].iloc[0]}, patience={g['patience'].iloc[0]}") if x)
        bm = b["mcc"].mean() * 100 if len(b) == len(g) else np.nan
        lines.append(f"| {task} | {arch} | {tag} | {change} | {','.join(map(str, seeds))} | {g['mcc'].mean() * 100:.2f} | "
                     f"{g['mcc_dev_thr'].mean() * 100:.2f} | {g['auroc'].mean():.3f} | {bm:.2f} | "
                     f"{g['mcc'].mean() * 100 - bm:+.2f} | "
                     f"{'; '.join(f'{a} ({b_})' for a, b_ in zip(g['epochs_run'], g['best_epoch']))} | "
                     f"{g.get('cpu_seconds', g['seconds']).mean():.0f} |")
    return lines


def _write_runs(path: Path, runs: list) -> None:
    """Rewrite the run records (atomically), once, before the runs to redo are redone."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in runs))
    tmp.replace(path)


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
    ap.add_argument("--bundle-out", default=None,
                    help="write the runs that follow a bundled model's recipe (seed 0, default arch) as bundled "
                         "models into this folder (then: train_pretrained.py's install)")
    ap.add_argument("--redo-without-logits", action="store_true",
                    help="rerun finished runs that did not keep their test logits (replacing them)")
    ap.add_argument("--arch-options", default="{}", help='JSON config overrides, e.g. \'{"filters": [128, 96, 128]}\'')
    ap.add_argument("--train-options", default="{}", help='JSON TrainConfig overrides for a --tag variant')
    ap.add_argument("--backbone", default="human_backbone",
                    help="arch 'finetune': the bundled backbone fine-tuned on each task (a --tag variant)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    runs_path = Path(args.runs)
    runs_path.parent.mkdir(parents=True, exist_ok=True)
    runs = [json.loads(l) for l in runs_path.read_text().splitlines() if l.strip()] if runs_path.exists() else []
    if args.redo_without_logits:
        redo = [r for r in runs if "test_logits" not in r and r["task"] in args.tasks and r["arch"] in args.archs
                and r["seed"] in args.seeds and r.get("tag", "") == args.tag]
        runs = [r for r in runs if not any(r is q for q in redo)]
        _write_runs(runs_path, runs)
    done = {(r["task"], r["arch"], r["seed"], r.get("tag", "")) for r in runs}
    if not args.tag and "finetune" in args.archs:
        ap.error("arch 'finetune' (a pretrained backbone) is a variant: give it a --tag")
    if not args.tag and (args.epochs, args.patience, args.arch_options, args.train_options) != (15, 4, "{}", "{}"):
        ap.error("--epochs/--patience/--arch-options/--train-options change the protocol: give the variant a --tag")
    for seed in [] if args.report_only else args.seeds:          # seed-major: a partial run covers every task/arch once first
        for task in args.tasks:
            for arch in args.archs:
                if (task, arch, seed, args.tag) in done:
                    continue
                r = run_one(task, arch, seed, Path(args.data), epochs=args.epochs, patience=args.patience,
                            overrides=json.loads(args.arch_options), tag=args.tag,
                            train_options=json.loads(args.train_options), backbone=args.backbone,
                            bundle_out=Path(args.bundle_out) if args.bundle_out else None)
                print(json.dumps(r), flush=True)
                with open(runs_path, "a") as fh:   # append: runs of other processes (--tag variants) are kept
                    fh.write(json.dumps(r) + "\n")
                runs.append(r)   # the report (paired bootstraps over every task: minutes of CPU) is written once, at the end
    print(report(runs, Path(args.out), args.threads, Path(args.data)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
