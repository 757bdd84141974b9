"""What a model (or a backbone) knows about itself: the card that travels with it.

A :class:`ModelCard` is carried by every :class:`~seqconv.models.SeqModel` as ``model.card``
and by every :class:`~seqconv.models.Backbone`; :mod:`seqconv.modelfile` writes it as
``model.json`` next to the weights and reads it back.  It holds

* ``tasks``: one name per output (TF);
* ``strand``: ``"both"`` (the logit is the mean over the forward and the reverse-complement
  input) or ``"forward"``;
* ``encoding``: how letters other than A, C, G, T become one-hot columns, the same at training
  and at prediction time: ``{"n": "zero", "iupac": "zero"}`` (an N or an IUPAC code is a zero
  column: the policy every bundled model was trained with) or ``"iupac": "uniform"``
  (R = 0.5 A + 0.5 G ...);
* ``negatives``: what the model learned to tell its positives from (``"genomic background"``,
  ``"dinucleotide shuffles"``, ``"another TF"``): a binding model versus a discriminator;
* ``training``: provenance (datasets, chromosomes or sequence hashes of each split, config, seed);
* ``transfer``: for a model made by :mod:`seqconv.transfer`, the backbone, mode and both cohorts;
* ``metrics``: validation / test metrics; ``description``.

The architecture and input width are not stored here: they are the model's own config
(``model.config``); the file format adds them (``architecture``, ``input_width``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

ALPHABET = "ACGT"
STRANDS = ("both", "forward")
KINDS = ("model", "backbone")
ENCODING_POLICIES = ("zero", "uniform")
#: the policy of every model trained before the encoding was recorded (``Dataset.X`` zeroed N and IUPAC codes)
DEFAULT_ENCODING = {"n": "zero", "iupac": "zero"}


def _check_encoding(enc) -> dict:
    enc = {**DEFAULT_ENCODING, **dict(enc or {})}
    if set(enc) != {"n", "iupac"}:
        raise ValueError(f"encoding takes keys 'n' and 'iupac', got {sorted(enc)}")
    if enc["n"] != "zero":
        raise ValueError(f"encoding 'n' must be 'zero', got {enc['n']!r}")
    if enc["iupac"] not in ENCODING_POLICIES:
        raise ValueError(f"encoding 'iupac' must be one of {ENCODING_POLICIES}, got {enc['iupac']!r}")
    return enc


@dataclass(frozen=True)
class ModelCard:
    """Everything about a model except its weights and architecture (JSON-serialisable)."""

    tasks: tuple = ()
    strand: str = "both"
    encoding: dict = field(default_factory=lambda: dict(DEFAULT_ENCODING))
    negatives: str = ""
    alphabet: str = ALPHABET
    kind: str = "model"
    training: dict = field(default_factory=dict)
    transfer: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    description: str = ""

    def __post_init__(self):
        object.__setattr__(self, "tasks", tuple(str(t) for t in self.tasks))
        object.__setattr__(self, "encoding", _check_encoding(self.encoding))
        if self.strand not in STRANDS:
            raise ValueError(f"strand must be one of {STRANDS}, got {self.strand!r}")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.alphabet != ALPHABET:
            raise ValueError(f"alphabet must be {ALPHABET!r} (the channel order), got {self.alphabet!r}")
        if len(set(self.tasks)) != len(self.tasks):
            raise ValueError(f"task names must be unique, got {list(self.tasks)}")

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["tasks"] = list(self.tasks)
        return d

    def replace(self, **changes) -> ModelCard:
        """A copy with some fields changed (cards are frozen)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, d: dict) -> ModelCard:
        """Build from a ``model.json`` dict; keys the card does not hold are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def split_summary(card: ModelCard) -> str:
    """Where a card's test metrics come from, in a few words (e.g. ``held-out chr8,chr9``)."""
    t = card.training or {}
    split = t.get("split") or {}
    if not isinstance(split, dict) or not split:
        test = (t.get("splits") or {}).get("test") or {}
        chroms = test.get("chromosomes") if isinstance(test, dict) else None
        return f"held-out {','.join(chroms)}" if chroms else ""
    scheme = str(split.get("scheme", ""))
    if scheme == "chromosome" and split.get("test"):
        return f"held-out {','.join(split['test'])}"
    if scheme == "given":
        return f"given: {split.get('source', 'the benchmark test set')}"
    return scheme


def test_interval(card: ModelCard, metric: str = "auroc") -> tuple[float, float] | None:
    """The 95% interval of a single-task card's test ``metric`` (``None`` if not recorded or multi-task)."""
    rows = [r for r in (card.metrics or {}).get("test") or [] if isinstance(r, dict) and metric in r]
    if len(rows) != 1 or f"{metric}_lo" not in rows[0]:
        return None
    return float(rows[0][f"{metric}_lo"]), float(rows[0][f"{metric}_hi"])
