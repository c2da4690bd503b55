"""REFERENCE SOLUTIONS for notebook 09 (backpropagation end to end) — try the exercises yourself first.

encoder_block_backward is the "backprop ninja" one: the whole post-LN encoder block by
hand, built from the earlier solutions."""

import numpy as np

from tinygrad_tf.exercises.solutions.n03_self_attention import attention_backward
from tinygrad_tf.exercises.solutions.n07_layernorm_vs_batchnorm import layernorm_backward, layernorm_forward
from tinygrad_tf.exercises.solutions.n08_feed_forward import ffn_backward

EPS = 1e-5  # nn.LayerNorm's default


def cross_entropy_backward(logits, targets, ignore_index=None):
    p = np.exp(logits - logits.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    keep = np.ones(targets.shape, dtype=bool) if ignore_index is None else targets != ignore_index
    onehot = np.eye(logits.shape[-1])[np.where(keep, targets, 0)]
    return (p - onehot) * keep[..., None] / keep.sum()


def sinusoidal_positions(max_len, d_model):
    angle = np.arange(max_len)[:, None] / 10000 ** (np.arange(0, d_model, 2) / d_model)
    out = np.zeros((max_len, d_model))
    out[:, 0::2] = np.sin(angle)
    out[:, 1::2] = np.cos(angle[:, : d_model // 2])
    return out


def _heads(a, n):  # (B, T, d) → (B, n, T, d/n)
    b, t, d = a.shape
    return a.reshape(b, t, n, d // n).transpose(0, 2, 1, 3)


def _merge(a):  # (B, n, T, d/n) → (B, T, d)
    b, n, t, dh = a.shape
    return a.transpose(0, 2, 1, 3).reshape(b, t, n * dh)


def _linear_grads(x, W, dy):
    flat = lambda a: a.reshape(-1, a.shape[-1])
    return dy @ W, flat(dy).T @ flat(x), flat(dy).sum(0)


def encoder_block_backward(x, params, g, n_heads):
    P = params
    lin = lambda a, name: a @ P[name + ".weight"].T + P[name + ".bias"]
    # forward: a = self_attn(x); h = norm1(x + a); f = ffn(h); y = norm2(h + f)
    q, k, v = (_heads(lin(x, f"self_attn.{p}_proj"), n_heads) for p in "qkv")
    s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(q.shape[-1])
    w = np.exp(s - s.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    o = _merge(w @ v)
    r1 = x + lin(o, "self_attn.out_proj")
    h = layernorm_forward(r1, P["norm1.weight"], P["norm1.bias"], EPS)
    r2 = h + lin(np.maximum(lin(h, "ffn.up"), 0), "ffn.down")
    grads = {}
    # backward, sublayer by sublayer
    dr2, grads["norm2.weight"], grads["norm2.bias"] = layernorm_backward(r2, P["norm2.weight"], g, EPS)
    dh_ffn, grads["ffn.up.weight"], grads["ffn.up.bias"], grads["ffn.down.weight"], grads["ffn.down.bias"] = (
        ffn_backward(h, P["ffn.up.weight"], P["ffn.up.bias"], P["ffn.down.weight"], P["ffn.down.bias"], dr2)
    )
    dh = dr2 + dh_ffn  # skip + branch
    dr1, grads["norm1.weight"], grads["norm1.bias"] = layernorm_backward(r1, P["norm1.weight"], dh, EPS)
    do, grads["self_attn.out_proj.weight"], grads["self_attn.out_proj.bias"] = _linear_grads(
        o, P["self_attn.out_proj.weight"], dr1
    )
    dq, dk, dv = attention_backward(q, k, v, _heads(do, n_heads))
    dx = dr1  # the skip
    for p, d in zip("qkv", (dq, dk, dv)):
        name = f"self_attn.{p}_proj"
        dx_p, grads[name + ".weight"], grads[name + ".bias"] = _linear_grads(
            x, P[name + ".weight"], _merge(d)
        )
        dx = dx + dx_p  # x feeds q, k and v
    grads["x"] = dx
    return grads
