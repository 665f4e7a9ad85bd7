"""Per-op overhead: record one tiny op on the tape and run its backward.

Usage: python benchmarks/bench_overhead.py
Prints microseconds per (forward + backward) of a tiny mul for us and, when importable, PyTorch.
"""

from __future__ import annotations

import timeit

import numpy as np

from tinygrad_conv import Tensor


def ours(n: int) -> float:
    a = Tensor(np.ones(4, np.float32), requires_grad=True)
    b = Tensor(np.ones(4, np.float32), requires_grad=True)
    g = np.ones(4, np.float32)

    def step() -> None:
        (a * b).backward(g)

    return min(timeit.repeat(step, number=n, repeat=5)) / n * 1e6


def theirs(n: int) -> float | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    a = torch.ones(4, requires_grad=True)
    b = torch.ones(4, requires_grad=True)
    g = torch.ones(4)

    def step() -> None:
        (a * b).backward(g)

    return min(timeit.repeat(step, number=n, repeat=5)) / n * 1e6


def main() -> None:
    n = 20_000
    us = ours(n)
    pt = theirs(n)
    print(f"{'case':<34} {'ours us':>9} {'torch us':>9} {'ratio':>6}")
    pt_s = f"{pt:9.2f}" if pt else f"{'-':>9}"
    ratio = f"{us / pt:6.2f}" if pt else f"{'-':>6}"
    print(f"{'mul (4,) float32 fwd+bwd':<34} {us:9.2f} {pt_s} {ratio}")


if __name__ == "__main__":
    main()
