"""One parametrised gradcheck over every registered op (float64), plus proof that it can fail."""

import numpy as np
import pytest

import tinygrad_conv as tc
from tinygrad_conv.autograd.registry import Op, Registry, Sample
from tinygrad_conv.gradcheck import GradcheckError, check_op
from tinygrad_conv.registry_check import check_variants
from tinygrad_conv.tensor import Tensor, apply


@pytest.mark.parametrize("name", tc.registered_ops())
def test_every_op_passes_gradcheck(name):
    """First and second order, float64, every sample (all inputs, then each alone)."""
    rows = check_op(tc.get_op(name))
    assert rows, name
    assert any(r.second_ok is not None for r in rows), "second order not run"
    bad = [f"{r.label}: {r.problems()}" for r in rows if not r.ok]
    assert not bad, f"{name} failed gradcheck:\n" + "\n".join(bad)


@pytest.mark.parametrize("name", tc.registered_ops())
def test_every_op_float32_and_non_contiguous(name):
    """float32 stays float32 and matches float64; a strided view gives the contiguous result."""
    problems = check_variants(tc.get_op(name))
    assert not problems, f"{name}:\n" + "\n".join(problems)


def test_registry_is_sorted_and_has_core_ops():
    names = tc.registered_ops()
    assert names == sorted(names)
    for op in ["add", "sub", "mul", "div", "pow", "exp", "log", "matmul", "sum", "mean", "max",
               "reshape", "transpose", "getitem", "concatenate", "pad", "relu", "sigmoid", "tanh"]:
        assert op in names


scratch = Registry()


@scratch.register("bad_square")
class BadSquare(Op):
    """x**2 with a deliberately wrong VJP (g * x instead of 2 g x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        return x * x

    @staticmethod
    def vjp(ctx, g):
        return (g * ctx.saved[0],)

    @staticmethod
    def samples():
        yield Sample((np.array([1.0, -2.0, 3.0]),))


@scratch.register("no_samples")
class NoSamples(Op):
    @staticmethod
    def forward(ctx, x):
        return x

    @staticmethod
    def vjp(ctx, g):
        return (g,)


def test_wrong_vjp_is_caught_with_location():
    rows = check_op(BadSquare)
    assert not rows[0].ok
    worst = rows[0].inputs[0]
    assert worst.worst == (2,) and worst.analytic != pytest.approx(worst.numeric)
    with pytest.raises(GradcheckError, match=r"input 0 .*worst at index \(2,\).*analytic .* vs numeric"):
        tc.gradcheck(lambda x: apply(BadSquare, x), [np.array([1.0, -2.0, 3.0])])
    with pytest.raises(GradcheckError, match="worst at index"):
        tc.gradcheck(lambda x: apply(BadSquare, x), [np.array([1.0, -2.0, 3.0])], fast=True)


def test_op_without_samples_fails():
    rows = check_op(NoSamples)
    assert len(rows) == 1 and not rows[0].ok and "no sample" in rows[0].error


def test_scratch_registry_is_separate():
    assert "bad_square" in scratch and "bad_square" not in tc.registered_ops()
    with pytest.raises(ValueError, match="already registered"):
        scratch.register("bad_square")(BadSquare)


def test_cli_gradcheck_table_and_exit_code(capsys):
    from tinygrad_conv.cli import main

    assert main(["gradcheck", "--op", "mul", "--op", "tanh"]) == 0
    out = capsys.readouterr().out
    assert "mul" in out and "tanh" in out and "pass" in out and "FAIL" not in out
    assert "2nd" in out and "first and second order" in out
    assert main(["gradcheck", "--op", "nonexistent"]) == 2


def test_cli_gradcheck_fails_on_broken_vjp(monkeypatch, capsys):
    """Break tanh's VJP in place (the seed's bug: derivative = tanh) and check the CLI reports it."""
    from tinygrad_conv.cli import main

    tanh = tc.get_op("tanh")
    monkeypatch.setattr(tanh, "vjp", staticmethod(lambda ctx, g: (g * ctx.output(),)))
    assert main(["gradcheck", "--op", "tanh"]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_cli_gradcheck_second_order_column_catches_a_disconnected_vjp(monkeypatch, capsys):
    """tanh's VJP with the derivative as a constant array: first order passes, second order fails."""
    from tinygrad_conv.cli import main

    tanh = tc.get_op("tanh")
    monkeypatch.setattr(tanh, "vjp", staticmethod(lambda ctx, g: (g * (1 - ctx.output().data ** 2),)))
    assert main(["gradcheck", "--op", "tanh"]) == 1
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("tanh ")]
    assert lines and all(" pass  FAIL" in ln for ln in lines)
    assert main(["gradcheck", "--op", "tanh", "--first-only"]) == 0


def test_gradcheck_fast_mode_passes_and_accepts_tensors():
    x = Tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    w = Tensor(np.random.default_rng(1).standard_normal((5, 4)))  # constant: not checked
    assert tc.gradcheck(lambda a, b: tc.functional.linear(a, b).tanh(), [x, w], fast=True)
    assert tc.gradcheck(lambda a, b: tc.functional.linear(a, b).tanh(), [x, w])


def test_docs_op_table_lists_every_registered_op():
    from pathlib import Path

    from tinygrad_conv.registry_check import op_table_markdown

    table = op_table_markdown()
    for name in tc.registered_ops():
        assert f"| `{name}` |" in table
    root = Path(__file__).resolve().parents[1]
    assert "<!-- op-table -->" in (root / "docs" / "api" / "ops.md").read_text()
    assert "docs/hooks/op_table.py" in (root / "mkdocs.yml").read_text()
