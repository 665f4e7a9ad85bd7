"""Elementwise math, more reductions and linear algebra (PyTorch names, NumPy-style ``axis=``
with ``dim=``/``keepdim=`` accepted as aliases).

Every function accepts Tensors, ndarrays or Python numbers and returns a Tensor (``any``/``all``
and indices: boolean / int64 Tensors, which carry no gradient).
"""

from __future__ import annotations

import builtins
import math as _m
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from .._conventions import renamed
from ..autograd.registry import normalize_axes
from ..ops import einsum as es
from ..ops import reduce as rd
from ..ops import reduce_more as rm
from ..ops import scan, unary
from ..ops.index import Gather
from ..ops.linalg import MatMul
from ..tensor import ArrayLike, Tensor, apply, as_tensor
from . import core as C

Axis = int | tuple[int, ...] | None

__all__ = [
    "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "log2", "log10", "log1p", "expm1",
    "exp2", "rsqrt", "reciprocal", "square", "erf", "sign", "floor", "ceil", "round", "trunc",
    "remainder", "floor_divide", "atan2", "lerp", "prod", "std", "logsumexp", "cumsum", "cumprod",
    "cummax", "cummin", "any", "all", "norm", "amax", "amin", "einsum", "tensordot", "outer", "bmm",
]


def _u(op: Any, x: ArrayLike) -> Tensor:
    return apply(op, as_tensor(x))


# ---- elementwise (any shape -> same shape) ------------------------------------------------
def sin(x: ArrayLike) -> Tensor:
    """sin(x), elementwise."""
    return _u(unary.Sin, x)


def cos(x: ArrayLike) -> Tensor:
    """cos(x), elementwise."""
    return _u(unary.Cos, x)


def tan(x: ArrayLike) -> Tensor:
    """tan(x), elementwise."""
    return _u(unary.Tan, x)


def asin(x: ArrayLike) -> Tensor:
    """arcsin(x) for x in [-1, 1], elementwise."""
    return _u(unary.Asin, x)


def acos(x: ArrayLike) -> Tensor:
    """arccos(x) for x in [-1, 1], elementwise."""
    return _u(unary.Acos, x)


def atan(x: ArrayLike) -> Tensor:
    """arctan(x), elementwise."""
    return _u(unary.Atan, x)


def sinh(x: ArrayLike) -> Tensor:
    """Hyperbolic sine, elementwise."""
    return _u(unary.Sinh, x)


def cosh(x: ArrayLike) -> Tensor:
    """Hyperbolic cosine, elementwise."""
    return _u(unary.Cosh, x)


def log2(x: ArrayLike) -> Tensor:
    """Base-2 logarithm, elementwise."""
    return _u(unary.Log2, x)


def log10(x: ArrayLike) -> Tensor:
    """Base-10 logarithm, elementwise."""
    return _u(unary.Log10, x)


def log1p(x: ArrayLike) -> Tensor:
    """log(1 + x), accurate for small x."""
    return _u(unary.Log1p, x)


def expm1(x: ArrayLike) -> Tensor:
    """exp(x) - 1, accurate for small x."""
    return _u(unary.Expm1, x)


def exp2(x: ArrayLike) -> Tensor:
    """2 ** x, elementwise."""
    return _u(unary.Exp2, x)


def rsqrt(x: ArrayLike) -> Tensor:
    """1 / sqrt(x), elementwise."""
    return _u(unary.Rsqrt, x)


def reciprocal(x: ArrayLike) -> Tensor:
    """1 / x, elementwise."""
    return _u(unary.Reciprocal, x)


def square(x: ArrayLike) -> Tensor:
    """x * x, elementwise."""
    return _u(unary.Square, x)


def erf(x: ArrayLike) -> Tensor:
    """The error function 2/sqrt(pi) * integral_0^x exp(-t²) dt, elementwise."""
    return _u(unary.Erf, x)


def sign(x: ArrayLike) -> Tensor:
    """-1, 0 or 1 by the sign of x (gradient 0)."""
    return _u(unary.Sign, x)


def floor(x: ArrayLike) -> Tensor:
    """Round down (gradient 0)."""
    return _u(unary.Floor, x)


def ceil(x: ArrayLike) -> Tensor:
    """Round up (gradient 0)."""
    return _u(unary.Ceil, x)


def round(x: ArrayLike) -> Tensor:
    """Round to the nearest integer, halves to even as PyTorch and NumPy (gradient 0)."""
    return _u(unary.Round, x)


def trunc(x: ArrayLike) -> Tensor:
    """Round toward zero (gradient 0)."""
    return _u(unary.Trunc, x)


def remainder(a: ArrayLike, b: ArrayLike) -> Tensor:
    """a % b with the sign of b (Python's rule, ``torch.remainder``), with broadcasting."""
    return apply(unary.Remainder, *C._pair(a, b))


def floor_divide(a: ArrayLike, b: ArrayLike) -> Tensor:
    """a // b rounded toward minus infinity, with broadcasting (gradient 0)."""
    return apply(unary.FloorDivide, *C._pair(a, b))


def atan2(a: ArrayLike, b: ArrayLike) -> Tensor:
    """The angle of the point (b, a) in (-pi, pi], with broadcasting (``torch.atan2(input, other)``)."""
    return apply(unary.Atan2, *C._pair(a, b))


def lerp(start: ArrayLike, end: ArrayLike, weight: ArrayLike) -> Tensor:
    """start + weight * (end - start), with broadcasting; weight may be a number or a tensor."""
    start, end = C._pair(start, end)
    return start + C.mul(weight, end - start)


# ---- reductions ---------------------------------------------------------------------------
@renamed(dim="axis", keepdim="keepdims")
def prod(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Product over ``axis`` (None: all). The gradient is exact with zeros in the input."""
    return apply(rm.Prod, as_tensor(x), axis=axis, keepdims=keepdims)


@renamed(dim="axis", keepdim="keepdims")
def std(x: ArrayLike, axis: Axis = None, keepdims: bool = False, correction: int = 0) -> Tensor:
    """Standard deviation sqrt(var) over ``axis``. ``correction=0`` (biased) like ``var`` here and
    NumPy; PyTorch's ``torch.std`` defaults to ``correction=1``: pass it when porting."""
    return C.sqrt(C.var(x, axis=axis, keepdims=keepdims, correction=correction))


@renamed(dim="axis", keepdim="keepdims")
def logsumexp(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """log(sum(exp(x))) over ``axis``, stable for large inputs (the max is taken out first)."""
    return apply(rm.Logsumexp, as_tensor(x), axis=axis, keepdims=keepdims)


@renamed(dim="axis")
def cumsum(x: ArrayLike, axis: int | None = None) -> Tensor:
    """Running sum along ``axis`` (same shape), as ``torch.cumsum``."""
    return apply(scan.Cumsum, as_tensor(x), axis=axis)


@renamed(dim="axis")
def cumprod(x: ArrayLike, axis: int | None = None) -> Tensor:
    """Running product along ``axis`` (same shape), as ``torch.cumprod``; exact gradient with zeros."""
    return apply(scan.Cumprod, as_tensor(x), axis=axis)


class CumResult(NamedTuple):
    """``values`` (Tensor, differentiable) and ``indices`` (int64 Tensor) of cummax / cummin."""

    values: Tensor
    indices: Tensor


def _cum_extreme(x: ArrayLike, axis: int | None, best: Any, op: str) -> CumResult:
    t = as_tensor(x)
    if axis is None:
        raise TypeError(f"{op}: axis (dim) is required, as in PyTorch")
    ax = normalize_axes(axis, t.ndim, op)[0] if t.ndim else 0
    if t.ndim == 0:
        return CumResult(apply(Gather, t, Tensor(np.zeros((), np.int64)), axis=0),
                         Tensor(np.zeros((), np.int64)))
    run = best.accumulate(t.data, axis=ax)
    # the latest position holding the running extreme (PyTorch's tie rule: x >= best so far)
    pos = np.arange(t.shape[ax]).reshape([-1 if d == ax else 1 for d in range(t.ndim)])
    idx = np.maximum.accumulate(np.where(t.data == run, pos, 0), axis=ax).astype(np.int64)
    return CumResult(apply(Gather, t, Tensor(idx), axis=ax), Tensor(idx))


@renamed(dim="axis")
def cummax(x: ArrayLike, axis: int | None = None) -> CumResult:
    """Running maximum along ``axis``: (values, indices) as ``torch.cummax``; a tie points at the
    latest position. The gradient of each value goes to the element its index names."""
    return _cum_extreme(x, axis, np.maximum, "cummax")


@renamed(dim="axis")
def cummin(x: ArrayLike, axis: int | None = None) -> CumResult:
    """Running minimum along ``axis``: (values, indices) as ``torch.cummin``."""
    return _cum_extreme(x, axis, np.minimum, "cummin")


def _bool_reduce(fn: Any, x: ArrayLike, axis: Axis, keepdims: bool, op: str) -> Tensor:
    data = x.data if isinstance(x, Tensor) else np.asarray(x)
    axes = normalize_axes(axis, data.ndim, op) if data.ndim else None
    return Tensor(np.asarray(fn(data, axis=axes, keepdims=keepdims)))


@renamed(dim="axis", keepdim="keepdims")
def any(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """True where any element over ``axis`` is nonzero (a bool Tensor, no gradient)."""
    return _bool_reduce(np.any, x, axis, keepdims, "any")


@renamed(dim="axis", keepdim="keepdims")
def all(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """True where every element over ``axis`` is nonzero (a bool Tensor, no gradient)."""
    return _bool_reduce(np.all, x, axis, keepdims, "all")


@renamed(dim="axis", keepdim="keepdims")
def norm(x: ArrayLike, p: float | str = "fro", axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Vector p-norm over ``axis`` (None: all elements), as ``torch.norm``.

    p: 'fro' or 2 (Euclidean, gradient 0 at x = 0), 1 (sum |x|), inf (max |x|), -inf (min |x|),
    0 (count of nonzeros, no gradient) or any other number: (sum |x|^p)^(1/p).
    """
    t = as_tensor(x)
    if p in ("fro", 2, 2.0):
        return apply(rm.Norm, t, axis=axis, keepdims=keepdims)
    if isinstance(p, str):
        raise ValueError(f"norm: p must be a number or 'fro', got {p!r}")
    if p == 1:
        return C.sum(C.abs(t), axis=axis, keepdims=keepdims)
    if p == _m.inf:
        return C.max(C.abs(t), axis=axis, keepdims=keepdims)
    if p == -_m.inf:
        return apply(rd.Min, C.abs(t), axis=axis, keepdims=keepdims)
    if p == 0:
        return C.sum(Tensor((t.data != 0).astype(t.dtype if t.dtype.kind == "f" else np.float32)),
                     axis=axis, keepdims=keepdims)
    return C.pow(C.sum(C.pow(C.abs(t), float(p)), axis=axis, keepdims=keepdims), 1.0 / p)


@renamed(dim="axis", keepdim="keepdims")
def amax(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Maximum over ``axis``; tied maxima share the gradient equally (as ``torch.amax``)."""
    return apply(rd.Max, as_tensor(x), axis=axis, keepdims=keepdims)


@renamed(dim="axis", keepdim="keepdims")
def amin(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Minimum over ``axis``; tied minima share the gradient equally (as ``torch.amin``)."""
    return apply(rd.Min, as_tensor(x), axis=axis, keepdims=keepdims)


# ---- linear algebra -----------------------------------------------------------------------
def einsum(subscripts: str, *operands: ArrayLike | Sequence[ArrayLike]) -> Tensor:
    """Einstein summation, as ``torch.einsum`` / ``np.einsum``: any subscripts, with '...',
    broadcasting, implicit output and repeated letters (``'ii->i'`` diagonals, ``'ii'`` traces).

    ``einsum('bij,bjk->bik', a, b)``; the operands may also be passed as one list. The gradient
    of each operand is itself an einsum.
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    ts = [as_tensor(o) for o in operands]
    explicit = es.normalize_subscripts(subscripts, [t.shape for t in ts])
    return apply(es.Einsum, *ts, subscripts=explicit)


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def tensordot(a: ArrayLike, b: ArrayLike, dims: int | Sequence[Sequence[int]] = 2) -> Tensor:
    """Contract the last ``dims`` axes of a with the first ``dims`` of b, or the axis lists
    ``dims=([a axes], [b axes])``, as ``torch.tensordot``. Output: a's free axes, then b's."""
    ta, tb = C._pair(a, b)
    if isinstance(dims, (int, np.integer)):
        if dims < 0 or dims > builtins.min(ta.ndim, tb.ndim):
            raise ValueError(f"tensordot: dims={dims} is invalid for shapes {ta.shape} and {tb.shape}")
        da, db = list(range(ta.ndim - dims, ta.ndim)), list(range(dims))
    else:
        da = [normalize_axes(int(d), ta.ndim, "tensordot")[0] for d in dims[0]]
        db = [normalize_axes(int(d), tb.ndim, "tensordot")[0] for d in dims[1]]
        if len(da) != len(db):
            raise ValueError(f"tensordot: {len(da)} axes of a but {len(db)} of b in dims={dims!r}")
    for i, j in zip(da, db):
        if ta.shape[i] != tb.shape[j]:
            raise ValueError(f"tensordot: axis {i} of {ta.shape} and axis {j} of {tb.shape} differ in size")
    if ta.ndim + tb.ndim - len(da) > len(_LETTERS):
        raise ValueError(f"tensordot: too many axes ({ta.shape}, {tb.shape})")
    sa = list(_LETTERS[:ta.ndim])
    rest = iter(_LETTERS[ta.ndim:])
    sb = [""] * tb.ndim
    for i, j in zip(da, db):
        sb[j] = sa[i]
    sb = [c or next(rest) for c in sb]
    out = [c for k, c in enumerate(sa) if k not in da] + [c for k, c in enumerate(sb) if k not in db]
    return apply(es.Einsum, ta, tb, subscripts=f"{''.join(sa)},{''.join(sb)}->{''.join(out)}")


def outer(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Outer product of two 1-D tensors: (n,), (m,) -> (n, m)."""
    ta, tb = C._pair(a, b)
    if ta.ndim != 1 or tb.ndim != 1:
        raise ValueError(f"outer: expects two 1-D tensors, got shapes {ta.shape} and {tb.shape}")
    return apply(es.Einsum, ta, tb, subscripts="i,j->ij")


def bmm(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Batched matrix product without broadcasting: (B, n, k) @ (B, k, m) -> (B, n, m)."""
    ta, tb = C._pair(a, b)
    if ta.ndim != 3 or tb.ndim != 3 or ta.shape[0] != tb.shape[0] or ta.shape[2] != tb.shape[1]:
        raise ValueError(f"bmm: expects (B, n, k) and (B, k, m), got shapes {ta.shape} and {tb.shape}")
    return apply(MatMul, ta, tb)
