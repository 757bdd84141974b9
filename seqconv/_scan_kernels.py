"""numba kernels of :mod:`seqconv.scan`'s CPU engine (exact integer lookahead filtration).

Every motif-strand ``j`` has an integer filter matrix ``filt_j`` (W, 4) and an integer
threshold ``fthr_j``: a window can be a hit only if ``sum_i filt_j[i, b_i] >= fthr_j``.
For ``method="fimo"`` the matrix is the integer-scaled log-odds and the test *is* the hit
rule; for ``method="memelite"`` it is an upper bound.  The survivors are rescored exactly
(:func:`rescore`) and the caller decides.

The filter never drops a window that reaches the threshold:

* the sequence is read as k-mer codes (``K`` = 8 bases, 2 bits each, first base most
  significant), plus 4-mer and 3-mer codes; a code whose bases are not all ACGT is invalid;
* each motif-strand has a *seed*, the ``K`` consecutive columns at offset ``ow`` with the
  largest summed (max - mean), whose score ``T(c)`` is one lookup of the code at ``x + ow``;
* *inverted* motif-strands (seeds that pass at most ``DENSE_RATE`` of the k-mers: ~1,740 of
  JASPAR's 1,758 at p 1e-4): an index lists, for each k-mer code, the motif-strands whose
  threshold is still reachable with it (``T(c) + maxima of the other columns >= fthr``),
  with ``T(c)`` and a 64-bit mask over the 3-mers of a 3-column *mask block*: bit ``c3`` is
  set when ``T(c) + score(c3) + maxima of the columns left >= fthr``.  A position reads its
  list (~10 entries), tests each mask bit without branching, and only the survivors go on;
* *dense* motif-strands (the ~1% of weak, wide motifs whose seed passes too often): two
  disjoint seeds, tested at every window, motif-major so their tables stay in cache;
* then the remaining columns, in runs of up to 4 read as the 4-mer of a block inside the
  window, most informative first: a window is dropped as soon as ``partial + (maxima of the
  blocks left) < fthr`` (MOODS-style lookahead), or at an N;
* motif-strands narrower than ``K`` have their seed at 0 and ``K - W`` zero-weight columns
  past the window: a window followed closely by an N (or the block end) has an invalid code
  although it holds no N; those windows are scored column by column (``narrow``).

All sums are of integers on the p-value grid, so the test decides exactly as the p-value
table does.
"""

from __future__ import annotations

import numba as nb
import numpy as np

K = 8
_NEG = -(1 << 30)


@nb.njit(parallel=True, cache=True, nogil=True)
def kmer_codes(codes, k, pad):
    """``kc[p]`` = code of ``codes[p:p+k]`` (2 bits a base, first base most significant),
    ``4**k`` if it holds a non-ACGT code or runs past the end; ``k4[p]`` the same for 4 bases
    (``256`` when invalid), ``k3[p]`` for 3 bases (``64``; ``pad`` more invalid entries at the end);
    ``run[p]`` the number of ACGT codes in a row from ``p`` (at most k)."""
    n = len(codes)
    inval = 4 ** k
    kc = np.empty(n, dtype=np.int32)
    k4 = np.empty(n, dtype=np.uint16)
    run = np.empty(n, dtype=np.uint8)
    k3 = np.full(n + pad, 64, dtype=np.uint8)     # padded: read at seed + offset, never past it
    n_chunks = (n + 65535) // 65536
    for ci in nb.prange(n_chunks):
        a = ci * 65536
        b = min(a + 65536, n)
        # rolled from the chunk's end backwards: c = the k codes from p (N read as A), good = the
        # ACGT codes in a row from p (at most k); the chunk's end is computed directly
        c = 0
        good = 0
        stop = False
        for i in range(k):
            if b + i < n and codes[b + i] <= 3 and not stop:
                good += 1
            else:
                stop = True
            c = c * 4 + ((codes[b + i] & 3) if b + i < n else 0)
        for p in range(b - 1, a - 1, -1):
            v = codes[p]
            c = ((v & 3) << (2 * (k - 1))) | (c >> 2)
            good = 0 if v > 3 else min(good + 1, k)
            kc[p] = c if good == k else inval
            run[p] = good
            k3[p] = (c >> (2 * (k - 3))) if good >= 3 else 64
            k4[p] = (c >> (2 * (k - 4))) if good >= 4 else 256
    return kc, k4, k3, run


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


@nb.njit(cache=True)
def mask_blocks(filt, offs, widths, ow, fthr, k):
    """The 3-column *mask block* of each motif-strand: ``ma`` (first column: the 3 consecutive
    window columns with the largest summed max - min of their non-seed columns), its table
    ``t3[j, code3]`` (seed columns weigh 0) and ``other[j]`` = the maxima of the non-seed
    columns outside it.  Motif-strands at most k wide get an all-zero table."""
    J = len(widths)
    ma = np.zeros(J, dtype=np.int64)
    t3 = np.zeros((J, 64), dtype=np.int64)
    other = np.zeros(J, dtype=np.int64)
    for j in range(J):
        W = widths[j]
        if W <= k:
            continue
        o0 = offs[j]
        best = -1
        for a in range(W - 2):
            v = 0
            for i in range(a, a + 3):
                if i < ow[j] or i >= ow[j] + k:
                    hi = filt[o0 + i, 0]
                    lo = filt[o0 + i, 0]
                    for b in range(1, 4):
                        hi = max(hi, filt[o0 + i, b])
                        lo = min(lo, filt[o0 + i, b])
                    v += hi - lo + 1
            if v > best:
                best = v
                ma[j] = a
        for c in range(64):
            v = 0
            for d in range(3):
                i = ma[j] + d
                if i < ow[j] or i >= ow[j] + k:
                    v += filt[o0 + i, (c >> (2 * (2 - d))) & 3]
            t3[j, c] = v
        for i in range(W):
            if (i < ow[j] or i >= ow[j] + k) and (i < ma[j] or i >= ma[j] + 3):
                hi = filt[o0 + i, 0]
                for b in range(1, 4):
                    hi = max(hi, filt[o0 + i, b])
                other[j] += hi
    return ma, t3, other


@nb.njit(cache=True)
def _seed_codes(filt, o0, W, ow, k, need, out_code, out_score, limit):
    """Enumerate (depth first, pruned with the maxima of the columns left) the seed k-mers of a
    motif-strand whose seed score reaches ``need``, into ``out_code/out_score``; return how many,
    stopping at ``limit + 1``."""
    cmax = np.zeros(k + 1, dtype=np.int64)
    for i in range(k - 1, -1, -1):
        col = ow + i
        m = 0
        if col < W:
            m = filt[o0 + col, 0]
            for b in range(1, 4):
                m = max(m, filt[o0 + col, b])
        cmax[i] = cmax[i + 1] + m
    digit = np.full(k, -1, dtype=np.int64)
    part = np.zeros(k + 1, dtype=np.int64)
    code = np.zeros(k + 1, dtype=np.int64)
    n = 0
    d = 0
    if cmax[0] < need:
        return 0
    while d >= 0:
        digit[d] += 1
        if digit[d] > 3:
            digit[d] = -1
            d -= 1
            continue
        col = ow + d
        w = filt[o0 + col, digit[d]] if col < W else 0
        sc = part[d] + w
        if sc + cmax[d + 1] < need:
            continue
        c = code[d] * 4 + digit[d]
        if d == k - 1:
            out_code[n] = c
            out_score[n] = sc
            n += 1
            if n > limit:
                return n
            continue
        part[d + 1] = sc
        code[d + 1] = c
        d += 1
    return n


@nb.njit(cache=True)
def build_index(filt, offs, widths, ow, need, fthr, live, dense_rate, k):
    """CSR index ``code -> entries`` over the inverted motif-strands.

    ``need[j] = fthr[j] - (sum of the maxima of j's non-seed columns)``: code ``c`` is listed
    for ``j`` when ``T_j(c) >= need[j]``.  An entry is 2 int64: ``j + (rel + 128) << 16 + ow << 24
    + T_j(c) << 32``, with ``rel`` the mask block's first column minus the seed's, and a 64-bit
    mask over the mask block's 3-mers: bit ``c3`` is set when
    ``T_j(c) + t3[j, c3] + other[j] >= fthr[j]``.  Motif-strands of ``live`` whose seed passes
    more than ``dense_rate`` of the k-mers are left out (``dense``, returned as a mask of
    ``live``).  Returns ``start (4**k + 2,), ent, dense``.
    """
    n_codes = 4 ** k
    ma, t3, other = mask_blocks(filt, offs, widths, ow, fthr, k)
    L = len(live)
    limit = int(dense_rate * n_codes)
    dense = np.zeros(L, dtype=np.bool_)
    seg = np.zeros(L + 1, dtype=np.int64)
    codes = np.empty(max(4 * n_codes, 2 * (limit + 1)), dtype=np.int64)
    scores = np.empty(len(codes), dtype=np.int64)
    total = 0
    for t in range(L):
        if total + limit + 1 > len(codes):              # room for one more motif-strand
            grown = np.empty(2 * len(codes), dtype=np.int64)
            grown[:total] = codes[:total]
            codes = grown
            grown = np.empty(2 * len(scores), dtype=np.int64)
            grown[:total] = scores[:total]
            scores = grown
        j = live[t]
        nj = _seed_codes(filt, offs[j], widths[j], ow[j], k, need[j], codes[total:], scores[total:], limit)
        if nj > limit:
            dense[t] = True
            nj = 0
        total += nj
        seg[t + 1] = total
    counts = np.zeros(n_codes + 2, dtype=np.int64)
    for e in range(total):
        counts[codes[e] + 1] += 1
    start = np.cumsum(counts)
    ent = np.empty((total, 2), dtype=np.int64)
    fill = start[:n_codes + 1].copy()
    for t in range(L):
        if seg[t + 1] == seg[t]:
            continue
        j = live[t]
        head = j + ((ma[j] - ow[j] + 128) << 16) + (ow[j] << 24)
        # the mask depends on the seed score only: one per score from need[j] to the top
        smax = need[j]
        for e in range(seg[t], seg[t + 1]):
            smax = max(smax, scores[e])
        n_s = smax - need[j] + 1
        mlo = np.zeros(n_s, dtype=np.uint32)
        mhi = np.zeros(n_s, dtype=np.uint32)
        # bit c3 is set from the first score d with t3[j, c3] >= r(d) on (r falls as d grows): the
        # 3-mers in falling order of t3 join the mask one after another
        by_t3 = np.argsort(-t3[j])
        nxt = 0
        lo_bits = np.uint32(0)
        hi_bits = np.uint32(0)
        for d in range(n_s):
            r = fthr[j] - (need[j] + d) - other[j]
            while nxt < 64 and t3[j, by_t3[nxt]] >= r:
                c3 = by_t3[nxt]
                if c3 < 32:
                    lo_bits |= np.uint32(1) << np.uint32(c3)
                else:
                    hi_bits |= np.uint32(1) << np.uint32(c3 - 32)
                nxt += 1
            mlo[d] = lo_bits
            mhi[d] = hi_bits
        for e in range(seg[t], seg[t + 1]):
            s = scores[e]
            f = fill[codes[e]]
            ent[f, 0] = head + (s << 32)
            ent[f, 1] = np.int64(mlo[s - need[j]]) | (np.int64(mhi[s - need[j]]) << 32)
            fill[codes[e]] = f + 1
    return start, ent, dense


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
def scan_block(codes, kc, k4, k3, run, n_owned, chunk, chunk_ids, cap, k,
               ow, fthr, blk_off, blk_col, blk_tab, blk_suf,
               lst_start, ent, max_ow, max_list,
               narrow, widths, full_off, full_col, full_val, full_suf,
               out_x, out_m, counts):
    """Windows ``x < n_owned`` of ``codes`` (which holds ``n_owned + overlap`` codes) whose filter
    score reaches the threshold, for every motif-strand, into ``out_x/out_m[row, :cap]``.

    The seed positions are cut into chunks of ``chunk``; row ``i`` of the outputs gets chunk
    ``chunk_ids[i]`` and ``counts[i]`` its number of windows (more than ``cap``: rerun it).
    """
    n = len(codes)
    p_end = min(n_owned + max_ow, n)
    # (computed here: numba may hoist loop-invariant reads out of the prange body, guards and all)
    w_narrow = widths[narrow[0]] if len(narrow) else k
    for ci in nb.prange(len(chunk_ids)):
        c = chunk_ids[ci]
        p0 = c * chunk
        p1 = min(p0 + chunk, p_end)
        x1 = min(p1, n_owned)
        cnt = 0
        # inverted motif-strands: seeds at p, windows at p - ow.  The chunk's positions are first
        # sorted by their code (counting sort), so that the lists are read in index order, each
        # once per chunk and from cache for the next positions with the same code, instead of at
        # random.  Stage 1, without branches: the entries whose window is owned and whose mask
        # block passes go to buf; stage 2: the blocks.
        n_codes = len(lst_start) - 2
        first = np.zeros(n_codes + 2, dtype=np.int32)
        for p in range(p0, p1):
            first[kc[p] + 1] += 1
        for c in range(n_codes + 1):
            first[c + 1] += first[c]
        by_code = np.empty(max(p1 - p0, 0), dtype=np.int32)
        slot = first[:n_codes + 1].copy()
        for p in range(p0, p1):
            c = kc[p]
            by_code[slot[c]] = p
            slot[c] += 1
        buf = np.empty(max_list, dtype=np.int64)
        for c in range(n_codes):
            e0 = lst_start[c]
            e1 = lst_start[c + 1]
            if e0 == e1:
                continue
            for t in range(first[c], first[c + 1]):
                p = np.int64(by_code[t])
                nbuf = 0
                for e in range(e0, e1):
                    head = ent[2 * e]
                    x = p - ((head >> 24) & 0xFF)
                    c3 = np.int64(k3[p + ((head >> 16) & 0xFF) - 128])
                    ok = ((ent[2 * e + 1] >> (c3 & 63)) & 1) & (c3 < 64) & (x >= 0) & (x < n_owned)
                    buf[nbuf] = e
                    nbuf += ok
                for i in range(nbuf):
                    e = buf[i]
                    head = ent[2 * e]
                    j = head & 0xFFFF
                    x = p - ((head >> 24) & 0xFF)
                    if _blocks_ok(k4, x, head >> 32, fthr[j], blk_off[j], blk_off[j + 1], blk_col, blk_tab,
                                  blk_suf):
                        if cnt < cap:
                            out_x[ci, cnt] = x
                            out_m[ci, cnt] = j
                        cnt += 1
        # narrow motif-strands (sorted by width) where the seed's k-mer is invalid but the window is
        # N-free: fewer than k ACGT codes in a row from x, at least the motif's width
        if len(narrow):
            for x in range(p0, x1):
                g = run[x]
                if g >= k or g < w_narrow:
                    continue
                for t in range(len(narrow)):
                    j = narrow[t]
                    if widths[j] > g:
                        break
                    if _cols_ok(codes, x, 0, fthr[j], full_off[j], full_off[j + 1],
                                full_col, full_val, full_suf):
                        if cnt < cap:
                            out_x[ci, cnt] = x
                            out_m[ci, cnt] = j
                        cnt += 1
        counts[ci] = cnt


@nb.njit(parallel=True, cache=True, nogil=True)
def scan_dense(kc, k4, n_owned, seg, task_ids, cap, ow, ow2, fthr, blk_off, blk_col, blk_tab, blk_suf,
               dense, dense_need, dtab, dtab2, out_x, out_m, counts):
    """The dense motif-strands: every window ``x < n_owned``, both seeds' lookups first, then the
    blocks.  Task ``t`` is dense motif-strand ``t // n_seg`` over windows ``(t % n_seg) * seg``
    onwards (motif-major, so its tables stay in cache); outputs as :func:`scan_block`."""
    n_seg = (n_owned + seg - 1) // seg
    for ti in nb.prange(len(task_ids)):
        t = task_ids[ti]
        d = t // n_seg
        x0 = (t % n_seg) * seg
        x1 = min(x0 + seg, n_owned)
        j = dense[d]
        o = ow[j]
        o2 = ow2[j]
        nd = dense_need[d]
        f = fthr[j]
        b0 = blk_off[j]
        b1 = blk_off[j + 1]
        cnt = 0
        t1 = dtab[d]
        t2 = dtab2[d]
        buf = np.empty(1024, dtype=np.int64)
        for xa in range(x0, x1, 1024):
            xb = min(xa + 1024, x1)
            # stage 1 without branches: the windows whose seeds reach `need` go to buf
            nbuf = 0
            for x in range(xa, xb):
                s = np.int64(t1[kc[x + o]]) + np.int64(t2[kc[x + o2]])
                buf[nbuf] = x
                nbuf += s >= nd
            for i in range(nbuf):
                x = buf[i]
                s = np.int64(t1[kc[x + o]]) + np.int64(t2[kc[x + o2]])
                if _blocks_ok(k4, x, s, f, b0, b1, blk_col, blk_tab, blk_suf):
                    if cnt < cap:
                        out_x[ti, cnt] = x
                        out_m[ti, cnt] = j
                    cnt += 1
        counts[ti] = cnt


@nb.njit(parallel=True, cache=True, nogil=True)
def rescore(codes, pos, col, widths, int_table, float_table):
    """Exact integer score, float64 score (left to right) and N flag of candidate windows."""
    n = len(pos)
    s_int = np.empty(n, dtype=np.int64)
    s_flt = np.empty(n, dtype=np.float64)
    has_n = np.zeros(n, dtype=np.bool_)
    for i in nb.prange(n):
        j = col[i]
        x = pos[i]
        si = 0
        sf = 0.0
        for t in range(widths[j]):
            b = codes[x + t]
            if b > 3:
                has_n[i] = True
            else:
                si += int_table[j, t, b]
                sf += float_table[j, t, b]
        s_int[i] = si
        s_flt[i] = sf
    return s_int, s_flt, has_n


@nb.njit(cache=True)
def matched_from_codes(codes, pos, widths, minus):
    """Letters of each hit's window ``codes[pos:pos+width]`` read on its strand, concatenated
    (ASCII), and their offsets."""
    n = len(pos)
    offsets = np.zeros(n + 1, dtype=np.int64)
    for i in range(n):
        offsets[i + 1] = offsets[i] + widths[i]
    data = np.empty(offsets[n], dtype=np.uint8)
    letter = np.array([65, 67, 71, 84, 78], dtype=np.uint8)      # A C G T N
    comp = np.array([84, 71, 67, 65, 78], dtype=np.uint8)        # T G C A N
    for i in range(n):
        o = offsets[i]
        w = widths[i]
        x = pos[i]
        if minus[i]:
            for t in range(w):
                data[o + t] = comp[min(codes[x + w - 1 - t], 4)]
        else:
            for t in range(w):
                data[o + t] = letter[min(codes[x + t], 4)]
    return data, offsets


@nb.njit(cache=True, nogil=True)
def valid_windows(codes, n_owned, maxw):
    """``ge[w]`` = owned window starts x (``x < n_owned``) whose ``codes[x:x+w]`` hold no N, for
    w in ``0..maxw`` (windows scored, for the q-values)."""
    n = len(codes)
    hist = np.zeros(maxw + 1, dtype=np.int64)
    run = 0
    for x in range(n - 1, -1, -1):
        if codes[x] > 3:
            run = 0
        else:
            run = min(run + 1, maxw)
        if x < n_owned:
            hist[run] += 1
    ge = np.zeros(maxw + 1, dtype=np.int64)
    acc = 0
    for w in range(maxw, -1, -1):
        acc += hist[w]
        ge[w] = acc
    return ge


@nb.njit(cache=True, nogil=True)
def count_into(counts, idx):
    """``counts[i] += 1`` for every ``i`` of ``idx`` (repeats counted)."""
    for i in idx:
        counts[i] += 1


@nb.njit(parallel=True, cache=True)
def pi0_bins(sf_flat, sf_off, lambdas):
    """``bins[sf_off[j] + k]`` = the number of the sorted ``lambdas`` at or below motif-strand j's p-value
    ``sf[k]`` (uint8; at most 255 lambdas): the p-value table read as pi0's histogram bins."""
    J = len(sf_off) - 1
    nl = len(lambdas)
    bins = np.empty(len(sf_flat), dtype=np.uint8)
    for j in nb.prange(J):
        b = nl                                   # the table is non-increasing: the bin only goes down
        for i in range(sf_off[j], sf_off[j + 1]):
            p = sf_flat[i]
            while b > 0 and lambdas[b - 1] > p:
                b -= 1
            bins[i] = b
    return bins


@nb.njit(parallel=True, cache=True)
def block_tables4(int_table, widths):
    """``tab[j, q, c]`` = motif-strand j's integer score of the 4-mer code ``c`` (first base most
    significant) at columns ``4q .. 4q+3`` (0 past its width), ``(J, ceil(maxw / 4), 256)`` int32."""
    J, W = int_table.shape[0], int_table.shape[1]
    nq = (W + 3) // 4
    tab = np.zeros((J, nq, 256), dtype=np.int32)
    for j in nb.prange(J):
        for q in range(nq):
            for c in range(256):
                s = 0
                for i in range(4):
                    t = 4 * q + i
                    if t < widths[j]:
                        s += int_table[j, t, (c >> (6 - 2 * i)) & 3]
                tab[j, q, c] = s
    return tab


@nb.njit(cache=True)
def window_codes4(win):
    """The sampled windows ``win`` (n, maxw) as 4-mer codes ``(n, ceil(maxw / 4))`` int32 (a non-ACGT
    code read as A) and the index of each window's first non-ACGT code (maxw if none)."""
    n, W = win.shape
    nq = (W + 3) // 4
    c4 = np.zeros((n, nq), dtype=np.int32)
    first_n = np.full(n, W, dtype=np.int64)
    for r in range(n):
        for t in range(W):
            c = win[r, t]
            if c > 3:
                if first_n[r] == W:
                    first_n[r] = t
                c = 0
            c4[r, t // 4] |= c << (6 - 2 * (t % 4))
    return c4, first_n


@nb.njit(parallel=True, cache=True)
def sample_bins(c4, first_n, widths, tab, smin, sf_off, bins, nl):
    """For each motif-strand j, a histogram of the p-values of the sampled windows (4-mer codes ``c4``,
    first non-ACGT index ``first_n``, from :func:`window_codes4`; those without N within its width):
    ``hist[j, b]`` counts p-values with exactly ``b`` of the ``nl`` sorted lambdas at or below them
    (``bins`` from :func:`pi0_bins`; for FIMO's pi0 estimate).  Scores are sums of
    :func:`block_tables4` entries."""
    J = len(widths)
    n = c4.shape[0]
    hist = np.zeros((J, nl + 1), dtype=np.int64)
    for j in nb.prange(J):
        w = widths[j]
        nq = (w + 3) // 4
        for r in range(n):
            if first_n[r] < w:
                continue
            s = 0
            for q in range(nq):
                s += tab[j, q, c4[r, q]]
            k = min(max(s - smin[j], 0), sf_off[j + 1] - sf_off[j] - 1)
            hist[j, bins[sf_off[j] + k]] += 1
    return hist


# ------------------------------------------------------------------ set-up (motif-strand layouts)

@nb.njit(cache=True)
def score_pmf(ints, bg):
    """Exact pmf of a window's integer score (the same products and sums, in the same order, as
    :func:`seqconv.scan.score_distribution`): returns ``(smin, pmf)``.

    Each column's convolution is written as a gather, ``new[t] = sum_b pmf[t - o_b] bg[b]`` (b in
    order, from 0.0), over a buffer with zeros before and after the pmf: the terms that fall outside
    add +0.0, so every entry is the scatter's exactly, and the loop vectorises."""
    W = ints.shape[0]
    smin = 0
    total = 0
    pad = 0
    for i in range(W):
        lo = ints[i, 0]
        hi = ints[i, 0]
        for b in range(1, 4):
            lo = min(lo, ints[i, b])
            hi = max(hi, ints[i, b])
        smin += lo
        total += hi - lo
        pad = max(pad, hi - lo)
    cur = np.zeros(pad + total + 1)      # pmf entry t at pad + t; never-written entries stay 0
    new = np.zeros(pad + total + 1)
    cur[pad] = 1.0
    size = 1
    w0, w1, w2, w3 = bg[0], bg[1], bg[2], bg[3]
    for i in range(W):
        lo = ints[i, 0]
        hi = ints[i, 0]
        for b in range(1, 4):
            lo = min(lo, ints[i, b])
            hi = max(hi, ints[i, b])
        o0 = pad - (ints[i, 0] - lo)
        o1 = pad - (ints[i, 1] - lo)
        o2 = pad - (ints[i, 2] - lo)
        o3 = pad - (ints[i, 3] - lo)
        nsize = size + hi - lo
        for t in range(nsize):
            acc = 0.0
            acc += cur[o0 + t] * w0
            acc += cur[o1 + t] * w1
            acc += cur[o2 + t] * w2
            acc += cur[o3 + t] * w3
            new[pad + t] = acc
        cur, new = new, cur
        size = nsize
    return smin, cur[pad:pad + total + 1].copy()


@nb.njit(cache=True)
def survival_of(pmf):
    """``sf[k] = min(1, sum(pmf[k:]))``, summed from the top (as :func:`seqconv.scan.survival`)."""
    n = len(pmf)
    sf = np.empty(n)
    acc = 0.0
    for t in range(n - 1, -1, -1):
        acc += pmf[t]
        sf[t] = acc
    for t in range(n):
        sf[t] = min(sf[t], 1.0)
    return sf


@nb.njit(cache=True)
def seeds(filt, offs, widths, fthr, k):
    """Seed offset of each motif-strand (the k consecutive columns with the largest summed
    max - mean; 0 when the width is at most k) and ``need`` = threshold minus the maxima of the
    other columns."""
    J = len(widths)
    ow = np.zeros(J, dtype=np.int64)
    need = np.zeros(J, dtype=np.int64)
    for j in range(J):
        o0 = offs[j]
        W = widths[j]
        best = -1e300
        rest = 0
        for a in range(max(1, W - k + 1)):
            v = 0.0
            for i in range(a, min(a + k, W)):
                cm = filt[o0 + i, 0]
                sm = 0
                for b in range(4):
                    cm = max(cm, filt[o0 + i, b])
                    sm += filt[o0 + i, b]
                v += cm - sm / 4.0
            if v > best:
                best = v
                ow[j] = a
        for i in range(W):
            if i < ow[j] or i >= ow[j] + k:
                cm = filt[o0 + i, 0]
                for b in range(4):
                    cm = max(cm, filt[o0 + i, b])
                rest += cm
        need[j] = fthr[j] - rest
    return ow, need


@nb.njit(cache=True)
def second_seeds(filt, offs, widths, ow, dense, k):
    """For the dense motif-strands at least 2k wide: two disjoint k-column seeds with the largest
    summed max - mean.  Returns ``(ow, ow2)`` (``ow2 == ow`` when there is no second seed)."""
    ow = ow.copy()
    ow2 = ow.copy()
    for j in dense:
        W = widths[j]
        if W < 2 * k:
            continue
        o0 = offs[j]
        n = W - k + 1
        cs = np.zeros(n)
        for a in range(n):
            for i in range(a, a + k):
                cm = filt[o0 + i, 0]
                sm = 0
                for b in range(4):
                    cm = max(cm, filt[o0 + i, b])
                    sm += filt[o0 + i, b]
                cs[a] += cm - sm / 4.0
        best = -1e300
        for a in range(n):
            for c in range(a + k, n):
                if cs[a] + cs[c] > best:
                    best = cs[a] + cs[c]
                    ow[j] = a
                    ow2[j] = c
    return ow, ow2


@nb.njit(cache=True)
def layouts(filt, offs, widths, fthr, ow, ow2, k):
    """The lookahead layout of every motif-strand.

    Columns outside the seed(s) are cut into runs of at most 4 consecutive columns; each run is
    read as the 4-mer of a 4-column block inside the window (``blk_col``: its first column; the
    block's columns outside the run weigh 0), ``blk_tab[b * 256 + code]`` its score, and the
    blocks are visited largest summed (max - min) first; ``blk_suf[b]`` is the sum of the maxima
    of the blocks after ``b``.  ``need`` = threshold minus the maxima of all blocks (what the
    seed(s) must reach).  The ``full_*`` arrays order all columns (max - min descending) with
    the same suffix bounds, for scoring narrow motif-strands column by column.
    """
    J = len(widths)
    need = np.zeros(J, dtype=np.int64)
    blk_off = np.zeros(J + 1, dtype=np.int64)
    full_off = np.zeros(J + 1, dtype=np.int64)
    # counts first
    for j in range(J):
        W = widths[j]
        full_off[j + 1] = full_off[j] + W
        nb_ = 0
        if W > k:
            c = 0
            while c < W:
                if (c >= ow[j] and c < ow[j] + k) or (c >= ow2[j] and c < ow2[j] + k):
                    c += 1
                    continue
                e = c
                while e < W and e - c < 4 and not ((e >= ow[j] and e < ow[j] + k) or (e >= ow2[j] and e < ow2[j] + k)):
                    e += 1
                nb_ += 1
                c = e
        blk_off[j + 1] = blk_off[j] + nb_
    nblk = blk_off[J]
    blk_col = np.zeros(nblk, dtype=np.int64)
    blk_tab = np.zeros(nblk * 256, dtype=np.int32)
    blk_suf = np.zeros(nblk, dtype=np.int64)
    nfull = full_off[J]
    full_col = np.zeros(nfull, dtype=np.int64)
    full_val = np.zeros(nfull * 4, dtype=np.int32)
    full_suf = np.zeros(nfull, dtype=np.int64)
    run_a = np.zeros(64, dtype=np.int64)
    run_e = np.zeros(64, dtype=np.int64)
    run_key = np.zeros(64, dtype=np.int64)
    for j in range(J):
        W = widths[j]
        o0 = offs[j]
        cmax = np.empty(W, dtype=np.int64)
        crng = np.empty(W, dtype=np.int64)
        for i in range(W):
            hi = filt[o0 + i, 0]
            lo = filt[o0 + i, 0]
            for b in range(1, 4):
                hi = max(hi, filt[o0 + i, b])
                lo = min(lo, filt[o0 + i, b])
            cmax[i] = hi
            crng[i] = hi - lo
        # full order: stable sort by range, descending (insertion sort)
        f0 = full_off[j]
        for i in range(W):
            h = f0 + i
            while h > f0 and crng[full_col[h - 1]] < crng[i]:
                full_col[h] = full_col[h - 1]
                h -= 1
            full_col[h] = i
        acc = 0
        for h in range(f0 + W - 1, f0 - 1, -1):
            full_suf[h] = acc
            c = full_col[h]
            acc += cmax[c]
            for b in range(4):
                full_val[4 * h + b] = filt[o0 + c, b]
        if W <= k:
            need[j] = fthr[j]
            continue
        # runs, in order of first column, then sorted by summed range (stable, descending)
        if blk_off[j + 1] - blk_off[j] > len(run_a):
            run_a = np.zeros(2 * (blk_off[j + 1] - blk_off[j]), dtype=np.int64)
            run_e = np.zeros_like(run_a)
            run_key = np.zeros_like(run_a)
        nr = 0
        c = 0
        while c < W:
            if (c >= ow[j] and c < ow[j] + k) or (c >= ow2[j] and c < ow2[j] + k):
                c += 1
                continue
            e = c
            while e < W and e - c < 4 and not ((e >= ow[j] and e < ow[j] + k) or (e >= ow2[j] and e < ow2[j] + k)):
                e += 1
            key = 0
            for i in range(c, e):
                key += crng[i]
            h = nr
            while h > 0 and run_key[h - 1] < key:
                run_a[h] = run_a[h - 1]
                run_e[h] = run_e[h - 1]
                run_key[h] = run_key[h - 1]
                h -= 1
            run_a[h] = c
            run_e[h] = e
            run_key[h] = key
            nr += 1
            c = e
        b0 = blk_off[j]
        total_max = 0
        for r in range(nr):
            a = run_a[r]
            e = run_e[r]
            bs = min(a, W - 4)
            blk_col[b0 + r] = bs
            for code in range(256):
                v = 0
                for d in range(4):
                    col = bs + d
                    if col >= a and col < e:
                        v += filt[o0 + col, (code >> (2 * (3 - d))) & 3]
                blk_tab[(b0 + r) * 256 + code] = v
            for i in range(a, e):
                total_max += cmax[i]
        acc = 0
        for r in range(nr - 1, -1, -1):
            blk_suf[b0 + r] = acc
            for i in range(run_a[r], run_e[r]):
                acc += cmax[i]
        need[j] = fthr[j] - total_max
    return need, blk_off, blk_col, blk_tab, blk_suf, full_off, full_col, full_val, full_suf


@nb.njit(parallel=True, cache=True)
def score_tables(ints, offs, bgs, same_as_prev, threshold, strict):
    """p-value tables of every motif-strand (rows ``offs[j]:offs[j+1]`` of ``ints``, background
    ``bgs[j]``): ``smin``, the survival tables concatenated (``sf_off``), and the index of the
    first score whose p-value is ``<= threshold`` (``< threshold`` when ``strict``), -1 if none.
    A motif-strand with ``same_as_prev`` reuses the previous one's table (same distribution)."""
    J = len(offs) - 1
    smin = np.zeros(J, dtype=np.int64)
    sizes = np.zeros(J, dtype=np.int64)
    for j in range(J):
        lo_sum = 0
        span = 0
        for i in range(offs[j], offs[j + 1]):
            lo = ints[i, 0]
            hi = ints[i, 0]
            for b in range(1, 4):
                lo = min(lo, ints[i, b])
                hi = max(hi, ints[i, b])
            lo_sum += lo
            span += hi - lo
        smin[j] = lo_sum
        sizes[j] = span + 1
    sf_off = np.zeros(J + 1, dtype=np.int64)
    for j in range(J):
        sf_off[j + 1] = sf_off[j] + sizes[j]
    sf = np.empty(sf_off[J])
    reuse = np.zeros(J, dtype=np.bool_)
    for j in range(1, J):
        reuse[j] = same_as_prev[j] and sizes[j] == sizes[j - 1]
    todo = np.flatnonzero(~reuse)
    for u in nb.prange(len(todo)):
        j = todo[u]
        _, pmf = score_pmf(ints[offs[j]:offs[j + 1]], bgs[j])
        sf[sf_off[j]:sf_off[j + 1]] = survival_of(pmf)
    first = np.full(J, -1, dtype=np.int64)
    for j in range(J):
        if reuse[j]:
            sf[sf_off[j]:sf_off[j + 1]] = sf[sf_off[j - 1]:sf_off[j]]
        for t in range(sizes[j]):
            v = sf[sf_off[j] + t]
            if (v < threshold) if strict else (v <= threshold):
                first[j] = t
                break
    return smin, sf, sf_off, first


@nb.njit(parallel=True, cache=True)
def hit_order(motif_idx, key, n_motifs):
    """The permutation sorting hits by motif, then by ``key`` (unique within a motif): a counting
    sort on the motif, then each motif's hits sorted in parallel."""
    n = len(motif_idx)
    start = np.zeros(n_motifs + 1, dtype=np.int64)
    for i in range(n):
        start[motif_idx[i] + 1] += 1
    for m in range(n_motifs):
        start[m + 1] += start[m]
    fill = start[:n_motifs].copy()
    order = np.empty(n, dtype=np.int64)
    for i in range(n):
        m = motif_idx[i]
        order[fill[m]] = i
        fill[m] += 1
    for m in nb.prange(n_motifs):
        a = start[m]
        b = start[m + 1]
        if b - a > 1:
            seg = order[a:b].copy()
            sub = np.argsort(key[seg])
            for t in range(b - a):
                order[a + t] = seg[sub[t]]
    return order


@nb.njit(parallel=True, cache=True)
def take_strings(data, offsets, idx):
    """Strings ``idx`` of a string column held as ``data`` (bytes) and ``offsets`` (n + 1):
    the new ``data`` and int64 ``offsets`` (an arrow large_string layout)."""
    n = len(idx)
    out_off = np.zeros(n + 1, dtype=np.int64)
    for i in range(n):
        t = idx[i]
        out_off[i + 1] = out_off[i] + (offsets[t + 1] - offsets[t])
    out = np.empty(out_off[n], dtype=np.uint8)
    n_chunks = (n + 65535) // 65536
    for ci in nb.prange(n_chunks):
        for i in range(ci * 65536, min(n, (ci + 1) * 65536)):
            t = idx[i]
            a = offsets[t]
            o = out_off[i]
            for b in range(offsets[t + 1] - a):
                out[o + b] = data[a + b]
    return out, out_off


@nb.njit(parallel=True, cache=True)
def gather_hits(order, col, seq, start, score, pval, qtab, pidx, widths, motif_of, minus_of):
    """The hit columns in ``order``: motif index, sequence index, start, end, minus flag, score,
    p-value and q-value (``qtab[pidx]``; NaN when ``qtab`` is empty)."""
    n = len(order)
    o_motif = np.empty(n, dtype=np.int64)
    o_seq = np.empty(n, dtype=np.int64)
    o_start = np.empty(n, dtype=np.int64)
    o_end = np.empty(n, dtype=np.int64)
    o_minus = np.empty(n, dtype=np.int64)
    o_score = np.empty(n, dtype=np.float64)
    o_p = np.empty(n, dtype=np.float64)
    o_q = np.empty(n, dtype=np.float64)
    has_q = len(qtab) > 0
    for i in nb.prange(n):
        t = order[i]
        j = col[t]
        o_motif[i] = motif_of[j]
        o_seq[i] = seq[t]
        o_start[i] = start[t]
        o_end[i] = start[t] + widths[j]
        o_minus[i] = 1 if minus_of[j] else 0
        o_score[i] = score[t]
        o_p[i] = pval[t]
        o_q[i] = qtab[pidx[t]] if has_q else np.nan
    return o_motif, o_seq, o_start, o_end, o_minus, o_score, o_p, o_q
