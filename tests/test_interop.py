"""tinygrad_tf.interop: every supported module against its torch conversion (outputs,
input and parameter gradients; float64 to 1e-9, float32 to 1e-5 relative), round
trips bit for bit, optimizer state carried over (k steps here + k in torch == 2k
here), DistributedDataParallel on two processes == one process, tensors, export."""
import copy
import importlib.util
import json
import os
import pathlib
import re
import socket
import subprocess
import sys

import numpy as np
import pytest
from support import assert_close

import tinygrad_tf as tg
from tinygrad_tf import nn, optim
from tinygrad_tf.nn import functional as F

torch = pytest.importorskip("torch")     # the whole module compares with PyTorch
interop = importlib.import_module("tinygrad_tf.interop")   # (which needs it)

torch.set_num_threads(1)        # tiny models: threads only cost (and the 2 cores are shared)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOL = {np.float64: 1e-9, np.float32: 1e-5}
D, H, FF = 8, 2, 12


def randomize(module, seed=3):
    """Random weights of a trained model's sizes: matrices N(0, 1/fan_in), vectors
    N(0, 0.2²) (around 1 for LayerNorm's weight), so ones and zeros hide no bug."""
    rng = np.random.default_rng(seed)
    for name, p in module.named_parameters():
        if p.ndim > 1:
            p.data = rng.standard_normal(p.shape) / np.sqrt(p.shape[-1])
        else:
            p.data = rng.standard_normal(p.shape) * 0.2 + (name.endswith("weight") and "norm" in name)
    return module


def torch_grads_as_ours(theirs):
    """{our parameter name: torch's gradient}, by converting a copy whose weights are the grads."""
    grads = copy.deepcopy(theirs)
    with torch.no_grad():
        for p, g in zip(theirs.parameters(), grads.parameters()):
            assert p.grad is not None
            g.copy_(p.grad)
    return {name: p.data for name, p in interop.from_torch(grads).named_parameters()}


def compare(module, dtype, ours_call, torch_call, inputs=()):
    """Run ours and the converted module on the same float inputs (and whatever the calls
    add); compare outputs, every input gradient and every parameter gradient."""
    module = randomize(module).astype(dtype)
    theirs = interop.to_torch(module)
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(shape).astype(dtype) for shape in inputs]
    xs = [tg.Tensor(a, dtype=dtype, requires_grad=True) for a in arrays]
    txs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, ty = ours_call(module, *xs), torch_call(theirs, *txs)
    rtol = TOL[dtype]
    assert_close(y, ty, "output", rtol)
    g = rng.standard_normal(y.shape).astype(dtype)
    y.backward(g)
    ty.backward(torch.tensor(g))
    for i, (x, tx) in enumerate(zip(xs, txs)):
        assert_close(x.grad, tx.grad, f"input {i} grad", rtol)
    theirs_grads = torch_grads_as_ours(theirs)
    ours_grads = {name: p.grad for name, p in module.named_parameters()}
    assert set(ours_grads) == set(theirs_grads)
    biggest = max((np.abs(g).max() for g in theirs_grads.values()), default=0.0)
    for name, grad in ours_grads.items():
        if name.endswith("k_proj.bias"):      # exactly 0 (softmax ignores a shift shared by all keys):
            assert np.abs(grad - theirs_grads[name]).max() <= rtol * biggest, name   # rounding only
        else:
            assert_close(grad, theirs_grads[name], f"grad of {name}", rtol)
    return module, theirs


REAL = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=bool)       # True = a real token
CAUSAL = torch.ones(5, 5, dtype=torch.bool).triu(1)                   # torch's: True = hidden
PADDING = torch.tensor(~REAL)                                         # torch's: True = padding


def mha_self(m, x):
    return m(x, mask=REAL[:, None, None, :], causal=True)


def tmha_self(m, x):
    out, weights = m(x, x, x, key_padding_mask=PADDING, attn_mask=CAUSAL, average_attn_weights=False)
    return out


def mha_cross(m, x, c):
    return m(x, c, mask=REAL[:, None, None, :])


def tmha_cross(m, x, c):
    return m(x, c, c, key_padding_mask=PADDING, need_weights=False)[0]


LAYERS = {
    "Linear": (lambda: nn.Linear(D, 3), lambda m, x: m(x), lambda m, x: m(x), [(2, 4, D)]),
    "Linear no bias": (lambda: nn.Linear(D, 3, bias=False), lambda m, x: m(x), lambda m, x: m(x), [(4, D)]),
    "LayerNorm": (lambda: nn.LayerNorm(D), lambda m, x: m(x), lambda m, x: m(x), [(2, 3, D)]),
    "BatchNorm1d": (lambda: nn.BatchNorm1d(D), lambda m, x: m(x), lambda m, x: m(x), [(6, D)]),
    "LayerNorm 2 axes": (lambda: nn.LayerNorm((3, D)), lambda m, x: m(x), lambda m, x: m(x), [(2, 3, D)]),
    "Tanh, Sigmoid": (lambda: nn.Sequential(nn.Tanh(), nn.Sigmoid()), lambda m, x: m(x), lambda m, x: m(x),
                      [(3, D)]),
    "GELU tanh": (lambda: nn.GELU("tanh"), lambda m, x: m(x), lambda m, x: m(x), [(3, D)]),
    "Sequential": (lambda: nn.Sequential(nn.Linear(D, FF), nn.ReLU(), nn.Dropout(0.0), nn.Linear(FF, D),
                                         nn.SiLU()), lambda m, x: m(x), lambda m, x: m(x), [(3, D)]),
    **{f"FeedForward {a}": (lambda a=a: nn.FeedForward(D, FF, a), lambda m, x: m(x), lambda m, x: m(x),
                            [(2, 3, D)]) for a in ("relu", "gelu", "swiglu")},
    "MHA self, padding + causal": (lambda: nn.MultiHeadAttention(D, H), mha_self, tmha_self, [(2, 5, D)]),
    "MHA cross, padding": (lambda: nn.MultiHeadAttention(D, H), mha_cross, tmha_cross,
                           [(2, 3, D), (2, 5, D)]),
}
BLOCKS = [(norm_first, act) for norm_first in (False, True) for act in ("relu", "gelu", "swiglu")]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_matches_its_conversion(name, dtype):
    make, ours, theirs, inputs = LAYERS[name]
    compare(make(), dtype, ours, theirs, inputs)


def test_mha_attention_weights_match():
    m, tm = compare(nn.MultiHeadAttention(D, H), np.float64, mha_self, tmha_self, [(2, 5, D)])
    x = np.random.default_rng(1).standard_normal((2, 5, D))
    _, weights = tm(*[torch.tensor(x)] * 3, key_padding_mask=PADDING, attn_mask=CAUSAL,
                    average_attn_weights=False)
    assert_close(m.attn, weights, "attention weights", 1e-9)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("norm_first, activation", BLOCKS)
def test_encoder_block_matches(norm_first, activation, dtype):
    _, tblock = compare(nn.EncoderBlock(D, H, FF, activation, norm_first), dtype,
                        lambda m, x: m(x, mask=REAL[:, None, None, :], causal=True),
                        lambda m, x: m(x, src_mask=CAUSAL, src_key_padding_mask=PADDING), [(2, 5, D)])
    assert isinstance(tblock, torch.nn.TransformerEncoderLayer) and tblock.norm_first == norm_first
    assert tblock.self_attn.batch_first


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("norm_first, activation", BLOCKS)
def test_decoder_block_matches(norm_first, activation, dtype):
    causal = torch.ones(3, 3, dtype=torch.bool).triu(1)
    _, tblock = compare(nn.DecoderBlock(D, H, FF, activation, norm_first), dtype,
                        lambda m, x, mem: m(x, mem, memory_mask=REAL[:, None, None, :]),
                        lambda m, x, mem: m(x, mem, tgt_mask=causal, memory_key_padding_mask=PADDING),
                        [(2, 3, D), (2, 5, D)])
    assert isinstance(tblock, torch.nn.TransformerDecoderLayer)


SRC = np.array([[4, 5, 6, 7, 8], [9, 4, 3, 0, 0]])        # the second source is padded (pad_id 0)
TGT = np.array([[1, 5, 6, 7], [1, 3, 9, 2]])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("norm_first, activation", BLOCKS)
def test_transformer_matches(norm_first, activation, dtype):
    model = nn.Transformer(10, 11, d_model=D, n_heads=H, n_layers=2, d_ff=FF, activation=activation,
                           norm_first=norm_first, max_len=16)
    _, tmodel = compare(model, dtype, lambda m: m(SRC, TGT),
                        lambda m: m(torch.tensor(SRC), torch.tensor(TGT)))
    assert isinstance(tmodel, interop.TorchTransformer)
    assert (tmodel.encoder.norm is not None) == norm_first


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("norm_first, activation", [(True, "gelu"), (False, "relu"), (True, "swiglu")])
def test_transformer_lm_matches(norm_first, activation, dtype):
    model = nn.TransformerLM(10, d_model=D, n_heads=H, n_layers=2, d_ff=FF, activation=activation,
                             norm_first=norm_first, max_len=16)
    compare(model, dtype, lambda m: m(SRC), lambda m: m(torch.tensor(SRC)))


def test_embedding_and_eval_mode_without_grad():
    """Embedding rows, and the converted model in eval mode under no_grad (where PyTorch
    takes its fused fast path) still gives our outputs, padded positions included."""
    model = randomize(nn.Transformer(10, 11, d_model=D, n_heads=H, d_ff=FF, max_len=16)).astype(np.float32)
    compare(nn.Embedding(10, D), np.float64, lambda m: m(SRC), lambda m: m(torch.tensor(SRC)))
    tmodel = interop.to_torch(model.eval())
    assert not tmodel.training
    with torch.no_grad():
        assert_close(model(SRC, TGT), tmodel(torch.tensor(SRC), torch.tensor(TGT)), "eval output", 1e-5)
    assert np.array_equal(model.greedy_decode(SRC, 6, 1, 2), tmodel.greedy_decode(torch.tensor(SRC), 6, 1, 2))


MODULES = {
    **{name: spec[0] for name, spec in LAYERS.items()},
    "Embedding": lambda: nn.Embedding(10, D),
    "Dropout": lambda: nn.Dropout(0.25),
    "ModuleList": lambda: nn.ModuleList([nn.Linear(D, D), nn.LayerNorm(D)]),
    "EncoderBlock swiglu": lambda: nn.EncoderBlock(D, H, FF, "swiglu", True, dropout=0.1),
    "DecoderBlock gelu": lambda: nn.DecoderBlock(D, H, FF, "gelu"),
    "Transformer": lambda: nn.Transformer(10, 11, d_model=D, n_heads=H, d_ff=FF, pad_id=3, max_len=9),
    "TransformerLM": lambda: nn.TransformerLM(10, d_model=D, n_heads=H, d_ff=FF, activation="swiglu"),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(MODULES))
def test_round_trip_is_bit_identical(name, dtype):
    module = randomize(MODULES[name]()).astype(dtype).eval()
    back = interop.from_torch(interop.to_torch(module))
    assert type(back) is type(module) and not back.training
    ours, again = module.state_dict(), back.state_dict()
    assert list(ours) == list(again)
    for key, array in ours.items():
        assert again[key].dtype == array.dtype and again[key].shape == array.shape, key
        assert again[key].tobytes() == array.tobytes(), key
    assert repr(back) == repr(module)


def test_torch_layers_round_trip_through_ours():
    torch.manual_seed(0)
    layers = [torch.nn.TransformerEncoderLayer(D, H, FF, 0.0, "gelu", batch_first=True, norm_first=True,
                                               dtype=torch.float64),
              torch.nn.TransformerDecoderLayer(D, H, FF, 0.0, batch_first=True, layer_norm_eps=1e-6),
              torch.nn.MultiheadAttention(D, H, batch_first=True),
              torch.nn.Sequential(torch.nn.Linear(D, FF), torch.nn.GELU(), torch.nn.LayerNorm(FF))]
    for layer in layers:
        ours = interop.from_torch(layer)
        again = interop.to_torch(ours)
        assert type(again) is type(layer)
        a, b = layer.state_dict(), again.state_dict()
        assert list(a) == list(b)
        assert all(a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]) for k in a)
    assert interop.from_torch(layers[1]).norm3.eps == 1e-6


def test_what_does_not_convert_is_named_with_its_path():
    class Mine(nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(interop.ConversionError, match=r"Mine at '1'.*no PyTorch equivalent"):
        interop.to_torch(nn.Sequential(nn.Linear(2, 2), Mine()))
    block = nn.EncoderBlock(D, H, FF)
    block.norm2.eps = 1e-6
    with pytest.raises(interop.ConversionError, match=r"EncoderBlock at '0'.*differing values"):
        interop.to_torch(nn.ModuleList([block]))
    with pytest.raises(interop.ConversionError, match="DecoderOnlyBlock is always causal"):
        interop.to_torch(nn.DecoderOnlyBlock(D, H, FF))
    with pytest.raises(interop.ConversionError, match=r"Conv1d at '0'.*no tinygrad_tf equivalent"):
        interop.from_torch(torch.nn.Sequential(torch.nn.Conv1d(2, 2, 1)))
    with pytest.raises(interop.ConversionError, match="batch_first=False"):
        interop.from_torch(torch.nn.TransformerEncoderLayer(D, H, FF))
    with pytest.raises(interop.ConversionError, match="padding_idx"):
        interop.from_torch(torch.nn.Embedding(5, 2, padding_idx=0))
    with pytest.raises(TypeError, match="expected a tinygrad_tf nn.Module"):
        interop.to_torch(torch.nn.Linear(2, 2))


# ------------------------------------------------------------------ optimizers

def data(vocab=10, batch=6, seed=0):
    """A padded batch for a Transformer: src, decoder input, decoder targets (pad 0)."""
    rng = np.random.default_rng(seed)
    src, tgt = np.zeros((batch, 6), np.int64), np.zeros((batch, 7), np.int64)
    for i in range(batch):
        n = rng.integers(2, 6)
        src[i, :n] = rng.integers(3, vocab, n)
        tgt[i, :n + 2] = [1, *src[i, :n][::-1], 2]
    return src, tgt[:, :-1], tgt[:, 1:]


def ours_steps(model, opt, k, batch):
    src, tin, tout = batch
    for _ in range(k):
        opt.zero_grad()
        F.cross_entropy(model(src, tin), tout, ignore_index=0).backward()
        opt.step()


def torch_steps(tmodel, topt, k, batch):
    src, tin, tout = (torch.tensor(a) for a in batch)
    for _ in range(k):
        topt.zero_grad()
        logits = tmodel(src, tin)
        torch.nn.functional.cross_entropy(logits.flatten(0, 1), tout.flatten(), ignore_index=0).backward()
        topt.step()


def two_groups(model):
    """The embeddings at a lower learning rate and without weight decay; the rest as given."""
    named = model.named_parameters()
    return [{"params": [p for n, p in named if "embed" in n], "lr": 0.003, "weight_decay": 0.0},
            {"params": [p for n, p in named if "embed" not in n]}]


OPTIMIZERS = {"Adam": lambda m: optim.Adam(m.parameters(), lr=0.01, betas=(0.8, 0.95), eps=1e-7,
                                           weight_decay=0.01),
              "AdamW": lambda m: optim.AdamW(two_groups(m), lr=0.02, weight_decay=0.1),
              "SGD": lambda m: optim.SGD(two_groups(m), lr=0.1, momentum=0.9, weight_decay=0.001)}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_training_continues_in_torch(name, k=3):
    """k steps here, then k in torch after conversion == 2k steps here (float64)."""
    batch = data()
    make = lambda: nn.Transformer(10, 10, d_model=D, n_heads=H, d_ff=FF, norm_first=True).astype(np.float64)  # noqa: E731
    nn.manual_seed(1)
    reference = make()
    ours_steps(reference, OPTIMIZERS[name](reference), 2 * k, batch)
    nn.manual_seed(1)
    model = make()
    opt = OPTIMIZERS[name](model)
    ours_steps(model, opt, k, batch)
    tmodel = interop.to_torch(model)
    topt = interop.to_torch_optimizer(opt, tmodel)
    assert type(topt).__name__ == name
    assert len(topt.param_groups) == len(opt.param_groups)
    for group, ours in zip(topt.param_groups, opt.param_groups):
        assert all(group[key] == value for key, value in ours.items() if key != "params")
    if name != "SGD":
        assert all(float(s["step"]) == k for s in topt.state.values())
    assert len(topt.state) == len(list(tmodel.parameters()))
    torch_steps(tmodel, topt, k, batch)
    after = interop.from_torch(tmodel).state_dict()
    for key, array in reference.state_dict().items():
        assert_close(after[key], array, key, 1e-9)


def test_optimizer_conversion_errors():
    model = nn.EncoderBlock(D, H, FF)
    tblock = interop.to_torch(model)
    with pytest.raises(interop.ConversionError, match="not made by interop.to_torch"):
        interop.to_torch_optimizer(optim.Adam(model.parameters()), torch.nn.Linear(2, 2))
    with pytest.raises(interop.ConversionError, match="packs arrays that this optimizer treats apart"):
        interop.to_torch_optimizer(optim.Adam([model.self_attn.q_proj.weight]), tblock)
    split = [{"params": [model.self_attn.q_proj.weight]},
             {"params": [p for p in model.parameters() if p is not model.self_attn.q_proj.weight]}]
    with pytest.raises(interop.ConversionError, match="different parameter groups"):
        interop.to_torch_optimizer(optim.Adam(split), tblock)
    with pytest.raises(interop.ConversionError, match="not in this torch module"):
        interop.to_torch_optimizer(optim.Adam(model.parameters() + [nn.Parameter(np.ones(2))]), tblock)


# ------------------------------------------------------------------ distributed

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_on_two_processes_equals_one_process_on_the_whole_batch(tmp_path):
    """examples/ddp_train.py on two gloo processes (each half of every batch) ends with
    the weights one process of ours gets from the whole batches."""
    script = os.path.join(ROOT, "examples", "ddp_train.py")
    spec = importlib.util.spec_from_file_location("ddp_train", script)
    ddp_train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ddp_train)
    out, steps, here = tmp_path / "ddp.npz", 3, 2
    env = {**os.environ, "PYTHONPATH": ROOT, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port()),
           "WORLD_SIZE": "2", "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo"}
    procs = [subprocess.Popen([sys.executable, script, "--steps", str(steps), "--here-steps", str(here),
                               "--out", str(out), "--timeout", "120"],
                              env={**env, "RANK": str(rank), "LOCAL_RANK": str(rank)},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for rank in range(2)]
    try:
        model = ddp_train.make_model()              # meanwhile: ours, one process, whole batches
        opt = ddp_train.make_optimizer(model)
        for step in range(here + steps):
            src, tin, tout = ddp_train.batch(step)
            opt.zero_grad()
            F.cross_entropy(model(src, tin), tout, ignore_index=ddp_train.PAD).backward()
            opt.step()
        logs = [p.communicate(timeout=180)[0] for p in procs]   # bounded, generous for a busy machine
    finally:
        for p in procs:
            p.kill()
    assert all(p.returncode == 0 for p in procs), "\n".join(logs)
    trained = tg.load(out)
    for key, array in model.state_dict().items():
        assert_close(trained[key], array, key, 1e-9)


# ------------------------------------------------------------------ tensors and export

@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64, torch.int64, torch.bool])
def test_tensors_cross_with_values_copied_and_dtype_kept(dtype):
    t = (torch.arange(6).reshape(2, 3) % 2 == 0) if dtype == torch.bool else torch.arange(6, dtype=dtype)
    ours = tg.tensor(t)
    assert ours.dtype == t.numpy().dtype and np.array_equal(ours.data, t.numpy())
    back = ours.to_torch()
    assert back.dtype == dtype and torch.equal(back, t)
    ours.data[...] = 0                                  # copies: neither side sees the other's change
    assert torch.equal(back, t) and not np.array_equal(ours.data, t.numpy()) or not t.any()


def test_tensor_from_a_tensor_that_requires_grad():
    t = torch.ones(2, dtype=torch.float64, requires_grad=True) * 3
    ours = tg.tensor(t, requires_grad=True)
    assert ours.dtype == np.float64 and ours.requires_grad and list(ours.data) == [3.0, 3.0]
    assert tg.tensor(t, dtype=np.float32).dtype == np.float32
    p = nn.Parameter(np.ones(3))
    assert p.to_torch().requires_grad and tg.tensor([1.0]).to_torch().requires_grad is False


def test_importing_the_package_does_not_import_torch_and_interop_says_how_to_get_it():
    code = ("import sys; import tinygrad_tf as tg; tg.tensor([1.0]).numpy(); "
            "assert 'torch' not in sys.modules, 'torch imported'; sys.modules['torch'] = None\n"
            "try:\n    from tinygrad_tf import interop\nexcept ImportError as e:\n    print(e)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": ROOT})
    assert out.returncode == 0, out.stderr
    assert "pip install torch==2.13.0" in out.stdout


def test_export_cli_writes_a_torch_model(tmp_path, capsys, monkeypatch):
    from tinygrad_tf.__main__ import main
    model = randomize(nn.Transformer(10, 11, d_model=D, n_heads=H, d_ff=FF, activation="gelu",
                                     norm_first=True, pad_id=0)).eval()
    config = dict(n_heads=H, activation="gelu", pad_id=0, batch=64)          # extra keys are ignored
    tg.save({**model.state_dict(), "config": json.dumps(config)}, tmp_path / "ckpt.npz")
    assert main(["export", "--checkpoint", str(tmp_path / "ckpt.npz"), "-o", str(tmp_path / "m.pt")]) == 0
    assert "wrote" in capsys.readouterr().out
    saved = torch.load(tmp_path / "m.pt")                     # PyTorch's safe default: weights_only
    assert saved["class"] == "TorchTransformer" and saved["config"]["activation"] == "gelu"
    tmodel = interop.load_export(tmp_path / "m.pt")
    assert isinstance(tmodel, interop.TorchTransformer) and not tmodel.training
    with torch.no_grad():
        assert_close(model(SRC, TGT), tmodel(torch.tensor(SRC), torch.tensor(TGT)), "exported", 1e-5)
    # the demo's layout: weights under model., settings as JSON under meta.config
    prefixed = {f"model.{k}": v for k, v in model.state_dict().items()}
    tg.save({**prefixed, "meta.config": json.dumps(config)}, tmp_path / "demo.npz")
    assert main(["export", "--checkpoint", str(tmp_path / "demo.npz"), "-o", str(tmp_path / "d.pt")]) == 0
    tg.save(model.state_dict(), tmp_path / "bare.npz")
    assert main(["export", "--checkpoint", str(tmp_path / "bare.npz"), "-o", str(tmp_path / "b.pt")]) == 1
    assert "n_heads" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path)                       # the default: the demo's checkpoint
    assert main(["export"]) == 1 and "python -m tinygrad_tf demo" in capsys.readouterr().err
    tg.save({"w": np.ones(2)}, tmp_path / "other.npz")
    assert main(["export", "--checkpoint", str(tmp_path / "other.npz"), "-o", str(tmp_path / "o.pt")]) == 1
    assert "no Transformer" in capsys.readouterr().err


def test_export_of_the_demos_translation_checkpoint(tmp_path, monkeypatch):
    from tinygrad_tf.__main__ import main
    from tinygrad_tf.demo import translation
    run = translation.new_run(d_model=16, n_heads=2, n_layers=1, d_ff=32)
    translation.save(run, tmp_path / "translator.npz")
    monkeypatch.chdir(tmp_path)
    assert main(["export", "--checkpoint", "translator.npz", "-o", "t.pt"]) == 0
    tmodel = interop.load_export(tmp_path / "t.pt")
    model = translation.load(tmp_path / "translator.npz").model
    assert tmodel.src_embed.max_len == translation.MAX_LEN and tmodel.pad_id == model.pad_id
    src, tgt = np.array([[5, 6, 7, 8, 0, 0]]), np.array([[1, 5, 6]])
    with torch.no_grad():
        assert_close(model(src, tgt), tmodel(torch.tensor(src), torch.tensor(tgt)), "demo model", 1e-5)


RECIPE = "# (uses `path` from the block above; needs nothing but torch)"


def test_the_docs_recipe_rebuilds_an_export_in_plain_torch_without_tinygrad_tf(tmp_path):
    """docs/interop.md's plain-PyTorch block, run where `import tinygrad_tf` fails, on
    exports of a post-LN relu and a pre-LN gelu Transformer: the same logits as ours."""
    text = (pathlib.Path(ROOT) / "docs" / "interop.md").read_text(encoding="utf-8")
    [block] = [b for b in re.findall(r"^```python\n(.*?)^```", text, re.S | re.M) if b.startswith(RECIPE)]
    hide = tmp_path / "hide" / "tinygrad_tf"
    hide.mkdir(parents=True)
    (hide / "__init__.py").write_text("raise ImportError('tinygrad_tf is hidden')\n")
    src, tgt = np.array([[5, 6, 7, 0, 0], [8, 9, 4, 3, 2]]), np.array([[1, 7, 6], [1, 9, 8]])
    np.save(tmp_path / "src.npy", src)
    np.save(tmp_path / "tgt.npy", tgt)
    expected = []
    for k, (activation, norm_first) in enumerate([("relu", False), ("gelu", True)]):
        model = randomize(nn.Transformer(10, 11, d_model=D, n_heads=H, d_ff=FF, activation=activation,
                                         norm_first=norm_first, max_len=16)).eval()
        interop.export(model, tmp_path / f"m{k}.pt")
        expected.append(model(src, tgt).numpy())
    script = ("import sys\ntry:\n    import tinygrad_tf\nexcept ImportError:\n    pass\nelse:\n"
              "    raise SystemExit('tinygrad_tf was importable')\nimport numpy as np\n"
              "src, tgt = np.load('src.npy'), np.load('tgt.npy')\n")
    for k in range(2):
        script += f"path = 'm{k}.pt'\n" + block + (
            f"with torch.no_grad():\n    np.save('out{k}.npy', rebuilt(torch.tensor(src), "
            "torch.tensor(tgt)).numpy())\n")
    (tmp_path / "recipe.py").write_text(script)
    run = subprocess.run([sys.executable, "recipe.py"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300, env={**os.environ, "PYTHONPATH": str(tmp_path / "hide")})
    assert run.returncode == 0, run.stderr[-2000:]
    for k, ours in enumerate(expected):
        np.testing.assert_allclose(np.load(tmp_path / f"out{k}.npy"), ours, rtol=1e-5, atol=1e-5)
