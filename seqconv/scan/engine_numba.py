"""The CPU engine: exact integer lookahead filtration with k-mer seeds (kernels in :mod:`seqconv._scan_kernels`)."""

from __future__ import annotations

import numpy as np

from seqconv import _scan_kernels as kern
from seqconv.scan.bank import _Bank
from seqconv.scan.hits import _decide
from seqconv.scan.records import _Stream

DEFAULT_BLOCK_NUMBA = 1 << 20  # positions per block


class _Lookahead:
    """CPU engine: exact integer lookahead filtration with k-mer seeds (numba, see
    :mod:`seqconv._scan_kernels`).  Calling it on a block returns the rescored hits (or None)."""

    CHUNK = 262144          # seed positions per parallel task (inverted motif-strands)
    SEGMENT = 1 << 18      # window starts per parallel task (dense motif-strands)
    CAP_MAX = 1 << 22      # largest first size of a task's hit buffer (a task that overflows it runs again)
    DENSE_RATE = 0.15      # seeds passing more often than this are tested at every window

    @staticmethod
    def supports(bank: _Bank) -> bool:
        """Whether the engine's packed tables hold this bank (else the torch engine runs)."""
        # the filter matrices are the integer scores, or (memelite) at most 1 above them
        return (len(bank.strands) < 1 << 16 and bank.max_width <= 120
                and (int(np.abs(bank.int_table).max()) + 1) * bank.max_width < 2 ** 28)

    #: the index's arrays (:meth:`_index`), as kept in the disk cache
    INDEX = frozenset({"lst_start", "ent", "dense", "ow", "ow2", "blk_off", "blk_col", "blk_tab", "blk_suf",
                       "full_off", "full_col", "full_val", "full_suf", "dense_need", "dtab", "dtab2", "narrow"})

    def __init__(self, bank: _Bank, threshold: float):
        self.kern = kern
        self.bank = bank
        if not self.supports(bank):
            raise ValueError("the lookahead engine takes fewer than 65,536 motif-strands, at most 120 wide, "
                             "with integer scores below 2**28 (use a larger bin_size, or engine='torch')")
        self.widths = bank.widths.astype(np.int64)
        self.fthr = self._thresholds(bank)
        ix = bank.stored("lookahead", lambda: self._index(bank), self._fits)
        for name in self.INDEX:                 # self.lst_start, self.ent, self.dense, self.ow, ... (see _index)
            setattr(self, name, ix[name])
        self.max_list = max(1, int(np.diff(self.lst_start).max()))
        live = np.flatnonzero(np.isfinite(bank.thr))
        self.max_ow = int(self.ow[live].max()) + 1 if live.size else 1
        self.int_table = bank.int_table
        self.float_table = bank.float_table
        # first sizes of the hit buffers: 8 times the expected hits of a task (a task holds CHUNK
        # positions of every inverted motif-strand, or SEGMENT positions of one dense one)
        rate = min(1.0, 8 * threshold)
        self.cap = int(min(self.CAP_MAX, 1024 + self.CHUNK * max(1, live.size) * rate))
        self.cap_dense = int(min(self.CAP_MAX, 1024 + self.SEGMENT * rate))

    @staticmethod
    def _thresholds(bank: _Bank) -> np.ndarray:
        """Each motif-strand's integer filter threshold ``(J,)`` int64 (2**30: unreachable)."""
        big = 2 ** 30
        reach = np.isfinite(bank.thr)
        return np.where(reach, np.nan_to_num(bank.thr, posinf=big) - (1 if bank.method == "memelite" else 0),
                        big).astype(np.int64)

    @classmethod
    def _index(cls, bank: _Bank) -> dict[str, np.ndarray]:
        """The engine's tables: the 8-mer seed index, the dense motif-strands' tables, the block layouts."""
        k = kern.K
        widths = bank.widths.astype(np.int64)
        offs = np.concatenate([[0], np.cumsum(widths)]).astype(np.int64)
        filt = np.concatenate([st.filt for st in bank.strands]).astype(np.int64).astype(np.int32)
        fthr = cls._thresholds(bank)
        live = np.flatnonzero(np.isfinite(bank.thr)).astype(np.int64)
        ow, need = kern.seeds(filt, offs, widths, fthr, k)
        lst_start, ent, dense = kern.build_index(filt, offs, widths, ow, need, fthr, live, cls.DENSE_RATE, k)
        dense = live[dense]
        ow, ow2 = kern.second_seeds(filt, offs, widths, ow, dense, k)
        (need, blk_off, blk_col, tab, blk_suf, full_off, full_col, full_val,
         full_suf) = kern.layouts(filt, offs, widths, fthr, ow, ow2, k)
        blk_tab = tab.astype(np.int16) if tab.size and np.abs(tab).max() < 2 ** 15 else tab
        dense_need = need[dense].astype(np.int64)
        dtab = kern.build_dense_tables(filt, offs, widths, ow, dense, k)
        # second seed's table: all 0 (and 0 for N: the first seed's N entry decides) when there is none
        dtab2 = kern.build_dense_tables(filt, offs, widths, ow2, dense, k)
        dtab2[ow2[dense] == ow[dense]] = 0
        # int16 tables when the scores allow (halves the cache they take): N's entry is clamped,
        # still far below any need
        lo16, hi16 = -(2 ** 15), 2 ** 15 - 1
        fits = (dense_need.size == 0
                or (np.abs(np.where(dtab > kern._NEG, dtab, 0)).max() < 2 ** 13
                    and np.abs(np.where(dtab2 > kern._NEG, dtab2, 0)).max() < 2 ** 13
                    and dense_need.min() > -(2 ** 13)))
        if fits:
            dtab = np.clip(dtab, lo16, hi16).astype(np.int16)
            dtab2 = np.clip(dtab2, lo16, hi16).astype(np.int16)
        narrow = live[widths[live] < k]
        narrow = narrow[np.argsort(widths[narrow], kind="stable")]
        return {"lst_start": lst_start, "ent": ent.ravel(), "dense": dense, "ow": ow, "ow2": ow2,
                "blk_off": blk_off, "blk_col": blk_col, "blk_tab": blk_tab, "blk_suf": blk_suf,
                "full_off": full_off, "full_col": full_col, "full_val": full_val, "full_suf": full_suf,
                "dense_need": dense_need, "dtab": dtab, "dtab2": dtab2, "narrow": narrow}

    def _fits(self, ix: dict[str, np.ndarray]) -> bool:
        """Whether an index read from the disk cache has the arrays :meth:`_index` makes, sized for the bank:
        its per-strand arrays one entry per motif-strand, its strand numbers within bounds."""
        J = len(self.widths)
        if set(ix) != self.INDEX or any(v.ndim != (2 if k in ("dtab", "dtab2") else 1) for k, v in ix.items()):
            return False
        strands = [ix[k] for k in ("dense", "narrow")]
        return bool(len(ix["ow"]) == len(ix["ow2"]) == J and len(ix["lst_start"]) == 4 ** kern.K + 2
                    and len(ix["dense_need"]) == len(ix["dense"]) == len(ix["dtab"]) == len(ix["dtab2"])
                    and all(a.size == 0 or (a.min() >= 0 and a.max() < J) for a in strands)
                    and all(ix[k].dtype.kind == "i" for k in ix))

    def candidates(self, codes: np.ndarray, n_owned: int) -> tuple[np.ndarray, np.ndarray]:
        """``(pos, col)``: every window start below ``n_owned`` and motif-strand that pass the filter."""
        kern = self.kern
        k = kern.K
        kc, k4, k3, run = kern.kmer_codes(codes, k, self.bank.max_width + 1)
        pos, col = [], []

        def inverted(ids, cap, out_x, out_m, counts):
            kern.scan_block(codes, kc, k4, k3, run, n_owned, self.CHUNK, ids, cap, k,
                            self.ow, self.fthr, self.blk_off, self.blk_col, self.blk_tab, self.blk_suf,
                            self.lst_start, self.ent, self.max_ow, self.max_list,
                            self.narrow, self.widths, self.full_off, self.full_col, self.full_val, self.full_suf,
                            out_x, out_m, counts)

        def dense(ids, cap, out_x, out_m, counts):
            kern.scan_dense(kc, k4, n_owned, self.SEGMENT, ids, cap, self.ow, self.ow2, self.fthr, self.blk_off,
                            self.blk_col, self.blk_tab, self.blk_suf, self.dense, self.dense_need, self.dtab,
                            self.dtab2, out_x, out_m, counts)

        n_inv = -(-min(n_owned + self.max_ow, len(codes)) // self.CHUNK)
        n_dense = len(self.dense) * -(-n_owned // self.SEGMENT)
        for fn, n_tasks, cap0 in ((inverted, n_inv, self.cap), (dense, n_dense, self.cap_dense)):
            todo = [(np.arange(n_tasks, dtype=np.int64), cap0)] if n_tasks else []
            while todo:
                ids, cap = todo.pop()
                out_x = np.empty((ids.size, cap), dtype=np.int32)
                out_m = np.empty((ids.size, cap), dtype=np.int32)
                counts = np.zeros(ids.size, dtype=np.int64)
                fn(ids, cap, out_x, out_m, counts)
                ok = counts <= cap
                for r in np.flatnonzero(ok & (counts > 0)):
                    pos.append(out_x[r, :counts[r]])
                    col.append(out_m[r, :counts[r]])
                # a buffer overflowed: run each of those tasks again with a buffer that fits
                for i in np.flatnonzero(~ok):
                    todo.append((ids[i:i + 1], int(counts[i])))
        if not pos:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(pos).astype(np.int64), np.concatenate(col).astype(np.int64)

    def __call__(self, stream: _Stream, g0: int, codes: np.ndarray, n_owned: int):
        pos, col = self.candidates(codes, n_owned)
        if not pos.size:
            return None
        s_int, s_float, has_n = self.kern.rescore(codes, pos, col, self.widths, self.int_table, self.float_table)
        return _decide(self.bank, stream, g0, pos, col, s_int, s_float, has_n, None, codes=codes)
