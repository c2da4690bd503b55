"""One training step of a 2-layer TransformerLM: tinygrad_tf against the same model in PyTorch.

Both are decoder-only, pre-LN, GELU, causal: token embedding ×√d plus sinusoidal
positions, two blocks, a final LayerNorm, a linear head; cross-entropy on the
next token, backward, one Adam step. The PyTorch model is built from
`TransformerEncoderLayer`s and gets tinygrad_tf's initial weights.
"""
import math

import numpy as np

import tinygrad_tf as tg
from tinygrad_tf import nn, optim

from . import numpy_lm
from .compare import assert_agree
from .encoder import TG_NAMES, torch_pairing
from .harness import Workload, optional_import, ratio_at_most, times_of

VOCAB, D_MODEL, N_HEADS, N_LAYERS, D_FF, SEQ, BATCH = 65, 64, 4, 2, 256, 64, 32
LR = 1e-3
NAME = (f"TransformerLM {N_LAYERS} layers (d {D_MODEL}, h {N_HEADS}, vocab {VOCAB}, T {SEQ}, "
        f"B {BATCH}), Adam step")


def token_batch(seed=2):
    """Random ids (batch, seq + 1): inputs are the first `seq`, targets the last `seq`."""
    ids = np.random.default_rng(seed).integers(0, VOCAB, (BATCH, SEQ + 1))
    return ids[:, :-1], ids[:, 1:]


def torch_lm(torch, tg_model):
    """The same network in PyTorch, loaded with `tg_model`'s weights."""
    nn = torch.nn

    class TorchLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.tokens = nn.Embedding(VOCAB, D_MODEL)
            self.register_buffer("positions", torch.from_numpy(
                np.asarray(tg_model.embed.positions[:SEQ], dtype=np.float32)))
            self.layers = nn.ModuleList(
                nn.TransformerEncoderLayer(D_MODEL, N_HEADS, D_FF, dropout=0.0, activation="gelu",
                                           batch_first=True, norm_first=True)
                for _ in range(N_LAYERS))
            self.norm = nn.LayerNorm(D_MODEL)
            self.lm_head = nn.Linear(D_MODEL, VOCAB)
            self.register_buffer("causal", nn.Transformer.generate_square_subsequent_mask(SEQ))

        def forward(self, ids):
            x = self.tokens(ids) * math.sqrt(D_MODEL) + self.positions[:ids.shape[1]]
            for layer in self.layers:
                x = layer(x, src_mask=self.causal, is_causal=True)
            return self.lm_head(self.norm(x))

    model = TorchLM()
    weights = tg_model.state_dict()
    with torch.no_grad():
        for name, param, rows in pairing(weights, model):
            param[rows].copy_(torch.from_numpy(np.array(weights[name])))
    return model


def pairing(tg_names, torch_model):
    """[(tinygrad_tf parameter name, the PyTorch parameter, its rows)]: the two models'
    weights side by side, each block's as `encoder.torch_pairing` pairs them; the
    blocks' prefix (`layers.0.` or `decoder.layers.0.`) is found, not assumed."""
    every = slice(None)
    pairs = [(outside_blocks(tg_names, "tokens.weight"), torch_model.tokens.weight, every)]
    for prefix, layer in zip(block_prefixes(tg_names), torch_model.layers):
        pairs += torch_pairing(layer, D_MODEL, prefix)
    for module, name in ((torch_model.norm, "norm"), (torch_model.lm_head, "lm_head")):
        pairs += [(outside_blocks(tg_names, f"{name}.weight"), module.weight, every),
                  (outside_blocks(tg_names, f"{name}.bias"), module.bias, every)]
    assert {name for name, _, _ in pairs} == set(tg_names), "the two LMs' parameters do not pair up"
    return pairs


def tg_lm():
    return nn.TransformerLM(VOCAB, D_MODEL, N_HEADS, N_LAYERS, D_FF, activation="gelu", norm_first=True)


def tg_loss(model, tokens, targets):
    return nn.functional.cross_entropy(model(tokens), targets)


def tg_step(tokens, targets):
    """A tinygrad_tf LM (fresh weights) and its Adam step: (model, step)."""
    model = tg_lm()
    opt = optim.Adam(model.parameters(), lr=LR)

    def step():
        opt.zero_grad()
        tg_loss(model, tokens, targets).backward()
        opt.step()
    return model, step


def tg_grads(reference, tokens, targets):
    """The loss and {name: gradient} of `reference` on the batch."""
    reference.zero_grad()
    loss = tg_loss(reference, tokens, targets)
    loss.backward()
    return loss.item(), {name: p.grad for name, p in reference.named_parameters()}


def workload():
    torch = optional_import("torch")
    tokens, targets = token_batch()
    engines, skipped, grads_of = {}, {}, {}
    model, engines["tinygrad_tf"] = tg_step(tokens, targets)
    reference = tg_lm()            # fresh weights for the check, shared with PyTorch's copy
    names = list(reference.state_dict())
    grads_of["tinygrad_tf"] = lambda: tg_grads(reference, tokens, targets)

    if torch is None:
        skipped["torch"] = "not installed"
    else:
        t_model = torch_lm(torch, model)
        t_opt = torch.optim.Adam(t_model.parameters(), lr=LR)
        t_tokens, t_targets = torch.from_numpy(tokens), torch.from_numpy(targets)

        def torch_loss(m):
            logits = m(t_tokens)
            return torch.nn.functional.cross_entropy(logits.reshape(-1, VOCAB), t_targets.reshape(-1))

        def torch_step():
            t_opt.zero_grad()
            torch_loss(t_model).backward()
            t_opt.step()

        def torch_grads():
            m = torch_lm(torch, reference)
            loss = torch_loss(m)
            loss.backward()
            return loss.item(), {name: p.grad[rows].numpy() for name, p, rows in pairing(names, m)}

        engines["torch"], grads_of["torch"] = torch_step, torch_grads

    def numpy_params(tg_model):
        """The hand NumPy LM's parameter tree, copied from a tinygrad_tf model's weights."""
        state = {name: np.array(a) for name, a in tg_model.state_dict().items()}
        blocks = block_prefixes(list(state))
        return {"E": state[outside_blocks(state, "tokens.weight")],
                "g": state[outside_blocks(state, "norm.weight")],
                "beta": state[outside_blocks(state, "norm.bias")],
                "W": state[outside_blocks(state, "lm_head.weight")],
                "b": state[outside_blocks(state, "lm_head.bias")],
                "blocks": [{short: state[prefix + long] for short, long in TG_NAMES.items()}
                           for prefix in blocks]}

    positions = np.asarray(model.embed.positions, dtype=np.float32)
    np_params = numpy_params(model)
    np_opt = numpy_lm.Adam(np_params, lr=LR)

    def numpy_step():
        _, grads = numpy_lm.forward_backward(np_params, tokens, targets, positions, N_HEADS)
        np_opt.step(np_params, grads)

    def numpy_grads():
        ref = numpy_params(reference)
        loss, g = numpy_lm.forward_backward(ref, tokens, targets, positions, N_HEADS)
        named = dict(zip(names_of(ref, names), numpy_lm.leaves(g)))
        return loss, named

    engines["numpy"], grads_of["numpy"] = numpy_step, numpy_grads

    def verify():
        grads = {}
        for engine, fn in grads_of.items():
            loss, g = fn()
            grads[engine] = [loss] + [g[name] for name in names]
        return assert_agree(grads, 2e-3)

    goals = [("≤ torch's time", ratio_at_most("torch", 1.0, times_of("torch"))),
             ("≤0.9× hand NumPy", ratio_at_most("numpy", 0.9, times_of("numpy")))]
    return Workload(NAME, engines, verify, skipped=skipped, memory=("tinygrad_tf", "numpy"),
                    targets=goals, note="autograd is not run on the LM (no equivalent written).")


def plain_workload():
    """The same LM step under `tg.plain()` (every fast path as its composition of primitives,
    and the reference backward loop) against the fast path: what readability costs. In
    this row the tinygrad_tf column is the plain step, "fast" the usual one."""
    tokens, targets = token_batch()
    _, fast = tg_step(tokens, targets)
    _, step = tg_step(tokens, targets)
    reference = tg_lm()

    def plain():
        with tg.plain():
            step()

    def plain_grads():
        with tg.plain():
            return tg_grads(reference, tokens, targets)

    def verify():
        grads = {}
        for engine, fn in (("plain", plain_grads), ("fast", lambda: tg_grads(reference, tokens, targets))):
            loss, g = fn()
            grads[engine] = [loss] + [g[name] for name in sorted(g)]
        return assert_agree(grads, 2e-3)

    return Workload(NAME.replace("Adam step", "Adam step under tg.plain()"),
                    {"tinygrad_tf": plain, "fast": fast}, verify,
                    targets=[("≤2× the fast step's time", ratio_at_most("fast", 2.0, times_of("fast")))],
                    note="tg.plain() against the fast path: the tinygrad_tf column is the plain step.")


def outside_blocks(names, suffix):
    """The one parameter name ending in `suffix` that is not inside a block."""
    (name,) = [n for n in names if n.endswith(suffix) and "layers." not in n]
    return name


def block_prefixes(names):
    """The blocks' name prefixes ("decoder.layers.0.", ...) in layer order, found, not assumed."""
    suffix = "self_attn.q_proj.weight"
    return sorted((n[:-len(suffix)] for n in names if n.endswith(suffix)),
                  key=lambda p: int(p.rstrip(".").rsplit(".", 1)[-1]))


def names_of(np_params, tg_names):
    """tinygrad_tf's parameter names in the order of `numpy_lm.leaves(np_params)`."""
    out = [outside_blocks(tg_names, s) for s in ("tokens.weight", "norm.weight", "norm.bias",
                                                  "lm_head.weight", "lm_head.bias")]
    for prefix, block in zip(block_prefixes(tg_names), np_params["blocks"]):
        out += [prefix + TG_NAMES[k] for k in sorted(block)]
    return out
