"""More elementwise ops: trigonometric and hyperbolic functions, logs and exps in other bases,
powers, erf, rounding (zero gradient), remainder / floor division (``%`` and ``//``), atan2.

Every VJP is written with registered ops on Tensors, so it can be differentiated again. Samples
keep away from poles (tan, the edges of asin/acos, log's 0) and from the jumps of the rounding
functions, where a numerical derivative means nothing.
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd.registry import Op, Sample, register, unbroadcast
from ..tensor import Tensor, apply
from ._util import randn, uniform
from .elementwise import Exp, _unary


def _erf(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf  # lazy: importing the package must stay light

    return np.asarray(erf(x))


def _samples(lo: float, hi: float):
    def gen():
        yield Sample((uniform(lo, hi, 3, 4),), label=f"[{lo},{hi}]")
        yield Sample((np.array(uniform(lo, hi, 1)[0]),), label="0-d")

    return gen


def _zero_grad(g: Tensor, shape: tuple[int, ...]) -> Tensor:
    """A zero gradient for ops whose derivative is 0 wherever it exists. Made from g (times a
    constant 0, as relu's mask) so it has the same graph shape as a piecewise-linear op's."""
    return unbroadcast(g * np.zeros((), dtype=g.dtype), shape)


def _rounding_samples():
    # values well inside (k - 0.5, k + 0.5) and away from integers: every rounding mode is flat there
    base = np.array([[-2.3, -1.7, -0.6, 0.3], [0.7, 1.2, 1.8, 2.6], [-3.2, 3.3, 4.6, -4.4]])
    yield Sample((base,), label="off-integer")
    yield Sample((np.array(-1.3),), label="0-d")


_LN2, _LN10 = math.log(2.0), math.log(10.0)

Sin: type[Op] = _unary("sin", np.sin, lambda g, x, y: g * apply(Cos, x), _samples(-3.0, 3.0))
Cos: type[Op] = _unary("cos", np.cos, lambda g, x, y: -(g * apply(Sin, x)), _samples(-3.0, 3.0))
Tan: type[Op] = _unary("tan", np.tan, lambda g, x, y: g * (y * y + 1.0), _samples(-1.2, 1.2),
                       save_output=True)
Asin: type[Op] = _unary("asin", np.arcsin, lambda g, x, y: g * apply(Rsqrt, 1.0 - x * x), _samples(-0.8, 0.8))
Acos: type[Op] = _unary("acos", np.arccos, lambda g, x, y: -(g * apply(Rsqrt, 1.0 - x * x)),
                        _samples(-0.8, 0.8))
Atan: type[Op] = _unary("atan", np.arctan, lambda g, x, y: g / (x * x + 1.0), _samples(-3.0, 3.0))
Sinh: type[Op] = _unary("sinh", np.sinh, lambda g, x, y: g * apply(Cosh, x), _samples(-2.0, 2.0))
Cosh: type[Op] = _unary("cosh", np.cosh, lambda g, x, y: g * apply(Sinh, x), _samples(-2.0, 2.0))
Log2: type[Op] = _unary("log2", np.log2, lambda g, x, y: g / (x * _LN2), _samples(0.2, 3.0))
Log10: type[Op] = _unary("log10", np.log10, lambda g, x, y: g / (x * _LN10), _samples(0.2, 3.0))
Log1p: type[Op] = _unary("log1p", np.log1p, lambda g, x, y: g / (x + 1.0), _samples(-0.7, 3.0))
Expm1: type[Op] = _unary("expm1", np.expm1, lambda g, x, y: g * (y + 1.0), _samples(-2.0, 2.0),
                         save_output=True)
Exp2: type[Op] = _unary("exp2", np.exp2, lambda g, x, y: g * y * _LN2, _samples(-2.0, 2.0), save_output=True)
# d/dx x**-1/2 = -1/2 x**-3/2 = -y**3 / 2
# np.reciprocal, not 1.0 / ...: NumPy 1.x would widen a 0-d float32 to float64
Rsqrt: type[Op] = _unary("rsqrt", lambda x: np.reciprocal(np.sqrt(x)), lambda g, x, y: g * (y * y * y) * -0.5,
               _samples(0.2, 3.0), save_output=True)
Reciprocal: type[Op] = _unary("reciprocal", np.reciprocal, lambda g, x, y: -(g * y * y), _samples(0.3, 3.0),
                    save_output=True)
Square: type[Op] = _unary("square", np.square, lambda g, x, y: g * x * 2.0, _samples(-2.0, 2.0))
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
Erf: type[Op] = _unary("erf", _erf, lambda g, x, y: g * apply(Exp, -(x * x)) * _TWO_OVER_SQRT_PI,
             _samples(-2.0, 2.0))

# piecewise constant: the gradient is 0 wherever it exists (PyTorch returns 0 everywhere)
Sign: type[Op] = _unary("sign", np.sign, lambda g, x, y: _zero_grad(g, x.shape), _rounding_samples)
Floor: type[Op] = _unary("floor", np.floor, lambda g, x, y: _zero_grad(g, x.shape), _rounding_samples)
Ceil: type[Op] = _unary("ceil", np.ceil, lambda g, x, y: _zero_grad(g, x.shape), _rounding_samples)
# round: halves to even (NumPy and PyTorch)
Round: type[Op] = _unary("round", np.round, lambda g, x, y: _zero_grad(g, x.shape), _rounding_samples)
Trunc: type[Op] = _unary("trunc", np.trunc, lambda g, x, y: _zero_grad(g, x.shape), _rounding_samples)


def _check_int_divisor(a: np.ndarray, b: np.ndarray, op: str) -> None:
    """Integer division by zero raises (NumPy would warn and give 0, PyTorch raises)."""
    if a.dtype.kind in "iub" and b.dtype.kind in "iub" and np.any(b == 0):
        raise ZeroDivisionError(f"{op}: integer division by zero (shapes {a.shape} and {b.shape})")


def _division_samples():
    # a / b kept away from integers: % and // jump there
    a = np.array([[2.3, -1.7, 3.9], [-4.6, 0.55, 5.3]])
    b = np.array([[1.5, 1.5, -2.0], [2.0, -1.5, 1.4]])
    yield Sample((a, b), label="same")
    yield Sample((a, np.array([1.6, -2.1, 1.45])), label="bcast")


@register("remainder")
class Remainder(Op):
    """a % b with Python's sign rule (the result takes b's sign), as ``torch.remainder``:
    a - floor(a / b) * b. Gradients: 1 for a, -floor(a / b) for b (away from the jumps)."""

    @staticmethod
    def forward(ctx, a, b):
        _check_int_divisor(a, b, "remainder")
        if ctx.needs_input_grad[1]:
            ctx.save(np.floor_divide(a, b))
        return np.remainder(a, b)

    @staticmethod
    def vjp(ctx, g):
        a, b = ctx.inputs
        na, nb = ctx.needs_input_grad
        ga = unbroadcast(g, a.shape) if na else None
        gb = unbroadcast(-(g * ctx.saved[0].astype(g.dtype)), b.shape) if nb else None
        return ga, gb

    samples = staticmethod(_division_samples)


@register("floor_divide")
class FloorDivide(Op):
    """a // b rounded toward minus infinity (Python's and PyTorch's ``//``); zero gradient."""

    @staticmethod
    def forward(ctx, a, b):
        _check_int_divisor(a, b, "floor_divide")
        return np.floor_divide(a, b)

    @staticmethod
    def vjp(ctx, g):
        a, b = ctx.inputs
        return _zero_grad(g, a.shape), _zero_grad(g, b.shape)

    samples = staticmethod(_division_samples)


@register("atan2")
class Atan2(Op):
    """atan2(a, b): the angle of the point (b, a), in (-pi, pi].
    d/da = b / (a² + b²), d/db = -a / (a² + b²)."""

    @staticmethod
    def forward(ctx, a, b):
        return np.arctan2(a, b)

    @staticmethod
    def vjp(ctx, g):
        a, b = ctx.inputs
        na, nb = ctx.needs_input_grad
        q = g / (a * a + b * b)
        return (unbroadcast(q * b, a.shape) if na else None,
                unbroadcast(-(q * a), b.shape) if nb else None)

    @staticmethod
    def samples():
        # keep away from the branch cut (b < 0, a = 0) and the origin
        yield Sample((uniform(0.3, 2.0, 3, 4), randn(3, 4)), label="upper")
        yield Sample((uniform(-2.0, -0.3, 2, 3), uniform(-2.0, 2.0, 3)), label="lower-bcast")
