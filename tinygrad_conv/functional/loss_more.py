"""Losses beyond the fused cross_entropy: BCE (probabilities and logits), cross_entropy / nll_loss
with class weights, ignore_index and spatial targets, kl_div, l1, smooth L1 / Huber, cosine
similarity and margin ranking, with PyTorch's signatures and reductions.

cross_entropy_ext and nll_loss_ext are compositions: log_softmax over the class axis (a registered,
stable op) times a constant per-position class mask that carries the class weights, the ignored
positions (zero) and label smoothing, summed over classes. F.cross_entropy / F.nll_loss route here
whenever one of those options is used, so they differentiate to any order like the ops they use.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ops import loss as loss_ops
from ..ops import loss_more
from ..tensor import ArrayLike, Tensor, as_tensor
from .core import abs as _abs
from .core import clip, log, maximum, mean, mul, relu, sqrt, sub, where
from .core import sum as _sum

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy_ext",
    "nll_loss_ext",
    "kl_div",
    "l1_loss",
    "smooth_l1_loss",
    "huber_loss",
    "cosine_similarity",
    "margin_ranking_loss",
]


def _reduce(loss: Tensor, reduction: str, op: str) -> Tensor:
    if reduction not in loss_ops.REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {loss_ops.REDUCTIONS}, got {reduction!r}")
    if reduction == "none":
        return loss
    return mean(loss) if reduction == "mean" else _sum(loss)


def _same_shape(x: Tensor, y: Tensor, op: str) -> None:
    if x.shape != y.shape:
        raise ValueError(f"{op}: input shape {x.shape} and target shape {y.shape} differ")


def _opt(v: ArrayLike | None, x: Tensor) -> Tensor | None:
    """An optional weight as a Tensor of x's dtype (None stays None)."""
    return None if v is None else _like(v, x)


def _like(v: ArrayLike, x: Tensor) -> Tensor:
    """A weight/target as a Tensor of x's floating dtype (a Tensor that needs grad is kept)."""
    if isinstance(v, Tensor):
        return v if v.requires_grad or v.dtype == x.dtype else Tensor(v.data.astype(x.dtype))
    return Tensor(np.asarray(v, dtype=x.dtype))


def binary_cross_entropy(
    x: ArrayLike, target: ArrayLike, weight: ArrayLike | None = None, reduction: str = "mean"
) -> Tensor:
    """-(y log p + (1 - y) log(1 - p)) with each log clamped at -100 (as PyTorch, so p = 0 or 1 gives
    a finite loss). x: probabilities in [0, 1], any shape; target the same shape; weight broadcasts."""
    x = as_tensor(x)
    y = _like(target, x)
    _same_shape(x, y, "binary_cross_entropy")
    if x.data.size and (x.data.min() < 0 or x.data.max() > 1):
        raise ValueError(
            f"binary_cross_entropy: input values must lie in [0, 1], got range "
            f"[{x.data.min():.4g}, {x.data.max():.4g}] (use binary_cross_entropy_with_logits "
            "for logits)"
        )
    with np.errstate(divide="ignore"):  # log(0) = -inf is clamped just below
        lp = clip(log(x), min=-100.0)
        lq = clip(log(1.0 - x), min=-100.0)
    loss = -(y * lp + (1.0 - y) * lq)
    w = _opt(weight, x)
    return _reduce(loss if w is None else loss * w, reduction, "binary_cross_entropy")


def binary_cross_entropy_with_logits(
    x: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    reduction: str = "mean",
    pos_weight: ArrayLike | None = None,
) -> Tensor:
    """BCE of sigmoid(x) computed from the logits x without overflow (one op): any shape, target the
    same shape; ``pos_weight`` (broadcast over the last axis, e.g. (C,)) weighs positive targets,
    ``weight`` weighs elements. As ``torch.nn.functional.binary_cross_entropy_with_logits``."""
    x = as_tensor(x)
    y = _like(target, x)
    _same_shape(x, y, "binary_cross_entropy_with_logits")
    pw = _opt(pos_weight, x)
    loss = loss_more.bce_with_logits(x, y, pw if pw is not None else Tensor(np.ones((), dtype=x.dtype)))
    w = _opt(weight, x)
    return _reduce(loss if w is None else loss * w, reduction, "binary_cross_entropy_with_logits")


def _class_mask(
    op: str, shape: tuple, t: np.ndarray, weight: np.ndarray | None, ignore_index: int, dtype: Any
) -> tuple[np.ndarray, np.ndarray]:
    """(mask, wt): mask (N, C, ...) = one-hot of t scaled by weight[t], zero where t == ignore_index;
    wt (N, ...) = weight[t] there (the 'mean' denominator)."""
    N, C = shape[:2]
    if t.dtype.kind not in "iu":
        raise TypeError(
            f"{op}: class-index target must have an integer dtype, got {t.dtype} {t.shape} "
            f"(pass class probabilities of the input's shape {shape} instead)"
        )
    if t.shape != (N,) + tuple(shape[2:]):
        raise ValueError(
            f"{op}: target shape {t.shape} does not match input {shape}: expected {(N,) + tuple(shape[2:])}"
        )
    valid = t != ignore_index
    tv = np.where(valid, t, 0)
    if tv.size and (tv.min() < 0 or tv.max() >= C):
        bad = t[valid & ((t < 0) | (t >= C))][0]
        raise ValueError(
            f"{op}: class index {bad} out of range [0, {C}) for input of shape {shape} "
            f"(ignore_index={ignore_index})"
        )
    w = np.ones(C) if weight is None else weight
    wt = w[tv] * valid
    classes = np.arange(C).reshape((1, C) + (1,) * (len(shape) - 2))
    mask = (classes == tv[:, None]) * wt[:, None]
    return mask.astype(dtype), wt.astype(dtype)


def _weight_array(weight: ArrayLike | None, C: int, op: str) -> np.ndarray | None:
    if weight is None:
        return None
    w = np.asarray(weight.data if isinstance(weight, Tensor) else weight, dtype=np.float64)
    if w.shape != (C,):
        raise ValueError(f"{op}: weight must have shape ({C},) (one per class), got {w.shape}")
    return w


def nll_loss_ext(
    logp: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood with PyTorch's options: logp (N, C) or (N, C, d1, ...) log-probabilities,
    target (N,) or (N, d1, ...) class indices; ``weight`` (C,) per class; positions whose target is
    ``ignore_index`` count for nothing. 'mean' divides by the summed weights of the counted
    positions (NaN when none is counted, as PyTorch)."""
    logp = as_tensor(logp)
    return _nll(logp, target, weight, ignore_index, reduction, 0.0, "nll_loss")


def _nll(
    logp: Tensor, target: ArrayLike, weight, ignore_index: int, reduction: str, eps: float, op: str
) -> Tensor:
    if logp.ndim < 2:
        raise ValueError(f"{op}: input must be (N, C) or (N, C, d1, ...), got shape {logp.shape}")
    C = logp.shape[1]
    t = np.asarray(target.data if isinstance(target, Tensor) else target)
    w = _weight_array(weight, C, op)
    mask, wt = _class_mask(op, logp.shape, t, w, ignore_index, logp.dtype)
    if eps:  # PyTorch: (1 - eps) * nll + eps / C * sum_c w_c (-logp_c), over counted positions
        wc = np.ones(C) if w is None else w
        smooth = (wc.reshape((1, C) + (1,) * (logp.ndim - 2)) * (t != ignore_index)[:, None]).astype(
            logp.dtype
        )
        mask = mask * logp.dtype.type(1 - eps) + smooth * logp.dtype.type(eps / C)
    per = -_sum(mul(logp, Tensor(mask)), axis=1)
    if reduction not in loss_ops.REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {loss_ops.REDUCTIONS}, got {reduction!r}")
    if reduction == "none":
        return per
    total = _sum(per)
    if reduction == "sum":
        return total
    with np.errstate(divide="ignore", invalid="ignore"):
        return total * Tensor(np.asarray(1.0 / wt.sum(dtype=np.float64), dtype=logp.dtype))


def cross_entropy_ext(
    logits: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Softmax cross-entropy with PyTorch's options: logits (N, C) or (N, C, d1, ...) (e.g. a
    segmentation map), target class indices (N,) / (N, d1, ...) or probabilities of the logits'
    shape; ``weight`` (C,), ``ignore_index`` (index targets), ``label_smoothing``. 'mean' divides by
    the summed weights of the counted positions (index targets) or by N*d1*... (probabilities)."""
    from .cnn import log_softmax

    z = as_tensor(logits)
    if z.ndim < 2:
        raise ValueError(f"cross_entropy: logits must be (N, C) or (N, C, d1, ...), got shape {z.shape}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    logp = log_softmax(z, axis=1)
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    if t.dtype.kind == "f":  # class probabilities
        q = _like(target, z)
        _same_shape(z, q, "cross_entropy")
        C = z.shape[1]
        if label_smoothing:
            q = q * (1.0 - label_smoothing) + label_smoothing / C
        w = _weight_array(weight, C, "cross_entropy")
        if w is not None:
            q = q * Tensor(w.reshape((1, C) + (1,) * (z.ndim - 2)).astype(z.dtype))
        return _reduce(-_sum(logp * q, axis=1), reduction, "cross_entropy")
    return _nll(logp, t, weight, ignore_index, reduction, float(label_smoothing), "cross_entropy")


def kl_div(x: ArrayLike, target: ArrayLike, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """KL divergence with x = log q (log-probabilities) and target p (or log p with ``log_target``):
    elementwise p (log p - x), 0 where p = 0. reduction 'mean' (over all elements), 'batchmean'
    (sum / N, the true KL per sample), 'sum' or 'none'. As ``torch.nn.functional.kl_div``."""
    x = as_tensor(x)
    t = _like(target, x)
    _same_shape(x, t, "kl_div")
    if log_target:
        from .core import exp

        loss = exp(t) * (t - x)
    else:
        pos = t.data > 0
        safe_log = log(where(Tensor(pos), t, Tensor(np.ones((), dtype=x.dtype))))
        loss = where(Tensor(pos), t * (safe_log - x), Tensor(np.zeros((), dtype=x.dtype)))
    if reduction == "batchmean":
        n = x.shape[0] if x.ndim else 1
        return _sum(loss) * (1.0 / n)
    return _reduce(loss, reduction, "kl_div")


def l1_loss(x: ArrayLike, target: ArrayLike, reduction: str = "mean") -> Tensor:
    """|x - target| reduced; as ``torch.nn.functional.l1_loss`` (gradient sign(x - target), 0 at a tie)."""
    x = as_tensor(x)
    t = _like(target, x)
    _same_shape(x, t, "l1_loss")
    return _reduce(_abs(sub(x, t)), reduction, "l1_loss")


def smooth_l1_loss(x: ArrayLike, target: ArrayLike, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, |d| - 0.5 beta elsewhere (d = x - target); beta = 0 is l1."""
    x = as_tensor(x)
    t = _like(target, x)
    _same_shape(x, t, "smooth_l1_loss")
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    d = sub(x, t)
    a = _abs(d)
    if beta == 0:
        return _reduce(a, reduction, "smooth_l1_loss")
    loss = where(Tensor(a.data < beta), d * d * (0.5 / beta), a - 0.5 * beta)
    return _reduce(loss, reduction, "smooth_l1_loss")


def huber_loss(x: ArrayLike, target: ArrayLike, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """0.5 d^2 where |d| <= delta, delta (|d| - 0.5 delta) elsewhere: delta * smooth_l1_loss(beta=delta)."""
    x = as_tensor(x)
    t = _like(target, x)
    _same_shape(x, t, "huber_loss")
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
    d = sub(x, t)
    a = _abs(d)
    loss = where(Tensor(a.data <= delta), d * d * 0.5, (a - 0.5 * delta) * delta)
    return _reduce(loss, reduction, "huber_loss")


def cosine_similarity(
    x1: ArrayLike, x2: ArrayLike, axis: int = 1, eps: float = 1e-8, *, dim: int | None = None
) -> Tensor:
    """sum(x1 * x2) / (max(||x1||, eps) * max(||x2||, eps)) along ``axis`` (``dim`` is an alias),
    broadcasting x1 and x2; as ``torch.nn.functional.cosine_similarity``."""
    x1, x2 = as_tensor(x1), as_tensor(x2)
    ax = axis if dim is None else dim
    try:
        np.broadcast_shapes(x1.shape, x2.shape)
    except ValueError:
        raise ValueError(f"cosine_similarity: shapes {x1.shape} and {x2.shape} do not broadcast") from None
    e = Tensor(np.asarray(eps, dtype=x1.dtype))
    n1 = maximum(sqrt(_sum(x1 * x1, axis=ax)), e)
    n2 = maximum(sqrt(_sum(x2 * x2, axis=ax)), e)
    return _sum(x1 * x2, axis=ax) / (n1 * n2)


def margin_ranking_loss(
    x1: ArrayLike, x2: ArrayLike, target: ArrayLike, margin: float = 0.0, reduction: str = "mean"
) -> Tensor:
    """max(0, -y (x1 - x2) + margin) with y = +1 (x1 should rank higher) or -1; reduced."""
    x1 = as_tensor(x1)
    y = _like(target, x1)
    return _reduce(relu(-y * sub(x1, x2) + margin), reduction, "margin_ranking_loss")
