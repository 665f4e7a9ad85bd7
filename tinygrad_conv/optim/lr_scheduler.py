"""Learning-rate schedules (PyTorch's StepLR and CosineAnnealingLR, closed forms).

Call ``scheduler.step()`` once per epoch, after that epoch's ``optimizer.step()`` calls. The
constructor sets the optimizer's lr to the epoch-0 value (``last_epoch == 0``), as PyTorch does.
``state_dict()`` is a flat dict of numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .optimizer import Optimizer

__all__ = ["LRScheduler", "StepLR", "CosineAnnealingLR", "cosine_lr"]


def cosine_lr(t: float, base_lr: float, T_max: float, eta_min: float = 0.0) -> float:
    """The cosine schedule at position ``t`` (epochs, may be fractional):
    ``eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2``; past ``T_max`` it rises again,
    as PyTorch's closed form does.

    ``CosineAnnealingLR`` uses it per epoch; ``tinygrad-conv train --schedule cosine`` per batch.
    """
    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * t / T_max)) / 2


class LRScheduler:
    """Base class: sets ``optimizer.lr = lr_at(last_epoch)`` on every ``step()``."""

    hparams: tuple[str, ...] = ()

    def __init__(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected an Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.base_lr = float(optimizer.lr)
        self.last_epoch = -1
        self.step()

    def lr_at(self, epoch: int) -> float:
        raise NotImplementedError

    def step(self) -> None:
        """Advance one epoch and set the optimizer's lr."""
        self.last_epoch += 1
        self.optimizer.lr = self.lr_at(self.last_epoch)

    def get_last_lr(self) -> list[float]:
        """The lr set by the last ``step()``, as a one-element list (PyTorch: one per param group)."""
        return [self.lr_at(self.last_epoch)]

    def state_dict(self) -> dict[str, Any]:
        """{'last_epoch', 'base_lr', and the schedule's own hyperparameters}."""
        d: dict[str, Any] = {"last_epoch": self.last_epoch, "base_lr": self.base_lr}
        d.update({k: getattr(self, k) for k in self.hparams})
        return d

    def load_state_dict(self, sd: Mapping[str, Any]) -> None:
        """Restore the schedule position (the optimizer's lr comes from its own state_dict)."""
        keys = ("last_epoch", "base_lr") + self.hparams
        missing = [k for k in keys if k not in sd]
        unexpected = [k for k in sd if k not in keys]
        if missing or unexpected:
            raise ValueError(f"{type(self).__name__}.load_state_dict: missing keys {missing}, "
                             f"unexpected keys {unexpected}")
        for k in keys:
            cur = getattr(self, k)
            setattr(self, k, type(cur)(sd[k].item() if hasattr(sd[k], "item") else sd[k]))

    def __repr__(self) -> str:
        hp = ", ".join(f"{k}={getattr(self, k)}" for k in self.hparams)
        return f"{type(self).__name__}({hp}, last_epoch={self.last_epoch})"


class StepLR(LRScheduler):
    """lr = base_lr * gamma ** (epoch // step_size)."""

    hparams = ("step_size", "gamma")

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        if step_size < 1:
            raise ValueError(f"StepLR: step_size must be >= 1, got {step_size}")
        self.step_size, self.gamma = int(step_size), float(gamma)
        super().__init__(optimizer)

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2."""

    hparams = ("T_max", "eta_min")

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0) -> None:
        if T_max < 1:
            raise ValueError(f"CosineAnnealingLR: T_max must be >= 1, got {T_max}")
        self.T_max, self.eta_min = int(T_max), float(eta_min)
        super().__init__(optimizer)

    def lr_at(self, epoch: int) -> float:
        return cosine_lr(epoch, self.base_lr, self.T_max, self.eta_min)
