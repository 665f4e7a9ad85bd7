"""Registry-wide checks: every op's samples through first- and second-order gradcheck (float64),
and through float32 and non-contiguous inputs against the float64 contiguous result.

The test suite, ``tinygrad-conv gradcheck`` and the docs' op table find every op through the
registry, so a new op is checked the moment it is registered (and fails without samples).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .autograd.engine import grad
from .autograd.registry import REGISTRY, Sample
from .autograd.tape import enable_grad
from .gradcheck import InputCheck, fast_check, gradcheck_report, gradgradcheck_report, vjp_function
from .tensor import Tensor, apply

# above this many checked elements the second-order check uses one random projection (and the
# element-wise check only to locate a failure): a full numeric Jacobian of a recorded VJP costs
# two forward+backward passes per element
FULL_SECOND_ORDER_MAX = 64


@dataclass
class OpCheck:
    """One registry row: an op, one of its samples, and the per-input results (first order);
    ``second`` holds the second-order results (None when not run)."""

    op: str
    label: str
    shapes: str
    inputs: list[InputCheck]
    error: str = ""
    second: list[InputCheck] | None = None
    second_error: str = ""

    @property
    def first_ok(self) -> bool:
        return not self.error and all(r.ok for r in self.inputs)

    @property
    def second_ok(self) -> bool | None:
        """None when not run (a sample on a kink, by design)."""
        if self.second is None and not self.second_error:
            return None
        return not self.second_error and all(r.ok for r in self.second or [])

    @property
    def ok(self) -> bool:
        return self.first_ok and self.second_ok is not False

    @property
    def max_abs_err(self) -> float:
        return max((r.max_abs_err for r in self.inputs), default=0.0)

    @property
    def max_rel_err(self) -> float:
        return max((r.max_rel_err for r in self.inputs), default=0.0)

    def problems(self) -> list[str]:
        """One line per failure, first order then second order."""
        out = [self.error] if self.error else []
        out += [i.describe() for i in self.inputs if not i.ok]
        if self.second_error:
            out.append(f"second order: {self.second_error}")
        out += [f"second order: {i.describe()}" for i in self.second or [] if not i.ok]
        return out


def _sample_fn(op: Any, s: Sample):
    def fn(*xs: Tensor) -> Tensor:
        return apply(op, *xs, **s.kwargs)

    fn.__name__ = op.name
    return fn


def _diff_positions(s: Sample) -> list[int]:
    return [i for i, a in enumerate(s.args) if np.asarray(a).dtype.kind == "f" and i not in s.constant]


def _second_order(fn, args: list, tol: dict) -> list[InputCheck]:
    """Element-wise second-order report for small samples; a projection check for big ones."""
    f2, args2 = vjp_function(fn, args)
    n = sum(a.data.size for a in args2 if a.requires_grad)
    if n <= FULL_SECOND_ORDER_MAX:
        return gradgradcheck_report(fn, args, **tol)
    if fast_check(f2, args2, seed=1, **tol):
        return []
    return gradcheck_report(f2, args2, seed=1, **tol)


def check_op(op: Any, registry_samples: bool = True, second_order: bool = True, **tol: Any) -> list[OpCheck]:
    """Gradcheck an op class over all its declared samples (an op with none gets a failing row).

    Every sample runs with all differentiable inputs at once, then each alone (VJPs often
    special-case "only one needs grad"); each row also runs the second-order check.
    """
    rows = []
    for s in op.samples() if registry_samples else ():
        shapes = " ".join(str(np.shape(a.data if isinstance(a, Tensor) else a)) for a in s.args)
        fn = _sample_fn(op, s)
        diff = _diff_positions(s)
        subsets = [diff] + ([[i] for i in diff] if len(diff) > 1 else [])
        for subset in subsets:
            args = [a if i in subset else Tensor(a) for i, a in enumerate(s.args)]
            label = s.label if subset is diff else f"{s.label}|only{subset[0]}"
            row = OpCheck(op.name, label, shapes, [])
            try:
                row.inputs = gradcheck_report(fn, args, **tol)
            except Exception as e:  # a crash is a failed check, reported in the table
                row.error = f"{type(e).__name__}: {e}"
            if second_order and s.second_order and not row.error:
                try:
                    row.second = _second_order(fn, args, tol)
                except Exception as e:
                    row.second_error = f"{type(e).__name__}: {e}"
            rows.append(row)
    if not rows:
        rows.append(OpCheck(op.name, "-", "-", [], error="op declares no sample inputs"))
    return rows


def check_registry(names: Sequence[str] | None = None, second_order: bool = True,
                   **tol: Any) -> list[OpCheck]:
    """check_op over every registered op (or those named)."""
    rows = []
    for name in names or REGISTRY.names():
        rows.extend(check_op(REGISTRY.get(name), second_order=second_order, **tol))
    return rows


# ---- the same samples as float32 and as non-contiguous views ---------------------------------
def _strided(a: np.ndarray) -> np.ndarray:
    """The same values as a non-contiguous view (every other element of a bigger buffer)."""
    if a.ndim == 0 or a.size == 0:
        return a
    big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), dtype=a.dtype)
    big[..., ::2] = a
    return big[..., ::2]


def _run(op: Any, s: Sample, convert, seed: int = 0) -> tuple[np.ndarray, list]:
    """Output and input gradients for one random cotangent, inputs passed through ``convert``."""
    diff = _diff_positions(s)
    ts = [Tensor(convert(np.asarray(a)) if np.asarray(a).dtype.kind == "f" else np.asarray(a),
                 requires_grad=i in diff) for i, a in enumerate(s.args)]
    with enable_grad():
        out = apply(op, *ts, **s.kwargs)
    v = np.random.default_rng(seed).standard_normal(out.shape).astype(out.dtype)
    gs = grad(out, [ts[i] for i in diff], v, allow_unused=True) if out.requires_grad and diff else []
    return out.data, [None if g is None else g.data for g in gs]


def check_variants(op: Any) -> list[str]:
    """Problems found feeding each sample as float32 and as non-contiguous float64 views.

    float32 must stay float32 (output and gradients) and match the float64 result to float32
    tolerance; a strided view must give the contiguous result exactly (to 1e-12)."""
    problems = []
    for s in op.samples():
        try:
            ref_out, ref_g = _run(op, s, lambda a: a)
            for name, convert, rtol in (("float32", lambda a: a.astype(np.float32), 2e-3),
                                        ("strided", _strided, 1e-12)):
                out, gs = _run(op, s, convert)
                if name == "float32" and op.name != "cast" and ref_out.dtype == np.float64:
                    bad = [g.dtype for g in gs if g is not None and g.dtype != np.float32]
                    if out.dtype != np.float32 or bad:
                        problems.append(f"{s.label} {name}: output {out.dtype}, gradients {bad} "
                                        "(want float32)")
                pairs = [(ref_out, out, "output")] + [(r, g, f"grad {k}") for k, (r, g) in
                                                      enumerate(zip(ref_g, gs)) if r is not None]
                for ref, got, what in pairs:
                    floating = ref.size and ref.dtype.kind == "f"
                    scale = max(1.0, float(np.max(np.abs(ref)))) if floating else 1.0
                    same = got.shape == ref.shape
                    if not same or not np.allclose(got, ref, rtol=rtol, atol=rtol * scale, equal_nan=True):
                        err = np.max(np.abs(got.astype(np.float64) - ref)) if same else "shape"
                        problems.append(f"{s.label} {name}: {what} differs from float64 contiguous "
                                        f"(max err {err})")
        except Exception as e:
            problems.append(f"{s.label}: {type(e).__name__}: {e}")
    return problems


# ---- the op table of the docs (docs/api/ops.md), generated at build time ---------------------
def op_table_markdown() -> str:
    """A Markdown table of every registered op: name, module, sample count and the first line of
    its docstring. The MkDocs hook ``docs/hooks/op_table.py`` puts it into docs/api/ops.md at
    build time, so the list cannot drift from the registry."""
    rows = ["| op | module | samples | what it computes |", "|---|---|---|---|"]
    for name in REGISTRY.names():
        op = REGISTRY.get(name)
        doc = (op.__doc__ or "").strip().split("\n")[0].replace("|", "\\|")
        n = sum(1 for _ in op.samples())
        rows.append(f"| `{name}` | `{op.__module__}` | {n} | {doc} |")
    return "\n".join(rows) + f"\n\n{len(REGISTRY)} registered ops.\n"
