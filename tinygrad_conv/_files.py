"""The one atomic writer: a temp file beside the target, fsync, ``os.replace``, fsync of the directory.

Readers never see a half-written file, a failed write leaves the old file untouched, and once a
write returns the new file survives a power loss (the rename itself is made durable by syncing
the directory). Temp files are named ``.<name>.<random>.tmp`` so that a run can find and remove
the ones a killed process left behind (``remove_stale_temps``).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = ["atomic_open", "atomic_write_bytes", "atomic_write_text", "fsync_dir", "remove_stale_temps",
           "TEMP_PATTERN"]

#: how our temp files are named: ".<target name>.<16 hex digits>.tmp"
TEMP_PATTERN = re.compile(r"^\..+\.[0-9a-f]{16}\.tmp$")


def fsync_dir(directory: str | os.PathLike) -> None:
    """Flush the entries of ``directory`` (a rename into it) to disk; a no-op where that is impossible."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # e.g. Windows: directories cannot be opened, renames are durable enough there
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems (network, FUSE) refuse fsync on a directory
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temp file beside ``path`` for writing (``mode`` 'wb' or 'w'); it replaces ``path`` only if
    the block succeeds.

    The temp file is created with mode 0o666 so the process umask applies as for any new file (no
    umask is read or changed).
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_open: mode must be 'wb' or 'w', got {mode!r}")
    path = Path(path)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(8)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, mode, encoding="utf-8" if mode == "w" else None) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    with atomic_open(path) as f:
        f.write(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    with atomic_open(path, "w") as f:
        f.write(text)
    return Path(path)


def remove_stale_temps(directory: str | os.PathLike) -> list[Path]:
    """Delete the temp files of ``atomic_open`` that a killed process left in ``directory``.

    Only names matching ``TEMP_PATTERN`` are touched. Call it only while no other writer of ours
    uses the directory (a run holds its lock). Returns the removed paths.
    """
    removed = []
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(os.fspath(directory)):
            if TEMP_PATTERN.match(entry.name) and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed
