"""``tinygrad-conv inspect``: every "look inside" picture of a checkpoint, plus an index.html.

Loads a checkpoint written by ``train`` (model name and dataset come from its config), picks one
test image and writes into the output folder (default ``<run dir>/inspect``):

    filters.png  filter_summary.png  feature_maps.png  saliency.png  explain_conv.png
    layer_norms.png  confusion_matrix.png  curves.png  index.html

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

from .viz._mpl import write_text_atomic

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


def _checkpoint_path(checkpoint: str | os.PathLike) -> Path:
    p = Path(checkpoint)
    return p / "checkpoint.npz" if p.is_dir() else p


def load_model(checkpoint: str | os.PathLike, model: str | None = None) -> tuple[Any, Any, dict[str, Any]]:
    """(model with the checkpoint's weights, the Checkpoint, its config dict).

    ``model`` names the architecture for checkpoints without a config (written by ``fit`` without one).
    """
    from .checkpoint import load_checkpoint
    from .models import get_model

    path = _checkpoint_path(checkpoint)
    ck = load_checkpoint(path)
    cfg = dict(ck.config or {})
    name = model or cfg.get("model")
    if not name:
        raise ValueError(f"inspect: {path} has no config.model entry; pass the model name (--model)")
    net = get_model(str(name), rng=0)
    net.load_state_dict(ck.model_state)
    net.eval()
    return net, ck, cfg


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
) -> InspectResult:
    """Write every picture for ``checkpoint`` (a checkpoint.npz or its run directory) and index.html.

    image_index: which test image the per-image pictures use. dataset: default the checkpoint's;
    inputs are normalised as in training. limit: use only the first N test images for the
    confusion matrix. layer: the Conv2d to explain (default the first). Returns what was written.
    """
    from .data import CLASS_NAMES, load_dataset
    from .viz import pictures as P
    from .viz.metrics import GRAD_PREFIX

    log = log or (lambda s: None)
    ck_path = _checkpoint_path(checkpoint)
    net, ck, cfg = load_model(ck_path, model)
    convs = [n for n, _ in P.conv_layers(net)]
    if layer is not None and layer not in convs:
        raise ValueError(f"inspect: --layer {layer!r} is not a Conv2d of {cfg.get('model', model)}; "
                         f"conv layers: {', '.join(convs) or 'none'}")
    ds = dataset or cfg.get("dataset")
    if not ds:
        raise ValueError(f"inspect: {ck_path} has no config.dataset entry; pass the dataset (--dataset)")
    _, _, x_test, y_test = load_dataset(str(ds), data_dir, normalize=True)
    if not -len(x_test) <= image_index < len(x_test):
        raise ValueError(f"inspect: image index {image_index} out of range for {len(x_test)} test images")
    if limit is not None and limit <= 0:
        raise ValueError(f"inspect: limit must be positive, got {limit}")
    image, label = x_test[image_index], int(y_test[image_index])
    names = list(CLASS_NAMES.get(str(ds), [str(i) for i in range(10)]))
    out = Path(out_dir) if out_dir is not None else ck_path.parent / "inspect"
    out.mkdir(parents=True, exist_ok=True)
    res = InspectResult(out_dir=out, index=out / "index.html")
    x_cm, y_cm = (x_test, y_test) if limit is None else (x_test[:limit], y_test[:limit])
    state: dict[str, Any] = {}

    def explain(p: Path) -> Path:
        path, e = P.plot_explain_conv_output(net, image, p, layer=layer)
        state["explain"] = e
        return path

    def saliency(p: Path) -> Path:
        state["pred"] = int(np.argmax(P.saliency(net, image)[2]))
        return P.plot_saliency(net, image, p, label=label, class_names=names)

    def norms(p: Path) -> Path:
        src = next((f for f in (ck_path.parent / "layer_norms.csv", ck_path.parent / "metrics.csv")
                    if f.is_file() and any(k.startswith(GRAD_PREFIX) for k in _header(f))), None)
        if src is None:
            raise ValueError(f"no per-layer norms logged next to {ck_path.name} (layer_norms.csv, written by "
                             "tinygrad_conv.viz.LayerNormLogger during training)")
        return P.plot_layer_norms(src, p)

    def curves(p: Path) -> Path:
        from .checkpoint import plot_curves

        if not ck.history:
            raise ValueError("the checkpoint holds no training history")
        plot_curves(ck.history, p)
        return p

    what = f"test image #{image_index} (true class {names[label]})"
    jobs: list[tuple[str, str, Callable[[Path], Path], Callable[[], str]]] = [
        ("filters.png", "First-layer filters",
         lambda p: P.plot_filters(net, p, image_shape=image.shape),
         lambda: "Each tile is one filter of the first layer (for an MLP: one hidden unit's weights over "
                 "the image). Red weights raise the output where the input is bright, blue ones lower it."),
        ("filter_summary.png", "Later conv layers",
         lambda p: P.plot_filter_summary(net, p),
         lambda: "Left: L2 norm of each (output, input) channel kernel, i.e. which earlier feature maps "
                 "an output channel listens to. Right: each output channel's kernel averaged over its "
                 "inputs."),
        ("feature_maps.png", "Feature maps",
         lambda p: P.plot_feature_maps(net, image, p, label=f"#{image_index}, class {names[label]}"),
         lambda: f"The output of every conv and pool layer for {what}, captured with forward hooks; "
                 "each channel is scaled to its own range (bright = high)."),
        ("saliency.png", "Saliency",
         saliency,
         lambda: f"Gradient of the predicted class score (class {names[state.get('pred', 0)]}) with respect "
                 f"to each input pixel of {what}, computed by the tape exactly like a training gradient: "
                 "pixels where a small change moves the score most."),
        ("explain_conv.png", "One conv output, explained",
         explain,
         lambda: _explain_caption(state["explain"])),
        ("layer_norms.png", "Gradient flow",
         norms,
         lambda: "Per-layer L2 norm of the gradient (mean over each epoch's steps) and of the weights, "
                 "per epoch. Gradients orders of magnitude smaller in early layers would mean they learn "
                 "slowly."),
        ("confusion_matrix.png", "Confusion matrix",
         lambda p: P.plot_confusion_matrix(net, x_cm, y_cm, p, class_names=names, num_classes=len(names)),
         lambda: f"Rows: true class, columns: predicted class, over {len(y_cm)} {ds} test images."),
        ("curves.png", "Learning curves",
         curves,
         lambda: "Loss and accuracy per epoch, train and test, from the checkpoint's history."),
    ]
    for fname, title, draw, caption in jobs:
        try:
            path = draw(out / fname)
        except ValueError as e:
            res.skipped[fname] = (title, str(e))
            log(f"skipped {fname}: {e}")
            continue
        res.pictures[fname] = (Path(path), title, caption())
        log(f"wrote {path}")
    res.summary = (f"{cfg.get('model', model)} trained {ck.epoch} epoch(s) on {cfg.get('dataset', '?')}; "
                   f"pictures use {ds} {what}.")
    write_index(res, title=f"Inside {ck_path}")
    log(f"wrote {res.index}")
    return res


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
    return write_text_atomic(res.index, "\n".join(parts) + "\n")


def run_inspect(checkpoint: str, image: int = 0, dataset: str | None = None, data_dir: str | None = None,
                out: str | None = None, limit: int | None = None, model: str | None = None,
                layer: str | None = None, log: Callable[[str], None] = print) -> InspectResult:
    """What ``tinygrad-conv inspect`` runs: ``inspect_checkpoint`` with progress lines through ``log``."""
    res = inspect_checkpoint(checkpoint, out, image_index=image, dataset=dataset, data_dir=data_dir,
                             limit=limit, model=model, layer=layer, log=log)
    log(f"{len(res.pictures)} pictures, {len(res.skipped)} skipped; open {res.index}")
    return res
