"""REFERENCE SOLUTIONS for notebook 02 (from scalars to tensors) — try the exercises yourself first."""


def matmul_backward(A, B, G):
    return G @ B.T, A.T @ G                # (n, m)(m, k) and (k, n)(n, m)


def unbroadcast(grad, shape):
    lead = grad.ndim - len(shape)          # axes the input did not have
    grad = grad.sum(axis=tuple(range(lead)))
    ones = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    return grad.sum(axis=ones, keepdims=True).reshape(shape)


def linear_backward(x, W, b, g):
    dx = g @ W                                           # (..., out)(out, in) → (..., in)
    x2, g2 = x.reshape(-1, x.shape[-1]), g.reshape(-1, g.shape[-1])
    dW = g2.T @ x2                                       # summed over every position: (out, in)
    db = g2.sum(axis=0)
    return dx, dW, db
