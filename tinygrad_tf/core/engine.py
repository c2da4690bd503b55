"""The graph and the backward loop.

Every graph node, in both engines, has
    _prev  the tuple of nodes it was computed from (its parents; empty for leaves)
    _seq   a creation number: every node is made after its parents, so
           sorting by `_seq` puts parents before children.
In the scalar engine the nodes are the `Value`s themselves (scalar.py walks
them itself). In the tensor engine they are ops (`Op`, below, which writes down
the whole node protocol) and leaf tensors.

This module holds the global switches (grad recording, the module scope, the
backward tracer, non-finite detection), `Op`, `topological_order`, and the
tensor engine's backward loop. Of a Tensor it knows only what `Op` lists: its
`requires_grad`, `_ctx` and `shape`, and `_accumulate` on a leaf.
"""
import functools
import itertools
import math
from heapq import heappop, heappush
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
        self.plain = False         # `plain()`: the plain math instead of the fast paths
        self.inplace_seq = 0       # the creation number of the last in-place change (see Op)


state = _State()


class _Switch:
    """Sets one switch of `state` inside a `with` block, and back to what it was after;
    as a decorator (`@tg.no_grad()`), around every call of the function."""
    switch, value = None, None

    def __enter__(self):
        self._prev = getattr(state, self.switch)
        setattr(state, self.switch, self.value)

    def __exit__(self, *exc):
        setattr(state, self.switch, self._prev)

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_Switch):
    """`with tg.no_grad():` or `@tg.no_grad()`: run ops without recording a graph."""
    switch, value = "grad_enabled", False


class plain(_Switch):
    """`with tg.plain():` or `@tg.plain()`: the plain math, one primitive at a time.

    The fast paths (fused.py: Linear, LayerNorm, the masked softmax of attention, softmax
    cross-entropy, Embedding, and ops.Gelu) each stand for a composition of primitives; inside
    `plain()` each records that composition instead (LayerNorm as mean, subtract, square,
    mean, add eps, rsqrt, multiply, ...), so a trace, a graph and the explorer show every
    step, and `backward` runs `backward_reference`, the chain rule as it reads. Gradients are
    the fast path's (to rounding: 1e-10 relative in float64). nanoGPT's `flash` switch, for
    every fast path: use it to see or check the math; the fast paths are what trains."""
    switch, value = "plain", True


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


class detect_anomaly(_Switch):
    """`with tg.detect_anomaly():` checks every forward output and every gradient an op
    sends back; the first NaN or Inf raises `NonFiniteError` naming the op, its module
    and its input shapes. Costs one `np.isfinite` per op, so off by default."""
    switch, value = "check_finite", True


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


# An op's `needs` for two inputs: one shared tuple for each case, so that an op adds no
# new object for it (fewer objects per op is less work for Python's cycle collector).
_NEEDS = {(True, True): (True, True), (True, False): (True, False), (False, True): (False, True),
          (False, False): None}


class Op:
    """A node of the tensor graph: one primitive applied to some inputs. This is the
    node protocol, all of it: what the backward loop, the trace and the graph
    drawings read of a node.

    The graph's nodes are ops and leaf tensors. Every node has
        _prev           its parents, one per input: the op that made the input, or
                        the input itself if it is a leaf tensor; () for a leaf
        _seq            creation number (0 for a leaf); parents come first
        requires_grad   True for an op; a leaf's own flag
        shape           of the node's output
    and a leaf tensor has `_accumulate(grad)`, which adds a gradient into its `.grad`.

    An op also has
        name            "add", "matmul", ... (class attribute)
        forward(*arrays, **params)   the output array, from the inputs' arrays; puts
                        in `saved` what backward will need
        backward(g)     g = ∂L/∂output (the output's shape) → one ∂L/∂input per
                        input, in the output's (broadcast) shape, or None for an input
                        that needs none; never writes into g. Its docstring is the
                        formula, the vector-Jacobian product, also `formula`.
        saved           () before forward; None once backward has freed it
        needs           per input: does it require grad
        module          dotted path of the module that ran it, or None
        retained        a weakref to the output tensor if it asked retain_grad(), or None
        fresh_grads     (class attribute) True if backward's gradients are always new
                        arrays that nothing else holds (not g, not a saved array, not
                        one array sent to two inputs): a leaf may then keep one as its
                        `.grad` without copying it
    Version counters, so that no backward reads an array changed since its forward:
    every in-place change (`+=`, `fill_`, `t[i] = v`, an optimizer step, ...) stamps
    the changed node (a leaf tensor, or for a computed tensor the op that made it, and
    back through the views it is one of) with a fresh creation number, `_version`
    (unset: never changed). A backward that reads an input saved after that input's
    last change (`saves_inputs`: stamp < this op's `_seq`) or its own unchanged output
    (`saves_output`: no stamp) is exact; `check_saved` raises otherwise. Nothing is
    stored per op for it: the loop checks only ops made before the last change anywhere
    (`state.inplace_seq`), so a graph built after the last optimizer step costs one
    comparison per op.
    `record` (`record2` for two inputs) fills the graph slots when the op joins a
    graph, and `vjp` is its backward as the loop calls it. An op never holds its
    output: a finished graph keeps no intermediate array alive (only the user's tensors point at ops, via
    `Tensor._ctx`). No __init__: making an op is most of the cost of a tiny one.
    """
    __slots__ = ("_prev", "_seq", "shape", "saved", "needs", "module", "retained", "_version")
    name = "op"
    formula = ""
    fresh_grads = False
    requires_grad = True     # an op is only recorded when some input needs a gradient
    saves_inputs = ()        # the inputs whose arrays `saved` holds (backward reads them)
    saves_output = False     # does `saved` hold the output array?
    is_view = False          # is the output a view of input 0's array (reshape, permute, ...)?

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.formula = (cls.backward.__doc__ or "").strip()

    def record(self, inputs, out):
        """Join the graph as the maker of `out` from the tensors `inputs`, if some input
        requires grad (under grad mode: `tensor.apply` checks); True if it joined."""
        if len(inputs) == 2:
            return self.record2(inputs[0], inputs[1], out)
        if len(inputs) == 1:               # (spelled out: a unary op is the other common case)
            a = inputs[0]
            if not a.requires_grad:
                return False
            needs, self._prev = (True,), (a._ctx or a,)
        else:
            needs = tuple([t.requires_grad for t in inputs])
            if True not in needs:
                return False
            self._prev = tuple([t._ctx or t for t in inputs])
        self.needs = needs
        self._seq = next_seq()
        self.shape = out.shape
        self.module = state.module
        self.retained = None
        return True

    def record2(self, a, b, out):
        """record((a, b), out): two inputs, spelled out (+ - * @ are most of a graph's
        ops; `tensor.binary` calls it without building the tuple)."""
        needs = _NEEDS[a.requires_grad, b.requires_grad]
        if needs is None:
            return False
        self._prev = a._ctx or a, b._ctx or b
        self.needs = needs
        self._seq = next_seq()
        self.shape = out.shape
        self.module = state.module
        self.retained = None
        return True

    def vjp(self, g, retain_graph=False):
        """backward(g) as the loop calls it, with the engine's promises around it:
        before, a retained output gets g and a freed op refuses; after, `saved` is
        freed (unless retain_graph)."""
        if self.retained is not None:
            _give_retained(self, g)
        if self._seq < state.inplace_seq:
            check_saved(self)
        if self.saved is None:
            raise RuntimeError(
                f"backward through op '{self.name}' a second time: its saved arrays were "
                "freed after the first backward; pass retain_graph=True to the first call")
        input_grads = self.backward(g)
        if not retain_graph:
            self.saved = None
        return input_grads

    def __repr__(self):
        return f"<op {self.name} {self.shape}>"


def mark_changed(tensor, what):
    """Stamp `tensor`'s data as changed in place by `what` ("fill_", "an optimizer step"):
    its node (the tensor if a leaf, else the op that made it) and, back through views
    (a reshape, a slice), the nodes whose arrays share its memory. Every backward that
    reads one of them saved before now will refuse (`check_saved`)."""
    seq = next_seq()
    state.inplace_seq = seq
    _changes[seq] = what
    if len(_changes) > 256:                          # (only recent changes can be named)
        del _changes[next(iter(_changes))]
    node = tensor._ctx or tensor
    while True:
        node._version = seq
        if not node.is_view:
            break
        node = node._prev[0]
    return seq


def mark_all_changed(tensors, what):
    """mark_changed for many leaves at once (an optimizer step): one stamp for all."""
    seq = next_seq()
    state.inplace_seq = seq
    _changes[seq] = what
    for t in tensors:
        t._version = seq


_changes = {}                  # stamp → what made that in-place change, for the message


def _changed_since(node, seq):
    """The node, or a node it is a view of, stamped after creation number `seq`; or None."""
    while True:
        if getattr(node, "_version", 0) > seq:
            return node
        if not node.is_view:
            return None
        node = node._prev[0]


def check_saved(op):
    """Raise if an array `op` saved for its backward was changed in place after the
    forward: its gradient would be computed from the new values, silently wrong."""
    for i in op.saves_inputs:
        if op.saved and i < len(op._prev):
            changed = _changed_since(op._prev[i], op._seq)
            if changed is not None:
                raise RuntimeError(_modified_message(op, changed, f"input {i}"))
    if op.saves_output and getattr(op, "_version", 0):
        raise RuntimeError(_modified_message(op, op, "output"))


def _modified_message(op, node, role):
    """PyTorch's error for an in-place change under a saved array, naming the tensor
    (its name, or its shape and maker), the op that saved it, its module, what to do."""
    if node._seq == 0:                               # a leaf tensor
        who = f"tensor '{node.name}' (shape {node.shape})" if node.name else f"a tensor of shape {node.shape}"
    else:
        who = f"the output of op '{node.name}' (shape {node.shape})"
    by = _changes.get(node._version)
    module = f" in module '{op.module}'" if op.module else ""
    return (f"one of the variables needed for gradient computation has been modified by an inplace "
            f"operation: {who}, saved by op '{op.name}'{module} (its {role}) for the backward, was changed "
            f"in place{f' (by {by})' if by else ''} after the forward, so the gradient would be "
            f"computed from the new values. Call backward() before changing it (e.g. loss.backward() "
            f"before opt.step()), or change a copy (t.clone()) instead")


def _give_retained(op, g):
    """retain_grad(): the output tensor, if it still lives, adds g into its .grad."""
    output = op.retained()
    if output is not None:
        output._accumulate(g)


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


@functools.lru_cache(maxsize=64)
def constant_vector(n, dtype, value):
    """np.full(n, value, dtype), made once per length, dtype and value and kept read-only:
    column_sums and fused.row_sums multiply by ones (every bias's backward, LayerNorm,
    softmax), ops.Relu compares with zeros."""
    vector = np.full(n, value, dtype=dtype)
    vector.flags.writeable = False
    return vector


def column_sums(a):
    """Σ over the first axis of a 2-D array: a.sum(axis=0), as one vector-matrix product
    ones·a (a BLAS pass, 2-4× faster than NumPy's reduction over many short rows)."""
    return constant_vector(a.shape[0], a.dtype, 1) @ a


def unbroadcast(grad, shape):
    """Sum `grad` down to `shape`: the backward of NumPy broadcasting, in one place.
    Broadcasting prepends axes and stretches axes of size 1; undo both."""
    if grad.ndim == 2 and shape == grad.shape[1:] and grad.flags.c_contiguous:
        return column_sums(grad)                  # a bias's gradient: grad.sum(axis=0)
    extra = grad.ndim - len(shape)
    if extra > 0 and grad.flags.c_contiguous:     # Σ over the prepended axes as column_sums of
        rows, rest = math.prod(grad.shape[:extra]), grad.shape[extra:]   # grad seen as (rows, rest)
        grad = column_sums(grad.reshape(rows, math.prod(rest))).reshape(rest)
    elif extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad


def backward_reference(root, seed, retain_graph=False):
    """The chain rule as it reads: the reverse-mode sweep from the node `root`, whose
    gradient is `seed`. A node's gradient is the sum of what its children send back, so
    the nodes are visited children first (reversed topological order); each op turns the
    gradient of its output into one per input (`Op.vjp`, the vector-Jacobian product),
    summed down to the input's shape where broadcasting stretched it, and added to what
    that input has already. A leaf adds its gradient into `.grad`. Runs under `tg.plain()`."""
    grads = {root: seed}
    for node in reversed(topological_order(root)):           # children before parents
        grad = grads.pop(node, None)
        if grad is not None and not node._seq:                # a leaf: into its .grad
            node._accumulate(grad)
        elif grad is not None:                                # an op: the chain rule
            input_grads = node.vjp(grad, retain_graph)
            for parent, g in zip(node._prev, input_grads):
                if g is not None and parent.requires_grad:
                    g = unbroadcast(g, parent.shape)
                    grads[parent] = grads[parent] + g if parent in grads else g
            _watch(node, grad, input_grads)


def backward(root, seed, retain_graph=False):
    """The backward loop that runs: `backward_reference` plus a heap, owned gradients and
    an inlined `vjp`, for the same gradients, bit for bit, in less time (under `tg.plain()`
    it hands over to `backward_reference`).

    A heap instead of sorting the graph: the ops that have received a gradient wait in a
    heap that gives the one made last (highest `_seq`). Its children were all made after
    it, so they have all been visited and its gradient is complete; nodes no gradient
    reaches (constants) are never visited, and the nodes are visited in the reference
    loop's order, so the sums are the same. A leaf has no backward to wait for: its
    gradient is summed in `grads` and added into `.grad` at the end. Owned gradients: a
    gradient only this loop holds (the loop made it by summing, or an op with
    `fresh_grads` did) is "owned": the next gradient for the same node is added into it in
    place, and a leaf keeps it as its `.grad`, saving a copy; any other is copied, so
    `.grad` never aliases another gradient or a saved array. Around the chain rule:
    `Op.vjp` (retain_grad, freeing, the second-backward error), inlined for its plain case,
    and `_watch` (detect_anomaly, the trace, which keep what was sent: then nothing is
    owned).
    """
    if state.plain:
        return backward_reference(root, seed, retain_graph)
    grads = {root: seed}
    changed = state.inplace_seq    # ops made before the last in-place change get checked
    owned = set()                  # nodes whose gradient in `grads` only this loop holds
    watching = state.check_finite or state.tracer is not None
    waiting = []                   # the other ops that have a gradient, as a heap of (-_seq, op)
    node = root                    # whose top is the one made last
    while node is not None:
        grad = grads.pop(node)
        if node.retained is None and node.saved is not None and not retain_graph:
            if node._seq < changed:                  # (Op.vjp's plain case, inlined)
                check_saved(node)
            input_grads = node.backward(grad)
            node.saved = None
        else:
            input_grads = node.vjp(grad, retain_graph)   # (which checks the versions itself)
        fresh = node.fresh_grads and not watching
        for i, parent in enumerate(node._prev):      # (enumerate: cheaper than a zip)
            parent_grad = input_grads[i]
            if parent_grad is None or not parent.requires_grad:
                continue
            earlier = grads.get(parent)              # the gradient so far, of parent's shape
            shape = parent.shape if earlier is None else earlier.shape   # (an array's is quicker)
            if parent_grad.shape != shape:
                parent_grad = unbroadcast(parent_grad, shape)
                mine = not watching                  # (the sum is a new array)
            else:
                mine = fresh
            if earlier is None:                      # the first gradient to reach parent
                grads[parent] = parent_grad
                if parent._seq:                      # an op (a leaf's stays in grads to the end)
                    heappush(waiting, (-parent._seq, parent))
                if mine:
                    owned.add(parent)
            elif parent in owned and earlier.ndim and earlier.dtype == parent_grad.dtype:
                earlier += parent_grad               # (earlier + parent_grad, in place; not
                                                     # for a 0-d one, maybe a NumPy scalar)
            else:
                grads[parent] = earlier + parent_grad
                if not watching:
                    owned.add(parent)
        if watching:
            _watch(node, grad, input_grads)
        node = heappop(waiting)[1] if waiting else None
    for leaf, grad in grads.items():                 # what is left: the leaves' gradients
        leaf._accumulate(grad, owned=leaf in owned)


def _watch(op, grad, input_grads):
    """The extras of one backward step, off the hot path: detect_anomaly checks what
    the op sent each input, and a running trace records the step."""
    if not state.check_finite and state.tracer is None:
        return
    sent = [None if g is None or not parent.requires_grad else unbroadcast(g, parent.shape)
            for parent, g in zip(op._prev, input_grads)]      # as the loop sent them
    if state.check_finite:
        for i, parent_grad in enumerate(sent):
            if parent_grad is not None:
                check_finite(parent_grad, op, [p.shape for p in op._prev], f"backward to input {i}")
    if state.tracer is not None:
        state.tracer.record(op, op.name, op.module, grad, op._prev, sent)
