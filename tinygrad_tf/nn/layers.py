"""The layers: Linear, Embedding, Dropout, LayerNorm, BatchNorm1d, activations, FeedForward.

Weights use PyTorch's layouts and initialisations, so weights move across by name.
An input may be a Tensor or a NumPy array (a constant: float data takes the layer's
dtype, as in `weight + array`).
"""
import math

import numpy as np

from ..core.tensor import Tensor
from . import functional as F
from .module import Module, Parameter, module_name


def _sizes(layer, **sizes):
    """Refuse a layer size that is not a whole number >= 0, naming it (before NumPy's
    random generator or math.sqrt would, obscurely)."""
    for name, n in sizes.items():
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise TypeError(f"{layer}: {name} must be an int, got {n!r} ({type(n).__name__})")
        if n < 0:
            raise ValueError(f"{layer}: {name} must be >= 0, got {n}")


def _uniform(bound, shape):
    return F.rng.uniform(-bound, bound, shape).astype(np.float32)


class Linear(Module):
    """y = x Wᵀ + b, W of shape (out_features, in_features) as in PyTorch, initialised
    as PyTorch does (Kaiming-uniform with a = √5): W and b ~ U(-1/√in, 1/√in)."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        _sizes("Linear", in_features=in_features, out_features=out_features)
        self.in_features, self.out_features = in_features, out_features
        bound = 1.0 / math.sqrt(in_features) if in_features else 0.0
        self.weight = Parameter(_uniform(bound, (out_features, in_features)))
        self.bias = Parameter(_uniform(bound, (out_features,))) if bias else None

    def forward(self, x):
        x = F._tensor(x, self.weight)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"{module_name(self)}: input of shape {x.shape} should end in "
                             f"in_features = {self.in_features}")
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"{self.in_features}, {self.out_features}, bias={self.bias is not None}"


class Embedding(Module):
    """Row `i` of `weight` (num_embeddings, embedding_dim) for each integer id `i`;
    initialised N(0, 1) as PyTorch. The backward adds each row's gradient back into it.
    With `padding_idx`, that row starts at zero and gets no gradient (PyTorch's)."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None):
        super().__init__()
        _sizes("Embedding", num_embeddings=num_embeddings, embedding_dim=embedding_dim)
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} is out of range for "
                                 f"{num_embeddings} embeddings")
            padding_idx %= num_embeddings
        self.padding_idx = padding_idx
        self.weight = Parameter(F.rng.standard_normal((num_embeddings, embedding_dim))
                                .astype(np.float32))
        if padding_idx is not None:
            self.weight.data[padding_idx] = 0.0

    def forward(self, ids):
        ids = np.asarray(ids.data if isinstance(ids, Tensor) else ids)
        if not np.issubdtype(ids.dtype, np.integer):
            raise TypeError(f"{module_name(self)}: ids must be integers, not {ids.dtype}")
        F._check_ids(ids, self.num_embeddings, f"{module_name(self)}: id", "embeddings")
        out = F.embedding(ids, self.weight)                     # (*ids.shape, embedding_dim)
        if self.padding_idx is not None:      # the padding row's value, as a constant: no gradient
            out = F.where((ids != self.padding_idx)[..., None], out, self.weight.data[self.padding_idx])
        return out

    def extra_repr(self):
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"


class Dropout(Module):
    """In training, zero each element with probability p and scale the rest by 1/(1-p);
    in eval, the identity."""

    def __init__(self, p=0.5):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


class LayerNorm(Module):
    """Normalise each position over its last axis (or, given a tuple `dim`, PyTorch's
    `normalized_shape`, over that many last axes): (x - mean)/√(var + eps)·weight + bias,
    with the biased variance and eps inside the root (PyTorch's); weight and bias
    have the normalised shape. `bias=False` leaves out the bias, `elementwise_affine=False`
    both (as PyTorch's options)."""

    def __init__(self, dim, eps=1e-5, elementwise_affine=True, bias=True):
        super().__init__()
        shape = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
        if not shape or not all(isinstance(n, (int, np.integer)) and n > 0 for n in shape):
            raise ValueError(f"LayerNorm: dim must be a positive int or a tuple of them "
                             f"(the normalised shape), got {dim!r}")
        self.dim, self.normalized_shape, self.eps = dim, shape, eps
        self.weight = Parameter(np.ones(shape, dtype=np.float32)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(shape, dtype=np.float32)) if elementwise_affine and bias else None

    def forward(self, x):
        x = F._tensor(x, self.weight)
        shape = self.normalized_shape
        if x.shape[max(x.ndim - len(shape), 0):] != shape:
            raise ValueError(f"{module_name(self)}: input of shape {x.shape} should end in "
                             + (f"dim = {shape[0]}" if len(shape) == 1 else f"{shape}"))
        return F.layer_norm(x, shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        options = (", elementwise_affine=False" if self.weight is None
                   else ", bias=False" if self.bias is None else "")
        return f"{self.dim}, eps={self.eps}{options}"


class BatchNorm1d(Module):
    """Normalise each channel over the batch (and length): inputs (N, C) or (N, C, L).

    Training: the batch's mean and biased variance normalise, and the running
    statistics move towards them, `running = (1 - momentum)·running + momentum·batch`,
    with the unbiased variance (× n/(n-1)) for `running_var`, as PyTorch.
    Eval: the running statistics normalise, so the output no longer depends on the batch.
    """
    buffers = ("running_mean", "running_var", "num_batches_tracked")

    def __init__(self, dim, eps=1e-5, momentum=0.1):
        super().__init__()
        self.dim, self.eps, self.momentum = dim, eps, momentum
        self.weight = Parameter(np.ones(dim, dtype=np.float32))
        self.bias = Parameter(np.zeros(dim, dtype=np.float32))
        self.running_mean = np.zeros(dim, dtype=np.float32)
        self.running_var = np.ones(dim, dtype=np.float32)
        self.num_batches_tracked = np.array(0, dtype=np.int64)

    def forward(self, x):
        x = F._tensor(x, self.weight)
        if x.ndim not in (2, 3) or x.shape[1] != self.dim:
            raise ValueError(f"{module_name(self)}: input of shape {x.shape} should be (N, {self.dim}) "
                             f"or (N, {self.dim}, L)")
        axes = (0,) if x.ndim == 2 else (0, 2)
        channel = (self.dim,) if x.ndim == 2 else (self.dim, 1)    # broadcasts over N (and L)
        if self.training:
            n = x.size // self.dim                                 # values per channel
            if n < 2:
                raise ValueError(f"{module_name(self)}: training needs more than one value per "
                                 f"channel, got input of shape {x.shape}")
            mean = x.mean(axis=axes, keepdims=True)
            var = x.var(axis=axes, keepdims=True, correction=0)    # biased: divides by n
            m = self.momentum                  # running statistics: NumPy on .data, not recorded
            self.running_mean = ((1 - m) * self.running_mean + m * mean.data.reshape(-1)
                                 ).astype(self.running_mean.dtype)
            self.running_var = ((1 - m) * self.running_var + m * var.data.reshape(-1) * (n / (n - 1))
                                ).astype(self.running_var.dtype)
            self.num_batches_tracked = self.num_batches_tracked + 1
            xhat = (x - mean) / (var + self.eps).sqrt()
        else:
            mean = self.running_mean.reshape(channel)
            std = np.sqrt(self.running_var + self.eps).reshape(channel)
            xhat = (x - mean) / std
        return xhat * self.weight.reshape(channel) + self.bias.reshape(channel)

    def extra_repr(self):
        return f"{self.dim}, eps={self.eps}, momentum={self.momentum}"


class ReLU(Module):
    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        return F.relu(x, inplace=self.inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class GELU(Module):
    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}" if self.approximate != "none" else ""


class SiLU(Module):
    def forward(self, x):
        return F.silu(x)


class Tanh(Module):
    def forward(self, x):
        return F._tensor(x).tanh()


class Sigmoid(Module):
    def forward(self, x):
        return F._tensor(x).sigmoid()


class FeedForward(Module):
    """The position-wise MLP of a Transformer block, d_model → d_ff → d_model:
        relu / gelu:  down(act(up(x)))
        swiglu:       down(silu(gate(x)) * up(x))      (LLaMA's gated form)"""
    activations = ("relu", "gelu", "swiglu")

    def __init__(self, d_model, d_ff, activation="relu", bias=True):
        super().__init__()
        if activation not in self.activations:
            raise ValueError(f"FeedForward: activation must be one of {self.activations}, "
                             f"not {activation!r}")
        self.activation = activation
        self.up = Linear(d_model, d_ff, bias)
        if activation == "swiglu":
            self.gate = Linear(d_model, d_ff, bias)
        self.down = Linear(d_ff, d_model, bias)

    def forward(self, x):
        if self.activation == "swiglu":
            return self.down(self.gate(x).silu() * self.up(x))
        h = self.up(x)                                            # (..., d_ff)
        return self.down(h.relu() if self.activation == "relu" else h.gelu())

    def extra_repr(self):
        return f"activation={self.activation!r}"
