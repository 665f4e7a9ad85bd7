"""Activation functions as fused elementwise ops (one node each, cheap VJPs).

leaky_relu, elu (which also serves selu and celu through ``scale`` / ``input_scale``), gelu
(exact or the tanh approximation), silu, mish, softplus (beta, threshold), softsign, hardtanh
(also relu6), hardsigmoid, hardswish, logsigmoid. prelu and glu are composed in
``functional.activation``.

Piecewise-linear ops (leaky_relu, hardtanh, hardsigmoid) route the gradient with constant masks;
their samples keep away from the kinks, where a numerical derivative is meaningless. The others'
VJPs use registered ops on Tensors, so they have second derivatives.
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd.registry import Op, Sample, register
from ..autograd.tape import STATE
from ..tensor import Tensor, apply
from ._util import away_from_zero, uniform
from .elementwise import Abs, Exp, Sigmoid, Tanh, Where
from .unary import Erf


def _smooth_samples():
    yield Sample((uniform(-3.0, 3.0, 3, 4),), label="2d")
    yield Sample((np.array(0.4),), label="0-d")


def _kinked(*points: float, lo: float = -4.0, hi: float = 4.0):
    """Sample values in [lo, hi] at least 0.15 away from each kink in ``points``."""
    x = uniform(lo, hi, 4, 5)
    for p in points:
        near = np.abs(x - p) < 0.15
        x[near] = p + np.where(x[near] >= p, 0.3, -0.3)
    return x


def _where(mask: np.ndarray, a: Tensor, b: Tensor) -> Tensor:
    return apply(Where, Tensor(mask), a, b)


def _softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + exp(x)) without overflow."""
    zero = np.zeros((), x.dtype)  # not a Python 0: NumPy 1.x would widen a 0-d float32 to float64
    return np.maximum(x, zero) + np.log1p(np.exp(-np.abs(x)))


@register("leaky_relu")
class LeakyRelu(Op):
    """x if x > 0 else negative_slope * x."""

    @staticmethod
    def forward(ctx, x, negative_slope=0.01):
        s = np.asarray(negative_slope, dtype=x.dtype)
        if ctx.needs_input_grad[0]:
            ctx.save(x > 0)
        if 0 <= negative_slope <= 1:
            return np.maximum(x, x * s)  # one pass fewer than where(x > 0, x, s x)
        return np.where(x > 0, x, x * s)

    @staticmethod
    def vjp(ctx, g):
        one, slope = np.ones((), g.dtype), np.asarray(ctx.attrs["negative_slope"], dtype=g.dtype)
        return (g * np.where(ctx.saved[0], one, slope),)  # a constant: the op is piecewise linear

    @staticmethod
    def samples():
        yield Sample((away_from_zero(3, 4),), label="default")
        yield Sample((away_from_zero(2, 5),), {"negative_slope": 0.2}, label="slope0.2")


@register("elu")
class Elu(Op):
    """scale * (x if x > 0 else alpha * (exp(input_scale * x) - 1)); selu and celu are elu with
    other constants, as in PyTorch. d/dx on the negative side is input_scale * (y + scale * alpha)."""

    save_output = True

    @staticmethod
    def forward(ctx, x, alpha=1.0, scale=1.0, input_scale=1.0):
        pos = x > 0
        ctx.save(pos)
        neg = np.expm1(np.minimum(x, 0) * input_scale) * (alpha * scale)  # min: no overflow on x > 0
        return np.where(pos, x * np.asarray(scale, dtype=x.dtype), neg).astype(x.dtype, copy=False)

    @staticmethod
    def vjp(ctx, g):
        a = ctx.attrs
        y = ctx.output()
        return (_where(ctx.saved[0], g * a["scale"], g * (y + a["scale"] * a["alpha"]) * a["input_scale"]),)

    @staticmethod
    def samples():
        yield Sample((away_from_zero(3, 4),), label="elu")
        yield Sample((away_from_zero(3, 4),), {"alpha": 1.6732632423543772, "scale": 1.0507009873554805},
                     label="selu")
        yield Sample((away_from_zero(2, 3),), {"alpha": 0.5, "input_scale": 2.0}, label="celu0.5")


_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_GELU_C, _GELU_K = math.sqrt(2.0 / math.pi), 0.044715


@register("gelu")
class Gelu(Op):
    """x * Phi(x) with Phi the standard normal CDF (``approximate='none'``), or PyTorch's tanh
    approximation 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x³))) with ``approximate='tanh'``.

    The forward keeps Phi(x) (or the tanh) for a first-order backward in plain NumPy: erf is
    ~10x the cost of the rest, so recomputing it would triple the backward. Under
    ``create_graph`` the VJP is rebuilt from registered ops so it can be differentiated again."""

    @staticmethod
    def forward(ctx, x, approximate="none"):
        if approximate == "none":
            from scipy.special import erf  # lazy: the package import stays light

            cdf = (0.5 * (1.0 + erf(x * _SQRT_HALF))).astype(x.dtype, copy=False)
            ctx.save(cdf)
            return x * cdf
        if approximate == "tanh":
            t = np.tanh(_GELU_C * (x + _GELU_K * x * x * x))
            ctx.save(t)
            return 0.5 * x * (1.0 + t)
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")

    @staticmethod
    def vjp(ctx, g):
        (x,) = ctx.inputs
        exact = ctx.attrs["approximate"] == "none"
        if not STATE.grad_enabled:  # first order only: reuse the forward's erf / tanh
            xa, (c,) = x.data, ctx.saved
            if exact:
                d = c + xa * np.exp(xa * xa * -0.5) * _INV_SQRT_2PI
            else:
                d = (c + 1.0) * 0.5 + xa * (1.0 - c * c) * ((xa * xa * (3.0 * _GELU_K) + 1.0) * _GELU_C) * 0.5
            return (Tensor((g.data * d).astype(g.dtype, copy=False)),)
        if exact:
            cdf = (apply(Erf, x * _SQRT_HALF) + 1.0) * 0.5
            pdf = apply(Exp, x * x * -0.5) * _INV_SQRT_2PI
            return (g * (cdf + x * pdf),)
        t = apply(Tanh, (x + x * x * x * _GELU_K) * _GELU_C)
        du = (x * x * (3.0 * _GELU_K) + 1.0) * _GELU_C
        return (g * ((t + 1.0) * 0.5 + x * (1.0 - t * t) * du * 0.5),)

    @staticmethod
    def samples():
        yield from _smooth_samples()
        yield Sample((uniform(-3.0, 3.0, 2, 5),), {"approximate": "tanh"}, label="tanh")


@register("silu")
class Silu(Op):
    """x * sigmoid(x) (also called swish); d/dx = s (1 + x (1 - s)). The forward keeps s for a
    first-order backward in NumPy; under ``create_graph`` the VJP uses registered ops."""

    @staticmethod
    def forward(ctx, x):
        s = Sigmoid.forward(None, x)
        ctx.save(s)
        return x * s

    @staticmethod
    def vjp(ctx, g):
        (x,) = ctx.inputs
        if not STATE.grad_enabled:
            (sa,) = ctx.saved
            return (Tensor(g.data * (sa * (1.0 + x.data * (1.0 - sa)))),)
        s = apply(Sigmoid, x)
        return (g * s * (x * (1.0 - s) + 1.0),)

    samples = staticmethod(_smooth_samples)


@register("softplus")
class Softplus(Op):
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (as PyTorch).
    d/dx = sigmoid(beta x) on the smooth part, 1 on the linear part."""

    @staticmethod
    def forward(ctx, x, beta=1.0, threshold=20.0):
        bx = x * np.asarray(beta, dtype=x.dtype)
        lin = bx > threshold
        ctx.save(lin)
        return np.where(lin, x, _softplus(bx) / np.asarray(beta, dtype=x.dtype))

    @staticmethod
    def vjp(ctx, g):
        (x,) = ctx.inputs
        return (_where(ctx.saved[0], g, g * apply(Sigmoid, x * ctx.attrs["beta"])),)

    @staticmethod
    def samples():
        yield from _smooth_samples()
        x = _kinked(0.5, lo=-2.0, hi=2.0)  # beta x = 1 at x = 0.5: keep away from the switch
        yield Sample((x,), {"beta": 2.0, "threshold": 1.0}, label="beta2-thr1")


@register("mish")
class Mish(Op):
    """x * tanh(softplus(x)); d/dx = t + x (1 - t²) sigmoid(x) with t = tanh(softplus(x)). The
    forward keeps t for a first-order backward in NumPy."""

    @staticmethod
    def forward(ctx, x):
        t = np.tanh(_softplus(x))
        ctx.save(t)
        return x * t

    @staticmethod
    def vjp(ctx, g):
        (x,) = ctx.inputs
        if not STATE.grad_enabled:
            (ta,) = ctx.saved
            xa = x.data
            return (Tensor(g.data * (ta + xa * (1.0 - ta * ta) * Sigmoid.forward(None, xa))),)
        t = apply(Tanh, apply(Softplus, x, beta=1.0, threshold=20.0))
        return (g * (t + x * (1.0 - t * t) * apply(Sigmoid, x)),)

    samples = staticmethod(_smooth_samples)


@register("softsign")
class Softsign(Op):
    """x / (1 + |x|); d/dx = 1 / (1 + |x|)²."""

    @staticmethod
    def forward(ctx, x):
        return x / (1 + np.abs(x))

    @staticmethod
    def vjp(ctx, g):
        d = apply(Abs, ctx.inputs[0]) + 1.0
        return (g / (d * d),)

    @staticmethod
    def samples():
        yield Sample((away_from_zero(3, 4),), label="away-from-0")  # |x| has a kink at 0


@register("hardtanh")
class Hardtanh(Op):
    """clip(x, min_val, max_val); the gradient passes strictly inside (as PyTorch). relu6 is
    hardtanh(x, 0, 6)."""

    @staticmethod
    def forward(ctx, x, min_val=-1.0, max_val=1.0):
        if min_val > max_val:
            raise ValueError(f"hardtanh: min_val {min_val} > max_val {max_val}")
        ctx.save((x > min_val) & (x < max_val))
        return np.clip(x, min_val, max_val).astype(x.dtype, copy=False)

    @staticmethod
    def vjp(ctx, g):
        return (g * ctx.saved[0].astype(g.dtype),)

    @staticmethod
    def samples():
        yield Sample((_kinked(-1.0, 1.0, lo=-2.0, hi=2.0),), label="default")
        yield Sample((_kinked(0.0, 6.0, lo=-2.0, hi=8.0),), {"min_val": 0.0, "max_val": 6.0}, label="relu6")


@register("hardsigmoid")
class Hardsigmoid(Op):
    """clip(x / 6 + 1/2, 0, 1); gradient 1/6 strictly inside (-3, 3)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save((x > -3) & (x < 3))
        return np.clip(x / 6 + 0.5, 0, 1).astype(x.dtype, copy=False)

    @staticmethod
    def vjp(ctx, g):
        return (g * (ctx.saved[0] / 6.0).astype(g.dtype),)

    @staticmethod
    def samples():
        yield Sample((_kinked(-3.0, 3.0, lo=-5.0, hi=5.0),), label="both-sides")


@register("hardswish")
class Hardswish(Op):
    """x * hardsigmoid(x) = x * clip(x + 3, 0, 6) / 6; d/dx is x/3 + 1/2 strictly inside (-3, 3),
    0 at and below -3, 1 at and above 3 (PyTorch's values at the kinks)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save((x > -3) & (x < 3), x >= 3)
        return (x * np.clip(x + 3, 0, 6) / 6).astype(x.dtype, copy=False)

    @staticmethod
    def vjp(ctx, g):
        mid, hi = ctx.saved
        (x,) = ctx.inputs
        return (_where(mid, g * (x * (1.0 / 3.0) + 0.5), g * hi.astype(g.dtype)),)

    @staticmethod
    def samples():
        yield Sample((_kinked(-3.0, 3.0, lo=-5.0, hi=5.0),), label="both-sides")


@register("logsigmoid")
class Logsigmoid(Op):
    """log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)), stable for large |x|; d/dx = sigmoid(-x)."""

    @staticmethod
    def forward(ctx, x):
        return np.minimum(x, np.zeros((), x.dtype)) - np.log1p(np.exp(-np.abs(x)))  # dtype-kept 0 (NumPy 1.x)

    @staticmethod
    def vjp(ctx, g):
        return (g * apply(Sigmoid, -ctx.inputs[0]),)

    samples = staticmethod(_smooth_samples)
