"""REFERENCE SOLUTIONS for notebook 06 (residual connections) — try the exercises yourself first."""
import numpy as np


def residual_stack_backward(h0, weights, biases, g):
    hs, h = [], h0
    for W, b in zip(weights, biases):                    # forward, keeping each layer's tanh
        t = np.tanh(h @ W.T + b)
        hs.append(t)
        h = h + t
    for W, t in zip(reversed(weights), reversed(hs)):    # backward: skip + branch
        g = g + ((1 - t * t) * g) @ W
    return g
