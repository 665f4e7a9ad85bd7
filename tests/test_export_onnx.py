"""ONNX export: checked by onnx.checker (inside export) and reproduced by ONNX Runtime."""

from __future__ import annotations

import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="ONNX export needs the optional 'onnx' extra")
ort = pytest.importorskip("onnxruntime", reason="the export tests run the files with ONNX Runtime")

from export_models import BNNet, EveryOp  # noqa: E402

import tinygrad_conv.functional as F  # noqa: E402
from tinygrad_conv import models, nn  # noqa: E402
from tinygrad_conv.autograd.registry import REGISTRY  # noqa: E402
from tinygrad_conv.export import ExportError, export, exportable_ops  # noqa: E402
from tinygrad_conv.export.trace import record  # noqa: E402
from tinygrad_conv.tensor import Tensor  # noqa: E402


def _x(n: int, shape: tuple[int, ...], seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, *shape)).astype(np.float32)


def _ours(model, x: np.ndarray) -> list[np.ndarray]:
    model.eval()
    out = model(Tensor(x))
    return [o.data for o in (out if isinstance(out, tuple) else (out,))]


def _theirs(path, x: np.ndarray) -> list[np.ndarray]:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})


MODELS = {
    "seed_cnn": (lambda: models.seed_cnn(rng=0), (1, 28, 28)),
    "lenet5": (lambda: models.lenet5(rng=0), (1, 28, 28)),
    "lenet5-tanh-avg": (lambda: models.lenet5(rng=0, activation="tanh", pool="avg"), (1, 28, 28)),
    "mlp": (lambda: models.mlp(rng=0), (1, 28, 28)),
    "batchnorm": (lambda: BNNet(), (1, 8, 8)),
    "every-op": (lambda: EveryOp(), (2, 8, 8)),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_onnxruntime_reproduces_forward_at_two_batch_sizes(name, tmp_path):
    build, shape = MODELS[name]
    model = build()
    path = tmp_path / f"{name}.onnx"
    res = export(model, _x(3, shape), path)
    assert path.stat().st_size == res.size_bytes
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    for n in (3, 5):  # 5: the batch axis is symbolic
        x = _x(n, shape, seed=n)
        for ours, theirs in zip(_ours(model, x), _theirs(path, x), strict=True):
            assert theirs.shape == ours.shape
            np.testing.assert_allclose(theirs, ours, rtol=1e-4, atol=2e-5)


def test_every_exportable_op_is_in_the_every_op_model():
    trace = record(EveryOp(), [_x(2, (2, 8, 8))])
    recorded = {t.node.op.name for t in trace.order if t.node is not None}
    assert recorded == set(exportable_ops())


def test_exportable_ops_come_from_the_registry():
    core = {"conv2d", "max_pool2d", "avg_pool2d", "matmul", "add", "mul", "relu", "sigmoid", "tanh",
            "reshape", "transpose", "softmax", "log_softmax", "concatenate", "pad", "sum", "mean", "max",
            "getitem"}
    assert core <= set(exportable_ops())
    # losses need targets, backward kernels belong to training: neither goes into a model file
    assert not {"cross_entropy", "nll_loss", "cross_entropy_grad", "conv2d_input_grad", "conv2d_weight_grad",
                "max_pool2d_grad", "avg_pool2d_grad", "getitem_grad"} & set(exportable_ops())
    assert all(callable(REGISTRY.get(n).onnx) for n in exportable_ops())


@pytest.mark.parametrize("opset", [13, 18, 21])
def test_other_opsets(opset, tmp_path):
    model = EveryOp()
    x = _x(2, (2, 8, 8))
    res = export(model, x, tmp_path / "m.onnx", opset=opset)
    assert res.model.opset_import[0].version == opset
    for ours, theirs in zip(_ours(model, x), _theirs(tmp_path / "m.onnx", x)):
        np.testing.assert_allclose(theirs, ours, rtol=1e-4, atol=2e-5)


def test_names_follow_scopes_and_state_dict(tmp_path):
    model = models.seed_cnn(rng=0)
    res = export(model, _x(2, (1, 28, 28)), tmp_path / "m.onnx")
    g = res.model.graph
    assert [n.name for n in g.node] == ["conv1/conv2d", "relu1/relu", "pool1/max_pool2d", "conv2/conv2d",
                                        "relu2/relu", "pool2/max_pool2d", "flatten/reshape", "fc/linear"]
    assert [n.op_type for n in g.node] == ["Conv", "Relu", "MaxPool", "Conv", "Relu", "MaxPool", "Flatten",
                                           "Gemm"]
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in g.initializer}
    assert list(inits) == list(model.state_dict())
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(inits[k], v)
    assert [i.name for i in g.input] == ["input"] and [o.name for o in g.output] == ["output"]
    assert g.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert res.num_parameters == model.num_parameters() == 12978
    assert res.summary().startswith(f"wrote {tmp_path / 'm.onnx'}: 8 nodes (")


def test_conv_attributes(tmp_path):
    conv = nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2,
                     rng=0)
    res = export(conv, _x(2, (4, 9, 9)), tmp_path / "c.onnx")
    (node,) = res.model.graph.node
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    assert attrs == {"kernel_shape": [3, 2], "strides": [2, 1], "pads": [1, 0, 1, 0], "dilations": [1, 2],
                     "group": 2}


def test_batchnorm_is_one_node_and_mode_is_restored(tmp_path):
    model = BNNet().train()
    model.bn1.eval()  # a frozen layer inside a training model
    res = export(model, _x(3, (1, 8, 8)), tmp_path / "bn.onnx")
    assert model.training and model.bn.training and not model.bn1.training  # put back as it was
    types = [n.op_type for n in res.model.graph.node]
    assert types.count("BatchNormalization") == 2 and "Dropout" not in types and "Mul" not in types
    bn = next(n for n in res.model.graph.node if n.name == "bn/batchnorm2d")
    assert list(bn.input[1:]) == ["bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"]
    assert res.num_parameters == model.num_parameters()  # running stats are buffers, not parameters


def test_batchnorm_without_running_stats_exports_its_ops(tmp_path):
    model = BNNet()
    model.bn.track_running_stats = False  # eval then normalises with batch statistics: ops, not a node
    x = _x(4, (1, 8, 8))
    res = export(model, x, tmp_path / "bn.onnx")
    assert [n.op_type for n in res.model.graph.node].count("BatchNormalization") == 1  # only bn1
    np.testing.assert_allclose(_theirs(tmp_path / "bn.onnx", x)[0], _ours(model, x)[0], rtol=1e-4, atol=2e-5)


def test_fixed_batch(tmp_path):
    model = models.mlp(rng=0)
    res = export(model, _x(2, (1, 28, 28)), tmp_path / "m.onnx", dynamic_batch=False)
    assert res.model.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 2
    with pytest.raises(Exception, match="(?i)dimension|shape"):
        _theirs(tmp_path / "m.onnx", _x(3, (1, 28, 28)))


def test_function_with_two_inputs_and_outputs(tmp_path):
    w = nn.Parameter(np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32), name="w")

    def fn(a, b):
        h = F.matmul(a, w)
        return F.relu(h) + b, F.sum(h * h, axis=1)

    a, b = _x(2, (4,)), _x(2, (3,), seed=2)
    res = export(fn, (a, b), tmp_path / "f.onnx", input_names=["a", "b"], output_names=["y", "norm2"])
    assert res.model.graph.initializer[0].name == "w"  # then the ReduceSum axes
    sess = ort.InferenceSession(str(tmp_path / "f.onnx"), providers=["CPUExecutionProvider"])
    y, n2 = sess.run(["y", "norm2"], {"a": a, "b": b})
    ours = fn(Tensor(a), Tensor(b))
    np.testing.assert_allclose(y, ours[0].data, rtol=1e-5)
    np.testing.assert_allclose(n2, ours[1].data, rtol=1e-5)


class WithLoss(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3, rng=0)
        self.loss = nn.CrossEntropyLoss()

    def forward(self, x):
        return self.loss(self.fc(x), np.array([0, 2]))


@pytest.mark.parametrize("fn, message", [
    (WithLoss(), r"op 'cross_entropy' in scope loss has no ONNX converter; exportable ops: abs, acos, add"),
    (lambda x: F.where(x.data.sum(0) > 0, x, 0 * x), r"op 'where' in scope \(model root\) reads a constant "
                                                     r"of shape \(4,\) computed from the input"),
    (lambda x: x[np.array([0, 0])], r"op 'getitem' in scope \(model root\): getitem: only basic indexing"),
    (lambda x: x if x.data.sum() > 0 else -x, r"recorded ops change with the input values"),
    (lambda x: x * Tensor(np.ones(x.shape, np.float32)), r"op 'mul' in scope \(model root\) reads a constant "
                                                         r"of shape \(2, 4\) that follows the batch size"),
])
def test_errors_name_the_op_and_scope(fn, message, tmp_path):
    path = tmp_path / "bad.onnx"
    path.write_bytes(b"old")
    x = np.abs(_x(2, (4,))) + 0.1
    with pytest.raises(ExportError, match=message):
        export(fn, x, path)
    assert path.read_bytes() == b"old"  # nothing half-written, the old file kept
    assert os.listdir(tmp_path) == ["bad.onnx"]


@pytest.mark.parametrize("kwargs, message", [
    ({"opset": 12}, r"opset must be in \[13, "),
    ({"input_names": ["a", "b"]}, r"need 1 distinct non-empty input names"),
    ({"input_names": ["x"], "output_names": ["x"]}, r"input and output names must be distinct"),
])
def test_bad_arguments(kwargs, message, tmp_path):
    with pytest.raises(ExportError, match=message):
        export(models.mlp(rng=0), _x(2, (1, 28, 28)), tmp_path / "m.onnx", **kwargs)


def test_batch_shaped_constant_is_fine_with_a_fixed_batch(tmp_path):
    x = _x(2, (4,))
    fn = lambda t: t * Tensor(np.full(t.shape, 2.0, np.float32))  # noqa: E731
    export(fn, x, tmp_path / "m.onnx", dynamic_batch=False)
    np.testing.assert_allclose(_theirs(tmp_path / "m.onnx", x)[0], 2.0 * x)


def test_integer_input_is_refused(tmp_path):
    with pytest.raises(ExportError, match=r"example input 0 has dtype int64 \(shape \(2, 3\)\)"):
        export(lambda x: x, np.zeros((2, 3), dtype=np.int64), tmp_path / "m.onnx")


def test_a_custom_op_exports_through_its_own_hook(tmp_path):
    from tinygrad_conv.autograd.registry import Op, Registry
    from tinygrad_conv.tensor import apply

    scratch = Registry()

    @scratch.register("softplus")
    class Softplus(Op):
        @staticmethod
        def forward(ctx, x):
            return np.logaddexp(0.0, x).astype(x.dtype)

        @staticmethod
        def vjp(ctx, g):
            return (g * ctx.inputs[0].sigmoid(),)

        @staticmethod
        def onnx(g, x):
            return g.op("Softplus", x)

    x = _x(3, (4,))
    export(lambda t: apply(Softplus, t) * 2.0, x, tmp_path / "sp.onnx")
    (got,) = _theirs(tmp_path / "sp.onnx", x)
    np.testing.assert_allclose(got, 2.0 * np.logaddexp(0.0, x), rtol=1e-5)
    assert "softplus" not in exportable_ops()  # the global registry only
