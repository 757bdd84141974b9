"""Transfer-learning benchmark: scratch vs frozen vs finetune vs mixture (vs adapt) on small cohorts.

Targets (their labels never reached the backbone they are transferred from):

* DeepBind ENCODE TFs ELK1, MYC, REST, FOXA1 from ``human_lo4`` (a human backbone without those
  four TFs), ELK1 and MYC also from ``human_lofam`` (also without their relatives GABPA and USF1):
  cohorts of n A/C-ranked peaks + n dinucleotide shuffles (80/20 train/valid), tested on the
  DeepBind B file (500 + 500);
* yeast TFs Reb1, Rap1, Cbf1 (left out of ``yeast_backbone``) and the He 2017 Pho4 peaks (another
  lab and assay) on the whole sacCer3 genome: GC-matched background, chr7 valid, chr8 + chr9 test
  (the backbone's own held-out chromosomes); n positives drawn from the train chromosomes;
* the mouse GUE tasks from ``human_backbone`` (cross-species), full size and subsampled; MCC is
  reported next to DNABERT-2's published figures.

Usage (resumable: finished runs in ``transfer_runs.jsonl`` are skipped)::

    python pipelines/train_backbones.py --out ../backbones --deepbind-max 20000
    python benchmarks/transfer.py --backbones ../backbones --part deepbind
    python benchmarks/transfer.py --backbones ../backbones --part yeast
    python benchmarks/transfer.py --backbones ../backbones --part mouse
    python benchmarks/transfer.py --report          # tables + plots from the runs so far
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

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "pipelines"))

import train_backbones as tb  # noqa: E402
from _machine import NOT_RECORDED, cpu_model, machine_record, runs_summary  # noqa: E402

from seqconv.dataset import Dataset, read_dataset  # noqa: E402
from seqconv.encode import dinucleotide_shuffle  # noqa: E402
from seqconv.evaluate import auprc, auroc, mcc  # noqa: E402
from seqconv.modelfile import load_backbone  # noqa: E402
from seqconv.predict import predict  # noqa: E402
from seqconv.train import TrainConfig  # noqa: E402
from seqconv.transfer import TransferConfig, finetune, target_view  # noqa: E402

RESULTS = HERE / "results"
RUNS = RESULTS / "transfer_runs.jsonl"
SIZES = (50, 100, 250, 500, 1000, 2000)
MODES = ("scratch", "frozen", "finetune", "mixture")
DNABERT2_MOUSE_MCC = {"mouse_0": 56.76, "mouse_2": 79.32, "mouse_3": 66.47, "mouse_4": 52.66}
YEAST_TARGETS = ("Reb1", "Rap1", "Cbf1", "Pho4")


def _table(names, seqs, labels, split, kind, task) -> pd.DataFrame:
    n = len(seqs)
    return pd.DataFrame({"name": list(names), "chrom": [""] * n, "start": np.full(n, -1, np.int64),
                         "end": np.full(n, -1, np.int64), "sequence": list(seqs), "kind": list(kind),
                         "split": list(split) if not isinstance(split, str) else [split] * n,
                         f"label:{task}": np.asarray(labels, np.int8)})


def deepbind_cohort(root, tf: str, n: int, seed: int) -> Dataset:
    ac = pd.read_csv(tb.deepbind_file(root, tf, "AC"), sep="\t")
    rng = np.random.default_rng([seed, n])
    pick = np.sort(rng.choice(len(ac), size=min(n, len(ac)), replace=False))
    pos = ac["seq"].iloc[pick].str.upper().tolist()
    neg = dinucleotide_shuffle(pos, seed=seed)
    split = np.array(["train"] * len(pos), dtype=object)
    split[rng.permutation(len(pos))[: max(2, len(pos) // 5)]] = "valid"  # same valid share for pos and negs
    names = [f"p{i}" for i in range(len(pos))] + [f"s{i}" for i in range(len(neg))]
    tr = _table(names, pos + neg, [1] * len(pos) + [0] * len(neg), list(split) * 2,
                ["positive"] * len(pos) + ["shuffle"] * len(neg), tf)
    b = pd.read_csv(tb.deepbind_file(root, tf, "B"), sep="\t")
    te = _table([f"B{e}" for e in b["EventID"]], b["seq"].str.upper(), b["Bound"], "test",
                np.where(b["Bound"] == 1, "positive", "shuffle"), tf)
    return Dataset(pd.concat([tr, te], ignore_index=True), {"width": 101, "name": f"deepbind_{tf}_n{n}"})


_YEAST_CACHE: dict = {}


def yeast_full(root, tf: str) -> Dataset:
    """All events of ``tf`` on sacCer3 (101 bp, GC-matched 1:1, chr7 valid, chr8+chr9 test)."""
    if tf not in _YEAST_CACHE:
        from seqconv.prepare import from_peaks

        d = Path(root) / "yeast_sacCer3_chip"
        peaks = d / "he2017_pho4_peaks.bed.gz" if tf == "Pho4" else d / "chexmix_by_tf" / f"{tf}_CX.bed.gz"
        ds, _ = from_peaks([peaks], d / "sacCer3_R64.fa.gz", width=101, task_names=[tf], negatives="gc", ratio=1.0,
                           margin=200, exclude=d / "rossi2021_chexmix_exclude_regions.bed.gz",
                           test_chroms=("chr8", "chr9"), valid_chroms=("chr7",), seed=0)
        ds.meta["sources"] = {"genome": "sacCer3_R64.fa.gz"}
        _YEAST_CACHE[tf] = ds
    return _YEAST_CACHE[tf]


def yeast_cohort(root, tf: str, n: int, seed: int) -> Dataset | None:
    """n train positives (+ as many train negatives) drawn from the train chromosomes; valid/test kept whole."""
    ds = yeast_full(root, tf)
    t = ds.table
    lab = t[f"label:{tf}"]
    tr_pos = np.flatnonzero((t["split"] == "train") & (lab == 1))
    tr_neg = np.flatnonzero((t["split"] == "train") & (lab == 0))
    if n > len(tr_pos):
        return None
    rng = np.random.default_rng([seed, n])
    keep = np.concatenate([rng.choice(tr_pos, n, replace=False), rng.choice(tr_neg, min(n, len(tr_neg)), replace=False),
                           np.flatnonzero(t["split"] != "train")])
    return Dataset(t.iloc[np.sort(keep)].reset_index(drop=True), {**ds.meta, "name": f"yeast_{tf}_n{n}"})


def mouse_cohort(root, task: str, n: int | None, seed: int) -> Dataset:
    parts = []
    for fname, split in (("train", "train"), ("dev", "valid"), ("test", "test")):
        df = pd.read_csv(Path(root) / "gue_tf" / task / f"{fname}.csv.gz")
        if split == "train" and n:
            rng = np.random.default_rng([seed, n])
            pos = np.flatnonzero(df["label"] == 1)
            neg = np.flatnonzero(df["label"] == 0)
            df = df.iloc[np.sort(np.concatenate([rng.choice(pos, min(n, len(pos)), replace=False),
                                                 rng.choice(neg, min(n, len(neg)), replace=False)]))]
        parts.append(_table([f"{fname}{i}" for i in range(len(df))], df["sequence"].str.upper(), df["label"], split,
                            np.where(df["label"] == 1, "positive", "shuffle"), task))
    return Dataset(pd.concat(parts, ignore_index=True), {"width": 101, "name": f"gue_{task}_n{n or 'full'}"})


def _load_done() -> set:
    if not RUNS.exists():
        return set()
    done = set()
    for line in RUNS.read_text().splitlines():
        r = json.loads(line)
        done.add((r["part"], r["target"], r["backbone"], r["size"], r["mode"], r["seed"]))
    return done


def run_one(part, target, backbone_name, bb, ds, size, mode, seed, source, *, epochs) -> dict:
    n_train = int((ds.table["split"] == "train").sum())
    bs = int(min(64, max(8, n_train // 4)))
    cfg = TrainConfig(epochs=epochs, batch_size=bs, lr=2e-3, patience=4, seed=seed)
    tcfg = TransferConfig(mode=mode, head_epochs=2, backbone_lr=0.1, source_max=2000)
    import torch

    threads = {"torch": torch.get_num_threads()}
    start = machine_record(threads)
    c0, t0 = time.process_time(), time.time()
    res = finetune(bb, ds, config=cfg, transfer=tcfg, source=source if mode in ("mixture", "adapt") else None,
                   verbose=False)
    model = target_view(res.model, ds.tasks)
    test = ds.subset("test")
    logits = predict(model, test.X())[:, 0]
    y = test.y()[:, 0]
    return {"part": part, "target": target, "backbone": backbone_name, "size": size, "mode": mode, "seed": seed,
            "n_train": n_train, "n_test": int(len(y)), "auroc": auroc(y, logits), "auprc": auprc(y, logits),
            "mcc": mcc(y, logits), "valid_auprc": res.best_metrics["valid_auprc"], "best_epoch": res.best_epoch,
            "epochs_run": len(res.history), "cpu_seconds": time.process_time() - c0, "wall_seconds": time.time() - t0,
            "machine": machine_record(threads, since=start)}


def _append(row: dict) -> None:
    RESULTS.mkdir(exist_ok=True)
    with open(RUNS, "a") as fh:
        fh.write(json.dumps(row) + "\n")


def _seeds_for(size, seeds_small, seeds_large):
    return range(seeds_small if size <= 500 else seeds_large)


def run_part(part: str, root, bbdir: Path, *, sizes, seeds_small: int, seeds_large: int, modes, epochs: int,
             targets=None) -> None:
    import warnings

    from seqconv.transfer import TransferLeakageWarning

    done = _load_done()
    if part == "deepbind":
        plan = [(t, "human_lo4") for t in (targets or tb.TARGETS)] + \
               [(t, "human_lofam") for t in (targets or tb.FAMILY) if t in tb.FAMILY]
    elif part == "yeast":
        plan = [(t, "yeast_backbone") for t in (targets or YEAST_TARGETS)]
    else:
        plan = [(t, "human_backbone") for t in (targets or DNABERT2_MOUSE_MCC)]
    cache: dict = {}
    for target, bname in plan:
        if bname not in cache:
            cache[bname] = (load_backbone(bbdir / bname), read_dataset(bbdir / f"{bname}.data.parquet"))
        bb, source = cache[bname]
        mode_list = modes if bname != "human_lofam" else [m for m in modes if m in ("frozen", "finetune")]
        size_list = list(sizes) + (["full"] if part == "mouse" else [])
        for size in size_list:
            for seed in _seeds_for(size if size != "full" else 10 ** 9, seeds_small, seeds_large):
                if part == "deepbind":
                    ds = deepbind_cohort(root, target, size, seed)
                elif part == "yeast":
                    ds = yeast_cohort(root, target, size, seed)
                    if ds is None:
                        continue
                else:
                    ds = mouse_cohort(root, target, None if size == "full" else size, seed)
                for mode in mode_list:
                    key = (part, target, bname, size, mode, seed)
                    if key in done:
                        continue
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always", TransferLeakageWarning)
                        row = run_one(part, target, bname, bb, ds, size, mode, seed, source, epochs=epochs)
                    row["leakage"] = [str(w.message) for w in caught if issubclass(w.category, TransferLeakageWarning)]
                    _append(row)
                    print(f"{part} {target:6s} {bname:14s} n={size!s:5s} {mode:9s} seed {seed}: auROC "
                          f"{row['auroc']:.4f} auPRC {row['auprc']:.4f} best epoch {row['best_epoch']:2d} "
                          f"{row['cpu_seconds']:.0f} CPU-s", flush=True)


# --------------------------------------------------------------------------- report


def _ci(d: np.ndarray) -> tuple[float, float]:
    from scipy import stats

    if len(d) < 2 or np.std(d, ddof=1) == 0:
        return float(np.mean(d)), float(np.mean(d))
    h = stats.t.ppf(0.975, len(d) - 1) * np.std(d, ddof=1) / np.sqrt(len(d))
    return float(np.mean(d) - h), float(np.mean(d) + h)


def _machine_summary(runs: pd.DataFrame) -> str:
    """The machine and the load the runs saw, from their own records (runs made before them have none)."""
    recs = list(runs["machine"]) if "machine" in runs else []
    if not any(isinstance(m, dict) for m in recs):
        return (f"Machine: {cpu_model()}, {os.cpu_count()} logical CPUs visible when this report was written; "
                f"{NOT_RECORDED} (none of the {len(runs)} runs has a machine record).")
    return runs_summary(recs, len(runs))


def report() -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = pd.DataFrame([json.loads(x) for x in RUNS.read_text().splitlines()])
    runs["size_key"] = runs["size"].map(lambda s: 10 ** 9 if s == "full" else int(s))
    lines = ["# Transfer benchmark", "",
             "Command: `python pipelines/train_backbones.py --out ../backbones --deepbind-max 20000` then "
             "`python benchmarks/transfer.py --backbones ../backbones --part deepbind|yeast|mouse` and "
             "`python benchmarks/transfer.py --report`.",
             _machine_summary(runs), "",
             f"{len(runs)} runs.  Test sets: DeepBind B files (500 + 500, dinucleotide-shuffled negatives); yeast "
             "chr8 + chr9 (GC-matched background); mouse GUE test files.  Cohorts: n positives + n matched negatives; "
             "valid = 20% of the cohort (DeepBind), chr7 (yeast), GUE dev (mouse).", ""]
    # per target x backbone x size x mode
    g = runs.groupby(["part", "target", "backbone", "size_key", "mode"])
    agg = g.agg(n=("seed", "count"), auroc=("auroc", "mean"), auroc_sd=("auroc", "std"), auprc=("auprc", "mean"),
                auprc_sd=("auprc", "std"), mcc=("mcc", "mean"), valid_auprc=("valid_auprc", "mean"),
                best_epoch=("best_epoch", "mean"), cpu=("cpu_seconds", "mean")).reset_index()
    lines += ["## Mean +- sd test auROC / auPRC per target, cohort size and mode", "",
              "| target | backbone | n pos | mode | seeds | auROC | auPRC | best epoch | CPU s |", "|---|---|---|---|---|---|---|---|---|"]
    for r in agg.itertuples():
        size = "full" if r.size_key == 10 ** 9 else r.size_key
        lines.append(f"| {r.target} | {r.backbone} | {size} | {r.mode} | {r.n} | {r.auroc:.3f} +- {np.nan_to_num(r.auroc_sd):.3f} "
                     f"| {r.auprc:.3f} +- {np.nan_to_num(r.auprc_sd):.3f} | {r.best_epoch:.1f} | {r.cpu:.0f} |")
    # paired differences: best transfer mode (chosen by mean validation auPRC) vs scratch and vs mixture
    lines += ["", "## Paired differences (same cohort and seed), 95% t-intervals over seeds", "",
              "`transfer` = frozen or finetune, whichever has the higher mean *validation* auPRC for that (target, "
              "size) (chosen without looking at the test set).", "",
              "| target | backbone | n pos | transfer = | d auROC vs scratch [95% CI] | d auPRC vs scratch | "
              "d auROC vs mixture | finetune best epoch / scratch |", "|---|---|---|---|---|---|---|---|"]
    pairs = []
    for (part, target, bname, size), sub in runs.groupby(["part", "target", "backbone", "size_key"]):
        piv = sub.pivot_table(index="seed", columns="mode", values=["auroc", "auprc", "valid_auprc", "best_epoch"])
        have = set(sub["mode"])
        cands = [m for m in ("frozen", "finetune") if m in have]
        if not cands or "scratch" not in have:
            continue
        best = max(cands, key=lambda m: piv["valid_auprc"][m].mean())
        d_roc = (piv["auroc"][best] - piv["auroc"]["scratch"]).dropna().to_numpy()
        d_prc = (piv["auprc"][best] - piv["auprc"]["scratch"]).dropna().to_numpy()
        d_mix = (piv["auroc"][best] - piv["auroc"]["mixture"]).dropna().to_numpy() if "mixture" in have else np.array([])
        ep = (piv["best_epoch"]["finetune"].mean() / piv["best_epoch"]["scratch"].mean()) if "finetune" in have else np.nan
        lo, hi = _ci(d_roc)
        plo, phi = _ci(d_prc)
        size_s = "full" if size == 10 ** 9 else size
        mix_s = f"{d_mix.mean():+.3f}" if len(d_mix) else "-"
        lines.append(f"| {target} | {bname} | {size_s} | {best} | {d_roc.mean():+.3f} [{lo:+.3f}, {hi:+.3f}] | "
                     f"{d_prc.mean():+.3f} [{plo:+.3f}, {phi:+.3f}] | {mix_s} | {ep:.2f} |")
        pairs.append({"part": part, "target": target, "backbone": bname, "size": size, "best": best,
                      "d_auroc": d_roc.mean(), "d_auprc": d_prc.mean(), "d_mix": d_mix.mean() if len(d_mix) else np.nan,
                      "epoch_ratio": ep})
    P = pd.DataFrame(pairs)
    lines += ["", "## Targets of the issue", ""]
    if len(P):
        main = P[P["backbone"] != "human_lofam"]
        small = main[main["size"] <= 500]
        if len(small):
            lines.append(f"- at <= 500 positives, transfer - scratch auROC: mean {small['d_auroc'].mean():+.3f} "
                         f"(target >= +0.05: {'met' if small['d_auroc'].mean() >= 0.05 else 'NOT met'}); positive "
                         f"in {(small['d_auroc'] > 0).sum()}/{len(small)} (target, size) pairs, >= +0.05 in "
                         f"{(small['d_auroc'] >= 0.05).sum()}/{len(small)} (target >= 90% beat scratch: "
                         f"{'met' if (small['d_auroc'] > 0).mean() >= 0.9 else 'NOT met'})")
        mix = main.dropna(subset=["d_mix"])
        if len(mix):
            per_t = mix.groupby("target")["d_mix"].mean()
            lines.append(f"- transfer beats mixture (mean over sizes) in {(per_t > 0).sum()}/{len(per_t)} targets "
                         f"(target >= 60%: {'met' if (per_t > 0).mean() >= 0.6 else 'NOT met'}); per (target, size): "
                         f"{(mix['d_mix'] > 0).sum()}/{len(mix)}")
        big = main[main["size"] == 2000]
        if len(big):
            worst = big["d_auprc"].min()
            lines.append(f"- at 2000 positives, worst transfer - scratch auPRC {worst:+.3f} (target: never below "
                         f"-0.01: {'met' if worst >= -0.01 else 'NOT met'})")
        er = main["epoch_ratio"].dropna()
        if len(er):
            lines.append(f"- finetune best epoch / scratch best epoch: median {er.median():.2f}, <= 0.5 in "
                         f"{(er <= 0.5).sum()}/{len(er)} (target: <= 0.5: "
                         f"{'met' if er.median() <= 0.5 else 'NOT met'} on the median)")
    # a related TF in pretraining: the same targets' finetune test auROC from human_lo4 (GABPA, USF1 in its data)
    # and human_lofam (without them); the lofam runs have no scratch arm, so compare the backbones directly
    ft = agg[(agg["mode"] == "finetune") & agg["backbone"].isin(["human_lo4", "human_lofam"])]
    fam = ft.pivot_table(index=["target", "size_key"], columns="backbone", values="auroc").dropna()
    if len(fam):
        lines.append(f"- related TF in pretraining (human_lo4 has GABPA/USF1, human_lofam not): finetune test auROC "
                     f"{fam['human_lo4'].mean():.3f} vs {fam['human_lofam'].mean():.3f} (mean over {len(fam)} (target, "
                     f"size) pairs of {', '.join(sorted(set(fam.index.get_level_values(0))))})")
    mouse = agg[agg["part"] == "mouse"]
    if len(mouse):
        lines += ["", "## Mouse GUE (cross-species, from the human backbone): test MCC x100", "",
                  "| task | n pos | " + " | ".join(MODES) + " | DNABERT-2 |", "|---|---|" + "---|" * (len(MODES) + 1)]
        for (task, size), sub in mouse.groupby(["target", "size_key"]):
            vals = {r.mode: r.mcc * 100 for r in sub.itertuples()}
            size_s = "full" if size == 10 ** 9 else size
            lines.append(f"| {task} | {size_s} | " + " | ".join(f"{vals[m]:.2f}" if m in vals else "-" for m in MODES)
                         + f" | {DNABERT2_MOUSE_MCC[task]} |")
    leaks = sorted({m for ls in runs.get("leakage", []) if isinstance(ls, list) for m in ls})
    lines += ["", f"Leakage warnings raised during the runs: {len(leaks)}" + ("" if not leaks else ": " + "; ".join(leaks[:3]))]
    # learning curves
    for (_part, target, bname), sub in agg.groupby(["part", "target", "backbone"]):
        sub = sub[sub["size_key"] < 10 ** 9]
        if sub["size_key"].nunique() < 2:
            continue
        fig, axes = plt.subplots(1, 2, figsize=(8, 3.4))
        for ax, k in zip(axes, ("auroc", "auprc")):
            for mode, s in sub.groupby("mode"):
                ax.errorbar(s["size_key"], s[k], yerr=np.nan_to_num(s[f"{k}_sd"]), marker="o", ms=3, capsize=2,
                            label=mode)
            ax.set_xscale("log")
            ax.set_xlabel("positives in the cohort")
            ax.set_ylabel(f"test {k}")
        axes[0].legend(fontsize=7)
        fig.suptitle(f"{target} from {bname}", fontsize=9)
        fig.tight_layout()
        fig.savefig(RESULTS / f"transfer_curve_{target}_{bname}.png", dpi=100)
        plt.close(fig)
        lines.append(f"\n![{target} from {bname}](transfer_curve_{target}_{bname}.png)")
    ablation = RESULTS / "transfer_backbone_lr.txt"  # written by benchmarks/transfer_backbone_lr.py
    if ablation.exists():
        lines += ["", "## Ablation: finetune's backbone learning rate (REST, FOXA1; 500 positives; human_lo4; 3 seeds)",
                  "", "Command: `python benchmarks/transfer_backbone_lr.py ../backbones` (test auROC per seed):", ""]
        lines += [f"- {x}" for x in ablation.read_text().splitlines() if x.strip()]
        lines += ["", "With the default 0.1x the fine-tuned backbone cannot move far enough in <= 20 epochs for REST "
                  "and FOXA1; at 1.0x REST reaches 0.947 (scratch 0.964) and FOXA1 0.879 (scratch 0.861).  The tables "
                  "above use the default 0.1x."]
    text = "\n".join(lines) + "\n"
    (RESULTS / "transfer.md").write_text(text)
    return text


def main(argv=None) -> int:
    import torch

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--backbones", default=str(REPO.parent / "backbones"))
    ap.add_argument("--part", choices=["deepbind", "yeast", "mouse"])
    ap.add_argument("--targets", nargs="*", default=None)
    ap.add_argument("--sizes", nargs="*", type=int, default=list(SIZES))
    ap.add_argument("--modes", nargs="*", default=list(MODES))
    ap.add_argument("--seeds-small", type=int, default=3, help="seeds at <= 500 positives")
    ap.add_argument("--seeds-large", type=int, default=2, help="seeds above 500 positives")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--report", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.part:
        run_part(args.part, args.data, Path(args.backbones), sizes=args.sizes, seeds_small=args.seeds_small,
                 seeds_large=args.seeds_large, modes=args.modes, epochs=args.epochs, targets=args.targets)
    if args.report or not args.part:
        print(report())
    return 0


if __name__ == "__main__":
    sys.exit(main())
