"""Pretrained models and backbones shipped inside the package (trained on real ENCODE / GUE / yeast ChIP data).

Each one is a directory ``seqconv/pretrained/<name>/`` (``model.safetensors`` + ``model.json``);
``index.json`` lists them with their kind (``model`` or ``backbone``), what their negatives
were and their held-out test metrics.  Models are reproduced by
``python pipelines/train_pretrained.py``, backbones by ``python pipelines/train_backbones.py``
(see the README).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from seqconv.errors import InputError

ROOT = Path(__file__).resolve().parent
INDEX = ROOT / "index.json"
COLUMNS = ["name", "kind", "arch", "width", "tasks", "negatives", "data", "test_auroc", "test_auroc_95ci",
           "test_auprc", "test_mcc", "test_split", "size_kb"]


def _index() -> list[dict]:
    if not INDEX.exists():
        return []
    return json.loads(INDEX.read_text())["models"]


def bundled_names(kind: str | None = None) -> list[str]:
    """Names of the bundled models (``kind="model"``), backbones (``"backbone"``) or both (``None``)."""
    return [m["name"] for m in _index() if kind is None or m.get("kind", "model") == kind]


def list_models(kind: str | None = None) -> pd.DataFrame:
    """The bundled models and backbones: name, kind, architecture, width, TFs, negatives, data, test metrics, size.

    Parameters
    ----------
    kind : {"model", "backbone"}, optional
        Only one kind (default: both).

    Returns
    -------
    DataFrame with columns ``name, kind, arch, width, tasks, negatives, data, test_auroc,
    test_auroc_95ci, test_auprc, test_mcc, test_split, size_kb`` (metrics: mean over the TFs on the
    held-out test set; for a backbone, of the pretraining heads; ``test_auroc_95ci``: the bootstrap
    interval recorded in a single-task model's card, ``per TF`` for a multi-task one (see ``seqconv
    describe``); ``test_split``: where the test set came from).
    """
    from seqconv.modelfile import read_card
    from seqconv.models.card import split_summary, test_interval

    rows = []
    for m in _index():
        if kind is not None and m.get("kind", "model") != kind:
            continue
        tasks = m["tasks"]
        card = read_card(ROOT / m["name"])
        ci = test_interval(card)
        rows.append({"name": m["name"], "kind": m.get("kind", "model"), "arch": m["arch"], "width": m["input_width"],
                     "tasks": ",".join(tasks) if len(tasks) <= 3 else f"{','.join(tasks[:3])},... ({len(tasks)})",
                     "negatives": m.get("negatives", ""), "data": m["data"], "test_auroc": m["test"].get("auroc"),
                     "test_auroc_95ci": f"{ci[0]:.3f}-{ci[1]:.3f}" if ci else ("per TF" if len(tasks) > 1 else ""),
                     "test_split": split_summary(card), "test_auprc": m["test"].get("auprc"),
                     "test_mcc": m["test"].get("mcc"), "size_kb": m["size_kb"]})
    return pd.DataFrame(rows, columns=COLUMNS).round(4)


def model_path(name: str) -> Path:
    """Directory of the bundled model or backbone ``name``."""
    names = bundled_names()
    if name not in names:
        raise InputError(f"no bundled model {name!r}; bundled: {', '.join(names) or '(none)'}")
    return ROOT / name


def load_pretrained(name: str, *, device=None):
    """Load a bundled model (a :class:`~seqconv.models.SeqModel` with its card) or backbone by name.

    Returns
    -------
    seqconv.models.SeqModel or seqconv.models.Backbone
        In eval mode, float32.
    """
    from seqconv.modelfile import load_backbone, load_model

    kind = next(m.get("kind", "model") for m in _index() if m["name"] == name) if name in bundled_names() else "model"
    return (load_backbone if kind == "backbone" else load_model)(model_path(name), device=device)
