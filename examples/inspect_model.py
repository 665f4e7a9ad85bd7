"""Train the seed's CNN a little on mnist-sample, then look inside it: every picture + index.html.

Training logs per-layer gradient and weight norms with ``LayerNormLogger`` (passed to ``fit`` as
``on_batch``); ``inspect_checkpoint`` then draws the first-layer filters, later-layer filter
summary, feature maps, saliency, one conv output taken apart, gradient flow, the confusion matrix
and the learning curves, and writes an index.html that shows them with captions. The same as
``tinygrad-conv train ...`` followed by ``tinygrad-conv inspect RUN_DIR``.

Usage: python examples/inspect_model.py [--epochs 2] [--out runs/examples/inspect_demo] [--image 0] [--fast]
       [--docs docs/images]
(--fast, or TINYGRAD_CONV_FAST=1: 256 training images, 1 epoch, a smoke test. --docs DIR copies
the pictures there as inspect_<name>.png, which is how the README's examples are made.)
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

import numpy as np

from tinygrad_conv import optim
from tinygrad_conv.data import load_dataset
from tinygrad_conv.inspect_model import inspect_checkpoint
from tinygrad_conv.models import get_model
from tinygrad_conv.train import TrainConfig, fit
from tinygrad_conv.viz import LayerNormLogger, explain_conv_output


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--out", default="runs/examples/inspect_demo",  # runs/ is in .gitignore
                   help="run directory (pictures go to OUT/inspect)")
    p.add_argument("--image", type=int, default=0, help="test image the per-image pictures use")
    p.add_argument("--docs", metavar="DIR", help="also copy the pictures to DIR as inspect_<name>.png")
    p.add_argument("--fast", action="store_true", help="tiny data, one epoch (smoke test)")
    args = p.parse_args()
    fast = args.fast or os.environ.get("TINYGRAD_CONV_FAST") == "1"

    x_train, y_train, x_test, y_test = load_dataset("mnist-sample", normalize=True)
    epochs = 1 if fast else args.epochs
    if fast:
        x_train, y_train = x_train[:256], y_train[:256]
    cfg = TrainConfig(model="seed_cnn", dataset="mnist-sample", epochs=epochs, lr=0.05, seed=0)
    model = get_model(cfg.model, rng=np.random.default_rng(cfg.seed))
    opt = optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    run = Path(args.out)
    norms = LayerNormLogger(model, run / "layer_norms.csv")  # per-layer norms, one row per epoch
    print(f"training seed_cnn on {len(x_train)} mnist-sample digits for {epochs} epoch(s) -> {run}")
    fit(model, opt, (x_train, y_train), (x_test, y_test), epochs=epochs, batch_size=cfg.batch_size,
        seed=cfg.seed, out_dir=run, config=cfg, quiet=True, on_batch=norms, log=print,
        on_epoch=lambda epoch, history: norms.flush())  # each epoch's row from its end-of-epoch weights

    res = inspect_checkpoint(run / "checkpoint.npz", image_index=args.image,
                             limit=200 if fast else None, log=print)
    for path, title, _ in res.pictures.values():
        print(f"  {title:<28} {path} ({path.stat().st_size // 1024} KB)")
    for title, why in res.skipped.values():
        print(f"  {title:<28} skipped: {why}")

    # the numbers of the "explain one conv output" picture, printed
    e = explain_conv_output(model, x_test[args.image])
    print(f"\n{e.layer}[channel {e.out_channel}] at (y={e.y}, x={e.x}) reads input rows "
          f"{e.rows[0]}..{e.rows[-1]}, cols {e.cols[0]}..{e.cols[-1]}:\n  sum(patch * filter) = "
          f"{e.products_sum:+.5f}, + bias {e.bias:+.5f} = {e.value:+.5f}; the layer computed {e.actual:+.5f}")
    if args.docs:
        docs = Path(args.docs)
        docs.mkdir(parents=True, exist_ok=True)
        for name, (path, _, _) in res.pictures.items():
            tmp = docs / f".inspect_{name}.tmp"  # copy, then rename: never a half-written file
            shutil.copyfile(path, tmp)
            os.replace(tmp, docs / f"inspect_{name}")
        print(f"copied {len(res.pictures)} pictures to {docs}")
    print(f"\nopen {res.index}")


if __name__ == "__main__":
    main()
