"""The command line: help for every option, and bad arguments refused in one clear line
before any work starts."""
import argparse

import pytest

from tinygrad_tf.__main__ import main as cli
from tinygrad_tf.__main__ import make_parser


def subparsers():
    parser = make_parser()
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sub


def test_every_command_and_option_has_help():
    sub = subparsers()
    assert {c.dest for c in sub._choices_actions} == {"demo", "translate", "explain", "graph", "explore",
                                                      "gradcheck", "residuals", "export", "exercises",
                                                      "check", "experiment"}
    assert all(c.help for c in sub._choices_actions)
    for name, parser in sub.choices.items():
        for action in parser._actions:
            assert action.help, f"{name} {action.option_strings} has no help"
    depth = next(a for a in sub.choices["graph"]._actions if "--depth" in a.option_strings)
    assert "as one box" in depth.help


@pytest.mark.parametrize("argv, message", [
    (["demo", "--steps", "-5"], "argument --steps: must be at least 1, not -5"),
    (["demo", "--quick", "--steps", "30"], "not allowed with argument"),
    (["residuals", "--layers", "0"], "must be at least 1, not 0"),
    (["graph", "-o", "x.svg", "--depth", "0"], "must be at least 1, not 0"),
])
def test_bad_numbers_are_refused(argv, message, capsys):
    try:
        code = cli(argv)
    except SystemExit as e:
        code = e.code
    assert code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("name, message", [
    ("nowhere/block.svg", "does not exist"), ("block.svgg", "cannot tell the format"),
    (".", "is a directory")])
def test_a_bad_graph_output_is_one_clear_line(tmp_path, monkeypatch, capsys, name, message):
    monkeypatch.chdir(tmp_path)
    assert cli(["graph", "-o", name]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("graph: ")


def test_demo_out_pointing_at_a_file_fails_before_training(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    assert cli(["demo", "--out", str(tmp_path / "file")]) == 1
    out, err = capsys.readouterr()
    assert err == f"demo: --out {str(tmp_path / 'file')!r} is a file, not a folder\n" and out == ""


@pytest.mark.parametrize("ext, magic", [("jpg", b"\xff\xd8"), ("gif", b"GIF8")])
def test_graph_writes_the_other_formats_graphviz_writes(tmp_path, ext, magic):
    path = tmp_path / f"block.{ext}"
    assert cli(["graph", "-o", str(path), "--depth", "1"]) == 0
    assert path.read_bytes()[:len(magic)] == magic
