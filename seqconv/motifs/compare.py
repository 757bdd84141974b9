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
from seqconv.motifs._tomtom import diagonal_dtype, rank_matches, similarities, tomtom_queries
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
    """Columns made ready for the Tomtom kernels (:mod:`seqconv.motifs._tomtom`): as they are (Euclidean), centred and
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
        # for the kernels: the entries sorted by width (stable), their columns letter by letter (4, K)
        by_width = np.argsort(self._tt_width, kind="stable")
        widths = self._tt_width[by_width]
        self._k_cols = np.ascontiguousarray(_prepared(np.concatenate([tt[e] for e in by_width]), metric).T)
        self._k_start = np.concatenate([[0], np.cumsum(widths)[:-1]]).astype(np.int64)
        first = np.flatnonzero(np.diff(widths, prepend=-1))
        self._k_width = widths[first].astype(np.int64)
        self._k_group = np.append(first, len(widths)).astype(np.int64)
        self._k_dest = by_width.astype(np.int64)
        self._k_pos = np.argsort(by_width).astype(np.int64)

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

    def _query_matrices(self, queries) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_query_matrix` of every query, concatenated (sum of widths, 4), and the widths: the same
        arithmetic, done once for all queries (one background normalised once)."""
        from seqconv.motifs.core import DEFAULT_N_SITES, Motif, check_background

        if not all(type(q) is Motif for q in queries):
            mats = [self._query_matrix(q) for q in queries]
            return np.concatenate(mats), np.array([len(x) for x in mats], dtype=np.int64)
        bgs: dict = {}
        probs, n_sites, which = [], [], []
        for q in queries:
            key = q.background.tobytes()
            if key not in bgs:
                bgs[key] = (len(bgs), check_background(_symmetric(q.background)))
            which.append(bgs[key][0])
            n_sites.append(q.n_sites or DEFAULT_N_SITES)
            probs.append(q._probs)
        widths = np.array([len(x) for x in probs], dtype=np.int64)
        n = np.repeat(np.array(n_sites, dtype=np.float64), widths)[:, None]
        bg = np.stack([b for _, b in bgs.values()])[np.repeat(which, widths)]
        return (np.concatenate(probs) * n + self.pseudocount * bg) / (n + self.pseudocount), widths

    def _tomtom_arrays(self, queries, k: int):
        """Tomtom searches of ``queries`` (compiled, in parallel): the entries (motif ``e // norient``,
        orientation ``e % norient``) of each query's ``k`` best target motifs in rank order (n_queries, k),
        their q-values, and every entry's p-value, offset, overlap and similarity (n_queries, n_entries)."""
        from seqconv.scan.pvalues import PI0_GRID, pi0_from_histograms

        mats, widths = self._query_matrices(queries)
        Q_all = _prepared(mats, self.metric)
        q_off = np.concatenate([[0], np.cumsum(widths)]).astype(np.int64)
        order = np.argsort(-widths, kind="stable").astype(np.int64)     # widest first: chunks balance
        n_chunks = max(1, min(len(widths), nb.get_num_threads()))
        euclidean = self.metric == "euclidean"
        D = np.empty((n_chunks, 2, self._k_cols.shape[1]), dtype=diagonal_dtype(int(widths.max())))
        P, O, V, H = tomtom_queries(Q_all, q_off, order, n_chunks, self._k_cols, euclidean, self._k_start,
                                    self._k_width, self._k_group, self._k_dest, int(self.min_overlap), PI0_GRID, D)
        n_entries = P.shape[1]
        # Tomtom's q-values: over every target and orientation, with pi0 estimated from them
        pi0 = pi0_from_histograms(H) if n_entries > 100 else np.ones(len(widths))
        norient = 2 if self.reverse_complement else 1
        sel, qsel = rank_matches(P, V, np.asarray(pi0, dtype=np.float64), norient, int(k))
        # the similarity (mean column score of the alignment) of the reported entries only
        rows = np.repeat(np.arange(len(widths), dtype=np.int64), sel.shape[1])
        ent = sel.ravel()
        sim = similarities(Q_all, q_off, self._k_cols, euclidean, self._k_start, self._k_pos, rows, ent,
                           O[rows, ent], V[rows, ent]).reshape(sel.shape)
        return sel, qsel, P, O, V, sim

    def _tomtom(self, queries) -> list:
        """Tomtom searches of ``queries`` (in parallel): one :class:`SearchResult` per query, per target
        motif its better orientation, p-values and q-values as Tomtom reports them."""
        if not queries:
            return []
        T = self.n_targets
        sel, qsel, P, O, V, M = self._tomtom_arrays(queries, T)
        norient = 2 if self.reverse_complement else 1
        out = []
        for i in range(len(queries)):
            pick = np.empty(T, dtype=np.int64)
            q = np.empty(T)
            sim = np.empty(T)
            pick[sel[i] // norient] = sel[i]
            q[sel[i] // norient] = qsel[i]
            sim[sel[i] // norient] = M[i]
            ori = np.where(pick % norient == 1, -1, 1)
            out.append(SearchResult(P[i][pick], q, O[i][pick], ori, V[i][pick], sim))
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
        T = self.n_targets
        k = T if top is None or top <= 0 else min(top, T)
        if self.method == "tomtom":
            if not queries:
                return pd.DataFrame([], columns=list(MATCH_COLUMNS))
            sel, qsel, P, O, V, M = self._tomtom_arrays(queries, k)
            norient = 2 if self.reverse_complement else 1
            rows = np.repeat(np.arange(len(queries)), k)
            ent = sel.ravel()
            p = P[rows, ent]
            M = M.ravel()
            tgt = ent // norient
            ids = np.array([t.id for t in self.targets], dtype=object)
            names = np.array([t.name for t in self.targets], dtype=object)
            return pd.DataFrame({
                "query_id": np.repeat(np.array([q.id for q in queries], dtype=object), k),
                "query_name": np.repeat(np.array([q.name for q in queries], dtype=object), k),
                "rank": np.tile(np.arange(1, k + 1), len(queries)),
                "target_id": ids[tgt], "target_name": names[tgt], "p_value": p, "q_value": qsel.ravel(),
                "e_value": np.minimum(p, 1.0) * T, "offset": O[rows, ent],
                "orientation": np.where(ent % norient == 1, "-", "+").astype(object), "overlap": V[rows, ent],
                "similarity": [round(float(x), 4) for x in M]}, columns=list(MATCH_COLUMNS))
        out = []
        for q in progress_iter(queries, desc="compared", unit="motifs", enabled=verbose):
            r = self.search(q)
            for rank, j in enumerate(np.lexsort((-r.similarity, r.p_value))[:k], 1):
                t = self.targets[j]
                out.append((q.id, q.name, rank, t.id, t.name, float(r.p_value[j]), float(r.q_value[j]),
                            float(min(r.p_value[j], 1.0) * T), int(r.offset[j]),
                            "+" if r.orientation[j] > 0 else "-", int(r.overlap[j]),
                            round(float(r.similarity[j]), 4)))
        return pd.DataFrame(out, columns=list(MATCH_COLUMNS))


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
