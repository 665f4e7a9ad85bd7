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
from .state_io import read_state_dict, write_state_dict
from .utils import functional_call

__all__ = [
    "init", "Module", "Parameter", "Sequential", "RemovableHandle", "IncompatibleKeys",
    "functional_call", "module_path_map", "Linear", "Conv2d", "MaxPool2d", "AvgPool2d", "Flatten",
    "Identity", "ReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Dropout", "CrossEntropyLoss",
    "MSELoss", "BatchNorm1d", "BatchNorm2d", "read_state_dict", "write_state_dict",
]

# issue 12: activation layers
from .activation import *  # noqa: E402, F403
from .activation import __all__ as _act_all  # noqa: E402

__all__ += list(_act_all)
