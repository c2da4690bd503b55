"""One training step of a decoder-only language model, by hand in NumPy: the floor
the TransformerLM row is judged against.

The same network as `nn.TransformerLM(activation="gelu", norm_first=True)`:
    x = E[ids]·√d + P[:T]                       token embedding and sinusoidal positions
    x = block(x) for each block                 causal pre-LN GELU blocks (numpy_encoder)
    logits = LN(x) Wᵀ + b                        the final norm and the head
    loss = mean over tokens of -log softmax(logits)[target]
then the backward of every line in reverse, and one Adam update (PyTorch's rule).
Parameters are a dict: "E", "g", "beta", "W", "b", and "blocks", a list of dicts
named as in numpy_encoder. Shapes: B batch, T sequence, d model width, V vocabulary.
"""
import numpy as np

from .numpy_encoder import block_backward, block_forward, layer_norm, layer_norm_backward


def forward_backward(params, ids, targets, positions, n_heads):
    """The loss and the gradient of every parameter, in the layout of `params`."""
    d = params["E"].shape[1]
    scale = float(np.sqrt(d))
    x = params["E"][ids] * scale + positions[:ids.shape[1]]            # (B, T, d)
    caches = []
    for p in params["blocks"]:
        x, cache = block_forward(x, p, n_heads, norm_first=True, causal=True, activation="gelu")
        caches.append(cache)
    h, ln = layer_norm(x, params["g"], params["beta"])
    rows = h.reshape(-1, d)                                            # (B·T, d)
    logits = rows @ params["W"].T + params["b"]                        # (B·T, V)
    z = logits - logits.max(axis=-1, keepdims=True)
    log_probs = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    flat = targets.reshape(-1)
    n = flat.size
    loss = -log_probs[np.arange(n), flat].mean()

    grads = {}
    dlogits = np.exp(log_probs)                                        # softmax − one-hot, over n
    dlogits[np.arange(n), flat] -= 1
    dlogits /= n
    grads["W"], grads["b"] = dlogits.T @ rows, dlogits.sum(axis=0)
    dx, grads["g"], grads["beta"] = layer_norm_backward(
        (dlogits @ params["W"]).reshape(x.shape), params["g"], ln)
    grads["blocks"] = [None] * len(caches)
    for i in reversed(range(len(caches))):
        dx, grads["blocks"][i] = block_backward(dx, params["blocks"][i], caches[i])
    # the embedding: each row of E gets the gradients of every position that read it
    one_hot = np.zeros((ids.size, params["E"].shape[0]), dtype=dx.dtype)
    one_hot[np.arange(ids.size), ids.reshape(-1)] = scale
    grads["E"] = one_hot.T @ dx.reshape(-1, d)                         # (V, d)
    return loss, grads


class Adam:
    """PyTorch's Adam over a parameter tree: m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g²,
    p ← p − (lr / (1−β₁ᵗ)) · m / (√v / √(1−β₂ᵗ) + ε), in place."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        self.lr, (self.b1, self.b2), self.eps, self.t = lr, betas, eps, 0
        self.m = [np.zeros_like(a) for a in leaves(params)]
        self.v = [np.zeros_like(a) for a in leaves(params)]

    def step(self, params, grads):
        self.t += 1
        c1, c2 = 1 - self.b1 ** self.t, np.sqrt(1 - self.b2 ** self.t)
        for a, g, m, v in zip(leaves(params), leaves(grads), self.m, self.v):
            m *= self.b1
            m += (1 - self.b1) * g
            v *= self.b2
            v += (1 - self.b2) * g * g
            a -= (self.lr / c1) * m / (np.sqrt(v) / c2 + self.eps)


def leaves(tree):
    """The arrays of a parameter tree in a fixed order (blocks' entries sorted by name)."""
    out = [tree[k] for k in ("E", "g", "beta", "W", "b")]
    for block in tree["blocks"]:
        out += [block[k] for k in sorted(block)]
    return out
