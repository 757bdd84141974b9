"""Exponential moving average (EMA) of a model's weights during training.

:func:`seqconv.train.fit` keeps one when ``TrainConfig.ema_decay > 0``: after every optimiser
step, each floating-point entry of the model's ``state_dict`` (parameters *and* BatchNorm
running statistics) is averaged,

``avg_t = avg_{t-1} + (w_t - avg_{t-1}) * (1 - d) / (1 - d**t)``,

which is the bias-corrected EMA (as in Adam): the average of ``w_1 .. w_t`` with weights
proportional to ``d**(t - i)``, so the random initial weights never enter it (``avg_1 = w_1``).
BatchNorm running statistics are averaged like the weights, so that they describe the
averaged network rather than the last step's; integer buffers (``num_batches_tracked``)
are copied.  Validation, early stopping and the saved best model use the averaged weights.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

#: key prefix of the averaged tensors in a training checkpoint
PREFIX = "ema."


class WeightEMA:
    """Bias-corrected exponential moving average of ``model.state_dict()``.

    Parameters
    ----------
    model : nn.Module
        The model being trained; its tensors are read (never replaced) by :meth:`update`.
    decay : float
        ``0 < decay < 1``; about ``1 / (1 - decay)`` recent steps carry most of the weight.
    """

    def __init__(self, model: nn.Module, decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.decay = float(decay)
        self.steps = 0
        live = model.state_dict()
        self.names = list(live)
        self.shadow = {k: v.detach().clone() for k, v in live.items()}
        self._float = [k for k in self.names if live[k].is_floating_point()]

    def update(self, model: nn.Module) -> None:
        """Fold the model's current tensors into the average (call after each optimiser step)."""
        self.steps += 1
        weight = (1.0 - self.decay) / (1.0 - self.decay ** self.steps)
        live = model.state_dict()
        with torch.no_grad():
            torch._foreach_lerp_([self.shadow[k] for k in self._float], [live[k] for k in self._float], weight)
            for k in self.names:
                if k not in self._float:
                    self.shadow[k].copy_(live[k])

    @contextlib.contextmanager
    def applied(self, model: nn.Module):
        """Within the block, ``model`` holds the averaged tensors; its own come back afterwards."""
        live = model.state_dict()
        backup = {k: v.detach().clone() for k, v in live.items()}
        with torch.no_grad():
            for k in self.names:
                live[k].copy_(self.shadow[k])
        try:
            yield model
        finally:
            with torch.no_grad():
                for k in self.names:
                    live[k].copy_(backup[k])

    def state_tensors(self) -> dict:
        """The averaged tensors for a checkpoint, keys ``ema.<state_dict key>``."""
        return {PREFIX + k: v.detach().contiguous().clone() for k, v in self.shadow.items()}

    def load_state_tensors(self, tensors: dict, steps: int) -> None:
        """Restore from :meth:`state_tensors` output (reshaped to the model's shapes) and the step count."""
        missing = [k for k in self.names if PREFIX + k not in tensors]
        if missing:
            raise KeyError(f"the checkpoint has no EMA tensor for {missing[:3]}")
        with torch.no_grad():
            for k in self.names:
                self.shadow[k].copy_(tensors[PREFIX + k].reshape(self.shadow[k].shape))
        self.steps = int(steps)


def averaged(ema: WeightEMA | None, model: nn.Module):
    """``ema.applied(model)``, or a block that changes nothing when ``ema`` is None (EMA off)."""
    return ema.applied(model) if ema is not None else contextlib.nullcontext()
