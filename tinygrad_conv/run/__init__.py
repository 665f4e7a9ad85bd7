"""The run layer: what a command runs, above the loop (``train``), the pictures (``viz``) and the run
files (``checkpoint``).

``run_train`` / ``run_evaluate`` (``tinygrad-conv train`` / ``evaluate``), ``evaluate`` (score a
checkpoint), ``load_model`` (the one checkpoint -> model loader), and the graph of a model
(``model_graph_root``, ``write_model_graph``: they run the model once, then ``viz.render`` draws it).
"""

from .graph import model_for_graph, model_graph_root, write_model_graph
from .loader import LoadedModel, checkpoint_path, load_model
from .training import evaluate, run_evaluate, run_train

__all__ = ["run_train", "run_evaluate", "evaluate", "load_model", "LoadedModel", "checkpoint_path",
           "model_graph_root", "write_model_graph", "model_for_graph"]
