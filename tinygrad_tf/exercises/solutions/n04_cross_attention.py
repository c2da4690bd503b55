"""REFERENCE SOLUTIONS for notebook 04 (cross-attention) — try the exercises yourself first."""
import numpy as np


def memory_backward(dk, dv, Wk, Wv):
    return dk @ Wk + dv @ Wv               # two uses of memory: the gradients add


def cross_attention(x, memory, Wq, Wk, Wv):
    q, k, v = x @ Wq.T, memory @ Wk.T, memory @ Wv.T
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(Wq.shape[0])
    w = np.exp(s - s.max(axis=-1, keepdims=True))
    return w / w.sum(axis=-1, keepdims=True) @ v
