"""Shared plumbing for the matplotlib pictures: figures on the Agg canvas and atomic PNG saving.

matplotlib is imported only when a picture is drawn, so ``import tinygrad_conv.viz`` works
without it. Every figure is a ``matplotlib.figure.Figure`` with its own Agg canvas: no pyplot
state, no global backend switch, nothing left open in a notebook's figure manager.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .._files import atomic_open, atomic_write_text

DPI = 80
MISSING = "pictures need matplotlib: pip install 'tinygrad-conv[viz]'"


def require_matplotlib() -> None:
    """Raise ImportError (saying how to install it) when matplotlib, the ``viz`` extra, is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(MISSING) from e


def figure(**kwargs: Any) -> Any:
    """A new ``Figure`` (``kwargs`` as for ``Figure``, e.g. ``figsize``) attached to an Agg canvas."""
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Any, path: str | os.PathLike, dpi: int = DPI, tight: bool = True) -> Path:
    """Save ``fig`` as PNG at ``path`` atomically (temp file in the same folder, then rename).

    Returns the final path; ``tight`` trims the margins (``bbox_inches='tight'``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path) as f:
        fig.savefig(f, format="png", dpi=dpi, **({"bbox_inches": "tight"} if tight else {}))
    return path


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically, creating the folder if needed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_text(path, text)


def grid_shape(n: int, max_cols: int = 8) -> tuple[int, int]:
    """Rows and columns for ``n`` tiles, at most ``max_cols`` wide, close to square."""
    if n <= 0:
        return 1, 1
    cols = min(max_cols, int(np.ceil(np.sqrt(n))))
    rows = int(np.ceil(n / cols))
    return rows, cols


def symmetric_limit(a: np.ndarray) -> float:
    """Largest absolute value of ``a`` (1.0 for an all-zero array), for a centred colour map."""
    m = float(np.max(np.abs(a))) if a.size else 0.0
    return m if m > 0 else 1.0


def as_image(x: np.ndarray) -> np.ndarray:
    """Turn one input ``x: (C, H, W)`` or ``(H, W)`` into something imshow takes: (H, W) or (H, W, 3)."""
    x = np.asarray(x)
    if x.ndim == 2:
        return x
    if x.ndim != 3:
        raise ValueError(f"as_image: expected (C, H, W) or (H, W), got shape {x.shape}")
    if x.shape[0] == 1:
        return x[0]
    if x.shape[0] == 3:
        lo, hi = float(x.min()), float(x.max())
        return np.transpose((x - lo) / (hi - lo if hi > lo else 1.0), (1, 2, 0))
    return x.mean(axis=0)


def mosaic(tiles: np.ndarray, cols: int = 8, pad: int = 1, normalize: bool = False) -> np.ndarray:
    """Lay ``tiles: (K, h, w)`` out in a grid ``cols`` wide, separated by ``pad`` NaN pixels.

    One image per grid (one ``imshow``) draws far faster than one Axes per tile. With
    ``normalize`` each tile is scaled to [0, 1] on its own (constant tiles become 0).
    Returns (rows*(h+pad)-pad, cols*(w+pad)-pad) float64; NaN shows as the colour map's "bad" colour.
    """
    tiles = np.asarray(tiles, dtype=np.float64)
    if tiles.ndim != 3:
        raise ValueError(f"mosaic: tiles must be (K, h, w), got shape {tiles.shape}")
    k, h, w = tiles.shape
    if normalize and k:
        lo = tiles.min(axis=(1, 2), keepdims=True)
        span = tiles.max(axis=(1, 2), keepdims=True) - lo
        tiles = (tiles - lo) / np.where(span > 0, span, 1.0)
    cols = max(1, min(cols, k))
    rows = -(-k // cols)
    out = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad), np.nan)
    for i in range(k):  # K <= a few dozen tiles
        r, c = divmod(i, cols)
        out[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = tiles[i]
    return out


def label_tiles(ax: Any, k: int, h: int, w: int, cols: int, pad: int = 1, fontsize: float = 6) -> None:
    """Write each tile's index in the top-left corner of a ``mosaic`` drawn on ``ax``.

    Tiles smaller than 10 pixels get no labels (the text would hide them); read them row-major.
    """
    if min(h, w) < 10:
        return
    cols = max(1, min(cols, k))
    for i in range(k):
        r, c = divmod(i, cols)
        ax.text(c * (w + pad) - 0.4, r * (h + pad) - 0.4, str(i), fontsize=fontsize, color="yellow",
                va="top", ha="left",
                bbox={"boxstyle": "square,pad=0.05", "fc": "black", "ec": "none", "alpha": 0.6})


def cmap_with_bad(name: str, bad: str = "white") -> Any:
    """A copy of colour map ``name`` that draws NaN (the mosaic separators) as ``bad``."""
    import matplotlib

    return matplotlib.colormaps[name].with_extremes(bad=bad)
