"""A pasted PyTorch line gives PyTorch's answer (values, gradients, dtype, shape) or a
clear error: comparisons, conversions, NumPy interplay, in-place updates, dtype
promotion, indexing, edge cases of reductions and powers, and the ops tutorials use."""
import operator

import matplotlib
import numpy as np
import pytest
import torch

import tinygrad_tf as tg
from tinygrad_tf import nn

matplotlib.use("Agg")


OPERATORS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
             ">": operator.gt, ">=": operator.ge, "+": operator.add, "-": operator.sub,
             "*": operator.mul}


def f64(a, requires_grad=True):
    return tg.Tensor(a, dtype=np.float64, requires_grad=requires_grad)


def t64(a, requires_grad=True):
    return torch.tensor(a, dtype=torch.float64, requires_grad=requires_grad)


DTYPES = {np.float32: torch.float32, np.float64: torch.float64, np.int64: torch.int64,
          np.int32: torch.int32, np.bool_: torch.bool}


def torch_dtype_name(t):
    return str(t.dtype).replace("torch.", "")


# ------------------------------------------------------------- comparisons

@pytest.mark.parametrize("op", ["==", "!=", "<", "<=", ">", ">="])
def test_comparisons_are_elementwise_boolean_tensors_like_pytorch(op):
    a, b = np.array([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]]), np.array([1.0, 1.0, 0.0])
    for other_tg, other_torch in [(tg.tensor(b), torch.tensor(b)), (1.0, 1.0), (b, torch.tensor(b))]:
        x, xt = tg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        out, ref = OPERATORS[op](x, other_tg), OPERATORS[op](xt, other_torch)
        assert isinstance(out, tg.Tensor) and out.dtype == np.bool_ and not out.requires_grad
        np.testing.assert_array_equal(out.data, ref.numpy())


def test_nanogpt_causal_mask_is_causal():
    T = 4
    tril = tg.tril(tg.ones(T, T))
    att = tg.zeros(T, T).masked_fill(tril[:T, :T] == 0, float("-inf")).softmax(axis=-1)
    ref = torch.zeros(T, T).masked_fill(torch.tril(torch.ones(T, T)) == 0, float("-inf")).softmax(-1)
    np.testing.assert_allclose(att.data, ref.numpy())
    assert att.data[0, 1] == 0.0


def test_hash_is_identity_so_tensors_stay_usable_as_keys():
    a, b = tg.tensor([1.0]), tg.tensor([1.0])
    assert len({a, b}) == 2 and {a: 1}[a] == 1
    assert (a == None) is False and (a != None) is True   # noqa: E711


# -------------------------------------------------------------- conversions

@pytest.mark.parametrize("value", [[0.0], 0.0, [2.5], -3.7, [[1.0]]])
def test_bool_float_int_format_of_one_element_tensors(value):
    t, ref = tg.tensor(value), torch.tensor(value)
    assert bool(t) == bool(ref) and float(t) == float(ref) and int(t) == int(ref)
    assert format(t, ".3f") == format(float(ref), ".3f")


def test_more_than_one_element_is_ambiguous():
    for data in ([1.0, 2.0], np.zeros((0,))):
        with pytest.raises(ValueError, match="ambiguous"):
            bool(tg.tensor(data))
        with pytest.raises(ValueError, match="ambiguous"):
            float(tg.tensor(data))
    assert (tg.tensor([1.0, 2.0]) > 0).all() and not (tg.tensor([1.0, 2.0]) > 1).all()


def test_integer_tensor_is_an_index():
    assert list(range(tg.tensor(3))) == [0, 1, 2]
    assert ["a", "b", "c"][tg.tensor(1)] == "b"
    with pytest.raises(TypeError, match="integer"):
        range(tg.tensor(3.0))


# ----------------------------------------------------------- NumPy interplay

def test_numpy_takes_tensors_as_their_data():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    a = np.asarray(w)
    assert type(a) is np.ndarray and a.dtype == np.float32
    np.testing.assert_array_equal(a, [1.0, 2.0])
    np.testing.assert_array_equal(np.array(w, dtype=np.float64), [1.0, 2.0])


@pytest.mark.parametrize("expr", ["np.ones(2) + w", "np.ones(2) - w", "np.full(2, 3.0) * w",
                                  "np.ones(2) / w", "np.eye(2) @ w", "np.exp(w)", "np.log(w)",
                                  "np.sqrt(w)", "np.tanh(w)", "-w", "np.maximum(w, 1.5)",
                                  "np.sum(w)", "np.mean(w)", "np.concatenate([w, w])",
                                  "np.stack([w, w])", "np.float32(2) * w", "2.0 ** w"])
def test_numpy_on_a_tensor_that_requires_grad_stays_on_the_graph(expr):
    w = f64([1.0, 2.0])
    wt = t64([1.0, 2.0])
    out = eval(expr)
    ref = eval(expr.replace("np.concatenate", "torch.cat").replace("np.stack", "torch.stack")
               .replace("w", "wt").replace("np.exp(", "torch.exp(").replace("np.log(", "torch.log(")
               .replace("np.sqrt(", "torch.sqrt(").replace("np.tanh(", "torch.tanh(")
               .replace("np.maximum(wt, 1.5)", "torch.clamp(wt, min=1.5)")
               .replace("np.sum(", "torch.sum(").replace("np.mean(", "torch.mean(")
               .replace("np.ones(2)", "torch.ones(2, dtype=torch.float64)")
               .replace("np.eye(2)", "torch.eye(2, dtype=torch.float64)")
               .replace("np.full(2, 3.0)", "torch.full((2,), 3.0, dtype=torch.float64)"))
    assert isinstance(out, tg.Tensor) and out.requires_grad
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-12)
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(w.grad, wt.grad.numpy(), rtol=1e-12)


def test_numpy_functions_the_engine_lacks_refuse_instead_of_dropping_the_gradient():
    w = f64([1.0, 2.0])
    for fn in (np.log1p, np.cumproduct if hasattr(np, "cumproduct") else np.cumsum, np.atleast_2d):
        with pytest.raises(TypeError, match="lose the gradient"):
            fn(w)
    np.testing.assert_allclose(np.log1p(w.detach()), np.log1p([1.0, 2.0]))
    assert np.isfinite(w).all() and np.argmax(w) == 1     # no float result: no gradient to lose
    with tg.no_grad():
        np.testing.assert_allclose(np.log1p(w), np.log1p([1.0, 2.0]))


def test_matplotlib_plots_a_tensor(tmp_path):
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    (line,) = ax.plot(tg.arange(4.0) ** 2)
    np.testing.assert_array_equal(line.get_ydata(), [0, 1, 4, 9])
    fig.savefig(tmp_path / "p.png")
    plt.close(fig)


# ---------------------------------------------------------------- in place

def test_sgd_by_hand_updates_the_leaf_in_place_under_no_grad():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    wt = torch.tensor([1.0, 2.0], requires_grad=True)
    data = w.data
    for _ in range(2):
        (w * w).sum().backward()
        (wt * wt).sum().backward()
        with tg.no_grad():
            w -= 0.1 * w.grad
            w.grad = None
        with torch.no_grad():
            wt -= 0.1 * wt.grad
            wt.grad = None
    assert w.is_leaf and w.requires_grad and w.data is data
    np.testing.assert_allclose(w.data, wt.detach().numpy())


@pytest.mark.parametrize("update", ["w += 1", "w -= 1", "w *= 2", "w /= 2", "w.zero_()",
                                    "w.fill_(3)", "w.copy_(np.ones(2))"])
def test_in_place_on_a_leaf_that_requires_grad_is_refused_as_in_pytorch(update):
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    wt = torch.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        exec(update, {"w": w, "np": np})
    with pytest.raises(RuntimeError, match="leaf"):
        exec(update.replace("np.ones(2)", "torch.ones(2)"), {"w": wt, "torch": torch})
    with tg.no_grad():
        exec(update, {"w": w, "np": np})
    with torch.no_grad():
        exec(update.replace("np.ones(2)", "torch.ones(2)"), {"w": wt, "torch": torch})
    np.testing.assert_array_equal(w.data, wt.detach().numpy())


def test_in_place_on_a_computed_tensor_is_recorded_like_pytorch():
    x, xt = f64([1.0, 2.0, 3.0]), t64([1.0, 2.0, 3.0])
    y, yt = x * 2, xt * 2
    y += x
    yt += xt
    y *= x
    yt *= xt
    y.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(y.data, yt.detach().numpy())
    np.testing.assert_allclose(x.grad, xt.grad.numpy())
    z, zt = x * 1, xt * 1
    z.zero_()
    zt.zero_()
    (z + x).sum().backward()
    (zt + xt).sum().backward()
    np.testing.assert_allclose(x.grad, xt.grad.numpy())
    c, ct = tg.zeros(3, dtype=np.float64), torch.zeros(3, dtype=torch.float64)
    c.copy_(x * 3)
    ct.copy_(xt * 3)
    (c * c).sum().backward()
    (ct * ct).sum().backward()
    np.testing.assert_allclose(x.grad, xt.grad.numpy())


def test_in_place_views_and_dtypes():
    a = tg.zeros(2, 3)
    row = a[0]
    row += 1.0                                  # a view: the change shows in `a`, as in torch
    np.testing.assert_array_equal(a.data, [[1, 1, 1], [0, 0, 0]])
    i = tg.tensor([1, 2])
    with pytest.raises(TypeError, match="int64"):
        i += 1.5                                # torch: "result type Float can't be cast to Long"
    with pytest.raises(ValueError, match=r"\(2,\)"):
        i += np.ones((3, 2), dtype=np.int64)


# ---------------------------------------------------------------- dtypes

SCALARS = {"py int": 2, "py float": 2.5, "py bool": True}


PROMOTION = [  # (left, right): a tensor's dtype, "0d ...": a 0-d tensor, "py ...": a Python number
    ("float32", "float64"), ("float64", "float32"), ("int64", "float32"), ("float32", "int64"),
    ("int32", "int64"), ("bool", "int64"), ("bool", "float32"), ("int64", "float64"),
    ("float32", "0d float64"), ("int64", "0d float64"), ("0d float64", "float32"),
    ("int64", "0d int32"), ("float32", "py int"), ("float32", "py float"), ("int64", "py float"),
    ("int64", "py int"), ("int32", "py float"), ("bool", "py int"), ("bool", "py float"),
    ("float64", "py bool"), ("int64", "py bool"), ("float64", "py float"), ("py float", "int32"),
    ("py int", "bool"), ("py float", "float64"),
]


def _operand(spec, lib):
    if spec in SCALARS:
        return SCALARS[spec]
    zero_d = spec.startswith("0d ")
    name = spec.removeprefix("0d ")
    value = np.array(1 if zero_d else [1, 0, 1]).astype(name)
    return tg.tensor(value, dtype=value.dtype) if lib == "tg" else torch.from_numpy(value)


@pytest.mark.parametrize("left,right", PROMOTION)
@pytest.mark.parametrize("op", ["+", "*", "-"])
def test_promotion_table_is_pytorchs(left, right, op):
    if op == "-" and ("bool" in left or "bool" in right):
        return                                  # PyTorch and NumPy both refuse bool subtraction
    a, b = _operand(left, "tg"), _operand(right, "tg")
    at, bt = _operand(left, "torch"), _operand(right, "torch")
    out, ref = OPERATORS[op](a, b), OPERATORS[op](at, bt)
    assert str(out.dtype) == torch_dtype_name(ref), (left, right)
    np.testing.assert_array_equal(np.asarray(out), ref.numpy())


def test_division_of_integers_is_float32_as_pytorch():
    assert (tg.arange(3) / 2).dtype == np.float32
    assert (2 / tg.arange(1, 3)).dtype == np.float32


def test_constructors_keep_dtype():
    assert tg.ones(2, dtype=np.float64).dtype == np.float64
    assert tg.zeros((2, 3), dtype=np.int64).dtype == np.int64
    assert tg.full((2,), 3).dtype == np.int64 and tg.full((2,), 3.0).dtype == np.float32
    assert tg.zeros_like(tg.ones(2, dtype=np.float64)).dtype == np.float64
    assert tg.ones_like(np.zeros(3, dtype=np.int32)).dtype == np.int32
    x64 = f64([1.0, 2.0])
    assert tg.cat([x64, x64]).dtype == np.float64 and tg.stack([x64, x64]).dtype == np.float64
    assert tg.cat([x64, tg.tensor([1.0])]).dtype == np.float64
    assert tg.cat([tg.arange(2), tg.tensor([1.0])]).dtype == np.float32


def test_mixed_float_matmul_is_refused_as_in_pytorch():
    with pytest.raises(TypeError, match="float32 @ float64"):
        tg.ones(2, 3) @ tg.ones(3, 2, dtype=np.float64)
    with pytest.raises(RuntimeError):
        torch.ones(2, 3) @ torch.ones(3, 2, dtype=torch.float64)


# ---------------------------------------------------------------- constructors

def test_arange_takes_start_stop_step():
    for args in [(5,), (2, 5), (1, 10, 3), (0, 1, 0.25), (5.0,), (-3, 3)]:
        out, ref = tg.arange(*args), torch.arange(*args)
        assert str(out.dtype) == torch_dtype_name(ref)
        np.testing.assert_array_equal(out.data, ref.numpy())
    assert tg.arange(3.0, requires_grad=True).requires_grad


def test_manual_seed_seeds_every_random_source_in_place():
    generator = nn.functional.generator
    tg.manual_seed(3)
    first = [tg.randn(3).data, tg.rand(2).data, tg.randint(0, 10, (4,)).data, nn.Linear(2, 2).weight.data]
    nn.manual_seed(3)
    second = [tg.randn(3).data, tg.rand(2).data, tg.randint(0, 10, (4,)).data, nn.Linear(2, 2).weight.data]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert nn.functional.generator is generator      # reseeded, not rebound
    r = tg.randint(5, size=(1000,))
    assert r.dtype == np.int64 and r.data.min() == 0 and r.data.max() == 4
    u = tg.rand(1000)
    assert u.dtype == np.float32 and 0 <= u.data.min() and u.data.max() < 1


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("data,match", [([[1, 2], [3]], "ragged"), ([1, None], "None"),
                                        ("abc", "abc"), ([1.0, "x"], "numbers")])
def test_bad_data_is_named(data, match):
    with pytest.raises((TypeError, ValueError), match=match):
        tg.Tensor(data)


def test_value_of_a_string_is_refused_clearly():
    with pytest.raises(TypeError, match="number.*str"):
        tg.Value("abc")


# ---------------------------------------------------------------- indexing

@pytest.mark.parametrize("index", [(1, slice(None), [0, 2]), (slice(None), 1, [0, 2]),
                                   ([0, 1], slice(None), [0, 2]), (Ellipsis, 1, [0, 3]),
                                   (1, [[0, 1], [2, 0]]), (1, slice(None), [[0, 1], [2, 3]]),
                                   (0, [1, 2], slice(1, 3)), (slice(None), None, 1, [0, 0])])
def test_indexing_that_mixes_ints_and_arrays_follows_pytorch(index):
    a = np.random.default_rng(0).standard_normal((2, 3, 4))
    x, xt = f64(a), t64(a)
    out = x[index]
    ref = xt[tuple(torch.tensor(i) if isinstance(i, list) else i for i in index)]
    assert out.shape == tuple(ref.shape)
    np.testing.assert_array_equal(out.data, ref.detach().numpy())
    g = np.random.default_rng(1).standard_normal(out.shape)
    out.backward(g)
    ref.backward(torch.from_numpy(g))
    np.testing.assert_array_equal(x.grad, xt.grad.numpy())


# ------------------------------------------------------------- reductions

@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "var"])
@pytest.mark.parametrize("axis", [0, -1, None])
def test_reductions_of_a_0d_tensor_take_axis_0_and_minus_1(name, axis):
    x, xt = f64(3.0), t64(3.0)
    kw = {} if axis is None else {"axis": axis}
    out = getattr(x, name)(**kw)
    torch_name = {"max": "amax", "min": "amin"}.get(name, name)
    ref = getattr(xt, torch_name)(**({} if axis is None else {"dim": axis}))
    if name == "var":
        ref = xt.var(correction=0, **({} if axis is None else {"dim": axis}))
    np.testing.assert_allclose(out.data, ref.detach().numpy())
    out.backward()
    ref.backward()
    np.testing.assert_allclose(x.grad, xt.grad.numpy())


def test_max_of_nothing_is_refused_like_pytorch_and_empty_axes_work():
    for shape, axis in [((0,), None), ((0, 3), 0), ((0, 3), None)]:
        with pytest.raises(ValueError, match="size 0"):
            tg.zeros(*shape).max(axis=axis)
        with pytest.raises(IndexError if axis is not None else RuntimeError):
            torch.zeros(*shape).amax(**({} if axis is None else {"dim": axis}))
    assert tg.zeros(0, 3).max(axis=1).shape == (0,) == tuple(torch.zeros(0, 3).amax(1).shape)
    assert tg.zeros(0, 3).sum(axis=0).shape == (3,)


def test_dim_and_keepdim_are_aliases():
    a = np.arange(6.0).reshape(2, 3)
    x, xt = f64(a), t64(a)
    for name in ("sum", "mean", "max", "min", "logsumexp", "std"):
        out = getattr(x, name)(dim=1, keepdim=True)
        ref = getattr(xt, {"max": "amax", "min": "amin"}.get(name, name))(dim=1, keepdim=True)
        np.testing.assert_allclose(out.data, ref.detach().numpy())
    np.testing.assert_allclose(x.softmax(dim=0).data, xt.softmax(dim=0).detach().numpy())
    assert tg.cat([x, x], dim=1).shape == (2, 6) and tg.stack([x, x], dim=1).shape == (2, 2, 3)
    assert x.var(dim=1, correction=1).shape == (2,)
