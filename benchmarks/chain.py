"""Per-op overhead: a chain of 10,000 tiny adds (3-element arrays), then backward.

With arrays this small the arithmetic is nothing; what is measured is what an
engine spends per op on bookkeeping: making the output, recording the graph,
and, in backward, sorting the graph and passing each gradient on.
"""
import numpy as np

import tinygrad_tf as tg

from .compare import assert_agree
from .harness import AUTOGRAD_TARGET, Workload, optional_import, ratio_at_most, times_of

N_OPS = 10_000
X0 = np.array([0.5, -1.0, 2.0], dtype=np.float32)


def chain(x, n=N_OPS):
    """y = x + x + ... + x (n adds), written the same way for every engine."""
    y = x
    for _ in range(n):
        y = y + x
    return y.sum()


def workload(n=N_OPS):
    engines, grads, skipped = {}, {}, {}

    def tg_step():
        x = tg.Tensor(X0, requires_grad=True)
        chain(x, n).backward()
        return x.grad

    engines["tinygrad_tf"] = tg_step
    torch = optional_import("torch")
    if torch is None:
        skipped["torch"] = "not installed"
    else:
        def torch_step():
            x = torch.tensor(X0, requires_grad=True)
            chain(x, n).backward()
            return x.grad.numpy()
        engines["torch"] = torch_step
    autograd = optional_import("autograd")
    if autograd is None:
        skipped["autograd"] = "not installed"
    else:
        chain_grad = autograd.grad(lambda x: chain(x, n))
        engines["autograd"] = lambda: chain_grad(X0)

    def verify():
        for name, step in engines.items():
            grads[name] = [step()]
        g = grads["tinygrad_tf"][0]
        assert np.allclose(g, n + 1), f"tinygrad_tf's gradient {g} differs from {n + 1} (the exact one)"
        return assert_agree(grads, 1e-6)

    # A ratio to PyTorch's own per-op cost in the same run (issue 14's ≤2.5 µs/op was
    # an absolute time, which moved with the machine: torch itself took 11-14 µs there).
    return Workload(f"per-op overhead: chain of {n:,} adds + backward", engines, verify,
                    unit="µs/op", per=n, skipped=skipped,
                    targets=[("≤0.6× torch's time", ratio_at_most("torch", 0.6, times_of("torch"))),
                             AUTOGRAD_TARGET],
                    memory=())

