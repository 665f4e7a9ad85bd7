"""conv2d: forward against a plain-loop reference, PyTorch conventions, gradients, dtype, errors."""

import numpy as np
import pytest

import tinygrad_conv as tc
from tinygrad_conv import Tensor
from tinygrad_conv import functional as F


def ref_conv2d(x, w, b=None, stride=(1, 1), pads=(0, 0, 0, 0), dilation=(1, 1), groups=1):
    """Independent slow reference: cross-correlation with plain loops (pads: top, bottom, left, right)."""
    N, C, H, W = x.shape
    O, Cg, kh, kw = w.shape
    (sh, sw), (dh, dw), (pt, pb, pl, pr) = stride, dilation, pads
    Hp, Wp = H + pt + pb, W + pl + pr
    xp = np.zeros((N, C, Hp, Wp))
    for n in range(N):
        for c in range(C):
            for r in range(H):
                for q in range(W):
                    xp[n, c, r + pt, q + pl] = x[n, c, r, q]
    Ho, Wo = (Hp - dh * (kh - 1) - 1) // sh + 1, (Wp - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((N, O, Ho, Wo))
    per_group = O // groups
    for n in range(N):
        for o in range(O):
            g = o // per_group
            for r in range(Ho):
                for q in range(Wo):
                    acc = 0.0 if b is None else b[o]
                    for c in range(Cg):
                        for i in range(kh):
                            for j in range(kw):
                                acc += w[o, c, i, j] * xp[n, g * Cg + c, r * sh + i * dh, q * sw + j * dw]
                    out[n, o, r, q] = acc
    return out


def _pads(mode, k, d):
    """PyTorch's padding for the string modes, written out per side (top, bottom, left, right)."""
    (kh, kw), (dh, dw) = k, d
    if mode == "valid":
        return 0, 0, 0, 0
    if mode == "full":
        return dh * (kh - 1), dh * (kh - 1), dw * (kw - 1), dw * (kw - 1)
    th, tw = dh * (kh - 1), dw * (kw - 1)
    return th // 2, th - th // 2, tw // 2, tw - tw // 2  # 'same': extra goes bottom/right


# (x shape, w shape, bias?, stride, padding, dilation, groups)
CONFIGS = [
    ((2, 3, 5, 5), (4, 3, 3, 3), True, 1, 0, 1, 1),
    ((1, 2, 6, 5), (3, 2, 3, 2), False, 1, 1, 1, 1),
    ((2, 2, 7, 6), (2, 2, 3, 3), True, 2, 1, 1, 1),
    ((1, 2, 7, 8), (3, 2, 2, 3), True, (2, 3), (1, 0), 1, 1),
    ((1, 1, 8, 7), (2, 1, 3, 3), True, 1, 0, 2, 1),
    ((1, 2, 9, 8), (2, 2, 3, 2), False, 2, 2, (2, 3), 1),
    ((2, 4, 5, 5), (6, 2, 3, 3), True, 1, 1, 1, 2),
    ((1, 6, 6, 6), (6, 1, 3, 3), False, 2, 1, 1, 6),
    ((1, 2, 5, 6), (3, 2, 3, 3), True, 1, "same", 1, 1),
    ((1, 2, 5, 6), (2, 2, 2, 4), True, 1, "same", 1, 1),
    ((1, 2, 7, 6), (2, 2, 3, 2), False, 1, "same", (2, 1), 1),
    ((1, 2, 5, 6), (2, 2, 3, 2), True, 1, "valid", 1, 1),
    ((1, 2, 4, 3), (2, 2, 2, 3), True, 1, "full", 1, 1),
    ((1, 1, 4, 4), (1, 1, 2, 2), False, 3, "full", 2, 1),
    ((1, 3, 4, 4), (2, 3, 1, 1), True, 1, 0, 1, 1),
    ((2, 1, 6, 6), (1, 1, 3, 3), True, 2, 0, 1, 1),
]


def _norm(v):
    return (v, v) if isinstance(v, int) else tuple(v)


@pytest.mark.parametrize("xs,ws,bias,stride,padding,dilation,groups", CONFIGS)
def test_forward_matches_loop_reference(xs, ws, bias, stride, padding, dilation, groups):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    b = rng.standard_normal(ws[0]) if bias else None
    s, d = _norm(stride), _norm(dilation)
    if isinstance(padding, str):
        pads = _pads(padding, ws[2:], d)
    else:
        ph, pw = _norm(padding)
        pads = (ph, ph, pw, pw)
    got = F.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
    want = ref_conv2d(x, w, b, s, pads, d, groups)
    assert got.shape == want.shape
    np.testing.assert_allclose(got.data, want, rtol=1e-12, atol=1e-12)
    if padding == "same":
        assert got.shape[2:] == xs[2:]


@pytest.mark.parametrize("xs,ws,bias,stride,padding,dilation,groups", CONFIGS[::3])
def test_gradients_fast_gradcheck(xs, ws, bias, stride, padding, dilation, groups):
    rng = np.random.default_rng(1)
    args = [rng.standard_normal(xs), rng.standard_normal(ws)] + ([rng.standard_normal(ws[0])] if bias else [])
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    assert tc.gradcheck(lambda *a: F.conv2d(*a, **kw), args, fast=True)


def test_cross_correlation_not_convolution():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    w = np.zeros((1, 1, 2, 2))
    w[0, 0, 0, 0] = 1.0  # picks each window's top-left input (a convolution would pick bottom-right)
    np.testing.assert_array_equal(F.conv2d(x, w).data[0, 0], x[0, 0, :3, :3])


def test_oihw_layout():
    x = np.random.default_rng(2).standard_normal((1, 2, 3, 3))
    w = np.zeros((3, 2, 1, 1))  # (O, I, kh, kw): output o = sum_i w[o, i] * x[i]
    w[0, 1], w[1, 0], w[2] = 1.0, 2.0, [[[1.0]], [[-1.0]]]
    y = F.conv2d(x, w).data[0]
    np.testing.assert_allclose(y, [x[0, 1], 2 * x[0, 0], x[0, 0] - x[0, 1]])


def test_same_padding_even_kernel_pads_right_like_pytorch():
    x = np.array([1.0, 2.0, 3.0]).reshape(1, 1, 1, 3)
    w = np.array([1.0, 10.0]).reshape(1, 1, 1, 2)
    # padding 0 on the left, 1 on the right: [1+20, 2+30, 3+0]
    np.testing.assert_array_equal(F.conv2d(x, w, padding="same").data.ravel(), [21.0, 32.0, 3.0])


@pytest.mark.parametrize("H,k,s,p,d,want", [
    (28, 3, 1, 1, 1, 28), (28, 5, 1, 2, 1, 28), (14, 5, 1, 0, 1, 10), (8, 3, 2, 1, 1, 4),
    (7, 3, 2, 0, 1, 3), (6, 3, 2, 0, 1, 2), (10, 3, 1, 0, 2, 6), (5, 2, 3, "full", 1, 2),
    (5, 3, 1, "full", 2, 9), (5, 4, 1, "same", 1, 5), (5, 3, 1, "valid", 1, 3),
])
def test_output_size_pytorch_formula(H, k, s, p, d, want):
    y = F.conv2d(np.ones((1, 1, H, H + 1)), np.ones((1, 1, k, k)), stride=s, padding=p, dilation=d)
    assert y.shape[2] == want
    if isinstance(p, int):  # floor((H + 2p - d(k-1) - 1) / s) + 1
        assert want == (H + 2 * p - d * (k - 1) - 1) // s + 1


def test_float32_stays_float32_forward_and_backward():
    rng = np.random.default_rng(3)
    x = Tensor(rng.standard_normal((2, 3, 6, 6)).astype(np.float32), requires_grad=True)
    w = Tensor(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), requires_grad=True)
    b = Tensor(np.zeros(4, np.float32), requires_grad=True)
    for kw in ({"padding": 1}, {"stride": 2}, {"padding": "same", "dilation": 2}):
        for t in (x, w, b):
            t.grad = None
        y = F.conv2d(x, w, b, **kw)
        assert y.dtype == np.float32
        y.sum().backward()
        assert x.grad.dtype == w.grad.dtype == b.grad.dtype == np.float32
        # float64 run (checked against the loop reference above) agrees to float32 precision
        x64 = Tensor(x.data.astype(np.float64), requires_grad=True)
        y64 = F.conv2d(x64, w.data.astype(np.float64), b.data.astype(np.float64), **kw)
        y64.sum().backward()
        np.testing.assert_allclose(y.data, y64.data, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(x.grad, x64.grad, rtol=1e-4, atol=1e-4)


def test_saves_only_what_each_gradient_needs():
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3))
    # first layer: the input needs no gradient, so only the columns (for dW) are kept
    y = F.conv2d(Tensor(x), Tensor(w, requires_grad=True), padding=1)
    assert [a.shape for a in y.node.saved] == [(2 * 3 * 3, 5 * 5 * 2)]
    y.sum().backward()
    # frozen weights: no columns kept (dx needs only the weight, an input)
    xt = Tensor(x, requires_grad=True)
    y = F.conv2d(xt, Tensor(w), padding=1)
    assert y.node.saved == (None,)
    y.sum().backward()
    assert xt.grad.shape == x.shape
    # nothing needs grad: nothing recorded
    assert F.conv2d(x, w).node is None


def test_bias_gradient_and_chain_with_pool_and_relu():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 2, 6, 6))
    w1, b1 = rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    w2 = rng.standard_normal((2, 3, 2, 2))

    def net(x, w1, b1, w2):  # conv output memory order flows through relu / pool into the next conv
        h = F.max_pool2d(F.relu(F.conv2d(x, w1, b1, padding="same")), 2)
        return F.conv2d(h, w2, stride=1, padding="full").flatten(1)

    assert tc.gradcheck(net, [x, w1, b1, w2])
    b = Tensor(b1, requires_grad=True)
    y = F.conv2d(Tensor(x), Tensor(w1), b)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    np.testing.assert_allclose(b.grad, g.sum(axis=(0, 2, 3)))


def test_op_label_and_attrs_for_pictures():
    x, w = np.ones((1, 2, 5, 5)), Tensor(np.ones((4, 2, 3, 3)), requires_grad=True)
    y = F.conv2d(x, w, padding="same")
    assert y.node.op.name == "conv2d"
    assert y.node.attrs["padding"] == "same" and y.node.attrs["stride"] == (1, 1)
    assert y.node.op.label(y.node.attrs) == "stride=1 padding=same"
    y = F.conv2d(x, Tensor(np.ones((4, 1, 3, 3)), requires_grad=True), stride=(2, 1), padding=1, dilation=2,
                 groups=2)
    assert y.node.op.label(y.node.attrs) == "stride=(2,1) padding=1 dilation=2 groups=2"


@pytest.mark.parametrize("xs,ws,bs,kw,match", [
    ((1, 3, 5, 5), (2, 2, 3, 3), None, {}, r"channel mismatch.*\(1, 3, 5, 5\).*\(2, 2, 3, 3\)"),
    ((1, 4, 5, 5), (3, 2, 3, 3), None, {"groups": 2}, r"groups=2 must divide.*\(3, 2, 3, 3\)"),
    ((1, 3, 5, 5), (2, 1, 3, 3), None, {"groups": 2}, r"groups=2 must divide.*\(1, 3, 5, 5\)"),
    ((1, 1, 2, 2), (1, 1, 3, 3), None, {}, r"kernel 3x3.*larger than the padded input 2x2"),
    ((1, 1, 4, 4), (1, 1, 3, 3), None, {"dilation": 2}, r"dilated 5x5.*larger"),
    ((1, 5, 5), (1, 1, 3, 3), None, {}, r"input must be 4-D.*\(1, 5, 5\)"),
    ((1, 1, 5, 5), (1, 3, 3), None, {}, r"weight must be 4-D"),
    ((1, 1, 5, 5), (1, 1, 3, 3), None, {"padding": "same", "stride": 2}, r"'same' needs stride 1"),
    ((1, 1, 5, 5), (1, 1, 3, 3), None, {"padding": -1}, r"padding must be >= 0"),
    ((1, 1, 5, 5), (1, 1, 3, 3), None, {"padding": "half"}, r"padding must be an int"),
    ((1, 1, 5, 5), (1, 1, 3, 3), None, {"stride": 0}, r"stride must be >= 1"),
    ((1, 1, 5, 5), (1, 1, 3, 3), None, {"dilation": (1, 0)}, r"dilation must be >= 1"),
    ((1, 1, 5, 5), (1, 1, 3, 3), None, {"stride": (1, 2, 3)}, r"stride must be an int or a pair"),
    ((1, 1, 5, 5), (2, 1, 3, 3), (3,), {}, r"bias must have shape \(2,\).*got \(3,\)"),
])
def test_bad_input_errors(xs, ws, bs, kw, match):
    b = None if bs is None else np.zeros(bs)
    with pytest.raises((ValueError, TypeError), match=r"^conv2d: ") as e:
        F.conv2d(np.zeros(xs), np.zeros(ws), b, **kw)
    assert e.match(match)


def test_groups_type_error():
    with pytest.raises((TypeError, ValueError), match="^conv2d: groups"):
        F.conv2d(np.zeros((1, 2, 3, 3)), np.zeros((2, 1, 1, 1)), groups=1.5)


def test_large_stride1_input_gradient_path_matches_col2im():
    """Big layers compute dx with one GEMM per kernel offset; it must equal col2im(W^T g)."""
    from tinygrad_conv.ops import conv as conv_ops

    rng = np.random.default_rng(6)
    x = Tensor(rng.standard_normal((8, 16, 24, 24)), requires_grad=True)
    w = rng.standard_normal((8, 16, 3, 3))
    y = F.conv2d(x, w, padding=1)
    geo = conv_ops.conv_geometry(x.shape, w.shape, None, conv_ops.conv_attrs(padding=1))
    assert conv_ops.use_per_offset_dx(geo, 1, 8 * 24 * 24 * 8)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    gc = g.transpose(1, 2, 3, 0).reshape(8, -1)  # (O, Ho*Wo*N), the columns' pixel order
    want = conv_ops.col2im(w.reshape(8, -1).T @ gc, geo)
    np.testing.assert_allclose(x.grad, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kw", [dict(), dict(padding=1), dict(stride=2)])
def test_batch_last_input_matches_contiguous(kw):
    """A conv's output is a view of batch-last memory; feeding it to another conv (no copy when
    unpadded) must give the same values and gradients as a contiguous copy."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((3, 2, 7, 6))
    w1, w2 = rng.standard_normal((4, 2, 3, 3)), rng.standard_normal((5, 4, 2, 3))
    h = F.conv2d(Tensor(x), w1).data
    assert h.transpose(1, 2, 3, 0).flags.c_contiguous
    results = []
    for arr in (h, np.ascontiguousarray(h)):
        t = Tensor(arr, requires_grad=True)
        y = F.conv2d(t, w2, **kw)
        y.backward(np.cos(np.arange(y.data.size)).reshape(y.shape))
        results.append((y.data, t.grad))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-12, atol=1e-12)
