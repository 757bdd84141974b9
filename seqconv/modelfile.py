"""Model files: weights in safetensors + a JSON card.  Data, not code: loading never unpickles.

A model is a directory holding

``model.safetensors``
    every tensor of the model's ``state_dict`` (float32 or float16);
``model.json``
    the :class:`ModelCard`: ``format_version``, ``seqconv_version``, ``architecture``
    (the architecture config, e.g. ``{"arch": "basset", "filters": [64, 96, 128], ...}``),
    ``input_width`` (bp), ``alphabet`` (``"ACGT"``, the channel order), ``tasks``
    (TF names, one per output), ``strand`` (``"both"``: predictions are averaged
    over the forward and reverse-complement input; ``"forward"``), ``training``
    (dataset, split scheme, training/held-out chromosomes, training config, seed),
    ``metrics`` (validation / test metrics) and a free ``description``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch

from seqconv import __version__
from seqconv.encode import ALPHABET
from seqconv.errors import InputError
from seqconv.fileio import atomic_open, atomic_path

FORMAT_VERSION = 1
WEIGHTS = "model.safetensors"
CARD = "model.json"
STRANDS = ("both", "forward")


@dataclass(frozen=True)
class ModelCard:
    """Everything about a saved model except its weights (the ``model.json`` file)."""

    architecture: dict
    input_width: int
    tasks: tuple
    strand: str = "both"
    alphabet: str = ALPHABET
    training: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    description: str = ""
    seqconv_version: str = __version__
    format_version: int = FORMAT_VERSION

    def __post_init__(self):
        object.__setattr__(self, "tasks", tuple(str(t) for t in self.tasks))
        if self.strand not in STRANDS:
            raise ValueError(f"strand must be one of {STRANDS}, got {self.strand!r}")

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["tasks"] = list(self.tasks)
        return d

    def replace(self, **changes) -> "ModelCard":
        return dataclasses.replace(self, **changes)


def save_model(model, path, *, tasks=None, strand: str = "both", training: dict | None = None,
               metrics: dict | None = None, description: str = "", dtype: str = "float32") -> Path:
    """Save ``model`` as a model directory (``model.safetensors`` + ``model.json``).

    Parameters
    ----------
    model : seqconv.models.SeqModel
    path : str or Path
        The directory (created if needed).
    tasks : sequence of str, optional
        TF names, one per output; default ``task0 .. task{T-1}``.
    strand : {"both", "forward"}
        Strand handling at prediction time.
    training, metrics : dict, optional
        JSON-serialisable provenance and metrics.
    description : str
    dtype : {"float32", "float16"}
        Storage type of floating-point tensors (float16 halves the size; loading
        returns float32).

    Returns
    -------
    Path of the directory.
    """
    from safetensors.torch import save_file

    if dtype not in ("float32", "float16"):
        raise ValueError(f"dtype must be 'float32' or 'float16', got {dtype!r}")
    n_tasks = model.n_tasks
    tasks = [f"task{i}" for i in range(n_tasks)] if tasks is None else list(tasks)
    if len(tasks) != n_tasks:
        raise ValueError(f"{len(tasks)} task names for a model with {n_tasks} outputs")
    card = ModelCard(architecture=model.config.to_dict(), input_width=model.input_length, tasks=tasks,
                     strand=strand, training=training or {}, metrics=metrics or {}, description=description)
    json.dumps(card.to_dict())  # fail early if not serialisable
    want = getattr(torch, dtype)
    state = model.state_dict()
    tensors = {k: (state[k].detach().to(want) if state[k].is_floating_point() else state[k].detach()).contiguous().cpu()
               for k in sorted(state)}
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    with atomic_path(path / WEIGHTS, suffix=".safetensors") as tmp:
        save_file(tensors, str(tmp), metadata={"format": "seqconv", "format_version": str(FORMAT_VERSION)})
        _canonical_header(tmp)
    write_card(card, path)
    return path


def _canonical_header(path) -> None:
    """Rewrite a safetensors header as sorted, compact JSON of the same length (byte-reproducible files:
    the library writes its metadata map in a random order)."""
    with open(path, "r+b") as fh:
        n = int.from_bytes(fh.read(8), "little")
        header = json.loads(fh.read(n))
        new = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
        if len(new) > n:  # cannot happen for compact JSON the library wrote; keep its header then
            return
        fh.seek(8)
        fh.write(new + b" " * (n - len(new)))


def write_card(card: ModelCard, path) -> Path:
    """(Re)write ``model.json`` of the model directory ``path`` (e.g. to add test metrics)."""
    with atomic_open(Path(path) / CARD) as fh:
        json.dump(card.to_dict(), fh, indent=2)
        fh.write("\n")
    return Path(path) / CARD


def read_card(path) -> ModelCard:
    """Read and check the ``model.json`` of a model directory (or the JSON file itself)."""
    path = Path(path)
    card_path = path / CARD if path.is_dir() else path
    if not card_path.exists():
        raise InputError(f"not a seqconv model: no {CARD} found", path=path)
    try:
        d = json.loads(card_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"model card is not valid JSON ({exc}); the file is damaged or truncated",
                         path=card_path) from None
    if not isinstance(d, dict) or "format_version" not in d:
        raise InputError("not a seqconv model card (no format_version)", path=card_path)
    if not isinstance(d["format_version"], int) or d["format_version"] > FORMAT_VERSION:
        raise InputError(
            f"model format version {d['format_version']} is newer than this seqconv ({__version__}) "
            f"reads ({FORMAT_VERSION}); upgrade seqconv", path=card_path)
    names = {f.name for f in dataclasses.fields(ModelCard)}
    try:
        return ModelCard(**{k: v for k, v in d.items() if k in names})
    except (TypeError, ValueError) as exc:
        raise InputError(f"invalid model card: {exc}", path=card_path) from None


def load_model(path, *, device=None):
    """Load a model directory written by :func:`save_model`.

    Parameters
    ----------
    path : str or Path
        The model directory (or its ``model.json``).
    device : str or torch.device, optional

    Returns
    -------
    model : seqconv.models.SeqModel
        In eval mode, float32.
    card : ModelCard

    Raises
    ------
    InputError
        Missing, truncated or damaged files, a newer format version, an unknown
        architecture, or weights that do not match the architecture.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from seqconv.models import build_model, config_from_dict

    path = Path(path)
    if path.is_file() and path.name == CARD:
        path = path.parent
    if not path.exists():
        raise InputError("no such model directory", path=path)
    card = read_card(path)
    weights = path / WEIGHTS
    if not weights.exists():
        raise InputError(f"model directory has no {WEIGHTS}", path=path)
    try:
        tensors = load_file(str(weights))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise InputError(f"cannot read weights ({exc}); the file is damaged or truncated", path=weights) from None
    nonfinite = [k for k, v in tensors.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if nonfinite:
        raise InputError(f"weights contain NaN or infinite values (tensor {nonfinite[0]!r} and "
                         f"{len(nonfinite) - 1} more); the model is damaged or its training diverged", path=weights)
    try:
        config = config_from_dict(card.architecture)
    except ValueError as exc:
        raise InputError(f"bad architecture in model card: {exc}", path=path / CARD) from None
    model = build_model(config)
    state = model.state_dict()
    missing = sorted(set(state) - set(tensors))
    extra = sorted(set(tensors) - set(state))
    bad = [k for k in state if k in tensors and tuple(state[k].shape) != tuple(tensors[k].shape)]
    if missing or extra or bad:
        raise InputError(f"weights do not match the {config.arch} architecture in {CARD} "
                         f"(missing {missing[:3]}, unexpected {extra[:3]}, wrong shape {bad[:3]})", path=weights)
    model.load_state_dict({k: v.to(state[k].dtype) for k, v in tensors.items()})
    if model.n_tasks != len(card.tasks):
        raise InputError(f"card lists {len(card.tasks)} tasks, the model has {model.n_tasks} outputs",
                         path=path / CARD)
    model.eval()
    if device is not None:
        model.to(device)
    return model, card


def resolve_model(spec, *, device=None):
    """Load a model from a directory path or a bundled model name (see ``seqconv models``).

    Returns
    -------
    (model, card)
    """
    p = Path(str(spec))
    if p.exists():
        return load_model(p, device=device)
    from seqconv.pretrained import list_models, load_pretrained

    names = list_models()["name"].tolist()
    if str(spec) in names:
        return load_pretrained(str(spec), device=device)
    raise InputError(f"no model directory or bundled model named {str(spec)!r}; "
                     f"bundled models: {', '.join(names) or '(none)'}")
