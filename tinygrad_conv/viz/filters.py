"""Filter pictures: the first layer's kernels as images, later conv layers summarised per channel."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..nn import Conv2d, Linear, Module
from ._mpl import (
    as_image,
    cmap_with_bad,
    figure,
    grid_shape,
    label_tiles,
    mosaic,
    save_figure,
    symmetric_limit,
)


def conv_layers(model: Module) -> list[tuple[str, Conv2d]]:
    """Every Conv2d of ``model`` as (dotted name, module), in forward-registration order."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, Conv2d)]


def first_layer_filters(
    model: Module, image_shape: tuple[int, int, int] | None = None
) -> tuple[str, np.ndarray]:
    """The first layer's filters as images: (layer name, array (O, C, kh, kw)).

    For a model without convolutions (an MLP) the first Linear layer's rows are reshaped to
    ``image_shape`` (C, H, W), so each hidden unit's input template can be looked at the same way.
    """
    convs = conv_layers(model)
    if convs:
        name, conv = convs[0]
        return name, np.asarray(conv.weight.data)
    for name, m in model.named_modules():
        if isinstance(m, Linear):
            w = np.asarray(m.weight.data)
            if image_shape is None or int(np.prod(image_shape)) != w.shape[1]:
                raise ValueError(
                    f"first_layer_filters: model has no Conv2d and its first Linear {name!r} with weight "
                    f"{w.shape} cannot be shown as images of shape {image_shape}"
                )
            return name, w.reshape((w.shape[0], *image_shape))
    raise ValueError(f"first_layer_filters: {type(model).__name__} has neither a Conv2d nor a Linear layer")


def plot_filters(
    model: Module,
    path: str | os.PathLike,
    image_shape: tuple[int, int, int] | None = (1, 28, 28),
    max_filters: int = 64,
) -> Path:
    """First-layer filter grid: one tile per output channel (weights (O, C, kh, kw)).

    Single-channel filters use a diverging map centred on 0 and shared by all tiles (red =
    positive, blue = negative), so tiles can be compared; 3-channel filters are shown as RGB,
    others as their mean over input channels. Returns ``path``.
    """
    name, w = first_layer_filters(model, image_shape)
    w = w[:max_filters]
    o, c, kh, kw = w.shape
    cols = grid_shape(o, 8)[1]
    title = f"{name}: {w.shape[0]} filters, each {c}x{kh}x{kw}"
    if c == 3:  # colour filters: one Axes per tile, each rescaled to RGB
        rows = grid_shape(o, 8)[0]
        fig = figure(figsize=(1.1 * cols, 1.1 * rows + 0.4))
        axes = fig.subplots(rows, cols, squeeze=False)
        for k, ax in enumerate(axes.flat):
            ax.set_axis_off()
            if k < o:
                ax.imshow(as_image(w[k]), interpolation="nearest")
                ax.set_title(str(k), fontsize=7)
        fig.suptitle(title, fontsize=9)
        return save_figure(fig, path)
    tiles = w[:, 0] if c == 1 else w.mean(axis=1)
    lim = symmetric_limit(tiles)
    img = mosaic(tiles, cols)
    fig = figure(figsize=(min(9.0, 0.9 * cols + 1.4), 0.9 * img.shape[0] / img.shape[1] * cols + 0.6))
    ax = fig.subplots()
    im = ax.imshow(img, cmap=cmap_with_bad("RdBu_r"), vmin=-lim, vmax=lim, interpolation="nearest")
    label_tiles(ax, o, kh, kw, cols)
    ax.set_axis_off()
    fig.colorbar(im, ax=ax, shrink=0.8, label="weight")
    ax.set_title(title + ("" if c == 1 else f" (mean over {c} input channels)")
                 + ("\n(row-major, 0 at top left)" if min(kh, kw) < 10 else ""), fontsize=9)
    return save_figure(fig, path)


def filter_norms(conv: Conv2d) -> np.ndarray:
    """L2 norm of each (output channel, input channel) kernel: weight (O, C, kh, kw) -> (O, C)."""
    w = np.asarray(conv.weight.data, dtype=np.float64)
    return np.sqrt((w * w).sum(axis=(2, 3)))


def plot_filter_summary(model: Module, path: str | os.PathLike, max_channels: int = 16) -> Path:
    """Later conv layers (all but the first), one row each.

    Left: heatmap of kernel L2 norms (output channel x input channel): which input maps each
    output channel listens to. Right: each output channel's kernel averaged over its input
    channels (up to ``max_channels``), the spatial pattern it looks for on average.
    Raises ValueError when the model has fewer than two conv layers.
    """
    convs = conv_layers(model)[1:]
    if not convs:
        raise ValueError(f"plot_filter_summary: {type(model).__name__} has no conv layer after the first")
    fig = figure(figsize=(9, 3.2 * len(convs)))
    subfigs = np.atleast_1d(fig.subfigures(len(convs), 1))
    for sf, (name, conv) in zip(subfigs, convs):
        w = np.asarray(conv.weight.data)
        left, right = sf.subfigures(1, 2, width_ratios=[1.2, 1])
        ax = left.subplots()
        im = ax.imshow(filter_norms(conv), cmap="viridis", aspect="auto", interpolation="nearest")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.set_xlabel("input channel")
        ax.set_ylabel("output channel")
        ax.set_title(f"{name}: kernel L2 norm {w.shape[0]}x{w.shape[1]}", fontsize=8)
        left.colorbar(im, ax=ax, shrink=0.8)
        mean = w[:max_channels].mean(axis=1)
        cols = grid_shape(len(mean), 8)[1]
        lim = symmetric_limit(mean)
        a = right.subplots()
        a.imshow(mosaic(mean, cols), cmap=cmap_with_bad("RdBu_r"), vmin=-lim, vmax=lim,
                 interpolation="nearest")
        label_tiles(a, len(mean), w.shape[2], w.shape[3], cols)
        a.set_axis_off()
        right.suptitle(f"per output channel, mean over {w.shape[1]} input channels\n"
                       f"(first {len(mean)} of {w.shape[0]}, row-major)",
                       fontsize=8)
    return save_figure(fig, path)
