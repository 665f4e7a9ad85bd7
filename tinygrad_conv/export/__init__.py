"""Taking a model out: ONNX export (``export``) of one recorded forward pass.

Needs the optional ``onnx`` package (``pip install 'tinygrad-conv[onnx]'``), imported only when
``export`` runs, so importing this package stays light.

    >>> from tinygrad_conv.export import export
    >>> export(model, x[:2], "model.onnx")          # x: (N, 1, 28, 28) float32
"""

from .builder import ExportError, OnnxGraph
from .onnx_export import OnnxExport, export, exportable_ops, op_converter

__all__ = ["export", "exportable_ops", "op_converter", "ExportError", "OnnxExport", "OnnxGraph"]
