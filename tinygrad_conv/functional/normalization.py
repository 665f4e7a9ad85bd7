"""Normalisation and regularisation functions with PyTorch's signatures: layer_norm, group_norm,
instance_norm, dropout2d and embedding. All are compositions of registered ops (mean, mul, sqrt,
getitem...), so they differentiate to any order. Statistics use the biased variance, as PyTorch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..tensor import ArrayLike, Tensor, as_tensor
from .core import getitem, mean, mul, reshape, sqrt, where

__all__ = ["layer_norm", "group_norm", "instance_norm", "dropout2d", "embedding"]


def _normalize(x: Tensor, axes: tuple[int, ...], eps: float) -> tuple[Tensor, Tensor, Tensor]:
    """(x - mean) / sqrt(var + eps) over ``axes`` (biased variance); also the mean and variance."""
    mu = mean(x, axis=axes, keepdims=True)
    d = x - mu
    var = mean(d * d, axis=axes, keepdims=True)
    return d / sqrt(var + eps), mu, var


def _affine(y: Tensor, weight: ArrayLike | None, bias: ArrayLike | None, shape: tuple[int, ...]) -> Tensor:
    if weight is not None:
        y = y * reshape(as_tensor(weight), shape)
    if bias is not None:
        y = y + reshape(as_tensor(bias), shape)
    return y


def layer_norm(
    x: ArrayLike,
    normalized_shape: int | Sequence[int],
    weight: ArrayLike | None = None,
    bias: ArrayLike | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise over the trailing ``normalized_shape`` axes of x (..., *normalized_shape), then
    y * weight + bias (both of ``normalized_shape``), as ``torch.nn.functional.layer_norm``."""
    x = as_tensor(x)
    ns = (
        (int(normalized_shape),)
        if isinstance(normalized_shape, (int, np.integer))
        else tuple(normalized_shape)
    )
    k = len(ns)
    if k == 0 or x.shape[x.ndim - k :] != ns or x.ndim < k:
        raise ValueError(f"layer_norm: input shape {x.shape} does not end with normalized_shape {ns}")
    for name, v in (("weight", weight), ("bias", bias)):
        vs = None if v is None else tuple(np.shape(v.data if isinstance(v, Tensor) else v))
        if vs is not None and vs != ns:
            raise ValueError(f"layer_norm: {name} must have shape {ns}, got {vs}")
    y, _, _ = _normalize(x, tuple(range(x.ndim - k, x.ndim)), eps)
    return _affine(y, weight, bias, ns)


def group_norm(
    x: ArrayLike,
    num_groups: int,
    weight: ArrayLike | None = None,
    bias: ArrayLike | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise x (N, C, *) over each group of C // num_groups channels and all positions, then a
    per-channel affine weight/bias (C,), as ``torch.nn.functional.group_norm``."""
    x = as_tensor(x)
    if x.ndim < 2 or num_groups < 1 or x.shape[1] % num_groups:
        raise ValueError(
            f"group_norm: num_groups={num_groups} must divide the channels of input {x.shape} (N, C, *)"
        )
    N, C = x.shape[:2]
    xg = reshape(x, (N, num_groups, -1))
    y, _, _ = _normalize(xg, (2,), eps)
    y = reshape(y, x.shape)
    return _affine(y, weight, bias, (1, C) + (1,) * (x.ndim - 2))


def instance_norm(
    x: ArrayLike,
    running_mean: np.ndarray | None = None,
    running_var: np.ndarray | None = None,
    weight: ArrayLike | None = None,
    bias: ArrayLike | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each (sample, channel) of x (N, C, *) over its positions, as
    ``torch.nn.functional.instance_norm``. With running stats (C,) arrays and ``use_input_stats``
    they are updated in place (mean over the batch, unbiased variance); without
    ``use_input_stats`` the running stats normalise instead."""
    x = as_tensor(x)
    if x.ndim < 3:
        raise ValueError(f"instance_norm: input must be (N, C, *) with spatial axes, got shape {x.shape}")
    C = x.shape[1]
    bshape = (1, C) + (1,) * (x.ndim - 2)
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise ValueError("instance_norm: use_input_stats=False needs running_mean and running_var")
        inv = (1.0 / np.sqrt(running_var + eps)).astype(x.dtype)
        y = (x - Tensor(running_mean.astype(x.dtype).reshape(bshape))) * Tensor(inv.reshape(bshape))
        return _affine(y, weight, bias, bshape)
    axes = tuple(range(2, x.ndim))
    y, mu, var = _normalize(x, axes, eps)
    if running_mean is not None and running_var is not None:
        n = int(np.prod(x.shape[2:]))
        unbiased = var.data.reshape(x.shape[0], C) * (n / max(n - 1, 1))
        running_mean *= 1.0 - momentum
        running_mean += momentum * mu.data.reshape(x.shape[0], C).mean(axis=0)
        running_var *= 1.0 - momentum
        running_var += momentum * unbiased.mean(axis=0)
    return _affine(y, weight, bias, bshape)


def dropout2d(
    x: ArrayLike, p: float = 0.5, training: bool = True, rng: np.random.Generator | None = None
) -> Tensor:
    """Zero whole channels: each (n, c) plane of x (N, C, *) is dropped with probability p and the
    rest scaled by 1 / (1 - p) (channel dropout, as ``torch.nn.functional.dropout2d``)."""
    x = as_tensor(x)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout2d: p must be in [0, 1], got {p}")
    if x.ndim < 3:
        raise ValueError(f"dropout2d: input must be (N, C, H, W) or (N, C, L), got shape {x.shape}")
    if not training or p == 0.0:
        return x
    gen: Any = rng if rng is not None else np.random.default_rng()
    shape = x.shape[:2] + (1,) * (x.ndim - 2)
    keep = gen.random(shape) >= p
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    return mul(x, Tensor((keep * scale).astype(x.dtype)))


def embedding(indices: ArrayLike, weight: ArrayLike, padding_idx: int | None = None) -> Tensor:
    """Rows of ``weight`` (num_embeddings, dim) at integer ``indices`` (any shape) ->
    (*indices.shape, dim). The row at ``padding_idx`` gets no gradient, as PyTorch."""
    w = as_tensor(weight)
    idx = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got {idx.dtype}")
    if w.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, dim), got shape {w.shape}")
    n = w.shape[0]
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(
            f"embedding: index out of range [0, {n}) for weight {w.shape}: min {idx.min()}, max {idx.max()}"
        )
    out = getitem(w, idx)
    if padding_idx is None:
        return out
    pad = (idx == padding_idx % n)[..., None]
    if not pad.any():
        return out
    return where(Tensor(pad), Tensor(w.data[idx]), out)  # the padding row: a constant, no gradient
