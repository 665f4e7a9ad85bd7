"""load_checkpoint against hostile and damaged checkpoints: each fault is one CheckpointError line naming
the key."""

import io
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from hostile_helpers import (
    CONFIG_TYPES,
    npy_header,
    npz_with_bomb,
    stored,
    tiny_checkpoint,
    tiny_model,
    write_zip,
)

from tinygrad_conv.checkpoint import CheckpointError, load_checkpoint


@pytest.fixture
def good(tmp_path):
    return tiny_checkpoint(tmp_path / "good.npz")


def rewrite(src, dst, change):
    """Copy checkpoint ``src`` to ``dst`` with ``change(d)`` applied to its key -> array dict."""
    with np.load(src) as z:
        d = {k: z[k] for k in z.files}
    change(d)
    np.savez(dst, **d)  # allow_pickle stays on here so an object array can be planted
    return dst


def put(**kv):
    return lambda d: d.update(kv)


def drop(key):
    return lambda d: d.pop(key)


def nan_at(key, i=0):
    def f(d):
        a = d[key].copy()
        a.reshape(-1)[i] = np.nan
        d[key] = a
    return f


# (change, keyword arguments of load_checkpoint, what the one-line message must contain)
CASES = {
    "unknown key": (put(evil=np.zeros(3)), {}, "unknown key 'evil'"),
    "unknown optim key": (put(**{"optim.foo.bar": np.zeros(1)}), {}, "unknown key 'optim.foo.bar'"),
    "history of unknown metric": (put(**{"history.bogus": np.zeros(2)}), {}, "unknown key 'history.bogus'"),
    "complex weight": (put(**{"model.1.weight": np.zeros((8, 16), complex)}), {},
                       "key 'model.1.weight': dtype complex128 is not a float"),
    "string weight": (put(**{"model.1.bias": np.array(["a"] * 8)}), {},
                      "key 'model.1.bias': dtype <U1 is not a float"),
    "int weight matrix": (put(**{"model.1.weight": np.zeros((8, 16), np.int64)}), {}, "is not a float"),
    "object weight": (put(**{"model.1.bias": np.array([None] * 8, dtype=object)}), {},
                      "member 'model.1.bias': dtype object is not a plain number or string type"),
    "nan weight": (nan_at("model.4.weight", 5), {},
                   "key 'model.4.weight': 1 non-finite values (first nan at flat index 5); "
                   "pass allow_nonfinite=True"),
    "inf momentum": (put(**{"optim.state.1.momentum_buffer": np.full(8, np.inf, np.float32)}), {},
                     "key 'optim.state.1.momentum_buffer': 8 non-finite values"),
    "nan lr": (put(**{"optim.param_groups.lr": np.array(np.nan)}), {},
               "key 'optim.param_groups.lr': 1 non-finite"),
    "float epoch": (put(epoch=np.array(2.0)), {}, "key 'epoch': dtype float64 is not an integer"),
    "negative epoch": (put(epoch=np.array(-1)), {}, "key 'epoch': -1 is out of range [0, 2147483647]"),
    "huge epoch": (put(epoch=np.array(2**40)), {}, "key 'epoch': 1099511627776 is out of range"),
    "negative seed": (put(seed=np.array(-5)), {}, "key 'seed': -5 is out of range [0, 18446744073709551615]"),
    "string seed": (put(seed=np.array("5")), {}, "key 'seed': dtype <U1 is not an integer"),
    "zero batch size": (put(batch_size=np.array(0)), {},
                        "key 'batch_size': 0 is out of range [1, 2147483647]"),
    "array epoch": (put(epoch=np.array([2, 2])), {}, "key 'epoch': shape (2,), expected ()"),
    "missing seed": (drop("seed"), {}, "key 'seed' missing"),
    "missing history": (drop("history.test_acc"), {}, "key 'history.test_acc' missing"),
    "short history": (put(**{"history.train_loss": np.zeros(1)}), {},
                      "key 'history.train_loss': 1 values for 2 epochs"),
    "nan in history.epoch": (put(**{"history.epoch": np.array([1.0, np.nan])}), {},
                             "key 'history.epoch': '[1.0, nan]', expected 1, 2, ... one per epoch"),
    "negative optimizer step": (put(**{"optim.step": np.array(-3)}), {},
                                "key 'optim.step': -3 is out of range [0, 9223372036854775807]"),
    "rng not json": (put(**{"rng.3.rng": np.array("{oops")}), {}, "key 'rng.3.rng': not a generator state ("),
    "rng of unknown kind": (put(**{"rng.3.rng": np.array('{"bit_generator": "Evil", "state": {}}')}), {},
                            "key 'rng.3.rng': not a generator state (bit_generator 'Evil', known: PCG64"),
    "rng state of wrong shape": (put(**{"rng.3.rng": np.array('{"bit_generator": "PCG64", "state": 5}')}), {},
                                 "key 'rng.3.rng': not a generator state ("),
    "string lr": (put(**{"config.lr": np.array("fast")}), {"config_types": CONFIG_TYPES},
                  "key 'config.lr': str 'fast', expected float"),
    "fractional epochs": (put(**{"config.epochs": np.array(2.5)}), {"config_types": CONFIG_TYPES},
                          "key 'config.epochs': float '2.5', expected int"),
    "int for a bool": (put(**{"config.nesterov": np.array(1)}), {"config_types": CONFIG_TYPES},
                       "key 'config.nesterov': int '1', expected bool"),
    "nan config": (put(**{"config.lr": np.array(np.nan)}), {}, "key 'config.lr': nan is not finite"),
    "array config": (put(**{"config.lr": np.zeros(3)}), {}, "key 'config.lr': shape (3,), expected ()"),
    "long rng string": (put(**{"rng.3.rng": np.array("x" * 70000)}), {},
                        "string of 70000 characters, over 65536"),
    "wrong format": (put(format=np.array("other/1")), {},
                     "format 'other/1', expected 'tinygrad_conv.checkpoint/1'"),
    "format as number": (put(format=np.array(1)), {}, "key 'format': dtype int64 is not a string"),
    # with the model at hand, shapes and key sets are checked against it
    "wrong weight shape": (put(**{"model.1.weight": np.zeros((8, 17), np.float32)}), {"model": "tiny"},
                           "key 'model.1.weight': shape (8, 17), expected (8, 16)"),
    "weight the model lacks": (put(**{"model.9.weight": np.zeros(2, np.float32)}), {"model": "tiny"},
                               "unknown key 'model.9.weight': the model has no such parameter"),
    "weight missing": (drop("model.4.bias"), {"model": "tiny"},
                       "key 'model.4.bias' missing: the model has it"),
    "wrong momentum shape": (put(**{"optim.state.0.momentum_buffer": np.zeros((16, 8), np.float32)}),
                             {"model": "tiny"},
                             "key 'optim.state.0.momentum_buffer': shape (16, 8), expected (8, 16)"),
    "state of parameter 7": (put(**{"optim.state.7.momentum_buffer": np.zeros(3, np.float32)}),
                             {"model": "tiny"},
                             "key 'optim.state.7.momentum_buffer': parameter index 7 out of range "
                             "(the model has 4"),
    "over max_bytes": (lambda d: None, {"max_bytes": 1000},
                       "over the limit of 1000 (max_bytes; largest: key 'rng.3.rng', shape () of <U"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_checkpoint_is_one_line_naming_the_key(good, tmp_path, case):
    change, kw, expect = CASES[case]
    if kw.get("model") == "tiny":
        kw = {**kw, "model": tiny_model()}
    bad = rewrite(good, tmp_path / "bad.npz", change)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(bad, **kw)
    msg = str(e.value)
    assert msg.startswith(f"load_checkpoint: {bad}: ") and "\n" not in msg
    assert expect in msg, msg
    assert isinstance(e.value, ValueError)  # callers catching ValueError keep working


def test_good_checkpoint_loads_with_every_check(good):
    ck = load_checkpoint(good, model=tiny_model(), config_types=CONFIG_TYPES)
    with np.load(good) as z:
        for k, v in ck.model_state.items():
            np.testing.assert_array_equal(v, z[f"model.{k}"])
            assert v.dtype == z[f"model.{k}"].dtype
        np.testing.assert_array_equal(ck.optim_state["state.0.momentum_buffer"],
                                      z["optim.state.0.momentum_buffer"])
    assert (ck.epoch, ck.seed, ck.batch_size) == (2, 5, 32)
    assert ck.config == {"model": "tiny", "lr": 0.05, "epochs": 3, "nesterov": False}
    assert [r["epoch"] for r in ck.history] == [1, 2] and np.isnan(ck.history[0]["test_loss"])
    assert set(ck.rng_states) == {"3.rng"} and '"bit_generator"' in ck.rng_states["3.rng"]
    m = tiny_model(seed=1)
    m.load_state_dict(ck.model_state)
    assert all(np.array_equal(a, b) for a, b in zip(m.state_dict().values(), ck.model_state.values()))


def test_allow_nonfinite_loads_nan_weights(good, tmp_path):
    bad = rewrite(good, tmp_path / "nan.npz", nan_at("model.1.weight", 3))
    ck = load_checkpoint(bad, allow_nonfinite=True)
    assert np.isnan(ck.model_state["1.weight"].reshape(-1)[3])
    assert np.isfinite(np.delete(ck.model_state["1.weight"].reshape(-1), 3)).all()


def test_fortran_order_and_big_endian_members_load(good, tmp_path):
    w = np.asfortranarray(np.arange(128, dtype=">f4").reshape(8, 16))
    ck = load_checkpoint(rewrite(good, tmp_path / "f.npz", put(**{"model.1.weight": w})), model=tiny_model())
    np.testing.assert_array_equal(ck.model_state["1.weight"], np.arange(128).reshape(8, 16))


def _members(path):
    with np.load(path) as z:
        return {f"{k}.npy": _npy(z[k]) for k in z.files}


def _npy(a):
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return buf.getvalue()


def test_zip_level_faults(good, tmp_path):
    base = [stored(n, b) for n, b in _members(good).items()]
    cases = {
        "twice": (base + [base[0]], "member 'format' appears twice"),
        "not npy": (base + [stored("notes.txt", b"hi")], "member 'notes.txt' is not a .npy array"),
        "bad magic": (base + [stored("model.x.npy", b"\x93NUMPX" + bytes(100))],
                      "member 'model.x': unreadable"),
        # the header claims 10**9 floats but the entry holds 16 bytes: refused before reading
        "lying header": (base + [stored("model.x.npy", npy_header((10**9,), np.float32) + bytes(16))],
                         "member 'model.x': header declares shape (1000000000,) of float32 (4000000000 data "
                         "bytes) but the zip entry holds 16"),
        "version 9": (base + [stored("model.x.npy", b"\x93NUMPY\x09\x00" + bytes(100))],
                      "member 'model.x': .npy format version 9.0 is not supported"),
    }
    for name, (entries, expect) in cases.items():
        p = write_zip(tmp_path / f"{name}.npz", entries)
        with pytest.raises(CheckpointError) as e:
            load_checkpoint(p)
        msg = str(e.value)
        assert msg.startswith(f"load_checkpoint: {p}: ") and expect in msg, (name, msg)


def test_truncated_and_corrupt_member_data(good, tmp_path):
    members = _members(good)
    name = "model.1.weight.npy"
    short = [stored(n, b[:-4] if n == name else b) for n, b in members.items()]
    with pytest.raises(CheckpointError, match="not a readable|zip entry holds"):
        load_checkpoint(write_zip(tmp_path / "short.npz", short))
    bad_crc = [(n, b, 0, 12345, len(b)) if n == name else stored(n, b) for n, b in members.items()]
    with pytest.raises(CheckpointError, match=r"member 'model.1.weight': unreadable .*\(Bad CRC-32"):
        load_checkpoint(write_zip(tmp_path / "crc.npz", bad_crc))


def test_not_a_zip_and_truncated_file(good, tmp_path):
    raw = good.read_bytes()
    for name, data in {"garbage": b"PK\x03\x04 nope", "cut": raw[: len(raw) // 2], "empty": b""}.items():
        p = tmp_path / f"{name}.npz"
        p.write_bytes(data)
        with pytest.raises(CheckpointError, match=f"load_checkpoint: {p}: not a readable .npz archive"):
            load_checkpoint(p)


def test_compressed_checkpoint_still_loads(good, tmp_path):
    with np.load(good) as z:
        d = {k: z[k] for k in z.files}
    np.savez_compressed(tmp_path / "c.npz", **d)
    assert zipfile.ZipFile(tmp_path / "c.npz").infolist()[0].compress_type == zipfile.ZIP_DEFLATED
    ck = load_checkpoint(tmp_path / "c.npz", model=tiny_model())
    np.testing.assert_array_equal(ck.model_state["1.weight"], d["model.1.weight"])


def test_known_key_bomb_is_refused_before_reading(good, tmp_path):
    # model.1.weight declaring (and really holding, deflated) 256 MiB: the model's shape refuses it,
    # and without the model the byte budget does
    bomb = npz_with_bomb(tmp_path / "b.npz", good, "model.1.weight", (64 << 20,), replace=True)
    assert bomb.stat().st_size < 1 << 20
    with pytest.raises(CheckpointError, match=r"'model.1.weight': shape \(67108864,\), expected \(8, 16\)"):
        load_checkpoint(bomb, model=tiny_model())
    with pytest.raises(CheckpointError, match=r"limit of 1000000 \(max_bytes; largest: key 'model.1.weight'"):
        load_checkpoint(bomb, max_bytes=10**6)


def test_cli_prints_the_checkpoint_error_as_one_line(good, tmp_path):
    bomb = npz_with_bomb(tmp_path / "b.npz", good, "evil", (256 << 20,))
    proc = subprocess.run([sys.executable, "-m", "tinygrad_conv.cli", "evaluate", str(bomb)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and proc.stdout == ""
    assert proc.stderr == (f"tinygrad-conv evaluate: load_checkpoint: {bomb}: unknown key 'evil' (a "
                           "checkpoint holds format, epoch, seed, batch_size, config.*, model.*, optim.*, "
                           "history.<metric> and rng.*)\n")
