"""numba kernels of :mod:`seqconv.scan`'s CPU engine (exact integer lookahead filtration).

Every motif-strand ``j`` has an integer filter matrix ``filt_j`` (W, 4) and an integer
threshold ``fthr_j``: a window can be a hit only if ``sum_i filt_j[i, b_i] >= fthr_j``.
For ``method="fimo"`` the matrix is the integer-scaled log-odds and the test *is* the hit
rule; for ``method="memelite"`` it is an upper bound and the caller rescores the survivors.

The filter is exact (no window that reaches the threshold is lost):

* the sequence is read as k-mer codes (``K`` bases, 2 bits each, first base most
  significant); a k-mer holding N gets the code ``4**K`` (``INVALID``);
* each motif-strand has a *seed*: ``K`` consecutive columns at offset ``ow`` (the most
  selective ones), whose summed score ``T(c)`` is one lookup of the k-mer code ``c`` at
  ``x + ow``; its other columns are visited most informative first (largest max - min),
  and a window is dropped as soon as ``partial + (sum of the remaining columns' maxima)
  < fthr`` (MOODS-style lookahead), or at an N;
* *inverted* motif-strands (the selective seeds, most of them): an index lists, for each
  k-mer code, the motif-strands whose seed can still reach the threshold with it, with
  ``T(c)``; scanning a position touches only those, so the work per position is the
  expected number of surviving seeds (~10 for 1,758 JASPAR motif-strands at p 1e-4),
  not the number of motifs;
* *dense* motif-strands (seeds that pass too often): every window is tested, one table
  lookup first;
* motif-strands narrower than ``K`` have their seed at 0 and ``K - W`` zero-weight
  columns past the window: a window followed closely by an N (or the block end) has an
  invalid code although it holds no N; those windows are scored directly (``narrow``).

All sums are of int32 integers, so the test decides exactly as the p-value table does.
"""

from __future__ import annotations

import numba as nb
import numpy as np

K = 7
N_CODES = 4 ** K
INVALID = N_CODES
_NEG = -(1 << 30)


@nb.njit(parallel=True, cache=True, nogil=True)
def kmer_codes(codes, k):
    """``kc[p]`` = code of ``codes[p:p+k]`` (2 bits a base, first base most significant),
    ``4**k`` if it holds a non-ACGT code or runs past the end; ``k4[p]`` the same for 4 bases
    (``256`` when invalid)."""
    n = len(codes)
    inval = 4 ** k
    kc = np.empty(n, dtype=np.int32)
    k4 = np.empty(n, dtype=np.uint16)
    n_chunks = (n + 65535) // 65536
    for ci in nb.prange(n_chunks):
        a = ci * 65536
        b = min(a + 65536, n)
        for p in range(a, b):
            c = 0
            good = 0          # ACGT bases in a row from p (up to k)
            for i in range(k):
                if p + i >= n:
                    break
                v = codes[p + i]
                if v > 3:
                    break
                c = c * 4 + v
                good += 1
            kc[p] = c if good == k else inval
            if good >= 4:
                k4[p] = c >> (2 * (good - 4))
            else:
                k4[p] = 256
    return kc, k4


@nb.njit(cache=True)
def _seed_table(filt, off, width, ow, k, out):
    """``out[c]`` = summed filter score of the seed columns ``ow .. ow+k-1`` for k-mer code ``c``
    (columns at or past the width weigh 0); ``out[4**k]`` (N) = a very negative number."""
    out[0] = 0
    size = 1
    for i in range(k):
        col = ow + i
        for t in range(size - 1, -1, -1):
            v = out[t]
            for b in range(3, -1, -1):
                w = filt[off + col, b] if col < width else 0
                out[t * 4 + b] = v + w
        size *= 4
    out[size] = _NEG


@nb.njit(parallel=True, cache=True)
def seed_rates(filt, offs, widths, ow, need, live, k):
    """Fraction of the ``4**k`` seed k-mers that keep each motif-strand of ``live`` alive."""
    n_codes = 4 ** k
    out = np.zeros(len(live), dtype=np.float64)
    for t in nb.prange(len(live)):
        j = live[t]
        tab = np.empty(n_codes + 1, dtype=np.int32)
        _seed_table(filt, offs[j], widths[j], ow[j], k, tab)
        c = 0
        for i in range(n_codes):
            if tab[i] >= need[j]:
                c += 1
        out[t] = c / n_codes
    return out


@nb.njit(cache=True)
def build_index(filt, offs, widths, ow, need, inverted, k):
    """CSR index ``code -> [(motif-strand, seed score)]`` over the inverted motif-strands.

    ``need[j] = fthr[j] - (sum of the maxima of j's non-seed columns)``: code ``c`` is listed
    for ``j`` when ``T_j(c) >= need[j]``.  Returns ``start (4**k + 2,), ent_m, ent_s``.
    """
    n_codes = 4 ** k
    tab = np.empty(n_codes + 1, dtype=np.int32)
    counts = np.zeros(n_codes + 2, dtype=np.int64)
    for j in inverted:
        _seed_table(filt, offs[j], widths[j], ow[j], k, tab)
        for c in range(n_codes):
            if tab[c] >= need[j]:
                counts[c + 1] += 1
    start = np.cumsum(counts)
    total = start[n_codes + 1]
    ent_m = np.empty(total, dtype=np.int32)
    ent_s = np.empty(total, dtype=np.int32)
    fill = start[:n_codes + 1].copy()
    for j in inverted:
        _seed_table(filt, offs[j], widths[j], ow[j], k, tab)
        for c in range(n_codes):
            if tab[c] >= need[j]:
                e = fill[c]
                ent_m[e] = j
                ent_s[e] = tab[c]
                fill[c] = e + 1
    return start, ent_m, ent_s


@nb.njit(cache=True)
def build_dense_tables(filt, offs, widths, ow, dense, k):
    out = np.empty((len(dense), 4 ** k + 1), dtype=np.int32)
    for d in range(len(dense)):
        j = dense[d]
        _seed_table(filt, offs[j], widths[j], ow[j], k, out[d])
    return out


@nb.njit(inline="always")
def _blocks_ok(k4, x, s, fthr, b0, b1, blk_col, blk_tab, blk_suf):
    """Add the 4-column blocks ``b0 .. b1-1`` of a window at ``x`` to ``s``, dropping it as soon as
    the best it can still reach is below ``fthr`` (or a block holds an N)."""
    for b in range(b0, b1):
        c = k4[x + blk_col[b]]
        if c > 255:
            return False
        s += blk_tab[b * 256 + c]
        if s + blk_suf[b] < fthr:
            return False
    return True


@nb.njit(inline="always")
def _cols_ok(codes, x, s, fthr, r0, r1, col, val, suf):
    for i in range(r0, r1):
        b = codes[x + col[i]]
        if b > 3:
            return False
        s += val[4 * i + b]
        if s + suf[i] < fthr:
            return False
    return True


@nb.njit(parallel=True, cache=True, nogil=True)
def scan_block(codes, kc, k4, n_owned, chunk, chunk_ids, cap, k,
               ow, fthr, blk_off, blk_col, blk_tab, blk_suf,
               lst_start, ent_m, ent_s, max_ow,
               dense, dense_need, dtab, ow2, dtab2,
               narrow, widths, full_off, full_col, full_val, full_suf,
               out_x, out_m, counts):
    """Windows ``x < n_owned`` of ``codes`` (which holds ``n_owned + overlap`` codes) whose filter
    score reaches the threshold, for every motif-strand, into ``out_x/out_m[row, :cap]``.

    The seed positions are cut into chunks of ``chunk``; row ``i`` of the outputs gets chunk
    ``chunk_ids[i]`` and ``counts[i]`` its number of windows (more than ``cap``: rerun it).
    """
    n = len(codes)
    inval = 4 ** k
    p_end = min(n_owned + max_ow, n)
    for ci in nb.prange(len(chunk_ids)):
        c = chunk_ids[ci]
        p0 = c * chunk
        p1 = min(p0 + chunk, p_end)
        x1 = min(p1, n_owned)
        cnt = 0
        # inverted motif-strands: seeds at p, windows at p - ow
        for p in range(p0, p1):
            code = kc[p]
            for e in range(lst_start[code], lst_start[code + 1]):
                j = ent_m[e]
                x = p - ow[j]
                if x < 0 or x >= n_owned:
                    continue
                if _blocks_ok(k4, x, ent_s[e], fthr[j], blk_off[j], blk_off[j + 1], blk_col, blk_tab, blk_suf):
                    if cnt < cap:
                        out_x[ci, cnt] = x
                        out_m[ci, cnt] = j
                    cnt += 1
        # dense motif-strands: every window, seed lookup first
        for d in range(len(dense)):
            j = dense[d]
            o = ow[j]
            o2 = ow2[j]
            nd = dense_need[d]
            f = fthr[j]
            b0 = blk_off[j]
            b1 = blk_off[j + 1]
            for x in range(p0, x1):
                s = dtab[d, kc[x + o]] + dtab2[d, kc[x + o2]]
                if s < nd:
                    continue
                if _blocks_ok(k4, x, s, f, b0, b1, blk_col, blk_tab, blk_suf):
                    if cnt < cap:
                        out_x[ci, cnt] = x
                        out_m[ci, cnt] = j
                    cnt += 1
        # narrow motif-strands where the seed's k-mer is invalid but the window may be N-free
        if len(narrow):
            for x in range(p0, x1):
                if kc[x] != inval or codes[x] > 3:
                    continue
                for t in range(len(narrow)):
                    j = narrow[t]
                    if x + widths[j] > n:
                        continue
                    if _cols_ok(codes, x, 0, fthr[j], full_off[j], full_off[j + 1],
                                full_col, full_val, full_suf):
                        if cnt < cap:
                            out_x[ci, cnt] = x
                            out_m[ci, cnt] = j
                        cnt += 1
        counts[ci] = cnt


@nb.njit(parallel=True, cache=True, nogil=True)
def rescore(codes, pos, col, widths, int_table, float_table, max_width):
    """Exact integer score, float64 score (left to right), N flag and window codes of candidates."""
    n = len(pos)
    s_int = np.empty(n, dtype=np.int64)
    s_flt = np.empty(n, dtype=np.float64)
    has_n = np.zeros(n, dtype=np.bool_)
    wcodes = np.full((n, max_width), 4, dtype=np.uint8)
    for i in nb.prange(n):
        j = col[i]
        x = pos[i]
        si = 0
        sf = 0.0
        for t in range(widths[j]):
            b = codes[x + t]
            wcodes[i, t] = b
            if b > 3:
                has_n[i] = True
            else:
                si += int_table[j, t, b]
                sf += float_table[j, t, b]
        s_int[i] = si
        s_flt[i] = sf
    return s_int, s_flt, has_n, wcodes


@nb.njit(cache=True, nogil=True)
def count_tests(codes, n_owned, width_counts):
    """Sum over owned window starts x and widths w of ``width_counts[w]`` if ``codes[x:x+w]``
    holds no N (windows tested, for the q-values)."""
    n = len(codes)
    maxw = len(width_counts) - 1
    hist = np.zeros(maxw + 1, dtype=np.int64)
    run = 0
    for x in range(n - 1, -1, -1):
        if codes[x] > 3:
            run = 0
        else:
            run = min(run + 1, maxw)
        if x < n_owned:
            hist[run] += 1
    total = 0
    ge = 0
    for w in range(maxw, 0, -1):
        ge += hist[w]
        total += ge * width_counts[w]
    return total
