"""The scalar engine, and one vocabulary for both engines: each expression below is
written once and run on floats, on `Value`s and on one-element `Tensor`s; the values
agree, and the gradients of Value and Tensor agree with each other and with finite
differences."""
import gc
import math

import numpy as np
import pytest

import tinygrad_tf as tg


def _exp(x):
    return math.exp(x) if isinstance(x, float) else x.exp()


def _log(x):
    return math.log(x) if isinstance(x, float) else x.log()


def _tanh(x):
    return math.tanh(x) if isinstance(x, float) else x.tanh()


def _relu(x):
    return max(x, 0.0) if isinstance(x, float) else x.relu()


def _sigmoid(x):
    return 1 / (1 + math.exp(-x)) if isinstance(x, float) else x.sigmoid()


# Inputs are kept off relu's kink and inside log's domain.
EXPRESSIONS = {
    "arithmetic": (lambda a, b: a * b + a / b - b ** 2 + 3.0 * a - (1.0 - b) / 2.0, (1.3, -0.7)),
    "neg_pow": (lambda a, b: -a ** 3 + (a * a) ** -0.5 * b, (0.8, 2.1)),
    "exp_log": (lambda a, b: _exp(a * b) + _log(a + 2.0) * b, (0.4, -1.2)),
    "tanh": (lambda a, b: _tanh(a * b + 0.3) * _tanh(b), (0.9, 0.6)),
    "relu": (lambda a, b: _relu(a - b) + _relu(b - a) * 2.0, (1.5, -0.5)),
    "sigmoid": (lambda a, b: _sigmoid(a) * _sigmoid(-b) + a, (0.2, 1.7)),
    "reuse": (lambda a, b: (a + b) * (a + b) * a, (1.1, 0.4)),
    "neuron": (lambda a, b: _tanh(a * 0.5 + b * -1.5 + 0.1), (0.3, 0.8)),
    "reflected": (lambda a, b: 2.0 - a + 3.0 / b + 1.0 * b, (0.6, 1.9)),
    "rpow": (lambda a, b: 2.0 ** a * b, (0.6, 1.9)),
}


def finite_difference(fn, args, i, eps=1e-6):
    up, down = list(args), list(args)
    up[i] += eps
    down[i] -= eps
    return (fn(*up) - fn(*down)) / (2 * eps)


@pytest.mark.parametrize("name", EXPRESSIONS)
def test_one_vocabulary_for_floats_values_and_tensors(name):
    fn, args = EXPRESSIONS[name]
    expected = fn(*args)

    values = [tg.Value(x) for x in args]
    out = fn(*values)
    out.backward()

    tensors = [tg.Tensor([x], dtype=np.float64, requires_grad=True) for x in args]
    tout = fn(*tensors)
    tout.backward()

    assert out.data == pytest.approx(expected, rel=1e-12)
    assert tout.item() == pytest.approx(expected, rel=1e-12)
    for i, (v, t) in enumerate(zip(values, tensors)):
        assert v.grad == pytest.approx(t.grad.item(), rel=1e-10, abs=1e-12)
        assert v.grad == pytest.approx(finite_difference(fn, args, i), rel=1e-6, abs=1e-8)


def test_value_chain_rule_by_hand():
    a, b = tg.Value(2.0, "a"), tg.Value(-3.0, "b")
    c = a * b          # -6
    d = c + a          # -4
    e = d.tanh()
    e.backward()
    de = 1 - math.tanh(-4.0) ** 2
    assert e.grad == 1.0 and d.grad == pytest.approx(de)
    assert c.grad == pytest.approx(de)
    assert a.grad == pytest.approx(de * (b.data + 1))   # through c and directly
    assert b.grad == pytest.approx(de * a.data)


def test_value_edges_are_inspectable():
    a, b = tg.Value(1.0, "a"), tg.Value(2.0, "b")
    c = a * b
    assert c.parents == (a, b) and c.op == "*"
    d = c.relu()
    assert d.parents == (c,) and d.op == "relu"
    assert a.parents == () and a.op == "" and a.label == "a"
    s = a + a
    assert s.parents == (a, a)          # a node used twice keeps both edges
    s.backward()
    assert a.grad == 2.0


def test_value_backward_accumulates():
    a = tg.Value(3.0)
    (a * a).backward()
    (a * 2.0).backward()
    assert a.grad == 6.0 + 2.0


def test_value_backward_passes_a_node_on_only_after_all_its_uses():
    # u feeds three nodes at different depths, and x feeds u twice, so a node taken up
    # before its last use reported would send on only part of its gradient
    def f(a, b):
        u = a * a + b
        v = _tanh(u * b)
        w = v * u + _exp(v)
        return w * u + (w + v) * a

    args = (0.7, -0.4)
    values = [tg.Value(x) for x in args]
    out = f(*values)
    with tg.trace() as tr:
        out.backward()
    done = set()
    for step in tr.steps:                 # no step sends to a node already passed on
        assert not done & {id(p) for p in step.inputs}
        done.add(id(step.node))
    for i, v in enumerate(values):
        assert v.grad == pytest.approx(finite_difference(f, args, i), rel=1e-7)
    seen, stack = set(), [out]            # backward's edge counts are back to zero on every node
    while stack:
        node = stack.pop()
        assert node._pending == 0
        for p in node.parents:
            if id(p) not in seen:
                seen.add(id(p))
                stack.append(p)


def test_value_backward_interrupted_leaves_no_stale_gradient():
    from tinygrad_tf.core.engine import state

    class Interrupt:
        def record(self, *args):
            raise KeyboardInterrupt

    a, b = tg.Value(3.0), tg.Value(2.0)
    y = a * b + a
    state.tracer = Interrupt()
    try:
        with pytest.raises(KeyboardInterrupt):
            y.backward()
    finally:
        state.tracer = None
    a.grad = b.grad = y.grad = 0.0
    y.backward()                        # a fresh pass, nothing carried over from the broken one
    assert (a.grad, b.grad, y.grad) == (3.0, 3.0, 1.0)


def test_value_graph_has_no_reference_cycles():
    gc.collect()
    gc.disable()
    try:
        x = tg.Value(0.5)
        y = x
        for _ in range(200):
            y = (y * 1.01 + 0.1).tanh()
        y.backward()
        del x, y
        assert gc.collect() == 0        # nothing was left for the cycle collector
    finally:
        gc.enable()


def test_value_extremes_and_errors():
    assert tg.Value(1000.0).exp().data == math.inf
    assert tg.Value(0.0).log().data == -math.inf
    assert tg.Value(-1000.0).sigmoid().data == 0.0 and tg.Value(1000.0).sigmoid().data == 1.0
    with pytest.raises(TypeError, match="exponent must be a number"):
        tg.Value(2.0) ** tg.Value(3.0)
    assert "grad=" in repr(tg.Value(1.0))


def test_every_op_states_its_vector_jacobian_product():
    a, b = tg.Value(1.5, "a"), tg.Value(0.5, "b")
    made = [a + b, a - b, a * b, a / b, a ** 3, 2 ** a, -a, a.exp(), a.log(), a.tanh(), a.relu(),
            a.sigmoid()]
    assert a.formula == ""                      # a leaf has no op
    for v in made:
        assert "∂a = " in v.formula, v.op
    assert (a * b).formula == "∂a = g·b,  ∂b = g·a"
    assert len({v.formula for v in made}) == len(made)


def test_value_number_operands_become_constant_leaves():
    a = tg.Value(1.5)
    for made, const in [(a * 2.0, 1), (a + 2.0, 1), (2.0 * a, 0), (1 + a, 0), (3.0 - a, 0), (1 / a, 0)]:
        leaf = made.parents[const]
        assert made.parents[1 - const] is a
        assert isinstance(leaf, tg.Value) and leaf.op == "" and leaf.parents == () and leaf.label == ""
    assert (2.0 * a).parents[0].data == 2.0 and isinstance((1 + a).parents[0].data, float)
    with pytest.raises(TypeError, match="data must be a number"):
        a * "x"
    with pytest.raises(TypeError, match="data must be a number"):
        "x" + a


def test_value_labels_and_repeated_backward_over_a_shared_graph():
    a, b = tg.Value(2.0, "a"), tg.Value(-3.0)
    c = a * b
    assert c.label == "" and b.label == "" and "label" not in repr(c)
    c.label = "c"
    assert c.label == "c" and "label='c'" in repr(c)
    d = c * c
    d.backward()
    (c + a).backward()                  # a second graph sharing c and a: fresh gradients
    assert a.grad == 2 * c.data * b.data + b.data + 1.0
    assert c.grad == 2 * c.data + 1.0
