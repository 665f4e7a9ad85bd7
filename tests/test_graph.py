"""Computation-graph pictures: DOT structure, escaping, rendering with the real `dot`, JSON, CLI."""

from __future__ import annotations

import html
import json
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import tinygrad_conv as tg
from tinygrad_conv import functional as F
from tinygrad_conv.autograd.tape import name_scope, toposort
from tinygrad_conv.cli import main as cli_main
from tinygrad_conv.models import get_model
from tinygrad_conv.viz import (
    GraphvizNotFoundError,
    model_graph_root,
    render,
    retain_all_grads,
    to_dot,
    to_json,
    write_model_graph,
)
from tinygrad_conv.viz.graph_style import BAD_FILL

SVG = "{http://www.w3.org/2000/svg}"


# ---- a small parser for the DOT text to_dot writes (one statement per line) -----------------------
def _attrs(s: str) -> dict[str, str]:
    out, i = {}, 0
    while True:
        m = re.compile(r"\s*(\w+)=").match(s, i)
        if not m:
            return out
        key, i = m.group(1), m.end()
        if s[i] == "<":  # HTML-like label: balanced angle brackets
            depth, j = 0, i
            while True:
                depth += {"<": 1, ">": -1}.get(s[j], 0)
                if depth == 0:
                    break
                j += 1
            out[key], i = s[i:j + 1], j + 1
        elif s[i] == '"':
            j = i + 1
            while s[j] != '"':
                j += 2 if s[j] == "\\" else 1
            out[key], i = s[i + 1:j], j + 1
        else:
            m = re.compile(r"[^\s\]]+").match(s, i)
            out[key], i = m.group(0), m.end()


class Dot:
    def __init__(self, source: str) -> None:
        self.nodes: dict[str, dict[str, str]] = {}
        self.edges: list[tuple[str, str, dict[str, str]]] = []
        self.cluster_of: dict[str, tuple[str, ...]] = {}  # node -> labels of enclosing clusters
        self.clusters: list[str] = []
        stack: list[str] = []
        for line in source.splitlines()[1:-1]:
            s = line.strip()
            if m := re.fullmatch(r"subgraph (\w+) \{", s):
                stack.append(m.group(1))
            elif s == "}":
                stack.pop()
            elif m := re.fullmatch(r"(\w+) -> (\w+)(?: \[(.*)\])?", s):
                self.edges.append((m.group(1), m.group(2), _attrs(m.group(3) or "")))
            elif (m := re.fullmatch(r"(\w+) \[(.*)\]", s)) and m.group(1) not in ("graph", "node", "edge"):
                self.nodes[m.group(1)] = _attrs(m.group(2))
                self.cluster_of[m.group(1)] = tuple(stack)
            elif stack and "label=" in s:  # a cluster's own attributes
                self.clusters.append(text(_attrs(s)["label"]))
                stack[-1] = self.clusters[-1]

    def label(self, node: str) -> str:
        return text(self.nodes[node]["label"])


def text(label: str) -> str:
    """Visible text of an HTML-like label (tags become spaces)."""
    body = label[1:-1] if label.startswith("<") else label
    return " ".join(html.unescape(re.sub(r"<[^>]*>", " ", body)).split())


def dot_of(root, **kw) -> Dot:
    return Dot(to_dot(root, **kw).source)


def tensor_nodes(d: Dot) -> list[str]:
    return [n for n in d.nodes if re.fullmatch(r"n\d+", n)]


# ---- graphs to draw ---------------------------------------------------------------------------------
def plain_mlp(name1: str = "body.fc1.weight", scope1: str = "fc1", x_grad: bool = False):
    rng = np.random.default_rng(0)
    x = tg.Tensor(rng.standard_normal((4, 3)).astype(np.float32), requires_grad=x_grad, name="x")
    w1 = tg.Tensor(rng.standard_normal((5, 3)).astype(np.float32), requires_grad=True, name=name1)
    b1 = tg.Tensor(np.zeros(5, np.float32), requires_grad=True, name="body.fc1.bias")
    w2 = tg.Tensor(rng.standard_normal((2, 5)).astype(np.float32), requires_grad=True, name="body.fc2.weight")
    with name_scope("body"):
        with name_scope(scope1):
            h = F.linear(x, w1, b1).relu()
        with name_scope("fc2"):
            o = F.linear(h, w2)
    loss = (o * o).mean() * 0.5
    return loss, (x, w1, b1, w2)


def seed_loss(grads: bool = False, seed: int = 0):
    model = get_model("seed_cnn", rng=seed)
    return model, model_graph_root(model, batch=2, grads=grads)


def recorded_ops(root) -> list:
    return [t for t in toposort(root) if t.node is not None]


# ---- structure ------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [lambda: plain_mlp()[0], lambda: seed_loss()[1]], ids=["plain", "seed_cnn"])
def test_node_and_edge_counts_equal_the_tape(make):
    root = make()
    d = dot_of(root)
    ops = recorded_ops(root)
    op_nodes = [n for n in tensor_nodes(d)
                if d.nodes[n]["shape"] == "box" and "rounded" in d.nodes[n]["style"]]
    assert len(op_nodes) == len(ops)
    assert len(d.edges) == sum(len(t.node.inputs) for t in ops)
    leaves = {id(i) for t in ops for i in t.node.inputs if i.node is None}
    assert len(tensor_nodes(d)) == len(ops) + len(leaves)
    # every edge joins drawn nodes; the root is n0 and marked with a double border
    assert all(a in d.nodes and b in d.nodes for a, b, _ in d.edges)
    assert d.nodes["n0"]["peripheries"] == "2"


def test_labels_carry_ops_shapes_and_parameter_names():
    model, loss = seed_loss()
    d = dot_of(loss, module=model)
    labels = [d.label(n) for n in tensor_nodes(d)]
    for name, p in model.named_parameters():
        assert f"{name} {p.shape}" in labels, name
    assert "conv1.weight (12, 1, 5, 5)" in labels
    assert any(lab.startswith("conv2d stride=1 padding=same (2, 12, 28, 28)") for lab in labels)
    assert any(lab.startswith("max_pool2d") and "(2, 16, 7, 7)" in lab for lab in labels)
    assert "images (2, 1, 28, 28)" in labels
    assert "labels (2,) int64" in labels  # dtypes shown where they differ from the usual float32
    assert "float32 unless noted" in text(to_dot(loss).graph_attr["label"])
    assert d.label("n0").startswith("cross_entropy") and "loss" in d.label("n0")
    kinds = {d.nodes[n]["fillcolor"] for n in tensor_nodes(d) if d.label(n).startswith(("images", "conv1.w"))}
    assert len(kinds) == 2  # inputs and parameters look different


def test_clusters_match_modules():
    model, loss = seed_loss()
    d = dot_of(loss, module=model)
    j = to_json(loss, module=model)
    mods = dict(model.named_modules())
    expected = {f"{n}: {type(m).__name__} ({m.num_parameters():,} params)".replace("(1 params)", "(1 param)")
                for n, m in mods.items() if n}
    assert set(d.clusters) == expected
    for node in j["nodes"]:
        if node["kind"] == "op":
            path = d.cluster_of[node["id"]]
            assert [c.split(":")[0] for c in path] == [".".join(node["scope"][:k + 1])
                                                     for k in range(len(node["scope"]))]
    # parameters sit in their module's box; inputs outside every box
    for name, _ in model.named_parameters():
        nid = next(n for n in tensor_nodes(d) if d.label(n).startswith(name + " "))
        assert d.cluster_of[nid][-1].split(":")[0] == name.rsplit(".", 1)[0]
    nid = next(n for n in tensor_nodes(d) if d.label(n).startswith("images"))
    assert d.cluster_of[nid] == ()


def test_clusters_without_a_module_use_scope_names():
    loss, _ = plain_mlp()
    d = dot_of(loss)
    assert d.clusters == ["body", "body.fc2", "body.fc1"]
    nid = next(n for n in tensor_nodes(d) if d.label(n).startswith("body.fc1.weight"))
    assert d.cluster_of[nid] == ("body", "body.fc1")
    # a leaf that requires grad but is named outside the module (an input) stays outside
    d = dot_of(plain_mlp(x_grad=True)[0])
    nid = next(n for n in tensor_nodes(d) if d.label(n).startswith("x (4, 3)"))
    assert d.cluster_of[nid] == ()


def test_real_dot_parses_the_same_structure():
    model, loss = seed_loss()
    d = dot_of(loss, module=model)
    out = subprocess.run(["dot", "-Tjson"], input=to_dot(loss, module=model).source.encode(),
                         capture_output=True, check=True).stdout
    g = json.loads(out)
    names = [o["name"] for o in g["objects"]]
    assert sorted(n for n in names if re.fullmatch(r"n\d+", n)) == sorted(tensor_nodes(d))
    assert sum(n.startswith("cluster_") for n in names) == len(d.clusters)
    assert len(g["edges"]) == len(d.edges)


def test_collapse_draws_modules_as_single_nodes():
    model, loss = seed_loss()
    full, c0 = dot_of(loss, module=model), dot_of(loss, module=model, collapse=0)
    assert len(c0.nodes) < len(full.nodes)
    assert c0.clusters == []
    labels = [c0.label(n) for n in tensor_nodes(c0)]
    conv1 = next(lab for lab in labels if lab.startswith("conv1: Conv2d"))
    assert "in (2, 1, 28, 28)" in conv1 and "out (2, 12, 28, 28)" in conv1 and "312 params" in conv1
    assert not any("weight" in lab for lab in labels)  # parameters folded into their module
    top = [n for n, _ in model.named_children()]
    assert len(tensor_nodes(c0)) == len(top) + 3  # + images, labels, the loss
    # collapsing below the model's depth changes nothing
    assert dot_of(loss, module=model, collapse=1).nodes == full.nodes


def test_collapse_nested_scopes_without_module():
    loss, _ = plain_mlp()
    c1 = dot_of(loss, collapse=1)
    assert c1.clusters == ["body"]
    groups = [c1.label(n) for n in tensor_nodes(c1) if c1.nodes[n]["shape"] == "box3d"]
    assert sorted(g.split(" ")[0] for g in groups) == ["body.fc1", "body.fc2"]
    fc1 = next(g for g in groups if g.startswith("body.fc1"))
    assert "in (4, 3)" in fc1 and "out (4, 5)" in fc1 and "20 params" in fc1  # 15 + 5, no module given
    c0 = dot_of(loss, collapse=0)
    assert len(tensor_nodes(c0)) < len(tensor_nodes(c1)) < len(tensor_nodes(dot_of(loss)))
    # a grad-requiring input is not folded into the module that reads it
    c0 = dot_of(plain_mlp(x_grad=True)[0], collapse=0)
    body = next(c0.label(n) for n in tensor_nodes(c0) if c0.label(n).startswith("body "))
    assert "in (4, 3)" in body and "30 params" in body  # 15 + 5 + 10
    assert any(c0.label(n) == "x (4, 3)" for n in tensor_nodes(c0))


def test_max_nodes_cuts_with_a_visible_note():
    loss, _ = plain_mlp()
    total = len(tensor_nodes(dot_of(loss)))
    d = dot_of(loss, max_nodes=5)
    assert tensor_nodes(d) == [f"n{k}" for k in range(5)]
    note = d.label("cut")
    assert f"{total - 5} more nodes not shown" in note and "max_nodes=5" in note
    assert any(a == "cut" for a, _, _ in d.edges)
    assert "cut" not in dot_of(loss, max_nodes=None).nodes


def test_deterministic_output():
    src = [to_dot(seed_loss(seed=3)[1], show_grads=True).source for _ in range(2)]
    assert src[0] == src[1]
    _, loss = seed_loss(grads=True)
    assert to_dot(loss, show_grads=True).source == to_dot(loss, show_grads=True).source


def test_to_dot_is_a_pure_reader():
    loss, params = plain_mlp()
    loss.backward(retain_graph=True)
    tensors = list(toposort(loss))
    before = [(t.grad.copy() if t.grad is not None else None, t._retain, t.node and t.node.saved,
               t.node and t.node.freed, t.name) for t in tensors]
    to_dot(loss, show_grads=True, collapse=0)
    to_json(loss)
    after = [(t.grad, t._retain, t.node and t.node.saved, t.node and t.node.freed, t.name) for t in tensors]
    for b, a in zip(before, after):
        assert (b[0] is None and a[0] is None) or np.array_equal(b[0], a[0])
        assert b[1] == a[1] and b[2] is a[2] and b[3] == a[3] and b[4] == a[4]
    loss.backward()  # the saved values are still there


# ---- escaping ------------------------------------------------------------------------------------
HOSTILE = [
    'quote"s',
    "<b>bold</b> & <",
    "brace{s}|pipe|",
    "new\nline",
    "back\\slash\\N\\G\\",
    '"]; n0 -> n1 [label="pwned"]; x [label="',
    "</FONT></TD></TR></TABLE>>]",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_render_with_dot(name, tmp_path):
    loss, _ = plain_mlp(name1=name, scope1=name)
    loss.name = name
    d = dot_of(loss)
    assert len(tensor_nodes(d)) == len(tensor_nodes(dot_of(plain_mlp()[0])))  # nothing injected
    assert len(d.edges) == len(dot_of(plain_mlp()[0]).edges)
    path = render(loss, tmp_path / "g.svg")
    texts = "\n".join(t.text or "" for t in ET.parse(path).iter(SVG + "text"))
    visible = name.replace("\n", "\u21b5")
    assert f"{visible} (5, 3)" in texts  # the parameter
    assert f"body.{visible}" in texts  # the module box


# ---- rendering ------------------------------------------------------------------------------------
MAGIC = [(".svg", b"<?xml"), (".png", b"\x89PNG\r\n\x1a\n"), (".pdf", b"%PDF"), (".dot", b"digraph")]


@pytest.mark.parametrize("suffix,magic", MAGIC)
def test_render_formats(tmp_path, suffix, magic):
    model, loss = seed_loss(grads=True)
    path = render(loss, tmp_path / f"graph{suffix}", module=model, show_grads=True)
    data = path.read_bytes()
    assert data.startswith(magic)
    if suffix == ".svg":
        svg = ET.parse(path).getroot()
        assert svg.tag == SVG + "svg"
        assert any("conv1.weight (12, 1, 5, 5)" in (t.text or "") for t in svg.iter(SVG + "text"))
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp files left


def test_render_rejects_unknown_format(tmp_path):
    loss, _ = plain_mlp()
    with pytest.raises(ValueError, match=r"^render: cannot tell the format"):
        render(loss, tmp_path / "graph.txt")
    assert list(tmp_path.iterdir()) == []
    assert render(loss, tmp_path / "graph.txt", format="dot").read_text().startswith("digraph")


def test_missing_dot_binary_is_one_clear_line(tmp_path, monkeypatch):
    empty = tmp_path / "empty_bin"
    empty.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    loss, _ = plain_mlp()
    for suffix in (".svg", ".png"):
        with pytest.raises(GraphvizNotFoundError) as ei:
            render(loss, out / f"graph{suffix}")
        msg = str(ei.value)
        assert isinstance(ei.value, RuntimeError) and "\n" not in msg
        assert "apt-get install graphviz" in msg and "brew install graphviz" in msg and ".dot" in msg
    assert list(out.iterdir()) == []  # nothing half-written
    assert render(loss, out / "graph.dot").read_text().startswith("digraph")
    with pytest.warns(RuntimeWarning, match="wrote"):
        written = write_model_graph(get_model("mlp", hidden=(8,), rng=0), out / "model.svg")
    assert written == out / "model.dot" and written.exists()
    assert cli_main(["graph", "--model", "mlp", "--out", str(out / "cli.svg")]) == 1
    assert not (out / "cli.svg").exists()


# ---- scale, gradients, json ---------------------------------------------------------------------------
def test_ten_thousand_op_chain():
    x = tg.Tensor(np.ones(3, np.float32), requires_grad=True, name="x")
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y = y.sum()
    src = to_dot(y, max_nodes=None).source
    assert src.count("<B>mul</B>") == 10_000
    assert src.count(" -> ") == 20_001
    cut = Dot(to_dot(y).source)
    assert len(tensor_nodes(cut)) == 500 and "19,502 more nodes not shown" in cut.label("cut")
    assert len(to_json(y)["nodes"]) == 20_002


def test_show_grads_colours_and_flags_nan():
    x = tg.Tensor(np.array([0.0, 4.0], np.float32), requires_grad=True, name="x")
    w = tg.Tensor(np.array([1.0, 2.0], np.float32), requires_grad=True, name="w")
    y = (x.sqrt() * 0.0 + x * w).sum()  # d sqrt(x)/dx at 0 is inf; times 0 gives NaN
    retain_all_grads(y)
    with np.errstate(all="ignore"):
        y.backward()
    d = dot_of(y, show_grads=True)
    node = {d.label(n).split(" ")[0]: n for n in tensor_nodes(d)}
    assert d.nodes[node["x"]]["fillcolor"] == BAD_FILL and "|g|=NaN" in d.label(node["x"])
    assert d.nodes[node["w"]]["fillcolor"] not in (BAD_FILL, "#ffffff")
    assert "|g|=" in d.label(node["w"]) and "/ |w|=2.24e+00" in d.label(node["w"])
    legend = text(d.nodes["legend"]["label"])
    assert "log10 |grad|" in legend and "NaN/Inf" in legend
    assert "legend" not in dot_of(y).nodes
    # without retained grads, op nodes say so
    z = (x * w).sum()
    z.backward()
    assert "no .grad" in dot_of(z, show_grads=True).label("n1")


def test_retain_all_grads_marks_every_op():
    loss, _ = plain_mlp()
    assert retain_all_grads(loss) == len(recorded_ops(loss))
    loss.backward()
    assert all(t.grad is not None for t in recorded_ops(loss))


def test_to_json_round_trips():
    x = tg.Tensor(np.array([[0.0, 4.0]], np.float32), requires_grad=True, name="x")
    y = (x[:, 0:1].sqrt() * 0.0).sum()
    with np.errstate(all="ignore"):
        y.backward()
    j = to_json(y)
    assert json.loads(json.dumps(j, allow_nan=False)) == j
    assert len(j["nodes"]) == len(tensor_nodes(dot_of(y))) and len(j["edges"]) == len(dot_of(y).edges)
    xn = next(n for n in j["nodes"] if n["name"] == "x")
    assert xn["kind"] == "parameter" and xn["grad_status"] == "nan" and xn["grad_norm"] is None
    assert xn["weight_norm"] == 4.0 and xn["shape"] == [1, 2] and xn["dtype"] == "float32"
    ops = [n["op"] for n in j["nodes"] if n["kind"] == "op"]
    assert ops[0] == "sum" and "getitem" in ops
    model, loss = seed_loss(grads=True)
    j = to_json(loss, module=model)
    conv = next(n for n in j["nodes"] if n["op"] == "conv2d")
    assert conv["scope"] == ["conv2"] and conv["grad_status"] == "finite" and conv["grad_norm"] > 0
    assert json.loads(json.dumps(j, allow_nan=False)) == j


def test_bad_arguments():
    loss, _ = plain_mlp()
    with pytest.raises(TypeError, match=r"^to_dot: root must be a Tensor"):
        to_dot(np.ones(3))
    with pytest.raises(ValueError, match=r"^to_dot: collapse"):
        to_dot(loss, collapse=-1)
    with pytest.raises(ValueError, match=r"^to_dot: max_nodes"):
        to_dot(loss, max_nodes=0)


# ---- model helpers and CLI ------------------------------------------------------------------------
def test_write_model_graph_leaves_the_model_alone(tmp_path):
    model = get_model("seed_cnn", rng=0)
    model.train()
    model.fc.eval()  # a mixed state must survive
    grads = [np.full(p.shape, 7.0, np.float32) for p in model.parameters()]
    for p, g in zip(model.parameters(), grads):
        p.grad = g
    state = {k: v.copy() for k, v in model.state_dict().items()}
    path = write_model_graph(model, tmp_path / "graph.svg", grads=True)
    assert ET.parse(path).getroot().tag == SVG + "svg"
    assert model.training and model.conv1.training and not model.fc.training
    assert all(p.grad is g for p, g in zip(model.parameters(), grads))
    assert all(np.array_equal(v, state[k]) for k, v in model.state_dict().items())


def test_cli_graph(tmp_path, capsys):
    out = tmp_path / "g.svg"
    assert cli_main(["graph", "--out", str(out)]) == 0
    assert "conv1.weight (12, 1, 5, 5)" in out.read_text()
    out = tmp_path / "g.dot"
    argv = ["graph", "--model", "mlp", "--grads", "--collapse", "0", "--batch", "3", "--out", str(out)]
    assert cli_main(argv) == 0
    d = Dot(out.read_text())
    assert any(d.label(n).startswith("fc1: Linear") and "in (3, 784)" in d.label(n) for n in tensor_nodes(d))
    assert "legend" in d.nodes
    # a checkpoint names its model and brings its weights
    model = get_model("lenet5", rng=5)
    arrays = {f"model.{k}": v for k, v in model.state_dict().items()}
    np.savez(tmp_path / "ck.npz", **arrays, **{"config.model": np.array("lenet5")})
    out = tmp_path / "ck.dot"
    assert cli_main(["graph", "--checkpoint", str(tmp_path / "ck.npz"), "--out", str(out)]) == 0
    assert "conv1.weight (6, 1, 5, 5)" in Path(out).read_text()
    assert cli_main(["graph", "--checkpoint", str(tmp_path / "missing.npz"), "--out", str(out)]) == 1
    assert "graph: cannot read checkpoint" in capsys.readouterr().err
