"""Feature maps: capture every conv/pool layer's output with forward hooks and draw them."""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from ..autograd import no_grad
from ..nn import AvgPool2d, Conv2d, MaxPool2d, Module
from ..tensor import Tensor
from ._mpl import as_image, cmap_with_bad, figure, label_tiles, mosaic, save_figure

DEFAULT_TYPES: tuple[type, ...] = (Conv2d, MaxPool2d, AvgPool2d)


def capture_activations(
    model: Module,
    x: Any,
    types: tuple[type, ...] = DEFAULT_TYPES,
    with_inputs: bool = False,
) -> tuple[np.ndarray, OrderedDict[str, Any]]:
    """Run ``model(x)`` (no grad) and record the output of every submodule of one of ``types``.

    x: (N, C, H, W) array or Tensor. Returns (model output as ndarray, OrderedDict name ->
    activation ndarray (N, C', H', W')) in the order the layers ran. With ``with_inputs`` each
    value is (layer input ndarray, output ndarray) instead. Hooks are removed afterwards, even on error.
    """
    records: OrderedDict[str, Any] = OrderedDict()
    handles = []

    def make_hook(name: str):
        def hook(module: Module, inputs: tuple, output: Any) -> None:
            out = np.array(output.data if isinstance(output, Tensor) else output)
            if with_inputs:
                inp = inputs[0]
                records[name] = (np.array(inp.data if isinstance(inp, Tensor) else inp), out)
            else:
                records[name] = out
        return hook

    try:
        for name, m in model.named_modules():
            if name and isinstance(m, types):
                handles.append(m.register_forward_hook(make_hook(name)))
        with no_grad():
            out = model(x if isinstance(x, Tensor) else Tensor(np.asarray(x)))
    finally:
        for h in handles:
            h.remove()
    return np.asarray(out.data if isinstance(out, Tensor) else out), records


def plot_feature_maps(
    model: Module,
    image: np.ndarray,
    path: str | os.PathLike,
    max_channels: int = 16,
    label: str | None = None,
) -> Path:
    """Feature maps of every conv/pool layer for one image, one grid per layer.

    image: (C, H, W). Each layer gets a row block titled with its name, type and output shape;
    each channel's map has its own colour scale (grey, bright = high), at most ``max_channels``
    per layer. Raises ValueError when the model has no conv/pool layer. Returns ``path``.
    """
    image = np.asarray(image)
    if image.ndim != 3:
        raise ValueError(f"plot_feature_maps: image must be (C, H, W), got shape {image.shape}")
    _, acts = capture_activations(model, image[None].astype(_param_dtype(model), copy=False))
    if not acts:
        raise ValueError(f"plot_feature_maps: {type(model).__name__} has no conv or pool layer to show")
    mods = dict(model.named_modules())
    cols = 8
    # one mosaic image per layer, every channel scaled on its own (shapes differ a lot per channel)
    blocks = [(n, mosaic(a[0][:max_channels], cols, normalize=True), a.shape) for n, a in acts.items()]
    width = 7.0
    heights = [1.8] + [width * m.shape[0] / m.shape[1] + 0.45 for _, m, _ in blocks]
    fig = figure(figsize=(width, sum(heights)))
    gs = fig.add_gridspec(len(heights), 1, height_ratios=heights, hspace=0.35)
    ax = fig.add_subplot(gs[0])
    ax.imshow(as_image(image), cmap="gray", interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(f"input {tuple(image.shape)}" + (f" ({label})" if label else ""), fontsize=9)
    gray = cmap_with_bad("gray", "white")
    for i, (name, img, shape) in enumerate(blocks, start=1):
        ax = fig.add_subplot(gs[i])
        ax.imshow(img, cmap=gray, vmin=0, vmax=1, interpolation="nearest")
        label_tiles(ax, min(shape[1], max_channels), shape[2], shape[3], cols)
        ax.set_axis_off()
        shown = "" if shape[1] <= max_channels else f", first {max_channels} channels"
        ax.set_title(f"{name} ({type(mods[name]).__name__}) -> {tuple(shape)}{shown}", fontsize=9)
    return save_figure(fig, path)


def _param_dtype(model: Module) -> np.dtype:
    """The floating dtype of the model's parameters (float32 when it has none)."""
    for p in model.parameters():
        return p.data.dtype
    return np.dtype(np.float32)
