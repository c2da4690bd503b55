"""The PyTorch-shaped parts of nn a pasted tutorial uses: LayerNorm over a tuple shape,
Tanh and Sigmoid, ModuleDict, Module.apply / requires_grad_ / to, load_state_dict's
(missing, unexpected) keys, and NumPy arrays or lists given to layers and functions."""
import numpy as np
import pytest
from support import (
    assert_close,
    assert_grads_match,
    backward_both,
    load_into_torch,
    pair,
    randn64,
    randomize,
    torch,
)

import tinygrad_tf as tg
from tinygrad_tf import nn
from tinygrad_tf.nn import functional as F


def test_layer_norm_over_a_tuple_shape_matches_torch():
    ln = randomize(nn.LayerNorm((3, 4), eps=1e-3).astype(np.float64))
    tln = torch.nn.LayerNorm((3, 4), eps=1e-3, dtype=torch.float64)
    load_into_torch(ln, tln)
    assert ln.weight.shape == (3, 4) and ln.normalized_shape == (3, 4)
    x, tx = pair(2, 3, 4)
    y, ty = ln(x), tln(tx)
    assert_close(y, ty, "output")
    backward_both(y, ty)
    assert_close(x.grad, tx.grad, "x grad")
    assert_grads_match(ln, tln)
    assert tg.gradcheck(lambda x: ln(x), [randn64(2, 3, 4)], params=ln.parameters())
    assert nn.LayerNorm([4]).weight.shape == (4,)
    with pytest.raises(ValueError, match=r"input of shape \(2, 4, 3\) should end in \(3, 4\)"):
        ln(tg.randn(2, 4, 3, dtype=np.float64))
    with pytest.raises(ValueError, match=r"LayerNorm: dim must be a positive int or a tuple"):
        nn.LayerNorm((3, 0))


@pytest.mark.parametrize("ours", [nn.Tanh, nn.Sigmoid, nn.GELU, nn.SiLU])
def test_activation_modules_match_torch(ours):
    x, tx = pair(3, 5)
    y, ty = ours()(x), getattr(torch.nn, ours.__name__)()(tx)
    assert_close(y, ty, "output")
    backward_both(y, ty)
    assert_close(x.grad, tx.grad, "grad")
    assert tg.gradcheck(ours(), [randn64(3, 5, seed=1)])
    assert repr(ours()) == f"{ours.__name__}()"


def test_module_dict_names_its_modules_by_key_and_behaves_as_a_dict():
    class Heads(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Linear(4, 4)
            self.heads = nn.ModuleDict({"sentiment": nn.Linear(4, 2), "topic": nn.Linear(4, 3)})

    model = Heads()
    names = [n for n, _ in model.named_parameters()]
    assert names == ["body.weight", "body.bias", "heads.sentiment.weight", "heads.sentiment.bias",
                     "heads.topic.weight", "heads.topic.bias"]
    heads = model.heads
    assert list(heads) == heads.keys() == ["sentiment", "topic"] and len(heads) == 2
    assert "topic" in heads and "body" not in heads
    assert heads["topic"].out_features == 3 and heads.items()[0][0] == "sentiment"
    heads["lang"] = nn.Linear(4, 5)
    assert heads["lang"].weight.name == "heads.lang.weight"
    sentiment = heads["sentiment"]
    del heads["sentiment"]
    assert heads.keys() == ["topic", "lang"]
    model.other = sentiment                                    # deleted: free to be named elsewhere
    assert sentiment.weight.name == "other.weight"
    del model.other
    with pytest.raises(KeyError, match="no module 'sentiment'"):
        del heads["sentiment"]
    assert [n for n, _ in model.named_parameters()][-2:] == ["heads.lang.weight", "heads.lang.bias"]
    heads.update([("extra", nn.ReLU())])
    assert heads.values()[-1].__class__ is nn.ReLU
    with pytest.raises(KeyError, match=r"no module 'nope'; keys: \['topic', 'lang', 'extra'\]"):
        heads["nope"]
    with pytest.raises(KeyError, match="'keys' is already an attribute"):
        heads["keys"] = nn.ReLU()
    with pytest.raises(KeyError, match="without dots"):
        heads["a.b"] = nn.ReLU()
    with pytest.raises(TypeError, match="'x' must be a Module, not int"):
        heads["x"] = 3
    out = model.heads["topic"](model.body(tg.randn(2, 4)))
    assert out.shape == (2, 3)


def test_apply_requires_grad_and_to():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    seen = []
    model.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "ReLU", "Linear", "Sequential"]                  # children first

    def init(m):
        if isinstance(m, nn.Linear):
            m.weight.data[...] = 0.5
            m.bias.data[...] = 0.0
    assert model.apply(init) is model
    assert np.all(model[2].weight.data == 0.5)

    assert model[0].requires_grad_(False) is model[0]                        # freeze the first layer
    model(tg.randn(5, 3)).sum().backward()
    assert model[0].weight.grad is None and model[0].weight.requires_grad is False
    assert model[2].weight.grad is not None
    model.requires_grad_()
    assert all(p.requires_grad for p in model.parameters())

    assert model.to(np.float64) is model and model[0].weight.dtype == np.float64
    assert model.to("float32")[0].weight.dtype == np.float32 and model.to("cpu") is model
    with pytest.raises(RuntimeError, match=r"to: device 'cuda' is not available: tinygrad_tf runs on "
                                           r"NumPy, on the CPU"):
        model.to("cuda")
    with pytest.raises(TypeError, match="parameters must stay floating point, not int64"):
        model.to(np.int64)


def test_load_state_dict_returns_missing_and_unexpected_keys_as_torch():
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))
    state = model.state_dict()
    result = model.load_state_dict(state)
    assert result == ([], []) and result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    partial = {k: v for k, v in state.items() if k != "1.bias"}
    partial["head.weight"] = np.zeros(2)
    missing, unexpected = model.load_state_dict(partial, strict=False)
    assert missing == ["1.bias"] and unexpected == ["head.weight"]
    tmodel = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4))
    theirs = tmodel.load_state_dict({k: torch.tensor(v) for k, v in partial.items()}, strict=False)
    assert (theirs.missing_keys, theirs.unexpected_keys) == (missing, unexpected)
    assert repr(model.load_state_dict(partial, strict=False)) == repr(theirs).lstrip("_")
    with pytest.raises(ValueError, match="missing keys: 1.bias; unexpected keys: head.weight"):
        model.load_state_dict(partial)


def test_load_state_dict_given_a_file_name_says_to_load_it_first(tmp_path):
    model = nn.Linear(2, 2)
    with pytest.raises(TypeError, match=r"not the file name 'file.npz': read the file first, "
                                        r"model.load_state_dict\(tg.load\('file.npz'\)\)"):
        model.load_state_dict("file.npz")
    with pytest.raises(TypeError, match="not the file name"):
        model.load_state_dict(tmp_path / "m.npz")
    with pytest.raises(TypeError, match="takes a dict of arrays .* not list"):
        model.load_state_dict([1, 2])


def test_numpy_arrays_and_lists_go_into_layers_and_functions_as_constants():
    x = np.random.default_rng(0).standard_normal((2, 3, 8))        # float64, as NumPy makes it
    layers = [nn.Linear(8, 4), nn.LayerNorm(8), nn.LayerNorm((3, 8)), nn.BatchNorm1d(3), nn.ReLU(),
              nn.GELU(), nn.SiLU(), nn.Tanh(), nn.Sigmoid(), nn.Dropout(0.1), nn.FeedForward(8, 16),
              nn.MultiHeadAttention(8, 2), nn.EncoderBlock(8, 2, 16), nn.Sequential(nn.Linear(8, 2))]
    for layer in layers:
        y = layer(x)
        assert isinstance(y, tg.Tensor) and y.dtype == np.float32, type(layer).__name__
    lin = nn.Linear(8, 4)
    np.testing.assert_allclose(lin(x).data, lin(tg.tensor(x)).data)
    np.testing.assert_allclose(lin(x.tolist()).data, lin(tg.tensor(x)).data)
    assert nn.DecoderBlock(8, 2, 16)(x, x).shape == (2, 3, 8)
    assert nn.Linear(8, 4).astype(np.float64)(x).dtype == np.float64     # the layer's dtype
    for f in (F.relu, F.gelu, F.silu, F.softmax, F.log_softmax, F.dropout, lambda a: F.layer_norm(a, 8),
              lambda a: F.linear(a, np.ones((2, 8))), lambda a: F.attention(a, a, a).out):
        assert isinstance(f(x), tg.Tensor)
    with pytest.raises(TypeError, match="expected a Tensor or a NumPy array of numbers, got str"):
        nn.Linear(8, 4)("hello")
