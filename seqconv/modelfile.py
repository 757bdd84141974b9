"""Model files: weights in safetensors + a JSON card.  Data, not code: loading never unpickles.

A model (or a backbone) is a directory holding

``model.safetensors``
    every tensor of the model's ``state_dict`` (float32 or float16), keys in sorted order
    (same model, same bytes); a backbone holds only its ``trunk.*`` tensors;
``model.json``
    ``format_version``, ``seqconv_version``, ``architecture`` (the architecture config,
    e.g. ``{"arch": "basset", "filters": [64, 96, 128], ...}``), ``input_width`` (bp), and the
    fields of :class:`~seqconv.models.ModelCard`: ``kind`` (``"model"`` or ``"backbone"``),
    ``tasks``, ``strand``, ``encoding``, ``negatives``, ``alphabet``, ``training``
    (provenance), ``transfer``, ``metrics``, ``description``.

:func:`load_model` returns a :class:`~seqconv.models.SeqModel` that carries its card
(``model.card``, ``model.tasks``, ``model.strand`` ...); :func:`load_backbone` a
:class:`~seqconv.models.Backbone`.  Version-1 files (before the encoding and kind were
recorded) load with the defaults, which are what those models were trained with.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from seqconv import __version__
from seqconv.errors import InputError
from seqconv.fileio import atomic_open, atomic_path
from seqconv.models import Backbone, ModelCard, SeqModel, build_model, config_from_dict
from seqconv.models.card import STRANDS  # noqa: F401  (re-exported)

FORMAT_VERSION = 2
WEIGHTS = "model.safetensors"
CARD = "model.json"
_CARD_FIELDS = ("tasks", "strand", "training", "metrics", "description", "negatives", "transfer", "encoding")


def card_dict(obj) -> dict:
    """The ``model.json`` content of a model or backbone."""
    return {"format_version": FORMAT_VERSION, "seqconv_version": __version__,
            "architecture": obj.config.to_dict(), "input_width": obj.input_length, **obj.card.to_dict()}


def _save_tensors(state: dict, path: Path, dtype: str) -> None:
    from safetensors.torch import save_file

    if dtype not in ("float32", "float16"):
        raise ValueError(f"dtype must be 'float32' or 'float16', got {dtype!r}")
    want = getattr(torch, dtype)
    tensors = {k: (state[k].detach().to(want) if state[k].is_floating_point() else state[k].detach())
               .contiguous().cpu() for k in sorted(state)}
    bad = [k for k, v in tensors.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise ValueError(f"refusing to save non-finite (NaN/inf) weights in {bad[:3]}")
    with atomic_path(path / WEIGHTS, suffix=".safetensors") as tmp:
        save_file(tensors, str(tmp), metadata={"format": "seqconv", "format_version": str(FORMAT_VERSION)})
        _canonical_header(tmp)


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


def save_model(model: SeqModel, path, *, dtype: str = "float32", **card_changes) -> Path:
    """Save ``model`` (weights + its card) as a model directory.

    Parameters
    ----------
    model : seqconv.models.SeqModel
    path : str or Path
        The directory (created if needed).
    dtype : {"float32", "float16"}
        Storage type of floating-point tensors (float16 halves the size; loading returns float32).
    **card_changes
        Card fields to change first (``tasks``, ``strand``, ``training``, ``metrics``,
        ``description``, ``negatives``, ``transfer``, ``encoding``); they are set on
        ``model.card`` too, so the object and the file agree.

    Returns
    -------
    Path of the directory.
    """
    unknown = sorted(set(card_changes) - set(_CARD_FIELDS))
    if unknown:
        raise TypeError(f"save_model: unknown card field(s) {unknown}")
    changes = {k: v for k, v in card_changes.items() if v is not None}
    if changes:
        model.card = model.card.replace(**changes)
    card = card_dict(model)
    json.dumps(card)  # fail early if not serialisable
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    _save_tensors(model.state_dict(), path, dtype)
    _write_json(card, path)
    return path


def save_backbone(obj, path, *, dtype: str = "float32", description: str | None = None) -> Path:
    """Save a :class:`~seqconv.models.Backbone` (or the trunk of a model) as a backbone directory.

    The weights are the ``trunk.*`` tensors only; the card (``kind: "backbone"``) keeps the
    source tasks and the pretraining provenance.
    """
    bb = obj.backbone() if isinstance(obj, SeqModel) else obj
    if not isinstance(bb, Backbone):
        raise TypeError(f"save_backbone takes a SeqModel or a Backbone, got {type(obj).__name__}")
    if description is not None:
        bb.card = bb.card.replace(description=description)
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    _save_tensors({f"trunk.{k}": v for k, v in bb.trunk.state_dict().items()}, path, dtype)
    _write_json(card_dict(bb), path)
    return path


def _write_json(card: dict, path: Path) -> None:
    with atomic_open(path / CARD) as fh:
        json.dump(card, fh, indent=2)
        fh.write("\n")


def write_card(model: SeqModel, path) -> Path:
    """(Re)write ``model.json`` of the model directory ``path`` from ``model.card`` (e.g. after adding test metrics)."""
    _write_json(card_dict(model), Path(path))
    return Path(path) / CARD


def _read_json(path: Path) -> tuple[dict, Path]:
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
    return d, card_path


def read_card(path) -> ModelCard:
    """Read and check the card of a model or backbone directory (or the JSON file itself)."""
    return _card(*_read_json(Path(path)))


def _card(d: dict, card_path: Path) -> ModelCard:
    try:
        return ModelCard.from_dict(d)
    except (TypeError, ValueError) as exc:
        raise InputError(f"invalid model card: {exc}", path=card_path) from None


def _load(path, want: str, device):
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if path.is_file() and path.name == CARD:
        path = path.parent
    if not path.exists():
        raise InputError(f"no such {want} directory", path=path)
    d, card_path = _read_json(path)
    card = _card(d, card_path)
    if card.kind != want:
        hint = ("; give it as --backbone to `seqconv finetune`, or attach a head with "
                "seqconv.transfer.attach_head" if want == "model" else
                "; give it as --from-model to `seqconv finetune`, or take its trunk with "
                "seqconv.modelfile.save_backbone(model, DIR)")
        raise InputError(f"this is a {card.kind}, not a {want}{hint}", path=path)
    weights = path / WEIGHTS
    if not weights.exists():
        raise InputError(f"{want} directory has no {WEIGHTS}", path=path)
    try:
        tensors = load_file(str(weights))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise InputError(f"cannot read weights ({exc}); the file is damaged or truncated", path=weights) from None
    try:
        config = config_from_dict(d.get("architecture") or {})
    except (ValueError, TypeError) as exc:
        raise InputError(f"bad architecture in model card: {exc}", path=card_path) from None
    if int(d.get("input_width", config.input_length)) != config.input_length:
        raise InputError(f"input_width {d.get('input_width')} differs from the architecture's input_length "
                         f"{config.input_length}", path=card_path)
    if want == "model" and config.n_tasks != len(card.tasks):
        raise InputError(f"card lists {len(card.tasks)} tasks, the architecture has {config.n_tasks} outputs",
                         path=card_path)
    model = build_model(config)
    module = model if want == "model" else model.trunk
    state = {(k if want == "model" else f"trunk.{k}"): v for k, v in module.state_dict().items()}
    missing = sorted(set(state) - set(tensors))
    extra = sorted(set(tensors) - set(state))
    bad = [k for k in state if k in tensors and tuple(state[k].shape) != tuple(tensors[k].shape)]
    if missing or extra or bad:
        raise InputError(f"weights do not match the {config.arch} architecture in {CARD} "
                         f"(missing {missing[:3]}, unexpected {extra[:3]}, wrong shape {bad[:3]})", path=weights)
    nonfinite = [k for k, v in tensors.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if nonfinite:
        raise InputError(f"weights contain NaN or inf values ({nonfinite[:3]}); the model is unusable", path=weights)
    prefix = "" if want == "model" else "trunk."
    module.load_state_dict({k[len(prefix):]: tensors[k].to(state[k].dtype) for k in state})
    if want == "model":
        model.card = card
        obj = model
    else:
        obj = Backbone(model.trunk, config, card)
    obj.eval()
    if device is not None:
        obj.to(device)
    return obj


def load_model(path, *, device=None) -> SeqModel:
    """Load a model directory written by :func:`save_model`.

    Parameters
    ----------
    path : str or Path
        The model directory (or its ``model.json``).
    device : str or torch.device, optional

    Returns
    -------
    seqconv.models.SeqModel
        In eval mode, float32, with its card (``model.card``).

    Raises
    ------
    InputError
        Missing, truncated or damaged files, a newer format version, an unknown
        architecture, weights that do not match the architecture or are NaN, or a
        backbone directory given where a model is expected.
    """
    return _load(path, "model", device)


def load_backbone(path, *, device=None) -> Backbone:
    """Load a backbone directory written by :func:`save_backbone` (a model directory is refused)."""
    return _load(path, "backbone", device)


def _resolve(spec, kind: str, device):
    from seqconv.pretrained import bundled_names, model_path

    if isinstance(spec, (SeqModel, Backbone)):
        return spec
    p = Path(str(spec))
    if p.exists():
        return _load(p, kind, device)
    names = bundled_names(kind)
    if str(spec) in names:
        return _load(model_path(str(spec)), kind, device)
    others = bundled_names("backbone" if kind == "model" else "model")
    if str(spec) in others:
        return _load(model_path(str(spec)), kind, device)  # raises the kind mismatch error
    raise InputError(f"no {kind} directory or bundled {kind} named {str(spec)!r}; "
                     f"bundled {kind}s: {', '.join(names) or '(none)'}")


def resolve_model(spec, *, device=None) -> SeqModel:
    """A model from a directory path or a bundled model name (see ``seqconv models``); a model passes through."""
    return _resolve(spec, "model", device)


def resolve_backbone(spec, *, device=None) -> Backbone:
    """A backbone from a directory path or a bundled backbone name; a Backbone passes through."""
    return _resolve(spec, "backbone", device)
