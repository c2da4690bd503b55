"""Check the engine's gradients against finite differences.

    numerical:  ∂f_i/∂x_j ≈ (f_i(x + ε e_j) - f_i(x - ε e_j)) / 2ε     (central differences)
    analytical: row i of the Jacobian = backward() with a one-hot gradient on output i

Both are full Jacobians; they must agree to |num - ana| <= atol + rtol·|num|
element by element. Only float64 gives finite differences the precision this
needs, so float32 inputs are refused.
"""
import numpy as np

from .engine import no_grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    """A gradient the engine computed disagrees with finite differences."""


def _checked(inputs, params):
    """The float64 tensors to check, with a name for each; float32 ones are refused."""
    named = []
    for i, t in enumerate(inputs):
        if isinstance(t, Tensor) and np.issubdtype(t.dtype, np.floating):
            named.append((t.name or f"input {i}", t))
    for i, p in enumerate(params):
        named.append((p.name or f"param {i}", p))
    for name, t in named:
        if t.dtype != np.float64:
            raise TypeError(
                f"gradcheck: {name} is {t.dtype}; finite differences need float64 "
                "(make it with dtype=np.float64, or call module.astype(np.float64))")
    return named


def numerical_grad(fn, tensor, eps=1e-6):
    """∂fn()/∂tensor by central differences, for a scalar-valued `fn()`.
    Perturbs `tensor.data` in place, one element at a time, and restores it."""
    flat = tensor.data.reshape(-1)         # a view: writing it moves the tensor
    grad = np.zeros(flat.shape, dtype=np.float64)
    with no_grad():
        for j in range(flat.size):
            orig = flat[j]
            flat[j] = orig + eps
            up = float(np.sum(_array(fn())))
            flat[j] = orig - eps
            down = float(np.sum(_array(fn())))
            flat[j] = orig
            grad[j] = (up - down) / (2 * eps)
    return grad.reshape(tensor.shape)


def _array(out):
    return out.data if isinstance(out, Tensor) else np.asarray(out)


def jacobians(fn, inputs, named, eps=1e-6):
    """Numerical and analytical Jacobians (out.size × t.size) for each named tensor."""
    out = fn(*inputs)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, not {type(out).__name__}")
    m = out.size
    saved_grads = [t.grad for _, t in named]
    numerical, analytical = [], []
    for _, t in named:
        flat = t.data.reshape(-1)
        num = np.zeros((m, flat.size))
        with no_grad():
            for j in range(flat.size):
                orig = flat[j]
                flat[j] = orig + eps
                up = fn(*inputs).data.reshape(-1).astype(np.float64)
                flat[j] = orig - eps
                down = fn(*inputs).data.reshape(-1).astype(np.float64)
                flat[j] = orig
                num[:, j] = (up - down) / (2 * eps)
        numerical.append(num)
        analytical.append(np.zeros((m, flat.size)))
    if out.requires_grad:
        for i in range(m):
            for _, t in named:
                t.grad = None
            onehot = np.zeros(m, dtype=out.dtype)
            onehot[i] = 1.0
            out.backward(onehot.reshape(out.shape), retain_graph=True)
            for k, (_, t) in enumerate(named):
                if t.grad is not None:
                    analytical[k][i] = t.grad.reshape(-1)
    for (_, t), g in zip(named, saved_grads):
        t.grad = g
    return numerical, analytical


def gradcheck(fn, inputs, params=(), eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """True if the engine's Jacobian of `fn(*inputs)` matches central differences for
    every float tensor in `inputs` and `params`; otherwise raise GradcheckError
    (or return False) naming the tensor, the worst element, both values and the error."""
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    named = _checked(inputs, tuple(params))
    numerical, analytical = jacobians(fn, inputs, named, eps)
    for (name, t), num, ana in zip(named, numerical, analytical):
        err = np.abs(num - ana)
        bad = err > atol + rtol * np.abs(num)
        if bad.any():
            i, j = np.unravel_index(np.argmax(np.where(bad, err, -1.0)), err.shape)
            element = np.unravel_index(j, t.shape) if t.ndim else ()
            msg = (f"gradcheck: gradient of output element {i} with respect to {name}"
                   f"{list(element)} is wrong: numerical {num[i, j]:.10g}, "
                   f"analytical {ana[i, j]:.10g}, error {err[i, j]:.3g} "
                   f"(allowed {atol:g} + {rtol:g}·|numerical|)")
            if raise_exception:
                raise GradcheckError(msg)
            return False
    return True
