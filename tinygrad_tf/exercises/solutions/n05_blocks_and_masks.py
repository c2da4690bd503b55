"""REFERENCE SOLUTIONS for notebook 05 (blocks and masks) — try the exercises yourself first."""
import numpy as np


def causal_mask(q_len, k_len):
    return np.arange(k_len)[None, :] <= np.arange(q_len)[:, None]


def padding_mask(tokens, pad_id):
    return (np.asarray(tokens) != pad_id)[:, None, None, :]


def masked_attention_backward(q, k, v, mask, g):
    scale = 1.0 / np.sqrt(q.shape[-1])
    s = q @ np.swapaxes(k, -1, -2) * scale
    mask = np.broadcast_to(mask, s.shape)
    s = np.where(mask, s, -np.inf)
    top = s.max(axis=-1, keepdims=True)
    e = np.where(mask, np.exp(s - np.where(np.isfinite(top), top, 0.0)), 0.0)
    total = e.sum(axis=-1, keepdims=True)
    w = e / np.where(total > 0, total, 1.0)              # a row with no allowed key: all zeros
    dv = np.swapaxes(w, -1, -2) @ g
    dw = g @ np.swapaxes(v, -1, -2)
    ds = w * (dw - (dw * w).sum(axis=-1, keepdims=True)) * scale
    return ds @ k, np.swapaxes(ds, -1, -2) @ q, dv


def prenorm_block(x, block):
    x = x + block.self_attn(block.norm1(x))
    return x + block.ffn(block.norm2(x))
