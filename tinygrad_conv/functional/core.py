"""Core functional ops: arithmetic, elementwise functions, reductions, shapes, linear.

Every function accepts Tensors, ndarrays or Python numbers and returns a Tensor. Python numbers
take the dtype of the tensor they meet, so float32 stays float32.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..ops import elementwise as ew
from ..ops import linalg, reduce, shape
from ..ops import linear as linear_ops
from ..tensor import ArrayLike, Tensor, apply, as_tensor

Axis = int | tuple[int, ...] | None

__all__ = [
    "add", "sub", "mul", "div", "pow", "neg", "matmul", "exp", "log", "sqrt", "abs", "relu",
    "sigmoid", "tanh", "clip", "maximum", "minimum", "where", "cast", "sum", "mean", "max", "min",
    "var", "reshape", "transpose", "flatten", "getitem", "concatenate", "stack", "pad", "linear",
]


def _pair(a: ArrayLike, b: ArrayLike) -> tuple[Tensor, Tensor]:
    """Two operands as tensors; a Python number adopts the other operand's dtype."""
    ta = a if isinstance(a, Tensor) else None
    tb = b if isinstance(b, Tensor) else None
    if ta is None:
        ta = as_tensor(a, like=tb)
    if tb is None:
        tb = as_tensor(b, like=ta)
    return ta, tb


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
    """a / b with broadcasting."""
    return apply(ew.Div, *_pair(a, b))


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
    return apply(ew.Exp, as_tensor(x))


def log(x: ArrayLike) -> Tensor:
    """Natural logarithm, elementwise (x > 0; any shape)."""
    return apply(ew.Log, as_tensor(x))


def sqrt(x: ArrayLike) -> Tensor:
    """Square root, elementwise (x >= 0; any shape)."""
    return apply(ew.Sqrt, as_tensor(x))


def abs(x: ArrayLike) -> Tensor:
    """|x|, elementwise (the gradient at 0 is 0)."""
    return apply(ew.Abs, as_tensor(x))


def relu(x: ArrayLike) -> Tensor:
    """max(x, 0) elementwise; gradient 0 at x == 0 (as PyTorch)."""
    return apply(ew.Relu, as_tensor(x))


def sigmoid(x: ArrayLike) -> Tensor:
    """1 / (1 + exp(-x)), computed without overflow for large |x|."""
    return apply(ew.Sigmoid, as_tensor(x))


def tanh(x: ArrayLike) -> Tensor:
    """tanh(x); its derivative is 1 - tanh(x)**2."""
    return apply(ew.Tanh, as_tensor(x))


def clip(x: ArrayLike, min: float | None = None, max: float | None = None) -> Tensor:
    """Clamp to [min, max] (either may be None)."""
    return apply(ew.Clip, as_tensor(x), min=min, max=max)


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
def sum(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Sum over ``axis`` (None: all axes; int or tuple, negatives allowed), as ``np.sum``."""
    return apply(reduce.Sum, as_tensor(x), axis=axis, keepdims=keepdims)


def mean(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis`` (None: all axes; int or tuple, negatives allowed), as ``np.mean``."""
    return apply(reduce.Mean, as_tensor(x), axis=axis, keepdims=keepdims)


def max(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Maximum over ``axis``; tied maxima share the gradient."""
    return apply(reduce.Max, as_tensor(x), axis=axis, keepdims=keepdims)


def min(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Minimum over ``axis`` (as -max(-x))."""
    return neg(max(neg(x), axis=axis, keepdims=keepdims))


def var(x: ArrayLike, axis: Axis = None, keepdims: bool = False, correction: int = 0) -> Tensor:
    """Variance over ``axis`` (``correction=0``: biased, as BatchNorm uses)."""
    x = as_tensor(x)
    d = x - mean(x, axis=axis, keepdims=True)
    n = x.size // mean(x, axis=axis, keepdims=keepdims).size
    return sum(d * d, axis=axis, keepdims=keepdims) / (n - correction)


# ---- shapes -------------------------------------------------------------------------------
def reshape(x: ArrayLike, shape: Sequence[int]) -> Tensor:
    """x with a new shape of the same size (one entry may be -1), as ``np.reshape``."""
    return apply(shape_ops.Reshape, as_tensor(x), shape=tuple(int(s) for s in shape))


def transpose(x: ArrayLike, axes: Sequence[int] | None = None) -> Tensor:
    """Permute axes (reverse them when ``axes`` is None)."""
    return apply(shape_ops.Transpose, as_tensor(x), axes=None if axes is None else tuple(axes))


def flatten(x: ArrayLike, start_axis: int = 0, end_axis: int = -1) -> Tensor:
    """Merge axes start_axis..end_axis into one, e.g. (N, C, H, W) -> (N, C*H*W) with start_axis=1."""
    x = as_tensor(x)
    nd = x.ndim
    s, e = start_axis % nd if nd else 0, end_axis % nd if nd else 0
    if s > e:
        raise ValueError(f"flatten: start_axis {start_axis} is after end_axis {end_axis} for shape {x.shape}")
    new = x.shape[:s] + (int(np.prod(x.shape[s:e + 1])),) + x.shape[e + 1:]
    return reshape(x, new)


def getitem(x: ArrayLike, index: Any) -> Tensor:
    """``x[index]`` with basic slicing or integer-array indexing."""
    if isinstance(index, Tensor):
        index = index.data
    elif isinstance(index, tuple):
        index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
    elif isinstance(index, list):
        index = np.asarray(index)
    return apply(shape_ops.GetItem, as_tensor(x), index=index)


def concatenate(tensors: Sequence[ArrayLike], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    return apply(shape_ops.Concatenate, *[as_tensor(t) for t in tensors], axis=axis)


def stack(tensors: Sequence[ArrayLike], axis: int = 0) -> Tensor:
    """Join tensors along a new axis."""
    ts = [as_tensor(t) for t in tensors]
    if not ts:
        raise ValueError("stack: needs at least one tensor")
    if len({t.shape for t in ts}) != 1:
        raise ValueError(f"stack: all shapes must match, got {[t.shape for t in ts]}")
    ax = axis % (ts[0].ndim + 1)
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
