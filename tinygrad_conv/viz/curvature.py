"""The curvature picture: top Hessian eigenvalue per layer next to the gradient norms, and the
loss along the top eigenvector against a random direction (see ``tinygrad_conv.curvature``)."""

from __future__ import annotations

import os
from pathlib import Path

from ..curvature import Curvature


def plot_curvature(res: Curvature, path: str | os.PathLike, lr: float | None = None) -> Path:
    """Two panels: (left) per-layer top eigenvalue (bars) and gradient norm (line, right axis);
    (right) loss(theta + a d) for d the unit top eigenvector and a random unit direction.
    With ``lr``, the left panel marks 2 / lr, the gradient-descent stability edge."""
    from ._mpl import figure, save_figure

    fig = figure(figsize=(11, 4), layout="constrained")
    ax, ax2 = fig.subplots(1, 2)
    names = list(res.layers) or list(res.grad_norms)
    xs = range(len(names))
    ax.bar(xs, [res.layers.get(n, 0.0) for n in names], color="#4c72b0", label="top eigenvalue")
    ax.set_xticks(list(xs), names)
    ax.set_ylabel("top Hessian eigenvalue")
    ax.set_title(f"curvature per layer (whole model: {res.top:.3g}, {res.iterations} iterations)")
    if lr:
        ax.axhline(2.0 / lr, color="#c44e52", linestyle="--", label=f"2 / lr = {2.0 / lr:.3g}")
    axg = ax.twinx()
    axg.plot(list(xs), [res.grad_norms.get(n, 0.0) for n in names], "o-", color="#dd8452", label="|grad|")
    axg.set_ylabel("gradient norm")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = axg.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper left", fontsize=8)
    ax2.plot(res.alphas, res.slice_top, label="top eigenvector", color="#4c72b0")
    ax2.plot(res.alphas, res.slice_random, label="random direction", color="#55a868")
    ax2.set_xlabel("step a along a unit direction d")
    ax2.set_ylabel("loss(theta + a d)")
    ax2.set_title("1-D loss slices")
    ax2.legend(fontsize=8)
    return save_figure(fig, path)
