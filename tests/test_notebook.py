"""examples/look_inside_cnn.ipynb is stored without outputs and runs top to bottom (nbclient + ipykernel)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "look_inside_cnn.ipynb"


def test_stored_without_outputs():
    nb = json.loads(NOTEBOOK.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert len(code) >= 10
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in code), \
        "strip the outputs before committing (the docs build executes the notebook)"


def test_notebook_runs(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat", reason="running the notebook needs the 'notebook' extra")
    nbclient = pytest.importorskip("nbclient", reason="running the notebook needs the 'notebook' extra")
    pytest.importorskip("ipykernel", reason="the notebook needs a Python kernel (the 'notebook' extra)")
    pytest.importorskip("onnx", reason="the notebook's last section exports to ONNX (the 'onnx' extra)")
    pytest.importorskip("matplotlib", reason="the notebook draws pictures (the 'viz' extra)")
    root = str(NOTEBOOK.parents[1])
    monkeypatch.setenv("PYTHONPATH", root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()

    def text(cell) -> str:
        return "".join(o.get("text", "") + "".join(o.get("data", {}).get("text/plain", ""))
                       for o in cell.outputs)

    outs = [text(c) for c in nb.cells if c.cell_type == "code"]
    everything = "\n".join(outs)
    assert "12,978 parameters" in everything
    rich = [o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    svg = [d for d in rich if "image/svg+xml" in d]
    assert len(svg) == 1 and "conv1" in svg[0]["image/svg+xml"]  # the graph, drawn inline
    assert everything.count(" ok\n") == 3 and "FAILED" not in everything  # three gradchecks
    acc = float(re.search(r"test accuracy after 2 epochs: ([\d.]+)%", everything).group(1))
    assert acc > 60.0  # 2 epochs on 1,000 digits reach ~85%; chance is 10%
    by_hand, by_layer = re.search(r"bias = (-?[\d.]+)\s+conv1 output = (-?[\d.]+)", everything).groups()
    assert by_hand == by_layer
    assert sum("image/png" in d for d in rich) == 5  # filters, maps, saliency, one output, norms
    diff = float(re.search(r"largest difference from our logits: ([\d.e+-]+)", everything).group(1))
    assert diff < 1e-4


def test_show_returns_the_graph_for_inline_display():
    import graphviz
    import numpy as np

    import tinygrad_conv.functional as F
    import tinygrad_conv.viz as viz
    from tinygrad_conv import models
    from tinygrad_conv.tensor import Tensor

    model = models.seed_cnn(rng=0)
    loss = F.cross_entropy(model(Tensor(np.zeros((2, 1, 28, 28), np.float32))), np.array([1, 2]))
    g = viz.show(loss, module=model, collapse=0)
    assert isinstance(g, graphviz.Digraph) and hasattr(g, "_repr_mimebundle_")  # Jupyter draws it
    assert "conv1" in g.source and "Conv2d" in g.source and "cross_entropy" in g.source
