"""Property tests (hypothesis): random shapes, broadcasts, axes and dtypes against NumPy.

Forward results are compared with NumPy's own; gradients with float64 central differences
(``tc.gradcheck``). Example counts are small so the file runs in a few seconds.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis", reason="property tests need hypothesis (a dev dependency)")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

import tinygrad_conv as tc  # noqa: E402
from tinygrad_conv import functional as F  # noqa: E402
from tinygrad_conv._conventions import promote  # noqa: E402
from tinygrad_conv.autograd.registry import unbroadcast  # noqa: E402

FAST = settings(max_examples=25, deadline=None)
GRAD = settings(max_examples=12, deadline=None)

small_shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
float_dtypes = st.sampled_from([np.float32, np.float64])
num_dtypes = st.sampled_from([np.float32, np.float64, np.int32, np.int64])


def values(dtype, shape, lo=-3, hi=3):
    if np.dtype(dtype).kind == "f":
        elems = st.floats(lo, hi, allow_nan=False, allow_subnormal=False, width=np.finfo(dtype).bits)
    else:
        elems = st.integers(lo, hi)
    return hnp.arrays(dtype, shape, elements=elems)


@st.composite
def binary_operands(draw, dtypes=num_dtypes):
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=4))
    a = draw(values(draw(dtypes), shapes.input_shapes[0]))
    b = draw(values(draw(dtypes), shapes.input_shapes[1]))
    return a, b


BINARY = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "maximum": np.maximum,
          "minimum": np.minimum}


@FAST
@given(binary_operands(), st.sampled_from(sorted(BINARY)))
def test_binary_forward_matches_numpy(ab, name):
    a, b = ab
    out = getattr(F, name)(tc.Tensor(a), tc.Tensor(b))
    dt = promote(a.dtype, b.dtype)
    assert out.dtype == dt
    np.testing.assert_allclose(out.data, BINARY[name](a.astype(dt), b.astype(dt)), rtol=1e-6)


@FAST
@given(binary_operands())
def test_div_is_true_division(ab):
    a, b = ab
    b = np.where(np.abs(b) < 0.25, 1, b).astype(b.dtype)  # no division by (near-)zero
    out = tc.Tensor(a) / tc.Tensor(b)
    want_dt = promote(a.dtype, b.dtype) if a.dtype.kind == "f" or b.dtype.kind == "f" else np.float32
    assert out.dtype == want_dt
    np.testing.assert_allclose(out.data, a.astype(np.float64) / b, rtol=2e-6)


@GRAD
@given(binary_operands(dtypes=st.just(np.float64)), st.sampled_from(["add", "sub", "mul", "div"]))
def test_binary_backward_matches_central_differences(ab, name):
    a, b = ab
    if name == "div":
        b = np.where(np.abs(b) < 0.5, 1.5, b)
    tc.gradcheck(getattr(F, name), [a, b])


@GRAD
@given(binary_operands(dtypes=st.just(np.float64)))
def test_pow_where_clip_forward_and_backward(ab):
    a, b = ab
    base = np.abs(a) + 0.5  # a positive base: d/db a**b = a**b log a is defined
    np.testing.assert_allclose(F.pow(base, b).data, np.power(base, b), rtol=1e-12)
    tc.gradcheck(F.pow, [base, b])
    cond = (a + b) > 0
    np.testing.assert_array_equal(F.where(cond, a, b).data, np.where(cond, a, b))
    tc.gradcheck(lambda x, y: F.where(cond, x, y), [a, b])
    lo, hi = -0.75, 1.25
    x = np.where((np.abs(a - lo) < 1e-3) | (np.abs(a - hi) < 1e-3), 0.0, a)  # off the kinks
    np.testing.assert_array_equal(F.clip(x, lo, hi).data, np.clip(x, lo, hi))
    tc.gradcheck(lambda t: F.clip(t, lo, hi), [x])


UNARY = {
    "exp": (np.exp, -2, 2), "log": (np.log, 0.2, 3), "sqrt": (np.sqrt, 0.2, 3),
    "tanh": (np.tanh, -3, 3), "sigmoid": (lambda x: 1 / (1 + np.exp(-x)), -3, 3), "neg": (np.negative, -3, 3),
    "abs": (np.abs, 0.1, 3), "relu": (lambda x: np.maximum(x, 0), 0.1, 3),
}


@FAST
@given(small_shapes, float_dtypes, st.sampled_from(sorted(UNARY)), st.booleans(), st.integers(0, 2**16))
def test_unary_forward_and_backward(shape, dtype, name, flip, seed):
    fn, lo, hi = UNARY[name]
    a = np.random.default_rng(seed).uniform(lo, hi, shape).astype(dtype)
    if flip and name in ("abs", "relu", "tanh", "neg"):
        a = -a  # the other side of the kink
    out = getattr(F, name)(tc.Tensor(a))
    assert out.dtype == dtype
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out.data, fn(a.astype(np.float64)), rtol=rtol)
    tc.gradcheck(getattr(F, name), [a.astype(np.float64)])


@st.composite
def reduction_case(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    nd = len(shape)
    axis = draw(st.one_of(st.none(), st.integers(-nd, nd - 1),
                          hnp.valid_tuple_axes(nd, min_size=1).map(lambda t: tuple(sorted(t)))))
    # distinct values: max/min gradients are then well defined
    a = np.random.default_rng(draw(st.integers(0, 2**16))).permutation(int(np.prod(shape))).reshape(shape)
    return a.astype(np.float64) / 3.0, axis, draw(st.booleans())


REDUCTIONS = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min, "var": np.var}


@FAST
@given(reduction_case(), st.sampled_from(sorted(REDUCTIONS)))
def test_reductions_match_numpy(case, name):
    a, axis, keep = case
    out = getattr(F, name)(tc.Tensor(a), axis=axis, keepdims=keep)
    np.testing.assert_allclose(out.data, REDUCTIONS[name](a, axis=axis, keepdims=keep), rtol=1e-12)


@GRAD
@given(reduction_case(), st.sampled_from(sorted(REDUCTIONS)))
def test_reductions_backward(case, name):
    a, axis, keep = case
    tc.gradcheck(lambda t: getattr(F, name)(t, axis=axis, keepdims=keep), [a])


@st.composite
def shape_case(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=3))
    a = np.random.default_rng(draw(st.integers(0, 2**16))).standard_normal(shape)
    nd = len(shape)
    kind = draw(st.sampled_from(["reshape", "transpose", "flatten", "unsqueeze", "squeeze", "expand",
                                 "slice", "stack", "concatenate", "pad"]))
    if kind == "reshape":
        return a, lambda t: t.reshape(-1, shape[-1]), lambda x: x.reshape(-1, shape[-1])
    if kind == "transpose":
        perm = draw(st.permutations(range(nd)))
        return a, lambda t: t.transpose(perm), lambda x: x.transpose(perm)
    if kind == "flatten":
        s = draw(st.integers(0, nd - 1))
        return a, lambda t: t.flatten(s), lambda x: x.reshape(x.shape[:s] + (-1,))
    if kind == "unsqueeze":
        d = draw(st.integers(-nd - 1, nd))
        return a, lambda t: t.unsqueeze(d), lambda x: np.expand_dims(x, d)
    if kind == "squeeze":
        return a, lambda t: t.squeeze(), lambda x: np.squeeze(x)
    if kind == "expand":
        lead = draw(st.integers(0, 2))
        target = (2,) * lead + tuple(2 if s == 1 else s for s in shape)
        return a, lambda t: t.expand(target), lambda x: np.broadcast_to(x, target)
    if kind == "slice":
        steps = st.sampled_from([1, 2, -1])
        idx = tuple(slice(draw(st.integers(0, s - 1)), None, draw(steps)) for s in shape)
        return a, lambda t: t[idx], lambda x: x[idx]
    if kind == "pad":
        pw = [(draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in shape]
        return a, lambda t: t.pad(pw), lambda x: np.pad(x, pw)
    ax = draw(st.integers(-nd - 1, nd) if kind == "stack" else st.integers(-nd, nd - 1))
    fn = F.stack if kind == "stack" else F.concatenate
    ref = np.stack if kind == "stack" else np.concatenate
    return a, lambda t: fn([t, t * 2.0], axis=ax), lambda x: ref([x, x * 2.0], axis=ax)


@FAST
@given(shape_case())
def test_shape_ops_forward_and_backward(case):
    a, fn, ref = case
    np.testing.assert_array_equal(fn(tc.Tensor(a)).data, ref(a))
    tc.gradcheck(fn, [a])


CMP = {"==": np.equal, "!=": np.not_equal, "<": np.less, "<=": np.less_equal, ">": np.greater,
       ">=": np.greater_equal}


@FAST
@given(binary_operands(), st.sampled_from(sorted(CMP)), st.booleans())
def test_comparisons_match_numpy(ab, op, tensor_on_right):
    a, b = ab
    ta = tc.Tensor(a)
    ops = {"==": lambda x, y: x == y, "!=": lambda x, y: x != y, "<": lambda x, y: x < y,
           "<=": lambda x, y: x <= y, ">": lambda x, y: x > y, ">=": lambda x, y: x >= y}
    out = ops[op](b, ta) if tensor_on_right else ops[op](ta, b)
    want = CMP[op](b, a) if tensor_on_right else CMP[op](a, b)
    assert out.dtype == np.bool_
    np.testing.assert_array_equal(out.data, want)


@FAST
@given(st.data())
def test_integer_array_indexing_matches_numpy(data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    a = np.arange(float(np.prod(shape))).reshape(shape)
    n = data.draw(st.integers(1, len(shape)))
    idx_shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=2, max_side=3))
    index = tuple(data.draw(hnp.arrays(np.int64, idx_shape, elements=st.integers(-s, s - 1)))
                  for s in shape[:n])
    if data.draw(st.booleans()) and n < len(shape):
        index = (slice(None),) + index[1:] if n > 1 else index
    x = tc.Tensor(a, requires_grad=True)
    y = x[index]
    np.testing.assert_array_equal(y.data, a[index])
    g = np.arange(y.data.size, dtype=float).reshape(y.shape) + 1
    y.backward(g)
    want = np.zeros_like(a)
    np.add.at(want, index, g)
    np.testing.assert_array_equal(x.grad, want)


def brute_unbroadcast(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum every element of g into the input element it was broadcast from, one at a time."""
    out = np.zeros(shape)
    lead = g.ndim - len(shape)
    for idx in itertools.product(*(range(s) for s in g.shape)):
        src = tuple(0 if s == 1 else i for i, s in zip(idx[lead:], shape))
        out[src] += g[idx]
    return out


@FAST
@given(st.data())
def test_unbroadcast_matches_brute_force(data):
    gshape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3))
    shape = data.draw(hnp.broadcastable_shapes(gshape, min_dims=0, max_dims=len(gshape), max_side=3)
                      .filter(lambda s: np.broadcast_shapes(s, gshape) == gshape))
    g = np.random.default_rng(0).standard_normal(gshape)
    np.testing.assert_allclose(unbroadcast(g, shape), brute_unbroadcast(g, shape), rtol=1e-12)
