"""Stateless functions on Tensors: activations, normalisation, attention, losses.

`from tinygrad_tf.nn import functional as F`. Layers in `nn` are thin modules
holding parameters around these; each function records a few primitives (or one
fused op from `fused.py`), so its backward is the engine's.
"""
import math
from collections import namedtuple

import numpy as np

from ..core import fused
from ..core.engine import state
from ..core.tensor import (  # noqa: F401 (rng and manual_seed: nn's, shared with tg)
    Tensor,
    apply,
    cat,
    check_broadcast,
    manual_seed,
    rng,
    stack,
    where,
)

# ------------------------------------------------------------------ helpers


def _array(x):
    """The np.ndarray inside a Tensor, or `x` as an array."""
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def _is_float(dtype):
    return np.issubdtype(dtype, np.floating)


def _tensor(x, like=None):
    """`x` as a Tensor: a NumPy array, list or number passed to a layer or function is
    a constant (no gradient). Float data takes the float dtype of `like` (the tensor it
    meets, as in `like + x`), else float32 as `tg.tensor`; integers stay integers."""
    if isinstance(x, Tensor):
        return x
    a = np.asarray(x)
    if a.dtype == object or not (_is_float(a.dtype) or np.issubdtype(a.dtype, np.integer)
                                 or a.dtype == np.bool_):
        raise TypeError(f"expected a Tensor or a NumPy array of numbers, got {type(x).__name__}"
                        + (f" of {a.dtype}" if a.dtype != object else ""))
    if like is not None and _is_float(a.dtype) and _is_float(like.dtype):
        return Tensor._make(a.astype(like.dtype, copy=False))
    return Tensor._make(a.astype(np.float32, copy=False) if _is_float(a.dtype) else a)


def _check_ids(ids, n, what, noun, kept=True):
    """Raise an IndexError naming the first integer id (where `kept`) outside 0..n-1
    and its position. `what` begins the message ("cross_entropy: target id"), `noun`
    says what the n things are ("classes")."""
    bad = kept & ((ids < 0) | (ids >= n))
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise IndexError(f"{what} {ids[where]} at position {where} is out of range for {n} "
                         f"{noun} (ids must be in 0..{n - 1})")


# Initialisation and dropout draw from tensor.rng, which `tg.manual_seed`
# (also `nn.manual_seed`) reseeds in place.
# -------------------------------------------------------------- activations

def relu(x, inplace=False):
    """max(x, 0); `inplace=True` (PyTorch's option) writes it into x, as `x.relu_()`."""
    return _tensor(x).relu_() if inplace else _tensor(x).relu()


def gelu(x, approximate="none"):
    """x·Φ(x), Φ the standard normal CDF; `approximate="tanh"` for GPT-2's form."""
    return _tensor(x).gelu(approximate)


def silu(x):
    """x·σ(x) (also called swish)."""
    return _tensor(x).silu()


def tanh(x):
    return _tensor(x).tanh()


def sigmoid(x):
    return _tensor(x).sigmoid()


def softmax(x, axis=None, dim=None):
    """Over `axis` (or PyTorch's `dim`), the last by default."""
    return _tensor(x).softmax(axis, dim=dim)


def log_softmax(x, axis=None, dim=None):
    """Over `axis` (or PyTorch's `dim`), the last by default."""
    return _tensor(x).log_softmax(axis, dim=dim)


def dropout(x, p=0.5, training=True):
    """Zero each element with probability p and scale the rest by 1/(1-p), so the
    expected value is unchanged; the identity when not training or p == 0."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout: p must be in [0, 1), got {p}")
    x = _tensor(x)
    if not training or p == 0.0:
        return x
    keep = (rng.random(x.shape) >= p).astype(x.dtype)
    return x * (keep * (1.0 / (1.0 - p)))             # a Python float: float32 stays float32


# ----------------------------------------------------------------- layers

def linear(x, weight, bias=None):
    """x Wᵀ + b with W of shape (out, in), PyTorch's layout (one fused op)."""
    weight = _tensor(weight)
    x = _tensor(x, weight)
    bias = None if bias is None else _tensor(bias, weight)
    if x.shape[-1:] != weight.shape[1:]:
        raise ValueError(f"linear: input of shape {x.shape} has last dimension "
                         f"{x.shape[-1] if x.ndim else None}, but the weight {weight.shape} "
                         f"expects {weight.shape[1]}")
    if x.dtype != weight.dtype or (bias is not None and bias.dtype != weight.dtype):
        raise TypeError(f"linear: input is {x.dtype} but the weight is {weight.dtype}"
                        + ("" if bias is None else f" and the bias {bias.dtype}")
                        + " (PyTorch refuses mixed dtypes too); cast the input with x.astype(...) "
                        "or the layer with .astype(...)")
    args = (x, weight) if bias is None else (x, weight, bias)
    if state.plain:            # tg.plain(): matmul, add; fused: one GEMM over every row, bias added in place
        return fused.Linear.plain(*args)
    return apply(fused.Linear, *args)


def embedding(ids, weight):
    """Row ids[p] of `weight` (num, dim) for each position p: (*ids.shape, dim).
    Every id must be an integer in 0..num-1 (a negative one is an error, not a row
    counted from the end)."""
    ids = _array(ids)
    if not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"embedding: ids must be integers, not {ids.dtype}")
    _check_ids(ids, weight.shape[0], "embedding: id", "rows")
    if state.plain:            # tg.plain(): indexing; fused: ∂w as a sparse product, 10× np.add.at
        return fused.Embedding.plain(weight, ids)
    return apply(fused.Embedding, weight, ids=ids)


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """(x - mean)/√(var + eps)·weight + bias over the last len(normalized_shape) axes,
    with the biased variance (divide by n), as PyTorch."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    x = _tensor(x)
    weight, bias = (None if t is None else _tensor(t, x) for t in (weight, bias))
    if x.shape[max(x.ndim - len(shape), 0):] != shape:
        raise ValueError(f"layer_norm: input of shape {x.shape} does not end in {shape}")
    weight = weight if weight is not None else Tensor(np.ones(shape, dtype=x.dtype))
    bias = bias if bias is not None else Tensor(np.zeros(shape, dtype=x.dtype))
    if state.plain:            # tg.plain(): mean, subtract, square, ...; fused: 1 op, not 9, rows as BLAS
        return fused.LayerNorm.plain(x, weight, bias, eps=float(eps))
    return apply(fused.LayerNorm, x, weight, bias, eps=float(eps))


def pad(x, pad, mode="constant", value=0.0):
    """Pad with `value`, as PyTorch's F.pad: `pad` lists (before, after) pairs from the
    LAST axis backwards, `(left, right)` for the last, then `(top, bottom)` for the one
    before, ...; a negative amount cuts that many off. The gradient drops the padding."""
    x = _tensor(x)
    if mode != "constant":
        raise ValueError(f"pad: only mode='constant' is here, not {mode!r}")
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: {tuple(pad)} must be (before, after) pairs for at most the "
                         f"{x.ndim} axes of shape {x.shape}")
    for k in range(len(pad) // 2):
        axis, before, after = x.ndim - 1 - k, int(pad[2 * k]), int(pad[2 * k + 1])
        n = x.shape[axis]
        if n + min(before, 0) + min(after, 0) < 0:
            raise ValueError(f"pad: cutting {-before}, {-after} off an axis of size {n}")
        x = x[(slice(None),) * axis + (slice(-min(before, 0), n + min(after, 0)),)]
        blocks = [np.full(x.shape[:axis] + (m,) + x.shape[axis + 1:], value, dtype=x.dtype)
                  for m in (max(before, 0), max(after, 0))]
        x = cat([blocks[0], x, blocks[1]], axis=axis)
    return x


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


def attention_mask(scores_shape, mask=None, causal=False, what="attention", like=None):
    """The mask `scaled_dot_product_attention` applies, after checking that it broadcasts
    to the scores (..., q_len, k_len), with the causal mask folded in:
      None; a boolean np.ndarray, True = may attend; or, for a float mask (PyTorch's
      additive kind), a float Tensor added to the scaled scores, -inf = may not attend
      (float data takes the dtype of `like`, the queries; a Tensor mask may require grad).
    """
    if mask is not None:
        if not isinstance(mask, Tensor):
            mask = np.asarray(mask)
        if _is_float(mask.dtype):
            mask = _tensor(mask, like)
        elif mask.dtype == np.bool_:
            mask = _array(mask)
        else:
            raise TypeError(f"{what}: the mask must be boolean (True = may attend) or float (added "
                            f"to the scores, -inf = may not attend), not {mask.dtype}")
        try:
            if np.broadcast_shapes(mask.shape, scores_shape) != tuple(scores_shape):
                raise ValueError
        except ValueError:
            raise ValueError(
                f"{what}: mask of shape {mask.shape} does not broadcast to the attention "
                f"scores (batch, n_heads, q_len, k_len) = {tuple(scores_shape)}") from None
    if causal:
        tri = causal_mask(*scores_shape[-2:])
        if mask is None:
            mask = tri
        elif isinstance(mask, Tensor):
            mask = where(tri, mask, -np.inf)
        else:
            mask = mask & tri
    return mask


class Attention(namedtuple("Attention", "out weights")):
    """What `attention` returns: the output and the weights."""
    __slots__ = ()

    def __getattr__(self, name):
        raise AttributeError(f"F.attention returns (out, weights), not the output alone: write "
                             f"`out, weights = F.attention(...)` and use out.{name}")


def attention(q, k, v, mask=None, causal=False, dropout_p=0.0, *, scale=None):
    """softmax(q kᵀ/√d_head + bias) v on (..., seq, d_head) tensors → (out, weights),
    a named tuple `Attention`; `scaled_dot_product_attention` is the same with PyTorch's
    argument order, returning the output alone.

    `mask` broadcasts to (..., q_len, k_len) and is either boolean, True = may attend,
    or float, added to the scaled scores (the `bias`; -inf = may not attend), as
    PyTorch's `attn_mask`. `causal=True` also forbids key j > query i. Forbidden places
    get weight exactly 0, and a query with no allowed key gets all-zero weights (and
    output), never NaN (PyTorch gives NaN for a row of -inf). No keys at all (k_len 0)
    gives an all-zero output, as PyTorch.
    `dropout_p` > 0 drops weights on every call, as PyTorch's (pass 0 in eval, as
    MultiHeadAttention does); the weights returned are those before dropout.
    `scale` replaces 1/√d_head.
    """
    q, k, v = _tensor(q), _tensor(k), _tensor(v)
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2 or q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"attention: q {q.shape}, k {k.shape}, v {v.shape} "
                         "need q and k to share d_head and k and v to share seq")
    scores_shape = check_broadcast("attention", q.shape[:-2], k.shape[:-2])
    scores_shape += (q.shape[-2], k.shape[-2])
    mask = attention_mask(scores_shape, mask, causal, "attention", q)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    scores = q @ k.transpose(-2, -1)                                    # (..., q_len, k_len)
    if isinstance(mask, Tensor):                                        # additive: scale first
        allowed = mask.data > -np.inf
        scores, mask, scale = scores * scale + mask, None if allowed.all() else allowed, 1.0
    if state.plain:            # tg.plain(): scale, mask, max, subtract, exp, sum, divide; fused: 1 op in
        weights = fused.MaskedSoftmax.plain(scores, mask, scale)       # cache-sized blocks
    else:
        weights = apply(fused.MaskedSoftmax, scores, mask=mask, scale=scale)
    return Attention(dropout(weights, dropout_p) @ v, weights)          # (..., q_len, d_head)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False,
                                 scale=None, *, mask=None, causal=None):
    """PyTorch's call, in its argument order, returning the output alone:
    `attention(query, key, value, attn_mask, is_causal, dropout_p, scale=scale).out`.
    `mask=` and `causal=` are accepted as this library's names for `attn_mask` and
    `is_causal`. (The weights: call `attention`, which returns `(out, weights)`.)"""
    if mask is not None:
        if attn_mask is not None:
            raise TypeError("scaled_dot_product_attention: got both attn_mask and mask (the same "
                            "argument, under PyTorch's name and this library's); pass one")
        attn_mask = mask
    is_causal = bool(is_causal) or bool(causal)
    return attention(query, key, value, attn_mask, is_causal, dropout_p, scale=scale).out


# -------------------------------------------------------------------- losses
# Every loss takes reduction="mean" (default), "sum" or "none" (one loss per element
# or position, in the target's shape), as PyTorch. Inputs and targets must have the
# shapes the loss says: a mismatch is an error naming both, never a broadcast.

REDUCTIONS = ("mean", "sum", "none")


def _classes_last_hint(scores_shape, targets_shape):
    """For targets that fit PyTorch's (N, C, d...) layout, where the classes are axis 1:
    how to write it here (the classes are the last axis)."""
    if len(scores_shape) > 2 and tuple(targets_shape) == scores_shape[:1] + scores_shape[2:]:
        return ("; the classes are the last axis here (PyTorch's (N, C, d...) has them on axis 1): "
                "pass x.transpose(1, -1)")
    return ""


def _reduce(losses, reduction, what, count=None):
    """The loss per element reduced as asked; "mean" divides by `count` (default: all)."""
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    if reduction == "mean":
        return losses.mean() if count is None else losses.sum() * (1.0 / max(count, 1))
    raise ValueError(f"{what}: reduction must be one of {REDUCTIONS}, not {reduction!r}")


def _same_shape(what, input, target, names=("input", "target")):
    if target.shape != input.shape:
        raise ValueError(f"{what}: {names[0]} of shape {input.shape} and {names[1]} of shape "
                         f"{target.shape} differ; the loss compares them element by element, "
                         f"so reshape one (it does not broadcast)")


def mse_loss(input, target, reduction="mean"):
    """mean((input - target)²) over every element; input and target of one shape."""
    input = _tensor(input)
    target = _tensor(target, input)
    _same_shape("mse_loss", input, target)
    return _reduce((input - target) ** 2, reduction, "mse_loss")


def cross_entropy(logits, targets, ignore_index=None, label_smoothing=0.0, reduction="mean"):
    """-Σ_c q_c log softmax(logits)_c at each position, for logits (..., C) (classes on the
    last axis) and a target distribution q:
      integer targets (...): class ids; q puts 1 - ε + ε/C on the target class and ε/C
        on each other (ε = label_smoothing); positions whose id is `ignore_index` count
        for nothing, and "mean" divides by the number of the others;
      float targets (..., C): class probabilities p, q = (1 - ε)·p + ε/C ("mean"
        divides by the number of positions). A Tensor p that requires grad gets one.
    Stable for large logits. If every position is ignored the mean is 0 (PyTorch: NaN)."""
    logits = _tensor(logits)
    if logits.ndim == 0:
        raise ValueError("cross_entropy: logits must have a class axis (the last), got a 0-d tensor")
    n_classes = logits.shape[-1]
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    eps = float(label_smoothing)
    count = None
    if isinstance(targets, Tensor) and _is_float(targets.dtype):
        q = targets if targets.dtype == logits.dtype else targets.astype(logits.dtype)
    else:
        q = _array(targets)
    if _is_float(q.dtype):                                             # probabilities
        if q.shape == logits.shape[:-1]:
            raise TypeError(f"cross_entropy: float targets of shape {q.shape} look like class ids: "
                            f"class ids must be integers (e.g. targets.astype(int)); class "
                            f"probabilities would have the logits' shape {logits.shape}")
        _same_shape("cross_entropy", logits, q, ("logits", "probability targets"))
        if eps:
            q = q * (1.0 - eps) + eps / n_classes
        if not isinstance(q, Tensor):
            q = Tensor._make(q.astype(logits.dtype, copy=False))
    else:
        if not np.issubdtype(q.dtype, np.integer):
            raise TypeError(f"cross_entropy: targets must be integer class ids or float class "
                            f"probabilities, not {q.dtype}")
        targets = q
        if targets.shape != logits.shape[:-1]:
            raise ValueError(f"cross_entropy: targets of shape {targets.shape} do not match "
                             f"logits of shape {logits.shape} (expected class ids of shape "
                             f"{logits.shape[:-1]}, or probabilities of shape {logits.shape})"
                             + _classes_last_hint(logits.shape, targets.shape))
        kept = targets != ignore_index if ignore_index is not None else np.ones(targets.shape, bool)
        _check_ids(targets, n_classes, "cross_entropy: target id", "classes", kept)
        q = np.full(logits.shape, eps / n_classes, dtype=logits.dtype)      # (..., C)
        q[kept, targets[kept]] += 1.0 - eps
        q[~kept] = 0.0
        q, count = Tensor._make(q), int(kept.sum())
    if state.plain:            # tg.plain(): log_softmax, multiply, sum, negate; fused: 1 op, ∂z = p·Σq − q
        losses = fused.SoftmaxCrossEntropy.plain(logits, q)
    else:                      # -Σ_c q_c log softmax(logits)_c: (...)
        losses = apply(fused.SoftmaxCrossEntropy, logits, q)
    return _reduce(losses, reduction, "cross_entropy", count)


def nll_loss(log_probs, targets, ignore_index=None, reduction="mean"):
    """-log_probs[..., target] at each position, for log-probabilities (..., C) (classes on
    the last axis, e.g. from log_softmax) and integer targets (...); positions whose id is
    `ignore_index` count for nothing, and "mean" divides by the number of the others
    (0 if every one is ignored). cross_entropy(z, t) == nll_loss(log_softmax(z), t)."""
    log_probs = _tensor(log_probs)
    targets = _array(targets)
    if log_probs.ndim == 0:
        raise ValueError("nll_loss: log_probs must have a class axis (the last), got a 0-d tensor")
    n_classes = log_probs.shape[-1]
    if not np.issubdtype(targets.dtype, np.integer):
        raise TypeError(f"nll_loss: targets must be integer class ids, not {targets.dtype}")
    if targets.shape != log_probs.shape[:-1]:
        raise ValueError(f"nll_loss: targets of shape {targets.shape} do not match log_probs of "
                         f"shape {log_probs.shape} (expected targets {log_probs.shape[:-1]})"
                         + _classes_last_hint(log_probs.shape, targets.shape))
    kept = targets != ignore_index if ignore_index is not None else np.ones(targets.shape, bool)
    _check_ids(targets, n_classes, "nll_loss: target id", "classes", kept)
    ids = np.where(kept, targets, 0).reshape(-1)                  # an ignored place reads class 0
    picked = log_probs.reshape(-1, n_classes)[np.arange(ids.size), ids].reshape(targets.shape)
    losses = -where(kept, picked, 0.0)                               # ... and is dropped here
    return _reduce(losses, reduction, "nll_loss", int(kept.sum()))


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """-w·(t·log x + (1 - t)·log(1 - x)) per element, for probabilities x in [0, 1] and
    targets t of the same shape (`weight` w broadcasts; default 1). Each log is clamped
    at -100, as PyTorch, so x = 0 or 1 gives a finite loss; there the clamped log passes
    no gradient (PyTorch's backward uses (x - t)/max(x(1 - x), 1e-12) instead).
    For logits, binary_cross_entropy_with_logits is the stable form."""
    input = _tensor(input)
    target = _tensor(target, input)
    _same_shape("binary_cross_entropy", input, target)
    x = input.data
    if x.size and not ((x >= 0) & (x <= 1)).all():
        bad = tuple(int(i) for i in np.argwhere(~((x >= 0) & (x <= 1)))[0])
        raise ValueError(f"binary_cross_entropy: input must be probabilities in [0, 1]; element "
                         f"{bad} is {x[bad]} (pass logits to binary_cross_entropy_with_logits)")

    def clamped_log(p):                    # max(log p, -100), with no log(0) on the graph
        inside = p.data > math.exp(-100)
        return where(inside, where(inside, p, 1.0).log(), -100.0)

    losses = -(target * clamped_log(input) + (1.0 - target) * clamped_log(1.0 - input))
    if weight is not None:
        losses = losses * _tensor(weight, input)
    return _reduce(losses, reduction, "binary_cross_entropy")


def binary_cross_entropy_with_logits(logits, target, weight=None, reduction="mean", pos_weight=None):
    """binary_cross_entropy(sigmoid(z), t) computed stably from the logits z:
        -w·(p·t·log σ(z) + (1 - t)·log(1 - σ(z)))
    with log σ(z) and log(1 - σ(z)) = log σ(-z) read off log_softmax([0, z]), which never
    overflows (z = ±1e4 is fine) and whose gradient is σ(z) - t (for p = w = 1).
    `pos_weight` p weighs the positive term (broadcast over the last axis, as PyTorch)."""
    logits = _tensor(logits)
    target = _tensor(target, logits)
    _same_shape("binary_cross_entropy_with_logits", logits, target, ("logits", "target"))
    pair = stack([Tensor._make(np.zeros_like(logits.data)), logits], axis=-1).log_softmax(-1)
    log_not, log_yes = pair[..., 0], pair[..., 1]                  # log(1 - σ(z)), log σ(z)
    positive = target * log_yes
    if pos_weight is not None:
        positive = positive * _tensor(pos_weight, logits)
    losses = -(positive + (1.0 - target) * log_not)
    if weight is not None:
        losses = losses * _tensor(weight, logits)
    return _reduce(losses, reduction, "binary_cross_entropy_with_logits")


def kl_div(input, target, reduction="mean", log_target=False):
    """target·(log target - input) per element, for log-probabilities `input` and
    probabilities `target` (or log-probabilities with `log_target`), as PyTorch's
    F.kl_div: a target of 0 contributes 0. "batchmean" divides the sum by the batch size
    (the first axis): the KL divergence per example; "mean" divides by every element."""
    input = _tensor(input)
    target = _tensor(target, input)
    _same_shape("kl_div", input, target)
    if log_target:
        losses = target.exp() * (target - input)
    else:
        positive = target.data > 0
        losses = where(positive, target * (where(positive, target, 1.0).log() - input), 0.0)
    if reduction == "batchmean":
        return losses.sum() * (1.0 / (input.shape[0] if input.ndim else 1))
    return _reduce(losses, reduction, "kl_div")
