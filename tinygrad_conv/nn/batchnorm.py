"""Batch normalisation, composed from functional ops, with PyTorch's train/eval behaviour.

Training (or ``track_running_stats=False``): normalise with the batch mean and the *biased*
variance over every axis but the channel axis; update the running stats in place with
``running = (1 - momentum) * running + momentum * batch_stat`` where the variance fed to
``running_var`` is the *unbiased* one (n / (n - 1) times the biased). ``momentum=None`` gives a
cumulative average (factor 1 / num_batches_tracked). Eval: normalise with the running stats.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import functional as F
from ..tensor import Tensor
from .module import Module, Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d"]


class _BatchNorm(Module):
    _ndims: tuple[int, ...] = ()
    _layout = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, *, dtype: Any = np.float32) -> None:
        super().__init__()
        if num_features <= 0:
            raise ValueError(f"{type(self).__name__}: num_features must be positive, got {num_features}")
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.weight = Parameter(np.ones(num_features, dtype=dtype)) if affine else None
        self.bias = Parameter(np.zeros(num_features, dtype=dtype)) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", np.ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))

    def forward(self, x: Tensor) -> Tensor:
        name, C = type(self).__name__, self.num_features
        if x.ndim not in self._ndims or x.shape[1] != C:
            raise ValueError(f"{name}: expected input {self._layout} with C={C}, got shape {x.shape}")
        axes = (0,) + tuple(range(2, x.ndim))
        bshape = (1, C) + (1,) * (x.ndim - 2)
        if self.training or not self.track_running_stats:
            n = x.numel() // C
            if self.training and n <= 1:
                raise ValueError(f"{name}: need more than 1 value per channel when training, "
                                 f"got shape {x.shape}")
            mean = F.mean(x, axis=axes, keepdims=True)
            d = x - mean
            var = F.mean(d * d, axis=axes, keepdims=True)  # biased, as PyTorch normalises with
            y = d / F.sqrt(var + self.eps)
            if self.training and self.track_running_stats:
                self._update_running(mean.data.reshape(C), var.data.reshape(C), n)
            if self.affine:
                y = y * F.reshape(self.weight, bshape) + F.reshape(self.bias, bshape)
            return y
        # eval: y = x * scale + shift, with the constant running stats folded in
        inv = Tensor((1.0 / np.sqrt(self.running_var + self.eps)).astype(self.running_var.dtype))
        if self.affine:
            scale = self.weight * inv
            # a copy: a later training step updates running_mean in place
            shift = self.bias - Tensor(self.running_mean.copy()) * scale
        else:
            scale, shift = inv, Tensor(-self.running_mean * inv.data)
        return x * F.reshape(scale, bshape) + F.reshape(shift, bshape)

    def _update_running(self, mean: np.ndarray, var: np.ndarray, n: int) -> None:
        self.num_batches_tracked[...] += 1
        f = 1.0 / float(self.num_batches_tracked) if self.momentum is None else float(self.momentum)
        unbiased = var * (n / (n - 1))
        # in place, so references (and state_dict consumers) see the new values
        self.running_mean *= 1.0 - f
        self.running_mean += f * mean
        self.running_var *= 1.0 - f
        self.running_var += f * unbiased

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch norm over (N, C) or (N, C, L) inputs; statistics per channel C."""

    _ndims = (2, 3)
    _layout = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch norm over (N, C, H, W) inputs; statistics per channel C."""

    _ndims = (4,)
    _layout = "(N, C, H, W)"
