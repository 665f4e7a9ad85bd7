"""optim: every optimizer against hand-written formulas and PyTorch numbers; state_dict; schedules."""

import io
import math

import numpy as np
import pytest

from tinygrad_conv import nn, optim

# A quadratic problem: grad(p) = A @ p + b, five steps from P0 (float64).
A = np.array([[2, 0.5, 0], [0.5, 1, 0.2], [0, 0.2, 3]])
B = np.array([0.1, -0.3, 0.2])
P0 = np.array([0.5, -1.0, 2.0])

CONFIGS = {
    "sgd": (optim.SGD, dict(lr=0.1)),
    "sgd_momentum": (optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    "sgd_nesterov": (optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)),
    "adam": (optim.Adam, dict(lr=0.1)),
    "adam_wd": (optim.Adam, dict(lr=0.1, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    "adamw": (optim.AdamW, dict(lr=0.1, weight_decay=0.1)),
}

# p after 5 steps with torch 2.13 CPU (float64): torch.optim.<same class>([p], **kwargs), each step setting
# p.grad = A @ p + b then opt.step().
TORCH_P5 = {
    "sgd": [0.268921235, -0.63078807835, 0.32545337099999994],
    "sgd_momentum": [-0.044685148004117665, -0.05712924827469594, -1.5729691995705533],
    "sgd_nesterov": [0.0913343397785613, -0.306221925707089, -0.7082849996854987],
    "adam": [0.043682449771054344, -0.5028357329953079, 1.502703340928169],
    "adam_wd": [0.05631645390774982, -0.5061005195256673, 1.5049188490392356],
    "adamw": [0.031000156293553974, -0.4640865191154433, 1.4152659237955216],
}


def hand_steps(name, n=5):
    """The update rules written out independently of the library (PyTorch's formulas)."""
    _, kw = CONFIGS[name]
    lr, wd = kw["lr"], kw.get("weight_decay", 0.0)
    p, buf, m, v = P0.copy(), None, np.zeros(3), np.zeros(3)
    out = []
    for t in range(1, n + 1):
        g = A @ p + B
        if name.startswith("sgd"):
            mom, damp = kw.get("momentum", 0.0), kw.get("dampening", 0.0)
            g = g + wd * p
            if mom:
                buf = g.copy() if buf is None else mom * buf + (1 - damp) * g
                g = g + mom * buf if kw.get("nesterov") else buf
            p = p - lr * g
        else:
            b1, b2 = kw.get("betas", (0.9, 0.999))
            eps = kw.get("eps", 1e-8)
            if name == "adamw":
                p = p * (1 - lr * wd)
            else:
                g = g + wd * p
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            mhat, vhat = m / (1 - b1 ** t), v / (1 - b2 ** t)
            p = p - lr * mhat / (np.sqrt(vhat) + eps)
        out.append(p)
    return out


def run(name, n=5, dtype=np.float64, opt_out=None):
    cls, kw = CONFIGS[name]
    p = nn.Parameter(P0.astype(dtype))
    opt = cls([p], **kw)
    traj = []
    for _ in range(n):
        opt.zero_grad()
        p.grad = (A @ p.data + B).astype(dtype)
        opt.step()
        traj.append(p.data.copy())
    if opt_out is not None:
        opt_out.append(opt)
    return p, traj


@pytest.mark.parametrize("name", list(CONFIGS))
def test_matches_hand_formulas_and_pytorch(name):
    p, traj = run(name)
    for got, want in zip(traj, hand_steps(name)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(p.data, TORCH_P5[name], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_float32_in_place_and_close_to_float64(name):
    cls, kw = CONFIGS[name]
    p = nn.Parameter(P0.astype(np.float32))
    ref = p.data
    p32, _ = run(name, dtype=np.float32)
    assert p32.dtype == np.float32
    np.testing.assert_allclose(p32.data, TORCH_P5[name], rtol=1e-4, atol=1e-5)
    opt = cls([p], **kw)
    p.grad = np.ones(3, np.float32)
    opt.step()
    assert p.data is ref and p.dtype == np.float32
    assert all(v.dtype == np.float32 for k, v in opt.state_dict().items()
               if k.startswith("state.") and isinstance(v, np.ndarray))


@pytest.mark.parametrize("cls,kw", [(optim.SGD, dict(lr=0.1, weight_decay=0.5)),
                                    (optim.SGD, dict(lr=0.1, momentum=0.9, weight_decay=0.5)),
                                    (optim.Adam, dict(lr=0.1, weight_decay=0.5)),
                                    (optim.AdamW, dict(lr=0.1, weight_decay=0.5))])
def test_weight_decay_shrinks_weights(cls, kw):
    p = nn.Parameter(np.array([1.0, -2.0, 3.0]))
    opt = cls([p], **kw)
    for _ in range(3):
        p.grad = np.zeros(3)
        before = np.abs(p.data).copy()
        opt.step()
        assert np.all(np.abs(p.data) < before)


def test_skips_params_without_grad_and_zero_grad():
    a, b = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(2))
    opt = optim.SGD([a, b], lr=0.5)
    a.grad = np.ones(2)
    opt.step()
    np.testing.assert_array_equal(a.data, [0.5, 0.5])
    np.testing.assert_array_equal(b.data, [1.0, 1.0])
    opt.zero_grad()
    assert a.grad is None and b.grad is None


@pytest.mark.parametrize("name", list(CONFIGS))
def test_state_dict_round_trip_through_npz(name):
    holder = []
    p, _ = run(name, n=2, opt_out=holder)
    opt = holder[0]
    buf = io.BytesIO()
    np.savez(buf, **opt.state_dict())
    buf.seek(0)
    sd = dict(np.load(buf, allow_pickle=False))
    cls, kw = CONFIGS[name]
    q = nn.Parameter(p.data.copy())
    kw2 = dict(kw, lr=123.0)  # the checkpoint's lr wins
    opt2 = cls([q], **kw2)
    opt2.load_state_dict(sd)
    assert opt2.lr == kw["lr"] and opt2.step_count == 2
    for o, t in ((opt, p), (opt2, q)):
        for _ in range(3):
            t.grad = A @ t.data + B
            o.step()
    np.testing.assert_array_equal(p.data, q.data)
    np.testing.assert_allclose(q.data, TORCH_P5[name], rtol=1e-10, atol=1e-12)


def test_state_dict_keys_and_load_errors():
    p = [nn.Parameter(np.ones((2, 3))), nn.Parameter(np.ones(4))]
    sgd = optim.SGD(p, lr=0.1, momentum=0.9)
    for t in p:
        t.grad = np.ones(t.shape)
    sgd.step()
    sd = sgd.state_dict()
    assert set(sd) == {"step", "param_groups.lr", "param_groups.momentum", "param_groups.dampening",
                       "param_groups.weight_decay", "param_groups.nesterov", "state.0.momentum_buffer",
                       "state.1.momentum_buffer"}
    adam = optim.Adam(p)
    with pytest.raises(ValueError) as e:
        adam.load_state_dict(sd)
    msg = str(e.value)
    assert msg.startswith("Adam.load_state_dict: ")
    assert "unexpected key param_groups.momentum" in msg and "state.0.momentum_buffer" in msg
    assert "missing keys: param_groups.betas, param_groups.eps" in msg
    bad = dict(sd)
    bad["state.1.momentum_buffer"] = np.ones(5)
    bad["state.7.momentum_buffer"] = np.ones(5)
    with pytest.raises(ValueError, match=r"state.1.momentum_buffer: shape \(5,\) vs parameter \(4,\).*"
                                         r"parameter index 7 out of range \(2 parameters\)"):
        sgd.load_state_dict(bad)


def test_constructor_errors():
    p = [nn.Parameter(np.ones(2))]
    with pytest.raises(ValueError, match="SGD: invalid lr -1"):
        optim.SGD(p, lr=-1)
    with pytest.raises(ValueError, match="SGD: nesterov needs momentum > 0"):
        optim.SGD(p, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="Adam: invalid beta2 1.0"):
        optim.Adam(p, betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="SGD: got an empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="appears twice"):
        optim.SGD(p + p, lr=0.1)


# torch 2.13: StepLR(step_size=2, gamma=0.5) and CosineAnnealingLR(T_max=4, eta_min=0.1) on SGD(lr=1.0);
# get_last_lr()[0] after construction, then after each opt.step(); sched.step().
TORCH_STEPLR = [1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.125]
TORCH_COSINE = [1.0, 0.8681980515339464, 0.55, 0.23180194846605368, 0.1, 0.2318019484660536, 0.55,
                0.8681980515339467]


@pytest.mark.parametrize("make,want,hand", [
    (lambda o: optim.StepLR(o, step_size=2, gamma=0.5), TORCH_STEPLR, lambda e: 0.5 ** (e // 2)),
    (lambda o: optim.CosineAnnealingLR(o, T_max=4, eta_min=0.1), TORCH_COSINE,
     lambda e: 0.1 + 0.9 * (1 + math.cos(math.pi * e / 4)) / 2),
])
def test_schedules(make, want, hand):
    opt = optim.SGD([nn.Parameter(np.ones(1))], lr=1.0)
    sched = make(opt)
    lrs = [sched.get_last_lr()[0]]
    for _ in range(len(want) - 1):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr()[0])
        assert opt.lr == lrs[-1]
    np.testing.assert_allclose(lrs, want, rtol=1e-12)
    np.testing.assert_allclose(lrs, [hand(e) for e in range(len(want))], rtol=1e-12)
    # resume: a fresh scheduler loaded from the state dict continues identically
    sd = {k: np.asarray(v) for k, v in sched.state_dict().items()}
    opt2 = optim.SGD([nn.Parameter(np.ones(1))], lr=1.0)
    s2 = make(opt2)
    s2.load_state_dict(sd)
    sched.step()
    s2.step()
    assert s2.get_last_lr() == sched.get_last_lr() and opt2.lr == opt.lr
    with pytest.raises(ValueError, match="missing keys"):
        s2.load_state_dict({"last_epoch": 1})
