"""Numerical-vs-autograd gradient checking, in float64 (the seed's check_gradients, done properly),
first order (``gradcheck``) and second order (``gradgradcheck``).

Full mode: the output is projected on a fixed random cotangent v, the analytic gradient
VJP(v) comes from one backward pass, and the numeric gradient of <v, f(x)> from central
differences on every element of every input that requires grad.
Fast mode: one random direction u per input; compares <u, VJP(v)> with the numeric directional
derivative <v, (f(x + eps u) - f(x - eps u)) / 2 eps>; on a mismatch it runs the full check to
say where the error is.
Second order: the analytic VJP, recorded with ``create_graph=True``, is itself a function of the
inputs and of the cotangent v; ``gradgradcheck`` runs ``gradcheck`` on that function, so the
numeric derivative of the analytic VJP is compared with the analytic second-order product.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .autograd.tape import enable_grad, no_grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    """Analytic and numeric gradients disagree; the message says where and by how much."""


@dataclass
class InputCheck:
    """Result for one input: errors are max over elements; ``worst`` is the worst element's index."""

    input: int
    shape: tuple[int, ...]
    max_abs_err: float
    max_rel_err: float
    worst: tuple[int, ...]
    analytic: float
    numeric: float
    n_bad: int
    ok: bool

    def describe(self) -> str:
        return (
            f"input {self.input} (shape {self.shape}): {self.n_bad} element(s) out of tolerance; "
            f"worst at index {self.worst}: analytic {self.analytic:.6g} vs numeric {self.numeric:.6g}; "
            f"max abs err {self.max_abs_err:.3g}, max rel err {self.max_rel_err:.3g}"
        )


def _prepare(inputs: Sequence[Any]) -> tuple[list[Tensor], list[int]]:
    """float64 copies of the inputs; which ones are checked (float arrays, or tensors needing grad)."""
    ts, checked = [], []
    for i, x in enumerate(inputs):
        if isinstance(x, Tensor):
            arr, want = x.data, x.requires_grad
        else:
            arr = np.asarray(x)
            want = arr.dtype.kind == "f"
        if arr.dtype.kind == "f":
            arr = np.array(arr, dtype=np.float64)
        ts.append(Tensor(arr, requires_grad=want))
        if want:
            checked.append(i)
    return ts, checked


def _project(fn: Callable[..., Tensor], ts: list[Tensor], v: np.ndarray) -> float:
    with no_grad():
        out = fn(*ts)
    return float(np.sum(np.asarray(out.data, dtype=np.float64) * v))


def _analytic(fn: Callable[..., Tensor], ts: list[Tensor], seed: int) -> tuple[list, np.ndarray]:
    for t in ts:
        t.grad = None
    with enable_grad():
        out = fn(*ts)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    if out.dtype != np.float64:
        raise TypeError(f"gradcheck: fn returned dtype {out.dtype}; float64 inputs must give float64")
    v = np.random.default_rng(seed).standard_normal(out.shape)
    if out.requires_grad:
        out.backward(v)
    grads = [t.grad if t.grad is not None else np.zeros_like(t.data) for t in ts]
    return grads, v


def gradcheck_report(
    fn: Callable[..., Tensor],
    inputs: Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
) -> list[InputCheck]:
    """Full check of every grad-requiring input; one InputCheck per checked input.

    fn: callable taking Tensors (one per input) and returning a Tensor of any shape.
    inputs: ndarrays (float ones are checked, others held constant) or Tensors (checked when
    ``requires_grad``). Everything floating is promoted to float64.
    """
    ts, checked = _prepare(inputs)
    grads, v = _analytic(fn, ts, seed)
    reports = []
    for i in checked:
        x = ts[i].data
        num = np.zeros_like(x)
        flat, nflat = x.reshape(-1), num.reshape(-1)  # views: perturb in place, restore after
        for k in range(flat.size):
            orig = flat[k]
            flat[k] = orig + eps
            fp = _project(fn, ts, v)
            flat[k] = orig - eps
            fm = _project(fn, ts, v)
            flat[k] = orig
            nflat[k] = (fp - fm) / (2 * eps)
        reports.append(_compare(i, grads[i], num, atol, rtol))
    return reports


def _compare(i: int, ana: np.ndarray, num: np.ndarray, atol: float, rtol: float) -> InputCheck:
    err = np.abs(ana - num)
    # relative error only where the numeric value is not ~0 (there it is meaningless)
    rel = np.where(np.abs(num) > atol, err / np.maximum(np.abs(num), 1e-300), 0.0)
    bad = ~(err <= atol + rtol * np.abs(num))  # NaN counts as bad
    worst: tuple = ()
    if ana.size:
        worst = np.unravel_index(int(np.argmax(np.where(np.isnan(err), np.inf, err))), ana.shape)
    return InputCheck(
        input=i,
        shape=ana.shape,
        max_abs_err=float(np.nanmax(err)) if err.size else 0.0,
        max_rel_err=float(np.nanmax(rel)) if err.size else 0.0,
        worst=tuple(int(w) for w in worst),
        analytic=float(ana[worst]) if ana.size else 0.0,
        numeric=float(num[worst]) if num.size else 0.0,
        n_bad=int(bad.sum()),
        ok=not bad.any(),
    )


def _fast_ok(fn, inputs, eps, atol, rtol, seed) -> bool:
    ts, checked = _prepare(inputs)
    grads, v = _analytic(fn, ts, seed)
    rng = np.random.default_rng(seed + 1)
    us = {i: rng.standard_normal(ts[i].shape) for i in checked}
    analytic = sum(float(np.sum(us[i] * grads[i])) for i in checked)
    base = {i: ts[i].data.copy() for i in checked}
    vals = []
    for sign in (1.0, -1.0):
        for i in checked:
            ts[i].data[...] = base[i] + sign * eps * us[i]
        vals.append(_project(fn, ts, v))
    for i in checked:
        ts[i].data[...] = base[i]
    numeric = (vals[0] - vals[1]) / (2 * eps)
    return abs(analytic - numeric) <= atol + rtol * abs(numeric)


def gradcheck(
    fn: Callable[..., Tensor],
    inputs: Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    fast: bool = False,
    seed: int = 0,
) -> bool:
    """Check ``fn``'s gradients against float64 central differences.

    Returns True, or raises GradcheckError naming the input, the worst index, analytic vs
    numeric values and the max abs/rel error. ``fast=True`` checks one random projection
    (one backward, two forwards) and runs the full check only to locate a failure.
    """
    if fast and _fast_ok(fn, inputs, eps, atol, rtol, seed):
        return True
    reports = gradcheck_report(fn, inputs, eps=eps, atol=atol, rtol=rtol, seed=seed)
    bad = [r for r in reports if not r.ok]
    if bad:
        name = getattr(fn, "__name__", repr(fn))
        raise GradcheckError(f"gradcheck failed for {name}:\n  " + "\n  ".join(r.describe() for r in bad))
    # (a fast-mode mismatch that the element-wise check does not confirm is a tolerance edge)
    return True


def vjp_function(fn: Callable[..., Tensor], inputs: Sequence[Any], seed: int = 0) -> tuple[Callable, list]:
    """The first-order VJP of ``fn`` as a function of its own: ``(*inputs, v) -> concat(VJP_i(v))``.

    Returns that function and its inputs (``inputs`` plus a fixed random cotangent v, float64).
    The VJP is recorded (``create_graph=True``), so the function can be gradchecked: that is the
    second-order check. Inputs a gradient is not taken for (integer arrays, constant Tensors)
    pass through unchanged.
    """
    from .autograd.engine import grad
    from .functional import concatenate, reshape

    ts, checked = _prepare(inputs)
    with no_grad():
        out = fn(*ts)
    v = np.random.default_rng(seed + 7).standard_normal(out.shape)

    def vjp_of_fn(*args: Tensor) -> Tensor:
        xs, vt = list(args[:-1]), args[-1]
        with enable_grad():
            y = fn(*xs)
            wrt = [xs[i] for i in checked if xs[i].requires_grad]
            if not y.requires_grad or not wrt:
                return reshape(vt, (-1,)) * 0.0
            gs = grad(y, wrt, vt, create_graph=True, allow_unused=True)
            parts = [reshape(g, (-1,)) if g is not None else Tensor(np.zeros(x.data.size))
                     for g, x in zip(gs, wrt)]
            return concatenate(parts) if len(parts) > 1 else parts[0]

    vjp_of_fn.__name__ = f"vjp of {getattr(fn, '__name__', 'fn')}"
    args = [Tensor(t.data, requires_grad=t.requires_grad) for t in ts] + [Tensor(v, requires_grad=True)]
    return vjp_of_fn, args


def gradgradcheck(
    fn: Callable[..., Tensor],
    inputs: Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    fast: bool = False,
    seed: int = 0,
) -> bool:
    """Second-order check: the numeric derivative of the analytic VJP (w.r.t. the inputs and the
    cotangent) against the analytic second-order product (the VJP of the recorded VJP).

    Same arguments, modes and failure report as ``gradcheck`` (the failing "input" index counts
    the checked inputs, then the cotangent v last). Returns True or raises GradcheckError.
    """
    f2, args = vjp_function(fn, inputs, seed)
    return gradcheck(f2, args, eps=eps, atol=atol, rtol=rtol, fast=fast, seed=seed + 1)


def gradgradcheck_report(
    fn: Callable[..., Tensor], inputs: Sequence[Any], eps: float = 1e-6, atol: float = 1e-5,
    rtol: float = 1e-3, seed: int = 0,
) -> list[InputCheck]:
    """Element-wise second-order report (one InputCheck per checked input, v last)."""
    f2, args = vjp_function(fn, inputs, seed)
    return gradcheck_report(f2, args, eps=eps, atol=atol, rtol=rtol, seed=seed + 1)


def fast_check(fn: Callable[..., Tensor], inputs: Sequence[Any], eps: float = 1e-6, atol: float = 1e-5,
               rtol: float = 1e-3, seed: int = 0) -> bool:
    """The random-projection check alone (no element-wise fallback): True when it agrees."""
    return _fast_ok(fn, inputs, eps, atol, rtol, seed)


from .registry_check import OpCheck, check_op, check_registry  # noqa: E402,F401  (re-exported)


