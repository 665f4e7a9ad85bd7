"""OnnxGraph: what an op's ``onnx`` converter writes into (nodes, constants, names and shapes).

A converter mirrors its op's forward: it receives the graph, the ONNX value names of its inputs
and the op's attributes, emits one or more ONNX nodes and returns the name of its result::

    def relu(g, x):
        return g.op("Relu", x)

Names follow the module scopes: the first node a converter emits is called ``conv1/conv2d`` (and
so is its output value), so Netron shows the layer each node came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


class ExportError(ValueError):
    """The recorded graph cannot be written as ONNX (the message names the op and its scope)."""


class OnnxGraph:
    """Nodes and initializers of the ONNX graph being built.

    Attributes:
        opset: the ONNX opset the file declares (converters choose operator forms by it).
        batch: the example batch size when the batch axis is dynamic, else None; a converter whose
            attributes hold concrete shapes (reshape, slices) writes the batch axis symbolically.
    """

    def __init__(self, opset: int, batch: int | None) -> None:
        import onnx  # the optional extra; the caller checked it is installed

        self._onnx = onnx
        self.opset = opset
        self.batch = batch
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._shapes: dict[str, tuple[int, ...]] = {}
        self._dtypes: dict[str, np.dtype] = {}
        self._used: set[str] = set()
        self._base = "node"
        self._emitted = 0
        self._params: dict[str, np.ndarray] = {}
        self.num_parameters = 0

    # ---- facts about values ------------------------------------------------------------
    def shape(self, name: str) -> tuple[int, ...]:
        """Shape of a value recorded on the tape (the example inputs' shapes)."""
        return self._shapes[name]

    def dtype(self, name: str) -> np.dtype:
        """NumPy dtype of a value recorded on the tape."""
        return self._dtypes[name]

    def know(self, name: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self._shapes[name] = tuple(int(s) for s in shape)
        self._dtypes[name] = np.dtype(dtype)

    def unique(self, name: str) -> str:
        """``name``, or ``name_1``, ``name_2``... if taken (ONNX value names are unique)."""
        out, k = name, 0
        while out in self._used:
            k += 1
            out = f"{name}_{k}"
        self._used.add(out)
        return out

    # ---- writing -----------------------------------------------------------------------
    def begin(self, base: str) -> None:
        """Start a converter: its first node is named ``base`` (made unique)."""
        self._base = base
        self._emitted = 0

    def op(self, op_type: str, *inputs: str, **attrs: Any) -> str:
        """Emit one ONNX node (``''`` marks an omitted optional input); returns its output's name."""
        if self._emitted == 0:
            name = self.unique(self._base)
        else:
            name = self.unique(f"{self._base}/{op_type}")
        self._emitted += 1
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(self._onnx.helper.make_node(op_type, list(inputs), [name], name=name, **attrs))
        return name

    def const(self, value: Any, dtype: Any = None, name: str | None = None) -> str:
        """An initializer holding ``value`` (name: ``<scope>/const`` unless given)."""
        arr = np.asarray(value, dtype=dtype)
        if arr.dtype == np.float64 and dtype is None and not isinstance(value, np.ndarray):
            arr = arr.astype(np.float32)  # a Python float in a converter means the model's float32
        nm = self.unique(name or f"{self._base}/const")
        self.add_initializer(nm, arr)
        return nm

    def ints(self, values: Sequence[int]) -> str:
        """A 1-D int64 initializer (axes, shapes, pads, starts/ends given as inputs)."""
        return self.const(np.asarray(list(values), dtype=np.int64))

    def param(self, name: str, arr: np.ndarray, buffer: bool = False) -> str:
        """A named initializer for a parameter (or, with ``buffer``, a buffer such as
        ``bn.running_mean``); the same array under the same name is stored once."""
        if name in self._params and self._params[name] is arr:
            return name
        nm = self.unique(name)
        self._params[nm] = arr
        if not buffer:
            self.num_parameters += int(arr.size)
        self.add_initializer(nm, arr)
        return nm

    def add_initializer(self, name: str, arr: np.ndarray) -> None:
        arr = np.asarray(arr, order="C")  # (ascontiguousarray would make a 0-d scalar 1-d)
        self.initializers.append(self._onnx.numpy_helper.from_array(arr, name))
        self.know(name, arr.shape, arr.dtype)

    def axes_form(self, op_type: str, x: str, axes: Sequence[int], **attrs: Any) -> str:
        """A reduction / Squeeze / Unsqueeze whose ``axes`` moved from attribute to input at some opset
        (ReduceSum, Squeeze, Unsqueeze at 13; ReduceMean, ReduceMax, ReduceMin at 18)."""
        input_from = 13 if op_type in ("ReduceSum", "Squeeze", "Unsqueeze") else 18
        if self.opset >= input_from:
            return self.op(op_type, x, self.ints(axes), **attrs)
        return self.op(op_type, x, axes=list(axes), **attrs)
