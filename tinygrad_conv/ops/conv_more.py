"""conv_transpose2d and im2col as public ops (unfold / fold), built on conv.py's kernels.

conv_transpose2d(x, w) *is* conv2d's input gradient: the transposed convolution of x
(N, C_in, H, W) with a weight (C_in, C_out/groups, kh, kw) laid out as PyTorch's, which is exactly
the OIHW weight of the conv2d it transposes (O = C_in). So its forward is conv2d_input_grad's
kernel with the output shape from PyTorch's size formula (output_padding included) and its VJP is
conv2d (w.r.t. x) and conv2d_weight_grad (w.r.t. w), both registered ops with VJPs of their own.

unfold gives PyTorch's (N, C*kh*kw, L) layout; conv.py's columns are batch-last (C*kh*kw, L*N),
so it is a transpose of them. fold is unfold's adjoint (col2im) and each is the other's VJP.
"""

from __future__ import annotations

import numpy as np

from ..autograd.registry import Op, Sample, register
from ..tensor import apply
from ._util import int_pair, randn
from .conv import (
    Conv2d,
    col2im,
    conv_attrs,
    conv_geometry,
    im2col,
)
from .conv_grad import ChannelSum, Conv2dWeightGrad


def transpose_attrs(stride=1, padding=0, output_padding=0, dilation=1, groups=1) -> dict:
    """Normalise conv_transpose2d's attributes: pairs of ints (padding must be explicit), groups."""
    op = "conv_transpose2d"
    if isinstance(padding, str):
        raise ValueError(
            f"{op}: padding must be an int or a pair (no string modes, as PyTorch), got {padding!r}"
        )
    a = conv_attrs(stride, padding, dilation, groups)
    op_ = int_pair(output_padding, "output_padding", op)
    s = a["stride"]
    for k in range(2):
        # PyTorch also allows stride <= output_padding < dilation; those extra rows would make
        # conv2d's window count differ from the input's size, so they are refused here
        if not 0 <= op_[k] < s[k]:
            raise ValueError(f"{op}: output_padding {op_} must be >= 0 and smaller than the stride {s}")
    return {**a, "output_padding": op_}


def transpose_out_hw(x_shape: tuple, w_shape: tuple, attrs: dict) -> tuple[int, int]:
    """PyTorch's size: (H - 1)*s - 2p + d*(k - 1) + output_padding + 1, checked positive."""
    if len(x_shape) != 4 or len(w_shape) != 4:
        raise ValueError(
            f"conv_transpose2d: input must be 4-D (N, C_in, H, W) and weight 4-D "
            f"(C_in, C_out/groups, kh, kw), got {x_shape} and {w_shape}"
        )
    if x_shape[1] != w_shape[0]:
        raise ValueError(
            f"conv_transpose2d: input {x_shape} has {x_shape[1]} channels but weight "
            f"{w_shape} expects {w_shape[0]} (weight is (C_in, C_out/groups, kh, kw))"
        )
    out = []
    for k in range(2):
        s, p, d, o = (attrs[a][k] for a in ("stride", "padding", "dilation", "output_padding"))
        n = (x_shape[2 + k] - 1) * s - 2 * p + d * (w_shape[2 + k] - 1) + o + 1
        if n < 1:
            raise ValueError(
                f"conv_transpose2d: output size {n} < 1 for input {x_shape}, weight "
                f"{w_shape}, attributes {attrs}"
            )
        out.append(n)
    return out[0], out[1]


_CONV_KEYS = ("stride", "padding", "dilation", "groups")


@register("conv_transpose2d")
class ConvTranspose2d(Op):
    """Transposed 2-D convolution, as ``torch.nn.functional.conv_transpose2d``.

    Inputs: x (N, C_in, H, W), weight (C_in, C_out/groups, kh, kw), optional bias (C_out,).
    Output (N, C_out, Ho, Wo), Ho = (H - 1)*stride - 2*padding + dilation*(kh - 1) + output_padding + 1.
    It is the adjoint of conv2d: <conv2d(y, w), x> = <y, conv_transpose2d(x, w)>.
    """

    @staticmethod
    def forward(ctx, x, w, *bias, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
        a = transpose_attrs(stride, padding, output_padding, dilation, groups)
        if len(bias) > 1:
            raise TypeError(
                f"conv_transpose2d: expected inputs (x, weight[, bias]), got {2 + len(bias)} arrays"
            )
        G = a["groups"]
        if w.ndim == 4 and x.ndim == 4 and w.shape[0] % G:
            raise ValueError(
                f"conv_transpose2d: groups={G} must divide the input channels of weight {w.shape}"
            )
        hw = transpose_out_hw(x.shape, w.shape, a)
        C_out = w.shape[1] * G
        if bias and bias[0].shape != (C_out,):
            raise ValueError(
                f"conv_transpose2d: bias must have shape ({C_out},) for weight {w.shape}, got {bias[0].shape}"
            )
        geo = conv_geometry((x.shape[0], C_out, *hw), w.shape, None, {k: a[k] for k in _CONV_KEYS})
        # conv2d_input_grad's col2im path: one GEMM, then the columns added into place. (Its
        # per-offset variant was 3-10x slower here: numpy's matmul does not use BLAS on the
        # strided per-offset weight slices.)
        O = w.shape[0]
        wm = w.reshape(G, O // G, -1)
        xt = x.transpose(1, 2, 3, 0).reshape(G, O // G, -1)  # (C_in, H, W, N): batch last, as col2im
        cols = np.matmul(wm.transpose(0, 2, 1), xt)  # (G, C_out/G*kh*kw, H*W*N)
        out = col2im(cols.reshape(-1, cols.shape[-1]), geo)
        if bias:
            out = out + bias[0].reshape(1, C_out, 1, 1)
        return out

    @staticmethod
    def vjp(ctx, g):
        x, w = ctx.inputs[:2]
        needs = ctx.needs_input_grad
        a = {k: ctx.attrs[k] for k in _CONV_KEYS}
        a = conv_attrs(**a)
        dx = apply(Conv2d, g, w, **a) if needs[0] else None
        dw = apply(Conv2dWeightGrad, g, x, w_shape=w.shape, **a) if needs[1] else None
        if len(needs) == 2:
            return dx, dw
        return dx, dw, (apply(ChannelSum, g) if needs[2] else None)

    @staticmethod
    def label(attrs):
        parts = [Conv2d.label(attrs)]
        if int_pair(attrs.get("output_padding", 0), "output_padding", "label") != (0, 0):
            parts.append(f"output_padding={attrs['output_padding']}")
        return " ".join(parts)

    @staticmethod
    def samples():
        def s(x, w, b, label, **kw):
            args = (randn(*x), randn(*w)) + (() if b is None else (randn(b),))
            return Sample(args, transpose_attrs(**kw), label=label)

        yield s((2, 3, 3, 4), (3, 2, 3, 2), 2, "k3x2-bias")
        yield s((1, 2, 3, 3), (2, 3, 3, 3), None, "s2-p1", stride=2, padding=1)
        yield s((1, 2, 3, 3), (2, 2, 3, 3), 2, "s2-p1-outpad1", stride=2, padding=1, output_padding=1)
        yield s((1, 2, 3, 2), (2, 2, 2, 3), 2, "s(2,3)-outpad(1,2)", stride=(2, 3), output_padding=(1, 2))
        yield s((1, 2, 3, 3), (2, 1, 2, 2), None, "dil2", dilation=2)
        yield s((2, 4, 2, 3), (4, 1, 3, 3), 2, "groups2-s2", groups=2, stride=2)
        yield s((1, 2, 4, 4), (2, 2, 4, 4), 2, "k4-s2-p1 (DCGAN)", stride=2, padding=1)


@register("unfold")
class Unfold(Op):
    """im2col, as ``torch.nn.functional.unfold``: x (N, C, H, W) -> (N, C*kh*kw, L), L = Ho*Wo the
    number of sliding windows; row c*kh*kw + i*kw + j holds x_pad[n, c, s*h + d*i, s*w + d*j].
    conv2d(x, w) equals (w.reshape(O, -1) @ unfold(x)).reshape(N, O, Ho, Wo)."""

    @staticmethod
    def forward(ctx, x, kernel_size=1, dilation=1, padding=0, stride=1):
        geo = _geometry("unfold", x.shape, kernel_size, dilation, padding, stride)
        N = x.shape[0]
        cols = im2col(x, geo)  # (C*kh*kw, L*N), batch last
        return cols.reshape(cols.shape[0], -1, N).transpose(2, 0, 1)

    @staticmethod
    def vjp(ctx, g):
        return (apply(Fold, g, output_size=ctx.inputs[0].shape[2:], **_window_attrs(ctx.attrs)),)

    @staticmethod
    def samples():
        yield Sample((randn(2, 2, 4, 5),), {"kernel_size": (2, 3)}, label="k2x3")
        yield Sample((randn(1, 2, 5, 5),), {"kernel_size": 3, "padding": 1, "stride": 2}, label="k3-p1-s2")
        yield Sample((randn(1, 1, 6, 5),), {"kernel_size": 2, "dilation": (2, 1)}, label="dil(2,1)")


@register("fold")
class Fold(Op):
    """col2im, as ``torch.nn.functional.fold``: cols (N, C*kh*kw, L) -> (N, C, *output_size), each
    window's values added back at its positions (overlaps sum). The adjoint of unfold."""

    @staticmethod
    def forward(ctx, cols, output_size=(), kernel_size=1, dilation=1, padding=0, stride=1):
        hw = int_pair(output_size, "output_size", "fold")
        k = int_pair(kernel_size, "kernel_size", "fold")
        if cols.ndim != 3 or cols.shape[1] % (k[0] * k[1]):
            raise ValueError(
                f"fold: input must be (N, C*kh*kw, L) with C*kh*kw divisible by the kernel "
                f"{k[0]}x{k[1]}, got shape {cols.shape}"
            )
        N, CK, L = cols.shape
        geo = _geometry("fold", (N, CK // (k[0] * k[1]), *hw), k, dilation, padding, stride)
        if geo.out_hw[0] * geo.out_hw[1] != L:
            raise ValueError(
                f"fold: input {cols.shape} has L={L} windows, but output_size {hw} with kernel "
                f"{k}, dilation {dilation}, padding {padding}, stride {stride} gives "
                f"{geo.out_hw[0]}x{geo.out_hw[1]}"
            )
        return np.ascontiguousarray(col2im(cols.transpose(1, 2, 0).reshape(CK, L * N), geo))

    @staticmethod
    def vjp(ctx, g):
        return (apply(Unfold, g, **_window_attrs(ctx.attrs)),)

    @staticmethod
    def samples():
        for s in Unfold.samples():
            x = s.args[0]
            L = Unfold.forward(_NoCtx, x, **s.kwargs).shape
            yield Sample((randn(*L),), {**s.kwargs, "output_size": x.shape[2:]}, label=s.label)


def _window_attrs(attrs: dict) -> dict:
    """The window attributes unfold and fold share (each one's VJP is the other)."""
    return {k: attrs[k] for k in ("kernel_size", "dilation", "padding", "stride")}


class _NoCtx:
    needs_input_grad = (False,)

    @staticmethod
    def save(*_):
        pass


def _geometry(op: str, x_shape: tuple, kernel_size, dilation, padding, stride):
    """conv.py's geometry for a C-channel, C-group 'convolution' with a kh x kw kernel."""
    if len(x_shape) != 4:
        raise ValueError(f"{op}: input must be 4-D (N, C, H, W), got shape {x_shape}")
    k = int_pair(kernel_size, "kernel_size", op)
    p = int_pair(padding, "padding", op)
    try:
        a = conv_attrs(stride, p, dilation, 1)
        return conv_geometry(tuple(x_shape), (1, x_shape[1], *k), None, a)
    except ValueError as e:
        raise ValueError(f"{op}: {str(e).removeprefix('conv2d: ')}") from None
