"""Read the tape behind a tensor: traversal, tensor kinds, module groups and ``to_json``.

A pure reader: nothing here changes tensors, nodes or gradients (``retain_all_grads`` is the one
deliberate exception, a helper to call *before* backward). The traversal is breadth first from
the root over every node input (constants included) with an explicit queue, so a chain of any
length works, and it numbers tensors in visiting order, so the same graph always gets the same ids.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .graph_style import array_norm, json_safe


def _check_root(root: Any, where: str) -> None:
    if not (hasattr(root, "data") and hasattr(root, "node") and hasattr(root, "requires_grad")):
        raise TypeError(f"{where}: root must be a Tensor, got {type(root).__name__}")


def walk(root: Any) -> list:
    """Every tensor reachable from ``root`` through node inputs, root first, breadth first."""
    order = [root]
    seen = {id(root)}
    q = 0
    while q < len(order):
        node = order[q].node
        q += 1
        if node is None:
            continue
        for inp in node.inputs:
            if id(inp) not in seen:
                seen.add(id(inp))
                order.append(inp)
    return order


def retain_all_grads(root: Any) -> int:
    """Call ``retain_grad()`` on every non-leaf tensor behind ``root`` (do it *before* backward).

    After backward, intermediate tensors then keep ``.grad``, which ``to_dot(show_grads=True)``
    reads to colour op nodes. Returns the number of tensors marked.
    """
    _check_root(root, "retain_all_grads")
    n = 0
    for t in walk(root):
        if t.node is not None:
            t.retain_grad()
            n += 1
    return n


def tensor_kind(t: Any) -> str:
    """'op' (made by a recorded op), 'parameter' (leaf that requires grad), 'input' or 'constant'."""
    if t.node is not None:
        return "op"
    if t.requires_grad:
        return "parameter"
    if t.name is None and t.data.size == 1:
        return "constant"  # Python numbers wrapped by an op call
    return "input"


def _is_parameter(t: Any) -> bool:
    try:
        from ..nn.module import Parameter
    except ImportError:  # viz works without nn
        return False
    return isinstance(t, Parameter)


def common_prefix(scopes: list[tuple[str, ...]]) -> tuple[str, ...]:
    if not scopes:
        return ()
    first = scopes[0]
    n = len(first)
    for s in scopes[1:]:
        n = min(n, len(s))
        for i in range(n):
            if s[i] != first[i]:
                n = i
                break
    return first[:n]


def module_info(module: Any) -> tuple[dict[tuple[str, ...], Any], dict[int, str]]:
    """(scope path -> Module, id(parameter) -> dotted name) for a root module; empty for None."""
    if module is None:
        return {}, {}
    paths: dict[tuple[str, ...], Any] = {}
    try:
        from ..nn.module import module_path_map

        paths = {tuple(k): v for k, v in module_path_map(module).items()}
    except (ImportError, AttributeError):
        for name, m in module.named_modules():
            paths[tuple(name.split(".")) if name else ()] = m
    pnames = {id(p): n for n, p in module.named_parameters()}
    return paths, pnames


def type_name(m: Any) -> str:
    """A module's class name as graphs show it."""
    return str(getattr(m, "type_name", type(m).__name__))


def module_params(m: Any) -> int:
    if hasattr(m, "num_parameters"):
        return int(m.num_parameters())
    return int(sum(p.data.size for p in m.parameters()))


def op_text(node: Any, show_attrs: bool) -> tuple[str, str]:
    """(op name, attribute text) for a node; attribute text from the op's own ``label``."""
    name = node.op.name
    if not show_attrs or not node.attrs:
        return name, ""
    try:
        text = node.op.label(dict(node.attrs))
    except Exception:  # a label helper must never break a picture
        text = " ".join(f"{k}={v}" for k, v in node.attrs.items() if v is not None)
    return name, str(text)


@dataclass
class Unit:
    """One drawn node: a single tensor, or a collapsed module (``scope``) with its member tensors."""

    key: tuple
    members: list[int] = field(default_factory=list)
    scope: tuple[str, ...] | None = None  # set for collapsed modules
    cluster: tuple[str, ...] = ()


class GraphView:
    """The tape behind ``root`` in the shape the renderers need (tensors, kinds, units, edges)."""

    def __init__(self, root: Any, module: Any = None, collapse: int | None = None) -> None:
        if collapse is not None and (not isinstance(collapse, int) or collapse < 0):
            raise ValueError(f"to_dot: collapse must be None or an int >= 0, got {collapse!r}")
        self.root = root
        self.tensors = walk(root)
        self.index = {id(t): i for i, t in enumerate(self.tensors)}
        self.kinds = [tensor_kind(t) for t in self.tensors]
        self.modules, self.pnames = module_info(module)
        self.collapse = collapse
        # consumers[i]: op tensors using tensor i, each listed once, in visiting order
        self.consumers: list[list[int]] = [[] for _ in self.tensors]
        for i, t in enumerate(self.tensors):
            if t.node is not None:
                for inp in dict.fromkeys(id(x) for x in t.node.inputs):
                    self.consumers[self.index[inp]].append(i)
        self.grad_norms = [array_norm(t.grad) for t in self.tensors]
        counts = Counter(str(t.dtype) for t, k in zip(self.tensors, self.kinds) if k != "constant")
        self.dtype = counts.most_common(1)[0][0] if counts else str(root.dtype)
        self._build_units()

    def scope(self, i: int) -> tuple[str, ...]:
        node = self.tensors[i].node
        return tuple(str(s) for s in node.scope) if node is not None else ()

    def name(self, i: int) -> str | None:
        t = self.tensors[i]
        return t.name if t.name is not None else self.pnames.get(id(t))

    def _owned(self, i: int, scope: tuple[str, ...]) -> bool:
        """Does leaf ``i`` belong inside the module at ``scope``? Constants and module parameters
        do; so does a plain grad leaf named under that path (``body.fc1.weight`` in ``body.fc1``).
        Other grad leaves (an image that requires grad, say) are graph inputs and stay outside."""
        t = self.tensors[i]
        if self.kinds[i] == "constant" or id(t) in self.pnames or _is_parameter(t):
            return True
        name = self.name(i)
        return bool(scope) and name is not None and name.startswith(".".join(scope) + ".")

    def _leaf_home(self, i: int) -> tuple[tuple[str, ...], tuple | None]:
        """(cluster path, group key or None) of a leaf: beside its users when it belongs there."""
        users = self.consumers[i]
        groups = {self.unit_key[u] for u in users}
        if len(groups) == 1:
            g = next(iter(groups))
            if g[0] == "g" and self._owned(i, g[1]):
                return (), g
        prefix = common_prefix([self.scope(u) for u in users])
        if self.collapse is not None:
            prefix = prefix[: self.collapse]
        return (prefix if self._owned(i, prefix) else ()), None

    def _build_units(self) -> None:
        self.unit_key: dict[int, tuple] = {}
        cluster_of: dict[tuple, tuple[str, ...]] = {}
        # ops first: their scope decides groups; leaves then follow their consumers
        for i, k in enumerate(self.kinds):
            if k != "op":
                continue
            s = self.scope(i)
            if self.collapse is not None and len(s) > self.collapse:
                key: tuple = ("g", s[: self.collapse + 1])
                cluster_of[key] = s[: self.collapse]
            else:
                key = ("t", i)
                cluster_of[key] = s
            self.unit_key[i] = key
        for i, k in enumerate(self.kinds):
            if k == "op":
                continue
            key = ("t", i)
            cluster: tuple[str, ...] = ()
            if k != "input" and self.consumers[i]:
                cluster, group = self._leaf_home(i)
                if group is not None:
                    key = group
            self.unit_key[i] = key
            cluster_of.setdefault(key, cluster)
        self.units: dict[tuple, Unit] = {}
        for i in range(len(self.tensors)):  # visiting order -> deterministic unit order
            key = self.unit_key[i]
            u = self.units.get(key)
            if u is None:
                u = self.units[key] = Unit(key, scope=key[1] if key[0] == "g" else None,
                                           cluster=cluster_of[key])
            u.members.append(i)

    def edges(self) -> list[tuple[tuple, tuple, int, int]]:
        """(source unit, target unit, input tensor index, position) per drawn edge, in order.

        Without collapsing there is exactly one edge per node input; edges into or out of a
        collapsed module are merged per (source, target, tensor) and edges inside it are dropped.
        """
        out = []
        seen: set[tuple] = set()
        for i, t in enumerate(self.tensors):
            if t.node is None:
                continue
            dst = self.unit_key[i]
            for pos, inp in enumerate(t.node.inputs):
                j = self.index[id(inp)]
                src = self.unit_key[j]
                if src == dst:
                    continue
                if src[0] == "g" or dst[0] == "g":
                    if (src, dst, j) in seen:
                        continue
                    seen.add((src, dst, j))
                out.append((src, dst, j, pos))
        return out

    def group_io(self, unit: Unit) -> tuple[list[int], list[int]]:
        """Tensors entering and leaving a collapsed module (indices, visiting order)."""
        members = set(unit.members)
        ins: dict[int, None] = {}
        for i in sorted(unit.members, reverse=True):  # reversed visiting order ~ data-flow order
            node = self.tensors[i].node
            if node is None:
                continue
            for inp in node.inputs:
                j = self.index[id(inp)]
                if j not in members:
                    ins[j] = None
        outs = [i for i in unit.members
                if i == 0 or any(c not in members for c in self.consumers[i])]
        return list(ins), outs


def _grad_status(norm: float | None) -> str:
    if norm is None:
        return "none"
    if math.isnan(norm):
        return "nan"
    return "inf" if math.isinf(norm) else "finite"


def to_json(root: Any, *, module: Any = None) -> dict:
    """The graph behind ``root`` as plain data for other tools (``json.dumps`` works on it).

    Returns ``{"format", "version", "root", "nodes": [...], "edges": [...]}``. Each node has
    ``id`` (``n<k>``, visiting order from the root, as in ``to_dot``), ``kind`` (op, parameter,
    input, constant), ``op`` and ``label`` (attribute text), ``attrs``, ``shape``, ``dtype``,
    ``name``, ``scope`` (module path), ``requires_grad``, ``grad_norm`` (L2 norm of ``.grad``;
    null when absent or not finite), ``grad_status`` (none, finite, nan, inf) and, for
    parameters, ``weight_norm``. Each edge has ``src``, ``dst``, ``index`` (input position) and
    ``needs_grad``. Pass ``module`` (the root Module) to name parameters that have no name yet.
    """
    _check_root(root, "to_json")
    view = GraphView(root, module=module)
    nodes = []
    for i, t in enumerate(view.tensors):
        kind = view.kinds[i]
        norm = view.grad_norms[i]
        entry: dict[str, Any] = {
            "id": f"n{i}", "kind": kind, "op": None, "label": None, "attrs": {},
            "shape": [int(d) for d in t.shape], "dtype": str(t.dtype), "name": view.name(i),
            "scope": list(view.scope(i)), "requires_grad": bool(t.requires_grad),
            "grad_norm": norm if norm is not None and math.isfinite(norm) else None,
            "grad_status": _grad_status(norm),
        }
        if t.node is not None:
            entry["op"], entry["label"] = op_text(t.node, True)
            entry["attrs"] = json_safe(dict(t.node.attrs))
            entry["freed"] = bool(t.node.freed)
        if kind == "parameter":
            w = array_norm(t.data)
            entry["weight_norm"] = w if w is not None and math.isfinite(w) else None
        if kind == "constant" or (i == 0 and t.data.size == 1):
            entry["value"] = json_safe(t.data.reshape(-1)[0].item())
        nodes.append(entry)
    edges = []
    for i, t in enumerate(view.tensors):
        if t.node is None:
            continue
        for pos, (inp, need) in enumerate(zip(t.node.inputs, t.node.needs_input_grad)):
            edges.append({"src": f"n{view.index[id(inp)]}", "dst": f"n{i}", "index": pos,
                          "needs_grad": bool(need)})
    return {"format": "tinygrad_conv.graph", "version": 1, "root": "n0", "nodes": nodes, "edges": edges}
