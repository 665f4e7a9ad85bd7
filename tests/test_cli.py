"""The command line explains itself: --version, help with defaults, wording, --threads."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from extras import needs_dot

from tinygrad_conv import __version__, cli

COMMANDS = ["train", "evaluate", "graph", "inspect", "gradcheck"]


def _help(*argv: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "tinygrad_conv.cli", *argv, "--help"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_version():
    proc = subprocess.run([sys.executable, "-m", "tinygrad_conv.cli", "--version"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == f"tinygrad-conv {__version__}"


def test_top_level_help_lists_all_five_commands_without_rest_markup():
    text = _help()
    assert "``" not in text and "`" not in text
    for c in COMMANDS:
        assert re.search(rf"^\s+{c}\b", text, re.M), c
    assert "Five commands: train, evaluate, graph, inspect, gradcheck" in " ".join(text.split())


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_has_help_with_its_default(command):
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, __import__("argparse")._SubParsersAction))
    p = sub.choices[command]
    for action in p._actions:
        if action.dest == "help" or not action.option_strings:
            continue
        assert action.help, f"{command} {action.option_strings[0]} has no help text"
        assert "default" in action.help, f"{command} {action.option_strings[0]}: help names no default"
    text = " ".join(_help(command).split())
    assert "--threads N" in text and "``" not in text


def test_threads_sets_blas_threads_for_the_command(monkeypatch):
    from threadpoolctl import threadpool_info

    seen = []

    def fake(args):
        seen.append({i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"})
        return 0

    monkeypatch.setattr(cli, "_cmd_gradcheck", fake)
    before = {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}
    assert cli.main(["gradcheck", "--threads", "1"]) == 0
    assert seen[-1] in ({1}, set())  # set(): NumPy without a BLAS threadpool threadpoolctl can see
    assert {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"} == before  # restored
    with pytest.raises(SystemExit):
        cli.main(["gradcheck", "--threads", "0"])


def test_singular_wording(capsys):
    assert cli.main(["gradcheck", "--op", "neg"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\d+/\d+ checks? passed over 1 op\b(?!s)", out), out


def test_graph_without_out_says_where_it_wrote(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["graph", "--model", "mlp", "--out", "g.dot"]) == 0
    assert capsys.readouterr().out.strip() == "wrote g.dot"
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot: .svg is impossible, the default still names the path
    assert cli.main(["graph", "--model", "mlp"]) == 2
    assert "tinygrad-conv graph: render: writing .svg needs the Graphviz 'dot'" in capsys.readouterr().err


@needs_dot
def test_graph_default_output_is_named_in_full(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["graph", "--model", "mlp"]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {tmp_path / 'graph.svg'}"
    assert (tmp_path / "graph.svg").read_text().startswith("<?xml")
