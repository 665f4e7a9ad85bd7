"""tinygrad-conv: train, evaluate and look inside small CNNs built on a NumPy autograd tape.

commands:
  train      train a model; writes checkpoint.npz, metrics.csv, curves.png, graph.svg, ... to --out
  evaluate   test loss, accuracy and per-class accuracy of a checkpoint or run directory
  graph      draw a model's computation graph (forward + loss) with Graphviz
  inspect    pictures of a trained checkpoint (filters, feature maps, saliency, ...) + index.html
  gradcheck  check every registered op's gradient against float64 finite differences

Run "tinygrad-conv COMMAND --help" for a command's options.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

MODELS = ["seed_cnn", "lenet5", "mlp"]
DATASETS = ["mnist", "fashion-mnist", "mnist-sample"]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _cmd_gradcheck(args: argparse.Namespace) -> int:
    from .autograd.registry import REGISTRY
    from .gradcheck import check_registry

    names = args.op or REGISTRY.names()
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        print(f"tinygrad-conv gradcheck: unknown op(s) {', '.join(unknown)}; "
              f"known: {', '.join(REGISTRY.names())}", file=sys.stderr)
        return 2
    rows = check_registry(names, eps=args.eps, atol=args.atol, rtol=args.rtol,
                          second_order=not args.first_only)
    head = (f"{'op':<18} {'sample':<16} {'input shapes':<30} {'max abs err':>11} {'max rel err':>11}  "
            f"{'1st':<4}  2nd")
    print(head)
    print("-" * len(head))
    for r in rows:
        second = {None: "-", True: "pass", False: "FAIL"}[r.second_ok]
        print(f"{r.op[:18]:<18} {r.label[:16]:<16} {r.shapes[:30]:<30} {r.max_abs_err:>11.2e} "
              f"{r.max_rel_err:>11.2e}  {'pass' if r.first_ok else 'FAIL':<4}  {second}")
        for problem in r.problems():
            print(f"    {problem}")
    failed = sum(not r.ok for r in rows)
    order = "first order" if args.first_only else "first and second order; '-': a sample on a kink"
    print(f"\n{len(rows) - failed}/{_plural(len(rows), 'check')} passed over {_plural(len(names), 'op')} "
          f"(float64 central differences, eps={args.eps}, atol={args.atol}, rtol={args.rtol}; {order})")
    return 1 if failed else 0


def _cmd_graph(args: argparse.Namespace) -> int:
    from .run.graph import model_for_graph, write_model_graph

    model = model_for_graph(args.model, args.checkpoint, seed=args.seed)
    out = write_model_graph(model, args.out or "graph.svg", batch=args.batch, grads=args.grads,
                            collapse=args.collapse, max_nodes=args.max_nodes, seed=args.seed,
                            fallback_to_dot=False)
    print(f"wrote {out if args.out else Path(out).resolve()}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from .run.training import run_train

    skip = ("command", "func", "threads", "debug")
    run_train(**{k: v for k, v in vars(args).items() if k not in skip})
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from .run.training import run_evaluate

    run_evaluate(args.checkpoint, args.data_dir)
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    from .inspect_model import run_inspect

    run_inspect(args.checkpoint, image=args.image, dataset=args.dataset, data_dir=args.data_dir, out=args.out,
                limit=args.limit, layer=args.layer, curvature=not args.no_curvature)
    return 0


@contextlib.contextmanager
def _blas_threads(n: int | None) -> Iterator[None]:
    """Limit BLAS to ``n`` threads for the command (None: leave the BLAS default)."""
    if n is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=n, user_api="blas"):
        yield


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {v}")
    return v


def _common() -> argparse.ArgumentParser:
    c = argparse.ArgumentParser(add_help=False)
    c.add_argument("--threads", type=_positive_int, metavar="N",
                   help="BLAS threads for this command (default: the BLAS library's own choice, usually "
                        "one per core; fewer is faster on a busy machine)")
    c.add_argument("--debug", action="store_true",
                   help="on failure show the full traceback instead of one line; also "
                        "TINYGRAD_CONV_DEBUG=1 (default: off)")
    return c


def _add_train(sub, common) -> None:
    t = sub.add_parser("train", parents=[common], help="train a model; writes checkpoint.npz, metrics.csv, "
                       "curves.png, graph.svg, ... to --out", description="Train a model (see --help of each "
                       "option for its default; with --resume, unset options keep the checkpoint's values).")
    t.add_argument("--dataset", choices=DATASETS,
                   help="default: MNIST if found or downloadable, else mnist-sample (works offline)")
    t.add_argument("--model", choices=MODELS, help="the network (default: seed_cnn)")
    t.add_argument("--epochs", type=int, help="total epochs; with --resume, the total to reach (default: 3)")
    t.add_argument("--batch-size", type=int, help="images per step (default: 64)")
    t.add_argument("--lr", type=float, help="learning rate (default: 0.05)")
    t.add_argument("--momentum", type=float, help="SGD momentum (default: 0.9)")
    t.add_argument("--weight-decay", type=float, help="L2 weight decay (default: 0)")
    t.add_argument("--optimizer", choices=["sgd", "adam"], help="default: sgd")
    t.add_argument("--schedule", choices=["none", "cosine"], help="default: cosine (lr -> 0 over the run)")
    t.add_argument("--seed", type=int, help="fixes initial weights and batch order (default: 0)")
    t.add_argument("--limit", type=int, help="train on the first N images only (default: all)")
    t.add_argument("--data", dest="data_dir", metavar="DIR",
                   help="directory holding the IDX files (default: search the usual places, see README)")
    t.add_argument("--out", metavar="DIR", help="run directory (default: runs/<model>-<dataset>)")
    t.add_argument("--resume", action="store_true",
                   help="continue from the checkpoint in --out (default: off)")
    t.add_argument("--quiet", action="store_true",
                   help="no progress bars; epoch summaries still print (default: off)")
    t.set_defaults(func=_cmd_train)


def _add_graph(sub, common) -> None:
    gr = sub.add_parser("graph", parents=[common],
                        help="draw a model's computation graph (forward + loss) with Graphviz")
    gr.add_argument("--model", choices=MODELS, default=None,
                    help="model to draw (default: the checkpoint's model, else seed_cnn)")
    gr.add_argument("--checkpoint", metavar="PATH",
                    help="load weights from this checkpoint.npz or run directory (default: fresh weights)")
    gr.add_argument("--batch", type=int, default=2,
                    help="images in the random, seeded sample batch (default: 2)")
    gr.add_argument("--grads", action="store_true",
                    help="run backward too; colour nodes by gradient norm (default: off)")
    gr.add_argument("--collapse", type=int, default=None, metavar="DEPTH",
                    help="draw modules deeper than DEPTH as single nodes; 0: one node per layer "
                         "(default: draw every op)")
    gr.add_argument("--max-nodes", type=int, default=500, help="draw at most this many nodes (default: 500)")
    gr.add_argument("--seed", type=int, default=0, help="seed of the random batch and weights (default: 0)")
    gr.add_argument("--out", default=None, metavar="FILE",
                    help="output file: .svg, .png, .pdf or .dot (.dot needs no Graphviz) (default: graph.svg "
                         "in the current directory)")
    gr.set_defaults(func=_cmd_graph)


def _add_inspect(sub, common) -> None:
    ins = sub.add_parser("inspect", parents=[common], help="pictures of a trained checkpoint (filters, "
                         "feature maps, saliency, ...) + index.html")
    ins.add_argument("checkpoint", help="a checkpoint.npz written by train, or its run directory")
    ins.add_argument("--image", type=int, default=0, metavar="INDEX",
                     help="test image to look at (default: 0)")
    ins.add_argument("--dataset", choices=DATASETS, help="default: the checkpoint's dataset")
    ins.add_argument("--data", dest="data_dir", metavar="DIR",
                     help="directory holding the IDX files (default: search the usual places)")
    ins.add_argument("--out", metavar="DIR", help="output folder (default: <run dir>/inspect)")
    ins.add_argument("--limit", type=int,
                     help="confusion matrix on the first N test images only (default: all)")
    ins.add_argument("--layer", help="the Conv2d to explain one output of (default: the first)")
    ins.add_argument("--no-curvature", action="store_true",
                     help="skip the second-order picture (top Hessian eigenvalues; a few seconds) "
                          "(default: drawn)")
    ins.set_defaults(func=_cmd_inspect)


def build_parser() -> argparse.ArgumentParser:
    """The ``tinygrad-conv`` argument parser (five commands: train, evaluate, graph, inspect, gradcheck)."""
    from . import __version__

    p = argparse.ArgumentParser(
        prog="tinygrad-conv", epilog='Run "tinygrad-conv COMMAND --help" for the options of a command.',
        description=__doc__.split("\n")[0] + " Five commands: train, evaluate, graph, inspect, gradcheck.")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    common = _common()
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", title="commands")
    _add_train(sub, common)
    ev = sub.add_parser("evaluate", parents=[common],
                        help="test loss, accuracy and per-class accuracy of a checkpoint or run directory")
    ev.add_argument("checkpoint", help="a checkpoint.npz written by train, or its run directory")
    ev.add_argument("--data", dest="data_dir", metavar="DIR",
                    help="directory holding the IDX files (default: search the usual places)")
    ev.set_defaults(func=_cmd_evaluate)
    _add_graph(sub, common)
    _add_inspect(sub, common)
    g = sub.add_parser("gradcheck", parents=[common],
                       help="check every registered op's gradient (float64) and print a table")
    g.add_argument("--op", action="append", metavar="NAME",
                   help="check only this op; repeatable (default: all)")
    g.add_argument("--eps", type=float, default=1e-6, help="finite-difference step (default: %(default)g)")
    g.add_argument("--atol", type=float, default=1e-5, help="absolute tolerance (default: %(default)g)")
    g.add_argument("--rtol", type=float, default=1e-3, help="relative tolerance (default: %(default)g)")
    g.add_argument("--first-only", action="store_true",
                   help="skip the second-order check (numeric derivative of each recorded VJP) "
                        "(default: both orders)")
    g.set_defaults(func=_cmd_gradcheck)
    return p


def _resume_hint(args: argparse.Namespace) -> str:
    parts = ["tinygrad-conv", "train", "--resume"]
    for opt in ("model", "dataset", "out", "data_dir"):
        v = getattr(args, opt, None)
        if v is not None:
            parts += ["--data" if opt == "data_dir" else f"--{opt}", str(v)]
    return " ".join(parts)


def _message(e: BaseException, args: argparse.Namespace) -> tuple[str, int]:
    """(one line for the user, exit status) for a failure of a command."""
    if isinstance(e, MemoryError):
        how_much = f" ({e})" if str(e) else ""
        hint = ""
        if args.command == "train":
            hint = f"; try a smaller --batch-size (this run: {args.batch_size or 'default 64'})"
        return f"out of memory{how_much}{hint}", 2
    if isinstance(e, OSError) and e.strerror:  # e.g. read-only file system, no space left on device
        return e.strerror + (f": {e.filename}" if e.filename else ""), 2
    if isinstance(e, KeyError):
        return f"missing entry {e.args[0]!r}: a file is incomplete or was not written by tinygrad-conv", 2
    if isinstance(e, (IndexError, OverflowError)):
        return f"{e}: a file holds inconsistent or out-of-range values", 2
    if isinstance(e, (OSError, ValueError, ModuleNotFoundError, RuntimeError)):
        return str(e), 2  # our own messages: they name the operation and what is wrong
    return (f"internal error: {type(e).__name__}: {e} (rerun with --debug for the traceback and please "
            "report it)"), 1


def _run(args: argparse.Namespace, debug: bool) -> int:
    """Run a command; every failure becomes one line ``tinygrad-conv COMMAND: message`` and a
    non-zero exit (2: something to fix, 130: interrupted, 1: a bug); ``debug`` re-raises instead."""
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        if debug:
            raise
        saved = ("; completed epochs are saved, continue with: " + _resume_hint(args)
                 if args.command == "train" else "")
        print(f"tinygrad-conv {args.command}: interrupted{saved}", file=sys.stderr)
        return 130
    except BrokenPipeError:
        raise
    except Exception as e:  # includes MemoryError and OSError; bugs get their one line too
        if debug:
            raise
        text, status = _message(e, args)
        print(f"tinygrad-conv {args.command}: {text}", file=sys.stderr)
        return status


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``tinygrad-conv``; returns the exit status."""
    from ._env import env_flag

    args = build_parser().parse_args(argv)
    try:
        debug = args.debug or env_flag("TINYGRAD_CONV_DEBUG")
    except ValueError as e:
        print(f"tinygrad-conv {args.command}: {e}", file=sys.stderr)
        return 2
    try:
        with _blas_threads(args.threads):
            return _run(args, debug)
    except BrokenPipeError:  # output piped into `head` & co.: stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    raise SystemExit(main())
