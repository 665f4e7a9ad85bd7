"""Training-step speed and peak memory against PyTorch, and the accuracy the models reach.

Usage:
    python benchmarks/bench_train.py                 # step-time + peak-memory table (ours vs torch)
    python benchmarks/bench_train.py --steps 50      # more timed steps per model
    python benchmarks/bench_train.py --accuracy      # seed_cnn, 3 epochs: Fashion-MNIST and mnist-sample
                                                     # (and MNIST when it is on this machine); minutes
    python benchmarks/bench_train.py --accuracy --batch-size 16 --lr 0.01   # other hyperparameters

Step: one SGD step (momentum 0.9, lr 0.05) on a batch of 64 random 1x28x28 float32 images with
cross-entropy: forward, backward, update. Each (framework, model) pair runs in its own
subprocess so its peak resident memory (``resource.getrusage(...).ru_maxrss``) is its own: that
figure is the whole process (interpreter, libraries, data, activations), as "the process's peak
memory" is what a user sees. Both frameworks use their default thread counts unless ``--threads``.
torch is imported only in the child that measures it, and only here.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

MODELS = ("seed_cnn", "lenet5", "mlp")
BATCH = 64


def _ours_step(model_name: str):
    import numpy as np

    from tinygrad_conv import Tensor, models, optim
    from tinygrad_conv import functional as F

    rng = np.random.default_rng(0)
    model = models.get_model(model_name, rng=rng)
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x = rng.random((BATCH, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, BATCH)

    def step() -> None:
        loss = F.cross_entropy(model(Tensor(x)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def _torch_model(name: str):
    import torch.nn as tnn

    if name == "seed_cnn":
        return tnn.Sequential(tnn.Conv2d(1, 12, 5, padding="same"), tnn.ReLU(), tnn.MaxPool2d(2),
                              tnn.Conv2d(12, 16, 5, padding="same"), tnn.ReLU(), tnn.MaxPool2d(2),
                              tnn.Flatten(), tnn.Linear(16 * 7 * 7, 10))
    if name == "lenet5":
        return tnn.Sequential(tnn.Conv2d(1, 6, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2),
                              tnn.Conv2d(6, 16, 5), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Flatten(),
                              tnn.Linear(400, 120), tnn.ReLU(), tnn.Linear(120, 84), tnn.ReLU(),
                              tnn.Linear(84, 10))
    return tnn.Sequential(tnn.Flatten(), tnn.Linear(784, 256), tnn.ReLU(), tnn.Linear(256, 128), tnn.ReLU(),
                          tnn.Linear(128, 10))


def _torch_step(model_name: str):
    import torch

    torch.manual_seed(0)
    model = _torch_model(model_name)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x = torch.rand(BATCH, 1, 28, 28)
    y = torch.randint(0, 10, (BATCH,))
    loss_fn = torch.nn.CrossEntropyLoss()

    def step() -> None:
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    return step


def child(framework: str, model_name: str, steps: int, threads: int | None) -> None:
    """Time ``steps`` steps after 3 warm-up steps; print JSON {ms: median, ms_min, maxrss_mb}."""
    if framework == "torch":
        import torch

        if threads:
            torch.set_num_threads(threads)
        step = _torch_step(model_name)
    else:
        step = _ours_step(model_name)
    for _ in range(3):
        step()
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    print(json.dumps({"ms": statistics.median(times) * 1e3, "ms_min": min(times) * 1e3,
                      "maxrss_mb": rss_kb / 1024}))


def run_child(framework: str, model_name: str, steps: int, threads: int | None) -> dict | None:
    env = dict(os.environ)
    if threads:  # BLAS thread pools read these at import time
        env.update({k: str(threads) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")})
    root = Path(__file__).resolve().parent.parent
    env["PYTHONPATH"] = f"{root}{os.pathsep}{env.get('PYTHONPATH', '')}"
    cmd = [sys.executable, __file__, "--child", framework, model_name, "--steps", str(steps)]
    if threads:
        cmd += ["--threads", str(threads)]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        if framework == "torch" and "No module named 'torch'" in p.stderr:
            return None
        raise RuntimeError(f"bench_train: {framework} {model_name} failed:\n{p.stderr}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def speed_table(steps: int, threads: int | None) -> None:
    print(f"one training step, batch {BATCH}, SGD momentum 0.9, median of {steps} steps "
          f"(threads: {threads or 'default'}, {os.cpu_count()} CPUs)")
    head = (f"{'model':<9} {'ours ms':>8} {'torch ms':>9} {'time ratio':>10}   "
            f"{'ours MB':>8} {'torch MB':>9} {'mem ratio':>9}")
    print(head)
    print("-" * len(head))
    for name in MODELS:
        ours = run_child("ours", name, steps, threads)
        theirs = run_child("torch", name, steps, threads)
        if theirs is None:
            print(f"{name:<9} {ours['ms']:8.2f} {'-':>9} {'-':>10}   {ours['maxrss_mb']:8.0f}  (no torch)")
            continue
        mem_ratio = ours["maxrss_mb"] / theirs["maxrss_mb"]
        print(f"{name:<9} {ours['ms']:8.2f} {theirs['ms']:9.2f} {ours['ms'] / theirs['ms']:9.2f}x   "
              f"{ours['maxrss_mb']:8.0f} {theirs['maxrss_mb']:9.0f} {mem_ratio:8.2f}x")
    print("ratio = ours / torch (lower is better for us); MB = peak RSS of the whole process")


def accuracy(epochs: int, out_root: str, **hp) -> None:
    """seed_cnn for ``epochs`` on each dataset; ``hp`` (lr, batch_size, ...: None = CLI default) to all."""
    from tinygrad_conv.checkpoint import load_checkpoint
    from tinygrad_conv.data import find_dataset
    from tinygrad_conv.run import run_train

    runs = [("fashion-mnist", 0.91), ("mnist-sample", 0.97)]
    if find_dataset("mnist") is not None:
        runs.append(("mnist", 0.99))
    rows = []
    for ds, target in runs:
        t = time.perf_counter()
        hist = run_train(dataset=ds, model="seed_cnn", epochs=epochs, out=f"{out_root}/seed_cnn-{ds}",
                         quiet=True, **hp)
        rows.append((ds, hist[-1]["test_acc"], target, time.perf_counter() - t))
    cfg = load_checkpoint(f"{out_root}/seed_cnn-{runs[0][0]}/checkpoint.npz").config
    keys = ("optimizer", "lr", "momentum", "batch_size", "schedule", "seed")
    print(f"\nseed_cnn, {epochs} epochs, " + ", ".join(f"{k} {cfg[k]}" for k in keys))
    print(f"{'dataset':<14} {'test acc':>9} {'target':>7} {'met':>4} {'seconds':>8}")
    for ds, acc, target, secs in rows:
        print(f"{ds:<14} {acc:9.2%} {target:7.0%} {'yes' if acc >= target else 'NO':>4} {secs:8.0f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--threads", type=int, default=None, help="BLAS / torch threads (default: their own)")
    ap.add_argument("--accuracy", action="store_true", help="train seed_cnn and report test accuracy instead")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--out", default="runs/bench", help="run directories for --accuracy")
    for flag, typ in (("--lr", float), ("--batch-size", int), ("--optimizer", str), ("--schedule", str),
                      ("--seed", int)):
        ap.add_argument(flag, type=typ, help="--accuracy: as for `tinygrad-conv train`")
    ap.add_argument("--child", nargs=2, metavar=("FRAMEWORK", "MODEL"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.steps, args.threads)
    elif args.accuracy:
        accuracy(args.epochs, args.out, lr=args.lr, batch_size=args.batch_size, optimizer=args.optimizer,
                 schedule=args.schedule, seed=args.seed)
    else:
        speed_table(args.steps, args.threads)


if __name__ == "__main__":
    main()
