"""Scans along one axis: cumsum and cumprod (exact with zeros).

cumsum's VJP is a reversed cumsum. cumprod's VJP is sum_{k >= i} g_k y_k / x_i when no input is
zero; with zeros it builds, per slice of length n, the n x n table of partial products
prod_{i < j <= k} x_j (a cumprod of a masked copy), so no division by zero ever happens. Both are
made of registered ops, hence differentiable again.
"""

from __future__ import annotations

import numpy as np

from ..autograd.registry import Op, Sample, normalize_axes, register
from ..tensor import Tensor, apply
from ._util import randn, uniform
from .elementwise import Where
from .index import Flip
from .shape import BroadcastTo, GetItem, Pad


def _axis(axis, x, op: str) -> int:
    if axis is None:
        raise TypeError(f"{op}: axis (dim) is required, as in PyTorch")
    return normalize_axes(axis, x.ndim, op)[0] if x.ndim else 0


def _scan(fn, x: np.ndarray, axis, op: str) -> np.ndarray:
    ax = _axis(axis, x, op)
    if x.ndim == 0:
        return x.copy()
    return fn(x, axis=ax, dtype=x.dtype if x.dtype.kind == "f" else None)


def _last(t: Tensor, ax: int) -> int:
    """The positive index of ``ax`` (0-d tensors scan nothing)."""
    return ax if t.ndim else 0


def rev_cumsum(g: Tensor, ax: int) -> Tensor:
    """out_i = sum_{k >= i} g_k along ``ax`` (recorded: flip, cumsum, flip)."""
    return apply(Flip, apply(Cumsum, apply(Flip, g, axis=ax), axis=ax), axis=ax)


def exclusive_cumprod(x: Tensor, ax: int) -> Tensor:
    """out_i = prod_{j < i} x_j along ``ax`` (1 at i = 0): cumprod of x shifted by one."""
    n = x.shape[ax]
    pw = tuple((1, 0) if d == ax else (0, 0) for d in range(x.ndim))
    shifted = apply(GetItem, apply(Pad, x, pad_width=pw, value=1.0),
                    index=(slice(None),) * ax + (slice(0, n),))
    return apply(Cumprod, shifted, axis=ax)


@register("cumsum")
class Cumsum(Op):
    """Running sum along ``axis`` (required), as ``torch.cumsum``; float dtypes are kept."""

    @staticmethod
    def forward(ctx, x, axis=None):
        return _scan(np.cumsum, x, axis, "cumsum")

    @staticmethod
    def vjp(ctx, g):
        if g.ndim == 0:
            return (g,)
        return (rev_cumsum(g, _axis(ctx.attrs["axis"], g.data, "cumsum")),)

    @staticmethod
    def samples():
        yield Sample((randn(3, 4),), {"axis": 1}, label="axis1")
        yield Sample((randn(2, 3, 2),), {"axis": -3}, label="neg")
        yield Sample((np.array(0.3),), {"axis": 0}, label="0-d")


@register("cumprod")
class Cumprod(Op):
    """Running product along ``axis`` (required), as ``torch.cumprod``; exact gradients with zeros."""

    save_output = True

    @staticmethod
    def forward(ctx, x, axis=None):
        return _scan(np.cumprod, x, axis, "cumprod")

    @staticmethod
    def vjp(ctx, g):
        (x,) = ctx.inputs
        if x.ndim == 0:
            return (g,)
        ax = _axis(ctx.attrs["axis"], x.data, "cumprod")
        if not (x.data == 0).any():
            return (rev_cumsum(g * ctx.output(), ax) / x,)
        return (_cumprod_grad_with_zeros(g, x, ax),)

    @staticmethod
    def samples():
        yield Sample((uniform(0.5, 1.5, 3, 4) * np.sign(randn(3, 4)),), {"axis": 1}, label="no-zero")
        z = uniform(0.5, 1.5, 2, 5)
        z[0, 1] = 0.0
        z[1, 1] = z[1, 3] = 0.0
        yield Sample((z,), {"axis": -1}, label="zeros")
        yield Sample((np.array(1.3),), {"axis": 0}, label="0-d")


def _cumprod_grad_with_zeros(g: Tensor, x: Tensor, ax: int) -> Tensor:
    """dL/dx_i = E_i * sum_{k >= i} g_k P(i, k) with E_i = prod_{j < i} x_j and
    P(i, k) = prod_{i < j <= k} x_j, from a cumprod over k of T[i, k] = x_k if k > i else 1."""
    n = x.shape[ax]
    # move the scanned axis last: (..., n); then a table (..., n_i, n_k)
    perm = tuple(d for d in range(x.ndim) if d != ax) + (ax,)
    inv = tuple(int(i) for i in np.argsort(perm))
    xt, gt = x.transpose(perm), g.transpose(perm)
    lead = xt.shape[:-1]
    later = np.arange(n)[None, :] > np.arange(n)[:, None]  # [i, k]: k > i
    table = apply(BroadcastTo, xt.reshape(lead + (1, n)), shape=lead + (n, n))
    ones = Tensor(np.ones((), dtype=x.dtype))
    p = apply(Cumprod, apply(Where, Tensor(later), table, ones), axis=x.ndim)
    upper = (later | np.eye(n, dtype=bool)).astype(x.dtype)  # k >= i
    s = (p * upper * gt.reshape(lead + (1, n))).sum(axis=-1)
    return (exclusive_cumprod(xt, xt.ndim - 1) * s).transpose(inv)
