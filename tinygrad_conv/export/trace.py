"""Record one forward pass on the tape and list what the exporter needs: ops in order, leaves by kind.

The example inputs are wrapped as grad-requiring leaves, so every op that depends on them is
recorded (``apply`` records a node only when an input needs a gradient). Everything else that
reaches the outputs is a leaf: an input, a parameter, or a constant. A constant computed from the
input *outside* the tape (a comparison mask, arithmetic on ``.data``) would be frozen into the
file with the example's values; a second, perturbed recording catches that.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..autograd.tape import enable_grad
from ..tensor import Tensor
from .builder import ExportError


@dataclass
class Trace:
    """One recorded forward: ``order`` lists every tensor reaching the outputs, inputs before users."""

    inputs: list[Tensor]
    outputs: list[Tensor]
    order: list[Tensor]
    consumers: dict[Tensor, int] = field(default_factory=dict)


def where(t: Tensor) -> str:
    """``op 'conv2d' in scope conv1`` for error messages."""
    node = t._node
    if node is None:
        return "a leaf tensor"
    scope = "/".join(node.scope) or "(model root)"
    return f"op '{node.op.name}' in scope {scope}"


def _as_array(x: Any, i: int) -> np.ndarray:
    arr = np.asarray(x.data if isinstance(x, Tensor) else x)
    if arr.dtype.kind != "f":
        raise ExportError(f"export: example input {i} has dtype {arr.dtype} (shape {arr.shape}); "
                          "inputs must be floating point")
    return arr


def example_arrays(example_inputs: Any) -> list[np.ndarray]:
    """A Tensor, an ndarray or a tuple/list of them -> list of float arrays."""
    items = example_inputs if isinstance(example_inputs, (tuple, list)) else (example_inputs,)
    if not items:
        raise ExportError("export: example_inputs is empty")
    return [_as_array(x, i) for i, x in enumerate(items)]


def record(fn: Callable[..., Any], arrays: Sequence[np.ndarray]) -> Trace:
    """Run ``fn`` once on grad-requiring copies of ``arrays`` and walk the tape from its outputs."""
    inputs = [Tensor(a, requires_grad=True, name=f"input{i}") for i, a in enumerate(arrays)]
    with enable_grad():
        out = fn(*inputs)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    for i, o in enumerate(outs):
        if not isinstance(o, Tensor):
            raise ExportError(f"export: output {i} is a {type(o).__name__}, not a Tensor")
    order: list[Tensor] = []
    consumers: dict[Tensor, int] = {}
    seen: set[Tensor] = set()
    for o in outs:  # iterative DFS over *all* inputs (constants too), inputs before users
        if o in seen:
            continue
        seen.add(o)
        stack = [(o, iter(o._node.inputs if o._node is not None else ()))]
        while stack:
            t, it = stack[-1]
            for inp in it:
                consumers[inp] = consumers.get(inp, 0) + 1
                if inp not in seen:
                    seen.add(inp)
                    stack.append((inp, iter(inp._node.inputs if inp._node is not None else ())))
                    break
            else:
                stack.pop()
                order.append(t)
    return Trace(inputs, outs, order, consumers)


def check_input_independent(fn: Callable[..., Any], arrays: Sequence[np.ndarray], first: Trace,
                            is_param: Callable[[Tensor], bool], dynamic_batch: bool = False) -> None:
    """Record again with perturbed inputs: the ops and every constant must come out the same.

    With ``dynamic_batch`` the second recording also has one more sample, so a constant shaped by
    the batch size (which would pin the file to the example's batch) is caught too. Best effort:
    if the perturbed run itself fails (a model that validates its input values), there is nothing
    to compare and the check passes.
    """
    rng = np.random.default_rng(0)
    # other samples, signs flipped, plus noise: masks like x > 0 or x > t come out different
    probe = []
    for a in arrays:
        if dynamic_batch and a.ndim:
            a = np.concatenate([a, a[:1]])
        other = np.roll(a, 1, axis=0) if a.ndim else a
        noise = (float(a.std()) or 1.0) * rng.standard_normal(a.shape)
        probe.append((-0.75 * other + 0.5 * noise).astype(a.dtype))
    try:
        with np.errstate(all="ignore"):
            second = record(fn, probe)
    except Exception:  # see the docstring
        return
    ops1 = [t._node.op.name for t in first.order if t._node is not None]
    ops2 = [t._node.op.name for t in second.order if t._node is not None]
    if ops1 != ops2:
        raise ExportError("export: the recorded ops change with the input values (control flow that "
                          "reads tensor values?); ONNX export needs one fixed graph")
    inputs1, inputs2 = set(first.inputs), set(second.inputs)
    for t1, t2 in zip(first.order, second.order):
        if t1._node is None or t2._node is None:
            continue
        for a, b in zip(t1._node.inputs, t2._node.inputs):
            if a._node is not None or a in inputs1 or b in inputs2 or is_param(a):
                continue
            if a.shape != b.shape:
                raise ExportError(
                    f"export: {where(t1)} reads a constant of shape {a.shape} that follows the batch "
                    "size; the file would only run on the example's batch. Pass dynamic_batch=False, "
                    "or build it with tensor ops from the input")
            if not np.array_equal(a.data, b.data, equal_nan=True):
                raise ExportError(
                    f"export: {where(t1)} reads a constant of shape {a.shape} computed from the input "
                    "outside the tape (e.g. a comparison mask, .data arithmetic or a random draw); it "
                    "would be frozen into the file. Compute it with tensor ops, or export in eval mode"
                )
