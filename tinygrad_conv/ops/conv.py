"""conv2d (cross-correlation, NCHW activations, OIHW weights) with its im2col / col2im helpers.

Layout choices, for speed (the only Python loops run over the kh*kw kernel offsets):

- Columns are built as (C*kh*kw, Ho*Wo*N): rows like the OIHW weight, pixels with the batch
  axis last, so the forward GEMM ``W (O, C*kh*kw) @ cols`` yields (O, Ho*Wo*N). With N last,
  every kernel offset's gather (and col2im's scatter) copies runs of Wo*N (stride 1) or N
  (strided) contiguous values instead of a few strided pixels; on MNIST-sized layers this was
  1.3-2.5x faster than an (N, Ho, Wo) pixel order. The columns are kept for the weight gradient.
- The output is handed back as an (N, O, Ho, Wo) *view* of that (O, Ho, Wo, N) buffer, which saves
  a copy; elementwise ops keep that memory order, so the upstream gradient usually arrives in it
  and ``g.transpose(1, 2, 3, 0)`` is free.
- dx skips the column gradient when it would be large: one GEMM per kernel offset, added at that
  offset's window (fresh memory costs page faults on small VMs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._workspace import WORKSPACE
from ..autograd.registry import Op, Sample, register
from ..tensor import apply
from ._util import fmt_pair as _fmt
from ._util import int_pair, randn, window_out

PADDING_MODES = ("same", "valid", "full")


def _pair(v: Any, what: str) -> tuple[int, int]:
    return int_pair(v, what, "conv2d")


def conv_attrs(stride: Any = 1, padding: Any = 0, dilation: Any = 1, groups: int = 1) -> dict:
    """Normalise conv2d's attributes (values only, no shapes): pairs of ints, padding mode or pair."""
    s = _pair(stride, "stride")
    d = _pair(dilation, "dilation")
    if min(s) < 1:
        raise ValueError(f"conv2d: stride must be >= 1, got {stride!r}")
    if min(d) < 1:
        raise ValueError(f"conv2d: dilation must be >= 1, got {dilation!r}")
    if isinstance(padding, str):
        if padding not in PADDING_MODES:
            raise ValueError(
                f"conv2d: padding must be an int, a pair or one of {PADDING_MODES}, got {padding!r}"
            )
        if padding == "same" and s != (1, 1):
            raise ValueError(f"conv2d: padding='same' needs stride 1 (as PyTorch), got stride={s}")
        p: str | tuple[int, int] = padding
    else:
        p = _pair(padding, "padding")
        if min(p) < 0:
            raise ValueError(f"conv2d: padding must be >= 0, got {padding!r}")
    if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"conv2d: groups must be a positive int, got {groups!r}")
    return {"stride": s, "padding": p, "dilation": d, "groups": int(groups)}


@dataclass(frozen=True)
class ConvGeometry:
    """Everything im2col / col2im need: shapes, kernel, stride, dilation, pads, output size."""

    x_shape: tuple[int, int, int, int]  # (N, C, H, W)
    kh: int
    kw: int
    stride: tuple[int, int]
    dilation: tuple[int, int]
    pads: tuple[int, int, int, int]  # top, bottom, left, right
    out_hw: tuple[int, int]

    @property
    def padded_hw(self) -> tuple[int, int]:
        H, W = self.x_shape[2:]
        return H + self.pads[0] + self.pads[1], W + self.pads[2] + self.pads[3]


def _pads_for(
    mode: str | tuple[int, int], k: tuple[int, int], d: tuple[int, int]
) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) padding for a mode or an explicit (ph, pw) pair."""
    if isinstance(mode, tuple):
        return mode[0], mode[0], mode[1], mode[1]
    if mode == "valid":
        return 0, 0, 0, 0
    if mode == "full":
        ph, pw = d[0] * (k[0] - 1), d[1] * (k[1] - 1)
        return ph, ph, pw, pw
    if mode == "same":  # PyTorch: total d*(k-1); an odd total puts the extra row/col at the bottom/right
        th, tw = d[0] * (k[0] - 1), d[1] * (k[1] - 1)
        return th // 2, th - th // 2, tw // 2, tw - tw // 2
    raise ValueError(f"conv2d: unknown padding mode {mode!r}")


def conv_geometry(x_shape: tuple, w_shape: tuple, b_shape: tuple | None, attrs: dict) -> ConvGeometry:
    """Check x (N, C, H, W), weight (O, C/groups, kh, kw), bias (O,) against the attributes."""
    if len(x_shape) != 4:
        raise ValueError(f"conv2d: input must be 4-D (N, C, H, W), got shape {x_shape}")
    if len(w_shape) != 4:
        raise ValueError(f"conv2d: weight must be 4-D (O, C/groups, kh, kw), got shape {w_shape}")
    N, C, H, W = x_shape
    O, Cg, kh, kw = w_shape
    g = attrs["groups"]
    if C % g or O % g:
        raise ValueError(
            f"conv2d: groups={g} must divide both input channels {C} (input {x_shape}) "
            f"and output channels {O} (weight {w_shape})"
        )
    if Cg * g != C:
        raise ValueError(
            f"conv2d: channel mismatch: input {x_shape} has {C} channels but weight {w_shape} "
            f"with groups={g} expects {Cg * g}"
        )
    if min(kh, kw) < 1:
        raise ValueError(f"conv2d: empty kernel in weight {w_shape}")
    if b_shape is not None and tuple(b_shape) != (O,):
        raise ValueError(f"conv2d: bias must have shape ({O},) for weight {w_shape}, got {b_shape}")
    s, d = attrs["stride"], attrs["dilation"]
    pads = _pads_for(attrs["padding"], (kh, kw), d)
    Hp, Wp = H + pads[0] + pads[1], W + pads[2] + pads[3]
    ekh, ekw = d[0] * (kh - 1) + 1, d[1] * (kw - 1) + 1
    if ekh > Hp or ekw > Wp:
        raise ValueError(
            f"conv2d: kernel {kh}x{kw} (dilated {ekh}x{ekw}) is larger than the padded input "
            f"{Hp}x{Wp} (input {x_shape}, padding {attrs['padding']})"
        )
    out_hw = (window_out(Hp, kh, s[0], 0, d[0]), window_out(Wp, kw, s[1], 0, d[1]))
    return ConvGeometry(tuple(x_shape), kh, kw, s, d, pads, out_hw)


def _offset_slices(geo: ConvGeometry, i: int, j: int) -> tuple[slice, slice]:
    """Rows and columns of the padded input read by kernel offset (i, j) for every output pixel."""
    (sh, sw), (dh, dw), (Ho, Wo) = geo.stride, geo.dilation, geo.out_hw
    r, c = i * dh, j * dw
    return slice(r, r + sh * (Ho - 1) + 1, sh), slice(c, c + sw * (Wo - 1) + 1, sw)


def _padded_chwn(x: np.ndarray, geo: ConvGeometry) -> np.ndarray:
    """x (N, C, H, W) -> zero-padded (C, Hp, Wp, N). With the batch axis last, every gather or
    scatter of a kernel offset moves runs of at least N contiguous values (Wo*N for stride 1),
    never a few strided pixels; zeros-then-assign is about twice as fast as np.pad."""
    N, C, H, W = geo.x_shape
    pt, _, pl, _ = geo.pads
    Hp, Wp = geo.padded_hw
    xt = x.transpose(1, 2, 3, 0)  # a free view when x came from a conv (or a pool after one)
    if (Hp, Wp) == (H, W) and xt.flags.c_contiguous:
        return xt
    xp = WORKSPACE.get("conv_xpad", (C, Hp, Wp, N), x.dtype)  # zero border, kept zero
    xp[:, pt:pt + H, pl:pl + W, :] = xt
    return xp


def im2col(x: np.ndarray, geo: ConvGeometry) -> np.ndarray:
    """x: (N, C, H, W) -> columns (C*kh*kw, Ho*Wo*N), rows ordered (c, i, j) like OIHW weights,
    columns ordered (h, w, n). One strided (C, Ho, Wo, N) copy per kernel offset."""
    N, C = geo.x_shape[:2]
    Ho, Wo = geo.out_hw
    xp = _padded_chwn(x, geo)
    cols = WORKSPACE.get("conv_cols", (C, geo.kh, geo.kw, Ho, Wo, N), x.dtype)
    for i in range(geo.kh):
        for j in range(geo.kw):
            rs, cs = _offset_slices(geo, i, j)
            cols[:, i, j] = xp[:, rs, cs, :]
    return cols.reshape(C * geo.kh * geo.kw, Ho * Wo * N)


def col2im(cols: np.ndarray, geo: ConvGeometry) -> np.ndarray:
    """Adjoint of im2col: (C*kh*kw, Ho*Wo*N) -> (N, C, H, W), overlapping patches summed.

    Loops over kernel offsets adding slices (no np.add.at); returns an (N, C, H, W) view of
    (C, H, W, N) memory."""
    N, C, H, W = geo.x_shape
    Ho, Wo = geo.out_hw
    c6 = cols.reshape(C, geo.kh, geo.kw, Ho, Wo, N)
    dxp = WORKSPACE.get("conv_dx", (C, *geo.padded_hw, N), cols.dtype, zero=True)
    for i in range(geo.kh):
        for j in range(geo.kw):
            rs, cs = _offset_slices(geo, i, j)
            dxp[:, rs, cs, :] += c6[:, i, j]
    return _unpad(dxp, geo)


def _unpad(dxp: np.ndarray, geo: ConvGeometry) -> np.ndarray:
    """Padded (C, Hp, Wp, N) gradient -> (N, C, H, W) view of its interior."""
    H, W = geo.x_shape[2:]
    pt, _, pl, _ = geo.pads
    return dxp[:, pt:pt + H, pl:pl + W, :].transpose(3, 0, 1, 2)


def use_per_offset_dx(geo: ConvGeometry, groups: int, col_bytes: int) -> bool:
    """Per-offset GEMMs pay off once their M (= C/groups) is not tiny and the column gradient they
    avoid (C*kh*kw rows of ``col_bytes``) is big: fresh memory costs page faults. Measured on 2 cores."""
    C = geo.x_shape[1]
    return C // groups >= 16 and C * geo.kh * geo.kw * col_bytes >= 4 << 20


def _dx_per_offset(wm: np.ndarray, gt: np.ndarray, geo: ConvGeometry) -> np.ndarray:
    """dx without the (C*kh*kw, Ho*Wo*N) column gradient: one GEMM per kernel offset into a reused
    buffer, added into the padded input gradient at that offset's window. Same FLOPs as
    col2im(W^T @ g), a kh*kw times smaller buffer (fresh memory is costly)."""
    N, C = geo.x_shape[:2]
    Ho, Wo = geo.out_hw
    G, Og, _ = wm.shape
    Cg = C // G
    w5 = wm.reshape(G, Og, Cg, geo.kh, geo.kw)
    dxp = WORKSPACE.get("conv_dx", (C, *geo.padded_hw, N), np.result_type(wm, gt), zero=True)
    tmp = WORKSPACE.get("conv_dx_tmp", (G, Cg, gt.shape[-1]), dxp.dtype)
    t4 = tmp.reshape(C, Ho, Wo, N)
    for i in range(geo.kh):
        for j in range(geo.kw):
            rs, cs = _offset_slices(geo, i, j)
            np.matmul(w5[:, :, :, i, j].transpose(0, 2, 1), gt, out=tmp)
            dxp[:, rs, cs, :] += t4
    return _unpad(dxp, geo)


def gt_cols(g: np.ndarray) -> int:
    """Columns of an (N, O, Ho, Wo) gradient viewed as (O, Ho*Wo*N) (explicit: N may be 0)."""
    return g.shape[0] * g.shape[2] * g.shape[3]


@register("conv2d")
class Conv2d(Op):
    """y[n, o] = sum_{c, i, j} w[o, c, i, j] * x_pad[n, g*Cg + c, s*h + d*i, s*w + d*j] (+ b[o]).

    Inputs: x (N, C, H, W), weight (O, C/groups, kh, kw), optional bias (O,).
    Attributes (normalised by ``conv_attrs``): stride, padding ('same' | 'valid' | 'full' | (ph, pw)),
    dilation, groups. Output (N, O, Ho, Wo) with Ho = (H + pads - d*(kh-1) - 1) // s + 1 (PyTorch).
    """

    @staticmethod
    def onnx(g, x, w, *bias, stride=1, padding=0, dilation=1, groups=1):
        attrs = conv_attrs(stride, padding, dilation, groups)
        geo = conv_geometry(g.shape(x), g.shape(w), g.shape(bias[0]) if bias else None, attrs)
        top, bottom, left, right = geo.pads  # ONNX: all begins, then all ends
        return g.op("Conv", x, w, *bias, kernel_shape=[geo.kh, geo.kw], strides=list(geo.stride),
                    pads=[top, left, bottom, right], dilations=list(geo.dilation), group=attrs["groups"])

    @staticmethod
    def forward(ctx, x, w, *bias, stride=1, padding=0, dilation=1, groups=1):
        attrs = conv_attrs(stride, padding, dilation, groups)
        if len(bias) > 1:
            raise TypeError(f"conv2d: expected inputs (x, weight[, bias]), got {2 + len(bias)} arrays")
        b = bias[0] if bias else None
        geo = conv_geometry(x.shape, w.shape, None if b is None else b.shape, attrs)
        N = x.shape[0]
        O, G = w.shape[0], attrs["groups"]
        Ho, Wo = geo.out_hw
        cols = im2col(x, geo)  # (C*kh*kw, Ho*Wo*N)
        K = cols.shape[0] // G
        wm = w.reshape(G, O // G, K)
        # groups: one batched GEMM over the group axis (C is the leading axis of cols)
        out = WORKSPACE.get("conv_out", (G, O // G, cols.shape[1]), np.result_type(wm, cols))
        if G == 1:
            np.matmul(wm[0], cols, out=out[0])
        else:
            np.matmul(wm, cols.reshape(G, K, cols.shape[1]), out=out)
        out = out.reshape(O, Ho, Wo, N).transpose(3, 0, 1, 2)  # (N, O, Ho, Wo) view, no copy
        if b is not None:
            out += b.reshape(1, O, 1, 1)
        # columns only for dW, nothing for dx (the weights are an input)
        ctx.save(cols if ctx.needs_input_grad[1] else None)
        return out

    @staticmethod
    def vjp(ctx, g):
        from .conv_grad import ChannelSum, Conv2dInputGrad, Conv2dWeightGrad, window_attrs

        x, w = ctx.inputs[:2]
        needs = ctx.needs_input_grad
        attrs = window_attrs(ctx)
        dx = apply(Conv2dInputGrad, g, w, x_shape=x.shape, **attrs) if needs[0] else None
        dw = apply(Conv2dWeightGrad, x, g, w_shape=w.shape, cols=ctx.saved[0], **attrs) if needs[1] else None
        if len(needs) == 2:
            return dx, dw
        db = apply(ChannelSum, g) if needs[2] else None
        return dx, dw, db

    @staticmethod
    def label(attrs):
        parts = [f"stride={_fmt(attrs.get('stride', 1))}", f"padding={_fmt(attrs.get('padding', 0))}"]
        if _fmt(attrs.get("dilation", 1)) != "1":
            parts.append(f"dilation={_fmt(attrs['dilation'])}")
        if attrs.get("groups", 1) != 1:
            parts.append(f"groups={attrs['groups']}")
        return " ".join(parts)

    @staticmethod
    def samples():
        def s(x, w, b, label, **kw):
            args = (randn(*x), randn(*w)) + (() if b is None else (randn(b),))
            return Sample(args, conv_attrs(**kw), label=label)

        yield s((2, 3, 5, 6), (4, 3, 3, 2), 4, "k3x2-bias")
        yield s((2, 2, 5, 4), (3, 2, 3, 3), None, "nobias-p1", padding=1)
        yield s((1, 2, 7, 6), (3, 2, 3, 3), 3, "stride2-p1", stride=2, padding=1)
        yield s((2, 2, 6, 5), (2, 2, 2, 3), 2, "stride(2,1)-p(1,0)", stride=(2, 1), padding=(1, 0))
        yield s((1, 2, 7, 7), (2, 2, 3, 2), 2, "dilation2", dilation=2)
        yield s((1, 2, 6, 7), (2, 2, 2, 3), None, "dil(2,1)-same", dilation=(2, 1), padding="same")
        yield s((2, 4, 4, 5), (6, 2, 3, 3), 6, "groups2-p1", groups=2, padding=1)
        yield s((1, 4, 5, 5), (4, 1, 3, 3), None, "depthwise-s2", groups=4, stride=2)
        yield s((1, 2, 5, 6), (3, 2, 3, 3), 3, "same-k3", padding="same")
        yield s((1, 2, 5, 4), (2, 2, 2, 4), 2, "same-even-k", padding="same")
        yield s((1, 2, 5, 6), (2, 2, 3, 2), 2, "valid", padding="valid")
        yield s((1, 2, 4, 3), (2, 2, 2, 3), 2, "full", padding="full")
        yield s((2, 1, 6, 6), (2, 1, 3, 3), 2, "s2-floor", stride=2)  # (6-3)//2+1: last row unused
