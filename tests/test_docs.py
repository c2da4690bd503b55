"""Every ```python block in README.md and docs/*.md runs as written.

The blocks of one file run top to bottom in one namespace, as a reader pasting them
into one Python session would (a later block may use what an earlier one made), in a
scratch directory so files they write land there. Keep snippets small: this runs in
the test suite."""
import ast
import builtins
import importlib.util
import pathlib
import re

import matplotlib
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(path):
    """(line number, code) of each ```python block in the file at `path`."""
    text = path.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start(1)) + 1, m.group(1)) for m in BLOCK.finditer(text)]


@pytest.mark.parametrize("path", [p for p in DOCS if python_blocks(p)], ids=lambda p: p.name)
def test_every_python_block_runs(path, tmp_path, monkeypatch, capsys):
    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__main__"}
    if any(re.search(r"^import torch|^from tinygrad_tf import interop", code, re.M)
           for _, code in python_blocks(path)):
        pytest.importorskip("torch")       # (a page of PyTorch interop: it needs the oracle)
    for line, code in python_blocks(path):
        # padding keeps a traceback's line numbers those of the .md file
        exec(compile("\n" * (line - 1) + code, str(path), "exec"), namespace)


def _free_names(code):
    """The names a block reads but does not define (assign, import, def, a parameter)."""
    tree = ast.parse(code)
    defined, read = set(dir(builtins)), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else defined).add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            defined.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, ast.arg):
            defined.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            defined.add(node.name)
    return read - defined


@pytest.mark.parametrize("path", [p for p in DOCS if python_blocks(p)], ids=lambda p: p.name)
def test_a_block_that_continues_an_earlier_one_says_so(path):
    """A reader may copy one block alone: one that uses names an earlier block made says
    so in a comment on its first line (`# (continues the block above: model, opt)`)."""
    for line, code in python_blocks(path):
        free = _free_names(code)
        first = code.splitlines()[0] if code.strip() else ""
        assert not free or (first.startswith("#") and ("continues" in first or "uses" in first)), (
            f"{path.name}:{line}: uses {sorted(free)} from an earlier block; say so in a comment on "
            "its first line, or make it self-contained")


def test_the_blocks_are_found():
    assert sum(len(python_blocks(p)) for p in DOCS) >= 10


def _entries(text):
    """The `name(signature)` of every entry of the reference, in order."""
    return re.findall(r"^\s*- `([^`]+)`", text, re.M)


def test_the_reference_lists_every_public_name_with_its_signature():
    spec = importlib.util.spec_from_file_location("gen_api", ROOT / "docs" / "gen_api.py")
    gen_api = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen_api)
    written = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    assert _entries(written) == _entries(gen_api.render()), (
        "docs/api.md is out of date with the code: run `python docs/gen_api.py` and commit it")
