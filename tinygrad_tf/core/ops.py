"""The primitives of the tensor engine: each op's forward and its backward.

An op's `forward(*arrays)` computes its output from NumPy arrays and saves in
`self.saved` what its backward will need. `backward(g)` takes g, the gradient of
the loss with respect to the output (same shape as the output), and returns one
gradient per input: the vector-Jacobian product gᵀ · ∂out/∂input, whose formula
is the method's docstring (`Op.formula`). It may return `None` for an input that
needs no gradient (`self.needs[i]` is False), and it never writes into `g`.

Gradients come back in the output's (broadcast) shape; the engine sums them
down to each input's shape in one place (`engine.unbroadcast`). An op's forward
and backward see only arrays; what makes it a graph node (its parents, its
creation number, freeing) is `engine.Op`, the node protocol, which they inherit.

The fused ops of the layers (Linear, LayerNorm, masked softmax, Embedding) and the
fast exact GELU live in `fused.py`, beside their plain formulas.
"""
import math

import numpy as np
from scipy.special import erf

from . import threads
from .engine import Op, constant_vector
from .fused import exact_gelu, pool_blocks, softmax_backward

SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
SQRT_HALF = math.sqrt(0.5)


# ---------------------------------------------------------------- arithmetic

class Add(Op):
    __slots__ = ()
    name = "add"

    def forward(self, a, b):
        return a + b

    def backward(self, g):
        """∂a = g,  ∂b = g"""
        return g, g


class ResidualAdd(Add):
    """`skip + branch` of a residual block: an add whose first input is the skip path,
    so graphs and traces can tell the two paths apart."""
    __slots__ = ()
    name = "residual_add"


class Sub(Op):
    __slots__ = ()
    name = "sub"

    def forward(self, a, b):
        return a - b

    def backward(self, g):
        """∂a = g,  ∂b = −g"""
        return g, -g


class Neg(Op):
    __slots__ = ()
    name = "neg"

    def forward(self, a):
        return -a

    def backward(self, g):
        """∂a = −g"""
        return (-g,)


class Mul(Op):
    __slots__ = ()
    name = "mul"
    saves_inputs = (0, 1)

    def forward(self, a, b):
        self.saved = (a, b)
        return a * b

    def backward(self, g):
        """∂a = g·b,  ∂b = g·a"""
        a, b = self.saved
        return g * b if self.needs[0] else None, g * a if self.needs[1] else None


class Div(Op):
    __slots__ = ()
    name = "div"
    saves_inputs = (0, 1)

    def forward(self, a, b):
        self.saved = (a, b)
        return a / b

    def backward(self, g):
        """∂a = g/b,  ∂b = −g·a/b²"""
        a, b = self.saved
        ga = g / b
        return ga, -ga * a / b             # (−g·a/b² as (g/b)·(−a/b): one division fewer)


class Pow(Op):
    """aᵇ elementwise, b a tensor or a constant. At the edges as PyTorch: 0⁰ = inf⁰ = 1,
    no gradient to a where b = 0, none to b where a = 0 and b ≥ 0."""
    __slots__ = ()
    name = "pow"
    saves_inputs, saves_output = (0, 1), True

    def forward(self, a, b):
        with np.errstate(divide="ignore", invalid="ignore"):
            y = np.power(a, b)
        self.saved = (a, b, y)
        return y

    def backward(self, g):
        """∂a = g·b·aᵇ⁻¹ (0 where b = 0),  ∂b = g·aᵇ·log a (0 where a = 0, b ≥ 0)"""
        a, b, y = self.saved
        ga = gb = None
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.needs[0]:
                ga = np.where(b == 0, 0, g * b * np.power(a, b - 1)).astype(g.dtype, copy=False)
            if self.needs[1]:
                gb = np.where((a == 0) & (b >= 0), 0, g * y * np.log(a)).astype(g.dtype, copy=False)
        return ga, gb


def _product(x, y, like):
    """x @ y, made in the memory layout of `like` when the product has its shape and `like`
    is a transposed view (plainly: x @ y). np.empty_like keeps a view's axis order, so a
    product that the graph transposes back the way `like` was made (attention's heads:
    (B, T, h, d) ↔ (B, h, T, d)) comes out contiguous there, with no copy. Only when the
    layout leaves each matrix BLAS-ready (its unit stride on one of the last two axes).
    A large stack of products (attention's, one per batch row and head) is made in blocks
    of its first axis on the thread pool: each matrix's product is the same call either way."""
    shape = x.shape[:-1] + y.shape[-1:]
    if not like.flags.c_contiguous and like.ndim > 2 and like.shape == shape:
        out = np.empty_like(like, dtype=np.result_type(x, y))
        if not (like.itemsize in out.strides[-2:] and x.shape[:-2] == y.shape[:-2]):
            return x @ y
    elif x.ndim > 2 and x.shape[:-2] == y.shape[:-2] and threads.large(math.prod(shape)):
        out = np.empty(shape, dtype=np.result_type(x, y))
    else:
        return x @ y

    def work(todo):                                     # (on the thread pool)
        for rows in todo:
            np.matmul(x[rows], y[rows], out=out[rows])

    threads.run(work, pool_blocks(shape), out.size)
    return out


class MatMul(Op):
    """NumPy's matmul: (..., n, k) @ (..., k, m) -> (..., n, m). A 1-D `a` is a row
    (1, k) and a 1-D `b` a column (k, 1), whose unit axis is dropped from the result.
    A product shaped like `b` takes b's memory layout, and each gradient its input's
    (`_product`): attention's head split and merge then need no copies."""
    __slots__ = ()
    name = "matmul"
    saves_inputs = (0, 1)
    fresh_grads = True        # two new products (a[None, :]-style views of them at most)

    def forward(self, a, b):
        self.saved = (a, b)
        return _product(a, b, b)

    def backward(self, g):
        """∂A = G·Bᵀ,  ∂B = Aᵀ·G"""
        a, b = self.saved
        if a.ndim == 2 and b.ndim == 2:             # two matrices: the formula as it reads
            return g @ b.T if self.needs[0] else None, a.T @ g if self.needs[1] else None
        A = a[None, :] if a.ndim == 1 else a        # the matrices multiplied, and G the
        B = b[:, None] if b.ndim == 1 else b        # gradient of their product A·B
        G = g[..., None] if b.ndim == 1 else g
        G = G[..., None, :] if a.ndim == 1 else G
        ga = gb = None
        if self.needs[0]:
            ga = _product(G, np.swapaxes(B, -1, -2), A)
            ga = ga[..., 0, :] if a.ndim == 1 else ga
        if self.needs[1]:
            if B.ndim == 2:                         # one B for every matrix of a batched A: the
                k, m = B.shape                      # sum over the batch of Aᵀ·G is one GEMM
                rows = math.prod(A.shape[:-1])      # (not -1: a zero-size A has no rows to infer)
                gb = A.reshape(rows, k).T @ G.reshape(rows, m)
            else:
                gb = _product(np.swapaxes(A, -1, -2), G, B)
            gb = gb[..., 0] if b.ndim == 1 else gb
        return ga, gb


# --------------------------------------------------------------- elementwise

class Exp(Op):
    __slots__ = ()
    name = "exp"
    saves_output = True

    def forward(self, a):
        y = np.exp(a)
        self.saved = (y,)
        return y

    def backward(self, g):
        """∂a = g·eᵃ"""
        return (g * self.saved[0],)        # eᵃ, saved by forward


class Log(Op):
    __slots__ = ()
    name = "log"
    saves_inputs = (0,)

    def forward(self, a):
        self.saved = (a,)
        return np.log(a)

    def backward(self, g):
        """∂a = g/a"""
        return (g / self.saved[0],)


class Sqrt(Op):
    __slots__ = ()
    name = "sqrt"
    saves_output = True

    def forward(self, a):
        y = np.sqrt(a)
        self.saved = (y,)
        return y

    def backward(self, g):
        """∂a = g/(2√a)"""
        return (g * 0.5 / self.saved[0],)  # √a, saved by forward


class Abs(Op):
    __slots__ = ()
    name = "abs"
    saves_inputs = (0,)

    def forward(self, a):
        self.saved = (a,)
        return np.abs(a)

    def backward(self, g):
        """∂a = g·sign(a)"""
        return (g * np.sign(self.saved[0]),)   # 0 at a = 0, as PyTorch


class Tanh(Op):
    __slots__ = ()
    name = "tanh"
    saves_output = True

    def forward(self, a):
        y = np.tanh(a)
        self.saved = (y,)
        return y

    def backward(self, g):
        """∂a = g·(1 − tanh²a)"""
        y = self.saved[0]
        return (g * (1 - y * y),)


def _sigmoid(a):
    """1/(1+e⁻ᵃ) without overflow: e^(-log(1+e⁻ᵃ)), finite for any a."""
    return np.exp(-np.logaddexp(0, -a))


class Sigmoid(Op):
    __slots__ = ()
    name = "sigmoid"
    saves_output = True

    def forward(self, a):
        y = _sigmoid(a)
        self.saved = (y,)
        return y

    def backward(self, g):
        """∂a = g·σ(a)(1 − σ(a))"""
        y = self.saved[0]
        return (g * y * (1 - y),)


class Relu(Op):
    """max(a, 0). A float array is compared with a row of zeros as long as its last axis
    (`constant_vector`, made once), not with the scalar 0: NumPy's maximum has no fast
    loop for a scalar operand, so this is 1.3-2.5× faster, for the same bits."""
    __slots__ = ()
    name = "relu"

    def forward(self, a):
        zero = constant_vector(a.shape[-1], a.dtype, 0) if a.ndim and a.dtype.kind == "f" else 0
        y = np.maximum(a, zero)
        self.saved = (a > 0,)
        return y

    def backward(self, g):
        """∂a = g·[a > 0]"""
        return (g * self.saved[0],)


class Silu(Op):
    __slots__ = ()
    name = "silu"
    saves_inputs = (0,)

    def forward(self, a):
        s = _sigmoid(a)
        self.saved = (a, s)
        return a * s

    def backward(self, g):
        """∂a = g·σ(a)(1 + a(1 − σ(a)))"""
        a, s = self.saved
        return (g * s * (1 + a * (1 - s)),)


class Gelu(Op):
    """GELU(a) = a·Φ(a), Φ the standard normal CDF; or its tanh approximation
    0.5·a·(1 + tanh(√(2/π)(a + 0.044715a³))). The slope is computed in forward, from
    what the forward computes anyway (Φ's e^(−a²/2), or t), so backward is one product:
        exact:  d(a·Φ(a))/da = Φ(a) + a·φ(a),  φ(a) = e^(−a²/2)/√(2π)
        tanh:   d/da = ½(1 + t) + ½a(1 − t²)·√(2/π)(1 + 3·0.044715a²),  t = tanh(…)"""
    __slots__ = ()
    name = "gelu"

    def forward(self, a, approximate="none"):
        if approximate == "tanh":
            t = np.tanh(SQRT_2_OVER_PI * (a + 0.044715 * a ** 3))
            slope = 0.5 * (1 + t) + 0.5 * a * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * a * a)
            self.saved = (slope,)
            return 0.5 * a * (1 + t)
        y, slope = exact_gelu(a)           # a·Φ(a), Φ(a) + a·φ(a)
        self.saved = (slope,)
        return y

    def backward(self, g):
        """∂a = g·(Φ(a) + a·φ(a));  tanh form: ∂a = g·(½(1 + t) + ½a(1 − t²)·√(2/π)(1 + 3·0.044715a²))"""
        return (g * self.saved[0],)        # the slope, made in forward

    @staticmethod
    def plain(a, approximate="none"):
        """The composition (Tensors in, under `tg.plain()`): a·½(1 + erf(a/√2)), or the tanh form."""
        if approximate == "tanh":
            return 0.5 * a * (1 + (SQRT_2_OVER_PI * (a + 0.044715 * a ** 3)).tanh())
        return a * (0.5 * (1 + (a * SQRT_HALF).erf()))


class Cast(Op):
    __slots__ = ()
    name = "astype"

    def forward(self, a, dtype):
        self.saved = (a.dtype,)
        return a.astype(dtype)

    def backward(self, g):
        """∂a = g  (in a's dtype)"""
        return (g.astype(self.saved[0]),)


# ---------------------------------------------------------------- reductions

def _unreduce(g, shape, axis, keepdims):
    """A reduced gradient with the reduced axes of `shape` put back as 1s, so that it
    broadcasts over them (a backward that multiplies it by a full-shape array needs no more)."""
    if axis is not None and not keepdims:
        g = np.reshape(g, [1 if i in axis else n for i, n in enumerate(shape)])
    return g


def _expand(g, shape, axis, keepdims):
    """Broadcast a reduced gradient back over the reduced axes of `shape`:
    np.broadcast_to(g, shape) after `_unreduce`, written into a new array (the copy costs
    less than broadcast_to's Python on the small arrays where either matters, and the
    gradient is the op's own: see `Op.fresh_grads`)."""
    out = np.empty(shape, dtype=g.dtype)
    out[...] = _unreduce(g, shape, axis, keepdims)
    return out


def _count(shape, axis):
    if axis is None:
        return math.prod(shape)
    return math.prod(shape[i] for i in axis)


class Sum(Op):
    __slots__ = ("axis", "keepdims")
    name = "sum"
    fresh_grads = True        # (_expand's new array)

    def forward(self, a, axis=None, keepdims=False):
        self.saved, self.axis, self.keepdims = (a.shape,), axis, keepdims
        return a.sum(axis=axis, keepdims=keepdims)

    def backward(self, g):
        """∂a = g, copied along the summed axes"""
        return (_expand(g, self.saved[0], self.axis, self.keepdims),)


class Mean(Op):
    __slots__ = ("axis", "keepdims")
    name = "mean"
    fresh_grads = True        # (_expand's new array)

    def forward(self, a, axis=None, keepdims=False):
        self.saved, self.axis, self.keepdims = (a.shape,), axis, keepdims
        return np.mean(a, axis=axis, keepdims=keepdims)

    def backward(self, g):
        """∂a = g/n, copied along the n averaged places"""
        shape = self.saved[0]
        return (_expand(g / _count(shape, self.axis), shape, self.axis, self.keepdims),)


class Max(Op):
    """Ties share the gradient equally, as PyTorch's `amax` does."""
    __slots__ = ("axis", "keepdims")
    name = "max"

    def forward(self, a, axis=None, keepdims=False):
        y = np.max(a, axis=axis, keepdims=True)
        self.saved, self.axis, self.keepdims = (a == y,), axis, keepdims
        return y if keepdims else np.squeeze(y, axis=axis)

    def backward(self, g):
        """∂a = g·[a = max a] / (number of places equal to the max)"""
        hit = self.saved[0].astype(g.dtype)
        g = _unreduce(g, hit.shape, self.axis, self.keepdims)
        share = hit / hit.sum(axis=self.axis, keepdims=True)   # 1/k for each of k ties
        return (g * share,)


class Var(Op):
    """Σ(a - mean)² / (n - correction); correction=0 is LayerNorm's biased variance.
    With correction ≥ n the divisor is 0 (as PyTorch): inf, or NaN for no spread."""
    __slots__ = ("axis", "keepdims", "n")
    name = "var"

    def forward(self, a, axis=None, keepdims=False, correction=0):
        centred = a - np.mean(a, axis=axis, keepdims=True)
        self.n = max(_count(a.shape, axis) - correction, 0)
        self.saved, self.axis, self.keepdims = (centred,), axis, keepdims
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.sum(centred * centred, axis=axis, keepdims=keepdims) / np.asarray(self.n, a.dtype)

    def backward(self, g):
        """∂a = g·2(a − mean a)/(n − correction)"""
        centred = self.saved[0]
        g = _unreduce(g, centred.shape, self.axis, self.keepdims)
        if self.n == 0:                    # PyTorch's: g·∞, NaN where a is its mean
            return (g * np.where(centred == 0, np.nan, np.inf).astype(centred.dtype),)
        return (g * centred * (2.0 / np.asarray(self.n, centred.dtype)),)


class Std(Var):
    """√var: √(Σ(a - mean)² / (n - correction)). Its own op for the gradient where the
    variance is 0: the chain rule through √ would give 0·∞ = NaN there, PyTorch gives 0."""
    __slots__ = ()
    name = "std"
    saves_output = True

    def forward(self, a, axis=None, keepdims=False, correction=0):
        std = np.sqrt(super().forward(a, axis, True, correction))   # (with the reduced axes)
        self.saved, self.keepdims = (self.saved[0], std), keepdims
        return std if keepdims else np.squeeze(std, axis=axis)

    def backward(self, g):
        """∂a = g·(a − mean a)/((n − correction)·std), 0 where std = 0 (and n > correction)"""
        centred, std = self.saved
        g = _unreduce(g, centred.shape, self.axis, self.keepdims)
        with np.errstate(divide="ignore", invalid="ignore"):
            ga = g * centred / (np.asarray(self.n, centred.dtype) * std)
        if self.n:
            ga = np.where(std == 0, 0, ga).astype(centred.dtype, copy=False)
        return (ga,)


# --------------------------------------------------------------------- shape

class Reshape(Op):
    __slots__ = ()
    name = "reshape"
    is_view = True                # (its output shares input 0's memory)

    def forward(self, a, shape):
        self.saved = (a.shape,)
        return a.reshape(shape)

    def backward(self, g):
        """∂a = g, reshaped to a's shape"""
        return (g.reshape(self.saved[0]),)


class Permute(Op):
    __slots__ = ("axes",)                  # kept after backward, for graph labels (Kᵀ)
    name = "permute"
    is_view = True                # (its output shares input 0's memory)

    def forward(self, a, axes):
        self.axes = axes
        self.saved = (sorted(range(len(axes)), key=axes.__getitem__),)   # the inverse
        return a.transpose(axes)

    def backward(self, g):
        """∂a = g, its axes moved back where they came from"""
        return (g.transpose(self.saved[0]),)


def _is_basic(index):
    """Only ints, slices, None and Ellipsis: every element is picked at most once."""
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis
               for i in items)


class GetItem(Op):
    __slots__ = ("index",)
    name = "getitem"
    is_view = property(lambda self: _is_basic(self.index))   # a slice is a view

    def forward(self, a, index):
        self.saved, self.index = (a.shape, a.dtype), index
        return a[index]

    def backward(self, g):
        """∂a = g at the places read, 0 elsewhere (a place read twice gets both)"""
        shape, dtype = self.saved
        out = np.zeros(shape, dtype=dtype)
        if _is_basic(self.index):
            out[self.index] = g
        else:
            np.add.at(out, self.index, g)  # an index read twice gets both gradients
        return (out,)


class MaskedFill(Op):
    __slots__ = ()
    name = "masked_fill"

    def forward(self, a, mask, value):
        self.saved = (mask,)
        return np.where(mask, np.asarray(value, dtype=a.dtype), a)

    def backward(self, g):
        """∂a = g where not mask, 0 where filled"""
        return (np.where(self.saved[0], 0, g),)


class Where(Op):
    __slots__ = ()
    name = "where"

    def forward(self, a, b, cond):
        self.saved = (cond,)
        return np.where(cond, a, b)

    def backward(self, g):
        """∂a = g where cond, else 0;  ∂b = g where not cond, else 0"""
        cond = self.saved[0]
        return np.where(cond, g, 0), np.where(cond, 0, g)


class Cat(Op):
    __slots__ = ("axis",)
    name = "cat"

    def forward(self, *arrays, axis=0):
        self.axis = axis
        self.saved = (np.cumsum([a.shape[axis] for a in arrays])[:-1],)
        return np.concatenate(arrays, axis=axis)

    def backward(self, g):
        """∂aᵢ = the slice of g that aᵢ filled"""
        return tuple(np.split(g, self.saved[0], axis=self.axis))


class Stack(Op):
    __slots__ = ("axis",)
    name = "stack"

    def forward(self, *arrays, axis=0):
        self.axis = axis
        self.saved = (len(arrays),)
        return np.stack(arrays, axis=axis)

    def backward(self, g):
        """∂aᵢ = g's i-th slice along the stacked axis"""
        return tuple(np.take(g, i, axis=self.axis) for i in range(self.saved[0]))


# ---------------------------------------------------------------- normalised

class Softmax(Op):
    __slots__ = ("axis",)
    name = "softmax"
    saves_output = True

    def forward(self, a, axis=-1):
        self.saved, self.axis = (a,), axis
        if a.size == 0:                    # (an empty sequence: nothing to normalise)
            return a.copy()
        e = np.exp(a - a.max(axis=axis, keepdims=True))    # shift: no overflow
        y = e / e.sum(axis=axis, keepdims=True)
        self.saved = (y,)
        return y

    def backward(self, g):
        """∂a = y ⊙ (g − Σ g·y),  y = softmax(a)"""
        y = self.saved[0]
        return (softmax_backward(g * y, y, self.axis),)


class LogSoftmax(Op):
    """log softmax(a) = (a − m) − log Σ exp(a − m), m the max over `axis` (the shift: exp
    can't overflow). Forward keeps e = exp(a − m) and its sum s, so the backward's
    softmax(a) = e/s needs no exp of its own (and the output, which an op never holds,
    is not needed)."""
    __slots__ = ("axis",)
    name = "log_softmax"

    def forward(self, a, axis=-1):
        self.axis = axis
        if a.size == 0:                    # (an empty sequence: nothing to normalise)
            self.saved = (a, 1.0)
            return a.copy()
        y = a - np.maximum.reduce(a, axis=axis, keepdims=True)     # shifted: exp can't overflow
        e = np.exp(y)
        s = np.add.reduce(e, axis=axis, keepdims=True)
        y -= np.log(s)                     # shifted − log Σ e^shifted
        self.saved = (e, s)
        return y

    def backward(self, g):
        """∂a = g − softmax(a)·Σ g"""
        e, s = self.saved                  # softmax(a) = e/s
        u = e * (np.add.reduce(g, axis=self.axis, keepdims=True) / s)   # softmax(a)·Σ g
        return (np.subtract(g, u, out=u),)


# ------------------------------------------------------ more PyTorch primitives
# The ops tutorials use that can't be composed exactly from the ones above.

class Expand(Op):
    """a broadcast to a larger shape (a view: nothing is copied)."""
    __slots__ = ()
    name = "expand"
    is_view = True                # (its output shares input 0's memory)

    def forward(self, a, shape):
        return np.broadcast_to(a, shape)

    def backward(self, g):
        """∂a = Σ g over the broadcast axes (summed down by engine.unbroadcast)"""
        return (g,)


class Sign(Op):
    __slots__ = ()
    name = "sign"

    def forward(self, a):
        return np.sign(a)

    def backward(self, g):
        """∂a = 0 (sign is flat, as PyTorch's gradient)"""
        return (np.zeros_like(g),)


class Sin(Op):
    __slots__ = ()
    name = "sin"
    saves_inputs = (0,)

    def forward(self, a):
        self.saved = (a,)
        return np.sin(a)

    def backward(self, g):
        """∂a = g·cos a"""
        return (g * np.cos(self.saved[0]),)


class Cos(Op):
    __slots__ = ()
    name = "cos"
    saves_inputs = (0,)

    def forward(self, a):
        self.saved = (a,)
        return np.cos(a)

    def backward(self, g):
        """∂a = −g·sin a"""
        return (-g * np.sin(self.saved[0]),)


class Erf(Op):
    __slots__ = ()
    name = "erf"
    saves_inputs = (0,)

    def forward(self, a):
        self.saved = (a,)
        return erf(a).astype(a.dtype, copy=False)

    def backward(self, g):
        """∂a = g·(2/√π)·e^(−a²)"""
        a = self.saved[0]
        return (g * TWO_OVER_SQRT_PI * np.exp(-a * a),)


class Softplus(Op):
    """log(1 + e^(βa))/β, and a itself where βa > threshold (PyTorch's)."""
    __slots__ = ("beta", "threshold")
    name = "softplus"
    saves_inputs = (0,)

    def forward(self, a, beta=1.0, threshold=20.0):
        self.saved, self.beta, self.threshold = (a,), beta, threshold
        return np.where(a * beta > threshold, a, np.logaddexp(0, a * beta) / beta).astype(a.dtype, copy=False)

    def backward(self, g):
        """∂a = g·σ(βa) (g where βa > threshold)"""
        ba = self.saved[0] * self.beta
        return (np.where(ba > self.threshold, g, g * np.exp(-np.logaddexp(0, -ba))),)


class Cumsum(Op):
    __slots__ = ("axis",)
    name = "cumsum"

    def forward(self, a, axis):
        self.axis = axis
        return np.cumsum(a, axis=axis)

    def backward(self, g):
        """∂a_i = Σ_{j ≥ i} g_j (a cumulative sum from the end)"""
        return (np.flip(np.cumsum(np.flip(g, self.axis), axis=self.axis), self.axis),)


class Prod(Op):
    """Π a over `axis` (a tuple, or None for all)."""
    __slots__ = ("axis", "keepdims")
    name = "prod"
    saves_inputs = (0,)

    def forward(self, a, axis=None, keepdims=False):
        self.saved, self.axis, self.keepdims = (a,), axis, keepdims
        return np.prod(a, axis=axis, keepdims=keepdims)

    def backward(self, g):
        """∂a_i = g·Π_{j ≠ i} a_j (the product of the others: exact when some a_j = 0)"""
        a = self.saved[0]
        if a.size == 0:                    # (nothing to differentiate: the product of none is 1)
            return (np.zeros_like(a),)
        axes = tuple(range(a.ndim)) if self.axis is None else self.axis
        inner = tuple(range(a.ndim - len(axes), a.ndim))
        moved = np.moveaxis(a, axes, inner)                 # the reduced axes last, then flat
        flat = moved.reshape(moved.shape[:a.ndim - len(axes)] + (math.prod(a.shape[i] for i in axes),))
        ones = np.ones(flat.shape[:-1] + (1,), dtype=a.dtype)
        before = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
        after = np.flip(np.cumprod(np.flip(np.concatenate([flat[..., 1:], ones], axis=-1), -1), -1), -1)
        others = np.moveaxis((before * after).reshape(moved.shape), inner, axes)
        return (_unreduce(g, a.shape, self.axis, self.keepdims) * others,)


def _gather_index(index, axis):
    """The NumPy fancy index that reads out[p] = a[p with its `axis` coordinate replaced
    by index[p]], for every position p of `index`."""
    grid = list(np.indices(index.shape, sparse=True))
    grid[axis] = index
    return tuple(grid)


class Gather(Op):
    """out[..., i, ...] = a[..., index[..., i, ...], ...] along `axis` (PyTorch's gather)."""
    __slots__ = ()
    name = "gather"

    def forward(self, a, axis, index):
        where = _gather_index(index, axis)
        self.saved = (a.shape, where)
        return a[where]

    def backward(self, g):
        """∂a = g scattered back to where it was read (added up where read twice)"""
        shape, where = self.saved
        out = np.zeros(shape, dtype=g.dtype)
        np.add.at(out, where, g)
        return (out,)


class Einsum(Op):
    """np.einsum over explicit subscripts ("bhqd,bhkd->bhqk"), no letter repeated
    within one operand (no diagonals)."""
    __slots__ = ("inputs", "output")
    name = "einsum"
    saves_inputs = property(lambda self: range(len(self._prev)))

    def forward(self, *arrays, inputs, output):
        self.inputs, self.output, self.saved = inputs, output, arrays
        return np.einsum(f"{','.join(inputs)}->{output}", *arrays)

    def backward(self, g):
        """∂Aₖ = einsum(g, the other operands → Aₖ's subscripts), broadcast over letters only Aₖ has"""
        arrays, grads = self.saved, []
        for k, (subs, a) in enumerate(zip(self.inputs, arrays)):
            if not self.needs[k]:
                grads.append(None)
                continue
            others = [(s, x) for i, (s, x) in enumerate(zip(self.inputs, arrays)) if i != k]
            known = set(self.output).union(*[s for s, _ in others])
            target = "".join(c for c in subs if c in known)
            spec = ",".join([self.output] + [s for s, _ in others]) + "->" + target
            grad = np.einsum(spec, g, *[x for _, x in others])
            grad = np.expand_dims(grad, tuple(i for i, c in enumerate(subs) if c not in known))
            grads.append(np.broadcast_to(grad, np.broadcast_shapes(grad.shape, a.shape)))
        return tuple(grads)
