"""Every Tensor op: finite differences in float64 and PyTorch parity (values and
gradients to 1e-9 relative), over the shapes of the op table (`selfcheck.OPS`, the
one `python -m tinygrad_tf gradcheck` runs), broadcasting drawn by hypothesis."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import broadcastable_shapes
from support import randn64, torch

import tinygrad_tf as tg
from tinygrad_tf.core import fused, ops
from tinygrad_tf.core.engine import Op
from tinygrad_tf.core.tensor import apply
from tinygrad_tf.nn import functional as F
from tinygrad_tf.seeing import selfcheck
from tinygrad_tf.seeing.gradcheck import compare

pytestmark = pytest.mark.usefixtures("engine")     # every test on both engines (conftest)


def check_against_torch(tg_fn, torch_fn, inputs, rtol=1e-9):
    """Same outputs and same input gradients (for a random upstream gradient) as PyTorch."""
    xs = [tg.Tensor(t.data, dtype=np.float64, requires_grad=True) for t in inputs]
    ts = [torch.tensor(t.data, dtype=torch.float64, requires_grad=True) for t in inputs]
    out, ref = tg_fn(*xs), torch_fn(*ts)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=rtol, atol=1e-12)
    upstream = np.random.default_rng(1).standard_normal(out.shape)
    out.backward(upstream)
    ref.backward(torch.from_numpy(upstream))
    for x, t in zip(xs, ts):
        np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=rtol, atol=1e-12)


ROWS = [(case, shapes) for case in selfcheck.OPS for shapes in case.shapes]


TWINS = [(case, shapes) for case, shapes in ROWS if case.torch is not None]


@pytest.mark.parametrize("case, shapes", ROWS, ids=[f"{c.name} {s}" for c, s in ROWS])
def test_op(case, shapes):
    """Each row of the op table (selfcheck.OPS): the full Jacobian against finite differences."""
    assert all(r.ok for r in compare(case.fn, case.inputs(shapes), eps=case.eps, fast=False))


@pytest.mark.parametrize("case, shapes", TWINS, ids=[f"{c.name} {s}" for c, s in TWINS])
def test_op_matches_torch(case, shapes):
    """... and PyTorch parity where it has a twin."""
    check_against_torch(case.fn, case.torch, case.inputs(shapes))


@pytest.mark.fast_only                  # (under plain() the fused ops are composed, not run)
def test_every_op_has_a_row():
    rows = selfcheck.run(layers=False)
    assert selfcheck.all_ops() <= selfcheck.covered(rows)


@settings(max_examples=25, deadline=None)
@given(shapes=broadcastable_shapes(shape=(3, 4), min_dims=0, max_dims=3, min_side=1, max_side=4),
       op=st.sampled_from(["add", "sub", "mul", "div", "where"]))
def test_broadcast_gradients_reduce_to_input_shapes(shapes, op):
    """For any pair of broadcastable shapes, the gradient has each input's shape and matches
    both finite differences and PyTorch."""
    case = next(c for c in selfcheck.OPS if c.name == op)
    tg_fn, torch_fn = case.fn, case.torch
    if op == "where":
        tg_fn = lambda a, b: tg.where(np.ones((1,), dtype=bool), a, b)   # noqa: E731
        torch_fn = lambda a, b: torch.where(torch.ones(1, dtype=torch.bool), a, b)   # noqa: E731
    xs = case.inputs([(3, 4), shapes])
    check_against_torch(tg_fn, torch_fn, xs)
    assert tg.gradcheck(tg_fn, xs)
    assert xs[1].grad is None                 # gradcheck leaves .grad as it found it


def test_an_integer_tensor_indexes_as_pytorch():
    idx = tg.Tensor(np.array([[0, 1], [1, 1]]))           # an integer Tensor as index (embedding)
    check_against_torch(lambda a: a[idx], lambda a: a[torch.from_numpy(idx.data)],
                        selfcheck.OPS[0].inputs([(2, 3, 4)]))


def test_max_ties_share_the_gradient_equally():
    x = tg.Tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], dtype=np.float64, requires_grad=True)
    x.amax(axis=1).sum().backward()
    np.testing.assert_allclose(x.grad, [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    t = torch.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], dtype=torch.float64, requires_grad=True)
    t.amax(dim=1).sum().backward()
    np.testing.assert_allclose(x.grad, t.grad.numpy())


def test_integer_index_read_twice_gets_both_gradients():
    x = tg.Tensor(np.arange(4.0), dtype=np.float64, requires_grad=True)
    x[np.array([1, 1, 3])].sum().backward()
    np.testing.assert_array_equal(x.grad, [0, 2, 0, 1])


def test_float32_gelu_is_as_close_to_the_exact_one_as_pytorchs():
    """float32 GELU uses a fast erfc formula (|error| < 1.5e-7); it is as close to the
    exact float64 GELU, forward and backward, as PyTorch's own float32 GELU. (Long enough
    for several of fused.BLOCK's blocks and a short last one; with 0, -0, ±1000.)"""
    x = (np.random.default_rng(0).standard_normal(2 * fused.BLOCK + 1001) * 4).astype(np.float32)
    x[:4] = [0.0, -0.0, 1000.0, -1000.0]
    exact = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    exact_y = torch.nn.functional.gelu(exact)
    exact_y.sum().backward()
    t32 = torch.tensor(x, requires_grad=True)
    t32_y = torch.nn.functional.gelu(t32)
    t32_y.sum().backward()
    ours = tg.Tensor(x, requires_grad=True)
    y = ours.gelu()
    y.sum().backward()
    assert y.dtype == np.float32 and ours.grad.dtype == np.float32
    for mine, theirs, truth in [(y.data, t32_y.detach().numpy(), exact_y.detach().numpy()),
                                (ours.grad, t32.grad.numpy(), exact.grad.numpy())]:
        error = np.abs(mine - truth).max()
        assert error <= max(np.abs(theirs - truth).max(), 5e-7)
        assert error < 2e-6


def masked_softmax_pair(scores, allowed, scale):
    """Ours (the fused op) and PyTorch's masked softmax of scale·scores, float64 in
    PyTorch; a row with nothing allowed is all 0 in both."""
    x = tg.Tensor(scores, dtype=scores.dtype, requires_grad=True)
    y = apply(fused.MaskedSoftmax, x, mask=allowed, scale=scale)
    t = torch.tensor(scores, dtype=torch.float64, requires_grad=True)
    ty = torch.softmax((t * scale).masked_fill(~torch.tensor(allowed), -np.inf), -1).nan_to_num(0.0)
    g = np.random.default_rng(1).standard_normal(scores.shape).astype(scores.dtype)
    y.backward(g)
    ty.backward(torch.from_numpy(g.astype(np.float64)))
    return (y.data, x.grad), (ty.detach().numpy(), t.grad.numpy())


@pytest.mark.parametrize("dtype, far", [(np.float64, 1000.0), (np.float32, 100.0)])
def test_masked_softmax_in_blocks_with_rows_far_apart_matches_torch(monkeypatch, dtype, far):
    """The fused masked softmax shifts each block of rows by the block's largest score;
    a row far below it (its sum would underflow) or with nothing allowed sends its block
    through the plain formula. Both, over many small blocks, against PyTorch."""
    monkeypatch.setattr(fused, "BLOCK", 60 // fused.SOFTMAX_BLOCK)   # blocks of 2 (3, 5, 4) slices
    rng = np.random.default_rng(0)
    scores = rng.standard_normal((6, 3, 5, 4)).astype(dtype) * 3
    scores[2, 1, 3] -= far                                    # far below the rest of its block
    scores[4] += far                                          # a whole block far above the others
    allowed = np.broadcast_to(np.tri(5, 4, dtype=bool), scores.shape).copy()
    allowed[1, 2, 0] = False                                  # a query with nothing allowed
    scores[0, 0, 0, 3] = 1e4                                  # hidden, its exp overflows (∞·0)
    (y, grad), (ty, tgrad) = masked_softmax_pair(scores, allowed, 0.7)
    assert y.dtype == dtype and grad.dtype == dtype
    tol = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(y, ty, rtol=tol, atol=tol)
    np.testing.assert_allclose(grad, tgrad, rtol=tol, atol=tol)
    assert np.all(y[~allowed] == 0) and np.all(grad[~allowed] == 0) and np.all(y[1, 2, 0] == 0)
    q, k, v = (randn64(2, 3, 5, 4, seed=i) for i in range(3))
    assert tg.gradcheck(lambda q, k, v: F.attention(q, k, v, causal=True).out,
                        [q, k, v])


@pytest.mark.parametrize("vecdot", [True, False])      # NumPy 2's np.vecdot, or 1.26's way
def test_masked_softmax_in_float32_at_full_size_matches_torch(monkeypatch, vecdot):
    """Attention weights of a size the LM benchmark uses (many blocks of fused.BLOCK)."""
    if not vecdot:
        monkeypatch.setattr(fused, "_vecdot", None)
    scores = np.random.default_rng(0).standard_normal((4, 4, 64, 64)).astype(np.float32) * 4
    allowed = np.tri(64, dtype=bool)[None, None] & (np.arange(64) < 60)   # causal and padding
    (y, grad), (ty, tgrad) = masked_softmax_pair(scores, np.broadcast_to(allowed, scores.shape), 0.25)
    np.testing.assert_allclose(y, ty, rtol=0, atol=2e-7)
    np.testing.assert_allclose(grad, tgrad, rtol=0, atol=2e-6)


def test_every_op_states_its_vector_jacobian_product():
    """Each op's backward docstring is its formula (`Op.formula`, which the explorer shows):
    one line, ∂input = ... in terms of g, the incoming gradient."""
    classes = [cls for module in (ops, fused) for cls in vars(module).values()
               if isinstance(cls, type) and issubclass(cls, Op) and cls is not Op]
    assert len(classes) >= 30
    for cls in classes:
        assert cls.formula == cls.backward.__doc__.strip(), cls.name
        assert cls.formula.startswith("∂") and "=" in cls.formula and "\n" not in cls.formula, cls.name
    assert ops.Mul.formula == "∂a = g·b,  ∂b = g·a"
    assert ops.ResidualAdd().formula == ops.Add.formula      # on an op in a graph too


@pytest.mark.parametrize("rows", [96, 7])
@pytest.mark.parametrize("transposed", [False, True])
def test_linear_and_layer_norm_on_c_and_f_ordered_rows_match_torch(rows, transposed):
    """fused.Linear's bias and LayerNorm's weight and bias along rows of a C- or F-ordered
    input and gradient, against PyTorch."""
    x = randn64(rows, 64, seed=0).astype(np.float32)
    x = np.asfortranarray(x) if transposed else x
    w, b = randn64(48, 64, seed=1).astype(np.float32), randn64(48, seed=2).astype(np.float32)
    gamma, beta = randn64(48, seed=3).astype(np.float32), randn64(48, seed=4).astype(np.float32)
    g = randn64(48, rows, seed=5).astype(np.float32).T          # an F-ordered gradient
    ours = [tg.Tensor(a, requires_grad=True) for a in (x, w, b, gamma, beta)]
    y = F.layer_norm(F.linear(ours[0], ours[1], ours[2]), (48,), ours[3], ours[4])
    y.backward(g)
    theirs = [torch.tensor(np.ascontiguousarray(a), dtype=torch.float64, requires_grad=True)
              for a in (x, w, b, gamma, beta)]
    ty = torch.nn.functional.layer_norm(torch.nn.functional.linear(*theirs[:3]), (48,), *theirs[3:])
    ty.backward(torch.from_numpy(np.ascontiguousarray(g, dtype=np.float64)))
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-4, atol=1e-4)
    for mine, t in zip(ours, theirs):
        np.testing.assert_allclose(mine.grad, t.grad.numpy(), rtol=1e-3, atol=1e-3)
    direct = F.layer_norm(tg.Tensor(x), (64,))                 # x itself (F-ordered if transposed)
    x64 = np.asarray(x).astype(np.float64)
    plain = (x64 - x64.mean(-1, keepdims=True)) / np.sqrt(x64.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(direct.data, plain, rtol=1e-4, atol=1e-4)
