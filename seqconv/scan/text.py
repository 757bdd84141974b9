"""numba writers of hits as text lines: TSV, BED and GFF rows straight into a byte buffer.

A piece of hits (columns of integers and floats, plus the motif, sequence and
matched-site strings as arrow-style ``(data, offsets)`` byte layouts) is
written in one pass per row: no per-column string arrays, no CSV writer.
Rows are split into chunks written in parallel, each into its own stretch of
one buffer sized from an upper bound of every row; the caller writes the
chunks' used parts in order.

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
    for d in range(n - 1, -1, -1):
        out[o + d] = 48 + v % 10
        v //= 10
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
    for d in range(digits - 1, -1, -1):
        buf[d] = 48 + mi % 10
        mi //= 10
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
_SOURCE = np.frombuffer(b"seqconv\tnucleotide_motif\t", dtype=np.uint8)
_GFF_KEYS = np.frombuffer(b"Name=;Alias=;pvalue=;qvalue=;sequence=", dtype=np.uint8)


@nb.njit(parallel=True, cache=True, nogil=True)
def _write_rows(kind, bounds, motif, seq, start, end, minus, score, p_value, q_value, bed_score,
                m_data, m_start, id_data, id_off, name_data, name_off, seq_data, seq_off,
                source, keys):  # pragma: no cover - compiled by numba
    """Write rows ``i`` of the hits, chunk ``c`` starting at ``bounds[c]``; returns (buffer, chunk ends)."""
    n = len(motif)
    n_chunks = len(bounds) - 1
    out = np.empty(bounds[-1], dtype=np.uint8)
    ends = np.empty(n_chunks, dtype=np.int64)
    for c in nb.prange(n_chunks):
        a = c * n // n_chunks
        b = (c + 1) * n // n_chunks
        buf = np.empty(6, dtype=np.uint8)
        o = bounds[c]
        for i in range(a, b):
            mi, si = motif[i], seq[i]
            strand = 45 if minus[i] else 43
            if kind == 0:  # motif_id motif_name sequence_id start end strand score p q matched
                o = _put(out, o, id_data, id_off[mi], id_off[mi + 1])
                out[o] = 9
                o = _put(out, o + 1, name_data, name_off[mi], name_off[mi + 1])
                out[o] = 9
                o = _put(out, o + 1, seq_data, seq_off[si], seq_off[si + 1])
                out[o] = 9
                o = _put_int(out, o + 1, start[i])
                out[o] = 9
                o = _put_int(out, o + 1, end[i])
                out[o], out[o + 1], out[o + 2] = 9, strand, 9
                o = _put_g(out, o + 3, score[i], 6, buf)
                out[o] = 9
                o = _put_g(out, o + 1, p_value[i], 6, buf)
                out[o] = 9
                o = _put_g(out, o + 1, q_value[i], 6, buf)
                out[o] = 9
                o = _put(out, o + 1, m_data, m_start[i], m_start[i] + end[i] - start[i])
            elif kind == 1:  # chrom start end id_name score strand
                o = _put(out, o, seq_data, seq_off[si], seq_off[si + 1])
                out[o] = 9
                o = _put_int(out, o + 1, start[i])
                out[o] = 9
                o = _put_int(out, o + 1, end[i])
                out[o] = 9
                o = _put(out, o + 1, id_data, id_off[mi], id_off[mi + 1])
                out[o] = 95
                o = _put(out, o + 1, name_data, name_off[mi], name_off[mi + 1])
                out[o] = 9
                o = _put_int(out, o + 1, bed_score[i])
                out[o], out[o + 1] = 9, strand
                o += 2
            else:  # seqid source type start end score strand phase attributes
                o = _put(out, o, seq_data, seq_off[si], seq_off[si + 1])
                out[o] = 9
                o = _put(out, o + 1, source, 0, len(source))
                o = _put_int(out, o, start[i] + 1)
                out[o] = 9
                o = _put_int(out, o + 1, end[i])
                out[o] = 9
                o = _put_round3(out, o + 1, score[i])
                out[o], out[o + 1], out[o + 2], out[o + 3], out[o + 4] = 9, strand, 9, 46, 9
                o = _put(out, o + 5, keys, 0, 5)                      # Name=
                o = _put(out, o, id_data, id_off[mi], id_off[mi + 1])
                out[o] = 95
                o = _put(out, o + 1, seq_data, seq_off[si], seq_off[si + 1])
                out[o] = strand
                o = _put(out, o + 1, keys, 5, 12)                     # ;Alias=
                o = _put(out, o, name_data, name_off[mi], name_off[mi + 1])
                o = _put(out, o, keys, 12, 20)                        # ;pvalue=
                o = _put_g(out, o, p_value[i], 3, buf)
                o = _put(out, o, keys, 20, 28)                        # ;qvalue=
                o = _put_g(out, o, q_value[i], 3, buf)
                o = _put(out, o, keys, 28, 38)                        # ;sequence=
                o = _put(out, o, m_data, m_start[i], m_start[i] + end[i] - start[i])
            out[o] = 10
            o += 1
        ends[c] = o
    return out, ends


def _layout(strings) -> tuple[np.ndarray, np.ndarray]:
    """A list of str as UTF-8 ``(data, offsets)``."""
    encoded = [str(s).encode() for s in strings]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets


class TextRows:
    """Writes pieces of hits as TSV, BED or GFF lines (one instance per run: the name layouts are built once).

    Parameters
    ----------
    motif_ids, motif_names : list of str, one per motif
    sequence_ids : list of str, one per sequence
    fmt : {"tsv", "bed", "gff"}
    """

    CHUNK_ROWS = 16_384  # rows per parallel chunk

    def __init__(self, motif_ids, motif_names, sequence_ids, fmt: str):
        self.kind = _KINDS[fmt]
        self.ids, self.names, self.seqs = _layout(motif_ids), _layout(motif_names), _layout(sequence_ids)
        self.id_len, self.name_len = np.diff(self.ids[1]), np.diff(self.names[1])
        self.seq_len = np.diff(self.seqs[1])

    def write(self, dst, motif, seq, start, end, minus, score, p_value, q_value, m_data, m_start) -> None:
        """Write one piece's rows to the binary file ``dst``.

        ``motif, seq, start, end, minus, score, p_value, q_value`` : (n,) columns;
        ``m_data`` (bytes, uint8) and ``m_start`` (n,): the matched site of row ``i`` is
        ``m_data[m_start[i]:m_start[i] + end[i] - start[i]]``.
        """
        n = len(motif)
        if n == 0:
            return
        motif = np.asarray(motif, dtype=np.int64)
        seq = np.asarray(seq, dtype=np.int64)
        # an upper bound of every row: its strings, 4 numbers of 20 bytes, 3 floats, separators and keys
        start, end = np.ascontiguousarray(start, dtype=np.int64), np.ascontiguousarray(end, dtype=np.int64)
        row = self.id_len[motif] + self.name_len[motif] + 2 * self.seq_len[seq] + (end - start) + 200
        n_chunks = max(1, -(-n // self.CHUNK_ROWS))
        cuts = np.arange(n_chunks + 1) * n // n_chunks
        csum = np.concatenate([[0], np.cumsum(row)])
        bounds = csum[cuts].astype(np.int64)
        bed_score = np.zeros(0, dtype=np.int64)
        if self.kind == _BED:
            p = np.maximum(np.asarray(p_value, dtype=np.float64), 1e-300)
            bed_score = np.minimum(1000, np.round(-10 * np.log10(p))).astype(np.int64)
        f64 = lambda x: np.ascontiguousarray(x, dtype=np.float64)  # noqa: E731
        i64 = lambda x: np.ascontiguousarray(x, dtype=np.int64)  # noqa: E731
        out, ends = _write_rows(
            self.kind, bounds, motif, seq, i64(start), i64(end), np.ascontiguousarray(minus, dtype=np.int8),
            f64(score), f64(p_value), f64(q_value), bed_score, np.ascontiguousarray(m_data, dtype=np.uint8),
            i64(m_start), *self.ids, *self.names, *self.seqs, _SOURCE, _GFF_KEYS)
        view = memoryview(out)
        for c in range(n_chunks):
            dst.write(view[bounds[c]:ends[c]])
