"""`Tensor`: a NumPy array that remembers how it was made.

Every method records one primitive op from `ops.py` (or composes several); the
output points at that op (`_ctx`), and the op at the ops or leaf tensors its
inputs came from (`op._prev`). `backward()` hands the graph to
`engine.backward`, which walks it children-first.
"""
import weakref

import numpy as np

from . import ops
from .engine import backward as _backward
from .engine import check_finite, next_seq, state

_new = object.__new__                  # (a Tensor without __init__: ops' outputs skip its checks)


def _float_dtype(dtype):
    return np.issubdtype(dtype, np.floating)


class Tensor:
    __slots__ = ("data", "grad", "requires_grad", "name", "_ctx", "__weakref__")
    _prev = ()                         # as a node of the graph a tensor is always a leaf:
    _seq = 0                           # computed tensors are stood for by their op (_ctx)
    __array_priority__ = 1000          # ndarray (op) Tensor defers to Tensor's operators

    def __init__(self, data, requires_grad=False, dtype=None, name=None):
        if isinstance(data, Tensor):
            data = data.data
        if dtype is None:
            data = np.array(data)
            if _float_dtype(data.dtype):
                data = data.astype(np.float32, copy=False)  # float data defaults to float32
        else:
            data = np.array(data, dtype=dtype)
        if data.dtype == object:
            raise TypeError(f"Tensor: cannot make a tensor from {type(data.flat[0]).__name__} data")
        self.data = data
        self.grad = None
        self.name = name
        self._ctx = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _make(cls, data, ctx=None):
        """An op's output (or a constant) from an array, without copying it."""
        t = _new(cls)
        t.data = data if type(data) is np.ndarray else np.asarray(data)
        t.grad = t.name = None
        t._ctx = ctx
        t.requires_grad = ctx is not None
        return t

    def requires_grad_(self, requires_grad=True):
        if requires_grad and not _float_dtype(self.data.dtype):
            raise TypeError(
                f"only floating-point tensors can require grad; this one is {self.data.dtype} "
                "(make it with dtype=np.float32 or np.float64)")
        self.requires_grad = bool(requires_grad)
        return self

    # ------------------------------------------------------------ attributes
    shape = property(lambda self: self.data.shape)
    ndim = property(lambda self: self.data.ndim)
    dtype = property(lambda self: self.data.dtype)
    size = property(lambda self: self.data.size)
    T = property(lambda self: self.permute(*reversed(range(self.data.ndim))))
    is_leaf = property(lambda self: self._ctx is None)

    def __repr__(self):
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extra = f", dtype={self.data.dtype}" if self.data.dtype != np.float32 else ""
        if self._ctx is not None:
            extra += f", op={self._ctx.name}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def numpy(self):
        return self.data.copy()

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item(): only a one-element tensor has an item; shape is {self.shape}")
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def detach(self):
        """The same array, cut from the graph (shares memory, as PyTorch)."""
        return Tensor._make(self.data)

    def retain_grad(self):
        """Keep this intermediate's gradient in `.grad` after backward (leaves always do)."""
        if self._ctx is not None:
            self._ctx.retained = weakref.ref(self)
        return self

    def _accumulate(self, grad):
        """Add a gradient into `.grad`, in this tensor's dtype; the first one is copied,
        so `.grad` is never a view of another tensor's gradient."""
        if self.grad is None:
            self.grad = np.array(grad, dtype=self.data.dtype)
        else:
            self.grad = self.grad + grad.astype(self.data.dtype, copy=False)

    def zero_grad(self):
        self.grad = None

    def backward(self, grad=None, retain_graph=False):
        """Add d(self)/d(leaf) · grad into the `.grad` of every leaf that requires grad."""
        if not self.requires_grad:
            raise ValueError(
                "backward(): this tensor does not require grad and has no graph; "
                "make an input with requires_grad=True, and don't call it under no_grad()")
        if grad is None:
            if self.data.size != 1:
                raise ValueError(
                    f"backward(): grad can be omitted only for a one-element tensor; this one "
                    f"has shape {self.shape}, so pass grad= of that shape")
            grad = np.ones_like(self.data)
        else:
            grad = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=self.data.dtype)
            if grad.shape != self.shape:
                raise ValueError(
                    f"backward(): grad has shape {grad.shape} but the tensor has shape {self.shape}")
        if self._ctx is None:              # backward on a leaf: d(self)/d(self) = 1
            self._accumulate(grad)
        else:
            _backward(self._ctx, grad, retain_graph)

    # ----------------------------------------------------------- op plumbing
    def _const(self, x):
        """Wrap a number or array met in an op with this tensor: a number takes this
        tensor's float dtype, so float32 stays float32."""
        if isinstance(x, Tensor):
            return x
        if isinstance(x, (int, float)) and not isinstance(x, bool):
            dtype = self.data.dtype if _float_dtype(self.data.dtype) else \
                (np.float32 if isinstance(x, float) else self.data.dtype)
            return Tensor._make(np.array(x, dtype=dtype))
        x = np.asarray(x)
        if _float_dtype(x.dtype) and _float_dtype(self.data.dtype):   # a float array too:
            return Tensor._make(x.astype(self.data.dtype, copy=False))  # float64 stays exact
        return Tensor(x)

    def astype(self, dtype):
        if np.dtype(dtype) == self.data.dtype:
            return self
        if not _float_dtype(np.dtype(dtype)):
            return Tensor._make(self.data.astype(dtype))    # integer views carry no grad
        return apply(ops.Cast, self, dtype=dtype)

    # ------------------------------------------------------------ arithmetic
    def __add__(self, other):
        return apply(ops.Add, self, self._const(other))

    def __radd__(self, other):
        return apply(ops.Add, self._const(other), self)

    def __sub__(self, other):
        return apply(ops.Sub, self, self._const(other))

    def __rsub__(self, other):
        return apply(ops.Sub, self._const(other), self)

    def __mul__(self, other):
        return apply(ops.Mul, self, self._const(other))

    def __rmul__(self, other):
        return apply(ops.Mul, self._const(other), self)

    def __truediv__(self, other):
        return apply(ops.Div, self, self._const(other))

    def __rtruediv__(self, other):
        return apply(ops.Div, self._const(other), self)

    def __neg__(self):
        return apply(ops.Neg, self)

    def __pow__(self, p):
        if isinstance(p, Tensor):      # aᵇ = exp(b·log a) when the exponent is a tensor
            return (p * self.log()).exp()
        if not isinstance(p, (int, float)):
            raise TypeError(f"**: the exponent must be a number or a Tensor, not {type(p).__name__}")
        return apply(ops.Pow, self, p=p)

    def __rpow__(self, base):          # bᵃ = exp(a·log b)
        return (self * float(np.log(base))).exp()

    def matmul(self, other):
        other = self._const(other)
        a, b = self.shape, other.shape
        if not a or not b or a[-1] != (b[-2] if len(b) > 1 else b[0]):
            raise ValueError(f"matmul: {a} @ {b}: inner dimensions do not match")
        try:
            np.broadcast_shapes(a[:-2], b[:-2])
        except ValueError:
            raise ValueError(f"matmul: {a} @ {b}: batch dimensions do not broadcast") from None
        return apply(ops.MatMul, self, other)

    __matmul__ = matmul

    def __rmatmul__(self, other):
        return self._const(other).matmul(self)

    # ----------------------------------------------------------- elementwise
    def exp(self):
        return apply(ops.Exp, self)

    def log(self):
        return apply(ops.Log, self)

    def sqrt(self):
        return apply(ops.Sqrt, self)

    def abs(self):
        return apply(ops.Abs, self)

    def tanh(self):
        return apply(ops.Tanh, self)

    def sigmoid(self):
        return apply(ops.Sigmoid, self)

    def relu(self):
        return apply(ops.Relu, self)

    def silu(self):
        return apply(ops.Silu, self)

    def gelu(self, approximate="none"):
        if approximate not in ("none", "tanh"):
            raise ValueError(f"gelu: approximate must be 'none' or 'tanh', not {approximate!r}")
        return apply(ops.Gelu, self, approximate=approximate)

    # ------------------------------------------------------------ reductions
    def _axis(self, axis):
        """Normalise an axis argument (int, tuple or None) to a tuple of non-negative ints."""
        if axis is None:
            return None
        axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
        nd = self.data.ndim
        for ax in axes:
            if not -nd <= ax < max(nd, 1):
                raise ValueError(f"axis {ax} is out of range for a tensor of shape {self.shape}")
        return tuple(sorted(int(ax) % max(nd, 1) for ax in axes))

    def sum(self, axis=None, keepdims=False):
        return apply(ops.Sum, self, axis=self._axis(axis), keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        return apply(ops.Mean, self, axis=self._axis(axis), keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        return apply(ops.Max, self, axis=self._axis(axis), keepdims=keepdims)

    def var(self, axis=None, keepdims=False, correction=0):
        return apply(ops.Var, self, axis=self._axis(axis), keepdims=keepdims, correction=correction)

    # ----------------------------------------------------------------- shape
    def reshape(self, *shape):
        shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return apply(ops.Reshape, self, shape=shape)

    def permute(self, *axes):
        axes = tuple(axes[0]) if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        if sorted(a % max(self.ndim, 1) for a in axes) != list(range(self.ndim)):
            raise ValueError(f"permute: {axes} is not a permutation of the {self.ndim} axes of {self.shape}")
        return apply(ops.Permute, self, axes=tuple(a % self.ndim for a in axes))

    def transpose(self, a=-2, b=-1):
        axes = list(range(self.ndim))
        axes[a], axes[b] = axes[b], axes[a]
        return self.permute(*axes)

    def __getitem__(self, index):
        if isinstance(index, tuple):
            index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
        elif isinstance(index, Tensor):
            index = index.data
        elif isinstance(index, list):
            index = np.asarray(index)
        return apply(ops.GetItem, self, index=index)

    def masked_fill(self, mask, value):
        mask = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
        if mask.dtype != np.bool_:
            raise TypeError(f"masked_fill: the mask must be boolean, not {mask.dtype}")
        _check_broadcast("masked_fill", self.shape, mask.shape)
        return apply(ops.MaskedFill, self, mask=mask, value=value)

    # ------------------------------------------------------------ normalised
    def softmax(self, axis=-1):
        return apply(ops.Softmax, self, axis=axis)

    def log_softmax(self, axis=-1):
        return apply(ops.LogSoftmax, self, axis=axis)


def _check_broadcast(what, *shapes):
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        raise ValueError(f"{what}: shapes {' and '.join(map(str, shapes))} do not broadcast") from None


def apply(op_class, *inputs, **params):
    """Run one primitive on the inputs' arrays. If grad is on and some input requires
    it, the output remembers the op and its inputs; otherwise it is a plain leaf."""
    op = op_class()
    op.saved = ()
    try:
        if len(inputs) == 2:               # (the common arities, without a list: ~10% faster)
            out = op.forward(inputs[0].data, inputs[1].data, **params)
        elif len(inputs) == 1:
            out = op.forward(inputs[0].data, **params)
        else:
            out = op.forward(*[t.data for t in inputs], **params)
    except (ValueError, IndexError) as e:  # NumPy's complaint, with the op and the shapes
        shapes = " and ".join(str(t.shape) for t in inputs)
        raise type(e)(f"{op.name}: input shape{'s' * (len(inputs) > 1)} {shapes}: {e}") from None
    if state.check_finite:
        _check_forward(op, inputs, out)
    if state.grad_enabled:
        needs, prev = _edges(inputs)
        if True in needs:
            op._prev = prev
            op._seq = next_seq()
            op.shape, op.dtype = out.shape, out.dtype
            op.needs = needs
            op.module = state.module
            op.retained = None
            return Tensor._make(out, op)
    return Tensor._make(out)


def _edges(inputs):
    """For each input: does it need a gradient, and which graph node stands for it
    (the op that made it, or the tensor itself when it is a leaf)."""
    if len(inputs) == 2:                   # the common arities spelled out: the hot path
        a, b = inputs
        return (a.requires_grad, b.requires_grad), (a._ctx or a, b._ctx or b)
    if len(inputs) == 1:
        a = inputs[0]
        return (a.requires_grad,), (a._ctx or a,)
    return tuple([t.requires_grad for t in inputs]), tuple([t._ctx or t for t in inputs])


def _check_forward(op, inputs, out):
    """detect_anomaly: raise if this op turned finite inputs into a NaN or Inf."""
    op.module = state.module
    if all(np.isfinite(t.data).all() for t in inputs if _float_dtype(t.data.dtype)):
        check_finite(out, op, [t.shape for t in inputs], "forward")


# ------------------------------------------------------------- constructors

def tensor(data, requires_grad=False, dtype=None, name=None):
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, name=name)


def zeros(*shape, requires_grad=False, dtype=np.float32):
    shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    return Tensor(np.zeros(shape, dtype=dtype), requires_grad=requires_grad)


def ones(*shape, requires_grad=False, dtype=np.float32):
    shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    return Tensor(np.ones(shape, dtype=dtype), requires_grad=requires_grad)


def randn(*shape, seed=None, requires_grad=False, dtype=np.float32):
    shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    data = np.random.default_rng(seed).standard_normal(shape)
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def arange(n, requires_grad=False, dtype=None):
    return Tensor(np.arange(n), requires_grad=requires_grad, dtype=dtype)


def cat(tensors, axis=0):
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("cat: needs at least one tensor")
    nd = tensors[0].ndim
    if nd == 0 or any(t.ndim != nd for t in tensors) or not -nd <= axis < nd:
        raise ValueError(f"cat: cannot join shapes {[t.shape for t in tensors]} along axis {axis}")
    axis %= nd
    rest = {t.shape[:axis] + t.shape[axis + 1:] for t in tensors}
    if len(rest) > 1:
        raise ValueError(f"cat: shapes {[t.shape for t in tensors]} differ off axis {axis}")
    return apply(ops.Cat, *tensors, axis=axis)


def stack(tensors, axis=0):
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not tensors or len({t.shape for t in tensors}) > 1:
        raise ValueError(f"stack: needs tensors of one shape, got {[t.shape for t in tensors]}")
    nd = tensors[0].ndim + 1
    if not -nd <= axis < nd:
        raise ValueError(f"stack: axis {axis} out of range for {nd}-d result")
    return apply(ops.Stack, *tensors, axis=axis % nd)


def where(cond, a, b):
    """Elementwise `a` where `cond` is True, else `b` (either may be a number)."""
    cond = np.asarray(cond.data if isinstance(cond, Tensor) else cond)
    if cond.dtype != np.bool_:
        raise TypeError(f"where: the condition must be boolean, not {cond.dtype}")
    ref = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else Tensor(a)
    a, b = ref._const(a), ref._const(b)
    _check_broadcast("where", cond.shape, a.shape, b.shape)
    return apply(ops.Where, a, b, cond=cond)


def residual(skip, branch):
    """`skip + branch` marked as a residual connection (the skip path is input 0)."""
    return apply(ops.ResidualAdd, skip, skip._const(branch))
