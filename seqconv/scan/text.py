"""numba writers of hits as text lines: TSV, BED and GFF rows straight into a byte buffer.

A piece of hits (integer and float columns: motif-strand, sequence, start,
score, p-value table entry; the matched sites one after another) is written in
one pass per row: no per-column string arrays, no CSV writer.  Motif, sequence
and per-entry texts are arrow-style ``(data, offsets)`` byte layouts: the
p-value, q-value and BED score of a hit depend on its p-value table entry
only, so they are formatted once per entry used (``TextRows.entries``) and
copied into each row.  Rows are split into chunks written in parallel, each
into its own stretch of one buffer sized from an upper bound of every row; the
caller writes the chunks' used parts in order.

Numbers: floats as C's ``%.6g`` (TSV) and ``%.3g`` (GFF p- and q-values,
Python's ``"{:.3g}"``), GFF scores as Python's ``repr`` of numpy's
``round(score, 3)`` (what pandas printed), integers in decimal.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

#: bytes a float takes at most as %.{digits}g: sign, digits, point, "e-308"
_G_EXTRA = 8
#: 10**k for k = -350 .. 330, each the double nearest to it (parsed from its decimal text)
_POW10_ZERO = 350
_POW10 = np.array([float(f"1e{k}") for k in range(-_POW10_ZERO, 331)])
_LOG10_2 = float(np.log10(2.0))


@nb.njit(cache=True, nogil=True, inline="always")
def _put(out, o, data, a, b):  # pragma: no cover - compiled by numba
    for i in range(a, b):
        out[o] = data[i]
        o += 1
    return o


#: the two digits of 0 .. 99, two bytes each ("00", "01", ...): integers written two digits per step
_DIG2 = np.array([ord(c) for k in range(100) for c in f"{k:02d}"], dtype=np.uint8)


@nb.njit(cache=True, nogil=True, inline="always")
def _put_digits(out, o, v, n):  # pragma: no cover - compiled by numba
    """The ``n`` last decimal digits of ``v >= 0`` at ``out[o:o + n]``, two per step."""
    p = o + n
    while p - o >= 2:
        r = (v % 100) * 2
        v //= 100
        out[p - 1] = _DIG2[r + 1]
        out[p - 2] = _DIG2[r]
        p -= 2
    if p > o:
        out[o] = 48 + v % 10


@nb.njit(cache=True, nogil=True, inline="always")
def _put_int(out, o, v):  # pragma: no cover - compiled by numba
    if v < 0:
        out[o] = 45
        o += 1
        v = -v
    n = 1
    t = v
    while t >= 10:
        t //= 10
        n += 1
    _put_digits(out, o, v, n)
    return o + n


@nb.njit(cache=True, nogil=True)
def _put_g(out, o, v, digits, buf):  # pragma: no cover - compiled by numba
    """Write ``"%.{digits}g" % v`` at ``out[o:]``; returns the new end.  ``buf``: scratch of ``digits`` bytes.

    For 0, NaN, infinities and 1e-300 <= |v| <= 1e300 (the subnormal range is never a p-value, a
    q-value or a score)."""
    if v != v:
        out[o], out[o + 1], out[o + 2] = 110, 97, 110
        return o + 3
    if v < 0:
        out[o] = 45
        o += 1
        v = -v
    if v == np.inf:
        out[o], out[o + 1], out[o + 2] = 105, 110, 102
        return o + 3
    if v == 0:
        out[o] = 48
        return o + 1
    top = 10 ** digits
    # the decimal exponent, within one below the true one (v = m 2**b, 0.5 <= m < 1), then fixed
    e = int(np.floor((math.frexp(v)[1] - 1) * _LOG10_2))
    mi = int(np.floor(v / _POW10[e - digits + 1 + _POW10_ZERO] + 0.5))
    if mi >= top:
        e += 1
        mi = int(np.floor(v / _POW10[e - digits + 1 + _POW10_ZERO] + 0.5))
    elif mi < top // 10:
        e -= 1
        mi = int(np.floor(v / _POW10[e - digits + 1 + _POW10_ZERO] + 0.5))
    _put_digits(buf, 0, mi, digits)
    nd = digits
    while nd > 1 and buf[nd - 1] == 48:
        nd -= 1
    if -4 <= e < digits:
        if e >= 0:
            for d in range(e + 1):
                out[o] = buf[d] if d < nd else 48
                o += 1
            if nd > e + 1:
                out[o] = 46
                o += 1
                for d in range(e + 1, nd):
                    out[o] = buf[d]
                    o += 1
        else:
            out[o] = 48
            out[o + 1] = 46
            o += 2
            for _ in range(-e - 1):
                out[o] = 48
                o += 1
            for d in range(nd):
                out[o] = buf[d]
                o += 1
        return o
    out[o] = buf[0]
    o += 1
    if nd > 1:
        out[o] = 46
        o += 1
        for d in range(1, nd):
            out[o] = buf[d]
            o += 1
    out[o] = 101
    out[o + 1] = 43 if e >= 0 else 45
    o += 2
    ae = abs(e)
    if ae >= 100:
        out[o] = 48 + ae // 100
        o += 1
    out[o] = 48 + (ae // 10) % 10
    out[o + 1] = 48 + ae % 10
    return o + 2


@nb.njit(cache=True, nogil=True)
def _put_round3(out, o, v):  # pragma: no cover - compiled by numba
    """Write ``repr(float(np.round(v, 3)))`` (|v| < 1e12): the thousandths, trailing zeros dropped, one kept."""
    r = np.rint(v * 1000.0)
    if r < 0 or (r == 0 and np.copysign(1.0, r) < 0):
        out[o] = 45
        o += 1
        r = -r
    m = np.int64(r)
    o = _put_int(out, o, m // 1000)
    out[o] = 46
    frac = m % 1000
    if frac == 0:
        out[o + 1] = 48
        return o + 2
    o += 1
    for div in (100, 10, 1):
        out[o] = 48 + (frac // div) % 10
        o += 1
        frac %= div
        if frac == 0:
            break
    return o


@nb.njit(cache=True, nogil=True)
def format_g(x, digits):  # pragma: no cover - compiled by numba
    """``"%.{digits}g" % v`` for every float of ``x``, as an arrow string layout ``(data, offsets)``
    (int64 offsets); NaN as ``nan``, infinities as ``inf`` / ``-inf``."""
    n = len(x)
    data = np.empty(n * (digits + _G_EXTRA), dtype=np.uint8)
    offsets = np.zeros(n + 1, dtype=np.int64)
    buf = np.empty(digits, dtype=np.uint8)
    o = 0
    for i in range(n):
        o = _put_g(data, o, x[i], digits, buf)
        offsets[i + 1] = o
    return data[:o], offsets


_TSV, _BED, _GFF = 0, 1, 2
_KINDS = {"tsv": _TSV, "bed": _BED, "gff": _GFF}
_SOURCE = "\tseqconv\tnucleotide_motif\t"
#: bytes every string layout is padded with: :func:`_copy` reads (and writes) whole 16-byte words
_PAD = 16


@nb.njit(cache=True, nogil=True, inline="always")
def _word(out, o, data, i):  # pragma: no cover - compiled by numba
    """``out[o:o + 8] = data[i:i + 8]`` as one 8-byte load and store (the byte moves are combined)."""
    v = (np.uint64(data[i]) | (np.uint64(data[i + 1]) << np.uint64(8)) | (np.uint64(data[i + 2]) << np.uint64(16))
         | (np.uint64(data[i + 3]) << np.uint64(24)) | (np.uint64(data[i + 4]) << np.uint64(32))
         | (np.uint64(data[i + 5]) << np.uint64(40)) | (np.uint64(data[i + 6]) << np.uint64(48))
         | (np.uint64(data[i + 7]) << np.uint64(56)))
    for k in range(8):
        out[o + k] = np.uint8((v >> np.uint64(8 * k)) & np.uint64(255))


@nb.njit(cache=True, nogil=True, inline="always")
def _copy(out, o, data, a, b):  # pragma: no cover - compiled by numba
    """``data[a:b]`` written at ``out[o:]``, in 16-byte words: reads up to 15 bytes past ``b`` and
    writes up to 15 past the end (the next field overwrites them); returns the new end."""
    i = a
    p = o
    while True:
        _word(out, p, data, i)
        _word(out, p + 8, data, i + 8)
        i += 16
        p += 16
        if i >= b:
            break
    return o + (b - a)


@nb.njit(cache=True)
def _cat(a_data, a_off, a_idx, b_data, b_off, b_idx):  # pragma: no cover - compiled by numba
    """Strings ``A[a_idx[k]] + B[b_idx[k]]`` of two string layouts, as a layout (unpadded)."""
    n = len(a_idx)
    off = np.zeros(n + 1, dtype=np.int64)
    for k in range(n):
        off[k + 1] = off[k] + (a_off[a_idx[k] + 1] - a_off[a_idx[k]]) + (b_off[b_idx[k] + 1] - b_off[b_idx[k]])
    data = np.empty(off[n], dtype=np.uint8)
    for k in range(n):
        o = off[k]
        for i in range(a_off[a_idx[k]], a_off[a_idx[k] + 1]):
            data[o] = a_data[i]
            o += 1
        for i in range(b_off[b_idx[k]], b_off[b_idx[k] + 1]):
            data[o] = b_data[i]
            o += 1
    return data, off


@nb.njit(cache=True, nogil=True)
def _text_bounds(n_chunks, col, seq, pidx, widths, s_off, e_off, q_off):  # pragma: no cover - numba
    """Where each of ``n_chunks`` chunks of rows (see :func:`_write_hits`) starts in the text buffer (an
    upper bound of every row's text) and in the sites, ``(n_chunks + 1,)`` each."""
    n = len(col)
    bounds = np.zeros(n_chunks + 1, dtype=np.int64)
    site0 = np.zeros(n_chunks + 1, dtype=np.int64)
    for c in range(n_chunks):
        a = c * n // n_chunks
        b = (c + 1) * n // n_chunks
        size = 0
        width = 0
        for i in range(a, b):
            j = col[i]
            s = seq[i]
            e = pidx[i]
            width += widths[j]
            size += (s_off[j + 1] - s_off[j]) + (e_off[e + 1] - e_off[e]) + 2 * (q_off[s + 1] - q_off[s])
        bounds[c + 1] = bounds[c] + size + width + (120 + 2 * _PAD) * (b - a)
        site0[c + 1] = site0[c] + width
    return bounds, site0


@nb.njit(parallel=True, cache=True, nogil=True)
def _write_hits(out, bounds, site0, kind, n_chunks, col, seq, start, score, pidx, minus_of, widths, sites,
                s_data, s_off, e_data, e_off, q_data, q_off, source):  # pragma: no cover - compiled by numba
    """Rows of hits written as text, in ``n_chunks`` parallel chunks into ``out`` (at least
    ``bounds[n_chunks] + _PAD`` bytes; ``bounds, site0`` from :func:`_text_bounds`); returns each
    chunk's end.

    Row ``i`` is motif-strand ``col[i]`` (``minus_of``, ``widths`` and text ``S`` per strand) on
    sequence ``seq[i]`` (text ``Q``) from ``start[i]``, float ``score[i]``, the text ``E`` of
    entry ``pidx[i]`` (see :meth:`TextRows.entries`); its site is the next ``widths[col[i]]`` letters of ``sites``
    (the rows' sites one after another).  Lines (``|`` a tab): TSV ``S seq|start|end|strand|score E
    site``, BED ``seq|start|end|S E``, GFF ``seq source start+1|end|round(score, 3) S seq E site``
    (no space between the parts; see :class:`TextRows` for ``S`` and ``E``).  Every layout is
    padded (:data:`_PAD`)."""
    n = len(col)
    ends = np.empty(n_chunks, dtype=np.int64)
    for c in nb.prange(n_chunks):
        a = c * n // n_chunks
        b = (c + 1) * n // n_chunks
        buf = np.empty(6, dtype=np.uint8)
        o = bounds[c]
        so = site0[c]
        for i in range(a, b):
            j = col[i]
            si = seq[i]
            w = widths[j]
            st = start[i]
            e = pidx[i]
            if kind == 0:
                o = _copy(out, o, s_data, s_off[j], s_off[j + 1])
                o = _copy(out, o, q_data, q_off[si], q_off[si + 1])
                out[o] = 9
                o = _put_int(out, o + 1, st)
                out[o] = 9
                o = _put_int(out, o + 1, st + w)
                out[o], out[o + 1], out[o + 2] = 9, 45 if minus_of[j] else 43, 9
                o = _put_g(out, o + 3, score[i], 6, buf)
                o = _copy(out, o, e_data, e_off[e], e_off[e + 1])
                o = _copy(out, o, sites, so, so + w)
            elif kind == 1:
                o = _copy(out, o, q_data, q_off[si], q_off[si + 1])
                out[o] = 9
                o = _put_int(out, o + 1, st)
                out[o] = 9
                o = _put_int(out, o + 1, st + w)
                out[o] = 9
                o = _copy(out, o + 1, s_data, s_off[j], s_off[j + 1])
                o = _copy(out, o, e_data, e_off[e], e_off[e + 1])
            else:
                o = _copy(out, o, q_data, q_off[si], q_off[si + 1])
                o = _copy(out, o, source, 0, len(source) - _PAD)
                o = _put_int(out, o, st + 1)
                out[o] = 9
                o = _put_int(out, o + 1, st + w)
                out[o] = 9
                o = _put_round3(out, o + 1, score[i])
                o = _copy(out, o, s_data, s_off[j], s_off[j + 1])
                o = _copy(out, o, q_data, q_off[si], q_off[si + 1])
                o = _copy(out, o, e_data, e_off[e], e_off[e + 1])
                o = _copy(out, o, sites, so, so + w)
            out[o] = 10
            o += 1
            so += w
        ends[c] = o
    return ends


def _layout(strings) -> tuple[np.ndarray, np.ndarray]:
    """A list of str as UTF-8 ``(data, offsets)``, unpadded."""
    encoded = [str(s).encode() for s in strings]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets


def _padded(layout) -> tuple[np.ndarray, np.ndarray]:
    data, offsets = layout
    return np.concatenate([data, np.zeros(_PAD, dtype=np.uint8)]), offsets


def _join(*pieces) -> tuple[np.ndarray, np.ndarray]:
    """``pieces``: ``(layout, idx)`` pairs, or plain str (the same text on every row); the strings of
    each row joined, as an unpadded layout."""
    n = next(len(idx) for p in pieces if not isinstance(p, str) for idx in [p[1]])
    zeros = np.zeros(n, dtype=np.int64)
    acc = (np.zeros(0, dtype=np.uint8), np.zeros(n + 1, dtype=np.int64))
    for p in pieces:
        layout, idx = (_layout([p]), zeros) if isinstance(p, str) else p
        acc = _cat(acc[0], acc[1], np.arange(n, dtype=np.int64), layout[0], layout[1],
                   np.asarray(idx, dtype=np.int64))
    return acc


def bed_scores(p_value: np.ndarray) -> np.ndarray:
    """BED's score of each p-value: ``min(1000, round(-10 log10 p))`` (p floored at 1e-300), int64."""
    p = np.maximum(np.asarray(p_value, dtype=np.float64), 1e-300)
    return np.minimum(1000, np.round(-10 * np.log10(p))).astype(np.int64)


class TextRows:
    """Writes hits as TSV, BED or GFF lines (one instance per run: the name layouts are built once).

    A row's text is made of its motif-strand's text ``S``, its p-value table entry's text ``E``
    (an entry is one motif-strand's p-value: the p-value, q-value and BED score are formatted
    once per entry used, not once per row), its sequence id, and the numbers and site of the hit:

    * TSV: ``S`` = ``id|name|``, ``E`` = ``|p|q|`` (``%.6g``);
    * BED: ``S`` = ``id_name|``, ``E`` = ``score|strand`` (``min(1000, round(-10 log10 p))``);
    * GFF: ``S`` = ``|strand|.|Name=id_``, ``E`` = ``strand;Alias=name;pvalue=p;qvalue=q;sequence=``
      (``%.3g``),

    ``|`` standing for a tab.

    :meth:`strands` and :meth:`entries` set them; :meth:`write_hits` writes pieces of hits that
    point to them; :meth:`write` writes rows given as plain columns.

    Parameters
    ----------
    motif_ids, motif_names : list of str, one per motif
    sequence_ids : list of str, one per sequence
    fmt : {"tsv", "bed", "gff"}
    """

    CHUNK_ROWS = 16_384  # rows per parallel chunk

    def __init__(self, motif_ids, motif_names, sequence_ids, fmt: str):
        self.kind = _KINDS[fmt]
        self.ids, self.names = _layout(motif_ids), _layout(motif_names)
        self.seqs = _padded(_layout(sequence_ids))
        self.source = _padded(_layout([_SOURCE]))[0]
        self.s_text = self.e_text = None
        self._out: dict[int, np.ndarray] = {}

    def strands(self, motif_of: np.ndarray, minus_of: np.ndarray) -> None:
        """Texts ``S`` of the motif-strands (motif index ``motif_of[j]``, minus strand ``minus_of[j]``)."""
        m, sign = np.asarray(motif_of, dtype=np.int64), np.asarray(minus_of, dtype=np.int64)
        strand = (_layout(["+", "-"]), sign)
        if self.kind == _TSV:
            s = _join((self.ids, m), "\t", (self.names, m), "\t")
        elif self.kind == _BED:
            s = _join((self.ids, m), "_", (self.names, m), "\t")
        else:
            s = _join("\t", strand, "\t.\tName=", (self.ids, m), "_")
        self.s_text = _padded(s)

    def entries(self, p_value: np.ndarray, q_value: np.ndarray, motif: np.ndarray, minus: np.ndarray) -> None:
        """Texts ``E`` of the entries ``k``: p-value ``p_value[k]``, q-value ``q_value[k]``, of motif
        ``motif[k]`` on the minus strand if ``minus[k]``."""
        p_value = np.ascontiguousarray(p_value, dtype=np.float64)
        q_value = np.ascontiguousarray(q_value, dtype=np.float64)
        idx = np.arange(len(p_value))
        strand = (_layout(["+", "-"]), np.asarray(minus, dtype=np.int64))
        if self.kind == _TSV:
            e = _join("\t", (format_g(p_value, 6), idx), "\t", (format_g(q_value, 6), idx), "\t")
        elif self.kind == _BED:
            e = _join((format_g(bed_scores(p_value).astype(np.float64), 6), idx), "\t", strand)  # ints < 1e6: %d
        else:
            e = _join(strand, ";Alias=", (self.names, np.asarray(motif, dtype=np.int64)), ";pvalue=",
                      (format_g(p_value, 3), idx), ";qvalue=", (format_g(q_value, 3), idx), ";sequence=")
        self.e_text = _padded(e)

    def write_hits(self, dst, col, seq, start, score, pidx, minus_of, widths, sites) -> None:
        """Write one piece's rows to the binary file ``dst``.

        ``col, seq, start, score, pidx`` : (n,) per row: motif-strand (int32), sequence (int32),
        start (int64), score (float64) and the number of its text ``E`` among those
        :meth:`entries` set (int32); ``minus_of, widths`` : (n_strands,) bool and int64 per motif-strand;
        ``sites`` : uint8, the rows' matched sites one after another (row ``i``'s is
        ``widths[col[i]]`` long), then :data:`_PAD` more bytes."""
        for part in self.format_hits(col, seq, start, score, pidx, minus_of, widths, sites):
            dst.write(part)

    def format_hits(self, col, seq, start, score, pidx, minus_of, widths, sites, *, slot: int = 0) -> list:
        """:meth:`write_hits`'s text as memoryviews of a buffer kept for ``slot`` (reused by the next call with
        that slot: a caller writing one piece's text while the next is formatted alternates two slots)."""
        n = len(col)
        if n == 0:
            return []
        n_chunks = max(1, -(-n // self.CHUNK_ROWS))
        bounds, site0 = _text_bounds(n_chunks, col, seq, pidx, widths, self.s_text[1], self.e_text[1],
                                     self.seqs[1])
        out = self._out.get(slot)
        if out is None or len(out) < bounds[n_chunks] + _PAD:    # one buffer per slot (no fresh pages each time)
            out = self._out[slot] = np.empty(int(bounds[n_chunks] + _PAD) * 5 // 4, dtype=np.uint8)
        ends = _write_hits(out, bounds, site0, self.kind, n_chunks, col, seq, start, score, pidx, minus_of,
                           widths, sites, *self.s_text, *self.e_text, *self.seqs, self.source)
        view = memoryview(out)
        return [view[bounds[c]:ends[c]] for c in range(n_chunks)]

    def write(self, dst, motif, seq, start, end, minus, score, p_value, q_value, m_data, m_start) -> None:
        """Write rows given as columns to the binary file ``dst`` (every row its own motif-strand and entry).

        ``motif, seq, start, end, minus, score, p_value, q_value`` : (n,) columns;
        ``m_data`` (bytes, uint8) and ``m_start`` (n,): the matched site of row ``i`` is
        ``m_data[m_start[i]:m_start[i] + end[i] - start[i]]``.
        """
        n = len(motif)
        if n == 0:
            return
        start = np.ascontiguousarray(start, dtype=np.int64)
        widths = np.ascontiguousarray(end, dtype=np.int64) - start
        m_start = np.asarray(m_start, dtype=np.int64)
        first = np.concatenate([[0], np.cumsum(widths)[:-1]])      # the sites one after another
        sites = np.ascontiguousarray(m_data, dtype=np.uint8)[np.repeat(m_start - first, widths)
                                                             + np.arange(widths.sum())]
        minus = np.asarray(minus, dtype=bool)
        self.strands(motif, minus)
        self.entries(p_value, q_value, motif, minus)
        idx = np.arange(n, dtype=np.int32)
        self.write_hits(dst, idx, np.ascontiguousarray(seq, dtype=np.int32), start,
                        np.ascontiguousarray(score, dtype=np.float64), idx, minus, widths,
                        np.concatenate([sites, np.zeros(_PAD, dtype=np.uint8)]))
