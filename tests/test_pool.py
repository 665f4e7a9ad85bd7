"""max_pool2d / avg_pool2d: loop references (PyTorch's first-max routing), sizes, dtype, errors."""

import numpy as np
import pytest

import tinygrad_conv as tc
from tinygrad_conv import Tensor
from tinygrad_conv import functional as F


def ref_max_pool(x, g, k, s, p):
    """Plain loops. Forward: window max over -inf padding. Backward: each window's gradient goes
    to its FIRST maximum in row-major window order (PyTorch's rule)."""
    N, C, H, W = x.shape
    (kh, kw), (sh, sw), (ph, pw) = k, s, p
    Ho, Wo = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
    out, dx = np.zeros((N, C, Ho, Wo)), np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for r in range(Ho):
                for q in range(Wo):
                    best, where = -np.inf, None
                    for i in range(kh):
                        for j in range(kw):
                            hh, ww = r * sh + i - ph, q * sw + j - pw
                            if 0 <= hh < H and 0 <= ww < W and x[n, c, hh, ww] > best:
                                best, where = x[n, c, hh, ww], (hh, ww)
                    out[n, c, r, q] = best
                    dx[n, c, where[0], where[1]] += g[n, c, r, q]
    return out, dx


def ref_avg_pool(x, k, s, p):
    N, C, H, W = x.shape
    (kh, kw), (sh, sw), (ph, pw) = k, s, p
    xp = np.zeros((N, C, H + 2 * ph, W + 2 * pw))
    xp[:, :, ph:ph + H, pw:pw + W] = x
    Ho, Wo = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
    out = np.zeros((N, C, Ho, Wo))
    for r in range(Ho):
        for q in range(Wo):
            out[:, :, r, q] = xp[:, :, r * sh:r * sh + kh, q * sw:q * sw + kw].sum(axis=(2, 3)) / (kh * kw)
    return out


# (x shape, kernel, stride, padding)
CONFIGS = [
    ((2, 3, 4, 6), (2, 2), (2, 2), (0, 0)),
    ((1, 2, 5, 7), (2, 2), (2, 2), (0, 0)),  # floor: last row / column unused
    ((1, 2, 5, 6), (3, 3), (1, 1), (0, 0)),  # overlapping
    ((2, 2, 6, 5), (3, 2), (2, 1), (1, 0)),  # non-square, overlapping in w, padded in h
    ((1, 3, 5, 5), (3, 3), (2, 2), (1, 1)),
    ((1, 1, 7, 7), (2, 2), (3, 3), (1, 0)),  # gaps between windows
    ((1, 2, 4, 4), (4, 4), (4, 4), (2, 2)),
    ((3, 2, 5, 5), (3, 3), (1, 1), (1, 1)),  # overlapping and padded, N and C > 1
    ((2, 2, 6, 9), (3, 3), (3, 3), (0, 0)),  # tiling exactly with 3x3 windows
    ((2, 3, 6, 4), (3, 2), (3, 2), (0, 0)),  # tiling exactly, non-square
]


def _attrs(k, s, p):
    return {"kernel_size": k, "stride": s, "padding": p}


@pytest.mark.parametrize("cnhw", [False, True])
@pytest.mark.parametrize("values", ["random", "ties", "relu"])
@pytest.mark.parametrize("xs,k,s,p", CONFIGS)
def test_max_pool_forward_and_first_max_routing(xs, k, s, p, values, cnhw):
    rng = np.random.default_rng(0)
    if values == "random":
        x = rng.standard_normal(xs)
    elif values == "ties":
        x = rng.integers(0, 3, xs).astype(np.float64)  # many tied maxima
    else:
        x = np.maximum(rng.standard_normal(xs), 0.0)  # after ReLU: all-zero windows are common
    if cnhw:  # channel-major memory, as conv2d's output
        x = np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    xt = Tensor(x, requires_grad=True)
    y = F.max_pool2d(xt, k, s, p)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    want_y, want_dx = ref_max_pool(x, g, k, s, p)
    np.testing.assert_array_equal(y.data, want_y)
    np.testing.assert_allclose(xt.grad, want_dx, rtol=1e-12, atol=1e-12)


def test_all_zero_window_routes_to_its_top_left():
    x = Tensor(np.zeros((1, 1, 4, 4)), requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    want = np.zeros((4, 4))
    want[::2, ::2] = 1.0
    np.testing.assert_array_equal(x.grad[0, 0], want)


def test_tie_routes_to_first_in_row_major_order():
    x = Tensor(np.array([[0.0, 5.0], [5.0, 1.0]]).reshape(1, 1, 2, 2), requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad[0, 0], [[0.0, 1.0], [0.0, 0.0]])


def test_overlapping_windows_accumulate_on_a_shared_max():
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 1] = 3.0  # in all four 3x3 / stride 1 windows
    xt = Tensor(x, requires_grad=True)
    F.max_pool2d(xt, 3, 1).sum().backward()
    assert xt.grad[0, 0, 1, 1] == 4.0 and xt.grad.sum() == 4.0


@pytest.mark.parametrize("xs,k,s,p", CONFIGS)
def test_avg_pool_matches_reference_and_gradcheck(xs, k, s, p):
    x = np.random.default_rng(1).standard_normal(xs)
    y = F.avg_pool2d(x, k, s, p)
    np.testing.assert_allclose(y.data, ref_avg_pool(x, k, s, p), rtol=1e-12, atol=1e-14)
    assert tc.gradcheck(lambda t: F.avg_pool2d(t, k, s, p), [x], fast=True)


def test_avg_pool_counts_padding_in_divisor():
    y = F.avg_pool2d(np.ones((1, 1, 2, 2)), 2, stride=1, padding=1)
    np.testing.assert_allclose(y.data[0, 0], [[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]])


@pytest.mark.parametrize("pool", [F.max_pool2d, F.avg_pool2d])
def test_stride_defaults_to_kernel_and_floor_size(pool):
    y = pool(np.ones((2, 3, 7, 9)), 2)
    assert y.shape == (2, 3, 3, 4)
    assert y.node is None
    assert pool(np.ones((1, 1, 7, 9)), (3, 2), stride=(2, 3), padding=(1, 1)).shape == (1, 1, 4, 4)


@pytest.mark.parametrize("pool", [F.max_pool2d, F.avg_pool2d])
def test_float32_preserved(pool):
    x = Tensor(np.random.default_rng(2).standard_normal((2, 2, 6, 6)).astype(np.float32), requires_grad=True)
    for kw in ({"kernel_size": 2}, {"kernel_size": 3, "stride": 1, "padding": 1}):
        x.grad = None
        y = pool(x, **kw)
        assert y.dtype == np.float32
        y.sum().backward()
        assert x.grad.dtype == np.float32


@pytest.mark.parametrize("pool", ["max_pool2d", "avg_pool2d"])
@pytest.mark.parametrize("order, frame", [("conv-view", "CHWN"), ("cnhw", "CNHW"), ("nchw", "NCHW")])
def test_pool_memory_orders_with_ties(pool, order, frame):
    """conv2d hands back (N, C, H, W) views of batch-last (C, H, W, N) memory; pooling works in the
    axis order where its input is contiguous, and every order must give the reference numbers."""
    from tinygrad_conv.ops import pool as pool_ops

    rng = np.random.default_rng(3)
    x = Tensor(rng.standard_normal((3, 2, 6, 6)), requires_grad=True)
    h = F.conv2d(x, rng.standard_normal((4, 2, 3, 3)), padding=1)
    plain = np.ascontiguousarray(h.data)
    plain[:, :, ::2, ::2] = plain[:, :, 1::2, 1::2] = 0.5  # ties in every window
    if order == "conv-view":
        h.data[...] = plain
    else:
        arr = plain.copy()
        if order == "cnhw":
            arr = np.ascontiguousarray(arr.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
        h = Tensor(arr, requires_grad=True)
    h.retain_grad()
    g = rng.standard_normal((3, 4, 3, 3))
    y = getattr(F, pool)(h, 2)
    assert pool_ops._frame(h.data) == getattr(pool_ops, frame)
    if pool == "max_pool2d":
        want_y, want_dx = ref_max_pool(plain, g, (2, 2), (2, 2), (0, 0))
    else:
        want_y = plain.reshape(3, 4, 3, 2, 3, 2).mean(axis=(3, 5))
        want_dx = np.repeat(np.repeat(g / 4, 2, axis=2), 2, axis=3)
    np.testing.assert_allclose(y.data, want_y, rtol=1e-12, atol=1e-12)
    y.backward(g)
    np.testing.assert_allclose(h.grad, want_dx, rtol=1e-12, atol=1e-12)


def test_max_pool_gradcheck_overlap_and_padding():
    x = np.random.default_rng(4).standard_normal((2, 2, 5, 6))
    assert tc.gradcheck(lambda t: F.max_pool2d(t, 3, 2, 1), [x])


@pytest.mark.parametrize("pool,name", [(F.max_pool2d, "max_pool2d"), (F.avg_pool2d, "avg_pool2d")])
@pytest.mark.parametrize("xs,kw,match", [
    ((1, 4, 4), {"kernel_size": 2}, r"input must be 4-D.*\(1, 4, 4\)"),
    ((1, 1, 4, 4), {"kernel_size": 3, "padding": 2}, r"padding \(2, 2\) must be at most half"),
    ((1, 1, 2, 3), {"kernel_size": 3}, r"kernel 3x3 is larger than the padded input 2x3"),
    ((1, 1, 4, 4), {"kernel_size": 2, "stride": 0}, r"stride must be >= 1"),
    ((1, 1, 4, 4), {"kernel_size": 2, "padding": -1}, r"padding must be >= 0"),
    ((1, 1, 4, 4), {"kernel_size": (2, 2, 2)}, r"kernel_size must be an int or a pair"),
])
def test_bad_input_errors(pool, name, xs, kw, match):
    with pytest.raises((ValueError, TypeError), match=rf"^{name}: ") as e:
        pool(np.zeros(xs), **kw)
    assert e.match(match)


@pytest.mark.parametrize("pool", [F.max_pool2d, F.avg_pool2d])
@pytest.mark.parametrize("kw, want", [
    (dict(kernel_size=2), "2x2"),
    (dict(kernel_size=(2, 3)), "2x3"),
    (dict(kernel_size=3, stride=1, padding=1), "3x3 stride=1 padding=1"),
    (dict(kernel_size=3, stride=(2, 1)), "3x3 stride=(2,1)"),
])
def test_label(pool, kw, want):
    """Graph labels read like the issue's `max_pool2d 2x2`: defaults (stride = kernel, no padding) omitted."""
    y = pool(Tensor(np.zeros((1, 1, 6, 6)), requires_grad=True), **kw)
    assert y.node.op.label(y.node.attrs) == want


@pytest.mark.parametrize("pool", [F.max_pool2d, F.avg_pool2d])
@pytest.mark.parametrize("kw", [
    dict(kernel_size=3, stride=1, padding=1),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(2, 3), stride=(1, 2)),
])
def test_batch_last_frame_matches_contiguous(pool, kw):
    """Padding, overlap and non-square windows in the batch-last frame equal the NCHW results."""
    rng = np.random.default_rng(11)
    plain = rng.standard_normal((3, 4, 7, 6))
    g = None
    results = []
    for arr in (plain, np.ascontiguousarray(plain.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)):
        x = Tensor(arr, requires_grad=True)
        y = pool(x, **kw)
        g = rng.standard_normal(y.shape) if g is None else g
        y.backward(g)
        results.append((y.data, x.grad))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-12, atol=1e-12)
