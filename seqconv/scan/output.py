"""Hits as a DataFrame, FIMO's q-values, and hits written to TSV, BED or GFF."""

from __future__ import annotations

from pathlib import Path

import numba as nb
import numpy as np
import pandas as pd
import pyarrow as pa

from seqconv import _scan_kernels as kern
from seqconv.scan.bank import _Bank
from seqconv.scan.records import _Stream
from seqconv.scan.text import _PAD, TextRows

COLUMNS = ["motif_id", "motif_name", "sequence_id", "start", "end", "strand", "score",
           "p_value", "q_value", "matched_sequence"]


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


def fimo_q_table(pidx: np.ndarray, bank: _Bank, n_tests: np.ndarray, pi0: np.ndarray):
    """FIMO's q-value of every p-value table entry used by the hits ``pidx`` (entries of
    ``bank.sf_flat``), per motif (:func:`seqconv.scan.pvalues.fimo_qvalues`, but sorting only the
    distinct entries): returns ``(entries, q)``, ``entries`` sorted.

    A q-value depends on the motif and the p-value only: ``q(v) = min over its used values u >= v of
    pi0 * u * n_tests / #(p <= u)``, capped at 1.
    """
    if pidx.size == 0:
        return np.zeros(0, np.int64), np.zeros(0)
    return fimo_q_table_from_counts(*_entry_counts(pidx, len(bank.sf_flat)), bank, n_tests, pi0)


def fimo_q_table_from_counts(used: np.ndarray, cnt: np.ndarray, bank: _Bank, n_tests: np.ndarray, pi0: np.ndarray):
    """:func:`fimo_q_table` from the distinct entries used (sorted) and their hit counts."""
    if used.size == 0:
        return np.zeros(0, np.int64), np.zeros(0)
    strand = np.searchsorted(bank.sf_off, used, side="right") - 1
    m = bank.motif_of[strand]
    v = bank.sf_flat[used]
    o = np.lexsort((v, m))
    m_o, v_o, c_o = m[o], v[o], cnt[o]
    q_o = np.empty(len(o))
    bounds = np.flatnonzero(np.diff(m_o)) + 1
    for a, b in zip(np.concatenate([[0], bounds]), np.concatenate([bounds, [len(o)]])):
        mm = int(m_o[a])
        vv, cum = v_o[a:b], np.cumsum(c_o[a:b])
        last = np.append(vv[1:] != vv[:-1], True)               # last entry of each run of equal values
        group = np.cumsum(np.concatenate([[0], last[:-1]]))
        n = max(int(n_tests[mm]), int(cum[-1]))
        r = pi0[mm] * vv[last] * float(n) / cum[last]
        q = np.minimum(np.minimum.accumulate(r[::-1])[::-1], 1.0)
        q_o[a:b] = q[group]
    q_used = np.empty(len(used))
    q_used[o] = q_o
    return used, q_used


def _entry_counts(pidx: np.ndarray, n_entries: int):
    """Distinct entries of ``pidx`` (sorted) and their counts."""
    if pidx.size * 8 < n_entries:
        return np.unique(pidx, return_counts=True)
    cnt = np.bincount(pidx, minlength=n_entries)
    used = np.flatnonzero(cnt)
    return used, cnt[used]


def lookup_q(pidx: np.ndarray, table) -> np.ndarray:
    """q-values of hits ``pidx`` from ``(entries, q)``."""
    used, q = table
    return q[np.searchsorted(used, pidx)]


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


_HEADERS = {"tsv": "\t".join(COLUMNS) + "\n", "bed": "", "gff": "##gff-version 3\n"}


# ------------------------------------------------------------------ streaming to text

#: bytes of a row in a piece: start (int64), score (float64), motif-strand, sequence, p-value entry (int32)
_PIECE_ROW = 28


@nb.njit(cache=True, nogil=True)
def _pack_piece(order, col, seq, start, score, pidx, matched, widths, counts,
                b_start, b_score, b_col, b_seq, b_pidx, b_sites):  # pragma: no cover - numba
    """The hits in row ``order`` into the columns ``b_*`` of a piece (see :class:`_PieceWriter`), and
    each hit's p-value table entry counted into ``counts``.  ``matched``: the hits' sites one after
    another in their own (engine) order."""
    n = len(order)
    src = np.empty(n, dtype=np.int64)             # where each hit's site starts in ``matched``
    o = 0
    for t in range(n):
        src[t] = o
        o += widths[col[t]]
    at = np.empty(n, dtype=np.int64)              # ... in row order
    for i in range(n):                            # independent loads: a gather, not a chain
        t = order[i]
        b_start[i] = start[t]
        b_score[i] = score[t]
        b_col[i] = col[t]
        b_seq[i] = seq[t]
        b_pidx[i] = pidx[t]
        at[i] = src[t]
    o = 0
    for i in range(n):
        a = at[i]
        w = widths[b_col[i]]
        for k in range(w):
            b_sites[o + k] = matched[a + k]
        o += w
        counts[b_pidx[i]] += 1    # in row order: a motif's entries lie near one another


def _unpack_piece(buf: np.ndarray, n: int):
    """The columns of a piece's buffer: start, score, col, seq, pidx, sites (views)."""
    return (buf[:8 * n].view(np.int64), buf[8 * n:16 * n].view(np.float64), buf[16 * n:20 * n].view(np.int32),
            buf[20 * n:24 * n].view(np.int32), buf[24 * n:28 * n].view(np.int32), buf[28 * n:])  # sites, padded


class _PieceWriter:
    """Hits of a run kept in pieces in ``folder`` (one raw file each: the rows sorted by motif, then
    stream position, then strand, as int64 start, float64 score, int32 motif-strand, sequence and
    p-value table entry columns, then the matched sites one after another), with running
    per-entry hit counts for the q-values; :meth:`write` then streams them to TSV, BED or GFF text
    (the numba row writer of :mod:`seqconv.scan.text`, p-values, q-values and BED scores
    formatted once per entry used)."""

    def __init__(self, bank: _Bank, stream: _Stream, folder: Path):
        self.bank, self.stream, self.folder = bank, stream, Path(folder)
        self.pieces: list[tuple[Path, int]] = []
        self.counts = np.zeros(len(bank.sf_flat), dtype=np.int64)
        self.n_hits = 0
        if len(bank.sf_flat) >= 2 ** 31:
            raise ValueError("p-value tables of 2**31 entries or more")

    def add(self, parts: list[dict]):
        bank = self.bank
        h = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        col = h["col"]
        key = (self.stream.starts[h["seq"]] + h["start"]) * 2 + bank.minus_of[col]
        order = kern.hit_order(bank.motif_of[col], key, len(bank.motifs))
        n = len(order)
        buf = np.zeros(_PIECE_ROW * n + len(h["matched"]) + _PAD, dtype=np.uint8)   # padded for the row writer
        _pack_piece(order, col, h["seq"], h["start"], h["score"], h["pidx"], h["matched"], bank.widths,
                    self.counts, *_unpack_piece(buf, n))
        path = self.folder / f"{len(self.pieces):06d}.hits"
        with open(path, "wb") as fh:     # a file object: a full disk is an OSError with its errno
            fh.write(memoryview(buf))
        self.pieces.append((path, len(order)))
        self.n_hits += len(order)

    def write(self, dst, fmt: str, n_tests: np.ndarray, pi0: np.ndarray) -> int:
        """Write every piece to the binary file ``dst`` with FIMO's q-values; returns the hits written.

        Each piece is read back and written as text lines by the numba row writer of
        :mod:`seqconv.scan.text`."""
        bank = self.bank
        used = np.flatnonzero(self.counts)
        used, q = fimo_q_table_from_counts(used, self.counts[used], bank, n_tests, pi0)
        self.counts = np.zeros(0, dtype=np.int64)
        rank = np.zeros(len(bank.sf_flat), dtype=np.int32)       # table entry -> its text
        rank[used] = np.arange(len(used), dtype=np.int32)
        strand = np.searchsorted(bank.sf_off, used, side="right") - 1
        rows = TextRows(bank.motif_ids, bank.motif_names, self.stream.ids, fmt)
        rows.strands(bank.motif_of, bank.minus_of)
        rows.entries(bank.sf_flat[used], q, bank.motif_of[strand], bank.minus_of[strand])
        dst.write(_HEADERS[fmt].encode())
        for path, n in self.pieces:
            start, score, col, seq, pidx, sites = _unpack_piece(np.fromfile(path, dtype=np.uint8), n)
            rows.write_hits(dst, col, seq, start, score, pidx, rank, bank.minus_of, bank.widths, sites)
            path.unlink()
        return self.n_hits
