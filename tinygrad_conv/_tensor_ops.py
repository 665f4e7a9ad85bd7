"""Tensor methods for the wider PyTorch vocabulary (math, activations, indexing, scans, linear
algebra): a mixin of ``Tensor``; every method is one call into ``tinygrad_conv.functional``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._conventions import renamed

if TYPE_CHECKING:
    from .tensor import Tensor

ArrayLike = Any


class _Functional:
    """``tinygrad_conv.functional`` on first use (it imports ``tensor``, which imports this)."""

    def __getattr__(self, name: str) -> Any:
        from . import functional

        return getattr(functional, name)


F: Any = _Functional()


class TensorOps:
    """Methods of ``Tensor`` (see each functional counterpart for shapes and gradients)."""

    __slots__ = ()

    def __mod__(self, o: ArrayLike) -> Tensor:
        return F.remainder(self, o)

    def __rmod__(self, o: ArrayLike) -> Tensor:
        return F.remainder(o, self)

    def __floordiv__(self, o: ArrayLike) -> Tensor:
        return F.floor_divide(self, o)

    def __rfloordiv__(self, o: ArrayLike) -> Tensor:
        return F.floor_divide(o, self)

    def sin(self) -> Tensor:
        """sin, elementwise."""
        return F.sin(self)

    def cos(self) -> Tensor:
        """cos, elementwise."""
        return F.cos(self)

    def tan(self) -> Tensor:
        """tan, elementwise."""
        return F.tan(self)

    def asin(self) -> Tensor:
        """arcsin, elementwise."""
        return F.asin(self)

    def acos(self) -> Tensor:
        """arccos, elementwise."""
        return F.acos(self)

    def atan(self) -> Tensor:
        """arctan, elementwise."""
        return F.atan(self)

    def sinh(self) -> Tensor:
        """Hyperbolic sine, elementwise."""
        return F.sinh(self)

    def cosh(self) -> Tensor:
        """Hyperbolic cosine, elementwise."""
        return F.cosh(self)

    def log2(self) -> Tensor:
        """Base-2 logarithm, elementwise."""
        return F.log2(self)

    def log10(self) -> Tensor:
        """Base-10 logarithm, elementwise."""
        return F.log10(self)

    def log1p(self) -> Tensor:
        """log(1 + self), elementwise."""
        return F.log1p(self)

    def expm1(self) -> Tensor:
        """exp(self) - 1, elementwise."""
        return F.expm1(self)

    def exp2(self) -> Tensor:
        """2 ** self, elementwise."""
        return F.exp2(self)

    def rsqrt(self) -> Tensor:
        """1 / sqrt(self), elementwise."""
        return F.rsqrt(self)

    def reciprocal(self) -> Tensor:
        """1 / self, elementwise."""
        return F.reciprocal(self)

    def square(self) -> Tensor:
        """self * self, elementwise."""
        return F.square(self)

    def erf(self) -> Tensor:
        """The error function, elementwise."""
        return F.erf(self)

    def sign(self) -> Tensor:
        """-1, 0 or 1 (gradient 0)."""
        return F.sign(self)

    def floor(self) -> Tensor:
        """Round down (gradient 0)."""
        return F.floor(self)

    def ceil(self) -> Tensor:
        """Round up (gradient 0)."""
        return F.ceil(self)

    def round(self) -> Tensor:
        """Round half to even (gradient 0)."""
        return F.round(self)

    def trunc(self) -> Tensor:
        """Round toward zero (gradient 0)."""
        return F.trunc(self)

    def remainder(self, o: ArrayLike) -> Tensor:
        """self % o with the sign of o."""
        return F.remainder(self, o)

    def floor_divide(self, o: ArrayLike) -> Tensor:
        """self // o rounded toward minus infinity."""
        return F.floor_divide(self, o)

    def atan2(self, o: ArrayLike) -> Tensor:
        """atan2(self, o): the angle of the point (o, self)."""
        return F.atan2(self, o)

    def lerp(self, end: ArrayLike, weight: ArrayLike) -> Tensor:
        """self + weight * (end - self)."""
        return F.lerp(self, end, weight)

    @renamed(dim="axis", keepdim="keepdims")
    def prod(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        """Product over ``axis`` (exact gradient with zeros)."""
        return F.prod(self, axis, keepdims)

    @renamed(dim="axis", keepdim="keepdims")
    def std(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False,
            correction: int = 0) -> Tensor:
        """Standard deviation over ``axis`` (``correction=0``: biased, as ``var``)."""
        return F.std(self, axis, keepdims, correction)

    @renamed(dim="axis", keepdim="keepdims")
    def logsumexp(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        """Stable log(sum(exp(self))) over ``axis``."""
        return F.logsumexp(self, axis, keepdims)

    @renamed(dim="axis")
    def cumsum(self, axis: int | None = None) -> Tensor:
        """Running sum along ``axis``."""
        return F.cumsum(self, axis)

    @renamed(dim="axis")
    def cumprod(self, axis: int | None = None) -> Tensor:
        """Running product along ``axis``."""
        return F.cumprod(self, axis)

    @renamed(dim="axis")
    def cummax(self, axis: int | None = None) -> Any:
        """(values, indices) of the running maximum along ``axis``."""
        return F.cummax(self, axis)

    @renamed(dim="axis")
    def cummin(self, axis: int | None = None) -> Any:
        """(values, indices) of the running minimum along ``axis``."""
        return F.cummin(self, axis)

    @renamed(dim="axis", keepdim="keepdims")
    def any(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        """True where any element is nonzero (bool Tensor)."""
        return F.any(self, axis, keepdims)

    @renamed(dim="axis", keepdim="keepdims")
    def all(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        """True where every element is nonzero (bool Tensor)."""
        return F.all(self, axis, keepdims)

    @renamed(dim="axis", keepdim="keepdims")
    def norm(self, p: float | str = "fro", axis: int | tuple[int, ...] | None = None,
             keepdims: bool = False) -> Tensor:
        """Vector p-norm over ``axis`` (p: 'fro', 2, 1, inf, -inf, 0 or a number)."""
        return F.norm(self, p, axis, keepdims)

    @renamed(dim="axis", keepdim="keepdims")
    def amax(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        """Maximum over ``axis`` (ties share the gradient)."""
        return F.amax(self, axis, keepdims)

    @renamed(dim="axis", keepdim="keepdims")
    def amin(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        """Minimum over ``axis`` (ties share the gradient)."""
        return F.amin(self, axis, keepdims)

    def flip(self, *axis: int | Sequence[int], **kw: Any) -> Tensor:
        """Reverse the order along the given axes: ``t.flip(0)``, ``t.flip((0, 1))``, ``t.flip(dims=0)``."""
        if axis:
            return F.flip(self, axis[0] if len(axis) == 1 else tuple(axis), **kw)  # type: ignore[arg-type]
        return F.flip(self, **kw)

    @renamed(dims="axis", dim="axis")
    def roll(self, shifts: int | Sequence[int], axis: int | Sequence[int] | None = None) -> Tensor:
        """Shift elements cyclically along ``axis``."""
        return F.roll(self, shifts, axis)

    def repeat(self, *sizes: int | Sequence[int]) -> Tensor:
        """Tile along each axis, as ``torch.Tensor.repeat``: ``t.repeat(2, 1)``."""
        return F.repeat(self, *sizes)

    def tile(self, reps: int | Sequence[int]) -> Tensor:
        """Tile, padding ``reps`` with leading 1s, as ``torch.tile``."""
        return F.tile(self, reps)

    @renamed(dim="axis")
    def split(self, split_size_or_sections: int | Sequence[int], axis: int = 0) -> tuple:
        """Pieces of the given size(s) along ``axis``."""
        return F.split(self, split_size_or_sections, axis)

    @renamed(dim="axis")
    def chunk(self, chunks: int, axis: int = 0) -> tuple:
        """``chunks`` near-equal pieces along ``axis``."""
        return F.chunk(self, chunks, axis)

    def gather(self, axis: int, index: ArrayLike) -> Tensor:
        """Entries picked along ``axis`` by ``index``, as ``torch.gather``."""
        return F.gather(self, axis, index)

    def scatter(self, axis: int, index: ArrayLike, src: ArrayLike) -> Tensor:
        """A copy with ``src`` written at ``index`` along ``axis``."""
        return F.scatter(self, axis, index, src)

    def scatter_add(self, axis: int, index: ArrayLike, src: ArrayLike) -> Tensor:
        """A copy with ``src`` added at ``index`` along ``axis``."""
        return F.scatter_add(self, axis, index, src)

    def index_select(self, axis: int, index: ArrayLike) -> Tensor:
        """The entries at the 1-D ``index`` along ``axis``."""
        return F.index_select(self, axis, index)

    def masked_fill(self, mask: ArrayLike, value: ArrayLike) -> Tensor:
        """A copy with ``value`` where ``mask`` is True."""
        return F.masked_fill(self, mask, value)

    def tril(self, diagonal: int = 0) -> Tensor:
        """Lower triangle of the last two dims."""
        return F.tril(self, diagonal)

    def triu(self, diagonal: int = 0) -> Tensor:
        """Upper triangle of the last two dims."""
        return F.triu(self, diagonal)

    def diag(self, diagonal: int = 0) -> Tensor:
        """Vector -> diagonal matrix, matrix -> its diagonal."""
        return F.diag(self, diagonal)

    def broadcast_to(self, shape: Sequence[int]) -> Tensor:
        """Broadcast to ``shape`` (the gradient sums back)."""
        return F.broadcast_to(self, shape)

    def outer(self, o: ArrayLike) -> Tensor:
        """Outer product of two 1-D tensors."""
        return F.outer(self, o)

    def bmm(self, o: ArrayLike) -> Tensor:
        """Batched matrix product (B, n, k) @ (B, k, m)."""
        return F.bmm(self, o)
