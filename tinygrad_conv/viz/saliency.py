"""Saliency: d(class score) / d(input pixels), computed by the tape like any training gradient."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..autograd import enable_grad
from ..nn import Module
from ..tensor import Tensor
from ._mpl import as_image, figure, save_figure


@contextlib.contextmanager
def frozen_eval(model: Module) -> Iterator[Module]:
    """Eval mode with parameters not requiring grad, restored on exit.

    Lets a backward pass reach the input only: no parameter ``.grad`` is touched and no
    weight gradient is computed.
    """
    modes = [(m, m.training) for m in model.modules()]
    params = [(p, p.requires_grad) for p in model.parameters()]
    model.eval()
    for p, _ in params:
        p.requires_grad = False
    try:
        yield model
    finally:
        for p, flag in params:
            p.requires_grad = flag
        for m, flag in modes:
            m.__dict__["training"] = flag


def saliency(
    model: Module, image: np.ndarray, target: int | None = None
) -> tuple[np.ndarray, int, np.ndarray]:
    """Gradient of one class score (the logit) with respect to the input pixels.

    image: (C, H, W); target: class index, default the predicted class. Returns
    (gradient (C, H, W) in the image's dtype, target class, logits (K,)). The model runs in eval
    mode; its parameters' gradients are left untouched.
    """
    image = np.asarray(image)
    if image.ndim != 3:
        raise ValueError(f"saliency: image must be (C, H, W), got shape {image.shape}")
    with frozen_eval(model), enable_grad():
        x = Tensor(image[None].copy(), requires_grad=True, name="image")
        logits = model(x)
        if logits.ndim != 2 or logits.shape[0] != 1:
            raise ValueError(f"saliency: model output must be (1, K) logits, got shape {logits.shape}")
        k = logits.shape[1]
        t = int(np.argmax(logits.data[0])) if target is None else int(target)
        if not 0 <= t < k:
            raise ValueError(f"saliency: target class {t} out of range for {k} logits")
        # seed the backward pass with a one-hot row: the same as backward from logits[0, t]
        seed = np.zeros(logits.shape, dtype=logits.dtype)
        seed[0, t] = 1
        logits.backward(seed)
    if x.grad is None:
        raise RuntimeError("saliency: no gradient reached the input image (does the model detach it?)")
    return x.grad[0], t, logits.data[0].copy()


def plot_saliency(
    model: Module,
    image: np.ndarray,
    path: str | os.PathLike,
    target: int | None = None,
    label: int | None = None,
    class_names: list[str] | None = None,
) -> Path:
    """Image, |saliency| and signed saliency side by side.

    image: (C, H, W). ``target`` picks the class score to explain (default: the predicted class);
    ``label`` (the true class) only goes into the title. Returns ``path``.
    """
    grad, t, logits = saliency(model, image, target)
    names = class_names or [str(i) for i in range(len(logits))]
    mag = np.abs(grad).max(axis=0)
    signed = grad.sum(axis=0)
    lim = float(np.abs(signed).max()) or 1.0
    fig = figure(figsize=(9, 3.4))
    axes = fig.subplots(1, 3)
    title = f"input, predicted {names[int(np.argmax(logits))]}"
    if label is not None:
        title += f", true {names[int(label)]}"
    axes[0].imshow(as_image(image), cmap="gray", interpolation="nearest")
    axes[0].set_title(title, fontsize=9)
    im1 = axes[1].imshow(mag, cmap="hot", interpolation="nearest")
    axes[1].set_title(f"|d score[{names[t]}] / d pixel|", fontsize=9)
    fig.colorbar(im1, ax=axes[1], shrink=0.8)
    im2 = axes[2].imshow(signed, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
    axes[2].set_title("signed: red raises the score", fontsize=9)
    fig.colorbar(im2, ax=axes[2], shrink=0.8)
    for a in axes:
        a.set_axis_off()
    return save_figure(fig, path)
