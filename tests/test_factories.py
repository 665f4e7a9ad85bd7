"""Tensor factories, dtype defaults, requires_grad, and the one global generator."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_conv as tc
from tinygrad_conv import nn

f32, f64, i64 = np.float32, np.float64, np.int64

FACTORIES = [
    ("zeros", lambda **k: tc.zeros(2, 3, **k), np.zeros((2, 3)), f32),
    ("zeros tuple", lambda **k: tc.zeros((2, 3), **k), np.zeros((2, 3)), f32),
    ("ones", lambda **k: tc.ones(4, **k), np.ones(4), f32),
    ("full float", lambda **k: tc.full((2, 2), 1.5, **k), np.full((2, 2), 1.5), f32),
    ("full int", lambda **k: tc.full((2,), 3, **k), np.array([3, 3]), i64),
    ("full bool", lambda **k: tc.full(2, True, **k), np.array([True, True]), np.bool_),
    ("zeros_like", lambda **k: tc.zeros_like(np.ones((2, 1))), np.zeros((2, 1)), f64),
    ("ones_like", lambda **k: tc.ones_like(tc.Tensor([1, 2])), np.ones(2), i64),
    ("full_like", lambda **k: tc.full_like(tc.zeros(3), 7.0), np.full(3, 7.0), f32),
    ("arange int", lambda **k: tc.arange(5, **k), np.arange(5), i64),
    ("arange start stop step", lambda **k: tc.arange(1, 10, 3, **k), np.arange(1, 10, 3), i64),
    ("arange float", lambda **k: tc.arange(0.0, 1.0, 0.25, **k), np.arange(0, 1, 0.25), f32),
    ("arange negative step", lambda **k: tc.arange(3, 0, -1, **k), np.array([3, 2, 1]), i64),
    ("linspace", lambda **k: tc.linspace(0, 1, 5, **k), np.linspace(0, 1, 5), f32),
    ("eye", lambda **k: tc.eye(3, **k), np.eye(3), f32),
    ("eye rect", lambda **k: tc.eye(2, 4, **k), np.eye(2, 4), f32),
]


@pytest.mark.parametrize("label,fn,want,dtype", FACTORIES, ids=[f[0] for f in FACTORIES])
def test_factory_values_and_default_dtype(label, fn, want, dtype):
    t = fn()
    assert isinstance(t, tc.Tensor) and t.dtype == dtype and not t.requires_grad
    np.testing.assert_allclose(t.data, want)


@pytest.mark.parametrize("fn", [
    lambda **k: tc.zeros(2, **k), lambda **k: tc.ones(2, **k), lambda **k: tc.empty(2, **k),
    lambda **k: tc.full(2, 1.0, **k), lambda **k: tc.zeros_like(np.ones(2), **k),
    lambda **k: tc.ones_like(np.ones(2), **k), lambda **k: tc.full_like(np.ones(2), 2, **k),
    lambda **k: tc.arange(3, **k), lambda **k: tc.linspace(0, 1, 3, **k), lambda **k: tc.eye(2, **k),
    lambda **k: tc.rand(2, **k), lambda **k: tc.randn(2, **k),
])
def test_every_factory_takes_dtype_and_requires_grad(fn):
    t = fn(dtype=np.float64, requires_grad=True)
    assert t.dtype == f64 and t.requires_grad and t.is_leaf
    (t * 2).sum().backward()
    np.testing.assert_array_equal(t.grad, np.full(t.shape, 2.0))


def test_requires_grad_needs_a_float_dtype():
    with pytest.raises(TypeError, match="floating"):
        tc.zeros(2, dtype=np.int64, requires_grad=True)
    with pytest.raises(TypeError, match="dtype 'complex128'"):
        tc.zeros(2, dtype=np.complex128)
    with pytest.raises(ValueError, match="negative dimension"):
        tc.ones(2, -1)


def test_random_factories_shapes_ranges_dtypes():
    tc.manual_seed(3)
    u = tc.rand(1000)
    assert u.dtype == f32 and u.shape == (1000,) and 0 <= u.data.min() and u.data.max() < 1
    n = tc.randn(2, 500)
    assert n.dtype == f32 and abs(float(n.data.mean())) < 0.2 and 0.8 < float(n.data.std()) < 1.2
    r = tc.randint(2, 5, (400,))
    assert r.dtype == i64 and set(np.unique(r.data)) == {2, 3, 4}
    r2 = tc.randint(3, (10,))  # randint(high, size), as torch
    assert r2.shape == (10,) and r2.data.max() < 3 and r2.data.min() >= 0
    assert tc.randn(3, dtype=np.float16).dtype == np.float16
    with pytest.raises(TypeError, match="floating"):
        tc.randn(2, dtype=np.int32)
    with pytest.raises(ValueError, match="low < high"):
        tc.randint(5, 5, (2,))


def test_manual_seed_same_seed_same_numbers_everywhere():
    def draw():
        lin = nn.Linear(3, 2)                     # default init: the global generator
        x = tc.randn(4)
        k = tc.randint(0, 100, (3,))
        w = np.empty((2, 2), dtype=np.float32)
        nn.init.normal_(w)
        drop = nn.Dropout(0.5)(tc.ones(8)).data  # a Dropout built without rng= draws from it too
        return lin.weight.data.copy(), x.data, k.data, w, drop

    tc.manual_seed(42)
    first = draw()
    tc.manual_seed(42)
    second = draw()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    tc.manual_seed(43)
    assert not np.array_equal(draw()[1], first[1])


def test_manual_seed_reseeds_the_same_generator_object():
    g = tc.default_generator()
    assert tc.manual_seed(1) is g
    a = g.standard_normal(3)
    tc.manual_seed(1)
    np.testing.assert_array_equal(g.standard_normal(3), a)


def test_from_numpy_shares_memory():
    a = np.arange(4.0)
    t = tc.from_numpy(a)
    assert t.dtype == f64 and np.shares_memory(t.data, a)
    a[0] = 9.0
    assert t.data[0] == 9.0
    with pytest.raises(TypeError, match="from_numpy"):
        tc.from_numpy([1, 2])
