"""Core functional ops: arithmetic, elementwise functions, reductions, shapes, linear.

Every function accepts Tensors, ndarrays or Python numbers and returns a Tensor. dtypes follow
PyTorch (see docs/coming-from.md): a Python number takes the dtype of the tensor it meets
(float32 stays float32), a float tensor meeting an integer one keeps its float dtype, integer
division and float functions of integers give float32. Reductions accept ``dim=``/``keepdim=``
as aliases of ``axis=``/``keepdims=``.
"""

from __future__ import annotations

import builtins
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._conventions import DEFAULT_FLOAT, SCALAR_TYPES, promote, renamed, scalar_dtype
from ..autograd.registry import normalize_axes
from ..ops import elementwise as ew
from ..ops import linalg, reduce, shape
from ..ops import linear as linear_ops
from ..tensor import ArrayLike, Tensor, apply, as_tensor

Axis = int | tuple[int, ...] | None

__all__ = [
    "add", "sub", "mul", "div", "pow", "neg", "matmul", "exp", "log", "sqrt", "abs", "relu",
    "sigmoid", "tanh", "clip", "clamp", "maximum", "minimum", "where", "cast", "sum", "mean", "max",
    "min", "var", "argmax", "argmin", "reshape", "transpose", "flatten", "unsqueeze", "squeeze",
    "expand", "getitem", "concatenate", "cat", "stack", "pad", "linear",
]


def _operand(x: ArrayLike, like: Tensor | None) -> Tensor:
    """A non-Tensor operand: a scalar is weak (takes ``like``'s dtype), an array keeps its dtype."""
    if like is not None and isinstance(x, SCALAR_TYPES):
        return Tensor(np.asarray(x, dtype=scalar_dtype(like.dtype, x)))
    return as_tensor(x)


def _pair(a: ArrayLike, b: ArrayLike) -> tuple[Tensor, Tensor]:
    """Two operands as tensors of one dtype (``_conventions.promote``); scalars are weak."""
    ta = a if isinstance(a, Tensor) else None
    tb = b if isinstance(b, Tensor) else None
    if ta is None:
        ta = _operand(a, tb)
    if tb is None:
        tb = _operand(b, ta)
    dt = promote(ta.dtype, tb.dtype)
    return _to(ta, dt), _to(tb, dt)


def _to(t: Tensor, dt: np.dtype) -> Tensor:
    """``t`` in dtype ``dt``. cast is a recorded op, so a float32 tensor promoted to float64 still
    gets its gradient. A constant bool mask meeting floats stays bool: NumPy's float op bool keeps
    the float dtype, and skipping the cast saves a full pass in every relu/clip/max backward."""
    if t.dtype == dt or (t.dtype == np.bool_ and dt.kind == "f" and not t.requires_grad):
        return t
    return cast(t, dt)


def _floating(x: ArrayLike) -> Tensor:
    """``x`` as a tensor, integer/bool data cast to float32 (float functions of ints, as PyTorch)."""
    t = as_tensor(x)
    return t if t.dtype.kind == "f" else cast(t, DEFAULT_FLOAT)


# ---- arithmetic (broadcasting as NumPy) ---------------------------------------------------
def add(a: ArrayLike, b: ArrayLike) -> Tensor:
    """a + b with broadcasting."""
    return apply(ew.Add, *_pair(a, b))


def sub(a: ArrayLike, b: ArrayLike) -> Tensor:
    """a - b with broadcasting."""
    return apply(ew.Sub, *_pair(a, b))


def mul(a: ArrayLike, b: ArrayLike) -> Tensor:
    """a * b with broadcasting."""
    return apply(ew.Mul, *_pair(a, b))


def div(a: ArrayLike, b: ArrayLike) -> Tensor:
    """a / b with broadcasting; true division, so integer / integer gives float32."""
    ta, tb = _pair(a, b)
    if ta.dtype.kind != "f":
        ta, tb = cast(ta, DEFAULT_FLOAT), cast(tb, DEFAULT_FLOAT)
    return apply(ew.Div, ta, tb)


def pow(a: ArrayLike, b: ArrayLike) -> Tensor:
    """a ** b with broadcasting (the gradient for b needs a > 0)."""
    return apply(ew.Pow, *_pair(a, b))


def neg(x: ArrayLike) -> Tensor:
    """-x, elementwise (any shape)."""
    return apply(ew.Neg, as_tensor(x))


def matmul(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Matrix product with NumPy semantics: (..., m, k) @ (..., k, n) -> (..., m, n); 1-D allowed."""
    return apply(linalg.MatMul, *_pair(a, b))


# ---- elementwise functions ----------------------------------------------------------------
def exp(x: ArrayLike) -> Tensor:
    """e ** x, elementwise (any shape)."""
    return apply(ew.Exp, _floating(x))


def log(x: ArrayLike) -> Tensor:
    """Natural logarithm, elementwise (x > 0; any shape)."""
    return apply(ew.Log, _floating(x))


def sqrt(x: ArrayLike) -> Tensor:
    """Square root, elementwise (x >= 0; any shape)."""
    return apply(ew.Sqrt, _floating(x))


def abs(x: ArrayLike) -> Tensor:
    """|x|, elementwise (the gradient at 0 is 0)."""
    return apply(ew.Abs, as_tensor(x))


def relu(x: ArrayLike) -> Tensor:
    """max(x, 0) elementwise; gradient 0 at x == 0 (as PyTorch)."""
    return apply(ew.Relu, as_tensor(x))


def sigmoid(x: ArrayLike) -> Tensor:
    """1 / (1 + exp(-x)), computed without overflow for large |x|."""
    return apply(ew.Sigmoid, _floating(x))


def tanh(x: ArrayLike) -> Tensor:
    """tanh(x); its derivative is 1 - tanh(x)**2."""
    return apply(ew.Tanh, _floating(x))


def clip(x: ArrayLike, min: float | None = None, max: float | None = None) -> Tensor:
    """Clamp to [min, max]; one bound may be None. When min > max every element becomes max
    (PyTorch's and NumPy's rule); the gradient passes where min <= x <= max."""
    if min is None and max is None:
        raise ValueError("clip: at least one of min and max must be given")
    return apply(ew.Clip, as_tensor(x), min=min, max=max)


clamp = clip


def maximum(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Elementwise maximum; ties split the gradient equally."""
    return apply(ew.Maximum, *_pair(a, b))


def minimum(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Elementwise minimum; ties split the gradient equally."""
    return apply(ew.Minimum, *_pair(a, b))


def where(cond: ArrayLike, a: ArrayLike, b: ArrayLike) -> Tensor:
    """Elementwise ``a if cond else b``; ``cond`` is constant (no gradient)."""
    c = Tensor(np.asarray(cond.data if isinstance(cond, Tensor) else cond, dtype=bool))
    return apply(ew.Where, c, *_pair(a, b))


def cast(x: ArrayLike, dtype: Any) -> Tensor:
    """Convert to ``dtype``; the gradient flows back in the input's dtype."""
    return apply(ew.Cast, as_tensor(x), dtype=np.dtype(dtype))


# ---- reductions ---------------------------------------------------------------------------
def _axis_0d(x: Tensor, axis: Axis, op: str) -> Axis:
    """A 0-d tensor reduces over axis 0 or -1 as over a 1-element axis (PyTorch): check, then all."""
    if x.ndim == 0 and axis is not None:
        normalize_axes(axis, 1, op)
        return None
    return axis


@renamed(dim="axis", keepdim="keepdims")
def sum(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Sum over ``axis`` (None: all axes; int or tuple, negatives allowed), as ``np.sum``."""
    x = as_tensor(x)
    return apply(reduce.Sum, x, axis=_axis_0d(x, axis, "sum"), keepdims=keepdims)


@renamed(dim="axis", keepdim="keepdims")
def mean(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis`` (None: all axes; int or tuple, negatives allowed), as ``np.mean``.

    Integer and bool tensors give float32."""
    x = _floating(x)
    return apply(reduce.Mean, x, axis=_axis_0d(x, axis, "mean"), keepdims=keepdims)


@renamed(dim="axis", keepdim="keepdims")
def max(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Maximum over ``axis``; tied maxima share the gradient."""
    x = as_tensor(x)
    return apply(reduce.Max, x, axis=_axis_0d(x, axis, "max"), keepdims=keepdims)


@renamed(dim="axis", keepdim="keepdims")
def min(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Minimum over ``axis``, exact for every dtype; tied minima share the gradient."""
    x = as_tensor(x)
    return apply(reduce.Min, x, axis=_axis_0d(x, axis, "min"), keepdims=keepdims)


@renamed(dim="axis", keepdim="keepdims")
def var(x: ArrayLike, axis: Axis = None, keepdims: bool = False, correction: int = 0) -> Tensor:
    """Variance over ``axis``: sum((x - mean)²) / (n - correction) (``correction=0``: biased, as
    BatchNorm uses). When n - correction <= 0 the divisor is clamped to 0, giving inf (or nan)
    with a RuntimeWarning, as PyTorch."""
    x = _floating(x)
    axis = _axis_0d(x, axis, "var")
    n = int(np.prod([x.shape[a] for a in normalize_axes(axis, x.ndim, "var")]))
    d = x - mean(x, axis=axis, keepdims=True)
    dof = n - correction
    if dof <= 0:
        warnings.warn(f"var: degrees of freedom <= 0 (n={n}, correction={correction}); "
                      "the result is inf or nan", RuntimeWarning, stacklevel=2)
        with np.errstate(divide="ignore", invalid="ignore"):
            return sum(d * d, axis=axis, keepdims=keepdims) / 0.0
    return sum(d * d, axis=axis, keepdims=keepdims) / dof


def _arg(fn: Any, x: ArrayLike, axis: int | None, keepdims: bool, op: str) -> Tensor:
    data = x.data if isinstance(x, Tensor) else np.asarray(x)
    if data.size == 0:
        raise ValueError(f"{op}: empty tensor of shape {data.shape}")
    if axis is None:
        out = np.asarray(fn(data))
        if keepdims:
            out = out.reshape((1,) * data.ndim)
    else:
        (ax,) = normalize_axes(axis, builtins.max(data.ndim, 1), op)
        out = fn(data.reshape(-1) if data.ndim == 0 else data, axis=ax, keepdims=keepdims)
        if data.ndim == 0:
            out = out.reshape(())
    return Tensor(np.asarray(out, dtype=np.int64))


@renamed(dim="axis", keepdim="keepdims")
def argmax(x: ArrayLike, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Index of the first maximum along ``axis`` (flattened when None) as an int64 tensor (no grad).

    NumPy-exact for every dtype (NaN counts as the maximum, as ``np.argmax``)."""
    return _arg(np.argmax, x, axis, keepdims, "argmax")


@renamed(dim="axis", keepdim="keepdims")
def argmin(x: ArrayLike, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Index of the first minimum along ``axis`` (flattened when None) as an int64 tensor (no grad)."""
    return _arg(np.argmin, x, axis, keepdims, "argmin")


# ---- shapes -------------------------------------------------------------------------------
def reshape(x: ArrayLike, shape: Sequence[int]) -> Tensor:
    """x with a new shape of the same size (one entry may be -1), as ``np.reshape``."""
    return apply(shape_ops.Reshape, as_tensor(x), shape=tuple(int(s) for s in shape))


def transpose(x: ArrayLike, axes: Sequence[int] | None = None) -> Tensor:
    """Permute axes (reverse them when ``axes`` is None)."""
    return apply(shape_ops.Transpose, as_tensor(x), axes=None if axes is None else tuple(axes))


@renamed(start_dim="start_axis", end_dim="end_axis")
def flatten(x: ArrayLike, start_axis: int = 0, end_axis: int = -1) -> Tensor:
    """Merge axes start_axis..end_axis into one, e.g. (N, C, H, W) -> (N, C*H*W) with start_axis=1."""
    x = as_tensor(x)
    nd = x.ndim
    s, e = start_axis % nd if nd else 0, end_axis % nd if nd else 0
    if s > e:
        raise ValueError(f"flatten: start_axis {start_axis} is after end_axis {end_axis} for shape {x.shape}")
    new = x.shape[:s] + (int(np.prod(x.shape[s:e + 1])),) + x.shape[e + 1:]
    return reshape(x, new)


def unsqueeze(x: ArrayLike, dim: int) -> Tensor:
    """Insert a size-1 axis at ``dim`` (in [-ndim-1, ndim]), as ``torch.unsqueeze``."""
    x = as_tensor(x)
    (ax,) = normalize_axes(dim, x.ndim + 1, "unsqueeze")
    return reshape(x, x.shape[:ax] + (1,) + x.shape[ax:])


def squeeze(x: ArrayLike, dim: int | tuple[int, ...] | None = None) -> Tensor:
    """Drop size-1 axes: all of them, or those in ``dim``. As PyTorch (not NumPy), a listed axis
    whose size is not 1 is left alone rather than raising."""
    x = as_tensor(x)
    axes = normalize_axes(dim, x.ndim, "squeeze") if x.ndim else ()
    new = tuple(s for i, s in enumerate(x.shape) if not (i in axes and s == 1))
    return x if new == x.shape else reshape(x, new)


def expand(x: ArrayLike, shape: Sequence[int]) -> Tensor:
    """Broadcast ``x`` to ``shape`` (-1 keeps that axis's size; new axes go in front), as
    ``torch.Tensor.expand``. The result is a read-only view; the gradient sums back over the
    broadcast axes."""
    x = as_tensor(x)
    shape = tuple(int(s) for s in shape)
    lead = len(shape) - x.ndim
    if lead < 0:
        raise ValueError(f"expand: shape {shape} has fewer dims than the tensor's {x.shape}")
    full = tuple(x.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(shape))
    try:
        target = np.broadcast_shapes(x.shape, full)
    except ValueError:
        target = None
    if target != full or any(s < 0 for s in full):
        raise ValueError(f"expand: cannot expand shape {x.shape} to {shape}")
    if full == x.shape:
        return x
    return apply(shape_ops.BroadcastTo, x, shape=full)  # a read-only view, as torch's expand


def getitem(x: ArrayLike, index: Any) -> Tensor:
    """``x[index]`` with NumPy's indexing rules: basic (ints, slices, None, ...), integer and bool
    arrays, and their mixtures (where NumPy moves advanced-index axes); repeated indices add up
    their gradients."""
    if isinstance(index, Tensor):
        index = index.data
    elif isinstance(index, tuple):
        index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
    elif isinstance(index, list):
        index = np.asarray(index)
    return apply(shape_ops.GetItem, as_tensor(x), index=index)


@renamed(dim="axis")
def concatenate(tensors: Sequence[ArrayLike], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis (``tc.cat`` is the same function)."""
    ts = [as_tensor(t) for t in tensors]
    if ts:  # checked here too: NumPy < 2 reads an axis >= 32 as axis=None and flattens silently
        normalize_axes(axis, builtins.max(ts[0].ndim, 1), "concatenate")
    return apply(shape_ops.Concatenate, *ts, axis=axis)


cat = concatenate


@renamed(dim="axis")
def stack(tensors: Sequence[ArrayLike], axis: int = 0) -> Tensor:
    """Join tensors along a new axis ``axis`` (in [-ndim-1, ndim]; others raise)."""
    ts = [as_tensor(t) for t in tensors]
    if not ts:
        raise ValueError("stack: needs at least one tensor")
    if len({t.shape for t in ts}) != 1:
        raise ValueError(f"stack: all shapes must match, got {[t.shape for t in ts]}")
    (ax,) = normalize_axes(axis, ts[0].ndim + 1, "stack")
    return concatenate([reshape(t, t.shape[:ax] + (1,) + t.shape[ax:]) for t in ts], axis=ax)


def pad(x: ArrayLike, pad_width: Any, value: float = 0.0) -> Tensor:
    """Constant padding; ``pad_width`` as NumPy's (an int, one pair, or one pair per axis)."""
    x = as_tensor(x)
    pw = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (x.ndim, 2))
    return apply(shape_ops.Pad, x, pad_width=tuple(map(tuple, pw.tolist())), value=value)


# ---- layers -------------------------------------------------------------------------------
def linear(x: ArrayLike, weight: ArrayLike, bias: ArrayLike | None = None) -> Tensor:
    """y = x @ weight.T + bias.

    x: (..., in_features), weight: (out_features, in_features), bias: (out_features,)
    -> (..., out_features), as ``torch.nn.functional.linear``.
    """
    x, weight = _pair(x, weight)
    if weight.ndim != 2 or x.ndim < 1 or x.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: input {x.shape} does not match weight {weight.shape} "
            "(expected x (..., in_features), weight (out_features, in_features))"
        )
    if bias is None or np.shape(bias.data if isinstance(bias, Tensor) else bias) == (weight.shape[0],):
        # one fused op (one GEMM + in-place bias; see ops/linear.py)
        return apply(linear_ops.Linear, x, weight, *(() if bias is None else (as_tensor(bias, like=x),)))
    return add(matmul(x, transpose(weight)), bias)


shape_ops = shape  # the module; the name ``shape`` is also a common argument name
