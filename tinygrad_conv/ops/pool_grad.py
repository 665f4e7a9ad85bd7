"""The gradient ops of the pools, registered with VJPs of their own so pools differentiate to any
order: max_pool2d's scatter (max_pool2d_grad) and its adjoint gather (max_pool2d_select), both
driven by the first-max masks max_pool2d's forward kept, and avg_pool2d's spread (avg_pool2d_grad),
whose adjoint is avg_pool2d itself."""

from __future__ import annotations

import numpy as np

from ..autograd.registry import Op, Sample, register
from ..autograd.tape import Node
from ..tensor import apply
from ._util import randn
from .pool import (
    AvgPool2d,
    Frame,
    MaxPool2d,
    _crop,
    _frame,
    _grad_buffer,
    _pad,
    _split,
    _split_add,
    _tiled_backward,
    _views,
    pool_geometry,
)


def window(attrs: dict) -> dict:
    return {k: attrs[k] for k in ("kernel_size", "stride", "padding")}


def _in_frame(shape: tuple[int, ...], f: Frame) -> tuple[int, ...]:
    return tuple(shape[i] for i in f.perm)


@register("max_pool2d_grad")
class MaxPool2dGrad(Op):
    """max_pool2d's gradient scatter: g (N, C, Ho, Wo) routed to each window's first maximum ->
    (N, C, H, W) = ``x_shape``. ``state`` is what max_pool2d's forward kept (geometry, axis order,
    first-max masks). Linear in g; its VJP is the matching gather, max_pool2d_select."""

    @staticmethod
    def forward(ctx, g, state=None, x_shape=(), kernel_size=2, stride=None, padding=0):
        geo, f, masks = state
        g = f.to_frame(g)
        if isinstance(masks, tuple):  # the exactly tiling fast path
            row_masks, col_masks = masks
            dx = _tiled_backward(g, row_masks, col_masks, geo)
        else:
            dxp = _grad_buffer(_in_frame(tuple(x_shape), f), g.dtype, geo, f)
            # disjoint windows: each input gets at most one part, assign; overlapping ones: add
            (_split if geo.disjoint else _split_add)(g, masks, list(_views(dxp, geo, f)))
            dx = _crop(dxp, geo, f)
        return f.from_frame(dx)

    @staticmethod
    def vjp(ctx, gx):
        a = ctx.attrs
        return (apply(MaxPool2dSelect, gx, state=a["state"], x_shape=a["x_shape"], **window(a)),)

    label = MaxPool2d.label

    @staticmethod
    def samples():
        yield from _select_samples("grad")


@register("max_pool2d_select")
class MaxPool2dSelect(Op):
    """The gather adjoint to max_pool2d_grad: from y (N, C, H, W) take, for every window, the value
    at the position of the forward input's first maximum -> (N, C, Ho, Wo). At the forward input
    itself this is max_pool2d; it appears in second-order graphs. Its VJP is max_pool2d_grad."""

    @staticmethod
    def forward(ctx, y, state=None, x_shape=(), kernel_size=2, stride=None, padding=0):
        geo, f, masks = state
        yw = f.to_frame(y)
        if isinstance(masks, tuple):
            row_masks, col_masks = masks
            (kh, kw), (Ho, Wo) = geo.kernel, geo.out_hw
            yr = np.ascontiguousarray(yw).reshape(-1, kw)
            rowsel = _select([yr[:, j] for j in range(kw)], col_masks)
            r3 = rowsel.reshape(-1, kh, Wo)
            out = _select([r3[:, i] for i in range(kh)], row_masks).reshape(yw.shape[0], yw.shape[1], Ho, Wo)
        else:
            out = _select(list(_views(_pad(yw, geo, 0, f), geo, f)), masks)
        return f.from_frame(out)

    @staticmethod
    def vjp(ctx, g):
        a = ctx.attrs
        return (apply(MaxPool2dGrad, g, state=a["state"], x_shape=a["x_shape"], **window(a)),)

    label = MaxPool2d.label

    @staticmethod
    def samples():
        yield from _select_samples("select")


def _select(cands: list[np.ndarray], masks: list[np.ndarray]) -> np.ndarray:
    """Candidate k where mask k-1 holds (the masks are disjoint), candidate 0 elsewhere."""
    out = np.array(cands[0])
    for c, m in zip(cands[1:], masks):
        np.copyto(out, c, where=m)
    return out


def _select_samples(kind: str):
    """max_pool2d's samples with the state its forward keeps, for the gradient ops."""
    for smp in MaxPool2d.samples():
        x = smp.args[0]
        ctx = Node(MaxPool2d, (), (True,), {})
        out = MaxPool2d.forward(ctx, x, **smp.kwargs)
        attrs = {**smp.kwargs, "state": ctx.saved, "x_shape": x.shape}
        arg = randn(*out.shape) if kind == "grad" else randn(*x.shape)
        yield Sample((arg,), attrs, label=smp.label)


@register("avg_pool2d_grad")
class AvgPool2dGrad(Op):
    """avg_pool2d's gradient: g (N, C, Ho, Wo) / (kh*kw) spread over each window -> ``x_shape``.
    avg_pool2d's adjoint, so its VJP is avg_pool2d."""

    @staticmethod
    def forward(ctx, g, x_shape=(), kernel_size=2, stride=None, padding=0):
        geo = pool_geometry("avg_pool2d", tuple(x_shape), {"kernel_size": kernel_size, "stride": stride,
                                                           "padding": padding})
        f = _frame(g)
        gk = f.to_frame(g) * g.dtype.type(1.0 / (geo.kernel[0] * geo.kernel[1]))
        dxp = _grad_buffer(_in_frame(tuple(x_shape), f), g.dtype, geo, f)
        for dv in _views(dxp, geo, f):
            if geo.disjoint:
                dv[...] = gk
            else:
                dv += gk
        return f.from_frame(_crop(dxp, geo, f))

    @staticmethod
    def vjp(ctx, gx):
        return (apply(AvgPool2d, gx, **window(ctx.attrs)),)

    label = MaxPool2d.label

    @staticmethod
    def samples():
        for smp in AvgPool2d.samples():
            x = smp.args[0]
            geo = pool_geometry("avg_pool2d", x.shape, smp.kwargs)
            yield Sample((randn(x.shape[0], x.shape[1], *geo.out_hw),), {**smp.kwargs, "x_shape": x.shape},
                         label=smp.label)
