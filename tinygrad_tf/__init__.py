"""tinygrad_tf: a small autograd engine on NumPy, built up to a Transformer.

The package in floors, each importing only from its own floor or lower ones
(docs/engine.md has the plan): core/ (the engine), then nn/, optim, io, then seeing/
(the tools for seeing), then interop, then demo/ (the application).

The reference is docs/api.md in the repository (with docs/engine.md, nn.md,
training.md, seeing.md): `Value` (scalars), `Tensor` (arrays), `nn`, `optim`, and
the tools for seeing gradients.
"""
from . import nn, optim
from .core.engine import NonFiniteError, detect_anomaly, no_grad, plain
from .core.scalar import Value
from .core.tensor import (
    Tensor,
    arange,
    cat,
    dot,
    einsum,
    full,
    manual_seed,
    matmul,
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
from .core.threads import set_num_threads
from .io import CheckpointError, load, save
from .seeing import gradcheck  # the module, callable as its function
from .seeing.attribute import Attribution, attribute
from .seeing.gradcheck import GradcheckError, numerical_grad
from .seeing.trace import trace
from .seeing.watch import load_recording, watch


def __getattr__(name):
    """`tg.viz` and `tg.exercises` on first use: viz imports graphviz, and neither is needed
    by `import tinygrad_tf`."""
    if name == "viz":
        from .seeing import viz
        return viz
    if name == "exercises":                # (`from . import` would ask this function again)
        import importlib
        return importlib.import_module(".exercises", __name__)
    raise AttributeError(f"module 'tinygrad_tf' has no attribute {name!r}")

__all__ = [
    "Value", "Tensor", "tensor", "zeros", "ones", "randn", "arange", "cat", "stack", "where",
    "zeros_like", "ones_like", "full", "rand", "randint", "manual_seed", "tril", "triu",
    "maximum", "minimum", "outer", "dot", "matmul", "einsum",
    "residual", "no_grad", "plain", "detect_anomaly", "NonFiniteError",
    "gradcheck", "numerical_grad", "GradcheckError", "trace", "viz", "attribute", "Attribution",
    "exercises",
    "watch", "load_recording",
    "nn", "optim", "save", "load", "CheckpointError",
    "set_num_threads",
]
