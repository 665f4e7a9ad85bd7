"""The tape: one Node per recorded op, grad mode, module scopes, anomaly mode and backward().

The engine knows arrays, nodes and VJPs only. A tensor is anything with ``data``, ``grad``,
``requires_grad``, ``_node`` (the Node that produced it, None for a leaf) and ``_retain``.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np

F = TypeVar("F", bound=Callable[..., Any])


class _State:
    grad_enabled = True
    anomaly = False
    scope: tuple[str, ...] = ()


STATE = _State()


class Node:
    """A recorded op application: what produced a tensor and what its VJP needs.

    Attributes: ``op`` (the Op class), ``inputs`` (input tensors), ``needs_input_grad``
    (one bool per input), ``attrs`` (keyword attributes such as ``stride``), ``saved``
    (arrays kept for the VJP, dropped after backward), ``scope`` (module path when recorded)
    and ``freed`` (True once backward released ``saved``).
    """

    __slots__ = ("op", "inputs", "needs_input_grad", "attrs", "saved", "scope", "freed")

    def __init__(self, op: Any, inputs: tuple, needs_input_grad: tuple[bool, ...], attrs: dict):
        self.op = op
        self.inputs = inputs
        self.needs_input_grad = needs_input_grad
        self.attrs = attrs
        self.saved: Any = None
        self.scope = STATE.scope
        self.freed = False

    def save(self, *values: Any) -> None:
        """Keep values for the VJP (call from forward; skipped when no input needs a gradient)."""
        self.saved = values

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


def scoped(name: str) -> Callable[[F], F]:
    """Decorator form of name_scope."""

    def deco(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*a: Any, **k: Any) -> Any:
            with name_scope(name):
                return fn(*a, **k)

        return wrapper  # type: ignore[return-value]

    return deco


def check_finite(arr: np.ndarray, what: str) -> None:
    """Raise AnomalyError if a floating array holds NaN or Inf (anomaly mode only)."""
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        kind = "NaN" if np.isnan(arr).any() else "Inf"
        raise AnomalyError(f"{what} produced {kind} (shape {arr.shape})")


def toposort(root: Any) -> list:
    """Tensors reachable from ``root`` through grad-requiring inputs, inputs before users.

    Iterative depth-first search, so graphs of any depth work without recursion limits.
    (Tensors hash by identity, so they key sets and dicts directly.)
    """
    if root._node is None:
        return [root]
    order: list = []
    seen = {root}
    stack = [(root, iter(root._node.inputs), iter(root._node.needs_input_grad))]
    while stack:
        t, inputs, needs = stack[-1]
        for inp, need in zip(inputs, needs):
            if need and inp not in seen:
                seen.add(inp)
                node = inp._node
                if node is None:
                    order.append(inp)
                else:
                    stack.append((inp, iter(node.inputs), iter(node.needs_input_grad)))
                    break
        else:
            stack.pop()
            order.append(t)
    return order


def backward(root: Any, grad: np.ndarray, retain_graph: bool = False) -> None:
    """Reverse-mode sweep from ``root`` seeded with ``grad``; leaves (and retained tensors)
    accumulate into ``.grad``. Frees saved values unless ``retain_graph``."""
    order = toposort(root)
    grads: dict[Any, np.ndarray] = {root: grad}
    anomaly = STATE.anomaly
    for t in reversed(order):
        g = grads.pop(t, None)
        if g is None:
            continue
        node = t._node
        if node is None or t._retain:
            # a leaf keeps its own copy: later in-place updates must not alias other grads
            t.grad = np.array(g, dtype=t.data.dtype) if t.grad is None else t.grad + g
            if node is None:
                continue
        if node.freed:
            raise RuntimeError(
                f"backward through op '{node.op.name}' a second time: its saved values were "
                "freed by the first backward; pass retain_graph=True to the first call"
            )
        in_grads = node.op.vjp(node, g)
        if not retain_graph:
            node.saved = None
            node.freed = True
        for inp, need, ig in zip(node.inputs, node.needs_input_grad, in_grads):
            if not need or ig is None:
                continue
            if ig.shape != inp.data.shape:
                raise RuntimeError(
                    f"vjp of op '{node.op.name}' returned a gradient of shape {ig.shape} "
                    f"for an input of shape {inp.data.shape}"
                )
            if ig.dtype != inp.data.dtype:
                ig = ig.astype(inp.data.dtype)
            if anomaly:
                check_finite(ig, f"backward of op '{node.op.name}'")
            prev = grads.get(inp)
            grads[inp] = ig if prev is None else prev + ig
