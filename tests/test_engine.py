"""Engine behaviour: the tape, accumulation, grad mode, dtype and errors."""

import numpy as np
import pytest

import tinygrad_conv as tc
from tinygrad_conv import Tensor
from tinygrad_conv import functional as F


def leaf(*shape, seed=0, dtype=np.float64):
    return Tensor(np.random.default_rng(seed).standard_normal(shape).astype(dtype), requires_grad=True)


def test_reuse_square_and_double():
    x = leaf(3)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data)
    y = leaf(3, seed=1)
    (y + y).sum().backward()
    np.testing.assert_allclose(y.grad, 2 * np.ones(3))


def test_diamond():
    x = leaf(4)
    a = x.exp()
    b, c = a * 2.0, a * a
    (b + c).sum().backward()
    e = np.exp(x.data)
    np.testing.assert_allclose(x.grad, 2 * e + 2 * e * e)


def test_constants_mixed_in():
    x = leaf(2, 3)
    c = np.arange(6.0).reshape(2, 3)
    out = (3.0 - x) * c + Tensor(c) / 2.0 - x ** 2
    out.sum().backward()
    np.testing.assert_allclose(x.grad, -c - 2 * x.data)


BCAST = [((2, 3), (3,)), ((3,), (2, 3)), ((2, 1), (1, 3)), ((4, 1, 3), (2, 1)), ((), (2,))]


@pytest.mark.parametrize("sa,sb", BCAST)
def test_broadcasting_both_directions(sa, sb):
    a, b = leaf(*sa, seed=1), leaf(*sb, seed=2)
    (a * b).sum().backward()
    full = np.broadcast_shapes(sa, sb)
    ga = np.broadcast_to(b.data, full).copy()
    gb = np.broadcast_to(a.data, full).copy()
    lead_a, lead_b = len(full) - len(sa), len(full) - len(sb)
    ga = ga.sum(axis=tuple(range(lead_a)))
    gb = gb.sum(axis=tuple(range(lead_b)))
    ga = ga.sum(axis=tuple(i for i, s in enumerate(sa) if s == 1), keepdims=True).reshape(sa)
    gb = gb.sum(axis=tuple(i for i, s in enumerate(sb) if s == 1), keepdims=True).reshape(sb)
    np.testing.assert_allclose(a.grad, ga)
    np.testing.assert_allclose(b.grad, gb)
    assert a.grad.shape == sa and b.grad.shape == sb


def test_two_backward_calls_accumulate():
    x = leaf(3)
    (x * 2.0).sum().backward()
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad, 5 * np.ones(3))


def test_retain_graph_and_freed_graph_error():
    x = leaf(3)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad, 4 * x.data)
    with pytest.raises(RuntimeError, match="second time.*retain_graph"):
        y.backward()


def test_non_scalar_root_needs_grad():
    x = leaf(2, 2)
    y = x * 2.0
    with pytest.raises(RuntimeError, match="scalar"):
        y.backward()
    y.backward(np.ones((2, 2)))
    np.testing.assert_allclose(x.grad, 2 * np.ones((2, 2)))
    with pytest.raises(ValueError, match="grad shape"):
        (x * 2.0).backward(np.ones(3))


def test_no_grad_context_and_decorator():
    x = leaf(3)
    with tc.no_grad():
        y = x * 2.0
    assert not y.requires_grad and y.node is None

    @tc.no_grad()
    def f(t):
        return t.exp()

    z = f(x)
    assert not z.requires_grad and tc.is_grad_enabled()
    with tc.no_grad(), tc.enable_grad():
        assert (x * 1.0).requires_grad


def test_detach_cuts_the_tape():
    x = leaf(3)
    y = (x * 2.0).detach()
    assert y.is_leaf and not y.requires_grad
    (x * y).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data)


def test_deep_chain_10000_nodes():
    x = leaf(1)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [1.0001 ** 10_000], rtol=1e-9)


def test_float32_preserved_end_to_end():
    x = leaf(2, 3, dtype=np.float32)
    w = leaf(4, 3, seed=3, dtype=np.float32)
    y = (F.linear(x, w) * 2.0 + 1).tanh().sigmoid() ** 2 / 3.0
    z = (1.0 - y).exp().log().mean(axis=1).sum()
    assert y.dtype == np.float32 and z.dtype == np.float32
    z.backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32
    x64 = leaf(2, dtype=np.float64)
    assert (x64 * np.float32(2)).dtype == np.float64


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="floating-point.*int64"):
        Tensor(np.arange(3), requires_grad=True)
    i = Tensor(np.arange(3))
    assert (i + 1).dtype.kind == "i" and not (i + 1).requires_grad


def test_operators_with_arrays_and_numbers_on_either_side():
    x = leaf(3)
    a = np.array([1.0, 2.0, 3.0])
    for out in [a + x, x + a, a - x, a * x, a / (x * x + 1), 2 ** x, x ** 2, a @ x, x @ a]:
        assert isinstance(out, Tensor) and out.requires_grad


def test_tanh_derivative_is_one_minus_tanh_squared():
    x = leaf(5)
    x.tanh().sum().backward()
    np.testing.assert_allclose(x.grad, 1 - np.tanh(x.data) ** 2)


def test_reductions_shapes_and_grads():
    x = leaf(2, 3, 4)
    assert x.sum(axis=(0, 2)).shape == (3,)
    assert x.mean(axis=-1, keepdims=True).shape == (2, 3, 1)
    assert x.max().shape == ()
    x.max(axis=1).sum().backward()
    assert x.grad.sum() == pytest.approx(8.0)


def test_shape_methods():
    x = leaf(2, 3, 4)
    assert x.reshape(6, 4).shape == (6, 4) and x.reshape((4, 6)).shape == (4, 6)
    assert x.transpose(2, 0, 1).shape == (4, 2, 3) and x.T.shape == (4, 3, 2)
    assert x.flatten(start_axis=1).shape == (2, 12) and x.flatten().shape == (24,)
    assert x[:, 1].shape == (2, 4) and x[np.array([0, 0, 1])].shape == (3, 3, 4)
    assert tc.stack([x, x], axis=1).shape == (2, 2, 3, 4)
    assert tc.concatenate([x, x], axis=-1).shape == (2, 3, 8)
    assert x.pad(((0, 0), (1, 1), (2, 0))).shape == (2, 5, 6)
    y = tc.where(x > 0, x, x * 0.1)
    y.sum().backward()
    np.testing.assert_allclose(x.grad, np.where(x.data > 0, 1.0, 0.1))


def test_getitem_with_repeated_integer_indices_accumulates():
    x = leaf(4)
    x[np.array([1, 1, 3])].sum().backward()
    np.testing.assert_allclose(x.grad, [0, 2, 0, 1])


def test_retain_grad_on_intermediate():
    x = leaf(3)
    h = (x * 2.0).retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad, 2 * h.data)


def test_item_numpy_repr():
    x = Tensor(np.array([2.5]), requires_grad=True, name="w")
    assert x.item() == 2.5 and x.numpy() is x.data
    assert "requires_grad" in repr(x) and "'w'" in repr(x)
    with pytest.raises(ValueError, match="item"):
        Tensor(np.ones(2)).item()


@pytest.mark.parametrize("fn,match", [
    (lambda: leaf(2, 3) @ leaf(4, 5), r"matmul: shapes \(2, 3\) and \(4, 5\) are not aligned"),
    (lambda: leaf(2, 3) + leaf(4), r"add: .*broadcast.*\(2, 3\) float64, \(4,\) float64"),
    (lambda: leaf(2, 3).sum(axis=2), r"sum: axis 2 is out of bounds"),
    (lambda: leaf(2, 3).reshape(4, 2), r"reshape: cannot reshape tensor of shape \(2, 3\)"),
    (lambda: leaf(2, 3).transpose(0, 0), r"transpose: axes \(0, 0\)"),
    (lambda: tc.concatenate([leaf(2, 3), leaf(2, 4)]), r"concatenate: cannot join shapes \(2, 3\), \(2, 4\)"),
    (lambda: F.linear(leaf(2, 3), leaf(4, 5)), r"linear: input \(2, 3\) does not match weight \(4, 5\)"),
    (lambda: leaf(2).pad(((-1, 0),)), r"pad: negative padding"),
])
def test_bad_input_errors_name_op_and_shapes(fn, match):
    with pytest.raises(ValueError, match=match):
        fn()


def test_getitem_out_of_range_is_index_error():
    with pytest.raises(IndexError, match=r"getitem: .*shape \(2,\)"):
        leaf(2)[5]


def test_anomaly_mode_names_the_op():
    x = Tensor(np.array([-1.0, 1.0]), requires_grad=True)
    with tc.detect_anomaly(), np.errstate(invalid="ignore"):
        with pytest.raises(tc.AnomalyError, match="forward of op 'log'"):
            x.log()
    y = Tensor(np.array([0.0, 1.0]), requires_grad=True)
    with np.errstate(divide="ignore"):
        out = y.sqrt().sum()
        with tc.detect_anomaly(), pytest.raises(tc.AnomalyError, match="backward of op 'sqrt'"):
            out.backward()
