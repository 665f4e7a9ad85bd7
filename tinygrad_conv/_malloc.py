"""Keep freed memory in the process heap so NumPy's big temporaries don't page-fault every step.

A training step allocates and frees the same large buffers (im2col columns, their gradients)
again and again. glibc hands freed memory at the top of the heap back to the kernel, and the next
step pays a page fault for every 4 KiB it touches again: on a 2-core VM that was more than half of
a seed_cnn step (19.8 ms -> 8.6 ms with the pad below; peak RSS unchanged at 82 MB). PyTorch
avoids this with its own caching allocator; NumPy has none for big arrays, so we ask glibc to keep
``M_TOP_PAD`` bytes of slack instead of returning them, and to serve blocks up to 32 MiB from that
heap rather than from fresh mmaps.

Applied once at import on glibc systems; a no-op elsewhere. Opt out or resize with the environment
variable ``TINYGRAD_CONV_MALLOC_PAD_MB`` (``0`` leaves glibc's defaults alone).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TOP_PAD, M_MMAP_THRESHOLD = -2, -3  # mallopt parameter numbers, from glibc's malloc.h
DEFAULT_PAD_MB = 64
# Setting any malloc parameter turns off glibc's sliding mmap threshold, which would leave every
# block over 128 KiB to a fresh mmap (page faults again: a 1 MB cross_entropy went 0.25 -> 1.4 ms).
# Fix it at glibc's own upper limit instead: blocks up to 32 MiB come from the (padded) heap.
MMAP_THRESHOLD = 32 << 20


def pad_heap(mb: int | None = None) -> bool:
    """Ask glibc to keep ``mb`` MiB of freed heap (default: $TINYGRAD_CONV_MALLOC_PAD_MB or 64).

    Returns True when the setting was applied, False when skipped (0, not Linux, no glibc)."""
    if mb is None:
        raw = os.environ.get("TINYGRAD_CONV_MALLOC_PAD_MB", str(DEFAULT_PAD_MB))
        try:
            mb = int(raw)
        except ValueError:
            raise ValueError(f"TINYGRAD_CONV_MALLOC_PAD_MB must be an integer (MiB), got {raw!r}") from None
    if mb <= 0 or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt  # absent on musl
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, ctypes.c_int(MMAP_THRESHOLD))
                and mallopt(M_TOP_PAD, ctypes.c_int(mb << 20)))
