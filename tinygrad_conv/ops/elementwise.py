"""Elementwise ops: arithmetic with broadcasting, unary functions, maximum/minimum/where, cast."""

from __future__ import annotations

import numpy as np

from ..autograd.registry import Op, Sample, register, unbroadcast
from ..tensor import Tensor, apply
from ._util import away_from_zero, randn, uniform


def _binary_samples(lo: float = -2.0, hi: float = 2.0):
    """Shared shapes for binary ops: same shape and broadcasting both ways."""
    yield Sample((uniform(lo, hi, 3, 4), uniform(lo, hi, 3, 4)), label="same")
    yield Sample((uniform(lo, hi, 2, 3, 4), uniform(lo, hi, 4)), label="bcast-right")
    yield Sample((uniform(lo, hi, 3, 1), uniform(lo, hi, 2, 1, 5)), label="bcast-both")
    yield Sample((uniform(lo, hi, 1), uniform(lo, hi, 3, 2)), label="bcast-left")


@register("add")
class Add(Op):
    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def vjp(ctx, g):
        a, b = ctx.inputs
        return unbroadcast(g, a.shape), unbroadcast(g, b.shape)

    samples = staticmethod(_binary_samples)


@register("sub")
class Sub(Op):
    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def vjp(ctx, g):
        a, b = ctx.inputs
        na, nb = ctx.needs_input_grad
        return unbroadcast(g, a.shape) if na else None, unbroadcast(-g, b.shape) if nb else None

    samples = staticmethod(_binary_samples)


@register("mul")
class Mul(Op):
    @staticmethod
    def forward(ctx, a, b):
        return a * b

    @staticmethod
    def vjp(ctx, g):
        a, b = ctx.inputs  # each gradient needs the *other* operand only
        na, nb = ctx.needs_input_grad
        return unbroadcast(g * b, a.shape) if na else None, unbroadcast(g * a, b.shape) if nb else None

    samples = staticmethod(_binary_samples)


@register("div")
class Div(Op):
    save_output = True

    @staticmethod
    def forward(ctx, a, b):
        return a / b

    @staticmethod
    def vjp(ctx, g):
        a, b = ctx.inputs
        na, nb = ctx.needs_input_grad
        q = g / b
        ga = unbroadcast(q, a.shape) if na else None
        gb = unbroadcast(-(q * ctx.output()), b.shape) if nb else None  # -g a / b**2
        return ga, gb

    @staticmethod
    def samples():
        yield Sample((randn(3, 4), uniform(0.5, 2.0, 3, 4)), label="same")
        yield Sample((randn(2, 3), uniform(-2.0, -0.5, 3)), label="bcast")
        yield Sample((randn(1, 3), uniform(0.5, 2.0, 4, 1)), label="bcast-both")


@register("pow")
class Pow(Op):
    """a ** b. At the boundary the gradients follow PyTorch: d/da of a**0 is 0 (also at a = 0),
    and d/db of 0**b is 0 for b >= 0 (the formula b * a**(b-1) and a**b * log(a) would give
    0 * inf there)."""

    save_output = True

    @staticmethod
    def forward(ctx, a, b):
        return np.power(a, b)

    @staticmethod
    def vjp(ctx, g):
        a, b = ctx.inputs
        na, nb = ctx.needs_input_grad
        ga = gb = None
        if na:
            zero_b = b.data == 0
            # b == 0: use exponent 1 there (finite even at a == 0), multiplied by b == 0 anyway
            expo = apply(Where, Tensor(zero_b), _one(b), b - 1) if zero_b.any() else b - 1
            ga = unbroadcast(g * b * a ** expo, a.shape)
        if nb:
            zero_a = a.data == 0
            if zero_a.any():
                la = apply(Log, apply(Where, Tensor(zero_a), _one(a), a))
                d = g * ctx.output() * la
                gb = apply(Where, Tensor(zero_a & (b.data >= 0)), _zero(d), d)
            else:
                gb = g * ctx.output() * apply(Log, a)
            gb = unbroadcast(gb, b.shape)
        return ga, gb

    @staticmethod
    def samples():
        yield Sample((uniform(0.5, 2.0, 3, 4), uniform(-1.5, 2.5, 3, 4)), label="tensor-exp")
        yield Sample((uniform(-2, 2, 3, 4), np.array(2.0)), label="square", constant=(1,))
        yield Sample((uniform(0.5, 2.0, 2, 3), uniform(0.5, 2.0, 3)), label="bcast")
        yield Sample((uniform(-2, 2, 3, 4), np.array(3.0)), label="cube", constant=(1,))


def _one(like: Tensor) -> Tensor:
    return Tensor(np.ones((), dtype=like.dtype))


def _zero(like: Tensor) -> Tensor:
    return Tensor(np.zeros((), dtype=like.dtype))


class _Unary(Op):
    """Unary op y = f(x); subclasses give the forward and a VJP in Tensor ops."""

    @staticmethod
    def samples():
        yield Sample((randn(3, 4),), label="2d")
        yield Sample((randn(2, 3, 5),), label="3d")


def _unary(name: str, fn, vjp, sample_fn=None, save_output: bool = False):
    """Build and register a unary op from its function and VJP (one line per op below).

    ``vjp(g, x, y)`` gets the upstream gradient, the input and (with ``save_output``) the output
    as Tensors connected to the graph."""

    def forward(ctx, x):
        return fn(x)

    def _vjp(ctx, g):
        x = ctx.inputs[0]
        return (vjp(g, x, ctx.output() if save_output else None),)

    cls = type(name.capitalize(), (_Unary,), {
        "forward": staticmethod(forward),
        "vjp": staticmethod(_vjp),
        "save_output": save_output,
        "__doc__": f"Elementwise {name}.",
    })
    if sample_fn is not None:
        cls.samples = staticmethod(sample_fn)  # type: ignore[attr-defined]
    return register(name)(cls)


def _pos_samples():
    yield Sample((uniform(0.2, 3.0, 3, 4),), label="positive")


def _kink_samples():
    yield Sample((away_from_zero(3, 4),), label="away-from-0")
    yield Sample((away_from_zero(2, 3, 2),), label="3d")


def _zero_where_g_is_zero(g: Tensor, d: Tensor, pole: np.ndarray) -> Tensor:
    """At a pole (x = 0 for log, sqrt) a zero upstream gradient stays 0 instead of 0 * inf = nan."""
    if not pole.any():
        return d
    return apply(Where, Tensor(pole & (g.data == 0)), _zero(d), d)


Neg = _unary("neg", np.negative, lambda g, x, y: -g)
Exp = _unary("exp", np.exp, lambda g, x, y: g * y, save_output=True)
Log = _unary("log", np.log, lambda g, x, y: _zero_where_g_is_zero(g, g / x, x.data == 0), _pos_samples)
Sqrt = _unary("sqrt", np.sqrt, lambda g, x, y: _zero_where_g_is_zero(g, g / (y * 2.0), y.data == 0),
              _pos_samples, save_output=True)
# the masks below are constants: abs and relu are piecewise linear (second derivative 0)
Abs = _unary("abs", np.abs, lambda g, x, y: g * np.sign(x.data), _kink_samples)
# a zero of x's own dtype: under NumPy 1.x a Python 0 would widen a 0-d float32 input to float64
Relu = _unary("relu", lambda x: np.maximum(x, np.zeros((), x.dtype)), lambda g, x, y: g * (x.data > 0),
              _kink_samples)
Tanh = _unary("tanh", np.tanh, lambda g, x, y: g * (1.0 - y * y), save_output=True)  # the seed returned tanh


def _sigmoid(x):
    e = np.exp(-np.abs(x))  # exp of a non-positive number never overflows
    one = np.ones((), e.dtype)  # not a Python 1: NumPy 1.x would widen a 0-d float32 to float64
    return np.where(x >= 0, one / (one + e), e / (one + e))


Sigmoid = _unary("sigmoid", _sigmoid, lambda g, x, y: g * y * (1.0 - y), save_output=True)


@register("clip")
class Clip(Op):
    """Clamp to [min, max]; the gradient passes where min <= x <= max (as PyTorch's clamp)."""

    @staticmethod
    def forward(ctx, x, min=None, max=None):
        # min > max: np.clip gives max everywhere, as PyTorch's clamp (the mask below is all False)
        if ctx.needs_input_grad[0]:
            mask = np.ones(x.shape, dtype=bool)
            if min is not None:
                mask &= x >= min
            if max is not None:
                mask &= x <= max
            ctx.save(mask)
        return np.clip(x, min, max).astype(x.dtype, copy=False)

    @staticmethod
    def vjp(ctx, g):
        (mask,) = ctx.saved
        return (g * mask,)  # a constant mask: clip is piecewise linear

    @staticmethod
    def samples():
        x = randn(4, 5)
        x[np.abs(np.abs(x) - 0.5) < 0.05] = 0.0  # keep away from the clip edges
        yield Sample((x,), {"min": -0.5, "max": 0.5}, label="both")
        yield Sample((randn(3, 3),), {"min": 0.1}, label="min-only")


def _pick(a, b, a_wins, ties):
    """Gradient routing for maximum/minimum: winner takes g, ties split it (PyTorch's rule)."""
    wa = a_wins + 0.5 * ties
    return wa, 1.0 - wa


class _MaxMin(Op):
    compare = staticmethod(np.greater)
    fn = staticmethod(np.maximum)

    @classmethod
    def _fwd(cls, ctx, a, b):
        if any(ctx.needs_input_grad):
            ctx.save(*_pick(a, b, cls.compare(a, b), a == b))
        return cls.fn(a, b)

    @staticmethod
    def vjp(ctx, g):
        wa, wb = ctx.saved  # constant weights: the op is piecewise linear
        a, b = ctx.inputs
        na, nb = ctx.needs_input_grad
        return unbroadcast(g * wa, a.shape) if na else None, unbroadcast(g * wb, b.shape) if nb else None

    @staticmethod
    def samples():
        yield from _binary_samples()
        a = np.array([1.0, 2.0, 3.0])
        yield Sample((a, a.copy()), label="ties", second_order=False)


@register("maximum")
class Maximum(_MaxMin):
    @staticmethod
    def forward(ctx, a, b):
        return Maximum._fwd(ctx, a, b)


@register("minimum")
class Minimum(_MaxMin):
    compare = staticmethod(np.less)
    fn = staticmethod(np.minimum)

    @staticmethod
    def forward(ctx, a, b):
        return Minimum._fwd(ctx, a, b)


@register("where")
class Where(Op):
    """where(cond, a, b): cond is a constant boolean array, gradients go to a or b."""

    @staticmethod
    def forward(ctx, cond, a, b):
        return np.where(cond.astype(bool, copy=False), a, b)

    @staticmethod
    def vjp(ctx, g):
        cond, a, b = ctx.inputs
        na, nb = ctx.needs_input_grad[1:]
        zero = _zero(g)
        ga = unbroadcast(apply(Where, cond, g, zero), a.shape) if na else None
        gb = unbroadcast(apply(Where, cond, zero, g), b.shape) if nb else None
        return None, ga, gb

    @staticmethod
    def samples():
        yield Sample((randn(3, 4) > 0, randn(3, 4), randn(3, 4)), label="same")
        yield Sample((randn(3, 4) > 0, randn(4), randn(3, 1)), label="bcast")


@register("cast")
class Cast(Op):
    """Change dtype; the gradient is cast back to the input's dtype."""

    @staticmethod
    def forward(ctx, x, dtype=None):
        return x.astype(dtype)

    @staticmethod
    def vjp(ctx, g):
        return (apply(Cast, g, dtype=ctx.inputs[0].dtype),)

    @staticmethod
    def samples():
        yield Sample((randn(3, 4),), {"dtype": np.float64}, label="f64")

    @staticmethod
    def label(attrs):
        return f"-> {np.dtype(attrs['dtype'])}"
