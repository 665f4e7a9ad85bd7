"""binary_cross_entropy_with_logits as one stable elementwise op.

l = (1 - y) x + (1 + (pw - 1) y) softplus(-x), with softplus(-x) = log1p(exp(-|x|)) + max(-x, 0)
never overflowing (PyTorch's formula; pw is pos_weight, broadcast over the last axis). Weights
and the reduction are applied outside with ordinary ops.
"""

from __future__ import annotations

import numpy as np

from ..autograd.registry import Op, Sample, register, unbroadcast
from ..tensor import Tensor, apply
from ._util import randn, uniform
from .elementwise import Log, Sigmoid


def softplus_neg(x: np.ndarray) -> np.ndarray:
    """softplus(-x) = log(1 + exp(-x)), stable for any x."""
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(-x, 0)


@register("bce_with_logits")
class BCEWithLogits(Op):
    """Elementwise binary cross-entropy of logits x against targets y in [0, 1] (broadcast), with
    positive-class weight ``pos_weight`` (broadcast; 1 for plain BCE). dl/dx = lw * sigmoid(x) - pw y
    with lw = 1 + (pw - 1) y... written as (1 - y) - lw (1 - sigmoid(x))."""

    @staticmethod
    def forward(ctx, x, y, pw):
        if x.dtype.kind != "f":
            raise TypeError(f"binary_cross_entropy_with_logits: logits must be floating point, got {x.dtype}")
        try:
            shape = np.broadcast_shapes(x.shape, y.shape, pw.shape)
        except ValueError:
            raise ValueError(
                f"binary_cross_entropy_with_logits: logits {x.shape}, target {y.shape} and "
                f"pos_weight {pw.shape} do not broadcast"
            ) from None
        if shape != x.shape:
            raise ValueError(
                f"binary_cross_entropy_with_logits: target {y.shape} / pos_weight {pw.shape} "
                f"would broadcast the logits {x.shape} to {shape}"
            )
        lw = 1 + (pw - 1) * y
        return ((1 - y) * x + lw * softplus_neg(x)).astype(x.dtype, copy=False)

    @staticmethod
    def vjp(ctx, g):
        x, y, pw = ctx.inputs
        nx, ny, npw = ctx.needs_input_grad
        lw = (pw - 1.0) * y + 1.0
        dx = g * ((1.0 - y) - lw * (1.0 - apply(Sigmoid, x))) if nx else None
        sp = None
        if ny or npw:
            sp = -apply(Log, apply(Sigmoid, x))  # softplus(-x), differentiable (targets rarely need it)
        dy = unbroadcast(g * ((pw - 1.0) * sp - x), y.shape) if ny else None
        dpw = unbroadcast(g * y * sp, pw.shape) if npw else None
        return dx, dy, dpw

    @staticmethod
    def samples():
        x = randn(3, 4) * 2
        yield Sample((x, uniform(0, 1, 3, 4), np.ones(())), label="soft-targets", constant=(2,))
        yield Sample(
            (x, (randn(3, 4) > 0).astype(np.float64), uniform(0.5, 2, 4)), label="pos_weight", constant=(1,)
        )
        yield Sample((randn(2, 3), uniform(0.1, 0.9, 2, 3), uniform(0.5, 2, 3)), label="all-inputs")
        yield Sample(
            (np.array([-30.0, 30.0, 0.0]), np.array([1.0, 0.0, 0.5]), np.ones(())),
            label="large-logits",
            constant=(2,),
        )


def bce_with_logits(x: Tensor, y: Tensor, pw: Tensor) -> Tensor:
    return apply(BCEWithLogits, x, y, pw)
