"""More CNN functions with PyTorch signatures: transposed and 1-D convolutions, pools with every
option, adaptive pools, max_unpool2d, interpolate/upsample, pixel_shuffle, unfold/fold and pad
with reflect/replicate/circular modes.

conv1d is conv2d on a unit-height image; conv3d is not provided: conv.py's im2col is written for
two spatial axes (its batch-last layout and per-offset loops would need a third axis throughout),
so it does not fall out for free.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..ops import conv_more, pool_avg, pool_more, resize
from ..tensor import ArrayLike, Tensor, apply, as_tensor
from .core import matmul, reshape

__all__ = [
    "conv_transpose2d",
    "conv1d",
    "conv_transpose1d",
    "max_pool2d_ext",
    "avg_pool2d_ext",
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
    "max_unpool2d",
    "interpolate",
    "upsample",
    "pixel_shuffle",
    "pixel_unshuffle",
    "unfold",
    "fold",
    "pad",
]

IntPair = int | tuple[int, int]

# pixel_shuffle, unfold/fold and pad live in .rearrange; they are re-exported here (see __all__)
from .rearrange import fold, pad, pixel_shuffle, pixel_unshuffle, unfold  # noqa: E402,F401


def conv_transpose2d(
    x: ArrayLike,
    weight: ArrayLike,
    bias: ArrayLike | None = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    output_padding: IntPair = 0,
    groups: int = 1,
    dilation: IntPair = 1,
) -> Tensor:
    """Transposed convolution, as ``torch.nn.functional.conv_transpose2d`` (same argument order).

    x: (N, C_in, H, W), weight: (C_in, C_out // groups, kh, kw), bias: (C_out,) ->
    (N, C_out, Ho, Wo), Ho = (H - 1)*stride - 2*padding + dilation*(kh - 1) + output_padding + 1.
    ``output_padding`` must be smaller than the stride.
    """
    inputs = [as_tensor(x), as_tensor(weight)] + ([] if bias is None else [as_tensor(bias)])
    attrs = conv_more.transpose_attrs(stride, padding, output_padding, dilation, groups)
    return apply(conv_more.ConvTranspose2d, *inputs, **attrs)


def _to_2d(x: Tensor, op: str, what: str = "input") -> Tensor:
    if x.ndim != 3:
        raise ValueError(f"{op}: {what} must be 3-D (N, C, L), got shape {x.shape}")
    return reshape(x, (x.shape[0], x.shape[1], 1, x.shape[2]))


def _weight_to_2d(weight: ArrayLike, op: str, layout: str) -> Tensor:
    """A 3-D 1-D-conv weight (A, B, k) as the unit-height 2-D weight (A, B, 1, k)."""
    w = as_tensor(weight)
    if w.ndim != 3:
        raise ValueError(f"{op}: weight must be 3-D ({layout}), got shape {w.shape}")
    return reshape(w, (w.shape[0], w.shape[1], 1, w.shape[2]))


def _from_2d(y: Tensor) -> Tensor:
    """(N, C, 1, L) -> (N, C, L): drop the unit height _to_2d added."""
    return reshape(y, (y.shape[0], y.shape[1], y.shape[3]))


def _one(v: Any, what: str, op: str) -> int:
    if isinstance(v, (tuple, list)):
        if len(v) != 1:
            raise ValueError(f"{op}: {what} must be an int or a 1-tuple, got {v!r}")
        v = v[0]
    return int(v)


def conv1d(
    x: ArrayLike,
    weight: ArrayLike,
    bias: ArrayLike | None = None,
    stride: int = 1,
    padding: int | str = 0,
    dilation: int = 1,
    groups: int = 1,
) -> Tensor:
    """1-D cross-correlation, as ``torch.nn.functional.conv1d``: x (N, C, L), weight
    (O, C // groups, k), bias (O,) -> (N, O, Lo); conv2d on a unit-height image."""
    from .cnn import conv2d

    x = as_tensor(x)
    w = _weight_to_2d(weight, "conv1d", "O, C/groups, k")
    pad = padding if isinstance(padding, str) else (0, _one(padding, "padding", "conv1d"))
    y = conv2d(
        _to_2d(x, "conv1d"),
        w,
        bias,
        stride=(1, _one(stride, "stride", "conv1d")),
        padding=pad,
        dilation=(1, _one(dilation, "dilation", "conv1d")),
        groups=groups,
    )
    return _from_2d(y)


def conv_transpose1d(
    x: ArrayLike,
    weight: ArrayLike,
    bias: ArrayLike | None = None,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
    groups: int = 1,
    dilation: int = 1,
) -> Tensor:
    """1-D transposed convolution, as ``torch.nn.functional.conv_transpose1d``: x (N, C_in, L),
    weight (C_in, C_out // groups, k) -> (N, C_out, Lo)."""
    x = as_tensor(x)
    w = _weight_to_2d(weight, "conv_transpose1d", "C_in, C_out/groups, k")
    y = conv_transpose2d(
        _to_2d(x, "conv_transpose1d"),
        w,
        bias,
        stride=(1, _one(stride, "stride", "conv_transpose1d")),
        padding=(0, _one(padding, "padding", "conv_transpose1d")),
        output_padding=(0, _one(output_padding, "output_padding", "conv_transpose1d")),
        groups=groups,
        dilation=(1, _one(dilation, "dilation", "conv_transpose1d")),
    )
    return _from_2d(y)


def max_pool2d_ext(
    x: ArrayLike,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Max pooling with every PyTorch option (``F.max_pool2d`` routes here when one is used).

    x: (N, C, H, W) -> (N, C, Ho, Wo), Ho = floor_or_ceil((H + 2*ph - dh*(kh-1) - 1) / sh) + 1 (in
    ceil mode the last window must start inside the input or its left padding). With
    ``return_indices`` also the int64 flat positions h*W + w of the maxima (for max_unpool2d).
    """
    x = as_tensor(x)
    attrs = pool_more.pool_ext_attrs("max_pool2d", kernel_size, stride, padding, dilation, ceil_mode)
    out = apply(pool_more.MaxPool2dExt, x, **attrs)
    if not return_indices:
        return out
    return out, Tensor(pool_more.max_pool_indices(x.data, attrs)[1])


def avg_pool2d_ext(
    x: ArrayLike,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """Average pooling with every PyTorch option (``F.avg_pool2d`` routes here when one is used):
    ``count_include_pad=False`` divides by the window's size inside the input; ``divisor_override``
    replaces the divisor. x: (N, C, H, W) -> (N, C, Ho, Wo)."""
    return apply(
        pool_avg.AvgPool2dExt,
        as_tensor(x),
        kernel_size=kernel_size,
        stride=stride,
        padding=padding,
        ceil_mode=bool(ceil_mode),
        count_include_pad=bool(count_include_pad),
        divisor_override=divisor_override,
    )


def adaptive_avg_pool2d(x: ArrayLike, output_size: int | tuple[int | None, int | None]) -> Tensor:
    """Mean over PyTorch's adaptive windows (rows floor(i*H/Ho) .. ceil((i+1)*H/Ho) - 1, likewise
    columns): x (N, C, H, W) -> (N, C, Ho, Wo); None in ``output_size`` keeps that size. Separable, so
    it is two matmuls with constant averaging matrices (output_size 1 is the global average)."""
    x = as_tensor(x)
    Ho, Wo = pool_more.adaptive_size("adaptive_avg_pool2d", x.shape, output_size)
    H, W = x.shape[2:]
    if x.dtype.kind != "f":
        raise TypeError(f"adaptive_avg_pool2d: expected a floating-point input, got {x.dtype}")
    y = x
    if Wo != W:  # equal sizes make one-pixel windows: nothing to do on that axis
        y = matmul(y, Tensor(pool_avg.adaptive_avg_matrix(W, Wo, x.dtype).T))
    if Ho != H:
        y = matmul(Tensor(pool_avg.adaptive_avg_matrix(H, Ho, x.dtype)), y)
    return y


def adaptive_max_pool2d(
    x: ArrayLike, output_size: int | tuple[int | None, int | None], return_indices: bool = False
) -> Tensor | tuple[Tensor, Tensor]:
    """Max over PyTorch's adaptive windows: x (N, C, H, W) -> (N, C, Ho, Wo) (and the int64 flat
    indices of the maxima with ``return_indices``)."""
    x = as_tensor(x)
    out = apply(pool_more.AdaptiveMaxPool2d, x, output_size=output_size)
    if not return_indices:
        return out
    hw = pool_more.adaptive_size("adaptive_max_pool2d", x.shape, output_size)
    return out, Tensor(pool_more.adaptive_max_indices(x.data, hw)[1])


def max_unpool2d(
    x: ArrayLike,
    indices: ArrayLike,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    output_size: Sequence[int] | None = None,
) -> Tensor:
    """Inverse of max_pool2d: x (N, C, h, w) placed at ``indices`` (from ``return_indices=True``)
    in zeros (N, C, H, W); H = (h - 1)*sh - 2*ph + kh unless ``output_size`` (H, W) or
    (N, C, H, W) is given. Duplicate indices (overlapping windows) add up."""
    x = as_tensor(x)
    idx = indices.data if isinstance(indices, Tensor) else np.asarray(indices)
    k = pool_more.int_pair(kernel_size, "kernel_size", "max_unpool2d")
    s = k if stride is None else pool_more.int_pair(stride, "stride", "max_unpool2d")
    p = pool_more.int_pair(padding, "padding", "max_unpool2d")
    if output_size is None:
        hw = tuple((x.shape[2 + i] - 1) * s[i] - 2 * p[i] + k[i] for i in range(2))
    else:
        hw = tuple(int(v) for v in tuple(output_size)[-2:])
    return apply(pool_more.MaxUnpool2d, x, Tensor(idx), output_size=hw)


INTERP_MODES = ("nearest", "nearest-exact", "bilinear", "linear")


def interpolate(
    x: ArrayLike,
    size: int | Sequence[int] | None = None,
    scale_factor: float | Sequence[float] | None = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
) -> Tensor:
    """Resize the spatial axes, as ``torch.nn.functional.interpolate``.

    x: (N, C, L) with mode 'nearest' | 'nearest-exact' | 'linear', or (N, C, H, W) with
    'nearest' | 'nearest-exact' | 'bilinear'. Give ``size`` or ``scale_factor`` (output size
    floor(in * scale)); a given scale_factor sets the index map (1/scale) unless
    ``recompute_scale_factor``. ``align_corners`` (linear modes only) maps corner pixel centres onto
    each other. Bilinear is linear along H then along W (exactly PyTorch's weights).
    """
    x = as_tensor(x)
    if mode not in INTERP_MODES:
        raise ValueError(f"interpolate: mode must be one of {INTERP_MODES}, got {mode!r}")
    nsp = x.ndim - 2
    if nsp not in (1, 2) or (mode == "bilinear" and nsp != 2) or (mode == "linear" and nsp != 1):
        raise ValueError(
            f"interpolate: mode {mode!r} does not take an input of shape {x.shape} "
            "('linear' and 'nearest' take (N, C, L); 'bilinear' and 'nearest' (N, C, H, W))"
        )
    if align_corners is not None and mode not in ("linear", "bilinear"):
        raise ValueError(f"interpolate: align_corners only applies to linear modes, not {mode!r}")
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: give exactly one of size and scale_factor")
    spatial = x.shape[2:]
    if size is not None:
        sizes = [int(size)] * nsp if isinstance(size, (int, np.integer)) else [int(v) for v in size]
        scales: list[float | None] = [None] * nsp
    else:
        if isinstance(scale_factor, (int, float, np.integer, np.floating)):
            sf = [float(scale_factor)] * nsp
        else:
            sf = [float(v) for v in scale_factor]  # type: ignore[union-attr]
        sizes = [int(np.floor(n * f)) for n, f in zip(spatial, sf)]
        scales = [None] * nsp if recompute_scale_factor else list(sf)
    if len(sizes) != nsp or min(sizes) < 1:
        raise ValueError(f"interpolate: output size {sizes} does not fit input {x.shape}")
    m = "linear" if mode in ("linear", "bilinear") else mode
    y = x
    for i in reversed(range(nsp)):  # W first: shrinking W before H touches less memory when upsampling
        y = apply(
            resize.ResizeAxis,
            y,
            axis=2 + i,
            size=sizes[i],
            mode=m,
            align_corners=bool(align_corners),
            scale=scales[i],
        )
    return y


def upsample(
    x: ArrayLike,
    size: Any = None,
    scale_factor: Any = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
) -> Tensor:
    """``interpolate`` under its old PyTorch name."""
    return interpolate(x, size, scale_factor, mode, align_corners)
