"""Neural-network building blocks: Module, Parameter, layers, batch norm and initialisation.

Everything here is composed from ``tinygrad_conv.functional``; no layer has its own backward.
"""

from . import init
from .batchnorm import BatchNorm1d, BatchNorm2d
from .containers import Sequential
from .layers import (
    AvgPool2d,
    Conv2d,
    CrossEntropyLoss,
    Dropout,
    Flatten,
    Identity,
    Linear,
    LogSoftmax,
    MaxPool2d,
    MSELoss,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from .module import (
    IncompatibleKeys,
    Module,
    Parameter,
    RemovableHandle,
    module_path_map,
)
from .utils import functional_call

__all__ = [
    "init", "Module", "Parameter", "Sequential", "RemovableHandle", "IncompatibleKeys",
    "functional_call", "module_path_map", "Linear", "Conv2d", "MaxPool2d", "AvgPool2d", "Flatten",
    "Identity", "ReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Dropout", "CrossEntropyLoss",
    "MSELoss", "BatchNorm1d", "BatchNorm2d",
]

# issue 12: activation layers
from .activation import *  # noqa: E402, F403
from .activation import __all__ as _act_all  # noqa: E402

__all__ += list(_act_all)

# issue 12: more layers, normalisation and containers
from .containers_more import ModuleDict, ModuleList, ParameterList  # noqa: E402
from .layers_more import (  # noqa: E402
    AdaptiveAvgPool2d,
    AdaptiveMaxPool2d,
    BCELoss,
    BCEWithLogitsLoss,
    Conv1d,
    ConvTranspose2d,
    Dropout2d,
    Embedding,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    NLLLoss,
    PixelShuffle,
    PixelUnshuffle,
    SmoothL1Loss,
    Upsample,
)
from .norm import GroupNorm, InstanceNorm2d, LayerNorm  # noqa: E402

__all__ += [
    "ModuleList", "ModuleDict", "ParameterList", "ConvTranspose2d", "Conv1d", "Upsample", "AdaptiveAvgPool2d",
    "AdaptiveMaxPool2d", "PixelShuffle", "PixelUnshuffle", "Dropout2d", "Embedding", "BCELoss",
    "BCEWithLogitsLoss", "NLLLoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "KLDivLoss", "LayerNorm",
    "GroupNorm", "InstanceNorm2d",
]
