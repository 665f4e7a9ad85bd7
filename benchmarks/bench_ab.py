"""Side-by-side training-step time of several checkouts of this package, fair on a busy machine.

Usage:
    python benchmarks/bench_ab.py MODEL DIR [DIR ...] [--rounds 10] [--block 5]
    python benchmarks/bench_ab.py seed_cnn /path/to/old /path/to/new
    python benchmarks/bench_ab.py lenet5 /path/to/repo /path/to/repo:TINYGRAD_CONV_WORKSPACE_MB=0

One persistent child process per checkout (``DIR`` is put first on its PYTHONPATH; ``DIR:VAR=value``
sets one environment variable for that child). The children take turns running ``--block`` steps,
``--rounds`` times, so load from elsewhere on a shared machine hits every checkout alike. Prints
the median and minimum wall time and CPU time (``time.process_time``: steadier than wall time
when other processes compete for the cores) per step. Set OPENBLAS_NUM_THREADS=1 for the
steadiest numbers on a busy machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = r"""
import json, sys, time
import numpy as np
from tinygrad_conv import Tensor, models, optim
from tinygrad_conv import functional as F

rng = np.random.default_rng(0)
model = models.get_model(sys.argv[1], rng=rng)
opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
x = rng.random((64, 1, 28, 28), dtype=np.float32)
y = rng.integers(0, 10, 64)


def step():
    loss = F.cross_entropy(model(Tensor(x)), y)
    opt.zero_grad()
    loss.backward()
    opt.step()


for _ in range(3):
    step()
for line in sys.stdin:
    ts = []
    for _ in range(int(line)):
        t, c = time.perf_counter(), time.process_time()
        step()
        ts.append((time.perf_counter() - t, time.process_time() - c))
    print(json.dumps(ts), flush=True)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", choices=("seed_cnn", "lenet5", "mlp"))
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--block", type=int, default=5)
    args = ap.parse_args()
    procs = []
    for spec in args.dirs:
        d, _, kv = spec.partition(":")
        env = dict(os.environ, PYTHONPATH=os.path.abspath(d))
        if kv:
            k, _, v = kv.partition("=")
            env[k] = v
        procs.append(subprocess.Popen([sys.executable, "-c", CHILD, args.model], cwd=d, env=env,
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
    times: list[list] = [[] for _ in procs]
    for _ in range(args.rounds):
        for i, p in enumerate(procs):
            assert p.stdin is not None and p.stdout is not None
            p.stdin.write(f"{args.block}\n")
            p.stdin.flush()
            times[i] += json.loads(p.stdout.readline())
    for p in procs:
        assert p.stdin is not None
        p.stdin.close()
        p.wait()
    for spec, ts in zip(args.dirs, times):
        w = [t[0] * 1e3 for t in ts]
        c = [t[1] * 1e3 for t in ts]
        print(f"{args.model:<9} {spec:<40} wall median {statistics.median(w):7.2f} min {min(w):7.2f} | "
              f"cpu median {statistics.median(c):7.2f} min {min(c):7.2f} ms (n={len(ts)})")


if __name__ == "__main__":
    main()
