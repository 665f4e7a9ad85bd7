"""Tensor: a thin face over an ndarray and the tape. Operators call ops; no math lives here."""

from __future__ import annotations

import inspect
import weakref
from typing import Any

import numpy as np

from ._conventions import to_array
from ._tensor_api import TensorAPI
from ._tensor_methods import TensorMethods
from ._tensor_ops import TensorOps
from .autograd import engine
from .autograd.registry import Op
from .autograd.tape import STATE, Node, check_finite

ArrayLike = Any


class Tensor(TensorMethods, TensorOps, TensorAPI):
    """An n-dimensional array that records the ops applied to it.

    Args:
        data: array-like; an ndarray is wrapped without copying (its dtype kept). Python floats
            (and lists of them) become float32, Python ints int64, as ``torch.tensor``. Only
            bool, integer and floating dtypes are accepted.
        requires_grad: track gradients for this leaf (floating-point dtypes only).
        dtype: optional NumPy dtype to convert ``data`` to.
        name: optional label shown in graphs and error messages.

    Comparisons (``==``, ``<``, ...) are elementwise and give bool tensors without gradient;
    hashing is by identity (``hash(t) == id``-based), so tensors key dicts and sets as objects,
    never by value. ``.grad`` is an ndarray.
    """

    __slots__ = ("_data", "grad", "requires_grad", "name", "_node", "_retain", "_version", "__weakref__")
    __array_ufunc__ = None  # make NumPy defer to our reflected operators (ndarray + Tensor)

    def __init__(
        self,
        data: ArrayLike,
        requires_grad: bool = False,
        dtype: Any = None,
        name: str | None = None,
    ) -> None:
        if isinstance(data, Tensor):
            data = data.data
        arr = to_array(data, dtype, "Tensor")
        if requires_grad and arr.dtype.kind != "f":
            raise TypeError(
                f"Tensor: only floating-point tensors can require grad (got dtype {arr.dtype})"
            )
        self._data: np.ndarray = arr
        self._version = 0  # bumped by in-place changes the library sees (see backward's check)
        self.grad: np.ndarray | None = None
        self.requires_grad = bool(requires_grad)
        self.name = name
        self._node: Node | None = None
        self._retain = False

    # ---- array facts -------------------------------------------------------------------
    @property
    def data(self) -> np.ndarray:
        """The underlying ndarray. Assigning a new array counts as an in-place change: a recorded
        op that used this tensor then refuses to backpropagate (its gradient would be wrong).
        Writes *into* the array (``t.data[:] = 0``) cannot be seen; see docs/reliability.md."""
        return self._data

    @data.setter
    def data(self, value: np.ndarray) -> None:
        self._data = value
        self._version += 1

    def _bump_version(self) -> None:
        """Record an in-place change made through the library (optimizer steps, ``zero_``...)."""
        self._version += 1

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def node(self) -> Node | None:
        """The tape node that produced this tensor (None for leaves and untracked results)."""
        return self._node

    def numpy(self) -> np.ndarray:
        """The underlying ndarray (shared, not copied)."""
        return self.data

    def item(self) -> float | int | bool:
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item: tensor of shape {self.shape} has {self.data.size} elements, not 1")
        return self.data.item()

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data, cut from the tape."""
        return Tensor(self.data, name=self.name)

    def retain_grad(self) -> Tensor:
        """Keep ``.grad`` on this non-leaf tensor after backward (leaves always keep it)."""
        self._retain = True
        return self

    def requires_grad_(self, flag: bool = True) -> Tensor:
        """Set ``requires_grad`` in place (floating dtypes only) and return self."""
        if flag and self.dtype.kind != "f":
            raise TypeError(f"requires_grad_: dtype {self.dtype} cannot require grad")
        self.requires_grad = flag
        return self

    def backward(
        self, grad: ArrayLike | None = None, retain_graph: bool | None = None, create_graph: bool = False
    ) -> None:
        """Accumulate d(self)/d(leaf) into every grad-requiring leaf's ``.grad`` (an ndarray).

        A scalar needs no ``grad``; any other shape needs one of the same shape. With
        ``create_graph=True`` the backward pass itself is recorded (``retain_graph`` then defaults
        to True); ``.grad`` still receives arrays, use ``tc.grad(..., create_graph=True)`` to get
        the gradients as Tensors that can be differentiated again.
        """
        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad (no recorded graph)")
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward: grad can be omitted only for a scalar; this tensor has shape "
                    f"{self.shape} (pass grad=np.ones({self.shape}) or reduce it first)"
                )
            g = Tensor(np.ones(self.shape, dtype=self.dtype))
        else:
            g = grad if isinstance(grad, Tensor) else Tensor(np.asarray(grad, dtype=self.dtype))
            if g.shape != self.shape:
                raise ValueError(f"backward: grad shape {g.shape} != tensor shape {self.shape}")
            if g.dtype != self.dtype:
                g = Tensor(g.data.astype(self.dtype)) if not g.requires_grad else g.astype(self.dtype)
        if retain_graph is None:
            retain_graph = create_graph
        engine.run_backward([self], [g], retain_graph=retain_graph, create_graph=create_graph)

    def __repr__(self) -> str:
        extra = f"shape={self.shape}, dtype={self.dtype}"
        if self.requires_grad:
            extra += ", requires_grad=True"
        if self._node is not None:
            extra += f", op={self._node.op.name}"
        if self.name:
            extra += f", name={self.name!r}"
        # NumPy's own summarisation (threshold / edgeitems from np.get_printoptions)
        body = np.array2string(self.data, separator=", ", prefix="Tensor(")
        return f"Tensor({body}, {extra})"

    # ---- operators (all delegate to functional) ----------------------------------------
    def __add__(self, o: ArrayLike) -> Tensor:
        return F.add(self, o)

    def __radd__(self, o: ArrayLike) -> Tensor:
        return F.add(o, self)

    def __sub__(self, o: ArrayLike) -> Tensor:
        return F.sub(self, o)

    def __rsub__(self, o: ArrayLike) -> Tensor:
        return F.sub(o, self)

    def __mul__(self, o: ArrayLike) -> Tensor:
        return F.mul(self, o)

    def __rmul__(self, o: ArrayLike) -> Tensor:
        return F.mul(o, self)

    def __truediv__(self, o: ArrayLike) -> Tensor:
        return F.div(self, o)

    def __rtruediv__(self, o: ArrayLike) -> Tensor:
        return F.div(o, self)

    def __matmul__(self, o: ArrayLike) -> Tensor:
        return F.matmul(self, o)

    def __rmatmul__(self, o: ArrayLike) -> Tensor:
        return F.matmul(o, self)

    def __pow__(self, o: ArrayLike) -> Tensor:
        return F.pow(self, o)

    def __rpow__(self, o: ArrayLike) -> Tensor:
        return F.pow(o, self)

    def __neg__(self) -> Tensor:
        return F.neg(self)

    def __getitem__(self, index: Any) -> Tensor:
        return F.getitem(self, index)


def _raw(x: ArrayLike) -> Any:
    return x.data if isinstance(x, Tensor) else x


def as_tensor(x: ArrayLike, like: Tensor | None = None) -> Tensor:
    """Wrap ``x`` as a constant Tensor; a Python number takes ``like``'s dtype (NumPy 2 rules),
    so ``float32_tensor * 2.0`` stays float32."""
    if isinstance(x, Tensor):
        return x
    if like is not None and isinstance(x, (int, float, bool)):
        return Tensor(np.asarray(x, dtype=np.result_type(like.data.dtype, x)))
    return Tensor(x)


def _defaults(op: type[Op]) -> dict[str, Any]:
    """The keyword defaults of ``op.forward`` (cached on the class): recorded in node.attrs so
    VJPs, pictures and exporters see every attribute without restating defaults."""
    d = op.__dict__.get("_attr_defaults")
    if d is None:
        d = {p.name: p.default for p in inspect.signature(op.forward).parameters.values()
             if p.default is not inspect.Parameter.empty}
        op._attr_defaults = d  # type: ignore[attr-defined]
    return d


class _Untracked:
    """The ctx an op's forward gets when nothing is recorded (grad mode off, or no input needs a
    gradient): the same ``needs_input_grad`` / ``save`` face as a Node, none of its bookkeeping.
    Every VJP of a first-order backward runs its ops this way, so this path is kept short."""

    __slots__ = ("needs_input_grad", "attrs", "saved")
    inputs: tuple = ()

    def __init__(self, n: int, attrs: dict) -> None:
        self.needs_input_grad = _NO_GRADS[n] if n < len(_NO_GRADS) else (False,) * n
        self.attrs = attrs
        self.saved = None

    def save(self, *values: Any) -> None:
        """Nothing to keep: no backward can reach this op."""


_NO_GRADS = tuple((False,) * n for n in range(8))


def apply(op: type[Op], *inputs: Tensor, **attrs: Any) -> Tensor:
    """Run ``op`` forward on the inputs' arrays and record a tape node when a gradient is needed."""
    track = False
    if STATE.grad_enabled:
        for i in inputs:
            if i.requires_grad:
                track = True
                break
    if track:
        defaults = _defaults(op)
        if defaults:
            attrs = {**defaults, **attrs}
        ctx: Any = Node(op, inputs, tuple(t.requires_grad for t in inputs), attrs)
    else:
        ctx = _Untracked(len(inputs), attrs)
    try:
        out = op.forward(ctx, *[t._data for t in inputs], **attrs)
    except (ValueError, IndexError, TypeError) as e:
        if str(e).startswith(op.name + ":"):
            raise
        shapes = ", ".join(f"{t.shape} {t.dtype}" for t in inputs)
        cls = ValueError if isinstance(e, _AxisError) else type(e)
        raise cls(f"{op.name}: {e} (inputs: {shapes}; attrs: {attrs})") from e
    if STATE.anomaly:
        check_finite(out, f"forward of op '{op.name}'")
    t = Tensor.__new__(Tensor)
    t._data = out
    t._version = 0
    t.grad = None
    t.name = None
    t._retain = False
    if track and out.dtype.kind == "f":
        t.requires_grad = True
        t._node = ctx
        ctx.versions = tuple(i._version for i in inputs)
        ctx.out_ref = weakref.ref(t)
        if op.save_output:
            ctx.out = out
    else:
        t.requires_grad = False
        t._node = None
    return t


_AxisError = getattr(getattr(np, "exceptions", np), "AxisError", IndexError)  # NumPy < 1.25: np.AxisError


from . import functional as F  # noqa: E402  (functional imports Tensor from this module)
