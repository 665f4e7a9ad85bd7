"""The op registry: name -> Op class (forward, vjp and sample inputs side by side).

An op is one class with three static methods::

    @register("mul")
    class Mul(Op):
        @staticmethod
        def forward(ctx, a, b):          # ndarrays in, ndarray out (fast NumPy)
            return a * b

        @staticmethod
        def vjp(ctx, g):                 # g: upstream gradient (Tensor) -> one Tensor per input
            a, b = ctx.inputs            # the input Tensors, still connected to the graph
            return unbroadcast(g * b, a.shape), unbroadcast(g * a, b.shape)

        @staticmethod
        def samples():                   # inputs for the registry-wide first/second-order checks
            yield Sample((rand(3), rand(3)))

A VJP is written with the library's own ops on Tensors, so the backward pass can itself be
recorded (``create_graph=True``) and differentiated again; the engine runs it untracked otherwise.
``ctx.save(...)`` keeps non-differentiable helpers (masks, indices, shapes); ``ctx.output()`` is
the op's output as a connected Tensor (set ``save_output = True``). Heavy backward kernels are
registered ops of their own (conv2d's input and weight gradients, the pool scatters...).

Positional inputs are arrays (differentiable when floating point); keyword arguments are
attributes (``axis``, ``stride``...) recorded on the tape node, the forward's defaults included.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np


@dataclass
class Sample:
    """One set of inputs for checking an op.

    ``args`` are the positional inputs (float arrays are perturbed by gradcheck, integer or
    boolean arrays are held constant, as are the positions listed in ``constant``); ``kwargs``
    are the op's attributes.
    """

    args: tuple
    kwargs: dict[str, Any] = field(default_factory=dict)
    label: str = ""
    constant: tuple[int, ...] = ()  # positions of float args to hold fixed (not gradchecked)
    # False for samples that sit on a kink on purpose (ties of max/min): the first-order rule is
    # pinned there, but the VJP itself jumps, so no numeric second derivative exists
    second_order: bool = True


class Op:
    """Base class of a registered operation. Subclasses define the three static methods."""

    name: ClassVar[str] = "?"
    save_output: ClassVar[bool] = False  # keep the output array for ctx.output() in the VJP

    # (catch-all signatures: each op declares its own inputs and attributes)
    @staticmethod
    def forward(*args: Any, **kwargs: Any) -> Any:
        """forward(ctx, *arrays, **attrs) -> ndarray."""
        raise NotImplementedError

    @staticmethod
    def vjp(*args: Any, **kwargs: Any) -> Any:
        """vjp(ctx, g: Tensor) -> tuple of Tensor | None, one per input."""
        raise NotImplementedError

    @staticmethod
    def samples() -> Iterable[Sample]:
        return ()

    @staticmethod
    def label(attrs: dict[str, Any]) -> str:
        """Short attribute text for pictures and reports (e.g. ``axis=1``); unset (None) and off
        (False) attributes are left out, so ``keepdims=False`` does not clutter every node."""
        return " ".join(f"{k}={v}" for k, v in attrs.items() if v is not None and v is not False)


class Registry:
    """A name -> Op mapping. The package uses one global instance; tests may make scratch ones."""

    def __init__(self) -> None:
        self._ops: dict[str, type[Op]] = {}

    def register(self, name: str) -> Callable[[type[Op]], type[Op]]:
        """Class decorator that registers an op under ``name`` (names are unique)."""

        def deco(cls: type[Op]) -> type[Op]:
            if name in self._ops:
                raise ValueError(f"op {name!r} is already registered")
            for meth in ("forward", "vjp"):
                if getattr(cls, meth) is getattr(Op, meth):
                    raise TypeError(f"op {name!r} does not define {meth}()")
            cls.name = name
            self._ops[name] = cls
            return cls

        return deco

    def get(self, name: str) -> type[Op]:
        """The op class registered under ``name`` (KeyError listing the known names)."""
        try:
            return self._ops[name]
        except KeyError:
            raise KeyError(f"no op named {name!r}; registered: {', '.join(self.names())}") from None

    def names(self) -> list[str]:
        """Sorted names of the registered ops."""
        return sorted(self._ops)

    def __contains__(self, name: str) -> bool:
        return name in self._ops

    def __len__(self) -> int:
        return len(self._ops)


REGISTRY = Registry()
register = REGISTRY.register


def registered_ops() -> list[str]:
    """Sorted names of every op in the global registry."""
    return REGISTRY.names()


def get_op(name: str) -> type[Op]:
    """The op class registered under ``name``."""
    return REGISTRY.get(name)


def unbroadcast(g: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``g`` down to ``shape``: undo NumPy broadcasting in a gradient (every binary op uses it).

    ``g`` may be an ndarray (NumPy result) or a Tensor (recorded sum + reshape, so it stays
    differentiable)."""
    shape = tuple(shape)
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, s in enumerate(shape) if s == 1 and g.shape[i + lead] != 1
    )
    if isinstance(g, np.ndarray):
        return g.sum(axis=axes, keepdims=True).reshape(shape)
    return g.sum(axis=axes, keepdims=True).reshape(shape) if axes else g.reshape(shape)


def normalize_axes(axis: int | Iterable[int] | None, ndim: int, op: str) -> tuple[int, ...]:
    """Axis argument (None, int or tuple, negatives allowed) -> sorted tuple of axes, checked."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not isinstance(a, (int, np.integer)):
            raise TypeError(f"{op}: axis must be int or tuple of ints, got {axis!r}")
        if not -max(ndim, 1) <= a < max(ndim, 1):  # a 0-d tensor takes 0 or -1, as PyTorch
            raise ValueError(f"{op}: axis {a} is out of bounds for a tensor with {ndim} dims")
        out.append(int(a) % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis!r}")
    return tuple(sorted(out))
