"""The part of autograd that scalars and tensors share.

A graph node has:
    _prev  the tuple of nodes it was computed from (its parents; empty for leaves)
    _seq   a creation number: every node is made after its parents, so
           sorting by `_seq` puts parents before children.

In the scalar engine the nodes are the `Value`s themselves. In the tensor
engine they are the ops (`ops.Op`) and the leaf tensors: an op's `_prev` holds
the op that made each input, or the input itself when it is a leaf. A tensor
points at its op (`_ctx`), but no op points at a tensor it made, so the graph
never keeps an intermediate array alive: once backward has freed what each op
saved, a finished graph holds nothing but its shape, and the user's tensors.

This module holds the global switches (grad recording, the module scope, the
backward tracer, non-finite detection), `topological_order`, and the backward
loop of the tensor engine. It knows nothing of what a Value or Tensor is.
"""
import functools
import itertools
from operator import attrgetter

import numpy as np

# A fresh, increasing number for every node made: the topological order.
next_seq = itertools.count(1).__next__


class _State:
    """Process-wide switches, read on every op (instance attributes: the fastest lookup)."""

    def __init__(self):
        self.grad_enabled = True   # record graphs? (`no_grad` turns it off)
        self.module = None         # dotted path of the module whose forward is running
        self.tracer = None         # a `tg.trace()` recording the running backward, or None
        self.check_finite = False  # `detect_anomaly()`: raise where a NaN or Inf is born


state = _State()


class no_grad:
    """`with tg.no_grad():` or `@tg.no_grad()`: run ops without recording a graph."""

    def __enter__(self):
        self._prev, state.grad_enabled = state.grad_enabled, False

    def __exit__(self, *exc):
        state.grad_enabled = self._prev

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with no_grad():
                return fn(*args, **kwargs)
        return wrapper


class module_scope:
    """Ops made inside `with module_scope("encoder.layers.0"):` remember that path."""

    def __init__(self, path):
        self.path = path

    def __enter__(self):
        self._prev, state.module = state.module, self.path

    def __exit__(self, *exc):
        state.module = self._prev


class NonFiniteError(FloatingPointError):
    """Raised under `detect_anomaly()` at the first op whose output or gradient is NaN/Inf."""


class detect_anomaly:
    """`with tg.detect_anomaly():` checks every forward output and every gradient an op
    sends back; the first NaN or Inf raises `NonFiniteError` naming the op, its module
    and its input shapes. Costs one `np.isfinite` per op, so off by default."""

    def __enter__(self):
        self._prev, state.check_finite = state.check_finite, True

    def __exit__(self, *exc):
        state.check_finite = self._prev


def check_finite(array, op, shapes, where):
    """Raise NonFiniteError if `array` holds a NaN or Inf (used by detect_anomaly).
    `where` says which array it is ("forward", "backward to input 1"); the message
    names the op, its module, its input shapes and the first bad element."""
    if np.isfinite(array).all():
        return
    kind = "NaN" if np.isnan(array).any() else "Inf"
    element = [int(i) for i in np.argwhere(~np.isfinite(np.atleast_1d(array)))[0]]
    module = f" in module '{op.module}'" if op.module else ""
    raise NonFiniteError(
        f"{kind} first appeared in the {where} of op '{op.name}'{module} at element {element}, "
        f"input shapes {', '.join(str(s) for s in shapes)}"
    )


class Op:
    """A node of the tensor graph: one primitive applied to some inputs.

    `_prev` holds, for each input, the op that made it or (for a leaf) the input
    tensor itself; `shape` and `dtype` describe the output, which the op does not
    keep. `saved` holds what backward needs (set by forward; () if nothing) and is
    dropped (None) once backward has run. `needs` says which inputs require grad,
    `module` is the path of the module that ran the op, and `retained` a weakref to
    the output if it asked `retain_grad()`. `tensor.apply` sets all but `saved`'s
    contents (no __init__: making an op is most of the cost of a tiny one).
    """
    __slots__ = ("_prev", "_seq", "shape", "dtype", "saved", "needs", "module", "retained")
    name = "op"
    requires_grad = True     # an op is only recorded when some input needs a gradient

    def __repr__(self):
        return f"<op {self.name} {self.shape}>"


_by_seq = attrgetter("_seq")


def topological_order(root):
    """Every node reachable from `root`, parents before children. No recursion: a
    plain stack collects the nodes, and since a node is always made after its
    parents, sorting by creation number is a topological order."""
    seen = {root}
    stack = [root]
    while stack:
        for parent in stack.pop()._prev:
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return sorted(seen, key=_by_seq)


def unbroadcast(grad, shape):
    """Sum `grad` down to `shape`: the backward of NumPy broadcasting, in one place.
    Broadcasting prepends axes and stretches axes of size 1; undo both."""
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad


def backward(root, seed, retain_graph=False):
    """Reverse-mode sweep of the tensor engine from the node `root`, whose gradient is `seed`.

    Each node's gradient is the sum over its children of what they send back, so
    nodes are visited children-first (reverse topological order) and each op's
    backward turns the gradient of its output into one for each input (the
    vector-Jacobian product). Leaves add what reaches them into `.grad`, as do
    tensors that asked `retain_grad()`; other gradients live only in this loop.
    """
    grads = {root: seed}
    tracer, checking = state.tracer, state.check_finite
    for node in reversed(topological_order(root)):
        grad = grads.pop(node, None)
        if grad is None:
            continue
        if not node._prev:                 # a leaf tensor
            node._accumulate(grad)
            continue
        op = node
        if op.retained is not None:        # the output asked retain_grad() and may still live
            output = op.retained()
            if output is not None:
                output._accumulate(grad)
        if op.saved is None:
            raise RuntimeError(
                f"backward through op '{op.name}' a second time: its saved arrays were "
                "freed after the first backward; pass retain_graph=True to the first call"
            )
        input_grads = op.backward(grad)
        if not retain_graph:
            op.saved = None
        sent = []                          # what went along each input edge (None: nothing)
        for parent, parent_grad in zip(op._prev, input_grads):
            if parent_grad is not None and parent.requires_grad:
                if parent_grad.shape != parent.shape:
                    parent_grad = unbroadcast(parent_grad, parent.shape)
                earlier = grads.get(parent)
                grads[parent] = parent_grad if earlier is None else earlier + parent_grad
            else:
                parent_grad = None
            sent.append(parent_grad)
        if checking:
            for i, parent_grad in enumerate(sent):
                if parent_grad is not None:
                    check_finite(parent_grad, op, [p.shape for p in op._prev], f"backward to input {i}")
        if tracer is not None:
            tracer.record(op, op.name, op.module, grad, op._prev, sent)
