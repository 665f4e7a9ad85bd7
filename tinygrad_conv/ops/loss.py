"""softmax, log_softmax (log-sum-exp stable), fused cross_entropy and nll_loss.

cross_entropy is one op rather than log_softmax + nll: its VJP is simply
(softmax * sum(q) - q) / N, with q the (smoothed) target distribution, and it never forms
log(softmax) of an underflowed probability, so logits of +-1e4 give finite losses and gradients.
"""

from __future__ import annotations

import numpy as np

from ..autograd.registry import Op, Sample, normalize_axes, register
from ..tensor import Tensor, apply
from ._util import randn
from .elementwise import Exp

REDUCTIONS = ("mean", "sum", "none")


def _axis(axis: int, x, op: str) -> int:
    """The checked softmax axis; a 0-d input is one element along axis 0 / -1 (as PyTorch)."""
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise TypeError(f"{op}: axis must be an int, got {axis!r}")
    return normalize_axes(axis, x.ndim, op)[0]


@register("softmax")
class Softmax(Op):
    """exp(x - max) / sum(exp(x - max)) along ``axis``; VJP y * (g - sum(g * y))."""

    save_output = True
    # opset >= 13: along one axis, as ours
    onnx = staticmethod(lambda g, x, axis=-1: g.op("Softmax", x, axis=int(axis)))

    @staticmethod
    def forward(ctx, x, axis=-1):
        ax = _axis(axis, x, "softmax")
        if x.ndim == 0:
            return np.ones_like(x)
        y = x - x.max(axis=ax, keepdims=True)
        np.exp(y, out=y)
        y /= y.sum(axis=ax, keepdims=True)
        return y

    @staticmethod
    def vjp(ctx, g):
        y, ax = ctx.output(), ctx.attrs["axis"]
        return (y * (g - (g * y).sum(axis=ax, keepdims=True)),)

    @staticmethod
    def samples():
        yield Sample((randn(3, 5),), {"axis": -1}, label="rows")
        yield Sample((randn(2, 3, 4),), {"axis": 1}, label="axis1")
        yield Sample((randn(2, 4) * 30,), {"axis": 0}, label="large")
        yield Sample((np.array(0.3),), {"axis": -1}, label="0-d")


@register("log_softmax")
class LogSoftmax(Op):
    """x - max - log(sum(exp(x - max))) along ``axis``; VJP g - softmax * sum(g)."""

    save_output = True
    onnx = staticmethod(lambda g, x, axis=-1: g.op("LogSoftmax", x, axis=int(axis)))

    @staticmethod
    def forward(ctx, x, axis=-1):
        ax = _axis(axis, x, "log_softmax")
        if x.ndim == 0:
            return np.zeros_like(x)
        y = x - x.max(axis=ax, keepdims=True)
        y -= np.log(np.exp(y).sum(axis=ax, keepdims=True))
        return y

    @staticmethod
    def vjp(ctx, g):
        y, ax = ctx.output(), ctx.attrs["axis"]
        return (g - apply(Exp, y) * g.sum(axis=ax, keepdims=True),)

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


def _row_scale(g: Tensor, reduction: str, n: int) -> Tensor:
    """As _scale, in recorded Tensor ops."""
    if reduction == "none":
        return g.reshape((n, 1))
    return g * (1.0 / n) if reduction == "mean" and n else g


def _onehot(t: np.ndarray, like: Tensor) -> np.ndarray:
    out = np.zeros(like.shape, dtype=like.dtype)
    out[np.arange(len(t)), t] = 1
    return out


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
        # exp and its row sums, not softmax: the gradient op folds the division into its one pass
        ctx.save(p, s)
        return _reduce(loss, reduction, z.dtype)

    @staticmethod
    def vjp(ctx, g):
        z, t = ctx.inputs
        red, eps = ctx.attrs["reduction"], ctx.attrs["label_smoothing"]
        dz = dt = None
        if ctx.needs_input_grad[0]:
            dz = apply(CrossEntropyGrad, z, g, t, reduction=red, label_smoothing=eps, cache=ctx.saved)
        if ctx.needs_input_grad[1]:  # dL/dtarget = -(1 - eps) * log softmax * scale
            dt = apply(LogSoftmax, z, axis=1) * _row_scale(g, red, z.shape[0]) * -(1.0 - eps)
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
        return _reduce(-logp[np.arange(len(t)), t], reduction, logp.dtype)

    @staticmethod
    def vjp(ctx, g):
        logp, t = ctx.inputs
        return -(_row_scale(g, ctx.attrs["reduction"], logp.shape[0]) * _onehot(t.data, logp)), None

    @staticmethod
    def samples():
        x, t = randn(4, 5), np.array([1, 1, 4, 0])
        for r in REDUCTIONS:
            yield Sample((x, t), {"reduction": r}, label=r)


@register("cross_entropy_grad")
class CrossEntropyGrad(Op):
    """The fused gradient of cross_entropy w.r.t. the logits: (softmax(z) * sum(q) - q) * scale,
    with q the (smoothed) target distribution and scale the upstream gradient per row (/ N for
    'mean'). Inputs: logits z (N, C), upstream g (() or (N,) for 'none'), target t. ``cache`` is
    cross_entropy's (exp(z - max), row sums), reused so the backward pays no second exp.
    Its own VJP is written in recorded ops (softmax's Jacobian), so cross_entropy has any order."""

    @staticmethod
    def forward(ctx, z, g, t, reduction="mean", label_smoothing=0.0, cache=None):
        N, C = z.shape
        eps = label_smoothing
        if cache is None:
            e = np.exp(z - z.max(axis=1, keepdims=True))
            s = e @ np.ones(C, dtype=e.dtype)
        else:
            e, s = cache
        scale = _scale(g, reduction, N)  # scalar, or (N, 1) for 'none'
        per_row = scale[:, 0] if reduction == "none" else scale
        if t.ndim == 1 or t.dtype.kind != "f":  # (softmax - (1 - eps) * onehot - eps / C) * scale
            dz = e * (per_row / s)[:, None]
            dz[np.arange(N), t] -= (1 - eps) * per_row
            if eps:
                dz -= (eps / C) * scale
        else:  # softmax * sum(q) * scale - q * scale
            q = t * (1 - eps) + eps / C if eps else t
            dz = e * (q.sum(axis=1) * per_row / s)[:, None]
            dz -= q * scale
        return dz.astype(z.dtype, copy=False)

    @staticmethod
    def vjp(ctx, gg):
        z, g, t = ctx.inputs
        red, eps = ctx.attrs["reduction"], ctx.attrs["label_smoothing"]
        N, C = z.shape
        P = apply(Softmax, z, axis=1)
        s = _row_scale(g, red, N)
        if t.ndim == 1 or t.dtype.kind != "f":
            q: Tensor | np.ndarray = _onehot(t.data, z) * (1 - eps) + eps / C
            qsum: Tensor | float = 1.0
        else:
            q = t * (1 - eps) + eps / C if eps else t
            qsum = q.sum(axis=1, keepdims=True)
        dz = dg = dt = None
        if ctx.needs_input_grad[0]:  # softmax's Jacobian applied to h = gg * scale * sum(q)
            h = gg * s * qsum
            dz = P * (h - (h * P).sum(axis=1, keepdims=True))
        if ctx.needs_input_grad[1]:
            d = gg * (P * qsum - q)
            if red == "none":
                dg = d.sum(axis=1)
            else:
                dg = d.sum() * (1.0 / N) if red == "mean" else d.sum()
        if ctx.needs_input_grad[2]:
            dt = s * ((gg * P).sum(axis=1, keepdims=True) - gg) * (1.0 - eps)
        return dz, dg, dt

    @staticmethod
    def label(attrs):
        return CrossEntropy.label(attrs)

    @staticmethod
    def samples():
        z, t = randn(4, 5), np.array([0, 3, 4, 1])
        probs = np.exp(randn(4, 5))
        probs /= probs.sum(axis=1, keepdims=True)
        for red, g in (("mean", np.array(0.7)), ("sum", np.array(-1.3)), ("none", randn(4))):
            yield Sample((z, g, t), {"reduction": red}, label=f"idx-{red}")
            smooth = {"reduction": red, "label_smoothing": 0.1}
            yield Sample((z, g, probs), smooth, label=f"probs-{red}-smooth")
        yield Sample((z, np.array(1.1), t), {"reduction": "mean", "label_smoothing": 0.2}, label="idx-smooth")
