"""Lines pasted from PyTorch tutorials that used to give a silently different answer
(or a bare AttributeError) here: each now gives PyTorch's, checked against torch."""
import copy
from collections import OrderedDict

import numpy as np
import pytest
from support import torch

import tinygrad_tf as tg
from tinygrad_tf import nn
from tinygrad_tf.nn import functional as F

A = np.array([[1.0, 3.0, 3.0, -2.0], [4.0, 0.0, 2.0, 4.0], [0.5, 0.5, -1.0, 2.0]])


def both(a=A):
    return tg.tensor(a, dtype=np.float64, requires_grad=True), torch.tensor(a, requires_grad=True)


@pytest.mark.parametrize("call", [lambda x, op: getattr(x, op)(1), lambda x, op: getattr(x, op)(dim=1),
                                  lambda x, op: getattr(x, op)(axis=1),
                                  lambda x, op: getattr(x, op)(0, keepdim=True),
                                  lambda x, op: getattr(x, op)(dim=-1, keepdim=False)],
                         ids=["positional", "dim=", "axis=", "keepdim", "negative"])
@pytest.mark.parametrize("op", ["max", "min"])
def test_max_and_min_with_a_dimension_give_values_and_indices_as_pytorch(call, op):
    x, xt = both()
    out, ref = call(x, op), call(xt, op)
    assert type(out).__name__ == op and out._fields == ("values", "indices")
    values, indices = out                                  # unpacks for any number of rows
    np.testing.assert_array_equal(values.data, ref.values.detach().numpy())
    np.testing.assert_array_equal(indices.data, ref.indices.numpy())
    assert indices.dtype == np.int64
    (values * tg.tensor(np.arange(values.size, dtype=np.float64).reshape(values.shape))).sum().backward()
    (ref.values * torch.arange(ref.values.numel(), dtype=torch.float64).reshape(ref.values.shape)
     ).sum().backward()
    np.testing.assert_array_equal(x.grad, xt.grad.numpy())  # to the index alone, ties too


def test_two_rows_unpack_into_values_and_indices_not_rows():
    x = tg.tensor([[1.0, 5.0], [7.0, 2.0]])
    values, idx = x.max(dim=1)
    np.testing.assert_array_equal(values.data, [5.0, 7.0])
    np.testing.assert_array_equal(idx.data, [1, 0])


def test_max_without_a_dimension_is_a_tensor_and_amax_amin_are_the_values():
    x, xt = both()
    assert isinstance(x.max(), tg.Tensor) and x.max().item() == xt.max().item()
    assert x.min().item() == xt.min().item()
    for op in ("amax", "amin"):
        out, ref = getattr(x, op)(1), getattr(xt, op)(1)
        np.testing.assert_array_equal(out.data, ref.detach().numpy())
        out.sum().backward()
        ref.sum().backward()
        np.testing.assert_allclose(x.grad, xt.grad.numpy())   # ties share, as amax's
        x.grad, xt.grad = None, None
    v, i = tg.tensor(5.0).max(0)
    vt, it = torch.tensor(5.0).max(0)
    assert v.item() == vt.item() and i.item() == it.item() == 0
    with pytest.raises(TypeError, match="amax"):
        x.max(dim=(0, 1))


def test_var_defaults_to_pytorchs_correction_and_std_is_its_root():
    x, xt = both()
    np.testing.assert_allclose(x.var().item(), xt.var().item())
    np.testing.assert_allclose(x.var(1).data, xt.var(1).detach().numpy())
    np.testing.assert_allclose(x.std().item(), x.var().sqrt().item())
    np.testing.assert_allclose(np.var(tg.tensor(A)), np.var(A), rtol=1e-6)   # NumPy's own default


def test_the_layers_keep_the_biased_variance():
    bn, tbn = nn.BatchNorm1d(4), torch.nn.BatchNorm1d(4)
    x = np.random.default_rng(0).standard_normal((8, 4))
    np.testing.assert_allclose(bn(tg.tensor(x, dtype=np.float32)).data,
                               tbn(torch.tensor(x, dtype=torch.float32)).detach().numpy(), atol=1e-5)


@pytest.mark.parametrize("values,correction",
                         [([2.0, 2.0, 2.0], 1), ([3.0], 0), ([[1.0, 1.0], [0.0, 2.0]], 1)])
def test_std_where_the_variance_is_zero_has_gradient_zero_as_pytorch(values, correction):
    x, xt = both(np.array(values))
    out, ref = x.std(-1, correction=correction), xt.std(-1, correction=correction)
    np.testing.assert_allclose(out.data, ref.detach().numpy())
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(x.grad, xt.grad.numpy())
    assert np.isfinite(x.grad).all()


def test_std_gradient_elsewhere_passes_gradcheck():
    x = tg.tensor(np.random.default_rng(1).standard_normal((3, 4)), dtype=np.float64, requires_grad=True)
    assert tg.gradcheck(lambda t: t.std(1), [x])
    assert tg.gradcheck(lambda t: t.std(correction=0, keepdim=True), [x])


def test_a_numpy_array_keeps_its_dtype_in_promotion():
    a = np.array([0.1, 0.2])
    x = tg.tensor([1.0, 2.0], dtype=np.float64)
    assert tg.cat([a, x]).data[0] == 0.1 == torch.cat([torch.from_numpy(a), torch.tensor([1.0, 2.0],
                                                                                          dtype=torch.float64)])[0]
    assert tg.where(np.array([True, False]), a, x).data[0] == 0.1
    assert tg.stack([a, x]).dtype == np.float64
    assert (tg.ones(2) * a).dtype == np.float64                    # as torch.ones(2) * from_numpy(a)
    assert (torch.ones(2) * torch.from_numpy(a)).dtype == torch.float64


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_of_a_0d_tensor_as_pytorch(op):
    x, xt = tg.tensor(3.0, requires_grad=True), torch.tensor(3.0, requires_grad=True)
    for dim in (0, -1):
        out, ref = getattr(x, op)(dim), getattr(xt, op)(dim)
        assert out.shape == () and out.item() == ref.item()
    out.backward()
    ref.backward()
    assert x.grad.item() == xt.grad.item() == 0.0


def test_sequential_of_an_ordered_dict_names_its_layers():
    layers = [("fc", (3, 2)), ("act", None), ("out", (2, 1))]
    ours = nn.Sequential(OrderedDict((k, nn.Linear(*s) if s else nn.ReLU()) for k, s in layers))
    theirs = torch.nn.Sequential(OrderedDict((k, torch.nn.Linear(*s) if s else torch.nn.ReLU())
                                             for k, s in layers))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_allclose(ours(tg.tensor(x)).data, theirs(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-6)
    assert isinstance(ours.fc, nn.Linear) and ours[1] is ours.act


@pytest.mark.parametrize("make", [lambda m: m.Sequential(m.Linear(3, 2), F.relu, m.Linear(2, 1)),
                                  lambda m: m.Sequential([m.Linear(3, 2), m.ReLU()]),
                                  lambda m: m.ModuleList([m.Linear(3, 2), 5])],
                         ids=["function", "list", "number"])
def test_a_non_module_is_refused_as_pytorch(make):
    with pytest.raises(TypeError, match="is not a Module subclass"):
        make(torch.nn)
    with pytest.raises(TypeError, match="is not a Module subclass"):
        make(nn)


def test_deepcopy_of_an_attached_submodule_copies_only_it_and_names_follow():
    model = nn.Transformer(10, 10, d_model=8, n_heads=2, n_layers=1, d_ff=16)
    layer = model.encoder.layers[0]
    clone = copy.deepcopy(layer)
    assert clone._path == "" and clone.self_attn._path == "self_attn"
    assert not any(p is q for p in clone.parameters() for q in model.parameters())
    np.testing.assert_array_equal(clone.ffn.up.weight.data, layer.ffn.up.weight.data)
    clones = nn.ModuleList([copy.deepcopy(layer) for _ in range(2)])
    names = [name for name, _ in clones.named_parameters()]
    up = torch.nn.Sequential(OrderedDict(up=torch.nn.Linear(8, 16)))
    torch_layer = torch.nn.Sequential(OrderedDict(ffn=up))
    torch_names = list(torch.nn.ModuleList([copy.deepcopy(torch_layer) for _ in range(2)]).state_dict())
    assert "1.ffn.up.weight" in names and "1.ffn.up.weight" in torch_names
    assert clones[1].ffn.up.weight.name == "1.ffn.up.weight"
    assert layer.ffn.up.weight.name == "encoder.layers.0.ffn.up.weight"      # the original's stay


class WithBuffers:
    @staticmethod
    def build(m, lib):
        class Model(m.Module):
            def __init__(self):
                super().__init__()
                self.fc = m.Linear(2, 2)
                self.register_buffer("scale", lib.ones(2))
                self.register_buffer("cache", lib.zeros(3), persistent=False)
                self.register_buffer("nothing", None)

            def forward(self, x):
                return self.fc(x) * self.scale
        return Model()


def test_register_buffer_as_pytorch():
    ours, theirs = WithBuffers.build(nn, tg), WithBuffers.build(torch.nn, torch)
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict()) == ["fc.bias", "fc.weight", "scale"]
    assert isinstance(ours.cache, tg.Tensor) and ours.nothing is None
    state = ours.state_dict()
    state["scale"] = np.array([2.0, 3.0], dtype=np.float32)
    ours.load_state_dict(state)
    np.testing.assert_array_equal(ours.scale.data, [2.0, 3.0])
    assert ours.double().scale.dtype == np.float64 and ours.cache.dtype == np.float64
    assert ours.float().fc.weight.dtype == np.float32
    with pytest.raises(KeyError, match="already exists"):
        ours.register_buffer("fc", tg.ones(1))
    with pytest.raises(TypeError, match="cannot assign 'int' object to buffer"):
        ours.register_buffer("x", 5)


def test_to_dtype_matmul_double_float_as_pytorch():
    x = tg.tensor([[1, 2], [3, 4]])
    assert x.to(np.float64).dtype == np.float64 and x.to("cpu") is x
    assert x.to(tg.ones(1)).dtype == np.float32 == x.float().dtype and x.double().dtype == np.float64
    a, b = np.arange(6.0).reshape(2, 3), np.arange(3.0)
    np.testing.assert_array_equal(tg.matmul(tg.tensor(a), tg.tensor(b)).data,
                                  torch.matmul(torch.tensor(a), torch.tensor(b)).numpy())


def test_masked_fill_in_place_as_pytorch():
    x, xt = tg.tensor(A), torch.tensor(A)
    mask = A[0] > 1.0                                      # broadcast over the rows
    assert x.masked_fill_(mask, -1.0) is x
    xt.masked_fill_(torch.from_numpy(mask), -1.0)
    np.testing.assert_array_equal(x.data, xt.numpy())
    with pytest.raises(ValueError, match="doesn't broadcast"):
        x.masked_fill_(np.ones((2, 3, 4), dtype=bool), 0.0)


def test_inplace_relu_gives_the_same_values_and_gradients_as_pytorch():
    x, xt = both()
    for model, tmodel in [(nn.ReLU(inplace=True), torch.nn.ReLU(inplace=True))]:
        out, ref = model(x * 2), tmodel(xt * 2)
        np.testing.assert_array_equal(out.data, ref.detach().numpy())
        out.sum().backward()
        ref.sum().backward()
        np.testing.assert_array_equal(x.grad, xt.grad.numpy())
    with tg.no_grad():
        y = tg.tensor([-1.0, 2.0])
        assert F.relu(y, inplace=True) is y and y.data.tolist() == [0.0, 2.0]
    assert repr(nn.ReLU(inplace=True)) == repr(torch.nn.ReLU(inplace=True))
