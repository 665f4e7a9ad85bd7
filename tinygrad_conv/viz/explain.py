"""Explain one conv output: which input pixels and filter weights produced it, and how they add up.

A conv output ``out[n, o, y, x]`` is ``bias[o] + sum_{c, i, j} w[o, c, i, j] * in_pad[n, c, y*sh + i*dh,
x*sw + j*dw]``: one output position is fed by exactly one input window (its receptive field) and
the whole filter of channel ``o`` (the seed notebook's "how does the convolution actually happen").
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..nn import Conv2d, Module
from ._mpl import figure, save_figure, symmetric_limit
from .activations import _param_dtype, capture_activations


@dataclass
class ConvExplanation:
    """One conv output value taken apart.

    ``patch``, ``weights``, ``products``: (Cg, kh, kw) for the Cg input channels of the group of
    ``out_channel``; ``rows`` (kh,) and ``cols`` (kw,) are the input coordinates each kernel tap
    reads (outside ``[0, H)`` / ``[0, W)`` means zero padding); ``value = products.sum() + bias``
    recomputed in float64, ``actual`` what the model's layer produced.
    """

    layer: str
    out_channel: int
    y: int
    x: int
    in_channels: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    patch: np.ndarray
    weights: np.ndarray
    products: np.ndarray
    bias: float
    value: float
    actual: float
    layer_input: np.ndarray  # (C, H, W)
    layer_output: np.ndarray  # (O, Ho, Wo)

    @property
    def products_sum(self) -> float:
        return float(self.products.sum())


def explain_conv_output(
    model: Module,
    image: np.ndarray,
    layer: str | None = None,
    out_channel: int | None = None,
    position: tuple[int, int] | None = None,
) -> ConvExplanation:
    """Take apart one output of a conv layer for one image.

    image: (C, H, W). ``layer``: dotted module name of a Conv2d (default: the first).
    ``out_channel`` default: the channel with the largest activation; ``position`` (y, x) default:
    where that channel is largest. The layer's real input and output are captured with forward
    hooks, so this works at any depth.
    """
    image = np.asarray(image)
    if image.ndim != 3:
        raise ValueError(f"explain_conv_output: image must be (C, H, W), got shape {image.shape}")
    convs = {n: m for n, m in model.named_modules() if isinstance(m, Conv2d)}
    if not convs:
        raise ValueError(f"explain_conv_output: {type(model).__name__} has no Conv2d layer")
    layer = next(iter(convs)) if layer is None else layer
    if layer not in convs:
        raise ValueError(f"explain_conv_output: {layer!r} is not a Conv2d layer; "
                         f"conv layers: {', '.join(convs)}")
    conv = convs[layer]
    _, rec = capture_activations(model, image[None].astype(_param_dtype(model), copy=False),
                                 types=(Conv2d,), with_inputs=True)
    inp, out = rec[layer][0][0], rec[layer][1][0]  # (C, H, W), (O, Ho, Wo)
    O, Ho, Wo = out.shape
    if out_channel is None:
        out_channel = int(np.argmax(out.reshape(O, -1).max(axis=1)))
    if not 0 <= out_channel < O:
        raise ValueError(f"explain_conv_output: out_channel {out_channel} out of range for {O} channels")
    if position is None:
        py, px = np.unravel_index(np.argmax(out[out_channel]), (Ho, Wo))
        position = (int(py), int(px))
    y, x = position
    if not (0 <= y < Ho and 0 <= x < Wo):
        raise ValueError(f"explain_conv_output: position {position} outside the output map {Ho}x{Wo}")

    w = np.asarray(conv.weight.data, dtype=np.float64)[out_channel]  # (Cg, kh, kw)
    kh, kw = w.shape[1:]
    (sh, sw), (dh, dw) = _pair(conv.stride), _pair(conv.dilation)
    top, left = _leading_pads(conv.padding, (kh, kw), (dh, dw))
    rows = y * sh - top + dh * np.arange(kh)
    cols = x * sw - left + dw * np.arange(kw)
    cg = w.shape[0]
    group = out_channel // (O // conv.groups)
    chans = np.arange(group * cg, (group + 1) * cg)
    H, W = inp.shape[1:]
    inside = (rows[:, None] >= 0) & (rows[:, None] < H) & (cols[None, :] >= 0) & (cols[None, :] < W)
    patch = np.zeros((cg, kh, kw))
    rr, cc = np.clip(rows, 0, H - 1), np.clip(cols, 0, W - 1)
    patch[:] = np.where(inside, inp[chans][:, rr][:, :, cc], 0.0)  # zero padding outside the input
    products = patch * w
    bias = 0.0 if conv.bias is None else float(conv.bias.data[out_channel])
    return ConvExplanation(
        layer=layer, out_channel=out_channel, y=y, x=x, in_channels=chans, rows=rows, cols=cols,
        patch=patch, weights=w, products=products, bias=bias, value=float(products.sum()) + bias,
        actual=float(out[out_channel, y, x]), layer_input=inp, layer_output=out,
    )


def _pair(v: int | tuple[int, int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _leading_pads(padding: int | tuple[int, int] | str, k: tuple[int, int],
                  d: tuple[int, int]) -> tuple[int, int]:
    """Zero rows above and columns left of the input for ``Conv2d.padding`` (PyTorch's rules: 'same'
    puts the odd extra row/column at the bottom/right)."""
    if padding == "valid":
        return 0, 0
    if padding == "full":
        return d[0] * (k[0] - 1), d[1] * (k[1] - 1)
    if padding == "same":
        return d[0] * (k[0] - 1) // 2, d[1] * (k[1] - 1) // 2
    assert not isinstance(padding, str)
    return _pair(padding)


def _annotated(ax, a: np.ndarray, title: str, cmap: str, lim: float | None) -> None:
    kw = {"vmin": -lim, "vmax": lim} if lim is not None else {}
    ax.imshow(a, cmap=cmap, interpolation="nearest", **kw)
    if a.size <= 49:  # numbers only where they stay readable
        for (i, j), v in np.ndenumerate(a):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=5.5)
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])


def plot_explain_conv_output(
    model: Module,
    image: np.ndarray,
    path: str | os.PathLike,
    layer: str | None = None,
    out_channel: int | None = None,
    position: tuple[int, int] | None = None,
    max_channels: int = 3,
) -> tuple[Path, ConvExplanation]:
    """Draw ``explain_conv_output``: the layer input with the receptive field boxed, the output map
    with the explained position marked, and per input channel (the ``max_channels`` contributing
    most) the input patch, the filter weights and their elementwise product; the title states
    sum of products + bias = value and the model's own output. Returns (path, explanation).
    """
    e = explain_conv_output(model, image, layer, out_channel, position)
    contrib = e.products.sum(axis=(1, 2))
    order = np.argsort(-np.abs(contrib))[:max_channels]
    fig = figure(figsize=(8.4, 2.9 * (1 + len(order))))
    gs = fig.add_gridspec(1 + len(order), 3)

    ax = fig.add_subplot(gs[0, 0])
    shown = e.layer_input[e.in_channels]
    base = shown[0] if len(shown) == 1 else shown.mean(axis=0)
    ax.imshow(base, cmap="gray", interpolation="nearest")
    from matplotlib.patches import Rectangle

    ax.add_patch(Rectangle((e.cols[0] - 0.5, e.rows[0] - 0.5), e.cols[-1] - e.cols[0] + 1,
                           e.rows[-1] - e.rows[0] + 1, fill=False, edgecolor="red", lw=1.5))
    rr, cc = np.meshgrid(e.rows, e.cols, indexing="ij")
    if len(e.rows) > 1 and e.rows[1] - e.rows[0] > 1 or len(e.cols) > 1 and e.cols[1] - e.cols[0] > 1:
        ax.plot(cc.ravel(), rr.ravel(), "r.", ms=3)  # dilated taps: show which pixels are read
    is_image = e.layer_input.shape == image.shape and np.array_equal(e.layer_input, image)
    what = "input image" if is_image else f"input of {e.layer}"
    ax.set_title(f"{what}" + ("" if len(shown) == 1 else f" (mean of {len(shown)} ch)")
                 + f"\nreceptive field rows {e.rows[0]}..{e.rows[-1]}, cols {e.cols[0]}..{e.cols[-1]}",
                 fontsize=8)
    ax.set_axis_off()

    ax = fig.add_subplot(gs[0, 1])
    ax.imshow(e.layer_output[e.out_channel], cmap="gray", interpolation="nearest")
    ax.plot([e.x], [e.y], "rs", ms=6, mfc="none", mew=1.5)
    ax.set_title(f"{e.layer} output channel {e.out_channel}\nposition (y={e.y}, x={e.x})", fontsize=8)
    ax.set_axis_off()

    ax = fig.add_subplot(gs[0, 2])
    ax.set_axis_off()
    lines = [f"sum over {len(e.in_channels)} input ch x {e.weights.shape[1]}x{e.weights.shape[2]} taps",
             f"  of input * weight = {e.products_sum:+.5f}", f"+ bias                 = {e.bias:+.5f}",
             f"= {e.value:+.5f}", "", f"model's {e.layer} output:", f"  {e.actual:+.5f}"]
    ax.text(0.0, 0.95, "\n".join(lines), family="monospace", fontsize=8, va="top")

    plim = symmetric_limit(e.products[order])
    wlim = symmetric_limit(e.weights[order])
    for r, c in enumerate(order, start=1):
        ch = int(e.in_channels[c])
        _annotated(fig.add_subplot(gs[r, 0]), e.patch[c], f"input ch {ch} patch", "gray", None)
        _annotated(fig.add_subplot(gs[r, 1]), e.weights[c], f"filter [{e.out_channel}, {c}]", "RdBu_r", wlim)
        _annotated(fig.add_subplot(gs[r, 2]), e.products[c], f"product, sum {contrib[c]:+.4f}", "RdBu_r",
                   plim)
    if len(order) < len(e.in_channels):
        fig.text(0.5, 0.005, f"showing the {len(order)} of {len(e.in_channels)} input channels with the "
                 "largest |contribution|", ha="center", fontsize=7)
    return save_figure(fig, path), e
