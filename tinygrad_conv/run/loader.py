"""The one checkpoint -> model loader: every command that needs a trained model comes through here."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._ckpt_check import read_model_name
from ..checkpoint import Checkpoint, load_checkpoint

__all__ = ["LoadedModel", "checkpoint_path", "load_model"]


@dataclass
class LoadedModel:
    """A model rebuilt from a checkpoint: ``model`` (eval mode, the checkpoint's weights), the
    ``checkpoint`` it came from, the run's ``config`` (field -> value; empty when the checkpoint has
    none) and the checkpoint's ``path``."""

    model: Any
    checkpoint: Checkpoint
    config: dict[str, Any]
    path: Path

    def __iter__(self):  # (model, checkpoint, config), for unpacking
        return iter((self.model, self.checkpoint, self.config))


def checkpoint_path(checkpoint: str | os.PathLike) -> Path:
    """``checkpoint`` itself, or ``<dir>/checkpoint.npz`` when it names a run directory."""
    p = Path(checkpoint)
    return p / "checkpoint.npz" if p.is_dir() else p


def load_model(checkpoint: str | os.PathLike, model: str | None = None, *,
               op: str = "load_model") -> LoadedModel:
    """Rebuild the model a checkpoint was trained as and load its weights.

    ``checkpoint``: a ``checkpoint.npz`` or its run directory, read by ``load_checkpoint`` (format
    checked, no pickle). ``model`` names the architecture for checkpoints without a config (written
    by ``fit`` without a ``TrainConfig``), or overrides it. ``op`` prefixes error messages.
    """
    from ..models import get_model

    path = checkpoint_path(checkpoint)
    name = model or read_model_name(path)
    net = None
    if name:  # built first, the model lets load_checkpoint check every array's shape before reading
        try:
            net = get_model(str(name), rng=0)  # weights replaced; rng only for the first draw
        except ValueError:
            if model:
                raise
    ck = load_checkpoint(path, model=net)
    cfg = dict(ck.config or {})
    if not name:
        raise ValueError(f"{op}: {path} has no config.model entry; name the model (--model)")
    if net is None:  # a valid file naming a model this version does not know: say so now
        net = get_model(str(name), rng=0)
    try:
        net.load_state_dict(ck.model_state)
    except (KeyError, ValueError) as e:
        raise ValueError(f"{op}: {path} does not hold {name} weights: {e}") from None
    net.eval()
    return LoadedModel(net, ck, cfg, path)
