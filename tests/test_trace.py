"""tg.trace: each chain-rule step of a backward, number by number."""
import math

import numpy as np
import pytest
from support import randn64

import tinygrad_tf as tg
from tinygrad_tf import nn
from tinygrad_tf.core.engine import module_scope, state
from tinygrad_tf.seeing.selfcheck import residual_stacks
from tinygrad_tf.seeing.trace import describe


def test_value_trace_is_the_hand_derived_chain_rule():
    a, b, c = tg.Value(2.0, "a"), tg.Value(-0.5, "b"), tg.Value(0.3, "c")
    ab = a * b
    n = ab + c
    L = n.tanh()
    with tg.trace() as tr:
        L.backward()
    dn = 1 - math.tanh(-0.7) ** 2                  # dL/dn = 1 - tanh²(n), n = 2·(-0.5) + 0.3
    assert [s.op for s in tr.steps] == ["tanh", "+", "*"]
    tanh, add, mul = tr.steps
    assert tanh.node is L and tanh.grad_in == 1.0 and tanh.inputs == (n,)
    assert tanh.grads_sent == pytest.approx((dn,))
    assert add.grad_in == pytest.approx(dn) and add.inputs == (ab, c)
    assert add.grads_sent == pytest.approx((dn, dn))                      # d(u+c)/du = d/dc = 1
    assert mul.grads_sent == pytest.approx((-0.5 * dn, 2.0 * dn))         # (b·dn, a·dn)
    assert a.grad == pytest.approx(-0.5 * dn)
    assert "tanh" in str(tr) and "a: " in str(tr)


def test_value_uses_sum_to_its_grad():
    a = tg.Value(3.0, "a")
    f = a * a + a                                  # three uses of a: df/da = 2a + 1
    with tg.trace() as tr:
        f.backward()
    uses = tr.uses(a)
    assert sorted((u.step.op, u.index, u.grad) for u in uses) == [("*", 0, 3.0), ("*", 1, 3.0), ("+", 1, 1.0)]
    assert uses.total == a.grad == 7.0


def test_tensor_trace_is_the_hand_derived_chain_rule_with_broadcasting():
    x, w = randn64(2, 3, name="x"), randn64(1, 3, seed=1, name="w")
    with module_scope("layer"):
        y = (x * w).tanh()
    L = y.sum()
    with tg.trace() as tr:
        L.backward()
    t = np.tanh(x.data * w.data)
    assert [(s.op, s.module) for s in tr.steps] == [("sum", None), ("tanh", "layer"), ("mul", "layer")]
    total, tanh, mul = tr.steps
    np.testing.assert_array_equal(total.grads_sent[0], np.ones((2, 3)))           # d Σ/dy = 1
    np.testing.assert_allclose(tanh.grads_sent[0], 1 - t * t)                      # 1 - tanh²
    np.testing.assert_allclose(mul.grad_in, 1 - t * t)
    np.testing.assert_allclose(mul.grads_sent[0], w.data * (1 - t * t))             # to x: w·g
    np.testing.assert_allclose(mul.grads_sent[1], (x.data * (1 - t * t)).sum(0, keepdims=True))
    assert mul.grads_sent[1].shape == (1, 3)                                        # summed back to w's shape
    np.testing.assert_allclose(w.grad, mul.grads_sent[1])
    assert "layer" in str(tr) and "‖" in str(tr)


def test_tensor_uses_sum_to_its_grad():
    x = randn64(4, 5, name="x")
    W = randn64(5, 5, seed=1, name="W")
    h = (x @ W).tanh() + x * x[:, :1] + x.sum(axis=0)
    with tg.trace() as tr:
        h.sum().backward()
    uses = tr.uses(x)
    assert sorted(u.step.op for u in uses) == ["getitem", "matmul", "mul", "sum"]
    assert all(u.grad.shape == x.shape for u in uses)
    np.testing.assert_allclose(uses.total, x.grad)
    assert "total" in str(uses)


def test_no_tracer_outside_the_block_even_after_an_error():
    assert state.tracer is None
    with pytest.raises(ZeroDivisionError):
        with tg.trace():
            raise ZeroDivisionError
    assert state.tracer is None
    x = randn64(3)
    with tg.trace() as outer:
        with tg.trace() as inner:
            (x * 2.0).sum().backward()
        assert state.tracer is outer
    assert len(inner) == 2 and len(outer) == 0


def deep_stack(depth, residual, d=16, seed=0):
    """x_{k+1} = x_k + tanh(x_k W_k) (or tanh(x_k W_k) without the skip); the input x_0 and loss."""
    rng = np.random.default_rng(seed)
    x0 = tg.Tensor(rng.standard_normal((8, d)), dtype=np.float64, requires_grad=True)
    x = x0
    for k in range(depth):
        with module_scope(f"layers.{k}"):
            W = tg.Tensor(rng.standard_normal((d, d)) * 0.5 / np.sqrt(d), dtype=np.float64)
            branch = (x @ W).tanh()
            x = tg.residual(x, branch) if residual else branch
    loss = (x * tg.Tensor(rng.standard_normal((8, d)))).sum()
    return x0, loss


def test_residual_report_measures_the_skip_share_and_plain_stacks_vanish():
    x0, loss = deep_stack(12, residual=True)
    with tg.trace() as tr:
        loss.backward()
    report = tr.residual_report()
    assert [r.module for r in report] == [f"layers.{k}" for k in range(12)]   # first block first
    for r in report:
        assert r.skip_norm > 0 and r.branch_norm > 0
        assert r.skip_share == pytest.approx(r.skip_norm / (r.skip_norm + r.branch_norm))
        assert 0.5 < r.skip_share < 1                # small branches: the skip carries most
    assert report[0].input_norm == pytest.approx(np.linalg.norm(x0.grad))
    for below, above in zip(report, report[1:]):   # the skip passes the gradient on unchanged
        assert below.skip_norm == pytest.approx(above.input_norm)
    assert "skip share" in str(report)

    plain_x0, plain_loss = deep_stack(12, residual=False)
    with tg.trace() as plain:
        plain_loss.backward()
    assert plain.residual_report() == []
    plain_norm, residual_norm = np.linalg.norm(plain_x0.grad), np.linalg.norm(x0.grad)
    assert plain_norm < 1e-3 * residual_norm         # vanished: 3+ orders of magnitude smaller


def test_post_ln_and_pre_ln_differ_at_depth():
    reports = residual_stacks(12)
    post, pre = reports["post-LN"], reports["pre-LN"]
    assert len(post) == len(pre) == 24 and pre[0].sublayer == "0.self_attn"
    for below, above in zip(pre, pre[1:]):      # pre-LN: an identity path all the way down
        assert below.skip_norm == pytest.approx(above.input_norm, rel=1e-6)
    changes = [abs(below.skip_norm / above.input_norm - 1) for below, above in zip(post, post[1:])]
    assert max(changes) > 0.05                  # post-LN: a LayerNorm rescales it at every block
    assert pre.gain > 1 and pre.gain > post.gain   # pre-LN's sublayers only add on the way down
    assert all(0.5 < r.skip_share < 1 for r in post + pre)


def test_reports_print_and_display_as_tables():
    block = nn.EncoderBlock(8, 2, 16)
    x = tg.randn(1, 3, 8, requires_grad=True)
    with tg.trace() as tr:
        block(x).sum().backward()
    report, uses = tr.residual_report(), tr.uses(x)
    assert repr(report) == str(report) and str(report).splitlines()[0].startswith("#  residual around")
    assert report._repr_html_().count("<tr>") == 1 + len(report) == 3
    assert repr(uses).endswith(f"total: {describe(uses.total)}")
    assert uses._repr_html_().count("<td>") == 5 * len(uses) and "total:" in uses._repr_html_()
    assert "<td>" in tr._repr_html_() and repr(tr) == str(tr)
