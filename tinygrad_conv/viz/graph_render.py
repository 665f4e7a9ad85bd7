"""Write graph pictures to files: ``render`` (svg/png/pdf/dot) and ``write_model_graph``."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .graph import retain_all_grads
from .graph_dot import to_dot

FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot"}


class GraphvizNotFoundError(RuntimeError):
    """The Graphviz ``dot`` program is not installed (or not on PATH)."""


def _not_found(fmt: str) -> GraphvizNotFoundError:
    return GraphvizNotFoundError(
        f"render: writing .{fmt} needs the Graphviz 'dot' program, which is not on PATH; install "
        "Graphviz (apt-get install graphviz | brew install graphviz | conda install -c conda-forge "
        "graphviz) - .dot output works without it (render(root, 'graph.dot'))"
    )


def _atomic_write(path: Path, data: bytes) -> None:
    """Write a temp file beside ``path`` (normal permissions, unlike mkstemp's 0600), then rename."""
    tmp = path.parent / f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        with open(tmp, "xb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def render(root: Any, path: str | os.PathLike, format: str | None = None, **options: Any) -> Path:
    """Draw the graph behind ``root`` into ``path`` and return the path.

    ``format`` defaults to the file suffix: ``.svg``, ``.png``, ``.pdf`` (these run Graphviz's
    ``dot`` program) or ``.dot`` (the DOT text, no program needed). ``options`` go to ``to_dot``
    (``show_grads``, ``collapse``, ``max_nodes``, ``module`` ...). The file is written whole or
    not at all. Raises ``GraphvizNotFoundError`` (a RuntimeError) when ``dot`` is missing.
    """
    path = Path(path)
    fmt = format.lower().lstrip(".") if format else FORMATS.get(path.suffix.lower())
    if fmt not in set(FORMATS.values()):
        raise ValueError(
            f"render: cannot tell the format of {str(path)!r} (format={format!r}); use a .svg, .png, "
            ".pdf or .dot suffix or pass format="
        )
    source = to_dot(root, **options).source
    if not path.parent.is_dir():
        raise FileNotFoundError(f"render: directory {str(path.parent)!r} does not exist")
    if fmt == "dot":
        _atomic_write(path, source.encode("utf-8"))
        return path
    exe = shutil.which("dot")
    if exe is None:
        raise _not_found(fmt)
    try:
        proc = subprocess.run([exe, f"-T{fmt}"], input=source.encode("utf-8"), capture_output=True,
                              check=False)
    except OSError as e:  # e.g. found but not executable
        raise _not_found(fmt) from e
    if proc.returncode != 0 or not proc.stdout:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RuntimeError(f"render: dot -T{fmt} failed (exit {proc.returncode}): "
                           f"{err[0] if err else 'no output'}")
    _atomic_write(path, proc.stdout)
    return path


def model_graph_root(model: Any, batch: int = 2, *, grads: bool = False, seed: int = 0,
                     input_shape: tuple[int, ...] = (1, 28, 28),
                     data: tuple[np.ndarray, np.ndarray] | None = None) -> Any:
    """One forward pass of ``model`` on a seeded random batch ``(batch, *input_shape)`` float32,
    then cross-entropy against random labels; with ``grads`` also backward (all tensors keep
    ``.grad``). ``data``: a real ``(images, labels)`` batch to use instead of the random one
    (``batch`` and ``input_shape`` are then ignored). Returns the loss tensor. Runs with recording
    on, even inside ``no_grad``."""
    from .. import enable_grad
    from ..functional import cross_entropy
    from ..tensor import Tensor

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
    given a checkpoint ``.npz``, load its ``model.*`` arrays (read with ``allow_pickle=False``)."""
    from ..models import get_model

    state: dict[str, np.ndarray] = {}
    if checkpoint is not None:
        try:
            with np.load(checkpoint, allow_pickle=False) as z:
                state = {k[len("model."):]: z[k] for k in z.files if k.startswith("model.")}
                if name is None and "config.model" in z.files:
                    name = str(z["config.model"].item())
        except (OSError, ValueError) as e:
            raise ValueError(f"graph: cannot read checkpoint {str(checkpoint)!r}: {e}") from e
        if not state:
            raise ValueError(f"graph: checkpoint {str(checkpoint)!r} holds no 'model.*' arrays")
    model = get_model(name or "seed_cnn", rng=np.random.default_rng(seed))
    if state:
        model.load_state_dict(state)
    return model
