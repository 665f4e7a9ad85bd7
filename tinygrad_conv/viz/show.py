"""``show``: the graph behind a tensor, for inline display in Jupyter."""

from __future__ import annotations

from typing import Any

from .graph_dot import to_dot


def show(root: Any, module: Any = None, **options: Any) -> Any:
    """The recorded graph behind ``root`` (usually the loss) as a ``graphviz.Digraph``.

    Make it the last expression of a notebook cell and Jupyter draws it (the Digraph renders
    itself as SVG through the ``dot`` binary); ``Tensor`` gets no display hook of its own, so
    printing a tensor stays cheap. ``module`` (the model) names the boxes; ``options`` are
    ``to_dot``'s (``collapse``, ``show_grads``, ``max_nodes`` ...).
    """
    return to_dot(root, module=module, **options)
