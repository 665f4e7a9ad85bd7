"""Command line: ``tinygrad-conv train | evaluate | graph | gradcheck | inspect | export``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence


def _cmd_gradcheck(args: argparse.Namespace) -> int:
    from .autograd.registry import REGISTRY
    from .gradcheck import check_registry

    names = args.op or REGISTRY.names()
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        print(f"gradcheck: unknown op(s) {', '.join(unknown)}; known: {', '.join(REGISTRY.names())}",
              file=sys.stderr)
        return 2
    rows = check_registry(names, eps=args.eps, atol=args.atol, rtol=args.rtol)
    head = f"{'op':<14} {'sample':<16} {'input shapes':<34} {'max abs err':>11} {'max rel err':>11}  result"
    print(head)
    print("-" * len(head))
    for r in rows:
        status = "pass" if r.ok else "FAIL"
        print(f"{r.op:<14} {r.label[:16]:<16} {r.shapes[:34]:<34} {r.max_abs_err:>11.2e} "
              f"{r.max_rel_err:>11.2e}  {status}")
        if r.error:
            print(f"    {r.error}")
        for i in r.inputs:
            if not i.ok:
                print(f"    {i.describe()}")
    failed = sum(not r.ok for r in rows)
    print(f"\n{len(rows) - failed}/{len(rows)} checks passed over {len(names)} ops (float64 central "
          f"differences, eps={args.eps}, atol={args.atol}, rtol={args.rtol})")
    return 1 if failed else 0


def _cmd_graph(args: argparse.Namespace) -> int:
    from .viz.graph_render import GraphvizNotFoundError, model_for_graph, write_model_graph

    try:
        model = model_for_graph(args.model, args.checkpoint, seed=args.seed)
        out = write_model_graph(model, args.out, batch=args.batch, grads=args.grads, collapse=args.collapse,
                                max_nodes=args.max_nodes, seed=args.seed, fallback_to_dot=False)
    except (GraphvizNotFoundError, ValueError, FileNotFoundError) as e:
        print(e, file=sys.stderr)
        return 1
    print(f"wrote {out}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from .train import run_train

    opts = {k: v for k, v in vars(args).items() if k not in ("command", "func")}
    return _report_errors("train", lambda: run_train(**opts))


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from .train import run_evaluate

    return _report_errors("evaluate", lambda: run_evaluate(args.checkpoint, args.data_dir))


def _cmd_inspect(args: argparse.Namespace) -> int:
    from .inspect_model import run_inspect

    return _report_errors("inspect", lambda: run_inspect(
        args.checkpoint, image=args.image, dataset=args.dataset, data_dir=args.data_dir, out=args.out,
        limit=args.limit, layer=args.layer))


def _report_errors(cmd: str, fn) -> int:
    """Run ``fn``; expected failures (missing data or checkpoint, bad options) become one message + exit 2."""
    try:
        fn()
    except (FileNotFoundError, ModuleNotFoundError, ValueError) as e:
        print(f"tinygrad-conv {cmd}: {e}", file=sys.stderr)
        return 2
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tinygrad-conv", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    g = sub.add_parser("gradcheck", help="gradcheck every registered op (float64) and print a table")
    g.add_argument("--op", action="append", help="check only this op (repeatable)")
    g.add_argument("--eps", type=float, default=1e-6)
    g.add_argument("--atol", type=float, default=1e-5)
    g.add_argument("--rtol", type=float, default=1e-3)
    g.set_defaults(func=_cmd_gradcheck)
    t = sub.add_parser("train", help="train a model; writes checkpoint.npz, metrics.csv, curves.png, "
                                     "graph.svg, ... to --out")
    t.add_argument("--dataset", choices=["mnist", "fashion-mnist", "mnist-sample"],
                   help="default: MNIST if found or downloadable, else mnist-sample (works offline)")
    t.add_argument("--model", choices=["seed_cnn", "lenet5", "mlp"], help="default: seed_cnn")
    t.add_argument("--epochs", type=int, help="total epochs (default 3)")
    t.add_argument("--batch-size", type=int, help="default 64")
    t.add_argument("--lr", type=float, help="learning rate (default 0.05)")
    t.add_argument("--momentum", type=float, help="SGD momentum (default 0.9)")
    t.add_argument("--weight-decay", type=float, help="default 0")
    t.add_argument("--optimizer", choices=["sgd", "adam"], help="default sgd")
    t.add_argument("--schedule", choices=["none", "cosine"], help="default cosine (lr -> 0 over the run)")
    t.add_argument("--seed", type=int, help="fixes initial weights and batch order (default 0)")
    t.add_argument("--limit", type=int, help="train on the first N images only (quick runs)")
    t.add_argument("--data", dest="data_dir", metavar="DIR", help="directory holding the IDX files")
    t.add_argument("--out", metavar="DIR", help="run directory (default runs/<model>-<dataset>)")
    t.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    t.add_argument("--quiet", action="store_true", help="no progress bars (epoch summaries still print)")
    t.set_defaults(func=_cmd_train)
    ev = sub.add_parser("evaluate", help="test loss, accuracy and per-class accuracy of a checkpoint")
    ev.add_argument("checkpoint", help="a checkpoint.npz written by train")
    ev.add_argument("--data", dest="data_dir", metavar="DIR", help="directory holding the IDX files")
    ev.set_defaults(func=_cmd_evaluate)
    gr = sub.add_parser("graph", help="draw a model's computation graph (forward + loss) with Graphviz")
    gr.add_argument("--model", choices=["seed_cnn", "lenet5", "mlp"], default=None,
                    help="model to draw (default: the checkpoint's model, else seed_cnn)")
    gr.add_argument("--checkpoint", help="load weights from this checkpoint .npz (model.* arrays)")
    gr.add_argument("--batch", type=int, default=2, help="images in the sample batch (random, seeded)")
    gr.add_argument("--grads", action="store_true", help="run backward too; colour nodes by gradient norm")
    gr.add_argument("--collapse", type=int, default=None, metavar="DEPTH",
                    help="draw modules deeper than DEPTH as single nodes (0: one node per layer)")
    gr.add_argument("--max-nodes", type=int, default=500, help="draw at most this many nodes")
    gr.add_argument("--seed", type=int, default=0)
    gr.add_argument("--out", default="graph.svg",
                    help="output file: .svg, .png, .pdf or .dot (.dot needs no Graphviz)")
    gr.set_defaults(func=_cmd_graph)
    ins = sub.add_parser("inspect", help="pictures of a trained checkpoint (filters, feature maps, saliency, "
                                         "...) + index.html")
    ins.add_argument("checkpoint", help="a checkpoint.npz written by train, or its run directory")
    ins.add_argument("--image", type=int, default=0, metavar="INDEX",
                     help="test image to look at (default 0)")
    ins.add_argument("--dataset", choices=["mnist", "fashion-mnist", "mnist-sample"],
                     help="default: the checkpoint's dataset")
    ins.add_argument("--data", dest="data_dir", metavar="DIR", help="directory holding the IDX files")
    ins.add_argument("--out", metavar="DIR", help="output folder (default <run dir>/inspect)")
    ins.add_argument("--limit", type=int, help="confusion matrix on the first N test images only")
    ins.add_argument("--layer", help="the Conv2d to explain one output of (default: the first)")
    ins.set_defaults(func=_cmd_inspect)
    from . import cli_export  # the export subcommand lives in its own module

    cli_export.add_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except BrokenPipeError:  # output piped into `head` & co.: stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    raise SystemExit(main())
