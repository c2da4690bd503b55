"""tinygrad_tf: a small autograd engine on NumPy, built up to a Transformer.

The reference is docs/api.md in the repository (with docs/engine.md, nn.md,
training.md, seeing.md): `Value` (scalars), `Tensor` (arrays), `nn`, `optim`, and
the tools for seeing gradients.
"""
from . import gradcheck, nn, optim, viz  # gradcheck: the module, callable as its function
from .engine import NonFiniteError, detect_anomaly, no_grad
from .gradcheck import GradcheckError, numerical_grad
from .io import CheckpointError, load, save
from .scalar import Value
from .tensor import (
    Tensor,
    arange,
    cat,
    dot,
    einsum,
    full,
    manual_seed,
    maximum,
    minimum,
    ones,
    ones_like,
    outer,
    rand,
    randint,
    randn,
    residual,
    stack,
    tensor,
    tril,
    triu,
    where,
    zeros,
    zeros_like,
)
from .trace import trace

__all__ = [
    "Value", "Tensor", "tensor", "zeros", "ones", "randn", "arange", "cat", "stack", "where",
    "zeros_like", "ones_like", "full", "rand", "randint", "manual_seed", "tril", "triu",
    "maximum", "minimum", "outer", "dot", "einsum",
    "residual", "no_grad", "detect_anomaly", "NonFiniteError",
    "gradcheck", "numerical_grad", "GradcheckError", "trace", "viz",
    "nn", "optim", "save", "load", "CheckpointError",
]
