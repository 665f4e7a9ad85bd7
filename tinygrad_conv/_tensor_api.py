"""The everyday PyTorch-style Tensor API: Python protocols, aliases and dtype casts.

A mixin of ``Tensor`` (kept apart so ``tensor.py`` stays the thin face over the tape). Shape
methods are compositions of registered ops, so they are all differentiable.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from .autograd.registry import normalize_axes
from .autograd.tape import STATE

if TYPE_CHECKING:
    from .tensor import Tensor


def _F() -> Any:
    """``tinygrad_conv.functional``, imported on first use: it imports ``tensor``, which imports us."""
    from . import functional

    return functional


def _dims(dims: tuple[Any, ...]) -> tuple[int, ...]:
    """``f(1, 2)`` and ``f((1, 2))`` both mean (1, 2)."""
    if len(dims) == 1 and not isinstance(dims[0], (int, np.integer)):
        return tuple(int(d) for d in dims[0])
    return tuple(int(d) for d in dims)


class TensorAPI:
    """Methods every ``Tensor`` has on top of the operators (see ``tensor.Tensor``)."""

    __slots__ = ()
    data: np.ndarray
    _data: np.ndarray
    requires_grad: bool

    # ---- Python protocols ----------------------------------------------------------------
    def _one(self, what: str) -> Any:
        if self.data.size != 1:
            raise ValueError(
                f"{what}: only a one-element tensor converts to a Python scalar; this one has shape "
                f"{self.data.shape} ({self.data.size} elements)"
            )
        return self.data.reshape(()).item()

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(
                f"bool: the truth value of a tensor with {self.data.size} elements (shape "
                f"{self.data.shape}) is ambiguous; use .any() / .all() style reductions or compare elements"
            )
        return builtins.bool(self.data.reshape(()).item())

    def __float__(self) -> builtins.float:
        return builtins.float(self._one("float"))

    def __int__(self) -> builtins.int:
        return builtins.int(self._one("int"))

    def __len__(self) -> builtins.int:
        if self.data.ndim == 0:
            raise TypeError("len: a 0-d tensor has no length")
        return len(self.data)

    def __iter__(self) -> Iterator[Tensor]:
        """Iterate over the first axis; each item is ``self[i]`` (differentiable)."""
        if self.data.ndim == 0:
            raise TypeError("iter: cannot iterate over a 0-d tensor")
        for i in range(len(self.data)):
            yield self[i]  # type: ignore[index]

    def __array__(self, dtype: Any = None, copy: builtins.bool | None = None) -> np.ndarray:
        """``np.asarray(t)``: a read-only view of the data (no tape); ``copy=True`` gives a copy."""
        if copy or (dtype is not None and np.dtype(dtype) != self.data.dtype):
            return np.array(self.data, dtype=dtype, copy=True)
        view = self.data.view()
        view.flags.writeable = False  # writing through it would change values the tape saved
        return view

    # comparisons are elementwise (NumPy's broadcasting) and give bool tensors without gradient
    def __eq__(self, o: object) -> Tensor:  # type: ignore[override]
        return _compare(np.equal, self, o)

    def __ne__(self, o: object) -> Tensor:  # type: ignore[override]
        return _compare(np.not_equal, self, o)

    def __lt__(self, o: Any) -> Tensor:
        return _compare(np.less, self, o)

    def __le__(self, o: Any) -> Tensor:
        return _compare(np.less_equal, self, o)

    def __gt__(self, o: Any) -> Tensor:
        return _compare(np.greater, self, o)

    def __ge__(self, o: Any) -> Tensor:
        return _compare(np.greater_equal, self, o)

    # identity hash, deliberately: the engine keys dicts and sets by tensor object, and a
    # value-based hash would change as data changes in place (PyTorch hashes by id too)
    __hash__ = object.__hash__

    # ---- sizes (PyTorch spellings) --------------------------------------------------------
    def numel(self) -> builtins.int:
        """Number of elements."""
        return builtins.int(self.data.size)

    def size(self, dim: builtins.int | None = None) -> Any:
        """The shape (a tuple), or the length of axis ``dim``, as ``torch.Tensor.size``."""
        if dim is None:
            return self.data.shape
        if self.data.ndim == 0:
            raise IndexError(f"size: dim {dim} given for a 0-d tensor (it has no dimensions)")
        (ax,) = normalize_axes(dim, self.data.ndim, "size")
        return self.data.shape[ax]

    def dim(self) -> builtins.int:
        """Number of dimensions (``ndim``)."""
        return self.data.ndim

    # ---- shape aliases --------------------------------------------------------------------
    def view(self, *shape: builtins.int | Sequence[builtins.int]) -> Tensor:
        """Same as ``reshape`` (NumPy arrays need no contiguity, so it never fails on layout)."""
        return _F().reshape(self, _dims(shape))

    def permute(self, *dims: builtins.int | Sequence[builtins.int]) -> Tensor:
        """Reorder the axes: ``x.permute(0, 2, 3, 1)``; negative dims allowed."""
        d = _dims(dims)
        if len(d) != self.data.ndim:
            raise ValueError(f"permute: {len(d)} dims {d} given for a tensor with {self.data.ndim} dims")
        return _F().transpose(self, [a % builtins.max(self.data.ndim, 1) for a in d])

    def unsqueeze(self, dim: builtins.int) -> Tensor:
        """Insert a size-1 axis at ``dim`` (in [-ndim-1, ndim])."""
        return _F().unsqueeze(self, dim)

    def squeeze(self, dim: builtins.int | tuple[builtins.int, ...] | None = None) -> Tensor:
        """Drop size-1 axes (all, or those in ``dim``; a listed axis that is not size 1 stays)."""
        return _F().squeeze(self, dim)

    def expand(self, *sizes: builtins.int | Sequence[builtins.int]) -> Tensor:
        """Broadcast to ``sizes`` (-1 keeps an axis), as ``torch.Tensor.expand``."""
        return _F().expand(self, _dims(sizes))

    # ---- dtype casts ----------------------------------------------------------------------
    def to(self, dtype: Any) -> Tensor:
        """Cast to ``dtype`` (no copy, no node when it already has it)."""
        if np.dtype(dtype) == self.data.dtype:
            return self  # type: ignore[return-value]
        return _F().cast(self, dtype)

    def float(self) -> Tensor:
        """Cast to float32."""
        return self.to(np.float32)

    def double(self) -> Tensor:
        """Cast to float64."""
        return self.to(np.float64)

    def half(self) -> Tensor:
        """Cast to float16."""
        return self.to(np.float16)

    def long(self) -> Tensor:
        """Cast to int64."""
        return self.to(np.int64)

    def int(self) -> Tensor:
        """Cast to int32."""
        return self.to(np.int32)

    def bool(self) -> Tensor:
        """Cast to bool."""
        return self.to(np.bool_)

    # ---- copies and in-place fills --------------------------------------------------------
    def clone(self) -> Tensor:
        """A copy with its own memory; the gradient flows back to ``self``."""
        return _F().cast(self, self.data.dtype)  # cast always copies; its VJP is the identity

    def contiguous(self) -> Tensor:
        """``self`` if its data is C-contiguous, otherwise a C-ordered copy (differentiable)."""
        if self.data.flags.c_contiguous:
            return self  # type: ignore[return-value]
        out = self.clone()
        out._data = np.ascontiguousarray(out.data)  # a fresh tensor: no version bump
        return out

    def _inplace(self, what: str) -> None:
        if self.requires_grad and STATE.grad_enabled:
            raise RuntimeError(
                f"{what}: in-place change of a tensor that requires grad; wrap it in tc.no_grad()"
            )

    def zero_(self) -> Tensor:
        """Set every element to 0 in place and return self."""
        self._inplace("zero_")
        self.data[...] = 0
        cast(Any, self)._bump_version()  # backward then refuses ops that saved the old values
        return self  # type: ignore[return-value]

    def fill_(self, value: Any) -> Tensor:
        """Set every element to ``value`` in place and return self."""
        self._inplace("fill_")
        self.data[...] = value
        cast(Any, self)._bump_version()
        return self  # type: ignore[return-value]


def _compare(fn: Any, t: Any, o: Any) -> Any:
    """Elementwise comparison as a bool tensor; NotImplemented for non-numeric operands, so
    ``t == None`` or ``t == "a"`` is plain False as in PyTorch (Python falls back to identity)."""
    from .tensor import Tensor  # a cycle at import time; resolved by the time anyone compares

    other = o.data if isinstance(o, Tensor) else o
    if not isinstance(other, (np.ndarray, np.generic, builtins.bool, builtins.int, builtins.float)):
        try:
            other = np.asarray(other)
        except Exception:
            return NotImplemented
        if other.dtype.kind not in "biuf":
            return NotImplemented
    return Tensor(fn(t.data, other))
