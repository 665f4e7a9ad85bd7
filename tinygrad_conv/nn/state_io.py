"""State dicts as files that PyTorch reads and writes: ``.npz`` (NumPy) and ``.safetensors``.

Names and layouts are PyTorch's already (``conv1.weight`` OIHW, ``fc.weight`` (out, in),
``bn.running_mean``, ``bn.num_batches_tracked``), so a file moves between the two frameworks
with no renaming or transposing. ``.npz`` files are read with ``allow_pickle=False`` and
safetensors files hold raw arrays only: loading runs no code.

    >>> write_state_dict(model, "seed.safetensors")      # PyTorch: safetensors.torch.load_file
    >>> model.load_state_dict("from_torch.npz")           # a path works where a dict does
"""

from __future__ import annotations

import os
import zipfile
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..tensor import Tensor

__all__ = ["read_state_dict", "write_state_dict", "as_array"]

FORMATS = (".npz", ".safetensors")


def check_state_keys(own: Mapping[str, np.ndarray], src: Mapping[str, np.ndarray], strict: bool,
                     where: str) -> tuple[list[str], list[str]]:
    """(missing, unexpected) keys of ``src`` against ``own``; raise one ValueError listing every
    shape mismatch (always) and, with ``strict``, every missing and unexpected key."""
    missing = [k for k in own if k not in src]
    unexpected = [k for k in src if k not in own]
    mismatched = [f"{k}: checkpoint {src[k].shape} vs model {own[k].shape}"
                  for k in own if k in src and src[k].shape != own[k].shape]
    problems = []
    if mismatched:
        problems.append("shape mismatch for " + "; ".join(mismatched))
    if strict and missing:
        problems.append("missing keys: " + ", ".join(missing))
    if strict and unexpected:
        problems.append("unexpected keys: " + ", ".join(unexpected))
    if problems:
        raise ValueError(f"{where}: " + " | ".join(problems))
    return missing, unexpected


def as_array(v: Any) -> np.ndarray:
    """One state value as an ndarray: a Tensor, an ndarray, or a PyTorch tensor (detached, moved to CPU)."""
    if isinstance(v, Tensor):
        return v.data
    if hasattr(v, "detach") and hasattr(v, "cpu"):  # torch.Tensor, without importing torch
        v = v.detach().cpu().numpy()
    return np.asarray(v)


def _format(path: Path, what: str) -> str:
    fmt = path.suffix.lower()
    if fmt not in FORMATS:
        raise ValueError(f"{what}: {path}: unknown format {fmt or '(no suffix)'!r}; use .npz or .safetensors")
    return fmt


def _safetensors(what: str) -> Any:
    try:
        import safetensors.numpy
    except ImportError:
        raise ModuleNotFoundError(f"{what}: .safetensors files need the safetensors package: "
                                  "pip install 'tinygrad-conv[interop]'") from None
    return safetensors.numpy


def read_state_dict(path: str | os.PathLike, max_bytes: int = 1 << 31) -> OrderedDict[str, np.ndarray]:
    """name -> array from a ``.npz`` or ``.safetensors`` file (e.g. written from a PyTorch ``state_dict``).

    ``.npz`` files go through the package's bounded reader (``_npz.NpzReader``): the declared
    shapes are checked against ``max_bytes`` in total before any data is read, so a small
    compressed file cannot ask for gigabytes."""
    from .._npz import NpzReader

    path = Path(path)
    fmt = _format(path, "read_state_dict")
    if not path.is_file():
        raise FileNotFoundError(f"read_state_dict: no file at {path}")
    try:
        if fmt == ".npz":
            with NpzReader(path) as r:
                total = sum(m.nbytes for m in r.members.values())
                if total > max_bytes:
                    raise ValueError(f"its arrays declare {total:,} bytes, more than max_bytes={max_bytes:,}")
                return OrderedDict((k, r.read(k)) for k in r.members)
        return OrderedDict(_safetensors("read_state_dict").load(path.read_bytes()))
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise ValueError(f"read_state_dict: {path}: not a readable {fmt} file ({e})") from None
    except Exception as e:  # safetensors raises its own SafetensorError for a corrupt header
        if type(e).__name__ != "SafetensorError":
            raise
        raise ValueError(f"read_state_dict: {path}: not a readable {fmt} file ({e})") from None


def write_state_dict(state: Any, path: str | os.PathLike) -> Path:
    """Write a Module's ``state_dict()`` (or any name -> array mapping) as ``.npz`` or ``.safetensors``,
    atomically. Returns the path."""
    from .._files import atomic_open, atomic_write_bytes  # the package's one atomic writer

    path = Path(path)
    fmt = _format(path, "write_state_dict")
    sd = state.state_dict() if hasattr(state, "state_dict") else state
    if not isinstance(sd, Mapping):
        raise TypeError(f"write_state_dict: expected a Module or a mapping, got {type(state).__name__}")
    # order="C", not ascontiguousarray: that turns 0-d arrays (num_batches_tracked) into 1-d ones
    arrays: dict[str, Any] = {str(k): np.asarray(as_array(v), order="C") for k, v in sd.items()}
    if fmt == ".safetensors":
        atomic_write_bytes(path, _safetensors("write_state_dict").save(arrays))
    else:
        with atomic_open(path) as f:
            np.savez(f, **arrays)
    return path
