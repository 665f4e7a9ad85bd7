"""Issue 12 pools and interpolation: max/avg pools with dilation, ceil_mode, count_include_pad,
divisor_override and indices, unpooling, adaptive pools, interpolate (nearest, nearest-exact,
(bi)linear, align_corners both ways). References: plain loops and SciPy (PyTorch too when installed)."""

import numpy as np
import pytest
import scipy.ndimage as ndi

from tinygrad_conv import Tensor
from tinygrad_conv import functional as F

rng = np.random.default_rng(4)


# ---- pools ---------------------------------------------------------------------------------------
def ref_pool(x, k, s, p, d, ceil, kind, count_include_pad=True, divisor=None):
    """Loops over windows with PyTorch's size rule; returns values and first-max flat indices."""
    N, C, H, W = x.shape
    outs = []
    for ax, n in enumerate((H, W)):
        o = (n + 2 * p[ax] - d[ax] * (k[ax] - 1) - 1 + (s[ax] - 1 if ceil else 0)) // s[ax] + 1
        if ceil and (o - 1) * s[ax] >= n + p[ax]:
            o -= 1
        outs.append(o)
    val, idx = np.zeros((N, C, *outs)), np.zeros((N, C, *outs), dtype=np.int64)
    for n, c, a, b in np.ndindex(N, C, *outs):
        r0, c0 = a * s[0] - p[0], b * s[1] - p[1]
        pos = [(r0 + i * d[0], c0 + j * d[1]) for i in range(k[0]) for j in range(k[1])]
        inside = [(r, q) for r, q in pos if 0 <= r < H and 0 <= q < W]
        if kind == "max":
            vals = [x[n, c, r, q] for r, q in inside]
            m = int(np.argmax(vals))
            val[n, c, a, b], idx[n, c, a, b] = vals[m], inside[m][0] * W + inside[m][1]
        else:
            tot = sum(x[n, c, r, q] for r, q in inside)
            hend, wend = min(r0 + k[0], H + p[0]), min(c0 + k[1], W + p[1])
            cnt = (hend - r0) * (wend - c0) if count_include_pad else len(inside)
            val[n, c, a, b] = tot / (divisor or cnt)
    return val, idx


POOLS = [  # kernel, stride, padding, dilation, ceil
    ((2, 2), (2, 2), (0, 0), (1, 1), True),
    ((3, 3), (2, 2), (1, 1), (1, 1), True),
    ((3, 2), (2, 1), (1, 1), (2, 1), False),
    ((2, 2), (3, 3), (1, 0), (1, 1), True),
    ((3, 3), (2, 2), (1, 1), (2, 2), True),
]


@pytest.mark.parametrize("k,s,p,d,ceil", POOLS)
def test_max_pool2d_options_and_indices(k, s, p, d, ceil):
    x = rng.standard_normal((2, 2, 7, 8))
    val, idx = F.max_pool2d(x, k, s, p, dilation=d, ceil_mode=ceil, return_indices=True)
    rv, ri = ref_pool(x, k, s, p, d, ceil, "max")
    np.testing.assert_array_equal(val.data, rv)
    np.testing.assert_array_equal(idx.data, ri)
    # the gradient lands exactly on the returned indices (max_unpool2d of g)
    xt = Tensor(x, requires_grad=True)
    g = rng.standard_normal(val.shape)
    F.max_pool2d(xt, k, s, p, dilation=d, ceil_mode=ceil).backward(g)
    expect = np.zeros(x.shape).reshape(2, 2, -1)
    for n, c in np.ndindex(2, 2):
        np.add.at(expect[n, c], ri[n, c].ravel(), g[n, c].ravel())
    np.testing.assert_allclose(xt.grad, expect.reshape(x.shape), atol=1e-12)


@pytest.mark.parametrize("k,s,p,d,ceil", [c for c in POOLS if c[3] == (1, 1)])
@pytest.mark.parametrize("cip,div", [(True, None), (False, None), (True, 5)])
def test_avg_pool2d_options(k, s, p, d, ceil, cip, div):
    x = rng.standard_normal((1, 2, 7, 8))
    out = F.avg_pool2d(x, k, s, p, ceil_mode=ceil, count_include_pad=cip, divisor_override=div)
    np.testing.assert_allclose(out.data, ref_pool(x, k, s, p, d, ceil, "avg", cip, div)[0], atol=1e-12)


def test_pools_match_torch():
    torch = pytest.importorskip("torch", reason="PyTorch is an optional extra reference")
    TF = torch.nn.functional
    x = rng.standard_normal((2, 3, 9, 7))
    for k, s, p, d, ceil in POOLS:
        v, i = F.max_pool2d(x, k, s, p, d, ceil, return_indices=True)
        tv, ti = TF.max_pool2d(torch.tensor(x), k, s, p, d, ceil_mode=ceil, return_indices=True)
        np.testing.assert_array_equal(v.data, tv.numpy())
        np.testing.assert_array_equal(i.data, ti.numpy())
        if d == (1, 1):
            for cip in (True, False):
                ref = TF.avg_pool2d(torch.tensor(x), k, s, p, ceil_mode=ceil, count_include_pad=cip)
                np.testing.assert_allclose(F.avg_pool2d(x, k, s, p, ceil, cip).data, ref.numpy(), atol=1e-12)
    for size in [(3, 4), (5, 2), 1, (9, 7), (None, 3)]:
        np.testing.assert_allclose(
            F.adaptive_avg_pool2d(x, size).data,
            TF.adaptive_avg_pool2d(torch.tensor(x), size).numpy(),
            atol=1e-12,
        )
        v, i = F.adaptive_max_pool2d(x, size, return_indices=True)
        tv, ti = TF.adaptive_max_pool2d(torch.tensor(x), size, return_indices=True)
        np.testing.assert_array_equal(v.data, tv.numpy())
        np.testing.assert_array_equal(i.data, ti.numpy())
    v, i = TF.max_pool2d(torch.tensor(x), 2, return_indices=True)
    np.testing.assert_array_equal(
        F.max_unpool2d(v.numpy(), i.numpy(), 2, output_size=x.shape).data,
        TF.max_unpool2d(v, i, 2, output_size=x.shape).numpy(),
    )


def test_adaptive_pools_against_windows():
    x = rng.standard_normal((2, 2, 7, 5))
    avg, mx = F.adaptive_avg_pool2d(x, (3, 2)), F.adaptive_max_pool2d(x, (3, 2))
    for a, b in np.ndindex(3, 2):
        r0, r1 = (a * 7) // 3, -((-(a + 1) * 7) // 3)
        c0, c1 = (b * 5) // 2, -((-(b + 1) * 5) // 2)
        np.testing.assert_allclose(avg.data[:, :, a, b], x[:, :, r0:r1, c0:c1].mean(axis=(2, 3)), atol=1e-12)
        np.testing.assert_array_equal(mx.data[:, :, a, b], x[:, :, r0:r1, c0:c1].max(axis=(2, 3)))
    np.testing.assert_allclose(F.adaptive_avg_pool2d(x, 1).data[..., 0, 0], x.mean(axis=(2, 3)), atol=1e-12)
    assert F.adaptive_avg_pool2d(x.astype(np.float32), 2).dtype == np.float32


def test_max_unpool2d_inverts_pooling_and_pool_errors():
    x = rng.standard_normal((1, 2, 4, 6))
    v, i = F.max_pool2d(x, 2, return_indices=True)
    up = F.max_unpool2d(v, i, 2)
    assert up.shape == x.shape
    np.testing.assert_array_equal(up.data, np.where(up.data != 0, x, 0))
    assert np.count_nonzero(up.data) == v.data.size
    with pytest.raises(ValueError, match=r"max_unpool2d: index .* out of range"):
        F.max_unpool2d(v, i + 100, 2)
    with pytest.raises(ValueError, match=r"max_pool2d: padding \(2, 2\) must be .* at most half"):
        F.max_pool2d(x, 2, padding=2, ceil_mode=True)
    with pytest.raises(ValueError, match="max_pool2d: input must be 4-D"):
        F.max_pool2d(x[0], 2, dilation=2)


def test_max_pool2d_nan_and_float32():
    x = rng.standard_normal((1, 1, 4, 4)).astype(np.float32)
    x[0, 0, 1, 1] = np.nan
    out = F.max_pool2d(x, 2, ceil_mode=True)
    assert out.dtype == np.float32 and np.isnan(out.data[0, 0, 0, 0]) and not np.isnan(out.data[0, 0, 1, 1])


# ---- interpolate ---------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [(8, 10), (3, 7), (5, 5), (1, 4)])
def test_bilinear_align_corners_matches_scipy_map_coordinates(size):
    x = rng.standard_normal((2, 3, 5, 6))
    out = F.interpolate(x, size=size, mode="bilinear", align_corners=True)
    ys = np.arange(size[0]) * ((5 - 1) / (size[0] - 1) if size[0] > 1 else 0)
    xs = np.arange(size[1]) * ((6 - 1) / (size[1] - 1) if size[1] > 1 else 0)
    gy, gx = np.meshgrid(ys, xs, indexing="ij")
    for n, c in np.ndindex(2, 3):
        ref = ndi.map_coordinates(x[n, c], [gy, gx], order=1)
        np.testing.assert_allclose(out.data[n, c], ref, atol=1e-12)


@pytest.mark.parametrize("size", [(10, 12), (7, 4), (2, 3)])
def test_bilinear_half_pixel_matches_scipy(size):
    x = rng.standard_normal((1, 2, 5, 6))
    out = F.interpolate(x, size=size, mode="bilinear")
    ys = np.maximum((np.arange(size[0]) + 0.5) * 5 / size[0] - 0.5, 0)
    xs = np.maximum((np.arange(size[1]) + 0.5) * 6 / size[1] - 0.5, 0)
    gy, gx = np.meshgrid(ys, xs, indexing="ij")
    for c in range(2):
        ref = ndi.map_coordinates(x[0, c], [gy, gx], order=1, mode="nearest")
        np.testing.assert_allclose(out.data[0, c], ref, atol=1e-12)


def test_nearest_matches_numpy_and_scipy_zoom():
    x = rng.standard_normal((1, 2, 3, 4))
    up = F.interpolate(x, scale_factor=2)
    np.testing.assert_array_equal(up.data, x.repeat(2, axis=2).repeat(2, axis=3))
    np.testing.assert_array_equal(
        up.data[0, 0], ndi.zoom(x[0, 0], 2, order=0, grid_mode=True, mode="grid-constant")
    )
    down = F.interpolate(x, size=(2, 3))
    np.testing.assert_array_equal(down.data, x[:, :, [0, 1]][:, :, :, [0, 1, 2]])
    odd = F.interpolate(x, size=(5, 7), mode="nearest-exact")
    np.testing.assert_array_equal(
        odd.data,
        x[:, :, np.floor((np.arange(5) + 0.5) * 3 / 5).astype(int)][
            :, :, :, np.floor((np.arange(7) + 0.5) * 4 / 7).astype(int)
        ],
    )
    line = F.interpolate(x[:, :, 0], size=9, mode="linear", align_corners=True)
    np.testing.assert_allclose(line.data[0, 0], np.interp(np.linspace(0, 3, 9), np.arange(4), x[0, 0, 0]))


def test_interpolate_matches_torch():
    torch = pytest.importorskip("torch", reason="PyTorch is an optional extra reference")
    x = rng.standard_normal((2, 3, 5, 7))
    cases = [
        dict(size=(9, 4), mode="nearest"),
        dict(scale_factor=1.5, mode="nearest"),
        dict(scale_factor=(2, 3), mode="nearest"),
        dict(size=(4, 11), mode="nearest-exact"),
        dict(size=(9, 4), mode="bilinear"),
        dict(size=(9, 4), mode="bilinear", align_corners=True),
        dict(scale_factor=1.7, mode="bilinear"),
        dict(scale_factor=0.6, mode="bilinear", align_corners=False),
        dict(scale_factor=2, mode="bilinear", recompute_scale_factor=True),
    ]
    for kw in cases:
        ref = torch.nn.functional.interpolate(torch.tensor(x), **kw).numpy()
        np.testing.assert_allclose(F.interpolate(x, **kw).data, ref, atol=1e-12, err_msg=str(kw))


def test_interpolate_gradient_is_adjoint_and_errors():
    x = rng.standard_normal((1, 2, 4, 5))
    for kw in (
        dict(size=(7, 9), mode="bilinear"),
        dict(size=(3, 2), mode="nearest"),
        dict(scale_factor=3, mode="nearest"),
    ):
        out = F.interpolate(x, **kw)
        g = rng.standard_normal(out.shape)
        xt = Tensor(x, requires_grad=True)
        F.interpolate(xt, **kw).backward(g)
        assert np.sum(xt.grad * x) == pytest.approx(
            np.sum(g * out.data), rel=1e-12
        )  # linear: <M^T g, x> = <g, M x>
    with pytest.raises(ValueError, match="interpolate: give exactly one of size and scale_factor"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="interpolate: mode 'linear' does not take"):
        F.interpolate(x, size=3, mode="linear")
    assert F.interpolate(x.astype(np.float32), scale_factor=2, mode="bilinear").dtype == np.float32


def test_resize_gather_path_equals_dense_path(monkeypatch):
    """Large axes (and non-finite inputs) take gathers + reduceat instead of the dense GEMM."""
    from tinygrad_conv.ops import resize

    x = rng.standard_normal((2, 3, 5, 7))
    cases = [
        dict(size=(9, 4), mode="bilinear"),
        dict(size=(8, 11), mode="bilinear", align_corners=True),
        dict(size=(3, 9), mode="nearest"),
        dict(size=(7, 5), mode="nearest-exact"),
    ]
    dense = []
    for kw in cases:
        xt = Tensor(x, requires_grad=True)
        out = F.interpolate(xt, **kw)
        out.backward(np.cos(out.data))
        dense.append((out.data, xt.grad))
    monkeypatch.setattr(resize, "DENSE_MAX", 0)
    for kw, (d_out, d_grad) in zip(cases, dense):
        xt = Tensor(x, requires_grad=True)
        out = F.interpolate(xt, **kw)
        out.backward(np.cos(out.data))
        np.testing.assert_allclose(out.data, d_out, atol=1e-12)
        np.testing.assert_allclose(xt.grad, d_grad, atol=1e-12)
    monkeypatch.undo()
    y = x.copy()
    y[0, 0, 2, 3] = np.inf  # stays near its pixel (a dense GEMM would spread 0 * inf = nan along the rows)
    out = F.interpolate(y, scale_factor=1.5, mode="bilinear").data
    bad = ~np.isfinite(out[0, 0])
    assert np.isinf(out[0, 0]).any() and np.isfinite(out[1:]).all() and np.isfinite(out[0, 1:]).all()
    assert bad[:, :2].sum() == 0 and bad[:2].sum() == 0  # rows and columns away from it are finite
