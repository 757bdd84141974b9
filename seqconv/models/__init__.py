"""PyTorch models of TF binding: building blocks, named architectures, ``describe``.

>>> from seqconv.models import build_model, get_config, describe
>>> model = build_model(get_config("basset", n_tasks=2, input_length=101), seed=0)
>>> model(torch.zeros(8, 4, 101)).shape            # doctest: +SKIP
torch.Size([8, 2])
"""

from seqconv.models.architectures import (  # noqa: F401
    ARCHITECTURES,
    Backbone,
    BassetConfig,
    DeepBindConfig,
    ResNetConfig,
    SeqModel,
    Trunk,
    build_model,
    config_from_dict,
    default_tasks,
    get_config,
    inference_copy,
)
from seqconv.models.blocks import ConvBlock, DilatedResidualBlock, GlobalPool, MultiWidthConv  # noqa: F401
from seqconv.models.card import ModelCard  # noqa: F401
from seqconv.models.describe import describe, format_table  # noqa: F401
from seqconv.models.ensemble import ensemble, is_ensemble  # noqa: F401
from seqconv.models.heads import DenseHead  # noqa: F401

__all__ = [
    "ARCHITECTURES", "Backbone", "ModelCard", "default_tasks", "BassetConfig", "DeepBindConfig", "ResNetConfig",
    "SeqModel", "Trunk", "build_model", "config_from_dict", "get_config", "inference_copy", "ConvBlock",
    "DilatedResidualBlock", "GlobalPool", "MultiWidthConv",
    "DenseHead", "describe", "format_table",
]
