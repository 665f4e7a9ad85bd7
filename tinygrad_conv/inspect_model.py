"""``tinygrad-conv inspect``: every "look inside" picture of a checkpoint, plus an index.html.

Loads a checkpoint written by ``train`` (model name and dataset come from its config), picks one
test image and writes into the output folder (default ``<run dir>/inspect``):

    filters.png  filter_summary.png  feature_maps.png  saliency.png  explain_conv.png
    layer_norms.png  curvature.png  confusion_matrix.png  curves.png  index.html

Pictures a model cannot have (feature maps of an MLP, layer norms of a run that did not log
them) are listed in index.html with the reason instead.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._files import atomic_write_text

__all__ = ["InspectResult", "inspect_checkpoint", "load_model", "write_index", "run_inspect"]


@dataclass
class InspectResult:
    """What ``inspect_checkpoint`` wrote: ``pictures`` file name -> (path, title, caption),
    ``skipped`` file name -> (title, reason), and the ``index`` HTML page."""

    out_dir: Path
    index: Path
    pictures: dict[str, tuple[Path, str, str]] = field(default_factory=dict)
    skipped: dict[str, tuple[str, str]] = field(default_factory=dict)
    summary: str = ""


def load_model(checkpoint: str | os.PathLike, model: str | None = None) -> tuple[Any, Any, dict[str, Any]]:
    """(model with the checkpoint's weights, the Checkpoint, its config dict): ``run.load_model``'s
    result unpacked. ``model`` names the architecture for checkpoints without a config."""
    from .run.loader import load_model as _load

    return tuple(_load(checkpoint, model, op="inspect"))  # type: ignore[return-value]


@dataclass
class _Subject:
    """What every picture looks at: the model, one test image, the confusion-matrix images."""

    net: Any
    ck: Any
    ck_path: Path
    dataset: str
    image_index: int
    image: np.ndarray
    label: int
    names: list[str]
    x_cm: np.ndarray
    y_cm: np.ndarray
    layer: str | None
    curvature: bool = True  # the second-order picture (a few seconds: Hessian-vector products)
    lr: float | None = None  # the run's learning rate, for the 2 / lr line
    pred: int = 0  # set by the saliency picture
    explanation: Any = None  # set by the explain picture
    curv: Any = None  # set by the curvature picture

    @property
    def what(self) -> str:
        return f"test image #{self.image_index} (true class {self.names[self.label]})"


def _draw_saliency(s: _Subject, p: Path) -> Path:
    from .viz import pictures as P

    s.pred = int(np.argmax(P.saliency(s.net, s.image)[2]))
    return P.plot_saliency(s.net, s.image, p, label=s.label, class_names=s.names)


def _draw_explain(s: _Subject, p: Path) -> Path:
    from .viz import pictures as P

    path, s.explanation = P.plot_explain_conv_output(s.net, s.image, p, layer=s.layer)
    return path


def _draw_norms(s: _Subject, p: Path) -> Path:
    from .viz import pictures as P
    from .viz.metrics import GRAD_PREFIX

    run_dir = s.ck_path.parent
    src = next((f for f in (run_dir / "layer_norms.csv", run_dir / "metrics.csv")
                if f.is_file() and any(k.startswith(GRAD_PREFIX) for k in _header(f))), None)
    if src is None:
        raise ValueError(f"no per-layer norms logged next to {s.ck_path.name} (layer_norms.csv, written by "
                         "tinygrad_conv.viz.LayerNormLogger during training)")
    return P.plot_layer_norms(src, p)


CURVATURE_BATCH = 32  # test images in the fixed batch the Hessian is taken on (cost: ~linear)


def _draw_curvature(s: _Subject, p: Path) -> Path:
    from .curvature import model_curvature
    from .functional import cross_entropy
    from .viz.curvature import plot_curvature

    if not s.curvature:
        raise ValueError("not drawn (--no-curvature)")
    x, y = s.x_cm[:CURVATURE_BATCH], s.y_cm[:CURVATURE_BATCH]
    s.curv = model_curvature(s.net, x, y, cross_entropy, iters=15)
    return plot_curvature(s.curv, p, lr=s.lr)


def _curvature_caption(s: _Subject) -> str:
    c = s.curv
    sharp = max(c.layers, key=lambda k: c.layers[k]) if c.layers else "?"
    n = min(len(s.y_cm), CURVATURE_BATCH)
    return (f"Top eigenvalue of the loss Hessian on {n} test images, by power iteration on "
            f"Hessian-vector products (gradients of gradients, recorded by the tape): "
            f"{c.top:.3g} for the whole model, highest per layer in {sharp}. A sharp layer "
            "(large eigenvalue) is where a step of a given size changes the loss most; plain gradient "
            "descent is stable along a direction only while lr * eigenvalue < 2. Right: the loss along "
            "the top eigenvector rises much faster than along a random direction.")


def _draw_curves(s: _Subject, p: Path) -> Path:
    from .viz.metrics import plot_curves

    if not s.ck.history:
        raise ValueError("the checkpoint holds no training history")
    return plot_curves(s.ck.history, p)


_Picture = tuple[str, str, Callable[[_Subject, Path], Path], Callable[[_Subject], str]]


def _pictures() -> list[_Picture]:
    """(file name, title, draw(subject, path), caption(subject)) of every picture, in page order."""
    from .viz import pictures as P

    return [
        ("filters.png", "First-layer filters",
         lambda s, p: P.plot_filters(s.net, p, image_shape=s.image.shape),
         lambda s: "Each tile is one filter of the first layer (for an MLP: one hidden unit's weights over "
                   "the image). Red weights raise the output where the input is bright, blue ones lower it."),
        ("filter_summary.png", "Later conv layers",
         lambda s, p: P.plot_filter_summary(s.net, p),
         lambda s: "Left: L2 norm of each (output, input) channel kernel, i.e. which earlier feature maps "
                   "an output channel listens to. Right: each output channel's kernel averaged over its "
                   "inputs."),
        ("feature_maps.png", "Feature maps",
         lambda s, p: P.plot_feature_maps(s.net, s.image, p,
                                          label=f"#{s.image_index}, class {s.names[s.label]}"),
         lambda s: f"The output of every conv and pool layer for {s.what}, captured with forward hooks; "
                   "each channel is scaled to its own range (bright = high)."),
        ("saliency.png", "Saliency", _draw_saliency,
         lambda s: f"Gradient of the predicted class score (class {s.names[s.pred]}) with respect "
                   f"to each input pixel of {s.what}, computed by the tape exactly like a training gradient: "
                   "pixels where a small change moves the score most."),
        ("explain_conv.png", "One conv output, explained", _draw_explain,
         lambda s: _explain_caption(s.explanation)),
        ("layer_norms.png", "Gradient flow", _draw_norms,
         lambda s: "Per-layer L2 norm of the gradient (mean over each epoch's steps) and of the weights, "
                   "per epoch. Gradients orders of magnitude smaller in early layers would mean they learn "
                   "slowly."),
        ("curvature.png", "Curvature (second order)", _draw_curvature, _curvature_caption),
        ("confusion_matrix.png", "Confusion matrix",
         lambda s, p: P.plot_confusion_matrix(s.net, s.x_cm, s.y_cm, p, class_names=s.names,
                                              num_classes=len(s.names)),
         lambda s: f"Rows: true class, columns: predicted class, over {len(s.y_cm)} {s.dataset} test "
                   "images."),
        ("curves.png", "Learning curves", _draw_curves,
         lambda s: "Loss and accuracy per epoch, train and test, from the checkpoint's history."),
    ]


def _subject(checkpoint: str | os.PathLike, image_index: int, dataset: str | None,
             data_dir: str | os.PathLike | None, limit: int | None, model: str | None,
             layer: str | None) -> tuple[_Subject, dict[str, Any]]:
    """Load the checkpoint and the test image; check every argument before anything is drawn."""
    from .data import CLASS_NAMES, load_dataset
    from .run.loader import load_model as _load
    from .viz.filters import conv_layers

    loaded = _load(checkpoint, model, op="inspect")
    net, cfg = loaded.model, loaded.config
    convs = [n for n, _ in conv_layers(net)]
    if layer is not None and layer not in convs:
        raise ValueError(f"inspect: --layer {layer!r} is not a Conv2d of {cfg.get('model', model)}; "
                         f"conv layers: {', '.join(convs) or 'none'}")
    ds = dataset or cfg.get("dataset")
    if not ds:
        raise ValueError(f"inspect: {loaded.path} has no config.dataset entry; pass the dataset (--dataset)")
    if limit is not None and limit <= 0:
        raise ValueError(f"inspect: limit must be positive, got {limit}")
    _, _, x_test, y_test = load_dataset(str(ds), data_dir, normalize=True)
    if not -len(x_test) <= image_index < len(x_test):
        raise ValueError(f"inspect: image index {image_index} out of range for {len(x_test)} test images")
    x_cm, y_cm = (x_test, y_test) if limit is None else (x_test[:limit], y_test[:limit])
    names = list(CLASS_NAMES.get(str(ds), [str(i) for i in range(10)]))
    subject = _Subject(net, loaded.checkpoint, loaded.path, str(ds), image_index, x_test[image_index],
                       int(y_test[image_index]), names, x_cm, y_cm, layer)
    return subject, cfg


def inspect_checkpoint(
    checkpoint: str | os.PathLike,
    out_dir: str | os.PathLike | None = None,
    image_index: int = 0,
    dataset: str | None = None,
    data_dir: str | os.PathLike | None = None,
    limit: int | None = None,
    model: str | None = None,
    layer: str | None = None,
    log: Callable[[str], None] | None = None,
    curvature: bool = True,
) -> InspectResult:
    """Write every picture for ``checkpoint`` (a checkpoint.npz or its run directory) and index.html.

    image_index: which test image the per-image pictures use. dataset: default the checkpoint's;
    inputs are normalised as in training. limit: use only the first N test images for the
    confusion matrix. layer: the Conv2d to explain (default the first). curvature: draw the
    Hessian picture (a few seconds). Returns what was written.
    """
    log = log or (lambda s: None)
    s, cfg = _subject(checkpoint, image_index, dataset, data_dir, limit, model, layer)
    s.curvature = curvature
    lr = cfg.get("lr")
    s.lr = float(lr) if isinstance(lr, (int, float)) and lr > 0 else None
    out = Path(out_dir) if out_dir is not None else s.ck_path.parent / "inspect"
    out.mkdir(parents=True, exist_ok=True)
    res = InspectResult(out_dir=out, index=out / "index.html")
    for fname, title, draw, caption in _pictures():
        try:
            path = draw(s, out / fname)
        except ValueError as e:
            res.skipped[fname] = (title, str(e))
            log(f"skipped {fname}: {e}")
            continue
        res.pictures[fname] = (Path(path), title, caption(s))
        log(f"wrote {path}")
    res.summary = (f"{cfg.get('model', model)} trained {_epochs(s.ck.epoch)} on {cfg.get('dataset', '?')}; "
                   f"pictures use {s.dataset} {s.what}.")
    write_index(res, title=f"Inside {s.ck_path}")
    log(f"wrote {res.index}")
    return res


def _epochs(n: int) -> str:
    return f"{n} epoch" + ("" if n == 1 else "s")


def _header(path: Path) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return f.readline().strip().split(",")


def _explain_caption(e: Any) -> str:
    taps = e.weights.size
    return (f"Output ({e.y}, {e.x}) of channel {e.out_channel} of {e.layer}: its receptive field (red box) "
            f"times the filter, elementwise. The {taps} products sum to {e.products_sum:+.4f}; plus the bias "
            f"{e.bias:+.4f} that is {e.value:+.4f}, and the layer's actual output is {e.actual:+.4f}. "
            "Every output position reuses the same filter on a different window.")


def write_index(res: InspectResult, title: str = "tinygrad_conv: a look inside") -> Path:
    """Write ``res.index``: each picture with its title and caption, then the skipped ones."""
    esc = html.escape
    parts = [
        "<!doctype html>", '<html lang="en"><head><meta charset="utf-8">', f"<title>{esc(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:auto;padding:1em;line-height:1.4}"
        "figure{margin:2em 0}img{max-width:100%;border:1px solid #ddd}figcaption{color:#333}</style>",
        "</head><body>", f"<h1>{esc(title)}</h1>", f"<p>{esc(res.summary)}</p>",
    ]
    for fname, (_, head, caption) in res.pictures.items():
        parts += [f'<figure id="{esc(fname)}"><h2>{esc(head)}</h2>',
                  f'<img src="{esc(fname)}" alt="{esc(head)}">',
                  f"<figcaption>{esc(caption)}</figcaption></figure>"]
    if res.skipped:
        parts.append("<h2>Not drawn</h2><ul>")
        parts += [f"<li><b>{esc(head)}</b> ({esc(fname)}): {esc(why)}</li>"
                  for fname, (head, why) in res.skipped.items()]
        parts.append("</ul>")
    parts.append("</body></html>")
    return atomic_write_text(res.index, "\n".join(parts) + "\n")


def run_inspect(checkpoint: str, image: int = 0, dataset: str | None = None, data_dir: str | None = None,
                out: str | None = None, limit: int | None = None, model: str | None = None,
                layer: str | None = None, log: Callable[[str], None] = print,
                curvature: bool = True) -> InspectResult:
    """What ``tinygrad-conv inspect`` runs: ``inspect_checkpoint`` with progress lines through ``log``."""
    res = inspect_checkpoint(checkpoint, out, image_index=image, dataset=dataset, data_dir=data_dir,
                             limit=limit, model=model, layer=layer, log=log, curvature=curvature)
    log(f"{len(res.pictures)} pictures, {len(res.skipped)} skipped; open {res.index}")
    return res
