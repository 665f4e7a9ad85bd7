"""What a gradient of a gradient costs next to a plain training step (seed_cnn, batch 64, float32).

    python benchmarks/bench_second_order.py            # median / min of 20 repeats each
    python benchmarks/bench_second_order.py --repeats 50

Rows: a first-order step (forward + backward), ``tc.grad(..., create_graph=True)`` of the loss
w.r.t. the parameters followed by a Hessian-vector product (the curvature picture's unit of work),
and double backpropagation (the gradient of ||d loss / d x||^2 w.r.t. the parameters). The ratio is
against the first-order step measured in the same run. With torch installed, the same three for
PyTorch's CPU build in the same process.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

import tinygrad_conv as tc
from tinygrad_conv import functional as F
from tinygrad_conv.models import get_model


def _time(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    fn()
    fn()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts)) * 1e3, float(np.min(ts)) * 1e3


def ours(batch: int, repeats: int) -> dict[str, tuple[float, float]]:
    model = get_model("seed_cnn", rng=0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, batch)
    params = list(model.parameters())
    v = [tc.Tensor(rng.standard_normal(p.shape).astype(np.float32)) for p in params]

    def first() -> None:
        model.zero_grad()
        F.cross_entropy(model(tc.Tensor(x)), y).backward()

    def hvp() -> None:
        gs = tc.grad(F.cross_entropy(model(tc.Tensor(x)), y), params, create_graph=True)
        tc.grad(list(gs), params, v)

    def double() -> None:
        xt = tc.Tensor(x, requires_grad=True)
        (gx,) = tc.grad(F.cross_entropy(model(xt), y), xt, create_graph=True)
        tc.grad((gx * gx).sum(), params)

    return {"first-order step": _time(first, repeats), "grad + hvp": _time(hvp, repeats),
            "double backprop": _time(double, repeats)}


def theirs(batch: int, repeats: int) -> dict[str, tuple[float, float]] | None:
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 12, 5, padding="same"), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(12, 16, 5, padding="same"), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(16 * 7 * 7, 10))
    x = torch.randn(batch, 1, 28, 28)
    y = torch.randint(0, 10, (batch,))
    params = list(net.parameters())
    v = [torch.randn_like(p) for p in params]
    ce = torch.nn.functional.cross_entropy

    def first() -> None:
        net.zero_grad()
        ce(net(x), y).backward()

    def hvp() -> None:
        gs = torch.autograd.grad(ce(net(x), y), params, create_graph=True)
        torch.autograd.grad(gs, params, v)

    def double() -> None:
        xt = x.clone().requires_grad_(True)
        (gx,) = torch.autograd.grad(ce(net(xt), y), xt, create_graph=True)
        torch.autograd.grad((gx * gx).sum(), params)

    return {"first-order step": _time(first, repeats), "grad + hvp": _time(hvp, repeats),
            "double backprop": _time(double, repeats)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=64, help="batch size (default: %(default)s)")
    ap.add_argument("--repeats", type=int, default=20, help="timed repeats per row (default: %(default)s)")
    args = ap.parse_args()
    a = ours(args.batch, args.repeats)
    b = theirs(args.batch, args.repeats)
    base = a["first-order step"][0]
    print(f"seed_cnn, batch {args.batch}, float32; median (min) of {args.repeats} repeats, ms")
    extra = f" {'torch':>16} {'ours/torch':>11}" if b else ""
    print(f"{'work':<18} {'ours':>16} {'x first-order':>14}" + extra)
    for k, (med, mn) in a.items():
        row = f"{k:<18} {med:>8.1f} ({mn:>5.1f}) {med / base:>13.2f}x"
        if b:
            row += f" {b[k][0]:>8.1f} ({b[k][1]:>5.1f}) {med / b[k][0]:>10.2f}x"
        print(row)


if __name__ == "__main__":
    main()
