"""Linear, Embedding, Dropout, LayerNorm, BatchNorm1d, activations and FeedForward:
PyTorch parity in float64 (outputs and every gradient to 1e-7 relative), finite
differences, PyTorch's initialisation, and clear errors."""
import numpy as np
import pytest
from support import assert_close, backward_both, load_into_torch, pair, randn64, randomize, torch

import tinygrad_tf as tg
from tinygrad_tf import nn

# ------------------------------------------------------------ parity with torch

LAYERS = {   # name: (ours, PyTorch's, input shape)
    "linear": (lambda: nn.Linear(5, 3), lambda: torch.nn.Linear(5, 3), (2, 4, 5)),
    "linear_no_bias": (lambda: nn.Linear(5, 3, bias=False), lambda: torch.nn.Linear(5, 3, bias=False),
                       (4, 5)),
    "layernorm": (lambda: nn.LayerNorm(6), lambda: torch.nn.LayerNorm(6), (3, 4, 6)),
}


@pytest.mark.parametrize("name", LAYERS)
def test_layer_matches_torch_outputs_and_every_gradient(name):
    make, make_torch, shape = LAYERS[name]
    layer = randomize(make().astype(np.float64))
    tlayer = make_torch().double()
    load_into_torch(layer, tlayer)
    x, tx = pair(*shape)
    y, ty = layer(x), tlayer(tx)
    assert_close(y, ty, "output")
    backward_both(y, ty)
    assert_close(x.grad, tx.grad, "input grad")
    for pname, p in layer.named_parameters():
        assert_close(p.grad, getattr(tlayer, pname).grad, f"{pname} grad")


def test_linear_uses_pytorchs_layout():
    lin = nn.Linear(5, 3)
    assert lin.weight.shape == (3, 5) and lin.bias.shape == (3,)
    x = tg.randn(2, 5)
    assert np.allclose(lin(x).data, x.data @ lin.weight.data.T + lin.bias.data, rtol=1e-6)


def test_linear_init_is_pytorchs_kaiming_uniform():
    lin = nn.Linear(64, 1000)
    bound = 1 / np.sqrt(64)
    for p in (lin.weight, lin.bias):
        assert p.dtype == np.float32
        assert np.abs(p.data).max() <= bound
        assert np.abs(p.data).max() > 0.95 * bound          # uniform over the whole range
    assert abs(lin.weight.data.std() - bound / np.sqrt(3)) < 0.02 * bound


def test_layernorm_uses_biased_variance_with_eps_inside_the_root():
    x = tg.Tensor([[1.0, 2.0, 3.0, 6.0]], dtype=np.float64)
    y = nn.LayerNorm(4, eps=0.5).astype(np.float64)(x)
    d = x.data - 3.0
    assert np.allclose(y.data, d / np.sqrt((d ** 2).mean() + 0.5), rtol=1e-14)


@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5)])
def test_batchnorm_matches_torch_in_train_then_eval(shape):
    bn = randomize(nn.BatchNorm1d(3, momentum=0.2).astype(np.float64))
    tbn = torch.nn.BatchNorm1d(3, momentum=0.2, dtype=torch.float64)
    load_into_torch(bn, tbn)
    for step in range(2):                                 # batch statistics, running update
        x, tx = pair(*shape, seed=step)
        y, ty = bn(x), tbn(tx)
        assert_close(y, ty, f"train output, step {step}")
        backward_both(y, ty)
        assert_close(x.grad, tx.grad, "train input grad")
    assert_close(bn.weight.grad, tbn.weight.grad, "weight grad")
    assert_close(bn.bias.grad, tbn.bias.grad, "bias grad")
    assert_close(bn.running_mean, tbn.running_mean, "running_mean")
    assert_close(bn.running_var, tbn.running_var, "running_var (unbiased update)")
    assert bn.num_batches_tracked == tbn.num_batches_tracked.item() == 2

    bn.eval()
    tbn.eval()
    bn.zero_grad()
    tbn.zero_grad()
    x, tx = pair(*shape, seed=5)
    y, ty = bn(x), tbn(tx)
    assert_close(y, ty, "eval output")
    backward_both(y, ty)
    assert_close(x.grad, tx.grad, "eval input grad")
    assert_close(bn.weight.grad, tbn.weight.grad, "eval weight grad")
    assert_close(bn.bias.grad, tbn.bias.grad, "eval bias grad")
    assert bn.num_batches_tracked == 2                   # eval leaves the statistics alone


def test_batchnorm_in_eval_does_not_depend_on_the_batch():
    bn = nn.BatchNorm1d(3).astype(np.float64)
    bn(randn64(16, 3, seed=1) * 3.0 + 1.0)
    bn.eval()
    x = randn64(4, 3, seed=2)
    alone = bn(x[:1]).data
    assert np.allclose(bn(x).data[:1], alone, rtol=0, atol=1e-15)


# ------------------------------------------------------ finite differences

def test_gradcheck_linear_layernorm_batchnorm():
    lin = nn.Linear(4, 3).astype(np.float64)
    assert tg.gradcheck(lin, [randn64(2, 4)], lin.parameters())
    ln = randomize(nn.LayerNorm(5).astype(np.float64))
    assert tg.gradcheck(ln, [randn64(3, 5)], ln.parameters())
    bn = randomize(nn.BatchNorm1d(3).astype(np.float64))
    assert tg.gradcheck(bn, [randn64(4, 3, 2)], bn.parameters())
    bn.eval()
    assert tg.gradcheck(bn, [randn64(4, 3)], bn.parameters())


@pytest.mark.parametrize("activation", ["relu", "gelu", "swiglu"])
def test_gradcheck_feedforward(activation):
    ffn = nn.FeedForward(4, 6, activation).astype(np.float64)
    names = [n for n, _ in ffn.named_parameters()]
    expected = ["up", "gate", "down"] if activation == "swiglu" else ["up", "down"]
    assert names == [f"{m}.{k}" for m in expected for k in ("weight", "bias")]
    assert tg.gradcheck(ffn, [randn64(2, 3, 4)], ffn.parameters())


def test_feedforward_formulas():
    x = randn64(2, 4)
    ffn = nn.FeedForward(4, 6, "swiglu").astype(np.float64)
    up, gate, down = ffn.up(x).data, ffn.gate(x).data, ffn.down.weight.data
    silu = gate / (1 + np.exp(-gate))
    assert np.allclose(ffn(x).data, (silu * up) @ down.T + ffn.down.bias.data, rtol=1e-12)
    ffn = nn.FeedForward(4, 6, "gelu").astype(np.float64)
    tup = torch.tensor(ffn.up(x).data)
    expect = torch.nn.functional.gelu(tup).numpy() @ ffn.down.weight.data.T + ffn.down.bias.data
    assert np.allclose(ffn(x).data, expect, rtol=1e-12)


def test_embedding_picks_rows_and_adds_gradients_of_repeated_ids():
    emb = nn.Embedding(5, 3).astype(np.float64)
    ids = np.array([[1, 3, 1], [0, 1, 4]])
    out = emb(ids)
    assert out.shape == (2, 3, 3)
    assert np.array_equal(out.data, emb.weight.data[ids])
    out.backward(np.ones(out.shape))
    assert np.array_equal(emb.weight.grad[:, 0], [1, 3, 0, 1, 1])   # id 1 used three times
    assert tg.gradcheck(lambda: (emb(ids) ** 2).sum(), [], emb.parameters())
    emb.zero_grad()
    none = emb(np.zeros((2, 0), dtype=int))
    none.backward(np.zeros(none.shape))
    assert none.shape == (2, 0, 3) and np.all(emb.weight.grad == 0.0)


def test_activation_modules_and_dropout():
    x = randn64(3, 4)
    assert np.array_equal(nn.ReLU()(x).data, np.maximum(x.data, 0))
    assert np.allclose(nn.SiLU()(x).data, x.data / (1 + np.exp(-x.data)), rtol=1e-12)
    tx = torch.tensor(x.data)
    assert np.allclose(nn.GELU()(x).data, torch.nn.functional.gelu(tx).numpy(), rtol=1e-12)
    assert np.allclose(nn.GELU("tanh")(x).data,
                       torch.nn.functional.gelu(tx, approximate="tanh").numpy(), rtol=1e-12)
    off_kink = tg.Tensor(np.linspace(-2, 2, 12).reshape(3, 4) + 0.05, dtype=np.float64,
                         requires_grad=True)
    for act in (nn.ReLU(), nn.GELU(), nn.SiLU()):
        assert tg.gradcheck(act, [off_kink])


def test_dropout_scales_in_training_and_is_the_identity_in_eval():
    drop = nn.Dropout(0.25)
    x = tg.ones(200, 100, requires_grad=True)
    y = drop(x)
    kept = y.data != 0
    assert y.dtype == np.float32
    assert np.allclose(y.data[kept], 1 / 0.75)
    assert abs(kept.mean() - 0.75) < 0.02
    y.backward(np.ones(y.shape, dtype=np.float32))
    assert np.array_equal(x.grad, y.data)                    # the same mask and scale
    drop.eval()
    assert drop(x) is x
    nn.manual_seed(1)
    a = nn.Dropout(0.5)(x).data
    nn.manual_seed(1)
    assert np.array_equal(a, nn.Dropout(0.5)(x).data)       # manual_seed repeats it


# --------------------------------------------------------------- bad input

def test_errors_name_the_module_and_the_shapes():
    with pytest.raises(ValueError, match=r"Linear: input of shape \(2, 3\) should end in in_features = 4"):
        nn.Linear(4, 2)(tg.randn(2, 3))
    with pytest.raises(ValueError, match=r"LayerNorm: input of shape \(2, 3\) should end in dim = 4"):
        nn.LayerNorm(4)(tg.randn(2, 3))
    with pytest.raises(ValueError, match=r"BatchNorm1d: input of shape \(2, 4\) should be \(N, 3\)"):
        nn.BatchNorm1d(3)(tg.randn(2, 4))
    with pytest.raises(IndexError, match=r"Embedding: id 7 at position \(1, 0\) is out of range for 5"):
        nn.Embedding(5, 2)(np.array([[0, 1], [7, 2]]))
    with pytest.raises(IndexError, match="id -1"):
        nn.Embedding(5, 2)(np.array([-1]))
    with pytest.raises(TypeError, match="ids must be integers"):
        nn.Embedding(5, 2)(np.array([1.0]))
    with pytest.raises(ValueError, match="activation must be one of"):
        nn.FeedForward(4, 8, "tanh")
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\)"):
        nn.Dropout(1.0)


def test_errors_inside_a_model_name_the_submodule_path():
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(4, 2))
    with pytest.raises(ValueError, match="Linear '1': input of shape"):
        model(tg.randn(2, 4))
