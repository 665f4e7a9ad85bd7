"""The IDX file format (MNIST's): read and write, raw or gzip-compressed.

Layout (all big-endian): two zero bytes, one dtype code byte, one byte ``ndim``, then ``ndim``
uint32 dimension sizes, then exactly ``prod(dims) * itemsize`` bytes of data.
Every way a file can be wrong (short, wrong magic, unknown dtype, wrong length, broken gzip)
is a ``ValueError`` naming the file and the fault, never a reshape traceback.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from .._files import atomic_open  # re-exported: the package's one atomic writer

__all__ = ["read_idx", "write_idx", "atomic_open", "IDX_DTYPES"]

#: dtype code -> big-endian NumPy dtype, as defined by the IDX format
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODE_OF = {dt.newbyteorder("="): code for code, dt in IDX_DTYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"


def _decompress(raw: bytes, path: Path) -> bytes:
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise ValueError(f"read_idx: {path}: corrupt or truncated gzip data ({e})") from None


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (raw or gzip, detected from its first bytes) into a native-endian array.

    Returns an array of the file's dtype (uint8, int8, int16, int32, float32 or float64) and shape
    ``dims``, e.g. MNIST images ``(60000, 28, 28)`` uint8, labels ``(60000,)`` uint8.
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == _GZIP_MAGIC:
        raw = _decompress(raw, path)
    elif path.suffix == ".gz":
        raise ValueError(f"read_idx: {path}: name ends in .gz but the file is not gzip data "
                         f"(first bytes {raw[:4].hex() or 'none: empty file'})")
    if len(raw) < 4:
        raise ValueError(f"read_idx: {path}: truncated header ({len(raw)} bytes, need at least 4)")
    zero, code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0:
        raise ValueError(f"read_idx: {path}: bad magic {raw[:4].hex()}: an IDX file starts with two zero "
                         "bytes, a dtype code and the number of dimensions")
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise ValueError(f"read_idx: {path}: unknown dtype code 0x{code:02X} (known: {known})")
    if ndim == 0:
        raise ValueError(f"read_idx: {path}: header says 0 dimensions")
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise ValueError(f"read_idx: {path}: truncated header: {ndim} dimensions need {head} bytes, "
                         f"file has {len(raw)}")
    shape = struct.unpack(f">{ndim}I", raw[4:head])
    dtype = IDX_DTYPES[code]
    want = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    got = len(raw) - head
    if got != want:
        what = "truncated" if got < want else "too long"
        raise ValueError(f"read_idx: {path}: {what}: shape {shape} of {dtype.newbyteorder('=').name} needs "
                         f"{want} data bytes, file has {got}")
    # astype to native order also copies, so the result is writable
    return np.frombuffer(raw, dtype=dtype, offset=head).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write ``array`` (ndim >= 1; uint8, int8, int16, int32, float32 or float64) as an IDX file.

    A name ending in ``.gz`` is gzip-compressed (deterministically: no timestamp). The write is
    atomic: a temp file in the same directory replaces ``path`` only once complete.
    """
    array = np.asarray(array)
    dt = array.dtype.newbyteorder("=")
    if dt not in _CODE_OF:
        names = ", ".join(d.newbyteorder("=").name for d in IDX_DTYPES.values())
        raise TypeError(f"write_idx: dtype {array.dtype} has no IDX code; cast to one of {names}")
    if array.ndim < 1 or array.ndim > 255:
        raise ValueError(f"write_idx: array of shape {array.shape} has {array.ndim} dims; IDX needs 1..255")
    if any(d >= 2**32 for d in array.shape):
        raise ValueError(f"write_idx: dimension too large for IDX's uint32 sizes in shape {array.shape}")
    code = _CODE_OF[dt]
    data = struct.pack(f">HBB{array.ndim}I", 0, code, array.ndim, *array.shape)
    data += np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()
    path = Path(path)
    if path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    with atomic_open(path) as f:
        f.write(data)
