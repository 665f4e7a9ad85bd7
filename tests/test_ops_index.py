"""Shape and index functions: values against NumPy (and PyTorch when installed), gradients of
the composed ones (first and second order), PyTorch's edge cases and clear errors."""

import numpy as np
import pytest
from op_checks import gradgrad

import tinygrad_conv as tc
from tinygrad_conv import functional as F
from tinygrad_conv.tensor import Tensor

R = np.random.default_rng(3)
A = R.standard_normal((3, 4))
B = R.standard_normal((2, 3, 4))

FORWARD = [  # (label, ours, NumPy reference)
    ("flip0", lambda x: F.flip(x, 0), lambda x: np.flip(x, 0)),
    ("flip-dims", lambda x: F.flip(x, dims=(0, -1)), lambda x: np.flip(x, (0, -1))),
    ("roll", lambda x: F.roll(x, 2, 1), lambda x: np.roll(x, 2, 1)),
    ("roll-flat", lambda x: F.roll(x, -3), lambda x: np.roll(x, -3)),
    ("roll-two", lambda x: F.roll(x, (1, -1), dims=(0, 1)), lambda x: np.roll(x, (1, -1), (0, 1))),
    ("repeat", lambda x: F.repeat(x, 2, 3), lambda x: np.tile(x, (2, 3))),
    ("repeat-lead", lambda x: F.repeat(x, (2, 1, 1)), lambda x: np.tile(x, (2, 1, 1))),
    ("tile-short", lambda x: F.tile(x, (2,)), lambda x: np.tile(x, (1, 2))),
    ("tile-zero", lambda x: F.tile(x, (0, 1)), lambda x: np.tile(x, (0, 1))),
    ("broadcast_to", lambda x: F.broadcast_to(x[:, :1], (2, 3, 4)),
     lambda x: np.broadcast_to(x[:, :1], (2, 3, 4))),
    ("index_select", lambda x: F.index_select(x, 1, np.array([3, 0, 3])), lambda x: x[:, [3, 0, 3]]),
    ("index_select0", lambda x: F.index_select(x, dim=0, index=[2]), lambda x: x[[2]]),
    ("masked_fill", lambda x: F.masked_fill(x, x > 0.5, -1.0), lambda x: np.where(x > 0.5, -1.0, x)),
    ("masked_fill-bcast", lambda x: F.masked_fill(x, np.array([True, False, True, False]), 2.0),
     lambda x: np.where([True, False, True, False], 2.0, x)),
    ("tril", F.tril, np.tril), ("tril1", lambda x: F.tril(x, 1), lambda x: np.tril(x, 1)),
    ("tril-neg", lambda x: F.tril(x, -1), lambda x: np.tril(x, -1)),
    ("triu", F.triu, np.triu), ("triu2", lambda x: F.triu(x, 2), lambda x: np.triu(x, 2)),
    ("triu-neg", lambda x: F.triu(x, -1), lambda x: np.triu(x, -1)),
    ("diag", F.diag, np.diag), ("diag1", lambda x: F.diag(x, 1), lambda x: np.diag(x, 1)),
    ("diag-2", lambda x: F.diag(x, -2), lambda x: np.diag(x, -2)),
    ("diag-out", lambda x: F.diag(x, 9), lambda x: np.diag(x, 9)),
    ("diag-vec", lambda x: F.diag(x[0]), lambda x: np.diag(x[0])),
    ("diag-vec-k", lambda x: F.diag(x[0], -2), lambda x: np.diag(x[0], -2)),
    ("gather", lambda x: F.gather(x, 1, np.array([[0, 0], [3, 1], [2, 2]])),
     lambda x: np.take_along_axis(x, np.array([[0, 0], [3, 1], [2, 2]]), 1)),
]


@pytest.mark.parametrize("label,ours,ref", FORWARD, ids=[f[0] for f in FORWARD])
def test_forward_matches_numpy_and_gradients_check(label, ours, ref):
    np.testing.assert_array_equal(ours(Tensor(A)).data, ref(A))
    assert ours(Tensor(A.astype(np.float32))).dtype == np.float32
    assert tc.gradcheck(ours, [A])
    assert gradgrad(ours, [A])


def test_batched_tril_triu():
    np.testing.assert_array_equal(F.tril(B).data, np.tril(B))
    np.testing.assert_array_equal(Tensor(B).triu(1).data, np.triu(B, 1))
    inf = np.full((2, 2), np.inf)
    np.testing.assert_array_equal(F.tril(inf).data, [[np.inf, 0], [np.inf, np.inf]])  # zeros, not nan
    with pytest.raises(ValueError, match="tril: needs at least 2 dims"):
        F.tril(np.ones(3))


def test_split_and_chunk_as_torch():
    x = np.arange(14.0).reshape(7, 2)
    parts = F.split(x, 3)
    assert [p.shape for p in parts] == [(3, 2), (3, 2), (1, 2)]
    np.testing.assert_array_equal(np.concatenate([p.data for p in parts]), x)
    assert [p.shape for p in F.split(x, [1, 4, 2], dim=0)] == [(1, 2), (4, 2), (2, 2)]
    assert [p.shape for p in F.chunk(x, 3)] == [(3, 2), (3, 2), (1, 2)]
    assert [p.shape for p in F.chunk(np.ones((6, 2)), 4)] == [(2, 2), (2, 2), (2, 2)]  # fewer, as torch
    assert [p.shape for p in Tensor(x).chunk(2, dim=1)] == [(7, 1), (7, 1)]
    with pytest.raises(ValueError, match="split: sections \\[1, 2\\] do not add up to 7"):
        F.split(x, [1, 2])
    assert tc.gradcheck(lambda a: F.split(a, [1, 4, 2])[1] * 2.0, [x])
    t = Tensor(x, requires_grad=True)
    a, b, c = F.chunk(t, 3)
    (a.sum() + 2 * c.sum()).backward()
    np.testing.assert_array_equal(t.grad[:, 0], [1, 1, 1, 0, 0, 0, 2])


def test_split_chunk_against_torch():
    torch = pytest.importorskip("torch")
    x = np.arange(20.0).reshape(4, 5)
    for ours, theirs in [(F.split(x, 2, 1), torch.split(torch.tensor(x), 2, 1)),
                         (F.chunk(x, 3, 1), torch.chunk(torch.tensor(x), 3, 1)),
                         (F.chunk(x, 3, 0), torch.chunk(torch.tensor(x), 3, 0))]:
        assert [p.shape for p in ours] == [tuple(p.shape) for p in theirs]
    np.testing.assert_array_equal(F.repeat(x, 2, 1, 2).data, torch.tensor(x).repeat(2, 1, 2).numpy())
    np.testing.assert_array_equal(F.tile(x, (3,)).data, torch.tile(torch.tensor(x), (3,)).numpy())


def test_gather_scatter_against_torch():
    torch = pytest.importorskip("torch")
    x, src = R.standard_normal((3, 5)), R.standard_normal((4, 6))
    idx = np.array([[0, 2, 2], [1, 0, 2]])
    for axis in (0, 1):
        np.testing.assert_array_equal(F.gather(x, axis, idx).data,
                                      torch.gather(torch.tensor(x), axis, torch.tensor(idx)).numpy())
        np.testing.assert_array_equal(F.scatter_add(x, axis, idx, src).data,
                                      torch.tensor(x).scatter_add(axis, torch.tensor(idx), torch.tensor(src)))
    uniq = np.array([[0, 2, 1], [2, 1, 0]])
    np.testing.assert_array_equal(F.scatter(x, 0, uniq, src).data,
                                  torch.tensor(x).scatter(0, torch.tensor(uniq), torch.tensor(src)).numpy())
    np.testing.assert_array_equal(Tensor(x).scatter(1, uniq, 7.5).data,
                                  torch.tensor(x).scatter(1, torch.tensor(uniq), 7.5).numpy())
    # gradients of scatter for x and src (torch's backward rejects a src larger than index)
    g, src = R.standard_normal(x.shape), src[:2, :3]
    tx, ts = Tensor(x, requires_grad=True), Tensor(src, requires_grad=True)
    F.scatter(tx, 0, uniq, ts).backward(g)
    px, ps = torch.tensor(x, requires_grad=True), torch.tensor(src, requires_grad=True)
    px.scatter(0, torch.tensor(uniq), ps).backward(torch.tensor(g))
    np.testing.assert_array_equal(tx.grad, px.grad.numpy())
    np.testing.assert_array_equal(ts.grad, ps.grad.numpy())


def test_gather_gradient_accumulates_repeats():
    t = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    out = t.gather(1, np.array([[0, 0, 2], [1, 1, 1]]))
    np.testing.assert_array_equal(out.data, [[0, 0, 2], [4, 4, 4]])
    out.sum().backward()
    np.testing.assert_array_equal(t.grad, [[2, 0, 1], [0, 3, 0]])


def test_index_errors_name_the_op_and_shapes():
    x = np.ones((3, 4))
    with pytest.raises(IndexError, match=r"gather: index values must be in \[0, 4\)"):
        F.gather(x, 1, np.array([[4]]))
    with pytest.raises(IndexError, match="gather: index values"):
        F.gather(x, 1, np.array([[-1]]))
    with pytest.raises(ValueError, match="gather: index has 1 dims but the input has 2"):
        F.gather(x, 0, np.array([0]))
    with pytest.raises(TypeError, match="gather: index must hold integers"):
        F.gather(x, 0, np.array([[0.0]]))
    with pytest.raises(ValueError, match=r"scatter_add: index shape \(2, 2\) is larger than src"):
        F.scatter_add(x, 0, np.zeros((2, 2), np.int64), np.ones((1, 2)))
    with pytest.raises(IndexError, match="index_select: index values must be in"):
        F.index_select(x, 0, [3])
    with pytest.raises(ValueError, match="masked_fill: mask of shape"):
        F.masked_fill(x, np.ones((2, 4), bool), 0.0)
    with pytest.raises(TypeError, match="masked_fill: mask must be boolean"):
        F.masked_fill(x, np.ones((3, 4)), 0.0)
    with pytest.raises(ValueError, match="repeat: 1 repeat counts for a tensor of shape"):
        F.repeat(x, 2)
    with pytest.raises(ValueError, match="roll: 2 shifts for 1 axes"):
        F.roll(x, (1, 2), 0)
    with pytest.raises(ValueError, match="flip: axis 2 is out of bounds"):
        F.flip(x, 2)
    with pytest.raises(ValueError, match="diag: expects a 1-D or 2-D tensor"):
        F.diag(np.ones((2, 2, 2)))


def test_one_hot():
    out = F.one_hot(np.array([[0, 2], [1, 0]]))
    assert out.dtype == np.int64 and out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out.data[0], [[1, 0, 0], [0, 0, 1]])
    assert F.one_hot(Tensor(np.array([1])), num_classes=4).shape == (1, 4)
    assert F.one_hot(np.zeros(0, np.int64), 3).shape == (0, 3)
    with pytest.raises(ValueError, match="one_hot: class index 3 is out of range for num_classes=3"):
        F.one_hot(np.array([3]), 3)
    with pytest.raises(ValueError, match="one_hot: class indices must be >= 0"):
        F.one_hot(np.array([-1]))


def test_masked_fill_gradient_and_tensor_value():
    x = Tensor(A, requires_grad=True)
    v = Tensor(np.array(2.0), requires_grad=True)
    mask = A > 0
    F.masked_fill(x, mask, v).sum().backward()
    np.testing.assert_array_equal(x.grad, ~mask)
    assert v.grad == mask.sum()
    assert F.masked_fill(Tensor(A.astype(np.float32)), mask, 3.0).dtype == np.float32


def test_tensor_methods_exist_and_agree():
    t = Tensor(A)
    np.testing.assert_array_equal(t.flip(0, 1).data, np.flip(A, (0, 1)))
    np.testing.assert_array_equal(t.roll(1, dims=0).data, np.roll(A, 1, 0))
    np.testing.assert_array_equal(t.repeat(1, 2).data, np.tile(A, (1, 2)))
    np.testing.assert_array_equal(t.index_select(0, [1]).data, A[[1]])
    np.testing.assert_array_equal(t.masked_fill(A > 0, 0.0).data, np.where(A > 0, 0, A))
    np.testing.assert_array_equal(t.diag().data, np.diag(A))
    np.testing.assert_array_equal(t.broadcast_to((2, 3, 4)).data, np.broadcast_to(A, (2, 3, 4)))
    assert len(t.split(2, dim=1)) == 2
