"""Train an MLP on mnist-sample (5,000 real MNIST digits that work offline), define-by-run.

The whole loop is visible: a forward pass records the tape, loss.backward() fills every
parameter's .grad from the registered VJPs, and the optimizer updates the weights.

Usage: python examples/mlp_mnist_sample.py [--epochs 3] [--fast]
(--fast, or TINYGRAD_CONV_FAST=1 in the environment: 256 images and 4 steps, a smoke test.)
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import tinygrad_conv as tc
from tinygrad_conv import functional as F
from tinygrad_conv import nn, optim
from tinygrad_conv.data import DataLoader, load_dataset, normalize, stats


class MLP(nn.Module):
    """784 -> 128 -> 64 -> 10 with ReLU. x: (N, 1, 28, 28) -> logits (N, 10)."""

    def __init__(self, rng: np.random.Generator) -> None:
        super().__init__()
        self.fc1 = nn.Linear(784, 128, rng=rng)
        self.fc2 = nn.Linear(128, 64, rng=rng)
        self.fc3 = nn.Linear(64, 10, rng=rng)

    def forward(self, x: tc.Tensor) -> tc.Tensor:
        x = x.flatten(1)                # (N, 784)
        x = self.fc1(x).relu()
        x = self.fc2(x).relu()
        return self.fc3(x)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--fast", action="store_true", help="tiny data, a few steps (smoke test)")
    args = p.parse_args()
    fast = args.fast or os.environ.get("TINYGRAD_CONV_FAST") == "1"

    x_train, y_train, x_test, y_test = load_dataset("mnist-sample")  # float32 in [0, 1]
    mean, std = stats("mnist-sample")
    x_train, x_test = normalize(x_train, mean, std), normalize(x_test, mean, std)
    if fast:
        x_train, y_train, x_test, y_test = x_train[:256], y_train[:256], x_test[:200], y_test[:200]
    print(f"mnist-sample: {len(x_train)} training and {len(x_test)} test images of shape {x_train.shape[1:]}")

    model = MLP(np.random.default_rng(0))
    opt = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    loader = DataLoader(x_train, y_train, batch_size=args.batch_size, shuffle=True, seed=0)
    print(f"model: {model.num_parameters():,} parameters")

    for epoch in range(1 if fast else args.epochs):
        t0, losses = time.perf_counter(), []
        for step, (xb, yb) in enumerate(loader):
            if fast and step == 4:
                break
            logits = model(tc.Tensor(xb))           # forward: every op lands on the tape
            loss = F.cross_entropy(logits, yb)      # fused softmax + cross-entropy, mean over the batch
            opt.zero_grad()
            loss.backward()                         # reverse walk over the tape
            opt.step()
            losses.append(loss.item())
        with tc.no_grad():                          # evaluation records nothing
            pred = model(tc.Tensor(x_test)).argmax(axis=1)
        acc = float((pred == y_test).mean())
        print(f"epoch {epoch + 1}: train loss {np.mean(losses):.4f}, test accuracy {acc:.2%} "
              f"({time.perf_counter() - t0:.1f}s)")
    assert np.isfinite(losses).all()


if __name__ == "__main__":
    main()
