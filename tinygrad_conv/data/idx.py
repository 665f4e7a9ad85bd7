"""The IDX file format (MNIST's): read and write, raw or gzip-compressed.

Layout (all big-endian): two zero bytes, one dtype code byte, one byte ``ndim``, then ``ndim``
uint32 dimension sizes, then exactly ``prod(dims) * itemsize`` bytes of data.
Every way a file can be wrong (short, wrong magic, unknown dtype, wrong length, broken gzip, a
declared size over the limit) is a ``ValueError`` naming the file and the fault, never a reshape
traceback. Reading is bounded: the header is checked before any data, and a gzip file is
decompressed only as far as the header says (plus one byte to detect trailing data).
"""

from __future__ import annotations

import contextlib
import gzip
import math
import os
import struct
import zlib
from pathlib import Path
from typing import IO

import numpy as np

from .._files import atomic_open  # re-exported: the package's one atomic writer

__all__ = ["read_idx", "write_idx", "atomic_open", "IDX_DTYPES", "MAX_IDX_BYTES"]

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
#: default ``max_bytes`` of ``read_idx``: the most data one IDX file may declare (MNIST's largest is 47 MB)
MAX_IDX_BYTES = 1 << 30


def _read_exact(f: IO[bytes], n: int, path: Path) -> bytes:
    """Up to ``n`` bytes from the (possibly gzip) stream; broken gzip data becomes one ValueError."""
    try:
        return f.read(n)
    except (OSError, EOFError, zlib.error) as e:
        raise ValueError(f"read_idx: {path}: corrupt or truncated gzip data ({e})") from None


def _readinto(f: IO[bytes], buf: memoryview, path: Path) -> int:
    """Fill ``buf`` from the stream; returns how many bytes came (fewer only at end of data)."""
    got = 0
    try:
        while got < len(buf):
            n = f.readinto(buf[got:got + (1 << 24)])  # type: ignore[attr-defined]
            if not n:
                break
            got += n
    except (OSError, EOFError, zlib.error) as e:
        raise ValueError(f"read_idx: {path}: corrupt or truncated gzip data ({e})") from None
    return got


def read_idx(path: str | os.PathLike, *, max_bytes: int | None = None) -> np.ndarray:
    """Read an IDX file (raw or gzip, detected from its first bytes) into a native-endian array.

    Returns an array of the file's dtype (uint8, int8, int16, int32, float32 or float64) and shape
    ``dims``, e.g. MNIST images ``(60000, 28, 28)`` uint8, labels ``(60000,)`` uint8.

    The header is read and checked first, from the (decompressing) stream: a file whose dims ask for
    more than ``max_bytes`` of data (default ``MAX_IDX_BYTES``, 1 GiB) is refused before any data is
    read, and no more than the header's size is ever decompressed, so a small hostile ``.gz`` cannot
    make this use more memory than the limit.
    """
    path = Path(path)
    limit = MAX_IDX_BYTES if max_bytes is None else int(max_bytes)
    with open(path, "rb") as raw:
        size = os.fstat(raw.fileno()).st_size
        start = raw.read(4)
        raw.seek(0)
        gz = start[:2] == _GZIP_MAGIC
        if not gz and path.suffix == ".gz":
            raise ValueError(f"read_idx: {path}: name ends in .gz but the file is not gzip data "
                             f"(first bytes {start.hex() or 'none: empty file'})")
        with (gzip.GzipFile(fileobj=raw, mode="rb") if gz else contextlib.nullcontext(raw)) as f:
            return _read_stream(f, path, limit, None if gz else size)  # type: ignore[arg-type]


def _read_stream(f: IO[bytes], path: Path, limit: int, size: int | None) -> np.ndarray:
    """The header, then exactly the data it declares; ``size``: the file's length when not compressed."""
    head = _read_exact(f, 4, path)
    if len(head) < 4:
        raise ValueError(f"read_idx: {path}: truncated header ({len(head)} bytes, need at least 4)")
    zero, code, ndim = struct.unpack(">HBB", head)
    if zero != 0:
        raise ValueError(f"read_idx: {path}: bad magic {head.hex()}: an IDX file starts with two zero "
                         "bytes, a dtype code and the number of dimensions")
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise ValueError(f"read_idx: {path}: unknown dtype code 0x{code:02X} (known: {known})")
    if ndim == 0:
        raise ValueError(f"read_idx: {path}: header says 0 dimensions")
    dims = _read_exact(f, 4 * ndim, path)
    if len(dims) < 4 * ndim:
        raise ValueError(f"read_idx: {path}: truncated header: {ndim} dimensions need {4 + 4 * ndim} bytes, "
                         f"file has {4 + len(dims)}")
    shape = struct.unpack(f">{ndim}I", dims)
    dtype = IDX_DTYPES[code]
    native = dtype.newbyteorder("=")
    want = math.prod(shape) * dtype.itemsize  # Python ints: no overflow, however many dims
    if want > limit:
        raise ValueError(f"read_idx: {path}: header declares shape {shape} of {native.name}, "
                         f"{want} data bytes, over the limit of {limit} bytes (max_bytes)")
    if size is not None and size - 4 - 4 * ndim != want:  # plain file: its length says it all up front
        got = size - 4 - 4 * ndim
        what = "truncated" if got < want else "too long"
        raise ValueError(f"read_idx: {path}: {what}: shape {shape} of {native.name} needs "
                         f"{want} data bytes, file has {got}")
    out = np.empty(shape, dtype=dtype)  # big-endian as stored; swapped in place below
    buf = memoryview(out.reshape(-1).view(np.uint8))  # type: ignore[arg-type]
    got = _readinto(f, buf, path)
    if got < want:
        raise ValueError(f"read_idx: {path}: truncated: shape {shape} of {native.name} needs "
                         f"{want} data bytes, file has {got}")
    if _read_exact(f, 1, path):  # one byte past the end tells; never decompress the rest to count it
        raise ValueError(f"read_idx: {path}: too long: shape {shape} of {native.name} needs "
                         f"{want} data bytes, file has more")
    # in place, so the peak is one copy of the data (MNIST's images are 47 MB)
    return out if dtype.isnative else out.byteswap(inplace=True).view(native)


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
