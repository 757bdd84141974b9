"""Named architectures, their JSON-serialisable configs, and :func:`build_model`.

Every model is a :class:`SeqModel` = ``trunk`` (the backbone, ending in a pooled
feature vector or a feature map) + ``head`` (a :class:`~seqconv.models.heads.DenseHead`
producing ``(N, T)`` logits).  Transfer-learning code only touches these two.

=============  ==============================================================
``deepbind``   one wide conv layer (+ optional max-pool), global max pool,
               small dense head (Alipanahi et al. 2015)
``basset``     three conv/BN/ReLU/max-pool blocks, flatten, dense head
               (Kelley et al. 2016, with configurable, by default compact, widths)
``resnet``     multi-width first layer, then a stack of dilated residual
               blocks, global max+avg pool, dense head
=============  ==============================================================
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from seqconv.errors import InputError
from seqconv.models.blocks import ACTIVATIONS, ConvBlock, DilatedResidualBlock, GlobalPool, MultiWidthConv
from seqconv.models.card import ModelCard
from seqconv.models.ensemble import EnsembleHead, Parallel
from seqconv.models.heads import DenseHead


def _tuple_fields(obj, names):
    for name in names:
        object.__setattr__(obj, name, tuple(int(v) for v in getattr(obj, name)))


class _Config:
    arch: ClassVar[str] = ""

    def to_dict(self) -> dict:
        """JSON-ready dict, including ``"arch"``."""
        d = {"arch": self.arch}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if (f.name, v) in (("members", 1), ("rc_share", False)):  # cards read as before these options existed
                continue
            d[f.name] = list(v) if isinstance(v, tuple) else v
        return d

    def replace(self, **changes):
        """A copy with some fields changed (configs are frozen)."""
        return dataclasses.replace(self, **changes)

    def _check(self):
        if self.n_tasks < 1:
            raise ValueError(f"{self.arch}: n_tasks must be >= 1, got {self.n_tasks}")
        if self.input_length < 1:
            raise ValueError(f"{self.arch}: input_length must be >= 1, got {self.input_length}")
        if self.members < 1:
            raise ValueError(f"{self.arch}: members must be >= 1, got {self.members}")


@dataclass(frozen=True)
class DeepBindConfig(_Config):
    """``deepbind``: conv(filters x kernel_size) -> [max-pool pool_size] -> global pool -> dense.

    ``pool_size`` is the first-layer max-pool (0 = none, only the global pool).
    """

    arch: ClassVar[str] = "deepbind"
    n_tasks: int = 1
    input_length: int = 101
    filters: int = 64
    kernel_size: int = 23
    pool_size: int = 0
    global_pool: str = "max"
    hidden: int = 32
    dropout: float = 0.25
    members: int = 1

    def __post_init__(self):
        self._check()


@dataclass(frozen=True)
class BassetConfig(_Config):
    """``basset``: three ConvBlocks (conv/BN/ReLU/max-pool), flatten, dense head.

    ``pool_sizes[0]`` is the first-layer max-pool size.
    """

    arch: ClassVar[str] = "basset"
    n_tasks: int = 1
    input_length: int = 101
    filters: tuple = (64, 96, 128)
    kernel_sizes: tuple = (19, 11, 7)
    pool_sizes: tuple = (3, 4, 4)
    conv_dropout: float = 0.1
    hidden: int = 256
    dropout: float = 0.3
    members: int = 1

    def __post_init__(self):
        _tuple_fields(self, ("filters", "kernel_sizes", "pool_sizes"))
        if not (len(self.filters) == len(self.kernel_sizes) == len(self.pool_sizes) >= 1):
            raise ValueError("basset: filters, kernel_sizes and pool_sizes must have the same length (>= 1)")
        self._check()


@dataclass(frozen=True)
class ResNetConfig(_Config):
    """``resnet``: multi-width first layer (``len(first_widths) * first_filters`` channels,
    ``first_activation`` relu or exp, max-pool ``pool_size``), one dilated residual block per entry of ``dilations``,
    global pool, dense head.

    ``rc_share``: the first layer's filters come in reverse-complement pairs (W, RC(W)) sharing
    their parameters (:class:`~seqconv.models.blocks.RCPairs`; ``first_filters`` even, widths odd):
    half the first-layer parameters and an RC-equivariant first convolution; later layers unchanged."""

    arch: ClassVar[str] = "resnet"
    n_tasks: int = 1
    input_length: int = 101
    first_widths: tuple = (7, 15, 25)
    first_filters: int = 32
    first_activation: str = "relu"
    pool_size: int = 2
    kernel_size: int = 3
    dilations: tuple = (1, 2, 4, 8)
    global_pool: str = "maxavg"
    conv_dropout: float = 0.1
    hidden: int = 64
    dropout: float = 0.3
    members: int = 1
    rc_share: bool = False

    def __post_init__(self):
        _tuple_fields(self, ("first_widths", "dilations"))
        if not self.first_widths:
            raise ValueError("resnet: first_widths must not be empty")
        if self.rc_share and (self.first_filters % 2 or any(w % 2 == 0 for w in self.first_widths)):
            raise ValueError(f"resnet: rc_share needs an even first_filters and odd first_widths (RC pairs, "
                             f"centred filters), got {self.first_filters} and {list(self.first_widths)}")
        if self.first_activation not in ACTIVATIONS:
            raise ValueError(f"resnet: first_activation must be one of {ACTIVATIONS}, got {self.first_activation!r}")
        self._check()


#: architecture name -> config class
ARCHITECTURES: dict[str, type] = {c.arch: c for c in (DeepBindConfig, BassetConfig, ResNetConfig)}


class Trunk(nn.Module):
    """A sequential backbone; ``first_convs`` lists the first layer's ``nn.Conv1d`` module(s)."""

    def __init__(self, *layers: nn.Module):
        super().__init__()
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)

    @property
    def first_convs(self) -> list[nn.Conv1d]:
        first = self.layers[0]
        return list(first.convs) if isinstance(first, (MultiWidthConv, Parallel)) else [first.conv]


def default_tasks(n: int) -> tuple:
    """``task0 .. task{n-1}``: the names of a model's outputs until it is given real ones."""
    return tuple(f"task{i}" for i in range(n))


class _Described:
    """What a model and a backbone both answer from their config and card."""

    @property
    def arch(self) -> str:
        return self.config.arch

    @property
    def input_length(self) -> int:
        return self.config.input_length

    @property
    def encoding(self) -> dict:
        """How N and IUPAC codes are one-hot encoded for this network (training and prediction)."""
        return dict(self.card.encoding)


def _seeded(seed: int | None, make):
    """``make()`` with torch's RNG seeded by ``seed`` in a forked state (the global RNG is left as it was);
    ``seed=None``: from the global RNG."""
    if seed is None:
        return make()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return make()


class SeqModel(_Described, nn.Module):
    """``trunk`` + ``head``: ``(N, 4, L)`` float one-hot -> ``(N, T)`` logits; it knows what it is.

    Attributes
    ----------
    trunk : Trunk
        The backbone (everything but the head).
    head : DenseHead
    config : DeepBindConfig | BassetConfig | ResNetConfig
        The architecture (``input_length``, ``n_tasks`` ...).
    card : ModelCard
        Tasks, strand handling, encoding policy, negatives, provenance, metrics; saved with the
        weights and restored by :func:`seqconv.modelfile.load_model`.
    """

    def __init__(self, trunk: Trunk, head: DenseHead, config, card: ModelCard | None = None):
        super().__init__()
        self.trunk = trunk
        self.head = head
        self.config = config
        self.card = card if card is not None else ModelCard(tasks=default_tasks(head.n_tasks))

    @property
    def card(self) -> ModelCard:
        return self._card

    @card.setter
    def card(self, card: ModelCard) -> None:
        if not isinstance(card, ModelCard):
            raise TypeError(f"card must be a ModelCard, got {type(card).__name__}")
        if len(card.tasks) != self.head.n_tasks:
            raise ValueError(f"the card names {len(card.tasks)} task(s) {list(card.tasks)}, "
                             f"the model has {self.head.n_tasks} output(s)")
        if card.kind != "model":
            raise ValueError("a SeqModel's card must have kind 'model'")
        object.__setattr__(self, "_card", card)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x))

    @property
    def n_tasks(self) -> int:
        return self.head.n_tasks

    @property
    def tasks(self) -> list[str]:
        """Output names (TFs), one per logit."""
        return list(self.card.tasks)

    @property
    def strand(self) -> str:
        """``"both"`` (average over the two strands at prediction time) or ``"forward"``."""
        return self.card.strand

    @property
    def first_convs(self) -> list[nn.Conv1d]:
        """The first layer's convolution(s) (one for deepbind/basset, one per width for resnet)."""
        return self.trunk.first_convs

    @property
    def first_conv(self):
        """The first ``nn.Conv1d`` (deepbind, basset); for ``resnet`` the list of first-layer convs."""
        convs = self.first_convs
        return convs if isinstance(self.trunk.layers[0], (MultiWidthConv, Parallel)) else convs[0]

    def member(self, k: int) -> SeqModel:
        """Member ``k`` of an ensemble (``config.members > 1``) as a single model (a copy, same card)."""
        import copy

        if self.config.members == 1:
            raise InputError("member(): this model is not an ensemble")
        if not 0 <= k < self.config.members:
            raise InputError(f"member(): k must be in 0..{self.config.members - 1}, got {k}")
        return SeqModel(copy.deepcopy(self.trunk.layers[0].members[k]), copy.deepcopy(self.head.members[k]),
                        self.config.replace(members=1), self.card)

    def backbone(self) -> Backbone:
        """This model's trunk (a copy) as a :class:`Backbone` that remembers where it came from."""
        import copy

        return Backbone(copy.deepcopy(self.trunk), self.config, self.card.replace(kind="backbone"))

    def with_head(self, tasks, *, hidden: int | None = None, dropout: float | None = None,
                  seed: int | None = 0) -> SeqModel:
        """A new model: a copy of this trunk + a freshly initialised head for ``tasks``.

        See :meth:`Backbone.attach_head`; the result saves and reloads like any model.
        """
        return self.backbone().attach_head(tasks, hidden=hidden, dropout=dropout, seed=seed)


class Backbone(_Described, nn.Module):
    """A trunk without a head, with its architecture and card (``card.kind == "backbone"``).

    ``card.tasks`` are the source tasks it was pretrained on and ``card.training`` the
    provenance of that pretraining (used by the leakage guard of :mod:`seqconv.transfer`).
    ``Backbone(x)`` gives the trunk's features.
    """

    def __init__(self, trunk: Trunk, config, card: ModelCard):
        super().__init__()
        if card.kind != "backbone":
            raise ValueError("a Backbone's card must have kind 'backbone'")
        self.trunk = trunk
        self.config = config
        self.card = card

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(x)

    @property
    def out_features(self) -> int:
        """Size of the flattened trunk output for the backbone's input width."""
        return _flat_features(self.trunk, self.input_length)

    def attach_head(self, tasks, *, hidden: int | None = None, dropout: float | None = None,
                    seed: int | None = 0) -> SeqModel:
        """A :class:`SeqModel` = a copy of this trunk + a new :class:`DenseHead` with one output per task.

        Parameters
        ----------
        tasks : sequence of str
            Names of the new outputs (TFs).
        hidden : int, optional
            Hidden width of the new head (0 = a linear probe); default: the architecture's.
        dropout : float, optional
            Default: the architecture's.
        seed : int, optional
            Seeds the head's initialisation (a local generator state).

        Returns
        -------
        SeqModel
            Its card has the new tasks, the backbone's strand, encoding and negatives, and
            ``transfer = {"backbone": ...}`` recording what the trunk was pretrained on.
        """
        import copy

        tasks = tuple(str(t) for t in tasks)
        if not tasks:
            raise InputError("attach_head: give at least one task")
        changes = {"n_tasks": len(tasks)}
        if hidden is not None:
            changes["hidden"] = int(hidden)
        if dropout is not None:
            changes["dropout"] = float(dropout)
        config = self.config.replace(**changes)
        trunk = copy.deepcopy(self.trunk)
        head = _seeded(seed, lambda: _new_head(trunk, config))
        card = ModelCard(tasks=tasks, strand=self.card.strand, encoding=self.card.encoding,
                         negatives=self.card.negatives,
                         transfer={"backbone": backbone_summary(self.card)})
        return SeqModel(trunk, head, config, card)


def _new_head(trunk: Trunk, config):
    """A fresh head for ``trunk``: one DenseHead, or one per member of an ensemble."""
    if config.members > 1:
        sizes = member_sizes(trunk.layers[0], config.input_length)
        return EnsembleHead([DenseHead(n, config.n_tasks, hidden=config.hidden, dropout=config.dropout)
                             for n in sizes], sizes)
    return DenseHead(_flat_features(trunk, config.input_length), config.n_tasks, hidden=config.hidden,
                     dropout=config.dropout)


def backbone_summary(card: ModelCard) -> dict:
    """A short record of a backbone for the card of a model built on it."""
    t = card.training or {}
    return {"name": t.get("name") or card.description.split(":")[0][:80], "tasks": list(card.tasks),
            "datasets": t.get("datasets", t.get("dataset")), "train_chromosomes": t.get("train_chromosomes"),
            "genome": t.get("genome")}


def inference_copy(model: SeqModel, *, channels_last: bool = True) -> SeqModel:
    """An eval-mode copy of ``model`` for fast scoring; :func:`seqconv.predict.predict` scores with one.

    * BatchNorm is folded into the preceding convolutions (fewer passes over memory);
    * with ``channels_last`` (default), the conv blocks run as (1 x K) 2-D convolutions on
      channels-last activations, the layout in which oneDNN's CPU kernels are fastest
      (about 1.3x faster for ``basset`` on one core; see ``benchmarks/results/speed.md``).

    Same outputs as ``model.eval()`` up to float rounding (~1e-6); the parameters keep their
    names and shapes (reverse-complement-paired first-layer filters, ``rc_share``, become plain
    full filters).  Not for training.
    """
    import copy

    fused = copy.deepcopy(model).eval()
    for m in fused.modules():
        if channels_last and hasattr(m, "fast_inference"):
            m.fast_inference()
        elif hasattr(m, "fold_batchnorm"):
            m.fold_batchnorm()
    return fused


def _flat_features(trunk: nn.Module, length: int) -> int:
    with torch.no_grad():
        was = trunk.training
        trunk.eval()
        n = trunk(torch.zeros(1, 4, length)).numel()
        trunk.train(was)
    if n == 0:
        raise ValueError(f"input length {length} is too short for this architecture (no output left)")
    return n


def member_sizes(parallel: Parallel, length: int) -> list[int]:
    """Feature size of each member trunk of an ensemble for inputs of ``length`` bp."""
    return [_flat_features(m, length) for m in parallel.members]


def _build_deepbind(c: DeepBindConfig) -> SeqModel:
    trunk = Trunk(ConvBlock(4, c.filters, c.kernel_size, pool_size=c.pool_size), GlobalPool(c.global_pool))
    head = DenseHead(_flat_features(trunk, c.input_length), c.n_tasks, hidden=c.hidden, dropout=c.dropout)
    return SeqModel(trunk, head, c)


def _build_basset(c: BassetConfig) -> SeqModel:
    blocks, ch = [], 4
    for f, k, p in zip(c.filters, c.kernel_sizes, c.pool_sizes):
        blocks.append(ConvBlock(ch, f, k, pool_size=p, dropout=c.conv_dropout))
        ch = f
    trunk = Trunk(*blocks)
    head = DenseHead(_flat_features(trunk, c.input_length), c.n_tasks, hidden=c.hidden, dropout=c.dropout)
    return SeqModel(trunk, head, c)


def _build_resnet(c: ResNetConfig) -> SeqModel:
    ch = c.first_filters * len(c.first_widths)
    layers: list[nn.Module] = [MultiWidthConv(4, c.first_filters, c.first_widths, pool_size=c.pool_size,
                                              dropout=c.conv_dropout, activation=c.first_activation,
                                              rc_share=c.rc_share)]
    layers += [DilatedResidualBlock(ch, c.kernel_size, dilation=d, dropout=c.conv_dropout) for d in c.dilations]
    layers += [nn.BatchNorm1d(ch), nn.ReLU(), GlobalPool(c.global_pool)]
    trunk = Trunk(*layers)
    head = DenseHead(_flat_features(trunk, c.input_length), c.n_tasks, hidden=c.hidden, dropout=c.dropout)
    return SeqModel(trunk, head, c)


_BUILDERS = {"deepbind": _build_deepbind, "basset": _build_basset, "resnet": _build_resnet}


def _build(config) -> SeqModel:
    if config.members == 1:
        return _BUILDERS[config.arch](config)
    single = config.replace(members=1)
    block = Parallel([_BUILDERS[config.arch](single).trunk for _ in range(config.members)])
    trunk = Trunk(block)
    return SeqModel(trunk, _new_head(trunk, config), config)


def get_config(arch: str, **overrides):
    """The config of architecture ``arch`` with defaults, some fields overridden.

    Raises
    ------
    InputError
        For an unknown architecture name or an unknown field.
    """
    if arch not in ARCHITECTURES:
        raise InputError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}")
    cls = ARCHITECTURES[arch]
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise InputError(f"architecture {arch!r} has no option(s) {unknown}; options: {sorted(names)}")
    return cls(**overrides)


def config_from_dict(d: dict):
    """Inverse of ``config.to_dict()``: ``{"arch": name, **fields}`` -> config."""
    d = dict(d)
    arch = d.pop("arch", None)
    if arch is None:
        raise InputError("architecture config has no 'arch' field")
    return get_config(arch, **d)


def build_model(config, *, seed: int | None = None, card: ModelCard | None = None) -> SeqModel:
    """Build a freshly initialised model from a config (or a config dict).

    Parameters
    ----------
    config : DeepBindConfig | BassetConfig | ResNetConfig | dict
    seed : int, optional
        Seeds the weight initialisation (with a local generator state; the
        global torch RNG is restored afterwards).
    card : ModelCard, optional
        Default: outputs named ``task0 ..``, both strands, N and IUPAC codes as zeros.

    Returns
    -------
    SeqModel
    """
    if isinstance(config, dict):
        config = config_from_dict(config)
    if config.arch not in _BUILDERS:
        raise InputError(f"unknown architecture {config.arch!r}; choose one of {', '.join(_BUILDERS)}")
    model = _seeded(seed, lambda: _build(config))
    if card is not None:
        model.card = card
    return model
