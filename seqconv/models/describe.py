"""``describe(model, length)``: a per-layer table (output shape, length, receptive field, parameters)."""

from __future__ import annotations

import pandas as pd
import torch
from torch import nn

from seqconv.models.blocks import GlobalPool, conv_receptive, pool_receptive


def _receptive(layer: nn.Module, rf: int, jump: int, length: int) -> tuple[int, int]:
    if isinstance(layer, GlobalPool):
        return length, jump
    if hasattr(layer, "receptive"):
        return layer.receptive(rf, jump)
    if isinstance(layer, nn.Conv1d):
        return conv_receptive(layer, rf, jump)
    if isinstance(layer, (nn.MaxPool1d, nn.AvgPool1d)):
        return pool_receptive(layer, rf, jump)
    return rf, jump


def _n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def describe(model: nn.Module, length: int | None = None) -> pd.DataFrame:
    """Table of the model's layers for an input of ``length`` bp.

    Parameters
    ----------
    model : SeqModel
        A model with ``trunk.layers`` (sequential) and ``head``.
    length : int, optional
        Input length in bp; default the model's ``input_length``.

    Returns
    -------
    pandas.DataFrame
        One row per layer: ``layer`` (dotted name), ``type``, ``output_shape``
        (without the batch axis), ``output_length`` (positions left along the
        sequence; 1 after a global pool or in the head), ``receptive_field_bp``
        (bp of input that one output position sees; the whole input after a global
        pool) and ``params``.  A final ``total`` row sums the parameters.
    """
    length = int(length or model.input_length)
    if getattr(getattr(model, "config", None), "members", 1) > 1:   # an ensemble: one member's layers, then the total
        table = describe(model.member(0), length)
        table["layer"] = [f"member 0: {x}" if x != "total" else x for x in table["layer"]]
        table.loc[table.index[-1], ["type", "params"]] = [f"ensemble of {model.config.members}", _n_params(model)]
        return table
    rows: list[dict] = []
    layers = [(f"trunk.layers.{i}", m) for i, m in enumerate(model.trunk.layers)]
    layers += [(f"head.net.{i}", m) for i, m in enumerate(model.head.net)]
    shapes: dict[str, tuple] = {}
    hooks = [m.register_forward_hook(lambda _m, _i, out, name=name: shapes.__setitem__(name, tuple(out.shape[1:])))
             for name, m in layers]
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, 4, length))
    finally:
        for h in hooks:
            h.remove()
        model.train(was)
    rf, jump = 1, 1
    for name, m in layers:
        rf, jump = _receptive(m, rf, jump, length)
        shape = shapes.get(name, ())
        rows.append({
            "layer": name,
            "type": type(m).__name__,
            "output_shape": "x".join(str(s) for s in shape),
            "output_length": int(shape[1]) if len(shape) == 2 else 1,
            "receptive_field_bp": min(rf, length),
            "params": _n_params(m),
        })
    total = _n_params(model)
    rows.append({"layer": "total", "type": model.__class__.__name__, "output_shape": rows[-1]["output_shape"],
                 "output_length": rows[-1]["output_length"], "receptive_field_bp": rows[-1]["receptive_field_bp"],
                 "params": total})
    return pd.DataFrame(rows)


def format_table(table: pd.DataFrame) -> str:
    """Plain-text rendering of a :func:`describe` table (params with thousands separators)."""
    t = table.copy()
    t["params"] = t["params"].map(lambda v: f"{v:,}")
    return t.to_string(index=False)
