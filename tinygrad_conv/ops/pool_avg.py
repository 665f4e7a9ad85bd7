"""avg_pool2d with PyTorch's full signature (ceil_mode, count_include_pad, divisor_override) and
its adjoint, plus the averaging matrices of adaptive_avg_pool2d. Both pool ops are linear: the
adjoint spreads g / divisor over each window, and each op is the other's VJP."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd.registry import Op, Sample, register
from ..tensor import apply
from ._util import randn
from .pool_more import _offsets, _padded, adaptive_windows, out_hw, pool_ext_attrs


def avg_divisor(
    x_shape: tuple, a: dict, hw: tuple[int, int], count_include_pad: bool, divisor_override: int | None
) -> np.ndarray:
    """(Ho, Wo) divisors of avg_pool2d, PyTorch's rule: windows clipped to input + padding, and with
    ``count_include_pad=False`` to the input alone."""
    if divisor_override is not None:
        if int(divisor_override) == 0:
            raise ValueError("avg_pool2d: divisor_override must be non-zero")
        return np.full(hw, float(divisor_override))
    sizes = []
    for i in range(2):
        n, k, s, p = x_shape[2 + i], a["kernel_size"][i], a["stride"][i], a["padding"][i]
        start = np.arange(hw[i]) * s - p
        end = np.minimum(start + k, n + p)
        size = end - start
        if not count_include_pad:
            size = np.minimum(end, n) - np.maximum(start, 0)
        sizes.append(size)
    return np.outer(sizes[0], sizes[1]).astype(np.float64)


def _avg_setup(op, x_shape, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    a = pool_ext_attrs(op, kernel_size, stride, padding, 1, ceil_mode)
    hw = out_hw(op, x_shape, a)
    return a, hw, avg_divisor(x_shape, a, hw, count_include_pad, divisor_override)


@register("avg_pool2d_ext")
class AvgPool2dExt(Op):
    """Average pooling with PyTorch's full signature: ceil_mode, count_include_pad,
    divisor_override. x (N, C, H, W) -> (N, C, Ho, Wo). Linear; its VJP is avg_pool2d_ext_grad."""

    @staticmethod
    def forward(
        ctx,
        x,
        kernel_size=2,
        stride=None,
        padding=0,
        ceil_mode=False,
        count_include_pad=True,
        divisor_override=None,
    ):
        if x.dtype.kind != "f":
            raise TypeError(f"avg_pool2d: expected a floating-point input, got {x.dtype} of shape {x.shape}")
        a, hw, div = _avg_setup(
            "avg_pool2d",
            x.shape,
            kernel_size,
            stride,
            padding,
            ceil_mode,
            count_include_pad,
            divisor_override,
        )
        xp = _padded(x, a, hw, 0.0)
        out = None
        for _, _, rs, cs in _offsets(a, hw):
            out = xp[:, :, rs, cs].copy() if out is None else np.add(out, xp[:, :, rs, cs], out=out)
        out /= div.astype(x.dtype)
        return out

    @staticmethod
    def label(attrs):
        """avg_pool2d's short label, plus the options that are set."""
        from .pool import MaxPool2d

        parts = [MaxPool2d.label(attrs)]
        if attrs.get("ceil_mode"):
            parts.append("ceil_mode")
        if not attrs.get("count_include_pad", True):
            parts.append("count_include_pad=False")
        if attrs.get("divisor_override") is not None:
            parts.append(f"divisor={attrs['divisor_override']}")
        return " ".join(parts)

    @staticmethod
    def vjp(ctx, g):
        x = ctx.inputs[0]
        return (apply(AvgPool2dExtGrad, g, x_shape=x.shape, **_avg_keys(ctx.attrs)),)

    @staticmethod
    def samples():
        def s(shape, label, **kw):
            return Sample((randn(*shape),), kw, label=label)

        yield s((2, 2, 5, 5), "k2-ceil", kernel_size=2, ceil_mode=True)
        yield s((1, 2, 5, 6), "k3-s2-p1-nopad", kernel_size=3, stride=2, padding=1, count_include_pad=False)
        yield s(
            (1, 2, 6, 5),
            "k3-s2-p1-ceil-nopad",
            kernel_size=3,
            stride=2,
            padding=1,
            ceil_mode=True,
            count_include_pad=False,
        )
        yield s((1, 1, 5, 5), "k2-s1-div3", kernel_size=2, stride=1, divisor_override=3)
        yield s(
            (1, 1, 7, 5),
            "k(3,2)-p(1,1)-ceil",
            kernel_size=(3, 2),
            stride=(2, 2),
            padding=(1, 1),
            ceil_mode=True,
        )


def _avg_keys(attrs: dict) -> dict:
    return {
        k: attrs[k]
        for k in ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override")
    }


@register("avg_pool2d_ext_grad")
class AvgPool2dExtGrad(Op):
    """avg_pool2d_ext's adjoint: g (N, C, Ho, Wo) divided by each window's divisor and spread over
    the window -> ``x_shape``. Its VJP is avg_pool2d_ext."""

    @staticmethod
    def forward(
        ctx,
        g,
        x_shape=(),
        kernel_size=2,
        stride=None,
        padding=0,
        ceil_mode=False,
        count_include_pad=True,
        divisor_override=None,
    ):
        a, hw, div = _avg_setup(
            "avg_pool2d",
            tuple(x_shape),
            kernel_size,
            stride,
            padding,
            ceil_mode,
            count_include_pad,
            divisor_override,
        )
        gk = g / div.astype(g.dtype)
        N, C, H, W = x_shape
        dxp = _padded(np.zeros((N, C, H, W), dtype=g.dtype), a, hw, 0.0)
        for _, _, rs, cs in _offsets(a, hw):
            dxp[:, :, rs, cs] += gk
        ph, pw = a["padding"]
        return dxp[:, :, ph : ph + H, pw : pw + W].copy()

    @staticmethod
    def vjp(ctx, gx):
        return (apply(AvgPool2dExt, gx, **_avg_keys(ctx.attrs)),)

    label = AvgPool2dExt.label

    @staticmethod
    def samples():
        for s in AvgPool2dExt.samples():
            x = s.args[0]
            out = AvgPool2dExt.forward(None, x, **s.kwargs)
            yield Sample((randn(*out.shape),), {**s.kwargs, "x_shape": x.shape}, label=s.label)


def adaptive_avg_matrix(n: int, out: int, dtype: Any) -> np.ndarray:
    """(out, n) averaging matrix of the adaptive windows along one axis (rows sum to 1)."""
    st, en = adaptive_windows(n, out)
    j = np.arange(n)
    m = ((j >= st[:, None]) & (j < en[:, None])).astype(np.float64)
    return (m / m.sum(axis=1, keepdims=True)).astype(dtype)
