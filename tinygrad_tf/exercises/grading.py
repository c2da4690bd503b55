"""The autograder: run a learner's function on cases and compare each answer with the engine's.

A case is a set of inputs (random ones and edge cases, float64) and what the engine
computes for them: its forward, or its backward (the gradients one `.backward()` leaves).
The first case that differs stops the run, and the report says which case, where
(the element's index) and by how much, as a good autograder would.
"""
import copy
import traceback
from collections.abc import Mapping

import numpy as np

ATOL, RTOL = 1e-8, 1e-6          # float64 answers written by hand agree with the engine to ~1e-12


class Mismatch(Exception):
    """An answer that is not the engine's; the message says where and by how much."""


class Case:
    """One input to try: `label` says what is special about it ("random 3×5", "a row whose
    every key is masked"); `args` are passed to the learner's function (a fresh copy
    each time, so an answer that writes into its inputs cannot change the next check);
    `expected` is the engine's answer: an array, a number, a tuple (named by `names`)
    or a dict of them. `check(answer, args)`, when given, replaces the comparison (for a
    Tensor function, whose gradients are compared too)."""

    def __init__(self, label, args, expected=None, names=None, check=None, atol=ATOL, rtol=RTOL):
        self.label, self.args, self.expected, self.names = label, tuple(args), expected, names
        self._check, self.atol, self.rtol = check, atol, rtol

    def check(self, answer, args):
        """Raise Mismatch unless `answer` (of the function called on `args`) is the engine's."""
        if self._check is not None:
            return self._check(answer, args)
        return compare(answer, self.expected, "answer" if self.names is None else self.names,
                       self.atol, self.rtol)


def _index(idx):
    return "[" + ", ".join(str(int(i)) for i in idx) + "]" if len(idx) else ""


def _number(v):
    return f"{v}" if isinstance(v, (bool, np.bool_)) else f"{v:.6g}"


def compare(answer, expected, name="answer", atol=ATOL, rtol=RTOL):
    """Raise Mismatch naming the first difference between `answer` and `expected`: a missing
    or extra key of a dict, a tuple of the wrong length, a wrong shape or kind, or the
    worst element off by more than atol + rtol·|expected|."""
    if isinstance(expected, Mapping):
        if not isinstance(answer, Mapping):
            raise Mismatch(f"{name} should be a dict with the keys {sorted(expected)}, "
                           f"not {type(answer).__name__}")
        missing = [k for k in expected if k not in answer]
        if missing:
            raise Mismatch(f"{name} has no entry for {', '.join(map(repr, missing))}")
        extra = [k for k in answer if k not in expected]
        if extra:
            raise Mismatch(f"{name} has entries the exercise does not ask for: {', '.join(map(repr, extra))}")
        for key in expected:
            compare(answer[key], expected[key], f"{name}[{key!r}]" if isinstance(name, str) else key,
                    atol, rtol)
        return
    if isinstance(expected, tuple):
        names = name if isinstance(name, (tuple, list)) else [f"{name}[{i}]" for i in range(len(expected))]
        if not isinstance(answer, (tuple, list)) or len(answer) != len(expected):
            got = (f"{len(answer)} values" if isinstance(answer, (tuple, list))
                   else f"one {type(answer).__name__}")
            raise Mismatch(f"the function should return {len(expected)} values, "
                           f"({', '.join(names)}), but returned {got}")
        for a, e, n in zip(answer, expected, names):
            compare(a, e, n, atol, rtol)
        return
    _compare_array(answer, np.asarray(expected), name, atol, rtol)


def _compare_array(answer, expected, name, atol, rtol):
    if answer is None:
        raise Mismatch(f"{name} is None (did the function forget to return it?)")
    try:
        a = np.asarray(answer)
    except Exception as e:              # an object NumPy cannot read
        raise Mismatch(f"{name} is a {type(answer).__name__}, which is not an array: {e}") from None
    if a.shape != expected.shape:
        raise Mismatch(f"{name} has shape {a.shape}, but it should have shape {expected.shape}")
    if expected.dtype == np.bool_:
        if a.dtype != np.bool_:
            raise Mismatch(f"{name} should be a boolean array (True / False), not {a.dtype}")
        wrong = a != expected
        if wrong.any():
            idx = np.unravel_index(np.argmax(wrong), a.shape)
            raise Mismatch(f"{name}{_index(idx)} is {a[idx]} but should be {expected[idx]} "
                           f"({int(wrong.sum())} of {a.size} entries differ)")
        return
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise Mismatch(f"{name} should hold numbers, not {a.dtype}")
    a = a.astype(np.float64)
    finite = np.isfinite(expected)
    bad_values = np.isfinite(a) != finite
    if bad_values.any():
        idx = np.unravel_index(np.argmax(bad_values), a.shape)
        raise Mismatch(f"{name}{_index(idx)} is {a[idx]} but the engine gives {_number(expected[idx])}")
    err = np.where(finite, np.abs(a - np.where(finite, expected, 0.0)), 0.0)
    wrong = err > atol + rtol * np.abs(np.where(finite, expected, 0.0))
    if wrong.any():
        idx = np.unravel_index(np.argmax(np.where(wrong, err, -1.0)), a.shape)
        where = f"{name}{_index(idx)}"
        count = f"; {int(wrong.sum())} of {a.size} elements are off" if a.size > 1 else ""
        mine, engine = _number(a[idx]), _number(expected[idx])
        if mine == engine:                          # alike to 6 digits: show enough to see the difference
            mine, engine = f"{a[idx]:.12g}", f"{expected[idx]:.12g}"
        raise Mismatch(f"{where} is {mine} but the engine gives {engine} (off by {err[idx]:.3g}{count})")


class Report:
    """What `check` found: `.ok`, `.passed` (the labels of the cases that passed), and for a
    failure `.case` (its label), `.number` (1-based) and `.problem`. Printed (or shown
    as a notebook cell's value) it reads as a short message."""

    def __init__(self, exercise, total, passed, case=None, number=None, problem=None, hint=""):
        self.exercise, self.total, self.passed = exercise, total, list(passed)
        self.case, self.number, self.problem, self.hint = case, number, problem, hint
        self.ok = case is None

    def __bool__(self):
        return self.ok

    def __str__(self):
        if self.ok:
            return (f"✓ {self.exercise}: all {self.total} cases match the engine "
                    f"({'; '.join(self.passed)}). Well done!")
        lines = [f"✗ {self.exercise}: not yet. Case {self.number} of {self.total}, "
                 f"“{self.case}”: {self.problem}."]
        if self.passed:
            lines.append(f"  The cases before it pass: {'; '.join(self.passed)}.")
        if self.hint:
            lines.append(f"  Hint: {self.hint}")
        return "\n".join(lines)

    __repr__ = __str__


def _where_raised(error):
    """' (in your_file.py, line 12)': the last frame of the traceback outside the grader."""
    frames = [f for f in traceback.extract_tb(error.__traceback__)       # the grader's own frames, and
              if not any(part in f.filename.replace("\\", "/")         # a function it gave the learner
                         for part in ("tinygrad_tf/exercises/grading", "tinygrad_tf/exercises/catalogue"))]
    if not frames:
        return ""
    f = frames[-1]
    return f" (in {f.filename.rsplit('/', 1)[-1]}, line {f.lineno}: {f.line})" if f.line else ""


def run(exercise, fn):
    """Run `fn` on every case of `exercise` (a catalogue entry) and return a Report."""
    cases = exercise.cases()
    passed = []
    for number, case in enumerate(cases, 1):
        fail = lambda problem, case=case, number=number: Report(
            exercise.name, len(cases), passed, case.label, number, problem, exercise.hint)
        args = copy.deepcopy(case.args)
        try:
            answer = fn(*args)
        except NotImplementedError as e:
            return fail(f"the function is still the stub (NotImplementedError: {e})")
        except Exception as e:                     # the learner's code: report it, kindly
            return fail(f"the function raised {type(e).__name__}: {e}{_where_raised(e)}")
        try:
            case.check(answer, args)
        except Mismatch as m:
            return fail(str(m))
        passed.append(case.label)
    return Report(exercise.name, len(cases), passed)
