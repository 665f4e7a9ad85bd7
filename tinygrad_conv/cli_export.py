"""``tinygrad-conv export CHECKPOINT --out model.onnx [--opset N]``: a trained checkpoint as an ONNX file."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any


def add_parser(subparsers: Any, parents: Sequence[argparse.ArgumentParser] = ()) -> None:
    """Register the ``export`` subcommand on the main parser's subparsers (``parents``: shared options)."""
    p = subparsers.add_parser("export", parents=list(parents),
                              help="write a checkpoint's model as an ONNX file (Netron draws it, ONNX "
                                   "Runtime runs it); needs the 'onnx' extra")
    p.add_argument("checkpoint", help="a checkpoint.npz written by train, or its run directory")
    p.add_argument("--out", default="model.onnx", help="the .onnx file to write (default model.onnx)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    p.add_argument("--model", choices=["seed_cnn", "lenet5", "mlp"],
                   help="architecture, for checkpoints without a config (default: the checkpoint's)")
    p.add_argument("--input-shape", default="1,28,28", metavar="C,H,W",
                   help="one example's shape (default 1,28,28; the batch axis stays dynamic)")
    p.add_argument("--fixed-batch", type=int, metavar="N",
                   help="write a fixed batch size N (default: a dynamic batch axis)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load the checkpoint's model, export it, print a one-line summary; 2 on an expected failure."""
    import numpy as np

    from .export import ExportError, export
    from .run.loader import load_model  # the one checkpoint -> model loader

    try:
        try:
            shape = tuple(int(s) for s in args.input_shape.split(","))
        except ValueError:
            raise ValueError(f"--input-shape must be integers C,H,W, got {args.input_shape!r}") from None
        model = load_model(args.checkpoint, args.model, op="export").model
        n = args.fixed_batch or 2
        x = np.random.default_rng(0).standard_normal((n, *shape)).astype(np.float32)
        res = export(model, x, args.out, dynamic_batch=args.fixed_batch is None, opset=args.opset)
    except (ExportError, FileNotFoundError, ModuleNotFoundError, ValueError) as e:
        print(f"tinygrad-conv export: {str(e).removeprefix('export: ')}", file=sys.stderr)
        return 2
    print(res.summary())
    print(f"open it in Netron: https://netron.app (or: pip install netron; netron {args.out})")
    return 0
