"""MLP 784→256→256→10 on a batch of 64, float32: one SGD step.

Every engine computes the same thing from the same weights: two ReLU layers, a
linear read-out, softmax cross-entropy against one-hot targets (log_softmax times
the one-hot, summed, over the batch), backward, and `p -= lr * grad`.
The hand-written NumPy version is the floor any NumPy engine can reach.
"""
import numpy as np

import tinygrad_tf as tg

from .compare import assert_agree
from .harness import Workload, optional_import, ratio_at_most, times_of

SIZES = (784, 256, 256, 10)
BATCH = 64
LR = 0.01


def init_params(seed=0):
    """[W1, b1, W2, b2, W3, b3] with W of shape (in, out), float32."""
    rng = np.random.default_rng(seed)
    params = []
    for n_in, n_out in zip(SIZES, SIZES[1:]):
        params.append((rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)).astype(np.float32))
        params.append(np.zeros(n_out, dtype=np.float32))
    return params


def batch(seed=1):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    onehot = np.eye(SIZES[-1], dtype=np.float32)[rng.integers(0, SIZES[-1], BATCH)]
    return x, onehot


def tensor_loss(params, x, onehot):
    """The loss, written once for tinygrad_tf's and PyTorch's tensors alike."""
    W1, b1, W2, b2, W3, b3 = params
    h = (x @ W1 + b1).relu()
    h = (h @ W2 + b2).relu()
    logits = h @ W3 + b3
    return -(logits.log_softmax(-1) * onehot).sum() * (1.0 / len(onehot))


def tensor_grads(params, x, onehot):
    """(loss, [gradient of each parameter]) from cleared gradients, for either tensor engine."""
    for p in params:
        p.grad = None
    loss = tensor_loss(params, x, onehot)
    loss.backward()
    return loss.item(), [np.asarray(p.grad) for p in params]


def autograd_loss(params, x, onehot):
    import autograd.numpy as anp
    from autograd.scipy.special import logsumexp
    W1, b1, W2, b2, W3, b3 = params
    h = anp.maximum(x @ W1 + b1, 0)
    h = anp.maximum(h @ W2 + b2, 0)
    logits = h @ W3 + b3
    log_p = logits - logsumexp(logits, axis=-1, keepdims=True)
    return -anp.sum(log_p * onehot) * (1.0 / len(onehot))


# ------------------------------------------------------------------ numpy by hand

def numpy_grads(params, x, onehot):
    """Forward and backward written out: the chain rule by hand, layer by layer."""
    W1, b1, W2, b2, W3, b3 = params
    n = len(x)
    a1 = x @ W1 + b1                      # (n, 256)
    h1 = np.maximum(a1, 0)
    a2 = h1 @ W2 + b2                     # (n, 256)
    h2 = np.maximum(a2, 0)
    logits = h2 @ W3 + b3                 # (n, 10)
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    p = e / e.sum(axis=1, keepdims=True)  # softmax
    loss = -(onehot * (shifted - np.log(e.sum(axis=1, keepdims=True)))).sum() / n
    d_logits = (p - onehot) / n           # d(cross-entropy)/d(logits) = softmax - onehot
    dW3, db3 = h2.T @ d_logits, d_logits.sum(axis=0)
    d_a2 = (d_logits @ W3.T) * (a2 > 0)   # through the second ReLU
    dW2, db2 = h1.T @ d_a2, d_a2.sum(axis=0)
    d_a1 = (d_a2 @ W2.T) * (a1 > 0)
    dW1, db1 = x.T @ d_a1, d_a1.sum(axis=0)
    return loss, [dW1, db1, dW2, db2, dW3, db3]


# ------------------------------------------------------------------ the workload

def sgd(arrays, grads):
    """p -= lr · grad, in place, for the NumPy-backed engines."""
    for p, g in zip(arrays, grads):
        p -= LR * g


def tensor_engine(to_param, x, onehot, update):
    """(step, grads) for a tensor engine: `to_param` makes a parameter from an array,
    `update(params)` does p -= lr·grad in the engine's own way."""
    params = [to_param(p) for p in init_params()]

    def step():
        tensor_grads(params, x, onehot)
        update(params)

    return step, lambda: tensor_grads([to_param(p) for p in init_params()], x, onehot)


def workload():
    x, onehot = batch()
    engines, grads_of, skipped = {}, {}, {}

    engines["tinygrad_tf"], grads_of["tinygrad_tf"] = tensor_engine(
        lambda p: tg.Tensor(p, requires_grad=True), tg.Tensor(x), tg.Tensor(onehot),
        lambda params: sgd([p.data for p in params], [p.grad for p in params]))

    torch = optional_import("torch")
    if torch is None:
        skipped["torch"] = "not installed"
    else:
        def torch_update(params):
            with torch.no_grad():
                for p in params:
                    p -= LR * p.grad

        engines["torch"], grads_of["torch"] = tensor_engine(
            lambda p: torch.tensor(p, requires_grad=True), torch.from_numpy(x),
            torch.from_numpy(onehot), torch_update)

    autograd = optional_import("autograd")
    if autograd is None:
        skipped["autograd"] = "not installed"
    else:
        value_and_grad = autograd.value_and_grad(autograd_loss)
        ag_params = init_params()

        engines["autograd"] = lambda: sgd(ag_params, value_and_grad(ag_params, x, onehot)[1])
        grads_of["autograd"] = lambda: value_and_grad(init_params(), x, onehot)

    np_params = init_params()

    engines["numpy"] = lambda: sgd(np_params, numpy_grads(np_params, x, onehot)[1])
    grads_of["numpy"] = lambda: numpy_grads(init_params(), x, onehot)

    def verify():
        grads = {}
        for name, fn in grads_of.items():
            loss, g = fn()
            grads[name] = [loss] + list(g)
        return assert_agree(grads, 1e-4)

    return Workload(f"MLP 784→256→256→10, batch {BATCH}, SGD step", engines, verify,
                    skipped=skipped, memory=("tinygrad_tf", "numpy"),
                    targets=[("≤1.10× hand NumPy", ratio_at_most("numpy", 1.10, times_of("numpy")))])
