"""Layers composed from ``tinygrad_conv.functional`` (none has its own backward).

Weight layouts and default initialisation are PyTorch's: Linear weight (out, in), Conv2d weight
(out, in/groups, kh, kw), both U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform with
a=sqrt(5)) with a bias of the same bound. Every layer with parameters takes ``rng`` (Generator,
seed or None) and ``dtype`` (float32 by default).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import functional as F
from ..tensor import Tensor
from . import init
from .init import RngLike
from .module import Module, Parameter

__all__ = [
    "Linear", "Conv2d", "MaxPool2d", "AvgPool2d", "Flatten", "ReLU", "Sigmoid", "Tanh", "Softmax",
    "LogSoftmax", "Dropout", "CrossEntropyLoss", "MSELoss", "Identity",
]


def _pair(v: Any, what: str) -> tuple[int, int]:
    if isinstance(v, (int, np.integer)):
        return int(v), int(v)
    t = tuple(int(i) for i in v)
    if len(t) != 2:
        raise ValueError(f"{what}: expected an int or a pair, got {v!r}")
    return t  # type: ignore[return-value]


def _default_init(weight: Parameter, bias: Parameter | None, rng: np.random.Generator) -> None:
    """PyTorch's reset_parameters for Linear and Conv: kaiming_uniform(a=sqrt(5)), bias U(+-1/sqrt(fan_in)).
    """
    init.kaiming_uniform_(weight, a=math.sqrt(5), rng=rng)
    if bias is not None:
        fan_in, _ = init.fan_in_and_fan_out(weight)
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        init.uniform_(bias, -bound, bound, rng=rng)


def _to_param_dtype(x: Any, weight: Parameter) -> Tensor:
    """Cast the input to the layer's dtype at the module boundary, so a float64 (or integer) batch
    cannot silently turn a float32 network float64 (PyTorch raises instead; see coming-from.md)."""
    x = x if isinstance(x, Tensor) else Tensor(x)
    return x if x.dtype == weight.dtype else F.cast(x, weight.dtype)


class Linear(Module):
    """y = x @ weight.T + bias.  x: (..., in_features) -> (..., out_features).

    weight: (out_features, in_features), bias: (out_features,).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *,
                 rng: RngLike = None, dtype: Any = np.float32) -> None:
        super().__init__()
        if in_features <= 0 or out_features <= 0:
            raise ValueError(f"Linear: features must be positive, got ({in_features}, {out_features})")
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dtype))
        self.bias = Parameter(np.empty(out_features, dtype=dtype)) if bias else None
        _default_init(self.weight, self.bias, init.as_rng(rng))

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(_to_param_dtype(x, self.weight), self.weight, self.bias)

    def extra_repr(self) -> str:
        has_bias = self.bias is not None
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={has_bias}"


class Conv2d(Module):
    """2-D convolution (cross-correlation, as PyTorch).  x: (N, C_in, H, W) -> (N, C_out, H', W').

    weight: (out_channels, in_channels // groups, kh, kw), bias: (out_channels,).
    padding: int, pair, or 'same' / 'valid' / 'full'.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] | str = 0,
                 dilation: int | tuple[int, int] = 1, groups: int = 1, bias: bool = True, *,
                 rng: RngLike = None, dtype: Any = np.float32) -> None:
        super().__init__()
        if in_channels <= 0 or out_channels <= 0 or groups <= 0:
            raise ValueError(f"Conv2d: channels and groups must be positive, got in={in_channels}, "
                             f"out={out_channels}, groups={groups}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv2d: in_channels {in_channels} and out_channels {out_channels} "
                             f"must both be divisible by groups {groups}")
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.kernel_size = _pair(kernel_size, "Conv2d kernel_size")
        self.stride = _pair(stride, "Conv2d stride")
        self.dilation = _pair(dilation, "Conv2d dilation")
        if isinstance(padding, str):
            if padding not in ("same", "valid", "full"):
                raise ValueError(
                    f"Conv2d: padding must be an int, a pair, 'same', 'valid' or 'full', got {padding!r}")
            self.padding: tuple[int, int] | str = padding
        else:
            self.padding = _pair(padding, "Conv2d padding")
        shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(np.empty(shape, dtype=dtype))
        self.bias = Parameter(np.empty(out_channels, dtype=dtype)) if bias else None
        _default_init(self.weight, self.bias, init.as_rng(rng))

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(_to_param_dtype(x, self.weight), self.weight, self.bias, stride=self.stride,
                        padding=self.padding,
                        dilation=self.dilation, groups=self.groups)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}, padding={self.padding}")
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class _Pool2d(Module):
    def __init__(self, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None,
                 padding: int | tuple[int, int] = 0) -> None:
        super().__init__()
        self.kernel_size = _pair(kernel_size, f"{type(self).__name__} kernel_size")
        self.stride = self.kernel_size if stride is None else _pair(stride, f"{type(self).__name__} stride")
        self.padding = _pair(padding, f"{type(self).__name__} padding")

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """Max over kh x kw windows.  x: (N, C, H, W) -> (N, C, H', W'); stride defaults to kernel_size.
    ``dilation``, ``return_indices`` and ``ceil_mode`` as PyTorch (see ``F.max_pool2d``)."""

    def __init__(self, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None,
                 padding: int | tuple[int, int] = 0, dilation: int | tuple[int, int] = 1,
                 return_indices: bool = False, ceil_mode: bool = False) -> None:
        super().__init__(kernel_size, stride, padding)
        self.dilation, self.return_indices, self.ceil_mode = dilation, return_indices, ceil_mode

    def forward(self, x: Tensor) -> Any:
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                            self.return_indices)


class AvgPool2d(_Pool2d):
    """Mean over kh x kw windows.  x: (N, C, H, W) -> (N, C, H', W'); stride defaults to kernel_size.
    ``ceil_mode``, ``count_include_pad`` and ``divisor_override`` as PyTorch (see ``F.avg_pool2d``)."""

    def __init__(self, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None,
                 padding: int | tuple[int, int] = 0, ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None) -> None:
        super().__init__(kernel_size, stride, padding)
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad
        self.divisor_override = divisor_override

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)


class Flatten(Module):
    """Merge axes start_axis..end_axis: (N, C, H, W) -> (N, C*H*W) by default."""

    def __init__(self, start_axis: int = 1, end_axis: int = -1) -> None:
        super().__init__()
        self.start_axis, self.end_axis = start_axis, end_axis

    def forward(self, x: Tensor) -> Tensor:
        return F.flatten(x, self.start_axis, self.end_axis)

    def extra_repr(self) -> str:
        return f"start_axis={self.start_axis}, end_axis={self.end_axis}"


class Identity(Module):
    """Returns its input."""

    def forward(self, x: Tensor) -> Tensor:
        return x


class ReLU(Module):
    """max(x, 0), elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x)


class Sigmoid(Module):
    """1 / (1 + exp(-x)), elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        return F.sigmoid(x)


class Tanh(Module):
    """tanh(x), elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        return F.tanh(x)


class Softmax(Module):
    """exp(x) / sum(exp(x)) over ``axis``."""

    def __init__(self, axis: int = -1) -> None:
        super().__init__()
        self.axis = axis

    def forward(self, x: Tensor) -> Tensor:
        return F.softmax(x, axis=self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class LogSoftmax(Softmax):
    """log(softmax(x)) over ``axis``, computed stably."""

    def forward(self, x: Tensor) -> Tensor:
        return F.log_softmax(x, axis=self.axis)


class Dropout(Module):
    """Zero each element with probability p and scale the rest by 1/(1-p) while training;
    identity in eval mode. Draws from ``rng`` (Generator or seed), or with None from the global
    generator that ``tc.manual_seed`` reseeds."""

    def __init__(self, p: float = 0.5, *, rng: RngLike = None) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = float(p)
        self.rng = init.as_rng(rng)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        return F.dropout(x, p=self.p, training=True, rng=self.rng)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class CrossEntropyLoss(Module):
    """Softmax cross-entropy of logits (N, C) against class indices (N,) or probabilities (N, C).

    reduction: 'mean' | 'sum' | 'none'; label_smoothing as PyTorch.
    """

    def __init__(self, reduction: str = "mean", label_smoothing: float = 0.0, *, weight: Any = None,
                 ignore_index: int = -100) -> None:
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(
                f"CrossEntropyLoss: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be in [0, 1], got {label_smoothing}")
        self.reduction, self.label_smoothing = reduction, float(label_smoothing)
        self.weight, self.ignore_index = weight, ignore_index  # class weights (C,), as PyTorch

    def forward(self, logits: Tensor, target: Any) -> Tensor:
        return F.cross_entropy(logits, target, reduction=self.reduction, label_smoothing=self.label_smoothing,
                               weight=self.weight, ignore_index=self.ignore_index)

    def extra_repr(self) -> str:
        s = f"reduction={self.reduction!r}"
        return s + (f", label_smoothing={self.label_smoothing}" if self.label_smoothing else "")


class MSELoss(Module):
    """Mean squared error between two tensors of the same shape."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"MSELoss: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        self.reduction = reduction

    def forward(self, x: Tensor, y: Any) -> Tensor:
        return F.mse_loss(x, y, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"
