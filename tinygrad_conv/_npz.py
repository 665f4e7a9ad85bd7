"""A bounded ``.npz`` reader: every member's declared shape and dtype first, data only on request.

``np.load`` allocates whatever a member's ``.npy`` header declares and decompresses whole members,
so a few-megabyte file can ask for gigabytes. ``NpzReader`` instead parses the zip directory and
each member's header (a few hundred bytes, read through the member stream), lets the caller judge
those, and then reads exactly the declared number of bytes of the members it wants. Nothing here
unpickles: object dtypes are refused.
"""

from __future__ import annotations

import math
import os
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO

import numpy as np
from numpy.lib import format as npy_format

__all__ = ["NpzError", "NpzMember", "NpzReader"]

# the most header bytes numpy itself accepts by default; ours are ~128
_MAX_HEADER = 10_000


class NpzError(ValueError):
    """A malformed ``.npz`` member or archive; the message is one line and names the member."""


@dataclass(frozen=True)
class NpzMember:
    """One array's declaration, from its ``.npy`` header (no data read)."""

    key: str
    shape: tuple[int, ...]
    dtype: np.dtype
    fortran_order: bool
    nbytes: int
    header_len: int
    info: zipfile.ZipInfo


def _short(key: str) -> str:
    # keys come from the file: repr keeps the message on one line, the cut keeps it short
    r = repr(key)
    return r if len(r) <= 80 else r[:77] + "..."


class NpzReader:
    """Open ``path`` as a zip of ``.npy`` members; ``members`` maps key (name less ``.npy``) -> NpzMember.

    Raises ``NpzError`` for a file that is not a zip, has more than ``max_members`` entries, holds a
    name twice or not ending in ``.npy``, or whose headers are malformed or disagree with the zip entry.
    Use as a context manager (the file stays open until exit).
    """

    def __init__(self, path: str | os.PathLike, max_members: int = 10_000) -> None:
        try:
            self._zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as e:
            raise NpzError(f"not a readable .npz archive ({_one_line(e)})") from None
        try:
            infos = self._zip.infolist()
            if len(infos) > max_members:
                raise NpzError(f"{len(infos)} members, more than the {max_members} allowed")
            self.members: dict[str, NpzMember] = {}
            for info in infos:
                m = self._declare(info)
                if m.key in self.members:
                    raise NpzError(f"member {_short(m.key)} appears twice")
                self.members[m.key] = m
        except BaseException:
            self._zip.close()
            raise

    def __enter__(self) -> NpzReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()

    def _declare(self, info: zipfile.ZipInfo) -> NpzMember:
        name = info.filename
        if not name.endswith(".npy") or info.is_dir():
            raise NpzError(f"member {_short(name)} is not a .npy array")
        key = name[:-4]
        try:
            with self._zip.open(info) as f:
                shape, fortran, dtype, header_len = _read_header(f)
        except NpzError as e:
            raise NpzError(f"member {_short(key)}: {e}") from None
        except (ValueError, OSError, EOFError, zlib.error, zipfile.BadZipFile, NotImplementedError) as e:
            raise NpzError(f"member {_short(key)}: unreadable .npy header ({_one_line(e)})") from None
        if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
            raise NpzError(f"member {_short(key)}: dtype {dtype} is not a plain number or string type")
        nbytes = math.prod(shape) * dtype.itemsize  # Python ints: a hostile shape cannot overflow
        # the zip entry's own size must agree with the header: catches a header that lies
        # about its data before any of it is read
        if info.file_size != header_len + nbytes:
            raise NpzError(f"member {_short(key)}: header declares shape {shape} of {dtype} ({nbytes} data "
                           f"bytes) but the zip entry holds {info.file_size - header_len}")
        return NpzMember(key, shape, dtype, fortran, nbytes, header_len, info)

    def read(self, key: str) -> np.ndarray:
        """The array of member ``key``: exactly its declared bytes, read in chunks into one buffer."""
        m = self.members[key]
        out = np.empty(m.shape, dtype=m.dtype, order="F" if m.fortran_order else "C")
        flat = memoryview(out.reshape(-1, order="A").view(np.uint8))  # type: ignore[arg-type]
        try:
            with self._zip.open(m.info) as f:
                f.read(m.header_len)
                got = 0
                while got < m.nbytes:
                    n = f.readinto(flat[got:got + (1 << 24)])  # type: ignore[attr-defined]
                    if not n:
                        break
                    got += n
                extra = f.read(1)  # at the entry's end this also checks its CRC
        except (OSError, EOFError, zlib.error, zipfile.BadZipFile, ValueError) as e:
            raise NpzError(f"member {_short(key)}: unreadable data ({_one_line(e)})") from None
        if got < m.nbytes or extra:
            raise NpzError(f"member {_short(key)}: {'truncated' if got < m.nbytes else 'trailing'} data: "
                           f"declared {m.nbytes} bytes, got {got}{' and more' if extra else ''}")
        return out


def _read_header(f: IO[bytes]) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """``(shape, fortran_order, dtype, header length)`` of a ``.npy`` stream (versions 1.0 and 2.0)."""
    version = npy_format.read_magic(f)
    if version == (1, 0):
        shape, fortran, dtype = npy_format.read_array_header_1_0(f, max_header_size=_MAX_HEADER)
    elif version == (2, 0):
        shape, fortran, dtype = npy_format.read_array_header_2_0(f, max_header_size=_MAX_HEADER)
    else:
        raise NpzError(f".npy format version {version[0]}.{version[1]} is not supported (1.0, 2.0 are)")
    # the stream now stands just past the header: its position is the header's length
    return tuple(int(d) for d in shape), bool(fortran), np.dtype(dtype), f.tell()


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())[:200] or type(e).__name__
