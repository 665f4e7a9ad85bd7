"""A run directory: checked before the first step, locked while a run writes to it, tidied at start.

``RunDir(path)`` (a context manager) creates the directory, fails with one line when it cannot
(a file in the way, no permission, read-only file system), takes an exclusive lock (the file
``.tinygrad-conv.lock`` holding the pid and host of the run; a second run fails naming them),
and removes temp files a killed run of ours left behind. The lock is released on exit, including
on an exception; if the process is killed the operating system drops it, so a stale lock file
never blocks the next run.
"""

from __future__ import annotations

import errno
import os
import socket
import time
from pathlib import Path

from .._files import fsync_dir, remove_stale_temps

__all__ = ["RunDir", "RunDirError", "LOCK_NAME"]

LOCK_NAME = ".tinygrad-conv.lock"

try:  # POSIX: an advisory lock the kernel releases when the holder dies, however it dies
    import fcntl
except ImportError:  # pragma: no cover - Windows: O_EXCL lock file plus a pid check
    fcntl = None  # type: ignore[assignment]


class RunDirError(OSError):
    """The run directory cannot be used: one line saying why."""


def _describe(path: Path, e: OSError) -> str:
    if e.errno in (errno.EROFS,):
        return f"{path} is on a read-only file system"
    if e.errno in (errno.EACCES, errno.EPERM):
        return f"no permission to write in {path}"
    if e.errno == errno.ENOSPC:
        return f"no space left on the device of {path}"
    if e.errno in (errno.ENOTDIR, errno.EEXIST):
        return f"{path} is not a directory (a file is in the way)"
    return f"cannot use {path}: {e.strerror or e}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


class RunDir:
    """Check, lock and tidy a run directory for the length of a ``with`` block."""

    def __init__(self, path: str | os.PathLike, command: str = "train") -> None:
        self.path, self.command = Path(path), command
        self.lock_path = self.path / LOCK_NAME
        self._fd: int | None = None
        self.removed: list[Path] = []

    def __enter__(self) -> RunDir:
        self.prepare()
        self.acquire()
        self.removed = remove_stale_temps(self.path)  # safe now: we hold the lock
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def prepare(self) -> None:
        """Create the directory; one-line ``RunDirError`` when it is not a writable directory."""
        if self.path.exists() and not self.path.is_dir():
            raise RunDirError(errno.ENOTDIR, f"--out {self.path} is not a directory (a file is in the way)")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise RunDirError(e.errno or 0, f"--out {_describe(self.path, e)}") from None
        if not os.access(self.path, os.W_OK | os.X_OK):
            raise RunDirError(errno.EACCES, f"--out: no permission to write in {self.path}")

    def holder(self) -> str:
        """Who holds the lock, as the lock file says (or 'another process')."""
        try:
            text = self.lock_path.read_text(encoding="utf-8").split()
        except OSError:
            return "another process"
        info = dict(kv.split("=", 1) for kv in text if "=" in kv)
        if "pid" not in info:
            return "another process"
        since = info.get("since", "?")
        return f"pid {info['pid']} on {info.get('host', '?')} (since {since})"

    def acquire(self) -> None:
        """Take the lock or raise ``RunDirError`` naming its holder."""
        while True:
            try:
                fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | (0 if fcntl else os.O_EXCL), 0o666)
            except FileExistsError:  # no fcntl: an O_EXCL lock file; stale if its pid is gone
                if self._stale_pidfile():
                    self.lock_path.unlink(missing_ok=True)
                    continue
                raise self._busy() from None
            except OSError as e:
                raise RunDirError(e.errno or 0, f"--out {_describe(self.path, e)}") from None
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    os.close(fd)
                    raise self._busy() from None
                try:  # the holder may have unlinked the file between our open and flock: retry
                    same = os.fstat(fd).st_ino == os.stat(self.lock_path).st_ino
                except FileNotFoundError:
                    same = False
                if not same:
                    os.close(fd)
                    continue
            break
        self._fd = fd
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        os.ftruncate(fd, 0)
        os.write(fd, f"pid={os.getpid()} host={socket.gethostname()} since={stamp} "
                     f"command={self.command}\n".encode())
        fsync_dir(self.path)

    def _stale_pidfile(self) -> bool:
        try:
            info = dict(kv.split("=", 1) for kv in self.lock_path.read_text().split() if "=" in kv)
            same_host = info.get("host") == socket.gethostname()
            return same_host and not _pid_alive(int(info["pid"]))
        except (OSError, KeyError, ValueError):
            return False

    def _busy(self) -> RunDirError:
        return RunDirError(errno.EBUSY, f"{self.path} is in use by {self.holder()}; wait for that run to "
                                        f"finish or pick another --out (a stale lock is detected by itself)")

    def release(self) -> None:
        """Drop the lock and remove the lock file."""
        if self._fd is None:
            return
        try:
            self.lock_path.unlink(missing_ok=True)  # before closing: nobody can lock a file we still hold
        finally:
            os.close(self._fd)
            self._fd = None
