"""Computation-graph pictures: DOT structure, clusters, collapse, determinism (helpers: graph_helpers)."""

from __future__ import annotations

import json
import re
import subprocess

import numpy as np
import pytest
from extras import needs_dot
from graph_helpers import dot_of, plain_mlp, recorded_ops, seed_loss, tensor_nodes, text

from tinygrad_conv.autograd import toposort
from tinygrad_conv.viz import to_dot, to_json


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


@needs_dot
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
