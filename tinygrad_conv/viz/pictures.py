"""Pictures of a trained CNN (matplotlib, Agg backend, PNG files), in one namespace.

=========================  ===========================================================
``plot_filters``           first-layer filters as an image grid
``plot_filter_summary``    later conv layers: kernel-norm heatmap + channel-mean kernels
``plot_feature_maps``      every conv/pool layer's output for one image (forward hooks)
``plot_saliency``          d(class score)/d(pixels) from the tape, beside the image
``plot_layer_norms``       per-layer gradient and weight norms over training
``plot_confusion_matrix``  test-set confusion matrix
``plot_curves``            loss and accuracy per epoch, train and test
``plot_explain_conv_output``  one conv output = sum(input patch * filter) + bias
=========================  ===========================================================

Each ``plot_*`` takes a model (and data) plus an output path, writes a PNG atomically and
returns the path. The numbers behind them are plain functions (``capture_activations``,
``saliency``, ``explain_conv_output``, ``confusion_matrix``, ``layer_norms``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..nn import Module
from ._mpl import require_matplotlib
from .activations import capture_activations, plot_feature_maps
from .explain import ConvExplanation, explain_conv_output, plot_explain_conv_output
from .filters import conv_layers, filter_norms, first_layer_filters, plot_filter_summary, plot_filters
from .metrics import (
    LayerNormLogger,
    confusion_matrix,
    layer_norms,
    plot_confusion_matrix,
    plot_curves,
    plot_layer_norms,
    predict,
    read_metrics,
)
from .saliency import plot_saliency, saliency

__all__ = [
    "plot_filters", "plot_filter_summary", "plot_feature_maps", "plot_saliency", "plot_layer_norms",
    "plot_confusion_matrix", "plot_curves", "plot_explain_conv_output", "capture_activations", "saliency",
    "explain_conv_output", "ConvExplanation", "confusion_matrix", "predict", "layer_norms",
    "LayerNormLogger", "read_metrics", "conv_layers", "filter_norms", "first_layer_filters",
    "save_run_pictures",
]


def save_run_pictures(model: Module, image: np.ndarray, out_dir: str | os.PathLike) -> list[Path]:
    """End-of-training pictures: ``filters.png`` and ``feature_maps.png`` in ``out_dir``.

    image: (C, H, W), one (normalised) input as the model sees it. Pictures a model cannot have
    (feature maps of an MLP) are skipped, and nothing is drawn without matplotlib. Returns the
    paths written.
    """
    out = Path(out_dir)
    written = []
    try:
        require_matplotlib()
    except ImportError:  # matplotlib is the optional `viz` extra: no pictures, training still finishes
        return []
    image = np.asarray(image)
    for fn, name in ((lambda p: plot_filters(model, p, image_shape=image.shape), "filters.png"),
                     (lambda p: plot_feature_maps(model, image, p), "feature_maps.png")):
        try:
            written.append(fn(out / name))
        except ValueError:  # this model has no such layer
            continue
    return written
