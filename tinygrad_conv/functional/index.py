"""Shape and index functions: broadcast_to, flip, roll, repeat/tile, split/chunk, gather,
scatter/scatter_add, index_select, masked_fill, one_hot, tril/triu, diag (PyTorch names;
``axis=`` with ``dim=`` / ``dims=`` accepted as aliases)."""

from __future__ import annotations

import builtins
from collections.abc import Sequence

import numpy as np

from .._conventions import renamed
from ..autograd.registry import normalize_axes
from ..ops import index as ix
from ..ops.shape import BroadcastTo, GetItemGrad
from ..tensor import ArrayLike, Tensor, apply, as_tensor
from . import core as C

__all__ = [
    "broadcast_to", "flip", "roll", "repeat", "tile", "split", "chunk", "gather", "scatter",
    "scatter_add", "index_select", "masked_fill", "one_hot", "tril", "triu", "diag",
]


def _int_tensor(index: ArrayLike, op: str) -> Tensor:
    arr = index.data if isinstance(index, Tensor) else np.asarray(index)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{op}: index must hold integers, got dtype {arr.dtype}")
    return Tensor(arr)


def broadcast_to(x: ArrayLike, shape: Sequence[int]) -> Tensor:
    """x broadcast to ``shape`` (NumPy rules); the gradient sums back over the broadcast axes."""
    x = as_tensor(x)
    shape = tuple(int(s) for s in shape)
    return x if x.shape == shape else apply(BroadcastTo, x, shape=shape)


@renamed(dims="axis", dim="axis")
def flip(x: ArrayLike, axis: int | Sequence[int] | None = None) -> Tensor:
    """Reverse the order of elements along ``axis`` (int or sequence; None: all axes)."""
    return apply(ix.Flip, as_tensor(x), axis=axis if axis is None or isinstance(axis, int) else tuple(axis))


@renamed(dims="axis", dim="axis")
def roll(x: ArrayLike, shifts: int | Sequence[int], axis: int | Sequence[int] | None = None) -> Tensor:
    """Shift elements cyclically along ``axis`` (None: the flattened tensor, shape kept)."""
    if not isinstance(shifts, (int, np.integer)):
        shifts = tuple(int(s) for s in shifts)
    if axis is not None and not isinstance(axis, (int, np.integer)):
        axis = tuple(int(a) for a in axis)
    return apply(ix.Roll, as_tensor(x), shifts=shifts, axis=axis)


def _tile(x: Tensor, reps: tuple[int, ...]) -> Tensor:
    """Tile as a broadcast: x viewed (1, s0, 1, s1, ...) broadcast to (r0, s0, r1, s1, ...) and
    merged, so out[i * s + p] = x[p] and the gradient sums the copies."""
    if any(r < 0 for r in reps):
        raise ValueError(f"repeat: negative repeat count in {reps}")
    shape = (1,) * (len(reps) - x.ndim) + x.shape
    x = x.reshape(shape) if shape != x.shape else x
    inter = tuple(v for s in shape for v in (1, s))
    big = tuple(v for r, s in zip(reps, shape) for v in (r, s))
    out = apply(BroadcastTo, x.reshape(inter), shape=big)
    return out.reshape(tuple(r * s for r, s in zip(reps, shape)))


def repeat(x: ArrayLike, *sizes: int | Sequence[int]) -> Tensor:
    """Tile x ``sizes[i]`` times along each axis, as ``torch.Tensor.repeat`` (not NumPy's
    repeat): len(sizes) >= x.ndim, extra sizes add leading axes. (2, 3) repeated (2, 1) -> (4, 3)."""
    x = as_tensor(x)
    first = sizes[0] if len(sizes) == 1 else None
    flat = tuple(first) if first is not None and not isinstance(first, (int, np.integer)) else sizes
    reps = tuple(int(s) for s in flat)  # type: ignore[arg-type]
    if len(reps) < x.ndim:
        raise ValueError(f"repeat: {len(reps)} repeat counts for a tensor of shape {x.shape}")
    return _tile(x, reps)


def tile(x: ArrayLike, reps: int | Sequence[int]) -> Tensor:
    """As ``torch.tile``: like repeat, but fewer reps than dims are padded with leading 1s."""
    x = as_tensor(x)
    r = (int(reps),) if isinstance(reps, (int, np.integer)) else tuple(int(v) for v in reps)
    return _tile(x, (1,) * (x.ndim - len(r)) + r)


@renamed(dim="axis")
def split(x: ArrayLike, split_size_or_sections: int | Sequence[int], axis: int = 0) -> tuple[Tensor, ...]:
    """Split along ``axis`` into pieces of ``split_size`` (the last may be smaller) or of the
    listed sizes (which must add up to the axis length), as ``torch.split``."""
    x = as_tensor(x)
    ax = normalize_axes(axis, x.ndim, "split")[0]
    n = x.shape[ax]
    if isinstance(split_size_or_sections, (int, np.integer)):
        step = int(split_size_or_sections)
        if step <= 0:
            raise ValueError(f"split: split_size must be positive, got {step}")
        sizes = [builtins.min(step, n - s) for s in range(0, n, step)] or [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if builtins.sum(sizes) != n or builtins.any(s < 0 for s in sizes):
            raise ValueError(f"split: sections {sizes} do not add up to {n} (axis {axis} of {x.shape})")
    out, start = [], 0
    for s in sizes:
        out.append(x[(slice(None),) * ax + (slice(start, start + s),)])
        start += s
    return tuple(out)


@renamed(dim="axis")
def chunk(x: ArrayLike, chunks: int, axis: int = 0) -> tuple[Tensor, ...]:
    """Split into ``chunks`` pieces of ceil(n / chunks) along ``axis`` (maybe fewer), as ``torch.chunk``."""
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    x = as_tensor(x)
    n = x.shape[normalize_axes(axis, x.ndim, "chunk")[0]]
    return split(x, builtins.max(-(-n // chunks), 1), axis)


@renamed(dim="axis")
def gather(x: ArrayLike, axis: int, index: ArrayLike) -> Tensor:
    """``out[i][j] = x[index[i][j]][j]`` for axis=0 (and so on), as ``torch.gather(input, dim, index)``.
    index: integers, x's ndim, no larger than x off ``axis``; out has index's shape."""
    return apply(ix.Gather, as_tensor(x), _int_tensor(index, "gather"), axis=axis)


def _src(src: ArrayLike | float, x: Tensor, index: Tensor) -> Tensor:
    if isinstance(src, (int, float)):
        return Tensor(np.full(index.shape, src, dtype=x.dtype))
    return as_tensor(src)


@renamed(dim="axis")
def scatter(x: ArrayLike, axis: int, index: ArrayLike, src: ArrayLike | float) -> Tensor:
    """A copy of x with ``src`` (a tensor, or one number) written at ``index`` along ``axis``, as
    ``torch.Tensor.scatter``: ``out[index[i][j]][j] = src[i][j]`` for axis=0. Indices should not repeat."""
    x = as_tensor(x)
    index = _int_tensor(index, "scatter")
    return apply(ix.Scatter, x, index, _src(src, x, index), axis=axis)


@renamed(dim="axis")
def scatter_add(x: ArrayLike, axis: int, index: ArrayLike, src: ArrayLike) -> Tensor:
    """A copy of x with ``src`` added at ``index`` along ``axis`` (repeats add up), as
    ``torch.Tensor.scatter_add``."""
    x = as_tensor(x)
    index = _int_tensor(index, "scatter_add")
    return apply(ix.ScatterAdd, x, index, _src(src, x, index), axis=axis)


@renamed(dim="axis")
def index_select(x: ArrayLike, axis: int, index: ArrayLike) -> Tensor:
    """The entries of x at the 1-D integer ``index`` along ``axis`` (repeats allowed)."""
    x = as_tensor(x)
    idx = _int_tensor(index, "index_select").data
    if idx.ndim > 1:
        raise ValueError(f"index_select: index must be 0-D or 1-D, got shape {idx.shape}")
    ax = normalize_axes(axis, x.ndim, "index_select")[0] if x.ndim else 0
    n = x.shape[ax] if x.ndim else 1
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise IndexError(f"index_select: index values must be in [0, {n}) for axis {axis} of {x.shape}")
    if x.ndim == 0:
        return C.reshape(x, (1,))[idx.reshape(-1)].reshape(idx.shape)
    return x[(slice(None),) * ax + (idx.reshape(-1),)]


def masked_fill(x: ArrayLike, mask: ArrayLike, value: ArrayLike) -> Tensor:
    """x with ``value`` where the boolean ``mask`` (broadcast to x) is True; the gradient of x is
    zero there (``value`` may be a number or a 0-d tensor)."""
    x = as_tensor(x)
    m = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
    if m.dtype != bool:
        raise TypeError(f"masked_fill: mask must be boolean, got dtype {m.dtype}")
    try:
        fits = np.broadcast_shapes(m.shape, x.shape) == x.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"masked_fill: mask of shape {m.shape} does not broadcast to {x.shape}")
    v = as_tensor(value, like=x)
    if v.ndim:
        raise ValueError(f"masked_fill: value must be a number or 0-d tensor, got shape {v.shape}")
    return C.where(m, v.astype(x.dtype) if v.dtype != x.dtype else v, x)


def one_hot(t: ArrayLike, num_classes: int = -1) -> Tensor:
    """Class indices (any shape, ints >= 0) -> int64 one-hot of shape (..., num_classes);
    num_classes=-1 uses max + 1, as ``torch.nn.functional.one_hot``."""
    idx = _int_tensor(t, "one_hot").data
    if idx.size and idx.min() < 0:
        raise ValueError(f"one_hot: class indices must be >= 0, got {idx.min()}")
    n = int(idx.max()) + 1 if num_classes == -1 and idx.size else int(num_classes)
    if n < 0:
        raise ValueError("one_hot: num_classes=-1 needs a non-empty input")
    if idx.size and idx.max() >= n:
        raise ValueError(f"one_hot: class index {idx.max()} is out of range for num_classes={n}")
    return Tensor((idx[..., None] == np.arange(n)).astype(np.int64))


def _tri(x: ArrayLike, diagonal: int, lower: bool, op: str) -> Tensor:
    x = as_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"{op}: needs at least 2 dims (..., n, m), got shape {x.shape}")
    n, m = x.shape[-2:]
    keep = np.tri(n, m, diagonal, dtype=bool) if lower else ~np.tri(n, m, diagonal - 1, dtype=bool)
    return C.where(keep, x, Tensor(np.zeros((), dtype=x.dtype)))


def tril(x: ArrayLike, diagonal: int = 0) -> Tensor:
    """Lower triangle of the last two dims (..., n, m): entries with j - i <= diagonal, zeros elsewhere."""
    return _tri(x, diagonal, True, "tril")


def triu(x: ArrayLike, diagonal: int = 0) -> Tensor:
    """Upper triangle of the last two dims (..., n, m): entries with j - i >= diagonal, zeros elsewhere."""
    return _tri(x, diagonal, False, "triu")


def diag(x: ArrayLike, diagonal: int = 0) -> Tensor:
    """1-D (n,) -> the square matrix (n + |diagonal|, n + |diagonal|) with x on that diagonal;
    2-D (n, m) -> its ``diagonal``-th diagonal as 1-D, as ``torch.diag``."""
    x = as_tensor(x)
    k = int(diagonal)
    if x.ndim == 1:
        n = x.shape[0] + builtins.abs(k)
        i = np.arange(x.shape[0])
        rows, cols = (i, i + k) if k >= 0 else (i - k, i)
        return apply(GetItemGrad, x, index=(rows, cols), shape=(n, n))
    if x.ndim == 2:
        n, m = x.shape
        i = np.arange(builtins.max(0, builtins.min(n, m - k) if k >= 0 else builtins.min(n + k, m)))
        rows, cols = (i, i + k) if k >= 0 else (i - k, i)
        return x[rows, cols]
    raise ValueError(f"diag: expects a 1-D or 2-D tensor, got shape {x.shape}")
