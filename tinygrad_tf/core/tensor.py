"""`Tensor`: a NumPy array that remembers how it was made.

Every method records one primitive op from `ops.py` (or composes several); the
output points at that op (`_ctx`), and the op at the ops or leaf tensors its
inputs came from (`op._prev`). `backward()` hands the graph to
`engine.backward`, which walks it children-first.
"""
import weakref
from collections import namedtuple
from operator import attrgetter

import numpy as np

from . import ops
from .engine import NonFiniteError, check_finite, mark_changed, state
from .engine import backward as _backward

_new = object.__new__                  # (a Tensor without __init__: ops' outputs skip its checks)


def _float_dtype(dtype):
    return np.issubdtype(dtype, np.floating)


def _array_of(data):
    """A fresh ndarray of numbers from `data` (a Tensor, array, nested lists, a number),
    or a clear error for ragged lists and non-numbers."""
    if isinstance(data, Tensor):
        data = data.data
    try:
        array = np.array(data)
    except ValueError as e:
        if "inhomogeneous" not in str(e):
            raise
        raise ValueError("Tensor: the nested lists are ragged (rows of different lengths); "
                         "every row must have the same length") from None
    if array.dtype.kind not in "biuf":
        bad = next((x for x in array.flat if not isinstance(x, (bool, int, float, np.number))),
                   array.flat[0] if array.size else None)
        bad = bad.item() if isinstance(bad, np.generic) else bad
        raise TypeError(f"Tensor: the data must be numbers (or bools); found {bad!r} "
                        f"of type {type(bad).__name__}")
    return array


def _from_dlpack(t):
    """Another library's tensor (PyTorch's, JAX's, ...) → a NumPy array that shares its
    memory, dtype kept, through the DLPack protocol; the caller copies it. Detached
    first (a tensor that records a graph refuses to export itself), on the CPU."""
    if getattr(t, "requires_grad", False):
        t = t.detach()
    try:
        return np.from_dlpack(t)
    except (TypeError, BufferError, RuntimeError) as e:
        raise TypeError(f"Tensor: cannot read a {type(t).__module__}.{type(t).__name__} "
                        f"({getattr(t, 'dtype', '?')}) through DLPack: {e}; convert it first "
                        "(e.g. .float().cpu())") from None


class Tensor:
    __slots__ = ("data", "_grad", "requires_grad", "name", "_ctx", "_version", "__weakref__")
    _prev = ()                         # as a node of the graph a tensor is always a leaf:
    _seq = 0                           # computed tensors are stood for by their op (_ctx)
    is_view = False                    # (and not a view of another node: see engine.Op)
    __array_priority__ = 1000          # ndarray (op) Tensor defers to Tensor's operators

    def __init__(self, data, requires_grad=False, dtype=None, name=None):
        if hasattr(data, "__dlpack__") and not isinstance(data, (np.ndarray, Tensor)):
            data = _from_dlpack(data)             # another library's tensor: its dtype is kept
            dtype = data.dtype if dtype is None else dtype
        data = _array_of(data)
        if dtype is not None:
            data = data.astype(dtype)
        elif _float_dtype(data.dtype):
            data = data.astype(np.float32, copy=False)      # float data defaults to float32
        self.data = data
        self._grad = None
        self.name = name
        self._ctx = None
        self._version = 0                  # stamped by each in-place change (engine.mark_changed)
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _make(cls, data, ctx=None):
        """An op's output (or a constant) from an array, without copying it."""
        t = _new(cls)
        t.data = data if type(data) is np.ndarray else np.asarray(data)
        t._grad = t.name = None
        t._ctx = ctx
        t._version = 0
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
    shape = property(attrgetter("data.shape"))      # (self.data.shape; an attrgetter is
    ndim = property(attrgetter("data.ndim"))        # C, no Python call: the backward loop
    dtype = property(attrgetter("data.dtype"))      # reads a leaf's shape on every edge)
    size = property(lambda self: _Size(self.data.size, self.data.shape))
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

    def __iter__(self):
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self.data)))

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def dim(self):
        return self.data.ndim

    def numel(self):
        return self.data.size

    def float(self):
        return self.astype(np.float32)

    def double(self):
        return self.astype(np.float64)

    def long(self):
        return self.astype(np.int64)

    def int(self):
        return self.astype(np.int32)

    def bool(self):
        return self.astype(np.bool_)

    def _float(self):
        """This tensor, or for an integer or bool one a float32 copy: exp, mean and the
        like of integers are float32, as PyTorch's (NumPy would say float64)."""
        return self if self.data.dtype.kind == "f" else self.astype(np.float32)

    def numpy(self):
        return self.data.copy()

    def to_torch(self):
        """A new torch tensor with a copy of the values, the same dtype (needs PyTorch)."""
        import torch
        out = torch.from_numpy(self.data.copy())
        return out.requires_grad_(True) if self.requires_grad else out

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

    def _accumulate(self, grad, owned=False):
        """Add a gradient into `.grad`, in this tensor's dtype. The first one is copied,
        so `.grad` is never a view of another tensor's gradient, unless `owned` (the
        backward loop holds the only reference): then it is kept as it is."""
        if self._grad is None:
            if owned and type(grad) is np.ndarray and grad.dtype == self.data.dtype:
                self._grad = grad
            else:                          # (a copy; also an array for a NumPy scalar's sum)
                self._grad = np.array(grad, dtype=self.data.dtype)
        else:
            self._grad = np.asarray(self._grad + grad.astype(self.data.dtype, copy=False))

    def _set_grad(self, grad):
        """`t.grad = g`: None, or an array (or Tensor) of this tensor's shape, kept in its
        dtype; another shape is refused here, where it is written (PyTorch's check)."""
        if grad is not None:
            grad = np.asarray(grad.data if isinstance(grad, Tensor) else grad)
            if grad.shape != self.data.shape:
                who = f"tensor '{self.name}'" if self.name else "the tensor"
                raise ValueError(f"assigned grad has shape {grad.shape}, but {who} has shape "
                                 f"{self.data.shape}; a gradient has its tensor's shape")
            if grad.dtype.kind not in "biuf":
                raise TypeError(f"assigned grad must be numbers, not {grad.dtype}")
            grad = grad.astype(self.data.dtype, copy=False)
        self._grad = grad

    grad = property(attrgetter("_grad"), _set_grad, doc="∂L/∂this tensor (an array), or None")

    def zero_grad(self):
        self._grad = None

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
        """A number or array met in an op with this tensor, as a constant Tensor. A NumPy
        array keeps its dtype and takes part in promotion as a tensor would (`result_dtype`:
        a float64 array widens a float32 tensor, a 0-d one doesn't). Numbers (and lists)
        don't widen a tensor (PyTorch's rule for Python numbers): one of the same kind or a
        lower one (bool < int < float) takes this tensor's dtype, so float32 stays float32;
        a float number with an integer tensor is float32, an int with a bool one int64."""
        if isinstance(x, Tensor):
            return x
        if (type(x) is float or type(x) is int) and self.data.dtype.kind == "f":
            return Tensor._make(np.array(x, dtype=self.data.dtype))   # (the common case, direct)
        array = type(x) is np.ndarray
        x = np.asarray(x)
        kind, mine = _KIND.get(x.dtype.kind), _KIND[self.data.dtype.kind]
        if kind is None:
            raise TypeError(f"expected a number, array or Tensor, got {x.dtype} data")
        if array:                          # an array is a tensor of its own dtype (result_dtype)
            return Tensor._make(x)
        return Tensor._make(x.astype(self.data.dtype if kind <= mine else _DEFAULT[kind], copy=False))

    def _pair(self, other):
        """The operands of a binary op as two Tensors of one dtype, by `result_dtype`."""
        other = self._const(other)
        if other.data.dtype == self.data.dtype:
            return self, other
        dtype = result_dtype(self, other)
        return self.astype(dtype), other.astype(dtype)

    def astype(self, dtype):
        if np.dtype(dtype) == self.data.dtype:
            return self
        if not _float_dtype(np.dtype(dtype)):
            return Tensor._make(self.data.astype(dtype))    # integer views carry no grad
        return apply(ops.Cast, self, dtype=dtype)

    # ------------------------------------------------------------ arithmetic
    def __add__(self, other):
        if type(other) is not Tensor or other.data.dtype is not self.data.dtype:
            self, other = self._pair(other)        # (inline: the hot path is two tensors)
        return binary(ops.Add, self, other)

    def __radd__(self, other):
        a, b = self._pair(other)
        return binary(ops.Add, b, a)

    def __sub__(self, other):
        if type(other) is not Tensor or other.data.dtype is not self.data.dtype:
            self, other = self._pair(other)        # (inline: the hot path is two tensors)
        return binary(ops.Sub, self, other)

    def __rsub__(self, other):
        a, b = self._pair(other)
        return binary(ops.Sub, b, a)

    def __mul__(self, other):
        if type(other) is not Tensor or other.data.dtype is not self.data.dtype:
            self, other = self._pair(other)        # (inline: the hot path is two tensors)
        return binary(ops.Mul, self, other)

    def __rmul__(self, other):
        a, b = self._pair(other)
        return binary(ops.Mul, b, a)

    def __truediv__(self, other):
        a, b = self._pair(other)
        if not _float_dtype(a.data.dtype):     # int / int is a float, as in PyTorch
            a, b = a.astype(np.float32), b.astype(np.float32)
        return binary(ops.Div, a, b)

    def __rtruediv__(self, other):
        return self._const(other) / self

    def __neg__(self):
        return apply(ops.Neg, self)

    def __pow__(self, exponent):
        return binary(ops.Pow, *self._pair(exponent))

    def __rpow__(self, base):
        a, b = self._pair(base)
        return binary(ops.Pow, b, a)

    def add(self, other):
        return self + other

    def sub(self, other):
        return self - other

    def mul(self, other):
        return self * other

    def div(self, other):
        return self / other

    def neg(self):
        return -self

    def pow(self, exponent):
        return self ** exponent

    def matmul(self, other):
        other = self._const(other)
        a, b = self.shape, other.shape
        if not a or not b or a[-1] != (b[-2] if len(b) > 1 else b[0]):
            raise ValueError(f"matmul: {a} @ {b}: inner dimensions do not match")
        if len(a) > 2 and len(b) > 2:      # (with a matrix or a vector there is nothing to check)
            try:
                np.broadcast_shapes(a[:-2], b[:-2])
            except ValueError:
                raise ValueError(f"matmul: {a} @ {b}: batch dimensions do not broadcast") from None
        if self.data.dtype != other.data.dtype:
            raise TypeError(
                f"matmul: {self.data.dtype} @ {other.data.dtype}: both operands must have one "
                f"dtype (PyTorch refuses mixed dtypes too); cast one, e.g. x.astype(np.float32)")
        return binary(ops.MatMul, self, other)

    __matmul__ = matmul

    def __rmatmul__(self, other):
        return self._const(other).matmul(self)

    # ----------------------------------------------------------- comparisons
    # Elementwise, as in PyTorch: a boolean tensor that needs no gradient. A tensor's
    # hash stays its identity, so tensors still work as dict keys and set members.
    __hash__ = object.__hash__

    def _compare(self, other, ufunc):
        if other is None or isinstance(other, str):
            return NotImplemented          # t == None is False, as for any object
        other = other.data if isinstance(other, Tensor) else np.asarray(other)
        check_broadcast(ufunc.__name__, self.shape, other.shape)
        return Tensor._make(ufunc(self.data, other))

    def __eq__(self, other):
        return self._compare(other, np.equal)

    def __ne__(self, other):
        return self._compare(other, np.not_equal)

    def __lt__(self, other):
        return self._compare(other, np.less)

    def __le__(self, other):
        return self._compare(other, np.less_equal)

    def __gt__(self, other):
        return self._compare(other, np.greater)

    def __ge__(self, other):
        return self._compare(other, np.greater_equal)

    eq, ne, lt, le, gt, ge = __eq__, __ne__, __lt__, __le__, __gt__, __ge__

    def _logical(self, other, ufunc):
        """`&`, `|`, `^` of bool (or integer) tensors, as masks are combined; no gradient."""
        other = other.data if isinstance(other, Tensor) else np.asarray(other)
        if self.data.dtype.kind not in "biu" or other.dtype.kind not in "biu":
            raise TypeError(f"{ufunc.__name__}: needs bool or integer tensors, not {self.data.dtype} "
                            f"and {other.dtype} (PyTorch refuses floats too); compare first, e.g. (x > 0)")
        check_broadcast(ufunc.__name__, self.shape, other.shape)
        return Tensor._make(ufunc(self.data, other))

    def __and__(self, other):
        return self._logical(other, np.bitwise_and)

    def __or__(self, other):
        return self._logical(other, np.bitwise_or)

    def __xor__(self, other):
        return self._logical(other, np.bitwise_xor)

    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__

    def __invert__(self):
        """`~mask`: logical not of a bool tensor (bitwise not of an integer one)."""
        if self.data.dtype.kind not in "biu":
            raise TypeError(f"~: needs a bool or integer tensor, not {self.data.dtype}")
        return Tensor._make(np.invert(self.data))

    def isnan(self):
        return Tensor._make(np.isnan(self.data))

    def isinf(self):
        return Tensor._make(np.isinf(self.data))

    def isfinite(self):
        return Tensor._make(np.isfinite(self.data))

    def all(self, axis=None, keepdims=False, dim=None, keepdim=None):
        axis, keepdims = _torch_names(axis, keepdims, dim, keepdim)
        return Tensor._make(np.all(self.data, axis=self._axis(axis), keepdims=keepdims))

    def any(self, axis=None, keepdims=False, dim=None, keepdim=None):
        axis, keepdims = _torch_names(axis, keepdims, dim, keepdim)
        return Tensor._make(np.any(self.data, axis=self._axis(axis), keepdims=keepdims))

    # ----------------------------------------------------- Python conversions
    def _one(self, what):
        if self.data.size != 1:
            raise ValueError(f"{what} of a tensor with {self.data.size} elements (shape {self.shape}) "
                             "is ambiguous; only a one-element tensor converts (use .any() or .all() "
                             "for truth, .sum() or indexing for a number)")
        return self.data.item()

    def __bool__(self):
        return bool(self._one("the truth value"))

    def __float__(self):
        return float(self._one("float()"))

    def __int__(self):
        return int(self._one("int()"))

    def __index__(self):
        if self.data.dtype.kind not in "iu":
            raise TypeError(f"only an integer tensor can be used as an index, not {self.data.dtype}")
        return int(self._one("an index"))

    def __format__(self, spec):
        if not spec:
            return str(self)
        return format(self._one(f"format(t, {spec!r})"), spec)

    # ------------------------------------------------------ NumPy interplay
    def __array__(self, dtype=None, copy=None):
        """`np.asarray(t)`: the data (the graph is not NumPy's to keep)."""
        if copy:
            return np.array(self.data, dtype=dtype)
        return self.data if dtype is None else self.data.astype(dtype, copy=False)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """`ndarray + t`, `np.exp(t)`: a ufunc the engine has runs as the Tensor op, so the
        graph is recorded; any other runs on the data, refused if that would drop a gradient."""
        name = _UFUNCS.get(ufunc.__name__) if method == "__call__" and not kwargs else None
        if name is not None and len(inputs) == 2 and not isinstance(inputs[0], Tensor):
            first = self._const(inputs[0])          # (array (op) tensor: the array as a constant)
            return getattr(first, name)(inputs[1])
        if name is not None:
            return getattr(inputs[0], name)(*inputs[1:])
        return _on_data(f"np.{ufunc.__name__}" + (f".{method}" if method != "__call__" else ""),
                        getattr(ufunc, method), inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        """`np.sum(t)`, `np.concatenate([a, b])`, ...: as `__array_ufunc__`."""
        op = _FUNCTIONS.get(func.__name__)
        if op is not None:
            return op(*args, **kwargs)
        return _on_data(f"np.{func.__name__}", func, args, kwargs)

    # ------------------------------------------------------------- in place
    def __setitem__(self, index, value):
        """`t[index] = value`, with the in-place rules of `_inplace` (a leaf that requires
        grad refuses outside no_grad). On a graph, the written places get no gradient."""
        if isinstance(index, Tensor):
            index = index.data
        if isinstance(value, Tensor) and value.requires_grad and state.grad_enabled:
            raise TypeError("t[index] = value: a value that requires grad can't be written in "
                            "place here; build the result with tg.where or tg.cat instead")
        written = np.zeros(self.shape, dtype=bool)
        written[index] = True
        value = value.data if isinstance(value, Tensor) else value

        def compute(t):
            full = np.zeros(self.shape, dtype=self.data.dtype)
            full[index] = value
            return where(written, full, t)

        def update(data):
            data[index] = value
        return self._inplace("t[index] = value", None, compute, update)

    def _inplace(self, what, source, compute, update):
        """Change this tensor in place, as PyTorch. A leaf that requires grad refuses outside
        no_grad. When a gradient is involved (this tensor or `source` is on a graph, grad on),
        the tensor becomes `compute()`'s result, recorded on the graph; otherwise
        `update(self.data)` writes into the array, so views and references see the change,
        and the change is stamped (`engine.mark_changed`): a backward that saved the old
        values refuses, as PyTorch's version counters."""
        if not state.grad_enabled:
            tracked = False
        elif self.requires_grad and self._ctx is None:
            raise RuntimeError(
                f"{what}: a leaf tensor that requires grad is being used in an in-place operation "
                "(PyTorch refuses this too); update parameters inside `with tg.no_grad():`")
        else:
            tracked = self.requires_grad or (isinstance(source, Tensor) and source.requires_grad)
        if not tracked:
            try:
                update(self.data)
            except (TypeError, ValueError) as e:
                raise (TypeError if isinstance(e, TypeError) else ValueError)(
                    f"{what}: into a {self.data.dtype} tensor of shape {self.shape}: {e}") from None
            mark_changed(self, what)
            return self
        out = compute(self if self._ctx is not None else Tensor._make(self.data))
        if out.shape != self.shape or out.dtype != self.dtype:
            raise ValueError(f"{what}: the result has shape {out.shape} and dtype {out.dtype}, "
                             f"which can't be written into a {self.dtype} tensor of shape {self.shape}")
        self.data, self._ctx, self.requires_grad = out.data, out._ctx, True
        return self

    def _inplace_binary(self, what, ufunc, other):
        value = other.data if isinstance(other, Tensor) else other
        return self._inplace(what, other, lambda t: ufunc(t, other),
                             lambda data: ufunc(data, value, out=data, casting="same_kind"))

    def __iadd__(self, other):
        return self._inplace_binary("+=", np.add, other)

    def __isub__(self, other):
        return self._inplace_binary("-=", np.subtract, other)

    def __imul__(self, other):
        return self._inplace_binary("*=", np.multiply, other)

    def __itruediv__(self, other):
        return self._inplace_binary("/=", np.true_divide, other)

    def fill_(self, value):
        value = value.item() if isinstance(value, Tensor) else value
        full = np.ones(self.shape, dtype=bool)
        return self._inplace("fill_", None, lambda t: t.masked_fill(full, value),
                             lambda data: data.fill(value))

    def zero_(self):
        return self.fill_(0)

    def copy_(self, src):
        """Write `src` (broadcast to this shape, cast to this dtype) into this tensor."""
        return self._write("copy_", src)

    def _write(self, what, src):
        full = np.ones(self.shape, dtype=bool)
        value = src.data if isinstance(src, Tensor) else src
        return self._inplace(what, src, lambda t: (t.masked_fill(full, 0) + src).astype(self.dtype),
                             lambda data: np.copyto(data, value, casting="unsafe"))

    def masked_fill_(self, mask, value):
        """masked_fill in place: `value` where `mask` (broadcast to this shape) is True."""
        mask = self._mask("masked_fill_", mask)
        if np.broadcast_shapes(self.shape, mask.shape) != self.shape:
            raise ValueError(f"masked_fill_: a mask of shape {mask.shape} doesn't broadcast to the "
                             f"tensor's shape {self.shape}")
        value = value.item() if isinstance(value, Tensor) else value
        return self._inplace("masked_fill_", None, lambda t: t.masked_fill(mask, value),
                             lambda data: np.copyto(data, value, where=mask, casting="unsafe"))

    def relu_(self):
        """relu in place (what `F.relu(x, inplace=True)` and `nn.ReLU(inplace=True)` do)."""
        return self._inplace("relu_", None, lambda t: t.relu(),
                             lambda data: np.maximum(data, 0, out=data))

    # ----------------------------------------------------------- elementwise
    def exp(self):
        return apply(ops.Exp, self._float())

    def log(self):
        return apply(ops.Log, self._float())

    def sqrt(self):
        return apply(ops.Sqrt, self._float())

    def abs(self):
        return apply(ops.Abs, self)

    def tanh(self):
        return apply(ops.Tanh, self._float())

    def sigmoid(self):
        return apply(ops.Sigmoid, self._float())

    def relu(self):
        return apply(ops.Relu, self)

    def silu(self):
        return apply(ops.Silu, self._float())

    def gelu(self, approximate="none"):
        if approximate not in ("none", "tanh"):
            raise ValueError(f"gelu: approximate must be 'none' or 'tanh', not {approximate!r}")
        if state.plain:                    # tg.plain(): GELU from erf (or tanh), step by step; the
            return ops.Gelu.plain(self._float(), approximate)   # fast op is one output array
        return apply(ops.Gelu, self._float(), approximate=approximate)

    def sign(self):
        return apply(ops.Sign, self)

    def sin(self):
        return apply(ops.Sin, self._float())

    def cos(self):
        return apply(ops.Cos, self._float())

    def erf(self):
        return apply(ops.Erf, self._float())

    def softplus(self, beta=1.0, threshold=20.0):
        """log(1 + e^(βx))/β, and x where βx > threshold (PyTorch's)."""
        return apply(ops.Softplus, self._float(), beta=beta, threshold=threshold)

    def leaky_relu(self, negative_slope=0.01):
        return where(self > 0, self, self * negative_slope)

    def rsqrt(self):
        return self ** -0.5

    def square(self):
        return self * self

    def reciprocal(self):
        return 1 / self

    def clamp(self, min=None, max=None):
        """Values below `min` become `min`, above `max` become `max` (either may be None);
        the gradient passes where min ≤ x ≤ max, as PyTorch's."""
        if min is None and max is None:
            raise ValueError("clamp: give min=, max= or both")
        out = self
        if min is not None:
            out = where(out < min, min, out)
        if max is not None:
            out = where(out > max, max, out)
        return out

    clip = clamp

    def maximum(self, other):
        return maximum(self, other)

    def minimum(self, other):
        return minimum(self, other)

    # ------------------------------------------------------------ reductions
    def _axis(self, axis):
        """Normalise an axis argument (int, tuple or None) to a sorted tuple of
        non-negative ints; None for all axes (and for a 0-d tensor, whose only
        axes are 0 and -1, as in PyTorch)."""
        if axis is None:
            return None
        axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
        nd = self.data.ndim
        for ax in axes:
            if not -max(nd, 1) <= ax < max(nd, 1):
                raise ValueError(f"axis {ax} is out of range for a tensor of shape {self.shape}")
        return tuple(sorted(int(ax) % nd for ax in axes)) if nd else None

    def sum(self, axis=None, keepdims=False, dim=None, keepdim=None):
        axis, keepdims = _torch_names(axis, keepdims, dim, keepdim)
        return apply(ops.Sum, self, axis=self._axis(axis), keepdims=keepdims)

    def mean(self, axis=None, keepdims=False, dim=None, keepdim=None):
        axis, keepdims = _torch_names(axis, keepdims, dim, keepdim)
        return apply(ops.Mean, self._float(), axis=self._axis(axis), keepdims=keepdims)

    def amax(self, axis=None, keepdims=False, dim=None, keepdim=None):
        """The largest values over `axis` (an int, a tuple, or None for all): PyTorch's
        `amax`; ties share the gradient equally."""
        axis, keepdims = _torch_names(axis, keepdims, dim, keepdim)
        axis = self._axis(axis)
        if self.data.size == 0 and (axis is None or 0 in (self.shape[i] for i in axis)):
            raise ValueError(f"max/min of a tensor of shape {self.shape} over an axis of size 0: "
                             "there is no largest of no values (PyTorch refuses too)")
        return apply(ops.Max, self, axis=axis, keepdims=keepdims)

    def amin(self, axis=None, keepdims=False, dim=None, keepdim=None):
        """The smallest values over `axis` (PyTorch's `amin`): -amax(-x)."""
        return -(-self).amax(axis, keepdims, dim, keepdim)

    def max(self, axis=None, keepdims=False, dim=None, keepdim=None):
        """As PyTorch: with no axis, the largest value (a 0-d tensor, as `amax()`); with
        one (`x.max(1)`, `dim=1` or `axis=1`), the named tuple `(values, indices)`, the
        first of ties, whose values send their gradient to that index alone.
        `amax(axis)` gives the values alone (and takes several axes)."""
        axis, keepdims = _torch_names(axis, keepdims, dim, keepdim)
        if axis is None:
            return self.amax()
        return self._pick("max", axis, keepdims)

    def min(self, axis=None, keepdims=False, dim=None, keepdim=None):
        """As `max`: the smallest value, or with an axis the named tuple `(values, indices)`."""
        axis, keepdims = _torch_names(axis, keepdims, dim, keepdim)
        if axis is None:
            return self.amin()
        return self._pick("min", axis, keepdims)

    def _pick(self, what, axis, keepdims):
        """max/min along one axis: (values, indices), the values read at the indices."""
        if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
            raise TypeError(f"{what}: dim must be one int, got {axis!r} (PyTorch's too); "
                            f"for the values over several axes use a{what}({axis!r})")
        if self.data.size == 0 and (not self.data.ndim or self.shape[self._axis(axis)[0]] == 0):
            raise ValueError(f"{what}: there is no {what} over an axis of size 0 "
                             f"(shape {self.shape}, axis {axis}); PyTorch refuses too")
        result = Max if what == "max" else Min
        if not self.data.ndim:             # one value: itself, at index 0 (as PyTorch)
            self._axis(axis)
            return result(self.reshape(()), Tensor._make(np.zeros((), dtype=np.int64)))
        find = self.argmax if what == "max" else self.argmin
        indices = find(axis, keepdims=True)
        values = self.gather(axis, indices)
        if not keepdims:
            indices, values = indices.squeeze(axis), values.squeeze(axis)
        return result(values, indices)

    def argmax(self, axis=None, keepdims=False, dim=None, keepdim=None):
        """Index of the largest value (the first of ties) over `axis`, or into the flattened
        tensor when axis is None; an integer tensor with no gradient."""
        axis, keepdims = _torch_names(axis, keepdims, dim, keepdim)
        if self.data.size == 0:
            raise ValueError(f"argmax/argmin of an empty tensor (shape {self.shape})")
        axis = axis if axis is None or self.data.ndim else None
        return Tensor._make(np.asarray(np.argmax(self.data, axis=axis, keepdims=keepdims)))

    def argmin(self, axis=None, keepdims=False, dim=None, keepdim=None):
        return (-self.detach()).argmax(axis, keepdims, dim, keepdim)

    def prod(self, axis=None, keepdims=False, dim=None, keepdim=None):
        axis, keepdims = _torch_names(axis, keepdims, dim, keepdim)
        return apply(ops.Prod, self, axis=self._axis(axis), keepdims=keepdims)

    def cumsum(self, axis=None, dim=None):
        """Running sums along `axis` (required, as PyTorch's `dim`)."""
        axis, _ = _torch_names(axis, False, dim, None)
        if axis is None:
            raise TypeError("cumsum: give the axis (axis= or dim=)")
        if self.data.ndim == 0:
            return self.reshape(())
        return apply(ops.Cumsum, self, axis=self._axis(axis)[0])

    def var(self, axis=None, keepdims=False, correction=1, dim=None, keepdim=None, unbiased=None):
        """Σ(x - mean)² / (n - correction), with PyTorch's default correction=1 (the
        unbiased estimate); correction=0 is the biased variance (NumPy's default, and
        LayerNorm's). PyTorch's older `unbiased=True/False` is correction=1/0."""
        return self._spread(ops.Var, axis, keepdims, correction, dim, keepdim, unbiased)

    def std(self, axis=None, keepdims=False, correction=1, dim=None, keepdim=None, unbiased=None):
        """√var, with var's default correction=1. Its gradient is 0 where the variance
        is 0 (all values equal), as PyTorch's, not the 0·∞ of var().sqrt()."""
        return self._spread(ops.Std, axis, keepdims, correction, dim, keepdim, unbiased)

    def _spread(self, op, axis, keepdims, correction, dim, keepdim, unbiased):
        axis, keepdims = _torch_names(axis, keepdims, dim, keepdim)
        correction = correction if unbiased is None else int(bool(unbiased))
        return apply(op, self._float(), axis=self._axis(axis), keepdims=keepdims, correction=correction)

    def logsumexp(self, axis=None, keepdims=False, dim=None, keepdim=None):
        """log Σ exp(x), computed as m + log Σ exp(x - m) with m the (constant) maximum, so
        it is finite for any finite x; its gradient is softmax(x)."""
        axis, keepdims = _torch_names(axis, keepdims, dim, keepdim)
        axis = self._axis(axis)
        m = np.max(self.data, axis=axis, keepdims=True) if self.data.size else np.zeros(())
        m = np.where(np.isfinite(m), m, 0).astype(self.data.dtype)   # all -inf (or inf): no shift
        out = (self - m).exp().sum(axis, keepdims=True).log() + m
        return out if keepdims else out.reshape(np.sum(self.data, axis=axis).shape)

    # ----------------------------------------------------------------- shape
    def reshape(self, *shape):
        shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return apply(ops.Reshape, self, shape=shape)

    view = reshape

    def unsqueeze(self, dim):
        """A new axis of size 1 at `dim` (negative counts from the end of the result)."""
        nd = self.data.ndim + 1
        if not -nd <= dim < nd:
            raise ValueError(f"unsqueeze: dim {dim} out of range for a {nd}-d result")
        dim %= nd
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def squeeze(self, dim=None):
        """Drop axes of size 1 (only `dim`, if given; an axis not of size 1 stays, as PyTorch)."""
        axes = range(self.data.ndim) if dim is None else (self._axis(dim) or ())
        drop = {a for a in axes if self.shape[a] == 1}
        return self.reshape(tuple(n for a, n in enumerate(self.shape) if a not in drop))

    def flatten(self, start_dim=0, end_dim=-1):
        if self.data.ndim == 0:
            return self.reshape(1)
        start, end = self._axis(start_dim)[0], self._axis(end_dim)[0]
        if start > end:
            raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
        return self.reshape(self.shape[:start] + (-1,) + self.shape[end + 1:])

    def unflatten(self, dim, sizes):
        dim = self._axis(dim)[0]
        return self.reshape(self.shape[:dim] + tuple(sizes) + self.shape[dim + 1:])

    def split(self, split_size_or_sections, dim=0):
        """Pieces along `dim`: of `split_size` each (the last may be shorter), or of the
        listed sizes, as PyTorch's split (nanoGPT: `q, k, v = qkv.split(n_embd, dim=2)`)."""
        axis = self._axis(dim)[0]
        n = self.shape[axis]
        if isinstance(split_size_or_sections, (int, np.integer)):
            size = int(split_size_or_sections)
            if size <= 0:
                raise ValueError(f"split: split_size must be positive, got {size}")
            sizes = [min(size, n - start) for start in range(0, n, size)] or [0]
        else:
            sizes = [int(k) for k in split_size_or_sections]
            if sum(sizes) != n or min(sizes, default=0) < 0:
                raise ValueError(f"split: sizes {sizes} don't add up to {n}, the length of dim {dim} "
                                 f"of shape {self.shape}")
        ends = np.cumsum(sizes).tolist()
        return tuple(self[(slice(None),) * axis + (slice(end - k, end),)] for k, end in zip(sizes, ends))

    def chunk(self, chunks, dim=0):
        """`chunks` pieces along `dim` of ⌈n/chunks⌉ each (fewer if they run out), as PyTorch."""
        if chunks <= 0:
            raise ValueError(f"chunk: chunks must be positive, got {chunks}")
        n = self.shape[self._axis(dim)[0]]
        if n == 0:                         # (PyTorch: that many empty pieces)
            return self.split([0] * chunks, dim)
        return self.split(-(-n // chunks), dim)

    def expand(self, *sizes):
        """Broadcast to `sizes` (-1 keeps an axis) without copying, as PyTorch."""
        sizes = _shape(sizes)
        lead = len(sizes) - self.data.ndim
        if lead < 0:
            raise ValueError(f"expand: {sizes} has fewer axes than the tensor's shape {self.shape}")
        shape = tuple(self.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(sizes))
        check_broadcast("expand", self.shape, shape)
        if np.broadcast_shapes(self.shape, shape) != shape:
            raise ValueError(f"expand: can't expand shape {self.shape} to {sizes} (only axes of size 1 grow)")
        return apply(ops.Expand, self, shape=shape)

    def gather(self, dim, index):
        """out[i][j] = self[index[i][j]][j] for dim=0 (and so on), as PyTorch's gather:
        `index` has this tensor's number of axes and is no larger off `dim`."""
        index = np.asarray(index.data if isinstance(index, Tensor) else index)
        axis = self._axis(dim)[0] if self.data.ndim else 0
        if index.dtype.kind not in "iu" or index.ndim != self.data.ndim or any(
                i != axis and n > m for i, (n, m) in enumerate(zip(index.shape, self.shape))):
            raise ValueError(f"gather: index of shape {index.shape} and dtype {index.dtype} doesn't fit "
                             f"a tensor of shape {self.shape} along dim {dim} (it needs integers, the "
                             "same number of axes, and no larger a size off that dim)")
        n = self.shape[axis] if self.data.ndim else 1
        if index.size and (index.min() < -n or index.max() >= n):
            raise IndexError(f"gather: index out of range for size {n} along dim {dim}")
        return apply(ops.Gather, self, axis=axis, index=index % max(n, 1))

    def clone(self):
        """A copy on the graph (the gradient passes unchanged)."""
        return apply(ops.Cast, self, dtype=self.data.dtype)

    def contiguous(self):
        return self

    def permute(self, *axes):
        axes = tuple(axes[0]) if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        if sorted(a % max(self.ndim, 1) for a in axes) != list(range(self.ndim)):
            raise ValueError(f"permute: {axes} is not a permutation of the {self.ndim} axes of {self.shape}")
        return apply(ops.Permute, self, axes=tuple(a % self.ndim for a in axes))

    def transpose(self, dim0=-2, dim1=-1):
        self._axis((dim0, dim1))           # (a clear error for an axis out of range)
        axes = list(range(self.ndim))
        axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
        return self.permute(*axes)

    def t(self):
        """The transpose of a matrix (a 0-d or 1-D tensor as it is), as PyTorch's `t()`."""
        if self.data.ndim > 2:
            raise ValueError(f"t(): needs at most 2 dimensions, got shape {self.shape}; "
                             "use transpose(dim0, dim1) or permute")
        return self.T

    def flip(self, dims):
        """Reverse the order along each axis in `dims`."""
        dims = self._axis(dims) or ()
        return self[tuple(slice(None, None, -1) if a in dims else slice(None) for a in range(self.ndim))]

    def tril(self, diagonal=0):
        """Keep the lower triangle (j ≤ i + diagonal) of the last two axes; zero the rest."""
        return self._triangle("tril", diagonal, lower=True)

    def triu(self, diagonal=0):
        """Keep the upper triangle (j ≥ i + diagonal) of the last two axes; zero the rest."""
        return self._triangle("triu", diagonal, lower=False)

    def _triangle(self, what, diagonal, lower):
        if self.data.ndim < 2:
            raise ValueError(f"{what}: needs a tensor of at least 2 dimensions, got shape {self.shape}")
        n, m = self.shape[-2:]
        keep = np.tri(n, m, diagonal, dtype=bool) if lower else ~np.tri(n, m, diagonal - 1, dtype=bool)
        return self.masked_fill(~keep, 0)

    def __getitem__(self, index):
        if isinstance(index, tuple):
            index = tuple(i.data if isinstance(i, Tensor) else np.asarray(i) if isinstance(i, list)
                          else i for i in index)
            split = _split_int_from_array_index(index, self.data.ndim)
            if split is not None:                  # PyTorch's order: the ints first
                return apply(ops.GetItem, self, index=split[0])[split[1]]
        elif isinstance(index, Tensor):
            index = index.data
        elif isinstance(index, list):
            index = np.asarray(index)
        return apply(ops.GetItem, self, index=index)

    def masked_fill(self, mask, value):
        mask = self._mask("masked_fill", mask)
        check_broadcast("masked_fill", self.shape, mask.shape)
        return apply(ops.MaskedFill, self, mask=mask, value=value)

    @staticmethod
    def _mask(what, mask):
        mask = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
        if mask.dtype != np.bool_:
            raise TypeError(f"{what}: the mask must be boolean, not {mask.dtype}")
        return mask

    # ------------------------------------------------------------ normalised
    def softmax(self, axis=None, dim=None):
        axis, _ = _torch_names(axis, False, dim, None, default=-1)
        if self.data.ndim == 0:            # one value, as PyTorch: softmax 1, log_softmax 0
            self._axis(axis)
            return self.reshape(1).softmax().reshape(())
        return apply(ops.Softmax, self._float(), axis=axis)

    def log_softmax(self, axis=None, dim=None):
        axis, _ = _torch_names(axis, False, dim, None, default=-1)
        if self.data.ndim == 0:
            self._axis(axis)
            return self.reshape(1).log_softmax().reshape(())
        return apply(ops.LogSoftmax, self._float(), axis=axis)

    # ------------------------------------------------------- PyTorch's surface
    # What tutorials call on torch tensors, with PyTorch's meaning: the device (always the
    # CPU: NumPy's), casts by torch dtype name, in-place fills and index writes, sorting.
    device = property(lambda self: CPU)
    is_cuda = False

    def to(self, *args, dtype=None, device=None, non_blocking=False, copy=False):
        """PyTorch's `t.to(...)`: a device (a string or `torch.device`) must be the CPU,
        where NumPy keeps everything; a dtype casts (as `astype`); a tensor means its dtype."""
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.data.dtype
            elif is_device(a):
                device = a
            else:
                dtype = a
        check_device(device, "to")
        out = self if dtype is None else self.astype(dtype)
        return out.clone() if copy and out is self else out

    def cpu(self):
        return self

    def cuda(self, device=None):
        check_device("cuda", "cuda()")

    def type(self, dtype=None):
        """With no argument, PyTorch's type name ('torch.FloatTensor'); with a dtype (or such a
        name), this tensor cast to it."""
        if dtype is None:
            return f"torch.{_TYPE_NAMES.get(self.data.dtype, str(self.data.dtype))}"
        if isinstance(dtype, str):
            name = dtype.rpartition(".")[2]
            dtype = next((d for d, n in _TYPE_NAMES.items() if n == name), None)
            if dtype is None:
                raise ValueError(f"type: unknown tensor type {name!r}; one of {sorted(_TYPE_NAMES.values())}")
        return self.astype(dtype)

    def type_as(self, other):
        return self.astype(other.data.dtype if isinstance(other, Tensor) else np.asarray(other).dtype)

    def __floordiv__(self, other):
        """⌊a / b⌋ elementwise (rounding toward -inf, as PyTorch's `//`). It has no gradient
        (PyTorch's backward refuses it), so a tensor that requires grad is refused here."""
        a, b = self._pair(other)
        if state.grad_enabled and (a.requires_grad or b.requires_grad):
            raise TypeError("//: floor division has no gradient (PyTorch's backward refuses it "
                            "too); use .detach() or run it under no_grad()")
        return Tensor._make(np.floor_divide(a.data, b.data))

    def __rfloordiv__(self, other):
        return self._const(other) // self

    # in place, PyTorch's underscore methods (the rules of `_inplace`)
    def add_(self, other, alpha=1):
        return self._inplace_binary("add_", np.add, other if alpha == 1 else other * alpha)

    def sub_(self, other, alpha=1):
        return self._inplace_binary("sub_", np.subtract, other if alpha == 1 else other * alpha)

    def mul_(self, other):
        return self._inplace_binary("mul_", np.multiply, other)

    def div_(self, other):
        return self._inplace_binary("div_", np.true_divide, other)

    def uniform_(self, a=0.0, b=1.0):
        """Fill with draws from U(a, b) (the shared generator, `tg.manual_seed`)."""
        return self._write("uniform_", rng.uniform(a, b, self.shape))

    def normal_(self, mean=0.0, std=1.0):
        """Fill with draws from N(mean, std²) (the shared generator, `tg.manual_seed`)."""
        return self._write("normal_", rng.normal(mean, std, self.shape))

    def scatter(self, dim, index, src=None, *, value=None):
        """A copy with out[index[i][j]][j] = src[i][j] for dim=0 (and so on), as PyTorch's
        scatter: `src` a tensor (at least index's shape) or a number (`value`). The
        written places take their gradient from `src`, the others from this tensor. If an
        index repeats, the last write wins and only it gets the place's gradient (PyTorch
        leaves the value undefined and gives each the gradient)."""
        place, written = self._scatter_places("scatter", dim, index)
        src = value if src is None else src
        if not isinstance(src, Tensor):
            if np.ndim(src) == 0:
                return self.masked_fill(written, src)
            src = Tensor(src)
        if src.ndim != self.ndim or any(n > m for n, m in zip(place[0].shape, src.shape)):
            raise ValueError(f"scatter: src of shape {src.shape} is smaller than index {place[0].shape}")
        src = src[tuple(slice(0, n) for n in place[0].shape)].reshape(-1)
        last = np.zeros(self.shape, dtype=np.int64)           # which src element each place takes
        last[tuple(place)] = np.arange(src.shape[0]).reshape(place[0].shape)
        return where(written, src.astype(self.data.dtype)[last], self)

    def scatter_(self, dim, index, src=None, *, value=None):
        """`scatter` in place."""
        source = value if src is None else src
        place, _ = self._scatter_places("scatter_", dim, index)
        cut = tuple(slice(0, n) for n in place[0].shape)
        return self._inplace("scatter_", source, lambda t: t.scatter(dim, index, source),
                             lambda data: data.__setitem__(tuple(place), np.asarray(
                                 source.data[cut] if isinstance(source, Tensor) else
                                 source[cut] if np.ndim(source) else source)))

    def _scatter_places(self, what, dim, index):
        """The coordinates `index` writes to along `dim` (one array per axis) and the mask of them."""
        index = np.asarray(index.data if isinstance(index, Tensor) else index)
        axis = self._axis(dim)[0]
        if index.dtype.kind not in "iu" or index.ndim != self.ndim or any(
                i != axis and n > m for i, (n, m) in enumerate(zip(index.shape, self.shape))):
            raise ValueError(f"{what}: index of shape {index.shape} and dtype {index.dtype} doesn't fit "
                             f"a tensor of shape {self.shape} along dim {dim} (it needs integers, the "
                             "same number of axes, and no larger a size off that dim)")
        n = self.shape[axis]
        if index.size and (index.min() < -n or index.max() >= n):
            raise IndexError(f"{what}: index out of range for size {n} along dim {dim}")
        place = list(np.indices(index.shape))
        place[axis] = index % n
        written = np.zeros(self.shape, dtype=bool)
        written[tuple(place)] = True
        return place, written

    def _index_mask(self, what, dim, index):
        """Boolean mask of the slices at `index` along `dim`, and the integer index."""
        index = np.asarray(index.data if isinstance(index, Tensor) else index)
        axis = self._axis(dim)[0] if self.ndim else 0
        n = self.shape[axis] if self.ndim else 1
        if index.dtype.kind not in "iu" or index.ndim > 1:
            raise ValueError(f"{what}: index must be a 0-d or 1-D integer tensor, got shape "
                             f"{index.shape} of {index.dtype}")
        if index.size and (index.min() < -n or index.max() >= n):
            raise IndexError(f"{what}: index {index.tolist()} out of range for size {n} along dim {dim}")
        mask = np.zeros(n, dtype=bool)
        mask[index.reshape(-1)] = True
        return mask.reshape((n,) + (1,) * (self.ndim - axis - 1)), index.reshape(-1) % max(n, 1), axis

    def index_fill(self, dim, index, value):
        """A copy with the slices at `index` along `dim` set to `value`."""
        return self.masked_fill(self._index_mask("index_fill", dim, index)[0], value)

    def index_fill_(self, dim, index, value):
        mask = self._index_mask("index_fill_", dim, index)[0]
        value = value.item() if isinstance(value, Tensor) else value
        return self._inplace("index_fill_", None, lambda t: t.masked_fill(mask, value),
                             lambda data: np.copyto(data, value, where=np.broadcast_to(mask, data.shape)))

    def index_select(self, dim, index):
        """The slices at the 1-D `index` along `dim`, in its order (repeats allowed)."""
        _, index, axis = self._index_mask("index_select", dim, index)
        return self[(slice(None),) * axis + (index,)]

    def nonzero(self, as_tuple=False):
        """The indices of the non-zero elements: an (n, ndim) int64 tensor, or with
        `as_tuple` one 1-D tensor per axis, as PyTorch."""
        found = np.nonzero(self.data) if self.ndim else np.nonzero(self.data.reshape(1))
        if as_tuple:
            return tuple(Tensor._make(i.astype(np.int64)) for i in found)
        return Tensor._make(np.stack(found, axis=1).astype(np.int64))

    def repeat(self, *sizes):
        """Tile: `sizes[i]` copies along axis i (leading new axes for extra sizes), as
        PyTorch's repeat (NumPy's tile); the gradient sums the copies."""
        sizes = _shape(sizes)
        if len(sizes) < self.ndim:
            raise ValueError(f"repeat: {len(sizes)} sizes for a tensor of {self.ndim} dimensions "
                             f"{self.shape}; give at least one per dimension")
        shape = (1,) * (len(sizes) - self.ndim) + self.shape
        spread = tuple(x for n in shape for x in (1, n))                 # (1, a, 1, b, ...)
        grown = tuple(x for r, n in zip(sizes, shape) for x in (r, n))   # (r1, a, r2, b, ...)
        return self.reshape(spread).expand(*grown).reshape(tuple(r * n for r, n in zip(sizes, shape)))

    def sort(self, dim=-1, descending=False, stable=False):
        """(values, indices) along `dim`, ascending unless `descending`; ties keep their
        order. The values carry the gradient back to where each came from."""
        order = self.argsort(dim, descending)
        return Sort(self.gather(dim, order), order)

    def argsort(self, dim=-1, descending=False, stable=False):
        axis = self._axis(dim)[0] if self.ndim else None
        data = self.data if self.ndim else self.data.reshape(1)
        if descending:                 # stable and descending: sort the reversed axis, reverse back
            flipped = np.flip(data, axis or 0)
            order = np.flip(np.argsort(flipped, axis=axis or 0, kind="stable"), axis or 0)
            order = data.shape[axis or 0] - 1 - order
        else:
            order = np.argsort(data, axis=axis or 0, kind="stable")
        return Tensor._make(order.reshape(self.shape).astype(np.int64))

    def topk(self, k, dim=-1, largest=True, sorted=True):
        """The k largest (or smallest) along `dim` as (values, indices), largest first."""
        axis = self._axis(dim)[0] if self.ndim else 0
        n = self.shape[axis] if self.ndim else 1
        if not 0 <= k <= n:
            raise ValueError(f"topk: k = {k} is out of range for size {n} along dim {dim}")
        order = self.argsort(dim, descending=largest)
        order = order[(slice(None),) * axis + (slice(0, k),)] if self.ndim else order
        return TopK(self.gather(dim, order), order)

    def multinomial(self, num_samples, replacement=False):
        return multinomial(self, num_samples, replacement)


class _Size(int):
    """`t.size`: the number of elements (NumPy's), and callable as PyTorch's `t.size()`
    (the shape) and `t.size(dim)` (one axis's length)."""

    def __new__(cls, n, shape):
        size = super().__new__(cls, n)
        size.shape = shape
        return size

    def __call__(self, dim=None):
        return self.shape if dim is None else self.shape[dim]


Max = namedtuple("max", "values indices")      # what x.max(dim) and x.min(dim) give,
Min = namedtuple("min", "values indices")      # as PyTorch's torch.return_types
Sort = namedtuple("sort", "values indices")      # x.sort(dim) and x.topk(k), likewise
TopK = namedtuple("topk", "values indices")


# ------------------------------------------------------------- the device
class Device(str):
    """PyTorch's `torch.device`: here always the CPU ("cpu"), where NumPy computes."""
    __slots__ = ()
    index = None

    def __new__(cls, type="cpu", index=None):
        check_device(type if index is None else f"{type}:{index}", "device")
        return super().__new__(cls, "cpu")

    type = property(str)

    def __repr__(self):
        return "device(type='cpu')"


def is_device(x):
    """A string that names a device ("cpu", "cuda:0"), not a dtype ("float32")."""
    if not isinstance(x, str):
        return False
    try:
        np.dtype(x)
    except TypeError:
        return True
    return False


def check_device(device, what):
    """Accept None or the CPU ("cpu", "cpu:0", a Device); refuse any other device, saying why."""
    if device is None or str(device) in ("cpu", "cpu:0"):
        return
    raise RuntimeError(f"{what}: device {str(device)!r} is not available: tinygrad_tf runs on NumPy, "
                       "on the CPU, so 'cpu' is the only device (torch.cuda.is_available() is False "
                       "here); write device = 'cpu'")


CPU = Device()

_TYPE_NAMES = {np.dtype(d): n for d, n in (
    (np.float32, "FloatTensor"), (np.float64, "DoubleTensor"), (np.float16, "HalfTensor"),
    (np.int64, "LongTensor"), (np.int32, "IntTensor"), (np.int16, "ShortTensor"),
    (np.int8, "CharTensor"), (np.uint8, "ByteTensor"), (np.bool_, "BoolTensor"))}


# ------------------------------------------------------------------ dtypes
_KIND = {"b": 0, "u": 1, "i": 1, "f": 2}      # bool < integer < float
_DEFAULT = {0: np.bool_, 1: np.int64, 2: np.float32}


def result_dtype(a, b):
    """The dtype of a binary op on Tensors `a` and `b`: PyTorch's promotion rule.
    The higher kind wins (bool < integer < float: int64 with float32 is float32). Within
    one kind the wider wins (float32 with float64 is float64), except that a 0-d tensor
    doesn't widen a tensor with dimensions. Numbers and arrays are made constants of the
    tensor's dtype first (`Tensor._const`), so they never widen a tensor."""
    da, db = a.data.dtype, b.data.dtype
    if da == db:
        return da
    ka, kb = _KIND[da.kind], _KIND[db.kind]
    if ka != kb:
        return da if ka > kb else db
    if (a.data.ndim == 0) != (b.data.ndim == 0):
        return db if a.data.ndim == 0 else da
    return np.promote_types(da, db)


def _torch_names(axis, keepdims, dim, keepdim, default=None):
    """Accept PyTorch's `dim=`/`keepdim=` for NumPy's `axis=`/`keepdims=`; `default` is
    the axis when neither is given."""
    if dim is not None:
        if axis is not None:
            raise TypeError("give axis= or dim= (the same thing), not both")
        axis = dim
    return default if axis is None else axis, keepdims if keepdim is None else keepdim


def _split_int_from_array_index(index, ndim):
    """PyTorch applies integer indices before index arrays, so `x[1, :, idx]` is
    `x[1][:, idx]`; NumPy treats the 1 as an index array too and, the two being
    separated by a slice, puts their axis first. For an index mixing ints with arrays,
    the two steps (ints only, then the rest) that give PyTorch's result; else None."""
    is_int = [isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in index]
    arrays = [isinstance(i, np.ndarray) and i.ndim > 0 for i in index]
    if not any(is_int) or not any(arrays):
        return None
    if any(i is Ellipsis for i in index):
        used = sum(1 if not isinstance(i, np.ndarray) or i.dtype != np.bool_ else i.ndim
                   for i in index if i is not None and i is not Ellipsis)
        at = next(k for k, i in enumerate(index) if i is Ellipsis)
        index = index[:at] + (slice(None),) * (ndim - used) + index[at + 1:]
        is_int = [isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in index]
    first = tuple(i if k else slice(None) for i, k in zip(index, is_int) if i is not None)
    rest = tuple(i for i, k in zip(index, is_int) if not k)
    return first, rest


# ------------------------------------------------------- NumPy interplay
# NumPy ufuncs and functions that run as the Tensor op of the same meaning.
_UFUNCS = {"add": "__add__", "subtract": "__sub__", "multiply": "__mul__", "divide": "__truediv__",
           "true_divide": "__truediv__", "power": "__pow__", "matmul": "matmul",
           "negative": "__neg__", "exp": "exp", "log": "log", "sqrt": "sqrt", "absolute": "abs",
           "tanh": "tanh", "maximum": "maximum", "minimum": "minimum",
           "equal": "__eq__", "not_equal": "__ne__", "less": "__lt__", "less_equal": "__le__",
           "greater": "__gt__", "greater_equal": "__ge__"}


def _method(name):
    return lambda a, *args, **kwargs: getattr(Tensor._make(np.asarray(a)) if not isinstance(a, Tensor)
                                              else a, name)(*args, **kwargs)


_FUNCTIONS = {"sum": _method("sum"), "mean": _method("mean"), "max": _method("amax"),
              "amax": _method("amax"), "min": _method("amin"), "amin": _method("amin"),
              "var": lambda a, axis=None, keepdims=False, ddof=0: _method("var")(
                  a, axis, keepdims, correction=ddof), "reshape": _method("reshape"),
              "concatenate": lambda arrays, axis=0: cat(arrays, axis),
              "stack": lambda arrays, axis=0: stack(arrays, axis),
              "where": lambda cond, *ab: where(cond, *ab) if ab else _on_data(
                  "np.where", np.where, (cond,), {}),
              "clip": lambda a, a_min=None, a_max=None: _method("clamp")(a, a_min, a_max),
              "maximum": lambda a, b: maximum(a, b), "minimum": lambda a, b: minimum(a, b)}


def _on_data(what, fn, args, kwargs):
    """Run a NumPy function the engine does not have on the tensors' arrays. If a tensor
    that requires grad goes in and floats come out, refuse: the gradient would be lost."""
    tracked = []

    def unwrap(x):
        if isinstance(x, Tensor):
            tracked.append(x.requires_grad)
            return x.data
        if isinstance(x, (list, tuple)):
            return type(x)(unwrap(i) for i in x)
        return x
    args = unwrap(args)
    kwargs = {k: unwrap(v) for k, v in kwargs.items()}
    result = fn(*args, **kwargs)
    floats = [r for r in (result if isinstance(result, tuple) else (result,))
              if isinstance(r, (np.ndarray, np.floating)) and _float_dtype(r.dtype)]
    if any(tracked) and floats and state.grad_enabled:
        raise TypeError(
            f"{what} on a tensor that requires grad would give a plain array and lose the "
            "gradient; use the tinygrad_tf op (t.exp(), tg.cat, ...), or pass t.detach() "
            "(or t.numpy()) to leave the graph on purpose")
    return result


def check_broadcast(what, *shapes):
    """The shape `shapes` broadcast to, or a ValueError naming `what` and the shapes."""
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        raise ValueError(f"{what}: shapes {' and '.join(map(str, shapes))} do not broadcast") from None


def apply(op_class, *inputs, **params):
    """Run one primitive on the inputs' arrays. If grad is on and some input requires
    it, the op joins the graph (`Op.record`) and the output points at it (`_ctx`);
    otherwise the output is a plain leaf."""
    op = op_class()
    op.saved = ()
    try:
        if params:
            out = op.forward(*[t.data for t in inputs], **params)
        elif len(inputs) == 1:             # (a call with no * and no list is the cheapest)
            out = op.forward(inputs[0].data)
        else:
            out = op.forward(*[t.data for t in inputs])
    except (ValueError, IndexError) as e:
        raise _shape_error(op, inputs, e) from None
    if state.check_finite:
        _check_forward(op, inputs, out)
    if state.grad_enabled and op.record(inputs, out):
        return _output(out, op)
    return Tensor._make(out)


def binary(op_class, a, b):
    """apply(op_class, a, b) for an op of two tensors and no parameters (+ - * / @, most
    of a graph's ops), spelled out: no *inputs and **params to pack, `Op.record2`."""
    op = op_class()
    op.saved = ()
    try:
        out = op.forward(a.data, b.data)
    except (ValueError, IndexError) as e:
        raise _shape_error(op, (a, b), e) from None
    if state.check_finite:
        _check_forward(op, (a, b), out)
    if state.grad_enabled and op.record2(a, b, out):
        return _output(out, op)
    return Tensor._make(out)


def _shape_error(op, inputs, e):
    """NumPy's complaint about the inputs' shapes, with the op and the shapes."""
    shapes = " and ".join(str(t.shape) for t in inputs)
    return type(e)(f"{op.name}: input shape{'s' * (len(inputs) > 1)} {shapes}: {e}")


def _output(data, op):
    """`Tensor._make(data, op)`, spelled out for the hot path: the output of an op
    that joined the graph (a function call and a branch fewer than the classmethod)."""
    t = _new(Tensor)
    t.data = data if type(data) is np.ndarray else np.asarray(data)
    t._grad = None
    t.name = None
    t._ctx = op
    t.requires_grad = True
    return t


def _check_forward(op, inputs, out):
    """detect_anomaly: raise if a NaN comes into this op from outside the checked graph
    (a weight or an input that already held it), or if this op turned finite inputs
    into a NaN or Inf. (An Inf may come in: -inf is how masks are written.)"""
    op.module = state.module
    finite = True
    for i, t in enumerate(inputs):
        if _float_dtype(t.data.dtype) and not np.isfinite(t.data).all():
            finite = False
            if np.isnan(t.data).any():
                raise NonFiniteError(_nan_came_in(op, i, t))
    if finite:
        check_finite(out, op, [t.shape for t in inputs], "forward")


def _nan_came_in(op, i, t):
    """The message for a NaN already in input `i` of `op`: which tensor held it, where."""
    element = [int(k) for k in np.argwhere(np.isnan(np.atleast_1d(t.data)))[0]]
    if t.name:
        who = f"tensor '{t.name}'"
    else:
        who = f"an unnamed tensor of shape {t.shape} (give it name= to see it named here)"
    where = ("made by op '" + t._ctx.name + "' before detect_anomaly was on"
             if t._ctx is not None else "a leaf: a weight or input, not computed by an op")
    module = f" in module '{op.module}'" if op.module else ""
    return (f"NaN was already in {who} ({where}) at element {element} when op '{op.name}'{module} "
            f"read it as input {i}: it came from outside the graph (its initialisation, the data, "
            f"an optimizer step), not from this op")


# ------------------------------------------------------------- constructors
# The random numbers of `rand`, `randn`, `randint`, parameter initialisation and
# dropout: one generator, `rng` (not `generator`, the name of Transformer's output
# layer), reseeded in place by `manual_seed` (so every module that
# holds it sees the new seed).
rng = np.random.default_rng()


def manual_seed(seed):
    """Make every random draw (rand, randn, randint, initialisation, dropout) repeatable."""
    rng.bit_generator.state = np.random.default_rng(seed).bit_generator.state
    return rng


def _shape(shape):
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape


def tensor(data, requires_grad=False, dtype=None, name=None):
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, name=name)


def zeros(*shape, requires_grad=False, dtype=np.float32):
    return Tensor(np.zeros(_shape(shape)), requires_grad=requires_grad, dtype=dtype)


def ones(*shape, requires_grad=False, dtype=np.float32):
    return Tensor(np.ones(_shape(shape)), requires_grad=requires_grad, dtype=dtype)


def full(shape, fill_value, requires_grad=False, dtype=None):
    """A tensor of `shape` filled with `fill_value` (a float fill is float32, an int
    int64, a bool bool, unless `dtype` says otherwise)."""
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    return Tensor(np.full(shape, fill_value), requires_grad=requires_grad, dtype=dtype)


def zeros_like(t, requires_grad=False, dtype=None):
    """Zeros of `t`'s shape and (unless `dtype` is given) dtype."""
    t = np.asarray(t)
    return Tensor(np.zeros(t.shape), requires_grad=requires_grad, dtype=dtype or t.dtype)


def ones_like(t, requires_grad=False, dtype=None):
    """Ones of `t`'s shape and (unless `dtype` is given) dtype."""
    t = np.asarray(t)
    return Tensor(np.ones(t.shape), requires_grad=requires_grad, dtype=dtype or t.dtype)


def randn(*shape, seed=None, requires_grad=False, dtype=np.float32):
    """Standard normal samples; from `seed` if given, else from the shared generator."""
    draw = rng if seed is None else np.random.default_rng(seed)
    return Tensor(draw.standard_normal(_shape(shape)), requires_grad=requires_grad, dtype=dtype)


def rand(*shape, seed=None, requires_grad=False, dtype=np.float32):
    """Uniform samples in [0, 1); from `seed` if given, else from the shared generator."""
    draw = rng if seed is None else np.random.default_rng(seed)
    return Tensor(draw.random(_shape(shape)), requires_grad=requires_grad, dtype=dtype)


def randint(low, high=None, size=(), seed=None, dtype=np.int64):
    """Integers in [low, high), as PyTorch's `randint(low=0, high, size)`: also
    `randint(high)` and `randint(high, size)` for [0, high)."""
    if high is None:
        low, high = 0, low
    elif isinstance(high, (tuple, list)) and size == ():        # randint(high, size)
        low, high, size = 0, low, high
    if high <= low:
        raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
    draw = rng if seed is None else np.random.default_rng(seed)
    size = (size,) if isinstance(size, (int, np.integer)) else tuple(size)
    return Tensor(draw.integers(low, high, size), dtype=dtype)


def multinomial(probs, num_samples, replacement=False):
    """Draw `num_samples` indices from each row of `probs` (1-D or 2-D, non-negative
    weights, not necessarily summing to 1), as PyTorch's: without replacement each index
    at most once per row. An int64 tensor (n,) or (rows, n)."""
    w = np.asarray(probs.data if isinstance(probs, Tensor) else probs, dtype=np.float64)
    if w.ndim not in (1, 2):
        raise ValueError(f"multinomial: probs must be 1-D or 2-D, got shape {w.shape}")
    rows = w.reshape(-1, w.shape[-1])
    if not np.isfinite(rows).all() or (rows < 0).any() or (rows.sum(-1) <= 0).any():
        raise ValueError("multinomial: every row of probs must be finite, >= 0, and have a positive sum")
    if not replacement and num_samples > (rows > 0).sum(-1).min():
        raise ValueError(f"multinomial: can't draw {num_samples} distinct indices from a row with "
                         f"{(rows > 0).sum(-1).min()} non-zero weights; pass replacement=True")
    out = np.stack([rng.choice(rows.shape[1], num_samples, replace=replacement, p=r / r.sum())
                    for r in rows])
    return Tensor._make(out.reshape(w.shape[:-1] + (num_samples,)).astype(np.int64))


def eye(n, m=None, requires_grad=False, dtype=np.float32):
    """The identity matrix (n, m) (m = n by default)."""
    return Tensor(np.eye(n, n if m is None else m), requires_grad=requires_grad, dtype=dtype)


def linspace(start, end, steps, requires_grad=False, dtype=np.float32):
    """`steps` evenly spaced values from start to end, both included."""
    return Tensor(np.linspace(start, end, steps), requires_grad=requires_grad, dtype=dtype)


def empty(*shape, requires_grad=False, dtype=np.float32):
    """A tensor of `shape` whose values are not meant to be read (here they are zeros)."""
    return zeros(*shape, requires_grad=requires_grad, dtype=dtype)


def arange(start, stop=None, step=1, requires_grad=False, dtype=None):
    """`arange(n)` is 0..n-1; `arange(start, stop, step)` as Python's range (floats allowed:
    integer arguments give int64, any float one float32)."""
    if isinstance(stop, bool):
        raise TypeError("arange: stop must be a number; pass requires_grad= by name")
    if stop is None:
        start, stop = 0, start
    return Tensor(np.arange(start, stop, step), requires_grad=requires_grad, dtype=dtype)


def _as_tensor(x):
    """A Tensor as it is; a NumPy array as a constant of its own dtype; else Tensor(x)."""
    return x if isinstance(x, Tensor) else Tensor._make(x) if type(x) is np.ndarray else Tensor(x)


def _common_dtype(what, tensors):
    """The tensors (arrays made Tensors) cast to one dtype by `result_dtype`'s rule."""
    tensors = [_as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError(f"{what}: needs at least one tensor")
    top = max(_KIND[t.data.dtype.kind] for t in tensors)
    dtype = np.result_type(*[t.data.dtype for t in tensors if _KIND[t.data.dtype.kind] == top])
    return [t.astype(dtype) for t in tensors]


def cat(tensors, axis=None, dim=None):
    axis, _ = _torch_names(axis, False, dim, None, default=0)
    tensors = _common_dtype("cat", tensors)
    nd = tensors[0].ndim
    if nd == 0 or any(t.ndim != nd for t in tensors) or not -nd <= axis < nd:
        raise ValueError(f"cat: cannot join shapes {[t.shape for t in tensors]} along axis {axis}")
    axis %= nd
    rest = {t.shape[:axis] + t.shape[axis + 1:] for t in tensors}
    if len(rest) > 1:
        raise ValueError(f"cat: shapes {[t.shape for t in tensors]} differ off axis {axis}")
    return apply(ops.Cat, *tensors, axis=axis)


def stack(tensors, axis=None, dim=None):
    axis, _ = _torch_names(axis, False, dim, None, default=0)
    tensors = _common_dtype("stack", tensors)
    if len({t.shape for t in tensors}) > 1:
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
    if isinstance(a, Tensor):
        a, b = a._pair(b)
    elif isinstance(b, Tensor):
        b, a = b._pair(a)
    else:
        a, b = _as_tensor(a)._pair(b)
    check_broadcast("where", cond.shape, a.shape, b.shape)
    return apply(ops.Where, a, b, cond=cond)


def maximum(a, b):
    """Elementwise larger of a and b; at a tie each gets half the gradient (PyTorch's
    rule), and a NaN on either side gives NaN."""
    a, b = a._pair(b) if isinstance(a, Tensor) else b._pair(a)[::-1]
    if not _float_dtype(a.dtype):
        return Tensor._make(np.maximum(a.data, b.data))
    return where(a.data > b.data, a, where(a.data < b.data, b, a * 0.5 + b * 0.5))


def minimum(a, b):
    """Elementwise smaller of a and b (ties and NaN as `maximum`)."""
    a, b = a._pair(b) if isinstance(a, Tensor) else b._pair(a)[::-1]
    if not _float_dtype(a.dtype):
        return Tensor._make(np.minimum(a.data, b.data))
    return where(a.data < b.data, a, where(a.data > b.data, b, a * 0.5 + b * 0.5))


def tril(t, diagonal=0):
    return t.tril(diagonal)


def triu(t, diagonal=0):
    return t.triu(diagonal)


def outer(a, b):
    """a_i·b_j for 1-D a and b."""
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"outer: needs two 1-D tensors, got shapes {a.shape} and {b.shape}")
    return a.reshape(-1, 1) * b.reshape(1, -1)


def matmul(a, b):
    """a @ b (NumPy's and PyTorch's matmul: batched, and 1-D vectors)."""
    return _as_tensor(a).matmul(b)


def dot(a, b):
    """Σ a_i·b_i for 1-D a and b of one length."""
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"dot: needs two 1-D tensors, got shapes {a.shape} and {b.shape}")
    return a @ b


def einsum(subscripts, *operands):
    """Einstein summation, as np.einsum / torch.einsum: "bhqd,bhkd->bhqk" multiplies
    along the letters shared and sums the letters not in the output ("ij,jk" without
    "->" keeps the letters that appear once, in order). `...` stands for leading axes."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = operands[0]
    operands = _common_dtype("einsum", operands)
    lhs, arrow, output = subscripts.replace(" ", "").partition("->")
    inputs = lhs.split(",")
    if len(inputs) != len(operands):
        raise ValueError(f"einsum: {subscripts!r} names {len(inputs)} operands, got {len(operands)}")
    if "..." in subscripts:                    # the ellipsis axes become letters of their own
        n = max(t.ndim - len(s.replace("...", "")) for s, t in zip(inputs, operands) if "..." in s)
        spare = "".join(c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in subscripts)[:n]
        inputs = [s.replace("...", spare[n - (t.ndim - len(s) + 3):]) for s, t in zip(inputs, operands)]
        output = output.replace("...", spare) if arrow else spare + output
    if not arrow:
        letters = "".join(inputs)
        output += "".join(sorted(c for c in set(letters) if letters.count(c) == 1 and c not in output))
    for s, t in zip(inputs, operands):
        if len(s) != t.ndim or len(set(s)) != len(s) or not s.isalpha() and s:
            raise ValueError(f"einsum: subscripts {s!r} don't fit an operand of shape {t.shape} "
                             "(one letter per axis, none repeated)")
    if len(set(output)) != len(output) or not set(output) <= set("".join(inputs)):
        raise ValueError(f"einsum: output subscripts {output!r} must be distinct letters of the inputs")
    return apply(ops.Einsum, *operands, inputs=tuple(inputs), output=output)


def residual(skip, branch):
    """`skip + branch` marked as a residual connection (the skip path is input 0)."""
    return binary(ops.ResidualAdd, *skip._pair(branch))
