"""The layers stay apart: the loop never draws, viz only renders, one schedule, one writer, one loader."""

from __future__ import annotations

import ast
import math
import subprocess
import sys
from pathlib import Path

import pytest

from tinygrad_conv import nn, optim
from tinygrad_conv.optim.lr_scheduler import cosine_lr
from tinygrad_conv.train import TrainConfig, make_schedule

PKG = Path(__file__).resolve().parents[1] / "tinygrad_conv"


def _imports(path: Path) -> set[str]:
    """Every module a file imports (relative imports resolved against the package)."""
    rel = path.relative_to(PKG.parent).with_suffix("")
    pkg = list(rel.parts[:-1])
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = pkg[:len(pkg) - node.level + 1] if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)
    return out


def test_train_loop_never_imports_viz_or_run():
    bad = {m for m in _imports(PKG / "train.py") if ".viz" in m or ".run" in m}
    assert not bad
    code = ("import sys, tinygrad_conv.train; "
            "print(sorted(m for m in sys.modules if '.viz' in m or '.run' in m))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr


def test_graph_render_only_renders():
    mods = _imports(PKG / "viz" / "graph_render.py")
    assert not {m for m in mods if any(k in m for k in ("models", "functional", "tensor", "checkpoint"))}
    src = (PKG / "viz" / "graph_render.py").read_text()
    assert "np.load" not in src and "def model_" not in src


def test_one_atomic_writer():
    writers = [p.relative_to(PKG) for p in PKG.rglob("*.py")
               if "os.replace(" in p.read_text() or "mkstemp(" in p.read_text()]
    assert [str(p) for p in writers] == ["_files.py"]


def test_one_checkpoint_loader():
    # every checkpoint is read through the validating npz reader, never np.load
    assert not [p for p in PKG.rglob("*.py") if "np.load(" in p.read_text()]
    readers = [str(p.relative_to(PKG)) for p in PKG.rglob("*.py") if "with NpzReader(" in p.read_text()]
    assert readers == ["_ckpt_check.py"]
    users = [str(p.relative_to(PKG)) for p in PKG.rglob("*.py") if "load_state_dict(ck" in p.read_text()]
    assert sorted(users) == ["run/loader.py", "train.py"]  # build a model from a checkpoint; resume


def test_viz_explain_uses_public_api_only():
    assert not {m for m in _imports(PKG / "viz" / "explain.py") if ".ops" in m or ".autograd" in m}


@pytest.mark.parametrize("epochs", [1, 3])
def test_one_cosine_schedule(epochs):
    cfg = TrainConfig(epochs=epochs, lr=0.05, schedule="cosine")
    sched = make_schedule(cfg)
    opt = optim.SGD(nn.Linear(2, 2, rng=0).parameters(), lr=0.05)
    cos = optim.CosineAnnealingLR(opt, T_max=epochs)
    for e in range(epochs + 1):
        assert sched(e) == cos.lr_at(e)
    assert sched(0) == 0.05 and sched(epochs + 2) == 0.0  # the per-batch schedule stops at 0
    assert sched(epochs / 2) == pytest.approx(0.025)
    assert math.isclose(cosine_lr(1.0, 1.0, 4, 0.1), 0.1 + 0.9 * (1 + math.cos(math.pi / 4)) / 2)

