"""matmul with NumPy semantics: 1-D operands, batched N-d @ N-d with broadcasting batch dims."""

from __future__ import annotations

import numpy as np

from ..autograd.registry import Op, Sample, register, unbroadcast
from ._util import randn


@register("matmul")
class MatMul(Op):
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
        na, nb = ctx.needs_input_grad
        ctx.save(a.shape, b.shape, a if nb else None, b if na else None)
        return np.matmul(a, b)

    @staticmethod
    def vjp(ctx, g):
        a_shape, b_shape, a, b = ctx.saved
        na, nb = ctx.needs_input_grad
        # view 1-D operands as matrices, and g to match, then undo at the end
        if len(b_shape) == 1:
            g = g[..., None]
        if len(a_shape) == 1:
            g = g[..., None, :]
        ga = gb = None
        if na:
            B = b[:, None] if b.ndim == 1 else b
            ga = _reduce_to(g @ np.swapaxes(B, -1, -2), a_shape)
        if nb:
            A = a[None, :] if a.ndim == 1 else a
            gb = _reduce_to(np.swapaxes(A, -1, -2) @ g, b_shape)
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


def _reduce_to(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum broadcast batch dims away, then drop the axis added for a 1-D operand."""
    if len(shape) == 1:
        g = g.reshape(-1, *g.shape[-2:]).sum(axis=0)  # (m, k) or (k, n) with a size-1 side
        return g.reshape(shape)
    return unbroadcast(g, shape)
