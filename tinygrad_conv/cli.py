"""Command line: ``tinygrad-conv gradcheck`` (more subcommands join as they land)."""

from __future__ import annotations

import argparse
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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tinygrad-conv", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    g = sub.add_parser("gradcheck", help="gradcheck every registered op (float64) and print a table")
    g.add_argument("--op", action="append", help="check only this op (repeatable)")
    g.add_argument("--eps", type=float, default=1e-6)
    g.add_argument("--atol", type=float, default=1e-5)
    g.add_argument("--rtol", type=float, default=1e-3)
    g.set_defaults(func=_cmd_gradcheck)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
