"""nn: registration and naming, scopes, hooks, state_dict, PyTorch-layout weights, layers, BatchNorm, init."""

import io
import math

import numpy as np
import pytest

import tinygrad_conv as tc
from tinygrad_conv import Tensor, nn
from tinygrad_conv.autograd import toposort
from tinygrad_conv.nn import init


def arr(shape, k, s=0.5):
    """Deterministic test values (also used to make the PyTorch reference numbers below)."""
    n = int(np.prod(shape))
    return (np.sin(np.arange(n) * 1.3 + k) * s).reshape(shape).astype(np.float32)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, rng=0), nn.ReLU(), nn.MaxPool2d(2))
        self.flat = nn.Flatten()
        self.head = nn.Linear(8, 3, rng=1)

    def forward(self, x):
        return self.head(self.flat(self.features(x)))


# ---- registration, naming, walking ---------------------------------------------------------
def test_registration_order_and_dotted_names():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["features.0.weight", "features.0.bias", "head.weight", "head.bias"]
    assert [p.name for p in net.parameters()] == names
    assert [n for n, _ in net.named_modules()] == ["", "features", "features.0", "features.1", "features.2",
                                                   "flat", "head"]
    assert [n for n, _ in net.named_children()] == ["features", "flat", "head"]
    assert net.features[0].weight.shape == (2, 1, 3, 3) and net.head.weight.shape == (3, 8)
    assert net.num_parameters() == 2 * 9 + 2 + 24 + 3
    for p in net.parameters():
        assert isinstance(p, nn.Parameter) and p.requires_grad and p.dtype == np.float32
    mp = nn.module_path_map(net)
    assert mp[()] is net and mp[("features", "0")] is net.features[0]
    assert net.scope_types()[("features", "0")] == ("Conv2d", 20)
    assert net.scope_types()[("features",)] == ("Sequential", 20)


def test_first_root_call_names_parameters_and_submodule_does_not_clobber():
    lin = nn.Linear(2, 2, rng=0)
    assert [n for n, _ in lin.named_parameters()] == ["weight", "bias"] and lin.weight.name == "weight"
    outer = nn.Sequential(nn.Identity(), lin)
    outer(Tensor(np.ones((1, 2), np.float32)))  # first root call names every parameter
    assert lin.weight.name == "1.weight"
    list(lin.named_parameters())  # a registered submodule does not rename
    assert lin.weight.name == "1.weight"


def test_setattr_errors_and_replacement():
    m = nn.Linear(2, 3)
    with pytest.raises(TypeError, match="Linear: cannot assign ndarray to parameter 'weight'"):
        m.weight = np.zeros((3, 2))
    m.weight = nn.Parameter(np.zeros((3, 2), np.float32))
    assert np.all(m.weight.data == 0)

    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(np.zeros(1))

    with pytest.raises(AttributeError, match="super"):
        Bad()
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        m.nope  # noqa: B018


def test_scope_recorded_on_nodes():
    net = Net()
    x = Tensor(arr((2, 1, 4, 4), 0.5), requires_grad=True)
    loss = nn.CrossEntropyLoss()(net(x), np.array([0, 2]))
    scopes = {t.node.op.name: t.node.scope for t in toposort(loss) if t.node is not None}
    assert scopes["conv2d"] == ("features", "0")
    assert scopes["relu"] == ("features", "1")
    assert scopes["max_pool2d"] == ("features", "2")
    assert scopes["reshape"] == ("flat",)
    assert scopes["linear"] == ("head",)
    assert scopes["cross_entropy"] == ()  # root modules push nothing
    assert net.features[0].weight.name == "features.0.weight"
    # and the scope is popped again
    assert (Tensor(np.ones(2), requires_grad=True) * 2.0).node.scope == ()


def test_forward_hooks_and_removal():
    net = Net()
    seen = []
    h1 = net.features[0].register_forward_hook(lambda m, inp, out: seen.append((type(m).__name__, out.shape)))
    h2 = net.head.register_forward_hook(lambda m, inp, out: out * 0.0)  # a return value replaces the output
    y = net(Tensor(arr((2, 1, 4, 4), 0.5)))
    assert seen == [("Conv2d", (2, 2, 4, 4))] and np.all(y.data == 0)
    h1.remove()
    h2.remove()
    h2.remove()  # idempotent
    y = net(Tensor(arr((2, 1, 4, 4), 0.5)))
    assert len(seen) == 1 and np.any(y.data != 0)


def test_train_eval_zero_grad_repr():
    net = Net()
    assert net.training and net.features[1].training
    net.eval()
    assert not net.training and not net.features[1].training
    net.train()
    assert net.head.training
    net(Tensor(arr((1, 1, 4, 4), 0.1))).sum().backward()
    assert net.head.weight.grad is not None
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    r = repr(net)
    assert "(features): Sequential(" in r and "(0): Conv2d(1, 2, kernel_size=(3, 3)" in r
    assert "(head): Linear(in_features=8, out_features=3, bias=True)" in r


# ---- state_dict ----------------------------------------------------------------------------
def test_state_dict_round_trip_through_npz_in_place():
    a, b = Net(), Net()
    for p in b.parameters():
        p.data[...] = 0
    sd = a.state_dict()
    assert list(sd) == ["features.0.weight", "features.0.bias", "head.weight", "head.bias"]
    sd["head.bias"][...] = 7  # a copy: the model is untouched
    assert not np.any(a.head.bias.data == 7)
    buf = io.BytesIO()
    np.savez(buf, **a.state_dict())
    buf.seek(0)
    ref = b.head.weight.data
    b.load_state_dict(dict(np.load(buf, allow_pickle=False)))
    assert b.head.weight.data is ref  # in place: optimizer references stay valid
    for (k, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        np.testing.assert_array_equal(x, y, err_msg=k)
    x = Tensor(arr((2, 1, 4, 4), 0.5))
    np.testing.assert_array_equal(a(x).data, b(x).data)


def test_load_converts_dtype():
    m = nn.Linear(2, 2)
    m.load_state_dict({"weight": np.eye(2), "bias": np.array([1, 2])})  # float64 / int64 in
    assert m.weight.dtype == np.float32 and m.bias.dtype == np.float32
    np.testing.assert_array_equal(m.bias.data, [1.0, 2.0])


def test_strict_load_lists_every_bad_name_and_writes_nothing():
    m = Net()
    before = m.state_dict()
    sd = m.state_dict()
    del sd["head.bias"], sd["features.0.bias"]
    sd["extra.weight"] = np.zeros(1)
    sd["head.weight"] = np.zeros((3, 9))
    with pytest.raises(ValueError) as e:
        m.load_state_dict(sd)
    msg = str(e.value)
    assert msg.startswith("load_state_dict: Net: ")
    for name in ["head.bias", "features.0.bias", "extra.weight",
                 "head.weight: checkpoint (3, 9) vs model (3, 8)"]:
        assert name in msg
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    # non-strict skips missing/unexpected but still refuses a shape mismatch
    sd["head.weight"] = np.ones((3, 8))
    res = m.load_state_dict(sd, strict=False)
    assert sorted(res.missing_keys) == ["features.0.bias", "head.bias"]
    assert res.unexpected_keys == ["extra.weight"]
    assert np.all(m.head.weight.data == 1)


# PyTorch reference: torch 2.13 CPU, float32, this exact model
#   torch.nn.Sequential(Conv2d(1,2,3,padding=1), BatchNorm2d(2), ReLU(), MaxPool2d(2), Flatten(), Linear(8,3))
# loaded with TORCH_SD below, input x = arr((2,1,4,4), 0.5, 2.0); eval output; then train mode output,
# F.cross_entropy(out, [0, 2]), its conv weight / BN weight gradients and the updated running stats.
TORCH_SD = {
    "0.weight": arr((2, 1, 3, 3), 0.1), "0.bias": arr((2,), 0.2),
    "1.weight": np.array([1.2, 0.8], np.float32), "1.bias": np.array([0.1, -0.2], np.float32),
    "1.running_mean": np.array([0.05, -0.1], np.float32),
    "1.running_var": np.array([0.9, 1.3], np.float32), "1.num_batches_tracked": np.array(7),
    "5.weight": arr((3, 8), 0.3), "5.bias": arr((3,), 0.4),
}
TORCH_EVAL_OUT = [[1.6605896949768066, 0.2974507510662079, -1.1727426052093506],
                  [2.313300848007202, -0.867694616317749, -0.5181976556777954]]
TORCH_TRAIN_OUT = [[1.1675089597702026, 0.4043162167072296, -0.7995614409446716],
                   [1.5263501405715942, -0.37310782074928284, -0.28615719079971313]]
TORCH_LOSS = 1.2792569398880005
TORCH_CONV_GRAD = [[[[0.4199202060699463, 0.6322748064994812, -0.1694294512271881],
                     [-0.7719412446022034, 0.8108813762664795, 0.7049168348312378],
                     [-0.6282357573509216, 0.02383074164390564, 0.11284441500902176]]],
                   [[[-0.15986180305480957, -0.022356174886226654, 0.4342418909072876],
                     [-0.3074428141117096, -0.3252902030944824, 0.7153675556182861],
                     [-0.12803225219249725, -0.36922281980514526, 0.19580839574337006]]]]
TORCH_BN_WEIGHT_GRAD = [0.524213433265686, -0.33993542194366455]
TORCH_RUNNING = ([0.05110782012343407, -0.044085077941417694], [1.0210902690887451, 1.386405348777771], 8)


def test_loads_pytorch_layout_weights_and_matches_pytorch():
    m = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Flatten(), nn.Linear(8, 3))
    assert list(m.state_dict()) == list(TORCH_SD)  # same names, same order as torch
    m.load_state_dict(TORCH_SD)
    x = Tensor(arr((2, 1, 4, 4), 0.5, 2.0))
    m.eval()
    np.testing.assert_allclose(m(x).data, TORCH_EVAL_OUT, rtol=1e-5, atol=1e-6)
    m.train()
    out = m(x)
    loss = tc.functional.cross_entropy(out, np.array([0, 2]))
    loss.backward()
    np.testing.assert_allclose(out.data, TORCH_TRAIN_OUT, rtol=1e-5, atol=1e-6)
    assert loss.item() == pytest.approx(TORCH_LOSS, rel=1e-6)
    np.testing.assert_allclose(m[0].weight.grad, TORCH_CONV_GRAD, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(m[1].weight.grad, TORCH_BN_WEIGHT_GRAD, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(m[1].running_mean, TORCH_RUNNING[0], rtol=1e-5)
    np.testing.assert_allclose(m[1].running_var, TORCH_RUNNING[1], rtol=1e-5)
    assert int(m[1].num_batches_tracked) == TORCH_RUNNING[2]
    assert out.dtype == np.float32 and m[0].weight.grad.dtype == np.float32


# ---- BatchNorm -----------------------------------------------------------------------------
@pytest.mark.parametrize("cls,shape", [(nn.BatchNorm2d, (4, 3, 2, 5)), (nn.BatchNorm1d, (6, 3)),
                                       (nn.BatchNorm1d, (4, 3, 5))])
def test_batchnorm_train_eval_by_hand(cls, shape):
    rng = np.random.default_rng(0)
    bn = cls(3, momentum=0.2)
    bn.weight.data[...] = [1.5, 0.5, -1.0]
    bn.bias.data[...] = [0.1, 0.2, 0.3]
    axes = tuple(i for i in range(len(shape)) if i != 1)
    bshape = [1, 3] + [1] * (len(shape) - 2)
    rm, rv = np.zeros(3), np.ones(3)

    def affine(xhat):
        return xhat * bn.weight.data.reshape(bshape) + bn.bias.data.reshape(bshape)

    for step in range(2):
        x = (rng.standard_normal(shape) * 2 + 1).astype(np.float32)
        y = bn(Tensor(x)).data
        mu, var = x.mean(axis=axes), x.var(axis=axes)
        n = x.size // 3
        want = affine((x - mu.reshape(bshape)) / np.sqrt(var.reshape(bshape) + 1e-5))
        np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-5)
        rm = 0.8 * rm + 0.2 * mu
        rv = 0.8 * rv + 0.2 * var * n / (n - 1)  # unbiased variance for the running estimate
        np.testing.assert_allclose(bn.running_mean, rm, rtol=1e-5)
        np.testing.assert_allclose(bn.running_var, rv, rtol=1e-5)
        assert int(bn.num_batches_tracked) == step + 1
    bn.eval()
    x = rng.standard_normal(shape).astype(np.float32)
    y = bn(Tensor(x)).data
    want = affine((x - rm.reshape(bshape)) / np.sqrt(rv.reshape(bshape) + 1e-5))
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-5)
    assert y.dtype == np.float32 and int(bn.num_batches_tracked) == 2  # eval leaves stats alone


def test_batchnorm_options_and_errors():
    bn = nn.BatchNorm1d(2, momentum=None, affine=False)
    assert bn.num_parameters() == 0
    x1, x2 = np.array([[0.0, 1.0], [2.0, 5.0]]), np.array([[4.0, 1.0], [6.0, 1.0]])
    bn(Tensor(x1.astype(np.float32)))
    bn(Tensor(x2.astype(np.float32)))
    np.testing.assert_allclose(bn.running_mean, (x1.mean(0) + x2.mean(0)) / 2)  # cumulative average
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected input \(N, C, H, W\) with C=2, "
                                         r"got shape \(1, 3, 2, 2\)"):
        nn.BatchNorm2d(2)(Tensor(np.zeros((1, 3, 2, 2), np.float32)))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(2)(Tensor(np.zeros((1, 2), np.float32)))
    assert "running_mean" not in nn.BatchNorm2d(2, track_running_stats=False).state_dict()


# ---- layers and init -----------------------------------------------------------------------
def test_layers_forward_match_functional_and_numpy():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4, 6, 6)).astype(np.float32)
    conv = nn.Conv2d(4, 6, (3, 2), stride=2, padding=1, dilation=1, groups=2, rng=0)
    assert conv.weight.shape == (6, 2, 3, 2)
    np.testing.assert_array_equal(conv(Tensor(x)).data, tc.functional.conv2d(
        x, conv.weight, conv.bias, stride=2, padding=1, groups=2).data)
    assert nn.MaxPool2d(2)(Tensor(x)).shape == (2, 4, 3, 3)
    np.testing.assert_allclose(nn.AvgPool2d(3, stride=3)(Tensor(x)).data,
                               x.reshape(2, 4, 2, 3, 2, 3).mean(axis=(3, 5)), rtol=1e-5)
    assert nn.Flatten()(Tensor(x)).shape == (2, 144) and nn.Flatten(2)(Tensor(x)).shape == (2, 4, 36)
    np.testing.assert_allclose(nn.Softmax()(Tensor(x)).data.sum(-1), 1, rtol=1e-5)
    np.testing.assert_allclose(nn.Tanh()(Tensor(x)).data, np.tanh(x), rtol=1e-6)
    np.testing.assert_allclose(nn.Sigmoid()(Tensor(x)).data, 1 / (1 + np.exp(-x)), rtol=1e-6)
    np.testing.assert_array_equal(nn.ReLU()(Tensor(x)).data, np.maximum(x, 0))
    with pytest.raises(ValueError, match="Conv2d: in_channels 3 and out_channels 6 must both be divisible "
                                         "by groups 2"):
        nn.Conv2d(3, 6, 3, groups=2)
    assert nn.Linear(3, 2, bias=False).bias is None and nn.Linear(3, 2, bias=False).num_parameters() == 6


def test_dropout_seeded_and_identity_in_eval():
    x = Tensor(np.ones((50, 40), np.float32))
    a, b = nn.Dropout(0.25, rng=5), nn.Dropout(0.25, rng=5)
    ya, yb = a(x).data, b(x).data
    np.testing.assert_array_equal(ya, yb)
    assert set(np.unique(ya)) <= {0.0, np.float32(1 / 0.75)} and 0.15 < (ya == 0).mean() < 0.35
    a.eval()
    assert a(x) is x


def test_cross_entropy_loss_module():
    z = arr((4, 3), 0.2, 3.0)
    t = np.array([0, 2, 1, 1])
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    picked = logp[np.arange(4), t]
    assert nn.CrossEntropyLoss()(Tensor(z), t).item() == pytest.approx(-picked.mean(), rel=1e-5)
    assert nn.CrossEntropyLoss(reduction="sum")(Tensor(z), t).item() == pytest.approx(-picked.sum(), rel=1e-5)
    q = np.full((4, 3), 0.1 / 3) + 0.9 * np.eye(3)[t]
    assert nn.CrossEntropyLoss(label_smoothing=0.1)(Tensor(z), t).item() == pytest.approx(
        -(q * logp).sum(1).mean(), rel=1e-5)


def test_default_init_is_pytorch_bound_and_reproducible():
    conv = nn.Conv2d(8, 16, 3, rng=0)
    bound = 1 / math.sqrt(8 * 9)
    for p in (conv.weight, conv.bias):
        assert np.abs(p.data).max() <= bound
    assert np.std(conv.weight.data) == pytest.approx(bound / math.sqrt(3), rel=0.1)
    np.testing.assert_array_equal(conv.weight.data, nn.Conv2d(8, 16, 3, rng=0).weight.data)
    assert not np.array_equal(conv.weight.data, nn.Conv2d(8, 16, 3, rng=1).weight.data)


@pytest.mark.parametrize("fn,kw,std", [
    (init.kaiming_normal_, {"nonlinearity": "relu"}, math.sqrt(2 / 200)),
    (init.kaiming_uniform_, {"nonlinearity": "relu"}, math.sqrt(2 / 200)),
    (init.xavier_normal_, {}, math.sqrt(2 / 300)),
    (init.xavier_uniform_, {}, math.sqrt(2 / 300)),
    (init.normal_, {"std": 0.01}, 0.01),  # the seed notebook's weight_scale
])
def test_init_functions(fn, kw, std):
    w = np.empty((100, 200), np.float32)  # fan_in 200, fan_out 100
    out = fn(w, rng=np.random.default_rng(0), **kw)
    assert out is w and w.dtype == np.float32
    assert np.std(w) == pytest.approx(std, rel=0.05) and abs(np.mean(w)) < std / 10
    t = nn.Parameter(np.ones((3, 4), np.float32))
    assert init.zeros_(t) is t and np.all(t.data == 0)


def test_init_errors():
    with pytest.raises(ValueError, match="fan_in_and_fan_out: needs a weight with >= 2 dimensions"):
        init.kaiming_uniform_(np.zeros(3))
    with pytest.raises(ValueError, match="calculate_gain: unknown nonlinearity 'swish'"):
        init.calculate_gain("swish")


# ---- whole-model gradient check --------------------------------------------------------------
def test_gradcheck_whole_tiny_model_float64():
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, rng=0), nn.BatchNorm2d(2), nn.Tanh(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(8, 3, rng=1)).to(np.float64)
    x = np.random.default_rng(0).standard_normal((3, 1, 4, 4))
    target = np.array([0, 2, 1])
    names = [n for n, _ in model.named_parameters()]

    def loss_fn(*params):
        out = nn.functional_call(model, dict(zip(names, params)), Tensor(x))
        return tc.functional.cross_entropy(out, target)

    assert tc.gradcheck(loss_fn, [p.data for p in model.parameters()], atol=1e-6, rtol=1e-4)
    assert all(p.dtype == np.float64 for p in model.parameters())
    # functional_call restored the model's own parameters
    assert model[0].weight is dict(model.named_parameters())["0.weight"]
    assert isinstance(model[0].weight, nn.Parameter)


def test_deepcopy_is_independent():
    import copy

    net = Net()
    twin = copy.deepcopy(net)
    twin.head.weight.data[...] = 0
    assert np.any(net.head.weight.data != 0) and isinstance(twin.head.weight, nn.Parameter)
    assert [n for n, _ in twin.named_parameters()] == [n for n, _ in net.named_parameters()]
