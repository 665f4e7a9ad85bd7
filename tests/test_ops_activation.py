"""Activation functions and layers: closed forms in NumPy/SciPy, PyTorch when installed, dtype,
gradients (first and second order) of the composed ones (prelu, glu), layers and errors."""

import math

import numpy as np
import pytest
from op_checks import gradgrad
from scipy.special import erf, expit

import tinygrad_conv as tc
from tinygrad_conv import functional as F
from tinygrad_conv import nn, optim
from tinygrad_conv.tensor import Tensor

R = np.random.default_rng(11)
X = np.concatenate([R.uniform(-5, 5, 40), [-30.0, -3.0, -0.5, 0.5, 3.0, 30.0, 0.0]])


def _softplus(x, beta=1.0, threshold=20.0):
    return np.where(beta * x > threshold, x, np.log1p(np.exp(beta * x)) / beta)


SELU_A, SELU_S = 1.6732632423543772, 1.0507009873554805
REFERENCE = [  # (name, our call, NumPy reference)
    ("leaky_relu", lambda x: F.leaky_relu(x), lambda x: np.where(x > 0, x, 0.01 * x)),
    ("leaky_relu0.2", lambda x: F.leaky_relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    ("elu", lambda x: F.elu(x, 0.7), lambda x: np.where(x > 0, x, 0.7 * np.expm1(x))),
    ("selu", F.selu, lambda x: SELU_S * np.where(x > 0, x, SELU_A * np.expm1(x))),
    ("celu", lambda x: F.celu(x, 0.5), lambda x: np.maximum(x, 0) + np.minimum(0, 0.5 * np.expm1(x / 0.5))),
    ("gelu", F.gelu, lambda x: x * 0.5 * (1 + erf(x / math.sqrt(2)))),
    ("gelu-tanh", lambda x: F.gelu(x, approximate="tanh"),
     lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))),
    ("silu", F.silu, lambda x: x * expit(x)),
    ("mish", F.mish, lambda x: x * np.tanh(np.logaddexp(0, x))),
    ("softplus", F.softplus, _softplus),
    ("softplus-beta", lambda x: F.softplus(x, beta=2.0, threshold=5.0), lambda x: _softplus(x, 2.0, 5.0)),
    ("softsign", F.softsign, lambda x: x / (1 + np.abs(x))),
    ("hardtanh", lambda x: F.hardtanh(x, -2.0, 1.5), lambda x: np.clip(x, -2.0, 1.5)),
    ("relu6", F.relu6, lambda x: np.clip(x, 0, 6)),
    ("hardsigmoid", F.hardsigmoid, lambda x: np.clip(x / 6 + 0.5, 0, 1)),
    ("hardswish", F.hardswish, lambda x: x * np.clip(x + 3, 0, 6) / 6),
    ("logsigmoid", F.logsigmoid, lambda x: np.log(expit(x))),
]


@pytest.mark.parametrize("name,fn,ref", REFERENCE, ids=[r[0] for r in REFERENCE])
def test_forward_matches_closed_form_and_keeps_float32(name, fn, ref):
    np.testing.assert_allclose(fn(Tensor(X)).data, ref(X), rtol=1e-12, atol=1e-12)
    out32 = fn(Tensor(X.astype(np.float32)))
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32.data, ref(X), rtol=2e-6, atol=2e-6)


TORCH = [  # (our function, torch.nn.functional name, kwargs)
    (F.leaky_relu, "leaky_relu", {"negative_slope": 0.1}), (F.elu, "elu", {"alpha": 0.7}),
    (F.selu, "selu", {}), (F.celu, "celu", {"alpha": 0.5}), (F.gelu, "gelu", {}),
    (F.gelu, "gelu", {"approximate": "tanh"}), (F.silu, "silu", {}), (F.mish, "mish", {}),
    (F.softplus, "softplus", {"beta": 2.0, "threshold": 5.0}), (F.softsign, "softsign", {}),
    (F.hardtanh, "hardtanh", {"min_val": -2.0, "max_val": 1.5}), (F.relu6, "relu6", {}),
    (F.hardsigmoid, "hardsigmoid", {}), (F.hardswish, "hardswish", {}), (F.logsigmoid, "logsigmoid", {}),
]


@pytest.mark.parametrize("fn,tname,kw", TORCH, ids=[f"{t[1]}{t[2]}" for t in TORCH])
def test_forward_and_gradient_match_torch(fn, tname, kw):
    torch = pytest.importorskip("torch")
    x = np.delete(X, np.where(np.isin(X, [-3.0, 0.0, 3.0]))[0])  # kinks: conventions may differ there
    g = R.standard_normal(x.shape)
    t = Tensor(x, requires_grad=True)
    fn(t, **kw).backward(g)
    p = torch.tensor(x, requires_grad=True)
    getattr(torch.nn.functional, tname)(p, **kw).backward(torch.tensor(g))
    np.testing.assert_allclose(fn(Tensor(x), **kw).data, getattr(torch.nn.functional, tname)(
        torch.tensor(x), **kw).numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(t.grad, p.grad.numpy(), rtol=1e-7, atol=1e-12)  # torch: float 1/6


def test_gradients_at_the_kinks_follow_pytorch():
    """The values PyTorch 2.x gives at the kinks (checked against it when it was installed)."""
    x = Tensor(np.array([-3.0, 0.0, 3.0, -1.0, 1.0, 6.0]), requires_grad=True)
    expect = {
        F.leaky_relu: [0.01, 0.01, 1, 0.01, 1, 1],
        F.hardtanh: [0, 1, 0, 0, 0, 0],  # passes strictly inside (-1, 1)
        F.relu6: [0, 0, 1, 0, 1, 0],
        F.hardsigmoid: [0, 1 / 6, 0, 1 / 6, 1 / 6, 0],
        F.hardswish: [0, 0.5, 1, 1 / 6, 5 / 6, 1],
    }
    for fn, want in expect.items():
        x.grad = None
        fn(x).sum().backward()
        np.testing.assert_allclose(x.grad, want, err_msg=fn.__name__)


def test_extreme_inputs_stay_finite():
    big = Tensor(np.array([-1000.0, 1000.0]), requires_grad=True)
    for fn in (F.softplus, F.logsigmoid, F.silu, F.mish, F.elu, F.selu, F.gelu):
        big.grad = None
        out = fn(big)
        out.sum().backward()
        assert np.isfinite(out.data).all() and np.isfinite(big.grad).all(), fn.__name__
    np.testing.assert_allclose(F.logsigmoid(big).data, [-1000.0, 0.0])


def test_prelu_matches_formula_and_trains_its_weight():
    x = R.standard_normal((2, 3, 4))
    w = np.array([0.1, 0.2, 0.3])
    want = np.where(x > 0, x, w[None, :, None] * x)
    np.testing.assert_allclose(F.prelu(x, w).data, want)
    np.testing.assert_allclose(F.prelu(x, np.array([0.25])).data, np.where(x > 0, x, 0.25 * x))
    xs = np.where(np.abs(x) < 0.1, 0.3, x)  # away from the kink
    assert tc.gradcheck(F.prelu, [xs, w])
    assert gradgrad(F.prelu, [xs, w])
    layer = nn.PReLU(3)
    assert layer.weight.dtype == np.float32 and layer.num_parameters() == 3
    layer(Tensor(x.astype(np.float32))).sum().backward()
    np.testing.assert_allclose(layer.weight.grad, np.where(x > 0, 0, x).sum(axis=(0, 2)), rtol=1e-6)
    with pytest.raises(ValueError, match="prelu: weight of shape"):
        F.prelu(x, np.ones(2))


def test_glu():
    x = R.standard_normal((2, 6))
    np.testing.assert_allclose(F.glu(x).data, x[:, :3] * expit(x[:, 3:]))
    np.testing.assert_allclose(F.glu(x.T, dim=0).data, x.T[:3] * expit(x.T[3:]))
    assert tc.gradcheck(lambda a: F.glu(a), [x])
    assert gradgrad(lambda a: F.glu(a, 1), [x])
    with pytest.raises(ValueError, match="glu: dim 0 of shape .* odd size 3"):
        F.glu(np.ones((3, 2)), 0)


def test_layers_wrap_the_functions():
    x = Tensor(X.astype(np.float32))
    pairs = [
        (nn.LeakyReLU(0.2), F.leaky_relu(x, 0.2)), (nn.ELU(0.5), F.elu(x, 0.5)), (nn.SELU(), F.selu(x)),
        (nn.CELU(2.0), F.celu(x, 2.0)), (nn.GELU("tanh"), F.gelu(x, "tanh")), (nn.SiLU(), F.silu(x)),
        (nn.Mish(), F.mish(x)), (nn.Softplus(2.0, 4.0), F.softplus(x, 2.0, 4.0)),
        (nn.Softsign(), F.softsign(x)), (nn.Hardtanh(-0.5, 0.5), F.hardtanh(x, -0.5, 0.5)),
        (nn.ReLU6(), F.relu6(x)), (nn.Hardsigmoid(), F.hardsigmoid(x)), (nn.Hardswish(), F.hardswish(x)),
        (nn.LogSigmoid(), F.logsigmoid(x)),
    ]
    for layer, want in pairs:
        np.testing.assert_array_equal(layer(x).data, want.data, err_msg=repr(layer))
    assert "negative_slope=0.2" in repr(nn.LeakyReLU(0.2)) and "approximate='tanh'" in repr(nn.GELU("tanh"))
    np.testing.assert_array_equal(nn.GLU(0)(Tensor(np.ones((4, 1)))).shape, (2, 1))
    with pytest.raises(ValueError, match="GELU: approximate"):
        nn.GELU("fast")
    with pytest.raises(ValueError, match="gelu: approximate"):
        F.gelu(x, "fast")
    with pytest.raises(ValueError, match="hardtanh: min_val 2.0 > max_val 1.0"):
        F.hardtanh(x, 2.0, 1.0)


def test_a_small_net_with_new_activations_trains():
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((32, 4)).astype(np.float32))
    y = Tensor((rng.standard_normal((32, 1)) > 0).astype(np.float32))
    model = nn.Sequential(nn.Linear(4, 16, rng=1), nn.GELU(), nn.Linear(16, 16, rng=2), nn.PReLU(16),
                          nn.Linear(16, 8, rng=3), nn.GLU(), nn.Linear(4, 1, rng=4))
    opt = optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = F.mean(F.softplus(-(model(x) * (2 * y - 1))))  # logistic loss
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


def test_new_ops_draw_in_the_graph_with_short_labels():
    from tinygrad_conv.viz import to_dot

    x = Tensor(R.standard_normal((2, 3)), requires_grad=True)
    y = F.einsum("ij,kj->ik", F.gelu(x, approximate="tanh"), F.leaky_relu(x, 0.2))
    loss = F.logsumexp(F.cumsum(y, dim=1), dim=0).sum()
    dot = str(to_dot(loss))
    for text in ("einsum", "ij,kj-&gt;ik", "gelu", "approximate=tanh", "leaky_relu", "negative_slope=0.2",
                 "cumsum", "logsumexp"):
        assert text in dot or text.replace("-&gt;", "->") in dot, text
