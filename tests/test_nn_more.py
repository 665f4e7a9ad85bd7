"""Issue 12 layers and containers, and two small models built from them that train: a U-Net-like
encoder-decoder (conv, pool, conv_transpose and interpolate, concatenation, BatchNorm/GroupNorm,
BCE-with-logits) and a residual CNN; both graphs render with module clusters."""

import numpy as np
import pytest
from graph_helpers import dot_of

import tinygrad_conv.nn as nn
from tinygrad_conv import Tensor
from tinygrad_conv import functional as F
from tinygrad_conv.optim import Adam

rng = np.random.default_rng(2)


def test_layer_group_instance_norm_match_numpy():
    x = rng.standard_normal((2, 6, 3, 4))
    ln = nn.LayerNorm((3, 4), dtype=np.float64)
    ln.weight.data[...] = rng.standard_normal((3, 4))
    mu, var = x.mean(axis=(2, 3), keepdims=True), x.var(axis=(2, 3), keepdims=True)
    np.testing.assert_allclose(
        ln(Tensor(x)).data, (x - mu) / np.sqrt(var + 1e-5) * ln.weight.data, atol=1e-12
    )
    gn = nn.GroupNorm(3, 6, dtype=np.float64)
    gn.bias.data[...] = np.arange(6.0)
    xg = x.reshape(2, 3, -1)
    ref = ((xg - xg.mean(-1, keepdims=True)) / np.sqrt(xg.var(-1, keepdims=True) + 1e-5)).reshape(x.shape)
    np.testing.assert_allclose(gn(Tensor(x)).data, ref + np.arange(6.0).reshape(1, 6, 1, 1), atol=1e-12)
    inorm = nn.InstanceNorm2d(6, track_running_stats=True, dtype=np.float64)
    np.testing.assert_allclose(inorm(Tensor(x)).data, (x - mu) / np.sqrt(var + 1e-5), atol=1e-12)
    np.testing.assert_allclose(inorm.running_mean, 0.1 * mu.mean(axis=0).ravel(), atol=1e-12)
    np.testing.assert_allclose(
        inorm.running_var, 0.9 + 0.1 * (var * 12 / 11).mean(axis=0).ravel(), atol=1e-12
    )
    inorm.eval()
    rm, rv = inorm.running_mean.reshape(1, 6, 1, 1), inorm.running_var.reshape(1, 6, 1, 1)
    np.testing.assert_allclose(inorm(Tensor(x)).data, (x - rm) / np.sqrt(rv + 1e-5), atol=1e-12)
    with pytest.raises(ValueError, match="GroupNorm: num_groups 4 must divide num_channels 6"):
        nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match=r"layer_norm: input shape \(2, 6, 3, 4\) does not end with"):
        F.layer_norm(x, (4, 3))


def test_norms_match_torch():
    torch = pytest.importorskip("torch", reason="PyTorch is an optional extra reference")
    x = rng.standard_normal((2, 6, 3, 4))
    w, b = rng.standard_normal(6), rng.standard_normal(6)
    ref = torch.nn.functional.group_norm(torch.tensor(x), 2, torch.tensor(w), torch.tensor(b))
    np.testing.assert_allclose(F.group_norm(x, 2, w, b).data, ref.numpy(), atol=1e-12)
    ref = torch.nn.functional.layer_norm(torch.tensor(x), (4,), torch.tensor(w[:4]), torch.tensor(b[:4]))
    np.testing.assert_allclose(F.layer_norm(x, 4, w[:4], b[:4]).data, ref.numpy(), atol=1e-12)
    np.testing.assert_allclose(
        F.instance_norm(x).data, torch.nn.functional.instance_norm(torch.tensor(x)).numpy(), atol=1e-12
    )


def test_layers_shapes_dtypes_and_parameters():
    x = Tensor(rng.standard_normal((2, 4, 5, 5)).astype(np.float32))
    ct = nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1, rng=0)
    assert ct.weight.shape == (4, 3, 3, 3) and ct(x).shape == (2, 3, 10, 10) and ct(x).dtype == np.float32
    c1 = nn.Conv1d(4, 2, 3, padding=1, rng=0)
    assert c1(Tensor(rng.standard_normal((2, 4, 7)).astype(np.float32))).shape == (2, 2, 7)
    assert nn.Upsample(scale_factor=2, mode="bilinear")(x).shape == (2, 4, 10, 10)
    assert nn.AdaptiveAvgPool2d(1)(x).shape == (2, 4, 1, 1) and nn.AdaptiveMaxPool2d((2, 3))(x).shape == (
        2,
        4,
        2,
        3,
    )
    assert nn.PixelShuffle(2)(x).shape == (2, 1, 10, 10) and nn.PixelUnshuffle(5)(x).shape == (2, 100, 1, 1)
    assert nn.Identity()(x) is x
    emb = nn.Embedding(10, 3, padding_idx=0, rng=0)
    idx = np.array([[1, 0, 9], [0, 2, 2]])
    out = emb(idx)
    assert out.shape == (2, 3, 3) and np.all(out.data[0, 1] == 0)
    out.sum().backward()
    np.testing.assert_array_equal(emb.weight.grad[:3, 0], [0, 1, 2])  # row 2 twice, padding row none
    d2 = nn.Dropout2d(0.5, rng=0)
    y = d2(Tensor(np.ones((4, 8, 3, 3))))
    per_channel = y.data.reshape(4, 8, -1)
    assert set(np.unique(per_channel)) <= {0.0, 2.0} and np.all(per_channel.min(-1) == per_channel.max(-1))
    d2.eval()
    assert d2(x) is x


def test_containers():
    ml = nn.ModuleList([nn.Linear(2, 3), nn.ReLU()])
    ml.append(nn.Linear(3, 1))
    assert len(ml) == 3 and [n for n, _ in ml.named_parameters()] == [
        "0.weight",
        "0.bias",
        "2.weight",
        "2.bias",
    ]
    assert isinstance(ml[-1], nn.Linear) and len(ml[1:]) == 2
    md = nn.ModuleDict({"enc": nn.Linear(2, 2), "dec": nn.Linear(2, 2)})
    assert list(md) == ["enc", "dec"] and "enc" in md and len(list(md.parameters())) == 4
    with pytest.raises(KeyError, match="ModuleDict: no module 'mid'"):
        md["mid"]
    pl = nn.ParameterList([np.zeros(3), nn.Parameter(np.ones(2))])
    assert len(pl) == 2 and set(pl.state_dict()) == {"0", "1"} and pl[1].shape == (2,)
    holder = nn.Module()
    holder.blocks = ml
    assert "blocks.2.weight" in holder.state_dict()


class Block(nn.Module):
    def __init__(self, cin, cout, norm):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1, rng=1)
        self.norm = nn.BatchNorm2d(cout) if norm == "bn" else nn.GroupNorm(2, cout)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.norm(self.conv(x)))


class TinyUNet(nn.Module):
    """Two levels: conv blocks, max-pool down, transposed-conv and bilinear up, skip concatenation."""

    def __init__(self):
        super().__init__()
        self.enc1, self.enc2 = Block(1, 4, "bn"), Block(4, 8, "gn")
        self.pool = nn.MaxPool2d(2)
        self.mid = Block(8, 8, "gn")
        self.up2 = nn.ConvTranspose2d(8, 8, 2, stride=2, rng=2)
        self.dec2 = Block(16, 4, "bn")
        self.up1 = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.dec1 = Block(8, 4, "gn")
        self.head = nn.Conv2d(4, 1, 1, rng=3)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(self.pool(e1))
        m = self.mid(self.pool(e2))
        d2 = self.dec2(F.concatenate([self.up2(m), e2], axis=1))
        d1 = self.dec1(F.concatenate([self.up1(d2), e1], axis=1))
        return self.head(d1)


class ResBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(c, c, 3, padding=1, rng=4), nn.Conv2d(c, c, 3, padding=1, rng=5)
        self.norm = nn.LayerNorm((c, 8, 8))

    def forward(self, x):
        return F.relu(x + self.conv2(F.relu(self.norm(self.conv1(x)))))


class TinyResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 3, padding=1, rng=6)
        self.blocks = nn.ModuleList([ResBlock(4), ResBlock(4)])
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.drop = nn.Dropout2d(0.1, rng=0)
        self.fc = nn.Linear(4, 3, rng=7)

    def forward(self, x):
        h = self.drop(F.relu(self.stem(x)))
        for b in self.blocks:
            h = b(h)
        return self.fc(self.pool(h).flatten(1))


def _train(model, x, y, loss_fn, steps=12, lr=0.02):
    opt = Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = loss_fn(model(Tensor(x)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def _assert_clusters(model, root, names):
    d = dot_of(root, module=model)
    for name in names:
        cls = type(model.get_submodule(name)).__name__
        assert any(c.startswith(f"{name}: {cls}") for c in d.clusters), (name, d.clusters[:8])


def test_unet_trains_and_renders_with_clusters():
    x = np.random.default_rng(3).standard_normal((4, 1, 8, 8)).astype(np.float32)
    y = (x > 0.3).astype(np.float32)  # a thresholding "segmentation" target
    model = TinyUNet()
    losses = _train(model, x, y, F.binary_cross_entropy_with_logits)
    assert losses[-1] < 0.8 * losses[0], losses
    root = F.binary_cross_entropy_with_logits(model(Tensor(x)), y)
    _assert_clusters(model, root, ["enc1", "enc2.norm", "up2", "up1", "dec1.conv", "head"])
    d = dot_of(root, module=model)
    labels = [d.label(n) for n in d.nodes]
    assert any(lab.startswith("conv_transpose2d") for lab in labels)
    assert any(lab.startswith("resize_axis linear") for lab in labels)


def test_residual_cnn_trains_and_renders_with_clusters():
    x = np.random.default_rng(2).standard_normal((6, 1, 8, 8)).astype(np.float32)  # own seed: order-proof
    y = np.arange(6) % 3
    x[np.arange(6), 0, y, y] += 3.0  # class = where a bright pixel sits
    model = TinyResNet()
    losses = _train(model, x, y, F.cross_entropy, steps=20, lr=0.02)
    assert losses[-1] < 0.7 * losses[0], losses
    root = F.cross_entropy(model(Tensor(x)), y)
    _assert_clusters(model, root, ["stem", "blocks.0", "blocks.1.norm", "fc"])


def test_pool_and_cross_entropy_modules_take_pytorch_options():
    x = Tensor(rng.standard_normal((1, 2, 5, 5)))
    v, i = nn.MaxPool2d(2, ceil_mode=True, return_indices=True)(x)
    assert v.shape == (1, 2, 3, 3) and i.dtype == np.int64
    assert nn.MaxPool2d(3, 1, dilation=2)(x).shape == (1, 2, 1, 1)
    avg = nn.AvgPool2d(2, ceil_mode=True, count_include_pad=False)(x)
    assert avg.data[0, 0, 2, 2] == x.data[0, 0, 4, 4]  # the 1x1 corner window divides by 1
    logits, target = rng.standard_normal((2, 3, 4, 4)), rng.integers(0, 3, (2, 4, 4))
    target[0, 0] = 255
    w = np.array([1.0, 2.0, 3.0])
    loss = nn.CrossEntropyLoss(weight=w, ignore_index=255)(Tensor(logits), target)
    assert loss.item() == pytest.approx(F.cross_entropy(logits, target, weight=w, ignore_index=255).item())
