"""Second-order check of an op's samples (until a registry-wide gradgradcheck lands on main).

For each sample: h(xs, v) = sum_i <d<v, f(xs)>/dx_i, r_i> with fixed random r_i, built with
``tc.grad(..., create_graph=True)``; its gradient w.r.t. (xs, v) is checked numerically in float64.
"""

from __future__ import annotations

import numpy as np

import tinygrad_conv as tc
from tinygrad_conv.autograd.tape import enable_grad
from tinygrad_conv.tensor import Tensor, apply


def gradgrad_failures(op, samples=None) -> list[str]:
    """Labels (and messages) of the samples whose second-order check fails."""
    bad = []
    for s in op.samples() if samples is None else samples:
        diff = [i for i, a in enumerate(s.args) if np.asarray(a).dtype.kind == "f" and i not in s.constant]
        if not diff:
            continue
        out0 = apply(op, *[Tensor(a) for a in s.args], **s.kwargs)
        rng = np.random.default_rng(3)
        v0 = rng.standard_normal(out0.shape)
        rs = [rng.standard_normal(np.shape(s.args[i])) for i in diff]
        n = len(s.args)

        def h(*xs, _s=s, _diff=diff, _rs=rs, _n=n):
            ins = [xs[i] for i in _diff]
            with enable_grad():  # gradcheck's numeric pass runs fn under no_grad; h needs a graph
                out = apply(op, *xs[:_n], **_s.kwargs)
                gs = tc.grad(out, ins, xs[_n], create_graph=True, allow_unused=True)
            tot = Tensor(np.zeros(()))
            for g, r in zip(gs, _rs):
                if g is not None:
                    tot = tot + (g * Tensor(r)).sum()
            return tot

        args = [np.array(a, dtype=np.float64) if i in diff else Tensor(a) for i, a in enumerate(s.args)]
        try:
            tc.gradcheck(h, args + [v0], atol=1e-5, rtol=1e-3)
        except Exception as e:  # noqa: BLE001  (reported with the sample's label)
            bad.append(f"{s.label}: {type(e).__name__}: {e}")
    return bad
