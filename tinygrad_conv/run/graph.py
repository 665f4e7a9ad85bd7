"""Record a model's computation graph for drawing: one forward pass (and loss, and backward) on a
batch, then ``viz.render``. This runs a model, so it lives in the run layer; ``viz`` only renders."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..autograd import enable_grad
from ..functional import cross_entropy
from ..tensor import Tensor
from ..viz.graph import retain_all_grads
from ..viz.graph_render import GraphvizNotFoundError, render

__all__ = ["model_graph_root", "write_model_graph", "model_for_graph", "write_run_graph"]


def model_graph_root(model: Any, batch: int = 2, *, grads: bool = False, seed: int = 0,
                     input_shape: tuple[int, ...] = (1, 28, 28),
                     data: tuple[np.ndarray, np.ndarray] | None = None) -> Any:
    """One forward pass of ``model`` on a seeded random batch ``(batch, *input_shape)`` float32,
    then cross-entropy against random labels; with ``grads`` also backward (all tensors keep
    ``.grad``). ``data``: a real ``(images, labels)`` batch to use instead of the random one
    (``batch`` and ``input_shape`` are then ignored). Returns the loss tensor. Runs with recording
    on, even inside ``no_grad``."""
    rng = np.random.default_rng(seed)
    if data is not None:
        images, targets = np.asarray(data[0]), np.asarray(data[1])
        if len(images) < 1 or len(images) != len(targets):
            raise ValueError(f"graph: data needs as many labels as images (at least one), got "
                             f"{len(images)} images and {len(targets)} labels")
        batch = len(images)
    elif batch < 1:
        raise ValueError(f"graph: batch must be >= 1, got {batch}")
    else:
        images = rng.standard_normal((batch, *input_shape)).astype(np.float32)
    x = Tensor(images, name="images")
    with enable_grad():
        logits = model(x)
        if logits.ndim != 2:
            raise ValueError(f"graph: model output must be (N, classes), got shape {logits.shape}")
        if data is None:
            targets = rng.integers(0, logits.shape[1], size=batch)
        labels = Tensor(targets, name="labels")
        loss = cross_entropy(logits, labels)
        loss.name = "loss"
        if grads:
            retain_all_grads(loss)
            loss.backward()
    return loss


def write_model_graph(model: Any, out_path: str | os.PathLike, batch: int = 2, *, grads: bool = False,
                      collapse: int | None = None, max_nodes: int | None = 500, seed: int = 0,
                      input_shape: tuple[int, ...] = (1, 28, 28), fallback_to_dot: bool = True,
                      data: tuple[np.ndarray, np.ndarray] | None = None,
                      on_fallback: Callable[[str], None] | None = None) -> Path:
    """Draw ``model``'s graph (forward + cross-entropy on a random batch, or on ``data``, a real
    ``(images, labels)`` batch) into ``out_path``.

    Leaves the model as it was: the pass runs in eval mode (no dropout draws, no batch-norm
    running-stat updates; each module's train/eval flag is restored) and, with ``grads``,
    parameter ``.grad`` values are restored afterwards. Safe to call from a training loop.
    When the ``dot`` program is missing and ``fallback_to_dot``, writes ``<stem>.dot`` instead
    and returns that path; the one-line reason goes to ``on_fallback`` (e.g. a logger) when
    given, else it is issued as a ``RuntimeWarning``.
    """
    mods = [m for _, m in model.named_modules()] if hasattr(model, "named_modules") else []
    flags = [getattr(m, "training", None) for m in mods]
    params = list(model.parameters()) if hasattr(model, "parameters") else []
    saved_grads = [p.grad for p in params]
    try:
        if hasattr(model, "eval"):
            model.eval()
        root = model_graph_root(model, batch, grads=grads, seed=seed, input_shape=input_shape, data=data)
    finally:
        for m, flag in zip(mods, flags):
            if flag is not None:
                m.training = flag
        for p, g in zip(params, saved_grads):
            p.grad = g
    options = {"show_grads": grads, "collapse": collapse, "max_nodes": max_nodes, "module": model}
    out_path = Path(out_path)
    try:
        return render(root, out_path, **options)
    except GraphvizNotFoundError as e:
        if not fallback_to_dot:
            raise
        dot_path = out_path.with_suffix(".dot")
        result = render(root, dot_path, **options)
        if on_fallback is not None:
            on_fallback(f"{e}; wrote {dot_path} instead")
        else:
            warnings.warn(f"{e}; wrote {dot_path} instead", RuntimeWarning, stacklevel=2)
        return result


def model_for_graph(name: str | None = None, checkpoint: str | os.PathLike | None = None,
                    seed: int = 0) -> Any:
    """Build a model by name (default: the checkpoint's ``config.model``, else ``seed_cnn``) and,
    given a checkpoint (``.npz`` or run directory), load its weights through ``load_model``."""
    from ..models import get_model
    from .loader import load_model

    if checkpoint is not None:
        net = load_model(checkpoint, name, op="graph").model
        net.train()  # as a freshly built model: write_model_graph draws in eval mode anyway
        return net
    return get_model(name or "seed_cnn", rng=np.random.default_rng(seed))


def write_run_graph(model: Any, images: np.ndarray, labels: np.ndarray, out_dir: str | os.PathLike,
                    log: Callable[[str], None]) -> Path | None:
    """``graph.svg`` in ``out_dir``: the model's computation graph, one node per layer, for one
    forward pass + loss on the first two training images. Without Graphviz's ``dot`` program it
    writes ``graph.dot`` and logs why; a failing ``dot`` is logged too. Never stops the run."""
    try:
        return write_model_graph(model, Path(out_dir) / "graph.svg", collapse=0,
                                 data=(images[:2], labels[:2]), on_fallback=log)
    except (RuntimeError, OSError) as e:  # the run itself is saved already
        log(f"could not draw the model graph: {e}")
        return None
