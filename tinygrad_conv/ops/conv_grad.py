"""conv2d's gradient ops, registered with VJPs of their own so conv layers differentiate to any
order: the input gradient (a transposed convolution), the weight gradient and the bias gradient.
conv2d_input_grad and conv2d_weight_grad are bilinear; each one's VJP is conv2d and the other."""

from __future__ import annotations

import numpy as np

from .._workspace import WORKSPACE
from ..autograd.registry import Op, Sample, register
from ..tensor import apply
from ._util import randn
from .conv import (
    Conv2d,
    _dx_per_offset,
    col2im,
    conv_attrs,
    conv_geometry,
    gt_cols,
    im2col,
    use_per_offset_dx,
)
from .shape import BroadcastTo


def window_attrs(ctx) -> dict:
    """The conv attributes (stride, padding, dilation, groups) of a conv-family node, normalised."""
    return conv_attrs(**{k: ctx.attrs[k] for k in ("stride", "padding", "dilation", "groups")})


def _grad_samples(kind: str):
    """conv2d's samples recast for its gradient ops: an upstream gradient of the output's shape."""
    for smp in Conv2d.samples():
        x, w = smp.args[:2]
        geo = conv_geometry(x.shape, w.shape, None, smp.kwargs)
        g = randn(x.shape[0], w.shape[0], *geo.out_hw)
        if kind == "input":
            yield Sample((g, w), {**smp.kwargs, "x_shape": x.shape}, label=smp.label)
        else:
            yield Sample((x, g), {**smp.kwargs, "w_shape": w.shape}, label=smp.label)


@register("conv2d_input_grad")
class Conv2dInputGrad(Op):
    """conv2d's gradient w.r.t. its input: the transposed convolution of g (N, O, Ho, Wo) with the
    weight (O, C/groups, kh, kw) -> (N, C, H, W) = ``x_shape``. It is conv2d's adjoint,
    <conv2d(x, w), g> = <x, conv2d_input_grad(g, w)>, so its VJP is conv2d (w.r.t. g) and
    conv2d_weight_grad (w.r.t. w)."""

    @staticmethod
    def forward(ctx, g, w, x_shape=(), stride=1, padding=0, dilation=1, groups=1):
        attrs = conv_attrs(stride, padding, dilation, groups)
        geo = conv_geometry(tuple(x_shape), w.shape, None, attrs)
        O, G = w.shape[0], attrs["groups"]
        wm = w.reshape(G, O // G, w[0].size)
        # (O, Ho, Wo, N): free when g has conv2d's output memory order (as elementwise ops keep it)
        gt = g.transpose(1, 2, 3, 0).reshape(G, O // G, gt_cols(g))
        if use_per_offset_dx(geo, G, gt.shape[-1] * gt.itemsize):
            return _dx_per_offset(wm, gt, geo)
        dcols = WORKSPACE.get("conv_dcols", (G, wm.shape[2], gt.shape[-1]), np.result_type(wm, gt))
        np.matmul(wm.transpose(0, 2, 1), gt, out=dcols)  # (G, K, Ho*Wo*N)
        return col2im(dcols.reshape(dcols.shape[0] * dcols.shape[1], dcols.shape[2]), geo)

    @staticmethod
    def vjp(ctx, gx):
        g, w = ctx.inputs
        attrs = window_attrs(ctx)
        dg = apply(Conv2d, gx, w, **attrs) if ctx.needs_input_grad[0] else None
        dw = apply(Conv2dWeightGrad, gx, g, w_shape=w.shape, **attrs) if ctx.needs_input_grad[1] else None
        return dg, dw

    label = Conv2d.label

    @staticmethod
    def samples():
        yield from _grad_samples("input")


@register("conv2d_weight_grad")
class Conv2dWeightGrad(Op):
    """conv2d's gradient w.r.t. its weight: x (N, C, H, W) correlated with g (N, O, Ho, Wo) ->
    (O, C/groups, kh, kw) = ``w_shape``, one GEMM on the im2col columns (``cols``: conv2d's,
    when it kept them). Bilinear in (x, g): its VJP is conv2d_input_grad (w.r.t. x) and conv2d
    (w.r.t. g)."""

    @staticmethod
    def forward(ctx, x, g, w_shape=(), stride=1, padding=0, dilation=1, groups=1, cols=None):
        attrs = conv_attrs(stride, padding, dilation, groups)
        geo = conv_geometry(x.shape, tuple(w_shape), None, attrs)
        if cols is None:
            cols = im2col(x, geo)
        O, G = w_shape[0], attrs["groups"]
        gt = g.transpose(1, 2, 3, 0).reshape(G, O // G, gt_cols(g))
        c3 = cols.reshape(G, cols.shape[0] // G, cols.shape[1])
        return np.matmul(gt, c3.transpose(0, 2, 1)).reshape(w_shape)

    @staticmethod
    def vjp(ctx, gw):
        x, g = ctx.inputs
        attrs = window_attrs(ctx)
        dx = apply(Conv2dInputGrad, g, gw, x_shape=x.shape, **attrs) if ctx.needs_input_grad[0] else None
        dg = apply(Conv2d, x, gw, **attrs) if ctx.needs_input_grad[1] else None
        return dx, dg

    label = Conv2d.label

    @staticmethod
    def samples():
        yield from _grad_samples("weight")


@register("channel_sum")
class ChannelSum(Op):
    """Sum of (N, C, H, W) over N, H, W -> (C,): conv2d's bias gradient, as one BLAS matvec over
    the channel-major memory conv2d's gradients arrive in (about 5x a strided sum())."""

    @staticmethod
    def forward(ctx, g):
        gc = g.transpose(1, 2, 3, 0).reshape(g.shape[1], gt_cols(g))
        return gc @ np.ones(gc.shape[1], dtype=g.dtype)

    @staticmethod
    def vjp(ctx, gb):
        shape = ctx.inputs[0].shape
        return (apply(BroadcastTo, gb.reshape((1, shape[1], 1, 1)), shape=shape),)

    @staticmethod
    def samples():
        yield Sample((randn(2, 3, 4, 5),), label="nchw")
        yield Sample((randn(1, 2, 1, 1),), label="1x1")
