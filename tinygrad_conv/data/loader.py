"""Mini-batches and normalisation.

``DataLoader`` shuffles with a generator derived from ``(seed, epoch)`` only, so epoch ``e``'s order
never depends on how many epochs ran before in this process: a run resumed at epoch ``e`` sees
exactly the batches an uninterrupted run would.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

__all__ = ["DataLoader", "normalize", "denormalize", "stats", "DATASET_STATS",
           "MNIST_MEAN", "MNIST_STD", "FASHION_MNIST_MEAN", "FASHION_MNIST_STD"]

# pixel mean / std of each training set, pixels scaled to [0, 1]
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
FASHION_MNIST_MEAN, FASHION_MNIST_STD = 0.2860, 0.3530
DATASET_STATS: dict[str, tuple[float, float]] = {
    "mnist": (MNIST_MEAN, MNIST_STD),
    "mnist-sample": (0.1313, 0.3086),  # measured on all 5,000 digits
    "fashion-mnist": (FASHION_MNIST_MEAN, FASHION_MNIST_STD),
}


def stats(name: str) -> tuple[float, float]:
    """(mean, std) of dataset ``name``'s training pixels in [0, 1]."""
    if name not in DATASET_STATS:
        raise ValueError(f"stats: no mean/std for dataset {name!r}; known: {', '.join(DATASET_STATS)}")
    return DATASET_STATS[name]


def normalize(x: np.ndarray, mean: float | np.ndarray, std: float | np.ndarray) -> np.ndarray:
    """``(x - mean) / std``, keeping x's float dtype (float32 stays float32). x: any shape."""
    x = np.asarray(x)
    dt = x.dtype if x.dtype.kind == "f" else np.dtype(np.float32)
    std_arr = np.asarray(std, dtype=dt)
    if np.any(std_arr <= 0):
        raise ValueError(f"normalize: std must be > 0, got {std}")
    return ((x.astype(dt, copy=False) - np.asarray(mean, dtype=dt)) / std_arr).astype(dt, copy=False)


def denormalize(x: np.ndarray, mean: float | np.ndarray, std: float | np.ndarray) -> np.ndarray:
    """Inverse of ``normalize``: ``x * std + mean`` (e.g. to show a normalised image)."""
    x = np.asarray(x)
    dt = x.dtype if x.dtype.kind == "f" else np.dtype(np.float32)
    return (x.astype(dt, copy=False) * np.asarray(std, dtype=dt) + np.asarray(mean, dtype=dt)).astype(dt)


class DataLoader:
    """Iterate ``(xb, yb)`` mini-batches of ``x: (N, ...)`` and ``y: (N, ...)`` as ndarrays.

    ``shuffle``: a fresh permutation each epoch from ``np.random.default_rng([seed, epoch])``.
    ``epoch`` starts at 0, advances after each complete pass, and can be set with ``set_epoch``
    (the training loop does, which is what makes resumed runs exact). ``drop_last`` drops a final
    batch smaller than ``batch_size``.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int = 64, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = False) -> None:
        x, y = np.asarray(x), np.asarray(y)
        if len(x) != len(y):
            raise ValueError(f"DataLoader: x has {len(x)} samples (shape {x.shape}) but y has {len(y)} "
                             f"(shape {y.shape})")
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        self.x, self.y = x, y
        self.batch_size = int(batch_size)
        self.shuffle, self.seed, self.drop_last = shuffle, int(seed), drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Make the next pass use epoch ``epoch``'s order."""
        self.epoch = int(epoch)

    def order(self, epoch: int | None = None) -> np.ndarray:
        """The sample indices of one pass (epoch defaults to the current one): (N,) int64."""
        n = len(self.x)
        if not self.shuffle:
            return np.arange(n)
        e = self.epoch if epoch is None else int(epoch)
        return np.random.default_rng([self.seed, e]).permutation(n)

    def __len__(self) -> int:
        n, b = len(self.x), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        idx = self.order()
        for i in range(len(self)):
            sel = idx[i * self.batch_size:(i + 1) * self.batch_size]
            yield self.x[sel], self.y[sel]
        self.epoch += 1

    def __repr__(self) -> str:
        return (f"DataLoader(n={len(self.x)}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"seed={self.seed}, drop_last={self.drop_last}, epoch={self.epoch})")
