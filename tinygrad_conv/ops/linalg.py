"""matmul with NumPy semantics: 1-D operands, batched N-d @ N-d with broadcasting batch dims."""

from __future__ import annotations

import numpy as np

from ..autograd.registry import Op, Sample, register, unbroadcast
from ..tensor import apply
from . import _onnx
from ._util import randn


@register("matmul")
class MatMul(Op):
    onnx = _onnx.node("MatMul")  # NumPy's matmul semantics, 1-D operands included

    @staticmethod
    def forward(ctx, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul: operands must be at least 1-D, got shapes {a.shape} and {b.shape}")
        ka = a.shape[-1]
        kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if ka != kb:
            raise ValueError(
                f"matmul: shapes {a.shape} and {b.shape} are not aligned "
                f"(last dim of a is {ka}, {'first' if b.ndim == 1 else 'second-to-last'} dim of b is {kb})"
            )
        try:
            np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise ValueError(
                f"matmul: batch dims of {a.shape} and {b.shape} do not broadcast"
            ) from None
        return np.matmul(a, b)

    @staticmethod
    def vjp(ctx, g):
        a, b = ctx.inputs
        na, nb = ctx.needs_input_grad
        # view 1-D operands as matrices (and g to match), sum broadcast batch dims, undo at the end
        A = a.reshape((1,) + a.shape) if a.ndim == 1 else a
        B = b.reshape(b.shape + (1,)) if b.ndim == 1 else b
        if b.ndim == 1:
            g = g.reshape(g.shape + (1,))
        if a.ndim == 1:
            g = g.reshape(g.shape[:-1] + (1,) + g.shape[-1:])
        ga = _reduce_to(apply(MatMul, g, _swap(B)), A.shape, a.shape) if na else None
        gb = _reduce_to(apply(MatMul, _swap(A), g), B.shape, b.shape) if nb else None
        return ga, gb

    @staticmethod
    def samples():
        yield Sample((randn(3, 4), randn(4, 5)), label="2d")
        yield Sample((randn(2, 3, 4), randn(4, 2)), label="batched-left")
        yield Sample((randn(3, 4), randn(2, 4, 5)), label="batched-right")
        yield Sample((randn(2, 1, 3, 4), randn(3, 4, 2)), label="bcast-batch")
        yield Sample((randn(4), randn(4, 3)), label="vec-mat")
        yield Sample((randn(2, 3, 4), randn(4)), label="mat-vec")
        yield Sample((randn(4), randn(4)), label="dot")
        yield Sample((randn(0), randn(0, 3)), label="empty-k")


def _swap(t):
    """Swap the last two axes (a recorded transpose)."""
    perm = tuple(range(t.ndim - 2)) + (t.ndim - 1, t.ndim - 2)
    return t.transpose(perm)


def _reduce_to(g, mat_shape: tuple[int, ...], shape: tuple[int, ...]):
    """Sum broadcast batch dims away (down to the operand's matrix view), then its real shape."""
    g = unbroadcast(g, mat_shape)
    return g.reshape(shape) if g.shape != shape else g
