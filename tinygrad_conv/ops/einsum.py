"""einsum: any subscripts (ellipsis, broadcasting, repeated indices / diagonals), forward by
``np.einsum`` with NumPy's path optimiser, VJP by another einsum.

Subscripts are first normalised to an explicit form with letters only (``normalize_subscripts``):
the ellipsis becomes letters, implicit output is made explicit (NumPy's rule), and a size-1 axis
that broadcasts against a longer one gets a letter of its own. The gradient of operand i is then
einsum(out, other operands -> the letters of operand i): letters that appear only in operand i
are broadcast back, and a repeated letter (a diagonal, ``ii``) is written back onto the diagonal
with ``getitem_grad``. Every piece is a registered op, so the VJP is differentiable again.
"""

from __future__ import annotations

import string
from typing import Any

import numpy as np

from ..autograd.registry import Op, Sample, register
from ..tensor import apply
from ._util import randn
from .shape import BroadcastTo, GetItemGrad


def _split(subscripts: str, n: int) -> tuple[list[str], str | None]:
    s = subscripts.replace(" ", "")
    lhs, arrow, rhs = s.partition("->")
    terms = lhs.split(",")
    if len(terms) != n:
        raise ValueError(f"einsum: subscripts {subscripts!r} name {len(terms)} operands but {n} were given")
    for t in terms + ([rhs] if arrow else []):
        body = t.replace("...", "")
        if "." in body or not all(c in string.ascii_letters for c in body):
            raise ValueError(f"einsum: invalid subscripts {subscripts!r} (letters, ',', '->' and '...' only)")
    return terms, (rhs if arrow else None)


def normalize_subscripts(subscripts: str, shapes: list[tuple[int, ...]]) -> str:
    """Equivalent explicit subscripts without '...' for operands of ``shapes`` (NumPy's rules)."""
    terms, out = _split(subscripts, len(shapes))
    used = set(subscripts)
    free = [c for c in string.ascii_letters if c not in used]
    n_ell = []
    for t, shp in zip(terms, shapes):
        k = len(shp) - (len(t) - 3 if "..." in t else len(t))
        if k < 0 or (k and "..." not in t):
            raise ValueError(f"einsum: subscripts {t!r} do not match an operand of shape {shp}")
        n_ell.append(k if "..." in t else 0)
    e = max(n_ell, default=0)
    if len(free) < 2 * e:
        raise ValueError(f"einsum: too many dimensions for the 52 subscript letters ({subscripts!r})")
    ell, spare = free[:e], iter(free[e:])
    bsize = [1] * e  # broadcast size of each ellipsis axis
    for t, shp, k in zip(terms, shapes, n_ell):
        start = t.index("...") if "..." in t else 0
        for j in range(k):
            s, pos = shp[start + j], e - k + j
            if s != 1 and bsize[pos] not in (1, s):
                raise ValueError(f"einsum: ellipsis dims of shapes {shapes} do not broadcast")
            bsize[pos] = max(bsize[pos], s) if s != 1 else bsize[pos]
    new_terms = []
    for t, shp, k in zip(terms, shapes, n_ell):
        if "..." in t:
            start = t.index("...")
            mine = [ell[e - k + j] if shp[start + j] == bsize[e - k + j] else next(spare) for j in range(k)]
            t = t.replace("...", "".join(mine))
        new_terms.append(t)
    if out is None:
        counts = "".join(terms).replace(".", "")
        out = "".join(ell) + "".join(sorted(c for c in set(counts) if counts.count(c) == 1))
    else:
        out = out.replace("...", "".join(ell))
    if len(set(out)) != len(out):
        raise ValueError(f"einsum: output subscripts {out!r} repeat a letter")
    missing = set(out) - set("".join(new_terms))
    if missing:
        raise ValueError(f"einsum: output letters {sorted(missing)} do not appear in the inputs")
    return ",".join(new_terms) + "->" + out


_PLAN_MIN_SIZE = 1 << 14  # elements over all operands


def _sizes(terms: list[str], shapes) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for t, shp in zip(terms, shapes):
        for c, s in zip(t, shp):
            if sizes.setdefault(c, s) != s:
                raise ValueError(f"einsum: letter {c!r} has sizes {sizes[c]} and {s} (shapes {list(shapes)})")
    return sizes


@register("einsum")
class Einsum(Op):
    """Einstein summation over the operands; ``subscripts`` must be explicit (``'ij,jk->ik'``,
    no ellipsis): the functional ``einsum`` normalises any NumPy/PyTorch subscripts first."""

    @staticmethod
    def forward(ctx, *xs, subscripts=""):
        terms, out = _split(subscripts, len(xs))
        if out is None or any("..." in t for t in terms + [out]):
            raise ValueError(f"einsum op: subscripts must be explicit, got {subscripts!r}")
        for t, x in zip(terms, xs):
            if len(t) != x.ndim:
                raise ValueError(f"einsum: subscripts {t!r} do not match an operand of shape {x.shape}")
        _sizes(terms, [x.shape for x in xs])
        # the path optimiser (BLAS via tensordot, best order for 3+ operands) costs ~0.2 ms to plan:
        # worth it for several or large operands, not for tiny ones
        big = len(xs) > 2 or sum(x.size for x in xs) > _PLAN_MIN_SIZE
        res = np.einsum(subscripts, *xs, optimize=big)
        return np.array(res, copy=True) if len(xs) == 1 else np.asarray(res)  # never a view

    @staticmethod
    def vjp(ctx, g):
        terms, out = _split(ctx.attrs["subscripts"], len(ctx.inputs))
        assert out is not None
        sizes = _sizes(terms, [x.shape for x in ctx.inputs])
        grads: list[Any] = []
        for i, (x, need) in enumerate(zip(ctx.inputs, ctx.needs_input_grad)):
            if not need:
                grads.append(None)
                continue
            t = terms[i]
            uniq = "".join(dict.fromkeys(t))
            others = [x2 for j, x2 in enumerate(ctx.inputs) if j != i]
            seen = set(out).union(*[terms[j] for j in range(len(terms)) if j != i])
            kept = "".join(c for c in uniq if c in seen)
            expr = ",".join([out] + [terms[j] for j in range(len(terms)) if j != i]) + "->" + kept
            gi = apply(Einsum, g, *others, subscripts=expr)
            if kept != uniq:  # letters summed over in operand i alone: their gradient is broadcast
                gi = gi.reshape(tuple(sizes[c] if c in kept else 1 for c in uniq))
                gi = apply(BroadcastTo, gi, shape=tuple(sizes[c] for c in uniq))
            if uniq != t:  # repeated letters: only the diagonal of operand i was read
                index = tuple(
                    np.arange(sizes[c]).reshape(tuple(-1 if u == c else 1 for u in uniq)) for c in t)
                gi = apply(GetItemGrad, gi, index=index, shape=x.shape)
            grads.append(gi)
        return tuple(grads)

    @staticmethod
    def samples():
        yield Sample((randn(3, 4), randn(4, 2)), {"subscripts": "ij,jk->ik"}, label="matmul")
        yield Sample((randn(2, 3, 4), randn(2, 4, 2)), {"subscripts": "bij,bjk->bik"}, label="bmm")
        yield Sample((randn(3, 3),), {"subscripts": "ii->"}, label="trace")
        yield Sample((randn(3, 3, 2),), {"subscripts": "iij->ji"}, label="diag")
        yield Sample((randn(3, 4), randn(4)), {"subscripts": "ij,j->"}, label="sum-all")
        yield Sample((randn(2, 3), randn(3, 4), randn(4, 2)), {"subscripts": "ij,jk,kl->il"}, label="chain")
        yield Sample((randn(2, 3), randn(5)), {"subscripts": "ij,k->jk"}, label="sum-alone")
        yield Sample((randn(2, 1, 3), randn(4, 3)), {"subscripts": "abj,cj->abc"}, label="size1")

    @staticmethod
    def label(attrs):
        return attrs["subscripts"]
