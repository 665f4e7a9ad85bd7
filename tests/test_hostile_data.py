"""IDX files and datasets that lie: oversized declarations, gzip bombs, trailing data, bad labels."""

import gzip
import subprocess
import sys

import numpy as np
import pytest
import test_data
from hostile_helpers import MiB, gzip_bomb, idx_header

from tinygrad_conv.data import load_dataset, read_idx, write_idx
from tinygrad_conv.data.idx import MAX_IDX_BYTES

STEMS, fake_dataset = test_data.STEMS, test_data.fake_dataset
clean_env = test_data.clean_env  # the fixture: no user data anywhere, no network


class CountingGzip:
    """Counts the bytes every GzipFile hands out (what it decompressed for its reader)."""

    def __init__(self, monkeypatch):
        self.total = 0
        real = gzip.GzipFile.read

        def read(f, size=-1):
            out = real(f, size)
            self.total += len(out)
            return out

        monkeypatch.setattr(gzip.GzipFile, "read", read)


def test_header_over_the_limit_is_refused_before_any_data(tmp_path):
    p = tmp_path / "big.idx"
    p.write_bytes(idx_header((60000, 28, 28)) + bytes(10))
    with pytest.raises(ValueError) as e:
        read_idx(p, max_bytes=1000)
    assert str(e.value) == (f"read_idx: {p}: header declares shape (60000, 28, 28) of uint8, 47040000 data "
                            "bytes, over the limit of 1000 bytes (max_bytes)")
    assert MAX_IDX_BYTES == 1 << 30 and 60000 * 28 * 28 < MAX_IDX_BYTES  # MNIST itself fits the default


@pytest.mark.parametrize("shape, code, nbytes", [
    ((2**32 - 1,) * 3, 0x0E, (2**32 - 1) ** 3 * 8),  # would overflow int64 in np.prod
    ((2**32 - 1,) * 255, 0x08, (2**32 - 1) ** 255),  # the most an IDX header can say
    ((65536, 65536), 0x0D, 2**34),
])
def test_dims_whose_product_overflows_are_refused_naming_the_file(tmp_path, shape, code, nbytes):
    p = tmp_path / "dims.idx.gz"
    p.write_bytes(gzip.compress(idx_header(shape, code) + bytes(64)))
    with pytest.raises(ValueError) as e:
        read_idx(p)
    msg = str(e.value)
    assert msg.startswith(f"read_idx: {p}: header declares shape")
    assert f"{nbytes} data bytes, over the limit" in msg


def test_gzip_bomb_with_a_lying_header_decompresses_only_what_the_header_says(tmp_path, monkeypatch):
    # header: 10 images of 28x28 (7,840 bytes); the stream: 64 MiB of zeros
    p = gzip_bomb(tmp_path / "b.gz", idx_header((10, 28, 28)), 64 * MiB)
    counter = CountingGzip(monkeypatch)
    with pytest.raises(ValueError) as e:
        read_idx(p)
    assert str(e.value) == (f"read_idx: {p}: too long: shape (10, 28, 28) of uint8 needs 7840 data bytes, "
                            "file has more")
    assert 16 + 7840 <= counter.total <= 16 + 7840 + 1  # header, declared data, one byte to see there is more


def test_gzip_bomb_with_bad_magic_stops_after_four_bytes(tmp_path, monkeypatch):
    p = gzip_bomb(tmp_path / "b.gz", b"\x08\x03\x08\x03", 64 * MiB)
    counter = CountingGzip(monkeypatch)
    with pytest.raises(ValueError, match=r"read_idx: .*b.gz: bad magic 08030803"):
        read_idx(p)
    assert counter.total == 4


@pytest.mark.parametrize("tail, expect", [
    (b"garbage!", "corrupt or truncated gzip data"),  # not a gzip member after the stream
    (gzip.compress(b"\x00" * 100), "too long"),       # a second gzip member: more data than declared
])
def test_gzip_trailing_data_is_one_clear_error(tmp_path, tail, expect):
    p = tmp_path / "t.gz"
    write_idx(p, np.arange(12, dtype=np.uint8).reshape(3, 4))
    p.write_bytes(p.read_bytes() + tail)
    with pytest.raises(ValueError) as e:
        read_idx(p)
    assert str(e.value).startswith(f"read_idx: {p}: ") and expect in str(e.value)


def test_gzip_zero_padding_is_still_fine(tmp_path):
    # gzip(1) tolerates zero padding after the last member (tape blocks); so does Python's reader
    p = tmp_path / "pad.gz"
    write_idx(p, np.arange(12, dtype=np.int16).reshape(3, 4))
    p.write_bytes(p.read_bytes() + bytes(512))
    np.testing.assert_array_equal(read_idx(p), np.arange(12).reshape(3, 4))


def test_plain_file_size_is_checked_before_reading(tmp_path):
    p = tmp_path / "plain"
    p.write_bytes(idx_header((3, 4), code=0x0C) + bytes(48 + 7))
    with pytest.raises(ValueError, match=r"long: shape \(3, 4\) of int32 needs 48 data bytes, file has 55"):
        read_idx(p)


def test_big_endian_values_round_trip_in_native_order(tmp_path):
    a = np.array([[1.5, -2.25], [3e38, -1e-38]], dtype=np.float32)
    write_idx(tmp_path / "f", a)
    b = read_idx(tmp_path / "f")
    assert b.dtype == np.dtype("float32") and b.dtype.isnative and b.flags.writeable and b.flags.c_contiguous
    np.testing.assert_array_equal(a, b)


# ---- datasets: labels and counts checked at load, naming the file --------------------------------
def _corrupt(d, stem, array):
    write_idx(d / f"{stem}.gz", array)
    return d / f"{stem}.gz"


@pytest.mark.parametrize("stem, labels, expect", [
    ("t10k-labels-idx1-ubyte", np.array([0, 1, 10, 2, 3, 255], np.uint8),
     "2 labels outside [0, 10), first 10 at index 2"),
    ("train-labels-idx1-ubyte", np.array([9] * 11 + [12], np.uint8),
     "1 labels outside [0, 10), first 12 at index 11"),
])
def test_bad_labels_are_refused_at_load_naming_the_file(clean_env, stem, labels, expect):
    d = clean_env / "d"
    fake_dataset(d, marker=1)
    bad = _corrupt(d, stem, labels)
    with pytest.raises(ValueError) as e:
        load_dataset("mnist", d)
    assert str(e.value) == f"load_dataset: {bad}: {expect}"


def test_fashion_labels_use_its_own_class_count(clean_env):
    d = clean_env / "f"
    fake_dataset(d, marker=9)  # 9 is a valid Fashion-MNIST class ("Ankle boot")
    assert load_dataset("fashion-mnist", d)[3][0] == 9


def test_image_and_label_counts_must_match_naming_both_files(clean_env):
    d = clean_env / "d"
    fake_dataset(d, marker=2)  # 12 train, 6 test
    _corrupt(d, "t10k-labels-idx1-ubyte", np.full(5, 2, np.uint8))
    with pytest.raises(ValueError) as e:
        load_dataset("mnist", d)
    assert str(e.value) == (f"load_dataset: mnist: {d / 't10k-images-idx3-ubyte.gz'} has 6 images but "
                            f"{d / 't10k-labels-idx1-ubyte.gz'} has 5 labels")
    assert STEMS[3] == "t10k-labels-idx1-ubyte"


def test_cli_train_refuses_a_bad_test_label_before_training(clean_env):
    d, out = clean_env / "d", clean_env / "run"
    fake_dataset(d, marker=1)
    bad = _corrupt(d, "t10k-labels-idx1-ubyte", np.array([0, 1, 2, 3, 4, 11], np.uint8))
    proc = subprocess.run([sys.executable, "-m", "tinygrad_conv.cli", "train", "--dataset", "mnist", "--data",
                           str(d), "--epochs", "1", "--out", str(out), "--quiet"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last == f"tinygrad-conv train: load_dataset: {bad}: 1 labels outside [0, 10), first 11 at index 5"
    assert not (out / "checkpoint.npz").exists() and not (out / "metrics.csv").exists()


def test_mnist_sample_labels_and_size_are_checked(tmp_path, monkeypatch):
    from tinygrad_conv.data import datasets as ds

    rows = np.zeros((3, 785), np.int64)
    rows[:, -1] = [3, 10, 4]
    p = tmp_path / "mnist_5k.csv.gz"
    p.write_bytes(gzip.compress("\n".join(",".join(map(str, r)) for r in rows).encode()))
    monkeypatch.setattr(ds, "mnist_sample_path", lambda: p)
    with pytest.raises(ValueError) as e:
        load_dataset("mnist-sample")
    assert str(e.value) == f"load_dataset: {p}: 1 labels outside [0, 10), first 10 at index 1"
    gzip_bomb(p, b"", 80 * MiB)  # 80 KB on disk; decompression stops after 64 MiB
    with pytest.raises(ValueError, match=r"cannot parse as CSV .*more than 67108864 bytes uncompressed"):
        load_dataset("mnist-sample")
