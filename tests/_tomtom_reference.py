"""The motif comparison code as it was before the compiled per-query kernel (seqconv 20f64c1,
``seqconv/motifs/compare.py``: ``_scores_and_medians``, ``_tomtom_one`` and ``MotifComparer._tomtom`` /
``compare``), kept verbatim as the reference the fast path is tested against (tests/test_motifs_compare.py)."""

from __future__ import annotations

import numba as nb
import numpy as np
import pandas as pd

from seqconv.scan.pvalues import estimate_pi0, fimo_qvalues

_BINS = 100


@nb.njit(cache=True, nogil=True)
def _scores_and_medians(Q, Y, euclidean):
    """Column scores ``S`` (m, K) of query columns ``Q`` against target columns ``Y`` (minus the
    Euclidean distance, or, ``euclidean`` False, the dot product of rows the caller centred or
    normalised), and per query column its minimum, maximum and Tomtom's median: the mean of
    the sorted row's values at ranks ``floor(K/2) - 1`` and ``ceil(K/2) - 1``, exactly (the scores
    are counted into 4,096 bins of their fixed range as they are computed, then the few values of
    the bins holding those ranks sorted)."""
    m, K = Q.shape[0], Y.shape[0]
    S = np.empty((m, K))
    med = np.empty(m)
    lo = np.empty(m)
    hi = np.empty(m)
    nbin = 4096
    r0, r1 = (-2.0, 0.0) if euclidean else (-1.0, 1.0)
    inv = nbin / (r1 - r0)
    k1 = max(0, int(np.floor(0.5 * K)) - 1)
    k2 = max(k1, int(np.ceil(0.5 * K)) - 1)
    bins = np.empty(K, dtype=np.int16)
    cnt = np.zeros(nbin + 1, dtype=np.int64)
    for i in range(m):
        q0, q1, q2, q3 = Q[i, 0], Q[i, 1], Q[i, 2], Q[i, 3]
        cnt[:] = 0
        mn, mx = np.inf, -np.inf
        for k in range(K):
            if euclidean:
                d0, d1, d2, d3 = q0 - Y[k, 0], q1 - Y[k, 1], q2 - Y[k, 2], q3 - Y[k, 3]
                v = -np.sqrt(d0 * d0 + d1 * d1 + d2 * d2 + d3 * d3)
            else:
                v = min(1.0, max(-1.0, q0 * Y[k, 0] + q1 * Y[k, 1] + q2 * Y[k, 2] + q3 * Y[k, 3]))
            S[i, k] = v
            mn = min(mn, v)
            mx = max(mx, v)
            b = min(max(int((v - r0) * inv), 0), nbin)
            bins[k] = b
            cnt[b] += 1
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
        sel = np.empty(acc - acc1 + cnt[b2])
        j = 0
        for k in range(K):
            if b1 <= bins[k] <= b2:
                sel[j] = S[i, k]
                j += 1
        sel.sort()
        med[i] = (sel[k1 - acc1] + sel[k2 - acc1]) / 2.0
        lo[i], hi[i] = mn, mx
    return S, med, lo, hi


@nb.njit(cache=True, nogil=True, inline="always")
def _query_span(cfg, m, L):
    """Query columns ``a..b`` (inclusive) that alignment ``cfg`` of an ``m``-column query over an
    ``L``-column target overlaps."""
    if cfg <= m:
        a = m - cfg
        return a, min(m, a + L) - 1
    return 0, min(m, L + m - cfg) - 1


@nb.njit(cache=True, nogil=True)
def _tomtom_one(S, med, lo, hi, t_start, t_width, min_overlap):
    """Tomtom's complete-score search of one query (``tomtom.c``, default scoring).

    ``S`` (m, K): column scores of the query against every target column (targets in both
    orientations, target ``t`` owning columns ``t_start[t]:t_start[t] + t_width[t]``), with each
    row's median, minimum and maximum (:func:`_scores_and_medians`).  Each query row is shifted
    by its median over the K columns, the matrix is scaled to integers
    ``nint((x - offset) * scale)`` with ``offset = floor(min)``, ``scale = floor(100 / (max -
    offset))``; the null of a span of query columns is the convolution of its columns' score
    histograms (all K target columns equally likely).  A target's score is the best complete
    score over its alignments (unaligned query columns score the median, 0); its p-value is that
    of the maximum over all alignments and both orientations, under independence.

    Returns ``p, offset, overlap, similarity`` per target (similarity: mean raw column score of
    the best alignment).
    """
    m, K = S.shape
    small = np.inf
    large = -np.inf
    for i in range(m):
        small = min(small, lo[i] - med[i])
        large = max(large, hi[i] - med[i])
    if large == small:
        small = large - 1.0
    off = np.floor(small)
    scale = np.floor(_BINS / (large - off))
    # integer scores, target column-major (a diagonal of an alignment is nearly contiguous)
    Gt = np.empty((K, m), dtype=np.int32)
    counts = np.zeros((m, _BINS + 2), dtype=np.int64)
    maxv = 0
    for i in range(m):
        base = med[i] + off
        for k in range(K):
            v = int((S[i, k] - base) * scale + 0.5)        # >= 0: C's nint()
            Gt[k, i] = v
            counts[i, v] += 1
            if v > maxv:
                maxv = v
    U = int(round(-off * scale))                 # an unaligned query column's integer score (x = 0)
    # diagonal prefix sums: D[k, i] = Gt[k, i] + D[k - 1, i - 1] within a target (from its edges)
    D = np.empty((K, m), dtype=np.int64)
    for t in range(len(t_start)):
        c0 = t_start[t]
        for k in range(c0, c0 + t_width[t]):
            D[k, 0] = Gt[k, 0]
            if k == c0:
                for i in range(1, m):
                    D[k, i] = Gt[k, i]
            else:
                for i in range(1, m):
                    D[k, i] = Gt[k, i] + D[k - 1, i - 1]
    hist = np.empty((m, maxv + 1))
    for i in range(m):
        for v in range(maxv + 1):
            hist[i, v] = counts[i, v] / K
    # survival functions of every span [a, b] of query columns, in one buffer
    span_off = np.zeros((m, m), dtype=np.int64)
    total = 0
    for a in range(m):
        for b in range(a, m):
            span_off[a, b] = total
            total += (b - a + 1) * maxv + 1
    sf = np.zeros(total)
    cur = np.zeros(m * maxv + 1)
    new = np.zeros(m * maxv + 1)
    for a in range(m):
        n = maxv + 1
        for v in range(n):
            cur[v] = hist[a, v]
        for b in range(a, m):
            if b > a:
                nn = n + maxv
                for t in range(nn):
                    new[t] = 0.0
                for v in range(maxv + 1):
                    h = hist[b, v]
                    if h == 0.0:
                        continue
                    for t in range(n):
                        new[v + t] += cur[t] * h
                for t in range(nn):
                    cur[t] = new[t]
                n = nn
            o = span_off[a, b]
            acc = 0.0
            for t in range(n - 1, -1, -1):
                acc += cur[t]
                sf[o + t] = min(acc, 1.0)
    T = len(t_start)
    p_out = np.ones(T)
    off_out = np.zeros(T, dtype=np.int64)
    ov_out = np.zeros(T, dtype=np.int64)
    sim_out = np.zeros(T)
    for t in range(T):
        L = t_width[t]
        c0 = t_start[t]
        mo = min(min_overlap, m, L)
        best = -(1 << 60)
        best_ov = -1
        best_cfg = 0
        for cfg in range(mo, m + L - mo + 1):
            # an alignment runs from one motif's edge to the other's: its sum is one diagonal prefix
            if cfg <= m:
                ov = min(cfg, L)
                tot = D[c0 + ov - 1, m - cfg + ov - 1]
            else:
                ov = min(m, L - (cfg - m))
                tot = D[c0 + cfg - m + ov - 1, ov - 1]
            c = tot + (m - ov) * U              # complete score: unaligned columns at the median
            if c > best or (c == best and ov > best_ov):
                best, best_ov, best_cfg = c, ov, cfg
        qc, tc = (m - best_cfg, 0) if best_cfg <= m else (0, best_cfg - m)
        raw = 0.0
        for d in range(best_ov):
            raw += S[qc + d, c0 + tc + d]
        best_sim = raw / best_ov
        # p-value of the maximum over the alignments tried, both orientations: 1 - prod (1 - q_a)^2
        # (summed as logs only when the product is close to 1, where 1 - prod would lose digits)
        prod = 1.0
        for cfg in range(mo, m + L - mo + 1):
            a, b = _query_span(cfg, m, L)
            ov = b - a + 1
            y = best - (m - ov) * U
            if y <= 0:
                prod = 0.0
                break
            if y <= ov * maxv:
                q = 1.0 - sf[span_off[a, b] + y]
                prod *= q * q
        if prod > 0.999:
            logq = 0.0
            for cfg in range(mo, m + L - mo + 1):
                a, b = _query_span(cfg, m, L)
                ov = b - a + 1
                y = best - (m - ov) * U
                if y <= ov * maxv:
                    logq += 2.0 * np.log1p(-sf[span_off[a, b] + y])
        else:
            logq = np.log(prod) if prod > 0 else -np.inf
        p_out[t] = -np.expm1(logq)
        off_out[t] = best_cfg - m
        ov_out[t] = best_ov
        sim_out[t] = best_sim
    return p_out, off_out, ov_out, sim_out


def reference_table(comparer, queries, top: int = 5) -> pd.DataFrame:
    """``comparer.compare(queries, top=top)`` computed the old way: per query the old kernel, q-values,
    orientation pick and ranking in Python, the table built row by row."""
    from seqconv.motifs.compare import MATCH_COLUMNS, _prepared

    mats = [comparer._query_matrix(q) for q in queries]
    Y = _prepared(comparer._tt_cols, comparer.metric)
    norient = 2 if comparer.reverse_complement else 1
    rows = []
    for q, mat in zip(queries, mats):
        S, med, lo, hi = _scores_and_medians(_prepared(mat, comparer.metric), Y, comparer.metric == "euclidean")
        p, o, v, sim = _tomtom_one(S, med, lo, hi, comparer._tt_start, comparer._tt_width, int(comparer.min_overlap))
        T2 = len(p)
        pi0 = estimate_pi0(p) if T2 > 100 else 1.0
        qv = fimo_qvalues(p, T2, pi0)
        key = np.lexsort((np.arange(T2), -v, p))
        rank = np.empty(T2, dtype=np.int64)
        rank[key] = np.arange(T2)
        r = rank.reshape(-1, norient)
        pick = np.arange(len(r)) * norient + (r.argmin(axis=1) if norient == 2 else 0)
        ori = np.where(pick % norient == 1, -1, 1)
        P, Qv, O, V, M = p[pick], qv[pick], o[pick], v[pick], sim[pick]
        k = len(P) if top is None or top <= 0 else min(top, len(P))
        order = np.lexsort((np.arange(len(P)), -V, P))[:k]
        for rank_, j in enumerate(order, 1):
            t = comparer.targets[j]
            rows.append((q.id, q.name, rank_, t.id, t.name, float(P[j]), float(Qv[j]),
                         float(min(P[j], 1.0) * comparer.n_targets), int(O[j]), "+" if ori[j] > 0 else "-",
                         int(V[j]), round(float(M[j]), 4)))
    return pd.DataFrame(rows, columns=list(MATCH_COLUMNS))
