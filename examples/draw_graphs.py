"""Draw computation graphs: a small MLP and the seed's CNN, with and without gradients.

Each picture is one forward pass on a random batch of two 28x28 images plus cross-entropy
against random labels; the "grads" pictures also run backward and colour every node by the
log10 norm of its gradient (``retain_all_grads`` keeps op gradients for the picture). Also
writes the seed CNN collapsed to one node per layer, its DOT text and its JSON export.

Usage: python examples/draw_graphs.py [OUT_DIR] [--fast]   (default runs/examples/graphs; about 2 seconds)

``--fast`` (or ``TINYGRAD_CONV_FAST=1``) skips the PNG copy of the seed CNN's graph.

Without the Graphviz ``dot`` program only the .dot and .json files are written.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from tinygrad_conv.models import get_model
from tinygrad_conv.run import model_graph_root
from tinygrad_conv.viz import GraphvizNotFoundError, render, to_json


def main(out_dir: str = "runs/examples/graphs", fast: bool = False) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    models = {
        "mlp": get_model("mlp", hidden=(32,), rng=0),
        "seed_cnn": get_model("seed_cnn", rng=0),
    }
    jobs = []  # (file name, model, grads, options)
    for name, model in models.items():
        jobs.append((f"{name}.svg", model, False, {}))
        jobs.append((f"{name}_grads.svg", model, True, {"show_grads": True}))
    jobs.append(("seed_cnn_collapsed.svg", models["seed_cnn"], False, {"collapse": 0}))
    if not fast:
        jobs.append(("seed_cnn.png", models["seed_cnn"], False, {}))
    for fname, model, grads, options in jobs:
        model.zero_grad()
        loss = model_graph_root(model, batch=2, grads=grads)
        try:
            path = render(loss, out / fname, module=model, **options)
        except GraphvizNotFoundError as e:
            print(f"skipped {fname}: {e}")
            continue
        print(f"wrote {path}")
    loss = model_graph_root(models["seed_cnn"], batch=2, grads=True)
    print(f"wrote {render(loss, out / 'seed_cnn_grads.dot', module=models['seed_cnn'], show_grads=True)}")
    (out / "seed_cnn_grads.json").write_text(json.dumps(to_json(loss, module=models["seed_cnn"]), indent=1))
    print(f"wrote {out / 'seed_cnn_grads.json'}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="Draw computation graphs of an MLP and the seed CNN.")
    ap.add_argument("out_dir", nargs="?", default="runs/examples/graphs",  # runs/ is in .gitignore
                    help="output directory (default runs/examples/graphs)")
    ap.add_argument("--fast", action="store_true", help="skip the PNG (also TINYGRAD_CONV_FAST=1)")
    args = ap.parse_args()
    main(args.out_dir, fast=args.fast or os.environ.get("TINYGRAD_CONV_FAST") == "1")
