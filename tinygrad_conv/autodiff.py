"""Function transforms built on ``grad(..., create_graph=True)``, as ``torch.autograd.functional``.

``vjp`` (reverse mode), ``jvp`` (forward-mode products through the double-VJP trick: the VJP
u -> J^T u is linear in u, so differentiating <J^T u, v> w.r.t. u gives J v, at the price of two
reverse passes instead of one forward-mode pass), ``hvp`` (Hessian-vector products: the gradient
of <grad f, v>) and ``hessian`` (one hvp per input element: for small inputs).

Inputs are Tensors or arrays; the function takes and returns Tensors. Results are Tensors; with
``create_graph=True`` they stay connected to the inputs' graph (differentiable again).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .autograd.engine import grad
from .autograd.tape import enable_grad
from .tensor import Tensor

Inputs = Any  # a Tensor / array, or a sequence of them


def _inputs(inputs: Inputs, create_graph: bool) -> tuple[list[Tensor], bool]:
    """Input tensors that require grad; a lone input is remembered so results come back unpacked."""
    single = not isinstance(inputs, (tuple, list))
    xs = [inputs] if single else list(inputs)
    out = []
    for x in xs:
        t = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
        if t.dtype.kind != "f":
            raise TypeError(f"autodiff: inputs must be floating point, got dtype {t.dtype}")
        # keep the caller's graph when asked to stay differentiable; otherwise a fresh leaf
        out.append(t if (create_graph and t.requires_grad) else Tensor(t.data, requires_grad=True))
    return out, single


def _vectors(v: Any, like: Sequence[Tensor], what: str) -> list[Tensor]:
    vs = [v] if not isinstance(v, (tuple, list)) else list(v)
    if len(vs) != len(like):
        raise ValueError(f"{what}: got {len(vs)} vectors for {len(like)} tensors")
    out = []
    for vi, t in zip(vs, like):
        vt = vi if isinstance(vi, Tensor) else Tensor(np.asarray(vi, dtype=t.dtype))
        if vt.shape != t.shape:
            raise ValueError(f"{what}: vector of shape {vt.shape} for a tensor of shape {t.shape}")
        out.append(vt)
    return out


def _zeros_for_unused(gs: tuple, xs: list[Tensor]) -> list[Tensor]:
    return [g if g is not None else Tensor(np.zeros(x.shape, dtype=x.dtype)) for g, x in zip(gs, xs)]


def _call(func: Callable[..., Any], xs: list[Tensor]) -> Tensor:
    with enable_grad():
        out = func(*xs)
    if not isinstance(out, Tensor):
        raise TypeError(f"autodiff: the function must return a Tensor, got {type(out).__name__}")
    return out


def vjp(func: Callable[..., Tensor], inputs: Inputs, v: Any = None,
        create_graph: bool = False) -> tuple[Tensor, Any]:
    """(func(*inputs), v^T J): the vector-Jacobian product for a cotangent v of the output's shape
    (omit v for a one-element output). Returns the output and one product per input."""
    xs, single = _inputs(inputs, create_graph)
    out = _call(func, xs)
    gs = _zeros_for_unused(grad(out, xs, v, create_graph=create_graph, allow_unused=True), xs)
    return out, gs[0] if single else tuple(gs)


def jvp(func: Callable[..., Tensor], inputs: Inputs, v: Any,
        create_graph: bool = False) -> tuple[Tensor, Tensor]:
    """(func(*inputs), J v): the Jacobian-vector product for tangents v (one per input), by the
    double-VJP trick (two reverse passes; exact, not a finite difference)."""
    xs, _ = _inputs(inputs, create_graph)
    vs = _vectors(v, xs, "jvp")
    out = _call(func, xs)
    u = Tensor(np.zeros(out.shape, dtype=out.dtype), requires_grad=True)  # any value: J^T u is linear in u
    gs = _zeros_for_unused(grad(out, xs, u, create_graph=True, allow_unused=True), xs)
    pairs = [(g, vi) for g, vi in zip(gs, vs) if g.requires_grad]
    if not pairs:
        return out, Tensor(np.zeros(out.shape, dtype=out.dtype))
    (jv,) = grad([g for g, _ in pairs], [u], [vi for _, vi in pairs], create_graph=create_graph,
                 allow_unused=True)
    return out, jv if jv is not None else Tensor(np.zeros(out.shape, dtype=out.dtype))


def hvp(func: Callable[..., Tensor], inputs: Inputs, v: Any,
        create_graph: bool = False) -> tuple[Tensor, Any]:
    """(func(*inputs), H v) for a scalar-valued func: the gradient of <grad func, v>, one reverse
    pass over the recorded gradient (the Hessian itself is never formed)."""
    xs, single = _inputs(inputs, create_graph)
    vs = _vectors(v, xs, "hvp")
    out = _call(func, xs)
    if out.data.size != 1:
        raise ValueError(f"hvp: the function must return one element, got shape {out.shape}")
    gs = _zeros_for_unused(grad(out, xs, create_graph=True, allow_unused=True), xs)
    pairs = [(g, vi) for g, vi in zip(gs, vs) if g.requires_grad]
    if not pairs:
        hv = [Tensor(np.zeros(x.shape, dtype=x.dtype)) for x in xs]
    else:
        hv = _zeros_for_unused(grad([g for g, _ in pairs], xs, [vi for _, vi in pairs],
                                    create_graph=create_graph, allow_unused=True), xs)
    return out, hv[0] if single else tuple(hv)


def hessian(func: Callable[..., Tensor], x: Any) -> Tensor:
    """The Hessian of a scalar-valued func of one input x: shape x.shape + x.shape, built from
    x.size Hessian-vector products (for small inputs; use ``hvp`` otherwise)."""
    xt = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
    n = xt.data.size
    rows = []
    for i in range(n):
        e = np.zeros(n, dtype=xt.dtype)
        e[i] = 1
        _, h = hvp(func, xt, e.reshape(xt.shape))
        rows.append(h.data.reshape(-1))
    return Tensor(np.stack(rows).reshape(xt.shape + xt.shape) if n else np.zeros(xt.shape * 2, xt.dtype))
