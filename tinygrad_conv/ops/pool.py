"""max_pool2d and avg_pool2d over NCHW inputs, as PyTorch (floor output size, no dilation).

Both work on the kh*kw strided views of the (padded) input, one per kernel offset: the max or sum
of those views is the pooled output (about 20x faster than reshape().max(), and it works for any
stride). Gradients are scattered back by looping over the same offsets: plain assignment when the
windows cannot overlap (stride >= kernel), adding otherwise. No np.add.at, no argmax.

max_pool2d's gradient goes to each window's first maximum (PyTorch's rule). The forward keeps
only boolean "first max" masks, one per kernel offset but the first. NumPy's arithmetic is several
times slower on strided views than on contiguous arrays (its copies are not), so with a gradient
pending the forward first copies the windows into contiguous arrays; windows that tile the input
exactly (the usual 2x2 / stride 2) go in two stages, columns within a row then rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._workspace import WORKSPACE
from ..autograd.registry import Op, Sample, register
from ..tensor import apply
from . import _onnx
from ._util import fmt_pair as _fmt
from ._util import int_pair, randn, window_out


def pool_attrs(op: str, kernel_size: Any, stride: Any = None, padding: Any = 0) -> dict:
    """Normalise pooling attributes to pairs; ``stride=None`` means ``kernel_size`` (PyTorch)."""
    k = int_pair(kernel_size, "kernel_size", op)
    s = k if stride is None else int_pair(stride, "stride", op)
    p = int_pair(padding, "padding", op)
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
    return PoolGeometry((kh, kw), (sh, sw), (ph, pw), (window_out(Hp, kh, sh, 0), window_out(Wp, kw, sw, 0)))


@dataclass(frozen=True)
class Frame:
    """The axis order a pool works in: ``x.transpose(perm)``, with the window axes at ``hw``.

    Pooling treats N and C alike, so it may pick any order that keeps x's memory contiguous:
    NCHW as given, (C, N, H, W), or (C, H, W, N) for conv2d's batch-last output, where every
    window view then moves runs of N contiguous values."""

    perm: tuple[int, int, int, int]
    hw: tuple[int, int]

    def to_frame(self, a: np.ndarray) -> np.ndarray:
        return a.transpose(self.perm)

    def from_frame(self, a: np.ndarray) -> np.ndarray:
        return a.transpose(np.argsort(self.perm))

    def index(self, rows: slice, cols: slice) -> tuple[slice, ...]:
        idx = [slice(None)] * 4
        idx[self.hw[0]], idx[self.hw[1]] = rows, cols
        return tuple(idx)


NCHW, CNHW, CHWN = Frame((0, 1, 2, 3), (2, 3)), Frame((1, 0, 2, 3), (2, 3)), Frame((1, 2, 3, 0), (1, 2))


def _frame(x: np.ndarray) -> Frame:
    """The frame in which x (N, C, H, W) is C-contiguous; NCHW when none is."""
    for f in (CHWN, CNHW):
        if x.shape[0] > 1 and x.shape[1] > 1 and f.to_frame(x).flags.c_contiguous:
            return f
    return NCHW


def _padded_shape(shape: tuple[int, ...], geo: PoolGeometry, f: Frame) -> tuple[int, ...]:
    out = list(shape)
    out[f.hw[0]] += 2 * geo.padding[0]
    out[f.hw[1]] += 2 * geo.padding[1]
    return tuple(out)


def _pad(x: np.ndarray, geo: PoolGeometry, fill: float, f: Frame = NCHW) -> np.ndarray:
    """x (in frame f) with ``fill`` around its window axes; fill-then-assign beats np.pad."""
    ph, pw = geo.padding
    if not (ph or pw):
        return x
    xp = np.full(_padded_shape(x.shape, geo, f), fill, dtype=x.dtype)
    xp[f.index(slice(ph, ph + x.shape[f.hw[0]]), slice(pw, pw + x.shape[f.hw[1]]))] = x
    return xp


def _crop(dxp: np.ndarray, geo: PoolGeometry, f: Frame = NCHW) -> np.ndarray:
    ph, pw = geo.padding
    if not (ph or pw):
        return dxp
    return dxp[f.index(slice(ph, dxp.shape[f.hw[0]] - ph), slice(pw, dxp.shape[f.hw[1]] - pw))]


def _views(xp: np.ndarray, geo: PoolGeometry, f: Frame = NCHW) -> Iterator[np.ndarray]:
    """One strided view per kernel offset (output-shaped, in frame f), in row-major window order."""
    (kh, kw), (sh, sw), (Ho, Wo) = geo.kernel, geo.stride, geo.out_hw
    for i in range(kh):
        for j in range(kw):
            yield xp[f.index(slice(i, i + sh * (Ho - 1) + 1, sh), slice(j, j + sw * (Wo - 1) + 1, sw))]


def _grad_buffer(shape: tuple[int, ...], dtype: np.dtype, geo: PoolGeometry, f: Frame = NCHW) -> np.ndarray:
    """Gradient buffer for the padded input of ``shape`` (in frame f), C-contiguous in that frame;
    uninitialised when the windows tile it exactly."""
    (kh, kw), (Ho, Wo), (ph, pw) = geo.kernel, geo.out_hw, geo.padding
    H, W = shape[f.hw[0]], shape[f.hw[1]]
    tiles = not (ph or pw) and geo.stride == geo.kernel and H == Ho * kh and W == Wo * kw
    return WORKSPACE.get("pool_dx", _padded_shape(shape, geo, f), dtype, zero=not tiles)


def _fill_value(dtype: np.dtype) -> float | int:
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _max_of(views: list[np.ndarray], tag: str | None = None) -> np.ndarray:
    """Elementwise max of same-shape views, as a new array (NaN propagates, as PyTorch); with
    ``tag``, into a workspace buffer (reused once nothing refers to it)."""
    if tag is not None and len(views) > 1:
        out = np.maximum(views[0], views[1], out=WORKSPACE.get(tag, views[0].shape, views[0].dtype))
    else:
        out = views[0].copy() if len(views) == 1 else np.maximum(views[0], views[1])
    for v in views[2:]:
        np.maximum(out, v, out=out)
    return out


def _tiled_base(x: np.ndarray, geo: PoolGeometry) -> np.ndarray | None:
    """x as a C-contiguous (A, B, H, W) array when the windows tile it exactly (the usual 2x2 /
    stride 2 case); None otherwise."""
    (kh, kw), (Ho, Wo) = geo.kernel, geo.out_hw
    ok = geo.padding == (0, 0) and geo.stride == geo.kernel and x.shape[2:] == (Ho * kh, Wo * kw)
    return x if ok and x.flags.c_contiguous else None


def _first_max_masks(cands: list[np.ndarray], best: np.ndarray, tag: str | None = None) -> list[np.ndarray]:
    """Boolean masks for candidates 1..n-1: candidate k holds ``best`` and no earlier one does.
    Candidate 0 takes the rest. For two candidates this is a single compare (into a workspace
    buffer when ``tag`` is given)."""
    if len(cands) == 2:
        out = None if tag is None else WORKSPACE.get(tag, cands[0].shape, np.bool_)
        return [np.greater(cands[1], cands[0], out=out)]  # the second wins only when strictly greater
    masks, taken = [], cands[0] == best
    for c in cands[1:]:
        m = c == best
        m &= ~taken
        taken |= m
        masks.append(m)
    return masks


def _split(g: np.ndarray, masks: list[np.ndarray], dst: list[np.ndarray]) -> None:
    """dst[k] = g * masks[k - 1] for k >= 1 and dst[0] = what remains (the masks are disjoint,
    so the subtraction is exact). g may be dst[0] itself."""
    for k, m in enumerate(masks, start=1):
        np.multiply(g, m, out=dst[k])
    if len(dst) == 1:
        dst[0][...] = g
        return
    np.subtract(g, dst[1], out=dst[0])
    for d in dst[2:]:
        np.subtract(dst[0], d, out=dst[0])


def _split_add(g: np.ndarray, masks: list[np.ndarray], dst: list[np.ndarray]) -> None:
    """As _split, but adding into dst (overlapping windows share inputs)."""
    rest = g
    for k, m in enumerate(masks, start=1):
        part = g * m
        dst[k] += part
        rest = g - part if k == 1 else np.subtract(rest, part, out=rest)
    dst[0] += rest


def _tiled_forward(xb: np.ndarray, geo: PoolGeometry) -> tuple[np.ndarray, list, list]:
    """Two stages on contiguous memory: the max of each row's kw neighbours (their columns split
    out by fast 1-D strided copies), then the max over the kh rows of a window. Also returns the
    first-max masks of both stages (for the backward)."""
    (kh, kw), (Ho, Wo) = geo.kernel, geo.out_hw
    xr = xb.reshape(-1, kw)
    cols = [WORKSPACE.get(f"pool_col{j}", (xr.shape[0],), xr.dtype) for j in range(kw)]
    for j, c in enumerate(cols):
        np.copyto(c, xr[:, j])
    if kw == 2:  # mask first, then the max can reuse the first column's buffer
        col_masks = _first_max_masks(cols, cols[0], "pool_colmask")
        rowmax = np.maximum(cols[0], cols[1], out=cols[0])
    else:
        rowmax = _max_of(cols)
        col_masks = _first_max_masks(cols, rowmax)
    r3 = rowmax.reshape(-1, kh, Wo)
    rows = [r3[:, i] for i in range(kh)]
    out = _max_of(rows, "pool_out")
    out4 = out.reshape(xb.shape[0], xb.shape[1], Ho, Wo)
    return out4, _first_max_masks(rows, out, "pool_rowmask"), col_masks


def _tiled_backward(g: np.ndarray, row_masks: list, col_masks: list, geo: PoolGeometry) -> np.ndarray:
    """The first maximum in row-major window order lies in the first row whose max is the window
    max, at the first column of that row holding the row max: route g in those two stages."""
    (kh, kw), (Ho, Wo) = geo.kernel, geo.out_hw
    A, B = g.shape[:2]
    dx = WORKSPACE.get("pool_dx", (A * B * Ho * kh * Wo, kw), g.dtype)  # reused when free
    # the per-row gradient lives in dx's first column (no extra buffer), and is then split in place
    per_row = dx[:, 0]
    p3 = per_row.reshape(-1, kh, Wo)
    _split(g.reshape(-1, Wo), row_masks, [p3[:, i] for i in range(kh)])
    _split(per_row, col_masks, [dx[:, j] for j in range(kw)])
    return dx.reshape(A, B, Ho * kh, Wo * kw)


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

    onnx = _onnx.pool("max_pool2d", "MaxPool")  # ONNX pads of MaxPool are never the maximum, as our -inf

    @staticmethod
    def forward(ctx, x, kernel_size=2, stride=None, padding=0):
        geo = pool_geometry("max_pool2d", x.shape, {"kernel_size": kernel_size, "stride": stride,
                                                    "padding": padding})
        f = _frame(x)
        xw = f.to_frame(x)
        need = ctx.needs_input_grad[0]
        xb = _tiled_base(xw, geo) if need and f.hw == (2, 3) else None
        if xb is not None:
            out, row_masks, col_masks = _tiled_forward(xb, geo)
            ctx.save(geo, f, (row_masks, col_masks))
        else:
            xp = _pad(xw, geo, _fill_value(x.dtype), f)
            cands = list(_views(xp, geo, f))
            if need and geo.disjoint:
                # gather each offset's values once into contiguous planes: NumPy's SIMD loops then
                # run the max and the compares, several times faster than its strided loops
                buf = WORKSPACE.get("pool_cands", (len(cands),) + cands[0].shape, x.dtype)
                cands = list(np.stack(cands, out=buf))
            out = _max_of(cands, "pool_out")  # NaN propagates, as PyTorch
            if need:
                # only the first-max masks are kept (bool, (kh*kw - 1) x output size)
                ctx.save(geo, f, _first_max_masks(cands, out))
        return f.from_frame(out)

    @staticmethod
    def vjp(ctx, g):
        from .pool_grad import MaxPool2dGrad, window

        return (apply(MaxPool2dGrad, g, state=ctx.saved, x_shape=ctx.inputs[0].shape, **window(ctx.attrs)),)

    @staticmethod
    def label(attrs):
        """``2x2``, plus stride and padding only where they differ from the defaults."""
        k = attrs.get("kernel_size", 1)
        kh, kw = k if isinstance(k, tuple) else (k, k)
        parts = [f"{kh}x{kw}"]
        s = attrs.get("stride")
        if s is not None and _fmt(s) != _fmt(k):
            parts.append(f"stride={_fmt(s)}")
        if _fmt(attrs.get("padding", 0)) != "0":
            parts.append(f"padding={_fmt(attrs['padding'])}")
        return " ".join(parts)

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

    onnx = _onnx.pool("avg_pool2d", "AveragePool", count_include_pad=1)

    @staticmethod
    def forward(ctx, x, kernel_size=2, stride=None, padding=0):
        if x.dtype.kind != "f":
            raise TypeError(f"avg_pool2d: expected a floating-point input, got {x.dtype} of shape {x.shape}")
        geo = pool_geometry("avg_pool2d", x.shape, {"kernel_size": kernel_size, "stride": stride,
                                                    "padding": padding})
        f = _frame(x)
        views = _views(_pad(f.to_frame(x), geo, 0.0, f), geo, f)
        out = next(views).copy()
        for v in views:
            out += v
        out *= x.dtype.type(1.0 / (geo.kernel[0] * geo.kernel[1]))
        return f.from_frame(out)

    @staticmethod
    def vjp(ctx, g):
        from .pool_grad import AvgPool2dGrad, window

        return (apply(AvgPool2dGrad, g, x_shape=ctx.inputs[0].shape, **window(ctx.attrs)),)

    label = MaxPool2d.label

    @staticmethod
    def samples():
        yield from _pool_samples("avg_pool2d")


