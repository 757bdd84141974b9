"""Heads: map the trunk's features to ``(N, T)`` logits, one per task (TF)."""

from __future__ import annotations

import torch
from torch import nn


class DenseHead(nn.Module):
    """Flatten -> [Linear -> ReLU -> Dropout] -> Linear(T).

    Parameters
    ----------
    in_features : int
        Size of the flattened trunk output (``C`` for a pooled vector, ``C * L'`` for a map).
    n_tasks : int
        Number of outputs ``T`` (1 = single task; one logit per TF otherwise).
    hidden : int
        Width of the hidden layer; 0 = a single linear layer.
    dropout : float
    """

    def __init__(self, in_features: int, n_tasks: int, *, hidden: int = 32, dropout: float = 0.0):
        super().__init__()
        if n_tasks < 1:
            raise ValueError(f"n_tasks must be >= 1, got {n_tasks}")
        layers: list[nn.Module] = [nn.Flatten()]
        if hidden:
            layers += [nn.Linear(in_features, hidden), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            layers.append(nn.Linear(hidden, n_tasks))
        else:
            if dropout:
                layers.append(nn.Dropout(dropout))
            layers.append(nn.Linear(in_features, n_tasks))
        self.net = nn.Sequential(*layers)
        self.n_tasks = n_tasks

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C[, L']) -> (N, T)`` logits."""
        return self.net(x)

    @property
    def output(self) -> nn.Linear:
        """The last linear layer (replace it to re-target the head to new tasks)."""
        return self.net[-1]
