"""Training pictures: learning curves, per-layer gradient and weight norms, the confusion matrix."""

from __future__ import annotations

import csv
import math
import os
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ..autograd import no_grad
from ..nn import Module
from ..tensor import Tensor
from ._mpl import figure, save_figure, write_text_atomic

GRAD_PREFIX = "grad_norm/"
WEIGHT_PREFIX = "weight_norm/"


def _layer_norms(model: Module, grads: bool) -> OrderedDict[str, float]:
    """Layer (module owning parameters) -> L2 norm over all its parameters' data (or ``.grad``)."""
    sq: OrderedDict[str, float] = OrderedDict()
    for name, p in model.named_parameters():
        layer = name.rpartition(".")[0] or name
        a = p.grad if grads else p.data
        if a is None:
            sq[layer] = math.nan
            continue
        a = np.asarray(a, dtype=np.float64).ravel()
        sq[layer] = sq.get(layer, 0.0) + float(a @ a)
    return OrderedDict((k, math.sqrt(v)) for k, v in sq.items())


def layer_norms(model: Module) -> OrderedDict[str, float]:
    """L2 norms per layer (a module owning parameters; weight and bias together).

    Returns ``{'weight_norm/<layer>': ..., 'grad_norm/<layer>': ...}`` in layer order, ready to be
    merged into a metrics row; a grad norm is NaN while the layer has no ``.grad`` yet. Call it
    after ``backward()`` and before ``zero_grad()`` to log the gradient of that step.
    """
    out: OrderedDict[str, float] = OrderedDict()
    grads = _layer_norms(model, grads=True)
    for layer, w in _layer_norms(model, grads=False).items():
        out[WEIGHT_PREFIX + layer] = w
        out[GRAD_PREFIX + layer] = grads[layer]
    return out


class LayerNormLogger:
    """Per-epoch per-layer norms for a training run, written to a CSV (default ``layer_norms.csv``).

    Pass it as ``fit(..., on_batch=logger)``: after every optimizer step it adds each layer's
    gradient norm (the step's ``.grad``) to a running mean; when the epoch changes, and on
    ``close()``, it writes one row per epoch: ``epoch``, ``grad_norm/<layer>`` (mean over the
    epoch's batches) and ``weight_norm/<layer>`` (at the epoch's last step). With ``resume`` the
    rows of earlier epochs already in the file are kept, so a resumed run continues the same file;
    otherwise the file is started afresh at the first flush.
    """

    def __init__(self, model: Module, path: str | os.PathLike, resume: bool = False) -> None:
        self.model, self.path = model, Path(path)
        self.rows: dict[int, dict[str, float]] = {}
        if resume and self.path.is_file():
            old = read_metrics(self.path) if self.path.stat().st_size else {}
            for i, e in enumerate(old.get("epoch", [])):
                self.rows[int(e)] = {k: float(v[i]) for k, v in old.items() if k != "epoch"}
        self._epoch: int | None = None
        self._sums: dict[str, float] = {}
        self._count = 0

    def __call__(self, epoch: int, batch_index: int = 0, loss: float = math.nan) -> None:
        """Record the current gradients as one step of ``epoch`` (0-based, as ``fit`` passes it)."""
        if self._epoch is not None and epoch != self._epoch:
            self.flush()
        self._epoch = epoch
        for layer, v in _layer_norms(self.model, grads=True).items():
            k = GRAD_PREFIX + layer
            self._sums[k] = self._sums.get(k, 0.0) + v
        self._count += 1

    def flush(self) -> None:
        """Write the running epoch's row (if any steps were seen) and the whole file, atomically."""
        if self._epoch is None or not self._count:
            return
        row = {k: v / self._count for k, v in self._sums.items()}
        row.update((WEIGHT_PREFIX + k, v) for k, v in _layer_norms(self.model, grads=False).items())
        epoch = self._epoch + 1
        self.rows = {e: r for e, r in self.rows.items() if e < epoch}  # a restarted epoch replaces later rows
        self.rows[epoch] = row
        self._sums, self._count = {}, 0
        keys = list(dict.fromkeys(k for r in self.rows.values() for k in r))
        lines = [",".join(["epoch", *keys])]
        lines += [",".join([str(e), *(f"{r.get(k, math.nan):.6g}" for k in keys)])
                  for e, r in sorted(self.rows.items())]
        write_text_atomic(self.path, "\n".join(lines) + "\n")

    close = flush


def read_metrics(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """A metrics.csv as column name -> float array (empty or non-numeric cells become NaN)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"read_metrics: {path} has no data rows")

    def num(v: str | None) -> float:
        try:
            return float(v) if v not in (None, "") else math.nan
        except ValueError:
            return math.nan

    return {k: np.array([num(r.get(k)) for r in rows]) for k in rows[0]}


def plot_layer_norms(metrics_csv: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Per-layer gradient norm and weight norm over training, from a run's metrics.csv.

    Needs columns ``grad_norm/<layer>`` and/or ``weight_norm/<layer>`` (see ``layer_norms``);
    the x axis is the ``epoch`` column when present, else the row number. Log scale: layers whose
    gradients are orders of magnitude apart (vanishing / exploding) stand out. Returns ``path``.
    """
    cols = read_metrics(metrics_csv)
    groups = [(p, [k for k in cols if k.startswith(p)]) for p in (GRAD_PREFIX, WEIGHT_PREFIX)]
    groups = [(p, ks) for p, ks in groups if ks]
    if not groups:
        raise ValueError(
            f"plot_layer_norms: {metrics_csv} has no '{GRAD_PREFIX}<layer>' or '{WEIGHT_PREFIX}<layer>' "
            f"columns (columns: {', '.join(cols)})"
        )
    xname = "epoch" if "epoch" in cols else "row"
    n = len(next(iter(cols.values())))
    x = cols["epoch"] if "epoch" in cols else np.arange(1, n + 1, dtype=float)
    fig = figure(figsize=(5.2 * len(groups), 3.6))
    axes = fig.subplots(1, len(groups), squeeze=False)
    for ax, (prefix, keys) in zip(axes[0], groups):
        for k in keys:
            y = cols[k]
            ok = np.isfinite(y) & (y > 0)
            if ok.any():
                ax.plot(x[ok], y[ok], marker="o", ms=3, label=k[len(prefix):])
        ax.set_yscale("log")
        ax.xaxis.get_major_locator().set_params(integer=True)  # epochs are whole numbers
        ax.set_xlabel(xname)
        ax.set_title(("gradient" if prefix == GRAD_PREFIX else "weight") + " L2 norm per layer", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return save_figure(fig, path)


def plot_curves(history: Sequence[Mapping[str, float]], path: str | os.PathLike) -> Path:
    """Loss and accuracy per epoch, train and test, from a run's history (one dict per epoch with
    ``epoch``, ``train_loss``, ``train_acc``, ``test_loss``, ``test_acc``: ``fit``'s return value
    or ``Checkpoint.history``) to a PNG, atomically. Returns ``path``."""
    if not history:
        raise ValueError("plot_curves: the history is empty (no completed epoch)")
    ep = [r["epoch"] for r in history]
    fig = figure(figsize=(8, 3))
    from matplotlib.ticker import MaxNLocator  # after figure(): it says how to install matplotlib

    # fixed margins instead of tight_layout, which costs an extra full draw
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.16, top=0.95, wspace=0.25)
    ax_loss, ax_acc = fig.subplots(1, 2)
    for ax, key, label in ((ax_loss, "loss", "cross-entropy loss"), (ax_acc, "acc", "accuracy")):
        for split, style in (("train", "o-"), ("test", "s--")):
            vals = [r[f"{split}_{key}"] for r in history]
            if not np.isnan(vals).all():
                ax.plot(ep, vals, style, label=split)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    return save_figure(fig, path, dpi=90, tight=False)


def predict(model: Module, x: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """Predicted class per input. x: (N, C, H, W) -> (N,) int64; eval mode, no grad, batched."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    preds = []
    try:
        with no_grad():
            for i in range(0, len(x), batch_size):
                out = model(Tensor(x[i:i + batch_size]))
                preds.append(np.argmax(out.data, axis=1))
    finally:
        for m, flag in modes:
            m.__dict__["training"] = flag
    return np.concatenate(preds).astype(np.int64) if preds else np.zeros(0, np.int64)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts (K, K): row = true class, column = predicted class."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"confusion_matrix: y_true {y_true.shape} and y_pred {y_pred.shape} differ")
    # bincount over flattened (true, pred) pairs: vectorised, no np.add.at
    return np.bincount(y_true * num_classes + y_pred, minlength=num_classes * num_classes).reshape(
        num_classes, num_classes)


def plot_confusion_matrix(
    model: Module,
    x: np.ndarray,
    y: np.ndarray,
    path: str | os.PathLike,
    class_names: Sequence[str] | None = None,
    num_classes: int | None = None,
) -> Path:
    """Confusion matrix of ``model`` on (x (N, C, H, W), y (N,)), counts written in each cell.

    Rows are true classes, columns predictions; the title gives the accuracy. Returns ``path``.
    """
    y = np.asarray(y).astype(np.int64)
    pred = predict(model, x)
    k = num_classes or (len(class_names) if class_names
                        else int(max(y.max(initial=0), pred.max(initial=0)) + 1))
    cm = confusion_matrix(y, pred, k)
    names = list(class_names) if class_names else [str(i) for i in range(k)]
    acc = float(np.trace(cm)) / max(1, len(y))
    fig = figure(figsize=(5.4, 4.8))
    ax = fig.subplots()
    im = ax.imshow(cm, cmap="Blues", interpolation="nearest")
    fig.colorbar(im, ax=ax, shrink=0.8)
    thresh = cm.max() / 2 if cm.size else 0
    for i in range(k):  # k <= ~10: annotating cell by cell is fine
        for j in range(k):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if cm[i, j] > thresh else "black")
    ax.set_xticks(range(k), names, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(k), names, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"confusion matrix, {len(y)} test images, accuracy {acc:.1%}", fontsize=9)
    return save_figure(fig, path)
