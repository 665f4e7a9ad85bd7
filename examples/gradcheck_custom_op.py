"""Write your own op, register it in a scratch registry, and gradcheck it.

An op is one class: forward (ndarrays in, ndarray out, fast NumPy), vjp (upstream gradient
Tensor -> one gradient Tensor per input, written with the library's own ops so it can itself be
differentiated) and samples (inputs for the checks). This script defines `softplus` and a scaled
`swish` with an attribute, checks both to first and second order like `tinygrad-conv gradcheck`
does, and shows the report for a deliberately wrong VJP.

Usage: python examples/gradcheck_custom_op.py [--fast]
"""

from __future__ import annotations

import numpy as np

import tinygrad_conv as tc
from tinygrad_conv.autograd import Op, Registry, Sample
from tinygrad_conv.gradcheck import check_op
from tinygrad_conv.tensor import apply

# A scratch registry keeps the experiment out of the package's global one
# (in the package you would use `from tinygrad_conv.autograd import register`).
scratch = Registry()
rng = np.random.default_rng(0)


@scratch.register("softplus")
class Softplus(Op):
    """y = log(1 + exp(x)), computed stably; dy/dx = sigmoid(x)."""

    @staticmethod
    def forward(ctx, x):
        return np.logaddexp(0.0, x).astype(x.dtype, copy=False)

    @staticmethod
    def vjp(ctx, g):
        (x,) = ctx.inputs  # the input Tensor: the gradient stays connected to the graph
        return (g * x.sigmoid(),)

    @staticmethod
    def samples():
        yield Sample((rng.standard_normal((3, 4)),), label="2d")
        yield Sample((rng.standard_normal(5) * 30,), label="large")  # stability far from 0


@scratch.register("swish")
class Swish(Op):
    """y = x * sigmoid(beta * x); the attribute beta is recorded on the tape node."""

    @staticmethod
    def forward(ctx, x, beta=1.0):
        return x / (1.0 + np.exp(-beta * x))

    @staticmethod
    def vjp(ctx, g):
        (x,) = ctx.inputs
        beta = ctx.attrs["beta"]  # the forward's default is filled in when not given
        s = (x * beta).sigmoid()
        return (g * (s + beta * x * s * (1.0 - s)),)

    @staticmethod
    def samples():
        yield Sample((rng.standard_normal((2, 3)),), {"beta": 1.0}, label="beta=1")
        yield Sample((rng.standard_normal((2, 3)),), {"beta": 2.5}, label="beta=2.5")

    @staticmethod
    def label(attrs):
        return f"beta={attrs['beta']}"


@scratch.register("bad_cube")
class BadCube(Op):
    """x ** 3 with a wrong VJP (2x² instead of 3x²): the check must catch it."""

    @staticmethod
    def forward(ctx, x):
        return x**3

    @staticmethod
    def vjp(ctx, g):
        (x,) = ctx.inputs
        return (g * 2 * x**2,)

    @staticmethod
    def samples():
        yield Sample((np.array([1.0, -2.0, 0.5]),), label="vec")


def main() -> int:
    # 1. use the ops on tensors: apply() records them on the tape like any built-in op
    x = tc.Tensor(rng.standard_normal((4, 3)).astype(np.float32), requires_grad=True)
    y = apply(Swish, apply(Softplus, x), beta=2.0).sum()
    y.backward()
    print(f"softplus -> swish: loss {y.item():.4f}, x.grad {x.grad.shape} {x.grad.dtype}")
    assert x.grad.dtype == np.float32

    # 2. gradcheck a function that uses them (float64, central differences)
    assert tc.gradcheck(lambda t: apply(Swish, apply(Softplus, t), beta=0.5), [rng.standard_normal(6)])

    # 3. second order: the numeric derivative of the recorded VJP against its own VJP
    assert tc.gradgradcheck(lambda t: apply(Swish, t, beta=1.5), [rng.standard_normal(6)])

    # 4. the registry-style table: every sample, all inputs then each alone, first and second order
    ok = True
    for name in ("softplus", "swish"):
        for row in check_op(scratch.get(name)):
            print(f"{row.op:<9} {row.label:<10} {row.shapes:<10} max abs err {row.max_abs_err:.2e}  "
                  f"1st {'pass' if row.first_ok else 'FAIL'}  2nd {'pass' if row.second_ok else 'FAIL'}")
            ok &= row.ok

    # 5. a wrong VJP is reported with the input, the worst index and both values
    try:
        tc.gradcheck(lambda t: apply(BadCube, t), [np.array([1.0, -2.0, 0.5])])
        raise SystemExit("gradcheck missed the wrong VJP")
    except tc.GradcheckError as e:
        print("caught, as it should be:", str(e).splitlines()[1].strip())
    print("registered in scratch:", scratch.names(), "| in the package:", "softplus" in tc.registered_ops())
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
