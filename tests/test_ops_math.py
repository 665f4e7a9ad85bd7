"""Issue 12 elementwise and reduction ops: exact against NumPy/SciPy (and PyTorch when installed),
dtype kept, PyTorch edge cases, second order for every new registered op (helpers: op_checks)."""

import math

import numpy as np
import pytest
import scipy.special
from op_checks import gradgrad, gradgrad_op

import tinygrad_conv as tc
from tinygrad_conv import functional as F
from tinygrad_conv.tensor import Tensor, apply

NEW_OPS = [
    # ops/unary.py
    "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "log2", "log10", "log1p", "expm1",
    "exp2", "rsqrt", "reciprocal", "square", "erf", "sign", "floor", "ceil", "round", "trunc",
    "remainder", "floor_divide", "atan2",
    # ops/activation.py
    "leaky_relu", "elu", "gelu", "silu", "softplus", "mish", "softsign", "hardtanh", "hardsigmoid",
    "hardswish", "logsigmoid",
    # ops/index.py, ops/scan.py, ops/reduce_more.py, ops/einsum.py
    "flip", "roll", "gather", "scatter_add", "scatter", "cumsum", "cumprod", "prod", "logsumexp", "norm",
    "einsum",
]


def test_new_ops_are_registered():
    missing = set(NEW_OPS) - set(tc.registered_ops())
    assert not missing


@pytest.mark.parametrize("name", NEW_OPS)
def test_second_order(name):
    gradgrad_op(name)


@pytest.mark.parametrize("name", NEW_OPS)
def test_recorded_and_untracked_vjps_agree(name):
    """The VJP gives the same first-order gradient whether or not it is recorded (create_graph)."""
    op = tc.get_op(name)
    for s in op.samples():
        xs = [Tensor(a, requires_grad=np.asarray(a).dtype.kind == "f" and i not in s.constant)
              for i, a in enumerate(s.args)]
        wrt = [x for x in xs if x.requires_grad]
        y = apply(op, *xs, **s.kwargs)
        v = np.random.default_rng(0).standard_normal(y.shape)
        plain = tc.grad(y, wrt, v, retain_graph=True, allow_unused=True)
        recorded = tc.grad(y, wrt, v, create_graph=True, allow_unused=True)
        for a, b in zip(plain, recorded):
            if a is None or b is None:
                assert a is b, f"{name} [{s.label}]"
            else:
                np.testing.assert_allclose(a.data, b.data, rtol=1e-12, atol=1e-14,
                                           err_msg=f"{name} [{s.label}]")


def test_second_order_check_catches_a_constant_vjp(monkeypatch):
    """A VJP built from raw arrays is right to first order and wrong to second: it must fail."""
    op = tc.get_op("sin")
    monkeypatch.setattr(op, "vjp", staticmethod(lambda ctx, g: (g * Tensor(np.cos(ctx.inputs[0].data)),)))
    with pytest.raises(AssertionError, match="sin"):
        gradgrad_op("sin")


R = np.random.default_rng(5)
X = R.uniform(-0.9, 0.9, (3, 4))
P = R.uniform(0.2, 3.0, (3, 4))

UNARY = [  # (function, input, reference)
    (F.sin, X, np.sin), (F.cos, X, np.cos), (F.tan, X, np.tan), (F.asin, X, np.arcsin),
    (F.acos, X, np.arccos), (F.atan, X, np.arctan), (F.sinh, X, np.sinh), (F.cosh, X, np.cosh),
    (F.log2, P, np.log2), (F.log10, P, np.log10), (F.log1p, X, np.log1p), (F.expm1, X, np.expm1),
    (F.exp2, X, np.exp2), (F.rsqrt, P, lambda a: 1 / np.sqrt(a)), (F.reciprocal, P, lambda a: 1 / a),
    (F.square, X, np.square), (F.erf, X, scipy.special.erf), (F.sign, X, np.sign),
    (F.floor, X * 3, np.floor), (F.ceil, X * 3, np.ceil), (F.trunc, X * 3, np.trunc),
]


@pytest.mark.parametrize("fn,x,ref", UNARY, ids=[u[0].__name__ for u in UNARY])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unary_forward_and_dtype(fn, x, ref, dtype):
    out = fn(Tensor(x.astype(dtype)))
    assert out.dtype == dtype
    np.testing.assert_allclose(out.data, ref(x.astype(dtype)), rtol=1e-6 if dtype == np.float32 else 1e-12)


def test_round_is_half_to_even_and_rounding_grads_are_zero():
    x = Tensor(np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.4]), requires_grad=True)
    np.testing.assert_array_equal(F.round(x).data, [-2, -2, -0, 0, 2, 2, 0])
    for fn in (F.round, F.floor, F.ceil, F.trunc, F.sign):
        x.grad = None
        fn(x).sum().backward()
        np.testing.assert_array_equal(x.grad, np.zeros(7))


def test_remainder_and_floor_divide_follow_python_signs():
    a = np.array([5.5, -5.5, 5.5, -5.5, 7.0])
    b = np.array([2.0, 2.0, -2.0, -2.0, 7.0])
    r = Tensor(a) % Tensor(b)
    q = Tensor(a) // Tensor(b)
    np.testing.assert_array_equal(r.data, [1.5, 0.5, -0.5, -1.5, 0.0])
    np.testing.assert_array_equal(q.data, [2, -3, -3, 2, 1])
    np.testing.assert_array_equal((q * b + r).data, a)  # the division identity
    assert ((Tensor(a) % 3).data == np.mod(a, 3)).all() and ((7.0 % Tensor(b)).data == np.mod(7.0, b)).all()
    assert ((8 // Tensor(b)).data == np.floor_divide(8, b)).all()
    x32 = Tensor(a.astype(np.float32))
    assert (x32 % 2).dtype == np.float32 and (x32 // 2).dtype == np.float32
    with pytest.raises(ZeroDivisionError, match="remainder: integer division by zero"):
        Tensor(np.array([3, 4])) % Tensor(np.array([1, 0]))
    with pytest.raises(ZeroDivisionError, match="floor_divide"):
        Tensor(np.array([3])) // 0


def test_remainder_gradients_against_torch():
    torch = pytest.importorskip("torch")
    a, b = np.array([5.3, -5.2, 4.4]), np.array([2.1, 2.1, -1.7])
    ta, tb = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    (ta % tb).sum().backward()
    pa, pb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    torch.remainder(pa, pb).sum().backward()
    np.testing.assert_allclose(ta.grad, pa.grad.numpy())
    np.testing.assert_allclose(tb.grad, pb.grad.numpy())


def test_atan2_quadrants_and_lerp():
    a, b = np.array([1.0, 1.0, -1.0, -1.0, 0.0]), np.array([1.0, -1.0, -1.0, 1.0, -2.0])
    np.testing.assert_allclose(F.atan2(a, b).data, np.arctan2(a, b))
    np.testing.assert_allclose(Tensor(a).atan2(b).data, np.arctan2(a, b))
    s, e, w = R.standard_normal(4), R.standard_normal(4), R.uniform(0, 1, 4)
    np.testing.assert_allclose(F.lerp(s, e, w).data, s + w * (e - s))
    np.testing.assert_allclose(F.lerp(Tensor(s), e, 0.25).data, s + 0.25 * (e - s))
    assert tc.gradcheck(lambda x, y, z: F.lerp(x, y, z), [s, e, w])
    assert gradgrad(lambda x, y, z: F.lerp(x, y, z), [s, e, w])


# ---- reductions ---------------------------------------------------------------------------
@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 1)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_prod_logsumexp_norm_forward(axis, keepdims):
    x = R.standard_normal((3, 4))
    np.testing.assert_allclose(F.prod(x, axis, keepdims).data, np.prod(x, axis=axis, keepdims=keepdims))
    np.testing.assert_allclose(F.logsumexp(x, axis, keepdims).data,
                               scipy.special.logsumexp(x, axis=axis, keepdims=keepdims))
    np.testing.assert_allclose(F.norm(x, 2, axis, keepdims).data,
                               np.sqrt((x * x).sum(axis=axis, keepdims=keepdims)))


def test_prod_gradient_with_zeros_is_exact():
    x = np.array([[2.0, 0.0, 3.0, 4.0],    # one zero: only the zero's gradient is nonzero
                  [0.0, 5.0, 0.0, 1.0],    # two zeros: every gradient is 0
                  [1.0, 2.0, 3.0, 0.5]])   # none: prod / x
    t = Tensor(x, requires_grad=True)
    F.prod(t, axis=1).sum().backward()
    np.testing.assert_array_equal(t.grad, [[0, 24, 0, 0], [0, 0, 0, 0], [3, 1.5, 1, 6]])
    t.grad = None
    t.prod().backward()  # over everything: several zeros
    np.testing.assert_array_equal(t.grad, np.zeros((3, 4)))
    assert gradgrad(lambda a: F.prod(a, axis=1), [x])
    one_zero = np.array([1.5, 0.0, 2.0, -1.0])
    t2 = Tensor(one_zero, requires_grad=True)
    (g1,) = tc.grad(F.prod(t2), t2, create_graph=True)
    np.testing.assert_array_equal(g1.data, [0, -3, 0, 0])
    (h,) = tc.grad(g1[1], t2)  # d/dx_j of prod_{k != 1} x_k: the Hessian row, exact with the zero
    np.testing.assert_array_equal(h.data, [-2, 0, -1.5, 3])


def test_prod_and_cumprod_against_torch_with_zeros():
    torch = pytest.importorskip("torch")
    x = np.array([[2.0, 0.0, 3.0, 0.0, 5.0], [1.0, 2.0, 0.0, 4.0, 0.5], [1.0, 2.0, 3.0, 4.0, 0.5]])
    g = R.standard_normal(x.shape)
    t = Tensor(x, requires_grad=True)
    F.cumprod(t, dim=1).backward(g)
    p = torch.tensor(x, requires_grad=True)
    torch.cumprod(p, 1).backward(torch.tensor(g))
    np.testing.assert_allclose(t.grad, p.grad.numpy(), atol=1e-12)
    t.grad, p.grad = None, None
    F.prod(t, dim=1).backward(g[:, 0])
    torch.prod(p, 1).backward(torch.tensor(g[:, 0]))
    np.testing.assert_allclose(t.grad, p.grad.numpy(), atol=1e-12)


def test_std_matches_numpy_with_correction():
    x = R.standard_normal((4, 5))
    for corr in (0, 1):
        np.testing.assert_allclose(F.std(x, axis=1, correction=corr).data, np.std(x, axis=1, ddof=corr))
    np.testing.assert_allclose(Tensor(x).std(dim=0, keepdim=True, correction=1).data,
                               np.std(x, axis=0, ddof=1, keepdims=True))
    assert tc.gradcheck(lambda a: F.std(a, axis=1, correction=1), [x])
    assert gradgrad(lambda a: F.std(a, axis=0), [x])


def test_logsumexp_is_stable():
    x = np.array([[1000.0, 1000.0], [-1000.0, -1000.0], [-np.inf, 0.0]])
    np.testing.assert_allclose(F.logsumexp(x, axis=1).data, [1000 + math.log(2), -1000 + math.log(2), 0.0])
    assert F.logsumexp(np.full((2,), -np.inf)).item() == -np.inf
    x32 = np.array([100.0, 90.0], dtype=np.float32)
    assert F.logsumexp(x32).dtype == np.float32
    t = Tensor(np.array([1000.0, 1000.0]), requires_grad=True)
    F.logsumexp(t).backward()
    np.testing.assert_allclose(t.grad, [0.5, 0.5])


def test_norm_p_values_and_safe_gradient_at_zero():
    x = R.standard_normal((3, 4))
    for p, ref in [(1, 1), (2, 2), ("fro", "fro"), (math.inf, np.inf), (-math.inf, -np.inf), (3, 3), (0, 0)]:
        got = F.norm(x, p).data
        want = np.linalg.norm(x.reshape(-1), ord=ref if ref != "fro" else 2)
        np.testing.assert_allclose(got, want, err_msg=str(p))
    np.testing.assert_allclose(F.norm(x, 1, axis=0).data, np.abs(x).sum(0))
    for p in (1, 3, math.inf):
        assert tc.gradcheck(lambda a, p=p: F.norm(a, p, axis=1), [x])
    z = np.zeros((2, 3))
    z[1] = [3.0, 4.0, 0.0]
    t = Tensor(z, requires_grad=True)
    F.norm(t, axis=1).sum().backward()
    np.testing.assert_allclose(t.grad, [[0, 0, 0], [0.6, 0.8, 0]])  # 0, not nan, at the zero row
    t.grad = None
    F.norm(t).backward()
    assert np.isfinite(t.grad).all()
    zero = Tensor(np.zeros(3), requires_grad=True)
    (g,) = tc.grad(F.norm(zero), zero)
    np.testing.assert_array_equal(g.data, np.zeros(3))
    assert tc.gradcheck(lambda a: F.norm(a, axis=1), [z])  # first order holds at the zero row
    with pytest.raises(ValueError, match="norm: p must be"):
        F.norm(x, "nuc")


def test_cumsum_cumprod_cummax_cummin():
    x = np.array([[1.0, 3.0, 3.0, 2.0, 5.0, 5.0], [0.5, -1.0, 2.0, 2.0, -3.0, 0.0]])
    np.testing.assert_allclose(F.cumsum(x, 1).data, np.cumsum(x, 1))
    np.testing.assert_allclose(F.cumprod(x, -1).data, np.cumprod(x, -1))
    np.testing.assert_allclose(Tensor(x).cumsum(dim=0).data, np.cumsum(x, 0))
    v, i = F.cummax(x, 1)
    np.testing.assert_array_equal(v.data, np.maximum.accumulate(x, 1))
    np.testing.assert_array_equal(i.data, [[0, 1, 2, 2, 4, 5], [0, 0, 2, 3, 3, 3]])  # ties: latest
    v, i = F.cummin(x, dim=1)
    np.testing.assert_array_equal(v.data, np.minimum.accumulate(x, 1))
    assert i.dtype == np.int64
    t = Tensor(x, requires_grad=True)
    F.cummax(t, 1).values.sum().backward()
    np.testing.assert_array_equal(t.grad, [[1, 1, 2, 0, 1, 1], [2, 0, 1, 3, 0, 0]])  # to each winner
    assert tc.gradcheck(lambda a: F.cummax(a, 0).values, [R.standard_normal((4, 3))])
    with pytest.raises(TypeError, match="cumsum: axis .* is required"):
        F.cumsum(x)
    assert F.cumsum(np.float32(2.0) * np.ones(3, np.float32), 0).dtype == np.float32


def test_cumsum_against_torch():
    torch = pytest.importorskip("torch")
    x, g = R.standard_normal((3, 4)), R.standard_normal((3, 4))
    t, p = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    F.cumsum(t, 0).backward(g)
    torch.cumsum(p, 0).backward(torch.tensor(g))
    np.testing.assert_allclose(t.grad, p.grad.numpy())
    v, i = torch.cummax(torch.tensor([1.0, 3.0, 3.0, 2.0]), 0)
    mv, mi = F.cummax(np.array([1.0, 3.0, 3.0, 2.0]), 0)
    np.testing.assert_array_equal(mi.data, i.numpy())


def test_any_all_amax_amin():
    x = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    assert F.any(x).item() is True and F.all(x).item() is False
    np.testing.assert_array_equal(F.any(x, axis=1).data, [True, False])
    np.testing.assert_array_equal(Tensor(x).all(dim=0, keepdim=True).data, [[False, False, False]])
    assert F.any(x).dtype == bool and not F.any(Tensor(x, requires_grad=True)).requires_grad
    y = np.array([[1.0, 3.0, 3.0], [2.0, -1.0, -1.0]])
    np.testing.assert_array_equal(F.amax(y, 1).data, [3, 2])
    np.testing.assert_array_equal(F.amin(y, dim=1, keepdim=True).data, [[1], [-1]])
    t = Tensor(y, requires_grad=True)
    (F.amax(t, 1).sum() + F.amin(t, 1).sum()).backward()
    np.testing.assert_array_equal(t.grad, [[1, 0.5, 0.5], [1, 0.5, 0.5]])  # ties split evenly


def test_errors_name_the_op():
    with pytest.raises(ValueError, match="prod"):
        F.prod(np.ones((2, 3)), axis=2)
    with pytest.raises(ValueError, match="logsumexp"):
        F.logsumexp(np.ones((2, 3)), axis=(0, 0))
    with pytest.raises(TypeError, match="both axis= and its alias dim="):
        F.prod(np.ones(3), 0, dim=0)


def test_functional_names_are_the_functions():
    """A submodule named like a function (e.g. a ``functional/norm.py``) would shadow it on import."""
    import tinygrad_conv.functional.math as M

    for name in M.__all__:
        assert getattr(F, name) is getattr(M, name), name
    assert callable(F.norm) and callable(F.index_select) and callable(F.gelu)
