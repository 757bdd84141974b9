"""Score grids, exact score distributions, p-values and q-values (FIMO's and Benjamini-Hochberg's).

FIMO (MEME suite 5.5.8, ``pssm.c``) puts each motif on its own integer grid: with
``lo`` its log-odds matrix, ``offset = floor(min lo)`` and ``scale = floor(1000 / (max lo
- offset))``, each entry becomes ``nint((lo - offset) * scale)``; a window's p-value is
``P(S >= s)`` of its integer score under the background, computed exactly.  Its q-values
(``qvalue.c``) are per motif: Benjamini-Hochberg over that motif's windows, times the
share of true nulls ``pi0`` estimated (Storey 2002, bootstrap choice of lambda) from a
sample of the p-values of all its windows.
"""

from __future__ import annotations

import math

import numpy as np

#: FIMO's per-column score range (``PSSM_RANGE``).
FIMO_RANGE = 1000
#: FIMO's base-2 logarithm multiplies the natural log by this constant (``utils.h``).
_FIMO_LOG2 = 1.44269504
#: FIMO's q-value constants (``qvalue.h``, ``fimo.c``).
PI0_SAMPLE = 10_000
PI0_BOOTSTRAP_SAMPLES = 1000
PI0_LAMBDAS = 100
PI0_MAX_LAMBDA = 0.5
PI0_MIN_SAMPLES = 100


def fimo_grid(probabilities, background) -> tuple[np.ndarray, float, float]:
    """FIMO's integer matrix of a motif.

    Parameters
    ----------
    probabilities : (L, 4) float
        Probabilities after the pseudocount.
    background : (4,) float

    Returns
    -------
    ints : (L, 4) int64
        ``nint((lo - offset) * scale)``, all in ``0..1000``.
    scale, offset : float
        A window's score in bits on the grid is ``S / scale + L * offset``.
    """
    lo = np.log(np.asarray(probabilities, dtype=np.float64) / np.asarray(background, dtype=np.float64)) * _FIMO_LOG2
    small, large = float(lo.min()), float(lo.max())
    if large == small:
        small = large - 1
    offset = math.floor(small)
    scale = math.floor(FIMO_RANGE / (large - offset))
    x = (lo - offset) * scale
    ints = np.where(x >= 0, np.floor(x + 0.5), np.ceil(x - 0.5)).astype(np.int64)   # C's nint()
    return ints, float(scale), float(offset)


def score_distribution(int_matrix, background) -> tuple[int, np.ndarray]:
    """Exact distribution of a window's integer score under a zero-order background.

    Parameters
    ----------
    int_matrix : (L, 4) int array
        Integer-scaled log-odds.
    background : (4,) float

    Returns
    -------
    smin : int
        Lowest possible score.
    pmf : (smax - smin + 1,) float64
        ``pmf[k] = P(S = smin + k)``.
    """
    m = np.asarray(int_matrix, dtype=np.int64)
    bg = np.asarray(background, dtype=np.float64)
    lo = m.min(axis=1)
    shifted = m - lo[:, None]
    pmf = np.ones(1)
    for row in shifted:
        new = np.zeros(len(pmf) + int(row.max()))
        for b in range(4):
            new[row[b]:row[b] + len(pmf)] += pmf * bg[b]
        pmf = new
    return int(lo.sum()), pmf


def survival(pmf: np.ndarray) -> np.ndarray:
    """``sf[k] = P(S >= smin + k)`` from a pmf, summed from the top (accurate small p)."""
    return np.minimum(np.cumsum(pmf[::-1])[::-1], 1.0)


def _bh_by_table(pidx: np.ndarray, table: np.ndarray, n_tests: int, per_entry: bool = False) -> np.ndarray:
    """:func:`bh_qvalues` of ``table[pidx]`` (the same numbers), sorting only the distinct table
    entries used instead of every p-value (``per_entry``: the q-value of each table entry instead).

    A q-value depends on the p-value only: ``q(v) = min over used values u >= v of
    u * n_tests / #(p <= u)``, capped at 1.
    """
    n_tests = max(int(n_tests), pidx.size)
    cnt = np.bincount(pidx, minlength=len(table))
    used = np.flatnonzero(cnt)
    o = np.argsort(table[used], kind="stable")
    used = used[o]
    v = table[used]
    cum = np.cumsum(cnt[used])
    last = np.append(v[1:] != v[:-1], True)               # last entry of each run of equal values
    group = np.cumsum(np.concatenate([[0], last[:-1]]))     # run of each entry
    r = v[last] * n_tests
    r /= cum[last]
    q = np.minimum(np.minimum.accumulate(r[::-1])[::-1], 1.0)
    qtab = np.zeros(len(table))
    qtab[used] = q[group]
    return qtab if per_entry else qtab[pidx]


def bh_qvalues(p_values, n_tests: int) -> np.ndarray:
    """Benjamini-Hochberg q-values of ``p_values`` among ``n_tests`` tests (unreported p-values are larger).

    ``q_i = min over k >= rank_i of p_(k) * n_tests / k``, capped at 1; computed in place
    (about 32 bytes per hit) so that genome-scale runs stay lean.
    """
    p = np.asarray(p_values, dtype=np.float64)
    if p.size == 0:
        return p.copy()
    n_tests = max(int(n_tests), p.size)
    order = np.argsort(p)             # ties get the same q-value whatever their order
    ranked = p[order]
    ranked *= n_tests
    for a in range(0, ranked.size, 1 << 20):                       # / rank, in slices
        ranked[a:a + (1 << 20)] /= np.arange(a + 1, min(a + (1 << 20), ranked.size) + 1)
    rev = ranked[::-1]
    np.minimum.accumulate(rev, out=rev)
    np.minimum(ranked, 1.0, out=ranked)
    out = np.empty_like(ranked)
    out[order] = ranked
    return out


def fimo_qvalues(p_values, n_tests: int, pi0: float = 1.0) -> np.ndarray:
    """FIMO's q-values of one motif's hits (``compute_qvalues`` in ``qvalue.c``).

    ``q_(i) = min over k >= i of pi0 * p_(k) * n_tests / k`` (hits sorted by p-value,
    ties ranked in turn), capped at 1.

    Parameters
    ----------
    p_values : (n,) float
        The motif's reported p-values (both strands).
    n_tests : int
        Windows scored for the motif (both strands, windows without N).
    pi0 : float
        Estimated share of true nulls (:func:`estimate_pi0`).
    """
    p = np.asarray(p_values, dtype=np.float64)
    if p.size == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    r = pi0 * p[order] * float(max(int(n_tests), p.size)) / np.arange(1, p.size + 1)
    np.minimum(r, 1.0, out=r)
    if p.size > 1:
        r = np.minimum.accumulate(r[::-1])[::-1]
    out = np.empty_like(r)
    out[order] = r
    return out


def estimate_pi0(p_values) -> float:
    """Share of true nulls among p-values, as FIMO and Tomtom estimate it (``estimate_pi_zero``).

    For lambda in ``0.005, 0.010 ... 0.5``, ``pi0(lambda) = #(p >= lambda) / ((1 - lambda) n)``; the
    lambda whose estimate is closest (mean squared error of a bootstrap of 1,000 p-values) to the
    smallest ``pi0(lambda)`` is chosen, and its ``pi0`` clipped to ``[0, 1]``.  With 100 p-values
    or fewer, 1.0.  FIMO averages the squared error over 100 random bootstraps; here its expected
    value is computed exactly (the bootstrapped count is binomial), so the estimate is
    deterministic and differs from FIMO's only by FIMO's bootstrap noise.

    Parameters
    ----------
    p_values : (n,) float
        A uniform sample of the p-values of every test (or all of them).
    """
    p = np.asarray(p_values, dtype=np.float64)
    hist = np.bincount(np.searchsorted(PI0_GRID, p, side="right"), minlength=PI0_LAMBDAS + 1)
    return float(pi0_from_histograms(hist[None])[0])


#: FIMO's lambda grid for pi0.
PI0_GRID = np.arange(1, PI0_LAMBDAS + 1) / PI0_LAMBDAS * PI0_MAX_LAMBDA


def pi0_from_histograms(hist: np.ndarray) -> np.ndarray:
    """:func:`estimate_pi0` from binned p-values, for many sets at once.

    ``hist[s, b]`` counts set ``s``'s p-values with exactly ``b`` values of :data:`PI0_GRID` at or
    below them.  Returns ``(n_sets,)``.
    """
    hist = np.asarray(hist, dtype=np.float64)
    lam = PI0_GRID[None, :]
    n = hist.sum(axis=1, keepdims=True)
    ge = np.cumsum(hist[:, ::-1], axis=1)[:, ::-1][:, 1:]          # #(p >= lam[l]) = #(bin >= l + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        pi = ge / ((1.0 - lam) * n)
        pi = np.where(ge == 0, np.inf, pi)
        best = pi.min(axis=1, keepdims=True)
        # bootstrap of b draws: count ~ Binomial(b, ge / n), so E[(pi_boot - best)^2] = var + bias^2
        b = PI0_BOOTSTRAP_SAMPLES
        f = ge / n
        var = f * (1 - f) / (b * (1.0 - lam) ** 2)
        mse = np.where(ge == 0, np.inf, var + (pi - best) ** 2)
    mse = np.where(np.isnan(mse), np.inf, mse)
    choice = np.take_along_axis(pi, np.argmin(mse, axis=1)[:, None], axis=1)[:, 0]
    out = np.clip(np.where(np.isfinite(choice), choice, 1.0), 0.0, 1.0)
    return np.where(n[:, 0] > PI0_MIN_SAMPLES, out, 1.0)
