"""Computation-graph pictures: escaping, rendering with the real `dot`, gradients, JSON, CLI."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from extras import needs_dot
from graph_helpers import SVG, Dot, dot_of, plain_mlp, recorded_ops, seed_loss, tensor_nodes, text

import tinygrad_conv as tg
from tinygrad_conv import optim
from tinygrad_conv.checkpoint import save_checkpoint
from tinygrad_conv.cli import main as cli_main
from tinygrad_conv.models import get_model
from tinygrad_conv.run import write_model_graph
from tinygrad_conv.viz import (
    GraphvizNotFoundError,
    render,
    retain_all_grads,
    to_dot,
    to_json,
)
from tinygrad_conv.viz.graph_style import BAD_FILL

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


@needs_dot
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
MAGIC = [pytest.param(".svg", b"<?xml", marks=needs_dot),
         pytest.param(".png", b"\x89PNG\r\n\x1a\n", marks=needs_dot),
         pytest.param(".pdf", b"%PDF", marks=needs_dot),
         (".dot", b"digraph")]  # .dot needs no Graphviz


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
    assert cli_main(["graph", "--model", "mlp", "--out", str(out / "cli.svg")]) == 2
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
    y = (x * np.array([np.nan, 0.0], np.float32) + x * w).sum()  # a NaN constant: x's gradient is NaN
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
    y = (x[:, 0:1] * np.float32(np.nan)).sum()
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
@needs_dot
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


@needs_dot
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
    # a checkpoint (or its run directory) names its model and brings its weights, through load_model
    model = get_model("lenet5", rng=5)
    save_checkpoint(tmp_path / "checkpoint.npz", model, optim.SGD(model.parameters(), lr=0.1), 0, [],
                    config={"model": "lenet5"})
    out = tmp_path / "ck.dot"
    assert cli_main(["graph", "--checkpoint", str(tmp_path), "--out", str(out)]) == 0
    assert "conv1.weight (6, 1, 5, 5)" in Path(out).read_text()
    capsys.readouterr()
    assert cli_main(["graph", "--checkpoint", str(tmp_path / "missing.npz"), "--out", str(out)]) == 2
    assert "tinygrad-conv graph: load_checkpoint: no checkpoint at" in capsys.readouterr().err
    np.savez(tmp_path / "raw.npz", **{f"model.{k}": v for k, v in model.state_dict().items()})
    assert cli_main(["graph", "--checkpoint", str(tmp_path / "raw.npz"), "--out", str(out)]) == 2
    assert "format 'missing'" in capsys.readouterr().err  # the format check is no longer skipped


def _fan_in(steps: int):
    """One leaf feeds every step: y = x * x * x ... (the shape that made dot hang)."""
    x = tg.Tensor(np.ones(3, np.float32), requires_grad=True, name="x")
    y = x
    for _ in range(steps):
        y = y * x
    return y.sum()


def test_dense_fan_in_is_capped_for_dot():
    from collections import Counter

    from tinygrad_conv.viz.graph_dot import MAX_FANOUT

    src = to_dot(_fan_in(400), max_nodes=150).source
    edges = [ln.split("->") for ln in src.splitlines() if "->" in ln]
    fan = Counter(a.strip() for a, _ in edges)
    assert max(fan.values()) <= MAX_FANOUT  # the leaf keeps 8 edges; its other uses get short edges
    assert len(edges) <= 2 * 150 + 1 and "more nodes not shown (max_nodes=150)" in src
    assert src.count("_use") >= 140  # every further use is still drawn, as a copy of x beside it


@needs_dot
def test_dense_fan_in_renders_quickly_and_dot_has_a_timeout(tmp_path):
    import time

    loss = _fan_in(600)
    t0 = time.perf_counter()
    assert render(loss, tmp_path / "g.svg").stat().st_size > 0  # hung for minutes before the cap
    assert time.perf_counter() - t0 < 60
    with pytest.raises(RuntimeError, match=r"^render: dot -Tsvg did not finish within 0.001 s on a graph of "
                                           r"about \d+ nodes and \d+ edges; draw less with collapse="):
        render(loss, tmp_path / "h.svg", timeout=0.001)
    assert not (tmp_path / "h.svg").exists()
    assert not [f for f in tmp_path.iterdir() if f.name.endswith(".tmp")]
