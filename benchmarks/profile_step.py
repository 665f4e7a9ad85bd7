"""Where the time of one training step goes: milliseconds per op, forward and backward.

Usage: python benchmarks/profile_step.py [--model seed_cnn] [--steps 20]

Every registered op's forward is wrapped with a timer (the backward pass runs the VJPs' ops, and
heavy gradients are ops of their own, so "backward" rows are the ops run inside ``backward()``).
"engine + Python" is the rest of the step: tape walk, VJP bodies, the optimizer. CPU time
(``time.process_time``) per step, median over ``--steps`` steps: steadier than wall time on a busy
machine. The wrappers add a few microseconds per op.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict

import numpy as np

from tinygrad_conv import Tensor, models, optim, registered_ops
from tinygrad_conv import functional as F
from tinygrad_conv.autograd.registry import get_op
from tinygrad_conv.autograd.tape import STATE


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="seed_cnn")
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    phase = {"now": "forward"}
    acc: dict[tuple[str, str], list[float]] = defaultdict(list)
    cur: dict[tuple[str, str], float] = defaultdict(float)
    for name in registered_ops():
        op = get_op(name)
        orig = op.forward

        def timed(*a, _orig=orig, _name=name, **k):
            t = time.process_time()
            try:
                return _orig(*a, **k)
            finally:
                cur[(_name, phase["now"])] += time.process_time() - t

        op.forward = staticmethod(timed)  # type: ignore[method-assign]
    rng = np.random.default_rng(0)
    model = models.get_model(args.model, rng=rng)
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x = rng.random((64, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, 64)
    totals = []
    for i in range(args.steps + 3):
        cur.clear()
        t0 = time.process_time()
        phase["now"] = "forward"
        loss = F.cross_entropy(model(Tensor(x)), y)
        opt.zero_grad()
        phase["now"] = "backward"
        loss.backward()
        opt.step()
        total = time.process_time() - t0
        if i >= 3:  # warm-up steps left out
            totals.append(total)
            for k in set(cur) | set(acc):
                acc[k].append(cur.get(k, 0.0))
    assert STATE.grad_enabled
    step_ms = statistics.median(totals) * 1e3
    rows = sorted(((statistics.median(v) * 1e3, k) for k, v in acc.items()), reverse=True)
    print(f"{args.model}: one SGD step, batch 64, CPU ms (median of {args.steps}); "
          f"step total {step_ms:.2f} ms")
    print(f"{'op':<22} {'phase':<9} {'ms':>7} {'share':>6}")
    for ms, (name, ph) in rows:
        if ms >= 0.005:
            print(f"{name:<22} {ph:<9} {ms:7.2f} {ms / step_ms:6.1%}")
    rest = step_ms - sum(ms for ms, _ in rows)
    print(f"{'engine + Python':<22} {'both':<9} {rest:7.2f} {rest / step_ms:6.1%}")


if __name__ == "__main__":
    main()
