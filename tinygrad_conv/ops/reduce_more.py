"""More reductions: prod (exact with zeros), logsumexp (stable), the Euclidean norm (zero
gradient at 0). Axes as ``sum``: None, an int or a tuple, negatives allowed, with keepdims.
"""

from __future__ import annotations

import numpy as np

from ..autograd.registry import Op, Sample, register
from ..tensor import Tensor, apply
from ._util import randn, uniform
from .elementwise import Exp, Where
from .index import Flip
from .reduce import _axes, _kept_shape, _reduce_samples, _spread
from .scan import exclusive_cumprod


def _others_product(x: Tensor, axes: tuple[int, ...]) -> Tensor:
    """For each element, the product of the other elements of its reduced slice, without a
    division (so zeros are exact): the reduced axes are merged into one last axis and the
    product of everything before times everything after is taken from two exclusive cumprods."""
    keep = tuple(d for d in range(x.ndim) if d not in axes)
    perm = keep + axes
    inv = tuple(int(i) for i in np.argsort(perm))
    xt = x.transpose(perm) if perm != tuple(range(x.ndim)) else x
    lead = tuple(x.shape[d] for d in keep)
    flat = xt.reshape(lead + (-1,))
    ax = flat.ndim - 1
    before = exclusive_cumprod(flat, ax)
    after = apply(Flip, exclusive_cumprod(apply(Flip, flat, axis=ax), ax), axis=ax)
    out = (before * after).reshape(xt.shape)
    return out.transpose(inv) if perm != tuple(range(x.ndim)) else out


@register("prod")
class Prod(Op):
    """Product over axes; the gradient of each element is the product of the others in its
    slice (exact with one zero or several: no division by x)."""

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        return np.asarray(np.prod(x, axis=_axes(axis, x, "prod"), keepdims=keepdims))

    @staticmethod
    def vjp(ctx, g):
        (x,) = ctx.inputs
        axes = _axes(ctx.attrs["axis"], x.data, "prod")
        if not axes or x.size == 0:
            return (_spread(g, ctx),)
        return (_spread(g, ctx) * _others_product(x, axes),)

    @staticmethod
    def samples():
        yield from _reduce_samples()
        z = uniform(0.5, 1.5, 3, 4)
        z[0, 2] = 0.0  # one zero in row 0
        z[2, 0] = z[2, 3] = 0.0  # two zeros in row 2
        yield Sample((z,), {"axis": 1}, label="zeros")
        yield Sample((z,), {"axis": None}, label="zeros-all")
        yield Sample((randn(2, 3, 2),), {"axis": (0, 2)}, label="two-axes")


@register("logsumexp")
class Logsumexp(Op):
    """log(sum(exp(x))) over axes, computed as m + log(sum(exp(x - m))) with m the max (finite
    for any finite input). VJP: g * softmax = g * exp(x - y)."""

    save_output = True

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        axes = _axes(axis, x, "logsumexp")
        if x.size == 0:
            return np.asarray(np.full(np.sum(x, axis=axes, keepdims=keepdims).shape, -np.inf, dtype=x.dtype))
        m = np.max(x, axis=axes, keepdims=True)
        m = np.where(np.isfinite(m), m, 0).astype(x.dtype)  # all -inf slices: exp(-inf - 0) = 0
        with np.errstate(divide="ignore"):
            out = np.log(np.sum(np.exp(x - m), axis=axes, keepdims=True)) + m
        return np.asarray(out if keepdims else np.squeeze(out, axis=axes))

    @staticmethod
    def vjp(ctx, g):
        (x,) = ctx.inputs
        axes = _axes(ctx.attrs["axis"], x.data, "logsumexp")
        y = ctx.output().reshape(_kept_shape(x.shape, axes))
        return (_spread(g, ctx) * apply(Exp, x - y),)

    @staticmethod
    def samples():
        yield from _reduce_samples()
        yield Sample((randn(2, 3) * 30.0,), {"axis": 1}, label="large")


@register("norm")
class Norm(Op):
    """Euclidean (2- or Frobenius) norm sqrt(sum(x²)) over axes. The gradient x / norm is taken
    as 0 where the norm is 0 (the subgradient PyTorch uses), never nan."""

    save_output = True

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        axes = _axes(axis, x, "norm")
        return np.asarray(np.sqrt(np.sum(x * x, axis=axes, keepdims=keepdims)))

    @staticmethod
    def vjp(ctx, g):
        (x,) = ctx.inputs
        axes = _axes(ctx.attrs["axis"], x.data, "norm")
        y = ctx.output().reshape(_kept_shape(x.shape, axes))
        zero = y.data == 0
        if zero.any():
            one = Tensor(np.ones((), dtype=y.dtype))
            y = apply(Where, Tensor(zero), one, y)  # x is 0 there: the gradient becomes 0 / 1
        return (_spread(g, ctx) * (x / y),)

    @staticmethod
    def samples():
        # (not at 0: the norm has no second derivative there; tests check the 0 gradient at 0)
        yield from _reduce_samples()
