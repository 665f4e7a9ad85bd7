"""ONNX converters for the registered ops, keyed by op name.

Each converter mirrors its op's forward: ``(g, *input_names, **attrs) -> output name`` where ``g``
is the ``OnnxGraph`` being built. An op without a converter cannot be exported; the exporter
names it and the module scope it was recorded in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..autograd.registry import normalize_axes
from ..ops.conv import conv_attrs, conv_geometry
from ..ops.pool import pool_attrs
from .builder import INT64_MAX, INT64_MIN, ExportError, OnnxGraph

CONVERTERS: dict[str, Callable[..., str]] = {}


def converter(name: str) -> Callable[[Callable[..., str]], Callable[..., str]]:
    def deco(fn: Callable[..., str]) -> Callable[..., str]:
        CONVERTERS[name] = fn
        return fn

    return deco


# ---- elementwise: NumPy broadcasting is ONNX's multidirectional broadcasting --------------
def _simple(name: str, op_type: str) -> None:
    CONVERTERS[name] = lambda g, *xs: g.op(op_type, *xs)


for _name, _type in (("add", "Add"), ("sub", "Sub"), ("mul", "Mul"), ("div", "Div"), ("pow", "Pow"),
                     ("neg", "Neg"), ("exp", "Exp"), ("log", "Log"), ("sqrt", "Sqrt"), ("abs", "Abs"),
                     ("relu", "Relu"), ("tanh", "Tanh"), ("sigmoid", "Sigmoid"), ("maximum", "Max"),
                     ("minimum", "Min"), ("where", "Where"), ("matmul", "MatMul")):
    _simple(_name, _type)


@converter("clip")
def clip(g: OnnxGraph, x: str, min: float | None = None, max: float | None = None) -> str:
    dt = g.dtype(x)
    lo = "" if min is None else g.const(np.asarray(min, dtype=dt))
    hi = "" if max is None else g.const(np.asarray(max, dtype=dt))
    return g.op("Clip", x, lo, hi)


@converter("cast")
def cast(g: OnnxGraph, x: str, dtype: Any = None) -> str:
    from onnx.helper import np_dtype_to_tensor_dtype

    return g.op("Cast", x, to=np_dtype_to_tensor_dtype(np.dtype(dtype)))


# ---- reductions ---------------------------------------------------------------------------
def _reduce(op_type: str) -> Callable[..., str]:
    def conv(g: OnnxGraph, x: str, axis: object = None, keepdims: bool = False) -> str:
        axes = normalize_axes(axis, len(g.shape(x)), op_type)  # type: ignore[arg-type]
        return g.axes_form(op_type, x, axes, keepdims=int(bool(keepdims)))

    return conv


CONVERTERS["sum"] = _reduce("ReduceSum")
CONVERTERS["mean"] = _reduce("ReduceMean")
CONVERTERS["max"] = _reduce("ReduceMax")


@converter("softmax")
def softmax(g: OnnxGraph, x: str, axis: int = -1) -> str:
    return g.op("Softmax", x, axis=int(axis))  # opset >= 13: along one axis, as ours


@converter("log_softmax")
def log_softmax(g: OnnxGraph, x: str, axis: int = -1) -> str:
    return g.op("LogSoftmax", x, axis=int(axis))


# ---- shapes -------------------------------------------------------------------------------
def _batch_kept(g: OnnxGraph, in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> bool:
    """The leading (batch) axis passes through unchanged, so it may stay symbolic."""
    return bool(g.batch is not None and in_shape and out_shape and in_shape[0] == out_shape[0] == g.batch)


@converter("reshape")
def reshape(g: OnnxGraph, x: str, shape: tuple[int, ...] = ()) -> str:
    in_shape = g.shape(x)
    out = np.empty(in_shape, dtype=np.bool_).reshape(shape).shape  # resolves -1 as forward did
    if len(out) == 2 and len(in_shape) >= 2 and out == (in_shape[0], int(np.prod(in_shape[1:]))):
        return g.op("Flatten", x, axis=1)  # what Netron users expect from nn.Flatten
    target: list[int] = list(out)
    if _batch_kept(g, in_shape, out):
        target[0] = 0  # ONNX Reshape: 0 copies the input's dimension, so any batch size works
    return g.op("Reshape", x, g.ints(target))


@converter("transpose")
def transpose(g: OnnxGraph, x: str, axes: tuple[int, ...] | None = None) -> str:
    nd = len(g.shape(x))
    perm = list(range(nd))[::-1] if axes is None else [int(a) % nd for a in axes]
    return g.op("Transpose", x, perm=perm)


@converter("concatenate")
def concatenate(g: OnnxGraph, *xs: str, axis: int = 0) -> str:
    return g.op("Concat", *xs, axis=int(axis))


@converter("pad")
def pad(g: OnnxGraph, x: str, pad_width: tuple = (), value: float = 0.0) -> str:
    pw = [(int(a), int(b)) for a, b in pad_width]
    pads = [a for a, _ in pw] + [b for _, b in pw]
    return g.op("Pad", x, g.ints(pads), g.const(np.asarray(value, dtype=g.dtype(x))), mode="constant")


@converter("getitem")
def getitem(g: OnnxGraph, x: str, index: Any = None) -> str:
    """Basic indexing (ints, slices, None, ...) as Slice + Squeeze + Unsqueeze."""
    parts: list[Any] = list(index) if isinstance(index, tuple) else [index]
    if not all(isinstance(p, (int, np.integer, slice)) or p is None or p is Ellipsis for p in parts):
        raise ExportError("getitem: only basic indexing (ints, slices, None, ...) is exportable, "
                          "not integer-array or boolean indices")
    shape = g.shape(x)
    n_axes = sum(p is not Ellipsis and p is not None for p in parts)
    if Ellipsis in parts:
        k = parts.index(Ellipsis)
        parts[k:k + 1] = [slice(None)] * (len(shape) - n_axes)
    parts += [slice(None)] * (len(shape) - sum(p is not None for p in parts))
    starts: list[int] = []
    ends: list[int] = []
    axes: list[int] = []
    steps: list[int] = []
    squeeze: list[int] = []
    unsqueeze: list[int] = []
    ax = out_ax = 0
    for p in parts:
        if p is None:
            unsqueeze.append(out_ax)
            out_ax += 1
            continue
        dim = shape[ax]
        if isinstance(p, slice):
            if p == slice(None):
                ax, out_ax = ax + 1, out_ax + 1
                continue  # whole axis: no Slice entry, so a dynamic batch axis stays dynamic
            start, stop, step = p.indices(dim)
            if step < 0 and stop < 0:
                stop = INT64_MIN  # "before index 0"; -1 would mean the last element in ONNX
            for lst, v in ((starts, start), (ends, stop), (axes, ax), (steps, step)):
                lst.append(v)
            out_ax += 1
        else:
            i = int(p) % dim
            for lst, v in ((starts, i), (ends, i + 1), (axes, ax), (steps, 1), (squeeze, ax)):
                lst.append(v)
        ax += 1
    y = x
    if axes:
        if g.batch is not None and 0 in axes:
            k = axes.index(0)
            if ends[k] == shape[0] and steps[k] == 1:
                ends[k] = INT64_MAX  # up to the end of whatever batch comes in
        y = g.op("Slice", y, g.ints(starts), g.ints(ends), g.ints(axes), g.ints(steps))
    if squeeze:
        y = g.axes_form("Squeeze", y, squeeze)
    if unsqueeze:
        y = g.axes_form("Unsqueeze", y, unsqueeze)
    return y if y != x else g.op("Identity", x)


# ---- CNN ops ------------------------------------------------------------------------------
@converter("conv2d")
def conv2d(g: OnnxGraph, x: str, w: str, *bias: str, stride: object = 1, padding: object = 0,
           dilation: object = 1, groups: int = 1) -> str:
    attrs = conv_attrs(stride, padding, dilation, groups)
    geo = conv_geometry(g.shape(x), g.shape(w), g.shape(bias[0]) if bias else None, attrs)
    t, b, left, r = geo.pads
    return g.op("Conv", x, w, *bias, kernel_shape=[geo.kh, geo.kw], strides=list(geo.stride),
                pads=[t, left, b, r], dilations=list(geo.dilation), group=attrs["groups"])


def _pool(name: str, op_type: str, **extra: int) -> Callable[..., str]:
    def conv(g: OnnxGraph, x: str, kernel_size: object = 2, stride: object = None,
             padding: object = 0) -> str:
        a = pool_attrs(name, kernel_size, stride, padding)
        (ph, pw) = a["padding"]
        return g.op(op_type, x, kernel_shape=list(a["kernel_size"]), strides=list(a["stride"]),
                    pads=[ph, pw, ph, pw], **extra)

    return conv


CONVERTERS["max_pool2d"] = _pool("max_pool2d", "MaxPool")
# zero padding counts in the divisor, as ours (and PyTorch's default)
CONVERTERS["avg_pool2d"] = _pool("avg_pool2d", "AveragePool", count_include_pad=1)
