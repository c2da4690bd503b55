"""Each name of the PyTorch surface (`import tinygrad_tf.torch as torch`) against PyTorch
itself: the same call on both, values equal and, where PyTorch has a gradient, the
gradients equal (float64), and the engine's gradient by finite differences. Random
draws are tested by their distributions, not by PyTorch's generator."""
import math

import numpy as np
import pytest
from support import torch

import tinygrad_tf as tg
import tinygrad_tf.torch as tt
from tinygrad_tf.torch import nn
from tinygrad_tf.torch.nn import functional as F

rng = np.random.default_rng(0)


def A(*shape, low=-2.0, high=2.0):
    return rng.uniform(low, high, shape)


def run(M, fn, arrays, grad):
    """fn(M, *tensors) with float arrays as float64 tensors requiring grad (when `grad`),
    other arrays as they are; the outputs (a tuple) and the inputs."""
    inputs = [M.tensor(a, requires_grad=grad and a.dtype.kind == "f") if isinstance(a, np.ndarray) else a
              for a in arrays]
    out = fn(M, *inputs)
    return (tuple(out) if isinstance(out, tuple) else (out,)), inputs


def numpy_of(t):
    return t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t.data)


# (name, fn(M, *inputs) with M = torch or tinygrad_tf.torch, input arrays, differentiable)
P = A(3, 4)
POS = A(3, 4, low=0.2, high=2.0)
DISTINCT = rng.permutation(24).reshape(4, 6) + rng.uniform(0, 0.5, (4, 6))
PROBS = np.abs(A(5, 4)) + 0.05
PROBS /= PROBS.sum(-1, keepdims=True)
IDS = np.array([0, 3, 1, 2, 3])
BIN = (A(3, 4) > 0).astype(np.float64)
POS_WEIGHT = A(4, low=0.5)
CASES = [
    ("matmul", lambda M, a, b: M.matmul(a, b), [A(2, 3, 4), A(4, 5)], True),
    ("mm", lambda M, a, b: M.mm(a, b), [A(3, 4), A(4, 2)], True),
    ("bmm", lambda M, a, b: M.bmm(a, b), [A(2, 3, 4), A(2, 4, 5)], True),
    ("exp", lambda M, x: M.exp(x), [P], True),
    ("log", lambda M, x: M.log(x), [POS], True),
    ("sin", lambda M, x: M.sin(x), [P], True),
    ("cos", lambda M, x: M.cos(x), [P], True),
    ("tanh", lambda M, x: M.tanh(x), [P], True),
    ("sigmoid", lambda M, x: M.sigmoid(x), [P], True),
    ("relu", lambda M, x: M.relu(x), [P], True),
    ("softmax", lambda M, x: M.softmax(x, dim=0), [P], True),
    ("sqrt", lambda M, x: M.sqrt(x), [POS], True),
    ("abs", lambda M, x: M.abs(x), [P], True),
    ("clamp", lambda M, x: M.clamp(x, min=-0.5, max=0.7), [P], True),
    ("sum", lambda M, x: M.sum(x, dim=1), [P], True),
    ("mean", lambda M, x: M.mean(x, 0, keepdim=True), [P], True),
    ("max", lambda M, x: M.max(x), [DISTINCT], True),
    ("max_dim", lambda M, x: M.max(x, 1), [DISTINCT], True),
    ("max_dim_keepdim", lambda M, x: M.max(x, dim=0, keepdim=True), [DISTINCT], True),
    ("max_pairwise", lambda M, a, b: M.max(a, b), [A(3, 4), A(3, 4)], True),
    ("min_dim", lambda M, x: M.min(x, -1), [DISTINCT], True),
    ("argmax", lambda M, x: M.argmax(x, dim=1), [DISTINCT], False),
    ("argmax_flat", lambda M, x: M.argmax(x), [DISTINCT], False),
    ("eye", lambda M: M.eye(3, 4), [], False),
    ("linspace", lambda M: M.linspace(-1, 2, 7), [], False),
    ("empty_shape", lambda M: M.tensor(M.empty(2, 3).shape), [], False),
    ("LongTensor", lambda M: M.LongTensor([3, 1, 2]), [], False),
    ("F.tanh", lambda M, x: M.nn.functional.tanh(x), [P], True),
    ("F.sigmoid", lambda M, x: M.nn.functional.sigmoid(x), [P], True),
    ("F.pad_last", lambda M, x: M.nn.functional.pad(x, (1, 2)), [P], True),
    ("F.pad_two_axes", lambda M, x: M.nn.functional.pad(x, (0, 1, 2, 0), value=-1.5), [P], True),
    ("F.pad_cut", lambda M, x: M.nn.functional.pad(x, (-1, 1, 1, -2)), [P], True),
    ("topk", lambda M, x: M.topk(x, 3), [DISTINCT], True),
    ("topk_smallest_dim0", lambda M, x: x.topk(2, dim=0, largest=False), [DISTINCT], True),
    ("sort", lambda M, x: M.sort(x, dim=1), [DISTINCT], True),
    ("sort_descending", lambda M, x: x.sort(dim=0, descending=True), [DISTINCT], True),
    ("argsort", lambda M, x: M.argsort(x, dim=-1), [DISTINCT], False),
    ("argsort_descending", lambda M, x: x.argsort(dim=0, descending=True), [DISTINCT], False),
    ("sort_ties_stable", lambda M, x: x.sort(dim=1, stable=True), [np.array([[2.0, 1, 2, 1, 3]])], False),
    ("argsort_ties_descending", lambda M, x: x.argsort(dim=1, descending=True, stable=True),
     [np.array([[2.0, 1, 2, 1, 3]])], False),
    ("index_select", lambda M, x: x.index_select(1, M.tensor([3, 0, 3])), [P], True),
    ("nonzero", lambda M, x: (x > 0.5).nonzero(), [P], False),
    ("nonzero_tuple", lambda M, x: (x > 0.5).nonzero(as_tuple=True), [P], False),
    ("repeat", lambda M, x: x.repeat(2, 3), [A(2, 3)], True),
    ("repeat_new_axes", lambda M, x: x.repeat(2, 1, 2), [A(3)], True),
    ("scatter", lambda M, x, s: x.scatter(1, M.tensor([[2, 0], [1, 3], [0, 1]]), s), [P, A(3, 2)], True),
    ("scatter_value", lambda M, x: x.scatter(0, M.tensor([[2, 0, 1, 1]]), 9.0), [P], True),
    ("scatter_", lambda M, x, s: (x * 1).scatter_(0, M.tensor([[2, 0, 1, 1]]), s), [P, A(1, 4)], True),
    ("index_fill_", lambda M, x: (x * 1).index_fill_(1, M.tensor([0, 2]), -1.0), [P], True),
    ("add_", lambda M, x, y: (x * 1).add_(y, alpha=0.5), [P, A(4)], True),
    ("mul_", lambda M, x, y: (x * 1).mul_(y), [P, A(3, 1)], True),
    ("floordiv", lambda M, x: x.detach() // 0.7, [P], False),
    ("floordiv_int", lambda M, x: x // 3, [np.array([7, -7, 5, 0])], False),
    ("rfloordiv", lambda M, x: 7 // x, [np.array([2, -3, 5])], False),
    ("type", lambda M, x: x.type(M.float32), [P], True),
    ("type_long", lambda M, x: x.detach().type(M.long), [P * 3], False),
    ("type_as", lambda M, x, y: x.type_as(y), [P, np.array([1], dtype=np.int32)], False),
    ("from_numpy", lambda M: M.from_numpy(np.arange(5.0)) * 2, [], False),
    ("CrossEntropyLoss", lambda M, x: M.nn.CrossEntropyLoss()(x, M.tensor(IDS)), [A(5, 4)], True),
    ("CrossEntropyLoss_options", lambda M, x: M.nn.CrossEntropyLoss(
        reduction="sum", label_smoothing=0.1, ignore_index=3)(x, M.tensor(IDS)), [A(5, 4)], True),
    ("NLLLoss", lambda M, x: M.nn.NLLLoss(reduction="none")(x.log_softmax(-1), M.tensor(IDS)),
     [A(5, 4)], True),
    ("MSELoss", lambda M, x, y: M.nn.MSELoss()(x, y), [P, A(3, 4)], True),
    ("BCELoss", lambda M, x: M.nn.BCELoss()(x, M.tensor(BIN)), [A(3, 4, low=0.05, high=0.95)], True),
    ("BCEWithLogitsLoss", lambda M, x: M.nn.BCEWithLogitsLoss(pos_weight=M.tensor(POS_WEIGHT))(
        x, M.tensor(BIN)), [P], True),
    ("KLDivLoss_batchmean", lambda M, x: M.nn.KLDivLoss(reduction="batchmean")(
        x.log_softmax(-1), M.tensor(PROBS)), [A(5, 4)], True),
    ("KLDivLoss_mean", lambda M, x: M.nn.KLDivLoss()(x.log_softmax(-1), M.tensor(PROBS)), [A(5, 4)], True),
    ("KLDivLoss_none_zero_target", lambda M, x: M.nn.KLDivLoss(reduction="none")(
        x, M.tensor(np.where(PROBS > 0.3, 0.0, PROBS))), [A(5, 4)], True),
    ("KLDivLoss_log_target", lambda M, x: M.nn.KLDivLoss(reduction="sum", log_target=True)(
        x.log_softmax(-1), M.tensor(np.log(PROBS))), [A(5, 4)], True),
]


@pytest.mark.parametrize("name, fn, arrays, grad", CASES, ids=[c[0] for c in CASES])
def test_the_name_gives_pytorchs_values_and_gradients(name, fn, arrays, grad):
    theirs, tin = run(torch, fn, arrays, grad)
    ours, oin = run(tt, fn, arrays, grad)
    assert len(ours) == len(theirs)
    for o, t in zip(ours, theirs):
        assert np.asarray(o.data).dtype == np.dtype(str(t.dtype).replace("torch.", "")), name
        np.testing.assert_allclose(numpy_of(o), numpy_of(t), rtol=1e-12, atol=1e-14, err_msg=name)
    if not grad:
        return
    seed = np.random.default_rng(1)
    weights = [seed.standard_normal(t.shape) for t in theirs if t.dtype.is_floating_point]
    sum(((t * torch.tensor(w)).sum() for t, w in zip(theirs, weights)), torch.tensor(0.0)).backward()
    sum(((o * w).sum() for o, w in zip(ours, weights)), tt.tensor(0.0, dtype=tt.float64)).backward()
    for o, t in zip(oin, tin):
        if isinstance(t, torch.Tensor) and t.requires_grad:
            np.testing.assert_allclose(o.grad, t.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)
    floats = [a for a in arrays if isinstance(a, np.ndarray) and a.dtype.kind == "f"]
    if any(o.dtype != np.float64 for o in ours):
        return                                     # (finite differences need float64 throughout)

    def f(*xs):
        outs, _ = run(tt, lambda M, *_: fn(M, *xs), floats, False)
        return sum((o * w).sum() for o, w in zip(outs, weights))
    assert tg.gradcheck(f, [tg.tensor(a, dtype=np.float64, requires_grad=True) for a in floats])


# --------------------------------------------------------------- layers and options
def torch_twin(ours, theirs):
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    return theirs


def test_embedding_padding_idx_starts_at_zero_and_gets_no_gradient():
    ours = nn.Embedding(6, 3, padding_idx=-2).to(tt.float64)
    assert ours.padding_idx == 4 and np.all(ours.weight.data[4] == 0)
    theirs = torch_twin(ours, torch.nn.Embedding(6, 3, padding_idx=4).double())
    with tg.no_grad():
        ours.weight.data[4] = 0.5                  # a non-zero padding row is read, never trained
    theirs.weight.data[4] = 0.5
    ids = np.array([[4, 1, 4], [0, 5, 2]])
    out, tout = ours(tt.tensor(ids)), theirs(torch.tensor(ids))
    np.testing.assert_array_equal(out.data, tout.detach().numpy())
    g = rng.standard_normal(out.shape)
    out.backward(g)
    tout.backward(torch.tensor(g))
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), rtol=1e-12)
    assert np.all(ours.weight.grad[4] == 0)
    assert "padding_idx=4" in repr(ours)
    with pytest.raises(ValueError, match="padding_idx 6 is out of range for 6"):
        nn.Embedding(6, 3, padding_idx=6)


@pytest.mark.parametrize("options", [{"bias": False}, {"elementwise_affine": False}, {}])
def test_layernorm_options_match_pytorch(options):
    ours = nn.LayerNorm(5, **options).to(tt.float64)
    theirs = torch.nn.LayerNorm(5, dtype=torch.float64, **options)
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    if ours.weight is not None:
        with tg.no_grad():
            ours.weight.data[:] = rng.standard_normal(5)
        torch_twin(ours, theirs)
    x = A(2, 3, 5)
    xo, xt = tt.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, tout = ours(xo), theirs(xt)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-12, atol=1e-14)
    g = rng.standard_normal(out.shape)
    out.backward(g)
    tout.backward(torch.tensor(g))
    np.testing.assert_allclose(xo.grad, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, dict(theirs.named_parameters())[name].grad.numpy(), rtol=1e-10)


def test_sgd_nesterov_and_zero_grad_set_to_none_match_pytorch():
    w0 = A(3, 4)
    ours, theirs = tt.tensor(w0, requires_grad=True), torch.tensor(w0, requires_grad=True)
    oopt = tt.optim.SGD([ours], lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)
    topt = torch.optim.SGD([theirs], lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)
    for step in range(5):
        oopt.zero_grad(set_to_none=step % 2 == 0)
        topt.zero_grad(set_to_none=step % 2 == 0)
        assert (ours.grad is None) == (theirs.grad is None)
        if ours.grad is not None:
            np.testing.assert_array_equal(ours.grad, 0)
        ((ours ** 3).sum() + ours.sum()).backward()
        ((theirs ** 3).sum() + theirs.sum()).backward()
        oopt.step()
        topt.step()
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-13)
    with pytest.raises(ValueError, match="nesterov=True needs a momentum > 0"):
        tt.optim.SGD([ours], lr=0.1, nesterov=True)


@pytest.mark.parametrize("make", [
    lambda M, opt: M.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 1 / (1 + epoch)),
    lambda M, opt: M.optim.lr_scheduler.LambdaLR(opt, [lambda e: 0.9 ** e, lambda e: min(1.0, (e + 1) / 4)]),
    lambda M, opt: M.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5),
    lambda M, opt: M.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=7, eta_min=1e-3),
], ids=["LambdaLR", "LambdaLR_per_group", "StepLR", "CosineAnnealingLR"])
def test_lr_schedulers_give_pytorchs_learning_rates(make):
    lrs = {}
    for M in (torch, tt):
        a, b = M.zeros(2, requires_grad=True), M.zeros(3, requires_grad=True)
        opt = M.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
        sched = make(M, opt)
        seen = [[g["lr"] for g in opt.param_groups]]
        for _ in range(16):                        # past T_max: the cosine comes back up, as PyTorch's
            opt.step()
            sched.step()
            seen.append(sched.get_last_lr())
        lrs[M] = seen
    np.testing.assert_allclose(lrs[tt], lrs[torch], rtol=1e-12)


def test_clip_grad_norm_returns_pytorchs_norm_as_a_tensor_and_clips_alike():
    arrays = [A(3, 4), A(5)]
    norms, grads = {}, {}
    for M in (torch, tt):
        ps = [M.tensor(a, requires_grad=True) for a in arrays]
        sum((p ** 2).sum() for p in ps).backward()
        norms[M] = M.nn.utils.clip_grad_norm_(ps, max_norm=1.0)
        grads[M] = [numpy_of(p.grad) for p in ps]
    assert isinstance(norms[tt], tg.Tensor) and norms[tt].dtype == np.float64
    np.testing.assert_allclose(norms[tt].item(), norms[torch].item(), rtol=1e-12)
    for o, t in zip(grads[tt], grads[torch]):
        np.testing.assert_allclose(o, t, rtol=1e-12)


def test_init_functions_fill_in_place_with_pytorchs_bounds_and_spreads():
    tt.manual_seed(0)
    w = nn.Linear(400, 300).weight
    assert nn.init.zeros_(w) is w and np.all(w.data == 0)
    assert np.all(nn.init.ones_(w).data == 1)
    nn.init.normal_(w, mean=0.5, std=0.02)
    assert abs(w.data.mean() - 0.5) < 1e-3 and abs(w.data.std() - 0.02) < 5e-4
    for name, gain_args, bound in [
            ("xavier_uniform_", {"gain": 2.0}, 2.0 * math.sqrt(6 / 700)),
            ("kaiming_uniform_", {"a": math.sqrt(5)}, math.sqrt(3) * math.sqrt(2 / 6) / math.sqrt(400)),
            ("kaiming_uniform_", {"mode": "fan_out", "nonlinearity": "relu"}, math.sqrt(6 / 300))]:
        getattr(nn.init, name)(w, **gain_args)
        t = torch.empty(300, 400)
        getattr(torch.nn.init, name)(t, **gain_args)
        assert np.abs(w.data).max() <= bound and np.abs(t.numpy()).max() <= bound
        assert abs(w.data.std() - bound / math.sqrt(3)) < 0.01 * bound      # U(-b, b): σ = b/√3
        assert abs(w.data.std() - t.std().item()) < 0.01 * bound
    assert w.grad is None and w._ctx is None       # filled outside the graph
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        nn.init.xavier_uniform_(tt.zeros(3))


# ------------------------------------------------------------ dtypes and the device
def test_dtype_names_are_pytorchs_and_the_device_is_the_cpu():
    for name in ("long", "float32", "float64", "float", "double", "bool", "uint8", "int32", "int64",
                 "float16", "half", "int", "int8", "int16", "short"):
        assert tt.tensor([1, 0]).to(getattr(tt, name)).dtype == np.dtype(
            str(torch.tensor([1, 0]).to(getattr(torch, name)).dtype).replace("torch.", "")), name
    assert tt.cuda.is_available() is False and tt.cuda.device_count() == 0
    x = tt.tensor([1.0, 2.0], device="cpu")
    assert x.device == "cpu" and x.device.type == "cpu" and repr(x.device) == repr(torch.device("cpu"))
    assert x.to("cpu") is x and x.to(tt.device("cpu")) is x and x.cpu() is x and not x.is_cuda
    assert x.to("cpu", tt.float64).dtype == np.float64 and x.to(dtype=tt.long).dtype == np.int64
    assert x.to(tt.tensor([1], dtype=tt.int32)).dtype == np.int32
    assert x.type() == torch.tensor([1.0]).type() == "torch.FloatTensor"
    assert x.type("torch.LongTensor").dtype == np.int64 and x.long().type() == "torch.LongTensor"
    for make in (lambda: tt.zeros(2, device="cpu"), lambda: tt.arange(3, device="cpu"),
                 lambda: tt.ones(2, 2, device=tt.device("cpu")), lambda: tt.randn(2, device="cpu"),
                 lambda: tt.tensor([1, 2], dtype=tt.long, device="cpu")):
        assert make().device == "cpu"
    model = nn.Linear(2, 2)
    assert model.to("cpu") is model
    for refuse in (lambda: x.to("cuda"), lambda: x.cuda(), lambda: tt.zeros(2, device="cuda"),
                   lambda: tt.device("cuda"), lambda: model.to("cuda:0"), lambda: x.to("mps")):
        with pytest.raises(RuntimeError, match="tinygrad_tf runs on NumPy, on the CPU"):
            refuse()


def test_floor_division_of_a_tensor_that_requires_grad_is_refused_as_pytorchs_backward_would():
    x = tt.tensor([1.5, -2.5], requires_grad=True)
    with pytest.raises(TypeError, match="floor division has no gradient"):
        x // 2
    with tg.no_grad():
        np.testing.assert_array_equal((x // 2).data, [0.0, -2.0])


def test_in_place_fills_follow_pytorchs_leaf_rule():
    w = nn.Parameter(np.zeros(3))
    for fill in (lambda: w.normal_(), lambda: w.uniform_(), lambda: w.add_(1.0), lambda: w.mul_(2.0),
                 lambda: w.scatter_(0, tt.tensor([1]), 1.0), lambda: w.index_fill_(0, tt.tensor([0]), 1.0)):
        with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
            fill()


# --------------------------------------------------------------------- random draws
def test_randint_takes_pytorchs_forms_and_draws_uniformly():
    tt.manual_seed(0)
    assert tt.randint(5, (3, 2)).shape == (3, 2) and tt.randint(2, 5, (4,)).shape == (4,)
    draws = tt.randint(3, 8, (60000,)).data
    assert draws.dtype == np.int64 and draws.min() == 3 and draws.max() == 7
    freq = np.bincount(draws - 3) / draws.size
    assert np.all(np.abs(freq - 0.2) < 0.01)


def test_multinomial_draws_by_the_weights_with_and_without_replacement():
    tt.manual_seed(0)
    weights = tt.tensor([[1.0, 2.0, 0.0, 7.0], [5.0, 5.0, 0.0, 0.0]])     # need not sum to 1
    draws = tt.multinomial(weights, 20000, replacement=True).data
    assert draws.shape == (2, 20000) and draws.dtype == np.int64
    np.testing.assert_allclose(np.bincount(draws[0], minlength=4) / 20000, [0.1, 0.2, 0, 0.7], atol=0.01)
    np.testing.assert_allclose(np.bincount(draws[1], minlength=4) / 20000, [0.5, 0.5, 0, 0], atol=0.015)
    firsts = np.array([tt.multinomial(weights[0], 3).tolist() for _ in range(3000)])
    assert all(len(set(row)) == 3 and 2 not in row for row in firsts.tolist())   # distinct, never weight 0
    assert abs((firsts[:, 0] == 3).mean() - 0.7) < 0.03                          # the first draw by weight
    assert tt.multinomial(tt.tensor([0.2, 0.8]), num_samples=1).shape == (1,)
    with pytest.raises(ValueError, match="can't draw 3 distinct indices from a row with 2 non-zero"):
        tt.multinomial(weights, 3)


def test_normal_uniform_and_dropout_draw_the_right_distributions():
    tt.manual_seed(0)
    x = tt.empty(100000, dtype=tt.float64)
    x.normal_(mean=1.5, std=0.5)
    assert abs(x.data.mean() - 1.5) < 0.01 and abs(x.data.std() - 0.5) < 0.01
    x.uniform_(-1, 3)
    assert -1 <= x.data.min() and x.data.max() < 3 and abs(x.data.mean() - 1) < 0.02
    assert abs(x.data.var() - 16 / 12) < 0.02
    y = F.dropout(tt.ones(100000), p=0.3)
    kept = y.data != 0
    assert abs(kept.mean() - 0.7) < 0.01 and np.allclose(y.data[kept], 1 / 0.7)
    assert np.all(nn.Dropout(0.3).eval()(tt.ones(10)).data == 1)


def test_the_grad_scaler_passes_through_as_pytorchs_does_without_a_gpu():
    w = tt.tensor([1.0, -2.0], requires_grad=True)
    opt = tt.optim.SGD([w], lr=0.5)
    for scaler in (tt.amp.GradScaler(), tt.cuda.amp.GradScaler(enabled=True)):
        loss = (w ** 2).sum()
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        scaler.step(opt)
        scaler.update()
        opt.zero_grad(set_to_none=True)
        assert not scaler.is_enabled() and scaler.get_scale() == 1.0
    np.testing.assert_allclose(w.data, [0.0, 0.0])              # w - 0.5·2w, twice


def test_a_name_that_is_not_here_says_what_to_write_instead():
    with pytest.raises(AttributeError, match=r"no attribute 'save': save a model with tg.save"):
        tt.save({}, "model.pt")
    with pytest.raises(AttributeError, match="'set_default_dtype': cast the model instead"):
        tt.set_default_dtype(tt.float64)
    with pytest.raises(AttributeError, match="'conv_transpose3d': see docs/engine.md"):
        tt.conv_transpose3d(tt.ones(1))
