"""FIMO's q-values, and hits written to TSV, BED or GFF (the DataFrame of :func:`seqconv.scan.scan` is
:mod:`seqconv.scan.frame`'s: this module, on the path of every ``seqconv scan``, imports no pandas)."""

from __future__ import annotations

import collections
import concurrent.futures
import queue
import threading
from pathlib import Path

import numba as nb
import numpy as np

from seqconv import _scan_kernels as kern
from seqconv.fileio import StreamWriter, drop_page_cache, prefetch, release_range
from seqconv.scan.bank import _Bank
from seqconv.scan.records import _Stream
from seqconv.scan.text import _PAD, TextRows

COLUMNS = ["motif_id", "motif_name", "sequence_id", "start", "end", "strand", "score",
           "p_value", "q_value", "matched_sequence"]


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


_HEADERS = {"tsv": "\t".join(COLUMNS) + "\n", "bed": "", "gff": "##gff-version 3\n"}


# ------------------------------------------------------------------ streaming to text

#: rows of a piece of hits (at least; whole blocks of the engine are added)
PIECE_ROWS = 200_000

#: bytes of a row in a piece: start (int64), score (float64), motif-strand, sequence, p-value entry (int32)
_PIECE_ROW = 28


@nb.njit(cache=True, nogil=True)
def _pack_piece(order, col, seq, start, score, pidx, matched, widths, counts, shift,
                b_start, b_score, b_col, b_seq, b_pidx, b_sites):  # pragma: no cover - numba
    """The hits in row ``order`` into the columns ``b_*`` of a piece (see :class:`_PieceWriter`), and
    each hit's p-value table entry ``e`` (of motif-strand ``j``) counted at ``counts[e - shift[j]]``
    (unless ``counts`` is empty).  ``matched``: the hits' sites one after another in their own
    (engine) order."""
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
        if len(counts):               # in row order: a motif's entries lie near one another
            c = b_pidx[i] - shift[b_col[i]]
            if c < 0 or c >= len(counts):
                raise ValueError("a hit's p-value entry lies below its motif's threshold")
            counts[c] += 1


def _write_parts(dst, parts: list) -> None:
    for part in parts:
        dst.write(part)


def _threads_may_launch_kernels() -> bool:
    """Whether two threads may each launch numba's parallel kernels at once (its omp and tbb threading
    layers; the workqueue layer aborts the process)."""
    try:
        return nb.threading_layer() in ("omp", "tbb")
    except ValueError:              # no parallel kernel has run yet
        return False


def _unpack_piece(buf: np.ndarray, n: int):
    """The columns of a piece's buffer: start, score, col, seq, pidx, sites (views)."""
    return (buf[:8 * n].view(np.int64), buf[8 * n:16 * n].view(np.float64), buf[16 * n:20 * n].view(np.int32),
            buf[20 * n:24 * n].view(np.int32), buf[24 * n:28 * n].view(np.int32), buf[28 * n:])  # sites, padded


class _PieceWriter:
    """Hits of a run kept in pieces in one file in ``folder`` (each piece raw: the rows sorted by motif, then
    stream position, then strand, as int64 start, float64 score, int32 motif-strand, sequence and
    p-value table entry columns, then the matched sites one after another), with the hits counted per
    p-value table entry for the q-values; :meth:`write` then streams them to TSV, BED or GFF text
    (the numba row writer of :mod:`seqconv.scan.text`, p-values, q-values and BED scores
    formatted once per entry used).

    The counts are the pieces' entries kept as they are while the run has fewer hits than
    :data:`DENSE_SHARE` of the entries a hit can reach, then one count per such entry: a motif-strand's
    entries from its threshold up (FIMO's method; every entry with ``method="memelite"``).  The tables of
    the 879 JASPAR motifs have 11.6 million entries, 1.1 million at or above p < 1e-4: memory a scan need
    not touch (on virtual machines every fresh page costs a fault to the host: ~0.7 CPU s for the 93 MB
    of a whole-table int64 count)."""

    #: runs with more hits than this share of the p-value table entries count them in a per-entry array
    DENSE_SHARE = 1 / 8

    def __init__(self, bank: _Bank, stream: _Stream, folder: Path):
        self.bank, self.stream, self.folder = bank, stream, Path(folder)
        self.pieces: list[tuple[int, int, int]] = []     # byte offset, bytes, rows of each piece
        self.spill = None                                 # the pieces' file, opened on the first piece
        self._buf = np.zeros(0, dtype=np.uint8)           # the packed piece, reused
        self._cat: dict[str, np.ndarray] = {}             # the pieces' joined columns, reused
        self.counts = _NO_COUNTS                  # per reachable table entry, once dense
        # the entries a hit can reach: motif-strand j's from lo[j] on (its threshold's), counted at e - shift[j]
        sf_len = np.diff(bank.sf_off)
        if bank.method == "memelite":
            lo = np.zeros(len(sf_len), dtype=np.int64)
        else:
            with np.errstate(invalid="ignore"):
                lo = np.where(np.isfinite(bank.thr), np.clip(np.ceil(bank.thr) - bank.smin, 0, sf_len), sf_len)
            lo = np.minimum(lo.astype(np.int64), sf_len)
        reach = sf_len - lo
        self._c_off = np.concatenate([[0], np.cumsum(reach)]).astype(np.int64)   # each strand's first count
        self._shift = (bank.sf_off[:-1] + lo - self._c_off[:-1]).astype(np.int64)
        #: table entries a hit can reach (the dense counts' length)
        self.n_reachable = int(self._c_off[-1])
        self.entries: list[np.ndarray] = []       # each piece's entries while not dense
        self.n_hits = 0
        if len(bank.sf_flat) >= 2 ** 31:
            raise ValueError("p-value tables of 2**31 entries or more")

    def add(self, parts: list[dict]):
        bank = self.bank
        h = {k: self._joined(k, [p[k] for p in parts]) for k in ("col", "seq", "start", "score", "pidx", "matched")}
        col = h["col"]
        key = (self.stream.starts[h["seq"]] + h["start"]) * 2 + bank.minus_of[col]
        order = kern.hit_order(bank.motif_of[col], key, len(bank.motifs))
        n = len(order)
        if not self.counts.size and self.n_hits + n > self.DENSE_SHARE * self.n_reachable:
            self.counts = np.zeros(max(self.n_reachable, 1), dtype=np.int64)
            for e in self.entries:
                np.add.at(self.counts, self._compact(e), 1)
            self.entries = []
        size = _PIECE_ROW * n + len(h["matched"]) + _PAD                      # padded for the row writer
        if len(self._buf) < size:                 # one buffer for every piece (no fresh pages each time)
            self._buf = np.empty(size * 5 // 4, dtype=np.uint8)
        buf = self._buf[:size]
        buf[size - _PAD:] = 0
        columns = _unpack_piece(buf, n)
        _pack_piece(order, col, h["seq"], h["start"], h["score"], h["pidx"], h["matched"], bank.widths,
                    self.counts, self._shift, *columns)
        if not self.counts.size:
            self.entries.append(columns[4].copy())
        if self.spill is None:    # a file object: a full disk is an OSError with its errno
            self.spill = StreamWriter(open(self.folder / "hits.pieces", "wb"))
        self.pieces.append((self.spill.tell(), len(buf), n))
        self.spill.write(memoryview(buf))
        self.n_hits += n

    def collect(self, hits, rows: int = PIECE_ROWS) -> None:
        """Add the hits of ``hits`` (an iterable of the engine's blocks of hits) in pieces of at least
        ``rows`` rows.  Each piece is ordered, packed and written by a helper thread while the engine
        scans the next blocks (the kernels release the GIL), where numba's threading layer allows
        parallel kernels launched from two threads (omp, tbb); in this thread otherwise."""
        todo: queue.Queue = queue.Queue(maxsize=1)
        failed: list[BaseException] = []
        helper: list[threading.Thread] = []

        def work():
            while (parts := todo.get()) is not None:
                if not failed:
                    try:
                        self.add(parts)
                    except BaseException as exc:  # raised in the caller's thread
                        failed.append(exc)

        def hand_over(parts):
            if failed:
                raise failed[0]
            if not helper:          # the engine has launched its kernels: the threading layer is known
                if not _threads_may_launch_kernels():
                    return self.add(parts)
                helper.append(threading.Thread(target=work, name="seqconv-pieces", daemon=True))
                helper[0].start()
            todo.put(parts)

        try:
            self._collect(hits, rows, hand_over)
        finally:
            if helper:
                todo.put(None)
                helper[0].join()
        if failed:
            raise failed[0]

    @staticmethod
    def _collect(hits, rows: int, add) -> None:
        parts: list[dict] = []
        n = 0
        for h in hits:
            parts.append(h)
            n += len(h["col"])
            if n >= rows:
                add(parts)
                parts, n = [], 0
        if parts:
            add(parts)

    def _compact(self, e: np.ndarray) -> np.ndarray:
        """The counts' index of table entries ``e`` (int64)."""
        e = np.asarray(e, dtype=np.int64)
        strand = np.searchsorted(self.bank.sf_off, e, side="right") - 1
        return e - self._shift[strand]

    def _joined(self, key: str, arrays: list) -> np.ndarray:
        """``np.concatenate(arrays)`` into a buffer kept for ``key`` (reused by the next piece: no fresh pages)."""
        n = sum(len(a) for a in arrays)
        dtype = np.result_type(*arrays)
        buf = self._cat.get(key)
        if buf is None or len(buf) < n or buf.dtype != dtype:
            buf = self._cat[key] = np.empty(n * 5 // 4, dtype=dtype)
        return np.concatenate(arrays, out=buf[:n])

    def write(self, dst, fmt: str, n_tests: np.ndarray, pi0: np.ndarray) -> int:
        """Write every piece to the binary file ``dst`` with FIMO's q-values; returns the hits written.

        Each piece is read back and written as text lines by the numba row writer of
        :mod:`seqconv.scan.text`."""
        bank = self.bank
        dense = bool(self.counts.size)
        if dense:
            used_c = np.flatnonzero(self.counts)
            cnt = self.counts[used_c]
            used = used_c + self._shift[np.searchsorted(self._c_off, used_c, side="right") - 1]   # table entries
        else:
            e = np.concatenate(self.entries) if self.entries else np.zeros(0, dtype=np.int32)
            used, cnt = _entry_counts(e.astype(np.int64), len(bank.sf_flat))
        used, q = fimo_q_table_from_counts(used, cnt, bank, n_tests, pi0)
        if dense:
            rank_c = np.zeros(len(self.counts), dtype=np.int32)      # counted entry -> its text
            rank_c[used_c] = np.arange(len(used), dtype=np.int32)
        self.counts, self.entries = _NO_COUNTS, []
        strand = np.searchsorted(bank.sf_off, used, side="right") - 1
        rows = TextRows(bank.motif_ids, bank.motif_names, self.stream.ids, fmt)
        rows.strands(bank.motif_of, bank.minus_of)
        rows.entries(bank.sf_flat[used], q, bank.motif_of[strand], bank.minus_of[strand])
        dst.write(_HEADERS[fmt].encode())
        if self.spill is None:
            return self.n_hits
        self.spill.fh.close()
        buf = np.empty(max(size for _, size, _ in self.pieces), dtype=np.uint8)   # one buffer for every piece
        # the text of one piece is written by a helper thread while the next is formatted (two buffers)
        with open(self.spill.fh.name, "r+b", buffering=0) as src, \
                concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="seqconv-write") as writer:
            pending: collections.deque = collections.deque()
            for k, (offset, size, n) in enumerate(self.pieces):
                if self.spill.active and k + 1 < len(self.pieces):   # the next piece read ahead from disk
                    prefetch(src.fileno(), *self.pieces[k + 1][:2])
                src.seek(offset)
                view = memoryview(buf)[:size]
                while view.nbytes:
                    got = src.readinto(view[:StreamWriter.CALL])   # in 1 MB calls, as written
                    if not got:
                        raise OSError(f"{src.name}: the hits file ended early")
                    view = view[got:]
                # read once: its disk space is given back (where the file system can), else its cache dropped
                if not release_range(src.fileno(), offset, size) and self.spill.active:
                    drop_page_cache(src.fileno(), offset, size)
                start, score, col, seq, pidx, sites = _unpack_piece(buf[:size], n)
                if dense:                           # the rows' entries are replaced by their texts' numbers
                    pidx = rank_c[pidx - self._shift[col]]
                else:
                    pidx = np.searchsorted(used, pidx).astype(np.int32)   # entry -> its rank among those used
                if len(pending) == 2:           # the write of the piece before last frees its buffer
                    pending.popleft().result()
                parts = rows.format_hits(col, seq, start, score, pidx, bank.minus_of, bank.widths, sites,
                                         slot=k % 2)
                pending.append(writer.submit(_write_parts, dst, parts))
            while pending:
                pending.popleft().result()
        return self.n_hits

    def close(self) -> None:
        """Close the pieces' file (its folder is the caller's to remove)."""
        if self.spill is not None:
            self.spill.fh.close()


#: the counts of a run that keeps its pieces' entries instead (see :class:`_PieceWriter`)
_NO_COUNTS = np.zeros(0, dtype=np.int64)
