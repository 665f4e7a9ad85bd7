"""softmax, log_softmax, cross_entropy, nll_loss, mse_loss and dropout: values, gradients, errors."""

import numpy as np
import pytest

import tinygrad_conv as tc
from tinygrad_conv import Tensor
from tinygrad_conv import functional as F

RNG = np.random.default_rng(0)


def naive_log_softmax(z, axis=-1):
    """Reference via log-sum-exp written directly (float64)."""
    m = z.max(axis=axis, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=axis, keepdims=True))


def ref_cross_entropy(z, t, reduction="mean", eps=0.0):
    """PyTorch's definition: q = (1 - eps) * target + eps / C, loss_n = -sum_c q_c log softmax_c."""
    logp = naive_log_softmax(z)
    N, C = z.shape
    q = np.eye(C)[t] if t.ndim == 1 else t
    q = (1 - eps) * q + eps / C
    loss = -(q * logp).sum(axis=1)
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


@pytest.mark.parametrize("shape,axis", [((3, 5), -1), ((2, 3, 4), 1), ((4,), 0), ((2, 3), 0)])
def test_softmax_and_log_softmax_values(shape, axis):
    z = RNG.standard_normal(shape)
    want = naive_log_softmax(z, axis)
    np.testing.assert_allclose(F.log_softmax(z, axis=axis).data, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(F.softmax(z, axis=axis).data, np.exp(want), rtol=1e-12)
    np.testing.assert_allclose(Tensor(z).softmax(axis).data.sum(axis=axis), 1.0)
    assert tc.gradcheck(lambda t: F.log_softmax(t, axis=axis), [z], fast=True)
    assert tc.gradcheck(lambda t: F.softmax(t, axis=axis), [z], fast=True)


def test_softmax_is_stable_for_huge_logits():
    z = np.array([[1e4, -1e4, 0.0], [1e4, 1e4, -1e4]])
    p = F.softmax(z).data
    np.testing.assert_allclose(p, [[1, 0, 0], [0.5, 0.5, 0]])
    lp = F.log_softmax(z).data
    assert np.isfinite(lp).all() and lp[0, 1] == -2e4


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("eps", [0.0, 0.1])
@pytest.mark.parametrize("kind", ["index", "probs"])
def test_cross_entropy_matches_reference(reduction, eps, kind):
    z = RNG.standard_normal((6, 4))
    t = RNG.integers(0, 4, 6) if kind == "index" else RNG.dirichlet(np.ones(4), 6)
    got = F.cross_entropy(z, t, reduction=reduction, label_smoothing=eps)
    np.testing.assert_allclose(got.data, ref_cross_entropy(z, t, reduction, eps), rtol=1e-12)
    args = [z, t]  # probability targets are float, so their gradient is checked too
    assert tc.gradcheck(lambda a, b: F.cross_entropy(a, b, reduction, eps), args, fast=True)


def test_cross_entropy_gradient_is_softmax_minus_onehot_over_n():
    z, t = RNG.standard_normal((5, 3)), np.array([0, 2, 1, 1, 0])
    zt = Tensor(z, requires_grad=True)
    F.cross_entropy(zt, t).backward()
    np.testing.assert_allclose(zt.grad, (np.exp(naive_log_softmax(z)) - np.eye(3)[t]) / 5, rtol=1e-12)


@pytest.mark.parametrize("eps", [0.0, 0.2])
def test_cross_entropy_huge_logits_finite(eps):
    z = Tensor(np.array([[1e4, -1e4], [1e4, -1e4], [-1e4, 1e4]]), requires_grad=True)
    t = np.array([0, 1, 0])
    loss = F.cross_entropy(z, t, reduction="none", label_smoothing=eps)
    want = ref_cross_entropy(z.data, t, "none", eps)
    np.testing.assert_allclose(loss.data, want)
    if eps == 0:
        np.testing.assert_array_equal(loss.data, [0.0, 2e4, 2e4])
    loss.sum().backward()
    assert np.isfinite(z.grad).all()
    np.testing.assert_allclose(np.abs(z.grad).max(), 1 - eps / 2)


def test_cross_entropy_float32_stays_float32():
    z = Tensor(RNG.standard_normal((8, 10)).astype(np.float32), requires_grad=True)
    for t in (RNG.integers(0, 10, 8), RNG.dirichlet(np.ones(10), 8).astype(np.float32)):
        z.grad = None
        loss = F.cross_entropy(z, t, label_smoothing=0.1)
        assert loss.dtype == np.float32
        loss.backward()
        assert z.grad.dtype == np.float32


@pytest.mark.parametrize("z,t,match", [
    ((4, 3), np.array([0, 1, 3, 2]), r"class index 3 out of range \[0, 3\).*\(4, 3\)"),
    ((4, 3), np.array([0, -1, 1, 2]), r"class index -1 out of range"),
    ((4, 3), np.array([0.0, 1.0, 2.0, 1.0]), r"integer dtype, got float64 of shape \(4,\)"),
    ((4, 3), np.array([0, 1, 2]), r"target shape \(3,\) does not match input \(4, 3\)"),
    ((4, 3), np.ones((4, 2)) / 2, r"probability target shape \(4, 2\) does not match logits \(4, 3\)"),
    ((4, 3), np.array([[0, 1, 2, 1]]), r"integer dtype|does not match"),
    ((3,), np.array([0]), r"logits must be 2-D \(N, C\), got shape \(3,\)"),
])
def test_cross_entropy_bad_targets(z, t, match):
    with pytest.raises((ValueError, TypeError), match=r"^cross_entropy: ") as e:
        F.cross_entropy(np.zeros(z), t)
    assert e.match(match)


def test_cross_entropy_bad_options():
    with pytest.raises(ValueError, match="^cross_entropy: reduction"):
        F.cross_entropy(np.zeros((2, 3)), np.array([0, 1]), reduction="avg")
    with pytest.raises(ValueError, match="^cross_entropy: label_smoothing"):
        F.cross_entropy(np.zeros((2, 3)), np.array([0, 1]), label_smoothing=1.5)


def test_nan_logits_reported_under_detect_anomaly():
    z = Tensor(np.array([[0.0, np.nan], [1.0, 2.0]]), requires_grad=True)
    assert np.isnan(F.cross_entropy(z, np.array([0, 1])).item())  # silent without anomaly mode
    with tc.detect_anomaly(), pytest.raises(tc.AnomalyError, match="cross_entropy.*NaN"):
        F.cross_entropy(z, np.array([0, 1]))


def test_nan_from_conv_backward_reported_under_detect_anomaly():
    x = Tensor(np.ones((1, 1, 3, 3)), requires_grad=True)
    w = Tensor(np.ones((1, 1, 2, 2)), requires_grad=True)
    with tc.detect_anomaly():
        y = F.conv2d(x, w)
        with pytest.raises(tc.AnomalyError, match="backward of op 'conv2d'"):
            y.backward(np.full(y.shape, np.nan))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss(reduction):
    logp = naive_log_softmax(RNG.standard_normal((5, 4)))
    t = np.array([3, 0, 0, 2, 1])
    want = -logp[np.arange(5), t]
    want = {"mean": want.mean(), "sum": want.sum(), "none": want}[reduction]
    np.testing.assert_allclose(F.nll_loss(logp, t, reduction).data, want)
    assert tc.gradcheck(lambda a: F.nll_loss(a, t, reduction), [logp], fast=True)
    # nll_loss(log_softmax(z)) == cross_entropy(z)
    z = RNG.standard_normal((5, 4))
    np.testing.assert_allclose(F.nll_loss(F.log_softmax(z), t, reduction).data,
                               F.cross_entropy(z, t, reduction).data, rtol=1e-12)
    with pytest.raises(ValueError, match=r"^nll_loss: class index 4 out of range"):
        F.nll_loss(logp, np.array([4, 0, 0, 0, 0]))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss(reduction):
    x, y = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))
    want = {"mean": ((x - y) ** 2).mean(), "sum": ((x - y) ** 2).sum(), "none": (x - y) ** 2}[reduction]
    np.testing.assert_allclose(F.mse_loss(x, y, reduction).data, want)
    assert tc.gradcheck(lambda a, b: F.mse_loss(a, b, reduction), [x, y], fast=True)
    with pytest.raises(ValueError, match=r"^mse_loss: input shape \(3, 4\) and target shape \(4,\)"):
        F.mse_loss(x, np.zeros(4))


def test_dropout_reproducible_scaled_and_differentiable():
    x = Tensor(np.ones((200, 50), np.float32), requires_grad=True)
    a = F.dropout(x, 0.3, rng=np.random.default_rng(42))
    b = F.dropout(x, 0.3, rng=np.random.default_rng(42))
    np.testing.assert_array_equal(a.data, b.data)
    assert a.dtype == np.float32
    kept = a.data != 0
    np.testing.assert_allclose(a.data[kept], 1 / 0.7, rtol=1e-6)
    assert abs(1 - kept.mean() - 0.3) < 0.02
    a.sum().backward()
    np.testing.assert_array_equal(x.grad, a.data)  # d/dx of x * mask is the mask


def test_dropout_identity_cases_and_errors():
    x = Tensor(np.ones((3, 3)))
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    np.testing.assert_array_equal(F.dropout(x, 1.0).data, 0.0)
    with pytest.raises(ValueError, match=r"^dropout: p must be in \[0, 1\], got 1.5"):
        F.dropout(x, 1.5)


def test_public_api_lists_cnn_functions():
    for name in ["conv2d", "max_pool2d", "avg_pool2d", "softmax", "log_softmax", "cross_entropy",
                 "nll_loss", "mse_loss", "dropout"]:
        assert name in F.__all__ and callable(getattr(F, name))
        assert F.__dict__[name].__doc__


@pytest.mark.parametrize("kw, want", [
    ({}, ""),
    ({"reduction": "sum"}, "reduction=sum"),
    ({"label_smoothing": 0.1}, "label_smoothing=0.1"),
])
def test_cross_entropy_label_shows_only_non_defaults(kw, want):
    z = Tensor(np.zeros((2, 3)), requires_grad=True)
    y = F.cross_entropy(z, np.array([0, 2]), **kw)
    assert y.node.op.label(y.node.attrs) == want
