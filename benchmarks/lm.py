"""One training step of a 2-layer TransformerLM: tinygrad_tf against the same model in PyTorch.

Both are decoder-only, pre-LN, GELU, causal: token embedding ×√d plus sinusoidal
positions, two blocks, a final LayerNorm, a linear head; cross-entropy on the
next token, backward, one Adam step. The PyTorch model is built from
`TransformerEncoderLayer`s and gets tinygrad_tf's initial weights.
"""
import math

import numpy as np

from .compare import assert_agree
from .harness import Workload, optional_import

VOCAB, D_MODEL, N_HEADS, N_LAYERS, D_FF, SEQ, BATCH = 65, 64, 4, 2, 256, 64, 32
LR = 1e-3


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
    w = {k: torch.from_numpy(np.array(v)) for k, v in tg_model.state_dict().items()}
    with torch.no_grad():
        model.tokens.weight.copy_(w["embed.tokens.weight"])
        for tl, i in zip(model.layers, range(N_LAYERS)):
            p = f"layers.{i}."
            sa = tl.self_attn
            sa.in_proj_weight.copy_(torch.cat([w[p + f"self_attn.{n}_proj.weight"] for n in "qkv"]))
            sa.in_proj_bias.copy_(torch.cat([w[p + f"self_attn.{n}_proj.bias"] for n in "qkv"]))
            for module, name in ((sa.out_proj, "self_attn.out_proj"), (tl.linear1, "ffn.up"),
                                 (tl.linear2, "ffn.down"), (tl.norm1, "norm1"), (tl.norm2, "norm2")):
                module.weight.copy_(w[p + name + ".weight"])
                module.bias.copy_(w[p + name + ".bias"])
        for module, name in ((model.norm, "norm"), (model.lm_head, "lm_head")):
            module.weight.copy_(w[name + ".weight"])
            module.bias.copy_(w[name + ".bias"])
    return model


def _torch_grads(model):
    """Gradients in tinygrad_tf's parameter order."""
    g = [model.tokens.weight.grad]
    for tl in model.layers:
        sa = tl.self_attn
        for n in range(3):
            g += [sa.in_proj_weight.grad[n * D_MODEL:(n + 1) * D_MODEL],
                  sa.in_proj_bias.grad[n * D_MODEL:(n + 1) * D_MODEL]]
        for module in (sa.out_proj, tl.norm1, tl.linear1, tl.linear2, tl.norm2):
            g += [module.weight.grad, module.bias.grad]
    g += [model.norm.weight.grad, model.norm.bias.grad, model.lm_head.weight.grad,
          model.lm_head.bias.grad]
    return [t.numpy() for t in g]


def workload():
    nn, optim = optional_import("tinygrad_tf.nn"), optional_import("tinygrad_tf.optim")
    torch = optional_import("torch")
    tokens, targets = token_batch()
    engines, skipped, grads_of = {}, {}, {}
    if nn is None or optim is None or not hasattr(nn, "TransformerLM"):
        skipped["tinygrad_tf"] = "tinygrad_tf.nn.TransformerLM or optim not available"
        return Workload("TransformerLM 2 layers training step", {}, lambda: 0.0, skipped=skipped)

    def tg_model():
        return nn.TransformerLM(VOCAB, D_MODEL, N_HEADS, N_LAYERS, D_FF, activation="gelu",
                                norm_first=True)

    def tg_loss(model):
        return nn.functional.cross_entropy(model(tokens), targets)

    model = tg_model()
    opt = optim.Adam(model.parameters(), lr=LR)

    def tg_step():
        opt.zero_grad()
        tg_loss(model).backward()
        opt.step()

    def tg_grads(model):
        model.zero_grad()
        loss = tg_loss(model)
        loss.backward()
        order = [name for name, _ in model.named_parameters()]
        named = dict(model.named_parameters())
        return [loss.item()] + [named[n].grad for n in order]

    engines["tinygrad_tf"] = tg_step
    reference = tg_model()
    grads_of["tinygrad_tf"] = lambda: tg_grads(reference)

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
            return [loss.item()] + _torch_grads(m)

        engines["torch"] = torch_step
        grads_of["torch"] = torch_grads

    def verify():
        return assert_agree({name: fn() for name, fn in grads_of.items()}, 2e-3)

    return Workload(f"TransformerLM {N_LAYERS} layers (d {D_MODEL}, h {N_HEADS}, vocab {VOCAB}, "
                    f"T {SEQ}, B {BATCH}), Adam step", engines, verify, skipped=skipped,
                    memory=("tinygrad_tf",),
                    note="autograd and hand NumPy are not run on the LM (no equivalent written).")
