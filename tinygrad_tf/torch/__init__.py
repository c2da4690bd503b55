"""`import tinygrad_tf.torch as torch`: the engine under the names tutorials use.

A tutorial written for PyTorch (Karpathy's "Let's build GPT", nanoGPT's model) runs on
tinygrad_tf with only its import lines changed:

    import tinygrad_tf.torch as torch
    import tinygrad_tf.torch.nn as nn
    from tinygrad_tf.torch.nn import functional as F

Everything here is the engine's own Tensor, layers and optimizers (re-exported), plus
small adapters for PyTorch's spellings: dtype names (`torch.long`, `torch.float32`, ...
are NumPy dtypes), the device (the CPU only: `"cuda"` is refused, saying why),
module-level math (`torch.exp(x)` is `x.exp()`), and factories taking `device=`.
docs/engine.md, "Coming from PyTorch", lists what is here and what is not. Nothing else
in the library imports this package.
"""
import builtins
import functools

import numpy as np

from ..core import tensor as _t
from ..core.engine import no_grad  # noqa: F401 (re-exported, as each name below)
from ..core.tensor import (  # noqa: F401
    CPU,
    Device,
    Tensor,
    cat,
    check_device,
    einsum,
    manual_seed,
    outer,
    stack,
    tril,
    triu,
    where,
)
from . import amp, cuda, nn, optim  # noqa: F401

device = Device
# ----------------------------------------------------------------- dtypes
float32 = float = np.dtype(np.float32)
float64 = double = np.dtype(np.float64)
float16 = half = np.dtype(np.float16)
int64 = long = np.dtype(np.int64)
int32 = int = np.dtype(np.int32)
int16 = short = np.dtype(np.int16)
int8 = np.dtype(np.int8)
uint8 = np.dtype(np.uint8)
bool = np.dtype(np.bool_)
dtype = np.dtype


def is_tensor(obj):
    return isinstance(obj, Tensor)


def is_floating_point(t):
    return t.dtype.kind == "f"


# -------------------------------------------------------------- factories
def _on_cpu(factory):
    """`factory` taking PyTorch's `device=` (the CPU only) and `dtype=` as a torch name."""
    @functools.wraps(factory)
    def made(*args, device=None, **kwargs):
        check_device(device, factory.__name__)
        if kwargs.get("dtype", 0) is None:
            del kwargs["dtype"]
        return factory(*args, **kwargs)
    return made


@_on_cpu
def tensor(data, dtype=None, requires_grad=False):
    """As PyTorch's: an np.ndarray keeps its dtype (tg.tensor makes float data float32)."""
    if dtype is None and isinstance(data, np.ndarray):
        dtype = data.dtype
    return _t.tensor(data, requires_grad=requires_grad, dtype=dtype)


zeros = _on_cpu(_t.zeros)
ones = _on_cpu(_t.ones)
full = _on_cpu(_t.full)
empty = _on_cpu(_t.empty)
eye = _on_cpu(_t.eye)
arange = _on_cpu(_t.arange)
linspace = _on_cpu(_t.linspace)
rand = _on_cpu(_t.rand)
randn = _on_cpu(_t.randn)
randint = _on_cpu(_t.randint)
zeros_like = _on_cpu(_t.zeros_like)
ones_like = _on_cpu(_t.ones_like)
multinomial = _t.multinomial


def from_numpy(array):
    """A tensor sharing `array`'s memory (as PyTorch's)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected an np.ndarray, got {type(array).__name__}")
    return Tensor._make(array)


def _typed(name, dtype_):
    def make(*data):
        if len(data) == 1 and not isinstance(data[0], builtins.int):
            return Tensor(data[0], dtype=dtype_)
        return _t.zeros(*data, dtype=dtype_)              # torch.FloatTensor(2, 3): a shape
    make.__name__ = make.__qualname__ = name
    make.__doc__ = f"`torch.{name}(list)`: a {np.dtype(dtype_)} tensor of the values (or of a shape)."
    return make


FloatTensor = _typed("FloatTensor", np.float32)
DoubleTensor = _typed("DoubleTensor", np.float64)
LongTensor = _typed("LongTensor", np.int64)
IntTensor = _typed("IntTensor", np.int32)
BoolTensor = _typed("BoolTensor", np.bool_)
ByteTensor = _typed("ByteTensor", np.uint8)


# --------------------------------------------------------- module-level math
def _as_tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def _method(name):
    def call(input, *args, **kwargs):
        return getattr(_as_tensor(input), name)(*args, **kwargs)
    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"`torch.{name}(x, ...)` is `x.{name}(...)`."
    return call


for _name in ("exp log sqrt rsqrt abs sin cos tanh sigmoid relu sign square softmax log_softmax "
              "clamp clip sum mean prod std var logsumexp cumsum argmax argmin amax amin matmul "
              "reshape flatten squeeze unsqueeze transpose permute gather sort argsort topk "
              "index_select nonzero masked_fill repeat_interleave flip chunk split isnan isinf "
              "isfinite all any numel").split():
    if hasattr(Tensor, _name):
        globals()[_name] = _method(_name)


def mm(input, mat2):
    """Matrix product of two 2-D tensors."""
    if input.ndim != 2 or mat2.ndim != 2:
        raise ValueError(f"mm: needs two 2-D tensors, got shapes {input.shape} and {mat2.shape}")
    return input @ mat2


def bmm(input, mat2):
    """Batched matrix product of (b, n, m) and (b, m, p) tensors."""
    if input.ndim != 3 or mat2.ndim != 3 or input.shape[0] != mat2.shape[0]:
        raise ValueError(f"bmm: needs (b, n, m) and (b, m, p) tensors, got shapes {input.shape} "
                         f"and {mat2.shape}")
    return input @ mat2


def _extreme(name, pairwise):
    def pick(input, dim=None, keepdim=False, *, other=None):
        if isinstance(dim, Tensor) or other is not None:      # torch.max(a, b): elementwise
            return pairwise(input, dim if other is None else other)
        input = _as_tensor(input)
        return getattr(input, name)() if dim is None else getattr(input, name)(dim, keepdim)
    pick.__name__ = pick.__qualname__ = name
    pick.__doc__ = (f"`torch.{name}(x)` the {name} value; `torch.{name}(x, dim)` the pair "
                    f"(values, indices) along dim; `torch.{name}(a, b)` elementwise.")
    return pick


max = _extreme("max", _t.maximum)
min = _extreme("min", _t.minimum)
maximum, minimum = _t.maximum, _t.minimum


__all__ = [name for name in dir() if not name.startswith("_")
           and name not in ("builtins", "functools", "np")]
del _name

_NOT_HERE = {
    "save": "save a model with tg.save(model.state_dict(), path)",
    "load": "load one with model.load_state_dict(tg.load(path))",
    "compile": "there is no compiler: use the model as it is",
    "set_default_dtype": "cast the model instead: model.to(torch.float64)",
    "backends": "there are no GPU backends to configure (the engine is NumPy, on the CPU)",
    "autocast": "there is no mixed precision: float32 (or float64) throughout",
    "bfloat16": "NumPy has no bfloat16: use torch.float32",
    "Generator": "one generator: torch.manual_seed(seed)",
    "utils": "no DataLoader or Dataset: draw batches with torch.randint, as the GPT lecture does",
}


def __getattr__(name):
    hint = _NOT_HERE.get(name, "see docs/engine.md, 'Coming from PyTorch', for what is here")
    raise AttributeError(f"module 'tinygrad_tf.torch' has no attribute {name!r}: {hint}")
