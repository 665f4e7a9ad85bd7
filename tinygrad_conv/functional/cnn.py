"""CNN functional API with PyTorch signatures: conv2d, pools, softmax, losses and dropout.

Activations are NCHW, conv weights OIHW. conv2d, the pools, softmax, log_softmax, cross_entropy
and nll_loss are registered ops with their own VJPs; mse_loss and dropout are composed from
core ops.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._conventions import renamed
from ..autograd.registry import normalize_axes
from ..ops import conv as conv_ops
from ..ops import loss as loss_ops
from ..ops import pool as pool_ops
from ..tensor import ArrayLike, Tensor, apply, as_tensor
from .core import mean, mul, reshape, sub
from .core import sum as _sum

__all__ = [
    "conv2d", "max_pool2d", "avg_pool2d", "softmax", "log_softmax", "cross_entropy", "nll_loss",
    "mse_loss", "dropout",
]

IntPair = int | tuple[int, int]


def conv2d(
    x: ArrayLike,
    weight: ArrayLike,
    bias: ArrayLike | None = None,
    stride: IntPair = 1,
    padding: IntPair | str = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> Tensor:
    """2-D cross-correlation, as ``torch.nn.functional.conv2d``.

    x: (N, C, H, W), weight: (O, C // groups, kh, kw), bias: (O,) or None -> (N, O, Ho, Wo),
    Ho = (H + pad_top + pad_bottom - dilation*(kh-1) - 1) // stride + 1 (likewise Wo).
    ``padding``: int, (ph, pw), ``'valid'`` (none), ``'same'`` (stride 1 only; output H x W, the
    odd extra row/column of an even kernel goes bottom/right as PyTorch) or ``'full'``
    (dilation*(k-1) on each side).
    """
    inputs = [as_tensor(x), as_tensor(weight)]
    if bias is not None:
        inputs.append(as_tensor(bias))
    return apply(conv_ops.Conv2d, *inputs, **conv_ops.conv_attrs(stride, padding, dilation, groups))


def max_pool2d(
    x: ArrayLike, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0,
    dilation: IntPair = 1, ceil_mode: bool = False, return_indices: bool = False,
) -> Any:
    """Max over kh x kw windows, as ``torch.nn.functional.max_pool2d``.

    x: (N, C, H, W) -> (N, C, Ho, Wo), Ho = (H + 2*ph - kh) // sh + 1. ``stride`` defaults to
    ``kernel_size``; padding (at most half the kernel) is -inf. Each window's gradient goes to its
    first maximum in row-major order. ``dilation``, ``ceil_mode`` and ``return_indices``: see
    ``max_pool2d_ext``.
    """
    if dilation != 1 or ceil_mode or return_indices:  # issue 12: the general (index-based) op
        from .cnn_more import max_pool2d_ext
        return max_pool2d_ext(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices)
    attrs = pool_ops.pool_attrs("max_pool2d", kernel_size, stride, padding)
    return apply(pool_ops.MaxPool2d, as_tensor(x), **attrs)


def avg_pool2d(
    x: ArrayLike, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0,
    ceil_mode: bool = False, count_include_pad: bool = True, divisor_override: int | None = None,
) -> Tensor:
    """Mean over kh x kw windows, as ``torch.nn.functional.avg_pool2d`` (zero padding counts in
    the divisor unless ``count_include_pad=False``). x: (N, C, H, W) -> (N, C, Ho, Wo)."""
    if ceil_mode or not count_include_pad or divisor_override is not None:  # issue 12
        from .cnn_more import avg_pool2d_ext
        return avg_pool2d_ext(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
    attrs = pool_ops.pool_attrs("avg_pool2d", kernel_size, stride, padding)
    return apply(pool_ops.AvgPool2d, as_tensor(x), **attrs)


def _softmax_family(op: Any, x: ArrayLike, axis: int) -> Tensor:
    t = as_tensor(x)
    if t.ndim == 0:  # a 0-d tensor is one 1-element axis (PyTorch): softmax 1, log_softmax 0
        normalize_axes(axis, 1, op.name)
        return reshape(apply(op, reshape(t, (1,)), axis=0), ())
    return apply(op, t, axis=axis)


@renamed(dim="axis")
def softmax(x: ArrayLike, axis: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along ``axis``, computed stably (max subtracted first).

    ``dim=`` is accepted for ``axis=``; a 0-d input gives 1."""
    return _softmax_family(loss_ops.Softmax, x, axis)


@renamed(dim="axis")
def log_softmax(x: ArrayLike, axis: int = -1) -> Tensor:
    """log(softmax(x)) along ``axis`` via log-sum-exp (finite for large logits).

    ``dim=`` is accepted for ``axis=``; a 0-d input gives 0."""
    return _softmax_family(loss_ops.LogSoftmax, x, axis)


def cross_entropy(
    logits: ArrayLike, target: ArrayLike, reduction: str = "mean", label_smoothing: float = 0.0,
    weight: ArrayLike | None = None, ignore_index: int = -100,
) -> Tensor:
    """Softmax cross-entropy in one fused op, as ``torch.nn.functional.cross_entropy``.

    logits: (N, C); target: integer class indices (N,) or class probabilities (N, C).
    reduction: 'mean' (over N) -> (), 'sum' -> (), 'none' -> (N,). With label smoothing e the
    target becomes (1 - e) * target + e / C. Gradient w.r.t. logits: (softmax - q) / N for 'mean'.
    Class ``weight``, ``ignore_index`` and spatial (N, C, d1, ...) logits: see ``cross_entropy_ext``.
    """
    if _needs_ext(logits, target, weight, ignore_index):  # issue 12: the composed general form
        from .loss_more import cross_entropy_ext
        return cross_entropy_ext(logits, target, weight, ignore_index, reduction, label_smoothing)
    z = as_tensor(logits)
    return apply(loss_ops.CrossEntropy, z, as_tensor(target), reduction=reduction,
                 label_smoothing=float(label_smoothing))


def nll_loss(logp: ArrayLike, target: ArrayLike, reduction: str = "mean", weight: ArrayLike | None = None,
             ignore_index: int = -100) -> Tensor:
    """Negative log-likelihood of log-probabilities logp: (N, C) at class indices target: (N,).
    Class ``weight``, ``ignore_index`` and spatial (N, C, d1, ...) inputs: see ``nll_loss_ext``."""
    if _needs_ext(logp, target, weight, ignore_index):  # issue 12
        from .loss_more import nll_loss_ext
        return nll_loss_ext(logp, target, weight, ignore_index, reduction)
    return apply(loss_ops.NllLoss, as_tensor(logp), as_tensor(target), reduction=reduction)


def _needs_ext(x: ArrayLike, target: ArrayLike, weight: Any, ignore_index: int) -> bool:
    """True when a loss call uses an option only the composed general form has (issue 12)."""
    t = np.asarray(target.data if isinstance(target, Tensor) else target)
    return (weight is not None or np.ndim(x.data if isinstance(x, Tensor) else x) > 2
            or (t.dtype.kind in "iu" and bool((t == ignore_index).any())))


def mse_loss(x: ArrayLike, target: ArrayLike, reduction: str = "mean") -> Tensor:
    """Mean squared error; x and target have the same shape. reduction 'mean' | 'sum' | 'none'."""
    x, target = as_tensor(x), as_tensor(target)
    if x.shape != target.shape:
        raise ValueError(f"mse_loss: input shape {x.shape} and target shape {target.shape} differ")
    if reduction not in loss_ops.REDUCTIONS:
        raise ValueError(f"mse_loss: reduction must be one of {loss_ops.REDUCTIONS}, got {reduction!r}")
    d = sub(x, target)
    sq = mul(d, d)
    if reduction == "none":
        return sq
    return mean(sq) if reduction == "mean" else _sum(sq)


def dropout(
    x: ArrayLike, p: float = 0.5, training: bool = True, rng: np.random.Generator | None = None
) -> Tensor:
    """Inverted dropout: zero each element with probability p, scale survivors by 1 / (1 - p).

    Identity when not ``training`` or p == 0. Pass a seeded ``np.random.Generator`` as ``rng`` for
    reproducible masks (a fresh unseeded one is used otherwise).
    """
    x = as_tensor(x)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    gen: Any = rng if rng is not None else np.random.default_rng()
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
    if p == 1.0:
        mask = np.zeros(x.shape, dtype=dtype)
    else:
        u = gen.random(x.shape, dtype=dtype if dtype in (np.float32, np.float64) else np.float64)
        mask = (u >= p).astype(dtype) * dtype.type(1.0 / (1.0 - p))
    return mul(x, Tensor(mask))
