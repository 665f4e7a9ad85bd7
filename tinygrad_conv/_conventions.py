"""PyTorch-parity conventions in one place: default dtypes, promotion, and ``dim=`` aliases.

Imported by ``tensor.py`` and ``functional``; it imports nothing from the package, so it
can sit under both without a cycle.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

DEFAULT_FLOAT = np.dtype(np.float32)
DEFAULT_INT = np.dtype(np.int64)
_VALID_KINDS = "biuf"  # bool, signed int, unsigned int, floating
# Python and NumPy scalars are "weak": they take the dtype of the tensor they meet (PyTorch's rule)
SCALAR_TYPES = (bool, int, float, np.bool_, np.integer, np.floating)

Fn = TypeVar("Fn", bound=Callable[..., Any])


def check_dtype(dtype: np.dtype, what: str = "Tensor") -> np.dtype:
    """Raise TypeError unless ``dtype`` is bool, integer or floating (the only tensor dtypes)."""
    if dtype.kind not in _VALID_KINDS:
        raise TypeError(
            f"{what}: dtype {dtype.name!r} is not supported; tensors hold bool, integer or "
            "floating-point data only"
        )
    return dtype


def _python_only(data: Any) -> bool:
    """True when ``data`` is a Python number or a (nested) list/tuple of Python numbers only."""
    if isinstance(data, (list, tuple)):
        return all(_python_only(d) for d in data)
    return isinstance(data, (bool, int, float)) and not isinstance(data, np.generic)


def to_array(data: Any, dtype: Any = None, what: str = "Tensor") -> np.ndarray:
    """``data`` as an ndarray under the default-dtype rules.

    An ndarray (or NumPy scalar) keeps its dtype; Python floats (and lists of them) become
    float32 and Python ints int64, as ``torch.tensor`` does. Non-numeric dtypes raise.
    """
    if dtype is not None:
        dt = check_dtype(np.dtype(dtype), what)
        return np.asarray(data, dtype=dt)
    arr = np.asarray(data)
    if arr.dtype.kind in "fi" and _python_only(data):
        target = DEFAULT_FLOAT if arr.dtype.kind == "f" else DEFAULT_INT
        if arr.dtype != target:
            arr = arr.astype(target)
    check_dtype(arr.dtype, what)
    return arr


def scalar_dtype(like: np.dtype, x: Any) -> np.dtype:
    """dtype a Python/NumPy scalar ``x`` takes next to a tensor of dtype ``like``.

    A float meets an integer or bool tensor -> float32; an int meets a bool tensor -> int64;
    otherwise the tensor's dtype wins (float32 * 2.0 stays float32, int32 + 1 stays int32).
    """
    if isinstance(x, (bool, np.bool_)):
        return like
    if isinstance(x, (int, np.integer)):
        return like if like.kind in "iuf" else DEFAULT_INT
    if isinstance(x, (float, np.floating)):
        return like if like.kind == "f" else DEFAULT_FLOAT
    raise TypeError(f"unsupported scalar {x!r} of type {type(x).__name__}")


def promote(a: np.dtype, b: np.dtype) -> np.dtype:
    """Result dtype of a binary op on two tensors (PyTorch's categories).

    A floating tensor meeting an integer or bool tensor keeps its own dtype (float32 + int32 ->
    float32, where NumPy says float64); otherwise NumPy's promotion (int32 + int64 -> int64,
    float32 + float64 -> float64).
    """
    if a == b:
        return a
    fa, fb = a.kind == "f", b.kind == "f"
    if fa != fb:
        return a if fa else b
    return np.promote_types(a, b)


_MISSING = object()


def renamed(**aliases: str) -> Callable[[Fn], Fn]:
    """Accept PyTorch keyword spellings as aliases: ``@renamed(dim="axis", keepdim="keepdims")``.

    One implementation for every reduction and softmax-family function; passing both spellings
    (``axis=1, dim=1``) raises a TypeError naming the function.
    """

    def deco(fn: Fn) -> Fn:
        sig = inspect.signature(fn)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for alias, name in aliases.items():
                if alias in kwargs:
                    value = kwargs.pop(alias)
                    if name in kwargs or name in sig.bind_partial(*args).arguments:
                        raise TypeError(
                            f"{fn.__name__}: got both {name}= and its alias {alias}=; pass one"
                        )
                    kwargs[name] = value
            return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return deco
