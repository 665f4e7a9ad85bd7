"""Weight exchange with PyTorch: the same weights give the same logits and gradients in both frameworks.

PyTorch is an optional test-only dependency (``pip install torch==2.13.0``).
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch weight exchange is checked only where torch==2.13.0 "
                                            "is installed (a test-only dependency)")
st_torch = pytest.importorskip("safetensors.torch", reason="needs the optional 'interop' extra (safetensors)")

import torch.nn.functional as TF  # noqa: E402
from export_models import BNNet  # noqa: E402
from torch import nn as tnn  # noqa: E402

import tinygrad_conv.functional as F  # noqa: E402
from tinygrad_conv import models, nn  # noqa: E402
from tinygrad_conv.tensor import Tensor  # noqa: E402


class TorchSeedCNN(tnn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = tnn.Conv2d(1, 12, 5, padding="same")
        self.conv2 = tnn.Conv2d(12, 16, 5, padding="same")
        self.fc = tnn.Linear(16 * 7 * 7, 10)

    def forward(self, x):
        x = TF.max_pool2d(TF.relu(self.conv1(x)), 2)
        x = TF.max_pool2d(TF.relu(self.conv2(x)), 2)
        return self.fc(x.flatten(1))


class TorchLeNet5(tnn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = tnn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = tnn.Conv2d(6, 16, 5)
        self.fc1 = tnn.Linear(400, 120)
        self.fc2 = tnn.Linear(120, 84)
        self.fc3 = tnn.Linear(84, 10)

    def forward(self, x):
        x = TF.max_pool2d(TF.relu(self.conv1(x)), 2)
        x = TF.max_pool2d(TF.relu(self.conv2(x)), 2).flatten(1)
        return self.fc3(TF.relu(self.fc2(TF.relu(self.fc1(x)))))


class TorchBNNet(tnn.Module):
    """The replica of tests/export_models.BNNet (eval mode)."""

    def __init__(self):
        super().__init__()
        self.conv = tnn.Conv2d(1, 4, 3, padding=1)
        self.bn = tnn.BatchNorm2d(4)
        self.fc1 = tnn.Linear(64, 8)
        self.bn1 = tnn.BatchNorm1d(8, affine=False)
        self.fc2 = tnn.Linear(8, 3)

    def forward(self, x):
        x = TF.max_pool2d(TF.relu(self.bn(self.conv(x))), 2)
        return self.fc2(self.bn1(self.fc1(x.flatten(1))))


PAIRS = {"seed_cnn": (lambda: models.seed_cnn(rng=0), TorchSeedCNN, (1, 28, 28)),
         "lenet5": (lambda: models.lenet5(rng=0), TorchLeNet5, (1, 28, 28))}


def _batch(shape, n=4):
    rng = np.random.default_rng(3)
    return rng.standard_normal((n, *shape)).astype(np.float32), rng.integers(0, 10, n)


def _ours(model, x, y):
    """logits, d loss / d parameter by name, d loss / d x."""
    xt = Tensor(x, requires_grad=True)
    model.zero_grad()
    logits = model(xt)
    F.cross_entropy(logits, y).backward()
    return logits.data, {k: p.grad for k, p in model.named_parameters()}, xt.grad


def _theirs(model, x, y):
    xt = torch.from_numpy(x).requires_grad_(True)
    model.zero_grad()
    logits = model(xt)
    TF.cross_entropy(logits, torch.from_numpy(y)).backward()
    return (logits.detach().numpy(), {k: p.grad.numpy() for k, p in model.named_parameters()},
            xt.grad.numpy())


def _assert_same(a, b):
    (la, ga, xa), (lb, gb, xb) = a, b
    np.testing.assert_allclose(la, lb, rtol=1e-4, atol=1e-5)
    assert ga.keys() == gb.keys()
    for k in ga:
        np.testing.assert_allclose(ga[k], gb[k], rtol=1e-3, atol=1e-5, err_msg=k)
    np.testing.assert_allclose(xa, xb, rtol=1e-3, atol=1e-6)


@pytest.mark.parametrize("name", list(PAIRS))
@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_ours_to_torch(name, suffix, tmp_path):
    build, TorchModel, shape = PAIRS[name]
    ours, theirs = build(), TorchModel()
    path = nn.write_state_dict(ours, tmp_path / f"w{suffix}")
    if suffix == ".npz":
        with np.load(path) as z:
            sd = {k: torch.from_numpy(z[k]) for k in z.files}
    else:
        sd = st_torch.load_file(str(path))
    theirs.load_state_dict(sd)  # strict: every name and shape must match PyTorch's
    x, y = _batch(shape)
    _assert_same(_ours(ours, x, y), _theirs(theirs, x, y))


@pytest.mark.parametrize("name", list(PAIRS))
@pytest.mark.parametrize("suffix", [".npz", ".safetensors", "direct"])
def test_torch_to_ours(name, suffix, tmp_path):
    build, TorchModel, shape = PAIRS[name]
    torch.manual_seed(0)
    ours, theirs = build(), TorchModel()
    if suffix == ".npz":
        np.savez(tmp_path / "w.npz", **{k: v.numpy() for k, v in theirs.state_dict().items()})
        ours.load_state_dict(tmp_path / "w.npz")
    elif suffix == ".safetensors":
        st_torch.save_file(theirs.state_dict(), str(tmp_path / "w.safetensors"))
        ours.load_state_dict(str(tmp_path / "w.safetensors"))
    else:
        ours.load_state_dict(theirs.state_dict())  # torch tensors straight in
    x, y = _batch(shape)
    _assert_same(_ours(ours, x, y), _theirs(theirs, x, y))


def test_batchnorm_buffers_map_one_to_one(tmp_path):
    ours = BNNet()
    theirs = TorchBNNet()
    path = nn.write_state_dict(ours, tmp_path / "bn.safetensors")
    theirs.load_state_dict(st_torch.load_file(str(path)))
    assert theirs.bn.num_batches_tracked.dtype == torch.int64
    ours.eval(), theirs.eval()
    x, _ = _batch((1, 8, 8))
    with torch.no_grad():
        np.testing.assert_allclose(ours(Tensor(x)).data, theirs(torch.from_numpy(x)).numpy(), rtol=1e-4,
                                   atol=1e-5)
