"""tinygrad_conv: a define-by-run autograd micro framework on NumPy for looking inside CNNs."""

from . import _malloc, autodiff, functional
from . import ops as _ops  # noqa: F401  (registers every op)
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
from .functional import concatenate, stack, where
from .gradcheck import GradcheckError, gradcheck, gradcheck_report, gradgradcheck
from .tensor import Tensor

__version__ = "0.1.0"

_malloc.pad_heap()  # keep freed heap for the next step's temporaries (see _malloc; opt out by env)

__all__ = [
    "Tensor", "functional", "no_grad", "enable_grad", "is_grad_enabled", "detect_anomaly",
    "AnomalyError", "registered_ops", "get_op", "gradcheck", "gradcheck_report",
    "GradcheckError", "concatenate", "stack", "where", "grad", "gradgradcheck", "autodiff",
]
