"""Run files: the ``.npz`` checkpoint and ``metrics.csv``, both written atomically.

The checkpoint is a flat ``.npz`` read with ``allow_pickle=False`` (no code runs on load)::

    format                 'tinygrad_conv.checkpoint/1'
    epoch                  completed epochs
    seed, batch_size       what fixes the data order of every epoch
    config.<field>         the run's configuration (plain strings and numbers; absent if none given)
    model.<name>           model.state_dict()
    optim.<key>            optimizer.state_dict()
    history.<metric>       one value per completed epoch (the rows of metrics.csv)
    rng.<module>.<attr>    bit-generator state (JSON) of every np.random.Generator held by a module
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._ckpt_check import MAX_CHECKPOINT_BYTES, CheckpointError, read_checkpoint_arrays
from ._files import atomic_open

__all__ = ["Checkpoint", "save_checkpoint", "load_checkpoint", "module_rngs", "write_metrics", "METRICS",
           "CHECKPOINT_FORMAT", "CheckpointError", "MAX_CHECKPOINT_BYTES"]

CHECKPOINT_FORMAT = "tinygrad_conv.checkpoint/1"
METRICS = ("epoch", "train_loss", "train_acc", "test_loss", "test_acc", "seconds", "images_per_s")


@dataclass
class Checkpoint:
    """A loaded checkpoint; ``config`` (field -> value) is None when the run had none."""

    epoch: int
    config: dict[str, Any] | None
    model_state: dict[str, np.ndarray]
    optim_state: dict[str, Any]
    history: list[dict[str, float]]
    rng_states: dict[str, str]
    seed: int
    batch_size: int


def module_rngs(model) -> dict[str, np.random.Generator]:
    """Every np.random.Generator held as an attribute by a module (e.g. Dropout's), by dotted path."""
    out = {}
    for path, m in model.named_modules():
        for k, v in vars(m).items():
            if isinstance(v, np.random.Generator):
                out[f"{path}.{k}" if path else k] = v
    return out


def save_checkpoint(path: str | os.PathLike, model, optimizer, epoch: int, history: list[dict],
                    config: Mapping[str, Any] | None = None, seed: int = 0, batch_size: int = 64) -> None:
    """Write everything needed to resume after ``epoch`` completed epochs, atomically."""
    arrays: dict[str, Any] = {"format": np.array(CHECKPOINT_FORMAT), "epoch": np.array(epoch),
                              "seed": np.array(seed), "batch_size": np.array(batch_size)}
    if config is not None:
        arrays.update({f"config.{k}": np.array(v) for k, v in config.items()})
    arrays.update({f"model.{k}": v for k, v in model.state_dict().items()})
    arrays.update({f"optim.{k}": np.asarray(v) for k, v in optimizer.state_dict().items()})
    for m in METRICS:
        arrays[f"history.{m}"] = np.array([row[m] for row in history], dtype=np.float64)
    for k, g in module_rngs(model).items():
        arrays[f"rng.{k}"] = np.array(json.dumps(g.bit_generator.state))
    with atomic_open(path) as f:
        np.savez(f, **arrays)


def load_checkpoint(path: str | os.PathLike, *, model=None, allow_nonfinite: bool = False,
                    config_types: Mapping[str, type] | None = None,
                    max_bytes: int = MAX_CHECKPOINT_BYTES) -> Checkpoint:
    """Read a checkpoint written by ``save_checkpoint``, validating it before and while reading.

    Every member's shape and dtype is checked from its ``.npy`` header before its data is read:
    unknown keys are refused, weights must be floats, and with ``model`` (a Module) each
    ``model.*`` array and optimizer buffer must have its parameter's shape, so a small file cannot
    make this allocate more than the model's size; without ``model`` all arrays together may declare
    at most ``max_bytes``. After reading: ``epoch``, ``seed`` and ``batch_size`` are integers in
    range, weights and optimizer buffers are finite (unless ``allow_nonfinite``), and config values
    are plain scalars, of the type ``config_types`` (field -> ``int``/``float``/``str``/``bool``)
    names for a field when given.

    Raises ``FileNotFoundError`` when there is no file, else ``CheckpointError`` (a ValueError) with
    a one-line message naming the file and the key at fault.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load_checkpoint: no checkpoint at {path}")
    d = read_checkpoint_arrays(path, fmt=CHECKPOINT_FORMAT, metrics=METRICS, model=model, max_bytes=max_bytes,
                               allow_nonfinite=allow_nonfinite, config_types=config_types)

    def sub(prefix: str) -> dict[str, np.ndarray]:
        return {k[len(prefix):]: v for k, v in d.items() if k.startswith(prefix)}

    hist, n = sub("history."), int(d["epoch"])
    history = [{m: (int(hist[m][i]) if m == "epoch" else float(hist[m][i])) for m in METRICS}
               for i in range(n)]
    config = {k: v.item() for k, v in sub("config.").items()} or None
    return Checkpoint(epoch=n, config=config, model_state=sub("model."), optim_state=sub("optim."),
                      history=history, rng_states={k: str(v) for k, v in sub("rng.").items()},
                      seed=int(d["seed"]), batch_size=int(d["batch_size"]))


def write_metrics(path: str | os.PathLike, history: list[dict]) -> None:
    """Write ``history`` (one dict per epoch with the METRICS keys) as CSV, atomically."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=METRICS, lineterminator="\n")
    w.writeheader()
    for row in history:
        w.writerow({k: (row[k] if k == "epoch" else f"{row[k]:.6g}") for k in METRICS})
    with atomic_open(path, "w") as f:
        f.write(buf.getvalue())
