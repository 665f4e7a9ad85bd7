"""The training loop: progress bar, per-epoch metrics, atomic checkpoints and exact resume.

``fit`` trains a model on arrays; a run directory (``out_dir``) gets ``checkpoint.npz`` (rewritten
atomically after every epoch; layout in ``tinygrad_conv.checkpoint``) and ``metrics.csv``.
Batches come from ``DataLoader``, whose order depends only on ``(seed, epoch)``; with the saved
weights, optimizer buffers and generator states a resumed run is bit-identical to an
uninterrupted one. Pictures and the command line's run files are the run layer's business
(``tinygrad_conv.run``), which hooks into ``fit`` through ``on_batch`` and ``on_epoch``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from . import functional as F
from .autograd import no_grad
from .checkpoint import METRICS, Checkpoint, load_checkpoint, module_rngs, save_checkpoint, write_metrics
from .data.loader import DataLoader
from .tensor import Tensor

__all__ = ["TrainConfig", "fit", "evaluate_arrays", "build", "make_optimizer", "make_schedule", "METRICS"]


@dataclass
class TrainConfig:
    """What a run is: stored in its checkpoint so ``evaluate`` and ``--resume`` can rebuild it."""

    model: str = "seed_cnn"
    dataset: str = "mnist"
    epochs: int = 3
    batch_size: int = 64
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 0.0
    optimizer: str = "sgd"
    seed: int = 0
    limit: int = 0  # train on the first `limit` images only; 0 = all
    schedule: str = "cosine"  # or 'none'; cosine: lr decays to 0 over the run, updated every batch

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Build from a dict (e.g. a checkpoint's ``config.*`` entries); unknown keys are ignored."""
        kinds = {f.name: type(getattr(cls, f.name)) for f in fields(cls)}
        return cls(**{k: kinds[k](v) for k, v in d.items() if k in kinds})


def make_optimizer(params, cfg: TrainConfig):
    """The optimizer named by ``cfg.optimizer`` ('sgd' uses momentum; 'adam' ignores it)."""
    from . import optim

    if cfg.optimizer == "sgd":
        return optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adam":
        return optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    raise ValueError(f"make_optimizer: unknown optimizer {cfg.optimizer!r}; known: sgd, adam")


def make_schedule(cfg: TrainConfig) -> Callable[[float], float] | None:
    """lr as a function of fractional epoch (epoch + batch / batches) for ``cfg.schedule``, or None."""
    if cfg.schedule == "none":
        return None
    if cfg.schedule == "cosine":
        from .optim.lr_scheduler import cosine_lr

        return lambda t: cosine_lr(min(t, cfg.epochs), cfg.lr, cfg.epochs)
    raise ValueError(f"make_schedule: unknown schedule {cfg.schedule!r}; known: none, cosine")


def build(cfg: TrainConfig):
    """``(model, optimizer)`` for ``cfg``, the model initialised from ``default_rng(cfg.seed)``."""
    from . import models

    model = models.get_model(cfg.model, rng=np.random.default_rng(cfg.seed))
    return model, make_optimizer(model.parameters(), cfg)


# ---- training and evaluation ------------------------------------------------------------------
def evaluate_arrays(model, x: np.ndarray, y: np.ndarray, batch_size: int = 256,
                    num_classes: int | None = None) -> dict[str, Any]:
    """Loss and accuracy of ``model`` on ``x: (N, ...)``, ``y: (N,)`` int, in eval mode without a tape.

    Returns ``{'loss', 'acc', 'n', 'per_class_acc' (C,), 'confusion' (C, C) rows = true class}``.
    """
    was_training = getattr(model, "training", True)
    model.eval()
    total, preds = 0.0, []
    with no_grad():
        for i in range(0, len(x), batch_size):
            logits = model(Tensor(x[i:i + batch_size]))
            total += float(F.cross_entropy(logits, y[i:i + batch_size], reduction="sum").item())
            preds.append(logits.data.argmax(axis=1))
    model.train(was_training)
    pred = np.concatenate(preds) if preds else np.zeros(0, np.int64)
    c = num_classes or int(max(y.max(initial=-1), pred.max(initial=-1)) + 1)
    confusion = np.bincount(y * c + pred, minlength=c * c).reshape(c, c)
    with np.errstate(invalid="ignore"):
        per_class = np.diag(confusion) / confusion.sum(axis=1)
    n = len(y)
    return {"loss": total / max(n, 1), "acc": float((pred == y).mean()) if n else float("nan"), "n": n,
            "per_class_acc": per_class, "confusion": confusion}


Hook = Callable[[int, int, float], None]


def fit(model, optimizer, train: tuple[np.ndarray, np.ndarray],
        test: tuple[np.ndarray, np.ndarray] | None = None, *, config: TrainConfig | None = None,
        epochs: int | None = None, batch_size: int | None = None, seed: int | None = None,
        out_dir: str | os.PathLike | None = None, resume: bool = False, quiet: bool = False,
        lr_schedule: Callable[[float], float] | None = None, on_batch: Hook | None = None,
        on_epoch: Callable[[int, list[dict[str, float]]], None] | None = None,
        log: Callable[[str], None] | None = None) -> list[dict[str, float]]:
    """Train ``model`` with cross-entropy on ``train = (x (N, C, H, W) float32, y (N,) int64)``.

    ``epochs`` (the total to reach), ``batch_size`` and ``seed`` (data order) default to
    ``config``'s (a ``TrainConfig``, stored in the checkpoint), else to TrainConfig's defaults.
    Each epoch: a tqdm bar (loss, accuracy, images/s), then test loss/accuracy on ``test``, a
    summary line through ``log``, ``on_epoch(completed_epochs, history)`` and, with ``out_dir``,
    ``checkpoint.npz`` then ``metrics.csv``. ``on_epoch`` runs *before* the checkpoint is written,
    so a file it writes is never behind the checkpoint (a resume redoes that epoch and rewrites it).
    ``resume`` continues from ``out_dir/checkpoint.npz``. ``on_batch(epoch, batch_index, loss)``
    runs after every optimizer step; ``lr_schedule(fractional_epoch)`` sets the lr before each.
    Train loss/accuracy are running means over the epoch's batches. Returns the history: one dict
    per epoch (METRICS keys).
    """
    from tqdm.auto import tqdm

    base = config or TrainConfig()
    epochs = base.epochs if epochs is None else epochs
    batch_size = base.batch_size if batch_size is None else batch_size
    seed = base.seed if seed is None else seed
    log = log or (lambda s: tqdm.write(s))
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    start, history = 0, list[dict[str, float]]()
    if resume:
        if out is None:
            raise ValueError("fit: resume=True needs out_dir (where checkpoint.npz lives)")
        start, history = _restore(out, model, optimizer, config, seed, batch_size, log)
    loader = DataLoader(*train, batch_size=batch_size, shuffle=True, seed=seed)
    for epoch in range(start, epochs):
        loader.set_epoch(epoch)
        stats = _train_epoch(model, optimizer, loader, epoch, f"epoch {epoch + 1}/{epochs}", quiet,
                             lr_schedule, on_batch)
        ev = evaluate_arrays(model, *test, batch_size=max(batch_size, 256)) if test is not None else None
        row = _epoch_row(epoch + 1, stats, ev)
        history.append(row)
        test_txt = f"  test loss {row['test_loss']:.4f} acc {row['test_acc']:.2%}" if ev else ""
        log(f"epoch {epoch + 1}/{epochs}  train loss {row['train_loss']:.4f} acc {row['train_acc']:.2%}"
            f"{test_txt}  {row['images_per_s']:.0f} img/s  {row['seconds']:.1f}s")
        if on_epoch is not None:
            on_epoch(epoch + 1, history)
        if out is not None:
            save_checkpoint(out / "checkpoint.npz", model, optimizer, epoch + 1, history,
                            asdict(config) if config else None, seed, batch_size)
            write_metrics(out / "metrics.csv", history)
    return history


def _restore(out: Path, model, optimizer, config: TrainConfig | None, seed: int, batch_size: int,
             log: Callable[[str], None]) -> tuple[int, list[dict[str, float]]]:
    """Load ``out/checkpoint.npz`` into model, optimizer and module generators; (epoch, history)."""
    ck = load_checkpoint(out / "checkpoint.npz", model=model)  # shapes checked before reading
    _check_resumable(ck, config, seed, batch_size)
    model.load_state_dict(ck.model_state)
    optimizer.load_state_dict(ck.optim_state)
    rngs = module_rngs(model)
    for k, state in ck.rng_states.items():
        if k in rngs:
            rngs[k].bit_generator.state = json.loads(state)
    log(f"resuming from {out / 'checkpoint.npz'} after {_plural(ck.epoch, 'epoch')}")
    if ck.history:  # a kill between checkpoint and metrics.csv left the csv one row short
        write_metrics(out / "metrics.csv", ck.history)
    return ck.epoch, ck.history


def _train_epoch(model, optimizer, loader: DataLoader, epoch: int, desc: str, quiet: bool,
                 lr_schedule: Callable[[float], float] | None,
                 on_batch: Hook | None) -> tuple[float, int, int, float]:
    """One pass over ``loader``: (summed loss, correct predictions, images seen, seconds)."""
    from tqdm.auto import tqdm

    model.train()
    t0 = time.perf_counter()
    loss_sum, correct, seen = 0.0, 0, 0
    with tqdm(loader, total=len(loader), desc=desc, unit="batch", disable=quiet, leave=False,
              dynamic_ncols=True) as bar:
        for i, (xb, yb) in enumerate(bar):
            if lr_schedule is not None:  # a pure function of position: resumes exactly
                optimizer.lr = lr_schedule(epoch + i / len(loader))
            logits = model(Tensor(xb))
            loss = F.cross_entropy(logits, yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            lval = float(loss.item())
            loss_sum += lval * len(yb)
            correct += int((logits.data.argmax(axis=1) == yb).sum())
            seen += len(yb)
            bar.set_postfix(loss=f"{loss_sum / seen:.4f}", acc=f"{correct / seen:.2%}",
                            img_s=f"{seen / (time.perf_counter() - t0):.0f}", refresh=False)
            if on_batch is not None:
                on_batch(epoch, i, lval)
    return loss_sum, correct, seen, time.perf_counter() - t0


def _epoch_row(epoch: int, stats: tuple[float, int, int, float],
               ev: dict[str, Any] | None) -> dict[str, float]:
    loss_sum, correct, seen, secs = stats
    return {"epoch": epoch, "train_loss": loss_sum / max(seen, 1), "train_acc": correct / max(seen, 1),
            "test_loss": ev["loss"] if ev else float("nan"), "test_acc": ev["acc"] if ev else float("nan"),
            "seconds": secs, "images_per_s": seen / secs if secs > 0 else float("nan")}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _check_resumable(ck: Checkpoint, config: TrainConfig | None, seed: int, batch_size: int) -> None:
    """Refuse to resume into a run that would not continue the checkpoint's (different data order etc.)."""
    diffs = [f"{k}: checkpoint {a!r}, this run {b!r}" for k, a, b in
             (("seed", ck.seed, seed), ("batch_size", ck.batch_size, batch_size)) if a != b]
    if config is not None and ck.config is not None:
        old, new = asdict(TrainConfig.from_dict(ck.config)), asdict(config)
        diffs += [f"{k}: checkpoint {old[k]!r}, this run {new[k]!r}" for k in old
                  if k != "epochs" and old[k] != new[k]]
    if diffs:
        raise ValueError("fit: cannot resume, the run differs from the checkpoint's: " + "; ".join(diffs))
