"""REFERENCE SOLUTIONS for notebook 11 (why did it say 動物?) — try the exercises yourself first."""
import numpy as np


def gradient_times_input(x, g):
    return (x * g).sum(axis=-1)                      # one score per token: sum over the features


def integrated_gradients(f_grad, x, baseline, steps):
    total = np.zeros_like(x, dtype=np.float64)
    for k in range(steps):
        alpha = (k + 0.5) / steps                    # the midpoint of the k-th of `steps` pieces of [0, 1]
        total += f_grad(baseline + alpha * (x - baseline))
    return (x - baseline) * total / steps
