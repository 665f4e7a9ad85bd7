"""Property tests (hypothesis) for the issue 12 ops against brute-force NumPy references:
prod / cumprod gradients with random zeros, random einsum contractions, gather/scatter_add
adjointness, tile and roll against NumPy."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_conv import functional as F
from tinygrad_conv.tensor import Tensor

SETTINGS = settings(max_examples=40, deadline=None)
# small integers (zeros likely, several per row sometimes): exact products, exact gradients
ints = hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4),
                  elements=st.integers(-2, 2).map(float))


@SETTINGS
@given(ints, st.data())
def test_prod_gradient_is_the_product_of_the_others(x, data):
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    t = Tensor(x, requires_grad=True)
    F.prod(t, axis=axis).sum().backward()
    ax = axis % x.ndim
    want = np.empty_like(x)
    for idx in np.ndindex(x.shape):  # brute force: delete the element, multiply the rest of its slice
        line = list(idx)
        line[ax] = slice(None)
        rest = np.delete(x[tuple(line)], idx[ax])
        want[idx] = np.prod(rest)
    np.testing.assert_array_equal(t.grad, want)


@SETTINGS
@given(ints, st.data())
def test_cumprod_gradient_matches_brute_force(x, data):
    axis = data.draw(st.integers(0, x.ndim - 1))
    g = data.draw(hnp.arrays(np.float64, x.shape, elements=st.integers(-3, 3).map(float)))
    t = Tensor(x, requires_grad=True)
    F.cumprod(t, axis).backward(g)
    np.testing.assert_array_equal(F.cumprod(x, axis).data, np.cumprod(x, axis))
    xm, gm = np.moveaxis(x, axis, -1), np.moveaxis(g, axis, -1)
    want = np.zeros_like(xm)
    n = xm.shape[-1]
    for i in range(n):  # d/dx_i sum_k g_k prod_{j<=k} x_j = sum_{k>=i} g_k prod_{j<=k, j!=i} x_j
        for k in range(i, n):
            others = np.prod(np.delete(xm[..., :k + 1], i, axis=-1), axis=-1)
            want[..., i] += gm[..., k] * others
    np.testing.assert_allclose(t.grad, np.moveaxis(want, -1, axis))


@SETTINGS
@given(st.data())
def test_random_two_operand_einsum(data):
    letters = "abcde"
    sizes = {c: data.draw(st.integers(1, 3)) for c in letters}
    sa = data.draw(st.lists(st.sampled_from(letters), min_size=1, max_size=3))
    sb = data.draw(st.lists(st.sampled_from(letters), min_size=1, max_size=3))
    used = sorted(set(sa + sb))
    out = data.draw(st.lists(st.sampled_from(used), unique=True, max_size=3))
    subs = f"{''.join(sa)},{''.join(sb)}->{''.join(out)}"
    rng = np.random.default_rng(len(subs))
    a = rng.standard_normal([sizes[c] for c in sa])
    b = rng.standard_normal([sizes[c] for c in sb])
    np.testing.assert_allclose(F.einsum(subs, a, b).data, np.einsum(subs, a, b), atol=1e-12)
    # the VJP is the adjoint: <g, einsum(a + eps d, b)> is linear in a, so compare exactly
    ta = Tensor(a, requires_grad=True)
    y = F.einsum(subs, ta, b)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    d = rng.standard_normal(a.shape)
    np.testing.assert_allclose(np.sum(ta.grad * d), np.sum(g * np.einsum(subs, d, b)), atol=1e-10)


@SETTINGS
@given(st.data())
def test_gather_and_scatter_add_are_adjoint(data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    axis = data.draw(st.integers(0, len(shape) - 1))
    ishape = tuple(data.draw(st.integers(1, s)) if d != axis else data.draw(st.integers(0, 5))
                   for d, s in enumerate(shape))
    rng = np.random.default_rng(sum(shape) + axis)
    index = rng.integers(0, shape[axis], ishape)
    x, y = rng.standard_normal(shape), rng.standard_normal(ishape)
    # <gather(x), y> == <x, scatter_add(0, y)>
    lhs = np.sum(F.gather(x, axis, index).data * y)
    rhs = np.sum(x * F.scatter_add(np.zeros(shape), axis, index, y).data)
    np.testing.assert_allclose(lhs, rhs, atol=1e-10)


@SETTINGS
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, max_side=3),
                  elements=st.floats(-5, 5)), st.data())
def test_tile_and_roll_match_numpy(x, data):
    reps = tuple(data.draw(st.lists(st.integers(0, 3), min_size=0, max_size=4)))
    np.testing.assert_array_equal(F.tile(x, reps).data, np.tile(x, reps))
    shift = data.draw(st.integers(-7, 7))
    np.testing.assert_array_equal(F.roll(x, shift).data, np.roll(x, shift))
