"""Small helpers shared by op modules: int pairs for window attributes, deterministic sample arrays."""

from __future__ import annotations

from typing import Any

import numpy as np

_RNG = np.random.default_rng(1234)


def randn(*shape: int) -> np.ndarray:
    """float64 normal samples (fixed seed, so the registry check is reproducible)."""
    return _RNG.standard_normal(shape)


def uniform(lo: float, hi: float, *shape: int) -> np.ndarray:
    """float64 samples in [lo, hi): use a range away from the op's kinks and poles."""
    return _RNG.uniform(lo, hi, shape)


def away_from_zero(*shape: int, margin: float = 0.1) -> np.ndarray:
    """Normal samples pushed at least ``margin`` from 0 (for relu/abs kinks)."""
    x = randn(*shape)
    return np.where(x >= 0, x + margin, x - margin)


def int_pair(v: Any, what: str, op: str) -> tuple[int, int]:
    """int or (h, w) -> (h, w) of Python ints; anything else is a TypeError naming the op."""
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return int(v), int(v)
    if isinstance(v, (tuple, list)) and len(v) == 2 and all(
        isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in v
    ):
        return int(v[0]), int(v[1])
    raise TypeError(f"{op}: {what} must be an int or a pair of ints (h, w), got {v!r}")


def fmt_pair(v: Any) -> str:
    """``2`` for (2, 2), ``(2,1)`` otherwise: short labels for pictures."""
    if isinstance(v, tuple) and len(v) == 2 and v[0] == v[1]:
        return str(v[0])
    return str(v).replace(" ", "")


def window_out(n: int, k: int, s: int, pad_total: int, d: int = 1) -> int:
    """Output length of a sliding window (conv and pool share it): floor((n + pads - d(k-1) - 1) / s) + 1."""
    return (n + pad_total - d * (k - 1) - 1) // s + 1
