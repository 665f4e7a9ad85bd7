"""Nothing lost, nothing hidden (runs): kill -9 anywhere then resume, locks, one-line CLI failures.

Every run here is a real ``tinygrad-conv`` subprocess (through ``tests/faulty_cli.py``, which can
inject one fault) on a tiny synthetic MNIST in IDX files, so each takes about a second.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygrad_conv._files import TEMP_PATTERN
from tinygrad_conv.data import write_idx
from tinygrad_conv.run.rundir import LOCK_NAME, RunDir

ROOT = Path(__file__).resolve().parents[1]
FAULTY = str(Path(__file__).with_name("faulty_cli.py"))
pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="SIGKILL fault injection uses /proc (Linux)")


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """A tiny MNIST: 96 train / 32 test random 28x28 images, 10 classes."""
    d = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    for stem, n in (("train", 96), ("t10k", 32)):
        write_idx(d / f"{stem}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(d / f"{stem}-labels-idx1-ubyte.gz", rng.integers(0, 10, n).astype(np.uint8))
    return d


@pytest.fixture(scope="module", autouse=True)
def _no_pictures(tmp_path_factory):
    """Runs here draw no pictures (a stub hides matplotlib; no dot on PATH): a second per run saved."""
    global _STUB
    _STUB = tmp_path_factory.mktemp("stub")
    (_STUB / "matplotlib").mkdir()
    (_STUB / "matplotlib" / "__init__.py").write_text("raise ImportError('hidden by test_reliability')\n")


_STUB: Path | None = None


def _env() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": f"{_STUB}{os.pathsep}{ROOT}", "PATH": "/nonexistent-no-dot"}
    env.pop("TINYGRAD_CONV_DEBUG", None)
    return env


def start(fault: str, *argv: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, FAULTY, fault, *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env())


def cli(fault: str, *argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, FAULTY, fault, *argv], capture_output=True, text=True, timeout=120,
                          env={**_env(), **(env or {})})


def train_args(data: Path, out: Path, *extra: str) -> list[str]:
    return ["train", "--dataset", "mnist", "--data", str(data), "--model", "mlp", "--epochs", "3",
            "--batch-size", "32", "--threads", "1", "--quiet", "--out", str(out), *extra]


def _metrics(path: Path) -> list[dict[str, str]]:
    # seconds and images/s are wall-clock measurements: everything else must match exactly
    rows = csv.DictReader(path.open())
    return [{k: v for k, v in r.items() if k not in ("seconds", "images_per_s")} for r in rows]


def _checkpoint(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files if k not in ("history.seconds", "history.images_per_s")}


KILLS = ["replace:checkpoint.npz:1",   # inside the first checkpoint write (temp complete, not renamed)
         "fsync:checkpoint.npz:2",     # inside a later checkpoint write
         "replace:layer_norms.csv:2",  # between an epoch's files
         "replace:metrics.csv:1",      # after the checkpoint, before metrics.csv
         "step:-:5"]                   # in the middle of epoch 2


def test_kill_anywhere_then_resume_equals_an_uninterrupted_run(data, tmp_path):
    ref = tmp_path / "ref"
    runs = {k: tmp_path / f"kill{i}" for i, k in enumerate(KILLS)}
    procs = [start("none", *train_args(data, ref))]
    procs += [start(k, *train_args(data, out)) for k, out in runs.items()]
    for p in procs:
        p.wait(timeout=300)
    assert procs[0].returncode == 0, procs[0].stderr.read()
    for p, k in zip(procs[1:], KILLS):
        assert p.returncode == -9, f"{k}: not killed (exit {p.returncode}) {p.stderr.read()[-500:]}"
    assert any(TEMP_PATTERN.match(f.name) for f in runs[KILLS[0]].iterdir())  # the kill left a temp file

    resumed = {k: start("none", *train_args(data, out, "--resume")) for k, out in runs.items()}
    for k, p in resumed.items():
        p.wait(timeout=300)
        err = p.stderr.read()
        if k == KILLS[0]:  # no checkpoint yet: resume says so in one line, then a fresh start redoes epoch 1
            assert p.returncode == 2 and "no checkpoint" in err and err.count("\n") == 1, err
            again = cli("none", *train_args(data, runs[k]))
            assert again.returncode == 0, again.stderr
            assert "removed 1 temp file(s) left in" in again.stdout
        else:
            assert p.returncode == 0, f"{k}: {err[-800:]}"
    want_ck, want_metrics = _checkpoint(ref / "checkpoint.npz"), _metrics(ref / "metrics.csv")
    want_norms = (ref / "layer_norms.csv").read_text()
    assert want_norms.count("\n") == 4  # header + one row per epoch
    for k, out in runs.items():
        got = _checkpoint(out / "checkpoint.npz")
        assert got.keys() == want_ck.keys(), k
        assert all(np.array_equal(got[n], want_ck[n]) for n in want_ck), f"{k}: checkpoint differs"
        assert _metrics(out / "metrics.csv") == want_metrics, k
        assert (out / "layer_norms.csv").read_text() == want_norms, k
        left = [f.name for f in out.iterdir() if TEMP_PATTERN.match(f.name) or f.name == LOCK_NAME]
        assert not left, f"{k}: left behind {left}"


def test_layer_norm_rows_are_end_of_epoch_values(data, tmp_path):
    from tinygrad_conv.run import load_model
    from tinygrad_conv.viz import layer_norms

    out = tmp_path / "run"
    assert cli("none", *train_args(data, out, "--epochs", "1")).returncode == 0
    row = next(csv.DictReader((out / "layer_norms.csv").open()))
    want = layer_norms(load_model(out).model)  # the checkpoint's weights: the end of epoch 1
    for k, v in want.items():
        if k.startswith("weight_norm/"):
            assert float(row[k]) == pytest.approx(v, rel=1e-5), k


def test_a_second_run_fails_naming_the_holder(data, tmp_path):
    out = tmp_path / "run"
    with RunDir(out):
        res = cli("none", *train_args(data, out))
    assert res.returncode == 2
    since = res.stderr.split("(since ")[1].split(")")[0]
    assert res.stderr == (f"tinygrad-conv train: {out} is in use by pid {os.getpid()} on "
                          f"{os.uname().nodename} (since {since}); wait for that run to finish or pick "
                          "another --out (a stale lock is detected by itself)\n")
    assert not (out / "checkpoint.npz").exists()
    assert cli("none", *train_args(data, out, "--epochs", "1")).returncode == 0  # released: it runs now
    assert not (out / LOCK_NAME).exists()


def test_another_model_in_an_old_run_directory_is_refused(data, tmp_path):
    out = tmp_path / "run"
    assert cli("none", *train_args(data, out, "--epochs", "1")).returncode == 0
    before = (out / "checkpoint.npz").read_bytes()
    args = train_args(data, out, "--epochs", "1")
    args[args.index("mlp")] = "lenet5"
    res = cli("none", *args)
    assert res.returncode == 2 and res.stderr.count("\n") == 1
    assert f"{out} holds a mlp run on mnist; this run is lenet5 on mnist: pick another --out" in res.stderr
    assert (out / "checkpoint.npz").read_bytes() == before


def _one_line(res: subprocess.CompletedProcess, command: str = "train", status: int = 2) -> str:
    assert res.returncode == status, res.stderr
    assert res.stderr.startswith(f"tinygrad-conv {command}: ") and res.stderr.count("\n") == 1, res.stderr
    assert "Traceback" not in res.stderr
    return res.stderr


@pytest.mark.parametrize("extra, message", [
    (["--epochs", "0"], "--epochs must be >= 1, got 0"),
    (["--limit", "0"], "--limit must be >= 1"),
    (["--lr", "nan"], "--lr must be a finite number > 0, got nan"),
    (["--lr", "-0.1"], "--lr must be a finite number > 0, got -0.1"),
    (["--seed", "-1"], "--seed must be >= 0, got -1"),
    (["--batch-size", "0"], "--batch-size must be >= 1, got 0"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_bad_options_fail_before_any_work(data, tmp_path, extra, message):
    out = tmp_path / "run"
    assert message in _one_line(cli("none", *train_args(data, out, *extra)))
    assert not out.exists()


def test_data_dir_must_hold_the_dataset(data, tmp_path):
    out = tmp_path / "run"
    args = train_args(data, out)
    args[args.index(str(data))] = str(tmp_path / "missing")
    assert f"--data {tmp_path / 'missing'}: does not exist" in _one_line(cli("none", *args))
    args[args.index(str(tmp_path / "missing"))] = str(tmp_path)
    assert f"--data {tmp_path}: no mnist IDX files in it" in _one_line(cli("none", *args))
    assert not out.exists()


def test_out_dir_problems_are_one_line(data, tmp_path):
    (tmp_path / "file").write_text("not a directory")
    msg = _one_line(cli("none", *train_args(data, tmp_path / "file")))
    assert f"--out {tmp_path / 'file'} is not a directory" in msg
    msg = _one_line(cli("none", *train_args(data, tmp_path / "file" / "sub")))
    assert "is not a directory" in msg
    msg = _one_line(cli("mkdir:30:1", *train_args(data, tmp_path / "ro" / "run")))  # EROFS
    assert "read-only file system" in msg
    msg = _one_line(cli("oserror:28:1", *train_args(data, tmp_path / "full")))  # ENOSPC at the first write
    assert "No space left on device: " in msg


def test_memory_error_says_how_much_and_suggests_a_smaller_batch(data, tmp_path):
    msg = _one_line(cli("memory:-:2", *train_args(data, tmp_path / "run")))
    assert "out of memory (Unable to allocate 3.00 GiB" in msg
    assert "try a smaller --batch-size (this run: 32)" in msg


def test_interrupt_is_one_line_with_the_resume_hint(data, tmp_path):
    out = tmp_path / "run"
    msg = _one_line(cli("sigint:-:4", *train_args(data, out)), status=130)
    assert ("interrupted; completed epochs are saved, continue with: tinygrad-conv train --resume "
            f"--model mlp --dataset mnist --out {out} --data {data}") in msg
    assert not (out / LOCK_NAME).exists()
    assert cli("none", *train_args(data, out, "--resume")).returncode == 0


def _checkpoint_with(tmp_path: Path, **changes) -> Path:
    from tinygrad_conv import optim
    from tinygrad_conv.checkpoint import save_checkpoint
    from tinygrad_conv.models import get_model

    model = get_model("mlp", rng=0)
    save_checkpoint(tmp_path / "checkpoint.npz", model, optim.SGD(model.parameters(), lr=0.1), 0, [],
                    config={"model": "mlp", "dataset": "mnist"})
    with np.load(tmp_path / "checkpoint.npz") as z:
        arrays = {k: z[k] for k in z.files}
    for k, v in changes.items():
        if v is None:
            arrays.pop(k)
        else:
            arrays[k] = v
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("changes", [{"epoch": None}, {"epoch": np.array(2)}, {"epoch": np.array(np.inf)}],
                         ids=["missing-epoch", "history-too-short", "infinite-epoch"])
def test_bad_checkpoint_files_are_one_line(data, tmp_path, changes):
    path = _checkpoint_with(tmp_path, **changes)
    for command in ("evaluate", "inspect"):
        _one_line(cli("none", command, str(path), "--data", str(data)), command=command)


def test_debug_shows_the_traceback(data, tmp_path):
    args = train_args(data, tmp_path / "run", "--epochs", "0")
    for res in (cli("none", *args, "--debug"), cli("none", *args, env={"TINYGRAD_CONV_DEBUG": "1"})):
        assert res.returncode == 1 and "Traceback (most recent call last)" in res.stderr
        assert "ValueError: --epochs must be >= 1, got 0" in res.stderr
    bad = cli("none", *args, env={"TINYGRAD_CONV_DEBUG": "maybe"})
    assert "environment variable TINYGRAD_CONV_DEBUG='maybe': expected 1 or 0" in _one_line(bad)


def test_loader_checks_shapes_against_the_model_before_reading(tmp_path):
    path = _checkpoint_with(tmp_path)  # an mlp checkpoint
    res = cli("none", "graph", "--model", "lenet5", "--checkpoint", str(path), "--out",
              str(tmp_path / "g.dot"))
    msg = _one_line(res, command="graph")
    assert "load_checkpoint: " in msg and "bad.npz" in msg
    assert not (tmp_path / "g.dot").exists()
