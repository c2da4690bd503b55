"""Check the engine's gradients against finite differences.

Full mode (small inputs), every entry of the Jacobian J = ∂f/∂x:
    numerical:  J[:, j] ≈ (f(x + ε e_j) - f(x - ε e_j)) / 2ε       (central differences)
    analytical: J[i, :] = backward() with a one-hot gradient on output i

Fast mode (large inputs), one number per tensor: pick random unit vectors v (over the
outputs) and u (over the tensor's elements), then compare
    numerical:  vᵀJu ≈ (vᵀf(x + εu) - vᵀf(x - εu)) / 2ε                (2 forward passes)
    analytical: vᵀJu = (vᵀJ)·u, where vᵀJ is one backward() seeded with v
A wrong backward rule (a missing factor, a transposed axis, a gradient not summed over
a broadcast) changes vᵀJu for almost every u, v, and costs one backward to catch. A
single wrong element among thousands moves vᵀJu by only ~1/√(size) of its error and
may hide under the tolerance: check small building blocks with the full Jacobian.
When the projection fails, the culprit is located element by element with the
numerical gradient of the scalar vᵀf.

Either way values agree when |num - ana| <= atol + rtol·|num|. Only float64 gives
finite differences the precision this needs, so float32 inputs are refused.
"""
import inspect
import sys
import types
from collections import namedtuple

import numpy as np

from ..core.engine import no_grad
from ..core.tensor import Tensor

FULL_LIMIT = 20_000   # fast=None: the full Jacobian while out.size × checked elements <= this


class GradcheckError(AssertionError):
    """A gradient the engine computed disagrees with finite differences."""


def _checked(inputs, params):
    """The tensors to check, with a name for each: every float64 tensor in `inputs` and
    `params`, and every other float tensor that requires grad (refused: finite differences
    need float64). Float32 tensors that don't require grad are constants (a target, a mask)."""
    given = [(t.name or f"input {i}", t) for i, t in enumerate(inputs)
             if isinstance(t, Tensor) and np.issubdtype(t.dtype, np.floating)]
    given += [(p.name or f"param {i}", p) for i, p in enumerate(params)]
    named = [(name, t) for name, t in given if t.requires_grad or t.dtype == np.float64]
    if not named:
        which = ", ".join(name for name, _ in given) or "no float tensor at all"
        raise ValueError(
            f"gradcheck: nothing to check ({which}): pass float64 tensors as inputs or params "
            "(tg.tensor(..., dtype=np.float64), module.astype(np.float64))")
    for name, t in named:
        if t.dtype != np.float64:
            raise TypeError(
                f"gradcheck: {name} is {t.dtype}; finite differences need float64 "
                "(make it with dtype=np.float64, or call module.astype(np.float64))")
    return named


class _requiring_grad:
    """`with _requiring_grad(tensors):` the checked tensors require grad for the check
    (one given without requires_grad=True is checked all the same, not read as a
    constant whose analytical gradient is 0); afterwards each is as it was."""

    def __init__(self, tensors):
        self.switched = [t for t in tensors if not t.requires_grad]

    def __enter__(self):
        for t in self.switched:
            t.requires_grad = True

    def __exit__(self, *exc):
        for t in self.switched:
            t.requires_grad = False


def _array(out):
    return out.data if isinstance(out, Tensor) else np.asarray(out)


def _central(f, tensor, eps):
    """(f() at tensor + ε e_j  -  f() at tensor - ε e_j) / 2ε for every element j, stacked
    along the last axis. Perturbs `tensor.data` in place, one element at a time."""
    flat = tensor.data.reshape(-1)         # a view: writing it moves the tensor
    columns = []
    with no_grad():
        for j in range(flat.size):
            orig = flat[j]
            flat[j] = orig + eps
            up = f()
            flat[j] = orig - eps
            down = f()
            flat[j] = orig
            columns.append((up - down) / (2 * eps))
    return np.stack(columns, axis=-1) if columns else np.zeros((0,))


def numerical_grad(fn, tensor, eps=1e-6):
    """∂fn()/∂tensor by central differences, for a scalar-valued `fn()`.
    Perturbs `tensor.data` in place, one element at a time, and restores it."""
    return _central(lambda: float(np.sum(_array(fn()))), tensor, eps).reshape(tensor.shape)


def jacobians(fn, inputs, out, named, eps=1e-6):
    """Numerical and analytical Jacobians (out.size × t.size) for each named tensor;
    `out` is fn(*inputs), whose graph the analytical rows are read from."""
    m = out.size
    f = lambda: fn(*inputs).data.reshape(-1).astype(np.float64)
    numerical = [_central(f, t, eps).reshape(m, t.size) for _, t in named]
    analytical = [np.zeros((m, t.size)) for _, t in named]
    if out.requires_grad:
        for i in range(m):
            onehot = np.zeros(m, dtype=out.dtype)
            onehot[i] = 1.0
            for k, g in enumerate(_backward(out, onehot.reshape(out.shape), named)):
                analytical[k][i] = g.reshape(-1)
    return numerical, analytical


def _output(fn, inputs):
    out = fn(*inputs)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, not {type(out).__name__}")
    return out


def _backward(out, seed, named):
    """The gradient `seed`ᵀ·∂out/∂t for each named tensor (zeros where none flows),
    leaving every tensor's .grad as it was."""
    saved = [t.grad for _, t in named]
    for _, t in named:
        t.grad = None
    out.backward(seed, retain_graph=True)
    grads = [np.zeros(t.shape) if t.grad is None else t.grad for _, t in named]
    for (_, t), g in zip(named, saved):
        t.grad = g
    return grads


def _off_graph(out):
    """What to add to a failure when fn's output is not on the graph at all."""
    if out.requires_grad:
        return ""
    return ("; fn's output does not require grad, so no gradient reaches any input: fn cut the "
            "graph (.data, .numpy(), .detach() or no_grad inside it), the backward is not at fault")


def _unit(rng, shape):
    x = rng.standard_normal(shape)
    return x / max(np.linalg.norm(x), 1e-300)


def _at(name, index):
    """`w[2, 1]`: a tensor's name and an element's index."""
    return f"{name}[{', '.join(str(int(i)) for i in index)}]"


Result = namedtuple("Result", "name mode max_error ok message")
Result.__doc__ = """One checked tensor: how ("full" Jacobian or the "vᵀJu" projection), the
largest |numerical - analytical| seen, whether all was within tolerance, and if
not, the message naming the worst element."""


def _full(fn, inputs, out, named, eps, atol, rtol):
    numerical, analytical = jacobians(fn, inputs, out, named, eps)
    for (name, t), num, ana in zip(named, numerical, analytical):
        err = np.abs(num - ana)
        bad = err > atol + rtol * np.abs(num)
        max_error = float(err.max()) if err.size else 0.0
        if not bad.any():
            yield Result(name, "full", max_error, True, "")
            continue
        i, j = np.unravel_index(np.argmax(np.where(bad, err, -1.0)), err.shape)
        element = np.unravel_index(j, t.shape)
        yield Result(name, "full", max_error, False, (
            f"gradcheck: gradient of output element {i} with respect to {_at(name, element)}"
            f" is wrong: numerical {num[i, j]:.10g}, analytical {ana[i, j]:.10g}, "
            f"error {err[i, j]:.3g} (allowed {atol:g} + {rtol:g}·|numerical|)" + _off_graph(out)))


def _fast(fn, inputs, out, named, eps, atol, rtol, seed):
    """One random projection vᵀJu per tensor; on a mismatch, find the worst element of vᵀJ."""
    rng = np.random.default_rng(seed)
    v = _unit(rng, out.shape)
    projected = lambda: float(np.sum(fn(*inputs).data * v))          # vᵀf
    if out.requires_grad:
        vjps = _backward(out, v.astype(out.dtype), named)            # vᵀJ, one per tensor
    else:
        vjps = [np.zeros(t.shape) for _, t in named]
    for (name, t), vjp in zip(named, vjps):
        u = _unit(rng, t.shape)
        ana = float(np.sum(vjp * u))
        with no_grad():
            orig = t.data.copy()
            t.data += eps * u
            up = projected()
            t.data[...] = orig - eps * u
            down = projected()
            t.data[...] = orig
        num = (up - down) / (2 * eps)
        if abs(num - ana) <= atol + rtol * abs(num):
            yield Result(name, "vᵀJu", abs(num - ana), True, "")
            continue
        num_vjp = _central(projected, t, eps).reshape(t.shape)      # locate the culprit
        err = np.abs(num_vjp - vjp)
        j = np.unravel_index(np.argmax(err - rtol * np.abs(num_vjp)), t.shape)
        yield Result(name, "vᵀJu", abs(num - ana), False, (
            f"gradcheck (fast): the random projection vᵀJu for {name} is wrong: numerical "
            f"{num:.10g}, analytical {ana:.10g}; the worst element is {_at(name, j)}: "
            f"numerical {num_vjp[j]:.10g}, analytical {vjp[j]:.10g} (of vᵀ·∂output/∂{name}), "
            f"error {err[j]:.3g} (allowed {atol:g} + {rtol:g}·|numerical|)" + _off_graph(out)))


def compare(fn, inputs, params=(), eps=1e-6, atol=1e-5, rtol=1e-3, fast=None, seed=0):
    """Check every float64 tensor in `inputs` and `params` (see `gradcheck`) and return a
    Result for each, in order, instead of stopping at the first failure."""
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    named = _checked(inputs, tuple(params))
    with _requiring_grad([t for _, t in named]):
        out = _output(fn, inputs)
        if fast is None:
            fast = out.size * sum(t.size for _, t in named) > FULL_LIMIT
        if fast:
            return list(_fast(fn, inputs, out, named, eps, atol, rtol, seed))
        return list(_full(fn, inputs, out, named, eps, atol, rtol))


def gradcheck(fn, inputs, params=(), eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
              fast=None, seed=0):
    """True if the engine's gradients of `fn(*inputs)` match central differences for every
    float64 tensor in `inputs` and `params` (whether or not it was made with
    requires_grad=True: it requires grad for the check); otherwise raise GradcheckError
    (or return False) naming the tensor, the worst element, both values and the error.
    A float32 tensor that requires grad is refused (finite differences need float64);
    one that doesn't is a constant.

    fast=False checks the full Jacobian; fast=True one random projection vᵀJu per tensor
    (random vectors drawn from `seed`); fast=None (default) picks full while
    out.size × (elements checked) <= FULL_LIMIT, fast above it."""
    for result in compare(fn, inputs, params, eps, atol, rtol, fast, seed):
        if not result.ok:
            if raise_exception:
                raise GradcheckError(result.message)
            return False
    return True


class _CallableModule(types.ModuleType):
    """This module, callable as its main function: `tg.gradcheck(fn, inputs)` runs
    `gradcheck`, while `import tinygrad_tf.seeing.gradcheck as G` still gives the module
    (G.compare, G.numerical_grad, G.FULL_LIMIT), as the docs describe."""

    def __call__(self, *args, **kwargs):
        return gradcheck(*args, **kwargs)


__signature__ = inspect.signature(gradcheck)       # help() and inspect show gradcheck's arguments
sys.modules[__name__].__class__ = _CallableModule
