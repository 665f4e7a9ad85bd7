"""``to_dot``: the tape behind a tensor as a ``graphviz.Digraph`` (no ``dot`` binary needed)."""

from __future__ import annotations

import math
from typing import Any

import graphviz

from .graph import GraphView, Unit, _check_root, module_params, op_text, type_name
from .graph_style import (
    CLUSTER_FILLS,
    ROOT_STYLE,
    STYLE,
    GradScale,
    array_norm,
    esc,
    fmt_count,
    fmt_num,
    fmt_shape,
    html_label,
    plural,
)

MAX_SHAPES = 3  # shapes listed per side on a collapsed module
# a tensor feeding many ops (one leaf used by every step) is drawn with at most this many edges;
# further uses get a small copy of it beside the op: long edges across many ranks make dot hang
MAX_FANOUT = 8


def to_dot(
    root: Any,
    *,
    show_shapes: bool = True,
    show_attrs: bool = True,
    show_grads: bool = False,
    collapse: int | None = None,
    max_nodes: int | None = 500,
    module: Any = None,
) -> graphviz.Digraph:
    """Draw the recorded graph behind ``root`` (typically the loss) as a Graphviz digraph.

    One node per tensor: op results (op name, its attributes such as ``stride=1 padding=same``,
    output shape), parameters (dotted name and shape), inputs and constants in distinct styles;
    one edge per node input (dashed where no gradient flows); the root has a double border.
    Ops recorded inside modules sit in nested boxes per module scope.

    Args:
        root: a Tensor, usually the scalar loss.
        show_shapes: put tensor shapes on the nodes (dtypes appear where they differ from the
            graph's usual dtype, named in the title).
        show_attrs: add the op attributes to op labels.
        show_grads: colour nodes by log10 of their gradient's L2 norm (legend included), NaN/Inf
            gradients in red; parameters show |grad| / |weight|. Reads ``.grad``: after backward
            only leaves keep it, so call ``retain_all_grads(root)`` before backward to see ops too.
        collapse: draw every module deeper than this depth as one node (input/output shapes,
            parameter count); ``collapse=0`` shows each top-level module as one node.
        max_nodes: draw at most this many nodes, nearest the root first, with a note saying how
            many were cut (None: no limit). It also caps what ``dot`` receives otherwise: a tensor
            used by more than 8 drawn ops gets 8 edges and a small dashed copy beside each further
            use (at most ``max_nodes`` copies; edges beyond that are counted in the note).
        module: the root Module, optional: gives module class names and parameter counts to
            the boxes, and names to parameters that have none.

    Returns:
        ``graphviz.Digraph``; ``.source`` is the DOT text, identical for identical graphs.
    """
    _check_root(root, "to_dot")
    if max_nodes is not None and (not isinstance(max_nodes, int) or max_nodes < 1):
        raise ValueError(f"to_dot: max_nodes must be None or an int >= 1, got {max_nodes!r}")
    return _DotBuilder(GraphView(root, module=module, collapse=collapse), show_shapes, show_attrs,
                       show_grads, max_nodes).build()


class _DotBuilder:
    def __init__(self, view: GraphView, show_shapes: bool, show_attrs: bool, show_grads: bool,
                 max_nodes: int | None) -> None:
        self.v = view
        self.show_shapes, self.show_attrs, self.show_grads = show_shapes, show_attrs, show_grads
        units = list(view.units.values())
        self.kept = units if max_nodes is None else units[:max_nodes]
        self.n_cut = len(units) - len(self.kept)
        self.ids = {u.key: f"n{k}" for k, u in enumerate(self.kept)}
        self.scale = GradScale([n for n in view.grad_norms if n is not None])

    # ---- labels ------------------------------------------------------------------------
    def _shape_line(self, i: int) -> str:
        t = self.v.tensors[i]
        dt = str(t.dtype)
        text = fmt_shape(t.shape) if self.show_shapes else ""
        if dt != self.v.dtype:
            text = f"{text} {esc(dt)}".strip()
        return text

    def _tensor_lines(self, i: int) -> list[str]:
        v, t, kind = self.v, self.v.tensors[i], self.v.kinds[i]
        name = v.name(i)
        shape = self._shape_line(i)
        if kind == "op":
            op, attrs = op_text(t.node, self.show_attrs)
            lines = [f"<B>{esc(op)}</B>" + (f" {esc(attrs)}" if attrs else "")]
            if name:
                lines.append(f"<I>{esc(name)}</I>")
            if i == 0 and t.data.size == 1:  # the loss: show its value
                shape = f"{shape} = {esc(format(float(t.data.reshape(-1)[0]), '.4g'))}".strip()
            if shape:
                lines.append(shape)
        elif kind == "constant":
            lines = [esc(repr(t.data.reshape(-1)[0].item()), 24)]
        else:
            label = name if name else ("leaf" if kind == "parameter" else "input")
            lines = [f"{esc(label)} {shape}".strip()]
        if self.show_grads and t.requires_grad:
            g = v.grad_norms[i]
            if g is None:
                lines.append("no .grad")
            elif kind == "parameter":
                lines.append(f"|g|={fmt_num(g)} / |w|={fmt_num(array_norm(t.data) or 0.0)}")
            else:
                lines.append(f"|g|={fmt_num(g)}")
        return lines

    def _group_lines(self, u: Unit) -> list[str]:
        v = self.v
        assert u.scope is not None
        path = ".".join(u.scope)
        mod = v.modules.get(u.scope)
        title = esc(path) + (f": {esc(type_name(mod))}" if mod is not None else "")
        ins, outs = v.group_io(u)
        n_ops = sum(v.kinds[i] == "op" for i in u.members)
        if mod is not None:
            n_params = module_params(mod)
        else:
            n_params = sum(v.tensors[i].data.size for i in u.members if v.kinds[i] == "parameter")
        lines = [f"<B>{title}</B>"]
        if self.show_shapes:
            for tag, idx in (("in", ins), ("out", outs)):
                shapes = list(dict.fromkeys(self._shape_line(i) for i in idx))
                more = " \u2026" if len(shapes) > MAX_SHAPES else ""
                if shapes:
                    lines.append(f"{tag} {', '.join(shapes[:MAX_SHAPES])}{more}")
        lines.append(f"{plural(n_params, 'param')} \u00b7 {plural(n_ops, 'op')}")
        out_norm = v.grad_norms[outs[0]] if outs else None
        if self.show_grads and out_norm is not None:
            lines.append(f"|g| out={fmt_num(out_norm)}")
        return lines

    def _grad_attrs(self, u: Unit) -> dict[str, str]:
        v = self.v
        norms = [v.grad_norms[i] for i in u.members if v.tensors[i].requires_grad]
        if not norms:
            return {}
        if any(n is not None and not math.isfinite(n) for n in norms):
            return self.scale.style(math.nan)
        return self.scale.style(norms[0])

    # ---- nodes, clusters, edges ----------------------------------------------------------
    def _node(self, g: graphviz.Digraph, u: Unit) -> None:
        if u.scope is not None:
            kind, lines = "module", self._group_lines(u)
        else:
            i = u.members[0]
            kind, lines = self.v.kinds[i], self._tensor_lines(i)
        attrs = dict(STYLE[kind])
        if self.show_grads:
            attrs.update(self._grad_attrs(u))
        if 0 in u.members:  # the root
            grad_fill = attrs.get("fillcolor") if self.show_grads else None
            attrs.update(ROOT_STYLE)
            if grad_fill:
                attrs["fillcolor"] = grad_fill
        g.node(self.ids[u.key], html_label(lines), **attrs)

    def _clusters(self, g: graphviz.Digraph) -> None:
        by_path: dict[tuple[str, ...], list[Unit]] = {}
        for u in self.kept:
            for k in range(len(u.cluster)):  # every enclosing box exists, outer boxes first
                by_path.setdefault(u.cluster[:k], [])
            by_path.setdefault(u.cluster, []).append(u)
        children: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
        for p in sorted(by_path, key=len):
            if p:
                children.setdefault(p[:-1], []).append(p)
        numbering = {p: k for k, p in enumerate(p for p in by_path if p)}

        def emit(parent: graphviz.Digraph, path: tuple[str, ...]) -> None:
            for u in by_path.get(path, []):
                self._node(parent, u)
            for child in sorted(children.get(path, []), key=lambda p: numbering[p]):
                with parent.subgraph(name=f"cluster_{numbering[child]}") as c:
                    mod = self.v.modules.get(child)
                    title = esc(".".join(child))
                    if mod is not None:
                        title += f": {esc(type_name(mod))} ({plural(module_params(mod), 'param')})"
                    c.attr(label=f"<{title}>", style="rounded,filled", color="#8a99ad",
                           fillcolor=CLUSTER_FILLS[min(len(child) - 1, len(CLUSTER_FILLS) - 1)],
                           fontsize="10", labeljust="l")
                    emit(c, child)

        emit(g, ())  # nesting depth = module depth, which is small

    def build(self) -> graphviz.Digraph:
        v = self.v
        n_ops = sum(k == "op" for k in v.kinds)
        params = [i for i, k in enumerate(v.kinds) if k == "parameter"]
        n_values = sum(v.tensors[i].data.size for i in params)
        title = (f"{plural(n_ops, 'op')} \u00b7 {plural(len(params), 'parameter tensor')} "
                 f"({plural(n_values, 'value')})"
                 f" \u00b7 {esc(v.dtype)} unless noted")
        g = graphviz.Digraph(
            "computation_graph",
            graph_attr={"label": f"<{title}>", "labelloc": "t", "fontsize": "11", "rankdir": "TB",
                        "nodesep": "0.25", "ranksep": "0.3", "fontname": "Helvetica"},
            node_attr={"fontsize": "10", "fontname": "Helvetica", "margin": "0.08,0.04", "height": "0.3"},
            edge_attr={"arrowsize": "0.6", "color": "#4a5568"},
        )
        self._clusters(g)
        cut_targets: dict[tuple, None] = {}
        fanout: dict[tuple, int] = {}
        copies_left = len(self.kept)
        edges_cut = 0
        for src, dst, j, _pos in v.edges():
            if dst not in self.ids:
                continue
            if src not in self.ids:
                cut_targets[dst] = None
                continue
            tensor = v.tensors[j]
            attrs = {} if tensor.requires_grad else {"style": "dashed", "color": "#a0a0a0"}
            fanout[src] = fanout.get(src, 0) + 1
            if fanout[src] <= MAX_FANOUT:
                g.edge(self.ids[src], self.ids[dst], **attrs)
            elif copies_left > 0:  # a copy of the source beside this use: a short edge
                copies_left -= 1
                ref = f"{self.ids[src]}_use{fanout[src]}"
                g.node(ref, html_label(self._tensor_lines(j)[:1]), shape="box", style="dashed",
                       fontsize="9", color="#718096")
                g.edge(ref, self.ids[dst], **attrs)
            else:
                edges_cut += 1
        if self.n_cut or edges_cut:
            note = (f"\u2026 {fmt_count(self.n_cut)} more nodes not shown "
                    f"(max_nodes={fmt_count(len(self.kept))})")
            if edges_cut:
                note += f", {fmt_count(edges_cut)} edges not shown"
            g.node("cut", html_label([note]), **STYLE["note"])
            for dst in cut_targets:
                g.edge("cut", self.ids[dst], style="dashed", color="#b03030")
        if self.show_grads:
            g.node("legend", self.scale.legend_label(), shape="plaintext", fontsize="9")
        return g
