"""Advanced indexing follows NumPy: forward against NumPy itself, gradient against np.add.at."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_conv as tc

A = np.random.default_rng(0).standard_normal((4, 5, 6))
i2 = np.array([0, 2, 2])       # repeated index: gradients must add up
j2 = np.array([[1, 4], [0, 1]])
mask = A[:, 0, 0] > 0

INDICES = [
    ("int", 2),
    ("negative int", -1),
    ("slice step", (slice(None), slice(4, 0, -2))),
    ("ellipsis newaxis", (Ellipsis, None, 3)),
    ("int array", i2),
    ("list", [3, 0, 0]),
    ("array then slice", (i2, slice(1, 4))),
    ("slice then array", (slice(None), i2)),
    ("int and array", (1, i2)),
    ("two arrays broadcast", (i2[:, None], np.array([0, 4]))),
    ("arrays split by slice", (i2, slice(None), np.array([5, 0, 5]))),   # NumPy moves them first
    ("arrays adjacent after slice", (slice(None), np.array([0, 4]), np.array([1, 1]))),
    ("2-d array", (slice(None), j2)),
    ("newaxis and array", (None, i2, 0)),
    ("ellipsis and array", (Ellipsis, np.array([5, 5, 0]))),
    ("bool mask", mask),
    ("bool mask and slice", (mask, slice(0, 2))),
    ("bool mask 2-d", A[:, :, 0] > 0.5),
    ("int tensor index", tc.Tensor(np.array([1, 1, 3]))),
    ("tensor in tuple", (slice(None), tc.Tensor(np.array([4, 0])))),
    ("bool tensor", tc.Tensor(mask)),
]


def _np_index(index):
    if isinstance(index, tc.Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, tc.Tensor) else i for i in index)
    return index


@pytest.mark.parametrize("label,index", INDICES, ids=[i[0] for i in INDICES])
def test_indexing_matches_numpy_forward_and_gradient(label, index):
    ref = A[_np_index(index)]
    x = tc.Tensor(A, requires_grad=True)
    y = x[index]
    assert y.shape == ref.shape, label
    np.testing.assert_array_equal(y.data, ref)
    g = np.cos(np.arange(ref.size)).reshape(ref.shape)
    y.backward(g)
    want = np.zeros_like(A)
    np.add.at(want, _np_index(index), g)  # NumPy's own scatter-add is the reference
    np.testing.assert_allclose(x.grad, want, rtol=0, atol=1e-15)


@pytest.mark.parametrize("index", [(0, 0, 0, 0), 4, (slice(None), np.array([5])), np.array([True, False])])
def test_bad_index_raises_like_numpy(index):
    with pytest.raises(IndexError, match="getitem"):
        tc.Tensor(A)[index]
