"""Run ``tinygrad-conv`` with one fault injected, for the reliability tests (a real subprocess).

Usage: python tests/faulty_cli.py FAULT [tinygrad-conv arguments...]

FAULT is ``none`` or ``KIND:NAME:N``:
  ``replace:<file>:N``  SIGKILL at the Nth ``os.replace`` onto <file> (temp file complete, not renamed)
  ``fsync:<file>:N``    SIGKILL at the Nth fsync of a temp file of <file> (inside the write)
  ``step:-:N``          SIGKILL after the Nth optimizer step of the run
  ``sigint:-:N``        SIGINT (Ctrl-C) after the Nth optimizer step
  ``memory:-:N``        a NumPy-style MemoryError at the Nth step
  ``oserror:<errno>:N`` ``OSError(errno)`` at the Nth ``os.replace`` of any file (e.g. 28: disk full)
  ``mkdir:<errno>:1``   ``OSError(errno)`` from every ``os.mkdir`` (e.g. 30: read-only file system)
"""

from __future__ import annotations

import os
import signal
import sys

kind, name, n = (sys.argv[1].split(":") + ["", "0"])[:3] if sys.argv[1] != "none" else ("none", "", "0")
N = int(n)
count = 0


def _hit() -> bool:
    global count
    count += 1
    return count == N


if kind in ("replace", "oserror"):
    _replace = os.replace

    def replace(src, dst, *a, **k):
        if kind == "oserror" and _hit():
            code = int(name)
            raise OSError(code, os.strerror(code), str(dst))
        if kind == "replace" and os.path.basename(dst) == name and _hit():
            os.kill(os.getpid(), signal.SIGKILL)
        return _replace(src, dst, *a, **k)

    os.replace = replace
elif kind == "fsync":
    _fsync = os.fsync

    def fsync(fd):
        _fsync(fd)
        target = os.path.basename(os.readlink(f"/proc/self/fd/{fd}")) if isinstance(fd, int) else ""
        if target.startswith(f".{name}.") and _hit():
            os.kill(os.getpid(), signal.SIGKILL)

    os.fsync = fsync
elif kind == "mkdir":
    def mkdir(path, *a, **k):
        code = int(name)
        raise OSError(code, os.strerror(code), str(path))

    os.mkdir = mkdir
elif kind in ("step", "sigint", "memory"):
    from tinygrad_conv.viz import metrics

    _call = metrics.LayerNormLogger.__call__

    def call(self, *a, **k):
        _call(self, *a, **k)
        if _hit():
            if kind == "step":
                os.kill(os.getpid(), signal.SIGKILL)
            elif kind == "sigint":
                os.kill(os.getpid(), signal.SIGINT)
            else:
                raise MemoryError("Unable to allocate 3.00 GiB for an array with shape "
                                  "(64, 32, 24, 24, 25, 25) and data type float32")

    metrics.LayerNormLogger.__call__ = call
elif kind != "none":
    raise SystemExit(f"faulty_cli: unknown fault {sys.argv[1]!r}")

from tinygrad_conv.cli import main  # noqa: E402  (after the patches)

raise SystemExit(main(sys.argv[2:]))
