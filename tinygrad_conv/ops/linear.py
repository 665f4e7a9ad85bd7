"""linear (y = x @ W.T + b) as one op: one GEMM, the bias added in place, and a weight gradient
that is one GEMM straight into (out, in) memory.

Composed of matmul + transpose + add it took 3 ops forward and 8 backward (the transposes, the
bias's unbroadcast), and the weight gradient arrived as a transposed view that the engine had to
copy into the leaf's ``.grad``. Measured on the MLP training step: see docs/performance.md.
"""

from __future__ import annotations

import numpy as np

from ..autograd.registry import Op, Sample, register
from ..tensor import apply
from ._util import randn
from .linalg import MatMul


def _rows(a: np.ndarray) -> np.ndarray:
    """(..., f) -> (M, f) view (a copy only when the leading axes cannot merge)."""
    return a.reshape(-1, a.shape[-1])


@register("linear")
class Linear(Op):
    """y = x @ weight.T (+ bias). x: (..., in), weight: (out, in), bias: (out,) -> (..., out)."""

    @staticmethod
    def forward(ctx, x, w, *bias):
        if len(bias) > 1:
            raise TypeError(f"linear: expected inputs (x, weight[, bias]), got {2 + len(bias)} arrays")
        if w.ndim != 2 or x.ndim < 1 or x.shape[-1] != w.shape[1]:
            raise ValueError(
                f"linear: input {x.shape} does not match weight {w.shape} "
                "(expected x (..., in_features), weight (out_features, in_features))"
            )
        if bias and bias[0].shape != (w.shape[0],):
            raise ValueError(f"linear: bias must have shape ({w.shape[0]},) for weight {w.shape}, "
                             f"got {bias[0].shape}")
        out = np.matmul(x, w.T)  # BLAS reads the transposed weight in place (no copy)
        if bias:
            b = bias[0]
            if np.result_type(out, b) == out.dtype:
                out += b  # fresh output: add the bias in place, no second (M, out) temporary
            else:
                out = out + b
        return out

    @staticmethod
    def onnx(g, x, w, *bias):
        """One Gemm for a 2-D input (what nn.Linear records on a batch); MatMul + Add otherwise."""
        if len(g.shape(x)) == 2:
            return g.op("Gemm", x, w, *bias, transB=1)
        y = g.op("MatMul", x, g.op("Transpose", w, perm=[1, 0]))
        return g.op("Add", y, bias[0]) if bias else y

    @staticmethod
    def vjp(ctx, g):
        x, w = ctx.inputs[:2]
        needs = ctx.needs_input_grad
        dx = apply(MatMul, g, w) if needs[0] else None
        dw = apply(LinearWeightGrad, x, g) if needs[1] else None
        if len(needs) == 2:
            return dx, dw
        db = g.sum(axis=tuple(range(g.ndim - 1))) if needs[2] else None
        return dx, dw, db

    @staticmethod
    def samples():
        yield Sample((randn(3, 4), randn(5, 4), randn(5)), label="2d-bias")
        yield Sample((randn(2, 3, 4), randn(2, 4)), label="3d-nobias")
        yield Sample((randn(4), randn(3, 4), randn(3)), label="1d-bias")
        yield Sample((randn(0, 4), randn(2, 4), randn(2)), label="empty-batch")


@register("linear_weight_grad")
class LinearWeightGrad(Op):
    """linear's weight gradient: g (..., out) and x (..., in) -> g^T x summed over the leading
    axes, (out, in). Bilinear in (x, g): its VJP is matmul (w.r.t. x) and linear (w.r.t. g)."""

    @staticmethod
    def forward(ctx, x, g):
        if x.shape[:-1] != g.shape[:-1]:
            raise ValueError(f"linear_weight_grad: leading axes of x {x.shape} and g {g.shape} differ")
        return _rows(g).T @ _rows(x)

    @staticmethod
    def vjp(ctx, gw):
        x, g = ctx.inputs
        nx, ng = ctx.needs_input_grad
        dx = apply(MatMul, g, gw) if nx else None  # (..., out) @ (out, in)
        dg = apply(Linear, x, gw) if ng else None  # (..., in) @ (out, in)^T
        return dx, dg

    @staticmethod
    def samples():
        yield Sample((randn(3, 4), randn(3, 5)), label="2d")
        yield Sample((randn(2, 3, 4), randn(2, 3, 2)), label="3d")
        yield Sample((randn(4), randn(3)), label="1d")
