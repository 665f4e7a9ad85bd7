"""models: shapes, sizes, names, reproducibility, and short training runs that lower the loss."""

import io

import numpy as np
import pytest

from tinygrad_conv import Tensor, models, nn, optim
from tinygrad_conv.autograd import toposort


def synthetic_digits(n, seed=0, classes=4):
    """(n, 1, 28, 28) float32 images: class c is a bright 10x10 square in quadrant c, plus noise."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    x = rng.normal(0, 0.3, (n, 1, 28, 28)).astype(np.float32)
    for i, c in enumerate(y):
        r, col = 2 + 14 * (c // 2), 2 + 14 * (c % 2)
        x[i, 0, r:r + 10, col:col + 10] += 1.0
    return x, y


@pytest.mark.parametrize("name,n_params", [("seed_cnn", 12_978), ("lenet5", 61_706), ("mlp", 235_146)])
def test_shapes_sizes_dtype_and_reproducibility(name, n_params):
    m = models.get_model(name, rng=0)
    out = m(Tensor(np.zeros((3, 1, 28, 28), np.float32)))
    assert out.shape == (3, 10) and out.dtype == np.float32
    assert m.num_parameters() == n_params
    same, other = models.get_model(name, rng=0).state_dict(), models.get_model(name, rng=1).state_dict()
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, same[k])
    assert any(not np.array_equal(v, other[k]) for k, v in m.state_dict().items())


def test_seed_cnn_structure_names_and_scopes():
    m = models.seed_cnn(rng=0)
    assert [n for n, _ in m.named_children()] == [
        "conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "flatten", "fc"]
    assert m.conv1.padding == "same" and m.conv1.weight.shape == (12, 1, 5, 5)
    assert m.conv2.weight.shape == (16, 12, 5, 5) and m.fc.weight.shape == (10, 16 * 7 * 7)
    x = Tensor(np.random.default_rng(0).standard_normal((2, 1, 28, 28)).astype(np.float32))
    loss = nn.CrossEntropyLoss()(m(x), np.array([1, 7]))
    by_op = {}
    for t in toposort(loss):
        if t.node is not None:
            by_op.setdefault(t.node.op.name, set()).add(t.node.scope)
    assert by_op["conv2d"] == {("conv1",), ("conv2",)}
    assert by_op["max_pool2d"] == {("pool1",), ("pool2",)}
    assert by_op["cross_entropy"] == {()}
    conv_nodes = [t.node for t in toposort(loss) if t.node is not None and t.node.op.name == "conv2d"]
    assert {inp.name for nd in conv_nodes for inp in nd.inputs if inp.name} == {
        "conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias"}
    assert m.scope_types()[("conv2",)] == ("Conv2d", 16 * 12 * 25 + 16)


def test_hooks_collect_feature_maps():
    m = models.seed_cnn(rng=0)
    maps = {}
    handles = [getattr(m, k).register_forward_hook(lambda mod, i, o, k=k: maps.__setitem__(k, o.shape))
               for k in ("conv1", "pool1", "conv2", "pool2")]
    m(Tensor(np.zeros((2, 1, 28, 28), np.float32)))
    assert maps == {"conv1": (2, 12, 28, 28), "pool1": (2, 12, 14, 14), "conv2": (2, 16, 14, 14),
                    "pool2": (2, 16, 7, 7)}
    for h in handles:
        h.remove()
    maps.clear()
    m(Tensor(np.zeros((1, 1, 28, 28), np.float32)))
    assert maps == {}


def test_variants_and_errors():
    le = models.lenet5(activation="tanh", pool="avg", rng=0)
    assert isinstance(le.act1, nn.Tanh) and isinstance(le.pool2, nn.AvgPool2d)
    assert le(Tensor(np.zeros((1, 1, 28, 28), np.float32))).shape == (1, 10)
    small = models.mlp(hidden=(32,), num_classes=4, rng=0)
    assert [n for n, _ in small.named_children()] == ["flatten", "fc1", "relu1", "fc2"]
    assert models.get_model("seed-cnn", num_classes=3, rng=0).fc.out_features == 3
    msg = "get_model: unknown model 'resnet'; available: lenet5, mlp, seed_cnn"
    with pytest.raises(ValueError, match=msg):
        models.get_model("resnet")
    with pytest.raises(ValueError, match="lenet5: activation must be one of"):
        models.lenet5(activation="gelu")
    with pytest.raises(ValueError, match="seed_cnn: input_size must be a multiple of 4"):
        models.seed_cnn(input_size=30)
    assert set(models.MODELS) == {"seed_cnn", "lenet5", "mlp"}


def test_checkpoint_round_trip_gives_same_outputs():
    a, b = models.lenet5(rng=0), models.lenet5(rng=1)
    buf = io.BytesIO()
    np.savez(buf, **a.state_dict())
    buf.seek(0)
    b.load_state_dict(np.load(buf, allow_pickle=False))
    x = Tensor(np.random.default_rng(2).standard_normal((2, 1, 28, 28)).astype(np.float32))
    np.testing.assert_array_equal(a(x).data, b(x).data)


def _train(model, opt, x, y, steps, batch):
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    for s in range(steps):
        i = (s * batch) % len(x)
        opt.zero_grad()
        loss = loss_fn(model(Tensor(x[i:i + batch])), y[i:i + batch])
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with_eval = loss_fn(model(Tensor(x)), y).item()
    return losses, with_eval


def test_mlp_training_lowers_loss():
    x, y = synthetic_digits(64)
    model = models.mlp(hidden=(64,), num_classes=4, rng=0)
    first = nn.CrossEntropyLoss()(model(Tensor(x)), y).item()
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses, final = _train(model, opt, x, y, steps=20, batch=16)
    assert final < 0.2 * first, (first, final, losses)
    assert (model(Tensor(x)).argmax(1) == y).mean() == 1.0


def test_seed_cnn_training_lowers_loss():
    x, y = synthetic_digits(16, seed=1)
    model = models.seed_cnn(num_classes=4, rng=0)
    first = nn.CrossEntropyLoss()(model(Tensor(x)), y).item()
    losses, final = _train(model, optim.Adam(model.parameters(), lr=3e-3), x, y, steps=6, batch=8)
    assert final < 0.5 * first, (first, final, losses)
    assert all(p.dtype == np.float32 for p in model.parameters())
