"""Every Tensor op: finite differences in float64 and PyTorch parity (values and
gradients to 1e-9 relative), over several shapes, broadcasting drawn by hypothesis."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import broadcastable_shapes

import tinygrad_tf as tg


def away_from_kink(x):
    """Move values off 0 (the kink of relu and abs) so finite differences are valid."""
    return np.where(np.abs(x) < 0.1, x + np.sign(x + 1e-12) * 0.2, x)


def positive(x):
    return np.abs(x) + 0.5


def distinct(x):
    """Values with no ties (max's gradient is only defined away from ties)."""
    return x + np.arange(x.size).reshape(x.shape) * 1e-1


# name: (tinygrad fn, torch fn, shapes of inputs, input transform)
UNARY = {
    "neg": (lambda a: -a, lambda a: -a, None),
    "exp": (lambda a: a.exp(), torch.exp, None),
    "log": (lambda a: a.log(), torch.log, positive),
    "sqrt": (lambda a: a.sqrt(), torch.sqrt, positive),
    "abs": (lambda a: a.abs(), torch.abs, away_from_kink),
    "tanh": (lambda a: a.tanh(), torch.tanh, None),
    "sigmoid": (lambda a: a.sigmoid(), torch.sigmoid, None),
    "relu": (lambda a: a.relu(), torch.relu, away_from_kink),
    "silu": (lambda a: a.silu(), torch.nn.functional.silu, None),
    "gelu": (lambda a: a.gelu(), torch.nn.functional.gelu, None),
    "gelu_tanh": (lambda a: a.gelu(approximate="tanh"),
                  lambda a: torch.nn.functional.gelu(a, approximate="tanh"), None),
    "pow3": (lambda a: a ** 3, lambda a: a ** 3, None),
    "pow_half": (lambda a: a ** 0.5, lambda a: a ** 0.5, positive),
    "pow_neg": (lambda a: a ** -2, lambda a: a ** -2, positive),
    "rpow": (lambda a: 2.0 ** a, lambda a: 2.0 ** a, None),
    "sum": (lambda a: a.sum(), lambda a: a.sum(), None),
    "sum_axis": (lambda a: a.sum(axis=-1), lambda a: a.sum(dim=-1), None),
    "sum_keep": (lambda a: a.sum(axis=0, keepdims=True), lambda a: a.sum(dim=0, keepdim=True), None),
    "mean": (lambda a: a.mean(), lambda a: a.mean(), None),
    "mean_axis": (lambda a: a.mean(axis=(0, -1)), lambda a: a.mean(dim=(0, -1)), None),
    "max": (lambda a: a.max(), lambda a: a.amax(), distinct),
    "max_axis": (lambda a: a.max(axis=-1, keepdims=True), lambda a: a.amax(dim=-1, keepdim=True),
                 distinct),
    "var": (lambda a: a.var(), lambda a: a.var(correction=0), None),
    "var_axis": (lambda a: a.var(axis=-1, correction=1), lambda a: a.var(dim=-1, correction=1), None),
    "softmax": (lambda a: a.softmax(axis=-1), lambda a: a.softmax(dim=-1), None),
    "softmax0": (lambda a: a.softmax(axis=0), lambda a: a.softmax(dim=0), None),
    "log_softmax": (lambda a: a.log_softmax(axis=-1), lambda a: a.log_softmax(dim=-1), None),
    "reshape": (lambda a: a.reshape(-1), lambda a: a.reshape(-1), None),
    "T": (lambda a: a.T, lambda a: a.permute(*reversed(range(a.ndim))), None),
    "transpose": (lambda a: a.transpose(0, -1), lambda a: a.transpose(0, -1), None),
    "getitem_slice": (lambda a: a[1:, ::2], lambda a: a[1:, ::2], None),
    "getitem_int_array": (lambda a: a[[0, 2, 0]], lambda a: a[[0, 2, 0]], None),
    "masked_fill": (lambda a: a.masked_fill(MASK[: a.shape[-1]], -3.0),
                    lambda a: a.masked_fill(torch.from_numpy(MASK[: a.shape[-1]]), -3.0), None),
    "astype": (lambda a: a.astype(np.float32).astype(np.float64),
               lambda a: a.float().double(), None),
}
MASK = np.array([True, False, False, True, False])
UNARY_SHAPES = [(3, 5), (4, 2, 5)]

BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: a + b, None),
    "sub": (lambda a, b: a - b, lambda a, b: a - b, None),
    "mul": (lambda a, b: a * b, lambda a, b: a * b, None),
    "div": (lambda a, b: a / b, lambda a, b: a / b, positive),
    "pow_tensor": (lambda a, b: a ** b, lambda a, b: a ** b, positive),
    "where": (lambda a, b: tg.where(COND, a, b), lambda a, b: torch.where(torch.from_numpy(COND), a, b),
              None),
}
COND = np.array([True, False, True, True, False])
BINARY_SHAPES = [((3, 5), (3, 5)), ((4, 3, 5), (5,)), ((3, 1), (1, 5)), ((2, 1, 5), (3, 1))]


def tensors(shapes, transform, seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) for s in shapes]
    if transform is not None:
        arrays = [transform(a) for a in arrays]
    return arrays


def check_against_torch(tg_fn, torch_fn, arrays, rtol=1e-9):
    """Same outputs and same input gradients (for a random upstream gradient) as PyTorch."""
    xs = [tg.Tensor(a, dtype=np.float64, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out, ref = tg_fn(*xs), torch_fn(*ts)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=rtol, atol=1e-12)
    upstream = np.random.default_rng(1).standard_normal(out.shape)
    out.backward(upstream)
    ref.backward(torch.from_numpy(upstream))
    for x, t in zip(xs, ts):
        np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("shape", UNARY_SHAPES)
@pytest.mark.parametrize("name", UNARY)
def test_unary_op(name, shape):
    tg_fn, torch_fn, transform = UNARY[name]
    arrays = tensors([shape], transform)
    check_against_torch(tg_fn, torch_fn, arrays)
    x = tg.Tensor(arrays[0], dtype=np.float64, requires_grad=True)
    eps = 1e-2 if name == "astype" else 1e-6   # a float32 round trip is flat below 1e-7
    assert tg.gradcheck(tg_fn, (x,), eps=eps)


@pytest.mark.parametrize("shapes", BINARY_SHAPES)
@pytest.mark.parametrize("name", BINARY)
def test_binary_op(name, shapes):
    tg_fn, torch_fn, transform = BINARY[name]
    arrays = tensors(shapes, transform)
    check_against_torch(tg_fn, torch_fn, arrays)
    xs = [tg.Tensor(a, dtype=np.float64, requires_grad=True) for a in arrays]
    assert tg.gradcheck(tg_fn, xs)


MATMUL_SHAPES = [((3, 4), (4, 5)), ((2, 3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)),
                 ((2, 1, 3, 4), (5, 4, 2)), ((3, 4), (2, 4, 5))]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES)
def test_matmul(shapes):
    arrays = tensors(shapes, None)
    check_against_torch(lambda a, b: a @ b, torch.matmul, arrays)
    xs = [tg.Tensor(a, dtype=np.float64, requires_grad=True) for a in arrays]
    assert tg.gradcheck(lambda a, b: a @ b, xs)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_cat_and_stack(axis):
    arrays = tensors([(2, 3), (2, 3), (2, 3)], None)
    check_against_torch(lambda *t: tg.stack(t, axis=axis), lambda *t: torch.stack(t, dim=axis), arrays)
    if axis != 0:
        arrays = tensors([(2, 3), (2, 1), (2, 4)], None)
    check_against_torch(lambda *t: tg.cat(t, axis=axis), lambda *t: torch.cat(t, dim=axis), arrays)
    xs = [tg.Tensor(a, dtype=np.float64, requires_grad=True) for a in arrays]
    assert tg.gradcheck(lambda *t: tg.cat(t, axis=axis) * 2.0, xs)


def test_permute_and_getitem_mixed():
    arrays = tensors([(2, 3, 4)], None)
    check_against_torch(lambda a: a.permute(2, 0, 1)[1:, :, [0, 2, 2]],
                        lambda a: a.permute(2, 0, 1)[1:, :, [0, 2, 2]], arrays)
    idx = tg.Tensor(np.array([[0, 1], [1, 1]]))           # an integer Tensor as index (embedding)
    check_against_torch(lambda a: a[idx], lambda a: a[torch.from_numpy(idx.data)], arrays)


@settings(max_examples=25, deadline=None)
@given(shapes=broadcastable_shapes(shape=(3, 4), min_dims=0, max_dims=3, min_side=1, max_side=4),
       op=st.sampled_from(["add", "sub", "mul", "div", "where"]))
def test_broadcast_gradients_reduce_to_input_shapes(shapes, op):
    """For any pair of broadcastable shapes, the gradient has each input's shape and matches
    both finite differences and PyTorch."""
    tg_fn, torch_fn, transform = BINARY[op]
    if op == "where":
        tg_fn = lambda a, b: tg.where(np.ones((1,), dtype=bool), a, b)   # noqa: E731
        torch_fn = lambda a, b: torch.where(torch.ones(1, dtype=torch.bool), a, b)   # noqa: E731
    arrays = tensors([(3, 4), shapes], transform or positive)
    check_against_torch(tg_fn, torch_fn, arrays)
    xs = [tg.Tensor(a, dtype=np.float64, requires_grad=True) for a in arrays]
    assert tg.gradcheck(tg_fn, xs)
    assert xs[1].grad is None                 # gradcheck leaves .grad as it found it


def test_max_ties_share_the_gradient_equally():
    x = tg.Tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], dtype=np.float64, requires_grad=True)
    x.max(axis=1).sum().backward()
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
    exact float64 GELU, forward and backward, as PyTorch's own float32 GELU."""
    x = (np.random.default_rng(0).standard_normal(20_000) * 4).astype(np.float32)
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
