"""A pasted PyTorch line gives PyTorch's answer (values, gradients, dtype, shape) or a
clear error: comparisons, conversions, NumPy interplay, in-place updates, dtype
promotion, indexing, edge cases of reductions and powers, and the ops tutorials use."""
import operator

import matplotlib
import numpy as np
import pytest
from support import f64

import tinygrad_tf as tg
from tinygrad_tf import nn

torch = pytest.importorskip("torch")     # the whole module compares with PyTorch

matplotlib.use("Agg")


OPERATORS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
             ">": operator.gt, ">=": operator.ge, "+": operator.add, "-": operator.sub,
             "*": operator.mul}



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


def test_iteration_gives_rows_and_refuses_a_0d_tensor():
    rows = list(tg.tensor([[1.0, 2.0], [3.0, 4.0]]))
    assert len(rows) == 2 and rows[1].tolist() == [3.0, 4.0]
    with pytest.raises(TypeError, match="0-d"):
        list(tg.tensor(1.0))
    with pytest.raises(TypeError):
        list(torch.tensor(1.0))


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
    ("float32", "np float64"), ("np float64", "float32"), ("float32", "np 0d float64"),
    ("int64", "np float64"), ("float64", "np int64"), ("int32", "np int64"), ("float32", "np bool"),
]  # "np ...": a NumPy array as it is (torch: torch.from_numpy of it)


def _operand(spec, lib):
    if spec in SCALARS:
        return SCALARS[spec]
    array = spec.startswith("np ")
    spec = spec.removeprefix("np ")
    zero_d = spec.startswith("0d ")
    name = spec.removeprefix("0d ")
    value = np.array(1 if zero_d else [1, 0, 1]).astype(name)
    if lib == "torch":
        return torch.from_numpy(value)
    return value if array else tg.tensor(value, dtype=value.dtype)


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
    rng = nn.functional.rng
    tg.manual_seed(3)
    first = [tg.randn(3).data, tg.rand(2).data, tg.randint(0, 10, (4,)).data, nn.Linear(2, 2).weight.data]
    nn.manual_seed(3)
    second = [tg.randn(3).data, tg.rand(2).data, tg.randint(0, 10, (4,)).data, nn.Linear(2, 2).weight.data]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert nn.functional.rng is rng                  # reseeded, not rebound
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
    torch_name = {"max": "amax", "min": "amin"}.get(name, name)
    out = getattr(x, torch_name)(**kw, **({"correction": 0} if name == "var" else {}))
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
    assert tg.zeros(0, 3).amax(axis=1).shape == (0,) == tuple(torch.zeros(0, 3).amax(1).shape)
    assert tg.zeros(0, 3).sum(axis=0).shape == (3,)


def test_dim_and_keepdim_are_aliases():
    a = np.arange(6.0).reshape(2, 3)
    x, xt = f64(a), t64(a)
    for name in ("sum", "mean", "amax", "amin", "logsumexp", "std", "var"):
        out = getattr(x, name)(dim=1, keepdim=True)
        ref = getattr(xt, name)(dim=1, keepdim=True)
        np.testing.assert_allclose(out.data, ref.detach().numpy())
    np.testing.assert_allclose(x.softmax(dim=0).data, xt.softmax(dim=0).detach().numpy())
    np.testing.assert_allclose(nn.functional.log_softmax(x, dim=0).data,
                               torch.log_softmax(xt, dim=0).detach().numpy())
    np.testing.assert_allclose(nn.functional.softmax(x, dim=-1).data, torch.softmax(xt, -1).detach().numpy())
    assert tg.cat([x, x], dim=1).shape == (2, 6) and tg.stack([x, x], dim=1).shape == (2, 2, 3)
    assert x.var(dim=1, correction=1).shape == (2,)


# ------------------------------------------------- ops against PyTorch, both dtypes

def away_from_ties(a):
    return a + np.arange(a.size).reshape(a.shape) * 0.1


def positive(a):
    return np.abs(a) + 0.3


IDX = np.array([[0, 2, 2], [1, 0, 1]])
F = torch.nn.functional
# name: (tinygrad_tf fn, PyTorch fn, input shapes, input transform)
OPS = {
    "unsqueeze": (lambda a: a.unsqueeze(1), lambda a: a.unsqueeze(1), [(2, 3)], None),
    "unsqueeze(-1)": (lambda a: a.unsqueeze(-1), lambda a: a.unsqueeze(-1), [(2, 3)], None),
    "squeeze": (lambda a: a.squeeze(), lambda a: a.squeeze(), [(2, 1, 3, 1)], None),
    "squeeze(dim)": (lambda a: a.squeeze(1), lambda a: a.squeeze(1), [(2, 1, 3)], None),
    "squeeze(non-1 dim)": (lambda a: a.squeeze(0), lambda a: a.squeeze(0), [(2, 3)], None),
    "flatten": (lambda a: a.flatten(), lambda a: a.flatten(), [(2, 3, 4)], None),
    "flatten(1)": (lambda a: a.flatten(1), lambda a: a.flatten(1), [(2, 3, 4)], None),
    "unflatten": (lambda a: a.unflatten(1, (2, 2)), lambda a: a.unflatten(1, (2, 2)), [(3, 4)], None),
    "view": (lambda a: a.view(4, -1), lambda a: a.view(4, -1), [(2, 3, 4)], None),
    "expand": (lambda a: a.expand(2, 3, 4), lambda a: a.expand(2, 3, 4), [(3, 1)], None),
    "expand(-1)": (lambda a: a.expand(-1, 4), lambda a: a.expand(-1, 4), [(3, 1)], None),
    "clone": (lambda a: a.clone() * a, lambda a: a.clone() * a, [(2, 3)], None),
    "contiguous": (lambda a: a.T.contiguous(), lambda a: a.T.contiguous(), [(2, 3)], None),
    ".T": (lambda a: a.T, lambda a: a.permute(2, 1, 0), [(2, 3, 4)], None),
    "tril": (lambda a: a.tril(), lambda a: a.tril(), [(2, 4, 4)], None),
    "tril(-1)": (lambda a: tg.tril(a, -1), lambda a: torch.tril(a, -1), [(3, 5)], None),
    "triu(1)": (lambda a: a.triu(1), lambda a: a.triu(1), [(5, 3)], None),
    "triu": (lambda a: tg.triu(a), lambda a: torch.triu(a), [(4, 4)], None),
    "flip": (lambda a: a.flip(0), lambda a: a.flip(0), [(2, 3)], None),
    "flip(0, -1)": (lambda a: a.flip((0, -1)), lambda a: a.flip((0, -1)), [(2, 3, 4)], None),
    "min": (lambda a: a.min(), lambda a: a.amin(), [(3, 4)], away_from_ties),
    "amin(axis)": (lambda a: a.amin(axis=1), lambda a: a.amin(dim=1), [(3, 4)], away_from_ties),
    "amin(ties)": (lambda a: a.amin(axis=0), lambda a: a.amin(dim=0), [(3, 4)], np.round),
    "std": (lambda a: a.std(), lambda a: a.std(), [(3, 4)], None),
    "std(dim, keepdim)": (lambda a: a.std(dim=1, keepdim=True), lambda a: a.std(dim=1, keepdim=True),
                          [(3, 4)], None),
    "std(correction=0)": (lambda a: a.std(0, correction=0), lambda a: a.std(0, correction=0),
                          [(3, 4)], None),
    "logsumexp": (lambda a: a.logsumexp(axis=-1), lambda a: a.logsumexp(dim=-1), [(3, 4)], None),
    "logsumexp(all)": (lambda a: a.logsumexp(axis=(0, 1)), lambda a: a.logsumexp(dim=(0, 1)),
                       [(3, 4)], None),
    "logsumexp(big)": (lambda a: (a * 1e4).logsumexp(axis=0, keepdims=True),
                       lambda a: (a * 1e4).logsumexp(dim=0, keepdim=True), [(3, 4)], None),
    "clamp": (lambda a: a.clamp(-0.5, 0.5), lambda a: a.clamp(-0.5, 0.5), [(3, 4)], None),
    "clamp(min)": (lambda a: a.clamp(min=0.1), lambda a: a.clamp(min=0.1), [(3, 4)], None),
    "clip(max)": (lambda a: a.clip(max=0.1), lambda a: a.clip(max=0.1), [(3, 4)], None),
    "clamp(at the bound)": (lambda a: a.clamp(0.0, 1.0), lambda a: a.clamp(0.0, 1.0), [(3, 4)], np.round),
    "sign": (lambda a: a.sign() * a, lambda a: a.sign() * a, [(3, 4)], None),
    "rsqrt": (lambda a: a.rsqrt(), lambda a: a.rsqrt(), [(3, 4)], positive),
    "sin": (lambda a: a.sin(), lambda a: a.sin(), [(3, 4)], None),
    "cos": (lambda a: a.cos(), lambda a: a.cos(), [(3, 4)], None),
    "erf": (lambda a: a.erf(), lambda a: a.erf(), [(3, 4)], None),
    "leaky_relu": (lambda a: a.leaky_relu(), F.leaky_relu, [(3, 4)], None),
    "leaky_relu(0.2, at 0)": (lambda a: a.leaky_relu(0.2), lambda a: F.leaky_relu(a, 0.2), [(3, 4)],
                              np.round),
    "softplus": (lambda a: a.softplus(), F.softplus, [(3, 4)], lambda a: a * 10),
    "softplus(beta=2)": (lambda a: a.softplus(beta=2.0), lambda a: F.softplus(a, beta=2.0), [(3, 4)],
                         lambda a: a * 10),
    "cumsum": (lambda a: a.cumsum(0), lambda a: a.cumsum(0), [(3, 4)], None),
    "cumsum(dim=-1)": (lambda a: a.cumsum(dim=-1), lambda a: a.cumsum(dim=-1), [(2, 3, 4)], None),
    "prod": (lambda a: a.prod(), lambda a: a.prod(), [(2, 3)], None),
    "prod(axis)": (lambda a: a.prod(axis=1), lambda a: a.prod(dim=1), [(3, 4)], None),
    "prod(zeros)": (lambda a: a.prod(axis=1, keepdims=True), lambda a: a.prod(dim=1, keepdim=True),
                    [(3, 4)], lambda a: np.where(np.abs(a) < 0.6, 0.0, a)),
    "gather": (lambda a: a.gather(1, IDX), lambda a: a.gather(1, torch.from_numpy(IDX)), [(2, 3)], None),
    "gather(0, smaller)": (lambda a: a.gather(0, IDX[:, :2]),
                           lambda a: a.gather(0, torch.from_numpy(IDX[:, :2])), [(3, 4)], None),
    "add": (lambda a, b: a.add(b), lambda a, b: a.add(b), [(2, 3), (3,)], None),
    "sub": (lambda a, b: a.sub(b), lambda a, b: a.sub(b), [(2, 3), (3,)], None),
    "mul": (lambda a, b: a.mul(b), lambda a, b: a.mul(b), [(2, 3), (3,)], None),
    "div": (lambda a, b: a.div(b), lambda a, b: a.div(b), [(2, 3), (3,)], positive),
    "neg": (lambda a: a.neg(), lambda a: a.neg(), [(2, 3)], None),
    "pow": (lambda a, b: a.pow(b), lambda a, b: a.pow(b), [(2, 3), (3,)], positive),
    "pow(number)": (lambda a: a.pow(3), lambda a: a.pow(3), [(2, 3)], None),
    "rpow": (lambda a: 2.0 ** a, lambda a: 2.0 ** a, [(2, 3)], None),
    "maximum": (lambda a, b: tg.maximum(a, b), torch.maximum, [(2, 3), (3,)], None),
    "maximum(ties)": (lambda a, b: a.maximum(b), torch.maximum, [(2, 3), (3,)], np.round),
    "minimum": (lambda a, b: tg.minimum(a, b), torch.minimum, [(2, 3), (2, 1)], None),
    "minimum(ties)": (lambda a, b: a.minimum(b), torch.minimum, [(2, 3), (3,)], np.round),
    "outer": (tg.outer, torch.outer, [(3,), (4,)], None),
    "dot": (tg.dot, torch.dot, [(4,), (4,)], None),
    "einsum attention scores": (lambda q, k: tg.einsum("bhqd,bhkd->bhqk", q, k),
                                lambda q, k: torch.einsum("bhqd,bhkd->bhqk", q, k),
                                [(2, 2, 3, 4), (2, 2, 5, 4)], None),
    "einsum attention values": (lambda w, v: tg.einsum("bhqk,bhkd->bhqd", w, v),
                                lambda w, v: torch.einsum("bhqk,bhkd->bhqd", w, v),
                                [(2, 2, 3, 5), (2, 2, 5, 4)], None),
    "einsum matmul (implicit)": (lambda a, b: tg.einsum("ij,jk", a, b),
                                 lambda a, b: torch.einsum("ij,jk", a, b), [(2, 3), (3, 4)], None),
    "einsum batched (...)": (lambda a, b: tg.einsum("...ij,jk->...ik", a, b),
                             lambda a, b: torch.einsum("...ij,jk->...ik", a, b), [(2, 2, 3), (3, 4)], None),
    "einsum trace-free sum": (lambda a: tg.einsum("ij->j", a), lambda a: torch.einsum("ij->j", a),
                              [(3, 4)], None),
    "einsum outer": (lambda a, b: tg.einsum("i,j->ij", a, b), lambda a, b: torch.einsum("i,j->ij", a, b),
                     [(3,), (4,)], None),
    "einsum transpose": (lambda a: tg.einsum("bij->bji", a), lambda a: torch.einsum("bij->bji", a),
                         [(2, 3, 4)], None),
    "var(correction=1)": (lambda a: a.var(dim=0, correction=1), lambda a: a.var(dim=0, correction=1),
                          [(3, 4)], None),
    "getitem mixed": (lambda a: a[1, :, [0, 2, 2]], lambda a: a[1, :, [0, 2, 2]], [(2, 3, 4)], None),
    "masked_fill(tril == 0)": (lambda a: a.masked_fill(tg.tril(tg.ones(4, 4)) == 0, float("-inf"))
                               .softmax(-1),
                               lambda a: a.masked_fill(torch.tril(torch.ones(4, 4)) == 0, float("-inf"))
                               .softmax(-1), [(2, 4, 4)], None),
}


def _inputs(shapes, transform, seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) * (2 if transform is np.round else 1) for s in shapes]
    return [transform(a) if transform is not None else a for a in arrays]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", OPS)
def test_op_matches_pytorch_values_and_gradients(name, dtype):
    tg_fn, torch_fn, shapes, transform = OPS[name]
    arrays = _inputs(shapes, transform)
    xs = [tg.Tensor(a, dtype=dtype, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, dtype=DTYPES[dtype], requires_grad=True) for a in arrays]
    out, ref = tg_fn(*xs), torch_fn(*ts)
    assert out.dtype == dtype and out.shape == tuple(ref.shape)
    rtol, atol = (1e-10, 1e-12) if dtype == np.float64 else (2e-5, 1e-6)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=rtol, atol=atol)
    upstream = np.random.default_rng(1).standard_normal(out.shape)
    out.backward(upstream.astype(dtype))
    ref.backward(torch.tensor(upstream, dtype=DTYPES[dtype]))
    for x, t in zip(xs, ts):
        assert x.grad.dtype == dtype
        np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("name", [n for n in OPS if "ties" not in n and "at " not in n
                                  and "zeros" not in n and "masked" not in n])
def test_op_gradcheck_float64(name):
    tg_fn, _, shapes, transform = OPS[name]
    xs = [f64(a) for a in _inputs(shapes, transform, seed=2)]
    assert tg.gradcheck(tg_fn, xs)


# ------------------------------------------------------------- edge cases

def test_tensor_powers_at_the_edges_are_pytorchs():
    for base, exponent in [([-2.0, 0.0, np.inf, 0.0, -8.0], [2.0, 0.0, 0.0, 2.0, 3.0]),
                           ([0.0, 0.0, -2.0, 2.0], [0.5, -1.0, 0.5, 3.0])]:
        a, b, at, bt = f64(base), f64(exponent), t64(base), t64(exponent)
        out, ref = a ** b, at ** bt
        np.testing.assert_array_equal(out.data, ref.detach().numpy())
        out.sum().backward()
        ref.sum().backward()
        np.testing.assert_array_equal(a.grad, at.grad.numpy())
        np.testing.assert_array_equal(b.grad, bt.grad.numpy())
    x, xt = f64([0.0, 2.0]), t64([0.0, 2.0])
    (x ** 0).sum().backward()
    (xt ** 0).sum().backward()
    np.testing.assert_array_equal(x.grad, xt.grad.numpy())         # 0, not NaN
    assert (tg.arange(4) ** 2).dtype == np.int64


def test_var_with_correction_at_least_n_is_inf_or_nan_without_exception():
    for data, correction in [([1.0, 2.0], 2), ([1.0, 2.0, 4.0], 5), ([3.0], 1), ([2.0, 2.0], 2)]:
        x, xt = f64(data), t64(data)
        v, vt = x.var(correction=correction), xt.var(correction=correction)
        np.testing.assert_array_equal(v.data, vt.detach().numpy())
        v.backward()
        assert not np.isfinite(x.grad).any()
    assert np.isnan(f64(3.0).var(correction=1).data) and np.isnan(f64(3.0).std().data)


@pytest.mark.parametrize("shapes", [((0, 3), (3, 2)), ((2, 0), (0, 3)), ((2, 3), (3, 0)), ((0,), (0,)),
                                    ((2, 0, 3), (3, 4))])
def test_zero_size_matmul_has_a_backward(shapes):
    arrays = [np.zeros(s) for s in shapes]
    xs, ts = [f64(a) for a in arrays], [t64(a) for a in arrays]
    out, ref = xs[0] @ xs[1], ts[0] @ ts[1]
    assert out.shape == tuple(ref.shape)
    out.sum().backward()
    ref.sum().backward()
    for x, t in zip(xs, ts):
        np.testing.assert_array_equal(x.grad, t.grad.numpy())
    lin = nn.Linear(3, 2)
    lin(tg.zeros(0, 3)).sum().backward()
    np.testing.assert_array_equal(lin.weight.grad, np.zeros((2, 3)))


def test_logsumexp_of_infinities_and_einsum_errors():
    x = tg.tensor([[-np.inf, -np.inf], [np.inf, 0.0]])
    ref = torch.tensor([[-np.inf, -np.inf], [np.inf, 0.0]]).logsumexp(-1)
    np.testing.assert_array_equal(x.logsumexp(-1).data, ref.numpy())
    with pytest.raises(ValueError, match="operand"):
        tg.einsum("ij,jk->ik", tg.ones(2, 3))
    with pytest.raises(ValueError, match="one letter per axis"):
        tg.einsum("ii->i", tg.ones(2, 2))
    with pytest.raises(ValueError, match="gather"):
        tg.ones(2, 3).gather(1, np.array([0, 1]))
    with pytest.raises(IndexError, match="out of range"):
        tg.ones(2, 3).gather(1, np.array([[0, 3]]))
    with pytest.raises(ValueError, match="expand"):
        tg.ones(2, 3).expand(4, 3)
    with pytest.raises(ValueError, match="clamp"):
        tg.ones(2).clamp()


def test_torch_spellings_of_size_dim_and_casts():
    x, xt = tg.arange(6).reshape(2, 3), torch.arange(6).reshape(2, 3)
    assert x.size() == tuple(xt.size()) and x.size(-1) == xt.size(-1) and x.size == 6
    B, T = x.size()
    assert (B, T) == (2, 3) and x.dim() == xt.dim() and x.numel() == xt.numel()
    for name in ("float", "double", "long", "int", "bool"):
        assert str(getattr(x, name)().dtype) == torch_dtype_name(getattr(xt, name)())


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "tanh", "sigmoid", "sin", "mean", "softmax"])
def test_float_ops_of_integer_tensors_are_float32_as_pytorch(name):
    x, xt = tg.arange(1, 4), torch.arange(1, 4)           # (PyTorch refuses mean and softmax
    if name in ("mean", "softmax"):                       #  of integers; we give float32)
        xt = xt.float()
    out, ref = getattr(x, name)(), getattr(xt, name)(*([-1] if name == "softmax" else []))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, ref.numpy(), rtol=1e-6)


def test_item_assignment_follows_the_in_place_rules():
    w, wt = tg.zeros(2, 3, requires_grad=True), torch.zeros(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        w[0] = 1.0
    with pytest.raises(RuntimeError, match="leaf"):
        wt[0] = 1.0
    with tg.no_grad():
        w[0, 1] = 5.0
    with torch.no_grad():
        wt[0, 1] = 5.0
    y, yt = w * 2, wt * 2
    y[1] = 7.0
    yt[1] = 7.0
    y.sum().backward()
    yt.sum().backward()
    np.testing.assert_array_equal(y.data, yt.detach().numpy())
    np.testing.assert_array_equal(w.grad, wt.grad.numpy())
