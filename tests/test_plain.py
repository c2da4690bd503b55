"""tg.plain(): every fast path as its composition of primitives, and the reference
backward loop; the same values and gradients as the fast engine (1e-10 relative in
float64) over the whole self-check table, every op and every layer and model."""
import numpy as np
import pytest

import tinygrad_tf as tg
from tinygrad_tf import nn
from tinygrad_tf.core import engine, fused, ops
from tinygrad_tf.core.engine import topological_order
from tinygrad_tf.seeing import explore, selfcheck
from tinygrad_tf.seeing.trace import node_name

CASES = selfcheck._op_cases() + selfcheck._layer_cases()
FUSED = {cls.name for cls in vars(fused).values() if isinstance(cls, type) and issubclass(cls, ops.Op)
         and cls.__module__ == fused.__name__} | {"gelu"}


def run(fn, inputs, params):
    """fn's output, every leaf's gradient for one random upstream gradient, and the op
    names of its graph."""
    leaves = list(inputs) + list(params)
    for t in leaves:
        t.grad = None
    out = fn(*inputs)
    names = [node.name for node in topological_order(out._ctx) if isinstance(node, ops.Op)]
    out.backward(np.random.default_rng(1).standard_normal(out.shape))
    return out.data, [t.grad for t in leaves], names


@pytest.mark.parametrize("name, shapes, fn, inputs, kw", CASES, ids=[f"{c[0]} {c[1]}" for c in CASES])
def test_plain_gives_the_fast_paths_values_and_gradients(name, shapes, fn, inputs, kw):
    y, grads, fast_ops = run(fn, inputs, kw.get("params", []))
    with tg.plain():
        y_plain, grads_plain, plain_ops = run(fn, inputs, kw.get("params", []))
    assert not FUSED & set(plain_ops), "a fast path ran inside plain()"
    np.testing.assert_allclose(y_plain, y, rtol=1e-10, atol=1e-10 * np.abs(y).max(initial=0))
    # relative to the case's largest gradient: some are 0 in exact arithmetic (a key
    # projection's bias: softmax ignores a shift of a row), so only rounding is left there
    scale = max(np.abs(g).max(initial=0) for g in grads if g is not None)
    for g, g_plain in zip(grads, grads_plain):
        assert (g is None) == (g_plain is None)
        if g is not None:
            assert g_plain.shape == g.shape and g_plain.dtype == g.dtype
            assert np.abs(g_plain - g).max(initial=0) <= 1e-10 * scale
    assert (FUSED & set(fast_ops)) or plain_ops == fast_ops     # (plain() changes only those)


def test_a_trace_of_layer_norm_under_plain_shows_its_steps_with_the_fused_gradients():
    nn.manual_seed(0)
    norm = nn.LayerNorm(6).astype(np.float64)
    x = tg.randn(2, 3, 6, seed=0, requires_grad=True, dtype=np.float64)
    upstream = np.random.default_rng(1).standard_normal((2, 3, 6))

    def traced():
        for t in (x, norm.weight, norm.bias):
            t.grad = None
        y = norm(x)
        with tg.trace() as tr:
            y.backward(upstream)
        return tr, [x.grad, norm.weight.grad, norm.bias.grad]
    fast, grads = traced()
    with tg.plain():
        steps, plain_grads = traced()
    assert [s.op for s in fast] == ["layer_norm"]
    names = [s.op for s in steps]
    assert len(steps) > 1 and "layer_norm" not in names
    assert {"mean", "sub", "mul", "pow", "add"} <= set(names)   # (rsqrt is a pow, square a mul)
    assert len(steps.uses(x)) == 2                       # x − mean(x): x is read twice
    for g, g_plain in zip(grads, plain_grads):
        np.testing.assert_allclose(g_plain, g, rtol=1e-10, atol=1e-12)


def test_trace_draw_graph_and_explore_read_a_plain_graph(tmp_path):
    nn.manual_seed(0)
    block = nn.EncoderBlock(8, 2, 16)
    x = tg.randn(2, 3, 8, seed=0, requires_grad=True)
    with tg.plain():
        loss = block(x).square().sum()
        with tg.trace() as tr:
            loss.backward()
    names = {s.op for s in tr}
    assert {"max", "exp", "sum", "div", "matmul", "mean", "pow"} <= names
    assert not FUSED & names
    dot_source = tg.viz.draw_graph(loss, trace=tr).source
    assert all(node_name(s.node).split("#")[0] in dot_source for s in tr)
    data = explore.read_data(tg.viz.explore(loss, tr, tmp_path / "plain.html"))
    assert [step["op"] for step in data["steps"]] == [s.op for s in tr]


def test_gelu_under_plain_is_composed_from_erf_or_tanh():
    for approximate, primitive in (("none", "erf"), ("tanh", "tanh")):
        x = tg.randn(4, seed=0, requires_grad=True, dtype=np.float64)
        with tg.plain():
            y = x.gelu(approximate)
        names = {n.name for n in topological_order(y._ctx)}
        assert primitive in names and "gelu" not in names
        y.backward(np.ones(4))
        z = tg.Tensor(x.data, requires_grad=True, dtype=np.float64)
        z.gelu(approximate).backward(np.ones(4))
        np.testing.assert_allclose(x.grad, z.grad, rtol=1e-12)


def test_masked_softmax_under_plain_keeps_a_row_with_no_key_at_zero():
    q = tg.randn(2, 3, 4, seed=0, requires_grad=True, dtype=np.float64)
    mask = np.ones((3, 3), dtype=bool)
    mask[1] = False
    for switch in (tg.plain, lambda: np.errstate()):
        q.grad = None
        with switch():
            out, weights = nn.functional.attention(q, q, q, mask=mask)
            out.sum().backward()
        np.testing.assert_array_equal(weights.data[:, 1], 0.0)
        assert np.isfinite(q.grad).all()


def test_plain_is_a_context_manager_and_a_decorator_and_restores_the_switch():
    assert not engine.state.plain

    @tg.plain()
    def f():
        return engine.state.plain
    assert f() and not engine.state.plain
    with pytest.raises(KeyError):
        with tg.plain():
            with tg.plain():
                assert engine.state.plain
            assert engine.state.plain
            raise KeyError("an error inside the block")
    assert not engine.state.plain


def test_the_reference_loop_is_short():
    import inspect
    source = inspect.getsource(engine.backward_reference)
    body = source.split('"""')[2].strip().splitlines()
    assert len(body) <= 12
