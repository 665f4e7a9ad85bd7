"""The reverse sweep: topological order, VJPs in reverse, gradients accumulate.

One walk serves ``Tensor.backward`` (accumulate into leaves' ``.grad``) and ``grad`` (return the
gradients of chosen inputs as Tensors, touching no ``.grad``). Each VJP receives the upstream
gradient as a Tensor and returns Tensors built with the library's own ops: under
``create_graph=True`` those ops are recorded, so the gradients carry a graph of their own and can
be differentiated again; otherwise the VJPs run untracked and cost what plain NumPy costs.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from .tape import STATE, check_finite


def _key(t: Any) -> Any:
    """Gradients are summed per producing node (a node has one output), per tensor for leaves."""
    return t._node if t._node is not None else t


def toposort(root: Any) -> list:
    """Tensors reachable from ``root`` through grad-requiring inputs, inputs before users.

    Iterative depth-first search, so graphs of any depth work without recursion limits.
    (Tensors hash by identity, so they key sets and dicts directly.)
    """
    return toposort_many([root])


def toposort_many(roots: Sequence[Any]) -> list:
    """As ``toposort`` for several roots (one order covering all of them)."""
    order: list = []
    seen: set = set()
    for root in roots:
        if _key(root) in seen:
            continue
        seen.add(_key(root))
        if root._node is None:
            order.append(root)
            continue
        stack = [(root, iter(root._node.inputs), iter(root._node.needs_input_grad))]
        while stack:
            t, inputs, needs = stack[-1]
            for inp, need in zip(inputs, needs):
                k = _key(inp)
                if need and k not in seen:
                    seen.add(k)
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


def _check_versions(node: Any) -> None:
    """Raise if an input was modified in place (through the library) after the op recorded it."""
    for pos, (inp, v) in enumerate(zip(node.inputs, node.versions)):
        if inp._version != v:
            raise RuntimeError(
                f"backward of op '{node.op.name}': its input {pos} (shape {inp.shape}) was modified "
                f"in place after the forward pass (version {v} -> {inp._version}), so the gradient "
                "would be wrong; clone() the tensor before changing it, or redo the forward pass"
            )


_TENSOR: list = []


def _tensor_class() -> type:
    """Tensor, imported on first use (tensor.py imports this module; a function-level import costs
    ~15 us per call through the import machinery)."""
    if not _TENSOR:
        from ..tensor import Tensor

        _TENSOR.append(Tensor)
    return _TENSOR[0]


def _calibrate() -> tuple[int, int] | None:
    """The reference counts _accumulate_leaf sees for a gradient nobody else holds (run_backward's
    local, the call's arguments). Measured once through the same call shape rather than assumed:
    CPython versions count borrowed references differently. None where there is no reference
    counting (then leaves always copy)."""
    if not hasattr(sys, "getrefcount"):
        return None
    from ..tensor import Tensor

    g = Tensor(np.empty(1))
    probe: list = []
    _accumulate_leaf(None, g, probe)
    return probe[0]


_SOLE: list = []


def _accumulate_leaf(t: Any, g: Any, probe: list | None = None) -> None:
    """Add gradient ``g`` (Tensor) into leaf ``t``'s ``.grad``.

    A leaf's ``.grad`` must be its own memory (optimizers update it in place), so the gradient is
    copied, except when the engine holds the only reference to a fresh buffer: then the buffer is
    adopted (a copy costs ~15 us/MB, e.g. a large input's gradient)."""
    arr = g._data
    counts = (sys.getrefcount(g), sys.getrefcount(arr)) if probe is not None or t.grad is None else None
    if probe is not None:
        probe.append(counts)
        return
    if t.grad is not None:
        t.grad = t.grad + arr
        return
    if not _SOLE:
        _SOLE.append(_calibrate())
    # a buffer that owns its memory and that nobody else sees (a view would hold a reference)
    if (counts == _SOLE[0] and arr.dtype == t._data.dtype and arr.base is None
            and arr.flags.writeable and arr.flags.c_contiguous):
        t.grad = arr
    else:
        t.grad = np.array(arr, dtype=t._data.dtype)


def _as_grad(ig: Any, node: Any, create_graph: bool) -> Any:
    """A VJP result as a Tensor (a legacy ndarray result is wrapped, first order only)."""
    from ..tensor import Tensor

    if isinstance(ig, Tensor):
        return ig
    if create_graph:
        raise RuntimeError(
            f"op '{node.op.name}': its VJP returned an ndarray, not Tensors built with the library's "
            "ops, so create_graph=True cannot differentiate through it (see docs/adding-an-op.md)"
        )
    return Tensor(np.asarray(ig))


def run_backward(
    roots: Sequence[Any],
    root_grads: Sequence[Any],
    retain_graph: bool = False,
    create_graph: bool = False,
    inputs: Sequence[Any] | None = None,
) -> dict | None:
    """Reverse-mode sweep from ``roots`` seeded with ``root_grads`` (Tensors).

    With ``inputs=None`` leaves (and retained tensors) accumulate the gradient's array into
    ``.grad``. Otherwise nothing's ``.grad`` changes and a dict {key: gradient Tensor} for the
    given inputs is returned. Frees what nodes saved unless ``retain_graph``.
    """
    Tensor = _tensor_class()
    order = toposort_many(roots)
    wanted = None if inputs is None else {_key(t) for t in inputs}
    reach: set | None = None
    if wanted is not None:
        # only walk the part of the graph that leads to a requested input
        reach = set()
        for t in order:
            k = _key(t)
            if k in wanted or (t._node is not None and any(
                    need and _key(i) in reach for i, need in zip(t._node.inputs, t._node.needs_input_grad))):
                reach.add(k)
    grads: dict[Any, Any] = {}
    for r, g in zip(roots, root_grads):
        k = _key(r)
        grads[k] = g if k not in grads else grads[k] + g
    captured: dict[Any, Any] = {}
    anomaly = STATE.anomaly
    prev_mode = STATE.grad_enabled
    # one switch for the whole walk (not per node): VJP ops are recorded only under create_graph,
    # and are not anomaly-checked one by one (a NaN/Inf in a VJP's result names its op below)
    STATE.grad_enabled = create_graph
    STATE.anomaly = False
    try:
        for t in reversed(order):
            node = t._node
            k = t if node is None else node
            g = grads.pop(k, None)
            if g is None:
                continue
            if wanted is not None:
                if k in wanted:
                    captured[k] = g
                if node is None or k not in reach:  # type: ignore[operator]
                    continue
            elif node is None:
                _accumulate_leaf(t, g)
                continue
            elif t._retain:
                t.grad = np.array(g._data, dtype=t._data.dtype) if t.grad is None else t.grad + g._data
            if node.freed:
                raise RuntimeError(
                    f"backward through op '{node.op.name}' a second time: its saved values were "
                    "freed by the first backward; pass retain_graph=True to the first call"
                )
            for inp, v in zip(node.inputs, node.versions):
                if inp._version != v:
                    _check_versions(node)
            in_grads = node.op.vjp(node, g)
            del g  # drop our reference: a leaf may then adopt its gradient's buffer (see below)
            if len(in_grads) != len(node.inputs):
                raise RuntimeError(
                    f"vjp of op '{node.op.name}' returned {len(in_grads)} gradients for "
                    f"{len(node.inputs)} inputs"
                )
            for inp, need, ig in zip(node.inputs, node.needs_input_grad, in_grads):
                if not need or ig is None:
                    continue
                if not isinstance(ig, Tensor):  # (a Parameter returned as is is a Tensor too)
                    ig = _as_grad(ig, node, create_graph)
                arr = inp._data
                if ig._data.shape != arr.shape:
                    raise RuntimeError(
                        f"vjp of op '{node.op.name}' returned a gradient of shape {ig.shape} "
                        f"for an input of shape {arr.shape}"
                    )
                if ig._data.dtype != arr.dtype:
                    ig = ig.astype(arr.dtype)
                if anomaly:
                    check_finite(ig._data, f"backward of op '{node.op.name}'")
                ik = inp if inp._node is None else inp._node
                prev = grads.get(ik)
                grads[ik] = ig if prev is None else prev + ig
            in_grads = ig = prev = None  # keep no references to the gradients stored above
            if not retain_graph:
                node.free()
    finally:
        STATE.grad_enabled = prev_mode
        STATE.anomaly = anomaly
    return captured if wanted is not None else None


def backward(root: Any, grad: Any, retain_graph: bool = False, create_graph: bool = False) -> None:
    """Reverse sweep from one root seeded with ``grad`` (Tensor or array); leaves accumulate."""
    from ..tensor import Tensor

    g = grad if isinstance(grad, Tensor) else Tensor(np.asarray(grad))
    run_backward([root], [g], retain_graph=retain_graph, create_graph=create_graph)


def grad(
    outputs: Any,
    inputs: Any,
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple:
    """Gradients of ``outputs`` with respect to ``inputs``, as ``torch.autograd.grad``.

    outputs: a Tensor or a sequence of Tensors; inputs: a Tensor or a sequence of Tensors
    (leaves or intermediate results); grad_outputs: the cotangents (one per output, same shape;
    may be omitted for scalar outputs). Returns a tuple of Tensors, one per input, each the
    shape of its input. With ``create_graph=True`` the returned gradients are recorded and can
    be differentiated again. ``.grad`` attributes are not touched. An input the outputs do not
    depend on raises unless ``allow_unused`` (then its entry is None).
    """
    from ..tensor import Tensor

    outs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None:
        gos: list = [None] * len(outs)
    elif isinstance(grad_outputs, (Tensor, np.ndarray)):
        gos = [grad_outputs]
    else:
        gos = list(grad_outputs)
    if len(gos) != len(outs):
        raise ValueError(f"grad: {len(outs)} outputs but {len(gos)} grad_outputs")
    for i, t in enumerate(ins):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad")
    roots, seeds = [], []
    for o, go in zip(outs, gos):
        if not isinstance(o, Tensor):
            raise TypeError(f"grad: outputs must be Tensors, got {type(o).__name__}")
        if go is None:
            if o.data.size != 1:
                raise RuntimeError(
                    f"grad: grad_outputs can be omitted only for scalar outputs; got shape {o.shape}"
                )
            go = Tensor(np.ones(o.shape, dtype=o.dtype))
        elif not isinstance(go, Tensor):
            go = Tensor(np.asarray(go, dtype=o.dtype))
        if go.shape != o.shape:
            raise ValueError(f"grad: grad_output shape {go.shape} != output shape {o.shape}")
        if not o.requires_grad:
            continue  # a constant output contributes nothing (unused check below)
        roots.append(o)
        seeds.append(go)
    if retain_graph is None:
        retain_graph = create_graph
    got = run_backward(roots, seeds, retain_graph=retain_graph, create_graph=create_graph,
                       inputs=ins) if roots else {}
    result = []
    for i, t in enumerate(ins):
        g = got.get(_key(t)) if got else None
        if g is None and not allow_unused:
            raise RuntimeError(
                f"grad: input {i} (shape {t.shape}) was not used to compute the outputs; "
                "pass allow_unused=True to get None for it"
            )
        if g is not None and not create_graph and g.requires_grad:
            g = g.detach()
        result.append(g)
    return tuple(result)
