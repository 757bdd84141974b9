"""Shared test data for the model tests: the bundled real janggu Oct4/MafK test peaks (data/)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from seqconv.dataset import Dataset, write_dataset
from seqconv.genome import iter_fasta

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_FA = REPO / "data" / "example_oct4_mafk_test.fa"
SHARED = REPO.parent / "shared" / "data"


def oct4_mafk_dataset(seed: int = 0) -> Dataset:
    """200 real 200-bp peaks, Oct4 = 1 / MafK = 0, split 140 / 30 / 30 (seeded, stratified by label)."""
    recs = list(iter_fasta(EXAMPLE_FA))
    names = [n for n, _ in recs]
    labels = np.array([n.startswith("oct4") for n in names], dtype=np.int8)
    rng = np.random.default_rng(seed)
    split = np.empty(len(recs), dtype=object)
    for lab in (0, 1):
        idx = rng.permutation(np.flatnonzero(labels == lab))
        split[idx[:70]], split[idx[70:85]], split[idx[85:]] = "train", "valid", "test"
    table = pd.DataFrame({"name": names, "chrom": "", "start": -1, "end": -1,
                          "sequence": [s for _, s in recs], "kind": "positive", "split": split,
                          "label:Oct4": labels})
    return Dataset(table, {"width": 200, "name": "oct4_mafk_example"})


def write_oct4_mafk(path, seed: int = 0) -> Path:
    return write_dataset(oct4_mafk_dataset(seed), path)
