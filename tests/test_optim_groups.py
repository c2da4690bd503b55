"""Optimizer parameter groups as PyTorch's (per-group hyper-parameters, param_groups,
add_param_group, a state_dict round trip) and hyper-parameters refused by value."""
import numpy as np
import pytest
from support import torch
from test_optim import make_params

import tinygrad_tf as tg
from tinygrad_tf import optim


def grouped(params, second):
    """Two groups: the first parameter alone with the defaults, the rest with `second`."""
    return [{"params": [params[0]]}, {"params": params[1:], **second}]


CASES = [
    (optim.SGD, "SGD", {"lr": 0.1, "momentum": 0.9}, {"lr": 0.01, "weight_decay": 0.1}),
    (optim.Adam, "Adam", {"lr": 0.01}, {"lr": 0.05, "betas": (0.8, 0.9), "eps": 1e-6}),
    (optim.AdamW, "AdamW", {"lr": 0.01, "weight_decay": 0.05},
     {"weight_decay": 0.0, "lr": 0.02}),
]


@pytest.mark.parametrize("ours, theirs, defaults, second", CASES)
def test_parameter_groups_update_as_torch(ours, theirs, defaults, second):
    params, tparams = make_params()
    opt = ours(grouped(params, second), **defaults)
    topt = getattr(torch.optim, theirs)(grouped(tparams, second), **defaults)
    assert len(opt.param_groups) == 2 and opt.param_groups[1]["params"] == params[1:]
    for group, tgroup in zip(opt.param_groups, topt.param_groups):
        for key in opt.defaults:
            assert group[key] == pytest.approx(tgroup[key]), key
    rng = np.random.default_rng(1)
    for step in range(5):
        if step == 3:                                  # a schedule changing one group's lr
            opt.param_groups[0]["lr"] = topt.param_groups[0]["lr"] = 0.003
        for p, tp in zip(params, tparams):
            g = rng.standard_normal(p.shape)
            p.grad, tp.grad = g.copy(), torch.tensor(g)
        opt.step()
        topt.step()
    for p, tp in zip(params, tparams):
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-13, atol=1e-15)


def test_shared_hyper_parameters_read_and_set_across_groups():
    params, _ = make_params()
    opt = optim.AdamW(grouped(params, {"weight_decay": 0.0}), lr=0.1)
    assert opt.lr == 0.1 and opt.betas == (0.9, 0.999)
    with pytest.raises(AttributeError, match=r"AdamW.weight_decay: the parameter groups have "
                                             r"different values \[0.01, 0.0\]; read "
                                             r"optimizer.param_groups\[i\]\['weight_decay'\]"):
        _ = opt.weight_decay
    opt.lr = 0.5                                       # what NoamSchedule does: every group
    assert [g["lr"] for g in opt.param_groups] == [0.5, 0.5]
    with pytest.raises(AttributeError, match="no attribute 'momentum'"):
        _ = opt.momentum
    extra = tg.Tensor(np.ones(2), requires_grad=True, dtype=np.float64)
    opt.add_param_group({"params": extra, "lr": 0.2})
    assert opt.param_groups[2]["params"] == [extra] and opt.param_groups[2]["eps"] == 1e-8
    assert opt.params[-1] is extra and opt.state[-1] == {}


def test_a_grouped_optimizer_resumes_exactly_from_its_state_dict(tmp_path):
    rng = np.random.default_rng(3)
    grads = [[rng.standard_normal(p.shape) for p in make_params()[0]] for _ in range(6)]

    def train(params, opt, steps):
        for step_grads in steps:
            for p, g in zip(params, step_grads):
                p.grad = g.copy()
            opt.step()

    make = lambda params: optim.Adam(grouped(params, {"lr": 0.05, "betas": (0.8, 0.95)}), lr=0.01)
    straight, _ = make_params()
    train(straight, make(straight), grads)
    first, _ = make_params()
    opt = make(first)
    train(first, opt, grads[:3])
    tg.save(opt.state_dict(), tmp_path / "optim.npz")
    resumed = [tg.Tensor(p.data.copy(), requires_grad=True, dtype=np.float64) for p in first]
    opt = make(resumed)
    opt.param_groups[1]["lr"] = 123.0                  # overwritten by the checkpoint
    opt.load_state_dict(tg.load(tmp_path / "optim.npz"))
    assert opt.param_groups[1]["lr"] == 0.05 and opt.param_groups[1]["betas"] == (0.8, 0.95)
    assert opt.state[1]["step"] == 3
    train(resumed, opt, grads[3:])
    for p, q in zip(straight, resumed):
        np.testing.assert_array_equal(p.data, q.data)


@pytest.mark.parametrize("make, message", [
    (lambda p: optim.Adam(p, eps=0.0), r"Adam: eps must be > 0 .*got 0.0"),
    (lambda p: optim.AdamW(p, eps=-1e-8), r"AdamW: eps must be > 0 .*got -1e-08"),
    (lambda p: optim.Adam(p, betas=(1.0, 0.999)), r"Adam: betas\[0\] must be in \[0, 1\), got 1.0"),
    (lambda p: optim.AdamW(p, betas=(0.9, -0.1)), r"AdamW: betas\[1\] must be in \[0, 1\), got -0.1"),
    (lambda p: optim.Adam(p, betas=0.9), r"betas must be a pair \(beta1, beta2\), got 0.9"),
    (lambda p: optim.AdamW(p, weight_decay=-0.01), r"AdamW: weight_decay must be >= 0, got -0.01"),
    (lambda p: optim.Adam(p, lr=-1e-3), r"Adam: lr must be >= 0, got -0.001"),
    (lambda p: optim.SGD(p, lr=float("nan")), r"SGD: lr must be >= 0, got nan"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=-0.9), r"SGD: momentum must be >= 0, got -0.9"),
    (lambda p: optim.SGD(p, lr=0.1, weight_decay=-1), r"SGD: weight_decay must be >= 0, got -1"),
    (lambda p: optim.Adam([{"params": p, "eps": 0}]), r"Adam: eps must be > 0"),
])
def test_bad_hyper_parameters_are_refused_naming_the_value(make, message):
    with pytest.raises(ValueError, match=message):
        make(make_params()[0])


def test_bad_groups_are_refused():
    params, _ = make_params()
    with pytest.raises(ValueError, match=r"unknown hyper-parameter 'learning_rate' in a parameter "
                                         r"group; Adam takes lr, betas, eps, weight_decay"):
        optim.Adam([{"params": params, "learning_rate": 0.1}])
    with pytest.raises(ValueError, match="appears twice in the list \\(or in two groups\\)"):
        optim.SGD([{"params": params}, {"params": params[:1]}], lr=0.1)
    with pytest.raises(TypeError, match="parameters must be Tensors, got ndarray"):
        optim.SGD([np.zeros(3)], lr=0.1)
    with pytest.raises(TypeError, match="a parameter group is a dict with a 'params' list"):
        optim.SGD([{"params": params}, params[0]], lr=0.1)
    opt = optim.SGD(params, lr=0.1)
    with pytest.raises(ValueError, match="lr must be >= 0, got -1"):
        opt.lr = -1
    assert opt.lr == 0.1
