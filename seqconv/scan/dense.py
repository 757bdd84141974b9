"""Dense motif score tracks (torch convolutions): every motif's log-odds at every position."""

from __future__ import annotations

import numpy as np
import torch

from seqconv.errors import InputError
from seqconv.motifs.core import check_background
from seqconv.motifs.io import read_motifs
from seqconv.scan.engine_torch import _device
from seqconv.scan.records import _records

__all__ = ["score_matrix"]

def score_matrix(sequences, motifs, *, strands: str = "both", background="uniform", pseudocount: float = 0.1,
                 ids=None, device=None) -> np.ndarray:
    """Dense log-odds score of every motif at every position (max over strands).

    Parameters
    ----------
    sequences : list of str of equal length, or one-hot ``X : (N, 4, L)``
    motifs : motif file, ``"jaspar"``, Motif or list of Motif
    strands : {"both", "+", "-"}

    Returns
    -------
    S : (N, M, L) float32
        ``S[n, m, i]`` = score (bits) of motif ``m`` on the window starting at
        ``i`` of sequence ``n``; NaN where the window runs past the end or holds N.
    """
    motif_list = read_motifs(motifs)
    if strands not in ("both", "+", "-"):
        raise InputError(f"strands must be 'both', '+' or '-', got {strands!r}")
    recs = list(_records(sequences, None, ids))
    if not recs:
        raise InputError("no sequences")
    L = len(recs[0][1])
    if any(len(c) != L for _, c in recs):
        raise InputError("score_matrix needs sequences of equal length (pad or scan them one by one)")
    if isinstance(background, str) and background != "uniform":
        raise InputError(f"score_matrix takes background=None, 'uniform' or 4 frequencies, got {background!r}")
    bg = None if background is None or isinstance(background, str) else check_background(background)
    dev = _device(device)
    codes = torch.as_tensor(np.stack([c for _, c in recs]).astype(np.int64), device=dev)  # (N, L)
    onehot = torch.cat([torch.eye(4), torch.zeros(1, 4)]).to(dev)[codes].permute(0, 2, 1)  # (N, 4, L)
    isn = (codes == 4).to(torch.float32)[:, None]
    out = torch.full((len(recs), len(motif_list), L), float("nan"), device=dev)
    for k, m in enumerate(motif_list):
        mats = []
        if strands in ("both", "+"):
            mats.append(m.log_odds(pseudocount, bg))
        if strands in ("both", "-"):
            mats.append(m.reverse_complement().log_odds(pseudocount, bg))
        if m.width > L:
            continue
        w = torch.as_tensor(np.stack(mats).transpose(0, 2, 1), dtype=torch.float32, device=dev)
        s = torch.nn.functional.conv1d(onehot, w).amax(dim=1)  # (N, L - W + 1)
        nmask = torch.nn.functional.conv1d(isn, torch.ones(1, 1, m.width, device=dev))[:, 0] > 0
        out[:, k, :s.shape[1]] = torch.where(nmask, float("nan"), s)
    return out.cpu().numpy()
