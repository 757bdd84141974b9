"""Candidate windows -> hits: exact integer and float scores, N check, decision, p-values, sites."""

from __future__ import annotations

import numpy as np

from seqconv import _scan_kernels as kern
from seqconv.scan.bank import _Bank
from seqconv.scan.records import _Stream


def _rescore(bank: _Bank, stream: _Stream, g0: int, codes_np: np.ndarray, pos: np.ndarray, col: np.ndarray):
    """Exact scores, N check, hit decision and p-values for the candidate windows of one block."""
    W_all = bank.max_width
    k = np.arange(W_all)
    idx = np.minimum(pos[:, None] + k[None], len(codes_np) - 1)
    wcodes = codes_np[idx].astype(np.int64)                            # (n, W_all)
    inside = k[None] < bank.widths[col][:, None]
    has_n = ((wcodes == 4) & inside).any(axis=1)
    s_int = bank.int_table[col[:, None], k[None], wcodes].sum(axis=1)   # 0 past each width
    # summed left to right, as the numba engine does, so that both engines give the same floats
    s_float = np.cumsum(bank.float_table[col[:, None], k[None], wcodes], axis=1)[:, -1]
    return _decide(bank, stream, g0, pos, col, s_int, s_float, has_n, wcodes)


def _decide(bank: _Bank, stream: _Stream, g0: int, pos, col, s_int, s_float, has_n, wcodes, codes=None):
    """Hit decision (FIMO: integer score >= threshold; memelite: float score > its threshold) and p-values.

    The matched sites are read from ``wcodes`` (candidates x width) or, when it is None, from the
    block's ``codes``."""
    if bank.method == "memelite":
        hit = ~has_n & (s_float > bank.thr_float[col])
        bins = np.trunc(s_float * bank.scale[col]).astype(np.int64)
    else:
        hit = ~has_n & (s_int >= bank.thr[col])
        bins = s_int
    if not hit.any():
        return None
    if not hit.all():
        pos, col, bins, s_float = pos[hit], col[hit], bins[hit], s_float[hit]
        if wcodes is not None:
            wcodes = wcodes[hit]
    kk = np.clip(bins - bank.smin[col], 0, bank.sf_len[col] - 1)
    pidx = bank.sf_off[col] + kk
    pv = bank.sf_flat[pidx]
    seq_idx, local = stream.locate(g0 + pos)
    return {"col": col, "seq": seq_idx, "start": local, "score": s_float, "p_value": pv, "pidx": pidx,
            "matched": _matched(wcodes, bank.widths[col], bank.minus_of[col], codes=codes, pos=pos)}


def _matched(wcodes, widths: np.ndarray, minus: np.ndarray, *, codes=None, pos=None):
    """Each hit's site read on its strand: the letters of all sites, concatenated (uint8), from the
    block's ``codes`` at ``pos`` or from the windows' codes ``wcodes``."""
    if wcodes is not None:  # the windows' rows, one after another, each site at its row's start
        codes = np.ascontiguousarray(wcodes).reshape(-1)
        pos = np.arange(len(wcodes), dtype=np.int64) * wcodes.shape[1]
    return kern.matched_from_codes(codes, pos, widths.astype(np.int64), minus)[0]
