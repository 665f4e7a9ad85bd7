"""The environment variables the package reads, each checked where it is used (never at import).

A bad value is one ``ValueError`` naming the variable, its value and what is expected.

==========================  =============================================================
``TINYGRAD_CONV_DATA``      a directory searched for datasets (``<dir>/<name>/``)
``TINYGRAD_CONV_DEBUG``     1/0, true/false, yes/no, on/off: CLI failures show the traceback
``XDG_CACHE_HOME``          the user cache root; relative paths are ignored (XDG spec)
==========================  =============================================================
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["env_dir", "env_flag"]

_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


def env_flag(name: str) -> bool:
    """True/False from ``$name`` (unset or empty: False)."""
    raw = os.environ.get(name, "")
    v = raw.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise ValueError(f"environment variable {name}={raw!r}: expected 1 or 0 (true/false, yes/no, on/off)")


def env_dir(name: str) -> Path | None:
    """The existing directory named by ``$name``, or None when it is unset or empty."""
    raw = os.environ.get(name, "")
    if not raw:
        return None
    p = Path(raw).expanduser()
    if not p.is_dir():
        what = "is not a directory" if p.exists() else "does not exist"
        raise ValueError(f"environment variable {name}={raw!r}: {what}; unset it or point it at a directory")
    return p
