"""Tensor factories (``tc.zeros``, ``tc.randn``, ...) and the one global random generator.

Every factory takes ``dtype=`` and ``requires_grad=`` as ``torch``'s do. Floating factories
default to float32; ``arange``/``full``/``randint`` infer int64 from integer arguments.
``manual_seed(n)`` reseeds the single ``np.random.Generator`` that the random factories,
``nn.init`` and layers built without ``rng=`` draw from: same seed, same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._conventions import DEFAULT_FLOAT, DEFAULT_INT, check_dtype
from .tensor import Tensor

__all__ = [
    "zeros", "ones", "full", "empty", "zeros_like", "ones_like", "full_like", "arange", "linspace",
    "eye", "rand", "randn", "randint", "manual_seed", "default_generator", "from_numpy",
]

Size = int | Sequence[int]
_GEN: np.random.Generator | None = None  # made on first use: importing draws no entropy


def default_generator() -> np.random.Generator:
    """The global ``np.random.Generator`` (the same object for the whole process)."""
    global _GEN
    if _GEN is None:
        _GEN = np.random.default_rng()
    return _GEN


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the global generator in place, so every holder of it (layers' dropout too) follows."""
    gen = default_generator()
    gen.bit_generator.state = type(gen.bit_generator)(int(seed)).state
    return gen


def _shape(size: tuple[Any, ...], what: str) -> tuple[int, ...]:
    """``f(2, 3)`` and ``f((2, 3))`` both mean shape (2, 3); negative sizes raise."""
    if len(size) == 1 and not isinstance(size[0], (int, np.integer)):
        size = tuple(size[0])
    shape = tuple(int(s) for s in size)
    if any(s < 0 for s in shape):
        raise ValueError(f"{what}: negative dimension in size {shape}")
    return shape


def _dtype(dtype: Any, default: np.dtype, what: str) -> np.dtype:
    return default if dtype is None else check_dtype(np.dtype(dtype), what)


def _make(arr: np.ndarray, requires_grad: bool) -> Tensor:
    return Tensor(arr, requires_grad=requires_grad)


def zeros(*size: Size, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros, shape ``size`` (float32 unless ``dtype``)."""
    return _make(np.zeros(_shape(size, "zeros"), _dtype(dtype, DEFAULT_FLOAT, "zeros")), requires_grad)


def ones(*size: Size, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones, shape ``size`` (float32 unless ``dtype``)."""
    return _make(np.ones(_shape(size, "ones"), _dtype(dtype, DEFAULT_FLOAT, "ones")), requires_grad)


def empty(*size: Size, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor of shape ``size`` (float32 unless ``dtype``)."""
    return _make(np.empty(_shape(size, "empty"), _dtype(dtype, DEFAULT_FLOAT, "empty")), requires_grad)


def _fill_dtype(value: Any) -> np.dtype:
    """dtype inferred from a fill value, as ``torch.full``: bool, int64 or float32."""
    if isinstance(value, (bool, np.bool_)):
        return np.dtype(bool)
    if isinstance(value, (int, np.integer)):
        return DEFAULT_INT
    return DEFAULT_FLOAT


def full(size: Size, fill_value: float | int | bool, *, dtype: Any = None,
         requires_grad: bool = False) -> Tensor:
    """A tensor of shape ``size`` filled with ``fill_value`` (dtype inferred from it by default)."""
    dt = _dtype(dtype, _fill_dtype(fill_value), "full")
    return _make(np.full(_shape((size,), "full"), fill_value, dtype=dt), requires_grad)


def _like(t: Any) -> np.ndarray:
    return t.data if isinstance(t, Tensor) else np.asarray(t)


def zeros_like(t: Any, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros with the shape (and, by default, the dtype) of ``t``."""
    a = _like(t)
    return _make(np.zeros(a.shape, _dtype(dtype, a.dtype, "zeros_like")), requires_grad)


def ones_like(t: Any, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones with the shape (and, by default, the dtype) of ``t``."""
    a = _like(t)
    return _make(np.ones(a.shape, _dtype(dtype, a.dtype, "ones_like")), requires_grad)


def full_like(t: Any, fill_value: float | int | bool, *, dtype: Any = None,
              requires_grad: bool = False) -> Tensor:
    """``fill_value`` everywhere, with the shape (and, by default, the dtype) of ``t``."""
    a = _like(t)
    return _make(np.full(a.shape, fill_value, dtype=_dtype(dtype, a.dtype, "full_like")), requires_grad)


def arange(start: float, end: float | None = None, step: float = 1, *, dtype: Any = None,
           requires_grad: bool = False) -> Tensor:
    """Values from ``start`` (default 0) up to, not including, ``end`` by ``step``, shape (n,).

    int64 when every argument is an integer, float32 otherwise (as ``torch.arange``).
    """
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    ints = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
    dt = _dtype(dtype, DEFAULT_INT if ints else DEFAULT_FLOAT, "arange")
    # compute in float64 (or int64) first so float32 does not round the end point
    return _make(np.arange(start, end, step, dtype=np.int64 if ints else np.float64).astype(dt),
                 requires_grad)


def linspace(start: float, end: float, steps: int, *, dtype: Any = None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive, shape (steps,)."""
    if int(steps) < 0:
        raise ValueError(f"linspace: steps must be >= 0, got {steps}")
    dt = _dtype(dtype, DEFAULT_FLOAT, "linspace")
    return _make(np.linspace(start, end, int(steps)).astype(dt), requires_grad)


def eye(n: int, m: int | None = None, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """The (n, m) identity matrix (m defaults to n)."""
    return _make(np.eye(int(n), None if m is None else int(m), dtype=_dtype(dtype, DEFAULT_FLOAT, "eye")),
                 requires_grad)


def _float_dtype(dtype: Any, what: str) -> np.dtype:
    dt = _dtype(dtype, DEFAULT_FLOAT, what)
    if dt.kind != "f":
        raise TypeError(f"{what}: dtype must be floating point, got {dt.name}")
    return dt


def rand(*size: Size, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1) from the global generator, shape ``size``."""
    dt = _float_dtype(dtype, "rand")
    shape = _shape(size, "rand")
    if dt in (np.float32, np.float64):
        return _make(default_generator().random(shape, dtype=dt), requires_grad)
    return _make(default_generator().random(shape).astype(dt), requires_grad)


def randn(*size: Size, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from the global generator, shape ``size``."""
    dt = _float_dtype(dtype, "randn")
    shape = _shape(size, "randn")
    if dt in (np.float32, np.float64):
        return _make(default_generator().standard_normal(shape, dtype=dt), requires_grad)
    return _make(default_generator().standard_normal(shape).astype(dt), requires_grad)


def randint(low: int, high: int | None = None, size: Size = (), *, dtype: Any = None,
            requires_grad: bool = False) -> Tensor:
    """Integers in [low, high) (``randint(high, size)`` means low = 0), int64 by default.

    Unlike ``torch.randint``, ``size`` may be omitted (a 0-d tensor).
    """
    if high is None:
        low, high = 0, low
    elif not isinstance(high, (int, np.integer)):  # randint(high, size), as torch
        low, high, size = 0, low, high
    if high <= low:
        raise ValueError(f"randint: need low < high, got low={low}, high={high}")
    dt = _dtype(dtype, DEFAULT_INT, "randint")
    shape = _shape((size,), "randint")
    return _make(default_generator().integers(low, high, shape).astype(dt), requires_grad)


def from_numpy(arr: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``arr`` (dtype kept; writes to one show in the other)."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"from_numpy: expected an ndarray, got {type(arr).__name__}")
    return Tensor(arr)
