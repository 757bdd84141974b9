"""Pretrain the multi-TF backbones of seqconv on the real data in ../shared/data.

Usage::

    python pipelines/train_backbones.py --out backbones/            # build all into a scratch folder
    python pipelines/train_backbones.py --only yeast_backbone --out backbones/
    python pipelines/train_backbones.py --out backbones/ --install  # then copy the shipped ones into the package

Backbones (``kind: "backbone"``; one output per TF during pretraining, masked multi-task loss):

``human_backbone`` (shipped)
    the 5 GUE human TF tasks (GC-matched genomic negatives, given train/dev splits) + the 10
    DeepBind ENCODE TFs (A/C-ranked peaks, one dinucleotide shuffle per peak as DeepBind did;
    at most ``--deepbind-max`` peaks per TF); each row labelled only for its own task.
``yeast_backbone`` (shipped)
    the whole sacCer3 genome with the Rossi 2021 ChIP-exo events of the 30 TFs with most events in
    the shared data, leaving out the benchmark targets Reb1, Cbf1 and Rap1; GC-matched background 1:1;
    chr7 validation, chr8 + chr9 held out (never trained on).
``human_lo4`` / ``human_lofam`` (benchmark only, not shipped)
    ``human_backbone`` without the labels of ELK1, MYC, REST, FOXA1 (the transfer targets), and
    also without GABPA (ETS, like ELK1) and USF1 (E-box, like MYC): leave-targets-out and
    leave-family-out.

Every backbone is trained with a fixed seed on CPU; its card records the data (names relative
to the shared data folder), the split, the config and this command.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from train_pretrained import deepbind_file  # pipelines/, this script's folder

from seqconv.dataset import LABEL_PREFIX, Dataset, write_dataset
from seqconv.encode import dinucleotide_shuffle
from seqconv.modelfile import save_backbone
from seqconv.models import ModelCard, build_model, get_config
from seqconv.train import TrainConfig, fit

REPO = Path(__file__).resolve().parents[1]
GUE_TASKS = ["tf_0", "tf_1", "tf_2", "tf_3", "tf_4"]
DEEPBIND_TFS = ["ARID3A", "CTCFL", "ELK1", "FOXA1", "GABPA", "MYC", "REST", "SP1", "USF1", "ZBTB7A"]
YEAST_HELD_OUT = ["Reb1", "Cbf1", "Rap1"]
TARGETS = ["ELK1", "MYC", "REST", "FOXA1"]
FAMILY = {"ELK1": "GABPA", "MYC": "USF1"}
ARCH = ("basset", {"filters": [64, 64, 64], "hidden": 64})


def _rows(names, seqs, split, kind, labels: dict, all_tasks) -> pd.DataFrame:
    n = len(seqs)
    t = pd.DataFrame({"name": list(names), "chrom": [""] * n, "start": np.full(n, -1, np.int64),
                      "end": np.full(n, -1, np.int64), "sequence": list(seqs), "kind": list(kind),
                      "split": list(split) if not isinstance(split, str) else [split] * n})
    for task in all_tasks:
        t[LABEL_PREFIX + task] = np.asarray(labels[task], np.int8) if task in labels else np.full(n, -1, np.int8)
    return t


def _seeded_split(n: int, frac: float, seed: int) -> np.ndarray:
    split = np.array(["train"] * n, dtype=object)
    split[np.random.default_rng(seed).permutation(n)[: int(round(frac * n))]] = "valid"
    return split


def deepbind_parts(root, tf: str, all_tasks, *, max_pos: int | None, seed: int, with_test: bool = True):
    """A/C peaks (first ``max_pos`` by rank) + one dinucleotide shuffle each (train/valid 90/10); B file = test."""
    ac = pd.read_csv(deepbind_file(root, tf, "AC"), sep="\t")
    if max_pos:
        ac = ac.iloc[:max_pos]
    pos = ac["seq"].str.upper().tolist()
    neg = dinucleotide_shuffle(pos, seed=seed)
    names = [f"{tf}|{e}" for e in ac["EventID"]] + [f"{tf}|{e}_shuf" for e in ac["EventID"]]
    split = _seeded_split(2 * len(pos), 0.1, seed)
    parts = [_rows(names, pos + neg, split, ["positive"] * len(pos) + ["shuffle"] * len(neg),
                   {tf: [1] * len(pos) + [0] * len(neg)}, all_tasks)]
    if with_test:
        b = pd.read_csv(deepbind_file(root, tf, "B"), sep="\t")
        parts.append(_rows([f"{tf}|B|{e}" for e in b["EventID"]], b["seq"].str.upper(), "test",
                           np.where(b["Bound"] == 1, "positive", "shuffle"), {tf: b["Bound"]}, all_tasks))
    return parts


def gue_parts(root, task: str, all_tasks, *, max_train: int | None):
    parts = []
    for fname, split in (("train", "train"), ("dev", "valid"), ("test", "test")):
        df = pd.read_csv(Path(root) / "gue_tf" / task / f"{fname}.csv.gz")
        if max_train and split == "train":
            df = df.iloc[:max_train]
        kind = np.where(df["label"] == 1, "positive", "background")
        parts.append(_rows([f"gue_{task}|{fname}|{i}" for i in range(len(df))], df["sequence"].str.upper(), split,
                           kind, {f"gue_{task}": df["label"]}, all_tasks))
    return parts


def human_dataset(root, *, exclude=(), deepbind_max: int = 8000, gue_max: int = 12000, seed: int = 0) -> Dataset:
    """GUE human TF tasks + DeepBind ENCODE TFs (except ``exclude``) as one masked multi-task dataset."""
    tfs = [t for t in DEEPBIND_TFS if t not in exclude]
    tasks = [f"gue_{t}" for t in GUE_TASKS] + tfs
    parts = []
    for t in GUE_TASKS:
        parts += gue_parts(root, t, tasks, max_train=gue_max)
    for tf in tfs:
        parts += deepbind_parts(root, tf, tasks, max_pos=deepbind_max, seed=seed)
    meta = {"name": "human_gue_deepbind" + (f"_minus_{'_'.join(exclude)}" if exclude else ""), "width": 101,
            "seed": seed,
            "split": {"scheme": "given: GUE train/dev/test; DeepBind A/C train (seeded 10% valid) vs B test"},
            "sources": {"gue": [f"gue_tf/{t}/{{train,dev,test}}.csv.gz" for t in GUE_TASKS],
                        "deepbind": [f"deepbind_encode/{deepbind_file(root, tf, 'AC').name}" for tf in tfs]},
            "excluded_tfs": list(exclude)}
    return Dataset(pd.concat(parts, ignore_index=True), meta)


def yeast_tfs(root, n: int | None = 30, held_out=YEAST_HELD_OUT) -> list[str]:
    """The Rossi 2021 TFs split out in the shared data (the ``n`` with most ChIP-exo events; ``None``: all),
    after leaving out ``held_out``."""
    import gzip

    d = Path(root) / "yeast_sacCer3_chip" / "chexmix_by_tf"
    counts = {}
    for f in sorted(d.glob("*_CX.bed.gz")):
        with gzip.open(f, "rt") as fh:
            counts[f.name[: -len("_CX.bed.gz")]] = sum(1 for _ in fh)
    ranked = sorted((t for t in counts if t not in held_out), key=lambda t: (-counts[t], t))
    return ranked[:n] if n else ranked


def yeast_dataset(root, *, tfs=None, width: int = 101, seed: int = 0) -> Dataset:
    from seqconv.prepare import from_peaks

    d = Path(root) / "yeast_sacCer3_chip"
    tfs = tfs or yeast_tfs(root)
    ds, _ = from_peaks([d / "chexmix_by_tf" / f"{tf}_CX.bed.gz" for tf in tfs], d / "sacCer3_R64.fa.gz",
                       width=width, task_names=list(tfs), negatives="gc", ratio=1.0, margin=200,
                       exclude=d / "rossi2021_chexmix_exclude_regions.bed.gz", test_chroms=("chr8", "chr9"),
                       valid_chroms=("chr7",), seed=seed)
    ds.meta["name"] = f"yeast_sacCer3_chexmix_{len(tfs)}tfs"
    ds.meta["sources"] = {"peaks": [f"yeast_sacCer3_chip/chexmix_by_tf/{tf}_CX.bed.gz" for tf in tfs],
                          "genome": "yeast_sacCer3_chip/sacCer3_R64.fa.gz"}
    return ds


BACKBONES = {
    "human_backbone": dict(data="human", exclude=(), shipped=True, epochs=8,
                           desc="human multi-TF backbone: 5 GUE human TF tasks + 10 DeepBind ENCODE TFs"),
    "yeast_backbone": dict(data="yeast", exclude=(), shipped=True, epochs=30, patience=8,
                           desc="yeast multi-TF backbone: Rossi 2021 ChIP-exo, top-30 TFs without Reb1/Cbf1/Rap1, "
                                "sacCer3, chr8+chr9 held out"),
    "human_lo4": dict(data="human", exclude=tuple(TARGETS), shipped=False, epochs=8,
                      desc="human backbone without ELK1, MYC, REST, FOXA1 labels (benchmark)"),
    "human_lofam": dict(data="human", exclude=tuple(TARGETS) + tuple(FAMILY.values()), shipped=False, epochs=8,
                        desc="human backbone without ELK1, MYC, REST, FOXA1 and their relatives GABPA, USF1 "
                             "(benchmark)"),
}


def build_data(name: str, root, *, seed: int = 0, deepbind_max: int = 8000) -> Dataset:
    spec = BACKBONES[name]
    if spec["data"] == "human":
        return human_dataset(root, exclude=spec["exclude"], deepbind_max=deepbind_max, seed=seed)
    return yeast_dataset(root, seed=seed)


def train_backbone(name: str, root, out_root: Path, *, seed: int = 0, deepbind_max: int = 8000,
                   epochs: int | None = None, verbose: bool = True, keep_data: bool = True) -> dict:
    """Pretrain one backbone; writes ``out_root/name`` (backbone), ``out_root/name.model`` (with its
    pretraining heads) and ``out_root/name.data.parquet`` (its source data, for mixture/adapt)."""
    import torch

    from seqconv.evaluate import metrics_table
    from seqconv.predict import predict

    spec = BACKBONES[name]
    t0, c0 = time.time(), time.process_time()
    ds = build_data(name, root, seed=seed, deepbind_max=deepbind_max)
    arch, opts = ARCH
    negatives = "genomic background (GC-matched)" if spec["data"] == "yeast" else \
        "GUE: genomic background; DeepBind: dinucleotide shuffles"
    model = build_model(get_config(arch, n_tasks=len(ds.tasks), input_length=ds.width, **opts), seed=seed,
                        card=ModelCard(tasks=ds.tasks, negatives=negatives))
    cfg = TrainConfig(epochs=epochs or spec["epochs"], patience=spec.get("patience", 4), batch_size=128, seed=seed)
    command = f"python pipelines/train_backbones.py --only {name}"
    res = fit(model, ds, config=cfg, verbose=verbose,
              card_extra={"name": name, "command": command, "torch_threads": torch.get_num_threads()})
    test = ds.subset("test")
    logits = predict(res.model, test.X())
    table = metrics_table(test.y(), logits, ds.tasks, n_boot=200, seed=seed)
    model = res.model
    model.card = model.card.replace(description=spec["desc"],
                                    metrics={**model.card.metrics,
                                             "test": json.loads(table.to_json(orient="records"))},
                                    training={**model.card.training, "dataset_meta": ds.meta,
                                              "seconds": round(time.time() - t0, 1),
                                              "cpu_seconds": round(time.process_time() - c0, 1)})
    out_root.mkdir(parents=True, exist_ok=True)
    from seqconv.modelfile import save_model

    save_model(model, out_root / f"{name}.model", dtype="float16")
    save_backbone(model, out_root / name, dtype="float16", description=spec["desc"])
    if keep_data:
        write_dataset(ds, out_root / f"{name}.data.parquet")
    size = sum(p.stat().st_size for p in (out_root / name).iterdir())
    entry = {"name": name, "kind": "backbone", "arch": arch, "input_width": ds.width, "tasks": ds.tasks,
             "negatives": "genomic (GC-matched)" if spec["data"] == "yeast" else "genomic + shuffles",
             "data": ds.meta["name"], "description": spec["desc"],
             "test": {k: round(float(np.nanmean(table[k])), 4) for k in ("auroc", "auprc", "mcc")},
             "size_kb": round(size / 1024, 1), "best_epoch": res.best_epoch}
    print(f"{name}: {len(ds.table)} rows, {len(ds.tasks)} tasks; pretraining test auROC {entry['test']['auroc']:.4f} "
          f"auPRC {entry['test']['auprc']:.4f} (mean over tasks); {time.time() - t0:.0f} s, "
          f"{time.process_time() - c0:.0f} CPU-s, {entry['size_kb']} KB", file=sys.stderr, flush=True)
    (out_root / f"{name}.entry.json").write_text(json.dumps(entry, indent=1) + "\n")
    return entry


def install(out_root: Path, names) -> None:
    """Copy built backbones into seqconv/pretrained and list them in its index.json (explicit step), as
    ``train_pretrained.py --install`` does for models."""
    from train_pretrained import install as install_into_package

    entries = {n: json.loads((out_root / f"{n}.entry.json").read_text()) for n in names}
    install_into_package(out_root, names, entries)
    print(f"installed {', '.join(names)} into seqconv/pretrained", file=sys.stderr)


def main(argv=None) -> int:
    import torch

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data"), help="shared data folder (../shared/data)")
    ap.add_argument("--out", required=True, help="folder for the built backbones (never the package itself)")
    ap.add_argument("--only", nargs="*", default=None, help=f"backbones (default: all): {', '.join(BACKBONES)}")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=None, help="override the epochs of every backbone")
    ap.add_argument("--deepbind-max", type=int, default=8000, help="at most this many peaks per DeepBind TF")
    ap.add_argument("--install", action="store_true", help="copy the shipped backbones into seqconv/pretrained")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    names = args.only or list(BACKBONES)
    bad = [n for n in names if n not in BACKBONES]
    if bad:
        ap.error(f"unknown backbone(s) {bad}; choose from {list(BACKBONES)}")
    for name in names:
        if not (out / f"{name}.entry.json").exists():
            train_backbone(name, args.data, out, seed=args.seed, deepbind_max=args.deepbind_max, epochs=args.epochs,
                           verbose=not args.quiet)
    if args.install:
        install(out, [n for n in names if BACKBONES[n]["shipped"]])
    return 0


if __name__ == "__main__":
    sys.exit(main())
