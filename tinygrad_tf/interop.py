"""Graduating to PyTorch: our modules, optimizers and tensors as PyTorch's, and back.

    tm = interop.to_torch(model)                  # a torch.nn.Module with our weights
    topt = interop.to_torch_optimizer(opt, tm)    # Adam/AdamW/SGD with our moments
    model = interop.from_torch(tm)                # and back, bit for bit

Each supported module has a torch counterpart built with the same sizes, and a list
of *pairs* saying which of our arrays make which torch array. Most pairs are one to
one; two are packed along the output axis:

    MultiHeadAttention  q_proj, k_proj, v_proj  →  in_proj_weight / in_proj_bias
    FeedForward swiglu  gate, up                →  the first Linear (then SwiGLU)

Copying along the pairs, one way or the other, moves the weights; the same pairs
tell `to_torch_optimizer` where each moment goes. Attention masks flip meaning on
the way: ours say True = may attend, PyTorch's boolean masks True = may NOT.

PyTorch is optional: importing this module without it raises ImportError.
"""
import inspect
import json
import math
import weakref

import numpy as np

try:
    import torch
except ImportError as e:                                      # pragma: no cover (torch is installed in CI)
    raise ImportError("tinygrad_tf.interop needs PyTorch: pip install torch==2.13.0") from e

from . import nn, optim
from .core.tensor import Tensor
from .nn.module import Module, ModuleList, Sequential
from .nn.transformer import LayerStack, TokenEmbedding

__all__ = ["to_torch", "from_torch", "to_torch_optimizer", "tensor_to_torch", "tensor_from_torch",
           "swiglu", "SwiGLU", "TorchFeedForward", "TorchTokenEmbedding", "TorchLayerStack",
           "TorchTransformer", "TorchTransformerLM", "ConversionError", "export", "load_export",
           "model_from_checkpoint"]


class ConversionError(TypeError):
    """A module (or optimizer) that has no equivalent on the other side; the message
    names it and its path."""


# ---------------------------------------------------------------- tensors

def _torch_dtype(np_dtype):
    return torch.from_numpy(np.empty(0, dtype=np_dtype)).dtype


def _numpy(t, what="tensor"):
    """A torch tensor's values as a fresh NumPy array of the same dtype."""
    t = t.detach().cpu().resolve_conj().resolve_neg()
    try:
        return t.numpy().copy()
    except TypeError as e:
        raise TypeError(f"{what}: torch dtype {t.dtype} has no NumPy equivalent; "
                        "convert it first (e.g. .float())") from e


def tensor_to_torch(t):
    """Our Tensor (or array) → a new torch tensor: values copied, dtype kept; a leaf
    that requires grad if ours does."""
    data = t.data if isinstance(t, Tensor) else np.asarray(t)
    out = torch.from_numpy(np.array(data, copy=True))
    return out.requires_grad_(True) if getattr(t, "requires_grad", False) else out


def tensor_from_torch(t):
    """A torch tensor → its values as a NumPy array (a copy, dtype kept); what
    `tg.tensor(torch_tensor)` is made from."""
    return _numpy(t, "tg.tensor")


# ------------------------------------------------------- torch-side modules

def swiglu(h):
    """SwiGLU's gate as an activation: `h` holds [gate, up] side by side on its last
    axis (one Linear computes both) and the output is silu(gate) · up."""
    gate, up = h.chunk(2, dim=-1)
    return torch.nn.functional.silu(gate) * up


class SwiGLU(torch.nn.Module):
    """`swiglu` as a module, for nn.Sequential. (The Transformer layers take the
    function: a module there would not survive PyTorch's deepcopy or pickling of a
    TransformerDecoderLayer, whose __setstate__ resets it to relu.)"""

    def forward(self, h):
        return swiglu(h)


class TorchFeedForward(torch.nn.Sequential):
    """Our FeedForward as `Linear, activation, Linear` (an nn.Sequential, parameters
    `0.*` and `2.*`); for swiglu the first Linear computes gate and up together."""

    def __init__(self, d_model, d_ff, activation="relu", bias=True, dtype=None):
        width = 2 * d_ff if activation == "swiglu" else d_ff
        super().__init__(torch.nn.Linear(d_model, width, bias, dtype=dtype), _activation(activation),
                         torch.nn.Linear(d_ff, d_model, bias, dtype=dtype))
        self.activation = activation


def _activation(name):
    return {"relu": torch.nn.ReLU, "gelu": torch.nn.GELU, "swiglu": SwiGLU}[name]()


class TorchTokenEmbedding(torch.nn.Module):
    """Token ids → embedding · √d_model + sinusoidal position, as our TokenEmbedding.
    The positions are a buffer that is not saved (they are a function of the sizes)."""

    def __init__(self, vocab, d_model, max_len, dropout=0.0, dtype=None):
        super().__init__()
        self.tokens = torch.nn.Embedding(vocab, d_model, dtype=dtype)
        self.dropout = torch.nn.Dropout(dropout)
        self.scale, self.max_len = math.sqrt(d_model), max_len
        positions = torch.from_numpy(nn.transformer.sinusoidal_positions(max_len, d_model))
        self.register_buffer("positions", positions, persistent=False)

    def forward(self, ids):
        seq = ids.shape[-1]
        if seq > self.max_len:
            raise ValueError(f"TorchTokenEmbedding: sequence of length {seq} is longer than "
                             f"max_len = {self.max_len}")
        x = self.tokens(ids)
        return self.dropout(x * self.scale + self.positions[:seq].to(x.dtype))


class TorchLayerStack(torch.nn.Module):
    """Layers applied in turn (`layers`), then the final LayerNorm `norm` when pre-LN."""

    def __init__(self, layers, norm=None):
        super().__init__()
        self.layers = torch.nn.ModuleList(layers)
        self.norm = norm

    def forward(self, x, *args, **kwargs):
        for layer in self.layers:
            x = layer(x, *args, **kwargs)
        return self.norm(x) if self.norm is not None else x


def _block(cls, d_model, n_heads, d_ff, activation, norm_first, dropout, eps=1e-5, dtype=None):
    """A torch Transformer layer for our block; swiglu packs gate and up into linear1."""
    act = "relu" if activation == "relu" else "gelu" if activation == "gelu" else swiglu
    layer = cls(d_model, n_heads, d_ff, dropout=dropout, activation=act, layer_norm_eps=eps,
                batch_first=True, norm_first=norm_first, dtype=dtype)
    if activation == "swiglu":
        layer.linear1 = torch.nn.Linear(d_model, 2 * d_ff, dtype=dtype)
    return layer


def _ids(ids):
    ids = torch.as_tensor(ids)
    return ids[None] if ids.ndim == 1 else ids


def _causal(n, device):
    """PyTorch's boolean causal mask: True above the diagonal (key j > query i is hidden)."""
    return torch.ones(n, n, dtype=torch.bool, device=device).triu(1)


class TorchTransformer(torch.nn.Module):
    """Our `nn.Transformer` in PyTorch, with the same names, sizes and forward:
    forward(src, tgt): token ids (batch, src_len), (batch, tgt_len) → logits
    (batch, tgt_len, tgt_vocab); source positions holding `pad_id` are hidden from
    every attention over them, the decoder's self-attention is causal."""

    def __init__(self, src_vocab, tgt_vocab, d_model=64, n_heads=4, n_layers=2, d_ff=256,
                 activation="relu", norm_first=False, max_len=512, dropout=0.0, pad_id=0, dtype=None):
        super().__init__()
        self.config = dict(src_vocab=src_vocab, tgt_vocab=tgt_vocab, d_model=d_model, n_heads=n_heads,
                           n_layers=n_layers, d_ff=d_ff, activation=activation, norm_first=norm_first,
                           max_len=max_len, dropout=dropout, pad_id=pad_id)
        self.pad_id = pad_id
        self.src_embed = TorchTokenEmbedding(src_vocab, d_model, max_len, dropout, dtype)
        self.tgt_embed = TorchTokenEmbedding(tgt_vocab, d_model, max_len, dropout, dtype)
        block = (d_model, n_heads, d_ff, activation, norm_first, dropout)
        norm = (lambda: torch.nn.LayerNorm(d_model, dtype=dtype)) if norm_first else (lambda: None)
        self.encoder = TorchLayerStack(
            [_block(torch.nn.TransformerEncoderLayer, *block, dtype=dtype) for _ in range(n_layers)], norm())
        self.decoder = TorchLayerStack(
            [_block(torch.nn.TransformerDecoderLayer, *block, dtype=dtype) for _ in range(n_layers)], norm())
        self.generator = torch.nn.Linear(d_model, tgt_vocab, dtype=dtype)

    def encode(self, src):
        """Source ids → memory (batch, src_len, d_model)."""
        src = _ids(src)
        return self.encoder(self.src_embed(src), src_key_padding_mask=src == self.pad_id)

    def decode(self, tgt, memory, src_key_padding_mask):
        """Target ids and memory → decoder output; `src_key_padding_mask` (batch, src_len)
        is True at the source's padding (PyTorch's convention)."""
        tgt = _ids(tgt)
        return self.decoder(self.tgt_embed(tgt), memory, tgt_mask=_causal(tgt.shape[1], tgt.device),
                            memory_key_padding_mask=src_key_padding_mask, tgt_is_causal=True)

    def forward(self, src, tgt):
        src = _ids(src)
        return self.generator(self.decode(tgt, self.encode(src), src == self.pad_id))

    @torch.no_grad()
    def greedy_decode(self, src, max_len, bos_id, eos_id):
        """As ours: the most likely next token each time, from `bos_id`; finished
        sequences are padded with `pad_id`. Returns a LongTensor (batch, ≤ max_len)."""
        src = _ids(src)
        memory, padding = self.encode(src), src == self.pad_id
        out = torch.full((len(src), 1), bos_id, dtype=torch.long, device=src.device)
        done = torch.zeros(len(src), dtype=torch.bool, device=src.device)
        for _ in range(max_len - 1):
            logits = self.generator(self.decode(out, memory, padding)[:, -1])
            nxt = torch.where(done, self.pad_id, logits.argmax(-1))
            out = torch.cat([out, nxt[:, None]], dim=1)
            done |= nxt == eos_id
            if bool(done.all()):
                break
        return out


class TorchTransformerLM(torch.nn.Module):
    """Our `nn.TransformerLM` in PyTorch: forward(tokens (batch, seq)) → logits
    (batch, seq, vocab), causal TransformerEncoderLayers over embeddings + positions."""

    def __init__(self, vocab, d_model=64, n_heads=4, n_layers=2, d_ff=256, activation="gelu",
                 norm_first=True, max_len=256, dropout=0.0, dtype=None):
        super().__init__()
        self.config = dict(vocab=vocab, d_model=d_model, n_heads=n_heads, n_layers=n_layers, d_ff=d_ff,
                           activation=activation, norm_first=norm_first, max_len=max_len, dropout=dropout)
        self.embed = TorchTokenEmbedding(vocab, d_model, max_len, dropout, dtype)
        block = (d_model, n_heads, d_ff, activation, norm_first, dropout)
        self.decoder = TorchLayerStack(
            [_block(torch.nn.TransformerEncoderLayer, *block, dtype=dtype) for _ in range(n_layers)],
            torch.nn.LayerNorm(d_model, dtype=dtype) if norm_first else None)
        self.lm_head = torch.nn.Linear(d_model, vocab, dtype=dtype)

    def forward(self, tokens):
        tokens = _ids(tokens)
        x = self.embed(tokens)
        causal = _causal(tokens.shape[1], tokens.device)
        return self.lm_head(self.decoder(x, src_mask=causal, is_causal=True))


# ------------------------------------------------------------ the pairs
#
# A pair is (torch name, torch owner, torch attribute, [(our owner, our attribute), ...]):
# the torch array is our arrays concatenated along axis 0 (usually just one of them).

def _join(path, name):
    return f"{path}.{name}" if path else name


def _same(ours, theirs, names, path):
    """One-to-one pairs for the arrays `names` that exist on ours."""
    return [(_join(path, k), theirs, k, [(ours, k)]) for k in names if getattr(ours, k, None) is not None]


def _ffn_pairs(ffn, first, second, path, first_name, second_name):
    up = [(ffn.gate, "weight"), (ffn.up, "weight")] if ffn.activation == "swiglu" else [(ffn.up, "weight")]
    out = [(_join(path, f"{first_name}.weight"), first, "weight", up)]
    if ffn.up.bias is not None:
        out.append((_join(path, f"{first_name}.bias"), first, "bias", [(o, "bias") for o, _ in up]))
    return out + _same(ffn.down, second, ("weight", "bias"), _join(path, second_name))


def _mha_pairs(ours, theirs, path):
    projections = (ours.q_proj, ours.k_proj, ours.v_proj)
    out = [(_join(path, "in_proj_weight"), theirs, "in_proj_weight", [(p, "weight") for p in projections])]
    if ours.q_proj.bias is not None:
        out.append((_join(path, "in_proj_bias"), theirs, "in_proj_bias", [(p, "bias") for p in projections]))
    return out + _same(ours.out_proj, theirs.out_proj, ("weight", "bias"), _join(path, "out_proj"))


def _pairs(ours, theirs, path=""):
    """Every pair of `ours` (one of our modules) and `theirs` (its torch counterpart)."""
    sub = lambda name, o=None, t=None: _pairs(o if o is not None else getattr(ours, name),  # noqa: E731
                                              t if t is not None else getattr(theirs, name),
                                              _join(path, name))
    if isinstance(ours, (nn.Linear, nn.Embedding, nn.LayerNorm)):
        return _same(ours, theirs, ("weight", "bias"), path)
    if isinstance(ours, nn.BatchNorm1d):
        return _same(ours, theirs, ("weight", "bias", *nn.BatchNorm1d.buffers), path)
    if isinstance(ours, nn.MultiHeadAttention):
        return _mha_pairs(ours, theirs, path)
    if isinstance(ours, nn.FeedForward):
        return _ffn_pairs(ours, theirs[0], theirs[2], path, "0", "2")
    if isinstance(ours, (nn.EncoderBlock, nn.DecoderBlock)):
        out = sub("self_attn") + sub("norm1") + sub("norm2")
        if isinstance(ours, nn.DecoderBlock):
            out += sub("multihead_attn", ours.cross_attn) + sub("norm3")
        return out + _ffn_pairs(ours.ffn, theirs.linear1, theirs.linear2, path, "linear1", "linear2")
    if isinstance(ours, TokenEmbedding):
        return sub("tokens")
    if isinstance(ours, LayerStack):
        return sub("layers") + (sub("norm") if ours.norm is not None else [])
    if isinstance(ours, nn.Transformer):
        return sum((sub(k) for k in ("src_embed", "tgt_embed", "encoder", "decoder", "generator")), [])
    if isinstance(ours, nn.TransformerLM):
        return sum((sub(k) for k in ("embed", "decoder", "lm_head")), [])
    if isinstance(ours, ModuleList):                              # also Sequential
        return sum((_pairs(o, t, _join(path, str(i))) for i, (o, t) in enumerate(zip(ours, theirs))), [])
    return []                                                     # no arrays: Dropout, activations


def _our_array(owner, name):
    value = getattr(owner, name)
    return value.data if isinstance(value, Tensor) else np.asarray(value)


def _copy_to_torch(pairs):
    """Set each torch array to our arrays (concatenated), dtype and bits kept."""
    for name, owner, attr, parts in pairs:
        arrays = [_our_array(o, k) for o, k in parts]
        array = np.concatenate(arrays) if len(arrays) > 1 else np.array(arrays[0], copy=True)
        current = getattr(owner, attr)
        if tuple(current.shape) != array.shape:
            raise ConversionError(f"to_torch: '{name}' has shape {tuple(current.shape)} in PyTorch "
                                  f"but ours give {array.shape}")
        value = torch.from_numpy(np.array(array, order="C"))   # (ascontiguousarray makes 0-d 1-d)
        setattr(owner, attr, torch.nn.Parameter(value) if isinstance(current, torch.nn.Parameter) else value)


def _copy_from_torch(pairs):
    """Set our arrays from each torch array (split back along axis 0), dtype and bits kept."""
    for name, owner, attr, parts in pairs:
        array = _numpy(getattr(owner, attr), f"from_torch: '{name}'")
        shapes = [np.shape(_our_array(o, k)) for o, k in parts]
        if len(parts) == 1:
            pieces = [array]
        else:                                   # packed: equal blocks along the output axis
            pieces = np.split(array, np.cumsum([s[0] for s in shapes])[:-1])
        if [p.shape for p in pieces] != shapes:
            raise ConversionError(f"from_torch: '{name}' has shape {array.shape}, which does not "
                                  f"match ours {shapes}")
        for (o, k), piece in zip(parts, pieces):
            if isinstance(getattr(o, k), Tensor):
                getattr(o, k).data = np.array(piece, order="C")
            else:
                setattr(o, k, np.array(piece, order="C"))


# which torch parameters came from which of our parameters, for to_torch_optimizer
_origins = weakref.WeakKeyDictionary()


# ---------------------------------------------------------------- to torch

def _where(module, path):
    return f"{type(module).__name__} at '{path}'" if path else type(module).__name__


def _dtype_of(module):
    params = module.parameters()
    return _torch_dtype(params[0].dtype) if params else None


def _one(module, path, what):
    """The single value of an attribute our blocks hold in several places, or an error."""
    values = set(what)
    if len(values) != 1:
        raise ConversionError(f"to_torch: {_where(module, path)} has differing values {sorted(values)} "
                              "where the torch layer has one setting")
    return values.pop()


def _block_settings(block, path):
    """(d_model, n_heads, d_ff, activation, norm_first, dropout, eps) of our block."""
    attns = [block.self_attn] + ([block.cross_attn] if isinstance(block, nn.DecoderBlock) else [])
    norms = [block.norm1, block.norm2] + ([block.norm3] if isinstance(block, nn.DecoderBlock) else [])
    linears = [m for a in attns for m in (a.q_proj, a.out_proj)] + [block.ffn.up, block.ffn.down]
    if any(m.bias is None for m in linears):
        raise ConversionError(f"to_torch: {_where(block, path)} has a Linear without bias; "
                              "PyTorch's Transformer layers have bias everywhere or nowhere")
    dropout = _one(block, path, [block.dropout.p] + [a.dropout for a in attns])
    eps = _one(block, path, [n.eps for n in norms])
    a = block.self_attn
    return (a.d_model, a.n_heads, block.ffn.up.out_features, block.ffn.activation, block.norm_first,
            dropout, eps)


def _model_config(model):
    """The constructor arguments of our Transformer / TransformerLM, read off the model."""
    stack = model.decoder
    first = stack.layers[0] if len(stack.layers) else None
    embed = model.embed if isinstance(model, nn.TransformerLM) else model.tgt_embed
    d_model = embed.tokens.embedding_dim
    config = dict(d_model=d_model, n_heads=first.self_attn.n_heads if first else 1,
                  n_layers=len(stack.layers),
                  d_ff=first.ffn.up.out_features if first else 4 * d_model,
                  activation=first.ffn.activation if first else "relu",
                  norm_first=stack.norm is not None, max_len=embed.max_len, dropout=embed.dropout.p)
    if isinstance(model, nn.TransformerLM):
        return dict(vocab=embed.tokens.num_embeddings, **config)
    return dict(src_vocab=model.src_embed.tokens.num_embeddings, tgt_vocab=embed.tokens.num_embeddings,
                **config, pad_id=model.pad_id)


def _build_torch(module, path, lm=False):
    """An empty torch module of the same shape as ours (weights come after, by the pairs).
    `lm`: inside a TransformerLM, whose forward gives its blocks the causal mask."""
    dtype = _dtype_of(module)
    if isinstance(module, nn.DecoderOnlyBlock) and not lm:
        raise ConversionError(f"to_torch: {_where(module, path)} is always causal, and PyTorch's "
                              "TransformerEncoderLayer is causal only when given the mask: convert "
                              "the whole TransformerLM (its forward passes the mask)")
    if isinstance(module, nn.Linear):
        return torch.nn.Linear(module.in_features, module.out_features, module.bias is not None, dtype=dtype)
    if isinstance(module, nn.Embedding):
        return torch.nn.Embedding(module.num_embeddings, module.embedding_dim, dtype=dtype)
    if isinstance(module, nn.LayerNorm):
        return torch.nn.LayerNorm(module.normalized_shape, eps=module.eps, dtype=dtype)
    if isinstance(module, nn.BatchNorm1d):
        return torch.nn.BatchNorm1d(module.dim, eps=module.eps, momentum=module.momentum, dtype=dtype)
    if type(module) is nn.Dropout:
        return torch.nn.Dropout(module.p)
    if type(module) is nn.GELU:
        return torch.nn.GELU(module.approximate)
    simple = {nn.ReLU: torch.nn.ReLU, nn.SiLU: torch.nn.SiLU, nn.Tanh: torch.nn.Tanh,
              nn.Sigmoid: torch.nn.Sigmoid}
    if type(module) in simple:
        return simple[type(module)]()
    if isinstance(module, nn.MultiHeadAttention):
        return torch.nn.MultiheadAttention(module.d_model, module.n_heads, dropout=module.dropout,
                                           bias=module.q_proj.bias is not None, batch_first=True, dtype=dtype)
    if isinstance(module, nn.FeedForward):
        return TorchFeedForward(module.up.in_features, module.up.out_features, module.activation,
                                module.up.bias is not None, dtype)
    if isinstance(module, nn.EncoderBlock):
        return _block(torch.nn.TransformerEncoderLayer, *_block_settings(module, path), dtype=dtype)
    if isinstance(module, nn.DecoderBlock):
        return _block(torch.nn.TransformerDecoderLayer, *_block_settings(module, path), dtype=dtype)
    if isinstance(module, TokenEmbedding):
        t = module.tokens
        return TorchTokenEmbedding(t.num_embeddings, t.embedding_dim, module.max_len, module.dropout.p, dtype)
    if isinstance(module, (nn.Transformer, nn.TransformerLM)):
        cls = TorchTransformer if isinstance(module, nn.Transformer) else TorchTransformerLM
        theirs = cls(**_model_config(module), dtype=dtype)
        for name, child in module.children():     # each part as it is (a block's own eps, ...)
            setattr(theirs, name, _build_torch(child, _join(path, name), lm=cls is TorchTransformerLM))
        return theirs
    children = lambda: [_build_torch(m, _join(path, str(i))) for i, m in enumerate(module)]  # noqa: E731
    if isinstance(module, LayerStack):
        norm = _build_torch(module.norm, _join(path, "norm")) if module.norm is not None else None
        layers = [_build_torch(m, _join(path, f"layers.{i}"), lm) for i, m in enumerate(module.layers)]
        return TorchLayerStack(layers, norm)
    if type(module) is Sequential:
        return torch.nn.Sequential(*children())
    if type(module) is ModuleList:
        return torch.nn.ModuleList(children())
    raise ConversionError(f"to_torch: {_where(module, path)} has no PyTorch equivalent here "
                          "(see docs/interop.md for what converts)")


def to_torch(module):
    """The torch.nn.Module equivalent to `module`, with copies of its weights (dtype
    kept, bit for bit) and its train/eval mode. See docs/interop.md for the mapping."""
    if not isinstance(module, Module):
        raise TypeError(f"to_torch: expected a tinygrad_tf nn.Module, got {type(module).__name__}")
    theirs = _build_torch(module, "")
    pairs = _pairs(module, theirs)
    _copy_to_torch(pairs)
    _origins[theirs] = [(getattr(owner, attr), [getattr(o, k) for o, k in parts])
                        for _, owner, attr, parts in pairs
                        if isinstance(getattr(owner, attr), torch.nn.Parameter)]
    return theirs.train(module.training)


# -------------------------------------------------------------- from torch

def _refuse(module, path, why):
    raise ConversionError(f"from_torch: {_where(module, path)} {why}")


def _activation_name(act, path, owner):
    if act is torch.nn.functional.relu or isinstance(act, torch.nn.ReLU):
        return "relu"
    if (act is torch.nn.functional.gelu or isinstance(act, torch.nn.GELU)) and \
            getattr(act, "approximate", "none") == "none":
        return "gelu"
    if act is swiglu or isinstance(act, SwiGLU):
        return "swiglu"
    _refuse(owner, path, f"has activation {act!r}; ours are relu, gelu (exact) and SwiGLU")


def _check_mha(m, path):
    if not m.batch_first:
        _refuse(m, path, "has batch_first=False; ours take (batch, seq, d_model): make it with "
                "batch_first=True")
    if not m._qkv_same_embed_dim or m.bias_k is not None or m.add_zero_attn:
        _refuse(m, path, "uses kdim/vdim, add_bias_kv or add_zero_attn, which ours do not have")


def _ours_block(m, path, lm=False):
    """Our block for a torch Transformer layer (checked), with the layer's settings;
    `lm`: a TransformerLM's layer, a DecoderOnlyBlock."""
    decoder = isinstance(m, torch.nn.TransformerDecoderLayer)
    attns = [m.self_attn] + ([m.multihead_attn] if decoder else [])
    for i, a in enumerate(attns):
        _check_mha(a, _join(path, ("self_attn", "multihead_attn")[i]))
    if m.linear1.bias is None or m.norm1.bias is None:
        _refuse(m, path, "was made with bias=False; our blocks have biases")
    norms = [m.norm1, m.norm2] + ([m.norm3] if decoder else [])
    if len({n.eps for n in norms}) != 1:
        _refuse(m, path, "has LayerNorms with different eps")
    drops = {m.dropout.p, m.dropout1.p, m.dropout2.p} | {a.dropout for a in attns}
    drops |= {m.dropout3.p} if decoder else set()
    if len(drops) != 1:
        _refuse(m, path, f"has different dropout rates {sorted(drops)}; ours have one per block")
    activation = _activation_name(m.activation, path, m)
    d_ff = m.linear2.in_features
    cls = nn.DecoderBlock if decoder else nn.DecoderOnlyBlock if lm else nn.EncoderBlock
    block = cls(m.self_attn.embed_dim, m.self_attn.num_heads, d_ff, activation, m.norm_first, drops.pop())
    for norm in [block.norm1, block.norm2] + ([block.norm3] if decoder else []):
        norm.eps = norms[0].eps
    return block


def _build_ours(m, path, lm=False):
    """An empty module of ours shaped like the torch module `m` (`lm`: inside a TransformerLM)."""
    if isinstance(m, torch.nn.Linear):
        return nn.Linear(m.in_features, m.out_features, m.bias is not None)
    if isinstance(m, torch.nn.Embedding):
        if m.padding_idx is not None or m.max_norm is not None or m.scale_grad_by_freq or m.sparse:
            _refuse(m, path, "uses padding_idx, max_norm, scale_grad_by_freq or sparse, which ours "
                    "do not have")
        return nn.Embedding(m.num_embeddings, m.embedding_dim)
    if isinstance(m, torch.nn.LayerNorm):
        if not m.elementwise_affine or m.bias is None:
            _refuse(m, path, "has no weight or no bias; ours has both")
        shape = tuple(m.normalized_shape)
        return nn.LayerNorm(shape[0] if len(shape) == 1 else shape, eps=m.eps)
    if isinstance(m, torch.nn.BatchNorm1d):
        if not m.affine or not m.track_running_stats or m.momentum is None:
            _refuse(m, path, "has affine=False, no running statistics or momentum=None; ours has all three")
        return nn.BatchNorm1d(m.num_features, eps=m.eps, momentum=m.momentum)
    if type(m) is torch.nn.Dropout:
        return nn.Dropout(m.p)
    if type(m) is torch.nn.GELU:
        return nn.GELU(m.approximate)
    simple = {torch.nn.ReLU: nn.ReLU, torch.nn.SiLU: nn.SiLU, torch.nn.Tanh: nn.Tanh,
              torch.nn.Sigmoid: nn.Sigmoid}
    if type(m) in simple:
        return simple[type(m)]()
    if isinstance(m, torch.nn.MultiheadAttention):
        _check_mha(m, path)
        return nn.MultiHeadAttention(m.embed_dim, m.num_heads, bias=m.in_proj_bias is not None,
                                     dropout=m.dropout)
    if isinstance(m, TorchFeedForward):
        first, act, last = m
        return nn.FeedForward(first.in_features, last.in_features, _activation_name(act, path, m),
                              first.bias is not None)
    if isinstance(m, (torch.nn.TransformerEncoderLayer, torch.nn.TransformerDecoderLayer)):
        return _ours_block(m, path, lm)
    if isinstance(m, (TorchTransformer, TorchTransformerLM)):
        model = (nn.Transformer if isinstance(m, TorchTransformer) else nn.TransformerLM)(**m.config)
        for name, child in m.named_children():     # each part as it is (a layer's own eps, ...)
            setattr(model, name, _build_ours(child, _join(path, name), isinstance(m, TorchTransformerLM)))
        return model
    if isinstance(m, TorchTokenEmbedding):
        return TokenEmbedding(m.tokens.num_embeddings, m.tokens.embedding_dim, m.max_len, m.dropout.p)
    if isinstance(m, TorchLayerStack):
        layers = [_build_ours(x, _join(path, f"layers.{i}"), lm) for i, x in enumerate(m.layers)]
        d_model = m.norm.normalized_shape[0] if m.norm is not None else 0
        stack = LayerStack(layers, d_model, m.norm is not None)
        if m.norm is not None:
            stack.norm = _build_ours(m.norm, _join(path, "norm"))
        return stack
    if type(m) is torch.nn.Sequential:
        return Sequential(*[_build_ours(x, _join(path, str(i))) for i, x in enumerate(m)])
    if type(m) is torch.nn.ModuleList:
        return ModuleList([_build_ours(x, _join(path, str(i))) for i, x in enumerate(m)])
    raise ConversionError(f"from_torch: {_where(m, path)} has no tinygrad_tf equivalent "
                          "(see docs/interop.md for what converts)")


def _unwrap(torch_module):
    """The model inside a DistributedDataParallel (or DataParallel) wrapper."""
    wrappers = (torch.nn.parallel.DistributedDataParallel, torch.nn.DataParallel)
    return torch_module.module if isinstance(torch_module, wrappers) else torch_module


def from_torch(torch_module):
    """Our module equivalent to `torch_module` (a torch layer from the table in
    docs/interop.md, or a module `to_torch` made), with copies of its weights (dtype
    kept, bit for bit) and its train/eval mode. A DistributedDataParallel wrapper is
    looked through."""
    torch_module = _unwrap(torch_module)
    if not isinstance(torch_module, torch.nn.Module):
        raise TypeError(f"from_torch: expected a torch.nn.Module, got {type(torch_module).__name__}")
    ours = _build_ours(torch_module, "")
    _copy_from_torch(_pairs(ours, torch_module))
    return ours.train(torch_module.training)


# --------------------------------------------------------------- optimizers


def to_torch_optimizer(opt, torch_module):
    """A torch.optim optimizer over `torch_module` (made by `to_torch` from the model
    `opt` trains) that continues where `opt` stopped: the same class (SGD, Adam,
    AdamW), parameter groups with their hyper-parameters (learning rate included),
    step counts and moments."""
    torch_module = _unwrap(torch_module)
    origins = _origins.get(torch_module)
    if origins is None:
        raise ConversionError("to_torch_optimizer: this torch module was not made by interop.to_torch "
                              "in this process; convert the model, then its optimizer")
    if isinstance(opt, optim.Adam):        # AdamW too
        cls = torch.optim.AdamW if opt.decoupled else torch.optim.Adam
    elif isinstance(opt, optim.SGD):
        cls = torch.optim.SGD
    else:
        raise ConversionError(f"to_torch_optimizer: {type(opt).__name__} has no PyTorch counterpart here "
                              "(SGD, Adam and AdamW convert)")
    index = {id(p): i for i, p in enumerate(opt.params)}          # position in opt.state
    group_of = {id(p): g for g, group in enumerate(opt.param_groups) for p in group["params"]}
    chosen = []                                 # (position, group, torch param, our params)
    for theirs, ours in origins:
        inside = [id(p) in index for p in ours]
        if any(inside) and not all(inside) or len({group_of.get(id(p)) for p in ours}) > 1:
            raise ConversionError("to_torch_optimizer: PyTorch packs arrays that this optimizer treats "
                                  "apart into one parameter (e.g. trains q_proj but not k_proj, or has "
                                  "them in different parameter groups)")
        if all(inside):
            chosen.append((min(index[id(p)] for p in ours), group_of[id(ours[0])], theirs, ours))
    if len({id(p) for *_, ours in chosen for p in ours}) != len(opt.params):
        raise ConversionError("to_torch_optimizer: the optimizer trains parameters that are not in "
                              "this torch module")
    chosen.sort(key=lambda c: c[0])
    groups = [{**{k: v for k, v in group.items() if k != "params"},
               "params": [theirs for _, g_, theirs, _ in chosen if g_ == g]}
              for g, group in enumerate(opt.param_groups)]
    topt = cls([group for group in groups if group["params"]])
    for _, _, theirs, ours in chosen:
        states = [opt.state[index[id(p)]] for p in ours]
        keys = set(states[0])
        if any(set(s) != keys for s in states) or len({s.get("step") for s in states}) > 1:
            raise ConversionError("to_torch_optimizer: arrays packed into one torch parameter have "
                                  "different optimizer states (steps)")
        state = {}
        for key in keys:
            if key == "step":
                state["step"] = torch.tensor(float(states[0]["step"]), dtype=torch.float32)
            else:
                state[key] = torch.from_numpy(np.concatenate([np.asarray(s[key]) for s in states]))
        if state:
            topt.state[theirs] = state
    return topt


# ------------------------------------------------------------------ export

def model_from_checkpoint(path):
    """Our Transformer / TransformerLM from `tg.save` of a model's state_dict (its names
    may carry a `model.` prefix) with the constructor's settings as JSON under `config`
    (or `meta.config`). (The demo's own checkpoints are read by the demo, which knows
    their format: `tinygrad_tf.demo.checkpoint_model`.)
    What the weights' shapes say (vocabularies, d_model, layers, d_ff, swiglu,
    pre-LN) is read from them; n_heads must be in the config."""
    from .io import CheckpointError, load
    state = load(path)
    text = state.get("config", state.get("meta.config"))
    config = json.loads(str(text)) if text is not None else {}
    prefixed = any(k.startswith("model.") for k in state)
    weights = {k[6:] if prefixed else k: v for k, v in state.items()
               if (k.startswith("model.") if prefixed else k != "config" and not k.startswith("meta."))}
    lm = "embed.tokens.weight" in weights
    if not lm and "src_embed.tokens.weight" not in weights:
        raise CheckpointError(f"export: '{path}' holds no Transformer or TransformerLM weights (no "
                              f"'src_embed.tokens.weight' or 'embed.tokens.weight' among "
                              f"{', '.join(sorted(weights)[:4])}, ...)")
    cls = nn.TransformerLM if lm else nn.Transformer
    stack = "decoder" if lm else "encoder"
    layer0 = f"{stack}.layers.0.ffn."
    seen = dict(n_layers=len({k.split(".")[2] for k in weights if k.startswith(f"{stack}.layers.")}),
                norm_first=f"{stack}.norm.weight" in weights)
    if lm:
        seen["vocab"], seen["d_model"] = weights["embed.tokens.weight"].shape
    else:
        seen["src_vocab"], seen["d_model"] = weights["src_embed.tokens.weight"].shape
        seen["tgt_vocab"] = weights["tgt_embed.tokens.weight"].shape[0]
    if seen["n_layers"]:
        seen["d_ff"] = weights[layer0 + "up.weight"].shape[0]
        if layer0 + "gate.weight" in weights:
            seen["activation"] = "swiglu"
    known = inspect.signature(cls).parameters
    settings = {k: v for k, v in config.items() if k in known}
    clash = {k: (settings[k], v) for k, v in seen.items() if k in settings and settings[k] != v}
    if clash:
        raise CheckpointError(f"export: '{path}': the config disagrees with the weights on {clash} "
                              "(config, weights)")
    if "n_heads" not in settings:
        raise CheckpointError(f"export: '{path}' does not say n_heads (the weights cannot tell it): "
                              "save the model's settings too, e.g. tg.save({**model.state_dict(), "
                              "'config': json.dumps({'n_heads': 4, ...})}, path)")
    model = cls(**{**settings, **seen})
    try:
        model.load_state_dict(weights)
    except ValueError as e:
        raise CheckpointError(f"export: '{path}': {e}") from e
    return model.eval()


EXPORT_FORMAT = "tinygrad_tf.export/1"


def export(model, output):
    """Write `model` (ours, a Transformer or TransformerLM) to `output` with torch.save
    as what PyTorch's safe `torch.load(output)` (weights_only=True) reads, with no
    tinygrad_tf needed: a dict of
        "state_dict"  the weights under the names of TorchTransformer(LM), which are
                      torch.nn's own (encoder.layers.0.self_attn.in_proj_weight, ...)
        "config"      the constructor's settings (numbers, strings, bools)
        "class"       "TorchTransformer" or "TorchTransformerLM";  "format"
    docs/interop.md rebuilds the model from it in plain torch.nn. Returns the torch module."""
    import os
    directory = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"export: directory '{directory}' does not exist (writing '{output}')")
    theirs = to_torch(model).eval()
    if not isinstance(theirs, (TorchTransformer, TorchTransformerLM)):
        raise ConversionError(f"export: writes a Transformer or TransformerLM, not a {type(model).__name__}")
    torch.save({"format": EXPORT_FORMAT, "class": type(theirs).__name__,
                "config": json.loads(json.dumps(theirs.config)),       # plain Python values only
                "state_dict": theirs.state_dict()}, output)
    return theirs


def load_export(path):
    """The TorchTransformer(LM) that `export` wrote to `path`, read with torch.load's safe
    default (weights_only=True), in eval mode."""
    saved = torch.load(path)
    if not isinstance(saved, dict) or saved.get("format") != EXPORT_FORMAT:
        raise ValueError(f"load_export: '{path}' was not written by tinygrad_tf's export")
    cls = {"TorchTransformer": TorchTransformer, "TorchTransformerLM": TorchTransformerLM}[saved["class"]]
    theirs = cls(**saved["config"])
    theirs.load_state_dict(saved["state_dict"])
    return theirs.eval()
