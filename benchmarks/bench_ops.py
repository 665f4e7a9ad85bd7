"""CNN primitives, forward + backward, ours vs PyTorch CPU (float32, median of several runs).

Usage: python benchmarks/bench_ops.py [--repeat 15] [--only conv|pool|xent|convt|interp]

Every case computes all gradients (input, weight, bias). PyTorch runs with as many threads as our
BLAS (OpenBLAS) uses; NumPy's elementwise work is single-threaded. The upstream gradient is
``ones_like(output)`` on both sides (ours then has our output's memory order, as a real upstream
op's gradient would). Inputs are leaves on both sides (our engine copies the gradient it stores
in a leaf's ``.grad``, about 0.5-1 ms of the max_pool2d cases). torch is imported here only; the
package never needs it. On a shared machine, run it when idle: the spread between runs is ~20%.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from tinygrad_conv import Tensor
from tinygrad_conv import functional as F

# (label, N, C_in, C_out, H, W, k, stride, padding)
CONV_CASES = [
    ("conv 1->32 28x28 k3 p1", 64, 1, 32, 28, 28, 3, 1, 1),
    ("conv 32->64 14x14 k3 p1", 64, 32, 64, 14, 14, 3, 1, 1),
    ("conv 1->6 28x28 k5 p2", 64, 1, 6, 28, 28, 5, 1, 2),
    ("conv 6->16 14x14 k5", 64, 6, 16, 14, 14, 5, 1, 0),
    ("conv 64->64 8x8 k3 p1", 64, 64, 64, 8, 8, 3, 1, 1),
    ("conv 64->64 8x8 k3 s2 p1", 64, 64, 64, 8, 8, 3, 2, 1),
]
POOL_CASES = [
    ("max_pool2d 2x2 (64,32,28,28)", (64, 32, 28, 28)),
    ("max_pool2d 2x2 (64,64,14,14)", (64, 64, 14, 14)),
]
XENT_CASES = [("cross_entropy (64,10)", 64, 10), ("cross_entropy (256,1000)", 256, 1000)]
# issue 12: (label, N, C_in, C_out, H, W, k, stride, padding, output_padding)
CONVT_CASES = [
    ("convT 32->16 14x14 k2 s2", 32, 32, 16, 14, 14, 2, 2, 0, 0),
    ("convT 64->32 7x7 k4 s2 p1", 64, 64, 32, 7, 7, 4, 2, 1, 0),
    ("convT 16->8 14x14 k3 s2 p1 op1", 32, 16, 8, 14, 14, 3, 2, 1, 1),
]
# (label, input shape, interpolate keyword arguments)
INTERP_CASES = [
    ("nearest x2 (32,32,28,28)", (32, 32, 28, 28), {"scale_factor": 2, "mode": "nearest"}),
    ("bilinear x2 (32,32,28,28)", (32, 32, 28, 28), {"scale_factor": 2, "mode": "bilinear"}),
    ("bilinear ac 28->20 (32,32)", (32, 32, 28, 28), {"size": (20, 20), "mode": "bilinear",
                                                      "align_corners": True}),
]


def blas_threads() -> int:
    """Threads our BLAS uses (threadpoolctl when installed, else the environment / CPU count)."""
    try:
        from threadpoolctl import threadpool_info

        n = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
        if n:
            return int(n[0])
    except ImportError:
        pass
    return int(os.environ.get("OPENBLAS_NUM_THREADS", os.cpu_count() or 1))


def median_ms(steps: list[Callable[[], object]], repeat: int, block: int = 5) -> list[float]:
    """Median wall time of each step. The steps take turns in blocks of ``block`` runs, so that
    load from elsewhere on a shared machine hits ours and PyTorch's alike, while one library's
    spinning worker threads rarely overlap the other's run."""
    times: list[list[float]] = [[] for _ in steps]
    while len(times[0]) < repeat:
        for step, ts in zip(steps, times):
            step()  # warm-up run of this block (caches, allocators, thread pools)
            for _ in range(block):
                t0 = time.perf_counter()
                step()
                ts.append(time.perf_counter() - t0)
    return [statistics.median(ts) * 1e3 for ts in times]


def _leaf(rng: np.random.Generator, *shape: int) -> Tensor:
    return Tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=True)


def ours_step(fn: Callable[..., Tensor], leaves: list[Tensor]) -> Callable[[], None]:
    g = np.ones_like(fn(*leaves).data)

    def step() -> None:
        for t in leaves:
            t.grad = None
        fn(*leaves).backward(g)

    return step


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def torch_step(torch: Any, fn: Callable[..., Any], arrays: list[np.ndarray],
               ints: tuple[np.ndarray, ...] = ()) -> Callable[[], None]:
    leaves = [torch.tensor(a, requires_grad=True) for a in arrays]
    consts = [torch.tensor(a) for a in ints]
    g = torch.ones_like(fn(*leaves, *consts))

    def step() -> None:
        for t in leaves:
            t.grad = None
        fn(*leaves, *consts).backward(g)

    return step


Step = Callable[[], None]


def cases(torch: Any, which: str | None) -> Iterator[tuple[str, Step, Step | None]]:
    """Yield (label, our step, torch step or None)."""
    rng = np.random.default_rng(0)
    tf = torch.nn.functional if torch is not None else None
    if which in (None, "conv"):
        for label, n, ci, co, h, w, k, s, p in CONV_CASES:
            leaves = [_leaf(rng, n, ci, h, w), _leaf(rng, co, ci, k, k), _leaf(rng, co)]
            ours = ours_step(lambda x, wt, b, s=s, p=p: F.conv2d(x, wt, b, stride=s, padding=p), leaves)
            theirs = None if tf is None else torch_step(
                torch, lambda x, wt, b, s=s, p=p: tf.conv2d(x, wt, b, stride=s, padding=p),
                [t.data for t in leaves])
            yield label, ours, theirs
    if which in (None, "pool"):
        for label, shape in POOL_CASES:
            leaves = [_leaf(rng, *shape)]
            ours = ours_step(lambda x: F.max_pool2d(x, 2), leaves)
            theirs = None if tf is None else torch_step(torch, lambda x: tf.max_pool2d(x, 2),
                                                        [leaves[0].data])
            yield label, ours, theirs
    if which in (None, "xent"):
        for label, n, c in XENT_CASES:
            z, t = _leaf(rng, n, c), rng.integers(0, c, n)
            ours = ours_step(lambda z, t=t: F.cross_entropy(z, t), [z])
            theirs = None if tf is None else torch_step(torch, lambda z, t: tf.cross_entropy(z, t),
                                                        [z.data], (t,))
            yield label, ours, theirs
    if which in (None, "convt"):
        for label, n, ci, co, h, w, k, s, p, op in CONVT_CASES:
            leaves = [_leaf(rng, n, ci, h, w), _leaf(rng, ci, co, k, k), _leaf(rng, co)]
            kw = {"stride": s, "padding": p, "output_padding": op}
            ours = ours_step(lambda x, wt, b, kw=kw: F.conv_transpose2d(x, wt, b, **kw), leaves)
            theirs = None if tf is None else torch_step(
                torch, lambda x, wt, b, kw=kw: tf.conv_transpose2d(x, wt, b, **kw), [t.data for t in leaves])
            yield label, ours, theirs
    if which in (None, "interp"):
        for label, shape, kw in INTERP_CASES:
            leaves = [_leaf(rng, *shape)]
            ours = ours_step(lambda x, kw=kw: F.interpolate(x, **kw), leaves)
            theirs = None if tf is None else torch_step(torch, lambda x, kw=kw: tf.interpolate(x, **kw),
                                                        [leaves[0].data])
            yield label, ours, theirs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--only", choices=["conv", "pool", "xent", "convt", "interp"])
    args = ap.parse_args()
    threads = blas_threads()
    try:
        import torch

        torch.set_num_threads(threads)
        tver = f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    except ImportError:
        torch, tver = None, "torch not installed"
    print(f"# {cpu_name()}, {os.cpu_count()} CPUs; numpy {np.__version__}, "
          f"BLAS threads {threads}; {tver}; float32, forward+backward, median of {args.repeat}")
    print(f"{'case':<30} {'ours ms':>9} {'torch ms':>9} {'ratio':>6}")
    for label, ours, theirs in cases(torch, args.only):
        if theirs is not None:
            us, pt = median_ms([ours, theirs], args.repeat)
            print(f"{label:<30} {us:9.3f} {pt:9.3f} {us / pt:6.2f}")
        else:
            (us,) = median_ms([ours], args.repeat)
            print(f"{label:<30} {us:9.3f} {'-':>9} {'-':>6}")


if __name__ == "__main__":
    main()
