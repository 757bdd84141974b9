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

    def __init__(self, bank: _Bank, threshold: float):
        self.kern = kern
        self.bank = bank
        k = kern.K
        widths = bank.widths.astype(np.int64)
        offs = np.concatenate([[0], np.cumsum(widths)]).astype(np.int64)
        filt = np.concatenate([st.filt for st in bank.strands]).astype(np.int64)
        if not self.supports(bank):
            raise ValueError("the lookahead engine takes fewer than 65,536 motif-strands, at most 120 wide, "
                             "with integer scores below 2**28 (use a larger bin_size, or engine='torch')")
        filt = filt.astype(np.int32)
        reach = np.isfinite(bank.thr)
        big = 2 ** 30
        fthr = np.where(reach, np.nan_to_num(bank.thr, posinf=big) - (1 if bank.method == "memelite" else 0),
                        big).astype(np.int64)
        live = np.flatnonzero(reach).astype(np.int64)
        ow, need = kern.seeds(filt, offs, widths, fthr, k)
        self.lst_start, ent, dense = kern.build_index(filt, offs, widths, ow, need, fthr, live,
                                                           self.DENSE_RATE, k)
        self.dense = live[dense]
        self.ent = ent.ravel()
        self.max_list = max(1, int(np.diff(self.lst_start).max()))
        ow, ow2 = kern.second_seeds(filt, offs, widths, ow, self.dense, k)
        (need, self.blk_off, self.blk_col, tab, self.blk_suf, self.full_off, self.full_col, self.full_val,
         self.full_suf) = kern.layouts(filt, offs, widths, fthr, ow, ow2, k)
        self.blk_tab = tab.astype(np.int16) if tab.size and np.abs(tab).max() < 2 ** 15 else tab
        self.ow, self.ow2, self.fthr, self.widths = ow, ow2, fthr, widths
        self.dense_need = need[self.dense].astype(np.int64)
        self.dtab = kern.build_dense_tables(filt, offs, widths, ow, self.dense, k)
        # second seed's table: all 0 (and 0 for N: the first seed's N entry decides) when there is none
        self.dtab2 = kern.build_dense_tables(filt, offs, widths, ow2, self.dense, k)
        self.dtab2[ow2[self.dense] == ow[self.dense]] = 0
        # int16 tables when the scores allow (halves the cache they take): N's entry is clamped,
        # still far below any need
        lo16, hi16 = -(2 ** 15), 2 ** 15 - 1
        fits = (self.dense_need.size == 0
                or (np.abs(np.where(self.dtab > kern._NEG, self.dtab, 0)).max() < 2 ** 13
                    and np.abs(np.where(self.dtab2 > kern._NEG, self.dtab2, 0)).max() < 2 ** 13
                    and self.dense_need.min() > -(2 ** 13)))
        if fits:
            self.dtab = np.clip(self.dtab, lo16, hi16).astype(np.int16)
            self.dtab2 = np.clip(self.dtab2, lo16, hi16).astype(np.int16)
        narrow = live[widths[live] < k]
        self.narrow = narrow[np.argsort(widths[narrow], kind="stable")]
        self.max_ow = int(ow[live].max()) + 1 if live.size else 1
        self.int_table = bank.int_table
        self.float_table = bank.float_table
        # first sizes of the hit buffers: 8 times the expected hits of a task (a task holds CHUNK
        # positions of every inverted motif-strand, or SEGMENT positions of one dense one)
        rate = min(1.0, 8 * threshold)
        self.cap = int(min(self.CAP_MAX, 1024 + self.CHUNK * max(1, live.size) * rate))
        self.cap_dense = int(min(self.CAP_MAX, 1024 + self.SEGMENT * rate))

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
