"""Shared checks for the op-family tests: second order through ``tc.grad(create_graph=True)``.

The registry-wide test checks first order; until it also runs a second-order check, these
helpers check the analytic Hessian-vector products of an op (or any function) against central
differences of its recorded gradient, in float64.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

import tinygrad_conv as tc
from tinygrad_conv.tensor import Tensor, apply


def gradgrad(fn: Callable[..., Tensor], inputs: Sequence, constant: Sequence[int] = (),
             seed: int = 7) -> bool:
    """Check d/d(x, v) of <v, J_fn(x)>-style gradients: gradcheck of x, v -> grad(fn(x), x, v).

    ``inputs``: arrays; float ones not listed in ``constant`` are differentiated."""
    args = [Tensor(np.asarray(a, dtype=np.float64)) if np.asarray(a).dtype.kind == "f" and i in constant
            else a for i, a in enumerate(inputs)]
    with tc.no_grad():
        out = fn(*[Tensor(a) if not isinstance(a, Tensor) else a for a in args])
    v = np.random.default_rng(seed).standard_normal(out.shape)

    def first(*xs_v: Tensor) -> Tensor:
        *xs, vt = xs_v
        with tc.enable_grad():
            y = fn(*xs)
            wrt = [x for x in xs if x.requires_grad]
            if not y.requires_grad:
                return Tensor(np.zeros(1))
            gs = tc.grad(y, wrt, vt, create_graph=True, allow_unused=True)
            parts = [g.reshape(-1) for g in gs if g is not None]
            return tc.concatenate(parts) if parts else Tensor(np.zeros(1))

    return tc.gradcheck(first, [*args, v])


def gradgrad_op(name: str) -> None:
    """Second-order check of every sample of the registered op ``name`` (raises on failure)."""
    op = tc.get_op(name)
    for s in op.samples():
        def fn(*xs, _s=s):
            return apply(op, *[x if isinstance(x, Tensor) else Tensor(x) for x in xs], **_s.kwargs)

        try:
            gradgrad(fn, s.args, s.constant)
        except Exception as e:
            raise AssertionError(f"{name} [{s.label}]: {e}") from e
