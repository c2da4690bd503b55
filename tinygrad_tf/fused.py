"""The fast paths of the tensor engine: fused ops for layers, and the fast normal CDF.

Each fused op could be composed from the primitives in `ops.py`; written as one op
it makes one output array instead of several and has a short backward, which is
most of a Transformer layer's time in Python. Each docstring gives the plain
formula the fast code computes; `python -m tinygrad_tf gradcheck` and the tests
check every one against finite differences and PyTorch.
"""
import math

import numpy as np
from scipy.special import ndtr  # Φ, the standard normal CDF (for exact GELU)

from .engine import Op

# Abramowitz & Stegun's formula 7.1.26 for erfc, with the ½ of Φ(−|a|) = ½·erfc(|a|/√2)
# folded into its coefficients a₁…a₅, and p/√2 into p so that |a| needs no rescaling.
_P = 0.3275911 / np.sqrt(2.0)
_HALF_A = tuple(0.5 * c for c in (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429))


def normal_cdf(a):
    """Φ(a) = ½(1 + erf(a/√2)), the standard normal CDF, and e^(−a²/2), which Φ's
    formula computes on the way and GELU's derivative needs (φ(a) = e^(−a²/2)/√(2π)).

    float64 (and anything but float32): SciPy's ndtr, exact. float32: Abramowitz &
    Stegun's formula 7.1.26 for erfc,
        erfc(z) = (a₁t + a₂t² + a₃t³ + a₄t⁴ + a₅t⁵)·e^(−z²),  t = 1/(1 + p·z),  z = |a|/√2 ≥ 0,
    with |error| < 1.5e-7, about float32's resolution (PyTorch's float32 GELU is off
    from the exact one by more); then Φ(a) = ½ + sign(a)·(½ − ½erfc(|a|/√2)).
    Written as in-place float32 passes over one array each (no temporaries, no branch
    per element): a pass over the array is the unit of cost here."""
    gauss = np.square(a)
    gauss *= -0.5
    np.exp(gauss, out=gauss)                       # e^(−a²/2) = e^(−z²)
    if a.dtype != np.float32:
        return ndtr(a), gauss
    t = np.abs(a)
    t *= _P
    t += 1.0
    np.reciprocal(t, out=t)                        # t = 1/(1 + p·z)
    q = t * _HALF_A[-1]
    for coefficient in reversed(_HALF_A[:-1]):     # Horner's rule, a₄ down to a₁
        q += coefficient
        q *= t
    q *= gauss                                     # q = ½erfc(z) = Φ(−|a|)
    np.subtract(0.5, q, out=q)                     # ½ − Φ(−|a|) ≥ 0
    np.copysign(q, a, out=q)                       # with a's sign
    q += 0.5                                       # Φ(a)
    return q, gauss


def row_sums(a):
    """Σ over the last axis, kept as a length-1 axis: a.sum(axis=-1, keepdims=True),
    as one matrix-vector product (a BLAS pass, several times faster than NumPy's
    reduction along short rows)."""
    return (a @ np.ones(a.shape[-1], dtype=a.dtype))[..., None]


def softmax_backward(u, p, axis):
    """u − p·Σu over `axis`, in place on `u` (which must be a fresh array): the backward
    of log-softmax (u = g, p = softmax) and so of softmax, whose log is log-softmax
    (u = g·y, p = y). Shared by ops.Softmax, ops.LogSoftmax and MaskedSoftmax."""
    total = row_sums(u) if axis in (-1, u.ndim - 1) else u.sum(axis=axis, keepdims=True)
    u -= p * total
    return u


class Linear(Op):
    """y = a·Wᵀ + b for a (..., in), W (out, in) (PyTorch's layout) and b (out,); the
    rows of a, whatever its leading axes, go through one GEMM."""
    __slots__ = ()
    name = "linear"
    fresh_grads = True        # ∂a, ∂W: new products; ∂b: a new sum (a leaf keeps them uncopied)

    def forward(self, a, w, b=None):
        self.saved = (a, w)
        y = a.reshape(-1, a.shape[-1]) @ w.T   # (rows, out): one GEMM for every row
        if b is not None:
            y += b
        return y.reshape(*a.shape[:-1], w.shape[0])

    def backward(self, g):
        """∂a = g·W,  ∂W = gᵀ·a,  ∂b = Σ g   (sums over every row of a)"""
        a, w = self.saved
        g2 = g.reshape(-1, w.shape[0])                                   # (rows, out)
        ga = (g2 @ w).reshape(a.shape) if self.needs[0] else None
        gw = g2.T @ a.reshape(-1, w.shape[1]) if self.needs[1] else None   # (out, in)
        gb = g2.sum(axis=0) if len(self.needs) > 2 and self.needs[2] else None
        return ga, gw, gb


class LayerNorm(Op):
    """y = x̂·w + b with x̂ = (a - mean)·r, r = 1/√(var + eps), over the last axes
    (the biased variance, eps inside the root: PyTorch's). In backward the means are
    over the normalised axes, the sums over the other axes.

    Worked on as rows: the normalised axes flattened into one of n = w.size, so the
    means over a row and the sums over rows are matrix-vector products (BLAS passes),
    and the squares and products are written into arrays the op owns."""
    __slots__ = ()
    name = "layer_norm"

    def forward(self, a, w, b, eps=1e-5):
        n = w.size
        rows = a.reshape(math.prod(a.shape[:a.ndim - w.ndim]), n)  # (rows, n)
        mean_over_row = np.full(n, 1.0 / max(n, 1), dtype=a.dtype)  # rows @ this: row means
        centred = rows - (rows @ mean_over_row)[:, None]
        y = np.square(centred)                                   # (the output's buffer, lent)
        r = 1.0 / np.sqrt(y @ mean_over_row + eps)[:, None]      # var = mean (a - mean)²
        xhat = centred
        xhat *= r                                                # in place: centred is ours
        self.saved = (xhat, r, w)
        np.multiply(xhat, w.reshape(-1), out=y)
        y += b.reshape(-1)
        return y.reshape(a.shape)

    def backward(self, g):
        """∂a = r·(ĝ − mean ĝ − x̂·mean(ĝ·x̂)) with ĝ = g·w,  ∂w = Σ g·x̂,  ∂b = Σ g"""
        # As rows (g, x̂ of shape (rows, n), w of shape (n,)): mean ĝ = g·w / n and
        # mean(ĝ·x̂) = (g⊙x̂)·w / n are matrix-vector products; g⊙x̂ is also ∂w's summand.
        xhat, r, w = self.saved
        w1, inv_n = w.reshape(-1), 1.0 / max(w.size, 1)
        g2 = g.reshape(xhat.shape)                               # (rows, n)
        gx = g2 * xhat                                           # g⊙x̂, rows × n
        ga = gw = gb = None
        if self.needs[1]:
            gw = gx.sum(axis=0).reshape(w.shape)
        if self.needs[2]:
            gb = g2.sum(axis=0).reshape(w.shape)
        if self.needs[0]:
            mean_gh = (g2 @ w1)[:, None] * inv_n                 # mean ĝ, per row
            mean_ghx = (gx @ w1)[:, None] * inv_n                # mean(ĝ·x̂), per row
            ga = g2 * w1                                         # ĝ
            ga -= mean_gh
            ga -= np.multiply(xhat, mean_ghx, out=gx)            # x̂·mean(ĝ·x̂), into gx's buffer
            ga *= r
            ga = ga.reshape(g.shape)
        return ga, gw, gb


class MaskedSoftmax(Op):
    """Attention's softmax over the last axis of scale·a, where `mask` (broadcast) is True:
        y_j = exp(scale·a_j) / Σ_k allowed exp(scale·a_k)  where allowed, exactly 0 elsewhere;
    a row with no allowed place gets y = 0 (not 0/0 = NaN). Backward as softmax's, times
    scale, so where y = 0 no gradient gets through."""
    __slots__ = ("scale",)
    name = "masked_softmax"

    def forward(self, a, mask=None, scale=1.0):
        s = a * scale                      # a fresh array, worked on in place below
        if mask is not None:
            np.copyto(s, -np.inf, where=~mask)
        top = s.max(axis=-1, keepdims=True, initial=-np.inf)   # (initial: no keys is no error)
        if mask is not None:
            top[top == -np.inf] = 0.0      # a row with no allowed key: exp(-inf) = 0 below
        s -= top                           # shift: no overflow
        y = np.exp(s, out=s)
        total = row_sums(y)
        if mask is not None:
            total[total == 0] = 1.0        # that row stays all-zero
        y /= total
        self.saved, self.scale = (y,), scale
        return y

    def backward(self, g):
        """∂a = scale · y ⊙ (g − Σ g·y)"""
        y = self.saved[0]
        ga = softmax_backward(g * y, y, -1)
        if self.scale != 1.0:
            ga *= self.scale
        return (ga,)


class Embedding(Op):
    """Rows of a table picked by integer ids: y[p] = w[ids[p]] for each position p.
    A row read at several positions gets all their gradients, summed by sorting the
    positions by row, one reduction per row (np.add.at, which does the same one
    element at a time, is several times slower)."""
    __slots__ = ()
    name = "embedding"

    def forward(self, w, ids):
        self.saved = (ids, w.shape)
        return w[ids]                                          # (*ids.shape, dim)

    def backward(self, g):
        """∂w[r] = Σ g[p] over the positions p with ids[p] = r"""
        ids, shape = self.saved
        gw = np.zeros(shape, dtype=g.dtype)
        flat = ids.reshape(-1)
        if flat.size:
            order = np.argsort(flat, kind="stable")            # positions grouped by row
            rows = flat[order]
            starts = np.flatnonzero(np.diff(rows, prepend=-1))   # where each row's group begins
            gw[rows[starts]] = np.add.reduceat(g.reshape(flat.size, shape[1])[order], starts, axis=0)
        return (gw,)
