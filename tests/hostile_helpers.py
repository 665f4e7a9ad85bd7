"""Builders of hostile files for the tests: gzip and zip bombs made in milliseconds, tiny checkpoints.

Bombs are built from one compressed block repeated (deflate output after a full flush does not
depend on what came before), so a file of a megabyte or two declares or holds gigabytes without
anything of that size ever existing in memory here.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from tinygrad_conv import nn, optim
from tinygrad_conv.checkpoint import save_checkpoint

MiB = 1 << 20


def idx_header(shape, code=0x08, magic=0) -> bytes:
    return struct.pack(f">HBB{len(shape)}I", magic, code, len(shape), *shape)


def gzip_bomb(path: Path, head: bytes, total: int) -> Path:
    """A gzip file (several members, as ``cat a.gz b.gz`` makes) of ``head`` then zeros, ``total`` bytes
    uncompressed; about 1 KB on disk per MiB."""
    first = gzip.compress(head + bytes(MiB - len(head)), mtime=0)
    block = gzip.compress(bytes(MiB), compresslevel=9, mtime=0)
    path.write_bytes(first + block * (total // MiB - 1))
    return path


def deflate_zeros(n_mib: int) -> bytes:
    """A raw deflate stream of ``n_mib`` MiB of zeros, about 1 KB per MiB."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(bytes(MiB)) + c.flush(zlib.Z_FULL_FLUSH)
    return block * n_mib + c.flush(zlib.Z_FINISH)


def write_zip(path: Path, entries: list[tuple[str, bytes, int, int, int]]) -> Path:
    """A zip written by hand; entries: (name, payload, method 0 stored / 8 deflate, crc32, uncompressed size).

    Hand-made so a member's payload can be a precomputed deflate stream (zipfile would compress it again).
    """
    local, central = bytearray(), bytearray()
    for name, payload, method, crc, usize in entries:
        nb = name.encode()
        offset = len(local)
        local += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc, len(payload), usize,
                             len(nb), 0) + nb + payload
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0x21, crc,
                               len(payload), usize, len(nb), 0, 0, 0, 0, 0, offset) + nb
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central), len(local), 0)
    path.write_bytes(bytes(local + central + end))
    return path


def npy_header(shape, dtype) -> bytes:
    """The .npy header (format 1.0) numpy would write for an array of ``shape`` and ``dtype``."""
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                                              "fortran_order": False, "shape": tuple(shape)})
    return buf.getvalue()


def stored(name: str, data: bytes) -> tuple[str, bytes, int, int, int]:
    return name, data, 0, zlib.crc32(data), len(data)


def npz_with_bomb(path: Path, good: Path, key: str, shape, dtype=np.float32, replace: bool = False) -> Path:
    """``good``'s members plus (or, with ``replace``, instead of its own) member ``key`` declaring
    ``shape`` and really holding that many zero bytes, deflated to ~1 KB per MiB.

    The bomb's CRC is left 0: a reader that stops at the header never gets to check it.
    """
    with np.load(good) as z:
        members = [stored(f"{k}.npy", _npy_bytes(z[k])) for k in z.files if not (replace and k == key)]
    head = npy_header(shape, dtype)
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    assert nbytes % MiB == 0
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    payload = c.compress(head) + c.flush(zlib.Z_FULL_FLUSH) + deflate_zeros(nbytes // MiB)
    members.append((f"{key}.npy", payload, 8, 0, len(head) + nbytes))
    return write_zip(path, members)


def _npy_bytes(a: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return buf.getvalue()


def tiny_model(seed: int = 0) -> nn.Module:
    """16 -> 8 -> 3 with dropout (so the checkpoint has an rng state); 163 parameters."""
    g = np.random.default_rng(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 8, rng=g), nn.ReLU(), nn.Dropout(0.1, rng=g),
                         nn.Linear(8, 3, rng=g))


CONFIG = {"model": "tiny", "lr": 0.05, "epochs": 3, "nesterov": False}
CONFIG_TYPES = {"model": str, "lr": float, "epochs": int, "nesterov": bool}


def tiny_checkpoint(path: Path) -> Path:
    """A real checkpoint after 2 epochs of ``tiny_model()`` with SGD momentum buffers."""
    m = tiny_model()
    opt = optim.SGD(m.parameters(), lr=0.05, momentum=0.9)
    for p in m.parameters():
        p.grad = np.ones_like(p.data)
    opt.step()
    hist = [{"epoch": e, "train_loss": 1.0 / e, "train_acc": 0.5, "test_loss": float("nan"),
             "test_acc": float("nan"), "seconds": 1.0, "images_per_s": 100.0} for e in (1, 2)]
    save_checkpoint(path, m, opt, epoch=2, history=hist, config=CONFIG, seed=5, batch_size=32)
    return path
