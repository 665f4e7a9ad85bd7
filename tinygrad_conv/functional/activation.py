"""Activation functions (PyTorch's ``torch.nn.functional`` names and defaults). Each maps a
tensor of any shape to one of the same shape, except ``glu`` (halves ``dim``)."""

from __future__ import annotations

from .._conventions import renamed
from ..autograd.registry import normalize_axes
from ..ops import activation as act
from ..tensor import ArrayLike, Tensor, apply, as_tensor
from . import core as C

__all__ = [
    "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "mish", "softplus", "softsign", "hardtanh",
    "relu6", "hardsigmoid", "hardswish", "logsigmoid", "prelu", "glu",
]

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def leaky_relu(x: ArrayLike, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, negative_slope * x elsewhere."""
    return apply(act.LeakyRelu, as_tensor(x), negative_slope=float(negative_slope))


def elu(x: ArrayLike, alpha: float = 1.0) -> Tensor:
    """x where x > 0, alpha * (exp(x) - 1) elsewhere."""
    return apply(act.Elu, as_tensor(x), alpha=float(alpha))


def selu(x: ArrayLike) -> Tensor:
    """scale * elu(x, alpha) with the self-normalising constants (alpha ~ 1.6733, scale ~ 1.0507)."""
    return apply(act.Elu, as_tensor(x), alpha=_SELU_ALPHA, scale=_SELU_SCALE)


def celu(x: ArrayLike, alpha: float = 1.0) -> Tensor:
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1)) (alpha != 0)."""
    if alpha == 0:
        raise ValueError("celu: alpha must be nonzero")
    return apply(act.Elu, as_tensor(x), alpha=float(alpha), input_scale=1.0 / alpha)


def gelu(x: ArrayLike, approximate: str = "none") -> Tensor:
    """x * Phi(x) (Phi: the standard normal CDF); ``approximate='tanh'`` uses
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x³))), as PyTorch."""
    return apply(act.Gelu, as_tensor(x), approximate=approximate)


def silu(x: ArrayLike) -> Tensor:
    """x * sigmoid(x) (swish)."""
    return apply(act.Silu, as_tensor(x))


def mish(x: ArrayLike) -> Tensor:
    """x * tanh(softplus(x))."""
    return apply(act.Mish, as_tensor(x))


def softplus(x: ArrayLike, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, reverting to x where beta x > threshold (as PyTorch)."""
    return apply(act.Softplus, as_tensor(x), beta=float(beta), threshold=float(threshold))


def softsign(x: ArrayLike) -> Tensor:
    """x / (1 + |x|)."""
    return apply(act.Softsign, as_tensor(x))


def hardtanh(x: ArrayLike, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """clip(x, min_val, max_val); gradient 1 strictly inside, 0 outside."""
    return apply(act.Hardtanh, as_tensor(x), min_val=float(min_val), max_val=float(max_val))


def relu6(x: ArrayLike) -> Tensor:
    """min(max(x, 0), 6) = hardtanh(x, 0, 6)."""
    return hardtanh(x, 0.0, 6.0)


def hardsigmoid(x: ArrayLike) -> Tensor:
    """clip(x / 6 + 1/2, 0, 1)."""
    return apply(act.Hardsigmoid, as_tensor(x))


def hardswish(x: ArrayLike) -> Tensor:
    """x * clip(x + 3, 0, 6) / 6."""
    return apply(act.Hardswish, as_tensor(x))


def logsigmoid(x: ArrayLike) -> Tensor:
    """log(sigmoid(x)), stable for large |x|."""
    return apply(act.Logsigmoid, as_tensor(x))


def prelu(x: ArrayLike, weight: ArrayLike) -> Tensor:
    """x where x > 0, weight * x elsewhere, with a learnable ``weight``: shape (1,) (shared) or
    (C,), one per channel, where channels are dim 1 of x (N, C, ...) as in PyTorch."""
    x, w = C._pair(x, weight)
    if w.ndim != 1 or (w.shape[0] != 1 and (x.ndim < 2 or w.shape[0] != x.shape[1])):
        raise ValueError(f"prelu: weight of shape {w.shape} does not fit input {x.shape} "
                         "(expected (1,) or (C,) with x (N, C, ...))")
    if x.ndim >= 2:
        w = w.reshape((1, w.shape[0]) + (1,) * (x.ndim - 2))
    elif x.ndim == 0:
        w = w.reshape(())
    # the mask is a constant: prelu is piecewise linear in x (and linear in weight)
    return C.where(x.data > 0, x, w * x)


@renamed(axis="dim")
def glu(x: ArrayLike, dim: int = -1) -> Tensor:
    """Gated linear unit a * sigmoid(b) where a, b are the two halves of ``dim`` (even size)."""
    x = as_tensor(x)
    if x.ndim == 0:
        raise ValueError("glu: needs at least one dimension")
    ax = normalize_axes(dim, x.ndim, "glu")[0]
    n = x.shape[ax]
    if n % 2:
        raise ValueError(f"glu: dim {dim} of shape {x.shape} has odd size {n}")
    lead = (slice(None),) * ax
    return x[lead + (slice(0, n // 2),)] * C.sigmoid(x[lead + (slice(n // 2, n),)])
