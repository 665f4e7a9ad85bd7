"""einsum (any subscripts) against np.einsum, its einsum VJP (first and second order), and
tensordot / outer / bmm against NumPy and PyTorch."""

import numpy as np
import pytest
from op_checks import gradgrad

import tinygrad_conv as tc
from tinygrad_conv import functional as F
from tinygrad_conv.ops.einsum import normalize_subscripts
from tinygrad_conv.tensor import Tensor

R = np.random.default_rng(21)

CASES = [  # (subscripts, operand shapes)
    ("ij,jk->ik", [(3, 4), (4, 2)]),
    ("ij,jk", [(3, 4), (4, 2)]),              # implicit output
    ("ba", [(2, 3)]),                          # implicit: sorted letters -> transpose
    ("aB,Bc", [(2, 3), (3, 4)]),               # upper case letters sort first
    ("ii", [(3, 3)]),                          # implicit trace
    ("ii->i", [(3, 3)]),                       # diagonal
    ("iij->j", [(3, 3, 2)]),                   # partial trace
    ("ij->", [(3, 4)]),
    ("i,i->", [(4,), (4,)]),
    ("i,j->ij", [(3,), (2,)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("...ij,...jk->...ik", [(2, 3, 4), (4, 5)]),
    ("...ij,...jk", [(2, 1, 3, 4), (5, 4, 2)]),  # ellipsis broadcasting with a size-1 axis
    ("i...->...", [(3, 2, 2)]),
    ("...ii->...i", [(2, 3, 3)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("ij,k->jk", [(2, 3), (4,)]),              # a letter summed over in one operand alone
    ("bhqd,bhkd->bhqk", [(1, 2, 3, 4), (1, 2, 5, 4)]),
    ("ij,ij->ij", [(0, 3), (0, 3)]),           # empty
    ("i,i,i->i", [(3,), (3,), (3,)]),
]


@pytest.mark.parametrize("subs,shapes", CASES, ids=[c[0] for c in CASES])
def test_einsum_matches_numpy_and_checks(subs, shapes):
    xs = [R.standard_normal(s) for s in shapes]
    out = F.einsum(subs, *xs)
    want = np.einsum(subs, *xs)
    assert out.shape == want.shape
    np.testing.assert_allclose(out.data, want, atol=1e-12)
    assert F.einsum(subs, *[x.astype(np.float32) for x in xs]).dtype == np.float32
    assert tc.gradcheck(lambda *ts: F.einsum(subs, *ts), xs)
    if all(x.size for x in xs):
        assert gradgrad(lambda *ts: F.einsum(subs, *ts), xs)


def test_einsum_gradients_against_torch():
    torch = pytest.importorskip("torch")
    for subs, shapes in [("iij->j", [(3, 3, 2)]), ("...ij,...jk", [(2, 1, 3, 4), (5, 4, 2)]),
                         ("ij,k->jk", [(2, 3), (4,)])]:
        xs = [R.standard_normal(s) for s in shapes]
        out = F.einsum(subs, *[Tensor(x, requires_grad=True) for x in xs])
        g = R.standard_normal(out.shape)
        ts = [Tensor(x, requires_grad=True) for x in xs]
        F.einsum(subs, *ts).backward(g)
        ps = [torch.tensor(x, requires_grad=True) for x in xs]
        torch.einsum(subs, *ps).backward(torch.tensor(g))
        for t, p in zip(ts, ps):
            np.testing.assert_allclose(t.grad, p.grad.numpy(), atol=1e-12, err_msg=subs)


def test_einsum_accepts_a_list_and_normalises_subscripts():
    a, b = R.standard_normal((2, 3)), R.standard_normal((3, 4))
    np.testing.assert_allclose(F.einsum("ij,jk->ik", [a, b]).data, a @ b)
    assert normalize_subscripts("...ij,...jk", [(2, 3, 4), (4, 5)]) == "aij,jk->aik"
    assert normalize_subscripts("ii", [(3, 3)]) == "ii->"
    out = F.einsum("ij,jk->ik", Tensor(a, requires_grad=True), b)
    assert out.node.op.label(out.node.attrs) == "ij,jk->ik"  # a readable label for graphs


@pytest.mark.parametrize("subs,shapes,match", [
    ("ij,jk->ik", [(3, 4)], "name 2 operands but 1 were given"),
    ("ij,jk->ik", [(3, 4), (5, 2)], "letter 'j' has sizes 4 and 5"),
    ("ij->ii", [(3, 3)], "output subscripts 'ii' repeat a letter"),
    ("ij->k", [(3, 3)], "output letters \\['k'\\] do not appear"),
    ("ijk->i", [(3, 3)], "do not match an operand of shape \\(3, 3\\)"),
    ("i1->i", [(3, 3)], "invalid subscripts"),
    ("...i,...i->...", [(2, 3), (3, 3)], "ellipsis dims of shapes"),
])
def test_einsum_errors(subs, shapes, match):
    with pytest.raises(ValueError, match="einsum: .*" + match):
        F.einsum(subs, *[np.ones(s) for s in shapes])


def test_tensordot_outer_bmm():
    a, b = R.standard_normal((2, 3, 4)), R.standard_normal((3, 4, 5))
    np.testing.assert_allclose(F.tensordot(a, b).data, np.tensordot(a, b, 2))
    c = R.standard_normal((4, 5))
    np.testing.assert_allclose(F.tensordot(a, c, 1).data, np.tensordot(a, c, 1))
    np.testing.assert_allclose(F.tensordot(a, b, ([1, 2], [0, 1])).data, np.tensordot(a, b, ([1, 2], [0, 1])))
    np.testing.assert_allclose(F.tensordot(a, b, ([1], [0])).data, np.tensordot(a, b, ([1], [0])))
    np.testing.assert_allclose(F.tensordot(a, b, 0).data, np.tensordot(a, b, 0))
    assert tc.gradcheck(lambda x, y: F.tensordot(x, y, ([1], [0])), [a, b])
    u, v = R.standard_normal(3), R.standard_normal(4)
    np.testing.assert_allclose(F.outer(u, v).data, np.outer(u, v))
    np.testing.assert_allclose(Tensor(u).outer(v).data, np.outer(u, v))
    assert tc.gradcheck(F.outer, [u, v]) and gradgrad(F.outer, [u, v])
    x, y = R.standard_normal((2, 3, 4)), R.standard_normal((2, 4, 5))
    np.testing.assert_allclose(F.bmm(x, y).data, x @ y)
    assert tc.gradcheck(F.bmm, [x, y])
    with pytest.raises(ValueError, match="bmm: expects \\(B, n, k\\) and \\(B, k, m\\)"):
        F.bmm(x, R.standard_normal((3, 4, 5)))
    with pytest.raises(ValueError, match="outer: expects two 1-D tensors"):
        F.outer(x, u)
    with pytest.raises(ValueError, match="tensordot: axis 2 of \\(2, 3, 4\\) and axis 0"):
        F.tensordot(a, b, ([2], [0]))
    with pytest.raises(ValueError, match="tensordot: dims=4 is invalid"):
        F.tensordot(a, b, 4)


def test_tensordot_against_torch():
    torch = pytest.importorskip("torch")
    a, b = R.standard_normal((2, 3, 4)), R.standard_normal((4, 3, 5))
    want = torch.tensordot(torch.tensor(a), torch.tensor(b), dims=([1, 2], [1, 0])).numpy()
    np.testing.assert_allclose(F.tensordot(a, b, ([1, 2], [1, 0])).data, want)


def test_large_operands_use_the_path_optimiser_and_give_fresh_arrays():
    a, b = R.standard_normal((130, 130)), R.standard_normal((130, 140))  # over the planning threshold
    np.testing.assert_allclose(F.einsum("ij,jk->ik", a, b).data, a @ b, atol=1e-10)
    sq = R.standard_normal((200, 200))
    d = F.einsum("ii->i", sq)
    np.testing.assert_array_equal(d.data, np.diag(sq))
    assert not np.shares_memory(d.data, sq) and d.data.flags.writeable
    t = Tensor(a, requires_grad=True)
    F.einsum("ij,jk->ik", t, b).backward(np.ones((130, 140)))
    np.testing.assert_allclose(t.grad, np.ones((130, 140)) @ b.T, atol=1e-10)
