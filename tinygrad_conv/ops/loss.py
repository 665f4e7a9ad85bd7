"""softmax, log_softmax (log-sum-exp stable), fused cross_entropy and nll_loss.

cross_entropy is one op rather than log_softmax + nll: its VJP is simply
(softmax * sum(q) - q) / N, with q the (smoothed) target distribution, and it never forms
log(softmax) of an underflowed probability, so logits of +-1e4 give finite losses and gradients.
"""

from __future__ import annotations

import numpy as np

from ..autograd.registry import Op, Sample, normalize_axes, register
from ._util import randn

REDUCTIONS = ("mean", "sum", "none")


def _axis(axis: int, x: np.ndarray, op: str) -> int:
    if x.ndim == 0:
        raise ValueError(f"{op}: needs at least a 1-D input, got a scalar")
    if not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{op}: axis must be an int, got {axis!r}")
    return normalize_axes(axis, x.ndim, op)[0]


@register("softmax")
class Softmax(Op):
    """exp(x - max) / sum(exp(x - max)) along ``axis``; VJP y * (g - sum(g * y))."""

    @staticmethod
    def forward(ctx, x, axis=-1):
        ax = _axis(axis, x, "softmax")
        y = x - x.max(axis=ax, keepdims=True)
        np.exp(y, out=y)
        y /= y.sum(axis=ax, keepdims=True)
        if ctx.needs_input_grad[0]:
            ctx.save(y, ax)
        return y

    @staticmethod
    def vjp(ctx, g):
        y, ax = ctx.saved
        return (y * (g - (g * y).sum(axis=ax, keepdims=True)),)

    @staticmethod
    def samples():
        yield Sample((randn(3, 5),), {"axis": -1}, label="rows")
        yield Sample((randn(2, 3, 4),), {"axis": 1}, label="axis1")
        yield Sample((randn(2, 4) * 30,), {"axis": 0}, label="large")


@register("log_softmax")
class LogSoftmax(Op):
    """x - max - log(sum(exp(x - max))) along ``axis``; VJP g - softmax * sum(g)."""

    @staticmethod
    def forward(ctx, x, axis=-1):
        ax = _axis(axis, x, "log_softmax")
        y = x - x.max(axis=ax, keepdims=True)
        y -= np.log(np.exp(y).sum(axis=ax, keepdims=True))
        if ctx.needs_input_grad[0]:
            ctx.save(y, ax)
        return y

    @staticmethod
    def vjp(ctx, g):
        y, ax = ctx.saved
        return (g - np.exp(y) * g.sum(axis=ax, keepdims=True),)

    samples = Softmax.samples


def _check_reduction(reduction: str, op: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def check_class_targets(op: str, scores: np.ndarray, target: np.ndarray) -> None:
    """scores (N, C) against integer class indices (N,) in [0, C)."""
    N, C = scores.shape
    if target.dtype.kind not in "iu":
        raise TypeError(
            f"{op}: class-index target must have an integer dtype, got {target.dtype} of shape "
            f"{target.shape} (pass class probabilities with shape {scores.shape} instead)"
        )
    if target.shape != (N,):
        raise ValueError(
            f"{op}: target shape {target.shape} does not match input {scores.shape}: expected ({N},)"
        )
    if N and (target.min() < 0 or target.max() >= C):
        bad = target[(target < 0) | (target >= C)][0]
        raise ValueError(f"{op}: class index {bad} out of range [0, {C}) for input of shape {scores.shape}")


def _scale(g: np.ndarray, reduction: str, n: int) -> np.ndarray:
    """Upstream gradient per sample, shaped (N, 1) or scalar, for the chosen reduction."""
    if reduction == "none":
        return g[:, None]
    return g / n if reduction == "mean" else g


def _reduce(loss: np.ndarray, reduction: str, dtype: np.dtype) -> np.ndarray:
    if reduction == "none":
        return loss.astype(dtype, copy=False)
    return np.asarray(loss.mean() if reduction == "mean" else loss.sum(), dtype=dtype)


@register("cross_entropy")
class CrossEntropy(Op):
    """Softmax cross-entropy of logits (N, C) against class indices (N,) or probabilities (N, C).

    With label smoothing e, the target distribution is q = (1 - e) * target + e / C (as PyTorch);
    loss_n = -sum_c q_nc log softmax(z_n)_c; reduced by mean over N, sum, or 'none' -> (N,).
    """

    @staticmethod
    def forward(ctx, z, t, reduction="mean", label_smoothing=0.0):
        _check_reduction(reduction, "cross_entropy")
        if z.ndim != 2:
            raise ValueError(f"cross_entropy: logits must be 2-D (N, C), got shape {z.shape}")
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
        if z.dtype.kind != "f":
            raise TypeError(f"cross_entropy: logits must be floating point, got {z.dtype}")
        N, C = z.shape
        eps = label_smoothing
        classes = t.ndim == 1 or t.dtype.kind != "f"
        if classes:
            check_class_targets("cross_entropy", z, t)
        elif t.shape != z.shape:
            raise ValueError(
                f"cross_entropy: probability target shape {t.shape} does not match logits {z.shape}"
            )
        sh = z - z.max(axis=1, keepdims=True)
        if classes:
            rows = np.arange(N)
            picked = sh[rows, t]
            zsum = sh.sum(axis=1) if eps else None
        else:
            q = t * (1 - eps) + eps / C if eps else t
            qsum = q.sum(axis=1)
            qz = np.einsum("nc,nc->n", q, sh)
        p = np.exp(sh, out=sh if classes else None)  # the logits' shifted copy is reused in place
        s = p @ np.ones(C, dtype=p.dtype)  # row sums; BLAS's matvec is ~4x faster than sum(axis=1)
        lse = np.log(s)
        if classes:
            loss = lse - picked  # -log p[target]
            if eps:
                loss = (1 - eps) * loss + eps * (lse - zsum / C)
        else:
            loss = qsum * lse - qz
        if any(ctx.needs_input_grad):
            # dL/dtarget = -(1 - eps) * log softmax; sh still holds the shifted logits here
            logp = sh - lse[:, None] if not classes and ctx.needs_input_grad[1] else None
            # exp and its row sums, not softmax: the VJP folds the division into its one pass
            ctx.save(p, s, None if classes else q, None if classes else qsum, logp)
        return _reduce(loss, reduction, z.dtype)

    @staticmethod
    def vjp(ctx, g):
        e, s, q, qsum, logp = ctx.saved
        t = ctx.inputs[1].data
        red, eps = ctx.attrs.get("reduction", "mean"), ctx.attrs.get("label_smoothing", 0.0)
        N, C = e.shape
        scale = _scale(g, red, N)  # scalar, or (N, 1) for 'none'
        per_row = scale[:, 0] if red == "none" else scale
        dz = dt = None
        if ctx.needs_input_grad[0]:
            if q is None:  # softmax * scale - (1 - eps) * onehot * scale - eps / C * scale
                dz = e * (per_row / s)[:, None]
                dz[np.arange(N), t] -= (1 - eps) * per_row
                if eps:
                    dz -= (eps / C) * scale
            else:  # softmax * sum(q) * scale - q * scale
                dz = e * (qsum * per_row / s)[:, None]
                dz -= q * scale
        if len(ctx.needs_input_grad) > 1 and ctx.needs_input_grad[1]:
            dt = -(1 - eps) * logp * scale
        return dz, dt

    @staticmethod
    def label(attrs):
        """Only what differs from the defaults (reduction='mean', no label smoothing)."""
        parts = []
        if attrs.get("reduction", "mean") != "mean":
            parts.append(f"reduction={attrs['reduction']}")
        if attrs.get("label_smoothing", 0.0):
            parts.append(f"label_smoothing={attrs['label_smoothing']}")
        return " ".join(parts)

    @staticmethod
    def samples():
        z, t = randn(4, 5), np.array([0, 3, 4, 1])
        yield Sample((z, t), {"reduction": "mean"}, label="idx-mean")
        yield Sample((z, t), {"reduction": "sum"}, label="idx-sum")
        yield Sample((z, t), {"reduction": "none"}, label="idx-none")
        yield Sample((z, t), {"reduction": "mean", "label_smoothing": 0.1}, label="idx-smooth")
        yield Sample((z * 20, t), {"reduction": "none", "label_smoothing": 0.2}, label="idx-large")
        probs = np.exp(randn(4, 5))
        probs /= probs.sum(axis=1, keepdims=True)
        yield Sample((randn(4, 5), probs), {"reduction": "mean"}, label="probs-mean")
        smooth = {"reduction": "none", "label_smoothing": 0.1}
        yield Sample((randn(4, 5), probs), smooth, label="probs-smooth")


@register("nll_loss")
class NllLoss(Op):
    """-logp[n, target_n] for log-probabilities (N, C) and class indices (N,), reduced as PyTorch."""

    @staticmethod
    def forward(ctx, logp, t, reduction="mean"):
        _check_reduction(reduction, "nll_loss")
        if logp.ndim != 2:
            raise ValueError(f"nll_loss: input must be 2-D (N, C) log-probabilities, got shape {logp.shape}")
        check_class_targets("nll_loss", logp, t)
        if ctx.needs_input_grad[0]:
            ctx.save(logp.shape)
        return _reduce(-logp[np.arange(len(t)), t], reduction, logp.dtype)

    @staticmethod
    def vjp(ctx, g):
        (shape,) = ctx.saved
        t = ctx.inputs[1].data
        scale = _scale(g, ctx.attrs.get("reduction", "mean"), shape[0])
        d = np.zeros(shape, dtype=g.dtype)
        d[np.arange(shape[0]), t] = -(scale[:, 0] if scale.ndim else scale)
        return d, None

    @staticmethod
    def samples():
        x, t = randn(4, 5), np.array([1, 1, 4, 0])
        for r in REDUCTIONS:
            yield Sample((x, t), {"reduction": r}, label=r)
