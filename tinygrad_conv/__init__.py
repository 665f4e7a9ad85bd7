"""tinygrad_conv: a define-by-run autograd micro framework on NumPy for looking inside CNNs.

``import tinygrad_conv as tc`` gives the Tensor, the factories (``tc.zeros``, ``tc.randn``, ...),
the functional core set (``tc.exp``, ``tc.cat``, ``tc.where``, ...) and, loaded on first use,
the subpackages ``tc.nn``, ``tc.optim``, ``tc.data`` and ``tc.viz`` (PEP 562), so importing the
package stays fast and never pulls in matplotlib or graphviz.
"""

import importlib
from typing import Any

import numpy as _np

from . import autodiff, functional
from . import ops as _ops  # noqa: F401  (registers every op)
from ._workspace import empty_cache
from .autograd import (
    AnomalyError,
    detect_anomaly,
    enable_grad,
    get_op,
    grad,
    is_grad_enabled,
    no_grad,
    registered_ops,
)
from .factories import (
    arange,
    default_generator,
    empty,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    manual_seed,
    ones,
    ones_like,
    rand,
    randint,
    randn,
    zeros,
    zeros_like,
)
from .functional.core import (
    abs,
    add,
    argmax,
    argmin,
    cat,
    clamp,
    clip,
    concatenate,
    div,
    exp,
    expand,
    flatten,
    log,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mul,
    neg,
    pow,
    relu,
    reshape,
    sigmoid,
    sqrt,
    squeeze,
    stack,
    sub,
    sum,
    tanh,
    transpose,
    unsqueeze,
    var,
    where,
)
from .gradcheck import GradcheckError, gradcheck, gradcheck_report, gradgradcheck
from .tensor import Tensor

__version__ = "0.1.0"

# dtype names as torch spells them (NumPy dtypes underneath)
float16, float32, float64 = _np.dtype("float16"), _np.dtype("float32"), _np.dtype("float64")
int8, int16, int32, int64 = _np.dtype("int8"), _np.dtype("int16"), _np.dtype("int32"), _np.dtype("int64")
uint8, bool_ = _np.dtype("uint8"), _np.dtype("bool")

_LAZY = ("nn", "optim", "data", "viz", "models", "train", "checkpoint")


def __getattr__(name: str) -> Any:
    # subpackages load on first access (PEP 562): viz and data are heavy, nn/optim optional
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "Tensor", "functional", "no_grad", "enable_grad", "is_grad_enabled", "detect_anomaly",
    "AnomalyError", "registered_ops", "get_op", "gradcheck", "gradcheck_report", "GradcheckError",
    "grad", "gradgradcheck", "autodiff", "empty_cache",
    # factories and randomness
    "zeros", "ones", "full", "empty", "zeros_like", "ones_like", "full_like", "arange", "linspace",
    "eye", "rand", "randn", "randint", "manual_seed", "default_generator", "from_numpy",
    # the functional core set
    "add", "sub", "mul", "div", "pow", "neg", "matmul", "exp", "log", "sqrt", "abs", "relu",
    "sigmoid", "tanh", "clip", "clamp", "maximum", "minimum", "where", "sum", "mean", "max", "min",
    "var", "argmax", "argmin", "reshape", "transpose", "flatten", "unsqueeze", "squeeze", "expand",
    "concatenate", "cat", "stack",
    # dtypes
    "float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool_",
]  # the lazy subpackages stay out of __all__, so `from tinygrad_conv import *` stays light
