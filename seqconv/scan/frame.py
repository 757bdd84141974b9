"""Hits as a pandas DataFrame (:func:`seqconv.scan.scan`'s result): string columns built from arrow buffers.

Only the DataFrame API imports this module (and with it pandas and pyarrow, ~0.3 CPU s); scans written to
files (:func:`seqconv.scan.scan_to_file`, ``seqconv scan``) never do.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from seqconv import _scan_kernels as kern
from seqconv.scan.bank import _Bank
from seqconv.scan.output import COLUMNS
from seqconv.scan.records import _Stream


def _frame(bank: _Bank, stream: _Stream, parts: list[dict], q_values=None, *, with_pidx: bool = False):
    """One DataFrame (sorted by motif, sequence, start, strand) from rescored blocks.

    ``q_values`` : (n_hits,) in the parts' order (``None``: NaN).  ``with_pidx``: also return the
    hits' p-value table entries in the frame's order."""
    if not parts:
        df = pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(
            COLUMNS, [object, object, object, np.int64, np.int64, object, float, float, float, object])})
        return (df, np.zeros(0, np.int64)) if with_pidx else df
    h = {k: np.concatenate([p[k] for p in parts]) for k in parts[0] if k != "matched"}
    col = h["col"]
    motif_idx = bank.motif_of[col]
    minus = bank.minus_of[col]
    # by motif, then stream position (= sequence, start), then strand
    key = (stream.starts[h["seq"]] + h["start"]) * 2 + minus
    qtab = np.zeros(0) if q_values is None else np.asarray(q_values, dtype=np.float64)
    order = kern.hit_order(motif_idx, key, len(bank.motifs))
    motif_idx, seq_idx, start, end, minus, score, p_value, q_value = kern.gather_hits(
        order, col, h["seq"], h["start"], h["score"], h["p_value"], qtab, np.arange(len(col)), bank.widths,
        bank.motif_of, bank.minus_of)
    # the letters of each part's sites, in hit order; every site is as long as its motif
    data = np.concatenate([p["matched"] for p in parts])
    offsets = np.zeros(len(col) + 1, dtype=np.int64)
    np.cumsum(bank.widths[col], out=offsets[1:])
    matched = _string_column(data, offsets, order)
    df = pd.DataFrame({
        "motif_id": _take_strings(bank.motif_ids, motif_idx),
        "motif_name": _take_strings(bank.motif_names, motif_idx),
        "sequence_id": _take_strings(stream.ids, seq_idx),
        "start": start,
        "end": end,
        "strand": _take_strings(["+", "-"], minus),
        "score": score,
        "p_value": p_value,
        "q_value": q_value,
        "matched_sequence": matched,
    }, copy=False)                    # fresh arrays: no copy into 2-d blocks
    return (df, h["pidx"][order]) if with_pidx else df


def _string_column(data: np.ndarray, offsets: np.ndarray, idx: np.ndarray):
    """Strings ``idx`` of ``(data, offsets)`` as a column of pandas' default string dtype."""
    d, o = kern.take_strings(data, offsets, np.asarray(idx, dtype=np.int64))
    arr = pa.Array.from_buffers(pa.large_string(), len(idx), [None, pa.py_buffer(o), pa.py_buffer(d)])
    return _as_str_column(arr)


_STR_DTYPE = pd.Series(["A"]).dtype      # pandas' default string dtype (arrow-backed "str" from pandas 3)


def _as_str_column(arr):
    """A pyarrow string array as a column of pandas' default string dtype."""
    if _STR_DTYPE == object:  # noqa: E721  (a numpy/pandas dtype equals object; `is` would not)
        return arr.to_numpy(zero_copy_only=False).astype(object)
    return pd.array(arr, dtype=_STR_DTYPE)


def _take_strings(values, idx: np.ndarray):
    """``values[idx]`` (a list of str) as a column of pandas' default string dtype."""
    encoded = [str(v).encode() for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    data = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    return _string_column(data, offsets, idx)
