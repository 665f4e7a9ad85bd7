"""The tape: one Node per recorded op, grad mode, module scopes, anomaly mode and backward().

The engine knows arrays, nodes and VJPs only. A tensor is anything with ``data``, ``grad``,
``requires_grad``, ``_node`` (the Node that produced it, None for a leaf) and ``_retain``.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator
from typing import Any

import numpy as np


class _State:
    grad_enabled = True
    anomaly = False
    scope: tuple[str, ...] = ()


STATE = _State()


class Node:
    """A recorded op application: what produced a tensor and what its VJP needs.

    Attributes: ``op`` (the Op class), ``inputs`` (input tensors: a VJP uses them directly, so
    the gradient stays connected to the forward graph), ``needs_input_grad`` (one bool per input),
    ``attrs`` (keyword attributes, the forward signature's defaults filled in), ``saved``
    (non-differentiable helpers kept for the VJP: masks, indices, shapes; dropped after backward),
    ``scope`` (module path when recorded), ``freed`` (True once backward released what it kept)
    and ``versions`` (the inputs' version counters when recorded).
    """

    __slots__ = ("op", "inputs", "needs_input_grad", "attrs", "saved", "scope", "freed", "out",
                 "out_ref", "versions")

    def __init__(self, op: Any, inputs: tuple, needs_input_grad: tuple[bool, ...], attrs: dict):
        self.op = op
        self.inputs = inputs
        self.needs_input_grad = needs_input_grad
        self.attrs = attrs
        self.saved: Any = None
        self.scope = STATE.scope
        self.freed = False
        self.out: np.ndarray | None = None  # the output array, kept only for ops with save_output
        self.out_ref: Any = None  # weak reference to the output tensor
        self.versions: tuple[int, ...] = ()

    def save(self, *values: Any) -> None:
        """Keep values for the VJP (call from forward). Stores nothing when no input needs a
        gradient, so an op never keeps memory for a backward that cannot happen."""
        if any(self.needs_input_grad):
            self.saved = values

    def output(self) -> Any:
        """The op's output as a Tensor connected to this node (for VJPs written in terms of the
        output, e.g. exp's ``g * y``); needs ``save_output = True`` on the op class."""
        t = self.out_ref() if self.out_ref is not None else None
        if t is not None:
            return t
        if self.out is None:
            raise RuntimeError(f"op '{self.op.name}': output() needs save_output = True on the op class")
        from ..tensor import Tensor  # the engine builds the alias; Tensor lives one layer up

        t = Tensor.__new__(Tensor)
        t.data, t.grad, t.name, t._retain, t.requires_grad, t._node = self.out, None, None, False, True, self
        t._version = 0
        self.out_ref = weakref.ref(t)
        return t

    def free(self) -> None:
        self.saved = None
        self.out = None
        self.freed = True

    def __repr__(self) -> str:
        return f"Node({self.op.name}, inputs={len(self.inputs)})"


class AnomalyError(FloatingPointError):
    """Raised under detect_anomaly() when an op's forward or backward produces NaN or Inf."""


def is_grad_enabled() -> bool:
    """True unless inside ``no_grad()`` (ops then record tape nodes)."""
    return STATE.grad_enabled


class _GradMode(contextlib.ContextDecorator):
    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.prev: list[bool] = []

    def __enter__(self) -> None:
        self.prev.append(STATE.grad_enabled)
        STATE.grad_enabled = self.enabled

    def __exit__(self, *exc: object) -> None:
        STATE.grad_enabled = self.prev.pop()


def no_grad() -> _GradMode:
    """Context manager and decorator: ops inside record nothing and results need no grad."""
    return _GradMode(False)


def enable_grad() -> _GradMode:
    """Context manager and decorator that turns recording back on (e.g. inside no_grad)."""
    return _GradMode(True)


@contextlib.contextmanager
def detect_anomaly() -> Iterator[None]:
    """Check every forward output and every gradient for NaN/Inf; raise AnomalyError naming the op."""
    prev = STATE.anomaly
    STATE.anomaly = True
    try:
        yield
    finally:
        STATE.anomaly = prev


@contextlib.contextmanager
def name_scope(name: str) -> Iterator[None]:
    """Record ``name`` as part of the scope of every node made inside (modules use this)."""
    prev = STATE.scope
    STATE.scope = prev + (name,)
    try:
        yield
    finally:
        STATE.scope = prev


def check_finite(arr: np.ndarray, what: str) -> None:
    """Raise AnomalyError if a floating array holds NaN or Inf (anomaly mode only)."""
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        kind = "NaN" if np.isnan(arr).any() else "Inf"
        raise AnomalyError(f"{what} produced {kind} (shape {arr.shape})")


