"""REFERENCE SOLUTIONS for notebook 03 (self-attention) — try the exercises yourself first."""
import numpy as np


def softmax_backward(y, g):
    return y * (g - (g * y).sum(axis=-1, keepdims=True))


def attention_backward(q, k, v, g):
    scale = 1.0 / np.sqrt(q.shape[-1])
    kT = np.swapaxes(k, -1, -2)
    s = q @ kT * scale                                   # (..., q_len, k_len)
    w = np.exp(s - s.max(axis=-1, keepdims=True))
    w /= w.sum(axis=-1, keepdims=True)
    dv = np.swapaxes(w, -1, -2) @ g                      # out = w v
    dw = g @ np.swapaxes(v, -1, -2)
    ds = w * (dw - (dw * w).sum(axis=-1, keepdims=True)) * scale
    return ds @ k, np.swapaxes(ds, -1, -2) @ q, dv
