"""Curvature of a model's loss: the top Hessian eigenvalue by power iteration on Hessian-vector
products (never the Hessian itself), overall and per layer, and 1-D loss slices.

The top eigenvalue measures how sharp the minimum is along its steepest direction; SGD with
learning rate lr is stable along a direction only while lr * eigenvalue < 2 (for plain gradient
descent), which is why it is worth looking at next to the gradient norms.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .autograd.engine import grad
from .autograd.tape import enable_grad
from .nn.module import Module
from .tensor import Tensor


def loss_hvp(loss_fn: Callable[[], Tensor], params: Sequence[Tensor],
             v: Sequence[np.ndarray]) -> list[np.ndarray]:
    """H v for the Hessian of ``loss_fn()`` w.r.t. ``params`` (one array per parameter)."""
    with enable_grad():
        loss = loss_fn()
        gs = grad(loss, list(params), create_graph=True, allow_unused=True)
    pairs = [(g, Tensor(vi.astype(g.dtype, copy=False))) for g, vi in zip(gs, v) if g is not None]
    hv = grad([g for g, _ in pairs], list(params), [vi for _, vi in pairs], allow_unused=True)
    return [h.data if h is not None else np.zeros(p.shape, p.dtype) for h, p in zip(hv, params)]


def _dot(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> float:
    return float(sum(np.vdot(x.astype(np.float64), y.astype(np.float64)) for x, y in zip(a, b)))


def top_eigenvalue(loss_fn: Callable[[], Tensor], params: Sequence[Tensor], iters: int = 20,
                   tol: float = 1e-3, seed: int = 0) -> tuple[float, list[np.ndarray], int]:
    """Largest-magnitude Hessian eigenvalue of ``loss_fn()`` w.r.t. ``params`` by power
    iteration; returns (eigenvalue, unit eigenvector as one array per parameter, iterations)."""
    rng = np.random.default_rng(seed)
    v = [rng.standard_normal(p.shape) for p in params]
    n = np.sqrt(_dot(v, v))
    v = [x / n for x in v]
    lam, it = 0.0, 0
    for it in range(1, iters + 1):
        hv = loss_hvp(loss_fn, params, v)
        new = _dot(v, hv)
        norm = np.sqrt(_dot(hv, hv))
        if norm == 0:
            return 0.0, v, it
        v = [h / norm for h in hv]
        if it > 1 and abs(new - lam) <= tol * max(abs(new), 1e-12):
            lam = new
            break
        lam = new
    return lam, v, it


@dataclass
class Curvature:
    """What ``model_curvature`` measured: the overall top eigenvalue, one per layer, the
    per-layer gradient norms, and loss slices along the top eigenvector and a random direction."""

    top: float
    iterations: int
    layers: dict[str, float] = field(default_factory=dict)
    grad_norms: dict[str, float] = field(default_factory=dict)
    alphas: np.ndarray = field(default_factory=lambda: np.zeros(0))
    slice_top: np.ndarray = field(default_factory=lambda: np.zeros(0))
    slice_random: np.ndarray = field(default_factory=lambda: np.zeros(0))


def _layers(model: Module) -> dict[str, list[Tensor]]:
    """Parameters grouped by the module that owns them (``conv1``: weight and bias)."""
    out: dict[str, list[Tensor]] = {}
    for name, p in model.named_parameters():
        out.setdefault(name.rsplit(".", 1)[0] if "." in name else name, []).append(p)
    return out


def model_curvature(model: Module, x: np.ndarray, y: np.ndarray, loss: Callable[[Tensor, np.ndarray], Tensor],
                    iters: int = 20, per_layer: bool = True, radius: float = 1.0, points: int = 21,
                    seed: int = 0, tol: float = 1e-2) -> Curvature:
    """Top Hessian eigenvalue of ``loss(model(x), y)`` overall and per layer (power iteration, at
    most ``iters`` Hessian-vector products each, stopping once the estimate moves by less than
    ``tol`` relative), per-layer gradient norms, and the loss along +-``radius`` times the (unit)
    top eigenvector and a random unit direction. The model's weights are restored afterwards."""
    params = list(model.parameters())
    xt = Tensor(x)

    def loss_fn() -> Tensor:
        return loss(model(xt), y)

    top, vec, it = top_eigenvalue(loss_fn, params, iters, tol=tol, seed=seed)
    res = Curvature(top=top, iterations=it)
    with enable_grad():
        gs = grad(loss_fn(), params, allow_unused=True)
    groups = _layers(model)
    index = {id(p): i for i, p in enumerate(params)}
    for name, ps in groups.items():
        layer_grads = [gs[index[id(p)]] for p in ps]
        res.grad_norms[name] = float(np.sqrt(sum(float(np.sum(g.data.astype(np.float64) ** 2))
                                                 for g in layer_grads if g is not None)))
        if per_layer:
            res.layers[name] = top_eigenvalue(loss_fn, ps, iters, tol=tol, seed=seed)[0]
    rng = np.random.default_rng(seed + 1)
    rand = [rng.standard_normal(p.shape) for p in params]
    n = np.sqrt(_dot(rand, rand))
    rand = [r / n for r in rand]
    res.alphas = np.linspace(-radius, radius, points)
    base = [p.data for p in params]
    try:
        for direction, out in ((vec, "slice_top"), (rand, "slice_random")):
            vals = []
            for a in res.alphas:
                for p, b, d in zip(params, base, direction):
                    p.data = (b + a * d).astype(b.dtype)
                vals.append(float(loss_fn().data))
            setattr(res, out, np.array(vals))
    finally:
        for p, b in zip(params, base):
            p.data = b
    return res
