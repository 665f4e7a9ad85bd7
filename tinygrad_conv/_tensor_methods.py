"""The core Tensor methods (elementwise functions, reductions, shapes, softmax): a mixin of
``Tensor``; each is one call into ``tinygrad_conv.functional``, so operators and methods share
one implementation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._conventions import renamed
from ._tensor_ops import F

if TYPE_CHECKING:
    from .tensor import Tensor

ArrayLike = Any


class TensorMethods:
    """Methods of ``Tensor`` (see each functional counterpart for shapes and gradients)."""

    __slots__ = ()

    def exp(self) -> Tensor:
        """e ** self, elementwise."""
        return F.exp(self)

    def log(self) -> Tensor:
        """Natural logarithm, elementwise."""
        return F.log(self)

    def sqrt(self) -> Tensor:
        """Square root, elementwise."""
        return F.sqrt(self)

    def abs(self) -> Tensor:
        """|self|, elementwise."""
        return F.abs(self)

    def relu(self) -> Tensor:
        """max(self, 0), elementwise (gradient 0 at 0, as PyTorch)."""
        return F.relu(self)

    def sigmoid(self) -> Tensor:
        """1 / (1 + exp(-self)), elementwise, computed without overflow."""
        return F.sigmoid(self)

    def tanh(self) -> Tensor:
        """Hyperbolic tangent, elementwise (derivative 1 - tanh²)."""
        return F.tanh(self)

    def clip(self, min: float | None = None, max: float | None = None) -> Tensor:
        """Clamp to [min, max] (one may be None); min > max gives max everywhere (as PyTorch)."""
        return F.clip(self, min, max)

    clamp = clip

    def maximum(self, o: ArrayLike) -> Tensor:
        """Elementwise maximum with broadcasting; ties split the gradient."""
        return F.maximum(self, o)

    def minimum(self, o: ArrayLike) -> Tensor:
        """Elementwise minimum with broadcasting; ties split the gradient."""
        return F.minimum(self, o)

    # reductions take NumPy's axis=/keepdims= or PyTorch's dim=/keepdim= (one or the other)
    @renamed(dim="axis", keepdim="keepdims")
    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        """Sum over ``axis`` (None: all), as ``np.sum``."""
        return F.sum(self, axis=axis, keepdims=keepdims)

    @renamed(dim="axis", keepdim="keepdims")
    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        """Mean over ``axis`` (None: all), as ``np.mean``."""
        return F.mean(self, axis=axis, keepdims=keepdims)

    @renamed(dim="axis", keepdim="keepdims")
    def var(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False,
            correction: int = 0) -> Tensor:
        """Variance over ``axis`` (None: all); ``correction=0`` as ``np.var``."""
        return F.var(self, axis=axis, keepdims=keepdims, correction=correction)

    @renamed(dim="axis", keepdim="keepdims")
    def max(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        """Maximum over ``axis`` (None: all), as ``np.max``."""
        return F.max(self, axis=axis, keepdims=keepdims)

    @renamed(dim="axis", keepdim="keepdims")
    def min(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        """Minimum over ``axis`` (None: all), as ``np.min``."""
        return F.min(self, axis=axis, keepdims=keepdims)

    @renamed(dim="axis", keepdim="keepdims")
    def argmax(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        """Index of the first maximum (over the flattened tensor when ``axis`` is None), int64."""
        return F.argmax(self, axis=axis, keepdims=keepdims)

    @renamed(dim="axis", keepdim="keepdims")
    def argmin(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        """Index of the first minimum (over the flattened tensor when ``axis`` is None), int64."""
        return F.argmin(self, axis=axis, keepdims=keepdims)

    def reshape(self, *shape: int | Sequence[int]) -> Tensor:
        """Same data, new shape: ``t.reshape(2, -1)`` or ``t.reshape((2, -1))``."""
        if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
            shape = tuple(shape[0])  # type: ignore[arg-type]
        return F.reshape(self, shape)  # type: ignore[arg-type]

    def transpose(self, *axes: int | Sequence[int]) -> Tensor:
        """Permute axes (reverse them when none are given), as ``np.transpose``."""
        if len(axes) == 1 and not isinstance(axes[0], (int, np.integer)):
            axes = tuple(axes[0])  # type: ignore[arg-type]
        return F.transpose(self, axes or None)  # type: ignore[arg-type]

    @property
    def T(self) -> Tensor:
        return F.transpose(self)

    @renamed(start_dim="start_axis", end_dim="end_axis")
    def flatten(self, start_axis: int = 0, end_axis: int = -1) -> Tensor:
        """Merge axes start_axis..end_axis into one: ``x.flatten(1)`` turns (N, C, H, W) into (N, C*H*W)."""
        return F.flatten(self, start_axis, end_axis)

    def pad(self, pad_width: Any, value: float = 0.0) -> Tensor:
        """Constant padding, ``pad_width`` as ``np.pad``."""
        return F.pad(self, pad_width, value)

    def astype(self, dtype: Any) -> Tensor:
        """Cast to ``dtype``; the gradient is cast back."""
        return F.cast(self, dtype)

    @renamed(dim="axis")
    def softmax(self, axis: int = -1) -> Tensor:
        """Softmax along ``axis`` (numerically stable)."""
        return F.softmax(self, axis=axis)

    @renamed(dim="axis")
    def log_softmax(self, axis: int = -1) -> Tensor:
        """log(softmax) along ``axis`` via log-sum-exp."""
        return F.log_softmax(self, axis=axis)
