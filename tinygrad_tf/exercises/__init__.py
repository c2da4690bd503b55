"""Exercises graded by the engine (docs/exercises.md).

Each notebook 01–13 ends with exercises of two kinds:
  write   — write a function whose name and signature are given (a backward by hand in
            NumPy, or a forward piece); `check(name, fn)` runs it on random and edge-case
            inputs in float64 and compares it with the engine's own forward and backward;
  predict — predict a number, then run the cell that computes it (in the notebook).

    tg.exercises.check("softmax_backward", softmax_backward)      # in a notebook
    python -m tinygrad_tf exercises [--json]                       # the list
    python -m tinygrad_tf check softmax_backward my_answer.py      # exit 0 when all cases pass

Starter stubs are in `stubs.py`; reference solutions, clearly marked, in `solutions/`.
"""

import difflib
import importlib.util
import inspect
import json
import os
import sys

from . import stubs
from .catalogue import EXERCISES, Exercise
from .grading import Report, run

__all__ = ["check", "exercises", "stub_source", "load_function", "reveal", "Report", "Exercise"]


def exercises(kind=None):
    """Every exercise in notebook order (kind "write" or "predict" for one kind)."""
    return [e for e in EXERCISES.values() if kind is None or e.kind == kind]


def _exercise(name):
    if name not in EXERCISES:
        close = difflib.get_close_matches(name, EXERCISES, n=3)
        raise KeyError(
            f"there is no exercise called {name!r}"
            + (f"; did you mean {' or '.join(map(repr, close))}?" if close else "")
            + " (`python -m tinygrad_tf exercises` lists them)"
        )
    e = EXERCISES[name]
    if e.kind != "write":
        raise ValueError(
            f"{name!r} is a predict-then-check exercise of notebook {e.notebook}: its answer "
            "is computed in the notebook, there is no function to check"
        )
    return e


def check(name, fn):
    """Run the grader of exercise `name` on the function `fn` and return a Report: `.ok` is
    True when every case matches the engine; otherwise the report names the first case
    that does not, the element and by how much. It never raises for a wrong answer."""
    e = _exercise(name)
    if not callable(fn):
        raise TypeError(
            f"check({name!r}, fn): fn should be your function {e.signature}, not {type(fn).__name__}"
        )
    return run(e, fn)


def stub_source(name):
    """The starter stub of exercise `name`, as source text to paste into a file or a cell."""
    return "import numpy as np\n\n\n" + inspect.getsource(getattr(stubs, _exercise(name).name))


def load_function(path, name):
    """The function called `name` defined in the Python file at `path` (run as a module)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path!r} is not a file")
    spec = importlib.util.spec_from_file_location(f"_exercise_answer_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fn = getattr(module, name, None)
    if not callable(fn):
        defined = sorted(
            n for n, v in vars(module).items() if inspect.isfunction(v) and not n.startswith("_")
        )
        raise LookupError(
            f"{path} defines no function {name}(...)"
            + (f"; it defines {', '.join(defined)}" if defined else "")
        )
    return fn


class reveal:
    """A computed answer folded away: in a notebook it shows as a <details> block to click
    open (printed, it is plain text), so a learner can predict before looking."""

    def __init__(self, text, summary="答え / Answer"):
        self.text, self.summary = str(text), summary

    def __repr__(self):
        return f"{self.summary}:\n{self.text}"

    def _repr_html_(self):
        import html

        return (
            f"<details><summary><b>{html.escape(self.summary)}</b> (click to open)</summary>"
            f"<pre>{html.escape(self.text)}</pre></details>"
        )


# ------------------------------------------------------------------ the command line


def list_main(args):
    """`python -m tinygrad_tf exercises [--json] [--stub NAME]`."""
    if args.stub:
        try:
            print(stub_source(args.stub), end="")
        except (KeyError, ValueError) as e:
            print(f"exercises: {e.args[0]}", file=sys.stderr)
            return 1
        return 0
    if args.json:
        print(
            json.dumps(
                [{"name": e.name, "notebook": e.notebook, "kind": e.kind} for e in exercises()],
                ensure_ascii=False,
                indent=1,
            )
        )
        return 0
    width = max(len(e.name) for e in exercises())
    for e in exercises():
        print(f"{e.notebook:26s} {e.kind:8s} {e.name:{width}s}  {e.line}")
    n = len(exercises("write"))
    print(
        f"\n{n} write-it-yourself exercises (check one: python -m tinygrad_tf check NAME FILE.py; "
        f"a stub: python -m tinygrad_tf exercises --stub NAME) and {len(exercises()) - n} predict-then-check"
    )
    return 0


def check_main(args):
    """`python -m tinygrad_tf check NAME FILE.py`: 0 when every case passes, else 1."""
    try:
        fn = load_function(args.file, _exercise(args.name).name)
    except (KeyError, ValueError, LookupError, OSError) as e:
        print(f"check: {e.args[0] if isinstance(e, (KeyError, LookupError)) else e}", file=sys.stderr)
        return 1
    except Exception as e:  # the file itself fails to run
        print(f"check: {args.file} raised {type(e).__name__} while loading: {e}", file=sys.stderr)
        return 1
    try:
        report = check(args.name, fn)
    except ImportError as e:             # an exercise about PyTorch, where it is not installed
        print(f"check: {e}", file=sys.stderr)
        return 1
    print(report)
    return 0 if report.ok else 1
