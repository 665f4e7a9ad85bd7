"""max_pool2d and avg_pool2d over NCHW inputs, as PyTorch (floor output size, no dilation).

Both work on the kh*kw strided views of the (padded) input, one per kernel offset: the max or sum
of those views is the pooled output (about 20x faster than reshape().max(), and it works for any
stride). Gradients are scattered back by looping over the same offsets: plain assignment when the
windows cannot overlap (stride >= kernel), adding otherwise. No np.add.at, no argmax.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..autograd.registry import Op, Sample, register
from ._util import randn
from .conv import _fmt, _pair


def pool_attrs(op: str, kernel_size: Any, stride: Any = None, padding: Any = 0) -> dict:
    """Normalise pooling attributes to pairs; ``stride=None`` means ``kernel_size`` (PyTorch)."""
    k = _pair(kernel_size, "kernel_size", op)
    s = k if stride is None else _pair(stride, "stride", op)
    p = _pair(padding, "padding", op)
    if min(k) < 1 or min(s) < 1:
        raise ValueError(f"{op}: kernel_size and stride must be >= 1, got kernel_size={k}, stride={s}")
    if min(p) < 0:
        raise ValueError(f"{op}: padding must be >= 0, got {padding!r}")
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        # as PyTorch: otherwise a window could hold padding only
        raise ValueError(f"{op}: padding {p} must be at most half the kernel size {k}")
    return {"kernel_size": k, "stride": s, "padding": p}


@dataclass(frozen=True)
class PoolGeometry:
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    out_hw: tuple[int, int]

    @property
    def disjoint(self) -> bool:
        """Windows never share an input position (stride >= kernel in both directions)."""
        return self.stride[0] >= self.kernel[0] and self.stride[1] >= self.kernel[1]


def pool_geometry(op: str, x_shape: tuple, attrs: dict) -> PoolGeometry:
    if len(x_shape) != 4:
        raise ValueError(f"{op}: input must be 4-D (N, C, H, W), got shape {x_shape}")
    a = pool_attrs(op, **attrs)
    (kh, kw), (sh, sw), (ph, pw) = a["kernel_size"], a["stride"], a["padding"]
    Hp, Wp = x_shape[2] + 2 * ph, x_shape[3] + 2 * pw
    if kh > Hp or kw > Wp:
        raise ValueError(
            f"{op}: kernel {kh}x{kw} is larger than the padded input {Hp}x{Wp} "
            f"(input {x_shape}, padding {(ph, pw)})"
        )
    return PoolGeometry((kh, kw), (sh, sw), (ph, pw), ((Hp - kh) // sh + 1, (Wp - kw) // sw + 1))


def _pad(x: np.ndarray, geo: PoolGeometry, fill: float) -> np.ndarray:
    ph, pw = geo.padding
    if not (ph or pw):
        return x
    N, C, H, W = x.shape
    xp = np.full((N, C, H + 2 * ph, W + 2 * pw), fill, dtype=x.dtype)  # fill-then-assign beats np.pad
    xp[:, :, ph:ph + H, pw:pw + W] = x
    return xp


def _crop(dxp: np.ndarray, geo: PoolGeometry) -> np.ndarray:
    ph, pw = geo.padding
    if not (ph or pw):
        return dxp
    return dxp[:, :, ph:dxp.shape[2] - ph, pw:dxp.shape[3] - pw]


def _views(xp: np.ndarray, geo: PoolGeometry) -> Iterator[np.ndarray]:
    """One (N, C, Ho, Wo) strided view per kernel offset, in row-major window order."""
    (kh, kw), (sh, sw), (Ho, Wo) = geo.kernel, geo.stride, geo.out_hw
    for i in range(kh):
        for j in range(kw):
            yield xp[:, :, i:i + sh * (Ho - 1) + 1:sh, j:j + sw * (Wo - 1) + 1:sw]


def _grad_buffer(x: np.ndarray, geo: PoolGeometry) -> np.ndarray:
    """Gradient buffer for the padded input, in x's memory order when unpadded (so a conv's
    (C, N, H, W) order survives); uninitialised when the windows tile it exactly."""
    (kh, kw), (Ho, Wo), (ph, pw) = geo.kernel, geo.out_hw, geo.padding
    N, C, H, W = x.shape
    if ph or pw:
        return np.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=x.dtype)
    tiles = geo.stride == geo.kernel and H == Ho * kh and W == Wo * kw
    return np.empty_like(x) if tiles else np.zeros_like(x)


def _fill_value(dtype: np.dtype) -> float | int:
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _pool_samples(op: str):
    yield Sample((randn(2, 3, 4, 6),), pool_attrs(op, 2), label="2x2")
    yield Sample((randn(1, 2, 5, 7),), pool_attrs(op, 2), label="2x2-floor")
    yield Sample((randn(1, 2, 5, 6),), pool_attrs(op, 3, 1), label="3x3-s1-overlap")
    yield Sample((randn(2, 2, 5, 6),), pool_attrs(op, (3, 2), (2, 1), (1, 0)), label="k3x2-s(2,1)-p(1,0)")
    yield Sample((randn(1, 2, 5, 5),), pool_attrs(op, 3, 2, 1), label="3x3-s2-p1")
    yield Sample((randn(1, 1, 6, 7),), pool_attrs(op, 2, 3), label="k2-s3-gaps")


@register("max_pool2d")
class MaxPool2d(Op):
    """Max over each kh x kw window (padding is -inf). The gradient goes to exactly one input per
    window: the first maximum in row-major window order, as PyTorch (ties are common after ReLU)."""

    @staticmethod
    def forward(ctx, x, kernel_size=2, stride=None, padding=0):
        geo = pool_geometry("max_pool2d", x.shape, {"kernel_size": kernel_size, "stride": stride,
                                                    "padding": padding})
        xp = _pad(x, geo, _fill_value(x.dtype))
        views = _views(xp, geo)
        first = next(views)
        second = next(views, None)
        out = first.copy() if second is None else np.maximum(first, second)  # keeps xp's memory order
        for v in views:
            np.maximum(out, v, out=out)
        if ctx.needs_input_grad[0]:
            ctx.save(geo, xp, out)
        return out

    @staticmethod
    def vjp(ctx, g):
        geo, xp, out = ctx.saved
        dxp = _grad_buffer(ctx.inputs[0].data, geo)
        n = geo.kernel[0] * geo.kernel[1]
        rest = g  # the gradient not yet routed: a window's g goes to its first max, then is spent
        for k, (v, dv) in enumerate(zip(_views(xp, geo), _views(dxp, geo))):
            hit = v == out
            if geo.disjoint:
                np.multiply(rest, hit, out=dv)
            else:
                dv += rest * hit
            if k == n - 1:
                break
            if k == 0:
                rest = np.where(hit, 0, g)  # a fresh copy (same memory order) we may overwrite
            else:
                np.copyto(rest, 0, where=hit)
        return (_crop(dxp, geo),)

    @staticmethod
    def label(attrs):
        return " ".join(f"{k}={_fmt(attrs[k])}" for k in ("kernel_size", "stride", "padding") if k in attrs)

    @staticmethod
    def samples():
        """Random windows, plus ReLU-like ties that gradcheck can judge.

        A tie *at* a window's maximum has no derivative (central differences give half the
        gradient to each tied input, first-max routing gives all of it to one), so those ties are
        pinned in tests/test_pool.py against an exact reference. Here the ties are among
        non-maximal inputs (zeros next to a unique positive max), and overlapping windows share
        one maximum so the scatter must add up contributions.
        """
        yield from _pool_samples("max_pool2d")
        rng = np.random.default_rng(7)
        x = np.zeros((2, 2, 4, 6))
        tops = 1.0 + 0.5 * rng.permutation(24)
        for t, (n, c, bi, bj) in enumerate(np.ndindex(2, 2, 2, 3)):  # 2x2 blocks: one positive max ...
            x[n, c, 2 * bi + rng.integers(2), 2 * bj + rng.integers(2)] = tops[t]  # ... and 3 tied zeros
        x[1, 1, 2:4, 2:4] = [[0.25, 0.25], [3.0, 0.25]]  # tied positive non-maxima
        yield Sample((x,), pool_attrs("max_pool2d", 2), label="relu-ties")
        y = randn(1, 1, 5, 5) * 0.1
        y[0, 0, 2, 2] = 4.0  # the max of all nine overlapping 3x3/s1 windows: gradients add up
        yield Sample((y,), pool_attrs("max_pool2d", 3, 1), label="shared-max")


@register("avg_pool2d")
class AvgPool2d(Op):
    """Mean over each kh x kw window; zero padding counts in the divisor (PyTorch's default)."""

    @staticmethod
    def forward(ctx, x, kernel_size=2, stride=None, padding=0):
        if x.dtype.kind != "f":
            raise TypeError(f"avg_pool2d: expected a floating-point input, got {x.dtype} of shape {x.shape}")
        geo = pool_geometry("avg_pool2d", x.shape, {"kernel_size": kernel_size, "stride": stride,
                                                    "padding": padding})
        xp = _pad(x, geo, 0.0)
        views = _views(xp, geo)
        out = next(views).copy()
        for v in views:
            out += v
        out *= x.dtype.type(1.0 / (geo.kernel[0] * geo.kernel[1]))
        if ctx.needs_input_grad[0]:
            ctx.save(geo)
        return out

    @staticmethod
    def vjp(ctx, g):
        (geo,) = ctx.saved
        gk = g * g.dtype.type(1.0 / (geo.kernel[0] * geo.kernel[1]))
        dxp = _grad_buffer(ctx.inputs[0].data, geo)
        for dv in _views(dxp, geo):
            if geo.disjoint:
                dv[...] = gk
            else:
                dv += gk
        return (_crop(dxp, geo),)

    label = MaxPool2d.label

    @staticmethod
    def samples():
        yield from _pool_samples("avg_pool2d")
