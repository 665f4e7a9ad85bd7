"""Normalisation layers beyond batch norm: LayerNorm, GroupNorm, InstanceNorm2d (PyTorch's
arguments, defaults and parameter names), composed from ``functional.normalization``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import functional as F
from ..tensor import Tensor
from .module import Module, Parameter

__all__ = ["LayerNorm", "GroupNorm", "InstanceNorm2d"]


class LayerNorm(Module):
    """Normalise over the trailing ``normalized_shape`` axes: x (..., *normalized_shape) -> same shape.

    weight (ones) and bias (zeros) of ``normalized_shape`` when ``elementwise_affine``."""

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        *,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__()
        ns = (
            (int(normalized_shape),)
            if isinstance(normalized_shape, (int, np.integer))
            else tuple(normalized_shape)
        )
        self.normalized_shape, self.eps, self.elementwise_affine = ns, float(eps), elementwise_affine
        self.weight = Parameter(np.ones(ns, dtype=dtype)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(ns, dtype=dtype)) if elementwise_affine and bias else None

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class GroupNorm(Module):
    """Normalise x (N, C, *) over groups of C // num_groups channels; per-channel weight/bias (C,)."""

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        *,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__()
        if num_groups < 1 or num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_groups {num_groups} must divide num_channels {num_channels}")
        self.num_groups, self.num_channels, self.eps, self.affine = (
            int(num_groups),
            int(num_channels),
            float(eps),
            affine,
        )
        self.weight = Parameter(np.ones(num_channels, dtype=dtype)) if affine else None
        self.bias = Parameter(np.zeros(num_channels, dtype=dtype)) if affine else None

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm: expected input (N, {self.num_channels}, *), got shape {x.shape}")
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"


class InstanceNorm2d(Module):
    """Normalise each (sample, channel) plane of x (N, C, H, W). PyTorch's defaults: no affine
    parameters and no running stats; with ``track_running_stats`` eval mode uses the running stats."""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = False,
        track_running_stats: bool = False,
        *,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), float(momentum)
        self.affine, self.track_running_stats = affine, track_running_stats
        self.weight = Parameter(np.ones(num_features, dtype=dtype)) if affine else None
        self.bias = Parameter(np.zeros(num_features, dtype=dtype)) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", np.ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.num_features:
            raise ValueError(
                f"InstanceNorm2d: expected input (N, {self.num_features}, H, W), got shape {x.shape}"
            )
        track = self.track_running_stats
        use_input = self.training or not track
        if track and self.training:
            self.num_batches_tracked[...] += 1
        return F.instance_norm(
            x,
            self.running_mean if track else None,
            self.running_var if track else None,
            self.weight,
            self.bias,
            use_input_stats=use_input,
            momentum=self.momentum,
            eps=self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"track_running_stats={self.track_running_stats}"
        )
