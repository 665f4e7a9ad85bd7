"""``tinygrad-conv export``: a checkpoint in, an ONNX file and a one-line summary out (real subprocesses)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="ONNX export needs the optional 'onnx' extra")

from tinygrad_conv import models, optim  # noqa: E402
from tinygrad_conv.checkpoint import save_checkpoint  # noqa: E402


def _cli(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tinygrad_conv.cli", "export", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    d = tmp_path_factory.mktemp("run")
    model = models.lenet5(rng=3)
    save_checkpoint(d / "checkpoint.npz", model, optim.SGD(model.parameters(), lr=0.1), epoch=0, history=[],
                    config={"model": "lenet5", "dataset": "mnist-sample", "seed": 3})
    return d, model


def test_export_writes_the_checkpoint_weights(checkpoint, tmp_path):
    run_dir, model = checkpoint
    proc = _cli(str(run_dir), "--out", "m.onnx", "--opset", "18", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    first, second = proc.stdout.splitlines()
    assert first.startswith("wrote m.onnx: 12 nodes (Relu 4, Gemm 3, Conv 2, MaxPool 2, Flatten 1), "
                            "61,706 parameters, ")
    assert first.endswith(" kB (opset 18)") and "Netron" in second
    proto = onnx.load(str(tmp_path / "m.onnx"))
    assert proto.opset_import[0].version == 18
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in proto.graph.initializer}
    np.testing.assert_array_equal(inits["fc3.weight"], model.fc3.weight.data)


def test_fixed_batch(checkpoint, tmp_path):
    proc = _cli(str(run_dir := checkpoint[0]), "--out", "m.onnx", "--fixed-batch", "3", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    dims = onnx.load(str(tmp_path / "m.onnx")).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims] == [3, 1, 28, 28] and run_dir.is_dir()


@pytest.mark.parametrize("args, message", [
    (["missing.npz"], "tinygrad-conv export: load_checkpoint: no checkpoint at missing.npz"),
    (["RUN", "--opset", "5"], "tinygrad-conv export: opset must be in [13, "),
    (["RUN", "--input-shape", "1,x,28"], "--input-shape must be integers C,H,W, got '1,x,28'"),
])
def test_errors_are_one_line(checkpoint, args, message, tmp_path):
    args = [str(checkpoint[0]) if a == "RUN" else a for a in args]
    proc = _cli(*args, cwd=tmp_path)
    assert proc.returncode == 2
    assert message in proc.stderr and len(proc.stderr.splitlines()) == 1
    assert not (tmp_path / "model.onnx").exists()
