"""`Value`: reverse-mode autodiff on single numbers, the chain rule in plain sight.

Each op computes its output and writes down, beside it, the local derivative of the
output with respect to each of its (at most two) inputs:

    c = a * b      c.parents == (a, b)      c._d1, c._d2 == b.data, a.data

Backward is then one rule for every op: an input's gradient gains (local derivative) ×
(the output's gradient). Each op's docstring is that rule as the tensor ops write it
(the vector-Jacobian product, g = ∂L/∂output, ∂a = ∂L/∂a); `c.formula` reads it back.

A Value refers to its parents only, in its own slots (no tuple, no closure over itself):
its graph has no reference cycles, and one object per op is all Python's cycle collector
sees, which is what makes it fast (benchmarks/README.md).
"""
import math

from .engine import next_seq, state, topological_order

_count = next_seq.__self__     # the engine's counter: next(_count) is next_seq(), a call fewer
_new = object.__new__
_METHOD = {"+": "__add__", "-": "__sub__", "*": "__mul__", "/": "__truediv__", "neg": "__neg__",
           "exp": "exp", "log": "log", "tanh": "tanh", "relu": "relu", "sigmoid": "sigmoid"}


class Value:
    __slots__ = ("data", "grad", "_label", "_op", "_in1", "_d1", "_in2", "_d2", "_seq",
                 "_g", "_pending", "__weakref__")

    def __init__(self, data, label=""):
        try:
            data = float(data)
        except (TypeError, ValueError):
            raise TypeError(f"Value: data must be a number, not {type(data).__name__} ({data!r})") from None
        self.data, self.grad, self._op = data, 0.0, ""       # a leaf: no op, no parents
        self._in1 = self._in2 = None
        self._d1 = self._d2 = 0.0
        self._seq = self._pending = 0
        if label:
            self._label = label

    @property
    def label(self):
        """A name for drawings and traces; "" unless set."""
        return getattr(self, "_label", "")          # (ops leave the slot unset)

    @label.setter
    def label(self, name):
        self._label = name

    @property
    def op(self):
        """The op that made this Value ("" for a leaf)."""
        return self._op

    @property
    def parents(self):
        """The Values this one was computed from, in order."""
        return tuple(p for p in (self._in1, self._in2) if p is not None)

    _prev = parents                    # the name the graph tools read on every node

    @property
    def formula(self):
        """The chain rule of the op that made this Value: its method's docstring."""
        op = self._op
        method = "__pow__" if op.startswith("**") else "__rpow__" if op.endswith("**") else _METHOD.get(op)
        return getattr(Value, method).__doc__ if method else ""

    def __repr__(self):
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g}{label})"

    # ----------------------------------------- ops: output, and each local derivative
    def __add__(self, other):
        """∂a = g,  ∂b = g"""
        other = other if isinstance(other, Value) else Value(other)
        v = _new(Value)                # _op(a + b, "+", a, 1.0, b, 1.0) written out: + and * make
        v.data, v.grad, v._op = self.data + other.data, 0.0, "+"   # most nodes, and the call
        v._in1, v._d1, v._in2 = self, 1.0, other                   # is an eighth of their cost
        v._d2, v._seq, v._pending = 1.0, next(_count), 0
        return v

    def __sub__(self, other):
        """∂a = g,  ∂b = −g"""
        other = other if isinstance(other, Value) else Value(other)
        return _op(self.data - other.data, "-", self, 1.0, other, -1.0)

    def __mul__(self, other):
        """∂a = g·b,  ∂b = g·a"""
        other = other if isinstance(other, Value) else Value(other)
        v = _new(Value)                # _op(a * b, "*", a, b, b, a), written out as in __add__
        v.data, v.grad, v._op = self.data * other.data, 0.0, "*"
        v._in1, v._d1, v._in2 = self, other.data, other
        v._d2, v._seq, v._pending = self.data, next(_count), 0
        return v

    def __truediv__(self, other):
        """∂a = g/b,  ∂b = −g·a/b²"""
        other = other if isinstance(other, Value) else Value(other)
        a, b = self.data, other.data
        return _op(a / b, "/", self, 1.0 / b, other, -a / (b * b))

    def __pow__(self, p):
        """a ** p for a number p:  ∂a = g·p·aᵖ⁻¹"""
        if not isinstance(p, (int, float)):
            raise TypeError(f"Value ** {type(p).__name__}: the exponent must be a number")
        return _op(self.data ** p, f"**{p}", self, p * self.data ** (p - 1))

    def __rpow__(self, base):
        """b ** a for a number b:  ∂a = g·bᵃ·ln b"""
        y = base ** self.data
        return _op(y, f"{base}**", self, y * math.log(base))

    def __neg__(self):
        """∂a = −g"""
        return _op(-self.data, "neg", self, -1.0)

    __radd__ = lambda self, other: Value(other) + self      # other + self: the same op, with
    __rsub__ = lambda self, other: Value(other) - self      # `other` made a Value
    __rmul__ = lambda self, other: Value(other) * self
    __rtruediv__ = lambda self, other: Value(other) / self

    def exp(self):
        """∂a = g·eᵃ"""
        y = _exp(self.data)
        return _op(y, "exp", self, y)

    def log(self):
        """∂a = g/a"""
        a = self.data
        y = math.log(a) if a > 0 else (-math.inf if a == 0 else math.nan)
        return _op(y, "log", self, 1.0 / a if a else math.inf)

    def tanh(self):
        """∂a = g·(1 − tanh²a)"""
        y = math.tanh(self.data)
        return _op(y, "tanh", self, 1.0 - y * y)

    def relu(self):
        """∂a = g·[a > 0]"""
        a = self.data
        return _op(a if a > 0 else 0.0, "relu", self, 1.0 if a > 0 else 0.0)

    def sigmoid(self):
        """∂a = g·σ(a)(1 − σ(a))"""
        a = self.data
        y = 1.0 / (1.0 + _exp(-a)) if a >= 0 else _exp(a) / (1.0 + _exp(a))
        return _op(y, "sigmoid", self, y * (1.0 - y))

    # ------------------------------------------------------------------- backward
    def backward(self):
        """Seed d(self)/d(self) = 1 and add d(self)/d(v) into `v.grad` for every ancestor v.

        Kahn's algorithm, with a stack instead of recursion (a 100,000-op chain works):
        1. walk the graph once and count on each node the edges that will bring it a
           gradient (`_pending`: one per use by a node of this graph);
        2. from self, pass each node's gradient `_g` on to its parents by the chain rule,
           and take up a parent once its last edge has brought its share: its gradient is
           then whole. No visited-set and no sorting; the counts are back to 0 after."""
        tracer, stack = state.tracer, [self]
        try:
            while stack:                                     # 1. count the edges
                v = stack.pop()
                parent = v._in1
                if parent is None:                           # a leaf
                    continue
                if not parent._pending:                      # reached for the first time
                    parent._g = 0.0
                    stack.append(parent)
                parent._pending += 1
                parent = v._in2
                if parent is not None:                       # (the same for a second parent)
                    if not parent._pending:
                        parent._g = 0.0
                        stack.append(parent)
                    parent._pending += 1
            self._g, stack = 1.0, [self]   # this call's gradients; .grad adds them up across calls
            while stack:                                     # 2. the chain rule, children first
                v = stack.pop()
                g = v._g
                v.grad += g
                parent = v._in1
                if parent is None:                           # a leaf
                    continue
                parent._g += v._d1 * g                       # ∂parent += (local derivative)·g
                parent._pending -= 1
                if not parent._pending:                      # its last edge: its gradient is whole
                    stack.append(parent)
                parent = v._in2
                if parent is not None:                       # (the same for a second parent)
                    parent._g += v._d2 * g
                    parent._pending -= 1
                    if not parent._pending:
                        stack.append(parent)
                if tracer is not None:
                    tracer.record(v, v._op, None, g, v.parents, [d * g for d in (v._d1, v._d2)])
        except BaseException:          # interrupted: leave no half-passed gradient or count behind
            _clear(self)
            raise


def _op(data, op, in1, d1, in2=None, d2=0.0):
    """An op's output, made after its parents (`_seq`), without `__init__`'s number check
    (an op's data is a float already: a fifth of an op's cost)."""
    v = _new(Value)
    v.data, v.grad, v._op = data, 0.0, op
    v._in1, v._d1, v._in2 = in1, d1, in2
    v._d2, v._seq, v._pending = d2, next(_count), 0
    return v


def _clear(root):
    """Zero backward's edge counts (`_pending`) on every node of root's graph."""
    for v in topological_order(root):
        v._pending = 0


def _exp(a):
    """e^a, and inf instead of OverflowError past e^709."""
    try:
        return math.exp(a)
    except OverflowError:
        return math.inf
