"""A bounded cache of big scratch buffers the ops reuse from step to step (``tc.empty_cache()``).

A training step allocates the same large arrays every time (im2col columns, conv outputs, padded
inputs and input gradients). Fresh memory from the OS costs a page fault per 4 KiB touched, which
was more than half of a seed_cnn step on a 2-core VM. Instead of changing the process's allocator
(a glibc ``mallopt`` at import would change every NumPy program that imports us), the ops ask this
cache for a buffer of a given purpose, shape and dtype.

Safety: a cached buffer is handed out only when the cache holds the *only* reference to it. A
saved value (``ctx.save``), an output Tensor, a view (views keep a reference to their base) or a
user's ``.numpy()`` all count, so a buffer is never reused while anything can still read it:
``retain_graph`` and ``create_graph`` need no special case. Where the interpreter has no
reference counts, every request gets fresh memory.

Bound: ``TINYGRAD_CONV_WORKSPACE_MB`` (default 256; 0 turns the cache off). Least recently used
buffers are dropped beyond it; ``empty_cache()`` drops them all.
"""

from __future__ import annotations

import os
import sys
import threading
import warnings
from collections import OrderedDict
from typing import Any

import numpy as np

DEFAULT_MB = 256
MIN_BYTES = 64 << 10  # smaller buffers come from malloc's own free lists, as fast


def _limit_bytes() -> int:
    raw = os.environ.get("TINYGRAD_CONV_WORKSPACE_MB", str(DEFAULT_MB))
    try:
        return max(0, int(float(raw) * (1 << 20)))
    except ValueError:  # importing the package must not fail over a tuning knob: say so, use the default
        warnings.warn(f"TINYGRAD_CONV_WORKSPACE_MB must be a number of MiB, got {raw!r}; "
                      f"using {DEFAULT_MB}", RuntimeWarning, stacklevel=2)
        return DEFAULT_MB << 20


def _counts(bufs: list) -> list[int]:
    return [sys.getrefcount(b) for b in bufs]


class Workspace:
    """Buffers keyed by (purpose, shape, dtype); see the module docstring for the reuse rule."""

    def __init__(self, limit_bytes: int | None = None) -> None:
        self.limit = _limit_bytes() if limit_bytes is None else limit_bytes
        self._bufs: OrderedDict[tuple, list[np.ndarray]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        # the count a buffer has when only the cache's list holds it, measured through _counts
        self._sole = _counts([np.empty(1)])[0] if hasattr(sys, "getrefcount") else None
        self.hits = self.misses = 0

    def get(self, tag: str, shape: tuple[int, ...], dtype: Any, zero: bool = False) -> np.ndarray:
        """A C-contiguous array of ``shape`` and ``dtype`` that nobody else refers to.

        ``zero=True`` fills it with zeros. A buffer first made for ``tag`` is created zeroed, so a
        purpose that only ever writes the same interior (a padded input) keeps its zero border."""
        dtype = np.dtype(dtype)
        shape = tuple(int(s) for s in shape)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if self._sole is None or nbytes > self.limit or nbytes < MIN_BYTES:
            self.misses += 1
            return np.zeros(shape, dtype) if zero or tag.endswith("pad") else np.empty(shape, dtype)
        key = (tag, shape, dtype.str)
        with self._lock:
            bufs = self._bufs.get(key)
            if bufs is not None:
                self._bufs.move_to_end(key)
                for i, c in enumerate(_counts(bufs)):
                    if c == self._sole:
                        self.hits += 1
                        buf = bufs[i]
                        if zero:
                            buf.fill(0)
                        return buf
            self.misses += 1
            # allocate and free one block of this size first: that is what lets glibc raise its
            # adaptive mmap threshold (a kept buffer is never freed), so the ops' other big
            # temporaries keep coming from the heap instead of fresh, page-faulting mmaps
            np.empty(nbytes, np.uint8)
            buf = np.zeros(shape, dtype)
            self._evict(self.limit - nbytes)
            if self._bytes + nbytes <= self.limit:
                self._bufs.setdefault(key, []).append(buf)
                self._bytes += nbytes
            return buf

    def _evict(self, budget: int) -> None:
        """Drop least recently used buffers until the cache holds at most ``budget`` bytes."""
        while self._bytes > budget and self._bufs:
            key, bufs = self._bufs.popitem(last=False)
            self._bytes -= sum(b.nbytes for b in bufs)

    def clear(self) -> None:
        """Forget every cached buffer (arrays still in use elsewhere stay valid)."""
        with self._lock:
            self._bufs.clear()
            self._bytes = 0

    @property
    def nbytes(self) -> int:
        """Bytes the cache holds."""
        return self._bytes


WORKSPACE = Workspace()


def empty_cache() -> None:
    """Release the scratch buffers the ops keep for reuse (as ``torch.cuda.empty_cache``)."""
    WORKSPACE.clear()
