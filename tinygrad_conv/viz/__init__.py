"""Pictures of what a network does.

Computation graphs (Graphviz): ``to_dot`` (a ``graphviz.Digraph``), ``render`` (svg/png/pdf/dot
files), ``to_json`` (plain data), ``retain_all_grads`` (call before backward so ``show_grads``
can colour ops), ``write_model_graph`` (a model's graph in one call), ``show`` (the Digraph, for
inline display in Jupyter: ``tc.viz.show(loss)``).

Pictures of a trained CNN (matplotlib, PNG): ``plot_filters``, ``plot_filter_summary``,
``plot_feature_maps``, ``plot_saliency``, ``plot_layer_norms``, ``plot_confusion_matrix``,
``plot_explain_conv_output`` and the numbers behind them (``capture_activations``, ``saliency``,
``explain_conv_output``, ...); see ``tinygrad_conv.viz.pictures``. They load on first use.

This module stays light: it never imports matplotlib (the picture helpers that need it live in
their own modules and import it themselves).
"""

from .graph import retain_all_grads, to_json, walk
from .graph_dot import to_dot
from .graph_render import GraphvizNotFoundError, model_graph_root, render, write_model_graph
from .show import show

_PICTURES = (
    "plot_filters", "plot_filter_summary", "plot_feature_maps", "plot_saliency", "plot_layer_norms",
    "plot_confusion_matrix", "plot_explain_conv_output", "capture_activations", "saliency",
    "explain_conv_output", "ConvExplanation", "confusion_matrix", "layer_norms", "LayerNormLogger",
    "save_run_pictures",
)


def __getattr__(name: str):
    # picture helpers load lazily: importing tinygrad_conv.viz must not pull in matplotlib
    if name in _PICTURES:
        from . import pictures

        return getattr(pictures, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "show", "to_dot", "render", "to_json", "retain_all_grads", "walk", "write_model_graph",
    "model_graph_root", "GraphvizNotFoundError", *_PICTURES,
]
