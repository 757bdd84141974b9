"""The motif bank: every motif-strand's integer matrix, p-value table and threshold.

Building a bank (879 JASPAR motifs: p-value tables by dynamic programming, the CPU engine's
index) takes ~0.3 CPU s, about what scanning 1 Mb takes; :func:`bank_for` keeps the last
:data:`CACHE_SIZE` banks of the process, keyed by the motifs' content and the options that
shape the tables, so repeated scans with the same motifs build it once; banks of
:data:`~seqconv.scan.diskcache.MIN_MOTIFS` motifs or more are also kept on disk
(:mod:`seqconv.scan.diskcache`), so a new process reads them back instead.
"""

from __future__ import annotations

import copy
import hashlib
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from seqconv import _scan_kernels as kern
from seqconv.motifs.core import Motif, check_background
from seqconv.scan import diskcache
from seqconv.scan.options import ScanOptions, fimo_background
from seqconv.scan.pvalues import PI0_GRID, fimo_grid


@dataclass
class _Strand:
    motif: int          # index into the motif list
    strand: str         # "+" or "-"
    width: int
    lo: np.ndarray      # (W, 4) float64 log-odds (bits)
    ints: np.ndarray    # (W, 4) int64 integer-scaled log-odds
    filt: np.ndarray    # (W, 4) int64 filter matrix (ints, or ceil for memelite)
    smin: int
    sf: np.ndarray      # survival table on the integer grid
    thr: float          # integer filter threshold (inf if unreachable)
    thr_float: float    # memelite: float score threshold


#: The arrays of a bank's tables (see :func:`_tables`), as stored in the disk cache.
TABLES = frozenset({"lo", "ints", "filt", "widths", "motif_of", "minus", "scale", "smin", "sf", "sf_off", "first"})


def _tables(motifs: list[Motif], options: ScanOptions, background) -> dict[str, np.ndarray]:
    """Every motif-strand's matrices and p-value table, as arrays (what :class:`_Bank` is made of).

    Returns ``lo`` (sum of widths, 4) float64 log-odds (bits), ``ints`` and ``filt`` (same shape, int64:
    integer-scaled log-odds and the filter matrix), per motif-strand ``(J,)`` its ``widths``, ``motif_of``,
    ``minus`` (bool), ``scale``, lowest score ``smin`` and ``first`` (the index of the first score whose
    p-value passes the threshold, -1 if none), and the survival tables ``sf`` concatenated (strand ``j``
    is ``sf[sf_off[j]:sf_off[j + 1]]``).
    """
    method = options.method
    threshold, pseudocount, grid = options.threshold, options.pseudocount, options.grid
    wanted = {"both": ("+", "-"), "+": ("+",), "-": ("-",)}[options.strands]
    los, ints, owner, minus, bgs, same, scales = [], [], [], [], [], [], []
    bg_memo: dict = {}          # each distinct background resolved once
    for k, motif in enumerate(motifs):
        raw = motif.background if background is None else background
        key = None if method == "memelite" else np.asarray(raw, dtype=np.float64).tobytes()
        bgv = bg_memo.get(key)
        if bgv is None:
            bgv = bg_memo[key] = (check_background(None) if method == "memelite"
                                  else fimo_background(raw, len(wanted) == 2))
        # a strand-symmetric background gives the reverse complement the same score distribution,
        # and its matrices are the + strand's read backwards with A<->T, C<->G
        symmetric = bgv[0] == bgv[3] and bgv[1] == bgv[2]
        probs = {"+": motif.probabilities_with_pseudocount(pseudocount, bgv)}
        if not symmetric:
            probs["-"] = motif.reverse_complement().probabilities_with_pseudocount(pseudocount, bgv)
        lo_plus = motif.log_odds(pseudocount, bgv)
        grid_plus = None
        for i, s in enumerate(wanted):
            if s == "+" or symmetric:
                p, lo = probs["+"], lo_plus
            else:
                p, lo = probs["-"], motif.reverse_complement().log_odds(pseudocount, bgv)
            if grid_plus is not None and symmetric:       # the + strand's, read backwards below
                m, scale = grid_plus
            elif grid is None:
                m, scale, _ = fimo_grid(p, bgv)
            else:
                m, scale = np.round(lo / grid).astype(np.int64), 1.0 / grid
            grid_plus = (m, scale)
            if s == "-" and symmetric:
                lo, m = lo[::-1, ::-1], m[::-1, ::-1]
            los.append(np.ascontiguousarray(lo))
            ints.append(np.ascontiguousarray(m))
            owner.append(k)
            minus.append(s == "-")
            bgs.append(bgv)
            same.append(i > 0 and symmetric)
            scales.append(scale)
    widths = np.array([len(lo) for lo in los], dtype=np.int64)
    offs = np.concatenate([[0], np.cumsum(widths)])
    lo_all = np.ascontiguousarray(np.concatenate(los))
    ints_all = np.ascontiguousarray(np.concatenate(ints))
    # memelite compares the float score: ceil() keeps the filter an upper bound
    filt_all = np.ceil(lo_all / grid - 1e-9).astype(np.int64) if method == "memelite" else ints_all
    smins, sf_all, sf_off, first = kern.score_tables(ints_all, offs, np.array(bgs), np.array(same), threshold,
                                                     method == "memelite")
    return {"lo": lo_all, "ints": ints_all, "filt": filt_all, "widths": widths,
            "motif_of": np.array(owner, dtype=np.int64), "minus": np.array(minus, dtype=np.bool_),
            "scale": np.array(scales, dtype=np.float64), "smin": smins, "sf": sf_all, "sf_off": sf_off,
            "first": first}


def _valid_tables(t: dict[str, np.ndarray], motifs: list[Motif]) -> bool:
    """Whether tables read from the disk cache are :func:`_tables`' arrays, fitting together and fitting
    ``motifs`` (so that the kernels index them within bounds)."""
    if set(t) != TABLES:
        return False
    widths, off, n = t["widths"], t["sf_off"], len(t["widths"])
    dtypes = {"lo": np.float64, "scale": np.float64, "sf": np.float64, "minus": np.bool_}
    if any(v.dtype != dtypes.get(k, np.int64) for k, v in t.items()):
        return False
    shapes = {"lo": (int(widths.sum()), 4), "ints": (int(widths.sum()), 4), "filt": (int(widths.sum()), 4),
              "sf_off": (n + 1,), "sf": (int(off[-1]),) if len(off) else (-1,)}
    if n == 0 or any(v.shape != shapes.get(k, (n,)) for k, v in t.items()):
        return False
    sizes = np.diff(off)
    return bool(off[0] == 0 and (sizes > 0).all() and (t["first"] < sizes).all()
                and 0 <= t["motif_of"].min() and t["motif_of"].max() < len(motifs)
                and np.array_equal(widths, [motifs[k].width for k in t["motif_of"]]))


class _Bank:
    """Every motif-strand's matrices, p-value tables and thresholds.

    ``background`` is the scan's background already resolved to ``(4,)`` frequencies, or
    None for each motif's own (``"motif"``).  ``tables``: those of :func:`_tables` when already
    made (read from the disk cache); ``key``: the bank's :func:`_bank_key` when its derived tables
    may be kept in the disk cache (:mod:`seqconv.scan.diskcache`).
    """

    def __init__(self, motifs: list[Motif], options: ScanOptions, background, tables=None, key: str | None = None):
        self.motifs = motifs
        self.method = options.method
        self.key = key
        self.tables = t = _tables(motifs, options, background) if tables is None else tables
        lo_all, ints_all, filt_all, widths, first = t["lo"], t["ints"], t["filt"], t["widths"], t["first"]
        offs = np.concatenate([[0], np.cumsum(widths)])
        sf_all, sf_off, smins = t["sf"], t["sf_off"], t["smin"]
        self.scale = t["scale"]
        self.strands: list[_Strand] = []
        for j in range(len(widths)):
            smin = int(smins[j])
            thr_int = smin + int(first[j]) if first[j] >= 0 else math.inf
            thr_float = float(np.float32(thr_int / self.scale[j])) if first[j] >= 0 else math.inf
            a0, a1 = offs[j], offs[j + 1]
            self.strands.append(_Strand(int(t["motif_of"][j]), "-" if t["minus"][j] else "+", int(widths[j]),
                                        lo_all[a0:a1], ints_all[a0:a1], filt_all[a0:a1], smin,
                                        sf_all[sf_off[j]:sf_off[j + 1]], thr_int, thr_float))
        self.max_width = int(widths.max())
        J, W = len(self.strands), self.max_width
        # rescoring tables (J, W, 5): column 4 (N) and positions past the width are 0
        self.int_table = np.zeros((J, W, 5), dtype=np.int64)
        self.float_table = np.zeros((J, W, 5), dtype=np.float64)
        rows = np.repeat(np.arange(J), widths)
        cols = np.arange(len(rows)) - np.repeat(offs[:-1], widths)
        self.int_table[rows, cols, :4] = ints_all
        self.float_table[rows, cols, :4] = lo_all
        self.widths = widths
        self.strand_of = np.where(t["minus"], "-", "+").astype(object)
        self.minus_of = t["minus"]
        self.motif_of = t["motif_of"]
        self.motif_ids = np.array([m.id for m in motifs], dtype=object)
        self.motif_names = np.array([m.name for m in motifs], dtype=object)
        self.thr = np.array([st.thr for st in self.strands], dtype=np.float64)
        self.thr_float = np.array([st.thr_float for st in self.strands], dtype=np.float64)
        self.smin = smins
        self.sf_off = sf_off            # the strands' tables, one after another (their sf are views of it)
        self.sf_flat = sf_all
        self.sf_len = np.diff(self.sf_off)
        self._derived: dict = {}          # tables made from the bank when first needed; shared by its copies

    def pi0_tables(self) -> tuple[np.ndarray, np.ndarray]:
        """The tables pi0's sample is binned with (made once per bank): each motif-strand's 4-column score
        blocks ``(J, ceil(max_width / 4), 256)`` and, for each entry of the p-value table ``sf_flat``, the
        number of lambdas of :data:`~seqconv.scan.pvalues.PI0_GRID` at or below it (uint8; see
        :mod:`seqconv._scan_kernels`)."""
        J, W = len(self.widths), self.max_width

        def fits(t):
            return (set(t) == {"blocks", "bins"} and t["blocks"].dtype == np.int32
                    and t["blocks"].shape == (J, -(-W // 4), 256) and t["bins"].dtype == np.uint8
                    and t["bins"].shape == self.sf_flat.shape)

        t = self.stored("pi0", lambda: {"blocks": kern.block_tables4(self.int_table, self.widths),
                                         "bins": kern.pi0_bins(self.sf_flat, self.sf_off, PI0_GRID)}, fits)
        return t["blocks"], t["bins"]

    def derived(self, name: str, make):
        """``make()``, made once per bank (and kept with it in the cache): e.g. the CPU engine's index."""
        value = self._derived.get(name)
        if value is None:
            value = self._derived[name] = make()
        return value

    def stored(self, name: str, make, check) -> dict[str, np.ndarray]:
        """``make()`` (a dict of arrays), made once per bank and, when the bank has a ``key``, kept in the
        disk cache (:func:`seqconv.scan.diskcache.fetch`; arrays read back must pass ``check``)."""
        if self.key is None:
            return self.derived(name, make)
        return self.derived(name, lambda: diskcache.fetch(self.key, name, make, check))

    def groups(self, dtype_exact_limit: int):
        """Motif-strands grouped by width: ``(W, columns, weights (5 W, n), exact)`` per group.

        Strands whose threshold cannot be reached are left out; ``columns`` is -1 for padding.
        """
        order = np.argsort(self.widths, kind="stable")
        groups, cur = [], []
        for j in order:
            if cur and self.widths[j] > max(self.widths[cur[0]] * 1.3, self.widths[cur[0]] + 2):
                groups.append(cur)
                cur = []
            if np.isfinite(self.thr[j]):
                cur.append(int(j))
        if cur:
            groups.append(cur)
        out = []
        for g in groups:
            if not g:
                continue
            W = int(self.widths[g].max())
            n = -(-len(g) // 8) * 8  # padded to a multiple of 8 columns (aligned rows)
            # channels A, C, G, T and a constant 1 that carries minus the threshold, spread over
            # the W positions in integer parts the filter dtype holds exactly
            weights = np.zeros((W, 5, n), dtype=np.float64)
            thr = np.full(n, float(W * dtype_exact_limit))  # padding columns: never reached
            for c, j in enumerate(g):
                st = self.strands[j]
                weights[:st.width, :4, c] = st.filt
                thr[c] = self.thr[j] - (1 if self.method == "memelite" else 0)
            weights = np.maximum(weights, -dtype_exact_limit)  # raising a weight keeps an upper bound
            q = -thr
            weights[:, 4, :] = np.floor(q / W)
            weights[: 1, 4, :] += q - np.floor(q / W) * W
            exact = np.abs(weights).max() <= dtype_exact_limit
            weights += 0.0  # no -0.0: an all-zero sum must stay +0.0 for the sign test
            out.append((W, np.concatenate([np.asarray(g), np.full(n - len(g), -1)]).astype(np.int64),
                        weights.reshape(W * 5, n), exact))
        return out



#: Banks kept per process by :func:`bank_for` (~150 MB each for the 879 JASPAR vertebrate motifs).
CACHE_SIZE = 2
_CACHE: OrderedDict[str, _Bank] = OrderedDict()
_CACHE_LOCK = threading.Lock()


def _bank_key(motifs: list[Motif], options: ScanOptions, background) -> str:
    """A digest of everything a bank's tables depend on: each motif's id, name, probabilities, site count and
    background, the resolved background, and the options threshold, strands, pseudocount, grid and method."""
    h = hashlib.blake2b(digest_size=20)
    h.update(repr((options.threshold, options.strands, options.pseudocount, options.grid, options.method,
                   len(motifs))).encode())
    h.update(b"motif" if background is None else np.asarray(background, dtype=np.float64).tobytes())
    for m in motifs:
        h.update(repr((m.id, m.name, m.n_sites, m.width)).encode())
        h.update(m.probabilities.tobytes())
        h.update(np.asarray(m.background, dtype=np.float64).tobytes())
    return h.hexdigest()


def bank_for(motifs: list[Motif], options: ScanOptions, background) -> _Bank:
    """The bank of ``motifs`` under ``options`` (see :class:`_Bank`), from the process's cache when the same
    content was scanned before (the tables are equal: built from the same numbers the same way), else from
    the disk cache (:mod:`seqconv.scan.diskcache`, banks of :data:`~seqconv.scan.diskcache.MIN_MOTIFS` motifs
    or more), else built (and stored there).  The bank returned holds ``motifs`` themselves; its arrays are
    shared with the cached one and must not be written."""
    key = _bank_key(motifs, options, background)
    with _CACHE_LOCK:
        bank = _CACHE.get(key)
        if bank is not None:
            _CACHE.move_to_end(key)
    if bank is None:
        on_disk = len(motifs) >= diskcache.MIN_MOTIFS and diskcache.folder() is not None
        tables = (diskcache.fetch(key, "bank", lambda: _tables(motifs, options, background),
                                  lambda t: _valid_tables(t, motifs)) if on_disk else None)
        bank = _Bank(motifs, options, background, tables, key=key if on_disk else None)
        with _CACHE_LOCK:
            _CACHE[key] = bank
            while len(_CACHE) > CACHE_SIZE:
                _CACHE.popitem(last=False)
    view = copy.copy(bank)        # shares the arrays and the derived tables, holds the caller's motifs
    view.motifs = motifs
    return view


def clear_cache() -> None:
    """Forget the banks kept by :func:`bank_for` (frees their memory)."""
    with _CACHE_LOCK:
        _CACHE.clear()
