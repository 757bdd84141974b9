"""The simplest model worth beating: one conv layer, global max pool, reverse-complement averaging.

A bare PyTorch loop, written out on purpose without any seqconv machinery (no augmentation, no
schedule, no class weights): it is the "15-line CNN" a user would write first, the arm every
seqconv architecture must beat by more than its confidence interval (issue 13).

    conv1d(4 -> 128, width 24) -> ReLU -> global max pool -> linear(128 -> 1)
    score(x) = (f(x) + f(revcomp(x))) / 2

Adam (lr 1e-3), batch 64, BCE with logits, at most ``epochs`` epochs; the epoch with the best
validation auPRC is kept (the same early stopping as the seqconv arms).
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import average_precision_score
from torch import nn


class PlainCNN(nn.Module):
    def __init__(self, filters: int = 128, width: int = 24):
        super().__init__()
        self.conv = nn.Conv1d(4, filters, width)
        self.out = nn.Linear(filters, 1)

    def one(self, x):
        return self.out(torch.relu(self.conv(x)).amax(-1))

    def forward(self, x):
        return (self.one(x) + self.one(x.flip(1, 2))) / 2    # A,C,G,T order: flipping channels complements


def _scores(net, X: np.ndarray, batch: int = 512) -> np.ndarray:
    net.eval()
    with torch.no_grad():
        return np.concatenate([net(torch.from_numpy(X[i:i + batch]).float())[:, 0].numpy()
                               for i in range(0, len(X), batch)])


def fit_plain(Xtr, ytr, Xva, yva, *, seed: int, epochs: int = 15, patience: int = 4, batch: int = 64):
    """Train :class:`PlainCNN`; ``X : (N, 4, L)`` uint8, ``y : (N,)``.  Returns ``(net, history)``."""
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = PlainCNN()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    Xt, yt = torch.from_numpy(np.ascontiguousarray(Xtr)), torch.from_numpy(np.asarray(ytr, np.float32))
    best, best_state, bad, hist = -1.0, None, 0, []
    for _ in range(epochs):
        net.train()
        for idx in torch.randperm(len(Xt), generator=g).split(batch):
            opt.zero_grad()
            loss = nn.functional.binary_cross_entropy_with_logits(net(Xt[idx].float())[:, 0], yt[idx])
            loss.backward()
            opt.step()
        ap = float(average_precision_score(yva, _scores(net, Xva)))
        hist.append(ap)
        if ap > best:
            best, bad, best_state = ap, 0, {k: v.clone() for k, v in net.state_dict().items()}
        else:
            bad += 1
            if bad >= patience:
                break
    net.load_state_dict(best_state)
    return net, hist


def score_plain(net, X) -> np.ndarray:
    """Logits ``(N,)`` of ``X : (N, 4, L)``."""
    return _scores(net, X)
