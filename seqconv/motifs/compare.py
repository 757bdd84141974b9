"""Motif comparison with a motif collection: Tomtom's own scoring (Gupta et al. 2007, MEME suite 5.5.8).

Method ``"tomtom"`` (default; ``tomtom.c``, complete scores, compiled with numba)
------------------------------------------------------------------------------------
For a query motif ``Q`` (``m`` columns) and targets in both orientations (every
motif and its reverse complement), after a pseudocount of 0.1 on both:

1. **Column scores**: minus the Euclidean distance (``metric="euclidean"``, Tomtom's
   ``-dist ed``; or Pearson correlation) of every query column with every target
   column; each query column's scores are shifted by their median over all target
   columns, and the matrix is scaled to integers ``0..100`` (``offset = floor(min)``,
   ``scale = floor(100 / (max - offset))``).
2. **Complete score** of an alignment: the sum over all query columns, unaligned ones
   scoring the median (0); a target's score is its best alignment's (every offset
   overlapping by at least ``min_overlap`` columns, 1 by default).
3. **p-value**: the null of a span of query columns is the convolution of the
   columns' score histograms over all target columns; a target's p-value is the
   probability that the maximum over all its alignments and both orientations
   (independent) reaches its score.  ``e_value = p * n_targets``; q-values are
   Tomtom's: Benjamini-Hochberg over every target and orientation times pi0
   (:func:`seqconv.scan.pvalues.estimate_pi0`).  Each target is reported in the
   orientation Tomtom reports first.

Method ``"gapped"`` (seqconv's earlier variant)
-----------------------------------------------
1. **Column scores.**  Every query column is scored against every column of
   every target, in both orientations (reverse-complemented targets included):
   ``metric="pearson"`` (Pearson correlation of the four probabilities, 0 for a
   flat column) or ``metric="euclidean"`` (minus the Euclidean distance).
   Scores are binned into ``n_bins`` integers over the metric's fixed range
   (``[-1, 1]`` or ``[-sqrt 2, 0]``).
2. **Null.**  The null distribution of query column ``i`` is the histogram of
   its scores against *all* database columns (Tomtom's null).  For every
   contiguous span of query columns the null of the summed score is the
   convolution of the per-column distributions (exact for the binned scores,
   assuming independent columns).
   Target columns with less than ``flat_bits`` of information (spacers, flat
   flanks) are gaps: left out of the null, and left out of an alignment (no
   evidence either way): the alignment's summed score and its null are taken
   over the query columns aligned with informative target columns only.
3. **Alignment p-value.**  For each offset (and both orientations) with an
   overlap of at least ``min(min_overlap, m, n)`` columns, the p-value is the
   probability under the null of the overlapping span (less its gap columns)
   of reaching the observed summed score.  The best (smallest) p-value over the ``k`` alignments tried is
   corrected for that choice with Sidak's formula ``1 - (1 - p_min)^k``.
4. **q-values.**  Benjamini-Hochberg over the targets of the collection, per query.

Offsets
-------
``offset`` is the index of the target column (in the matched orientation)
aligned with the query's first column; it is negative when the query starts
before the target.  ``orientation`` is ``+`` when the query matches the target
as written, ``-`` when it matches the target's reverse complement.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np
import pandas as pd

from seqconv.errors import InputError
from seqconv.progress import progress_iter

METRICS = ("euclidean", "pearson", "covariance")
_RANGES = {"pearson": (-1.0, 1.0), "euclidean": (-float(np.sqrt(2.0)), 0.0), "covariance": (-0.25, 0.75)}
_COMPLEMENT = [3, 2, 1, 0]

#: Columns of the table returned by :func:`compare`.
MATCH_COLUMNS = ("query_id", "query_name", "rank", "target_id", "target_name", "p_value", "q_value",
                 "e_value", "offset", "orientation", "overlap", "similarity")


def column_scores(Q: np.ndarray, C: np.ndarray, metric: str = "pearson") -> np.ndarray:
    """Similarity of every column of ``Q`` with every column of ``C``.

    Parameters
    ----------
    Q : (m, 4) probabilities (A, C, G, T)
    C : (K, 4) probabilities
    metric : {"pearson", "euclidean"}

    Returns
    -------
    (m, K) float64
        Pearson correlation in ``[-1, 1]`` (0 when a column is flat), or minus
        the Euclidean distance in ``[-sqrt 2, 0]``.
    """
    Q = np.asarray(Q, dtype=np.float64)
    C = np.asarray(C, dtype=np.float64)
    if metric == "pearson":
        def unit(a):
            a = a - a.mean(axis=1, keepdims=True)
            n = np.linalg.norm(a, axis=1, keepdims=True)
            return np.divide(a, n, out=np.zeros_like(a), where=n > 1e-12)
        return np.clip(unit(Q) @ unit(C).T, -1.0, 1.0)
    if metric == "covariance":
        return (Q - 0.25) @ (C - 0.25).T
    if metric == "euclidean":
        d2 = (Q ** 2).sum(1)[:, None] + (C ** 2).sum(1)[None, :] - 2 * Q @ C.T
        return -np.sqrt(np.clip(d2, 0.0, None))
    raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")


def _null_histograms(G: np.ndarray, n_bins: int) -> np.ndarray:
    """Per query column, the null distribution ``(m, n_bins)`` of its integer scores (rows of ``G``)."""
    K = G.shape[1]
    return np.stack([np.bincount(row, minlength=n_bins) for row in G]).astype(np.float64) / K


def _span_survivals(hists: np.ndarray) -> dict:
    """Null survival functions ``P(sum >= s)`` of every contiguous span of query columns.

    ``hists`` is the ``(m, n_bins)`` per-column null; returns ``{(a, b): sf}``
    where ``sf[s]`` is the null probability that columns ``a..b-1`` score ``>= s``.
    """
    m = hists.shape[0]
    out = {}
    for a in range(m):
        pmf = hists[a]
        for b in range(a + 1, m + 1):
            if b > a + 1:
                pmf = np.convolve(pmf, hists[b - 1])
            sf = np.cumsum(pmf[::-1])[::-1]
            out[(a, b)] = np.minimum(sf, 1.0)
    return out


def bh_qvalues(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values of a vector of p-values (monotone, capped at 1)."""
    p = np.asarray(p, dtype=np.float64)
    n = p.size
    if n == 0:
        return p.copy()
    order = np.argsort(p)
    ranked = p[order] * n / np.arange(1, n + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(n)
    out[order] = np.minimum(q, 1.0)
    return out


_NO_EVIDENCE = np.ones(1)  # marker: only flat target columns aligned


def _prepared(P: np.ndarray, metric: str) -> np.ndarray:
    """Columns made ready for :func:`_scores_and_medians`: as they are (Euclidean), centred and
    normalised (Pearson; flat columns 0), or centred on 0.25 (covariance)."""
    P = np.asarray(P, dtype=np.float64)
    if metric == "pearson":
        a = P - P.mean(axis=1, keepdims=True)
        n = np.linalg.norm(a, axis=1, keepdims=True)
        P = np.divide(a, n, out=np.zeros_like(a), where=n > 1e-12)
    elif metric == "covariance":
        P = P - 0.25
    return np.ascontiguousarray(P)


def _symmetric(bg) -> np.ndarray:
    """A background averaged with its complement (Tomtom's for complementable alphabets)."""
    b = np.asarray(bg, dtype=np.float64)
    return (b + b[::-1]) / 2


def _gapped_survival(keep: list, sf: dict) -> np.ndarray:
    """Null survival function of the summed scores of query rows ``keep`` (sorted), from the
    contiguous-span survivals ``sf``: a span's own when ``keep`` is contiguous, else the
    convolution of the nulls of its contiguous runs."""
    if not keep:
        return _NO_EVIDENCE
    runs, start = [], keep[0]
    for prev, cur in zip(keep, keep[1:]):
        if cur != prev + 1:
            runs.append((start, prev + 1))
            start = cur
    runs.append((start, keep[-1] + 1))
    if len(runs) == 1:
        return sf[runs[0]]
    pmf = None
    for run in runs:
        s_run = sf[run]
        pmf_run = s_run - np.append(s_run[1:], 0.0)
        pmf = pmf_run if pmf is None else np.convolve(pmf, pmf_run)
    return np.minimum(np.cumsum(pmf[::-1])[::-1], 1.0)


# ------------------------------------------------------------------ Tomtom's complete scores (numba)

TOMTOM_BINS = 100   # Tomtom's BINS: the column scores of a query are scaled to 0..100


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
    scale = np.floor(TOMTOM_BINS / (large - off))
    # integer scores, target column-major (a diagonal of an alignment is nearly contiguous)
    Gt = np.empty((K, m), dtype=np.int32)
    counts = np.zeros((m, TOMTOM_BINS + 2), dtype=np.int64)
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


@nb.njit(parallel=True, cache=True)
def _tomtom_many(Q_all, q_off, Y, euclidean, t_start, t_width, min_overlap):
    """:func:`_tomtom_one` for every query (rows ``q_off[i]:q_off[i+1]`` of ``Q_all``, prepared as for
    :func:`_scores_and_medians`), in parallel."""
    nq = len(q_off) - 1
    T = len(t_start)
    P = np.ones((nq, T))
    O = np.zeros((nq, T), dtype=np.int64)
    V = np.zeros((nq, T), dtype=np.int64)
    M = np.zeros((nq, T))
    for i in nb.prange(nq):
        S, med, lo, hi = _scores_and_medians(Q_all[q_off[i]:q_off[i + 1]], Y, euclidean)
        p, o, v, sim = _tomtom_one(S, med, lo, hi, t_start, t_width, min_overlap)
        P[i] = p
        O[i] = o
        V[i] = v
        M[i] = sim
    return P, O, V, M


@dataclass
class SearchResult:
    """All targets' scores for one query (arrays of length ``n_targets``)."""

    p_value: np.ndarray
    q_value: np.ndarray
    offset: np.ndarray
    orientation: np.ndarray  # +1 / -1
    overlap: np.ndarray
    similarity: np.ndarray  # mean raw column score over the aligned columns


class MotifComparer:
    """A motif collection prepared for repeated Tomtom searches.

    Parameters
    ----------
    collection : list of Motif, path, or "jaspar"
        The targets (see :func:`seqconv.motifs.read_motifs`).
    metric : {"euclidean", "pearson", "covariance"}
        Column score (Tomtom's ``-dist ed`` is the default).
    method : {"tomtom", "gapped"}
        ``"tomtom"`` (default): Tomtom 5.5.8's own scoring (complete scores, median-shifted
        column scores scaled to 100 bins, p-value of the best alignment's score among all
        alignments and both orientations, q-values with pi0), in compiled code.
        ``"gapped"``: seqconv's earlier variant (flat target columns as gaps, Sidak-corrected
        best-offset p-value, Benjamini-Hochberg q-values; ``n_bins`` and ``flat_bits`` apply).
    n_bins : int
        Score bins per column for ``"gapped"`` (Tomtom's is fixed at 100).
    min_overlap : int, optional
        Alignments must overlap by at least ``min(min_overlap, m, n)`` columns (default: 1 for
        ``"tomtom"``, as Tomtom's ``-min-overlap``; 5 for ``"gapped"``).
    pseudocount : float
        ``"tomtom"``: pseudocount applied to query and target motifs (Tomtom's ``-motif-pseudo``).
    reverse_complement : bool
        Also align the query with the targets' reverse complements.
    flat_bits : float
        Target columns with less information than this (bits, uniform background)
        are treated as gaps: they are left out of the null, and a query column
        aligned with one is left out of that alignment's score and null (no
        evidence either way).  Without this, weak query columns "match" flat
        spacers and flanks (0 disables).
    """

    def __init__(self, collection="jaspar", *, metric: str = "euclidean", method: str = "tomtom",
                 n_bins: int = 100, min_overlap: int | None = None, reverse_complement: bool = True,
                 flat_bits: float = 0.25, pseudocount: float = 0.1):
        from seqconv.motifs.io import read_motifs

        if metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
        if method not in ("tomtom", "gapped"):
            raise ValueError(f"method must be 'tomtom' or 'gapped', got {method!r}")
        if min_overlap is None:
            min_overlap = 1 if method == "tomtom" else 5
        self.method, self.pseudocount = method, float(pseudocount)
        if n_bins < 2:
            raise ValueError(f"n_bins must be >= 2, got {n_bins}")
        if min_overlap < 1:
            raise ValueError(f"min_overlap must be >= 1, got {min_overlap}")
        self.targets = read_motifs(collection)
        if not self.targets:
            raise InputError("motif collection is empty")
        self.metric, self.n_bins, self.min_overlap = metric, int(n_bins), int(min_overlap)
        self.reverse_complement = bool(reverse_complement)
        mats = [t.probabilities for t in self.targets]
        fwd = np.concatenate(mats)
        rc = np.concatenate([p[::-1, _COMPLEMENT] for p in mats])
        # columns of the null: every target column, both orientations
        self.columns = np.concatenate([fwd, rc])
        with np.errstate(divide="ignore", invalid="ignore"):
            ic = 2.0 + np.where(self.columns > 0, self.columns * np.log2(self.columns), 0.0).sum(axis=1)
        #: near-uniform target columns (spacers, flanks): no evidence for or against a match
        self._flat = ic < flat_bits
        if self._flat.all():
            raise InputError(f"every column of the motif collection has < {flat_bits} bits of information")
        widths = np.array([len(p) for p in mats])
        starts = np.concatenate([[0], np.cumsum(widths)[:-1]])
        self._widths = widths
        self._starts = {+1: starts, -1: starts + len(fwd)}
        # Tomtom: targets interleaved (motif j as written = 2j, reverse complement = 2j + 1), pseudocounted
        tt = []
        for t in self.targets:
            pt = t.probabilities_with_pseudocount(self.pseudocount, _symmetric(t.background))
            tt += [pt, pt[::-1, _COMPLEMENT]] if self.reverse_complement else [pt]
        self._tt_cols = np.ascontiguousarray(np.concatenate(tt))
        self._tt_width = np.array([len(x) for x in tt], dtype=np.int64)
        self._tt_start = np.concatenate([[0], np.cumsum(self._tt_width)[:-1]]).astype(np.int64)

    @property
    def n_targets(self) -> int:
        return len(self.targets)

    def _integer(self, S: np.ndarray) -> np.ndarray:
        lo, hi = _RANGES[self.metric]
        g = np.floor((S - lo) / (hi - lo) * self.n_bins).astype(np.int64)
        return np.clip(g, 0, self.n_bins - 1)

    def search(self, query) -> SearchResult:
        """Score one query against every target.

        Parameters
        ----------
        query : Motif or (m, 4) probability array

        Returns
        -------
        SearchResult
        """
        if self.method == "tomtom":
            return self._tomtom([query])[0]
        P = query.probabilities if hasattr(query, "probabilities") else np.asarray(query, dtype=np.float64)
        if P.ndim != 2 or P.shape[1] != 4 or P.shape[0] == 0:
            raise InputError(f"query motif must be (L, 4) with L >= 1, got shape {P.shape}")
        m = P.shape[0]
        S = column_scores(P, self.columns, self.metric)
        G = self._integer(S)
        hists = _null_histograms(G[:, ~self._flat], self.n_bins)
        sf = _span_survivals(hists)
        gapped_sf: dict = {}  # survival functions of non-contiguous sets of query columns (alignments with gaps)
        T = self.n_targets
        best_p = np.full(T, np.inf)
        best_off = np.zeros(T, dtype=np.int64)
        best_ori = np.ones(T, dtype=np.int64)
        best_ov = np.zeros(T, dtype=np.int64)
        best_sim = np.zeros(T)
        n_tests = np.zeros(T, dtype=np.int64)
        orientations = (+1, -1) if self.reverse_complement else (+1,)
        for n in np.unique(self._widths):
            idx = np.flatnonzero(self._widths == n)
            min_ov = min(self.min_overlap, m, n)
            for ori in orientations:
                cols = self._starts[ori][idx][:, None] + np.arange(n)  # (k, n)
                Gw, Sw = G[:, cols], S[:, cols]  # (m, k, n)
                for off in range(-(m - 1), n):
                    # query column i aligns with target column i + off
                    a, b = max(0, -off), min(m, n - off)
                    if b - a < min_ov:
                        continue
                    rows = np.arange(a, b)
                    tcols = rows + off
                    p = self._alignment_p(Gw[rows, :, tcols], self._flat[cols[:, tcols]], rows, sf, gapped_sf)
                    n_tests[idx] += 1
                    better = p < best_p[idx]
                    if better.any():
                        sel = idx[better]
                        best_p[sel] = p[better]
                        best_off[sel] = off
                        best_ori[sel] = ori
                        best_ov[sel] = b - a
                        best_sim[sel] = Sw[rows, :, tcols].mean(axis=0)[better]
        best_p = np.clip(best_p, 0.0, 1.0)
        # Sidak correction for the minimum over n_tests alignments
        with np.errstate(divide="ignore"):
            p_corr = -np.expm1(n_tests * np.log1p(-np.minimum(best_p, 1 - 1e-16)))
        p_corr = np.where(best_p <= 0, 0.0, p_corr)
        p_corr = np.clip(np.maximum(p_corr, best_p), 0.0, 1.0)
        return SearchResult(p_corr, bh_qvalues(p_corr), best_off, best_ori, best_ov, best_sim)

    def _query_matrix(self, query) -> np.ndarray:
        if hasattr(query, "probabilities_with_pseudocount"):
            return query.probabilities_with_pseudocount(self.pseudocount, _symmetric(query.background))
        P = np.asarray(query, dtype=np.float64)
        if P.ndim != 2 or P.shape[1] != 4 or P.shape[0] == 0:
            raise InputError(f"query motif must be (L, 4) with L >= 1, got shape {P.shape}")
        return (P * 20 + self.pseudocount * 0.25) / (20 + self.pseudocount)

    def _tomtom(self, queries) -> list:
        """Tomtom searches of ``queries`` (in parallel): one :class:`SearchResult` per query, per target
        motif its better orientation, p-values and q-values as Tomtom reports them."""
        from seqconv.scan.pvalues import estimate_pi0, fimo_qvalues

        mats = [self._query_matrix(q) for q in queries]
        if not mats:
            return []
        Q_all, Y = _prepared(np.concatenate(mats), self.metric), _prepared(self._tt_cols, self.metric)
        q_off = np.concatenate([[0], np.cumsum([len(x) for x in mats])]).astype(np.int64)
        P, O, V, M = _tomtom_many(Q_all, q_off, Y, self.metric == "euclidean", self._tt_start, self._tt_width,
                                  int(self.min_overlap))
        norient = 2 if self.reverse_complement else 1
        T2 = P.shape[1]
        out = []
        for i in range(len(mats)):
            p = P[i]
            # Tomtom's q-values: over every target and orientation, with pi0 estimated from them
            pi0 = estimate_pi0(p) if T2 > 100 else 1.0
            q = fimo_qvalues(p, T2, pi0)
            # per motif the orientation Tomtom reports first (smaller p, then larger overlap)
            key = np.lexsort((np.arange(T2), -V[i], p))
            rank = np.empty(T2, dtype=np.int64)
            rank[key] = np.arange(T2)
            r = rank.reshape(-1, norient)
            pick = np.arange(len(r)) * norient + (r.argmin(axis=1) if norient == 2 else 0)
            ori = np.where(pick % norient == 1, -1, 1)
            out.append(SearchResult(p[pick], q[pick], O[i][pick], ori, V[i][pick], M[i][pick]))
        return out

    @staticmethod
    def _alignment_p(Gs, gaps, rows, sf, cache) -> np.ndarray:
        """p-values of one offset's alignments with ``k`` targets.

        ``Gs`` (r, k): integer scores of the aligned query rows ``rows`` (r,) against each
        target's columns; ``gaps`` (k, r): which of those target columns are flat; ``sf``:
        the null survival functions of contiguous spans of query rows (``_span_survivals``).
        Without gaps the null is the span's; with gaps, the null of the remaining rows (a
        shorter span, or the convolution of the spans it falls into, kept in ``cache``).
        """
        sf_span = sf[(int(rows[0]), int(rows[-1]) + 1)]
        gapped = gaps.any(axis=1)
        if not gapped.any():
            return sf_span[Gs.sum(axis=0)]
        obs = np.where(gaps.T, 0, Gs).sum(axis=0)
        p = np.empty(Gs.shape[1])
        p[~gapped] = sf_span[obs[~gapped]]
        idx = np.flatnonzero(gapped)
        r = len(rows)
        a0 = int(rows[0])
        # one integer code per gap pattern (bit i: row a0 + i is a gap)
        if r < 63:
            codes = gaps[idx].astype(np.int64) @ (np.int64(1) << np.arange(r, dtype=np.int64))
            uniq, inverse = np.unique(codes, return_inverse=True)
            keys = [(a0, r, int(c)) for c in uniq]
            patterns = None
        else:  # (not reached with motif widths < 63)
            patterns, inverse = np.unique(gaps[idx], axis=0, return_inverse=True)
            keys = [(a0, r, pat.tobytes()) for pat in patterns]
        inverse = np.asarray(inverse).ravel()
        order = np.argsort(inverse, kind="stable")
        bounds = np.searchsorted(inverse[order], np.arange(len(keys) + 1))
        for u, key in enumerate(keys):
            sel = idx[order[bounds[u]:bounds[u + 1]]]
            sfk = cache.get(key)
            if sfk is None:
                pattern = patterns[u] if patterns is not None else [(key[2] >> i) & 1 for i in range(r)]
                keep = [a0 + i for i in range(r) if not pattern[i]]
                sfk = cache[key] = _gapped_survival(keep, sf)
            p[sel] = 1.0 if sfk is _NO_EVIDENCE else sfk[obs[sel]]
        return p

    def compare(self, queries, *, top: int = 5, verbose: bool = False) -> pd.DataFrame:
        """Best matches of each query: see :func:`compare`."""
        from seqconv.motifs.core import Motif, as_motif_list

        if isinstance(queries, np.ndarray):
            queries = [Motif("query", queries)]
        queries = as_motif_list(queries)
        rows = []
        results = self._tomtom(queries) if self.method == "tomtom" else None
        for n_q, q in enumerate(progress_iter(queries, desc="compared", unit="motifs",
                                              enabled=verbose and results is None)):
            r = results[n_q] if results is not None else self.search(q)
            k = len(r.p_value) if top is None or top <= 0 else min(top, len(r.p_value))
            order = (np.lexsort((np.arange(len(r.p_value)), -r.overlap, r.p_value)) if results is not None
                     else np.lexsort((-r.similarity, r.p_value)))[:k]
            for rank, j in enumerate(order, 1):
                t = self.targets[j]
                rows.append((q.id, q.name, rank, t.id, t.name, float(r.p_value[j]), float(r.q_value[j]),
                             float(min(r.p_value[j], 1.0) * self.n_targets), int(r.offset[j]),
                             "+" if r.orientation[j] > 0 else "-", int(r.overlap[j]),
                             round(float(r.similarity[j]), 4)))
        return pd.DataFrame(rows, columns=list(MATCH_COLUMNS))


def compare(queries, collection="jaspar", *, metric: str = "euclidean", method: str = "tomtom", n_bins: int = 100,
            min_overlap: int | None = None, reverse_complement: bool = True, flat_bits: float = 0.25,
            pseudocount: float = 0.1, top: int = 5, verbose: bool = False) -> pd.DataFrame:
    """Compare motifs with a motif collection (Tomtom-like; see the module docstring).

    Parameters
    ----------
    queries : Motif, list of Motif, or path to a motif file
    collection : list of Motif, path, or "jaspar"
        Default: the bundled JASPAR 2024 CORE vertebrates (non-redundant), offline.
    metric : {"pearson", "euclidean"}
        Column similarity.
    n_bins : int
        Score bins per column.
    min_overlap : int
        Minimum aligned columns (capped at the shorter motif's width).
    reverse_complement : bool
        Try both orientations of each target.
    flat_bits : float
        Target columns below this information (bits) count as gaps (see :class:`MotifComparer`).
    top : int
        Best matches kept per query (0 or None: all targets).
    verbose : bool
        Progress bar on stderr.

    Returns
    -------
    pandas.DataFrame
        One row per (query, match), columns :data:`MATCH_COLUMNS`: ``rank`` (1 =
        best), ``p_value`` (corrected for the alignments tried), ``q_value``
        (Benjamini-Hochberg over the collection), ``e_value`` (``p * n_targets``),
        ``offset``, ``orientation`` (``+``/``-``), ``overlap`` (aligned columns),
        ``similarity`` (mean column score of the alignment).

    Examples
    --------
    >>> from seqconv.motifs import jaspar_collection
    >>> db = jaspar_collection()
    >>> ctcf = next(m for m in db if m.name == "CTCF")
    >>> compare(ctcf, db, top=1)[["target_name", "q_value"]]   # doctest: +SKIP
    """
    from seqconv.motifs.io import read_motifs

    if isinstance(queries, (str,)) or hasattr(queries, "__fspath__"):
        queries = read_motifs(queries)
    comparer = MotifComparer(collection, metric=metric, method=method, n_bins=n_bins, min_overlap=min_overlap,
                             reverse_complement=reverse_complement, flat_bits=flat_bits, pseudocount=pseudocount)
    return comparer.compare(queries, top=top, verbose=verbose)
