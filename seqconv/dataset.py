"""The dataset file that ``seqconv prepare`` writes and training reads.

Format (version 1)
------------------
One Parquet file, one row per example, columns:

=============  ========  ======================================================
column         type      meaning
=============  ========  ======================================================
``name``       str       example id (peak name, FASTA id, ``chrom:start-end``)
``chrom``      str       chromosome; empty for inputs without coordinates
``start``      int64     0-based window start; -1 without coordinates
``end``        int64     half-open window end; -1 without coordinates
``sequence``   str       the window's DNA (fixed width, case as in the source)
``kind``       str       ``positive``, ``background`` (GC-matched genomic),
                         ``shuffle`` (dinucleotide shuffle) or ``input``
``split``      str       ``train``, ``valid`` or ``test``
``label:TF``   int8      one column per task (TF), 1 bound / 0 not bound /
                         -1 unlabelled (pooled cohorts: a row labelled for
                         some tasks only; training masks it out)
=============  ========  ======================================================

The file's key-value metadata holds ``seqconv`` = JSON with ``format_version``,
``width``, ``tasks``, ``split``, ``seed``, ``sources`` and ``seqconv_version``.
``split`` says where each row's split came from:

* ``{"scheme": "chromosome", "test": [...], "valid": [...], "train": [...]}``:
  held-out chromosomes (peaks);
* ``{"scheme": "files", "files": {"train": F, "valid": F or None, "test": F}}``:
  a benchmark's own split files (``prepare --train/--valid/--test``);
* ``{"scheme": "given", "from": "split column" | "split= in the FASTA headers",
  "file": F}``: the split carried by one labelled file;
* ``{"scheme": "random", "fractions": [train, valid, test], "seed": S}``;

plus ``"valid": {"from": "train", "fraction", "seed", "rows"}`` when the valid
rows were drawn from the train rows, and ``"counts"`` (rows per split).  Any
Parquet reader (pandas, R arrow, polars) opens it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from seqconv import __version__
from seqconv.encode import one_hot
from seqconv.errors import InputError
from seqconv.fileio import atomic_path

FORMAT_VERSION = 1
LABEL_PREFIX = "label:"
SPLITS = ("train", "valid", "test")
REQUIRED = ("name", "chrom", "start", "end", "sequence", "kind", "split")


@dataclass
class Dataset:
    """A labelled, split set of fixed-width sequences.

    Attributes
    ----------
    table : pandas.DataFrame
        The rows, columns as in the module docstring.
    meta : dict
        The JSON metadata (``width``, ``tasks``, ``split`` ...).
    """

    table: pd.DataFrame
    meta: dict = field(default_factory=dict)

    @property
    def tasks(self) -> list[str]:
        """Task (TF) names, in label-column order."""
        return [c[len(LABEL_PREFIX):] for c in self.table.columns if c.startswith(LABEL_PREFIX)]

    @property
    def width(self) -> int:
        return int(self.meta.get("width") or len(self.table["sequence"].iloc[0]))

    def subset(self, split: str | None) -> Dataset:
        """Rows of one split (``None``: all rows)."""
        if split is None:
            return self
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        return Dataset(self.table[self.table["split"] == split].reset_index(drop=True), self.meta)

    def X(self, split: str | None = None, *, dtype=None, iupac: str = "zero") -> np.ndarray:
        """One-hot sequences ``(N, 4, L)`` of one split.

        ``iupac`` is the model's encoding policy (``"zero"``: N and IUPAC codes are zero
        columns, uint8 at rest; ``"uniform"``: R = 0.5 A + 0.5 G ..., float16 at rest).
        """
        t = self.subset(split).table
        if dtype is None:
            dtype = "uint8" if iupac == "zero" else "float16"
        return one_hot(t["sequence"].tolist(), dtype=dtype, iupac=iupac, labels=t["name"].tolist())

    def y(self, split: str | None = None) -> np.ndarray:
        """Labels ``(N, T)`` float32 of one split; NaN where a row is unlabelled for a task (-1 in the file)."""
        t = self.subset(split).table
        y = np.array(t[[LABEL_PREFIX + k for k in self.tasks]].to_numpy(dtype=np.float32))
        y[y < 0] = np.nan
        return y

    def summary(self) -> pd.DataFrame:
        """Counts per split x kind, with positives per task and mean GC."""
        from seqconv.encode import gc_content

        t = self.table.assign(gc=gc_content(self.table["sequence"].tolist()))
        rows = []
        for (split, kind), g in t.groupby(["split", "kind"], sort=False):
            row = {"split": split, "kind": kind, "n": len(g), "gc_mean": round(float(g["gc"].mean()), 4)}
            for task in self.tasks:
                row[f"pos:{task}"] = int((g[LABEL_PREFIX + task] == 1).sum())
            rows.append(row)
        order = {s: i for i, s in enumerate(SPLITS)}
        return (pd.DataFrame(rows)
                .sort_values(["split", "kind"], key=lambda c: c.map(order) if c.name == "split" else c)
                .reset_index(drop=True))


def write_dataset(ds: Dataset, path) -> Path:
    """Write ``ds`` as Parquet, atomically (temp file, then rename)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    missing = [c for c in REQUIRED if c not in ds.table.columns]
    if missing:
        raise ValueError(f"dataset table lacks columns {missing}")
    meta = dict(ds.meta)
    meta.setdefault("format_version", FORMAT_VERSION)
    meta.setdefault("seqconv_version", __version__)
    meta["tasks"] = ds.tasks
    meta.setdefault("width", ds.width)
    table = pa.Table.from_pandas(ds.table, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"seqconv": json.dumps(meta).encode()})
    path = Path(path)
    with atomic_path(path, suffix=".parquet") as tmp:
        pq.write_table(table, tmp, compression="zstd")
    return path


def read_dataset(path) -> Dataset:
    """Read a dataset written by :func:`write_dataset` / ``seqconv prepare``."""
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.exists():
        raise InputError("no such dataset file", path=path)
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise InputError(f"not a seqconv dataset (Parquet) file: {exc}", path=path) from None
    raw = (table.schema.metadata or {}).get(b"seqconv")
    if raw is None:
        raise InputError("Parquet file has no seqconv metadata; write it with `seqconv prepare`", path=path)
    meta = json.loads(raw)
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise InputError(
            f"dataset format version {meta['format_version']} is newer than this seqconv "
            f"({__version__}) reads ({FORMAT_VERSION}); upgrade seqconv", path=path)
    return Dataset(table.to_pandas(), meta)
