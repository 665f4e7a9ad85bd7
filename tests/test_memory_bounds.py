"""Small hostile files cost bounded memory and time: loaders run in a child process under RLIMIT_AS.

The child may map at most ``LIMIT`` bytes of address space. Each bomb (1.5 GB of IDX data in a
1.5 MB gzip; a 3 MB checkpoint holding a 3 GiB array) must end in the loader's one-line
ValueError within a second or two, not in MemoryError. Controls in the same child show the limit
bites: ``np.load`` of the checkpoint bomb, and holding the IDX bomb's decompressed bytes as the old
reader did, run out of memory.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest
from hostile_helpers import MiB, gzip_bomb, idx_header, npz_with_bomb, tiny_checkpoint

resource = pytest.importorskip("resource", reason="RLIMIT_AS needs a Unix")

LIMIT = 512 * MiB
GIB3 = 3 << 30

CHILD = textwrap.dedent("""
    import json, resource, sys, time
    import numpy as np
    from tinygrad_conv.checkpoint import load_checkpoint
    from tinygrad_conv.data import read_idx
    from hostile_helpers import tiny_model

    limit, cases = int(sys.argv[1]), json.loads(sys.argv[2])
    model = tiny_model()
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    calls = {
        "read_idx": lambda p: read_idx(p),
        "load_checkpoint": lambda p: load_checkpoint(p),
        "load_checkpoint_model": lambda p: load_checkpoint(p, model=model),
        # what the old read_idx held: the whole decompressed file (gzip.decompress takes ~4 s to fail)
        "bytes of 1.5 GiB": lambda p: bytearray(1536 << 20),
        "np.load": lambda p: dict(np.load(p)),
    }
    out = {}
    for name, (call, path) in cases.items():
        t = time.perf_counter()
        try:
            calls[call](path)
            out[name] = ["no error", "", 0.0]
        except BaseException as e:
            out[name] = [type(e).__name__, str(e), time.perf_counter() - t]
    print(json.dumps(out))
""")


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    d = tmp_path_factory.mktemp("bombs")
    total = 1536 * MiB  # 1.5 GiB uncompressed, ~1.5 MB on disk
    idx_magic = gzip_bomb(d / "magic.gz", b"\x08\x03\x08\x03", total)
    idx_big = gzip_bomb(d / "big.gz", idx_header((total // 784 + 1, 28, 28)), total)
    idx_lie = gzip_bomb(d / "lie.gz", idx_header((10, 28, 28)), total)
    good = tiny_checkpoint(d / "good.npz")
    extra = npz_with_bomb(d / "extra.npz", good, "evil", (GIB3 // 4,))
    known = npz_with_bomb(d / "known.npz", good, "model.1.weight", (GIB3 // 4,), replace=True)
    sizes = {p.name: p.stat().st_size for p in (idx_magic, idx_big, idx_lie, extra, known)}
    assert all(s < 4 * MiB for s in sizes.values()), sizes
    cases = {
        "idx bad magic": ("read_idx", idx_magic), "idx declares 1.5 GB": ("read_idx", idx_big),
        "idx lying header": ("read_idx", idx_lie), "npz extra key": ("load_checkpoint", extra),
        "npz known key": ("load_checkpoint", known), "npz known key, model": ("load_checkpoint_model", known),
        "control gzip": ("bytes of 1.5 GiB", idx_lie), "control npz": ("np.load", extra),
    }
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([os.path.dirname(__file__), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", CHILD, str(LIMIT),
                           json.dumps({k: [c, str(p)] for k, (c, p) in cases.items()})],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("case, expect", [
    ("idx bad magic", "bad magic 08030803"),
    ("idx declares 1.5 GB", "over the limit of 1073741824 bytes (max_bytes)"),
    ("idx lying header", "too long: shape (10, 28, 28) of uint8 needs 7840 data bytes, file has more"),
    ("npz extra key", "unknown key 'evil'"),
    ("npz known key", "over the limit of 1073741824 (max_bytes; largest: key 'model.1.weight'"),
    ("npz known key, model", "key 'model.1.weight': shape (805306368,), expected (8, 16)"),
])
def test_bomb_is_a_quick_one_line_error_under_rlimit(results, case, expect):
    kind, msg, seconds = results[case]
    assert kind in ("ValueError", "CheckpointError"), (kind, msg)
    assert expect in msg and "\n" not in msg and msg.startswith(("read_idx: ", "load_checkpoint: "))
    assert seconds < 2.0, seconds


@pytest.mark.parametrize("case", ["control gzip", "control npz"])
def test_controls_show_the_bombs_and_the_limit_are_real(results, case):
    assert results[case][0] == "MemoryError", results[case]
