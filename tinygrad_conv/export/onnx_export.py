"""``export``: one recorded forward pass -> an ONNX file (checked by ``onnx.checker``, written atomically)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..nn.module import Module, Parameter, module_path_map
from ..tensor import Tensor
from .builder import ExportError, OnnxGraph
from .trace import Trace, check_input_independent, example_arrays, record, where

MIN_OPSET = 13  # Softmax/LogSoftmax along one axis and ReduceSum/Squeeze axes as inputs start here


@dataclass
class OnnxExport:
    """What ``export`` wrote: the file, the ``onnx.ModelProto`` and a few counts for a summary line."""

    path: Path
    model: Any
    op_counts: Counter
    num_parameters: int
    size_bytes: int

    @property
    def num_nodes(self) -> int:
        return sum(self.op_counts.values())

    def summary(self) -> str:
        """``wrote model.onnx: 7 nodes (Conv 2, ...), 12,978 parameters, 52.1 kB (opset 17)``."""
        ops = ", ".join(f"{k} {v}" for k, v in self.op_counts.most_common())
        opset = self.model.opset_import[0].version
        nodes = f"{self.num_nodes} node{'s' if self.num_nodes != 1 else ''}"
        return (f"wrote {self.path}: {nodes} ({ops}), {self.num_parameters:,} parameters, "
                f"{self.size_bytes / 1024:.1f} kB (opset {opset})")


def op_converter(op: Any) -> Callable[..., str] | None:
    """The ONNX converter of an op class: its ``onnx`` hook (None when the op has none)."""
    return getattr(op, "onnx", None)


def exportable_ops() -> list[str]:
    """Sorted names of the registered ops that have an ONNX converter."""
    from ..autograd.registry import REGISTRY

    return [n for n in REGISTRY.names() if op_converter(REGISTRY.get(n)) is not None]


def _require_onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise ModuleNotFoundError("export: ONNX export needs the onnx package: "
                                  "pip install 'tinygrad-conv[onnx]'") from None
    return onnx


def export(model_or_fn: Module | Callable[..., Any], example_inputs: Any, path: str | os.PathLike,
           input_names: Sequence[str] | None = None, output_names: Sequence[str] | None = None,
           dynamic_batch: bool = True, opset: int = 17) -> OnnxExport:
    """Record one forward pass of ``model_or_fn`` on ``example_inputs`` and write it as an ONNX model.

    One ONNX node per recorded op (Linear's matmul + add becomes one Gemm; an eval-mode BatchNorm
    one BatchNormalization; Dropout in eval mode records nothing, so it disappears). Parameters are
    initializers named as in ``state_dict`` (``conv1.weight``); node names carry the module scope
    (``conv1/conv2d``), which Netron shows. A Module is recorded in eval mode and put back in its
    previous mode afterwards.

    Args:
        model_or_fn: a Module, or any function of Tensors returning a Tensor or a tuple of them.
        example_inputs: a Tensor / ndarray, or a tuple of them, e.g. ``x: (N, 1, 28, 28)`` float32;
            N >= 2 is best with ``dynamic_batch`` (a batch of 1 looks like any other axis of size 1).
        path: the ``.onnx`` file to write (atomically: a failed export leaves no partial file).
        input_names: graph input names (default ``input``, or ``input0``, ``input1``... for several).
        output_names: graph output names (default ``output``, numbered likewise).
        dynamic_batch: make the leading axis of inputs and outputs symbolic (``batch``), so the
            file runs on any batch size.
        opset: the ONNX operator set to target (13 or newer).

    Returns:
        An ``OnnxExport`` with the path, the ``onnx.ModelProto``, node counts and sizes.

    Raises:
        ExportError: an op with no ONNX converter (named with its module scope), a constant computed
            from the input outside the tape, or bad names / inputs.
        ModuleNotFoundError: the ``onnx`` extra is not installed.
    """
    onnx = _require_onnx()
    newest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= newest:
        raise ExportError(f"export: opset must be in [{MIN_OPSET}, {newest}], got {opset}")
    if not callable(model_or_fn):
        raise ExportError(f"export: expected a Module or a function, got {type(model_or_fn).__name__}")
    arrays = example_arrays(example_inputs)
    model = model_or_fn if isinstance(model_or_fn, Module) else None
    param_names = {id(p): n for n, p in model.named_parameters()} if model is not None else {}

    def is_param(t: Tensor) -> bool:
        return isinstance(t, Parameter) or id(t) in param_names

    modes = [(m, m.training) for m in model.modules()] if model is not None else []
    if model is not None:
        model.eval()
    try:  # module hooks (BatchNorm) look at the mode while converting too
        trace = record(model_or_fn, arrays)
        check_input_independent(model_or_fn, arrays, trace, is_param, dynamic_batch)
        in_names = _names(input_names, len(arrays), "input")
        out_names = _names(output_names, len(trace.outputs), "output")
        if len(set(in_names) | set(out_names)) != len(in_names) + len(out_names):
            raise ExportError(f"export: input and output names must be distinct, got {in_names} "
                              f"and {out_names}")
        batch = _batch_size(arrays) if dynamic_batch else None
        declined: set[tuple[str, ...]] = set()
        while True:  # a module whose hook declines is exported op by op on the next pass
            g = OnnxGraph(opset, batch)
            try:
                names = _convert(g, trace, in_names, out_names, model, param_names, is_param, declined)
                break
            except _Declined as d:
                declined.add(d.path)
    finally:
        for m, mode in modes:  # each module as it was (a frozen BatchNorm may be in eval already)
            m.__dict__["training"] = mode
    proto = _make_model(onnx, g, trace, names, in_names, out_names, batch, opset,
                        type(model).__name__ if model is not None else getattr(model_or_fn, "__name__", "fn"))
    return _write(onnx, proto, Path(path), g)


class _Declined(Exception):
    def __init__(self, path: tuple[str, ...]) -> None:
        self.path = path


def _names(given: Sequence[str] | None, n: int, stem: str) -> list[str]:
    if given is None:
        return [stem] if n == 1 else [f"{stem}{i}" for i in range(n)]
    out = [str(s) for s in given]
    if len(out) != n or len(set(out)) != n or not all(out):
        raise ExportError(f"export: need {n} distinct non-empty {stem} names, got {list(given)}")
    return out


def _batch_size(arrays: list[np.ndarray]) -> int:
    sizes = {a.shape[0] if a.ndim else -1 for a in arrays}
    if len(sizes) != 1 or -1 in sizes:
        shapes = [a.shape for a in arrays]
        raise ExportError(f"export: dynamic_batch needs every input to share its leading (batch) axis, "
                          f"got shapes {shapes}; pass dynamic_batch=False")
    return int(sizes.pop())


def _scope_name(t: Tensor, op: str) -> str:
    assert t._node is not None
    return "/".join(t._node.scope + (op,))


def _linear_fusions(trace: Trace, users: dict[Tensor, list[Tensor]], is_param: Callable[[Tensor], bool]
                    ) -> tuple[dict[Tensor, tuple[Tensor, Tensor, Tensor | None]], set[Tensor]]:
    """Find ``x @ P.T (+ b)`` with a 2-D parameter P and 2-D x (what Linear records): one Gemm each.

    Returns {result tensor: (x, P, b or None)} and the intermediate tensors the Gemm replaces."""
    fused: dict[Tensor, tuple[Tensor, Tensor, Tensor | None]] = {}
    skip: set[Tensor] = set()
    for m in trace.order:
        node = m._node
        if node is None or node.op.name != "matmul":
            continue
        x, tt = node.inputs
        tn = tt._node
        if (tn is None or tn.op.name != "transpose" or len(users.get(tt, ())) != 1 or x.ndim != 2
                or not is_param(tn.inputs[0]) or tn.inputs[0].ndim != 2
                or tn.attrs.get("axes") not in (None, (1, 0))):
            continue
        out, b = m, None
        (u,) = users.get(m, [None]) if len(users.get(m, ())) == 1 else (None,)
        if u is not None and u._node is not None and u._node.op.name == "add" and u._node.inputs[0] is m:
            cand = u._node.inputs[1]
            if cand.shape == (m.shape[1],) and not any(m is o for o in trace.outputs):
                out, b = u, cand
                skip.add(m)
        skip.add(tt)
        fused[out] = (x, tn.inputs[0], b)
    return fused, skip


Regions = dict[Tensor, tuple[Module, str, Tensor]]


def _module_regions(trace: Trace, users: dict[Tensor, list[Tensor]], model: Module | None,
                    declined: set[tuple[str, ...]]) -> tuple[Regions, set[Tensor]]:
    """Modules with an ``export_onnx`` hook (BatchNorm) whose recorded ops have one data input and
    one output: {output tensor: (module, 'prefix.', input tensor)} and the tensors they replace."""
    regions: Regions = {}
    skip: set[Tensor] = set()
    if model is None:
        return regions, skip
    inputs = set(trace.inputs)
    for path, m in module_path_map(model).items():
        if not path or path in declined or not callable(getattr(m, "export_onnx", None)):
            continue
        inside = [t for t in trace.order if t._node is not None and t._node.scope[:len(path)] == path]
        if not inside:
            continue
        members = set(inside)
        data_in = {i for t in inside for i in t._node.inputs  # type: ignore[union-attr]
                   if i not in members and (i._node is not None or i in inputs)}
        # (identity tests: `t in a_list` would compare tensors elementwise with ==)
        outs = [t for t in inside
                if any(t is o for o in trace.outputs) or any(u not in members for u in users.get(t, ()))]
        if len(data_in) == 1 and len(outs) == 1:
            regions[outs[0]] = (m, ".".join(path) + ".", data_in.pop())
            skip.update(members - {outs[0]})
    return regions, skip


def _convert(g: OnnxGraph, trace: Trace, in_names: list[str], out_names: list[str], model: Module | None,
             param_names: dict[int, str], is_param: Callable[[Tensor], bool],
             declined: set[tuple[str, ...]]) -> dict[Tensor, str]:
    names: dict[Tensor, str] = {}
    for t, nm in zip(trace.inputs, in_names):
        names[t] = g.unique(nm)
        g.know(nm, t.shape, t.dtype)
    for nm in out_names:
        g.unique(nm)  # reserved: the outputs are renamed to these at the end
    users: dict[Tensor, list[Tensor]] = {}
    for t in trace.order:
        for i in t._node.inputs if t._node is not None else ():
            users.setdefault(i, []).append(t)
    fused, skip = _linear_fusions(trace, users, is_param)
    regions, skip2 = _module_regions(trace, users, model, declined)
    skip |= skip2

    def name_of(leaf: Tensor, user: Tensor) -> str:
        if leaf not in names:
            if is_param(leaf):
                names[leaf] = g.param(param_names.get(id(leaf)) or leaf.name or "param", leaf.data)
            else:
                names[leaf] = g.const(leaf.data, name="/".join(user._node.scope + ("const",)))  # type: ignore[union-attr]
        return names[leaf]

    for t in trace.order:
        node = t._node
        if node is None or t in skip:
            continue
        if t in regions:
            m, prefix, x = regions[t]
            g.begin(_scope_name(t, type(m).__name__.lower()))
            out = m.export_onnx(g, names[x], prefix)  # type: ignore[attr-defined]
            if out is not None:
                names[t] = out
                g.know(out, t.shape, t.dtype)
                continue
            raise _Declined(tuple(prefix[:-1].split(".")))
        if t in fused:
            x, p, b = fused[t]
            g.begin(_scope_name(t, "linear"))
            args = [name_of(x, t), name_of(p, t)] + ([name_of(b, t)] if b is not None else [])
            names[t] = g.op("Gemm", *args, transB=1)
        else:
            conv = op_converter(node.op)
            if conv is None:
                raise ExportError(f"export: {where(t)} has no ONNX converter; exportable ops: "
                                  f"{', '.join(exportable_ops())}")
            args = [name_of(i, t) for i in node.inputs]
            g.begin(_scope_name(t, node.op.name))
            try:
                names[t] = conv(g, *args, **node.attrs)
            except (ExportError, ValueError) as e:  # a hook refusing its attributes (getitem arrays)
                raise ExportError(f"export: {where(t)}: {e}") from None
        g.know(names[t], t.shape, t.dtype)
    return names


def _make_model(onnx: Any, g: OnnxGraph, trace: Trace, names: dict[Tensor, str], in_names: list[str],
                out_names: list[str], batch: int | None, opset: int, graph_name: str) -> Any:
    helper = onnx.helper
    taken = {i.name for i in g.initializers} | set(in_names)
    renamed: dict[str, str] = {}
    for o, want in zip(trace.outputs, out_names):
        have = names[o]
        if have in taken or have in renamed:  # an input, a constant, or an output listed twice
            g.nodes.append(helper.make_node("Identity", [have], [want], name=want))
        else:
            renamed[have] = want
    for n in g.nodes:  # give output values their public names
        n.input[:] = [renamed.get(v, v) for v in n.input]
        n.output[:] = [renamed.get(v, v) for v in n.output]

    def info(name: str, t: Tensor) -> Any:
        dims: list[Any] = list(t.shape)
        if batch is not None and dims and dims[0] == batch:
            dims[0] = "batch"
        return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(t.dtype), dims)

    graph = helper.make_graph(g.nodes, graph_name, [info(n, t) for n, t in zip(in_names, trace.inputs)],
                              [info(n, t) for n, t in zip(out_names, trace.outputs)], g.initializers)
    from .. import __version__

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="tinygrad_conv", producer_version=__version__)
    # the oldest IR version that carries this opset: readable by the widest range of runtimes
    model.ir_version = helper.find_min_ir_version_for([helper.make_opsetid("", opset)])
    try:
        onnx.checker.check_model(model, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as e:
        raise ExportError(f"export: the ONNX checker rejected the model (a converter bug): {e}") from None
    return model


def _write(onnx: Any, proto: Any, path: Path, g: OnnxGraph) -> OnnxExport:
    from .._files import atomic_write_bytes  # the package's one atomic writer

    data = proto.SerializeToString()
    atomic_write_bytes(path, data)
    counts = Counter(n.op_type for n in proto.graph.node)
    return OnnxExport(path, proto, counts, g.num_parameters, len(data))
