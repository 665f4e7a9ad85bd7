"""The autograd engine: tape nodes, grad mode, backward and the op registry."""

from .engine import backward, grad, run_backward, toposort
from .registry import (
    REGISTRY,
    Op,
    Registry,
    Sample,
    get_op,
    normalize_axes,
    register,
    registered_ops,
    unbroadcast,
)
from .tape import (
    AnomalyError,
    Node,
    detect_anomaly,
    enable_grad,
    is_grad_enabled,
    name_scope,
    no_grad,
)

__all__ = [
    "REGISTRY", "Op", "Registry", "Sample", "get_op", "normalize_axes", "register",
    "registered_ops", "unbroadcast", "AnomalyError", "Node", "backward", "detect_anomaly",
    "enable_grad", "is_grad_enabled", "name_scope", "no_grad", "toposort", "grad", "run_backward",
]
