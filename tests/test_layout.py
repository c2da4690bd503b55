"""The package in floors (docs/engine.md, "The layout"): a module imports only from its
own floor or lower ones, and no modules import each other around a circle. Every
import statement counts, those inside functions too. A package's __init__.py is
looked through: `from tinygrad_tf import nn` is an edge to tinygrad_tf.nn, and
`from tinygrad_tf import Tensor` to tinygrad_tf.core.tensor, where __init__ took it from."""
import ast
import pathlib
import subprocess
import sys

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "tinygrad_tf"

# Bottom up. A module's floor is that of the longest prefix listed here.
FLOORS = {
    "tinygrad_tf.core": 1,          # the engine: Value, Op and backward, ops, fused, Tensor
    "tinygrad_tf.nn": 2,            # layers
    "tinygrad_tf.optim": 2,         # training
    "tinygrad_tf.io": 2,
    "tinygrad_tf.seeing": 3,        # the tools for seeing
    "tinygrad_tf.interop": 4,       # PyTorch, both ways
    "tinygrad_tf.demo": 5,          # the applications, used by nothing in the library
    "tinygrad_tf.torch": 5,
    "tinygrad_tf.exercises": 5,
}
OUTSIDE = {"tinygrad_tf", "tinygrad_tf.__main__"}     # they stand outside the floors
ROOT_FLOOR = 3      # `import tinygrad_tf` loads floors 1-3: a module above them may use it


def all_modules():
    mods = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


def floor_of(module):
    for prefix in sorted(FLOORS, key=len, reverse=True):
        if module == prefix or module.startswith(prefix + "."):
            return FLOORS[prefix]
    return None


def imports_of(module, path):
    """[(base module, name or None)] for every import statement in the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".")
                if path.name != "__init__.py":
                    package = package[:-1]
                package = package[:len(package) - node.level + 1]
                base = ".".join(package + ([base] if base else []))
            found += [(base, alias.name) for alias in node.names]
    return found


def graph():
    """{module: {module it imports}}, within the package."""
    mods = all_modules()

    def owner(name):
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    raw = {m: imports_of(m, p) for m, p in mods.items()}
    taken_from = {m: {name: owner(base) for base, name in raw[m] if name}
                  for m, p in mods.items() if p.name == "__init__.py"}

    def resolve(base, name, seen=()):
        if name and f"{base}.{name}" in mods:
            return f"{base}.{name}"
        target = owner(base)
        if target in taken_from and name in taken_from[target] and target not in seen:
            source = taken_from[target][name]
            if source and source != target:
                return resolve(source, name, seen + (target,))
        return target

    edges = {}
    for m in mods:
        targets = {resolve(base, name) for base, name in raw[m]}
        edges[m] = {t for t in targets if t and t != m}
    return edges


def test_every_module_has_a_floor():
    assert [m for m in all_modules() if m not in OUTSIDE and floor_of(m) is None] == []


def test_no_import_runs_back_up():
    upward = [f"{m} (floor {floor_of(m)}) imports {t} (floor {floor_of(t)})"
              for m, targets in graph().items() if m not in OUTSIDE
              for t in sorted(targets)
              if t == "tinygrad_tf.__main__" or (ROOT_FLOOR if t == "tinygrad_tf" else floor_of(t))
              > floor_of(m)]
    assert upward == []


def test_no_import_circle():
    edges = graph()
    circles, state = [], {}

    def visit(start):                       # depth-first, with an explicit stack
        stack = [(start, iter(sorted(edges[start])))]
        state[start], path = "open", [start]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = "done"
                stack.pop()
                path.pop()
            elif state.get(child) == "open":
                circles.append(path[path.index(child):] + [child])
            elif child not in state:
                state[child] = "open"
                path.append(child)
                stack.append((child, iter(sorted(edges.get(child, ())))))

    for m in sorted(edges):
        if m not in state:
            visit(m)
    assert circles == []


def test_the_floor_test_sees_an_upward_and_a_lazy_import(tmp_path, monkeypatch):
    """The test above would fail on a lazy upward import (one inside a function)."""
    fake = tmp_path / "tinygrad_tf"
    (fake / "core").mkdir(parents=True)
    (fake / "seeing").mkdir()
    for f in ("__init__.py", "core/__init__.py", "seeing/__init__.py", "seeing/viz.py"):
        (fake / f).write_text("")
    (fake / "core" / "engine.py").write_text("def f():\n    from ..seeing import viz\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    with pytest.raises(AssertionError, match="core.engine .floor 1. imports tinygrad_tf.seeing.viz"):
        test_no_import_runs_back_up()


def test_import_tinygrad_tf_loads_only_numpy_and_scipy():
    code = ("import sys, tinygrad_tf as tg; tg.Tensor([1.0]); "
            "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))")
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True, cwd=PACKAGE.parent).stdout.split())
    heavy = {"graphviz", "matplotlib", "tqdm", "torch", "playwright", "threadpoolctl", "PIL"}
    assert loaded & heavy == set()
    assert "numpy" in loaded
