"""`import tinygrad_tf.torch as torch`: one tutorial-style GPT file (gpt_tutorial_script.py)
run by real PyTorch and by the engine under torch's name, held to each other in float64;
then every name of the PyTorch surface against torch itself (values and gradients), and
the random ones by their distributions."""
import importlib
import importlib.util
import math
import pathlib
import sys

import numpy as np
import pytest
from support import torch

import tinygrad_tf.torch as ttorch

SCRIPT = pathlib.Path(__file__).with_name("gpt_tutorial_script.py")
SUBMODULES = ("", ".nn", ".nn.functional", ".nn.init", ".nn.utils", ".optim", ".optim.lr_scheduler",
              ".cuda")


def load_script(engine):
    """The script as a module: with `import torch` meaning PyTorch, or (engine) meaning
    tinygrad_tf.torch, put in torch's place in sys.modules while the file runs."""
    name = "gpt_tutorial_" + ("engine" if engine else "torch")
    spec = importlib.util.spec_from_file_location(name, SCRIPT)
    module = importlib.util.module_from_spec(spec)
    saved = {"torch" + s: sys.modules.get("torch" + s) for s in SUBMODULES}
    try:
        if engine:
            for s in SUBMODULES:
                sys.modules["torch" + s] = importlib.import_module("tinygrad_tf.torch" + s)
        spec.loader.exec_module(module)
    finally:
        for key, value in saved.items():
            if value is None:
                sys.modules.pop(key, None)
            else:
                sys.modules[key] = value
    return module


@pytest.fixture(scope="module")
def ours():
    script = load_script(True)
    assert script.torch is ttorch
    return script


@pytest.fixture(scope="module")
def scripts(ours):
    pytest.importorskip("torch")            # the oracle (the engine's own run needs no torch)
    theirs = load_script(False)
    assert theirs.torch.__name__ == "torch"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)            # small matrices: torch's thread pool only waits on a busy machine
    yield theirs, ours
    torch.set_num_threads(threads)


VOCAB = 11


def batches_for(script, n=100, seed=0):
    """Fixed batches (arrays, not drawn): a periodic text, so there is something to learn."""
    rng = np.random.default_rng(seed)
    text = np.tile(np.arange(VOCAB), 60)
    starts = rng.integers(0, len(text) - script.block_size - 1, size=(n, script.batch_size))
    xs = np.stack([[text[s:s + script.block_size] for s in row] for row in starts])
    ys = np.stack([[text[s + 1:s + script.block_size + 1] for s in row] for row in starts])
    made = [(script.torch.tensor(x, dtype=script.torch.long), script.torch.tensor(y, dtype=script.torch.long))
            for x, y in zip(xs, ys)]
    return lambda it: made[it]


def twin_models(theirs, ours):
    torch.manual_seed(0)
    tmodel = theirs.GPTLanguageModel(VOCAB).to(torch.float64)
    omodel = ours.GPTLanguageModel(VOCAB).to(ttorch.float64)
    state = {k: v.numpy() for k, v in tmodel.state_dict().items()}
    assert sorted(state) == sorted(omodel.state_dict())             # the tril buffers included
    omodel.load_state_dict(state)
    return tmodel, omodel


def test_the_same_file_runs_on_torch_and_on_the_engine_and_agrees_in_float64(scripts):
    theirs, ours = scripts
    tmodel, omodel = twin_models(theirs, ours)
    tb, ob = batches_for(theirs), batches_for(ours)
    (_, tloss), (ologits, oloss) = tmodel(*tb(0)), omodel(*ob(0))
    assert ologits.shape == (theirs.batch_size * theirs.block_size, VOCAB)
    np.testing.assert_allclose(oloss.item(), tloss.item(), rtol=1e-12)
    tloss.backward()
    oloss.backward()
    tgrads = dict(tmodel.named_parameters())
    for name, p in omodel.named_parameters():
        np.testing.assert_allclose(p.grad, tgrads[name].grad.numpy(), rtol=1e-10, atol=1e-13, err_msg=name)
    assert len(tgrads) == len(omodel.parameters())
    tmodel.zero_grad(set_to_none=True)
    omodel.zero_grad(set_to_none=True)
    tlosses, olosses = theirs.train(tmodel, tb, 100), ours.train(omodel, ob, 100)
    np.testing.assert_allclose(olosses, tlosses, rtol=1e-10)
    assert olosses[-1] < 0.25 * olosses[0]
    for name, p in tmodel.state_dict().items():
        np.testing.assert_allclose(omodel.state_dict()[name], p.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)
    sample = omodel.generate(ttorch.zeros((2, 1), dtype=ttorch.long), 20)
    assert sample.shape == (2, 21) and sample.dtype == np.int64
    assert 0 <= sample.data.min() and sample.data.max() < VOCAB


def test_a_float32_run_of_the_script_trains(ours):
    ttorch.manual_seed(1)
    model = ours.GPTLanguageModel(VOCAB).to(ours.device)
    assert model.lm_head.weight.dtype == np.float32
    losses = ours.train(model, batches_for(ours, 60), 60)
    assert losses[0] > 0.8 * math.log(VOCAB) and losses[-1] < 0.3 * losses[0]
    data = ttorch.tensor(np.tile(np.arange(VOCAB), 20), dtype=ttorch.long)
    x, y = ours.get_batch(data)
    assert x.shape == y.shape == (ours.batch_size, ours.block_size)
    np.testing.assert_array_equal((x.data + 1) % VOCAB, y.data)      # y is x moved on by one
