"""Version counters: an in-place change to an array that a recorded op saved for its
backward makes that backward raise (as PyTorch's "modified by an inplace operation"),
instead of a silently wrong gradient. Each route that writes data in place, checked
against PyTorch, which raises in the same places."""
import numpy as np
import pytest
from support import torch

import tinygrad_tf as tg
from tinygrad_tf import nn, optim

# In-place changes of a leaf `w` (under no_grad): each as tinygrad_tf and torch spell it.
CHANGES = {
    "+=": lambda w: w.__iadd__(1.0),
    "-=": lambda w: w.__isub__(1.0),
    "*=": lambda w: w.__imul__(3.0),
    "/=": lambda w: w.__itruediv__(3.0),
    "zero_": lambda w: w.zero_(),
    "fill_": lambda w: w.fill_(100.0),
    "copy_": lambda w: w.copy_(w * 0 + 7),
    "masked_fill_": lambda w: w.masked_fill_(w > 1.5, 0.0),
    "t[i] = v": lambda w: w.__setitem__(0, 5.0),
    "relu_": lambda w: w.relu_(),
}


@pytest.mark.parametrize("lib", [tg, torch], ids=["tg", "torch"])
@pytest.mark.parametrize("change", list(CHANGES))
def test_an_in_place_change_after_the_forward_makes_backward_raise(lib, change):
    w = lib.tensor([1.0, 2.0], requires_grad=True)
    y = (w * w).sum()                      # mul saves w
    with lib.no_grad():
        CHANGES[change](w)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


@pytest.mark.parametrize("change", list(CHANGES))
def test_the_same_change_before_the_forward_is_fine(change):
    w = tg.tensor([1.0, -2.0], requires_grad=True)
    with tg.no_grad():
        CHANGES[change](w)
    expected = 2 * w.data
    (w * w).sum().backward()
    np.testing.assert_allclose(w.grad, expected)


def test_the_message_names_the_tensor_the_op_its_module_and_what_to_do():
    w = tg.tensor([1.0, 2.0], requires_grad=True, name="w")
    y = (w * w).sum()
    with tg.no_grad():
        w.fill_(100.0)
    with pytest.raises(RuntimeError) as e:
        y.backward()
    message = str(e.value)
    for part in ("tensor 'w'", "op 'mul'", "by fill_", "backward() before", "clone()"):
        assert part in message
    assert w.grad is None                  # nothing was accumulated


def test_an_unnamed_tensor_is_named_by_its_shape():
    x = tg.ones(2, 3)
    w = tg.ones(3, requires_grad=True)
    y = (x * w).sum()                      # mul saved x, a constant: ∂w reads it
    x += 1                                 # (no graph to x: a plain in-place change)
    with pytest.raises(RuntimeError, match=r"a tensor of shape \(2, 3\), saved by op 'mul'"):
        y.backward()


def test_an_optimizer_step_before_backward_raises_naming_the_parameter_and_module():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    opt = optim.Adam(model.parameters(), lr=0.1)
    model(tg.randn(5, 3)).sum().backward()
    opt.step()                             # a first step: the moments exist
    opt.zero_grad()
    loss = model(tg.randn(5, 3)).sum()
    model(tg.randn(5, 3)).sum().backward()     # gradients to step with
    opt.step()                             # after loss's forward, before its backward
    with pytest.raises(RuntimeError) as e:
        loss.backward()
    assert "tensor '2.weight' (shape (2, 4)), saved by op 'linear' in module '2'" in str(e.value)
    assert "Adam.step()" in str(e.value)


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
                                  lambda ps: optim.Adam(ps, lr=0.1),
                                  lambda ps: optim.AdamW([{"params": ps[:1]}, {"params": ps[1:]}])],
                         ids=["SGD", "Adam", "AdamW-groups"])
def test_every_optimizer_step_stamps_the_parameters_it_changes(make):
    layer = nn.Linear(2, 2)
    opt = make(layer.parameters())
    layer(tg.ones(1, 2)).sum().backward()
    loss = layer(tg.ones(1, 2)).sum()
    opt.step()
    with pytest.raises(RuntimeError, match="saved by op 'linear'"):
        loss.backward()


def test_the_usual_training_loop_never_raises():
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    opt = optim.SGD(model.parameters(), lr=0.1)
    x, t = tg.randn(8, 3), tg.randn(8, 1)
    losses = []
    for _ in range(3):
        loss = ((model(x) - t) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[2] < losses[0]


def test_load_state_dict_after_the_forward_raises():
    layer = nn.Linear(2, 2)
    saved = layer.state_dict()
    loss = layer(tg.ones(1, 2)).sum()
    layer.load_state_dict(saved)
    with pytest.raises(RuntimeError, match="tensor 'weight'.*by load_state_dict"):
        loss.backward()


def test_a_changed_output_that_its_op_saved_raises():
    x = tg.tensor([0.5, 1.0], requires_grad=True)
    y = x.exp()                            # exp saves its output
    with tg.no_grad():
        y *= 2
    with pytest.raises(RuntimeError, match="the output of op 'exp'.*saved by op 'exp'"):
        y.sum().backward()


def test_a_change_through_a_view_reaches_the_array_it_shares():
    x = tg.tensor([0.5, 1.0, 2.0], requires_grad=True)
    y = x.exp()
    v = y.reshape(3, 1)[1:]                # views of exp's output
    with tg.no_grad():
        v.fill_(0.0)
    with pytest.raises(RuntimeError, match="op 'exp'"):
        y.sum().backward()
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    h = w * 1.0
    z = (h.reshape(2, 1) * 3.0).sum()      # mul saved a view of h
    with tg.no_grad():
        h.zero_()                          # ... whose base changes
    with pytest.raises(RuntimeError, match="op 'mul'"):
        z.backward()


def test_a_change_that_no_backward_reads_is_fine_and_a_tracked_one_too():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    y = (w + 1.0).sum()                    # add saves nothing
    with tg.no_grad():
        w.fill_(5.0)
    y.backward()
    np.testing.assert_array_equal(w.grad, [1.0, 1.0])
    a = tg.tensor([1.0, 2.0], requires_grad=True)
    h = a * 2.0
    z = h * h
    h += 1.0                               # on the graph: recorded, not a silent change
    (z.sum() + h.sum()).backward()
    np.testing.assert_allclose(a.grad, 8 * a.data + 2)   # as torch: ∂(4a² + 2a + 1)


def test_a_retained_graph_checks_on_the_second_backward_too():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    y = (w * w).sum()
    y.backward(retain_graph=True)
    with tg.no_grad():
        w -= 0.5
    with pytest.raises(RuntimeError, match="tensor of shape"):
        y.backward()
