"""PyTorch-parity conventions: dtypes, 0-d tensors, clip, Python protocols, aliases, top level."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import tinygrad_conv as tc
from tinygrad_conv import functional as F
from tinygrad_conv import nn

f32, f64, i32, i64 = np.float32, np.float64, np.int32, np.int64


# ---- default dtype and promotion ----------------------------------------------------------------
@pytest.mark.parametrize("data,want", [
    ([[1.0, 2.0]], f32), (3.5, f32), ([1, 2.5], f32), ((0.5,), f32),
    ([1, 2], i64), (7, i64), ([True, False], np.bool_), (True, np.bool_),
    (np.array([1.0, 2.0]), f64), (np.float64(2.0), f64), (np.array([1, 2], dtype=i32), i32),
    (np.array([1.0], dtype=np.float16), np.float16),
])
def test_default_dtype(data, want):
    assert tc.Tensor(data).dtype == want


def _t(dtype):
    return tc.Tensor(np.array([1, 2, 3]).astype(dtype))


PROMOTION = [
    ("int64 * 2.5", lambda: _t(i64) * 2.5, f32),
    ("int32 + 1.0", lambda: _t(i32) + 1.0, f32),
    ("2.5 - int32", lambda: 2.5 - _t(i32), f32),
    ("int64 / int64", lambda: _t(i64) / _t(i64), f32),
    ("int32 / 2", lambda: _t(i32) / 2, f32),
    ("7 / int32", lambda: 7 / _t(i32), f32),
    ("float32 + int32", lambda: _t(f32) + _t(i32), f32),
    ("int32 * float32", lambda: _t(i32) * _t(f32), f32),
    ("float32 * 2.0", lambda: _t(f32) * 2.0, f32),
    ("float32 * np.float64", lambda: _t(f32) * np.float64(2.0), f32),
    ("float32 + float64", lambda: _t(f32) + _t(f64), f64),
    ("float16 + 1.0", lambda: _t(np.float16) + 1.0, np.float16),
    ("int32 + 1", lambda: _t(i32) + 1, i32),
    ("int32 + int64", lambda: _t(i32) + _t(i64), i64),
    ("uint8 + 1", lambda: _t(np.uint8) + 1, np.uint8),
    ("bool + 1", lambda: _t(np.bool_) + 1, i64),
    ("bool * 1.5", lambda: _t(np.bool_) * 1.5, f32),
    ("exp(int64)", lambda: tc.exp(_t(i64)), f32),
    ("sqrt(int32)", lambda: _t(i32).sqrt(), f32),
    ("mean(int64)", lambda: _t(i64).mean(), f32),
    ("mean(bool)", lambda: _t(np.bool_).mean(), f32),
    ("sum(bool)", lambda: _t(np.bool_).sum(), i64),
    ("maximum(int32, 0.5)", lambda: F.maximum(_t(i32), 0.5), f32),
    ("where(c, float32, int64)", lambda: F.where(_t(i64) > 1, _t(f32), _t(i64)), f32),
    ("int ** 2.0", lambda: _t(i64) ** 2.0, f32),
]


@pytest.mark.parametrize("label,fn,want", PROMOTION, ids=[p[0] for p in PROMOTION])
def test_promotion(label, fn, want):
    assert fn().dtype == want


def test_int_true_division_values():
    np.testing.assert_allclose((tc.Tensor([1, 7]) / tc.Tensor([2, 2])).data, [0.5, 3.5])


def test_float32_gradient_through_promotion_to_float64():
    x = tc.Tensor(np.ones(3, dtype=f32), requires_grad=True)
    y = (x * tc.Tensor(np.arange(3.0))).sum()  # float32 * float64 -> float64, as NumPy/PyTorch
    assert y.dtype == f64
    y.backward()
    assert x.grad.dtype == f32
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, 2.0])


@pytest.mark.parametrize("layer,shape", [(lambda: nn.Linear(4, 3, rng=0), (2, 4)),
                                          (lambda: nn.Conv2d(1, 2, 3, rng=0), (2, 1, 5, 5))])
def test_float64_batch_is_cast_at_the_module_boundary(layer, shape):
    m = layer()
    x = tc.Tensor(np.random.default_rng(0).standard_normal(shape), requires_grad=True)  # float64
    y = m(x)
    assert y.dtype == f32  # the network stays float32
    y.sum().backward()
    assert x.grad.dtype == f64 and m.weight.grad.dtype == f32
    want = m(tc.Tensor(x.data.astype(f32))).data
    np.testing.assert_allclose(y.data, want, rtol=1e-6)


def test_integer_batch_is_cast_too():
    m = nn.Linear(2, 1, rng=0)
    assert m(tc.Tensor(np.array([[1, 2]], dtype=np.uint8))).dtype == f32


# ---- 0-d tensors --------------------------------------------------------------------------------
@pytest.mark.parametrize("label,fn,want", [
    ("softmax", lambda t: F.softmax(t), 1.0),
    ("softmax dim=0", lambda t: F.softmax(t, dim=0), 1.0),
    ("log_softmax", lambda t: F.log_softmax(t, axis=-1), 0.0),
    ("method softmax", lambda t: t.softmax(0), 1.0),
    ("sum axis=0", lambda t: t.sum(axis=0), 2.5),
    ("sum axis=-1", lambda t: t.sum(axis=-1), 2.5),
    ("sum keepdims", lambda t: t.sum(axis=0, keepdims=True), 2.5),
    ("mean axis=-1", lambda t: t.mean(axis=-1), 2.5),
    ("max axis=0", lambda t: t.max(axis=0), 2.5),
    ("min axis=-1", lambda t: t.min(axis=-1), 2.5),
    ("argmax axis=0", lambda t: t.argmax(axis=0), 0),
], ids=lambda v: v if isinstance(v, str) else "")
def test_zero_dim_reductions(label, fn, want):
    t = tc.Tensor(np.float64(2.5))
    out = fn(t)
    assert out.shape == () and out.item() == want


@pytest.mark.parametrize("fn", [lambda t: t.sum(axis=1), lambda t: t.sum(axis=-2),
                                lambda t: F.softmax(t, axis=1)])
def test_zero_dim_bad_axis_raises(fn):
    with pytest.raises(ValueError, match="axis"):
        fn(tc.Tensor(1.0))


def test_zero_dim_softmax_gradient_is_zero():
    x = tc.Tensor(np.float64(0.3), requires_grad=True)
    F.softmax(x).backward()
    assert x.grad == 0.0


# ---- clip ---------------------------------------------------------------------------------------
def test_clip_min_greater_than_max_gives_max():
    x = tc.Tensor(np.array([-3.0, 0.5, 9.0]), requires_grad=True)
    y = x.clip(2.0, 1.0)
    np.testing.assert_array_equal(y.data, [1.0, 1.0, 1.0])  # torch.clamp(x, 2, 1) -> all 1
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.0])


def test_clip_needs_a_bound():
    with pytest.raises(ValueError, match="clip: at least one"):
        F.clip(tc.Tensor([1.0]), None, None)
    np.testing.assert_array_equal(tc.Tensor([-1.0, 2.0]).clamp(min=0).data, [0.0, 2.0])


# ---- Python protocols ---------------------------------------------------------------------------
def test_scalar_conversions():
    assert float(tc.Tensor([[2.5]])) == 2.5 and int(tc.Tensor(7)) == 7
    assert bool(tc.Tensor([1.0])) is True and bool(tc.Tensor(0)) is False
    with pytest.raises(ValueError, match="ambiguous"):
        bool(tc.Tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        float(tc.Tensor([1.0, 2.0]))
    if tc.Tensor([3.0]) > 2:  # a one-element comparison works in an if, as in PyTorch
        pass
    else:
        pytest.fail("one-element comparison should be truthy")


def test_len_and_iteration():
    x = tc.Tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    assert len(x) == 3
    rows = list(x)
    assert [r.shape for r in rows] == [(2,)] * 3
    np.testing.assert_array_equal(rows[2].data, [4.0, 5.0])
    (rows[0] * 2 + rows[2]).sum().backward()  # rows are differentiable views
    np.testing.assert_array_equal(x.grad, [[2, 2], [0, 0], [1, 1]])
    with pytest.raises(TypeError, match="0-d"):
        len(tc.Tensor(1.0))
    with pytest.raises(TypeError, match="0-d"):
        iter(tc.Tensor(1.0)).__next__()


def test_array_protocol_is_read_only_view():
    x = tc.Tensor(np.arange(3.0), requires_grad=True)
    a = np.asarray(x)
    assert np.shares_memory(a, x.data) and not a.flags.writeable
    with pytest.raises(ValueError):
        a[0] = 5.0
    assert np.asarray(x, dtype=np.float32).dtype == f32
    c = np.array(x, copy=True)
    c[0] = 9.0
    assert x.data[0] == 0.0
    assert x.node is None  # no tape was touched


def test_repr_shows_shape_dtype_requires_grad_and_summarises():
    r = repr(tc.Tensor(np.zeros((2, 3)), requires_grad=True))
    assert "shape=(2, 3)" in r and "dtype=float64" in r and "requires_grad=True" in r
    big = repr(tc.Tensor(np.arange(5000)))
    assert "..." in big and len(big) < 300 and "shape=(5000,)" in big
    y = tc.Tensor([1.0], requires_grad=True) * 2
    assert "op=mul" in repr(y)


# ---- methods and aliases ------------------------------------------------------------------------
def test_size_numel_dim():
    x = tc.zeros(2, 3, 4)
    assert x.size() == (2, 3, 4) and x.size(1) == 3 and x.size(-1) == 4
    assert x.numel() == 24 and x.dim() == 3 and x.shape == (2, 3, 4)
    with pytest.raises(ValueError, match="size"):
        x.size(3)


SHAPE_METHODS = [
    ("view", lambda t: t.view(6, 4), lambda a: a.reshape(6, 4)),
    ("view tuple", lambda t: t.view((4, -1)), lambda a: a.reshape(4, -1)),
    ("reshape", lambda t: t.reshape(-1), lambda a: a.reshape(-1)),
    ("permute", lambda t: t.permute(2, 0, 1), lambda a: a.transpose(2, 0, 1)),
    ("permute neg", lambda t: t.permute(-1, -3, -2), lambda a: a.transpose(2, 0, 1)),
    ("unsqueeze 0", lambda t: t.unsqueeze(0), lambda a: a[None]),
    ("unsqueeze -1", lambda t: t.unsqueeze(-1), lambda a: a[..., None]),
    ("unsqueeze 1", lambda t: t.unsqueeze(1), lambda a: a[:, None]),
    ("squeeze", lambda t: t.unsqueeze(1).squeeze(), lambda a: a),
    ("squeeze dim", lambda t: t[:, :1].squeeze(1), lambda a: a[:, 0]),
    ("squeeze non-1 dim", lambda t: t.squeeze(0), lambda a: a),
    ("expand", lambda t: t[:, :1].expand(2, 3, 4), lambda a: np.broadcast_to(a[:, :1], (2, 3, 4))),
    ("expand -1 new axis", lambda t: t.expand(5, -1, -1, -1), lambda a: np.broadcast_to(a, (5, 2, 3, 4))),
    ("flatten start_dim", lambda t: t.flatten(start_dim=1), lambda a: a.reshape(2, 12)),
    ("flatten end_dim", lambda t: t.flatten(end_dim=1), lambda a: a.reshape(6, 4)),
    ("clone", lambda t: t.clone(), lambda a: a),
    ("contiguous of T", lambda t: t.permute(2, 1, 0).contiguous(), lambda a: a.transpose(2, 1, 0)),
    ("float", lambda t: t.float(), lambda a: a.astype(f32)),
    ("to", lambda t: t.to(np.float32), lambda a: a.astype(f32)),
]


@pytest.mark.parametrize("label,fn,ref", SHAPE_METHODS, ids=[s[0] for s in SHAPE_METHODS])
def test_shape_methods_forward_and_backward(label, fn, ref):
    a = np.random.default_rng(1).standard_normal((2, 3, 4))
    x = tc.Tensor(a, requires_grad=True)
    y = fn(x)
    want = ref(a)
    assert y.shape == want.shape
    np.testing.assert_allclose(y.data, want, rtol=1e-6)
    if y.dtype == f64:  # float32 casts are too coarse for central differences; checked by dtype below
        tc.gradcheck(fn, [a])
    else:
        y.sum().backward()
        assert x.grad.dtype == f64 and (x.grad == 1).all()


def test_clone_and_contiguous_copy():
    x = tc.Tensor(np.arange(6.0).reshape(2, 3))
    c = x.clone()
    c.data[0, 0] = 5.0
    assert x.data[0, 0] == 0.0
    assert x.contiguous() is x
    assert x.T.contiguous().data.flags.c_contiguous


def test_dtype_casts():
    x = tc.Tensor([1.7, -2.2])
    assert x.double().dtype == f64 and x.long().dtype == i64 and x.int().dtype == i32
    assert x.half().dtype == np.float16 and x.bool().dtype == np.bool_
    np.testing.assert_array_equal(x.long().data, [1, -2])
    assert x.to(np.float32) is x


def test_in_place_fills():
    x = tc.ones(2, 2)
    assert x.zero_() is x and (x.data == 0).all()
    x.fill_(3.0)
    assert (x.data == 3.0).all()
    p = tc.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="fill_: in-place"):
        p.fill_(0.0)
    with tc.no_grad():
        p.zero_()
    assert (p.data == 0).all()


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "var"])
def test_dim_keepdim_aliases_on_reductions(name):
    a = np.random.default_rng(2).standard_normal((2, 3, 4))
    x = tc.Tensor(a)
    ref = getattr(F, name)(x, axis=1, keepdims=True).data
    for out in (getattr(F, name)(x, dim=1, keepdim=True), getattr(x, name)(dim=1, keepdim=True),
                getattr(tc, name)(x, dim=1, keepdim=True)):
        np.testing.assert_array_equal(out.data, ref)
    assert ref.shape == (2, 1, 4)
    with pytest.raises(TypeError, match=f"{name}: got both axis= and its alias dim="):
        getattr(F, name)(x, axis=1, dim=1)
    with pytest.raises(TypeError, match="both keepdims="):
        getattr(x, name)(1, keepdims=True, keepdim=True)
    with pytest.raises(TypeError, match="both axis="):
        getattr(x, name)(1, dim=1)  # positional axis plus dim=


@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax])
def test_dim_alias_on_softmax_family(fn):
    a = np.random.default_rng(3).standard_normal((3, 4))
    np.testing.assert_array_equal(fn(a, dim=0).data, fn(a, axis=0).data)
    with pytest.raises(TypeError, match="both axis="):
        fn(a, axis=0, dim=0)


def test_argmax_argmin_tensors():
    a = np.array([[1.0, 5.0, 5.0], [7.0, -1.0, 7.0]])
    x = tc.Tensor(a)
    np.testing.assert_array_equal(x.argmax(axis=1).data, [1, 0])
    np.testing.assert_array_equal(x.argmin(dim=0).data, [0, 1, 0])
    assert x.argmax(1, keepdims=True).shape == (2, 1)
    assert x.argmax().item() == 3 and x.argmax().dtype == i64
    assert tc.argmin(tc.Tensor([np.nan, -1.0])).item() == 0  # NaN first, as NumPy


# ---- top level ----------------------------------------------------------------------------------
def test_top_level_functions():
    a, b = tc.Tensor([1.0, -2.0]), tc.Tensor([0.5, 3.0])
    np.testing.assert_array_equal(tc.cat([a, b]).data, [1.0, -2.0, 0.5, 3.0])
    assert tc.cat is tc.concatenate
    np.testing.assert_array_equal(tc.stack([a, b], dim=1).data, [[1.0, 0.5], [-2.0, 3.0]])
    np.testing.assert_array_equal(tc.maximum(a, b).data, [1.0, 3.0])
    np.testing.assert_array_equal(tc.minimum(a, b).data, [0.5, -2.0])
    np.testing.assert_array_equal(tc.where(a > 0, a, b).data, [1.0, 3.0])
    np.testing.assert_allclose(tc.exp(tc.log(b)).data, b.data, rtol=1e-6)
    assert tc.float32 == np.float32 and tc.int64 == np.int64


def test_lazy_subpackages_and_light_import():
    code = (
        "import sys, time; t = time.perf_counter(); import tinygrad_conv as tc; "
        "dt = time.perf_counter() - t; "
        "heavy = [m for m in ('matplotlib', 'graphviz', 'tinygrad_conv.viz', 'tinygrad_conv.data', "
        "'tinygrad_conv.nn', 'tinygrad_conv.optim', 'scipy', 'tqdm') if m in sys.modules]; "
        "assert not heavy, heavy; "
        "assert tc.nn.Linear and tc.optim.SGD and tc.functional.conv2d and tc.data.DataLoader; "
        "assert 'tinygrad_conv.nn' in sys.modules; "
        "assert 'matplotlib' not in sys.modules; "
        "assert tc.viz.to_dot and 'matplotlib' not in sys.modules; print(round(dt, 3))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        tc.nope  # noqa: B018
    assert "nn" in dir(tc)
