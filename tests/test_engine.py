"""Engine semantics: accumulation, shared nodes, no_grad, freeing, deep graphs, bad input."""
import gc
import sys
import weakref

import numpy as np
import pytest
from scipy import special
from support import f64

import tinygrad_tf as tg

pytestmark = pytest.mark.usefixtures("engine")     # every test on both engines (conftest)


def test_gradients_accumulate_across_backward_calls():
    x = f64([1.0, 2.0, 3.0])
    (x * x).sum().backward()
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad, 2 * x.data + 3.0)


def test_a_node_used_twice_gets_both_contributions():
    a = f64([1.5, -2.0])
    (a + a).sum().backward()
    np.testing.assert_array_equal(a.grad, [2.0, 2.0])
    b = f64([3.0])
    c = b * 2.0
    (c * c + c).sum().backward()          # d/db (4b² + 2b) = 8b + 2
    np.testing.assert_array_equal(b.grad, [26.0])


@pytest.mark.parametrize("broadcast_last", [True, False])
def test_a_leaf_reached_by_broadcast_and_plain_gradients_in_either_order_sums_them(broadcast_last):
    # The loop compares a gradient's shape with the leaf's gradient so far (when there
    # is one) to decide whether to sum it down; the op made last sends first.
    rows, x = f64(np.arange(6.0).reshape(2, 3)), f64([1.0, -1.0, 2.0])
    terms = {"broadcast": lambda: ((x + rows) * rows).sum(),   # ∂x = Σ rows
             "plain": lambda: (x * x).sum()}                   # ∂x = 2x
    first, second = ("plain", "broadcast") if broadcast_last else ("broadcast", "plain")
    a = terms[first]()
    (a + terms[second]()).backward()
    np.testing.assert_allclose(x.grad, rows.data.sum(0) + 2 * x.data)


def test_every_grad_is_its_own_array_even_where_the_loop_hands_one_over_uncopied():
    # add sends one array to both inputs; matmul's products and the loop's sums are
    # kept by their leaf without a copy; a retained intermediate gets a copy
    a, b, w = f64(np.ones((2, 3))), f64(np.ones((2, 3))), f64(np.ones((3, 4)))
    bias = f64(np.zeros(4))
    s = a + b
    s.retain_grad()
    (s @ w + bias).sum().backward()
    grads = [a.grad, b.grad, w.grad, bias.grad, s.grad]
    for i, g in enumerate(grads):
        assert all(not np.shares_memory(g, h) for h in grads[i + 1:])
    for g, value in zip(grads, [4.0, 4.0, 4.0, 2.0, 4.0]):
        np.testing.assert_array_equal(g, np.full(g.shape, value))
    kept = w.grad
    ((a + b) @ w).sum().backward()
    np.testing.assert_array_equal(w.grad, np.full((3, 4), 8.0))   # accumulated
    np.testing.assert_array_equal(kept, np.full((3, 4), 4.0))     # the first one untouched
    w32 = tg.Tensor(np.ones((3, 2), np.float32), requires_grad=True)
    (tg.Tensor(np.ones((1, 3))) @ w32).sum().backward()       # float64 product → float32 grad
    assert w32.grad.dtype == np.float32


def test_a_fused_linear_hands_its_new_gradients_to_the_leaves_each_its_own():
    # fused.Linear's ∂x, ∂W, ∂b are new arrays, kept uncopied by their leaves; a
    # second backward adds into them without touching the first ones
    x, w, b = f64(np.ones((2, 5, 3))), f64(np.ones((4, 3))), f64(np.zeros(4))
    tg.nn.functional.linear(x, w, b).sum().backward()
    grads = [x.grad, w.grad, b.grad]
    for i, g in enumerate(grads):
        assert all(not np.shares_memory(g, h) for h in grads[i + 1:])
    for g, value in zip(grads, [4.0, 10.0, 10.0]):
        np.testing.assert_array_equal(g, np.full(g.shape, value))
    kept = w.grad
    tg.nn.functional.linear(x, w, b).sum().backward()
    np.testing.assert_array_equal(w.grad, np.full((4, 3), 20.0))
    np.testing.assert_array_equal(kept, np.full((4, 3), 10.0))


def test_gradients_summed_in_place_change_nothing_anyone_else_holds():
    # The loop adds a node's later gradients into the first one in place when only the
    # loop holds it (a matmul's product, its own sum); a gradient shared with another
    # input (add's g), a 0-d one, and everything a user holds must stay as they were.
    a, b, w = f64(np.ones((2, 3))), f64(np.full((2, 3), 2.0)), f64(np.eye(3))
    for matmul_first in (True, False):           # the owned gradient arrives first, or last
        for t in (a, b, w):
            t.grad = None
        if matmul_first:
            t1, s = a @ w, a + b                 # (made first, so reached last by backward)
        else:
            s, t1 = a + b, a @ w
        loss = (s * 3.0).sum() + t1.sum() + (a @ w).sum()
        loss.backward()
        np.testing.assert_array_equal(a.grad, np.full((2, 3), 5.0))   # 3 + 1 + 1
        np.testing.assert_array_equal(b.grad, np.full((2, 3), 3.0))
        np.testing.assert_array_equal(w.grad, np.full((3, 3), 4.0))   # 2 · Σ rows of a
        assert not np.shares_memory(a.grad, b.grad)
    s0 = f64(2.0)                                # 0-d: the sums may be NumPy scalars
    ((a * s0).sum() + ((a + s0) * 2.0).sum() + ((a - s0) * -4.0).sum()).backward()
    np.testing.assert_array_equal(s0.grad, 6.0 + 12.0 + 24.0)
    assert isinstance(s0.grad, np.ndarray) and s0.grad.shape == ()


def test_intermediates_have_no_grad_unless_retained():
    x = f64([1.0, 2.0])
    h = x * 3.0
    k = (x * 2.0).retain_grad()
    (h * k).sum().backward()
    assert h.grad is None
    np.testing.assert_array_equal(k.grad, h.data)
    assert not h.is_leaf and x.is_leaf


def test_no_grad_records_nothing():
    x = f64([1.0, 2.0])
    with tg.no_grad():
        y = (x * 2.0).exp().sum()
    assert not y.requires_grad and y._ctx is None

    @tg.no_grad()
    def f(t):
        return t * t
    assert f(x)._ctx is None
    assert (x * x)._ctx is not None       # switched back on after the block


def test_saved_arrays_are_freed_after_backward_and_a_second_backward_says_so():
    x = f64(np.random.default_rng(0).standard_normal(1000))
    loss = (x.exp() * 2.0).sum()
    exp_op = loss._ctx._prev[0]._prev[0]   # sum <- mul <- exp
    assert exp_op.name == "exp" and exp_op._prev == (x,)
    saved = weakref.ref(exp_op.saved[0])
    loss.backward()
    gc.collect()
    assert saved() is None                 # the array exp saved for backward is gone
    assert exp_op.shape == (1000,)         # the graph's structure stays
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        loss.backward()


def test_retain_graph_allows_a_second_backward():
    x = f64([1.0, 2.0])
    loss = (x.exp() * x).sum()
    loss.backward(retain_graph=True)
    first = x.grad.copy()
    loss.backward()
    np.testing.assert_allclose(x.grad, 2 * first)


def test_memory_of_intermediates_is_freed_by_backward():
    """Saved arrays go as soon as their op's backward has run, and the graph never holds
    an op's output: a chain of 50 tanhs on a 1 MB array holds ~50 MB at the end of
    forward, no more during backward, and nothing once backward is done, even while
    the loss (and so the graph) is still alive."""
    import tracemalloc
    x = f64(np.zeros(125_000))             # 1 MB
    tracemalloc.start()
    y = x
    for _ in range(50):
        y = (y * 0.5).tanh()
    loss = y.sum()
    del y
    forward_mb = tracemalloc.get_traced_memory()[0] / 1e6
    tracemalloc.reset_peak()
    loss.backward()
    after_mb, peak_mb = (m / 1e6 for m in tracemalloc.get_traced_memory())
    tracemalloc.stop()
    assert forward_mb > 40                 # (tanh's saved outputs)
    assert peak_mb < forward_mb + 6
    assert after_mb < 3                    # x.grad (1 MB) and the bare graph
    assert loss._ctx._prev[0].name == "tanh"


@pytest.mark.fast_only                  # (7 s; the reference loop walks the same stack)
def test_chain_of_100000_ops_at_the_default_recursion_limit():
    assert sys.getrecursionlimit() <= 10_000
    x = f64([1.0])
    y = x
    for _ in range(100_000):
        y = y * 1.0 + 0.0
    y.backward(np.ones(1))
    np.testing.assert_array_equal(x.grad, [1.0])
    v = tg.Value(2.0)
    w = v
    for _ in range(100_000):
        w = w * 1.0
    w.backward()
    assert v.grad == 1.0


def test_float32_stays_float32_through_ops_and_gradients():
    x = tg.randn(3, 4, seed=0, requires_grad=True)
    assert x.dtype == np.float32
    y = ((x * 2.5 + 1).gelu() / 3).softmax().log_softmax().var(axis=0).sum()
    assert y.dtype == np.float32
    y.backward()
    assert x.grad.dtype == np.float32


def test_constructors():
    assert tg.Tensor([1.0, 2.0]).dtype == np.float32
    assert tg.Tensor(np.ones(2)).dtype == np.float32           # float data defaults to float32
    assert tg.Tensor([1, 2]).dtype.kind == "i"
    assert tg.tensor([1.0], dtype=np.float64).dtype == np.float64
    assert tg.zeros((2, 3)).shape == (2, 3) and tg.ones(2, 3).data.sum() == 6
    np.testing.assert_array_equal(tg.randn(2, 2, seed=3).data, tg.randn(2, 2, seed=3).data)
    assert tg.arange(4).tolist() == [0, 1, 2, 3]
    t = tg.Tensor([[1.0, 2.0]], requires_grad=True, name="w")
    assert t.requires_grad and t.name == "w" and t.size == 2 and t.ndim == 2 and t.T.shape == (2, 1)
    copy = t.numpy()
    copy[0, 0] = 9
    assert t.data[0, 0] == 1.0
    d = (t * 2).detach()
    assert not d.requires_grad and d._ctx is None
    assert tg.Tensor([3.5]).item() == 3.5


# ------------------------------------------------------------------- bad input

def test_backward_on_a_non_scalar_needs_grad():
    y = f64([1.0, 2.0]) * 2.0
    with pytest.raises(ValueError, match=r"one-element.*shape \(2,\)"):
        y.backward()
    with pytest.raises(ValueError, match=r"grad has shape \(3,\) but the tensor has shape \(2,\)"):
        y.backward(np.ones(3))


def test_backward_through_a_tensor_that_does_not_require_grad():
    with pytest.raises(ValueError, match="does not require grad"):
        (tg.Tensor([1.0]) * 2.0).backward()


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="only floating-point.*int"):
        tg.Tensor([1, 2], requires_grad=True)


@pytest.mark.parametrize("fn, message", [
    (lambda: tg.ones(2, 3) @ tg.ones(4, 5), r"matmul: \(2, 3\) @ \(4, 5\)"),
    (lambda: tg.ones(2, 3, 4) @ tg.ones(5, 4, 2), r"matmul: \(2, 3, 4\) @ \(5, 4, 2\).*batch"),
    (lambda: tg.ones(2, 3) + tg.ones(4), r"add: input shapes \(2, 3\) and \(4,\)"),
    (lambda: tg.ones(2, 3).reshape(4, 2), r"reshape: input shape \(2, 3\).*size 6"),
    (lambda: tg.ones(2, 3)[5], r"getitem: input shape \(2, 3\).*index 5"),
    (lambda: tg.ones(2, 3).sum(axis=2), r"axis 2 is out of range.*\(2, 3\)"),
    (lambda: tg.ones(2, 3).permute(0, 0), r"permute: \(0, 0\)"),
    (lambda: tg.ones(2, 3).masked_fill(np.ones(4, dtype=bool), 0.0),
     r"masked_fill: shapes \(2, 3\) and \(4,\)"),
    (lambda: tg.ones(2).masked_fill(np.ones(2), 0.0), "mask must be boolean"),
    (lambda: tg.cat([tg.ones(2, 3), tg.ones(2, 4)], axis=0), r"cat: shapes \[\(2, 3\), \(2, 4\)\]"),
    (lambda: tg.stack([tg.ones(2), tg.ones(3)]), r"stack: needs tensors of one shape"),
    (lambda: tg.where(np.ones(3, dtype=bool), tg.ones(2), 0.0), r"where: shapes \(3,\) and \(2,\)"),
    (lambda: tg.ones(2).gelu("fast"), "approximate must be 'none' or 'tanh'"),
    (lambda: tg.ones(2, 2).item(), r"one-element.*\(2, 2\)"),
])
def test_bad_input_names_the_problem(fn, message):
    with pytest.raises((ValueError, IndexError, TypeError), match=message):
        fn()


# ------------------------------------------------------------------- stability

def test_softmax_and_log_softmax_of_huge_logits_are_finite_and_exact():
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4 - 1.0, -1e4]])
    for name in ("softmax", "log_softmax"):
        x = f64(logits)
        y = getattr(x, name)(axis=-1)
        ref = getattr(special, name)(logits, axis=-1)
        assert np.isfinite(y.data).all()
        np.testing.assert_allclose(y.data, ref, rtol=1e-12, atol=0)
        y.backward(np.ones_like(logits))
        assert np.isfinite(x.grad).all()


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "exp", "silu", "gelu"])
def test_saturating_functions_at_plus_minus_1000_give_no_nan(name):
    x = f64([-1000.0, 1000.0])
    with np.errstate(over="ignore"):
        y = getattr(x, name)()
        y.backward(np.ones(2))
    assert not np.isnan(y.data).any() and not np.isnan(x.grad).any()
    for v in (-1000.0, 1000.0):
        if name in ("tanh", "sigmoid", "exp"):
            out = getattr(tg.Value(v), name)()
            out.backward()
            assert not np.isnan(out.data) and not np.isnan(out.grad)


def test_detect_anomaly_names_the_op_where_nan_is_born():
    x = f64([1.0, 0.0])
    with tg.detect_anomaly(), np.errstate(divide="ignore"):
        with pytest.raises(tg.NonFiniteError, match=r"Inf first appeared in the forward of op 'log'.*\(2,\)"):
            (x * 2.0).log()
