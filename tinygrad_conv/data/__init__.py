"""Data: the IDX format, the MNIST-family datasets and mini-batching.

>>> from tinygrad_conv.data import load_dataset, DataLoader
>>> x_train, y_train, x_test, y_test = load_dataset("mnist-sample")   # works offline
>>> for xb, yb in DataLoader(x_train, y_train, batch_size=64, seed=0): ...
"""

from .datasets import (
    CLASS_NAMES,
    DATASETS,
    DatasetNotFoundError,
    cache_dir,
    download,
    find_dataset,
    load_dataset,
    mnist_sample_path,
    search_dirs,
)
from .idx import IDX_DTYPES, atomic_open, read_idx, write_idx
from .loader import DATASET_STATS, DataLoader, denormalize, normalize, stats

__all__ = [
    "read_idx", "write_idx", "atomic_open", "IDX_DTYPES",
    "load_dataset", "find_dataset", "search_dirs", "cache_dir", "download", "mnist_sample_path",
    "DatasetNotFoundError", "DATASETS", "CLASS_NAMES",
    "DataLoader", "normalize", "denormalize", "stats", "DATASET_STATS",
]
