"""Train the seed notebook's CNN with a loop written out by hand: no optimizer class, no fit().

This is the seed's NeuralNetwork.fit, define-by-run: forward through the model records the tape,
one cross_entropy gives the loss, loss.backward() computes every gradient from the registered
VJPs, and a few lines of NumPy update the weights (SGD with momentum and weight decay with the
right sign: decay pulls weights toward zero). tinygrad_conv.optim.SGD does the same update.

Usage: python examples/custom_training_loop.py [--steps 200] [--fast]
(--fast, or TINYGRAD_CONV_FAST=1 in the environment: 3 steps on 96 images, a smoke test.)
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter

import numpy as np

import tinygrad_conv as tc
from tinygrad_conv import functional as F
from tinygrad_conv.autograd import toposort
from tinygrad_conv.data import DataLoader, load_dataset, normalize, stats
from tinygrad_conv.models import seed_cnn


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--fast", action="store_true", help="tiny data, a few steps (smoke test)")
    args = p.parse_args()
    fast = args.fast or os.environ.get("TINYGRAD_CONV_FAST") == "1"
    steps = 3 if fast else args.steps

    x_train, y_train, x_test, y_test = load_dataset("mnist-sample")
    mean, std = stats("mnist-sample")
    x_train, x_test = normalize(x_train, mean, std), normalize(x_test, mean, std)  # float32 NCHW
    if fast:
        x_train, y_train, x_test, y_test = x_train[:96], y_train[:96], x_test[:64], y_test[:64]

    model = seed_cnn(rng=0)  # conv(12, 5x5, same) relu pool -> conv(16, 5x5, same) relu pool -> linear
    params = dict(model.named_parameters())
    velocity = {name: np.zeros_like(prm.data) for name, prm in params.items()}
    print(f"seed_cnn: {model.num_parameters():,} parameters: "
          + ", ".join(f"{n} {prm.shape}" for n, prm in params.items()))

    loader = DataLoader(x_train, y_train, batch_size=args.batch_size, shuffle=True, seed=0)
    step = 0
    while step < steps:
        for xb, yb in loader:
            t0 = time.perf_counter()
            logits = model(tc.Tensor(xb))                 # (N, 10); the tape records every op
            loss = F.cross_entropy(logits, yb)            # (p - y) / N flows back from here
            if step == 0:
                ops = Counter(t.node.op.name for t in toposort(loss) if t.node is not None)
                print("ops on the tape:", dict(ops))
            for prm in params.values():
                prm.grad = None                           # gradients accumulate: clear them first
            loss.backward()
            with tc.no_grad():                            # the update itself is not differentiated
                for name, prm in params.items():
                    g = prm.grad + args.weight_decay * prm.data   # decay: + wd * W (the seed subtracted)
                    velocity[name] = args.momentum * velocity[name] + g
                    prm.data -= args.lr * velocity[name]          # in place: the model sees it at once
            step += 1
            if step % 20 == 0 or fast:
                print(f"step {step}: loss {loss.item():.4f} ({(time.perf_counter() - t0) * 1e3:.0f} ms)")
            if step == steps:
                break

    model.eval()
    with tc.no_grad():
        pred = np.concatenate([model(tc.Tensor(x_test[i:i + 500])).argmax(axis=1)
                               for i in range(0, len(x_test), 500)])
    print(f"test accuracy after {steps} steps: {float((pred == y_test).mean()):.2%}")
    assert np.isfinite(loss.item())


if __name__ == "__main__":
    main()
