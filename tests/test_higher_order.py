"""Gradients of gradients: tc.grad with create_graph, the autodiff transforms, gradgradcheck,
known second derivatives, and second-order quantities of real models against finite differences."""

import numpy as np
import pytest

import tinygrad_conv as tc
from tinygrad_conv import Tensor, autodiff, nn, optim
from tinygrad_conv import functional as F
from tinygrad_conv.autograd.registry import Op, Registry, Sample
from tinygrad_conv.gradcheck import GradcheckError, gradgradcheck
from tinygrad_conv.models import get_model
from tinygrad_conv.tensor import apply

RNG = np.random.default_rng(0)


def leaf(*shape, lo=-1.0, hi=1.0):
    return Tensor(RNG.uniform(lo, hi, shape), requires_grad=True)


@pytest.mark.parametrize("f, d1, d2", [
    (lambda x: x.tanh(), lambda x: 1 - np.tanh(x) ** 2, lambda x: -2 * np.tanh(x) * (1 - np.tanh(x) ** 2)),
    (lambda x: x ** 3, lambda x: 3 * x ** 2, lambda x: 6 * x),
    (lambda x: x.exp() * x, lambda x: np.exp(x) * (x + 1), lambda x: np.exp(x) * (x + 2)),
    (lambda x: x.sigmoid(), lambda x: (s := 1 / (1 + np.exp(-x))) * (1 - s),
     lambda x: (s := 1 / (1 + np.exp(-x))) * (1 - s) * (1 - 2 * s)),
    (lambda x: (x * x + 1.0).log(), lambda x: 2 * x / (x * x + 1),
     lambda x: (2 - 2 * x * x) / (x * x + 1) ** 2),
], ids=["tanh", "cube", "x_exp", "sigmoid", "log1p_sq"])
def test_known_second_derivatives(f, d1, d2):
    x = leaf(5)
    (g,) = tc.grad(f(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.data, d1(x.data), rtol=1e-12)
    assert g.requires_grad and g.node is not None
    (h,) = tc.grad(g.sum(), x)
    np.testing.assert_allclose(h.data, d2(x.data), rtol=1e-10, atol=1e-12)


def test_mixed_partials_of_sum_x_x_y():
    x, y = leaf(3), leaf(3)
    gx, gy = tc.grad((x * x * y).sum(), [x, y], create_graph=True)
    np.testing.assert_allclose(gx.data, 2 * x.data * y.data)
    np.testing.assert_allclose(gy.data, x.data ** 2)
    hxx, hxy = tc.grad(gx.sum(), [x, y], retain_graph=True)
    np.testing.assert_allclose(hxx.data, 2 * y.data)
    np.testing.assert_allclose(hxy.data, 2 * x.data)
    (third,) = tc.grad(tc.grad(gx.sum(), y, create_graph=True)[0].sum(), x)  # d/dx d/dy d/dx = 2
    np.testing.assert_allclose(third.data, 2 * np.ones(3))


def test_grad_leaves_dot_grad_alone_and_reports_unused():
    x, y = leaf(2), leaf(2)
    out = (x * 2.0).sum()
    (g,) = tc.grad(out, x, retain_graph=True)
    assert x.grad is None and not g.requires_grad
    with pytest.raises(RuntimeError, match="not used.*allow_unused"):
        tc.grad(out, [x, y], retain_graph=True)
    gx, gy = tc.grad(out, [x, y], allow_unused=True)
    assert gy is None and np.allclose(gx.data, 2.0)


def test_grad_of_intermediate_and_several_outputs():
    x = leaf(3)
    h = x.exp()
    a, b = (h * h).sum(), h.sum()
    (gh,) = tc.grad([a, b], h, retain_graph=True)
    np.testing.assert_allclose(gh.data, 2 * h.data + 1)
    (gx,) = tc.grad([a, b], x, [np.array(2.0), np.array(-1.0)])
    np.testing.assert_allclose(gx.data, 2 * 2 * h.data ** 2 - h.data)


def test_backward_create_graph_then_freed_gradient_graph():
    x = leaf(3)
    y = (x ** 3).sum()
    (g,) = tc.grad(y, x, create_graph=True)   # retain_graph defaults to create_graph
    y.backward()                              # the forward graph is still there
    np.testing.assert_allclose(x.grad, 3 * x.data ** 2)
    s = (g * g).sum()
    s.backward()                              # frees the gradient's graph (and what it shares)
    np.testing.assert_allclose(x.grad, 3 * x.data ** 2 + 2 * (3 * x.data ** 2) * 6 * x.data)
    with pytest.raises(RuntimeError, match="second time.*retain_graph"):
        s.backward()


def test_backward_create_graph_records_the_pass():
    x = leaf(3)
    y = x.tanh().sum()
    y.backward(create_graph=True)
    assert x.grad is not None
    y.backward()  # retain_graph defaulted to True with create_graph
    np.testing.assert_allclose(x.grad, 2 * (1 - np.tanh(x.data) ** 2))


def test_legacy_ndarray_vjp_first_order_only():
    reg = Registry()

    @reg.register("legacy_square")
    class LegacySquare(Op):
        @staticmethod
        def forward(ctx, x):
            ctx.save(x)
            return x * x

        @staticmethod
        def vjp(ctx, g):
            return (2 * g.data * ctx.saved[0],)  # an ndarray: fine for first order

    x = leaf(3)
    apply(LegacySquare, x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data)
    with pytest.raises(RuntimeError, match="legacy_square.*ndarray.*create_graph"):
        tc.grad(apply(LegacySquare, x).sum(), x, create_graph=True)


def test_gradgradcheck_catches_a_first_order_correct_but_disconnected_vjp():
    """tanh's VJP written with y's *array* (a constant) is right to first order and wrong to second."""
    reg = Registry()

    @reg.register("tanh_const_vjp")
    class TanhConst(Op):
        @staticmethod
        def forward(ctx, x):
            return np.tanh(x)

        @staticmethod
        def vjp(ctx, g):
            return (g * (1 - np.tanh(ctx.inputs[0].data) ** 2),)

        @staticmethod
        def samples():
            yield Sample((RNG.standard_normal(4),))

    x = RNG.standard_normal(4)
    assert tc.gradcheck(lambda t: apply(TanhConst, t), [x])
    with pytest.raises(GradcheckError, match="worst at index"):
        gradgradcheck(lambda t: apply(TanhConst, t), [x])
    with pytest.raises(GradcheckError):
        gradgradcheck(lambda t: apply(TanhConst, t), [x], fast=True)
    assert gradgradcheck(lambda t: t.tanh(), [x]) and gradgradcheck(lambda t: t.tanh(), [x], fast=True)


def test_vjp_jvp_hvp_against_finite_differences():
    A = RNG.standard_normal((3, 4))

    def f(x):
        return (F.matmul(A, x) ** 2).tanh()

    x0, u, w = RNG.standard_normal(4), RNG.standard_normal(4), RNG.standard_normal(3)
    eps = 1e-6

    def fx(x):
        return f(Tensor(x)).data

    jv_num = (fx(x0 + eps * u) - fx(x0 - eps * u)) / (2 * eps)
    out, jv = autodiff.jvp(f, x0, u)
    np.testing.assert_allclose(out.data, fx(x0))
    np.testing.assert_allclose(jv.data, jv_num, rtol=1e-6, atol=1e-8)
    _, vj = autodiff.vjp(f, x0, w)
    np.testing.assert_allclose(np.dot(vj.data, u), np.dot(w, jv_num), rtol=1e-6)

    def s(x):
        return f(x).sum()

    def gx(x):
        return autodiff.vjp(s, x)[1].data

    _, hv = autodiff.hvp(s, x0, u)
    num = (gx(x0 + eps * u) - gx(x0 - eps * u)) / (2 * eps)
    np.testing.assert_allclose(hv.data, num, rtol=1e-5, atol=1e-8)


def test_hessian_of_small_mlp_loss_against_finite_differences():
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((5, 3)), np.array([0, 1, 1, 0, 1])
    W2 = rng.standard_normal((2, 4))

    def loss(w1):  # w1 flattened (4*3,): tanh hidden layer, fixed output layer
        h = F.matmul(Tensor(X), w1.reshape(4, 3).T).tanh()
        return F.cross_entropy(F.matmul(h, Tensor(W2).T), y)

    w0 = rng.standard_normal(12) * 0.5
    H = autodiff.hessian(loss, w0).data
    assert H.shape == (12, 12)
    np.testing.assert_allclose(H, H.T, atol=1e-12)
    eps, num = 1e-5, np.zeros((12, 12))
    for i in range(12):
        e = np.zeros(12)
        e[i] = eps
        num[i] = (autodiff.vjp(loss, w0 + e)[1].data - autodiff.vjp(loss, w0 - e)[1].data) / (2 * eps)
    np.testing.assert_allclose(H, num, rtol=1e-5, atol=1e-8)


def _seed_cnn64(seed=0):
    model = get_model("seed_cnn", rng=seed).to(np.float64)
    rng = np.random.default_rng(seed + 10)
    x = Tensor(rng.standard_normal((2, 1, 28, 28)))
    return model, x, np.array([3, 7])


def _param_grads(model, x, y):
    params = list(model.parameters())
    return [g.data for g in tc.grad(F.cross_entropy(model(x), y), params)]


def test_hvp_of_seed_cnn_loss_against_finite_differences_of_grad():
    model, x, y = _seed_cnn64()
    params = list(model.parameters())
    v = [np.random.default_rng(i).standard_normal(p.shape) for i, p in enumerate(params)]
    gs = tc.grad(F.cross_entropy(model(x), y), params, create_graph=True)
    hv = tc.grad(list(gs), params, [Tensor(vi) for vi in v])
    eps = 1e-5
    base = [p.data.copy() for p in params]
    for p, b, vi in zip(params, base, v):
        p.data = b + eps * vi
    gp = _param_grads(model, x, y)
    for p, b, vi in zip(params, base, v):
        p.data = b - eps * vi
    gm = _param_grads(model, x, y)
    for p, b in zip(params, base):
        p.data = b
    for h, a, b in zip(hv, gp, gm):
        np.testing.assert_allclose(h.data, (a - b) / (2 * eps), rtol=1e-4, atol=1e-7)


def test_double_backprop_input_gradient_penalty_on_seed_cnn():
    """d/dW ||d loss / d x||^2 for the conv weights (Drucker & LeCun 1992) against finite differences."""
    model, x, y = _seed_cnn64(1)
    w = model.conv2.weight

    def penalty():
        xi = Tensor(x.data, requires_grad=True)
        (gx,) = tc.grad(F.cross_entropy(model(xi), y), xi, create_graph=True)
        return (gx * gx).sum()

    (gw,) = tc.grad(penalty(), w)
    rng = np.random.default_rng(5)
    base = w.data.copy()
    for _ in range(3):  # directional derivatives along random directions
        u = rng.standard_normal(w.shape)
        eps = 1e-5
        w.data = base + eps * u
        fp = penalty().item()
        w.data = base - eps * u
        fm = penalty().item()
        w.data = base
        np.testing.assert_allclose(np.sum(gw.data * u), (fp - fm) / (2 * eps), rtol=1e-4)


def test_inplace_change_after_forward_is_detected():
    a, b = leaf(3), leaf(3)
    loss = (a * b).sum()
    a.data = a.data * 0 + 100.0  # a new array: the library sees it
    with pytest.raises(RuntimeError, match="op 'mul'.*modified in place"):
        loss.backward()
    # an optimizer step between forward and backward is also seen
    w = nn.Parameter(np.ones(2))
    opt = optim.SGD([w], lr=0.1)
    out = (w * w).sum()
    w.grad = np.ones(2)
    opt.step()
    with pytest.raises(RuntimeError, match="modified in place"):
        out.backward()


def test_conv2d_empty_batch_forward_and_backward():
    x = Tensor(np.zeros((0, 2, 5, 5)), requires_grad=True)
    w = Tensor(RNG.standard_normal((3, 2, 3, 3)), requires_grad=True)
    b = Tensor(RNG.standard_normal(3), requires_grad=True)
    y = F.conv2d(x, w, b, padding=1)
    assert y.shape == (0, 3, 5, 5)
    F.max_pool2d(y, 2).sum().backward()
    assert x.grad.shape == (0, 2, 5, 5)
    np.testing.assert_array_equal(w.grad, 0)
    np.testing.assert_array_equal(b.grad, 0)


def test_create_graph_cost_on_seed_cnn_is_recorded_not_materialised():
    """A gradient-of-gradient step on seed_cnn runs end to end in float32 and keeps float32."""
    model = get_model("seed_cnn", rng=0)
    x = Tensor(RNG.standard_normal((4, 1, 28, 28)).astype(np.float32), requires_grad=True)
    loss = F.cross_entropy(model(x), np.array([1, 2, 3, 4]))
    (gx,) = tc.grad(loss, x, create_graph=True)
    pen = (gx * gx).sum()
    pen.backward()
    for p in model.parameters():
        assert p.grad is not None and p.grad.dtype == np.float32 and np.isfinite(p.grad).all()


def test_load_state_dict_after_forward_is_detected():
    """Loading weights in place between forward and backward would give the old graph's gradient
    with new weights: backward refuses, naming the op."""
    model = nn.Linear(3, 2, rng=0)
    out = model(Tensor(np.ones((4, 3)))).sum()
    model.load_state_dict({k: v * 2 for k, v in model.state_dict().items()})
    with pytest.raises(RuntimeError, match="modified in place"):
        out.backward()
