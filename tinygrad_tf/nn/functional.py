"""Stateless functions on Tensors: activations, normalisation, attention, losses.

`from tinygrad_tf.nn import functional as F`. Layers in `nn` are thin modules
holding parameters around these; each function records a few primitives (or one
fused op from `fused.py`), so its backward is the engine's.
"""
import math

import numpy as np

from .. import fused
from ..tensor import Tensor, _check_broadcast, apply

# ------------------------------------------------------------------ helpers


def _array(x):
    """The np.ndarray inside a Tensor, or `x` as an array."""
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def _check_ids(ids, n, what, noun, kept=True):
    """Raise an IndexError naming the first integer id (where `kept`) outside 0..n-1
    and its position. `what` begins the message ("cross_entropy: target id"), `noun`
    says what the n things are ("classes")."""
    bad = kept & ((ids < 0) | (ids >= n))
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise IndexError(f"{what} {ids[where]} at position {where} is out of range for {n} "
                         f"{noun} (ids must be in 0..{n - 1})")


# The random numbers of initialisation and dropout; `nn.manual_seed(seed)` resets them.
generator = np.random.default_rng()


def manual_seed(seed):
    """Make parameter initialisation and dropout repeatable."""
    global generator
    generator = np.random.default_rng(seed)


# -------------------------------------------------------------- activations

def relu(x):
    return x.relu()


def gelu(x, approximate="none"):
    """x·Φ(x), Φ the standard normal CDF; `approximate="tanh"` for GPT-2's form."""
    return x.gelu(approximate)


def silu(x):
    """x·σ(x) (also called swish)."""
    return x.silu()


def softmax(x, axis=-1):
    return x.softmax(axis)


def log_softmax(x, axis=-1):
    return x.log_softmax(axis)


def dropout(x, p=0.5, training=True):
    """Zero each element with probability p and scale the rest by 1/(1-p), so the
    expected value is unchanged; the identity when not training or p == 0."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout: p must be in [0, 1), got {p}")
    if not training or p == 0.0:
        return x
    keep = (generator.random(x.shape) >= p).astype(x.dtype)
    return x * (keep * (1.0 / (1.0 - p)))             # a Python float: float32 stays float32


# ----------------------------------------------------------------- layers

def linear(x, weight, bias=None):
    """x Wᵀ + b with W of shape (out, in), PyTorch's layout (one fused op)."""
    if x.shape[-1:] != weight.shape[1:]:
        raise ValueError(f"linear: input of shape {x.shape} has last dimension "
                         f"{x.shape[-1] if x.ndim else None}, but the weight {weight.shape} "
                         f"expects {weight.shape[1]}")
    args = (x, weight) if bias is None else (x, weight, bias)
    return apply(fused.Linear, *args)


def embedding(ids, weight):
    """Row ids[p] of `weight` (num, dim) for each position p: (*ids.shape, dim).
    Every id must be an integer in 0..num-1 (a negative one is an error, not a row
    counted from the end)."""
    ids = _array(ids)
    if not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"embedding: ids must be integers, not {ids.dtype}")
    _check_ids(ids, weight.shape[0], "embedding: id", "rows")
    return apply(fused.Embedding, weight, ids=ids)


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """(x - mean)/√(var + eps)·weight + bias over the last len(normalized_shape) axes,
    with the biased variance (divide by n), as PyTorch."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if x.shape[x.ndim - len(shape):] != shape:
        raise ValueError(f"layer_norm: input of shape {x.shape} does not end in {shape}")
    weight = weight if weight is not None else Tensor(np.ones(shape, dtype=x.dtype))
    bias = bias if bias is not None else Tensor(np.zeros(shape, dtype=x.dtype))
    return apply(fused.LayerNorm, x, weight, bias, eps=float(eps))


# ---------------------------------------------------------------- attention

def padding_mask(tokens, pad_id):
    """(batch, 1, 1, seq) boolean mask, True where the token is not `pad_id`: every
    query may attend to every real token (broadcast over heads and queries)."""
    tokens = _array(tokens)
    if tokens.ndim != 2:
        raise ValueError(f"padding_mask: tokens should be (batch, seq), got shape {tokens.shape}")
    return (tokens != pad_id)[:, None, None, :]


def causal_mask(q_len, k_len=None):
    """(q_len, k_len) boolean mask, True where key j <= query i."""
    return np.tri(q_len, k_len if k_len is not None else q_len, dtype=bool)


def attention_mask(scores_shape, mask=None, causal=False, what="attention"):
    """The boolean mask `MaskedSoftmax` wants (or None): `mask` and the causal mask
    combined, after checking that it broadcasts to the scores (..., q_len, k_len)."""
    if mask is not None:
        mask = _array(mask)
        if mask.dtype != np.bool_:
            raise TypeError(f"{what}: the mask must be boolean (True = may attend), not {mask.dtype}")
        try:
            if np.broadcast_shapes(mask.shape, scores_shape) != tuple(scores_shape):
                raise ValueError
        except ValueError:
            raise ValueError(
                f"{what}: mask of shape {mask.shape} does not broadcast to the attention "
                f"scores (batch, n_heads, q_len, k_len) = {tuple(scores_shape)}") from None
    if causal:
        tri = causal_mask(*scores_shape[-2:])
        mask = tri if mask is None else mask & tri
    return mask


def scaled_dot_product_attention(q, k, v, mask=None, causal=False, dropout_p=0.0):
    """softmax(q kᵀ/√d_head) v on (..., seq, d_head) tensors → (out, weights).

    `mask` is boolean, True = may attend, broadcastable to (..., q_len, k_len);
    `causal=True` also forbids key j > query i. Forbidden places get weight exactly 0,
    and a query with no allowed key gets all-zero weights (and output), never NaN.
    `dropout_p` > 0 drops weights on every call, as PyTorch's (pass 0 in eval, as
    MultiHeadAttention does); the weights returned are those before dropout.
    """
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"scaled_dot_product_attention: q {q.shape}, k {k.shape}, v {v.shape} "
                         "need q and k to share d_head and k and v to share seq")
    scores_shape = _check_broadcast("scaled_dot_product_attention", q.shape[:-2], k.shape[:-2])
    scores_shape += (q.shape[-2], k.shape[-2])
    mask = attention_mask(scores_shape, mask, causal, "scaled_dot_product_attention")
    scores = q @ k.transpose(-2, -1)                                    # (..., q_len, k_len)
    weights = apply(fused.MaskedSoftmax, scores, mask=mask, scale=1.0 / math.sqrt(q.shape[-1]))
    return dropout(weights, dropout_p) @ v, weights                     # (..., q_len, d_head)


# -------------------------------------------------------------------- losses

def mse_loss(pred, target):
    """mean((pred - target)²)."""
    return ((pred - target) ** 2).mean()


def cross_entropy(logits, targets, ignore_index=None, label_smoothing=0.0):
    """Mean over the non-ignored positions of -Σ_c q_c log softmax(logits)_c, where the
    target distribution q puts 1 - ε + ε/C on the target class and ε/C on each other
    (ε = label_smoothing; PyTorch's definition). logits (..., C), integer targets (...).
    If every position is ignored the loss is 0 (PyTorch gives NaN)."""
    n_classes = logits.shape[-1]
    targets = _array(targets)
    if not np.issubdtype(targets.dtype, np.integer):
        raise TypeError(f"cross_entropy: targets must be integer class ids, not {targets.dtype}")
    if targets.shape != logits.shape[:-1]:
        raise ValueError(f"cross_entropy: targets of shape {targets.shape} do not match "
                         f"logits of shape {logits.shape} (expected targets {logits.shape[:-1]})")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    kept = targets != ignore_index if ignore_index is not None else np.ones(targets.shape, bool)
    _check_ids(targets, n_classes, "cross_entropy: target id", "classes", kept)
    eps = float(label_smoothing)
    q = np.full(logits.shape, eps / n_classes, dtype=logits.dtype)      # (..., C)
    q[kept, targets[kept]] += 1.0 - eps
    q[~kept] = 0.0
    count = max(int(kept.sum()), 1)
    return (logits.log_softmax(-1) * q).sum() * (-1.0 / count)
