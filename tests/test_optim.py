"""Optimizers, gradient clipping and the warmup schedule against torch.optim."""
import numpy as np
import pytest
from support import torch

import tinygrad_tf as tg
from tinygrad_tf import optim

SHAPES = [(3, 4), (4,), (2, 3, 2)]


def make_params(dtype=np.float64, seed=0):
    """The same starting values as our Tensors and as torch leaves."""
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    ours = [tg.Tensor(a.copy(), requires_grad=True, dtype=dtype) for a in arrays]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    return ours, theirs


def run_both(make_ours, make_theirs, steps=6, dtype=np.float64, missing=None):
    """Feed both optimizers the same random gradients for `steps` steps and return
    the final parameters. `missing=(step, i)` leaves parameter i without a gradient
    at that step, which both must skip (no update, no state advance)."""
    ours, theirs = make_params(dtype)
    opt, topt = make_ours(ours), make_theirs(theirs)
    rng = np.random.default_rng(1)
    for step in range(steps):
        for i, (p, tp) in enumerate(zip(ours, theirs)):
            g = rng.standard_normal(p.shape).astype(dtype)
            if missing == (step, i):
                p.grad, tp.grad = None, None
            else:
                p.grad, tp.grad = g.copy(), torch.tensor(g.copy())
        opt.step()
        topt.step()
    return ours, theirs


CASES = {
    "sgd": (lambda p: optim.SGD(p, lr=0.1),
            lambda p: torch.optim.SGD(p, lr=0.1)),
    "sgd-momentum": (lambda p: optim.SGD(p, lr=0.05, momentum=0.9),
                     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
    "sgd-decay": (lambda p: optim.SGD(p, lr=0.05, weight_decay=0.1),
                  lambda p: torch.optim.SGD(p, lr=0.05, weight_decay=0.1)),
    "sgd-momentum-decay": (lambda p: optim.SGD(p, lr=0.05, momentum=0.8, weight_decay=0.01),
                           lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, weight_decay=0.01)),
    "adam": (lambda p: optim.Adam(p, lr=0.01),
             lambda p: torch.optim.Adam(p, lr=0.01)),
    "adam-decay-betas": (lambda p: optim.Adam(p, lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
                         lambda p: torch.optim.Adam(p, lr=0.02, betas=(0.8, 0.99), eps=1e-6,
                                                    weight_decay=0.1)),
    "adamw": (lambda p: optim.AdamW(p, lr=0.01),
              lambda p: torch.optim.AdamW(p, lr=0.01)),
    "adamw-decay": (lambda p: optim.AdamW(p, lr=0.03, betas=(0.85, 0.95), weight_decay=0.2),
                    lambda p: torch.optim.AdamW(p, lr=0.03, betas=(0.85, 0.95), weight_decay=0.2)),
}


@pytest.mark.parametrize("name", CASES)
def test_matches_torch_float64(name):
    ours, theirs = run_both(*CASES[name], steps=7, missing=(3, 1))
    for p, tp in zip(ours, theirs):
        assert p.dtype == np.float64
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["sgd-momentum-decay", "adam-decay-betas", "adamw-decay"])
def test_float32_stays_float32_and_matches_torch(name):
    ours, theirs = run_both(*CASES[name], steps=5, dtype=np.float32)
    for p, tp in zip(ours, theirs):
        assert p.dtype == np.float32 and p.grad.dtype == np.float32
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_numpy_scalar_hyperparameters_keep_float32():
    """Hyperparameters given as np.float64 scalars don't promote float32 state or parameters."""
    p = tg.Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    q = tg.Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    f64 = np.float64
    sgd = optim.SGD([p], lr=f64(0.1), momentum=f64(0.9), weight_decay=f64(0.01))
    adamw = optim.AdamW([q], lr=f64(0.1), betas=(f64(0.9), f64(0.99)), eps=f64(1e-8),
                        weight_decay=f64(0.1))
    for _ in range(2):
        p.grad, q.grad = np.ones(3, dtype=np.float32), np.ones(3, dtype=np.float32)
        sgd.step()
        adamw.step()
    arrays = [p.data, q.data, sgd.state[0]["momentum_buffer"], *adamw.state[0].values()]
    assert all(a.dtype == np.float32 for a in arrays if isinstance(a, np.ndarray))


def test_missing_gradient_is_skipped():
    """A parameter without a gradient is left exactly as it was (weight decay included)."""
    ours, _ = make_params()
    before = ours[0].numpy()
    opt = optim.AdamW(ours, lr=0.1, weight_decay=0.5)
    ours[1].grad = np.ones(ours[1].shape)
    opt.step()
    np.testing.assert_array_equal(ours[0].data, before)
    assert opt.state[0] == {} and opt.state[1]["step"] == 1


def test_updates_in_place_and_zero_grad():
    """Updates write into the same array (views such as detach() see them)."""
    ours, _ = make_params()
    view = ours[0].detach()
    opt = optim.SGD(ours, lr=0.5)
    ours[0].grad = np.full(ours[0].shape, 2.0)
    expected = ours[0].numpy() - 1.0
    opt.step()
    np.testing.assert_array_equal(view.data, expected)
    opt.zero_grad()
    assert all(p.grad is None for p in ours)


def test_trains_a_tiny_regression():
    """Adam on y = x @ w_true from scratch: the loss drops by orders of magnitude."""
    rng = np.random.default_rng(0)
    x = tg.Tensor(rng.standard_normal((32, 3)))
    y = x @ tg.Tensor([[1.0], [-2.0], [0.5]])
    w = tg.zeros((3, 1), requires_grad=True)
    opt = optim.Adam([w], lr=0.1)
    losses = []
    for _ in range(200):
        loss = ((x @ w - y) ** 2).mean()
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < 1e-4 * losses[0]


def test_bad_arguments():
    with pytest.raises(ValueError, match="empty"):
        optim.Adam([])
    with pytest.raises(ValueError, match="lr"):
        optim.SGD(make_params()[0], lr=-1.0)
    p = make_params()[0][0]
    with pytest.raises(ValueError, match="appears twice"):
        optim.AdamW([p, p])


@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(max_norm):
    ours, theirs = make_params()
    rng = np.random.default_rng(2)
    for p, tp in zip(ours[:2], theirs[:2]):           # the last parameter has no gradient
        g = rng.standard_normal(p.shape)
        p.grad, tp.grad = g.copy(), torch.tensor(g.copy())
    total = optim.clip_grad_norm_(ours, max_norm)
    torch_total = torch.nn.utils.clip_grad_norm_(theirs, max_norm)
    assert isinstance(total, float)
    assert total == pytest.approx(torch_total.item(), rel=1e-13)
    for p, tp in zip(ours[:2], theirs[:2]):
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-13, atol=1e-15)
    assert ours[2].grad is None
    clipped = np.sqrt(sum((p.grad ** 2).sum() for p in ours[:2]))
    assert clipped == pytest.approx(min(max_norm, total), rel=1e-5)


def test_noam_lr_formula_and_peak():
    d_model, warmup = 64, 50
    for step in [1, 7, 49, 50, 51, 400]:
        expected = d_model ** -0.5 * min(step ** -0.5, step * warmup ** -1.5)
        assert optim.noam_lr(step, d_model, warmup) == pytest.approx(expected, rel=1e-15)
    assert optim.noam_lr(10, d_model, warmup, factor=2.0) == pytest.approx(
        2 * 64 ** -0.5 * 10 * 50 ** -1.5, rel=1e-15)
    lrs = [optim.noam_lr(s, d_model, warmup) for s in range(1, 201)]
    assert int(np.argmax(lrs)) + 1 == warmup
    assert max(lrs) == pytest.approx((d_model * warmup) ** -0.5, rel=1e-12)
    with pytest.raises(ValueError):
        optim.noam_lr(0, d_model, warmup)


def test_noam_schedule_drives_the_optimizer():
    opt = optim.Adam(make_params()[0])
    sched = optim.NoamSchedule(opt, d_model=32, warmup=4, factor=2.0)
    seen = [opt.lr]
    for _ in range(5):
        sched.step()
        seen.append(opt.lr)
    expected = [optim.noam_lr(s, 32, 4, factor=2.0) for s in range(1, 7)]
    np.testing.assert_allclose(seen, expected, rtol=1e-15)
    assert sched.step_num == 6 and sched.lr == opt.lr


@pytest.mark.parametrize("name", ["sgd-momentum-decay", "adam-decay-betas", "adamw-decay"])
def test_resuming_from_a_checkpoint_is_exact(name, tmp_path):
    """Train 6 steps straight; or 3, save parameters and optimizer state with tg.save,
    rebuild everything from the files and train 3 more: bit-for-bit the same result."""
    make_opt = CASES[name][0]
    rng = np.random.default_rng(3)
    grads = [[rng.standard_normal(s) for s in SHAPES] for _ in range(6)]

    def train(params, opt, steps):
        for step_grads in steps:
            for p, g in zip(params, step_grads):
                p.grad = g.copy()
            opt.step()

    straight, _ = make_params()
    train(straight, make_opt(straight), grads)

    first, _ = make_params()
    opt = make_opt(first)
    train(first, opt, grads[:3])
    opt.lr *= 0.5                                        # a changed lr is part of the state
    tg.save({f"p{i}": p for i, p in enumerate(first)}, tmp_path / "model.npz")
    tg.save(opt.state_dict(), tmp_path / "optim.npz")

    resumed, _ = make_params(seed=9)
    for i, p in enumerate(resumed):
        p.data[...] = tg.load(tmp_path / "model.npz")[f"p{i}"]
    opt = make_opt(resumed)
    opt.load_state_dict(tg.load(tmp_path / "optim.npz"))
    assert opt.lr == make_opt(resumed).lr * 0.5
    opt.lr *= 2
    train(resumed, opt, grads[3:])
    for p, q in zip(straight, resumed):
        np.testing.assert_array_equal(p.data, q.data)


def test_load_state_dict_names_bad_entries():
    opt = optim.Adam(make_params()[0])
    good = opt.state_dict()
    with pytest.raises(ValueError, match="'7.exp_avg'"):
        opt.load_state_dict({**good, "7.exp_avg": np.zeros(3)})
    with pytest.raises(ValueError, match=r"'0.exp_avg' has shape \(3,\)"):
        opt.load_state_dict({**good, "0.exp_avg": np.zeros(3)})
    with pytest.raises(ValueError, match="missing entry 'param_groups.0.size'"):
        opt.load_state_dict({})
    with pytest.raises(ValueError, match="group 0 had 2 parameters in the checkpoint, this "
                                         "optimizer's has 3"):
        opt.load_state_dict({**good, "param_groups.0.size": np.array(2)})
    with pytest.raises(ValueError, match=r"betas\[1\] must be in \[0, 1\), got 1.5"):
        opt.load_state_dict({**good, "param_groups.0.betas": np.array([0.9, 1.5])})
    assert opt.state == [{}, {}, {}] and opt.betas == (0.9, 0.999)     # nothing changed


@pytest.mark.parametrize("make", [lambda ps: optim.Adam(ps, lr=0.1),
                                  lambda ps: optim.AdamW(ps, lr=0.1, weight_decay=0.3)])
def test_adam_on_the_whole_group_at_once_matches_one_parameter_at_a_time(monkeypatch, make):
    """Adam's flat update of a group (m, v as views of one array) against `_update` on each
    parameter: bit for bit, through a saved and loaded state (taken over into new flat
    arrays), then a step with a gradient missing (one at a time from then on)."""
    def run(flat):
        if not flat:
            monkeypatch.setattr(optim.Adam, "_flat_state", lambda *args: None)
        params = [tg.Tensor(np.full(shape, 0.5, dtype=np.float32), requires_grad=True)
                  for shape in ((3, 4), (4,), (2, 2, 2))]
        opt = make(params)
        rng = np.random.default_rng(0)
        for step in range(6):
            for i, p in enumerate(params):
                p.grad = None if (step, i) == (4, 1) else rng.standard_normal(p.shape).astype(np.float32)
            opt.step()
            if step == 3:                                  # the loaded state was taken over
                assert all((s["exp_avg"].base is not None) == flat for s in opt.state)
            if step == 1:
                state = opt.state_dict()
                opt = make(params)
                opt.load_state_dict(state)
        monkeypatch.undo()
        return [p.data for p in params], opt.state_dict()
    (flat, flat_state), (plain, plain_state) = run(True), run(False)
    for a, b in zip(flat, plain):
        np.testing.assert_array_equal(a, b)
    assert flat_state.keys() == plain_state.keys()
    for key in flat_state:
        np.testing.assert_array_equal(flat_state[key], plain_state[key])
