"""Shared pieces of the ops' ONNX export hooks (``Op.onnx``); the exporter lives in ``tinygrad_conv.export``.

A hook mirrors its op's forward: ``onnx(g, *input_names, **attrs) -> output name``, where ``g`` is
the exporter's graph (``tinygrad_conv.export.OnnxGraph``: ``g.op``, ``g.const``, ``g.ints``,
``g.shape``...). Nothing here imports ``onnx``; the exporter does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd.registry import normalize_axes

INT64_MAX = int(np.iinfo(np.int64).max)
INT64_MIN = int(np.iinfo(np.int64).min)


def node(op_type: str) -> Any:
    """Hook for an op that is one ONNX node of ``op_type`` on the same inputs (NumPy broadcasting is
    ONNX's multidirectional broadcasting)."""
    return staticmethod(lambda g, *xs: g.op(op_type, *xs))


def reduce(op_type: str) -> Any:
    """Hook for sum / mean / max / min over ``axis`` (None: all) with ``keepdims``."""

    def hook(g: Any, x: str, axis: Any = None, keepdims: bool = False) -> str:
        axes = normalize_axes(axis, len(g.shape(x)), op_type)
        return g.axes_form(op_type, x, axes, keepdims=int(bool(keepdims)))

    return staticmethod(hook)


def pool(op: str, op_type: str, **extra: int) -> Any:
    """Hook for max_pool2d / avg_pool2d: kernel, strides and symmetric pads as ONNX attributes."""

    def hook(g: Any, x: str, kernel_size: Any = 2, stride: Any = None, padding: Any = 0) -> str:
        from .pool import pool_attrs

        a = pool_attrs(op, kernel_size, stride, padding)
        ph, pw = a["padding"]
        return g.op(op_type, x, kernel_shape=list(a["kernel_size"]), strides=list(a["stride"]),
                    pads=[ph, pw, ph, pw], **extra)

    return staticmethod(hook)


def batch_kept(g: Any, in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> bool:
    """The leading (batch) axis passes through unchanged, so it may stay symbolic."""
    return bool(g.batch is not None and in_shape and out_shape and in_shape[0] == out_shape[0] == g.batch)


def getitem(g: Any, x: str, index: Any = None) -> str:
    """Basic indexing (ints, slices, None, ...) as Slice + Squeeze + Unsqueeze."""
    parts: list[Any] = list(index) if isinstance(index, tuple) else [index]
    if not all(isinstance(p, (int, np.integer, slice)) or p is None or p is Ellipsis for p in parts):
        raise ValueError("getitem: only basic indexing (ints, slices, None, ...) is exportable, "
                         "not integer-array or boolean indices")
    shape = g.shape(x)
    n_axes = sum(p is not Ellipsis and p is not None for p in parts)
    if Ellipsis in parts:
        k = parts.index(Ellipsis)
        parts[k:k + 1] = [slice(None)] * (len(shape) - n_axes)
    parts += [slice(None)] * (len(shape) - sum(p is not None for p in parts))
    sl: dict[str, list[int]] = {"starts": [], "ends": [], "axes": [], "steps": []}
    squeeze: list[int] = []
    unsqueeze: list[int] = []
    ax = out_ax = 0
    for p in parts:
        if p is None:
            unsqueeze.append(out_ax)
            out_ax += 1
            continue
        if isinstance(p, slice):
            out_ax += 1
            if p == slice(None):
                ax += 1
                continue  # whole axis: no Slice entry, so a dynamic batch axis stays dynamic
            start, stop, step = p.indices(shape[ax])
            if step < 0 and stop < 0:
                stop = INT64_MIN  # "before index 0"; -1 would mean the last element in ONNX
            elif ax == 0 and g.batch is not None and stop == shape[0] and step == 1:
                stop = INT64_MAX  # up to the end of whatever batch comes in
        else:
            start = int(p) % shape[ax]
            stop, step = start + 1, 1
            squeeze.append(ax)
        for key, v in (("starts", start), ("ends", stop), ("axes", ax), ("steps", step)):
            sl[key].append(v)
        ax += 1
    y = x
    if sl["axes"]:
        y = g.op("Slice", y, *(g.ints(sl[k]) for k in ("starts", "ends", "axes", "steps")))
    if squeeze:
        y = g.axes_form("Squeeze", y, squeeze)
    if unsqueeze:
        y = g.axes_form("Unsqueeze", y, unsqueeze)
    return y if y != x else g.op("Identity", x)


def onnx_dtype(dtype: Any) -> int:
    """The ONNX TensorProto element type of a NumPy dtype (imports onnx: call only while exporting)."""
    from onnx.helper import np_dtype_to_tensor_dtype

    return int(np_dtype_to_tensor_dtype(np.dtype(dtype)))


__all__ = ["node", "reduce", "pool", "batch_kept", "getitem", "onnx_dtype"]
