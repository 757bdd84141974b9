"""Compiled kernels of Tomtom's complete-score search (MEME suite 5.5.8 ``tomtom.c``), used by
:class:`seqconv.motifs.compare.MotifComparer`.

One call of :func:`tomtom_queries` runs every query against every target (both orientations), the
queries dealt out to the numba threads; each thread keeps one set of work arrays for all its queries.
Per query (``m`` columns, ``K`` target columns):

1. column scores ``S`` (m, K) against the targets' columns, laid out letter by letter (``Y4`` (4, K)),
   each row's minimum, maximum and exact median (:func:`_row_median`);
2. the integer scores ``nint((S - median - offset) * scale)`` (0..100), their per-column counts (the
   null), and the alignments' summed scores as running diagonal sums over the targets' columns, one
   query row at a time (only the sums where an alignment ends are kept);
3. the null survival function of every span of query columns (convolutions of the columns' score
   histograms over their non-zero windows);
4. per target, the best complete score over its alignments and the p-value of the maximum over
   all alignments and both orientations.

Every value is computed by the same floating-point operations in the same order as the earlier
per-query kernel (kept in ``tests/_tomtom_reference.py``), so the results are identical.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

TOMTOM_BINS = 100   # Tomtom's BINS: the column scores of a query are scaled to 0..100
_MEDIAN_BINS = 2048


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
def _row_scores(q0, q1, q2, q3, Y4, euclidean, out):
    """Scores of one query column against every target column, into ``out`` (K,): minus the Euclidean
    distance, or (``euclidean`` False) the dot product clipped to [-1, 1]."""
    K = Y4.shape[1]
    y0, y1, y2, y3 = Y4[0], Y4[1], Y4[2], Y4[3]
    if euclidean:
        for k in range(K):
            d0, d1, d2, d3 = q0 - y0[k], q1 - y1[k], q2 - y2[k], q3 - y3[k]
            out[k] = -np.sqrt(d0 * d0 + d1 * d1 + d2 * d2 + d3 * d3)
    else:
        for k in range(K):
            out[k] = min(1.0, max(-1.0, q0 * y0[k] + q1 * y1[k] + q2 * y2[k] + q3 * y3[k]))


@nb.njit(cache=True, nogil=True)
def _row_median(row, mn, mx, cnt, bins, sel):
    """Tomtom's median of ``row`` (K,): the mean of the sorted values at ranks ``floor(K/2) - 1`` and
    ``ceil(K/2) - 1``, exactly.  The values are counted into ``len(cnt)`` bins between the row's
    minimum and maximum, and only the values in the bins that hold those ranks are sorted
    (``bins`` (K,) int32 and ``sel`` (K,) float64: scratch)."""
    K = row.shape[0]
    k1 = max(0, K // 2 - 1)
    k2 = max(k1, (K + 1) // 2 - 1)
    if not mx > mn:
        return mn
    nbin = cnt.shape[0]
    inv = (nbin - 1) / (mx - mn)
    for k in range(K):
        bins[k] = np.int32((row[k] - mn) * inv)
    cnt[:] = 0
    for k in range(K):
        cnt[bins[k]] += 1
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
    j = 0
    for k in range(K):
        b = bins[k]
        if b1 <= b and b <= b2:
            sel[j] = row[k]
            j += 1
    s = np.sort(sel[:j])
    return (s[k1 - acc1] + s[k2 - acc1]) / 2.0


@nb.njit(cache=True, nogil=True, inline="always")
def _query_span(cfg, m, L):
    """Query columns ``a..b`` (inclusive) that alignment ``cfg`` of an ``m``-column query over an
    ``L``-column target overlaps."""
    if cfg <= m:
        a = m - cfg
        return a, min(m, a + L) - 1
    return 0, min(m, L + m - cfg) - 1


@nb.njit(cache=True, nogil=True)
def _axpy(x, h, y):
    """``y += x * h`` elementwise (a multiply and an add, as written: no fused multiply-add)."""
    for t in range(x.shape[0]):
        y[t] += x[t] * h


@nb.njit(cache=True, nogil=True)
def _span_survivals(hist, lo, hi, maxv, span_off, sf, cur, new):
    """Null survival functions of every span ``[a, b]`` of query columns into ``sf`` (at
    ``span_off[a, b]``, ``(b - a + 1) * maxv + 1`` values): the convolution of the columns' score
    histograms ``hist`` (m, maxv + 1), each non-zero on ``lo[i]..hi[i]`` only.  Each sum adds its
    terms in the order of the full convolution (the terms left out are exact zeros)."""
    m = hist.shape[0]
    for a in range(m):
        clo, chi = lo[a], hi[a]
        for v in range(maxv + 1):
            cur[v] = hist[a, v]
        for b in range(a, m):
            if b > a:
                hlo, hhi = lo[b], hi[b]
                nlo, nhi = clo + hlo, chi + hhi
                new[nlo:nhi + 1] = 0.0
                c = cur[clo:chi + 1]
                w = chi - clo + 1
                for v in range(hlo, hhi + 1):
                    h = hist[b, v]
                    if h != 0.0:
                        _axpy(c, h, new[v + clo:v + clo + w])
                cur[nlo:nhi + 1] = new[nlo:nhi + 1]
                clo, chi = nlo, nhi
            n = (b - a + 1) * maxv + 1
            o = span_off[a, b]
            sf[o + chi + 1:o + n] = 0.0
            acc = 0.0
            for t in range(chi, clo - 1, -1):
                acc += cur[t]
                sf[o + t] = min(acc, 1.0)
            sf[o:o + clo] = sf[o + clo]


@nb.njit(cache=True, nogil=True)
def _integer_rows(S, med, off, scale, not_start, t_last, V, D0, D1, E, counts, lo, hi):
    """Integer scores of the query rows, their counts, and the diagonal sums where alignments end.

    Row ``i``'s integer scores ``nint((S[i] - med[i] - off) * scale)`` go to ``V`` (scratch) and
    are counted in ``counts[i]`` (non-zero on ``lo[i]..hi[i]``); ``D`` (K,) holds the running sums
    along the diagonals ending at row ``i`` (restarting at each target's first column,
    ``not_start`` 0), and ``E[i, t]`` the one ending at target ``t``'s last column.  Returns the
    array holding the sums ending at the last row, and the largest integer score."""
    m, K = med.shape[0], S.shape[1]
    Dp, Dc = D0, D1
    Dp[:] = 0
    maxv = 0
    T = t_last.shape[0]
    for i in range(m):
        base = med[i] + off
        row = S[i]
        v0 = np.int32((row[0] - base) * scale + 0.5)
        V[0] = v0
        Dc[0] = v0
        r1, V1, Dc1, Dp0, ns1 = row[1:K], V[1:K], Dc[1:K], Dp[0:K - 1], not_start[1:K]
        for k in range(K - 1):
            v = np.int32((r1[k] - base) * scale + 0.5)
            V1[k] = v
            Dc1[k] = v + Dp0[k] * ns1[k]
        c = counts[i]
        c[:] = 0
        for k in range(K):
            c[V[k]] += 1
        lo_i, hi_i = TOMTOM_BINS + 1, 0
        for v in range(TOMTOM_BINS + 2):
            if c[v] != 0:
                hi_i = v
                if lo_i > TOMTOM_BINS:
                    lo_i = v
        lo[i], hi[i] = lo_i, hi_i
        maxv = max(maxv, hi_i)
        Ei = E[i]
        for t in range(T):
            Ei[t] = Dc[t_last[t]]
        Dp, Dc = Dc, Dp
    return Dp, maxv


@nb.njit(cache=True, nogil=True)
def _better(tot, add, ov, cfg, bst, bov, bcfg):
    """Alignment ``cfg`` (overlap ``ov``) of a group of targets, summed scores ``tot + add``: kept where
    it beats the best so far (a higher score, or the same with a larger overlap)."""
    for j in range(bst.shape[0]):
        c = np.int64(tot[j]) + add
        b = bst[j]
        up = (c > b) | ((c == b) & (ov > bov[j]))
        bst[j] = c if up else b
        bov[j] = ov if up else bov[j]
        bcfg[j] = cfg if up else bcfg[j]


@nb.njit(cache=True, nogil=True)
def _times_null(sf, add, lim, bst, prod):
    """``prod *= (1 - sf[y])^2`` for the alignment's scores ``y = bst - add`` (``sf``: its span's null
    survival, ``lim + 1`` values): 0 where ``y <= 0``, unchanged where ``y > lim``."""
    for j in range(bst.shape[0]):
        y = bst[j] - add
        q = 1.0 - sf[min(max(y, 0), lim)]
        f = q * q
        f = 0.0 if y <= 0 else f
        f = 1.0 if y > lim else f
        prod[j] = prod[j] * f


@nb.njit(cache=True, nogil=True)
def _targets(Dm, E, U, maxv, span_off, sf, t_start, g_width, g_t0, min_overlap, dest,
             bst, bov, bcfg, prod, p_out, off_out, ov_out):
    """Per target its best complete score (ties: the larger overlap, then the first alignment) and
    the p-value of the maximum over all its alignments and both orientations; the targets in groups
    of one width (``g_t0[g]:g_t0[g + 1]``, columns ``t_start[t]`` apart by the width), the results
    written at ``dest[t]``."""
    m = E.shape[0]
    for g in range(g_width.shape[0]):
        L = g_width[g]
        t0, t1 = g_t0[g], g_t0[g + 1]
        n = t1 - t0
        c0g = t_start[t0]
        mo = min(min_overlap, m, L)
        for j in range(n):
            bst[j] = -(1 << 60)
            bov[j] = -1
            bcfg[j] = 0
        for cfg in range(mo, m + L - mo + 1):
            # an alignment runs from one motif's edge to the other's: it ends at the query's last
            # column or at the target's last column
            if cfg <= m:
                ov = min(cfg, L)
                i_end = m - cfg + ov - 1
            else:
                ov = min(m, L - (cfg - m))
                i_end = ov - 1
            add = (m - ov) * U                  # complete score: unaligned columns at the median
            if i_end == m - 1:
                _better(Dm[c0g + cfg - 1:c0g + cfg - 1 + (n - 1) * L + 1:L], add, ov, cfg, bst[:n], bov[:n], bcfg[:n])
            else:
                _better(E[i_end, t0:t1], add, ov, cfg, bst[:n], bov[:n], bcfg[:n])
        # p-value of the maximum over the alignments tried, both orientations: 1 - prod (1 - q_a)^2
        for j in range(n):
            prod[j] = 1.0
        for cfg in range(mo, m + L - mo + 1):
            a, b = _query_span(cfg, m, L)
            ov = b - a + 1
            add = (m - ov) * U
            lim = ov * maxv
            _times_null(sf[span_off[a, b]:span_off[a, b] + lim + 1], add, lim, bst[:n], prod[:n])
        for j in range(n):
            t = t0 + j
            best, best_ov, best_cfg = bst[j], bov[j], bcfg[j]
            if prod[j] > 0.999:
                # summed as logs where 1 - prod would lose digits
                logq = 0.0
                for cfg in range(mo, m + L - mo + 1):
                    a, b = _query_span(cfg, m, L)
                    ov = b - a + 1
                    y = best - (m - ov) * U
                    if y <= ov * maxv:
                        logq += 2.0 * np.log1p(-sf[span_off[a, b] + y])
            else:
                logq = np.log(prod[j]) if prod[j] > 0 else -np.inf
            u = dest[t]
            p_out[u] = -np.expm1(logq)
            off_out[u] = best_cfg - m
            ov_out[u] = best_ov


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


@nb.njit(parallel=True, cache=True)
def tomtom_queries(Q_all, q_off, order, n_chunks, Y4, euclidean, t_start, g_width, g_t0, dest, min_overlap,
                   grid):
    """Tomtom searches of every query (rows ``q_off[i]:q_off[i + 1]`` of ``Q_all``, prepared as the
    metric needs) against the targets: target ``t`` is columns ``t_start[t]:t_start[t] + width`` of
    ``Y4`` (4, K), the targets sorted by width in groups ``g_t0[g]:g_t0[g + 1]`` of width
    ``g_width[g]``, each target's results written at ``dest[t]``.

    The queries, in the order ``order``, are dealt round-robin into ``n_chunks`` chunks run in
    parallel; each chunk allocates its work arrays once.

    Returns ``p, offset, overlap`` (n_queries, T) and, per query, the counts of its p-values between
    the values of ``grid`` (n_queries, len(grid) + 1; :func:`_pi0_bins`).
    """
    nq = len(q_off) - 1
    T = len(t_start)
    K = Y4.shape[1]
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
    not_start = np.ones(K, dtype=np.int32)
    for t in range(T):
        not_start[t_start[t]] = 0
    n_sf = 0
    for a in range(mmax):
        for b in range(a, mmax):
            n_sf += (b - a + 1) * (TOMTOM_BINS + 1) + 1
    for ch in nb.prange(n_chunks):
        S = np.empty((mmax, K))
        Vr = np.empty(K, dtype=np.int32)
        D0 = np.empty(K, dtype=np.int32)
        D1 = np.empty(K, dtype=np.int32)
        E = np.empty((mmax, T), dtype=np.int32)
        counts = np.empty((mmax, TOMTOM_BINS + 2), dtype=np.int64)
        cnt = np.empty(_MEDIAN_BINS, dtype=np.int64)
        bins = np.empty(K, dtype=np.int32)
        sel = np.empty(K)
        span_off = np.zeros((mmax, mmax), dtype=np.int64)
        sf = np.empty(n_sf)
        cur = np.zeros(mmax * (TOMTOM_BINS + 1) + 1)
        new = np.zeros(mmax * (TOMTOM_BINS + 1) + 1)
        bst = np.empty(T, dtype=np.int64)
        bov = np.empty(T, dtype=np.int64)
        bcfg = np.empty(T, dtype=np.int64)
        prod = np.empty(T)
        med = np.empty(mmax)
        lo = np.empty(mmax, dtype=np.int64)
        hi = np.empty(mmax, dtype=np.int64)
        for u in range(ch, nq, n_chunks):
            i = order[u]
            Q = Q_all[q_off[i]:q_off[i + 1]]
            m = Q.shape[0]
            small = np.inf
            large = -np.inf
            for r in range(m):
                row = S[r]
                _row_scores(Q[r, 0], Q[r, 1], Q[r, 2], Q[r, 3], Y4, euclidean, row)
                mn, mx = _min_max(row)
                med[r] = _row_median(row, mn, mx, cnt, bins, sel)
                small = min(small, mn - med[r])
                large = max(large, mx - med[r])
            if large == small:
                small = large - 1.0
            off = np.floor(small)
            scale = np.floor(TOMTOM_BINS / (large - off))
            U = int(round(-off * scale))         # an unaligned query column's integer score (x = 0)
            Dm, maxv = _integer_rows(S[:m], med[:m], off, scale, not_start, t_last, Vr, D0, D1, E[:m],
                                     counts, lo, hi)
            hist = np.empty((m, maxv + 1))
            for r in range(m):
                for v in range(maxv + 1):
                    hist[r, v] = counts[r, v] / K
            total = 0
            for a in range(m):
                for b in range(a, m):
                    span_off[a, b] = total
                    total += (b - a + 1) * maxv + 1
            _span_survivals(hist, lo[:m], hi[:m], maxv, span_off, sf, cur, new)
            _targets(Dm, E[:m], U, maxv, span_off, sf, t_start, g_width, g_t0, min_overlap, dest,
                     bst, bov, bcfg, prod, P[i], O[i], V[i])
            _pi0_bins(P[i], grid, H[i])
    return P, O, V, H


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


@nb.njit(cache=True, nogil=True)
def _tail_min(p, pstar, J, z, n, cnt, pos, buf):
    """``min over l > J of min(z p_(l) n / l, 1)``, ``p_(l)`` the ``l``-th smallest of ``p`` and the
    ``J`` smallest exactly the values ``<= pstar``, without sorting all of ``p``: the values above
    ``pstar`` are bucketed by binary exponent; a bucket is sorted only where its lower bound
    (its smallest possible value over its largest possible rank) could beat the minimum so far.
    ``cnt`` (1077,), ``pos`` (1077,) int64 and ``buf`` (len(p),) float64: scratch."""
    cnt[:] = 0
    for x in p:
        if x > pstar:
            cnt[_exp_bin(x) + 1] += 1
    lo = _exp_bin(pstar)
    pos[lo] = 0
    for i in range(lo, 1076):
        pos[i + 1] = pos[i] + cnt[i + 1]
    for i in range(lo, 1076):
        cnt[i + 1] = pos[i]                 # fill pointers
    for x in p:
        if x > pstar:
            b = _exp_bin(x)
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
        seg = np.sort(buf[a:e])
        for t in range(e - a):
            best = min(best, z * seg[t] * n / (J + a + t + 1))
    return best


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
        J0 = min(T, norient * k)
        pstar = np.partition(p, J0 - 1)[J0 - 1] if J0 < T else np.inf
        head = np.flatnonzero(p <= pstar)
        _sort_by_key(head, p, V[i])
        J = head.shape[0]
        ps = p[head]
        r = _suffix_min_r(ps, z, n, 0)
        if J < T:
            # the later p-values lower these q-values where they give a smaller term
            tail = _tail_min(p, pstar, J, z, n, b_cnt, b_pos, buf)
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
