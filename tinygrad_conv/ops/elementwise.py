"""Elementwise ops: arithmetic with broadcasting, unary functions, maximum/minimum/where, cast."""

from __future__ import annotations

import numpy as np

from ..autograd.registry import Op, Sample, register, unbroadcast
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
        ctx.save(a.shape, b.shape)
        return a + b

    @staticmethod
    def vjp(ctx, g):
        sa, sb = ctx.saved
        return unbroadcast(g, sa), unbroadcast(g, sb)

    samples = staticmethod(_binary_samples)


@register("sub")
class Sub(Op):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save(a.shape, b.shape)
        return a - b

    @staticmethod
    def vjp(ctx, g):
        sa, sb = ctx.saved
        return unbroadcast(g, sa), unbroadcast(-g, sb)

    samples = staticmethod(_binary_samples)


@register("mul")
class Mul(Op):
    @staticmethod
    def forward(ctx, a, b):
        na, nb = ctx.needs_input_grad
        # each gradient needs the *other* operand only
        ctx.save(a.shape, b.shape, a if nb else None, b if na else None)
        return a * b

    @staticmethod
    def vjp(ctx, g):
        sa, sb, a, b = ctx.saved
        na, nb = ctx.needs_input_grad
        ga = unbroadcast(g * b, sa) if na else None
        gb = unbroadcast(g * a, sb) if nb else None
        return ga, gb

    samples = staticmethod(_binary_samples)


@register("div")
class Div(Op):
    @staticmethod
    def forward(ctx, a, b):
        out = a / b
        if any(ctx.needs_input_grad):
            ctx.save(a.shape, b, out)
        return out

    @staticmethod
    def vjp(ctx, g):
        sa, b, out = ctx.saved
        na, nb = ctx.needs_input_grad
        ga = unbroadcast(g / b, sa) if na else None
        gb = unbroadcast(-g * out / b, b.shape) if nb else None
        return ga, gb

    @staticmethod
    def samples():
        yield Sample((randn(3, 4), uniform(0.5, 2.0, 3, 4)), label="same")
        yield Sample((randn(2, 3), uniform(-2.0, -0.5, 3)), label="bcast")
        yield Sample((randn(1, 3), uniform(0.5, 2.0, 4, 1)), label="bcast-both")


@register("pow")
class Pow(Op):
    """a ** b; the gradient for b uses log(a), so b needs grad only where a > 0."""

    @staticmethod
    def forward(ctx, a, b):
        out = np.power(a, b)
        if any(ctx.needs_input_grad):
            ctx.save(a, b, out)
        return out

    @staticmethod
    def vjp(ctx, g):
        a, b, out = ctx.saved
        na, nb = ctx.needs_input_grad
        ga = unbroadcast(g * b * np.power(a, b - 1), a.shape) if na else None
        gb = unbroadcast(g * out * np.log(a), b.shape) if nb else None
        return ga, gb

    @staticmethod
    def samples():
        yield Sample((uniform(0.5, 2.0, 3, 4), uniform(-1.5, 2.5, 3, 4)), label="tensor-exp")
        yield Sample((uniform(-2, 2, 3, 4), np.array(2.0)), label="square", constant=(1,))
        yield Sample((uniform(0.5, 2.0, 2, 3), uniform(0.5, 2.0, 3)), label="bcast")


class _Unary(Op):
    """Unary op y = f(x); subclasses give fn and d(x, y) = dy/dx."""

    @staticmethod
    def samples():
        yield Sample((randn(3, 4),), label="2d")
        yield Sample((randn(2, 3, 5),), label="3d")


def _unary(name: str, fn, deriv, sample_fn=None, save_x: bool = False):
    """Build and register a unary op from its function and derivative (one line per op below)."""

    def forward(ctx, x):
        y = fn(x)
        if ctx.needs_input_grad[0]:
            ctx.save(x if save_x else None, y)
        return y

    def vjp(ctx, g):
        x, y = ctx.saved
        return (g * deriv(x, y),)

    cls = type(name.capitalize(), (_Unary,), {
        "forward": staticmethod(forward),
        "vjp": staticmethod(vjp),
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


Neg = _unary("neg", np.negative, lambda x, y: -1)
Exp = _unary("exp", np.exp, lambda x, y: y)
Log = _unary("log", np.log, lambda x, y: 1 / x, _pos_samples, save_x=True)
Sqrt = _unary("sqrt", np.sqrt, lambda x, y: 0.5 / y, _pos_samples)
Abs = _unary("abs", np.abs, lambda x, y: np.sign(x), _kink_samples, save_x=True)
# a zero of x's own dtype: under NumPy 1.x a Python 0 would widen a 0-d float32 input to float64
Relu = _unary("relu", lambda x: np.maximum(x, np.zeros((), x.dtype)), lambda x, y: y > 0, _kink_samples)
Tanh = _unary("tanh", np.tanh, lambda x, y: 1 - y * y)  # the seed returned tanh here


def _sigmoid(x):
    e = np.exp(-np.abs(x))  # exp of a non-positive number never overflows
    one = np.ones((), e.dtype)  # not a Python 1: NumPy 1.x would widen a 0-d float32 to float64
    return np.where(x >= 0, one / (one + e), e / (one + e))


Sigmoid = _unary("sigmoid", _sigmoid, lambda x, y: y * (1 - y))


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
        return (g * mask,)

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
            wa, wb = _pick(a, b, cls.compare(a, b), a == b)
            ctx.save(a.shape, b.shape, wa, wb)
        return cls.fn(a, b)

    @staticmethod
    def vjp(ctx, g):
        sa, sb, wa, wb = ctx.saved
        return unbroadcast(g * wa, sa), unbroadcast(g * wb, sb)

    @staticmethod
    def samples():
        yield from _binary_samples()
        a = np.array([1.0, 2.0, 3.0])
        yield Sample((a, a.copy()), label="ties")


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
        cond = cond.astype(bool, copy=False)
        ctx.save(cond, a.shape, b.shape)
        return np.where(cond, a, b)

    @staticmethod
    def vjp(ctx, g):
        cond, sa, sb = ctx.saved
        zero = np.zeros((), dtype=g.dtype)
        return None, unbroadcast(np.where(cond, g, zero), sa), unbroadcast(np.where(cond, zero, g), sb)

    @staticmethod
    def samples():
        yield Sample((randn(3, 4) > 0, randn(3, 4), randn(3, 4)), label="same")
        yield Sample((randn(3, 4) > 0, randn(4), randn(3, 1)), label="bcast")


@register("cast")
class Cast(Op):
    """Change dtype; the gradient is cast back to the input's dtype."""

    @staticmethod
    def forward(ctx, x, dtype=None):
        ctx.save(x.dtype)
        return x.astype(dtype)

    @staticmethod
    def vjp(ctx, g):
        (dt,) = ctx.saved
        return (g.astype(dt),)

    @staticmethod
    def samples():
        yield Sample((randn(3, 4),), {"dtype": np.float64}, label="f64")

    @staticmethod
    def label(attrs):
        return f"-> {np.dtype(attrs['dtype'])}"
