"""Small helpers shared by op modules: deterministic sample arrays for gradchecks."""

from __future__ import annotations

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
