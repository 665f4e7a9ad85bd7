"""Issue 12 CNN ops: conv_transpose2d, conv1d, pixel_shuffle, unfold/fold and pad modes against
independent NumPy/SciPy references (PyTorch too when installed); float32 through every new entry
point (pools and interpolation: test_ops_pool_interp.py). First and second order of every new op's
samples run in tests/test_registry.py."""

import numpy as np
import pytest
import scipy.signal as sig

from tinygrad_conv import Tensor
from tinygrad_conv import functional as F

rng = np.random.default_rng(0)


# ---- conv_transpose2d --------------------------------------------------------------------------
def ref_conv_transpose2d(x, w, b, stride, padding, output_padding, dilation, groups):
    """PyTorch's definition with loops: every input pixel adds w * x at s*h + d*i - p."""
    N, Cin, H, W = x.shape
    _, Cog, kh, kw = w.shape
    (sh, sw), (ph, pw), (oh, ow), (dh, dw) = stride, padding, output_padding, dilation
    Ho = (H - 1) * sh - 2 * ph + dh * (kh - 1) + oh + 1
    Wo = (W - 1) * sw - 2 * pw + dw * (kw - 1) + ow + 1
    out = np.zeros((N, Cog * groups, Ho, Wo))
    cin_g = Cin // groups
    for n, c, h, q, i, j in np.ndindex(N, Cin, H, W, kh, kw):
        r, s = h * sh + i * dh - ph, q * sw + j * dw - pw
        if 0 <= r < Ho and 0 <= s < Wo:
            g = c // cin_g
            out[n, g * Cog : (g + 1) * Cog, r, s] += x[n, c, h, q] * w[c, :, i, j]
    return out + (0 if b is None else b.reshape(1, -1, 1, 1))


# (x shape, w shape, stride, padding, output_padding, dilation, groups)
CT_CONFIGS = [
    ((2, 3, 4, 5), (3, 2, 3, 3), (1, 1), (0, 0), (0, 0), (1, 1), 1),
    ((1, 2, 3, 4), (2, 3, 3, 3), (2, 2), (1, 1), (1, 1), (1, 1), 1),
    ((1, 4, 3, 3), (4, 1, 2, 3), (3, 2), (0, 1), (2, 1), (1, 1), 2),
    ((2, 2, 3, 3), (2, 2, 3, 2), (1, 1), (1, 0), (0, 0), (2, 2), 1),
    ((1, 4, 4, 4), (4, 2, 4, 4), (2, 2), (1, 1), (0, 0), (1, 1), 4),
]


@pytest.mark.parametrize("xs,ws,s,p,op,d,g", CT_CONFIGS)
def test_conv_transpose2d_matches_loop_reference_and_adjoint(xs, ws, s, p, op, d, g):
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[1] * g)
    out = F.conv_transpose2d(x, w, b, stride=s, padding=p, output_padding=op, groups=g, dilation=d)
    ref = ref_conv_transpose2d(x, w, b, s, p, op, d, g)
    np.testing.assert_allclose(out.data, ref, atol=1e-12)
    # adjoint identity: <conv2d(y, w), x> = <y, conv_transpose2d(x, w)> for every y of the output's shape
    y = rng.standard_normal(out.shape)
    lhs = np.sum(F.conv2d(y, w, stride=s, padding=p, dilation=d, groups=g).data * x)
    rhs = np.sum(
        y * F.conv_transpose2d(x, w, stride=s, padding=p, output_padding=op, groups=g, dilation=d).data
    )
    assert lhs == pytest.approx(rhs, rel=1e-12)


def test_conv_transpose2d_matches_torch():
    torch = pytest.importorskip("torch", reason="PyTorch is an optional extra reference")
    for xs, ws, s, p, op, d, g in CT_CONFIGS:
        x, w = rng.standard_normal(xs), rng.standard_normal(ws)
        ref = torch.nn.functional.conv_transpose2d(torch.tensor(x), torch.tensor(w), None, s, p, op, g, d)
        np.testing.assert_allclose(
            F.conv_transpose2d(x, w, None, s, p, op, g, d).data, ref.numpy(), atol=1e-12
        )


def test_conv_transpose2d_float32_and_errors():
    x = Tensor(rng.standard_normal((1, 2, 3, 3)).astype(np.float32), requires_grad=True)
    w = Tensor(rng.standard_normal((2, 3, 3, 3)).astype(np.float32), requires_grad=True)
    y = F.conv_transpose2d(x, w, stride=2)
    assert y.dtype == np.float32 and y.shape == (1, 3, 7, 7)
    y.sum().backward()
    assert x.grad.dtype == np.float32 and w.grad.shape == w.shape
    with pytest.raises(ValueError, match=r"conv_transpose2d: output_padding \(2, 2\) must be .* stride"):
        F.conv_transpose2d(x, w, stride=2, output_padding=2)
    with pytest.raises(
        ValueError, match=r"conv_transpose2d: input \(1, 2, 3, 3\) has 2 channels .* expects 3"
    ):
        F.conv_transpose2d(x, np.zeros((3, 3, 3, 3), np.float32))
    with pytest.raises(ValueError, match="conv_transpose2d: padding must be an int"):
        F.conv_transpose2d(x, w, padding="same")


# ---- conv1d --------------------------------------------------------------------------------------
def test_conv1d_matches_scipy_correlate():
    x, w, b = rng.standard_normal((2, 3, 11)), rng.standard_normal((4, 3, 3)), rng.standard_normal(4)
    out = F.conv1d(x, w, b, padding=1)
    ref = np.stack(
        [
            np.stack(
                [
                    sum(sig.correlate(np.pad(x[n, c], 1), w[o, c], mode="valid") for c in range(3)) + b[o]
                    for o in range(4)
                ]
            )
            for n in range(2)
        ]
    )
    np.testing.assert_allclose(out.data, ref, atol=1e-12)
    assert F.conv1d(x, w, padding="same").shape == (2, 4, 11)
    strided = F.conv1d(x, w, stride=2, dilation=2)
    assert strided.shape == (2, 4, 4)  # dilation 2: span 5 -> 7 outputs, stride 2 -> 4
    dil = np.zeros((4, 3, 5))  # a dilated kernel is the kernel with zeros between its taps
    dil[:, :, ::2] = w
    np.testing.assert_allclose(strided.data, F.conv1d(x, dil).data[:, :, ::2], atol=1e-12)


def test_conv_transpose1d_is_conv1d_adjoint():
    x, w = rng.standard_normal((2, 3, 5)), rng.standard_normal((3, 2, 3))
    out = F.conv_transpose1d(x, w, stride=2, padding=1, output_padding=1)
    y = rng.standard_normal(out.shape)
    lhs = np.sum(F.conv1d(y, w, stride=2, padding=1).data * x)
    assert lhs == pytest.approx(np.sum(y * out.data), rel=1e-12) and out.shape == (2, 2, 10)


# ---- pixel_shuffle, unfold / fold, pad -----------------------------------------------------------
def test_pixel_shuffle_definition_and_inverse():
    x = rng.standard_normal((2, 8, 3, 4))
    y = F.pixel_shuffle(x, 2)
    assert y.shape == (2, 2, 6, 8)
    for n, c, h, w in np.ndindex(*y.shape):
        assert y.data[n, c, h, w] == x[n, c * 4 + (h % 2) * 2 + (w % 2), h // 2, w // 2]
    np.testing.assert_array_equal(F.pixel_unshuffle(y, 2).data, x)
    with pytest.raises(ValueError, match="pixel_shuffle: input must be"):
        F.pixel_shuffle(x, 3)


def test_unfold_explains_conv2d_and_fold_is_its_adjoint():
    x, w = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 3, 2))
    cols = F.unfold(x, (3, 2), padding=1, stride=(2, 1), dilation=(1, 2))
    conv = F.conv2d(x, w, padding=1, stride=(2, 1), dilation=(1, 2))
    np.testing.assert_allclose((w.reshape(4, -1) @ cols.data).reshape(conv.shape), conv.data, atol=1e-12)
    y = rng.standard_normal(cols.shape)
    folded = F.fold(y, (6, 5), (3, 2), padding=1, stride=(2, 1), dilation=(1, 2))
    assert np.sum(folded.data * x) == pytest.approx(np.sum(y * cols.data), rel=1e-12)
    ones = F.fold(F.unfold(np.ones((1, 1, 4, 4)), 2, stride=1), (4, 4), 2, stride=1)
    np.testing.assert_array_equal(ones.data[0, 0], [[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]])
    with pytest.raises(ValueError, match="fold: input .* has L=3 windows"):
        F.fold(np.zeros((1, 4, 3)), (4, 4), 2)


def test_unfold_fold_match_torch():
    torch = pytest.importorskip("torch", reason="PyTorch is an optional extra reference")
    x = rng.standard_normal((2, 3, 7, 6))
    kw = dict(kernel_size=(3, 2), dilation=(2, 1), padding=1, stride=(1, 2))
    ref = torch.nn.functional.unfold(torch.tensor(x), **kw)
    np.testing.assert_allclose(F.unfold(x, **kw).data, ref.numpy(), atol=1e-12)
    np.testing.assert_allclose(
        F.fold(ref.numpy(), (7, 6), **kw).data,
        torch.nn.functional.fold(ref, (7, 6), **kw).numpy(),
        atol=1e-12,
    )


@pytest.mark.parametrize(
    "mode,np_mode", [("reflect", "reflect"), ("replicate", "edge"), ("circular", "wrap")]
)
def test_pad_modes_match_numpy(mode, np_mode):
    x = rng.standard_normal((2, 3, 4, 5))
    out = F.pad(x, (2, 1, 3, 0), mode=mode)  # last axis first: W by (2, 1), H by (3, 0)
    np.testing.assert_array_equal(out.data, np.pad(x, ((0, 0), (0, 0), (3, 0), (2, 1)), mode=np_mode))
    xt = Tensor(x, requires_grad=True)
    g = rng.standard_normal(out.shape)
    F.pad(xt, (2, 1, 3, 0), mode=mode).backward(g)
    assert np.sum(xt.grad * x) == pytest.approx(np.sum(g * out.data), rel=1e-12)


def test_pad_constant_pytorch_and_numpy_styles():
    x = rng.standard_normal((2, 3, 4))
    np.testing.assert_array_equal(
        F.pad(x, (1, 2), value=5.0).data, np.pad(x, ((0, 0), (0, 0), (1, 2)), constant_values=5.0)
    )
    np.testing.assert_array_equal(
        F.pad(x, (-1, 1, 0, -2)).data, np.pad(x[:, :1, 1:], ((0, 0), (0, 0), (0, 1)))
    )
    np.testing.assert_array_equal(
        F.pad(x, ((0, 0), (1, 1), (0, 0))).data, np.pad(x, ((0, 0), (1, 1), (0, 0)))
    )
    np.testing.assert_array_equal(
        Tensor(x).pad(((1, 0), (0, 0), (0, 0)), 2.0).data,
        np.pad(x, ((1, 0), (0, 0), (0, 0)), constant_values=2.0),
    )
    with pytest.raises(
        ValueError, match=r"pad: reflect padding \(4, 0\) must be smaller than the axis size 4"
    ):
        F.pad(x, (4, 0), mode="reflect")
    with pytest.raises(ValueError, match="pad: mode must be one of"):
        F.pad(x, (1, 1), mode="mirror")
    assert F.pad(x.astype(np.float32), (1, 1, 1, 1), mode="replicate").dtype == np.float32


F32_CALLS = [  # (function, extra args): every new entry point keeps float32 in and out, gradients too
    (lambda x: F.conv_transpose2d(x, np.ones((3, 2, 2, 2), np.float32), stride=2), ()),
    (lambda x: F.max_pool2d(x, 3, 2, 1, dilation=1, ceil_mode=True), ()),
    (lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False), ()),
    (lambda x: F.adaptive_avg_pool2d(x, (2, 3)), ()),
    (lambda x: F.adaptive_max_pool2d(x, 2), ()),
    (lambda x: F.interpolate(x, size=(7, 9), mode="bilinear"), ()),
    (lambda x: F.interpolate(x, size=(3, 7), mode="nearest"), ()),
    (lambda x: F.pad(x, (1, 2, 2, 1), mode="reflect"), ()),
    (lambda x: F.unfold(x, 2), ()),
    (lambda x: F.pixel_unshuffle(x[:, :, :4, :4], 2), ()),
    (lambda x: F.group_norm(x, 3), ()),
    (lambda x: F.layer_norm(x, (5, 6)), ()),
    (lambda x: F.cross_entropy(x, np.zeros((2, 5, 6), dtype=np.int64), weight=np.ones(3)), ()),
    (lambda x: F.binary_cross_entropy_with_logits(x, np.full(x.shape, 0.3, np.float32)), ()),
]


@pytest.mark.parametrize("k", range(len(F32_CALLS)))
def test_float32_in_float32_out(k):
    fn, _ = F32_CALLS[k]
    x = Tensor(rng.standard_normal((2, 3, 5, 6)).astype(np.float32), requires_grad=True)
    y = fn(x)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32 and np.isfinite(x.grad).all()


def test_plain_pool_and_loss_calls_keep_the_fused_ops():
    x = Tensor(rng.standard_normal((2, 3, 4, 4)), requires_grad=True)
    assert F.max_pool2d(x, 2).node.op.name == "max_pool2d"
    assert F.max_pool2d(x, 2, ceil_mode=True).node.op.name == "max_pool2d_ext"
    assert F.avg_pool2d(x, 2).node.op.name == "avg_pool2d"
    assert F.avg_pool2d(x, 2, count_include_pad=False).node.op.name == "avg_pool2d_ext"
