"""The op workspace (tinygrad_conv._workspace), the host process left alone at import, and the
engine's speed paths (leaf adopts a fresh gradient, first layer's input gradient skipped)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tinygrad_conv as tc
from tinygrad_conv import Tensor, get_op
from tinygrad_conv import functional as F
from tinygrad_conv._workspace import Workspace

RSS_SCRIPT = textwrap.dedent("""
    import os, sys
    import numpy as np
    if sys.argv[1] == "import":
        import tinygrad_conv  # noqa: F401
    def rss_mb():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    before = rss_mb()
    for _ in range(3):  # a NumPy-only workload: 20 x 16 MB blocks, touched, freed
        blocks = [np.ones(4 << 20, np.float32) for _ in range(20)]
        del blocks
    print(rss_mb() - before)
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm (Linux)")
def test_import_leaves_numpy_workload_memory_alone():
    """Importing the package must not change how the process returns freed memory (the old
    import-time mallopt kept ~1 GB resident after such a workload)."""
    kept = {}
    for mode in ("plain", "import"):
        p = subprocess.run([sys.executable, "-c", RSS_SCRIPT, mode], capture_output=True, text=True,
                           check=True)
        kept[mode] = float(p.stdout.strip())
    assert kept["import"] < kept["plain"] + 32, kept  # MB still resident after freeing 320 MB


def test_buffer_not_reused_while_referenced_and_reused_when_free():
    ws = Workspace(limit_bytes=64 << 20)
    a = ws.get("t", (256, 256), np.float32)
    b = ws.get("t", (256, 256), np.float32)
    assert not np.shares_memory(a, b)  # a is still held
    view = a[1:]
    del a
    c = ws.get("t", (256, 256), np.float32)
    assert not np.shares_memory(c, view) or c is b  # a view keeps its base busy
    del view, c
    d = ws.get("t", (256, 256), np.float32)
    assert ws.hits >= 1 and d.shape == (256, 256)
    d[:] = 5
    del d
    z = ws.get("t", (256, 256), np.float32, zero=True)
    assert not z.any()


def test_workspace_bound_and_empty_cache():
    ws = Workspace(limit_bytes=1 << 20)
    bufs = [ws.get("t", (128, 1024), np.float32) for _ in range(4)]  # 512 KiB each
    assert ws.nbytes <= 1 << 20
    del bufs
    ws.clear()
    assert ws.nbytes == 0
    off = Workspace(limit_bytes=0)
    x = off.get("t", (512, 512), np.float32)
    del x
    assert off.nbytes == 0 and off.hits == 0
    tc.empty_cache()  # the package-level switch runs


def _conv_net_step(retain: bool):
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((16, 4, 12, 12)).astype(np.float32), requires_grad=True)
    w = Tensor(rng.standard_normal((8, 4, 3, 3)).astype(np.float32), requires_grad=True)
    y = F.conv2d(x, w, padding=1)
    loss = (F.relu(y) * y).sum()
    loss.backward(retain_graph=retain)
    return x, w, y, loss


def test_conv_outputs_never_share_a_buffer_and_retain_graph_is_exact():
    x1, w1, y1, _ = _conv_net_step(False)
    x2, w2, y2, loss2 = _conv_net_step(True)
    assert not np.shares_memory(y1.data, y2.data)
    np.testing.assert_array_equal(y1.data, y2.data)
    gx, gw = x2.grad.copy(), w2.grad.copy()
    _, _, y3, _ = _conv_net_step(False)  # more steps while y2's graph is retained
    assert not np.shares_memory(y3.data, y2.data)
    loss2.backward()  # the retained graph's saved columns were not overwritten
    np.testing.assert_allclose(x2.grad, 2 * gx, rtol=1e-5)
    np.testing.assert_allclose(w2.grad, 2 * gw, rtol=1e-5)


def test_leaf_grads_never_alias():
    x = Tensor(np.ones((64, 64), np.float32), requires_grad=True)
    z = Tensor(np.ones((64, 64), np.float32), requires_grad=True)
    seed = np.full((64, 64), 2.0, np.float32)
    (x + z).backward(seed)
    assert not np.shares_memory(x.grad, z.grad)
    assert not np.shares_memory(x.grad, seed) and not np.shares_memory(z.grad, seed)
    y = Tensor(np.ones((64, 64), np.float32), requires_grad=True)
    (y * 3.0).sum().backward()  # a fresh gradient buffer may be adopted: it must be y's alone
    y.grad += 1
    np.testing.assert_array_equal(y.grad, 4.0)


@pytest.mark.parametrize("model", ["mlp", "seed_cnn"])
def test_first_layer_input_gradient_is_skipped(model, monkeypatch):
    """The input batch needs no gradient: no matmul / conv2d_input_grad runs for layer one."""
    from tinygrad_conv import models

    calls = {"matmul": 0, "conv2d_input_grad": 0}
    for name in calls:
        op = get_op(name)
        orig = op.forward

        def counting(*a, _orig=orig, _name=name, **k):
            calls[_name] += 1
            return _orig(*a, **k)

        monkeypatch.setattr(op, "forward", staticmethod(counting))
    net = models.get_model(model, rng=np.random.default_rng(0))
    x = Tensor(np.random.default_rng(1).random((4, 1, 28, 28), dtype=np.float32))
    loss = F.cross_entropy(net(x), np.array([0, 1, 2, 3]))
    loss.backward()
    n_linear = sum(1 for m in net.modules() if type(m).__name__ == "Linear")
    n_conv = sum(1 for m in net.modules() if type(m).__name__ == "Conv2d")
    assert calls["matmul"] == (n_linear - 1 if n_conv == 0 else n_linear)  # dx of each linear but the first
    assert calls["conv2d_input_grad"] == max(n_conv - 1, 0)


FAULTS_SCRIPT = textwrap.dedent("""
    import resource, sys
    import numpy as np
    from tinygrad_conv import Tensor, models, optim
    from tinygrad_conv import functional as F
    model = models.get_model(sys.argv[1], rng=np.random.default_rng(0))
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x = np.random.default_rng(1).random((64, 1, 28, 28), dtype=np.float32)
    y = np.arange(64) % 10
    def step():
        loss = F.cross_entropy(model(Tensor(x)), y)
        opt.zero_grad(); loss.backward(); opt.step()
    for _ in range(4):
        step()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        step()
    print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 5)
""")


@pytest.mark.skipif(not sys.platform.startswith("linux") or __import__("platform").libc_ver()[0] != "glibc",
                    reason="page-fault behaviour measured against glibc's allocator")
@pytest.mark.parametrize("model", ["seed_cnn", "lenet5"])
def test_training_step_touches_no_fresh_memory(model):
    """After warm-up a step reuses its memory (workspace + glibc's own adaptive thresholds): without
    them a seed_cnn step took ~2500 page faults, more than half of its time on a small VM."""
    p = subprocess.run([sys.executable, "-c", FAULTS_SCRIPT, model], capture_output=True, text=True,
                       check=True)
    assert float(p.stdout.strip()) < 100


def test_workspace_limit_from_environment(monkeypatch):
    monkeypatch.setenv("TINYGRAD_CONV_WORKSPACE_MB", "1.5")
    assert Workspace().limit == 3 << 19
    monkeypatch.setenv("TINYGRAD_CONV_WORKSPACE_MB", "lots")
    with pytest.warns(RuntimeWarning, match="TINYGRAD_CONV_WORKSPACE_MB.*'lots'"):
        assert Workspace().limit == 256 << 20
