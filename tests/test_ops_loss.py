"""Issue 12 losses: BCE (probabilities, logits), cross_entropy / nll_loss with weight, ignore_index,
label smoothing and spatial targets, kl_div, l1, smooth L1 / Huber, cosine similarity, margin
ranking. NumPy formulas as references (PyTorch too when installed), gradients numerically checked
to second order."""

import numpy as np
import pytest

import tinygrad_conv as tc
from tinygrad_conv import Tensor
from tinygrad_conv import functional as F
from tinygrad_conv.autograd.tape import enable_grad

rng = np.random.default_rng(1)


def _log_softmax(z, axis=1):
    m = z.max(axis=axis, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=axis, keepdims=True))


def ref_ce(z, t, w=None, ignore=-100, eps=0.0, reduction="mean"):
    """Loops over positions: PyTorch's weighted, smoothed, ignore-aware cross-entropy."""
    lp = np.moveaxis(_log_softmax(z), 1, -1).reshape(-1, z.shape[1])
    tf = t.reshape(-1)
    C = z.shape[1]
    w = np.ones(C) if w is None else w
    per, den = np.zeros(len(tf)), 0.0
    for i, c in enumerate(tf):
        if c == ignore:
            continue
        per[i] = (1 - eps) * -w[c] * lp[i, c] + eps / C * -(w * lp[i]).sum()
        den += w[c]
    if reduction == "none":
        return per.reshape(t.shape)
    return per.sum() / den if reduction == "mean" else per.sum()


CE_CASES = [  # (logits shape, weight?, ignore_index, label_smoothing)
    ((5, 4), True, -100, 0.0),
    ((3, 4, 2, 3), False, -100, 0.0),
    ((3, 4, 2, 3), True, 1, 0.0),
    ((4, 3, 5), True, -100, 0.2),
    ((6, 5), False, 2, 0.1),
]


@pytest.mark.parametrize("shape,weighted,ignore,eps", CE_CASES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_options_match_reference(shape, weighted, ignore, eps, reduction):
    z = rng.standard_normal(shape)
    t = rng.integers(0, shape[1], (shape[0],) + shape[2:])
    t.reshape(-1)[::3] = ignore  # some ignored positions (-100 is the default ignore_index)
    w = rng.uniform(0.5, 2, shape[1]) if weighted else None
    out = F.cross_entropy(z, t, reduction=reduction, label_smoothing=eps, weight=w, ignore_index=ignore)
    np.testing.assert_allclose(out.data, ref_ce(z, t, w, ignore, eps, reduction), atol=1e-12)
    if eps == 0.0:  # nll_loss on log-probabilities is the same thing
        nll = F.nll_loss(_log_softmax(z), t, reduction=reduction, weight=w, ignore_index=ignore)
        np.testing.assert_allclose(nll.data, out.data, atol=1e-12)


def test_cross_entropy_second_order_and_fused_path_unchanged():
    z = rng.standard_normal((3, 4, 2))
    t = np.array([[0, 3], [-100, 1], [2, 2]])
    w = rng.uniform(0.5, 2, 4)

    def grad_dot(zz, r):  # <d loss / dz, r>: its gradient is a Hessian-vector product
        with enable_grad():
            loss = F.cross_entropy(zz, t, weight=w, label_smoothing=0.1)
            (g,) = tc.grad(loss, zz, create_graph=True)
            return (g * r).sum()

    assert tc.gradcheck(lambda zz: F.cross_entropy(zz, t, weight=w, label_smoothing=0.1), [z])
    assert tc.gradcheck(grad_dot, [z, Tensor(rng.standard_normal(z.shape))])
    # the 2-D, unweighted, nothing-ignored call still uses the fused op
    out = F.cross_entropy(Tensor(rng.standard_normal((4, 3)), requires_grad=True), np.array([0, 1, 2, 0]))
    assert out.node.op.name == "cross_entropy"


def test_cross_entropy_probability_targets_and_errors():
    z = rng.standard_normal((3, 4, 5))
    q = rng.dirichlet(np.ones(4), (3, 5)).transpose(0, 2, 1)
    w = rng.uniform(0.5, 2, 4)
    out = F.cross_entropy(z, q, weight=w, label_smoothing=0.1)
    qs = q * 0.9 + 0.1 / 4
    ref = -(_log_softmax(z) * qs * w.reshape(1, 4, 1)).sum(axis=1).mean()
    assert out.item() == pytest.approx(ref, rel=1e-12)
    with pytest.raises(ValueError, match=r"cross_entropy: class index 4 out of range \[0, 4\)"):
        F.cross_entropy(z, np.full((3, 5), 4), weight=w)
    with pytest.raises(ValueError, match=r"cross_entropy: weight must have shape \(4,\)"):
        F.cross_entropy(z, np.zeros((3, 5), dtype=int), weight=np.ones(3))
    with pytest.raises(ValueError, match=r"nll_loss: target shape \(3,\) does not match input"):
        F.nll_loss(z, np.zeros(3, dtype=int), ignore_index=0)
    assert np.isnan(F.cross_entropy(z[:1, :, :1], np.array([[-100]]), weight=w).item())  # nothing counted


def test_bce_with_logits_is_stable_and_exact():
    x = np.array([[-800.0, -30.0, -1.0, 0.0, 2.0, 40.0, 800.0]])
    y = np.array([[0.0, 1.0, 0.3, 0.5, 1.0, 0.0, 1.0]])
    pw = np.array([2.0])
    out = F.binary_cross_entropy_with_logits(x, y, reduction="none", pos_weight=pw)
    sp = np.logaddexp(0, -x)  # softplus(-x), an independent stable form
    np.testing.assert_allclose(out.data, (1 - y) * x + (1 + (pw - 1) * y) * sp, rtol=1e-12)
    xt = Tensor(x, requires_grad=True)
    F.binary_cross_entropy_with_logits(xt, y, pos_weight=pw, reduction="sum").backward()
    s = 0.5 * (1 + np.tanh(x / 2))
    np.testing.assert_allclose(xt.grad, (1 + (pw - 1) * y) * s - pw * y, atol=1e-12)
    assert np.isfinite(xt.grad).all()
    f32 = F.binary_cross_entropy_with_logits(x.astype(np.float32), y.astype(np.float32))
    assert f32.dtype == np.float32 and np.isfinite(f32.item())
    with pytest.raises(ValueError, match="binary_cross_entropy_with_logits: input shape"):
        F.binary_cross_entropy_with_logits(x, y[:, :3])


def test_binary_cross_entropy_clamps_logs():
    p = np.array([0.0, 0.2, 0.9, 1.0])
    y = np.array([1.0, 0.0, 1.0, 0.0])
    w = np.array([1.0, 2.0, 0.5, 1.0])
    out = F.binary_cross_entropy(p, y, weight=w, reduction="none")
    ref = -w * (
        y * np.maximum(np.log(np.where(p > 0, p, 1e-300)), -100)
        + (1 - y) * np.maximum(np.log(np.where(p < 1, 1 - p, 1e-300)), -100)
    )
    np.testing.assert_allclose(out.data, ref, atol=1e-12)
    assert out.data[0] == 100.0 and out.data[3] == 100.0
    with pytest.raises(ValueError, match=r"binary_cross_entropy: input values must lie in \[0, 1\]"):
        F.binary_cross_entropy(p + 0.5, y)
    q = rng.uniform(0.1, 0.9, (3, 2))
    assert tc.gradcheck(lambda a: F.binary_cross_entropy(a, np.full((3, 2), 0.3)), [q])


def test_regression_losses_match_numpy():
    a, b = rng.standard_normal((2, 4, 5)) * 2
    d = a - b
    cases = [
        (F.l1_loss(a, b, "none"), np.abs(d)),
        (
            F.smooth_l1_loss(a, b, "none", beta=0.7),
            np.where(np.abs(d) < 0.7, 0.5 * d * d / 0.7, np.abs(d) - 0.35),
        ),
        (F.smooth_l1_loss(a, b, "none", beta=0.0), np.abs(d)),
        (
            F.huber_loss(a, b, "none", delta=0.7),
            np.where(np.abs(d) <= 0.7, 0.5 * d * d, 0.7 * (np.abs(d) - 0.35)),
        ),
    ]
    for got, ref in cases:
        np.testing.assert_allclose(got.data, ref, atol=1e-12)
    assert F.l1_loss(a, b).item() == pytest.approx(np.abs(d).mean())
    assert F.huber_loss(a, b, "sum").item() == pytest.approx(
        np.where(np.abs(d) <= 1, 0.5 * d * d, np.abs(d) - 0.5).sum()
    )
    x1, x2 = rng.standard_normal((2, 6))
    y = np.sign(rng.standard_normal(6))
    ref = np.maximum(0, -y * (x1 - x2) + 0.4).mean()
    assert F.margin_ranking_loss(x1, x2, y, margin=0.4).item() == pytest.approx(ref)


def test_kl_div_and_cosine_similarity():
    lq = _log_softmax(rng.standard_normal((3, 4)))
    p = rng.dirichlet(np.ones(4), 3)
    p[0, 1] = 0.0  # 0 * log 0 = 0
    elem = np.where(p > 0, p * (np.log(np.where(p > 0, p, 1)) - lq), 0)
    assert F.kl_div(lq, p, "batchmean").item() == pytest.approx(elem.sum() / 3)
    assert F.kl_div(lq, p).item() == pytest.approx(elem.mean())
    lp = np.log(p + 0.1)
    np.testing.assert_allclose(F.kl_div(lq, lp, "none", log_target=True).data, np.exp(lp) * (lp - lq))
    assert tc.gradcheck(lambda a: F.kl_div(a, p, "batchmean"), [lq])
    x1, x2 = rng.standard_normal((2, 3, 5, 2))
    x2[0, :, 0] = 0.0  # a zero vector: the eps clamp keeps it finite
    cs = F.cosine_similarity(x1, x2, dim=1)
    n1 = np.maximum(np.linalg.norm(x1, axis=1), 1e-8)
    n2 = np.maximum(np.linalg.norm(x2, axis=1), 1e-8)
    np.testing.assert_allclose(cs.data, (x1 * x2).sum(axis=1) / (n1 * n2), atol=1e-12)
    assert tc.gradcheck(lambda a, b: F.cosine_similarity(a, b, axis=-1), list(rng.standard_normal((2, 3, 4))))


def test_losses_match_torch():
    torch = pytest.importorskip("torch", reason="PyTorch is an optional extra reference")
    TF = torch.nn.functional
    z = rng.standard_normal((4, 5, 3))
    t = rng.integers(0, 5, (4, 3))
    t[0, 0] = -100
    w = rng.uniform(0.5, 2, 5)
    for red in ("mean", "sum", "none"):
        for eps in (0.0, 0.15):
            zt = torch.tensor(z, requires_grad=True)
            ref = TF.cross_entropy(zt, torch.tensor(t), torch.tensor(w), reduction=red, label_smoothing=eps)
            ours = Tensor(z, requires_grad=True)
            out = F.cross_entropy(ours, t, reduction=red, label_smoothing=eps, weight=w)
            np.testing.assert_allclose(out.data, ref.detach().numpy(), atol=1e-12)
            g = rng.standard_normal(out.shape)
            out.backward(g)
            ref.backward(torch.tensor(g))
            np.testing.assert_allclose(ours.grad, zt.grad.numpy(), atol=1e-12)
    x, y = rng.standard_normal((4, 3)) * 4, rng.uniform(size=(4, 3))
    pw, ew = rng.uniform(0.5, 3, 3), rng.uniform(size=(4, 3))
    ref = TF.binary_cross_entropy_with_logits(
        torch.tensor(x), torch.tensor(y), torch.tensor(ew), pos_weight=torch.tensor(pw)
    )
    assert F.binary_cross_entropy_with_logits(x, y, ew, pos_weight=pw).item() == pytest.approx(
        ref.item(), rel=1e-12
    )
    a, b = rng.standard_normal((2, 5, 4))
    for ours, theirs in [
        (F.smooth_l1_loss(a, b, beta=0.5), TF.smooth_l1_loss(torch.tensor(a), torch.tensor(b), beta=0.5)),
        (F.huber_loss(a, b, delta=0.5), TF.huber_loss(torch.tensor(a), torch.tensor(b), delta=0.5)),
        (F.cosine_similarity(a, b), TF.cosine_similarity(torch.tensor(a), torch.tensor(b))),
    ]:
        np.testing.assert_allclose(ours.data, theirs.numpy(), atol=1e-12)
