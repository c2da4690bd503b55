"""The fast paths of the tensor engine: fused ops for layers, and the fast exact GELU.

Each fused op could be composed from the primitives in `ops.py`; written as one op
it makes one output array instead of several and has a short backward, which is
most of a Transformer layer's time in Python. Each docstring gives the plain
formula the fast code computes; `python -m tinygrad_tf gradcheck` and the tests
check every one against finite differences and PyTorch.
"""
import functools
import math

import numpy as np
from scipy.sparse import csr_array  # the one-hot matrix of Embedding's backward
from scipy.special import ndtr  # Φ, the standard normal CDF (for exact GELU)

from . import threads  # the elementwise thread pool: the block loops below run on it
from .engine import Op, column_sums, constant_vector  # (Σ over rows, shared with engine.unbroadcast)

# Abramowitz & Stegun's formula 7.1.26 for erfc, for float32 GELU (see exact_gelu):
#     erfc(z) = (a₁t + a₂t² + a₃t³ + a₄t⁴ + a₅t⁵)·e^(−z²),  t = 1/(1 + p·z),  z ≥ 0,
# with z = |a|/√2. Folded into the constants: the ½ of Φ(−|a|) = ½·erfc(|a|/√2), and the
# change of variable t = u/P, u = 1/(1/P + |a|), P = p/√2, so the coefficients are ½aₖ/Pᵏ.
_P = 0.3275911 / math.sqrt(2.0)
_ERFC_U = tuple(0.5 * c / _P ** k for k, c in enumerate(
    (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429), start=1))
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SIGN_BIT = np.uint32(0x80000000)

# Elementwise chains of many passes (float32 GELU) are worked on BLOCK elements at a
# time: a block and its temporaries stay in the core's cache, so the chain reads the
# input from memory once and writes each output once, instead of a memory round trip
# per pass (2-3× faster per pass here: a pass over 2 MB is memory-bound).
BLOCK = 1 << 15
SOFTMAX_BLOCK = 4         # MaskedSoftmax's blocks: this many BLOCKs (see there)


def blocks(*arrays):
    """Matching flat slices of same-size contiguous arrays, BLOCK elements at a time."""
    flat = [a.reshape(-1) for a in arrays]
    for lo in range(0, flat[0].size, BLOCK):
        yield [f[lo:lo + BLOCK] for f in flat]


def exact_gelu(a):
    """GELU(a) = a·Φ(a) and its slope, d/da = Φ(a) + a·φ(a), with Φ the standard normal
    CDF and φ(a) = e^(−a²/2)/√(2π) its density; both are made in one go because they
    share every expensive pass. Returns (GELU(a), slope), fresh arrays.

    float64 (and anything but float32): SciPy's ndtr, exact. float32: Φ from Abramowitz
    & Stegun's erfc (above; |error| < 1.5e-7, about float32's resolution; PyTorch's float32
    GELU is off from the exact one by more), as in-place passes over cache-sized blocks."""
    if a.dtype != np.float32:
        cdf = ndtr(a)
        slope = np.exp(-0.5 * np.square(a)) * INV_SQRT_2PI
        slope *= a
        slope += cdf
        return a * cdf, slope
    a = np.ascontiguousarray(a)
    y, slope = np.empty_like(a), np.empty_like(a)
    threads.run(_gelu_blocks, blocks(a, y, slope), a.size)
    return y, slope


def _gelu_blocks(todo):
    """_gelu_block on each (a, y, slope) block that `todo` gives, with this thread's scratch."""
    work = np.empty((2, 0), dtype=np.float32)
    for a, y, slope in todo:
        if work.shape[1] < a.size:
            work = np.empty((2, a.size), dtype=np.float32)
        _gelu_block(a, y, slope, *work[:, :a.size])


def _gelu_block(a, y, slope, u, gauss):
    """exact_gelu's float32 formula on one block, into y and slope (u, gauss: scratch):
        u = 1/(1/P + |a|),  Φ(−|a|) = (c₁u + … + c₅u⁵)·e^(−a²/2)
        Φ(a) = ½ + sign(a)·(½ − Φ(−|a|)),  slope = Φ(a) + a·e^(−a²/2)/√(2π),  y = a·Φ(a)"""
    np.abs(a, out=u)
    u += 1.0 / _P
    np.divide(1.0, u, out=u)                       # u = 1/(1/P + |a|) (np.reciprocal: slower)
    np.multiply(a, a, out=gauss)
    gauss *= -0.5
    np.exp(gauss, out=gauss)                       # e^(−a²/2)
    cdf = y                                        # (Φ is made in y's block, then y = a·Φ)
    np.multiply(u, _ERFC_U[-1], out=cdf)
    for coefficient in reversed(_ERFC_U[:-1]):     # Horner's rule, c₄ down to c₁
        cdf += coefficient
        cdf *= u
    cdf *= gauss                                   # Φ(−|a|) = ½erfc(|a|/√2)
    np.subtract(0.5, cdf, out=cdf)                 # ½ − Φ(−|a|) ≥ 0
    sign = u.view(np.uint32)                       # copysign(cdf, a) as bits: cdf ≥ 0, so
    np.bitwise_and(a.view(np.uint32), _SIGN_BIT, out=sign)    # its sign bit is a's
    np.bitwise_or(cdf.view(np.uint32), sign, out=cdf.view(np.uint32))  # (np.copysign: 4× slower)
    cdf += 0.5                                     # Φ(a)
    np.multiply(gauss, a, out=slope)
    slope *= INV_SQRT_2PI
    slope += cdf                                   # Φ(a) + a·φ(a)
    y *= a                                         # a·Φ(a)


def row_sums(a):
    """Σ over the last axis, kept as a length-1 axis: a.sum(axis=-1, keepdims=True),
    as one matrix-vector product (a BLAS pass, several times faster than NumPy's
    reduction along short rows)."""
    return (a @ constant_vector(a.shape[-1], a.dtype, 1))[..., None]


def row_dots(a, b):
    """Σ a·b over the last axis, kept as a length-1 axis: (a * b).sum(axis=-1, keepdims=True),
    with np.vecdot where NumPy has it (2.0 on), which makes no product array."""
    if _vecdot is None:
        return row_sums(a * b)
    return _vecdot(a, b)[..., None]


_vecdot = getattr(np, "vecdot", None)


def softmax_backward(u, p, axis):
    """u − p·Σu over `axis`, in place on `u` (which must be a fresh array): the backward
    of log-softmax (u = g, p = softmax) and so of softmax, whose log is log-softmax
    (u = g·y, p = y). Used by ops.Softmax (ops.LogSoftmax writes the same from the e and
    Σe its forward kept; MaskedSoftmax's backward, blocked, writes it as y·(g − Σ g·y),
    with no product p·Σu)."""
    total = row_sums(u) if axis in (-1, u.ndim - 1) else u.sum(axis=axis, keepdims=True)
    u -= p * total
    return u


class Linear(Op):
    """y = a·Wᵀ + b for a (..., in), W (out, in) (PyTorch's layout) and b (out,); the
    rows of a, whatever its leading axes, go through one GEMM."""
    __slots__ = ()
    name = "linear"
    saves_inputs = (0, 1)
    fresh_grads = True        # ∂a, ∂W: new products; ∂b: a new sum (a leaf keeps them uncopied)

    def forward(self, a, w, b=None):
        self.saved = (a, w)
        rows = math.prod(a.shape[:-1])         # (not -1: no rows to infer from 0 features)
        y = a.reshape(rows, a.shape[-1]) @ w.T   # (rows, out): one GEMM for every row
        if b is not None:
            y += b
        return y.reshape(*a.shape[:-1], w.shape[0])

    def backward(self, g):
        """∂a = g·W,  ∂W = gᵀ·a,  ∂b = Σ g   (sums over every row of a)"""
        a, w = self.saved
        rows = math.prod(a.shape[:-1])
        g2 = g.reshape(rows, w.shape[0])                                 # (rows, out)
        ga = (g2 @ w).reshape(a.shape) if self.needs[0] else None
        gw = g2.T @ a.reshape(rows, w.shape[1]) if self.needs[1] else None   # (out, in)
        gb = column_sums(g2) if len(self.needs) > 2 and self.needs[2] else None
        return ga, gw, gb

    @staticmethod
    def plain(a, w, b=None):
        """The composition (Tensors in, under `tg.plain()`): a matmul, and an add."""
        y = a @ w.T
        return y if b is None else y + b


class LayerNorm(Op):
    """y = x̂·w + b with x̂ = (a - mean)·r, r = 1/√(var + eps), over the last axes
    (the biased variance, eps inside the root: PyTorch's). In backward the means are
    over the normalised axes, the sums over the other axes.

    Worked on as rows: the normalised axes flattened into one of n = w.size, so the
    means over a row and the sums over rows are matrix-vector products (BLAS passes:
    row_sums, column_sums), and the squares and products are written into arrays the
    op owns. Whole arrays, not row blocks (nor the thread pool): on (1024, 512) float32,
    forward + backward took 7.9-8.8 ms in blocks of BLOCK values, 6.1-6.4 ms whole."""
    __slots__ = ()
    name = "layer_norm"
    saves_inputs = (1,)                  # w (x̂ and r are its own)

    def forward(self, a, w, b, eps=1e-5):
        n, w1, b1 = w.size, w.reshape(-1), b.reshape(-1)
        rows = a.reshape(math.prod(a.shape[:a.ndim - w.ndim]), n)  # (rows, n)
        mean_over_row = np.full(n, 1.0 / max(n, 1), dtype=a.dtype)  # rows @ this: row means
        xhat = np.subtract(rows, (rows @ mean_over_row)[:, None])  # centred (x̂ once scaled, below)
        y = np.square(xhat)                                      # (the output's buffer, lent)
        r = 1.0 / np.sqrt(y @ mean_over_row + eps)[:, None]      # var = mean (a − mean)²
        xhat *= r                                                # x̂, in place
        np.multiply(xhat, w1, out=y)
        y += b1
        self.saved = (xhat, r, w)
        return y.reshape(a.shape)

    def backward(self, g):
        """∂a = r·(ĝ − mean ĝ − x̂·mean(ĝ·x̂)) with ĝ = g·w,  ∂w = Σ g·x̂,  ∂b = Σ g"""
        # As rows (g, x̂ of shape (rows, n), w of shape (n,)): mean ĝ = g·w / n and
        # mean(ĝ·x̂) = (g⊙x̂)·w / n are matrix-vector products; g⊙x̂ is also ∂w's summand.
        xhat, r, w = self.saved
        w1, inv_n = w.reshape(-1), 1.0 / max(w.size, 1)
        g2 = g.reshape(xhat.shape)                               # (rows, n)
        gx = g2 * xhat                                           # g⊙x̂, rows × n
        ga = None
        if self.needs[0]:
            mean_gh = (g2 @ w1)[:, None] * inv_n                 # mean ĝ, per row
            mean_ghx = (gx @ w1)[:, None] * inv_n                # mean(ĝ·x̂), per row
            ga = g2 * w1                                         # ĝ
            ga -= mean_gh
            ga -= xhat * mean_ghx                                # x̂·mean(ĝ·x̂)
            ga *= r
        gw = column_sums(gx).reshape(w.shape) if self.needs[1] else None
        gb = column_sums(g2).reshape(w.shape) if self.needs[2] else None
        return None if ga is None else ga.reshape(g.shape), gw, gb

    @staticmethod
    def plain(a, w, b, eps=1e-5):
        """The composition: mean, subtract, square, mean, add eps, rsqrt, multiply, add."""
        axes = tuple(range(-w.ndim, 0))                   # the normalised axes
        centred = a - a.mean(axis=axes, keepdims=True)
        variance = centred.square().mean(axis=axes, keepdims=True)
        return centred * (variance + eps).rsqrt() * w + b


class MaskedSoftmax(Op):
    """Attention's softmax over the last axis of scale·a, where `mask` (broadcast) is True:
        y_j = exp(scale·a_j) / Σ_k allowed exp(scale·a_k)  where allowed, exactly 0 elsewhere;
    a row with no allowed place gets y = 0 (not 0/0 = NaN). Backward as softmax's, times
    scale, so where y = 0 no gradient gets through.

    Worked on in blocks of rows (`row_blocks`) of SOFTMAX_BLOCK·BLOCK values, and unshifted
    (larger blocks than GELU's: with few passes a block, the calls made per block weigh
    more; a block and its output still fit a 1 MB L2 cache):
    the plain formula (`_softmax_rows`) shifts each row by its max, exp(s_j − max)/Σ_k
    exp(s_k − max), the same y, so that exp cannot overflow; but a row's max along short
    rows is a slow reduction, and attention's scores are small. The mask is applied after
    exp, as a product with 1 (allowed) or 0 (hidden), the same as exp(−∞) = 0 there (a
    masked write, np.copyto(s, −∞, where=hidden), is several passes' time). A row whose exp
    overflowed (hidden or not: ∞·0 is NaN), whose sum is too small to be exact (every score
    below about −50 in float32), that has nothing allowed, or NaN, is redone by the plain
    formula. Each row's y depends on that row alone (so causal attention's earlier positions
    are bit for bit unchanged by later ones)."""
    __slots__ = ("scale",)
    name = "masked_softmax"
    saves_output = True

    def forward(self, a, mask=None, scale=1.0):
        y = np.empty(a.shape, dtype=a.dtype)
        keep = None if mask is None else np.broadcast_to(mask.astype(a.dtype), a.shape)  # 1/0 (a view)

        def work(todo):                                          # (on the thread pool)
            for rows in todo:
                s = y[rows]
                np.multiply(a[rows], scale, out=s)
                with np.errstate(over="ignore", invalid="ignore"):   # (those rows are redone)
                    np.exp(s, out=s)
                    if keep is not None:
                        s *= keep[rows]                          # exp(s), 0 where hidden
                _, redo = normalise_rows(s)
                if redo.any():
                    bad = a[rows][redo] * scale                  # (those rows, k)
                    _softmax_rows(bad, None if keep is None else keep[rows][redo] == 0)
                    s[redo] = bad

        threads.run(work, row_blocks(a.shape, SOFTMAX_BLOCK * BLOCK), a.size)
        self.saved, self.scale = (y,), scale
        return y

    def backward(self, g):
        """∂a = scale · y ⊙ (g − Σ g·y)"""
        y, scale = self.saved[0], self.scale
        ga = np.empty(y.shape, dtype=np.result_type(g, y))

        def work(todo):                                          # (on the thread pool)
            for rows in todo:
                gy, p = ga[rows], y[rows]
                total = row_dots(g[rows], p)                     # Σ g·y
                np.subtract(g[rows], total, out=gy)              # g − Σ g·y
                gy *= p
                if scale != 1.0:
                    gy *= scale

        threads.run(work, row_blocks(y.shape, SOFTMAX_BLOCK * BLOCK), y.size)
        return (ga,)

    @staticmethod
    def plain(a, mask=None, scale=1.0):
        """The composition: scale, mask (hidden scores to −∞), max, subtract, exp, sum,
        divide; a row with nothing allowed (max −∞, sum 0) becomes all 0, as in forward.
        (Shifting by the max changes no y: its gradient is 0 up to rounding.)"""
        s = a * scale
        if mask is not None:
            s = s.masked_fill(~mask, -np.inf)
        top = s.amax(axis=-1, keepdims=True)
        e = (s - top.masked_fill(top.data == -np.inf, 0.0)).exp()
        total = e.sum(axis=-1, keepdims=True)
        return e / total.masked_fill(total.data == 0, 1.0)


def pool_blocks(shape):
    """The row blocks of an op that is worked on whole unless it is large enough for the
    thread pool (threads.large): then rows of about BLOCK elements (row_blocks)."""
    return row_blocks(shape, BLOCK) if threads.large(math.prod(shape)) else [slice(None)]


def row_blocks(shape, size):
    """Slices along the first axis that cut an array of `shape` into blocks of about
    `size` elements, whole rows of the last axis each (one block if it has
    one axis)."""
    if len(shape) < 2:
        return [slice(None)]
    step = max(1, size // max(math.prod(shape[1:]), 1))
    return [slice(lo, lo + step) for lo in range(0, shape[0], step)]


@functools.cache
def _smallest_exact_sum(dtype):
    """The smallest Σ exp(s) that normalise_rows keeps: terms below `tiny` (subnormal,
    inexact) are then < eps² of it. Per dtype, made once (np.finfo and the arithmetic
    cost about a microsecond, paid on every block of MaskedSoftmax)."""
    return np.finfo(dtype).tiny / np.finfo(dtype).eps ** 2


def softmax_unshifted(s, out):
    """out = exp(s)/Σ exp(s) over the last axis (out may be s), with no shift by the row's
    max; returns what normalise_rows does."""
    with np.errstate(over="ignore"):                     # (those rows are redone)
        np.exp(s, out=out)
    return normalise_rows(out)


def normalise_rows(e):
    """e /= Σ e over the last axis, in place, for e = exp(s) (unshifted); returns (the sums,
    keepdims, and the rows to redo with the shift: where the sum overflowed, is too small
    for its terms to be exact, is 0, or is NaN)."""
    smallest = _smallest_exact_sum(e.dtype)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):   # (those rows are redone)
        total = row_sums(e)
        e /= total
    return total, ~((total >= smallest) & (total < np.inf))[..., 0]


def _softmax_rows(s, hidden):
    """The plain masked softmax of scores s (already scaled), in place, each row shifted
    by its own max: y = exp(s − max)/Σ exp(s − max), 0 where hidden, and an all-hidden
    row all 0."""
    if hidden is not None:
        np.copyto(s, -np.inf, where=hidden)
    top = s.max(axis=-1, keepdims=True, initial=-np.inf)   # (initial: no keys is no error)
    top[top == -np.inf] = 0.0                # a row with no allowed key: exp(-inf) = 0 below
    s -= top                                 # shift: no overflow
    np.exp(s, out=s)
    total = row_sums(s)
    total[total == 0] = 1.0                  # that row stays all-zero
    s /= total


class SoftmaxCrossEntropy(Op):
    """The cross-entropy of softmax(z) against a target distribution q at each position
    (classes on the last axis): loss = −Σ_c q_c·log softmax(z)_c = Σ_c q_c·lse(z) − Σ_c q_c·z_c,
    with lse(z) = log Σ_c exp(z_c) (so Σ q = 0, an ignored position, gives 0).
    exp(z) is taken unshifted, as MaskedSoftmax's: the plain formula shifts by the row's
    max m, lse(z) = m + log Σ exp(z − m), the same value, and a row whose sum overflowed or
    is too small to be exact (or NaN) is redone that way."""
    __slots__ = ()
    name = "softmax_cross_entropy"
    saves_inputs = (0, 1)

    def forward(self, z, q):
        n_classes = z.shape[-1]
        rows, targets = z.reshape(-1, n_classes), q.reshape(-1, n_classes)
        mass = row_sums(targets)[:, 0]                          # Σ_c q_c per row
        if n_classes == 0:
            self.saved = (z, q, np.zeros_like(rows), mass, mass)
            return mass.reshape(z.shape[:-1])
        p = np.empty_like(rows)
        lse, losses = np.empty((2, len(rows)), dtype=np.result_type(mass, rows))

        def work(todo):                                         # (on the thread pool)
            for part in todo:
                _cross_entropy_rows(rows[part], targets[part], mass[part], p[part], lse[part],
                                    losses[part])

        threads.run(work, pool_blocks(rows.shape), rows.size)
        self.saved = (z, q, p, mass, lse)
        return losses.reshape(z.shape[:-1])

    def backward(self, g):
        """∂z = g·(softmax(z)·Σ_c q_c − q),  ∂q = −g·log softmax(z)"""
        z, q, p, mass, lse = self.saved
        n_classes = z.shape[-1]
        g1 = g.reshape(-1, 1)                                   # (rows, 1)
        targets = q.reshape(-1, n_classes)
        gz = gq = None
        if self.needs[0]:
            gz = np.empty(p.shape, dtype=np.result_type(p, g1, mass))

            def work(todo):                                     # (on the thread pool)
                for part in todo:
                    gzp = np.multiply(p[part], g1[part] * mass[part, None], out=gz[part])
                    gzp -= targets[part] * g1[part]

            threads.run(work, pool_blocks(p.shape), p.size)
            gz = gz.reshape(z.shape)
        if self.needs[1]:
            gq = (lse[:, None] - z.reshape(-1, n_classes)) * g1   # −g·(z − lse)
            gq = gq.reshape(q.shape)
        return gz, gq

    @staticmethod
    def plain(z, q):
        """The composition: log_softmax, multiply by the targets, sum, negate."""
        return -(q * z.log_softmax(axis=-1)).sum(axis=-1)


def _cross_entropy_rows(rows, targets, mass, p, lse, losses):
    """SoftmaxCrossEntropy's forward on some rows z (classes last) into p = softmax(z),
    lse = log Σ exp(z) and losses = Σ q·lse − Σ q·z, unshifted, its rows to redo shifted."""
    total, redo = softmax_unshifted(rows, p)
    with np.errstate(divide="ignore"):                          # (a zero sum is redone)
        np.log(total[:, 0], out=lse)
    np.subtract(mass * lse, row_dots(targets, rows)[:, 0], out=losses)   # Σ q·lse − Σ q·z
    if redo.any():                                              # the plain formula, shifted
        top = rows[redo].max(axis=-1, keepdims=True)
        shifted = rows[redo] - top                              # z − m
        e = np.exp(shifted)
        sums = row_sums(e)
        p[redo] = e / sums
        log_sums = np.log(sums)[:, 0]                           # lse(z) − m
        lse[redo] = log_sums + top[:, 0]
        losses[redo] = mass[redo] * log_sums - row_sums(targets[redo] * shifted)[:, 0]


class Embedding(Op):
    """Rows of a table picked by integer ids: y[p] = w[ids[p]] for each position p.
    A row read at several positions gets all their gradients: ∂w = Oᵀ·g, O the one-hot
    matrix of the ids (O[p, ids[p]] = 1, one row per position), kept sparse (SciPy's CSR:
    a product that touches each g[p] once; np.add.at, which does the same one element at
    a time, is 10× slower, and a dense O of positions × rows is as large as the vocabulary)."""
    __slots__ = ()
    name = "embedding"

    def forward(self, w, ids):
        self.saved = (ids, w.shape)
        return w[ids]                                          # (*ids.shape, dim)

    def backward(self, g):
        """∂w[r] = Σ g[p] over the positions p with ids[p] = r"""
        ids, (rows, dim) = self.saved
        flat = ids.reshape(-1)
        one_hot_t = csr_array((np.ones(flat.size, dtype=g.dtype), (flat, np.arange(flat.size))),
                              shape=(rows, flat.size))        # Oᵀ: (rows, positions)
        return (one_hot_t @ g.reshape(flat.size, dim),)

    @staticmethod
    def plain(w, ids):
        """The composition: indexing, w[ids] (its backward adds up a row read twice)."""
        return w[ids]
