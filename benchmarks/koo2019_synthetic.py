"""Synthetic motif-embedding data set after Koo & Eddy 2019 (PLoS Comput Biol 15:e1007560), seeded.

Recipe (our implementation of the recipe in ../shared/data/jaspar_koo2019/PROVENANCE.md;
their notebook is not copied):

* the 12 JASPAR 2016 motifs Arid3a CEBPB FOSL1 Gabpa MAFK MAX MEF2A NFYB SP1 SRF STAT1 YY1
  (``pfm_vertebrates.txt``, exact-name matches: MA0151.1, MA0466.2, MA0477.1, MA0062.2,
  MA0496.1, MA0058.3, MA0052.3, MA0502.1, MA0079.3, MA0083.3, MA0137.3, MA0095.2);
* each sequence: 200 bp of uniform i.i.d. background (A, C, G, T each 1/4);
* 1 to 5 distinct motifs (uniformly many, uniformly chosen) are embedded at random
  non-overlapping positions, each site *sampled* from the motif's probability matrix and
  put on a random strand;
* labels: one task per motif, 1 when the motif is embedded (12-task multi-label).

Koo & Eddy used 30,000 sequences (the default ``--n``).

Usage::

    python benchmarks/koo2019_synthetic.py --n 30000 --seed 33 --out benchmarks/work/koo2019.parquet
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

MOTIF_NAMES = ("Arid3a", "CEBPB", "FOSL1", "Gabpa", "MAFK", "MAX", "MEF2A", "NFYB", "SP1", "SRF", "STAT1", "YY1")
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "jaspar_koo2019"
PFM_FILE = SHARED / "pfm_vertebrates.txt.gz"
MEME_FILE = SHARED / "JASPAR_CORE_2016_vertebrates.meme.gz"
_LETTERS = np.frombuffer(b"ACGT", dtype=np.uint8)


def core_motifs(path=PFM_FILE) -> list:
    """The 12 embedded motifs (seqconv Motif objects, JASPAR 2016 counts), in :data:`MOTIF_NAMES` order."""
    from seqconv.motifs import read_jaspar

    by_name = {}
    for m in read_jaspar(path):
        by_name.setdefault(m.name, m)  # first = lowest matrix id, as listed in the file
    missing = [n for n in MOTIF_NAMES if n not in by_name]
    if missing:
        raise SystemExit(f"{path}: motifs {missing} not found")
    return [by_name[n] for n in MOTIF_NAMES]


def generate(n: int, *, length: int = 200, max_motifs: int = 5, seed: int = 33, motifs=None) -> pd.DataFrame:
    """Generate ``n`` sequences.

    Returns
    -------
    DataFrame with ``name``, ``sequence``, ``motifs`` (``;``-joined ``NAME@pos/strand``) and one
    ``label:<motif>`` int8 column per motif.
    """
    motifs = motifs or core_motifs()
    rng = np.random.default_rng(seed)
    probs = [m.probabilities for m in motifs]
    seqs = rng.integers(0, 4, size=(n, length), dtype=np.int8)
    labels = np.zeros((n, len(motifs)), dtype=np.int8)
    notes = []
    for i in range(n):
        k = int(rng.integers(1, max_motifs + 1))
        chosen = rng.choice(len(motifs), size=k, replace=False)
        widths = [len(probs[j]) for j in chosen]
        free = length - sum(widths)
        gaps = np.diff(np.concatenate([[0], np.sort(rng.integers(0, free + 1, size=k)), [free]]))
        pos, note = int(gaps[0]), []
        for t, j in enumerate(chosen):
            p = probs[j]
            u = rng.random(len(p))[:, None]
            site = (u > np.cumsum(p, axis=1)).sum(axis=1).clip(0, 3).astype(np.int8)
            strand = "+"
            if rng.random() < 0.5:
                site, strand = (3 - site)[::-1], "-"
            seqs[i, pos:pos + len(p)] = site
            labels[i, j] = 1
            note.append(f"{motifs[j].name}@{pos}/{strand}")
            pos += len(p) + int(gaps[t + 1])
        notes.append(";".join(note))
    text = _LETTERS[seqs].view(f"S{length}").ravel()
    table = pd.DataFrame({"name": [f"syn{i}" for i in range(n)], "sequence": [s.decode() for s in text],
                          "motifs": notes})
    for j, m in enumerate(motifs):
        table[f"label:{m.name}"] = labels[:, j]
    return table


def as_dataset(table: pd.DataFrame, *, seed: int = 33, valid: float = 0.1, test: float = 0.1):
    """A seqconv :class:`~seqconv.dataset.Dataset` (random train/valid/test split, seeded)."""
    from seqconv.dataset import Dataset

    rng = np.random.default_rng(seed + 1)
    u = rng.random(len(table))
    split = np.where(u < test, "test", np.where(u < test + valid, "valid", "train"))
    t = pd.DataFrame({"name": table["name"], "chrom": "", "start": -1, "end": -1, "sequence": table["sequence"],
                      "kind": "input", "split": split})
    for c in table.columns:
        if c.startswith("label:"):
            t[c] = table[c].astype(np.int8)
    return Dataset(t, {"width": len(table["sequence"].iloc[0]), "name": "koo2019_synthetic",
                       "seed": seed, "sources": [str(PFM_FILE)]})


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=30000, help="number of sequences (Koo & Eddy: 30000)")
    ap.add_argument("--length", type=int, default=200)
    ap.add_argument("--seed", type=int, default=33)
    ap.add_argument("--out", required=True, help="output Parquet dataset")
    a = ap.parse_args(argv)
    from seqconv.dataset import write_dataset

    ds = as_dataset(generate(a.n, length=a.length, seed=a.seed), seed=a.seed)
    write_dataset(ds, a.out)
    print(f"wrote {a.out}: {len(ds.table)} sequences x {a.length} bp, tasks {ds.tasks}")
    print(ds.summary().to_string(index=False))


if __name__ == "__main__":
    main()
