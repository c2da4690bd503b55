"""One Transformer encoder layer, forward and backward, by hand in NumPy.

This is the floor for any NumPy engine (no graph, no bookkeeping, only the
arrays the chain rule needs) and a reference to read next to the engine: every
backward line is the vector-Jacobian product of the forward line it undoes.

Parameters use PyTorch's layouts (`Linear.weight` is (out, in), y = x Wᵀ + b):
    Wq bq Wk bk Wv bv Wo bo   the attention projections, (d, d) and (d,)
    W1 b1 W2 b2               the feed-forward: (d_ff, d), (d_ff,), (d, d_ff), (d,)
    g1 beta1 g2 beta2         the two LayerNorms' weight and bias, (d,)
Shapes: B batch, T sequence, d model width, h heads, dh = d / h.
"""
import math

import numpy as np
from scipy.special import ndtr  # Φ, the standard normal CDF (exact GELU)

EPS = 1e-5
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


# ------------------------------------------------------------------------ pieces

def linear(x, W, b):
    """y = x Wᵀ + b, every row of the batch in one matrix product: (B·T, in) @ (in, out)."""
    rows = x.reshape(-1, x.shape[-1])
    return (rows @ W.T + b).reshape(*x.shape[:-1], W.shape[0])


def linear_backward(dy, x, W):
    """y = x Wᵀ + b  ⇒  dx = dy W,  dW = dyᵀ x (summed over every row),  db = Σ dy."""
    dy2, x2 = dy.reshape(-1, W.shape[0]), x.reshape(-1, W.shape[1])
    return (dy2 @ W).reshape(x.shape), dy2.T @ x2, dy2.sum(axis=0)


def layer_norm(x, g, beta):
    mu = x.mean(axis=-1, keepdims=True)
    inv_std = 1.0 / np.sqrt(x.var(axis=-1, keepdims=True) + EPS)   # biased variance, eps inside
    xhat = (x - mu) * inv_std
    return xhat * g + beta, (xhat, inv_std)


def layer_norm_backward(dy, g, cache):
    """dx = (1/σ)(dx̂ - mean(dx̂) - x̂·mean(dx̂·x̂)), with dx̂ = dy·g."""
    xhat, inv_std = cache
    dxhat = dy * g
    dx = inv_std * (dxhat - dxhat.mean(axis=-1, keepdims=True)
                    - xhat * (dxhat * xhat).mean(axis=-1, keepdims=True))
    rows = dy.reshape(-1, dy.shape[-1])
    return dx, (rows * xhat.reshape(rows.shape)).sum(axis=0), rows.sum(axis=0)


def split_heads(x, h):
    B, T, d = x.shape
    return x.reshape(B, T, h, d // h).transpose(0, 2, 1, 3)          # (B, h, T, dh)


def merge_heads(x):
    B, h, T, dh = x.shape
    return x.transpose(0, 2, 1, 3).reshape(B, T, h * dh)             # (B, T, d)


def attention(x, p, h, causal=False):
    """Multi-head self-attention: softmax(q kᵀ/√dh) v, heads concatenated, projected.
    `causal`: query i sees keys j ≤ i only (the scores of j > i are set to -inf)."""
    q = split_heads(linear(x, p["Wq"], p["bq"]), h)                  # (B, h, T, dh)
    k = split_heads(linear(x, p["Wk"], p["bk"]), h)
    v = split_heads(linear(x, p["Wv"], p["bv"]), h)
    scale = 1.0 / math.sqrt(q.shape[-1])                                # a Python float: stays float32
    scores = (q @ k.transpose(0, 1, 3, 2)) * scale                   # (B, h, T, T)
    if causal:
        T = scores.shape[-1]
        scores[..., np.triu(np.ones((T, T), dtype=bool), k=1)] = -np.inf
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights = e / e.sum(axis=-1, keepdims=True)
    o = merge_heads(weights @ v)                                     # (B, T, d)
    return linear(o, p["Wo"], p["bo"]), (x, q, k, v, weights, o, scale)


def attention_backward(dy, p, cache, grads):
    x, q, k, v, weights, o, scale = cache
    h = q.shape[1]
    do, grads["Wo"], grads["bo"] = linear_backward(dy, o, p["Wo"])
    do = split_heads(do, h)                                          # (B, h, T, dh)
    dweights = do @ v.transpose(0, 1, 3, 2)                          # (B, h, T, T)
    dv = weights.transpose(0, 1, 3, 2) @ do
    # softmax: ds = w ⊙ (dw - Σ dw·w), then the 1/√dh scale
    dscores = weights * (dweights - (dweights * weights).sum(axis=-1, keepdims=True)) * scale
    dq = dscores @ k
    dk = dscores.transpose(0, 1, 3, 2) @ q
    dx = 0
    for name, d in (("q", dq), ("k", dk), ("v", dv)):
        dx_part, grads["W" + name], grads["b" + name] = linear_backward(
            merge_heads(d), x, p["W" + name])
        dx = dx + dx_part
    return dx


# Abramowitz & Stegun's formula 7.1.26 for erfc on z ≥ 0, |error| < 1.5e-7 (float32's resolution):
#     erfc(z) = (a₁t + a₂t² + a₃t³ + a₄t⁴ + a₅t⁵)·e^(−z²),  t = 1/(1 + p·z)
AS_P = 0.3275911
AS_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


def gelu(a):
    """Exact GELU, a·Φ(a), and its derivative Φ(a) + a·φ(a) (Φ, φ: the normal CDF and density),
    with Φ(a) = ½ + ½·sign(a)·erf(|a|/√2) and φ(a) = e^(−a²/2)/√(2π).

    float32: erf from formula 7.1.26 (SciPy's exact ndtr is several times slower), as
    in-place passes that share e^(−z²) = e^(−a²/2) between Φ and φ. Else SciPy's ndtr."""
    if a.dtype != np.float32:
        cdf = ndtr(a)
        return a * cdf, cdf + a * np.exp(-0.5 * a * a) * INV_SQRT_2PI
    z = np.abs(a)
    z *= np.float32(1.0 / math.sqrt(2.0))           # z = |a|/√2
    e = np.square(z)
    np.negative(e, out=e)
    np.exp(e, out=e)                                 # e^(−z²)
    t = z                                            # t = 1/(1 + p·z), in z's array
    t *= AS_P
    t += 1.0
    np.reciprocal(t, out=t)
    half_erf = t * AS_A[4]
    for c in AS_A[3::-1]:                            # Horner's rule, a₄ down to a₁
        half_erf += c
        half_erf *= t
    half_erf *= e                                    # erfc(z)
    half_erf *= -0.5
    half_erf += 0.5                                  # ½erf(z) = ½ − ½erfc(z)
    cdf = np.copysign(half_erf, a, out=half_erf)
    cdf += 0.5                                       # Φ(a)
    slope = np.multiply(a, INV_SQRT_2PI, out=t)
    slope *= e
    slope += cdf                                     # Φ(a) + a·φ(a)
    return a * cdf, slope


def feed_forward(x, p, activation="relu"):
    a = linear(x, p["W1"], p["b1"])                                  # (B, T, d_ff)
    if activation == "relu":
        r, dr_da = np.maximum(a, 0), a > 0                           # ReLU passes where a > 0
    else:
        r, dr_da = gelu(a)
    return linear(r, p["W2"], p["b2"]), (x, r, dr_da)


def feed_forward_backward(dy, p, cache, grads):
    x, r, dr_da = cache
    dr, grads["W2"], grads["b2"] = linear_backward(dy, r, p["W2"])
    dx, grads["W1"], grads["b1"] = linear_backward(dr * dr_da, x, p["W1"])
    return dx


# ------------------------------------------------------------------------- layer

def block_forward(x, p, n_heads, norm_first, causal=False, activation="relu"):
    """One encoder block, forward: (B, T, d) → (B, T, d), and what its backward needs."""
    if norm_first:     # Pre-LN:  y1 = x + attn(LN1(x));  y = y1 + ffn(LN2(y1))
        n1, ln1 = layer_norm(x, p["g1"], p["beta1"])
        a, attn = attention(n1, p, n_heads, causal)
        y1 = x + a
        n2, ln2 = layer_norm(y1, p["g2"], p["beta2"])
        f, ffn = feed_forward(n2, p, activation)
        return y1 + f, (norm_first, ln1, attn, ln2, ffn)
    # Post-LN:  y1 = LN1(x + attn(x));  y = LN2(y1 + ffn(y1))
    a, attn = attention(x, p, n_heads, causal)
    y1, ln1 = layer_norm(x + a, p["g1"], p["beta1"])
    f, ffn = feed_forward(y1, p, activation)
    y, ln2 = layer_norm(y1 + f, p["g2"], p["beta2"])
    return y, (norm_first, ln1, attn, ln2, ffn)


def block_backward(dy, p, cache):
    """The block's backward from the upstream gradient `dy`: (dx, grads), grads named like `p`."""
    norm_first, ln1, attn, ln2, ffn = cache
    grads = {}
    if norm_first:     # each residual sends dy both ways
        dn2 = feed_forward_backward(dy, p, ffn, grads)
        dy1_branch, grads["g2"], grads["beta2"] = layer_norm_backward(dn2, p["g2"], ln2)
        dy1 = dy + dy1_branch
        dn1 = attention_backward(dy1, p, attn, grads)
        dx_branch, grads["g1"], grads["beta1"] = layer_norm_backward(dn1, p["g1"], ln1)
        return dy1 + dx_branch, grads
    dz2, grads["g2"], grads["beta2"] = layer_norm_backward(dy, p["g2"], ln2)
    dy1 = dz2 + feed_forward_backward(dz2, p, ffn, grads)
    dz1, grads["g1"], grads["beta1"] = layer_norm_backward(dy1, p["g1"], ln1)
    return dz1 + attention_backward(dz1, p, attn, grads), grads


def encoder_layer(x, p, n_heads, norm_first, dy):
    """Forward, then backward from the upstream gradient `dy`.
    Returns (output, dx, grads) with grads a dict named like `p`."""
    y, cache = block_forward(x, p, n_heads, norm_first)
    dx, grads = block_backward(dy, p, cache)
    return y, dx, grads
