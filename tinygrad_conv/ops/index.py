"""Index and reorder ops: flip, roll, gather, scatter_add, scatter.

gather and scatter_add are each other's adjoints (gather's VJP scatters the gradient back,
scatter_add's VJP for ``src`` gathers it), so the pair closes under differentiation. Index
tensors are integer inputs: held constant, never differentiated. Shapes follow PyTorch:
``index`` has the input's number of dims and may be smaller than it on every axis.
"""

from __future__ import annotations

import numpy as np

from ..autograd.registry import Op, Sample, normalize_axes, register
from ..tensor import Tensor, apply
from ._util import randn
from .shape import Pad


@register("flip")
class Flip(Op):
    """Reverse the order of elements along ``axis`` (int or tuple; None: every axis)."""

    @staticmethod
    def forward(ctx, x, axis=None):
        axes = normalize_axes(axis, x.ndim, "flip") if x.ndim else ()
        return np.flip(x, axes).copy() if axes else x.copy()

    @staticmethod
    def vjp(ctx, g):
        return (apply(Flip, g, axis=ctx.attrs["axis"]),)

    @staticmethod
    def samples():
        yield Sample((randn(3, 4),), {"axis": 0}, label="axis0")
        yield Sample((randn(2, 3, 4),), {"axis": (0, -1)}, label="two-neg")
        yield Sample((randn(2, 3),), {"axis": None}, label="all")


@register("roll")
class Roll(Op):
    """Shift elements cyclically by ``shifts`` along ``axis`` (with axis=None: over the
    flattened tensor, shape kept), as ``torch.roll`` / ``np.roll``."""

    @staticmethod
    def forward(ctx, x, shifts=0, axis=None):
        if axis is not None:
            ax = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
            sh = (shifts,) if isinstance(shifts, (int, np.integer)) else tuple(shifts)
            if len(ax) != len(sh):
                raise ValueError(f"roll: {len(sh)} shifts for {len(ax)} axes (shape {x.shape})")
            for a in ax:
                normalize_axes(a, x.ndim, "roll")
        elif not isinstance(shifts, (int, np.integer)):
            raise ValueError(f"roll: with axis=None shifts must be one int, got {shifts!r}")
        return np.roll(x, shifts, axis)

    @staticmethod
    def vjp(ctx, g):
        s = ctx.attrs["shifts"]
        back = -s if isinstance(s, (int, np.integer)) else tuple(-int(v) for v in s)
        return (apply(Roll, g, shifts=back, axis=ctx.attrs["axis"]),)

    @staticmethod
    def samples():
        yield Sample((randn(3, 4),), {"shifts": 1, "axis": 1}, label="axis1")
        yield Sample((randn(2, 3, 4),), {"shifts": (2, -1), "axis": (0, 2)}, label="two")
        yield Sample((randn(2, 3),), {"shifts": 4}, label="flat")


def _grid(index: np.ndarray, axis: int) -> tuple:
    """Open-grid advanced index that picks x[i0, .., index[i], .., in] for every position i."""
    parts = list(np.ogrid[tuple(slice(0, s) for s in index.shape)]) if index.ndim else []
    if not parts:
        return ()
    parts[axis] = index
    return tuple(parts)


def _check_index(op: str, x: np.ndarray, index: np.ndarray, axis: int, src: np.ndarray | None = None):
    """PyTorch's rules: same ndim, index no larger than x off ``axis`` (and than src), in range."""
    if index.dtype.kind not in "iu":
        raise TypeError(f"{op}: index must be an integer tensor, got dtype {index.dtype}")
    if index.ndim != x.ndim:
        raise ValueError(f"{op}: index has {index.ndim} dims but the input has {x.ndim} (shapes "
                         f"{index.shape} and {x.shape})")
    if any(i > s for d, (i, s) in enumerate(zip(index.shape, x.shape)) if d != axis):
        raise ValueError(f"{op}: index shape {index.shape} is larger than input shape {x.shape} "
                         f"off axis {axis}")
    if src is not None and any(i > s for i, s in zip(index.shape, src.shape)):
        raise ValueError(f"{op}: index shape {index.shape} is larger than src shape {src.shape}")
    n = x.shape[axis] if x.ndim else 1
    if index.size and (index.min() < 0 or index.max() >= n):
        raise IndexError(f"{op}: index values must be in [0, {n}) for axis {axis} of shape {x.shape}, "
                         f"got min {index.min()} max {index.max()}")


def _axis(axis: int, x: np.ndarray, op: str) -> int:
    return normalize_axes(axis, x.ndim, op)[0] if x.ndim else 0


def _fit(t: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Zero-pad a gradient of index's shape up to ``shape`` (src may be larger than index)."""
    if t.shape == tuple(shape):
        return t
    return apply(Pad, t, pad_width=tuple((0, s - i) for i, s in zip(t.shape, shape)), value=0.0)


@register("gather")
class Gather(Op):
    """``out[i][j][k] = x[index[i][j][k]][j][k]`` for axis=0 (and so on), as ``torch.gather``.
    out has index's shape. VJP: scatter_add of the gradient into zeros."""

    @staticmethod
    def forward(ctx, x, index, axis=0):
        ax = _axis(axis, x, "gather")
        _check_index("gather", x, index, ax)
        return x[_grid(index, ax)] if x.ndim else x.copy()

    @staticmethod
    def vjp(ctx, g):
        x, index = ctx.inputs
        zeros = Tensor(np.zeros(x.shape, dtype=g.dtype))
        return apply(ScatterAdd, zeros, index, g, axis=ctx.attrs["axis"]), None

    @staticmethod
    def samples():
        yield Sample((randn(3, 4), np.array([[0, 2, 2, 1], [1, 1, 0, 2]])), {"axis": 0}, label="axis0-dup")
        yield Sample((randn(2, 5), np.array([[4, 0], [3, 3]])), {"axis": -1}, label="neg-axis-smaller")
        yield Sample((randn(2, 3, 2), np.zeros((2, 0, 2), dtype=np.int64)), {"axis": 1}, label="empty")


@register("scatter_add")
class ScatterAdd(Op):
    """x with src added at index along ``axis`` (repeated indices add up), as
    ``torch.Tensor.scatter_add``: ``out[index[i][j]][j] += src[i][j]`` for axis=0. Only the first
    index.shape elements of src are used. VJP: g for x, gather(g) for src."""

    @staticmethod
    def forward(ctx, x, index, src, axis=0):
        ax = _axis(axis, x, "scatter_add")
        _check_index("scatter_add", x, index, ax, src)
        out = x.copy()
        part = src[tuple(slice(0, s) for s in index.shape)]
        if x.ndim:
            np.add.at(out, _grid(index, ax), part.astype(out.dtype, copy=False))
        elif index.size:
            out = out + part.astype(out.dtype)
        return out

    @staticmethod
    def vjp(ctx, g):
        x, index, src = ctx.inputs
        nx, _, ns = ctx.needs_input_grad
        gsrc = _fit(apply(Gather, g, index, axis=ctx.attrs["axis"]), src.shape) if ns else None
        return (g if nx else None), None, gsrc

    @staticmethod
    def samples():
        yield Sample((randn(3, 4), np.array([[0, 2, 2, 1], [0, 1, 0, 2]]), randn(2, 4)), {"axis": 0},
                     label="dup")
        yield Sample((randn(2, 5), np.array([[4, 0], [3, 3]]), randn(2, 3)), {"axis": 1}, label="src-larger")


@register("scatter")
class Scatter(Op):
    """x with src written at index along ``axis``, as ``torch.Tensor.scatter`` (indices should be
    unique: with repeats the written value is unspecified, as in PyTorch). VJP: g masked off the
    overwritten positions for x, gather(g) for src."""

    @staticmethod
    def forward(ctx, x, index, src, axis=0):
        ax = _axis(axis, x, "scatter")
        _check_index("scatter", x, index, ax, src)
        out = x.copy()
        part = src[tuple(slice(0, s) for s in index.shape)]
        if x.ndim:
            grid = _grid(index, ax)
            out[grid] = part
            if ctx.needs_input_grad[0]:
                keep = np.ones(x.shape, dtype=bool)
                keep[grid] = False
                ctx.save(keep)
        elif index.size:
            out = part.astype(out.dtype).reshape(())
            ctx.save(np.zeros((), dtype=bool))
        else:
            ctx.save(np.ones((), dtype=bool))
        return out

    @staticmethod
    def vjp(ctx, g):
        x, index, src = ctx.inputs
        nx, _, ns = ctx.needs_input_grad
        gx = g * ctx.saved[0].astype(g.dtype) if nx else None
        gsrc = _fit(apply(Gather, g, index, axis=ctx.attrs["axis"]), src.shape) if ns else None
        return gx, None, gsrc

    @staticmethod
    def samples():
        yield Sample((randn(3, 4), np.array([[0, 2, 1, 1], [2, 1, 0, 2]]), randn(2, 4)), {"axis": 0},
                     label="axis0")
        yield Sample((randn(2, 5), np.array([[4, 0], [1, 3]]), randn(2, 3)), {"axis": 1}, label="src-larger")
