"""Reductions: sum, mean, max, min over an axis (int, tuple or None) with NumPy's keepdims.

The VJPs put the reduced axes back (a reshape) and broadcast (a registered op), so they are
differentiable again. max/min compare in the input's own dtype: exact for every dtype.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..autograd.registry import Op, Sample, normalize_axes, register
from ..tensor import apply
from ._util import randn
from .shape import BroadcastTo


def _axes(axis, x: np.ndarray, op: str) -> tuple[int, ...]:
    """Checked axes; a 0-d tensor accepts axis 0 / -1 as PyTorch (and reduces nothing)."""
    axes = normalize_axes(axis, x.ndim, op)
    return axes if x.ndim else ()


def _kept_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def _spread(g, ctx, scale=None):
    """Upstream gradient (reduced shape) -> input shape: reshape to keepdims form, broadcast."""
    x = ctx.inputs[0]
    axes = _axes(ctx.attrs["axis"], x.data, ctx.op.name)
    g = g.reshape(_kept_shape(x.shape, axes))
    if scale is not None:
        g = g * scale
    return apply(BroadcastTo, g, shape=x.shape) if g.shape != x.shape else g


def _reduce_samples():
    yield Sample((randn(3, 4),), {"axis": None}, label="all")
    yield Sample((randn(3, 4),), {"axis": 1}, label="axis1")
    yield Sample((randn(2, 3, 4),), {"axis": (0, 2), "keepdims": True}, label="tuple-keep")
    yield Sample((randn(2, 3, 4),), {"axis": -1}, label="neg-axis")
    yield Sample((np.array(1.5),), {"axis": 0}, label="0-d")


@register("sum")
class Sum(Op):
    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        return np.asarray(x.sum(axis=_axes(axis, x, "sum"), keepdims=keepdims))

    @staticmethod
    def vjp(ctx, g):
        return (_spread(g, ctx),)

    samples = staticmethod(_reduce_samples)


@register("mean")
class Mean(Op):
    """Mean over axes; over an empty axis the result is nan with a RuntimeWarning (NumPy/PyTorch)."""

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        axes = _axes(axis, x, "mean")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out = np.asarray(x.mean(axis=axes, keepdims=keepdims))
        if x.size == 0 or any(x.shape[a] == 0 for a in axes):
            warnings.warn(f"mean: reducing an empty axis of shape {x.shape} gives nan", RuntimeWarning,
                          stacklevel=3)
        return out

    @staticmethod
    def vjp(ctx, g):
        x = ctx.inputs[0]
        n = int(np.prod([x.shape[a] for a in _axes(ctx.attrs["axis"], x.data, "mean")]))
        return (_spread(g, ctx, 1.0 / n if n else 0.0),)

    samples = staticmethod(_reduce_samples)


class _Extremum(Op):
    """max/min over axes. Tied extrema share the gradient equally (the weights are constants:
    the op is piecewise linear)."""

    fn: Any = staticmethod(np.max)

    @classmethod
    def _forward(cls, ctx, x, axis, keepdims):
        axes = _axes(axis, x, cls.name)
        if x.size == 0:
            raise ValueError(f"{cls.name}: empty tensor of shape {x.shape} has no {cls.name}imum")
        out = cls.fn(x, axis=axes, keepdims=True)
        if ctx.needs_input_grad[0]:
            mask = x == out
            ctx.save(mask, mask.sum(axis=axes, keepdims=True))
        return np.asarray(out if keepdims else np.squeeze(out, axis=axes))

    @staticmethod
    def vjp(ctx, g):
        mask, count = ctx.saved
        return (_spread(g, ctx) * (mask / count).astype(g.dtype),)

    @staticmethod
    def samples():
        yield from _reduce_samples()
        yield Sample((np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]]),), {"axis": 1}, label="ties",
                     second_order=False)


@register("max")
class Max(_Extremum):
    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        return Max._forward(ctx, x, axis, keepdims)


@register("min")
class Min(_Extremum):
    fn: Any = staticmethod(np.min)

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        return Min._forward(ctx, x, axis, keepdims)
