"""Ours next to PyTorch and the other small autograd libraries, same work, same machine.

Usage: python benchmarks/bench_peers.py [--steps 20] [--threads 1]

Cases (float32):
- ``mlp step``: 784-256-128-10 ReLU MLP, batch 64, softmax cross-entropy, plain SGD (lr 0.05):
  forward, backward, update.
- ``conv2d fwd+bwd``: x (64, 6, 14, 14), weight (16, 6, 5, 5), bias, no padding; the loss is the
  sum of the output and every gradient (x, weight, bias) is computed.

Peers: PyTorch (``torch``), MyGrad (``mygrad``), HIPS autograd (``autograd``: no conv2d
primitive, so only the MLP) and tinygrad on its CPU device (``tinygrad``). Each is optional: a
peer that is not installed is shown as ``-``. Every (library, case) runs in its own subprocess
(one library's threads or caches never meet another's) and reports the median of ``--steps``
timed steps after 3 warm-up steps. On a shared machine run it when idle, or compare ratios only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

LIBS = ("ours", "torch", "mygrad", "autograd", "tinygrad")
CASES = ("mlp step", "conv2d fwd+bwd")
BATCH, LR = 64, 0.05


def _data():
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.random((BATCH, 784), dtype=np.float32)
    y = rng.integers(0, 10, BATCH)
    params = []
    for fan_in, fan_out in ((784, 256), (256, 128), (128, 10)):
        bound = 1 / np.sqrt(fan_in)
        params.append(rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32))
        params.append(rng.uniform(-bound, bound, fan_out).astype(np.float32))
    cx = rng.standard_normal((BATCH, 6, 14, 14), dtype=np.float32)
    cw = (rng.standard_normal((16, 6, 5, 5), dtype=np.float32) * 0.1).astype(np.float32)
    cb = np.zeros(16, np.float32)
    return x, y, params, (cx, cw, cb)


def _ours(case: str):
    from tinygrad_conv import Tensor
    from tinygrad_conv import functional as F

    x, y, params, (cx, cw, cb) = _data()
    if case == "mlp step":
        ps = [Tensor(p, requires_grad=True) for p in params]
        xt = Tensor(x)

        def step() -> None:
            h = xt
            for i in range(0, 6, 2):
                h = F.linear(h, ps[i], ps[i + 1])
                if i < 4:
                    h = F.relu(h)
            loss = F.cross_entropy(h, y)
            for p in ps:
                p.grad = None
            loss.backward()
            for p in ps:
                p.data -= LR * p.grad

        return step
    xs, ws, bs = (Tensor(a, requires_grad=True) for a in (cx, cw, cb))

    def conv() -> None:
        for t in (xs, ws, bs):
            t.grad = None
        F.conv2d(xs, ws, bs).sum().backward()

    return conv


def _torch(case: str):
    import torch

    x, y, params, (cx, cw, cb) = _data()
    if case == "mlp step":
        ps = [torch.tensor(p, requires_grad=True) for p in params]
        xt, yt = torch.tensor(x), torch.tensor(y)

        def step() -> None:
            h = xt
            for i in range(0, 6, 2):
                h = torch.nn.functional.linear(h, ps[i], ps[i + 1])
                if i < 4:
                    h = torch.relu(h)
            loss = torch.nn.functional.cross_entropy(h, yt)
            for p in ps:
                p.grad = None
            loss.backward()
            with torch.no_grad():
                for p in ps:
                    p -= LR * p.grad

        return step
    xs, ws, bs = (torch.tensor(a, requires_grad=True) for a in (cx, cw, cb))

    def conv() -> None:
        for t in (xs, ws, bs):
            t.grad = None
        torch.nn.functional.conv2d(xs, ws, bs).sum().backward()

    return conv


def _mygrad(case: str):
    import mygrad as mg
    from mygrad.nnet.activations import relu
    from mygrad.nnet.layers import conv_nd
    from mygrad.nnet.losses import softmax_crossentropy

    x, y, params, (cx, cw, cb) = _data()
    if case == "mlp step":
        ps = [mg.tensor(p) for p in params]

        def step() -> None:
            h = x
            for i in range(0, 6, 2):
                h = mg.matmul(h, ps[i].T) + ps[i + 1]
                if i < 4:
                    h = relu(h)
            loss = softmax_crossentropy(h, y)
            loss.backward()
            for p in ps:
                p.data -= LR * p.grad  # mygrad clears .grad on the next backward

        return step
    xs, ws, bs = (mg.tensor(a) for a in (cx, cw, cb))

    def conv() -> None:
        (conv_nd(xs, ws, stride=1) + bs.reshape(1, -1, 1, 1)).sum().backward()

    return conv


def _autograd(case: str):
    if case != "mlp step":
        return None  # HIPS autograd has no conv2d primitive
    import autograd.numpy as anp
    from autograd import grad
    from autograd.scipy.special import logsumexp

    x, y, params, _ = _data()

    def loss_fn(ps):
        h = x
        for i in range(0, 6, 2):
            h = anp.dot(h, ps[i].T) + ps[i + 1]
            if i < 4:
                h = anp.maximum(h, 0.0)
        logp = h - logsumexp(h, axis=1, keepdims=True)
        return -anp.mean(logp[anp.arange(BATCH), y])

    g = grad(loss_fn)
    ps = list(params)

    def step() -> None:
        for p, gp in zip(ps, g(ps)):
            p -= LR * gp

    return step


def _tinygrad(case: str):
    os.environ.setdefault("DEV", "CPU")  # tinygrad's CPU device compiles kernels with clang
    from tinygrad import Tensor

    def leaf(a):
        t = Tensor(a).realize()
        t.requires_grad = True
        return t

    x, y, params, (cx, cw, cb) = _data()
    if case == "mlp step":
        ps = [leaf(p) for p in params]
        xt, yt = Tensor(x).realize(), Tensor(y.astype("int32")).realize()

        def step() -> None:
            h = xt
            for i in range(0, 6, 2):
                h = h.linear(ps[i].T, ps[i + 1])
                if i < 4:
                    h = h.relu()
            loss = h.sparse_categorical_crossentropy(yt)
            grads = loss.gradient(*ps)
            for p, gp in zip(ps, grads):
                p.assign(p - LR * gp)
            Tensor.realize(*ps)

        return step
    xs, ws, bs = (leaf(a) for a in (cx, cw, cb))

    def conv() -> None:
        grads = xs.conv2d(ws, bs).sum().gradient(xs, ws, bs)
        Tensor.realize(*grads)

    return conv


def child(lib: str, case: str, steps: int) -> None:
    step = {"ours": _ours, "torch": _torch, "mygrad": _mygrad, "autograd": _autograd,
            "tinygrad": _tinygrad}[lib](case)
    if step is None:
        print(json.dumps(None))
        return
    for _ in range(3):
        step()
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    print(json.dumps({"ms": statistics.median(times) * 1e3, "ms_min": min(times) * 1e3}))


def run_child(lib: str, case: str, steps: int, threads: int | None) -> dict | None:
    env = dict(os.environ)
    if threads:
        env.update({k: str(threads) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")})
    root = Path(__file__).resolve().parent.parent
    env["PYTHONPATH"] = f"{root}{os.pathsep}{env.get('PYTHONPATH', '')}"
    p = subprocess.run([sys.executable, __file__, "--child", lib, case, "--steps", str(steps)],
                       capture_output=True, text=True, env=env)
    if p.returncode != 0:
        if "No module named" in p.stderr:
            return None  # the peer is not installed
        if lib != "ours":  # a peer that cannot run here (e.g. tinygrad's CPU device needs clang)
            print(f"  ({lib} / {case} failed: {p.stderr.strip().splitlines()[-1][:100]})", file=sys.stderr)
            return None
        raise RuntimeError(f"bench_peers: {lib} / {case} failed:\n{p.stderr[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=None, help="BLAS/OpenMP threads for every library")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.steps)
        return
    print(f"median ms of {args.steps} steps (threads: {args.threads or 'default'}, {os.cpu_count()} CPUs); "
          "ratio = library / ours")
    print(f"{'case':<16}" + "".join(f"{lib:>18}" for lib in LIBS))
    for case in CASES:
        res = {lib: run_child(lib, case, args.steps, args.threads) for lib in LIBS}
        ours = res["ours"]["ms"]  # type: ignore[index]
        cells = []
        for lib in LIBS:
            r = res[lib]
            cells.append(f"{'-':>18}" if r is None else f"{r['ms']:9.2f} ({r['ms'] / ours:4.2f}x)")
        print(f"{case:<16}" + "".join(f"{c:>18}" for c in cells))


if __name__ == "__main__":
    main()
