"""nn.Module: dotted parameter names, state_dict / load_state_dict and their errors,
astype, train/eval, containers, and the module scopes ops record for graph tools."""
import numpy as np
import pytest

import tinygrad_tf as tg
from tinygrad_tf import nn
from tinygrad_tf.core import ops
from tinygrad_tf.core.engine import topological_order


def small_transformer(**kw):
    return nn.Transformer(7, 9, d_model=8, n_heads=2, n_layers=2, d_ff=16, **kw)


def test_named_parameters_are_dotted_paths_in_layer_order():
    model = small_transformer(norm_first=True)
    names = [n for n, _ in model.named_parameters()]
    for expected in ("encoder.layers.0.self_attn.q_proj.weight", "encoder.layers.1.ffn.down.bias",
                     "decoder.layers.1.cross_attn.k_proj.bias", "decoder.layers.0.norm3.weight",
                     "encoder.norm.weight", "decoder.norm.bias", "generator.weight"):
        assert expected in names
    assert names.index("encoder.layers.0.norm1.weight") < names.index("encoder.layers.1.norm1.weight")
    assert len(names) == len(set(names)) == len(model.parameters())
    assert "encoder.norm.weight" not in dict(small_transformer().named_parameters())  # post-LN
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in model.parameters())


def test_state_dict_is_a_copy_and_load_state_dict_restores_it():
    a, b = nn.BatchNorm1d(3), nn.BatchNorm1d(3)
    a(tg.randn(5, 3, seed=1))                                   # moves the running statistics
    sd = a.state_dict()
    assert set(sd) == {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}
    sd["weight"][:] = 7.0
    assert np.all(a.weight.data == 1.0)                         # a copy, not the parameter
    b.load_state_dict(sd)
    assert np.all(b.weight.data == 7.0) and np.array_equal(b.running_mean, a.running_mean)
    assert b.num_batches_tracked == 1 and b.weight.dtype == np.float32
    model, other = small_transformer(), small_transformer()
    other.load_state_dict(model.state_dict())
    src, tgt = np.array([[1, 2, 3]]), np.array([[1, 4]])
    assert np.array_equal(model(src, tgt).data, other(src, tgt).data)


def test_load_state_dict_names_missing_unexpected_and_misshaped_keys():
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))
    good = model.state_dict()
    before = {k: v.copy() for k, v in good.items()}
    missing = {k: v for k, v in good.items() if k != "1.bias"}
    with pytest.raises(ValueError, match=r"missing keys: 1\.bias"):
        model.load_state_dict(missing)
    with pytest.raises(ValueError, match=r"unexpected keys: 2\.weight"):
        model.load_state_dict({**good, "2.weight": np.zeros(4)})
    wrong = {**good, "0.weight": np.zeros((3, 4)), "1.weight": np.ones(4) * 9}
    with pytest.raises(ValueError, match=r"wrong shape for 0\.weight: the checkpoint has \(3, 4\), "
                                         r"the model expects \(4, 3\)"):
        model.load_state_dict(wrong)
    for k, v in model.state_dict().items():                     # nothing changed on an error
        assert np.array_equal(v, before[k])
    model.load_state_dict({"1.weight": np.ones(4) * 2}, strict=False)
    assert np.all(model[1].weight.data == 2.0)
    with pytest.raises(ValueError, match="wrong shape for 1.weight"):
        model.load_state_dict({"1.weight": np.ones(5)}, strict=False)


def test_astype_casts_every_parameter_and_buffer():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)).astype(np.float64)
    assert all(p.dtype == np.float64 for p in model.parameters())
    assert model[1].running_var.dtype == np.float64
    x = tg.randn(5, 3, dtype=np.float64, requires_grad=True)
    model(x).sum().backward()
    assert all(p.grad.dtype == np.float64 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_train_and_eval_reach_every_submodule():
    model = small_transformer(dropout=0.1)
    assert all(m.training for m in model.modules())
    assert model.eval() is model and not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_containers():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[1], nn.ReLU)
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    x = tg.randn(4, 2)
    assert np.array_equal(seq(x).data, seq[2](seq[1](seq[0](x))).data)
    layers = nn.ModuleList([nn.Linear(2, 2)]).append(nn.Linear(2, 2))
    assert len(layers) == 2 and [n for n, _ in layers.named_parameters()][-1] == "1.bias"
    assert "Linear(2, 3, bias=True)" in repr(seq)
    head = seq[:2]
    assert isinstance(head, nn.Sequential) and len(head) == 2 and head[0] is seq[0]
    assert np.array_equal(head(x).data, seq[1](seq[0](x)).data)
    assert isinstance(layers[-1:], nn.ModuleList) and layers[-1:][0] is layers[1]


def test_a_parameter_shared_by_two_modules_is_listed_once():
    a, b = nn.Linear(2, 2), nn.Linear(2, 2)
    b.weight = a.weight
    assert len(nn.Sequential(a, b).parameters()) == 3


def test_parameter_keeps_a_float_arrays_dtype():
    assert nn.Parameter(np.zeros(3)).dtype == np.float64
    assert nn.Parameter([1.0, 2.0]).dtype == np.float32
    assert nn.Parameter(np.zeros(2)).requires_grad


def test_ops_record_the_dotted_path_of_the_module_that_made_them():
    model = small_transformer()
    src, tgt = np.array([[1, 2, 3]]), np.array([[1, 4]])
    logits = model(src, tgt)
    modules = {op.module for op in topological_order(logits._ctx) if isinstance(op, ops.Op)}
    for path in ("encoder.layers.0.self_attn", "encoder.layers.0.self_attn.q_proj",
                 "decoder.layers.1.cross_attn", "decoder.layers.1.ffn.up", "generator"):
        assert path in modules
    weight = model.encoder.layers[0].self_attn.q_proj.weight
    assert weight.name == "encoder.layers.0.self_attn.q_proj.weight"
    assert model.encoder.layers[0].self_attn.attn is not None
    model.encode(src)                                   # entry points besides forward too
    ops_of = [op for op in topological_order(model.encode(src)._ctx) if isinstance(op, ops.Op)]
    assert "encoder.layers.1.norm2" in {op.module for op in ops_of}


def test_residual_adds_are_marked_with_the_skip_path_first():
    block = nn.EncoderBlock(8, 2, 16, norm_first=True)
    x = tg.randn(1, 3, 8, requires_grad=True)
    y = block(x)
    residuals = [op for op in topological_order(y._ctx) if isinstance(op, ops.ResidualAdd)]
    assert len(residuals) == 2 and {op.module for op in residuals} == {""}
    first = min(residuals, key=lambda op: op._seq)
    assert first._prev[0] is x                          # pre-LN: the skip path is x itself
    assert first._prev[1].module == "self_attn.out_proj"


def _op_modules(out):
    return {op.module for op in topological_order(out._ctx) if isinstance(op, ops.Op)}


def test_names_are_set_when_attached_and_do_not_depend_on_the_module_called():
    model = small_transformer()
    layer = model.encoder.layers[0]
    weight = layer.self_attn.q_proj.weight
    assert weight.name == "encoder.layers.0.self_attn.q_proj.weight"      # before any call
    assert all(p.name == n for n, p in model.named_parameters())
    whole = _op_modules(model(np.array([[1, 2]]), np.array([[1]])))
    assert weight.name == "encoder.layers.0.self_attn.q_proj.weight"
    alone = _op_modules(layer(tg.randn(1, 3, 8)))                       # the layer on its own
    assert weight.name == "encoder.layers.0.self_attn.q_proj.weight"
    assert alone == {m for m in whole if m.startswith("encoder.layers.0")}
    assert "encoder.layers.0.self_attn.q_proj" in alone


def test_attaching_a_tree_renames_it_and_a_shared_part_keeps_its_first_name():
    block = nn.EncoderBlock(8, 2, 16)
    assert block.norm1.weight.name == "norm1.weight"                    # its own root
    stack = nn.ModuleList([block])
    assert block.norm1.weight.name == "0.norm1.weight"
    outer = nn.Sequential(nn.Linear(8, 8), stack)
    assert block.norm1.weight.name == "1.0.norm1.weight"
    assert _op_modules(block(tg.randn(1, 2, 8))) >= {"1.0", "1.0.self_attn.q_proj"}
    assert outer[1:][0] is stack and block.norm1.weight.name == "1.0.norm1.weight"  # a slice renames nothing
    outer[0].weight = stack[0].norm1.weight      # shared, not moved
    assert outer[0].weight.name == "1.0.norm1.weight"
    outer[0].weight = nn.Parameter(np.zeros((8, 8)))                    # replaced: named at once
    assert outer[0].weight.name == "0.weight"
    model = small_transformer()
    old = model.generator
    model.generator = nn.Linear(8, 9)
    assert model.generator.weight.name == "generator.weight"
    other = nn.Sequential(old)                   # detached from the model: free to move
    assert other[0].weight.name == "0.weight"
    d = nn.ModuleDict({"a": nn.Linear(2, 2)})
    moved = d["a"]
    del d["a"]                                   # deleted: free to move too
    assert nn.Sequential(moved)[0].weight.name == "0.weight"


def test_a_state_dict_survives_a_checkpoint_file(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    model(tg.randn(5, 3))
    tg.save(model.state_dict(), tmp_path / "model.npz")
    other = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    other.load_state_dict(tg.load(tmp_path / "model.npz"))
    for (name, a), b in zip(model.state_dict().items(), other.state_dict().values()):
        assert np.array_equal(a, b), name
