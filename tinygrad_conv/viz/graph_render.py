"""Write graph pictures to files: ``render`` (svg/png/pdf/dot). It only renders a recorded graph;
running a model to record one is the run layer's job (``tinygrad_conv.run.graph``)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from .._files import atomic_write_bytes
from .graph_dot import to_dot

FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot"}


class GraphvizNotFoundError(RuntimeError):
    """The Graphviz ``dot`` program is not installed (or not on PATH)."""


def _not_found(fmt: str) -> GraphvizNotFoundError:
    return GraphvizNotFoundError(
        f"render: writing .{fmt} needs the Graphviz 'dot' program, which is not on PATH; install "
        "Graphviz (apt-get install graphviz | brew install graphviz | conda install -c conda-forge "
        "graphviz) - .dot output works without it (render(root, 'graph.dot'))"
    )


def dot_timeout(n_nodes: int, n_edges: int) -> float:
    """Seconds ``render`` gives ``dot`` by default: 15 plus 20 ms per node and edge (a few hundred
    nodes take about a second; the margin is for slow machines)."""
    return 15.0 + 0.02 * (n_nodes + n_edges)


def render(root: Any, path: str | os.PathLike, format: str | None = None, *, timeout: float | None = None,
           **options: Any) -> Path:
    """Draw the graph behind ``root`` into ``path`` and return the path.

    ``format`` defaults to the file suffix: ``.svg``, ``.png``, ``.pdf`` (these run Graphviz's
    ``dot`` program) or ``.dot`` (the DOT text, no program needed). ``options`` go to ``to_dot``
    (``show_grads``, ``collapse``, ``max_nodes``, ``module`` ...). ``timeout``: seconds ``dot``
    may run (default ``dot_timeout`` of the graph's size); on expiry ``dot`` is stopped and a
    RuntimeError says to draw less. The file is written whole or not at all. Raises
    ``GraphvizNotFoundError`` (a RuntimeError) when ``dot`` is missing.
    """
    path = Path(path)
    fmt = format.lower().lstrip(".") if format else FORMATS.get(path.suffix.lower())
    if fmt not in set(FORMATS.values()):
        raise ValueError(
            f"render: cannot tell the format of {str(path)!r} (format={format!r}); use a .svg, .png, "
            ".pdf or .dot suffix or pass format="
        )
    graph = to_dot(root, **options)
    source = graph.source
    if not path.parent.is_dir():
        raise FileNotFoundError(f"render: directory {str(path.parent)!r} does not exist")
    if fmt == "dot":
        atomic_write_bytes(path, source.encode("utf-8"))
        return path
    exe = shutil.which("dot")
    if exe is None:
        raise _not_found(fmt)
    n_edges = sum(" -> " in line for line in graph.body)
    n_nodes = len(graph.body) - n_edges
    limit = dot_timeout(n_nodes, n_edges) if timeout is None else float(timeout)
    try:
        proc = subprocess.run([exe, f"-T{fmt}"], input=source.encode("utf-8"), capture_output=True,
                              check=False, timeout=limit)
    except subprocess.TimeoutExpired:  # subprocess.run has killed dot already
        raise RuntimeError(
            f"render: dot -T{fmt} did not finish within {limit:g} s on a graph of about {n_nodes} nodes and "
            f"{n_edges} edges; draw less with collapse= (0: one node per layer) or a smaller max_nodes=, "
            "write .dot instead, or allow more time with timeout=") from None
    except OSError as e:  # e.g. found but not executable
        raise _not_found(fmt) from e
    if proc.returncode != 0 or not proc.stdout:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RuntimeError(f"render: dot -T{fmt} failed (exit {proc.returncode}): "
                           f"{err[0] if err else 'no output'}")
    atomic_write_bytes(path, proc.stdout)
    return path
