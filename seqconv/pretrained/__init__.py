"""Pretrained models shipped inside the package (trained on real ENCODE / GUE / yeast ChIP data).

Each model is a directory ``seqconv/pretrained/<name>/`` (``model.safetensors`` +
``model.json``); ``index.json`` lists them with their held-out test metrics.
They are reproduced by ``python pipelines/train_pretrained.py`` (see the README).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from seqconv.errors import InputError

ROOT = Path(__file__).resolve().parent
INDEX = ROOT / "index.json"
COLUMNS = ["name", "arch", "width", "tasks", "data", "test_auroc", "test_auprc", "test_mcc", "size_kb"]


def _index() -> list[dict]:
    if not INDEX.exists():
        return []
    return json.loads(INDEX.read_text())["models"]


def list_models() -> pd.DataFrame:
    """The bundled models: name, architecture, input width, TFs, training data, test metrics, size.

    Returns
    -------
    DataFrame with columns ``name, arch, width, tasks, data, test_auroc, test_auprc, test_mcc, size_kb``
    (metrics: mean over the model's TFs on its held-out test set).
    """
    rows = []
    for m in _index():
        tasks = m["tasks"]
        rows.append({"name": m["name"], "arch": m["arch"], "width": m["input_width"],
                     "tasks": ",".join(tasks) if len(tasks) <= 3 else f"{','.join(tasks[:3])},... ({len(tasks)})",
                     "data": m["data"], "test_auroc": m["test"].get("auroc"), "test_auprc": m["test"].get("auprc"),
                     "test_mcc": m["test"].get("mcc"), "size_kb": m["size_kb"]})
    return pd.DataFrame(rows, columns=COLUMNS).round(4)


def model_path(name: str) -> Path:
    """Directory of the bundled model ``name``."""
    names = [m["name"] for m in _index()]
    if name not in names:
        raise InputError(f"no bundled model {name!r}; bundled: {', '.join(names) or '(none)'}")
    return ROOT / name


def load_pretrained(name: str, *, device=None):
    """Load a bundled model by name.

    Returns
    -------
    model : seqconv.models.SeqModel (eval mode, float32)
    card : seqconv.modelfile.ModelCard
    """
    from seqconv.modelfile import load_model

    return load_model(model_path(name), device=device)
