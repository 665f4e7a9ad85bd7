"""More layers with PyTorch's names, arguments and parameter layouts: ConvTranspose2d, Conv1d,
Upsample, adaptive pools, PixelShuffle, Dropout2d, Embedding and the loss modules of issue 12.
Each is composed from ``tinygrad_conv.functional``."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import functional as F
from ..tensor import Tensor
from . import init
from .init import RngLike
from .layers import _default_init, _pair
from .module import Module, Parameter

__all__ = [
    "ConvTranspose2d",
    "Conv1d",
    "Upsample",
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool2d",
    "PixelShuffle",
    "PixelUnshuffle",
    "Dropout2d",
    "Embedding",
    "BCELoss",
    "BCEWithLogitsLoss",
    "NLLLoss",
    "L1Loss",
    "SmoothL1Loss",
    "HuberLoss",
    "KLDivLoss",
]


class ConvTranspose2d(Module):
    """Transposed convolution: x (N, C_in, H, W) -> (N, C_out, Ho, Wo),
    Ho = (H - 1)*stride - 2*padding + dilation*(kh - 1) + output_padding + 1.

    weight: (in_channels, out_channels // groups, kh, kw) (PyTorch's layout), bias: (out_channels,);
    PyTorch's default initialisation."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        output_padding: int | tuple[int, int] = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: int | tuple[int, int] = 1,
        *,
        rng: RngLike = None,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__()
        if (
            in_channels <= 0
            or out_channels <= 0
            or groups <= 0
            or in_channels % groups
            or out_channels % groups
        ):
            raise ValueError(
                f"ConvTranspose2d: channels in={in_channels}, out={out_channels} must be positive "
                f"and divisible by groups={groups}"
            )
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.kernel_size = _pair(kernel_size, "ConvTranspose2d kernel_size")
        self.stride = _pair(stride, "ConvTranspose2d stride")
        self.padding = _pair(padding, "ConvTranspose2d padding")
        self.output_padding = _pair(output_padding, "ConvTranspose2d output_padding")
        self.dilation = _pair(dilation, "ConvTranspose2d dilation")
        self.weight = Parameter(
            np.empty((in_channels, out_channels // groups) + self.kernel_size, dtype=dtype)
        )
        self.bias = Parameter(np.empty(out_channels, dtype=dtype)) if bias else None
        _default_init(self.weight, self.bias, init.as_rng(rng))

    def forward(self, x: Tensor) -> Tensor:
        return F.conv_transpose2d(
            x,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self.output_padding,
            self.groups,
            self.dilation,
        )

    def extra_repr(self) -> str:
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}"
        )
        if self.output_padding != (0, 0):
            s += f", output_padding={self.output_padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        return s + (", bias=False" if self.bias is None else "")


class Conv1d(Module):
    """1-D convolution: x (N, C_in, L) -> (N, C_out, Lo); weight (out, in // groups, k), bias (out,)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int | str = 0,
        dilation: int = 1,
        groups: int = 1,
        bias: bool = True,
        *,
        rng: RngLike = None,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__()
        if (
            in_channels <= 0
            or out_channels <= 0
            or groups <= 0
            or in_channels % groups
            or out_channels % groups
        ):
            raise ValueError(
                f"Conv1d: channels in={in_channels}, out={out_channels} must be positive and "
                f"divisible by groups={groups}"
            )
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.kernel_size, self.stride, self.padding, self.dilation = (
            int(kernel_size),
            int(stride),
            padding,
            int(dilation),
        )
        self.weight = Parameter(
            np.empty((out_channels, in_channels // groups, self.kernel_size), dtype=dtype)
        )
        self.bias = Parameter(np.empty(out_channels, dtype=dtype)) if bias else None
        _default_init(self.weight, self.bias, init.as_rng(rng))

    def forward(self, x: Tensor) -> Tensor:
        return F.conv1d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}"
        )


class Upsample(Module):
    """Resize (N, C, H, W) or (N, C, L) by ``size`` or ``scale_factor`` (see ``F.interpolate``)."""

    def __init__(
        self,
        size: Any = None,
        scale_factor: Any = None,
        mode: str = "nearest",
        align_corners: bool | None = None,
    ) -> None:
        super().__init__()
        self.size, self.scale_factor, self.mode, self.align_corners = size, scale_factor, mode, align_corners

    def forward(self, x: Tensor) -> Tensor:
        return F.interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners)

    def extra_repr(self) -> str:
        what = f"size={self.size}" if self.size is not None else f"scale_factor={self.scale_factor}"
        return f"{what}, mode={self.mode!r}"


class AdaptiveAvgPool2d(Module):
    """Mean over adaptive windows: (N, C, H, W) -> (N, C, *output_size); 1 is global average pooling."""

    def __init__(self, output_size: int | tuple[int | None, int | None]) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Tensor) -> Tensor:
        return F.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(AdaptiveAvgPool2d):
    """Max over adaptive windows: (N, C, H, W) -> (N, C, *output_size)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.adaptive_max_pool2d(x, self.output_size)  # type: ignore[return-value]


class PixelShuffle(Module):
    """(N, C*r*r, H, W) -> (N, C, H*r, W*r)."""

    def __init__(self, upscale_factor: int) -> None:
        super().__init__()
        self.upscale_factor = int(upscale_factor)

    def forward(self, x: Tensor) -> Tensor:
        return F.pixel_shuffle(x, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(N, C, H*r, W*r) -> (N, C*r*r, H, W)."""

    def __init__(self, downscale_factor: int) -> None:
        super().__init__()
        self.downscale_factor = int(downscale_factor)

    def forward(self, x: Tensor) -> Tensor:
        return F.pixel_unshuffle(x, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"


class Dropout2d(Module):
    """Zero whole channels with probability p while training (scaled by 1/(1-p)); identity in eval."""

    def __init__(self, p: float = 0.5, *, rng: RngLike = None) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout2d: p must be in [0, 1], got {p}")
        self.p, self.rng = float(p), init.as_rng(rng)

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout2d(x, self.p, self.training, self.rng)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Embedding(Module):
    """A lookup table: integer indices (any shape) -> (*shape, embedding_dim). weight
    (num_embeddings, embedding_dim) ~ N(0, 1) as PyTorch; the ``padding_idx`` row starts at zero and
    gets no gradient."""

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        *,
        rng: RngLike = None,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__()
        if num_embeddings <= 0 or embedding_dim <= 0:
            raise ValueError(f"Embedding: sizes must be positive, got ({num_embeddings}, {embedding_dim})")
        if padding_idx is not None and not -num_embeddings <= padding_idx < num_embeddings:
            raise ValueError(
                f"Embedding: padding_idx {padding_idx} out of range for {num_embeddings} embeddings"
            )
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx
        w = init.as_rng(rng).standard_normal((num_embeddings, embedding_dim)).astype(dtype)
        if padding_idx is not None:
            w[padding_idx] = 0
        self.weight = Parameter(w)

    def forward(self, indices: Any) -> Tensor:
        return F.embedding(indices, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in ("mean", "sum", "none") + (
            ("batchmean",) if type(self).__name__ == "KLDivLoss" else ()
        ):
            raise ValueError(
                f"{type(self).__name__}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}"
            )
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities; optional element ``weight``."""

    def __init__(self, weight: Any = None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.weight = weight

    def forward(self, x: Tensor, target: Any) -> Tensor:
        return F.binary_cross_entropy(x, target, self.weight, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of logits (stable); optional ``weight`` and ``pos_weight``."""

    def __init__(self, weight: Any = None, reduction: str = "mean", pos_weight: Any = None) -> None:
        super().__init__(reduction)
        self.weight, self.pos_weight = weight, pos_weight

    def forward(self, x: Tensor, target: Any) -> Tensor:
        return F.binary_cross_entropy_with_logits(x, target, self.weight, self.reduction, self.pos_weight)


class NLLLoss(_Loss):
    """Negative log-likelihood of log-probabilities (N, C, *) at class indices (N, *)."""

    def __init__(self, weight: Any = None, ignore_index: int = -100, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.weight, self.ignore_index = weight, ignore_index

    def forward(self, logp: Tensor, target: Any) -> Tensor:
        return F.nll_loss(logp, target, self.reduction, self.weight, self.ignore_index)


class L1Loss(_Loss):
    """Mean (or sum) absolute error."""

    def forward(self, x: Tensor, target: Any) -> Tensor:
        return F.l1_loss(x, target, self.reduction)


class SmoothL1Loss(_Loss):
    """Quadratic below ``beta``, linear above (see ``F.smooth_l1_loss``)."""

    def __init__(self, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(reduction)
        self.beta = float(beta)

    def forward(self, x: Tensor, target: Any) -> Tensor:
        return F.smooth_l1_loss(x, target, self.reduction, self.beta)


class HuberLoss(_Loss):
    """Quadratic up to ``delta``, then linear with slope delta (see ``F.huber_loss``)."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction)
        self.delta = float(delta)

    def forward(self, x: Tensor, target: Any) -> Tensor:
        return F.huber_loss(x, target, self.reduction, self.delta)


class KLDivLoss(_Loss):
    """KL divergence of log-probabilities against a target distribution (see ``F.kl_div``)."""

    def __init__(self, reduction: str = "mean", log_target: bool = False) -> None:
        super().__init__(reduction)
        self.log_target = log_target

    def forward(self, x: Tensor, target: Any) -> Tensor:
        return F.kl_div(x, target, self.reduction, self.log_target)
