"""gradcheck: passes on right gradients, fails on a wrong one and says where."""
import importlib
import inspect
import re

import numpy as np
import pytest
from support import randn64

import tinygrad_tf as tg
from tinygrad_tf.core import ops
from tinygrad_tf.core.tensor import apply

gc_module = importlib.import_module("tinygrad_tf.seeing.gradcheck")   # (tg.gradcheck: this module, callable)



class BrokenSquare(ops.Op):
    """a², whose backward is right everywhere except at index `wrong`, where it is doubled."""
    __slots__ = ("wrong",)
    name = "broken_square"

    def forward(self, a, wrong):
        self.saved, self.wrong = (a,), wrong
        return a * a

    def backward(self, g):
        grad = g * 2 * self.saved[0]
        grad[self.wrong] *= 2.0
        return (grad,)


def broken_square(x, wrong):
    return apply(BrokenSquare, x, wrong=wrong)


def test_passes_on_a_broadcasting_expression_with_the_full_jacobian():
    x, w, b = randn64(3, 4, name="x"), randn64(4, 5, seed=1), randn64(5, seed=2)
    assert tg.gradcheck(lambda x, w, b: ((x @ w + b).tanh() * x.sum(axis=1, keepdims=True)).exp(),
                        (x, w, b), fast=False)


def test_the_full_check_fails_on_a_wrong_gradient_naming_tensor_and_element():
    x = randn64(3, 4, name="x")
    with pytest.raises(tg.GradcheckError) as info:
        tg.gradcheck(lambda x: broken_square(x, (1, 2)), (x,), fast=False)
    msg = str(info.value)
    assert "x[1, 2]" in msg and "output element 6" in msg   # element (1, 2) feeds output 1·4 + 2
    num = float(re.search(r"numerical (\S+),", msg).group(1))
    ana = float(re.search(r"analytical (\S+),", msg).group(1))
    assert num == pytest.approx(2 * x.data[1, 2]) and ana == pytest.approx(4 * x.data[1, 2])
    assert tg.gradcheck(lambda x: broken_square(x, (1, 2)), (x,), fast=False,
                        raise_exception=False) is False


def test_fast_mode_is_chosen_for_large_inputs_and_passes(monkeypatch):
    def no_full_jacobian(*args, **kwargs):
        raise AssertionError("the full Jacobian was built")
    monkeypatch.setattr(gc_module, "jacobians", no_full_jacobian)
    x, w = randn64(64, 100), randn64(100, 80, seed=1, name="w")
    assert tg.gradcheck(lambda x, w: (x @ w).gelu().softmax(axis=-1), (x, w))
    with pytest.raises(AssertionError, match="full Jacobian"):
        tg.gradcheck(lambda x: x * 2.0, (randn64(3),))      # small: full is the default


def test_fast_mode_fails_on_a_wrong_gradient_and_locates_the_element():
    x = randn64(30, 40, name="x")
    for seed in range(5):                    # any random projection sees a wrong row
        with pytest.raises(tg.GradcheckError) as info:
            tg.gradcheck(lambda x: broken_square(x, 17), (x,), fast=True, seed=seed)
        msg = str(info.value)
        assert "fast" in msg and re.search(r"worst element is x\[17, \d+\]", msg)
        assert "numerical" in msg and "analytical" in msg and "error" in msg


def test_fast_mode_names_a_parameter_and_agrees_with_the_full_check():
    x = randn64(4, 3)
    w = randn64(3, 3, seed=1, name="layer.weight")
    fn = lambda x: (x @ broken_square(w, (2, 1))).tanh()
    for fast in (True, False):
        with pytest.raises(tg.GradcheckError, match=r"layer\.weight\[2, 1\]"):
            tg.gradcheck(fn, (x,), params=(w,), fast=fast)


def test_gradcheck_leaves_grads_and_data_as_it_found_them():
    x, w = randn64(20, 30), randn64(30, 10, seed=1)
    x_data, w_grad = x.data.copy(), np.ones((30, 10))
    w.grad = w_grad.copy()
    for fast in (True, False):
        assert tg.gradcheck(lambda x, w: x @ w, (x, w), fast=fast)
        assert x.grad is None and np.array_equal(w.grad, w_grad)
        assert np.array_equal(x.data, x_data)


def test_float32_is_refused_with_advice():
    x = tg.randn(3, seed=0, requires_grad=True)
    with pytest.raises(TypeError, match="float64"):
        tg.gradcheck(lambda x: x * x, (x,))


def test_numerical_grad_matches_the_chain_rule():
    x = randn64(5)
    num = tg.numerical_grad(lambda: (x * x).sum().sqrt(), x)
    np.testing.assert_allclose(num, x.data / np.sqrt(np.sum(x.data ** 2)), rtol=1e-7)


def test_the_documented_import_gives_the_module_and_tg_gradcheck_still_checks():
    import tinygrad_tf.seeing.gradcheck as G
    assert G is gc_module and G.FULL_LIMIT == 20_000 and callable(G.compare)
    x = tg.randn(3, dtype=np.float64, requires_grad=True)
    assert tg.gradcheck(lambda x: x.tanh(), (x,)) is True and G(lambda x: x * x, (x,)) is True
    assert [r.ok for r in G.compare(lambda x: x.exp(), (x,))] == [True]
    assert list(inspect.signature(tg.gradcheck).parameters)[:3] == ["fn", "inputs", "params"]


def test_a_float64_input_is_checked_whether_or_not_it_requires_grad():
    # the case blamed the backward ("numerical 2, analytical 0"): API.md checks every
    # float64 tensor, so one made without requires_grad=True is switched on for the check
    x = tg.tensor([1.0, 2.0], dtype=np.float64)
    assert tg.gradcheck(lambda x: x * 2, (x,)) is True
    assert x.requires_grad is False and x.grad is None           # left as it was found
    wrong = lambda x: tg.tensor(x.data * 2, dtype=np.float64)  # cuts the graph: now caught
    with pytest.raises(tg.GradcheckError, match=r"numerical 2, analytical 0.*fn cut the graph"):
        tg.gradcheck(wrong, (x,))
    w = tg.tensor([3.0, -1.0], dtype=np.float64, requires_grad=True)
    assert [r.name for r in gc_module.compare(lambda x, w: x * w, (x, w))] == ["input 0", "input 1"]
    c32 = tg.tensor([1.0, 2.0])                             # a float32 constant is no problem
    assert tg.gradcheck(lambda c, w: c * w, (c32, w))
    assert [r.name for r in gc_module.compare(lambda c, w: c * w, (c32, w))] == ["input 1"]
    with pytest.raises(ValueError, match=r"gradcheck: nothing to check \(input 0\): pass float64"):
        tg.gradcheck(lambda c: c * 2, (c32,))
    with pytest.raises(ValueError, match=r"nothing to check \(no float tensor at all\)"):
        tg.gradcheck(lambda n: tg.tensor([1.0]) * n, (3,))


def test_an_output_cut_from_the_graph_is_named_as_the_cause():
    x = tg.tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    with pytest.raises(tg.GradcheckError, match=r"numerical 2, analytical 0.*fn's output does not "
                                                r"require grad.*the backward is not at fault"):
        tg.gradcheck(lambda x: tg.tensor(x.data * 2, dtype=np.float64), (x,))
