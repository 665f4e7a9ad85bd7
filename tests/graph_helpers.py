"""Shared by the graph tests: a small parser for the DOT text to_dot writes, and graphs to draw."""

from __future__ import annotations

import html
import re

import numpy as np

import tinygrad_conv as tg
from tinygrad_conv import functional as F
from tinygrad_conv.autograd import name_scope, toposort
from tinygrad_conv.models import get_model
from tinygrad_conv.run import model_graph_root
from tinygrad_conv.viz import to_dot

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
