"""Pooling beyond pool.py's fast paths: dilation, ceil_mode, count_include_pad=False, divisor_override,
return_indices, max_unpool2d and adaptive pools (PyTorch's sizes and tie rules).

The max pools here work by index: the forward finds, per window, the flat position (h*W + w) of its
first maximum in row-major window order (PyTorch's rule; a NaN wins, as PyTorch) and keeps those
int64 indices, exactly what ``return_indices=True`` hands back. The gradient is then a scatter-add
of g at the indices, which is ``max_unpool2d``, and the adjoint of that scatter is the gather
``plane_gather``: each is the other's VJP, so the max pools differentiate to any order.
The only Python loops run over the kh*kw kernel offsets.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd.registry import Op, Sample, register
from ..tensor import Tensor, apply
from ._util import fmt_pair, int_pair, randn


def pool_ext_attrs(
    op: str,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
) -> dict:
    """Normalise window attributes to int pairs; ``stride=None`` means ``kernel_size`` (PyTorch)."""
    k = int_pair(kernel_size, "kernel_size", op)
    s = k if stride is None else int_pair(stride, "stride", op)
    p = int_pair(padding, "padding", op)
    d = int_pair(dilation, "dilation", op)
    if min(k) < 1 or min(s) < 1 or min(d) < 1:
        raise ValueError(
            f"{op}: kernel_size, stride and dilation must be >= 1, got kernel_size={k}, "
            f"stride={s}, dilation={d}"
        )
    if min(p) < 0 or p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(f"{op}: padding {p} must be >= 0 and at most half the kernel size {k} (as PyTorch)")
    return {"kernel_size": k, "stride": s, "padding": p, "dilation": d, "ceil_mode": bool(ceil_mode)}


def pool_out_len(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """PyTorch's pooling output length; in ceil mode the last window must start inside the input
    or its left padding."""
    eff = d * (k - 1) + 1
    out = (n + 2 * p - eff + ((s - 1) if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def _check_input(op: str, x_shape: tuple) -> None:
    if len(x_shape) != 4:
        raise ValueError(f"{op}: input must be 4-D (N, C, H, W), got shape {x_shape}")


def out_hw(op: str, x_shape: tuple, a: dict) -> tuple[int, int]:
    """Output (Ho, Wo) for input (N, C, H, W), checked >= 1."""
    _check_input(op, x_shape)
    hw = tuple(
        pool_out_len(
            x_shape[2 + i],
            a["kernel_size"][i],
            a["stride"][i],
            a["padding"][i],
            a["dilation"][i],
            a["ceil_mode"],
        )
        for i in range(2)
    )
    if min(hw) < 1:
        raise ValueError(
            f"{op}: the window (kernel {a['kernel_size']}, dilation {a['dilation']}) does not fit "
            f"the padded input {x_shape[2:]} with padding {a['padding']}: output would be {hw}"
        )
    return hw  # type: ignore[return-value]


def _padded(x: np.ndarray, a: dict, hw: tuple[int, int], fill: float) -> np.ndarray:
    """x with ``fill`` around it: the padding on top/left, and at the bottom/right as many rows and
    columns as the last (ceil-mode) window reaches."""
    N, C, H, W = x.shape
    (ph, pw), (sh, sw), (dh, dw), (kh, kw) = a["padding"], a["stride"], a["dilation"], a["kernel_size"]
    Hp = max(H + 2 * ph, (hw[0] - 1) * sh + dh * (kh - 1) + 1)
    Wp = max(W + 2 * pw, (hw[1] - 1) * sw + dw * (kw - 1) + 1)
    xp = np.full((N, C, Hp, Wp), fill, dtype=x.dtype)
    xp[:, :, ph : ph + H, pw : pw + W] = x
    return xp


def _offsets(a: dict, hw: tuple[int, int]):
    """(i, j, rows, cols): kernel offset and the strided slices it reads for every output pixel."""
    (sh, sw), (dh, dw), (kh, kw) = a["stride"], a["dilation"], a["kernel_size"]
    for i in range(kh):
        for j in range(kw):
            yield (
                i,
                j,
                slice(i * dh, i * dh + sh * (hw[0] - 1) + 1, sh),
                slice(j * dw, j * dw + sw * (hw[1] - 1) + 1, sw),
            )


def max_pool_indices(x: np.ndarray, a: dict) -> tuple[np.ndarray, np.ndarray]:
    """(values, indices): each window's first maximum (row-major window order; NaN wins) and its
    flat position h*W + w in the unpadded input plane, int64, both (N, C, Ho, Wo)."""
    hw = out_hw("max_pool2d", x.shape, a)
    H, W = x.shape[2:]
    fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    xp = _padded(x, a, hw, fill)
    offsets = list(_offsets(a, hw))
    best = xp[:, :, offsets[0][2], offsets[0][3]].copy()
    arg = np.zeros(best.shape, dtype=np.int64)
    for i, j, rs, cs in offsets[1:]:
        v = xp[:, :, rs, cs]
        k = i * a["kernel_size"][1] + j
        m = v > best
        if x.dtype.kind == "f":
            m |= np.isnan(v) & ~np.isnan(best)
        np.copyto(best, v, where=m)
        arg[m] = k
    (sh, sw), (ph, pw), (dh, dw), kw = a["stride"], a["padding"], a["dilation"], a["kernel_size"][1]
    rows = np.arange(hw[0])[:, None] * sh - ph + (arg // kw) * dh
    cols = np.arange(hw[1])[None, :] * sw - pw + (arg % kw) * dw
    pad_won = (rows < 0) | (rows >= H) | (cols < 0) | (cols >= W)
    if pad_won.any():  # only when a window holds nothing above -inf: take its first real position
        r0 = np.arange(hw[0])[:, None] * sh - ph
        c0 = np.arange(hw[1])[None, :] * sw - pw
        fr = r0 + (-(r0 // dh)).clip(0) * dh * (r0 < 0)
        fc = c0 + (-(c0 // dw)).clip(0) * dw * (c0 < 0)
        rows = np.where(pad_won, np.broadcast_to(fr, rows.shape), rows)
        cols = np.where(pad_won, np.broadcast_to(fc, cols.shape), cols)
    return best, rows * W + cols


def _window_disjoint(a: dict) -> bool:
    return all(a["stride"][i] >= a["dilation"][i] * (a["kernel_size"][i] - 1) + 1 for i in range(2))


def scatter_planes(g: np.ndarray, idx: np.ndarray, hw: tuple[int, int], unique: bool = False) -> np.ndarray:
    """zeros (N, C, H*W) with g added at the flat plane positions idx (duplicates add up)."""
    N, C = g.shape[:2]
    P = hw[0] * hw[1]
    flat = (np.arange(N * C).reshape(N, C, *([1] * (idx.ndim - 2))) * P + idx).reshape(-1)
    if unique:
        out = np.zeros(N * C * P, dtype=g.dtype)
        out[flat] = g.reshape(-1)
    else:  # bincount is a fast scatter-add (np.add.at is ~10x slower); it sums in float64
        out = np.bincount(flat, weights=g.reshape(-1), minlength=N * C * P).astype(g.dtype, copy=False)
    return out.reshape(N, C, *hw)


def check_indices(op: str, x_shape: tuple, idx: np.ndarray, hw: tuple[int, int]) -> None:
    if idx.dtype.kind not in "iu" or idx.shape != tuple(x_shape):
        raise ValueError(
            f"{op}: indices must be an integer array of the input's shape {tuple(x_shape)}, "
            f"got {idx.dtype} {idx.shape}"
        )
    if idx.size and (idx.min() < 0 or idx.max() >= hw[0] * hw[1]):
        raise ValueError(
            f"{op}: index {int(idx.max() if idx.max() >= hw[0] * hw[1] else idx.min())} out of range "
            f"for output size {tuple(hw)} ({hw[0] * hw[1]} positions)"
        )


@register("max_unpool2d")
class MaxUnpool2d(Op):
    """Scatter x (N, C, h, w) into zeros (N, C, H, W) = ``output_size`` at the flat plane positions
    ``indices`` (N, C, h, w) (as returned by ``max_pool2d(..., return_indices=True)``). Duplicate
    indices (overlapping windows) add up; PyTorch keeps an arbitrary one of them. Linear in x; its
    VJP is plane_gather."""

    @staticmethod
    def forward(ctx, x, indices, output_size=()):
        hw = int_pair(tuple(output_size), "output_size", "max_unpool2d")
        _check_input("max_unpool2d", x.shape)
        check_indices("max_unpool2d", x.shape, indices, hw)
        return scatter_planes(x, indices, hw)

    @staticmethod
    def vjp(ctx, g):
        return apply(PlaneGather, g, ctx.inputs[1]), None

    @staticmethod
    def label(attrs):
        return f"-> {tuple(attrs['output_size'])}"

    @staticmethod
    def samples():
        x = randn(2, 2, 3, 4)
        _, idx = max_pool_indices(x, pool_ext_attrs("s", 2, 2, 0, 1, True))
        yield Sample((randn(*idx.shape), idx), {"output_size": (3, 4)}, label="from-pool-ceil")
        idx2 = np.random.default_rng(0).integers(0, 20, (1, 2, 3, 3))
        yield Sample((randn(1, 2, 3, 3), idx2), {"output_size": (4, 5)}, label="random-dups")


@register("plane_gather")
class PlaneGather(Op):
    """y (N, C, H, W) read at the flat plane positions ``indices`` (N, C, h, w) -> (N, C, h, w):
    the adjoint of max_unpool2d (max_pool2d's gradient gather). Its VJP is max_unpool2d."""

    @staticmethod
    def forward(ctx, y, indices):
        _check_input("plane_gather", y.shape)
        if indices.ndim != 4 or indices.shape[:2] != y.shape[:2]:
            raise ValueError(
                f"plane_gather: indices {indices.shape} must be (N, C, h, w) for input {y.shape}"
            )
        check_indices("plane_gather", indices.shape, indices, y.shape[2:])
        N, C = y.shape[:2]
        return np.take_along_axis(y.reshape(N, C, -1), indices.reshape(N, C, -1), axis=2).reshape(
            indices.shape
        )

    @staticmethod
    def vjp(ctx, g):
        y, idx = ctx.inputs
        return apply(MaxUnpool2d, g, idx, output_size=y.shape[2:]), None

    @staticmethod
    def samples():
        for s in MaxUnpool2d.samples():
            yield Sample((randn(*s.args[1].shape[:2], *s.kwargs["output_size"]), s.args[1]), label=s.label)


def _unpool_vjp(ctx, g):
    """The max pools' VJP: g scattered to the saved argmax positions (max_unpool2d)."""
    idx = ctx.saved[0]
    return (apply(MaxUnpool2d, g, Tensor(idx), output_size=ctx.inputs[0].shape[2:]),)


@register("max_pool2d_ext")
class MaxPool2dExt(Op):
    """Max pooling with PyTorch's full signature: dilation, ceil_mode and (through the functional
    ``return_indices``) the argmax positions. x (N, C, H, W) -> (N, C, Ho, Wo),
    Ho = floor_or_ceil((H + 2p - d*(k-1) - 1) / s) + 1. The gradient goes to each window's first
    maximum; samples have distinct values (a tie at a maximum has no derivative)."""

    @staticmethod
    def forward(ctx, x, kernel_size=2, stride=None, padding=0, dilation=1, ceil_mode=False):
        a = pool_ext_attrs("max_pool2d", kernel_size, stride, padding, dilation, ceil_mode)
        out, idx = max_pool_indices(x, a)
        ctx.save(idx)
        return out

    vjp = staticmethod(_unpool_vjp)

    @staticmethod
    def label(attrs):
        """max_pool2d's short label, plus dilation and ceil_mode when set."""
        from .pool import MaxPool2d

        parts = [MaxPool2d.label(attrs)]
        if int_pair(attrs.get("dilation", 1), "dilation", "label") != (1, 1):
            parts.append(f"dilation={fmt_pair(int_pair(attrs['dilation'], 'dilation', 'label'))}")
        if attrs.get("ceil_mode"):
            parts.append("ceil_mode")
        return " ".join(parts)

    @staticmethod
    def samples():
        def s(shape, label, *args):
            return Sample((randn(*shape),), pool_ext_attrs("max_pool2d", *args), label=label)

        yield s((2, 2, 5, 5), "k2-ceil", 2, None, 0, 1, True)
        yield s((1, 2, 7, 6), "k3-s2-p1-ceil", 3, 2, 1, 1, True)
        yield s((1, 2, 7, 7), "k2-dil2", 2, 1, 0, 2, False)
        yield s((1, 1, 8, 7), "k3-s2-p1-dil2-ceil", 3, 2, 1, 2, True)
        yield s((2, 1, 6, 5), "k(3,2)-s(2,1)-p(1,0)", (3, 2), (2, 1), (1, 0), 1, False)


def adaptive_windows(n: int, out: int) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch's adaptive windows along one axis: start floor(i*n/out), end ceil((i+1)*n/out)."""
    i = np.arange(out)
    return (i * n) // out, -((-(i + 1) * n) // out)


def adaptive_max_indices(x: np.ndarray, hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(values, flat indices) of each adaptive window's first maximum, both (N, C, Ho, Wo)."""
    N, C, H, W = x.shape
    idxs = []
    for n, o in ((H, hw[0]), (W, hw[1])):
        st, en = adaptive_windows(n, o)
        kmax = int((en - st).max())
        # pad short windows by repeating their last element: a repeat after it never wins first-max
        idxs.append(np.minimum(st[:, None] + np.arange(kmax), en[:, None] - 1))
    rows, cols = idxs
    kh, kw = rows.shape[1], cols.shape[1]
    win = x[:, :, rows[:, :, None, None], cols[None, None, :, :]]  # (N, C, Ho, kh, Wo, kw)
    win = win.transpose(0, 1, 2, 4, 3, 5).reshape(N, C, hw[0], hw[1], kh * kw)
    a = win.argmax(axis=-1)  # first occurrence; NaN counts as the maximum, as PyTorch
    vals = np.take_along_axis(win, a[..., None], axis=-1)[..., 0]
    r = rows[np.arange(hw[0])[:, None], a // kw]
    c = cols[np.arange(hw[1])[None, :], a % kw]
    return vals, r * W + c


def adaptive_size(op: str, x_shape: tuple, output_size: Any) -> tuple[int, int]:
    """output_size: int, pair, with None meaning 'keep the input's size' (as PyTorch)."""
    _check_input(op, x_shape)
    o = output_size if isinstance(output_size, (tuple, list)) else (output_size, output_size)
    if len(o) != 2:
        raise ValueError(f"{op}: output_size must be an int or a pair, got {output_size!r}")
    hw = tuple(x_shape[2 + i] if o[i] is None else int(o[i]) for i in range(2))
    if min(hw) < 1 or min(x_shape[2:]) < 1:
        raise ValueError(f"{op}: output_size {hw} and input size {x_shape[2:]} must be >= 1")
    return hw  # type: ignore[return-value]


@register("adaptive_max_pool2d")
class AdaptiveMaxPool2d(Op):
    """Max over PyTorch's adaptive windows (rows floor(i*H/Ho) .. ceil((i+1)*H/Ho) - 1, likewise
    columns): x (N, C, H, W) -> (N, C, *output_size). Gradient to each window's first maximum."""

    @staticmethod
    def forward(ctx, x, output_size=1):
        out, idx = adaptive_max_indices(x, adaptive_size("adaptive_max_pool2d", x.shape, output_size))
        ctx.save(idx)
        return out

    vjp = staticmethod(_unpool_vjp)

    @staticmethod
    def samples():
        yield Sample((randn(2, 2, 5, 7),), {"output_size": (2, 3)}, label="5x7->2x3")
        yield Sample((randn(1, 2, 4, 4),), {"output_size": 1}, label="global")
        yield Sample((randn(1, 1, 3, 5),), {"output_size": (4, 5)}, label="upsampling-rows")
