"""State-dict files (.npz, .safetensors): round trips, load_state_dict from a path, clear errors."""

from __future__ import annotations

import os

import numpy as np
import pytest
from export_models import BNNet

from tinygrad_conv import models, nn


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
@pytest.mark.parametrize("build", [lambda: models.seed_cnn(rng=0), BNNet], ids=["seed_cnn", "batchnorm"])
def test_round_trip(suffix, build, tmp_path):
    if suffix == ".safetensors":
        pytest.importorskip("safetensors", reason="needs the optional 'interop' extra (safetensors)")
    src, dst = build(), build()
    for p in dst.parameters():
        p.data[...] = 0.0
    path = nn.write_state_dict(src, tmp_path / f"w{suffix}")
    back = nn.read_state_dict(path)
    assert sorted(back) == sorted(src.state_dict())  # safetensors stores names sorted
    dst.load_state_dict(path)
    for (k, a), (k2, b) in zip(src.state_dict().items(), dst.state_dict().items()):
        assert k == k2 and a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def test_npz_from_a_plain_mapping(tmp_path):
    arrays = {"fc.weight": np.ones((2, 3), np.float32), "fc.bias": np.zeros(2, np.float32)}
    nn.write_state_dict(arrays, tmp_path / "w.npz")
    lin = nn.Linear(3, 2)
    lin.load_state_dict({k.removeprefix("fc."): v for k, v in nn.read_state_dict(tmp_path / "w.npz").items()})
    np.testing.assert_array_equal(lin.weight.data, 1.0)


@pytest.mark.parametrize("name, content, message", [
    ("w.pt", b"", r"unknown format '\.pt'; use \.npz or \.safetensors"),
    ("w.npz", b"not a zip", r"w\.npz: not a readable \.npz file"),
    ("w.safetensors", b"\x08\x00\x00\x00\x00\x00\x00\x00{garbage", r"w\.safetensors: not a readable"),
])
def test_bad_files(name, content, message, tmp_path):
    if name.endswith(".safetensors"):
        pytest.importorskip("safetensors", reason="needs the optional 'interop' extra (safetensors)")
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ValueError, match=message):
        models.mlp(rng=0).load_state_dict(tmp_path / name)


def test_missing_file_and_mismatch_leave_the_model_untouched(tmp_path):
    model = models.mlp(rng=0)
    before = model.state_dict()
    with pytest.raises(FileNotFoundError, match="no file at"):
        model.load_state_dict(tmp_path / "none.npz")
    nn.write_state_dict(models.seed_cnn(rng=1), tmp_path / "other.npz")
    with pytest.raises(ValueError, match="missing keys: flatten|unexpected keys: conv1.weight"):
        model.load_state_dict(str(tmp_path / "other.npz"))
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_write_is_atomic(tmp_path):
    path = tmp_path / "w.npz"
    path.write_bytes(b"old")
    with pytest.raises(TypeError, match="expected a Module or a mapping, got int"):
        nn.write_state_dict(3, path)
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["w.npz"]


def test_npz_size_is_bounded_before_reading(tmp_path):
    nn.write_state_dict({"w": np.zeros((64, 64), np.float32)}, tmp_path / "w.npz")  # 16 kB declared
    with pytest.raises(ValueError, match=r"arrays declare 16,384 bytes, more than max_bytes=1,000"):
        nn.read_state_dict(tmp_path / "w.npz", max_bytes=1000)
