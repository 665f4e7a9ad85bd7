"""Regression tests for the silent wrong answers of issue 10, one row per finding.

Each expected value is the one PyTorch (or NumPy, where it defines the behaviour) gives. Only the
public API is used, so the tests hold whatever the engine looks like inside.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

import tinygrad_conv as tc
from tinygrad_conv import functional as F
from tinygrad_conv.tensor import apply

ROOT = Path(__file__).resolve().parents[1]


def grad_of(fn, *arrays, seed=None):
    """Gradients of sum(fn(*tensors) * seed) w.r.t. each input array (float64 leaves)."""
    ts = [tc.Tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in arrays]
    y = fn(*ts)
    g = np.ones(y.shape) if seed is None else seed
    y.backward(g)
    return [t.grad for t in ts]


# ---- comparisons are elementwise, on both sides, bool, without gradient -------------------------
X = np.array([[0.0, 1.0, 2.0], [2.0, 0.0, -1.0]])
COMPARISONS = [
    ("t == 0", lambda t: t == 0, X == 0),
    ("0 == t", lambda t: 0 == t, X == 0),
    ("t != 0", lambda t: t != 0, X != 0),
    ("0 != t", lambda t: 0 != t, X != 0),
    ("t < 1", lambda t: t < 1, X < 1),
    ("1 < t", lambda t: 1 < t, X > 1),
    ("t <= 1", lambda t: t <= 1, X <= 1),
    ("1 <= t", lambda t: 1 <= t, X >= 1),
    ("t > 1", lambda t: t > 1, X > 1),
    ("1 > t", lambda t: 1 > t, X < 1),
    ("t >= 1", lambda t: t >= 1, X >= 1),
    ("1 >= t", lambda t: 1 >= t, X <= 1),
    ("t == t", lambda t: t == t, X == X),
    ("t == row", lambda t: t == np.array([2.0, 0.0, -1.0]), X == np.array([2.0, 0.0, -1.0])),
    ("ndarray == t", lambda t: np.array([2.0, 0.0, -1.0]) == t, X == np.array([2.0, 0.0, -1.0])),
    ("ndarray < t", lambda t: np.zeros(3) < t, np.zeros(3) < X),
    ("t != tensor", lambda t: t != tc.Tensor(X[::-1].copy()), X != X[::-1]),
]


@pytest.mark.parametrize("label,fn,want", COMPARISONS, ids=[c[0] for c in COMPARISONS])
def test_comparisons_are_elementwise(label, fn, want):
    t = tc.Tensor(X, requires_grad=True)
    out = fn(t)
    assert isinstance(out, tc.Tensor), label
    assert out.dtype == np.bool_ and not out.requires_grad and out.node is None
    np.testing.assert_array_equal(out.data, want)


def test_comparison_with_non_numbers_is_plain_false():
    t = tc.Tensor([1.0, 2.0])
    assert (t == None) is False  # noqa: E711  (PyTorch: False; no elementwise compare with None)
    assert (t != "a") is True


def test_identity_hash_keeps_sets_and_dicts_working():
    a, b = tc.Tensor([1.0, 2.0]), tc.Tensor([1.0, 2.0])  # equal values, different tensors
    d = {a: "a", b: "b"}
    assert d[a] == "a" and d[b] == "b" and len({a, b}) == 2
    assert a in {a} and b not in {a}
    assert hash(a) == hash(a) and hash(a) != hash(b)
    # the engine keys its gradient table by tensor: a diamond graph must still accumulate
    x = tc.Tensor([1.0, 2.0], requires_grad=True)
    y = x * x + x
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [3.0, 5.0])


# ---- pow at 0 (PyTorch and HIPS autograd give 0) ------------------------------------------------
def test_pow_zero_exponent_gradient_at_zero_base():
    (gx,) = grad_of(lambda x: x ** 0, [0.0, 2.0])
    np.testing.assert_array_equal(gx, [0.0, 0.0])


def test_pow_gradient_of_exponent_at_zero_base():
    zero = tc.Tensor(np.zeros(2))
    (gy,) = grad_of(lambda y: zero ** y, [2.0, 0.5])
    np.testing.assert_array_equal(gy, [0.0, 0.0])


@pytest.mark.parametrize("label,fn,x,want", [
    ("abs at 0", lambda x: abs_(x), [0.0, -2.0, 3.0], [0.0, -1.0, 1.0]),
    ("relu at 0", lambda x: x.relu(), [0.0, -2.0, 3.0], [0.0, 0.0, 1.0]),
    ("x**2 at 0", lambda x: x ** 2, [0.0, 1.5], [0.0, 3.0]),
    ("x**1 at 0", lambda x: x ** 1, [0.0, 1.5], [1.0, 1.0]),
    ("x**3 at 0", lambda x: x ** 3, [0.0, -1.0], [0.0, 3.0]),
    ("maximum tie", lambda x: F.maximum(x, tc.Tensor(np.zeros(2))), [0.0, 1.0], [0.5, 1.0]),
    ("clip edge", lambda x: x.clip(0.0, 1.0), [0.0, 1.0], [1.0, 1.0]),
], ids=lambda v: v if isinstance(v, str) else "")
def test_no_nan_at_boundaries(label, fn, x, want):
    (g,) = grad_of(fn, x)
    np.testing.assert_array_equal(g, want)


def abs_(x):
    return x.abs()


# ---- min / max / argmax / argmin exact for every dtype ------------------------------------------
EXTREMES = [
    ("int32 min", np.array([5, -2**31, 7], dtype=np.int32), "min", -2**31),
    ("int32 max", np.array([5, 2**31 - 1, -2**31], dtype=np.int32), "max", 2**31 - 1),
    ("int64 min", np.array([0, -2**63], dtype=np.int64), "min", -2**63),
    ("uint8 min", np.array([0, 128, 255, 64], dtype=np.uint8), "min", 0),
    ("uint8 max", np.array([0, 128, 255, 64], dtype=np.uint8), "max", 255),
    ("bool min", np.array([True, False, True]), "min", False),
    ("bool max", np.array([False, True]), "max", True),
    ("float32 min", np.array([1.5, -3.25], dtype=np.float32), "min", -3.25),
    ("float16 max", np.array([1.5, 65504.0], dtype=np.float16), "max", 65504.0),
]


@pytest.mark.parametrize("label,arr,fn,want", EXTREMES, ids=[e[0] for e in EXTREMES])
def test_min_max_exact_for_every_dtype(label, arr, fn, want):
    out = getattr(tc.Tensor(arr), fn)()
    assert out.item() == want
    assert out.dtype == arr.dtype, f"{label}: dtype {out.dtype}"


@pytest.mark.parametrize("arr", [e[1] for e in EXTREMES], ids=[e[0] for e in EXTREMES])
def test_argmax_argmin_exact_for_every_dtype(arr):
    t = tc.Tensor(arr)
    for name in ("argmax", "argmin"):
        out = getattr(t, name)()
        assert isinstance(out, tc.Tensor) and out.dtype == np.int64
        assert out.item() == getattr(np, name)(arr)


def test_min_with_axis_matches_numpy_on_ints():
    a = np.array([[3, -2**31, 4], [2**31 - 1, 0, -5]], dtype=np.int32)
    for axis in (0, 1, -1):
        np.testing.assert_array_equal(tc.Tensor(a).min(axis=axis).data, a.min(axis=axis))


# ---- transpose with negative axes, backward -----------------------------------------------------
@pytest.mark.parametrize("axes", [(-1, 0, 1), (-1, -3, -2), (2, -3, 1)])
def test_transpose_negative_axes_backward(axes):
    x = np.arange(24.0).reshape(2, 3, 4)
    g = np.cos(np.arange(24.0)).reshape(np.transpose(x, axes).shape)
    (gx,) = grad_of(lambda t: F.transpose(t, axes), x, seed=g)
    np.testing.assert_array_equal(gx, np.transpose(g, np.argsort([a % 3 for a in axes])))


# ---- out-of-range axes raise --------------------------------------------------------------------
@pytest.mark.parametrize("label,fn", [
    ("stack 77", lambda a: F.stack([a, a], axis=77)),
    ("stack -4", lambda a: F.stack([a, a], axis=-4)),
    ("stack 3", lambda a: F.stack([a, a], axis=3)),
    ("concatenate 2", lambda a: F.concatenate([a, a], axis=2)),
    ("concatenate 77", lambda a: F.concatenate([a, a], axis=77)),
    ("concatenate -3", lambda a: F.concatenate([a, a], axis=-3)),
    ("sum 2", lambda a: a.sum(axis=2)),
    ("softmax 5", lambda a: F.softmax(a, axis=5)),
    ("unsqueeze 4", lambda a: a.unsqueeze(4)),
], ids=lambda v: v if isinstance(v, str) else "")
def test_out_of_range_axis_raises(label, fn):
    a = tc.Tensor(np.ones((2, 3)))
    with pytest.raises((ValueError, IndexError), match=r"(?i)axis|dim"):
        fn(a)


def test_stack_in_range_axes_match_numpy():
    a, b = np.arange(6.0).reshape(2, 3), -np.arange(6.0).reshape(2, 3)
    for axis in (-3, -2, -1, 0, 1, 2):
        np.testing.assert_array_equal(F.stack([a, b], axis=axis).data, np.stack([a, b], axis=axis))


# ---- matmul backward with an empty operand ------------------------------------------------------
@pytest.mark.parametrize("sa,sb", [((0,), (0, 8)), ((3, 0), (0, 4)), ((0, 5), (5, 2))])
def test_matmul_backward_with_empty_operand(sa, sb):
    a, b = np.zeros(sa), np.zeros(sb)
    out_shape = (a @ b).shape
    ga, gb = grad_of(lambda x, y: x @ y, a, b, seed=np.ones(out_shape))
    assert ga.shape == sa and gb.shape == sb
    np.testing.assert_array_equal(ga, np.ones(out_shape) @ b.T if a.ndim == 2 else np.zeros(sa))
    np.testing.assert_array_equal(gb, np.zeros(sb))


# ---- var with a too-large correction, mean over an empty axis -----------------------------------
@pytest.mark.parametrize("x,correction,want", [
    ([1.0, 3.0], 2, np.inf),       # n - correction = 0, sum of squares 2 -> inf
    ([1.0, 3.0], 5, np.inf),       # negative degrees of freedom clamp to 0, as PyTorch
    ([2.0, 2.0], 3, np.nan),       # 0 / 0
    ([4.0], 1, np.nan),
])
def test_var_correction_larger_than_count(x, correction, want):
    with pytest.warns(RuntimeWarning, match="var"):
        out = F.var(tc.Tensor(x), correction=correction)
    np.testing.assert_array_equal(out.data, want)


def test_var_correction_matches_numpy_ddof():
    a = np.random.default_rng(0).standard_normal((4, 5))
    for c in (0, 1, 2):
        np.testing.assert_allclose(F.var(tc.Tensor(a), axis=1, correction=c).data, a.var(axis=1, ddof=c))


def test_mean_over_empty_axis_is_nan_with_warning():
    x = tc.Tensor(np.zeros((0, 3)))
    with pytest.warns(RuntimeWarning):
        out = x.mean(axis=0)
    assert out.shape == (3,) and np.isnan(out.data).all()
    with pytest.warns(RuntimeWarning):
        assert np.isnan(x.mean().item())


# ---- only bool, integer and floating tensors ----------------------------------------------------
@pytest.mark.parametrize("data,dtype_name", [
    (np.array(["a", "b"]), "str"),
    (np.array([b"a"]), "bytes"),
    (np.array([1 + 2j]), "complex"),
    (np.array([object()]), "object"),
    (["a", "b"], "str"),
    (1 + 2j, "complex"),
])
def test_tensor_refuses_non_numeric_dtypes(data, dtype_name):
    with pytest.raises(TypeError, match=f"dtype '{dtype_name}"):
        tc.Tensor(data)


def test_tensor_refuses_non_numeric_dtype_argument():
    with pytest.raises(TypeError, match="complex"):
        tc.Tensor([1.0], dtype=np.complex64)


# ---- the NumPy floor covers the APIs the code uses ----------------------------------------------
def test_numpy_floor_and_constraints_file_agree():
    text = (ROOT / "pyproject.toml").read_text()
    deps = text.split("dependencies = [", 1)[1].split("]", 1)[0]  # tomllib is Python 3.11+
    floors = dict(re.findall(r'"([A-Za-z0-9_-]+)>=([0-9.]+)"', deps))
    major, minor = (int(p) for p in floors["numpy"].split(".")[:2])
    assert (major, minor) >= (1, 25), "np.exceptions.AxisError needs NumPy >= 1.25"
    assert tuple(int(p) for p in floors["numpy"].split(".")) >= (1, 25, 2), "np.add.at crashes before 1.25.2"
    pins = dict(line.split("==") for line in (ROOT / "constraints-min.txt").read_text().splitlines()
                if line and not line.startswith("#"))
    def v3(v):
        return (tuple(int(p) for p in v.split(".")) + (0, 0, 0))[:3]

    for name, floor in floors.items():
        assert v3(pins[name]) == v3(floor), f"{name}: constraints-min.txt {pins[name]} != pyproject {floor}"


# ---- the registry-wide check in float32 and on non-contiguous inputs ----------------------------
def _run(op, args, kwargs, constant=(), cotangent_seed=0):
    """Forward and VJP of one op through the public apply(), seeded with a fixed cotangent."""
    ts = [tc.Tensor(a, requires_grad=(np.asarray(a).dtype.kind == "f" and i not in constant))
          for i, a in enumerate(args)]
    out = apply(op, *ts, **kwargs)
    if not out.requires_grad:
        return out.data, []
    g = np.random.default_rng(cotangent_seed).standard_normal(out.shape).astype(out.dtype)
    out.backward(g)
    return out.data, [t.grad for t in ts if t.requires_grad]


def _non_contiguous(a):
    a = np.asarray(a)
    if a.dtype.kind != "f" or a.ndim == 0 or a.size == 0:
        return a
    wide = np.repeat(a, 2, axis=-1)  # every other column of a wider array: strided, not contiguous
    view = wide[..., ::2]
    assert not view.flags.c_contiguous or a.shape[-1] <= 1
    return view


def _samples():
    for name in tc.registered_ops():
        op = tc.get_op(name)
        for i, s in enumerate(op.samples()):
            yield pytest.param(op, s, id=f"{name}-{s.label or i}")


@pytest.mark.parametrize("op,sample", list(_samples()))
def test_registry_float32_and_non_contiguous_match_float64(op, sample):
    c = sample.constant
    want_out, want_grads = _run(op, sample.args, sample.kwargs, c)
    out, grads = _run(op, tuple(_non_contiguous(a) for a in sample.args), sample.kwargs, c)
    np.testing.assert_allclose(out, want_out, rtol=1e-12, atol=1e-12, err_msg=f"{op.name} non-contiguous")
    for g, w in zip(grads, want_grads):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12, err_msg=f"{op.name} non-contiguous grad")
    f32 = tuple(np.asarray(a, dtype=np.float32) if np.asarray(a).dtype.kind == "f" else a
                for a in sample.args)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        out, grads = _run(op, f32, sample.kwargs, c)
    if want_out.dtype.kind == "f" and "dtype" not in sample.kwargs:  # cast chooses its own dtype
        assert out.dtype == np.float32, f"{op.name}: float32 in, {out.dtype} out"
    scale = max(1.0, float(np.max(np.abs(want_out))) if want_out.size else 1.0)
    np.testing.assert_allclose(out, want_out, rtol=1e-4, atol=1e-4 * scale, err_msg=f"{op.name} float32")
    for g, w in zip(grads, want_grads):
        assert g.dtype == np.float32, f"{op.name}: float32 input got a {g.dtype} gradient"
        gs = max(1.0, float(np.max(np.abs(w))) if w.size else 1.0)
        np.testing.assert_allclose(g, w, rtol=1e-3, atol=1e-4 * gs, err_msg=f"{op.name} float32 grad")
