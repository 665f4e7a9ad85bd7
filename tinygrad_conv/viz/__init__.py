"""Pictures of what a network does.

Computation graphs (Graphviz): ``to_dot`` (a ``graphviz.Digraph``), ``render`` (svg/png/pdf/dot
files), ``to_json`` (plain data), ``retain_all_grads`` (call before backward so ``show_grads``
can colour ops). They read a graph already recorded; to record a model's graph and draw it in
one call use ``tinygrad_conv.run.write_model_graph`` (it runs the model, so it lives above ``viz``).

Pictures of a trained CNN (matplotlib, PNG): ``plot_filters``, ``plot_filter_summary``,
``plot_feature_maps``, ``plot_saliency``, ``plot_layer_norms``, ``plot_confusion_matrix``,
``plot_explain_conv_output`` and the numbers behind them (``capture_activations``, ``saliency``,
``explain_conv_output``, ...); see ``tinygrad_conv.viz.pictures``. They load on first use.

This module stays light: it never imports matplotlib (the picture helpers that need it live in
their own modules and import it themselves).
"""

from .graph import retain_all_grads, to_json, walk
from .graph_dot import to_dot
from .graph_render import GraphvizNotFoundError, render

_PICTURES = (
    "plot_filters", "plot_filter_summary", "plot_feature_maps", "plot_saliency", "plot_layer_norms",
    "plot_confusion_matrix", "plot_curves", "plot_explain_conv_output", "capture_activations", "saliency",
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
    "to_dot", "render", "to_json", "retain_all_grads", "walk", "GraphvizNotFoundError", *_PICTURES,
]
