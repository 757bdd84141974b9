"""Seed ensembles shipped as one model: K copies of an architecture, their logits averaged.

An ensemble is an ordinary :class:`~seqconv.models.SeqModel` whose config has ``members = K``:
its trunk holds one :class:`Parallel` block (the K member trunks side by side, their features
concatenated) and its head is an :class:`EnsembleHead` (one dense head per member, reading its
member's features; the logits are averaged).  It saves, loads, predicts, evaluates and takes a
new head (one per member) like any model; :func:`ensemble` builds one from K trained models.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from seqconv.errors import InputError


class Parallel(nn.Module):
    """K trunks applied to the same input; output ``(N, sum_k F_k)``, each member's features flattened."""

    def __init__(self, members):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([m(x).flatten(1) for m in self.members], dim=1)

    @property
    def convs(self) -> list[nn.Conv1d]:
        return [c for m in self.members for c in m.first_convs]


class EnsembleHead(nn.Module):
    """One head per member, each on its member's slice of the features; logits averaged."""

    def __init__(self, heads, sizes):
        super().__init__()
        if len(heads) != len(sizes) or len(heads) < 2:
            raise ValueError("an ensemble head needs one feature size per head, and at least 2 heads")
        if len({h.n_tasks for h in heads}) != 1:
            raise ValueError("every member head must have the same number of outputs")
        self.members = nn.ModuleList(heads)
        self.sizes = [int(s) for s in sizes]
        self.n_tasks = heads[0].n_tasks

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        parts = torch.split(h.flatten(1), self.sizes, dim=1)
        return torch.stack([head(p) for head, p in zip(self.members, parts)]).mean(0)


def is_ensemble(model) -> bool:
    return getattr(getattr(model, "config", None), "members", 1) > 1


def ensemble(models, *, description: str | None = None):
    """One model that averages the logits of ``models`` (e.g. the same recipe trained with K seeds).

    Parameters
    ----------
    models : sequence of SeqModel
        Same architecture config (up to nothing), same tasks, strand and encoding; K >= 2.
    description : str, optional
        Default: the first member's, marked as an ensemble.

    Returns
    -------
    SeqModel
        Config ``members = K``; card of the first member with ``training["members"]`` listing
        each member's seed, best epoch and validation metrics.  Member weights are copied.
    """
    from seqconv.models.architectures import SeqModel, Trunk, member_sizes

    models = list(models)
    if len(models) < 2:
        raise InputError("an ensemble needs at least 2 models")
    first = models[0]
    if any(is_ensemble(m) for m in models):
        raise InputError("the members of an ensemble must be single models")
    for k, m in enumerate(models[1:], start=1):
        if m.config != first.config:
            raise InputError(f"member {k} has another architecture config than member 0: {m.config} vs {first.config}")
        for what in ("tasks", "strand", "encoding"):
            if getattr(m.card, what) != getattr(first.card, what):
                raise InputError(f"member {k} has other {what} than member 0: "
                                 f"{getattr(m.card, what)} vs {getattr(first.card, what)}")
    trunks = [copy.deepcopy(m.trunk) for m in models]
    block = Parallel(trunks)
    trunk = Trunk(block)
    head = EnsembleHead([copy.deepcopy(m.head) for m in models], member_sizes(block, first.input_length))
    config = first.config.replace(members=len(models))
    t = dict(first.card.training or {})
    t["members"] = [{"seed": (m.card.training or {}).get("seed", (m.card.training or {}).get("config", {}).get("seed")),
                     "best_epoch": (m.card.training or {}).get("best_epoch"),
                     "valid": (m.card.metrics or {}).get("valid")} for m in models]
    card = first.card.replace(training=t, metrics={},
                              description=description or f"ensemble of {len(models)}: {first.card.description}")
    out = SeqModel(trunk, head, config, card)
    return out.eval()
