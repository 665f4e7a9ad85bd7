"""Regenerate the pictures the docs use (committed under docs/images/).

Usage: python docs/make_figures.py

- ``conv_mapping.png``: how a filter tap and an image location map to one conv output, and the two
  sums that follow (weight gradient, input gradient): the seed notebook's question, drawn.
- ``tape_example.svg``: the tape of the worked example in docs/tape.md, drawn by tinygrad_conv.viz
- ``gradient_graph.svg``: the recorded graph of a gradient (docs/tape.md, "Recording the backward pass")
  (needs Graphviz's ``dot`` program; skipped with a message when it is missing).

Files are written atomically (temporary file in the same folder, then os.replace).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
IMAGES = HERE / "images"

# one small geometry for all three panels: 7x7 input, 3x3 kernel, stride 2 -> 3x3 output
H = W = 7
K = 3
S = 2
HO = WO = (H - K) // S + 1


def _atomic_savefig(fig, path: Path, **kw) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        fig.savefig(tmp, **kw)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600 files
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _grid(ax, x0: float, y0: float, rows: int, cols: int, colors: dict, title: str, labels=None) -> None:
    """Draw a rows x cols grid of unit cells with its top-left corner at (x0, y0) (y grows down)."""
    from matplotlib.patches import Rectangle

    for r in range(rows):
        for c in range(cols):
            ax.add_patch(Rectangle((x0 + c, y0 + r), 1, 1, facecolor=colors.get((r, c), "white"),
                                   edgecolor="0.35", linewidth=0.8))
            if labels and (r, c) in labels:
                ax.text(x0 + c + 0.5, y0 + r + 0.5, labels[(r, c)], ha="center", va="center", fontsize=7)
    ax.text(x0 + cols / 2, y0 - 0.45, title, ha="center", va="bottom", fontsize=9)


def _arrow(ax, a: tuple[float, float], b: tuple[float, float], color: str, rad: float = 0.0) -> None:
    ax.annotate("", xy=b, xytext=a, arrowprops={"arrowstyle": "->", "color": color, "lw": 1.4,
                                                "shrinkA": 3, "shrinkB": 3,
                                                "connectionstyle": f"arc3,rad={rad}"})


def conv_mapping(path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    blue, lblue, orange, lorange = "#1f77b4", "#c6dbef", "#ff7f0e", "#fdd0a2"
    green, red = "#2ca02c", "#d62728"
    fig, axes = plt.subplots(1, 3, figsize=(14, 5.0))
    # panel layout: input on the left, filter top right, output bottom right
    xin, xk, xout = 0.0, 8.5, 8.5
    yk, yout = 0.0, 4.4

    def cell(x0, y0, r, c):
        return (x0 + c + 0.5, y0 + r + 0.5)

    # A: one output <- every (tap, pixel) pair of its receptive field
    ax = axes[0]
    h, w, (ti, tj) = 1, 2, (2, 1)
    field = {(S * h + i, S * w + j): lblue for i in range(K) for j in range(K)}
    field[(S * h + ti, S * w + tj)] = blue
    _grid(ax, xin, 0, H, W, field, "input x[n, c]")
    _grid(ax, xk, yk, K, K, {(i, j): (orange if (i, j) == (ti, tj) else lorange)
                             for i in range(K) for j in range(K)}, "filter w[o, c]")
    _grid(ax, xout, yout, HO, WO, {(h, w): green}, "output y[n, o]")
    px = cell(xin, 0, S * h + ti, S * w + tj)
    _arrow(ax, cell(xk, yk, ti, tj), px, orange, rad=0.25)
    _arrow(ax, px, cell(xout, yout, h, w), green, rad=0.25)
    ax.set_title(f"A. output ({h},{w}) = sum over taps (i,j) and channels c of\n"
                 f"w[i,j] · x[s·h+i, s·w+j]; tap ({ti},{tj}) meets pixel ({S * h + ti},{S * w + tj})",
                 fontsize=9.5)

    # B: weight gradient: one tap meets every output position, each through one pixel
    ax = axes[1]
    ti, tj = 0, 1
    pix = {(S * hh + ti, S * ww + tj): blue for hh in range(HO) for ww in range(WO)}
    labels = {(S * hh + ti, S * ww + tj): f"{hh},{ww}" for hh in range(HO) for ww in range(WO)}
    _grid(ax, xin, 0, H, W, pix, "input x[n, c]", labels)
    _grid(ax, xk, yk, K, K, {(ti, tj): orange}, "dL/dw[o, c]")
    _grid(ax, xout, yout, HO, WO, {(a, b): green for a in range(HO) for b in range(WO)},
          "output grad g[n, o]", {(a, b): f"{a},{b}" for a in range(HO) for b in range(WO)})
    _arrow(ax, cell(xin, 0, S * 1 + ti, S * 1 + tj), cell(xk, yk, ti, tj), orange, rad=-0.25)
    _arrow(ax, cell(xout, yout, 1, 1), cell(xk, yk, ti, tj), green, rad=0.3)
    ax.set_title(f"B. weight gradient: tap ({ti},{tj}) pairs every output (h,w)\n"
                 "with pixel (s·h+i, s·w+j): dw = sum over n,h,w of g · x", fontsize=9.5)

    # C: input gradient: one pixel feeds the outputs whose windows contain it, each via one tap
    ax = axes[2]
    r, q = 4, 4
    outs = [(hh, ww) for hh in range(HO) for ww in range(WO)
            if 0 <= r - S * hh < K and 0 <= q - S * ww < K]
    taps = {(r - S * hh, q - S * ww): f"{hh},{ww}" for hh, ww in outs}
    _grid(ax, xin, 0, H, W, {(r, q): red}, "dL/dx[n, c]")
    _grid(ax, xk, yk, K, K, {t: orange for t in taps}, "tap used by output (h,w)", taps)
    _grid(ax, xout, yout, HO, WO, {o: green for o in outs}, "output grad g[n, o]",
          {o: f"{o[0]},{o[1]}" for o in outs})
    for k, (hh, ww) in enumerate(outs):
        _arrow(ax, cell(xout, yout, hh, ww), cell(xin, 0, r, q), green, rad=0.1 * (k - 1.5))
    ax.set_title(f"C. input gradient: pixel ({r},{q}) lies in {len(outs)} windows; output (h,w)\n"
                 "reaches it through tap (r−s·h, q−s·w): the flipped filter", fontsize=9.5)

    for ax in axes:
        ax.set_xlim(-0.3, xk + K + 0.3)
        ax.set_ylim(H + 0.6, -0.9)
        ax.set_aspect("equal")
        ax.axis("off")
    fig.suptitle(f"conv2d, one channel pair, {K}x{K} filter, stride s={S}, no padding: "
                 f"input {H}x{W} -> output {HO}x{WO}", fontsize=11)
    fig.tight_layout()
    _atomic_savefig(fig, path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def tape_example(path: Path) -> bool:
    """The worked example of docs/tape.md, drawn from its real tape."""
    import tinygrad_conv as tc

    try:
        from tinygrad_conv.viz import render
    except ImportError as e:
        print(f"skip {path.name}: tinygrad_conv.viz is not available ({e})")
        return False
    x = tc.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True, name="x")
    w = tc.Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True, name="w")
    b = tc.Tensor(np.array(0.25), name="b")
    loss = (x * w + x + b).sum()
    try:
        render(loss, path)
        os.chmod(path, 0o644)
    except RuntimeError as e:  # Graphviz's dot program missing
        print(f"skip {path.name}: {e}")
        return False
    return True


def gradient_graph(path: Path) -> bool:
    """docs/tape.md's second-order example: the recorded graph of a gradient, d/dx sum(tanh(x) * w)."""
    import tinygrad_conv as tc

    try:
        from tinygrad_conv.viz import render
    except ImportError as e:
        print(f"skip {path.name}: tinygrad_conv.viz is not available ({e})")
        return False
    x = tc.Tensor(np.array([0.5, -1.0]), requires_grad=True, name="x")
    w = tc.Tensor(np.array([2.0, 3.0]), requires_grad=True, name="w")
    (gx,) = tc.grad((x.tanh() * w).sum(), x, create_graph=True)
    gx.name = "dL/dx"
    try:
        render(gx, path)
        os.chmod(path, 0o644)
    except RuntimeError as e:
        print(f"skip {path.name}: {e}")
        return False
    return True


def main() -> int:
    IMAGES.mkdir(exist_ok=True)
    if gradient_graph(IMAGES / "gradient_graph.svg"):
        print("wrote", IMAGES / "gradient_graph.svg")
    conv_mapping(IMAGES / "conv_mapping.png")
    print("wrote", IMAGES / "conv_mapping.png")
    if tape_example(IMAGES / "tape_example.svg"):
        print("wrote", IMAGES / "tape_example.svg")
    return 0


if __name__ == "__main__":
    sys.exit(main())
