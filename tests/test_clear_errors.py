"""Mistakes a learner makes that used to end in an obscure error (math domain error, a
NumPy traceback) or none at all: each now gets an error naming the problem."""
import numpy as np
import pytest
from support import torch

import tinygrad_tf as tg
from tinygrad_tf import nn, optim


@pytest.mark.parametrize("make,error,message", [
    (lambda: nn.Linear(-1, 3), ValueError, "Linear: in_features must be >= 0, got -1"),
    (lambda: nn.Linear(3.5, 2), TypeError, r"Linear: in_features must be an int, got 3.5 \(float\)"),
    (lambda: nn.Linear(3, True), TypeError, "out_features must be an int"),
    (lambda: nn.Embedding(10, -4), ValueError, "Embedding: embedding_dim must be >= 0, got -4"),
    (lambda: nn.Embedding("10", 4), TypeError, "num_embeddings must be an int"),
])
def test_layer_sizes_are_checked_by_name(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_a_linear_layer_with_no_inputs_gives_its_bias_as_pytorch():
    layer, ref = nn.Linear(0, 3), torch.nn.Linear(0, 3)
    x = tg.zeros(2, 0, requires_grad=True)
    y = layer(x)
    assert y.shape == (2, 3) == tuple(ref(torch.zeros(2, 0)).shape)
    np.testing.assert_array_equal(y.data, np.broadcast_to(layer.bias.data, (2, 3)))
    y.sum().backward()
    assert layer.weight.grad.shape == (3, 0) and x.grad.shape == (2, 0)
    np.testing.assert_array_equal(layer.bias.grad, [2.0, 2.0, 2.0])


@pytest.mark.parametrize("make,error,message", [
    (lambda ps, m: optim.Adam(m), TypeError, r"pass the model's parameters, Adam\(model.parameters\(\)"),
    (lambda ps, m: optim.SGD(ps[0], lr=0.1), TypeError, r"not one tensor: write SGD\(\[w\]"),
    (lambda ps, m: optim.Adam(ps, lr="1e-3"), TypeError, "lr must be a number, got '1e-3' .*write lr=1e-3"),
    (lambda ps, m: optim.SGD(ps, lr=0.1, momentum=None), TypeError, "momentum must be a number"),
    (lambda ps, m: optim.clip_grad_norm_(ps, max_norm=-1), ValueError, "max_norm must be a number >= 0"),
])
def test_optimizer_mistakes_are_named(make, error, message):
    model = nn.Linear(2, 2)
    with pytest.raises(error, match=message):
        make(model.parameters(), model)


def test_clip_grad_norm_keeps_the_signs():
    w = tg.tensor([3.0, -4.0], requires_grad=True)
    w.grad = np.array([3.0, -4.0], dtype=np.float32)
    assert optim.clip_grad_norm_([w], 1.0) == pytest.approx(5.0)
    np.testing.assert_allclose(w.grad, [0.6, -0.8], rtol=1e-5)


def test_a_grad_of_the_wrong_shape_is_refused_where_it_is_assigned():
    w = tg.tensor([1.0, 2.0], requires_grad=True, name="w")
    with pytest.raises(ValueError, match=r"assigned grad has shape \(3,\), but tensor 'w' has shape \(2,\)"):
        w.grad = np.zeros(3)
    with pytest.raises(RuntimeError, match="same size"):                # PyTorch refuses too
        torch.ones(2, requires_grad=True).grad = torch.zeros(3)
    w.grad = tg.ones(2, dtype=np.float64)          # a Tensor, another dtype: kept as this one's
    assert type(w.grad) is np.ndarray and w.grad.dtype == np.float32
    (w * w).sum().backward()
    np.testing.assert_array_equal(w.grad, [3.0, 5.0])
    w.grad = None
    assert w.grad is None


def test_greedy_decode_refuses_a_max_len_below_one():
    model = nn.Transformer(10, 10, d_model=8, n_heads=2, n_layers=1, d_ff=16)
    src = np.array([[3, 4]])
    with pytest.raises(ValueError, match="max_len .* >= 1, got 0"):
        model.greedy_decode(src, max_len=0, bos_id=1, eos_id=2)
    np.testing.assert_array_equal(model.greedy_decode(src, max_len=1, bos_id=1, eos_id=2), [[1]])
    assert model.greedy_decode(src, max_len=3, bos_id=1, eos_id=2).shape[1] <= 3


def test_draw_graph_refuses_the_trace_of_another_graph():
    a = tg.tensor([1.0, 2.0], requires_grad=True)
    y, z = (a * a).sum(), (a * 3.0).sum()
    with tg.trace() as tr:
        y.backward()
    with pytest.raises(ValueError, match="the trace recorded the backward of another graph"):
        tg.viz.draw_graph(z, trace=tr)
    with pytest.raises(TypeError, match="trace= takes a tg.trace()"):
        tg.viz.draw_graph(y, trace=[1, 2])
    assert tg.viz.draw_graph(y, trace=tr).source
    h = a * a                                      # an intermediate of the traced graph: fine
    loss = (h * 2.0).sum()
    with tg.trace() as tr2:
        loss.backward()
    assert tg.viz.draw_graph(h, trace=tr2).source
