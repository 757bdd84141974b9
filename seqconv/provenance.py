"""What a model was trained on, recorded compactly enough to ship: chromosomes and sequence sketches.

The leakage guard of :mod:`seqconv.transfer` asks whether a target cohort's test data were part
of a backbone's training data.  With genomic coordinates that is a question about chromosomes
(of the same genome); without them (GUE, DeepBind, labelled FASTA) about the sequences.  For
sequences a *sketch* is stored: the 64-bit BLAKE2b hashes of the strand-canonical, upper-case
sequences whose hash is ``0 mod m``, with ``m`` the smallest power of two that keeps at most
``max_size`` hashes.  A query set is checked by hashing its sequences the same way: the number
of its sampled hashes found in the sketch, times ``m``, estimates how many of its sequences the
model saw (a hash-based subsample, as in MinHash ``mod``-sketches; exact when ``m == 1``).
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import numpy as np

_COMPLEMENT = str.maketrans("ACGTN", "TGCAN")


def canonical(seq: str) -> str:
    """Upper case, and the lexicographically smaller of the sequence and its reverse complement."""
    s = seq.upper()
    rc = s.translate(_COMPLEMENT)[::-1]
    return min(s, rc)


def sequence_hashes(seqs) -> np.ndarray:
    """64-bit hashes (uint64) of the canonical form of each sequence."""
    return np.array([int.from_bytes(hashlib.blake2b(canonical(s).encode(), digest_size=8).digest(), "little")
                     for s in seqs], dtype=np.uint64)


def sketch(seqs, *, max_size: int = 20_000) -> dict:
    """A JSON-ready sketch of a set of sequences: ``{"n", "mod", "hashes"}`` (base64 of sorted uint64)."""
    h = np.unique(sequence_hashes(seqs))
    mod = 1
    while (h % np.uint64(mod) == 0).sum() > max_size:
        mod *= 2
    kept = np.sort(h[h % np.uint64(mod) == 0])
    return {"n": int(len(h)), "mod": mod, "hashes": base64.b64encode(kept.astype("<u8").tobytes()).decode()}


def sketch_overlap(sk: dict, seqs) -> dict:
    """How many of ``seqs`` are (estimated to be) in the set a sketch was made of.

    Returns
    -------
    dict with ``n_query`` (distinct query sequences), ``found`` (sampled query hashes present
    in the sketch), ``estimate`` (``found * mod``, capped at ``n_query``) and ``mod``.
    """
    stored = np.frombuffer(base64.b64decode(sk["hashes"]), dtype="<u8")
    mod = np.uint64(int(sk["mod"]))
    q = np.unique(sequence_hashes(seqs))
    sampled = q[q % mod == 0]
    found = int(np.isin(sampled, stored).sum())
    return {"n_query": int(len(q)), "found": found, "estimate": int(min(len(q), found * int(mod))),
            "mod": int(mod)}


def rows_entry(table, *, max_sketch: int = 20_000) -> dict:
    """``{"n", "chromosomes", "sketch"}`` of the rows of a dataset table."""
    chroms = sorted({c for c in table["chrom"] if isinstance(c, str) and c})
    return {"n": int(len(table)), "chromosomes": chroms,
            "sketch": sketch(table["sequence"].tolist(), max_size=max_sketch)}


def genome_name(ds) -> str | None:
    """File name of the genome a dataset's windows were cut from (``None`` without coordinates)."""
    sources = ds.meta.get("sources") or {}
    genome = sources.get("genome") if isinstance(sources, dict) else None
    return Path(str(genome)).name if genome else None


def dataset_provenance(ds, *, name: str | None = None, max_sketch: int = 20_000) -> dict:
    """Provenance of a :class:`~seqconv.dataset.Dataset`: per split, its chromosomes and a sequence sketch.

    Returns
    -------
    dict: ``name``, ``genome`` (file name of the genome the windows came from, if any),
    ``splits = {split: {"n", "chromosomes", "sketch"}}``.
    """
    out = {"name": name or ds.meta.get("name") or "", "genome": genome_name(ds), "splits": {}}
    for split in ("train", "valid", "test"):
        t = ds.table[ds.table["split"] == split]
        if len(t):
            out["splits"][split] = rows_entry(t, max_sketch=max_sketch)
    return out
