"""Compiled kernels of Tomtom's complete-score search (MEME suite 5.5.8 ``tomtom.c``), used by
:class:`seqconv.motifs.compare.MotifComparer`.

One call of :func:`tomtom_queries` runs every query against every target (both orientations), the
queries dealt out to the numba threads; each thread keeps one set of work arrays for all its queries.
Per query (``m`` columns, ``K`` target columns):

1. column scores ``S`` (m, K) against the targets' columns, laid out letter by letter (``Y4`` (4, K)),
   four query columns per pass, each row's minimum, maximum and exact median (:func:`_row_stats4`,
   :func:`_median`: the scores binned over the metric's fixed range, only the median bins sorted);
2. the integer scores ``nint((S - median - offset) * scale)`` (0..101), their per-column counts (the
   null), and the alignments' summed scores as running diagonal sums over the targets' columns, one
   query row at a time, last row first (only the sums where an alignment starts are kept);
3. the null survival function of every span of query columns (convolutions of the columns' score
   histograms over their non-zero windows, four terms per pass);
4. per target, the best complete score over its alignments (one int64 key per alignment) and, once
   per distinct best score of each target width, the p-value of the maximum over all alignments
   and both orientations.

Every floating-point value is computed by the same operations in the same order as the earlier
per-query kernel (kept in ``tests/_tomtom_reference.py``): the medians select the same two values,
each convolution sum adds the same terms in the same order (terms with a zero factor, exact +0.0,
included), each p-value multiplies the same factors in alignment order; integer sums are exact in
any order.  So the results are identical, as tests/test_motifs_compare.py checks.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

TOMTOM_BINS = 100   # Tomtom's BINS: the column scores of a query are scaled to 0..100
_MEDIAN_BINS = 1024
_PAD = 128          # zeros before a convolution's input (more than a column histogram's width)


@nb.njit(cache=True, nogil=True, inline="always")
def _score(q0, q1, q2, q3, y0, y1, y2, y3, euclidean):
    """One column score: minus the Euclidean distance, or (``euclidean`` False) the dot product
    clipped to [-1, 1]."""
    if euclidean:
        d0, d1, d2, d3 = q0 - y0, q1 - y1, q2 - y2, q3 - y3
        return -np.sqrt(d0 * d0 + d1 * d1 + d2 * d2 + d3 * d3)
    x = q0 * y0 + q1 * y1 + q2 * y2 + q3 * y3
    x = x if x > -1.0 else -1.0
    return x if x < 1.0 else 1.0


@nb.njit(cache=True, nogil=True, inline="always")
def _bin(x, euclidean):
    """The median bin of a score: ``_MEDIAN_BINS`` equal bins of the metric's range (scores of
    Euclidean distances lie in [-sqrt(2), 0], clipped dot products in [-1, 1]), monotone in ``x``."""
    if euclidean:
        b = np.int32((x + 1.5) * ((_MEDIAN_BINS - 1) / 1.5))
    else:
        b = np.int32((x + 1.0) * ((_MEDIAN_BINS - 1) / 2.0))
    return np.uint16(min(max(b, 0), _MEDIAN_BINS - 1))


@nb.njit(cache=True, nogil=True)
def _median(row, bins, cnt, sel):
    """Tomtom's median of ``row`` (K,): the mean of the sorted values at ranks ``floor(K/2) - 1`` and
    ``ceil(K/2) - 1``, exactly, from the values' bins ``bins`` (K,) (monotone in the value) and
    their counts ``cnt``: only the values of the bins holding those ranks are sorted (blocks of 64
    columns without one are skipped; ``sel`` (K,): scratch)."""
    K = row.shape[0]
    k1 = max(0, K // 2 - 1)
    k2 = max(k1, (K + 1) // 2 - 1)
    acc = 0
    b1 = 0
    while acc + cnt[b1] <= k1:
        acc += cnt[b1]
        b1 += 1
    acc1 = acc
    b2 = b1
    while acc + cnt[b2] <= k2:
        acc += cnt[b2]
        b2 += 1
    uw = np.uint32(b2 - b1)                 # bins b1..b2: bin - b1 <= b2 - b1 as unsigned
    K64 = K - K % 64
    j = 0
    for k0 in range(0, K64, 64):
        blk = bins[k0:k0 + 64]
        low = np.uint32(0xFFFFFFFF)
        for t in range(64):
            low = min(low, np.uint32(np.int32(blk[t]) - b1))
        if low > uw:
            continue
        for t in range(64):
            if np.uint32(np.int32(blk[t]) - b1) <= uw:
                sel[j] = row[k0 + t]
                j += 1
    for k in range(K64, K):
        if np.uint32(np.int32(bins[k]) - b1) <= uw:
            sel[j] = row[k]
            j += 1
    s = np.sort(sel[:j])
    return (s[k1 - acc1] + s[k2 - acc1]) / 2.0


@nb.njit(cache=True, nogil=True, inline="always")
def _lane_min_max(lanes, r):
    """Minimum and maximum over the 64 lanes ``lanes[2 r]`` (minima) and ``lanes[2 r + 1]`` (maxima)."""
    mn, mx = lanes[2 * r, 0], lanes[2 * r + 1, 0]
    for t in range(1, 64):
        mn = lanes[2 * r, t] if lanes[2 * r, t] < mn else mn
        mx = lanes[2 * r + 1, t] if lanes[2 * r + 1, t] > mx else mx
    return mn, mx


@nb.njit(cache=True, nogil=True, inline="always")
def _count4(vals, cnt4):
    """The counts of the values ``vals`` in 4 interleaved histograms ``cnt4`` (4, n_bins) (zeroed first;
    neighbours go to different rows, so no increment waits on the one before): their sum is the histogram."""
    K = vals.shape[0]
    K4 = K - K % 4
    cnt4[:] = 0
    c0, c1, c2, c3 = cnt4[0], cnt4[1], cnt4[2], cnt4[3]
    for k in range(0, K4, 4):
        c0[vals[k]] += 1
        c1[vals[k + 1]] += 1
        c2[vals[k + 2]] += 1
        c3[vals[k + 3]] += 1
    for k in range(K4, K):
        c0[vals[k]] += 1


@nb.njit(cache=True, nogil=True)
def _row_stats(q, Y4, euclidean, out, bins, cnt, sel, lanes):
    """Scores of one query column ``q`` (4,) against every target column (``Y4`` (4, K)) into
    ``out`` (K,), and their minimum, maximum and Tomtom's median (:func:`_median`).

    One pass computes the scores, their running minimum and maximum (64 lanes) and their bins
    (:func:`_bin`); the bins are counted in 4 interleaved histograms (neighbouring columns often
    share a bin), summed into ``cnt[0]``.  ``bins`` (K,) uint16, ``cnt`` (4, _MEDIAN_BINS) int32,
    ``sel`` (K,) and ``lanes`` (>= 2, 64): scratch."""
    K = Y4.shape[1]
    q0, q1, q2, q3 = q[0], q[1], q[2], q[3]
    y0, y1, y2, y3 = Y4[0], Y4[1], Y4[2], Y4[3]
    mnl, mxl = lanes[0], lanes[1]
    mnl[:] = np.inf
    mxl[:] = -np.inf
    K64 = K - K % 64
    for k0 in range(0, K64, 64):
        for t in range(64):
            k = k0 + t
            x = _score(q0, q1, q2, q3, y0[k], y1[k], y2[k], y3[k], euclidean)
            out[k] = x
            bins[k] = _bin(x, euclidean)
            mnl[t] = x if x < mnl[t] else mnl[t]
            mxl[t] = x if x > mxl[t] else mxl[t]
    for k in range(K64, K):
        x = _score(q0, q1, q2, q3, y0[k], y1[k], y2[k], y3[k], euclidean)
        out[k] = x
        bins[k] = _bin(x, euclidean)
        t = k - K64
        mnl[t] = x if x < mnl[t] else mnl[t]
        mxl[t] = x if x > mxl[t] else mxl[t]
    mn, mx = _lane_min_max(lanes, 0)
    if not mx > mn:
        return mn, mx, mn
    _count4(bins, cnt)
    c0, c1, c2, c3 = cnt[0], cnt[1], cnt[2], cnt[3]
    for b in range(_MEDIAN_BINS):
        c0[b] += c1[b] + c2[b] + c3[b]
    return mn, mx, _median(out, bins, c0, sel)


_SIGN = np.int64(0x7FFFFFFFFFFFFFFF)


@nb.njit(cache=True, nogil=True)
def _min_max(row):
    """Minimum and maximum of a float64 row, from integer keys of its bits (ordered as the floats;
    integer reductions vectorise, float ones do not)."""
    bits = row.view(np.int64)
    kmin = _SIGN
    kmax = -_SIGN - 1
    for k in range(bits.shape[0]):
        x = bits[k]
        key = x ^ ((x >> 63) & _SIGN)
        kmin = min(kmin, key)
        kmax = max(kmax, key)
    out = np.empty(2, dtype=np.int64)
    out[0] = kmin ^ ((kmin >> 63) & _SIGN)
    out[1] = kmax ^ ((kmax >> 63) & _SIGN)
    f = out.view(np.float64)
    return f[0], f[1]


@nb.njit(cache=True, nogil=True)
def _row_stats4(Q, Y4, euclidean, S, bins4, cnt, sel, stats):
    """:func:`_row_stats` of four query columns ``Q`` (4, 4) in one pass over the targets (each
    target column loaded once): their scores into ``S`` (4, K) and bins into ``bins4`` (4, K)
    uint16; then one loop counts each row's bins in its own histogram (``cnt`` (4, _MEDIAN_BINS)
    int32); ``stats[r]`` = (minimum (:func:`_min_max`), maximum, median) of row ``r`` (``sel``
    (K,): scratch)."""
    K = Y4.shape[1]
    y0, y1, y2, y3 = Y4[0], Y4[1], Y4[2], Y4[3]
    a0, a1, a2, a3 = Q[0, 0], Q[0, 1], Q[0, 2], Q[0, 3]
    b0, b1, b2, b3 = Q[1, 0], Q[1, 1], Q[1, 2], Q[1, 3]
    c0, c1, c2, c3 = Q[2, 0], Q[2, 1], Q[2, 2], Q[2, 3]
    d0, d1, d2, d3 = Q[3, 0], Q[3, 1], Q[3, 2], Q[3, 3]
    for k in range(K):
        e0, e1, e2, e3 = y0[k], y1[k], y2[k], y3[k]
        x = _score(a0, a1, a2, a3, e0, e1, e2, e3, euclidean)
        S[0, k] = x
        bins4[0, k] = _bin(x, euclidean)
        x = _score(b0, b1, b2, b3, e0, e1, e2, e3, euclidean)
        S[1, k] = x
        bins4[1, k] = _bin(x, euclidean)
        x = _score(c0, c1, c2, c3, e0, e1, e2, e3, euclidean)
        S[2, k] = x
        bins4[2, k] = _bin(x, euclidean)
        x = _score(d0, d1, d2, d3, e0, e1, e2, e3, euclidean)
        S[3, k] = x
        bins4[3, k] = _bin(x, euclidean)
    cnt[:] = 0
    h0, h1, h2, h3 = cnt[0], cnt[1], cnt[2], cnt[3]
    z0, z1, z2, z3 = bins4[0], bins4[1], bins4[2], bins4[3]
    for k in range(K):
        h0[z0[k]] += 1
        h1[z1[k]] += 1
        h2[z2[k]] += 1
        h3[z3[k]] += 1
    for r in range(4):
        stats[r, 0], stats[r, 1] = _min_max(S[r])
    for r in range(4):
        mn, mx = stats[r, 0], stats[r, 1]
        stats[r, 2] = _median(S[r], bins4[r], cnt[r], sel) if mx > mn else mn


@nb.njit(cache=True, nogil=True, inline="always")
def _query_span(cfg, m, L):
    """Query columns ``a..b`` (inclusive) that alignment ``cfg`` of an ``m``-column query over an
    ``L``-column target overlaps."""
    if cfg <= m:
        a = m - cfg
        return a, min(m, a + L) - 1
    return 0, min(m, L + m - cfg) - 1


@nb.njit(cache=True, nogil=True)
def _convolve(pad, w, g, out):
    """One step of a span's null: ``out[q] = sum_s g[s] * pad[len(g) - 1 + q - s]`` for ``q`` in
    ``0 .. w + len(g) - 2`` (``pad``: the previous span's ``w`` values with ``len(g) - 1`` zeros on
    either side), the terms of each sum added in ascending ``s``, four per pass over ``out``: the
    order of the plain scatter ``out[s + j] += g[s] * x[j]`` over ``s``.  A pass covers only the
    outputs its terms reach (``q`` in ``s .. s + w + 2``); the terms it leaves out multiply a zero
    of ``pad``, and adding their +0.0 to a non-negative sum changes nothing (nor does starting the
    sums from 0.0)."""
    hw = g.shape[0]
    n = w + hw - 1
    out[:n] = 0.0
    s = 0
    while s + 4 <= hw:
        g0, g1, g2, g3 = g[s], g[s + 1], g[s + 2], g[s + 3]
        b = hw - 1
        r = min(n, s + w + 3) - s            # outputs s .. s + r - 1 (slices from 0: the loop vectorises)
        o = out[s:s + r]
        x0, x1, x2, x3 = pad[b:b + r], pad[b - 1:b - 1 + r], pad[b - 2:b - 2 + r], pad[b - 3:b - 3 + r]
        for q in range(r):
            x = o[q]
            x += g0 * x0[q]
            x += g1 * x1[q]
            x += g2 * x2[q]
            x += g3 * x3[q]
            o[q] = x
        s += 4
    while s < hw:
        g0 = g[s]
        o = out[s:s + w]
        x0 = pad[hw - 1:hw - 1 + w]
        for q in range(w):
            o[q] += g0 * x0[q]
        s += 1


@nb.njit(cache=True, nogil=True)
def _survival2(sf, o1, lo1, hi1, o2, lo2, hi2):
    """In place, the survival functions ``sf[o + t] = min(sum of sf[o + t..hi], 1)`` (``t`` from ``hi``
    down to ``lo``) of two spans' densities, their running sums interleaved (two independent chains
    of additions, each in the order of one span alone)."""
    n = min(hi1 - lo1, hi2 - lo2) + 1
    acc1 = 0.0
    acc2 = 0.0
    for u in range(n):
        acc1 += sf[o1 + hi1 - u]
        sf[o1 + hi1 - u] = min(acc1, 1.0)
        acc2 += sf[o2 + hi2 - u]
        sf[o2 + hi2 - u] = min(acc2, 1.0)
    for t in range(hi1 - n, lo1 - 1, -1):
        acc1 += sf[o1 + t]
        sf[o1 + t] = min(acc1, 1.0)
    for t in range(hi2 - n, lo2 - 1, -1):
        acc2 += sf[o2 + t]
        sf[o2 + t] = min(acc2, 1.0)


@nb.njit(cache=True, nogil=True)
def _span_survivals(hist, lo, hi, span_off, sf, win, pad):
    """Null survival functions of every span ``[a, b]`` of query columns into ``sf``: the values at
    ``t = clo..chi`` (the span's non-zero window, ``clo = lo[a] + ... + lo[b]``, ``chi`` alike) at
    ``sf[span_off[a, b] + t]``, then one 0 at ``chi + 1`` (below ``clo`` the survival is the value at
    ``clo``, above ``chi`` 0: the readers clamp ``t`` to ``clo..chi + 1``; the windows are packed one
    after the other, so the p-values read from fewer cache lines).  It is the convolution of the columns' score
    histograms ``hist`` (m, maxv + 1), each non-zero on ``lo[i]..hi[i]`` only, span ``[a, b]`` from
    ``[a, b - 1]`` (:func:`_convolve`, over the non-zero windows, the densities written in place in
    ``sf``), then each span's running sum from the top (:func:`_survival2`, two spans at a time).
    ``win`` (m, 2) int64 and ``pad`` (``m * (maxv + 1) + 1 + 2 * _PAD``): scratch."""
    m = hist.shape[0]
    for a in range(m):
        clo, chi = lo[a], hi[a]
        o = span_off[a, a]
        for v in range(clo, chi + 1):
            sf[o + v] = hist[a, v]
        win[a, 0], win[a, 1] = clo, chi
        for b in range(a + 1, m):
            hlo, hhi = lo[b], hi[b]
            hw = hhi - hlo + 1
            w = chi - clo + 1
            pad[_PAD - hw + 1:_PAD] = 0.0
            pad[_PAD:_PAD + w] = sf[o + clo:o + chi + 1]
            pad[_PAD + w:_PAD + w + hw - 1] = 0.0
            clo, chi = clo + hlo, chi + hhi
            o = span_off[a, b]
            _convolve(pad[_PAD - hw + 1:_PAD + w + hw - 1], w, hist[b, hlo:hhi + 1], sf[o + clo:o + chi + 1])
            win[b, 0], win[b, 1] = clo, chi
        for b in range(a, m, 2):
            o1 = span_off[a, b]
            if b + 1 < m:
                _survival2(sf, o1, win[b, 0], win[b, 1], span_off[a, b + 1], win[b + 1, 0], win[b + 1, 1])
            else:                           # the last span of an odd count alone
                acc = 0.0
                for t in range(win[b, 1], win[b, 0] - 1, -1):
                    acc += sf[o1 + t]
                    sf[o1 + t] = min(acc, 1.0)
        for b in range(a, m):
            sf[span_off[a, b] + win[b, 1] + 1] = 0.0


@nb.njit(cache=True, nogil=True)
def _integer_row(row, base, scale, V, Dc, Dp):
    """``V = nint((row - base) * scale)`` and ``Dc[k] = V[k] + Dp[k + 1]`` (``Dc[K - 1] = V[K - 1]``):
    one row of :func:`_integer_rows` (a function of its own, so that the loop vectorises)."""
    K = row.shape[0]
    r0, V0, Dc0, Dp1 = row[0:K - 1], V[0:K - 1], Dc[0:K - 1], Dp[1:K]
    for k in range(K - 1):
        v = np.int32((r0[k] - base) * scale + 0.5)
        V0[k] = v
        Dc0[k] = v + Dp1[k]
    V[K - 1] = np.int32((row[K - 1] - base) * scale + 0.5)
    Dc[K - 1] = V[K - 1]


@nb.njit(cache=True, nogil=True)
def _integer_rows(S, med, off, scale, t_start, t_last, V, D0, D1, E, cnt4, lo, hi, counts):
    """Integer scores of the query rows, their counts, and the diagonal sums where alignments start.

    Row ``i``'s integer scores ``nint((S[i] - med[i] - off) * scale)`` (0..101) go to ``V`` (K,)
    uint8 (scratch) and are counted in ``counts[i]`` (non-zero on ``lo[i]..hi[i]``; 4 interleaved
    histograms ``cnt4`` (4, TOMTOM_BINS + 2) int32, summed).  The rows are taken last first (the
    rows scored last are still in cache): ``D0``, ``D1`` (K,) (int16 where ``m * (TOMTOM_BINS + 1)``
    fits) hold the sums along the diagonals from row ``i`` down to the query's last row or the
    target's last column ``t_last[t]``, and ``E[i, t]`` the one from target ``t``'s first column
    ``t_start[t]`` (an alignment runs from one motif's first column to the other's last: its sum is
    the diagonal sum at its start, exact in integers).  Returns the array holding the sums from the
    first row, and the largest integer score."""
    m = med.shape[0]
    Dp, Dc = D0, D1
    Dp[:] = 0
    maxv = 0
    T = t_last.shape[0]
    c0, c1, c2, c3 = cnt4[0], cnt4[1], cnt4[2], cnt4[3]
    for i in range(m - 1, -1, -1):
        _integer_row(S[i], med[i] + off, scale, V, Dc, Dp)
        for t in range(T):                  # a target's last column ends its diagonals
            Dc[t_last[t]] = V[t_last[t]]
        _count4(V, cnt4)
        c = counts[i]
        lo_i, hi_i = TOMTOM_BINS + 1, 0
        for v in range(TOMTOM_BINS + 2):
            x = c0[v] + c1[v] + c2[v] + c3[v]
            c[v] = x
            if x != 0:
                hi_i = v
                if lo_i > TOMTOM_BINS:
                    lo_i = v
        lo[i], hi[i] = lo_i, hi_i
        maxv = max(maxv, hi_i)
        for t in range(T):
            E[i, t] = Dc[t_start[t]]
        Dp, Dc = Dc, Dp
    return Dp, maxv


@nb.njit(cache=True, nogil=True)
def _targets(D0, E, m, U, maxv, span_off, span_win, sf, t_start, g_width, g_t0, min_overlap, dest, work, iwork,
             p_out, off_out, ov_out):
    """Per target its best complete score (ties: the larger overlap, then the first alignment) and
    the p-value of the maximum over all its alignments and both orientations; the targets in groups
    of one width (``g_t0[g]:g_t0[g + 1]``), the results written at ``dest[t]``.

    An alignment starts at the query's first row (its sum in ``D0`` at the target column there) or
    at the target's first column (``E[i, t]``, ``i`` the query row there; :func:`_integer_rows`).  Each alignment's
    (score, overlap, order) is one int64 key, and the best alignment the largest key.  The p-value
    depends on the target only through its width and best score, so it is computed once per
    distinct best score of a group, from the spans' survival functions ``sf`` (span ``[a, b]`` at score
    ``t``: ``sf[span_off[a, b] + t]``, ``t`` clamped to ``span_win[a, b, 0]..span_win[a, b, 1] + 1``;
    :func:`_span_survivals`).  ``work`` (2, T) float64 and ``iwork`` (12, >= T, m * 101 + 3) int64:
    scratch."""
    kt, c_add, c_lim, c_off = iwork[0], iwork[1], iwork[2], iwork[3]
    c_lo, c_hi = iwork[10], iwork[11]
    stamp, slot, vals, tslot = iwork[4], iwork[5], iwork[6], iwork[7]
    prod, pv = work[0], work[1]
    for g in range(g_width.shape[0]):
        L = g_width[g]
        t0, t1 = g_t0[g], g_t0[g + 1]
        mo = min(min_overlap, m, L)
        c_first, c_last = mo, m + L - mo
        for cfg in range(c_first, c_last + 1):
            a, b = _query_span(cfg, m, L)
            ov = b - a + 1
            add = (m - ov) * U                  # complete score: unaligned columns at the median
            kt[cfg] = (np.int64(add) << 32) + (np.int64(ov) << 16) + (0xFFFF - cfg)
            c_add[cfg] = add
            c_lim[cfg] = ov * maxv
            c_off[cfg] = span_off[a, b]
            c_lo[cfg], c_hi[cfg] = span_win[a, b, 0], span_win[a, b, 1] + 1
        d_lo = max(m, c_first)         # alignments d_lo..c_last start at the query's first row
        e_hi = min(m - 1, c_last)      # c_first..e_hi at the target's first column, row m - cfg
        iwork[8, 0] += 1
        sid = iwork[8, 0]
        D = 0
        n = t1 - t0
        keys = iwork[9, :n]
        keys[:] = -1
        for cfg in range(c_first, e_hi + 1):
            kc = kt[cfg]
            Er = E[m - cfg, t0:t1]
            for j in range(n):
                keys[j] = max(keys[j], (np.int64(Er[j]) << 32) + kc)
        for cfg in range(d_lo, c_last + 1):
            kc = kt[cfg]
            c0 = t_start[t0] - m + cfg
            for j in range(n):
                keys[j] = max(keys[j], (np.int64(D0[c0 + j * L]) << 32) + kc)
        for j in range(n):
            t = t0 + j
            best = keys[j]
            s = best >> 32
            if stamp[s] != sid:
                stamp[s] = sid
                slot[s] = D
                vals[D] = s
                D += 1
            tslot[j] = slot[s]
            u = dest[t]
            off_out[u] = 0xFFFF - (best & 0xFFFF) - m
            ov_out[u] = (best >> 16) & 0xFFFF
        # p-value of the maximum over the alignments tried, both orientations: 1 - prod (1 - q_a)^2
        for d in range(D):
            prod[d] = 1.0
        for cfg in range(c_first, c_last + 1):
            add, lim, o, ylo, yhi = c_add[cfg], c_lim[cfg], c_off[cfg], c_lo[cfg], c_hi[cfg]
            for d in range(D):
                y = vals[d] - add
                q = 1.0 - sf[np.uint64(o + min(max(y, ylo), yhi))]
                f = q * q
                f = 0.0 if y <= 0 else f
                f = 1.0 if y > lim else f
                prod[d] = prod[d] * f
        for d in range(D):
            if prod[d] > 0.999:
                # summed as logs where 1 - prod would lose digits
                logq = 0.0
                for cfg in range(c_first, c_last + 1):
                    y = vals[d] - c_add[cfg]
                    if y <= c_lim[cfg]:
                        logq += 2.0 * np.log1p(-sf[c_off[cfg] + min(max(y, c_lo[cfg]), c_hi[cfg])])
            else:
                logq = np.log(prod[d]) if prod[d] > 0 else -np.inf
            pv[d] = -np.expm1(logq)
        for t in range(t0, t1):
            p_out[dest[t]] = pv[tslot[t - t0]]


@nb.njit(cache=True, nogil=True)
def _pi0_bins(p, grid, H):
    """``H[b] +=`` the number of p-values with exactly ``b`` values of ``grid`` (ascending) at or below
    them (``np.searchsorted(grid, p, side="right")``)."""
    ng = grid.shape[0]
    top = grid[ng - 1]
    for x in p:
        b = min(int(x / top * ng), ng) if x >= 0 else 0
        while b < ng and grid[b] <= x:
            b += 1
        while b > 0 and grid[b - 1] > x:
            b -= 1
        H[b] += 1


@nb.njit(cache=True, nogil=True)
def _search_chunk(ch, n_chunks, Q_all, q_off, order, Y4, euclidean, t_start, t_last, g_width, g_t0, dest,
                  min_overlap, grid, mmax, n_sf, D0, D1, P, O, V, H):
    """The queries ``order[ch::n_chunks]`` of :func:`tomtom_queries`, with one set of work arrays
    (``D0``, ``D1`` (K,): the diagonal sums, int16 where they fit)."""
    T = t_start.shape[0]
    K = Y4.shape[1]
    nq = q_off.shape[0] - 1
    S = np.empty((mmax, K))
    Vr = np.empty(K, dtype=np.uint8)
    E = np.empty((mmax, T), dtype=np.int32)
    counts = np.empty((mmax, TOMTOM_BINS + 2), dtype=np.int64)
    cnt4 = np.empty((4, TOMTOM_BINS + 2), dtype=np.int32)
    mcnt4 = np.empty((4, _MEDIAN_BINS), dtype=np.int32)
    bins4 = np.empty((4, K), dtype=np.uint16)
    sel = np.empty(K)
    lanes = np.empty((8, 64))
    stats = np.empty((mmax, 3))
    span_off = np.zeros((mmax, mmax), dtype=np.int64)
    span_win = np.zeros((mmax, mmax, 2), dtype=np.int64)
    sf = np.empty(n_sf)
    win = np.empty((mmax, 2), dtype=np.int64)
    pad = np.zeros(mmax * (TOMTOM_BINS + 1) + 1 + 2 * _PAD)
    work = np.empty((2, T))
    iwork = np.zeros((12, max(T, mmax * (TOMTOM_BINS + 1) + 3, mmax + g_width[-1] + 2)), dtype=np.int64)
    med = np.empty(mmax)
    lo = np.empty(mmax, dtype=np.int64)
    hi = np.empty(mmax, dtype=np.int64)
    for u in range(ch, nq, n_chunks):
        i = order[u]
        Q = Q_all[q_off[i]:q_off[i + 1]]
        m = Q.shape[0]
        small = np.inf
        large = -np.inf
        r4 = m - m % 4
        for r in range(0, r4, 4):
            _row_stats4(Q[r:r + 4], Y4, euclidean, S[r:r + 4], bins4, mcnt4, sel, stats[r:r + 4])
        for r in range(r4, m):
            mn, mx, md = _row_stats(Q[r], Y4, euclidean, S[r], bins4[0], mcnt4, sel, lanes)
            stats[r, 0], stats[r, 1], stats[r, 2] = mn, mx, md
        for r in range(m):
            med[r] = stats[r, 2]
            small = min(small, stats[r, 0] - med[r])
            large = max(large, stats[r, 1] - med[r])
        if large == small:
            small = large - 1.0
        off = np.floor(small)
        scale = np.floor(TOMTOM_BINS / (large - off))
        U = int(round(-off * scale))         # an unaligned query column's integer score (x = 0)
        Dm, maxv = _integer_rows(S[:m], med[:m], off, scale, t_start, t_last, Vr, D0, D1, E, cnt4, lo, hi,
                                 counts)
        hist = np.empty((m, maxv + 1))
        for r in range(m):
            for v in range(maxv + 1):
                hist[r, v] = counts[r, v] / K
        total = 0                          # the spans' windows, packed (:func:`_span_survivals`)
        for a in range(m):
            clo = chi = 0
            for b in range(a, m):
                clo += lo[b]
                chi += hi[b]
                span_off[a, b] = total - clo
                span_win[a, b, 0], span_win[a, b, 1] = clo, chi
                total += chi - clo + 2
        _span_survivals(hist, lo[:m], hi[:m], span_off, sf, win, pad)
        _targets(Dm, E, m, U, maxv, span_off, span_win, sf, t_start, g_width, g_t0, min_overlap, dest, work,
                 iwork, P[i], O[i], V[i])
        _pi0_bins(P[i], grid, H[i])


@nb.njit(parallel=True, cache=True)
def tomtom_queries(Q_all, q_off, order, n_chunks, Y4, euclidean, t_start, g_width, g_t0, dest, min_overlap,
                   grid, D):
    """Tomtom searches of every query (rows ``q_off[i]:q_off[i + 1]`` of ``Q_all``, prepared as the
    metric needs) against the targets: target ``t`` is columns ``t_start[t]:t_start[t] + width`` of
    ``Y4`` (4, K), the targets sorted by width in groups ``g_t0[g]:g_t0[g + 1]`` of width
    ``g_width[g]``, each target's results written at ``dest[t]``.

    The queries, in the order ``order``, are dealt round-robin into ``n_chunks`` chunks run in
    parallel; each chunk allocates its work arrays once (:func:`_search_chunk`).  ``D`` (n_chunks,
    2, K): the chunks' diagonal sums, int16 where every query has at most 32767 // (TOMTOM_BINS + 1)
    columns, else int32 (:func:`diagonal_dtype`; each dtype compiles its own version, when used).

    Returns ``p, offset, overlap`` (n_queries, T) and, per query, the counts of its p-values between
    the values of ``grid`` (n_queries, len(grid) + 1; :func:`_pi0_bins`).
    """
    nq = len(q_off) - 1
    T = len(t_start)
    P = np.ones((nq, T))
    O = np.zeros((nq, T), dtype=np.int64)
    V = np.zeros((nq, T), dtype=np.int64)
    H = np.zeros((nq, grid.shape[0] + 1), dtype=np.int64)
    mmax = 1
    for i in range(nq):
        mmax = max(mmax, q_off[i + 1] - q_off[i])
    t_last = np.empty(T, dtype=np.int64)
    for g in range(g_width.shape[0]):
        for t in range(g_t0[g], g_t0[g + 1]):
            t_last[t] = t_start[t] + g_width[g] - 1
    n_sf = 0
    for a in range(mmax):
        for b in range(a, mmax):
            n_sf += (b - a + 1) * (TOMTOM_BINS + 1) + 2
    for ch in nb.prange(n_chunks):
        _search_chunk(ch, n_chunks, Q_all, q_off, order, Y4, euclidean, t_start, t_last, g_width, g_t0, dest,
                      min_overlap, grid, mmax, n_sf, D[ch, 0], D[ch, 1], P, O, V, H)
    return P, O, V, H


def diagonal_dtype(max_width: int):
    """The dtype of :func:`tomtom_queries`'s diagonal sums for queries of at most ``max_width`` columns:
    int16 where every sum (at most ``(TOMTOM_BINS + 1)`` per column) fits, else int32."""
    return np.int16 if max_width * (TOMTOM_BINS + 1) <= np.iinfo(np.int16).max else np.int32


@nb.njit(cache=True, nogil=True)
def _sort_by_key(idx, p, v):
    """Sort entries ``idx`` in place by p-value, then larger overlap ``v``, then index."""
    order = np.argsort(p[idx], kind="mergesort")
    tmp = idx[order]
    n = tmp.shape[0]
    s = 0
    while s < n:
        e = s + 1
        while e < n and p[tmp[e]] == p[tmp[s]]:
            e += 1
        # a run of equal p-values (in index order): larger overlap first (insertion sort, stable)
        for a in range(s + 1, e):
            x = tmp[a]
            b = a - 1
            while b >= s and v[tmp[b]] < v[x]:
                tmp[b + 1] = tmp[b]
                b -= 1
            tmp[b + 1] = x
        s = e
    idx[:] = tmp


@nb.njit(cache=True, nogil=True)
def _suffix_min_r(ps, z, n, first):
    """``r_l = min(z p_(l) n / l, 1)`` for the sorted p-values ``ps`` at ranks ``first + 1 ...``, then
    the minimum over each suffix (in place of a new array)."""
    r = np.empty(ps.shape[0])
    for j in range(ps.shape[0]):
        r[j] = min(z * ps[j] * n / (first + j + 1), 1.0)
    for j in range(ps.shape[0] - 2, -1, -1):
        r[j] = min(r[j], r[j + 1])
    return r


@nb.njit(cache=True, nogil=True, inline="always")
def _exp_bin(x):
    """Bin of a p-value by its binary exponent: ``x`` in ``[2**(i - 1075), 2**(i - 1074))`` is bin ``i``
    (1 .. 1075); 0 (and below) is bin 0."""
    if x <= 0:
        return 0
    return min(max(math.frexp(x)[1] + 1074, 1), 1075)          # frexp: x = m 2**e, 0.5 <= m < 1


@nb.njit(cache=True, nogil=True, inline="always")
def _exp_bin_positive(u):
    """:func:`_exp_bin` of a positive float from its bits ``u`` (int64): a normal float of biased
    exponent ``E`` is bin ``E + 52``, a subnormal one the bit length of its mantissa."""
    E = (u >> 52) & 0x7FF
    if E == 0:
        f = u & 0xFFFFFFFFFFFFF
        b = 0
        while f != 0:
            f >>= 1
            b += 1
        return max(b, 1)
    return min(E + 52, 1075)


@nb.njit(cache=True, nogil=True)
def _tail_min(p, pstar, J, z, n, cnt, pos, buf, sub, grp):
    """``min over l > J of min(z p_(l) n / l, 1)``, ``p_(l)`` the ``l``-th smallest of ``p`` and the
    ``J`` smallest exactly the values ``<= pstar``, without sorting all of ``p``: the values above
    ``pstar`` are bucketed by binary exponent; a bucket is sorted only where its lower bound
    (its smallest possible value over its largest possible rank) could beat the minimum so far.
    Buckets of more than 64 values are split further (:func:`_tail_bucket`).  ``cnt`` (1077,),
    ``pos`` (1077,), ``sub`` (130,) int64, ``buf`` and ``grp`` (len(p),) float64: scratch."""
    cnt[:] = 0
    bits = p.view(np.int64)
    for j in range(p.shape[0]):
        if p[j] > pstar:
            cnt[_exp_bin_positive(bits[j]) + 1] += 1
    lo = _exp_bin(pstar)
    pos[lo] = 0
    for i in range(lo, 1076):
        pos[i + 1] = pos[i] + cnt[i + 1]
    for i in range(lo, 1076):
        cnt[i + 1] = pos[i]                 # fill pointers
    for j in range(p.shape[0]):
        x = p[j]
        if x > pstar:
            b = _exp_bin_positive(bits[j])
            buf[cnt[b + 1]] = x
            cnt[b + 1] += 1
    best = 1.0
    for i in range(lo, 1076):
        a, e = pos[i], pos[i + 1]
        if e == a:
            continue
        low = max(math.ldexp(1.0, i - 1075), pstar)
        if z * low * n / (J + e) >= best:   # every value of the bucket >= low, every rank <= J + e
            continue
        if e - a <= 64 or i <= 52:
            seg = np.sort(buf[a:e])
            for t in range(e - a):
                best = min(best, z * seg[t] * n / (J + a + t + 1))
        else:
            best = _tail_bucket(buf[a:e], i, pstar, J + a, z, n, best, sub, grp)
    return best


@nb.njit(cache=True, nogil=True)
def _tail_bucket(vals, i, pstar, r0, z, n, best, sub, grp):
    """:func:`_tail_min` over one large bucket ``vals`` (bin ``i`` > 52: normal floats of one binary
    exponent, ranked ``r0 + 1 ...`` in sorted order): the values split once more by the top 6 bits
    of their mantissa (64 sub-buckets in value order, sub-bucket ``s`` >= ``2**(i - 1075) * (1 +
    s / 64)``), and a sub-bucket sorted only where its lower bound could beat ``best``.  ``sub``
    (130,) int64 and ``grp`` (>= len(vals),): scratch."""
    bits = vals.view(np.int64)
    cnt, fill = sub[:65], sub[65:130]
    cnt[:] = 0
    for x in bits:
        cnt[((x >> 46) & 63) + 1] += 1
    for s in range(64):
        cnt[s + 1] += cnt[s]                # cnt[s]: the values in sub-buckets below s
    fill[:] = cnt
    for j in range(vals.shape[0]):
        s = (bits[j] >> 46) & 63
        grp[fill[s]] = vals[j]
        fill[s] += 1
    base = math.ldexp(1.0, i - 1075)
    for s in range(64):
        a, e = cnt[s], cnt[s + 1]
        if e == a:
            continue
        low = max(base * (1.0 + s / 64.0), pstar)
        if z * low * n / (r0 + e) >= best:
            continue
        seg = np.sort(grp[a:e])
        for t in range(e - a):
            best = min(best, z * seg[t] * n / (r0 + a + t + 1))
    return best


@nb.njit(cache=True, nogil=True)
def _kth_smallest(p, k, buf):
    """The ``k``-th smallest value of ``p`` (``np.partition(p, k - 1)[k - 1]``): for small ``k`` the
    ``k`` smallest so far kept sorted in ``buf`` (a value enters only below the largest of them)."""
    if k > 64:
        return np.partition(p, k - 1)[k - 1]
    for j in range(k):
        x = p[j]
        i = j
        while i > 0 and buf[i - 1] > x:
            buf[i] = buf[i - 1]
            i -= 1
        buf[i] = x
    top = buf[k - 1]
    for j in range(k, p.shape[0]):
        x = p[j]
        if x < top:
            i = k - 1
            while i > 0 and buf[i - 1] > x:
                buf[i] = buf[i - 1]
                i -= 1
            buf[i] = x
            top = buf[k - 1]
    return top


@nb.njit(parallel=True, cache=True)
def rank_matches(P, V, pi0, norient, k):
    """Per query, its ``k`` best target motifs and their q-values.

    ``P``, ``V`` (n_queries, T): p-values and overlaps of every target entry (motif ``e //
    norient``, orientation ``e % norient``).  Entries are ranked by p-value, then larger overlap,
    then index; a motif is reported in its first-ranked orientation, the motifs in the order of
    those entries.  q-values are Tomtom's (FIMO's ``compute_qvalues``): over all entries, ``q_(j) =
    min over l >= j of min(pi0 p_(l) T / l, 1)`` (equal p-values get one q-value).

    Only the ``norient * k`` smallest p-values (and their ties) are sorted; the q-values are taken
    from them and the smallest term of the rest (:func:`_tail_min`, which sorts few of them).

    Returns the entries (n_queries, k) and their q-values (n_queries, k).
    """
    nq, T = P.shape
    sel = np.zeros((nq, k), dtype=np.int64)
    qsel = np.zeros((nq, k))
    n = float(T)
    for i in nb.prange(nq):
        p = P[i]
        z = pi0[i]
        b_cnt = np.empty(1077, dtype=np.int64)
        b_pos = np.empty(1077, dtype=np.int64)
        buf = np.empty(T)
        b_sub = np.empty(130, dtype=np.int64)
        grp = np.empty(T)
        J0 = min(T, norient * k)
        pstar = _kth_smallest(p, J0, buf) if J0 < T else np.inf
        head = np.flatnonzero(p <= pstar)
        _sort_by_key(head, p, V[i])
        J = head.shape[0]
        ps = p[head]
        r = _suffix_min_r(ps, z, n, 0)
        if J < T:
            # the later p-values lower these q-values where they give a smaller term
            tail = _tail_min(p, pstar, J, z, n, b_cnt, b_pos, buf, b_sub, grp)
            for j in range(J):
                r[j] = min(r[j], tail)
        taken = np.zeros(T // norient, dtype=np.bool_)
        cnt = 0
        for a in range(J):
            x = head[a]
            mot = x // norient
            if not taken[mot]:
                taken[mot] = True
                sel[i, cnt] = x
                qsel[i, cnt] = r[a]
                cnt += 1
                if cnt == k:
                    break
    return sel, qsel


@nb.njit(cache=True)
def similarities(Q_all, q_off, Y4, euclidean, t_start, pos, rows, ent, off, ov):
    """Mean column score of the best alignment of query ``rows[j]`` with target entry ``ent[j]``
    (offset ``off[j]``, overlap ``ov[j]``; the entry's columns start at ``t_start[pos[ent[j]]]`` of
    ``Y4``): the scores recomputed as :func:`_row_scores` computes them, summed in column order."""
    out = np.empty(rows.shape[0])
    for j in range(rows.shape[0]):
        i = rows[j]
        Q = Q_all[q_off[i]:q_off[i + 1]]
        m = Q.shape[0]
        cfg = off[j] + m
        qc, tc = (m - cfg, 0) if cfg <= m else (0, cfg - m)
        c0 = t_start[pos[ent[j]]] + tc
        raw = 0.0
        for d in range(ov[j]):
            q0, q1, q2, q3 = Q[qc + d, 0], Q[qc + d, 1], Q[qc + d, 2], Q[qc + d, 3]
            k = c0 + d
            if euclidean:
                d0, d1, d2, d3 = q0 - Y4[0, k], q1 - Y4[1, k], q2 - Y4[2, k], q3 - Y4[3, k]
                raw += -np.sqrt(d0 * d0 + d1 * d1 + d2 * d2 + d3 * d3)
            else:
                raw += min(1.0, max(-1.0, q0 * Y4[0, k] + q1 * Y4[1, k] + q2 * Y4[2, k] + q3 * Y4[3, k]))
        out[j] = raw / ov[j]
    return out
