"""REFERENCE SOLUTIONS for notebook 12 (watching training) — try the exercises yourself first."""
import numpy as np


def adamw_step(p, g, m, v, t, lr, betas, eps, weight_decay):
    beta1, beta2 = betas
    p = p * (1 - lr * weight_decay)                  # decoupled: the weights shrink, g is left alone
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)   # undo the start at zero
    return p - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def clip_grad_norm(grads, max_norm):
    total = float(np.sqrt(sum((g.astype(np.float64) ** 2).sum() for g in grads)))
    coef = max_norm / (total + 1e-6)
    if coef < 1:
        for g in grads:
            g *= coef                                # in place: the caller's arrays change
    return total
