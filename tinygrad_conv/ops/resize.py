"""Index-map ops along one axis: interpolation (nearest, nearest-exact, linear) and the non-constant
pad modes (reflect, replicate, circular).

Both are linear maps y = M x along an axis, where each output position reads one input position
(or two, for linear interpolation), so they are gathers; their adjoints are scatter-adds of g to
the same positions, and each adjoint's VJP is the forward op again. interpolate's bilinear mode is
separable: linear along H, then along W, is exactly PyTorch's bilinear weights.

Index rules follow PyTorch's CPU kernels (upsample and padding): nearest reads
floor(dst * scale) with scale = in/out (or 1/scale_factor) in float32; linear reads
src = (dst + 0.5) * scale - 0.5 clamped at 0 (align_corners=False) or dst * (in-1)/(out-1).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd.registry import Op, Sample, register
from ..tensor import apply
from ._util import randn

RESIZE_MODES = ("nearest", "nearest-exact", "linear")
PAD_MODES = ("reflect", "replicate", "circular")


def resize_index(
    n: int, out: int, mode: str, align_corners: bool = False, scale: float | None = None
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(i0, i1, lam): output position t reads i0[t] (nearest) or (1 - lam[t]) x[i0[t]] + lam[t] x[i1[t]]."""
    if mode not in RESIZE_MODES:
        raise ValueError(f"interpolate: mode must be one of {RESIZE_MODES}, got {mode!r}")
    if n < 1 or out < 1:
        raise ValueError(f"interpolate: input and output sizes must be >= 1, got {n} -> {out}")
    dst = np.arange(out)
    if mode != "linear":
        s = np.float32(1.0 / scale) if scale else np.float32(n) / np.float32(out)
        pos = (dst + 0.5).astype(np.float32) if mode == "nearest-exact" else dst.astype(np.float32)
        return np.minimum(np.floor(pos * s).astype(np.int64), n - 1), None, None
    if align_corners:
        src = dst * ((n - 1) / (out - 1)) if out > 1 else np.zeros(out)
    else:
        s = 1.0 / scale if scale else n / out
        src = np.maximum((dst + 0.5) * s - 0.5, 0.0)
    i0 = np.minimum(src.astype(np.int64), n - 1)
    i1 = np.minimum(i0 + 1, n - 1)
    return i0, i1, src - i0


def _bshape(ndim: int, axis: int) -> tuple[int, ...]:
    return tuple(-1 if i == axis else 1 for i in range(ndim))


def _axis(axis: int, ndim: int, op: str) -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(f"{op}: axis {axis} is out of bounds for a tensor with {ndim} dims")
    return axis % ndim


def _repeat_factor(i0: np.ndarray, n: int) -> int:
    """f when i0 is [0]*f + [1]*f + ... (integer nearest upsampling: np.repeat), else 0."""
    out = len(i0)
    f = out // n
    if f >= 1 and out == f * n and np.array_equal(i0, np.arange(out) // f):
        return f
    return 0


def _scatter_sorted(vals: np.ndarray, idx: np.ndarray, n: int, axis: int) -> np.ndarray:
    """Adjoint of np.take(x, idx, axis) for a nondecreasing idx: sum runs with reduceat (np.add.at
    is ~10x slower) and place them at their positions; unread positions get 0."""
    shape = list(vals.shape)
    shape[axis] = n
    out = np.zeros(shape, dtype=vals.dtype)
    if idx.size == 0:
        return out
    starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
    sl: list[Any] = [slice(None)] * vals.ndim
    sl[axis] = idx[starts]
    out[tuple(sl)] = np.add.reduceat(vals, starts, axis=axis)
    return out


DENSE_MAX = 1 << 16  # out * n up to this: the axis map as a dense matrix, applied by one BLAS GEMM


def resize_matrix(n: int, out: int, mode: str, align_corners: bool, scale, dtype) -> np.ndarray:
    """The (out, n) matrix of the map along one axis (one or two non-zeros per row)."""
    i0, i1, lam = resize_index(n, out, mode, align_corners, scale)
    m = np.zeros((out, n))
    rows = np.arange(out)
    if lam is None:
        m[rows, i0] = 1.0
    else:
        assert i1 is not None
        np.add.at(m, (rows, i0), 1.0 - lam)  # i0 == i1 at the last input: the weights add to 1
        np.add.at(m, (rows, i1), lam)
    return m.astype(dtype)


def _matmul_axis(x: np.ndarray, m: np.ndarray, axis: int) -> np.ndarray:
    """Apply m (out, n) along ``axis`` of x: one GEMM when it is the last axis, batched otherwise."""
    if axis == x.ndim - 1:
        return x @ m.T
    if axis == x.ndim - 2:
        return np.matmul(m, x)
    return np.moveaxis(np.matmul(m, np.moveaxis(x, axis, -2)), -2, axis)


def _dense_ok(a: np.ndarray, n: int, out: int) -> bool:
    # a GEMM is much faster than gathers + reduceat; but 0 * inf = nan would smear an inf along the axis
    return n * out <= DENSE_MAX and a.dtype.kind == "f" and bool(np.isfinite(a).all())


def _resize(x: np.ndarray, axis: int, size: int, mode: str, align_corners: bool, scale) -> np.ndarray:
    n = x.shape[axis]
    i0, i1, lam = resize_index(n, size, mode, align_corners, scale)
    if lam is None:
        f = _repeat_factor(i0, n)
        if f:
            return np.repeat(x, f, axis=axis)
    if _dense_ok(x, n, size):
        return _matmul_axis(x, resize_matrix(n, size, mode, align_corners, scale, x.dtype), axis)
    if lam is None:
        return np.take(x, i0, axis=axis)
    assert i1 is not None
    lam = lam.astype(x.dtype).reshape(_bshape(x.ndim, axis))
    a, b = np.take(x, i0, axis=axis), np.take(x, i1, axis=axis)
    a *= 1 - lam  # PyTorch's (1 - lam) a + lam b, so infinities behave as there
    b *= lam
    a += b
    return a


def _resize_adjoint(g: np.ndarray, axis: int, n: int, mode: str, align_corners: bool, scale) -> np.ndarray:
    out = g.shape[axis]
    i0, i1, lam = resize_index(n, out, mode, align_corners, scale)
    if lam is None:
        f = _repeat_factor(i0, n)
        if f:
            sh = g.shape[:axis] + (n, f) + g.shape[axis + 1 :]
            return g.reshape(sh).sum(axis=axis + 1)
    if _dense_ok(g, n, out):
        return _matmul_axis(g, resize_matrix(n, out, mode, align_corners, scale, g.dtype).T, axis)
    if lam is None:
        return _scatter_sorted(g, i0, n, axis)
    assert i1 is not None
    lam = lam.astype(g.dtype).reshape(_bshape(g.ndim, axis))
    gb = g * lam
    return _scatter_sorted(g - gb, i0, n, axis) + _scatter_sorted(gb, i1, n, axis)


@register("resize_axis")
class ResizeAxis(Op):
    """Resample x along ``axis`` to ``size`` points (interpolate's one-axis step).

    mode 'nearest' | 'nearest-exact' | 'linear'; ``align_corners`` and ``scale`` (a user's
    scale_factor, which PyTorch uses for the index map instead of in/out) as PyTorch."""

    @staticmethod
    def forward(ctx, x, axis=-1, size=1, mode="nearest", align_corners=False, scale=None):
        ax = _axis(axis, x.ndim, "resize_axis")
        return _resize(x, ax, int(size), mode, bool(align_corners), scale)

    @staticmethod
    def vjp(ctx, g):
        a = ctx.attrs
        x = ctx.inputs[0]
        ax = _axis(a["axis"], x.ndim, "resize_axis")
        return (
            apply(
                ResizeAxisGrad,
                g,
                axis=ax,
                in_size=x.shape[ax],
                mode=a["mode"],
                align_corners=a["align_corners"],
                scale=a["scale"],
            ),
        )

    @staticmethod
    def label(attrs):
        ac = " align_corners" if attrs.get("align_corners") else ""
        return f"{attrs.get('mode')} axis={attrs.get('axis')} -> {attrs.get('size')}{ac}"

    @staticmethod
    def samples():
        x = randn(2, 3, 4, 5)
        yield Sample((x,), {"axis": 3, "size": 10, "mode": "nearest"}, label="nearest-x2")
        yield Sample((x,), {"axis": 2, "size": 7, "mode": "nearest"}, label="nearest-4->7")
        yield Sample((x,), {"axis": -1, "size": 3, "mode": "nearest-exact"}, label="nearest-exact-down")
        yield Sample((x,), {"axis": 2, "size": 9, "mode": "linear"}, label="linear-4->9")
        yield Sample((x,), {"axis": 3, "size": 8, "mode": "linear", "align_corners": True}, label="linear-ac")
        yield Sample((x,), {"axis": 3, "size": 3, "mode": "linear"}, label="linear-down")
        yield Sample((x,), {"axis": 2, "size": 6, "mode": "linear", "scale": 1.5}, label="linear-scale1.5")


@register("resize_axis_grad")
class ResizeAxisGrad(Op):
    """The adjoint of resize_axis: g (size points along ``axis``) scattered back to ``in_size``
    points with the same weights. Its VJP is resize_axis."""

    @staticmethod
    def forward(ctx, g, axis=-1, in_size=1, mode="nearest", align_corners=False, scale=None):
        ax = _axis(axis, g.ndim, "resize_axis_grad")
        return _resize_adjoint(g, ax, int(in_size), mode, bool(align_corners), scale)

    @staticmethod
    def vjp(ctx, gx):
        a = ctx.attrs
        g = ctx.inputs[0]
        ax = _axis(a["axis"], g.ndim, "resize_axis_grad")
        return (
            apply(
                ResizeAxis,
                gx,
                axis=ax,
                size=g.shape[ax],
                mode=a["mode"],
                align_corners=a["align_corners"],
                scale=a["scale"],
            ),
        )

    @staticmethod
    def samples():
        for s in ResizeAxis.samples():
            x = s.args[0]
            ax = s.kwargs["axis"] % x.ndim
            shape = list(x.shape)
            shape[ax] = s.kwargs["size"]
            kw = {k: v for k, v in s.kwargs.items() if k != "size"}
            yield Sample((randn(*shape),), {**kw, "in_size": x.shape[ax]}, label=s.label)


def pad_index(n: int, before: int, after: int, mode: str) -> np.ndarray:
    """Source positions of a padded axis of length before + n + after (PyTorch's rules and limits)."""
    if mode not in PAD_MODES:
        raise ValueError(f"pad: mode must be 'constant' or one of {PAD_MODES}, got {mode!r}")
    if before < 0 or after < 0:
        raise ValueError(f"pad: {mode} padding must be >= 0, got ({before}, {after})")
    if mode == "reflect" and (before >= n or after >= n):
        raise ValueError(f"pad: reflect padding ({before}, {after}) must be smaller than the axis size {n}")
    if mode == "circular" and (before > n or after > n):
        raise ValueError(f"pad: circular padding ({before}, {after}) must be at most the axis size {n}")
    if n == 0:
        raise ValueError(f"pad: cannot {mode}-pad an empty axis")
    t = np.arange(-before, n + after)
    if mode == "replicate":
        return np.clip(t, 0, n - 1)
    if mode == "circular":
        return t % n
    t = np.abs(t)
    return np.where(t > n - 1, 2 * (n - 1) - t, t)


def _pad_pairs(x_ndim: int, pad_width: Any, op: str) -> tuple[tuple[int, int], ...]:
    pw = tuple((int(a), int(b)) for a, b in pad_width)
    if len(pw) != x_ndim:
        raise ValueError(f"{op}: pad_width {pad_width} has {len(pw)} pairs for a {x_ndim}-D tensor")
    return pw


@register("pad_mode")
class PadMode(Op):
    """Pad with 'reflect' (mirror without the edge), 'replicate' (repeat the edge) or 'circular'
    (wrap around); ``pad_width`` is one (before, after) pair per axis, as np.pad."""

    @staticmethod
    def forward(ctx, x, pad_width=(), mode="reflect"):
        for ax, (a, b) in enumerate(_pad_pairs(x.ndim, pad_width, "pad")):
            if a or b:
                x = np.take(x, pad_index(x.shape[ax], a, b, mode), axis=ax)
        return x

    @staticmethod
    def vjp(ctx, g):
        return (apply(PadModeGrad, g, pad_width=ctx.attrs["pad_width"], mode=ctx.attrs["mode"]),)

    @staticmethod
    def label(attrs):
        return f"{attrs.get('mode')} {tuple(tuple(p) for p in attrs.get('pad_width', ()))}"

    @staticmethod
    def samples():
        for mode in PAD_MODES:
            yield Sample((randn(2, 3, 4),), {"pad_width": ((0, 0), (1, 2), (2, 1)), "mode": mode}, label=mode)
        yield Sample(
            (randn(1, 2, 3, 3),),
            {"pad_width": ((0, 0), (0, 0), (2, 2), (1, 0)), "mode": "reflect"},
            label="reflect-2d",
        )
        yield Sample(
            (randn(1, 1, 2, 3),),
            {"pad_width": ((0, 0), (0, 0), (3, 1), (2, 3)), "mode": "replicate"},
            label="replicate-wide",
        )
        yield Sample(
            (randn(1, 1, 3, 3),),
            {"pad_width": ((0, 0), (0, 0), (3, 0), (1, 3)), "mode": "circular"},
            label="circular-full",
        )


@register("pad_mode_grad")
class PadModeGrad(Op):
    """The adjoint of pad_mode: g summed back onto the positions each padded entry copied. Its VJP
    is pad_mode. Loops run over the pad widths only."""

    @staticmethod
    def forward(ctx, g, pad_width=(), mode="reflect"):
        pw = _pad_pairs(g.ndim, pad_width, "pad")
        for ax in reversed(range(g.ndim)):
            a, b = pw[ax]
            if not (a or b):
                continue
            n = g.shape[ax] - a - b
            idx = pad_index(n, a, b, mode)
            sl: list[Any] = [slice(None)] * g.ndim
            sl[ax] = slice(a, a + n)
            out = g[tuple(sl)].copy()
            for j in list(range(a)) + list(range(a + n, a + n + b)):
                src, dst = list(sl), list(sl)
                src[ax], dst[ax] = j, idx[j]
                out[tuple(dst)] += g[tuple(src)]
            g = out
        return g

    @staticmethod
    def vjp(ctx, gx):
        return (apply(PadMode, gx, pad_width=ctx.attrs["pad_width"], mode=ctx.attrs["mode"]),)

    label = PadMode.label

    @staticmethod
    def samples():
        for s in PadMode.samples():
            x = s.args[0]
            shape = tuple(n + a + b for n, (a, b) in zip(x.shape, s.kwargs["pad_width"]))
            yield Sample((randn(*shape),), s.kwargs, label=s.label)
