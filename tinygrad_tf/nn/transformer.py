"""Transformer blocks and models: EncoderBlock, DecoderBlock, DecoderOnlyBlock, Transformer,
TransformerLM.

Every sublayer sits on a residual path, `x + sublayer(...)`, recorded with
`tg.residual(skip, branch)` so graphs can tell the skip path from the branch.
The two arrangements differ only in where the LayerNorm goes:

    post-LN (norm_first=False, the 2017 paper):  x = norm(x + sublayer(x))
    pre-LN  (norm_first=True, GPT-2 and later):  x = x + sublayer(norm(x))
"""
import math

import numpy as np

from ..core.engine import no_grad
from ..core.tensor import residual
from . import functional as F
from .attention import MultiHeadAttention
from .layers import Dropout, Embedding, FeedForward, LayerNorm, Linear
from .module import Module, ModuleList, module_name, scoped


class _Block(Module):
    """What both blocks share: the sublayers as they sit on their residual branch
    (PyTorch's `_sa_block` / `_ff_block`: the sublayer, then dropout)."""

    def _sa_block(self, x, mask, causal):
        return self.dropout(self.self_attn(x, mask=mask, causal=causal))

    def _ff_block(self, x):
        return self.dropout(self.ffn(x))


class EncoderBlock(_Block):
    """Self-attention then a feed-forward network, each with a residual and a LayerNorm.
    forward(x, mask=None, causal=False): x (batch, seq, d_model) → the same shape."""

    def __init__(self, d_model, n_heads, d_ff, activation="relu", norm_first=False, dropout=0.0):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout=dropout)
        self.norm1 = LayerNorm(d_model)
        self.ffn = FeedForward(d_model, d_ff, activation)
        self.norm2 = LayerNorm(d_model)
        self.dropout = Dropout(dropout)

    def forward(self, x, mask=None, causal=False):
        x = F._tensor(x, self.norm1.weight)                  # a NumPy array: a constant input
        if self.norm_first:
            x = residual(x, self._sa_block(self.norm1(x), mask, causal))
            x = residual(x, self._ff_block(self.norm2(x)))
        else:
            x = self.norm1(residual(x, self._sa_block(x, mask, causal)))
            x = self.norm2(residual(x, self._ff_block(x)))
        return x


class DecoderOnlyBlock(EncoderBlock):
    """The block of a decoder-only model (GPT's): an EncoderBlock whose self-attention
    is always causal. It has no cross-attention (there is no encoder to attend to),
    so it is not a DecoderBlock. forward(x, mask=None)."""

    def forward(self, x, mask=None):
        return super().forward(x, mask=mask, causal=True)


class DecoderBlock(_Block):
    """Causal self-attention, cross-attention over the encoder's `memory`, then a
    feed-forward network; each with a residual and a LayerNorm.
    forward(x, memory, mask=None, memory_mask=None): `mask` further restricts the
    (always causal) self-attention, `memory_mask` the cross-attention."""

    def __init__(self, d_model, n_heads, d_ff, activation="relu", norm_first=False, dropout=0.0):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout=dropout)
        self.norm1 = LayerNorm(d_model)
        self.cross_attn = MultiHeadAttention(d_model, n_heads, dropout=dropout)
        self.norm2 = LayerNorm(d_model)
        self.ffn = FeedForward(d_model, d_ff, activation)
        self.norm3 = LayerNorm(d_model)
        self.dropout = Dropout(dropout)

    def forward(self, x, memory, mask=None, memory_mask=None):
        x = F._tensor(x, self.norm1.weight)                  # a NumPy array: a constant input
        if self.norm_first:
            x = residual(x, self._sa_block(self.norm1(x), mask, causal=True))
            x = residual(x, self._ca_block(self.norm2(x), memory, memory_mask))
            x = residual(x, self._ff_block(self.norm3(x)))
        else:
            x = self.norm1(residual(x, self._sa_block(x, mask, causal=True)))
            x = self.norm2(residual(x, self._ca_block(x, memory, memory_mask)))
            x = self.norm3(residual(x, self._ff_block(x)))
        return x

    def _ca_block(self, x, memory, memory_mask):
        return self.dropout(self.cross_attn(x, memory, mask=memory_mask))


def sinusoidal_positions(max_len, d_model):
    """The 2017 paper's position codes, (max_len, d_model):
        P[pos, 2i] = sin(pos / 10000^(2i/d_model)),  P[pos, 2i+1] = cos(pos / 10000^(2i/d_model))"""
    pos = np.arange(max_len)[:, None]
    freq = np.exp(-math.log(10000.0) * np.arange(0, d_model, 2) / d_model)    # (ceil(d/2),)
    angles = pos * freq                                                      # (max_len, ceil(d/2))
    out = np.zeros((max_len, d_model))
    out[:, 0::2] = np.sin(angles)
    out[:, 1::2] = np.cos(angles[:, : d_model // 2])
    return out.astype(np.float32)


class TokenEmbedding(Module):
    """Token ids (batch, seq) → embedding·√d_model + sinusoidal position (batch, seq, d_model).
    The table starts at N(0, 1/d_model), so the scaled embedding has unit size, like
    the position codes."""

    def __init__(self, vocab, d_model, max_len, dropout=0.0):
        super().__init__()
        self.tokens = Embedding(vocab, d_model)
        self.tokens.weight.data *= d_model ** -0.5
        self.dropout = Dropout(dropout)
        self.scale, self.max_len = math.sqrt(d_model), max_len
        self.positions = sinusoidal_positions(max_len, d_model)     # a constant, not a parameter

    def forward(self, ids):
        seq = np.shape(ids)[-1]
        if seq > self.max_len:
            raise ValueError(f"{module_name(self)}: sequence of length {seq} is longer than "
                             f"max_len = {self.max_len}")
        x = self.tokens(ids)                                         # (B, T, d_model)
        return self.dropout(x * self.scale + self.positions[:seq].astype(x.dtype, copy=False))


class LayerStack(Module):
    """Blocks applied in turn (`layers`), then a final LayerNorm (`norm`) when pre-LN,
    whose sublayers' outputs would otherwise reach the head un-normalised."""

    def __init__(self, blocks, d_model, norm_first):
        super().__init__()
        self.layers = ModuleList(blocks)
        self.norm = LayerNorm(d_model) if norm_first else None

    def forward(self, x, *args, **kwargs):
        for layer in self.layers:
            x = layer(x, *args, **kwargs)
        return self.norm(x) if self.norm is not None else x


def _ids(tokens):
    """Token ids as a 2-D integer array (batch, seq)."""
    ids = np.asarray(tokens)
    return ids[None] if ids.ndim == 1 else ids


class Transformer(Module):
    """The encoder-decoder of "Attention Is All You Need".

    forward(src, tgt): token ids (batch, src_len), (batch, tgt_len) → logits
    (batch, tgt_len, tgt_vocab) for the token after each target position. Source
    positions holding `pad_id` are masked out of every attention over them.
    """

    def __init__(self, src_vocab, tgt_vocab, d_model=64, n_heads=4, n_layers=2, d_ff=256,
                 activation="relu", norm_first=False, max_len=512, dropout=0.0, pad_id=0):
        super().__init__()
        self.pad_id = pad_id
        self.src_embed = TokenEmbedding(src_vocab, d_model, max_len, dropout)
        self.tgt_embed = TokenEmbedding(tgt_vocab, d_model, max_len, dropout)
        block = (d_model, n_heads, d_ff, activation, norm_first, dropout)
        self.encoder = LayerStack([EncoderBlock(*block) for _ in range(n_layers)], d_model, norm_first)
        self.decoder = LayerStack([DecoderBlock(*block) for _ in range(n_layers)], d_model, norm_first)
        self.generator = Linear(d_model, tgt_vocab)

    @scoped
    def encode(self, src):
        """Source ids (batch, src_len) → memory (batch, src_len, d_model)."""
        src = _ids(src)
        return self.encoder(self.src_embed(src), mask=F.padding_mask(src, self.pad_id))

    @scoped
    def decode(self, tgt, memory, src_mask):
        """Target ids (batch, tgt_len) and the encoder's memory → decoder output
        (batch, tgt_len, d_model); `src_mask` hides the source's padding."""
        return self.decoder(self.tgt_embed(_ids(tgt)), memory, memory_mask=src_mask)

    def forward(self, src, tgt):
        src = _ids(src)
        memory = self.encode(src)
        return self.generator(self.decode(tgt, memory, F.padding_mask(src, self.pad_id)))

    @scoped
    @no_grad()
    def greedy_decode(self, src, max_len, bos_id, eos_id):
        """Translate by always taking the most likely next token: returns an integer
        np.ndarray (batch, ≤ max_len) that starts with `bos_id`; a sequence that has
        produced `eos_id` is padded with `pad_id` until all have finished."""
        if isinstance(max_len, bool) or not isinstance(max_len, (int, np.integer)) or max_len < 1:
            raise ValueError(f"greedy_decode: max_len counts the tokens returned, <bos> included, so "
                             f"it must be an integer >= 1, got {max_len!r}")
        src = _ids(src)
        memory, src_mask = self.encode(src), F.padding_mask(src, self.pad_id)
        out = np.full((len(src), 1), bos_id, dtype=np.int64)
        done = np.zeros(len(src), dtype=bool)
        for _ in range(max_len - 1):
            last = self.decode(out, memory, src_mask)[:, -1]               # (B, d_model)
            nxt = np.where(done, self.pad_id, self.generator(last).data.argmax(axis=-1))
            out = np.concatenate([out, nxt[:, None]], axis=1)
            done |= nxt == eos_id
            if done.all():
                break
        return out


class TransformerLM(Module):
    """A decoder-only language model (GPT's shape): `decoder.layers`, DecoderOnlyBlocks
    (EncoderBlocks with causal self-attention, no cross-attention) over token
    embeddings with sinusoidal positions, a final `decoder.norm` when pre-LN, and
    `lm_head`.
    forward(tokens (batch, seq)) → logits (batch, seq, vocab) for the next token."""

    def __init__(self, vocab, d_model=64, n_heads=4, n_layers=2, d_ff=256, activation="gelu",
                 norm_first=True, max_len=256, dropout=0.0):
        super().__init__()
        self.max_len = max_len
        self.embed = TokenEmbedding(vocab, d_model, max_len, dropout)
        block = (d_model, n_heads, d_ff, activation, norm_first, dropout)
        self.decoder = LayerStack([DecoderOnlyBlock(*block) for _ in range(n_layers)], d_model, norm_first)
        self.lm_head = Linear(d_model, vocab)

    def forward(self, tokens):
        x = self.embed(_ids(tokens))                                       # (B, T, d_model)
        return self.lm_head(self.decoder(x))                               # (B, T, vocab)

    @scoped
    @no_grad()
    def generate(self, tokens, n, temperature=1.0, seed=None):
        """Append `n` sampled tokens to `tokens` ((batch, seq) or (seq,) ids) and return
        them as an integer np.ndarray of the same rank. Each token is drawn from
        softmax(logits / temperature) of the last `max_len` tokens; temperature 0
        takes the most likely one. The same `seed` gives the same tokens."""
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
            raise ValueError(f"{module_name(self)}.generate: n (the number of tokens to add) must be an "
                             f"integer >= 0, got {n!r}")
        if not temperature >= 0:
            raise ValueError(f"{module_name(self)}.generate: temperature must be > 0 (or 0 for the most "
                             f"likely token), got {temperature}")
        ids = np.asarray(tokens)
        out = _ids(ids).astype(np.int64)
        rng = np.random.default_rng(seed)
        for _ in range(n):
            logits = self.forward(out[:, -self.max_len:])[:, -1].data.astype(np.float64)  # (B, vocab)
            if temperature == 0:
                nxt = logits.argmax(axis=-1)
            else:
                z = logits / temperature
                p = np.exp(z - z.max(axis=-1, keepdims=True))
                p /= p.sum(axis=-1, keepdims=True)
                nxt = np.array([rng.choice(len(row), p=row) for row in p])
            out = np.concatenate([out, nxt[:, None]], axis=1)
        return out if ids.ndim > 1 else out[0]
