"""Rearranging functions with PyTorch signatures: pixel_shuffle / pixel_unshuffle, unfold / fold
(im2col in public) and pad with constant / reflect / replicate / circular modes."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ops import conv_more, resize
from ..ops import shape as shape_ops
from ..tensor import ArrayLike, Tensor, apply, as_tensor
from .core import getitem, reshape, transpose
from .core import pad as _np_pad

IntPair = int | tuple[int, int]


def pixel_shuffle(x: ArrayLike, upscale_factor: int) -> Tensor:
    """(N, C*r*r, H, W) -> (N, C, H*r, W*r), as ``torch.nn.functional.pixel_shuffle`` (a reshape,
    a transpose and a reshape)."""
    x, r = as_tensor(x), int(upscale_factor)
    if x.ndim != 4 or r < 1 or x.shape[1] % (r * r):
        raise ValueError(
            f"pixel_shuffle: input must be (N, C*r*r, H, W) with r={upscale_factor}, got {x.shape}"
        )
    N, C, H, W = x.shape
    y = reshape(x, (N, C // (r * r), r, r, H, W))
    return reshape(transpose(y, (0, 1, 4, 2, 5, 3)), (N, C // (r * r), H * r, W * r))


def pixel_unshuffle(x: ArrayLike, downscale_factor: int) -> Tensor:
    """(N, C, H*r, W*r) -> (N, C*r*r, H, W), the inverse of pixel_shuffle."""
    x, r = as_tensor(x), int(downscale_factor)
    if x.ndim != 4 or r < 1 or x.shape[2] % r or x.shape[3] % r:
        raise ValueError(
            f"pixel_unshuffle: input must be (N, C, H*r, W*r) with r={downscale_factor}, got {x.shape}"
        )
    N, C, H, W = x.shape
    y = reshape(x, (N, C, H // r, r, W // r, r))
    return reshape(transpose(y, (0, 1, 3, 5, 2, 4)), (N, C * r * r, H // r, W // r))


def unfold(
    x: ArrayLike, kernel_size: IntPair, dilation: IntPair = 1, padding: IntPair = 0, stride: IntPair = 1
) -> Tensor:
    """Sliding windows as columns (im2col), as ``torch.nn.functional.unfold``:
    x (N, C, H, W) -> (N, C*kh*kw, L), L = Ho*Wo. conv2d(x, w) ==
    (w.reshape(O, -1) @ unfold(x)).reshape(N, O, Ho, Wo)."""
    return apply(
        conv_more.Unfold,
        as_tensor(x),
        kernel_size=kernel_size,
        dilation=dilation,
        padding=padding,
        stride=stride,
    )


def fold(
    x: ArrayLike,
    output_size: IntPair,
    kernel_size: IntPair,
    dilation: IntPair = 1,
    padding: IntPair = 0,
    stride: IntPair = 1,
) -> Tensor:
    """Columns back to an image, overlaps summed (col2im), as ``torch.nn.functional.fold``:
    (N, C*kh*kw, L) -> (N, C, *output_size). The adjoint of unfold."""
    return apply(
        conv_more.Fold,
        as_tensor(x),
        output_size=output_size,
        kernel_size=kernel_size,
        dilation=dilation,
        padding=padding,
        stride=stride,
    )


PAD_MODES = ("constant",) + resize.PAD_MODES


def pad(x: ArrayLike, pad: Any, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad, as ``torch.nn.functional.pad``: ``pad`` is a flat sequence of (before, after) pairs,
    LAST axis first: ``(1, 1)`` pads W, ``(1, 1, 2, 2)`` pads W by 1 and H by 2.

    mode 'constant' (``value``; negative pads crop), 'reflect' (mirror, edge not repeated; pad <
    size), 'replicate' (repeat the edge) or 'circular' (wrap; pad <= size). NumPy's ``pad_width``
    (an int, or one (before, after) pair per axis as nested sequences) is accepted as well, and so
    is the older ``pad(x, pad_width, value)`` call (a number in place of ``mode``).
    """
    x = as_tensor(x)
    if not isinstance(mode, str):  # pad(x, pad_width, value): the NumPy-style call Tensor.pad makes
        mode, value = "constant", mode
    value = 0.0 if value is None else value
    if mode not in PAD_MODES:
        raise ValueError(f"pad: mode must be one of {PAD_MODES}, got {mode!r}")
    flat = isinstance(pad, (tuple, list)) and all(isinstance(v, (int, np.integer)) for v in pad)
    if flat:
        if len(pad) % 2 or len(pad) // 2 > x.ndim:
            raise ValueError(
                f"pad: pad {tuple(pad)} must have an even length of at most 2*{x.ndim} for shape {x.shape}"
            )
        pairs = [(0, 0)] * x.ndim
        for k in range(len(pad) // 2):
            pairs[x.ndim - 1 - k] = (int(pad[2 * k]), int(pad[2 * k + 1]))
    else:
        pw = np.broadcast_to(np.asarray(pad, dtype=np.int64), (x.ndim, 2))
        pairs = [(int(a), int(b)) for a, b in pw.tolist()]
    if mode != "constant":
        return apply(resize.PadMode, x, pad_width=tuple(pairs), mode=mode)
    if not flat:
        return _np_pad(x, pairs, value)
    if any(a < 0 or b < 0 for a, b in pairs):  # PyTorch crops on negative constant pads
        crop = tuple(slice(max(-a, 0), n - max(-b, 0)) for n, (a, b) in zip(x.shape, pairs))
        x = getitem(x, crop)
        pairs = [(max(a, 0), max(b, 0)) for a, b in pairs]
    return apply(shape_ops.Pad, x, pad_width=tuple(pairs), value=value)
