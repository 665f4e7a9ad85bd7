"""Reductions: sum, mean, max over an axis (int, tuple or None) with NumPy's keepdims."""

from __future__ import annotations

import numpy as np

from ..autograd.registry import Op, Sample, normalize_axes, register
from ._util import randn


def _expand(g: np.ndarray, axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
    """Put the reduced axes back (size 1) so g broadcasts against the input."""
    return g if keepdims else np.expand_dims(g, axes)


def _reduce_samples():
    yield Sample((randn(3, 4),), {"axis": None}, label="all")
    yield Sample((randn(3, 4),), {"axis": 1}, label="axis1")
    yield Sample((randn(2, 3, 4),), {"axis": (0, 2), "keepdims": True}, label="tuple-keep")
    yield Sample((randn(2, 3, 4),), {"axis": -1}, label="neg-axis")


@register("sum")
class Sum(Op):
    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        axes = normalize_axes(axis, x.ndim, "sum")
        ctx.save(x.shape, axes)
        return np.asarray(x.sum(axis=axes, keepdims=keepdims))

    @staticmethod
    def vjp(ctx, g):
        shape, axes = ctx.saved
        return (np.broadcast_to(_expand(g, axes, ctx.attrs.get("keepdims", False)), shape),)

    samples = staticmethod(_reduce_samples)


@register("mean")
class Mean(Op):
    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        axes = normalize_axes(axis, x.ndim, "mean")
        if x.size == 0:
            raise ValueError(f"mean: empty tensor of shape {x.shape}")
        ctx.save(x.shape, axes)
        return np.asarray(x.mean(axis=axes, keepdims=keepdims))

    @staticmethod
    def vjp(ctx, g):
        shape, axes = ctx.saved
        n = int(np.prod([shape[a] for a in axes]))
        g = _expand(g, axes, ctx.attrs.get("keepdims", False)) / n
        return (np.broadcast_to(g, shape),)

    samples = staticmethod(_reduce_samples)


@register("max")
class Max(Op):
    """Maximum over axes; tied maxima share the gradient equally (as NumPy's amax would suggest)."""

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        axes = normalize_axes(axis, x.ndim, "max")
        if x.size == 0:
            raise ValueError(f"max: empty tensor of shape {x.shape}")
        out = x.max(axis=axes, keepdims=True)
        if ctx.needs_input_grad[0]:
            mask = x == out
            ctx.save(mask, mask.sum(axis=axes, keepdims=True), axes)
        return np.asarray(out if keepdims else np.squeeze(out, axis=axes))

    @staticmethod
    def vjp(ctx, g):
        mask, count, axes = ctx.saved
        g = _expand(g, axes, ctx.attrs.get("keepdims", False))
        return (mask * (g / count).astype(g.dtype),)

    @staticmethod
    def samples():
        yield from _reduce_samples()
        yield Sample((np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]]),), {"axis": 1}, label="ties")
