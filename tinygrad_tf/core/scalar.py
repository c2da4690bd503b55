"""`Value`: reverse-mode autodiff on single numbers, the chain rule in plain sight.

Each op makes its output and writes down, next to it, the local derivative of
the output with respect to each of its (at most two) inputs. Backward is then
one rule for every op: an input's gradient gains (local derivative) × (output's
gradient).

    c = a * b      c.parents == (a, b)      c._d1, c._d2 == b.data, a.data

Each op's docstring states its chain rule as the vector-Jacobian product, with
g = ∂L/∂(its output) and ∂a = ∂L/∂a: `a * b` says `∂a = g·b,  ∂b = g·a`, as the tensor
ops' backward does. `c.formula` reads it back.

A Value keeps references to its parents only, never to its children or to a
closure over itself, so the graph has no reference cycles and is freed the
moment its last Value goes. Parents and local derivatives sit in the Value's
own slots rather than in tuples: one object per op is all Python's cycle
collector ever has to look at (what that saves: benchmarks/README.md).
"""
import math

from .engine import next_seq, state

_count = next_seq.__self__     # the engine's itertools.count: next(_count) gives what next_seq()
#                                does, without going through a method wrapper (benchmarks/README.md)

_new = object.__new__
_METHOD = {"+": "__add__", "-": "__sub__", "*": "__mul__", "/": "__truediv__", "neg": "__neg__",
           "exp": "exp", "log": "log", "tanh": "tanh", "relu": "relu", "sigmoid": "sigmoid"}


class Value:
    __slots__ = ("data", "grad", "_label", "_op", "_in1", "_in2", "_d1", "_d2", "_seq",
                 "_g", "_pending", "__weakref__")

    def __init__(self, data, label="", _op="", _in1=None, _d1=0.0, _in2=None, _d2=0.0):
        try:
            self.data = float(data)
        except (TypeError, ValueError):
            raise TypeError(f"Value: data must be a number, not {type(data).__name__} ({data!r})") from None
        self.grad = 0.0
        if label:
            self._label = label        # unset (read as "") unless given: see `label`
        self._op = _op                 # the op that made it ("" for a leaf)
        self._in1, self._d1 = _in1, _d1  # first parent and d(self)/d(parent)
        self._in2, self._d2 = _in2, _d2  # second parent (binary ops) and its derivative
        self._seq = next_seq() if _in1 is not None else 0
        self._pending = 0              # backward's scratch: the edges yet to bring a gradient
        #                                (0 outside backward()); `_g`, the gradient so far, is
        #                                set by backward() when it first reaches the node

    @property
    def label(self):
        """A name for drawings and traces; "" unless set."""
        try:                           # ops leave the slot unset: one attribute fewer to write
            return self._label
        except AttributeError:
            return ""

    @label.setter
    def label(self, name):
        self._label = name

    @property
    def parents(self):
        """The Values this one was computed from, in order."""
        return tuple(p for p in (self._in1, self._in2) if p is not None)

    _prev = parents                    # the name the graph tools read on every node

    @property
    def op(self):
        return self._op

    @property
    def formula(self):
        """The vector-Jacobian product of the op that made this Value, g = ∂L/∂(this
        Value): the docstring of that op's method ("" for a leaf)."""
        op = self._op
        method = "__pow__" if op.startswith("**") else "__rpow__" if op.endswith("**") else _METHOD.get(op)
        return getattr(Value, method).__doc__ if method else ""

    def __repr__(self):
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g}{label})"

    # ------------------------------------------------------------ arithmetic
    def __add__(self, other):
        """∂a = g,  ∂b = g"""
        if not isinstance(other, Value):
            other = _const(other)
        # = _node(self.data + other.data, "+", self, 1.0, other, 1.0), written out (see _node)
        v = _new(Value)
        v.data = self.data + other.data
        v.grad = 0.0
        v._op = "+"
        v._in1 = self
        v._d1 = 1.0
        v._in2 = other
        v._d2 = 1.0
        v._seq = next(_count)
        v._pending = 0
        return v

    def __sub__(self, other):
        """∂a = g,  ∂b = −g"""
        if not isinstance(other, Value):
            other = _const(other)
        return _node(self.data - other.data, "-", self, 1.0, other, -1.0)

    def __mul__(self, other):
        """∂a = g·b,  ∂b = g·a"""
        if not isinstance(other, Value):
            other = _const(other)
        # = _node(self.data * other.data, "*", self, other.data, other, self.data), written out
        v = _new(Value)
        v.data = self.data * other.data
        v.grad = 0.0
        v._op = "*"
        v._in1 = self
        v._d1 = other.data
        v._in2 = other
        v._d2 = self.data
        v._seq = next(_count)
        v._pending = 0
        return v

    def __truediv__(self, other):
        """∂a = g/b,  ∂b = −g·a/b²"""
        if not isinstance(other, Value):
            other = _const(other)
        a, b = self.data, other.data
        return _node(a / b, "/", self, 1.0 / b, other, -a / (b * b))

    def __pow__(self, p):
        """a ** p for a number p:  ∂a = g·p·aᵖ⁻¹"""
        if not isinstance(p, (int, float)):
            raise TypeError(f"Value ** {type(p).__name__}: the exponent must be a number")
        a = self.data
        return Value(a ** p, "", f"**{p}", self, p * a ** (p - 1))

    def __rpow__(self, base):
        """b ** a for a number b:  ∂a = g·bᵃ·ln b"""
        y = base ** self.data
        return Value(y, "", f"{base}**", self, y * math.log(base))

    def __neg__(self):
        """∂a = −g"""
        return _node(-self.data, "neg", self, -1.0)

    def __radd__(self, other):         # other + self: the same op, `other` made a Value
        return _const(other).__add__(self)

    def __rsub__(self, other):
        return _const(other).__sub__(self)

    def __rmul__(self, other):
        return _const(other).__mul__(self)

    def __rtruediv__(self, other):
        return _const(other).__truediv__(self)

    # ------------------------------------------------------------ functions
    def exp(self):
        """∂a = g·eᵃ"""
        y = _exp(self.data)
        return _node(y, "exp", self, y)

    def log(self):
        """∂a = g/a"""
        a = self.data
        y = math.log(a) if a > 0 else (-math.inf if a == 0 else math.nan)
        return _node(y, "log", self, 1.0 / a if a else math.inf)

    def tanh(self):
        """∂a = g·(1 − tanh²a)"""
        y = math.tanh(self.data)
        return _node(y, "tanh", self, 1.0 - y * y)

    def relu(self):
        """∂a = g·[a > 0]"""
        a = self.data
        return _node(a if a > 0 else 0.0, "relu", self, 1.0 if a > 0 else 0.0)

    def sigmoid(self):
        """∂a = g·σ(a)(1 − σ(a))"""
        a = self.data
        y = 1.0 / (1.0 + _exp(-a)) if a >= 0 else _exp(a) / (1.0 + _exp(a))
        return _node(y, "sigmoid", self, y * (1.0 - y))

    # ------------------------------------------------------------- backward
    def backward(self):
        """Seed d(self)/d(self) = 1 and add d(self)/d(v) into `v.grad` for every ancestor v.

        Kahn's algorithm, with a stack instead of recursion (a 100,000-op chain works):
        1. walk the graph once and count, on each node, the edges that will bring it a
           gradient (`_pending`: one per use by a node of this graph);
        2. from self, pass each node's gradient on to its parents by the chain rule, and
           take up a parent once its last edge has brought its share: its gradient is
           then complete. No visited-set and no sorting; the counts are back to 0 after.
        """
        stack = [self]
        try:
            while stack:                                    # 1. count the edges
                v = stack.pop()
                parent = v._in1
                if parent is None:
                    continue
                if not parent._pending:                     # reached for the first time
                    parent._g = 0.0
                    stack.append(parent)
                parent._pending += 1
                parent = v._in2
                if parent is not None:
                    if not parent._pending:
                        parent._g = 0.0
                        stack.append(parent)
                    parent._pending += 1
            tracer = state.tracer
            self._g = 1.0              # this call's gradients; .grad accumulates across calls
            stack = [self]
            while stack:                                    # 2. the chain rule, children first
                v = stack.pop()
                g = v._g
                v.grad += g
                parent = v._in1
                if parent is None:
                    continue
                parent._g += v._d1 * g                      # ∂parent += (local derivative)·g
                parent._pending -= 1
                if not parent._pending:                     # its last edge: its gradient is whole
                    stack.append(parent)
                parent = v._in2
                if parent is not None:
                    parent._g += v._d2 * g
                    parent._pending -= 1
                    if not parent._pending:
                        stack.append(parent)
                if tracer is not None:
                    tracer.record(v, v._op, None, g, v.parents, [d * g for d in (v._d1, v._d2)])
        except BaseException:          # interrupted: leave no half-passed gradient or count behind
            _clear(self)
            raise


def _clear(root):
    """Zero backward's edge counts (`_pending`) on every node of root's graph."""
    seen, stack = {root}, [root]
    while stack:
        v = stack.pop()
        v._pending = 0
        for parent in (v._in1, v._in2):
            if parent is not None and parent not in seen:
                seen.add(parent)
                stack.append(parent)


def _node(data, op, in1, d1, in2=None, d2=0.0):
    """An op's output: `Value(data, "", op, in1, d1, in2, d2)` without `__init__`'s
    number check (an op's `data` is already a float), which is a fifth of an op's cost.
    `__add__` and `__mul__` write these lines out instead of calling: they make nearly
    every node of an MLP, and the call is a tenth of their cost (benchmarks/README.md)."""
    v = _new(Value)
    v.data = data
    v.grad = 0.0
    v._op = op
    v._in1 = in1
    v._d1 = d1
    v._in2 = in2
    v._d2 = d2
    v._seq = next(_count)
    v._pending = 0
    return v


def _const(x):
    """`Value(x)` for an operand x that is not a Value: a leaf holding the number. A float
    (a network's input, a loss's constant) is set up in place as `_node` does, without
    `__init__`'s number check; anything else goes through `Value(x)` and its check."""
    if type(x) is not float:
        return Value(x)
    v = _new(Value)
    v.data = x
    v.grad = 0.0
    v._op = ""
    v._in1 = v._in2 = None
    v._d1 = v._d2 = 0.0
    v._seq = 0
    v._pending = 0
    return v


def _exp(a):
    """e^a, and inf instead of OverflowError past e^709."""
    try:
        return math.exp(a)
    except OverflowError:
        return math.inf
