"""Optimizers with PyTorch's update rules: SGD (momentum, dampening, Nesterov), Adam, AdamW.

Updates happen in place on ``p.data`` (dtype kept). Parameters whose ``.grad`` is None are
skipped. ``state_dict()`` is a flat dict of plain ndarrays and numbers, fit for an ``.npz``
loaded with ``allow_pickle=False``::

    'step'                      number of step() calls
    'param_groups.<hparam>'     lr, momentum, betas (an array of 2), ...
    'state.<i>.<buffer>'        per-parameter state of parameter i (in the order given), e.g.
                                'state.3.momentum_buffer', 'state.0.exp_avg', 'state.0.step'
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from ..tensor import Tensor

__all__ = ["Optimizer", "SGD", "Adam", "AdamW"]


class Optimizer:
    """Base class: holds the parameter list, hyperparameters (attributes) and per-parameter state."""

    hparams: tuple[str, ...] = ("lr",)
    state_keys: tuple[str, ...] = ()

    def __init__(self, params: Iterable[Tensor], **hp: Any) -> None:
        name = type(self).__name__
        self.params: list[Tensor] = list(params)
        if not self.params:
            raise ValueError(f"{name}: got an empty parameter list")
        seen: set[int] = set()
        for i, p in enumerate(self.params):
            if not isinstance(p, Tensor) or not p.requires_grad or p.data.dtype.kind != "f":
                raise TypeError(
                    f"{name}: parameter {i} must be a floating Tensor that requires grad, got {p!r:.80}")
            if id(p) in seen:
                raise ValueError(f"{name}: parameter {i} ({p.name or p.shape}) appears twice")
            seen.add(id(p))
        for k, v in hp.items():
            setattr(self, k, v)
        self.state: list[dict[str, Any]] = [{} for _ in self.params]
        self.step_count = 0

    def _check(self, what: str, value: float, ok: bool) -> None:
        if not ok:
            raise ValueError(f"{type(self).__name__}: invalid {what} {value}")

    @property
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._check("lr", value, value >= 0)
        self._lr = float(value)

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to None."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Apply one update to every parameter that has a gradient."""
        self.step_count += 1
        for i, p in enumerate(self.params):
            if p.grad is not None:
                self._update(p.data, p.grad, self.state[i])
                p._bump_version()  # a graph recorded before the step must not backpropagate

    def _update(self, w: np.ndarray, g: np.ndarray, st: dict[str, Any]) -> None:
        raise NotImplementedError

    # ---- checkpoints -------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Flat dict of ndarrays / numbers (see the module docstring for the keys)."""
        d: dict[str, Any] = {"step": self.step_count}
        for k in self.hparams:
            v = getattr(self, k)
            d[f"param_groups.{k}"] = np.array(v, dtype=np.float64) if isinstance(v, tuple) else v
        for i, st in enumerate(self.state):
            for k, v in st.items():
                d[f"state.{i}.{k}"] = v.copy() if isinstance(v, np.ndarray) else v
        return d

    def load_state_dict(self, sd: Mapping[str, Any]) -> None:
        """Restore from ``state_dict()`` output (values may be 0-d arrays, as from an .npz).

        Checks every key, index and shape first and raises one ValueError listing all problems;
        nothing changes when it does. Arrays are copied in the parameter's dtype.
        """
        name, n = type(self).__name__, len(self.params)
        problems: list[str] = []
        hp: dict[str, Any] = {}
        state: list[dict[str, Any]] = [{} for _ in self.params]
        for k, v in sd.items():
            parts = k.split(".")
            if k == "step":
                continue
            if len(parts) == 2 and parts[0] == "param_groups" and parts[1] in self.hparams:
                hp[parts[1]] = v
            elif (len(parts) == 3 and parts[0] == "state" and parts[1].isdigit()
                  and parts[2] in self.state_keys):
                i = int(parts[1])
                if i >= n:
                    problems.append(f"{k}: parameter index {i} out of range ({n} parameters)")
                elif parts[2] == "step":
                    state[i]["step"] = int(np.asarray(v))
                elif np.shape(v) != self.params[i].shape:
                    problems.append(f"{k}: shape {np.shape(v)} vs parameter {self.params[i].shape}")
                else:
                    state[i][parts[2]] = np.array(v, dtype=self.params[i].data.dtype)
            else:
                problems.append(f"unexpected key {k}")
        for i, st in enumerate(state):
            if st and set(st) != set(self.state_keys):
                problems.append(f"state.{i}: has {sorted(st)}, needs all of {sorted(self.state_keys)}")
        missing = ["step"] * ("step" not in sd) + [f"param_groups.{h}" for h in self.hparams if h not in hp]
        if missing:
            problems.append("missing keys: " + ", ".join(missing))
        if problems:
            raise ValueError(f"{name}.load_state_dict: " + "; ".join(problems))
        for k, v in hp.items():
            cur = getattr(self, k)
            if isinstance(cur, tuple):
                setattr(self, k, tuple(float(x) for x in np.asarray(v).ravel()))
            else:
                setattr(self, k, type(cur)(np.asarray(v).item()))
        self.state = state
        self.step_count = int(np.asarray(sd["step"]))

    def __repr__(self) -> str:
        hp = ", ".join(f"{k}={getattr(self, k)}" for k in self.hparams)
        return f"{type(self).__name__}({len(self.params)} parameters, {hp})"


class SGD(Optimizer):
    """Stochastic gradient descent, PyTorch's rule. For each parameter w with gradient g::

        g = g + weight_decay * w                      (L2 penalty: shrinks the weights)
        if momentum:
            b = g                        on the first step
            b = momentum * b + (1 - dampening) * g   afterwards
            g = g + momentum * b  if nesterov  else  b
        w = w - lr * g
    """

    hparams = ("lr", "momentum", "dampening", "weight_decay", "nesterov")
    state_keys = ("momentum_buffer",)
    # hyperparameters, set by Optimizer.__init__ from the keyword arguments
    momentum: float
    dampening: float
    weight_decay: float
    nesterov: bool

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False) -> None:
        super().__init__(params, lr=lr, momentum=float(momentum), dampening=float(dampening),
                         weight_decay=float(weight_decay), nesterov=bool(nesterov))
        self._check("momentum", momentum, momentum >= 0)
        self._check("weight_decay", weight_decay, weight_decay >= 0)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov needs momentum > 0 and dampening == 0, "
                             f"got momentum={momentum}, dampening={dampening}")

    def _update(self, w: np.ndarray, g: np.ndarray, st: dict[str, Any]) -> None:
        if self.weight_decay:
            g = g + self.weight_decay * w
        if self.momentum:
            buf = st.get("momentum_buffer")
            if buf is None:
                buf = st["momentum_buffer"] = np.array(g, dtype=w.dtype)
            else:
                buf *= self.momentum
                buf += (1.0 - self.dampening) * g
            g = g + self.momentum * buf if self.nesterov else buf
        w -= self.lr * g


class Adam(Optimizer):
    """Adam (Kingma & Ba), PyTorch's rule. For each parameter w with gradient g, t = its step::

        g = g + weight_decay * w                      (L2 penalty, coupled; see AdamW)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g^2
        w = w - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
    """

    hparams = ("lr", "betas", "eps", "weight_decay")
    state_keys = ("step", "exp_avg", "exp_avg_sq")
    decoupled = False
    # hyperparameters, set by Optimizer.__init__ from the keyword arguments
    betas: tuple[float, float]
    eps: float
    weight_decay: float

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        b1, b2 = (float(b) for b in betas)
        super().__init__(params, lr=lr, betas=(b1, b2), eps=float(eps), weight_decay=float(weight_decay))
        self._check("beta1", b1, 0 <= b1 < 1)
        self._check("beta2", b2, 0 <= b2 < 1)
        self._check("eps", eps, eps >= 0)
        self._check("weight_decay", weight_decay, weight_decay >= 0)

    def _update(self, w: np.ndarray, g: np.ndarray, st: dict[str, Any]) -> None:
        b1, b2 = self.betas
        if not st:
            st.update(step=0, exp_avg=np.zeros_like(w), exp_avg_sq=np.zeros_like(w))
        st["step"] += 1
        t, m, v = st["step"], st["exp_avg"], st["exp_avg_sq"]
        if self.weight_decay:
            if self.decoupled:
                w *= 1.0 - self.lr * self.weight_decay
            else:
                g = g + self.weight_decay * w
        m *= b1
        m += (1.0 - b1) * g
        v *= b2
        v += (1.0 - b2) * (g * g)
        denom = np.sqrt(v)
        denom /= math.sqrt(1.0 - b2 ** t)
        denom += self.eps
        w -= (self.lr / (1.0 - b1 ** t)) * (m / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), PyTorch's rule::

        w = w * (1 - lr * weight_decay)
        then the Adam update above without the L2 term.
    """

    decoupled = True

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
