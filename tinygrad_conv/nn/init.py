"""Weight initialisation, PyTorch's formulas, filling Tensors (or ndarrays) in place.

Every function takes ``rng``: a ``np.random.Generator``, an int seed, or None (the package's
global generator, which ``tc.manual_seed`` reseeds), and returns its argument. dtype is kept
(float32 stays float32).

Fans follow PyTorch: for a weight of shape (out, in, *kernel), fan_in = in * prod(kernel) and
fan_out = out * prod(kernel).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..factories import default_generator
from ..tensor import Tensor

__all__ = [
    "calculate_gain", "fan_in_and_fan_out", "uniform_", "normal_", "zeros_", "ones_", "constant_",
    "kaiming_uniform_", "kaiming_normal_", "xavier_uniform_", "xavier_normal_", "as_rng",
]

RngLike = np.random.Generator | int | None


def as_rng(rng: RngLike) -> np.random.Generator:
    """A Generator from a Generator (returned as is), a seed, or None (the global generator)."""
    return default_generator() if rng is None else np.random.default_rng(rng)


def _array(t: Tensor | np.ndarray) -> np.ndarray:
    arr = t.data if isinstance(t, Tensor) else t
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"init: expected a Tensor or ndarray, got {type(t).__name__}")
    return arr


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (PyTorch's table)."""
    if nonlinearity in ("linear", "identity", "sigmoid") or nonlinearity.startswith("conv"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1.0 + slope * slope))
    if nonlinearity == "selu":
        return 3.0 / 4.0
    raise ValueError(f"calculate_gain: unknown nonlinearity {nonlinearity!r}")


def fan_in_and_fan_out(t: Tensor | np.ndarray) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight (out, in, *kernel); needs at least 2 dimensions."""
    shape = _array(t).shape
    if len(shape) < 2:
        raise ValueError(f"fan_in_and_fan_out: needs a weight with >= 2 dimensions, got shape {shape}")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _fan(t: Tensor | np.ndarray, mode: str) -> int:
    fan_in, fan_out = fan_in_and_fan_out(t)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan = fan_in if mode == "fan_in" else fan_out
    if fan == 0:
        raise ValueError(f"init: cannot initialise a weight of shape {_array(t).shape} (zero {mode})")
    return fan


def uniform_(t: Any, a: float = 0.0, b: float = 1.0, *, rng: RngLike = None) -> Any:
    """Fill with U(a, b)."""
    arr = _array(t)
    arr[...] = as_rng(rng).uniform(a, b, size=arr.shape)
    return t


def normal_(t: Any, mean: float = 0.0, std: float = 1.0, *, rng: RngLike = None) -> Any:
    """Fill with N(mean, std^2). The seed notebook's layers used ``normal_(w, std=weight_scale)``."""
    arr = _array(t)
    arr[...] = as_rng(rng).normal(mean, std, size=arr.shape)
    return t


def constant_(t: Any, value: float) -> Any:
    _array(t)[...] = value
    return t


def zeros_(t: Any) -> Any:
    return constant_(t, 0.0)


def ones_(t: Any) -> Any:
    return constant_(t, 1.0)


def kaiming_uniform_(t: Any, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     *, rng: RngLike = None) -> Any:
    """He uniform: U(-bound, bound), bound = gain * sqrt(3 / fan).

    With ``a = sqrt(5)`` (PyTorch's Linear/Conv default) the bound is 1 / sqrt(fan_in).
    """
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / _fan(t, mode))
    return uniform_(t, -bound, bound, rng=rng)


def kaiming_normal_(t: Any, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    *, rng: RngLike = None) -> Any:
    """He normal: N(0, std^2), std = gain / sqrt(fan)."""
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(t, mode))
    return normal_(t, 0.0, std, rng=rng)


def xavier_uniform_(t: Any, gain: float = 1.0, *, rng: RngLike = None) -> Any:
    """Glorot uniform: U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = fan_in_and_fan_out(t)
    bound = gain * math.sqrt(6.0 / max(fan_in + fan_out, 1))
    return uniform_(t, -bound, bound, rng=rng)


def xavier_normal_(t: Any, gain: float = 1.0, *, rng: RngLike = None) -> Any:
    """Glorot normal: N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = fan_in_and_fan_out(t)
    std = gain * math.sqrt(2.0 / max(fan_in + fan_out, 1))
    return normal_(t, 0.0, std, rng=rng)
