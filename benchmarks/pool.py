"""What the elementwise thread pool (tinygrad_tf/core/threads.py) buys, per op and array size:

    python -m benchmarks --pool            # each pooled op at several sizes, and the LM step
    python -m benchmarks --pool --repeats 40

Each op runs with the pool at 1 thread and at 2 (BLAS's threads left as they are), taking
turns, with `threads.MIN_ELEMENTS` set to 0 so that every size is worked on in blocks
on the pool: the ratio of the medians (2 threads ÷ 1) is what handing the blocks out
gains or costs at that size; where it stops costing is the threshold MIN_ELEMENTS.
Wall time: the point is two cores, so process time would not show it.
"""
import gc
import statistics
import time

import numpy as np

from tinygrad_tf import Tensor, optim
from tinygrad_tf.core import fused, ops, threads

from . import lm

ROWS = (256, 512, 1024, 2048, 4096)          # rows of 64 values: 16,384 ... 262,144 values


def cases(rows, rng):
    """(name, values, step) for each pooled op on arrays of `rows` rows of 64 (GELU: 256)."""
    def f32(*shape):
        return rng.standard_normal(shape, dtype=np.float32)
    x = f32(rows, 256)
    yield "gelu forward", x.size, lambda: fused.exact_gelu(x)
    s, g = f32(rows // 64, 1, 64, 64), f32(rows // 64, 1, 64, 64)
    mask = np.tril(np.ones((64, 64), bool))
    softmax = fused.MaskedSoftmax()
    softmax.forward(s, mask, 0.125)
    yield "masked softmax forward", s.size, lambda: fused.MaskedSoftmax().forward(s, mask, 0.125)
    yield "masked softmax backward", s.size, lambda: softmax.backward(g)
    z, q, gl = f32(rows, 65), np.eye(65, dtype=np.float32)[rng.integers(0, 65, rows)], f32(rows)
    xent = fused.SoftmaxCrossEntropy()
    xent.needs = (True, False)
    xent.forward(z, q)
    yield "cross-entropy forward", z.size, lambda: fused.SoftmaxCrossEntropy().forward(z, q)
    yield "cross-entropy backward", z.size, lambda: xent.backward(gl)
    qh, kh = f32(rows // 64, 4, 64, 16), f32(rows // 64, 4, 16, 64)
    yield "attention scores q·kᵀ", rows * 4 * 64, lambda: ops._product(qh, kh, kh)
    params = [Tensor(f32(rows, 64), requires_grad=True), Tensor(f32(64), requires_grad=True)]
    for p in params:
        p.grad = f32(*p.shape)
    adam = optim.Adam(params, lr=1e-3)
    adam.step()
    yield "Adam update", rows * 64 + 64, adam.step


def compare(step, repeats):
    """Median wall seconds of `step` with the pool at 1 and at 2 threads, taking turns."""
    times = {1: [], 2: []}
    for n in (1, 2, 1, 2):                   # warm up both (the helper thread starts)
        threads._resize(n)
        step()
    for _ in range(repeats):
        for n in (1, 2):
            threads._resize(n)
            gc.collect()
            start = time.perf_counter()
            step()
            times[n].append(time.perf_counter() - start)
    return {n: statistics.median(t) for n, t in times.items()}


def main(repeats=None):
    repeats = repeats or 30
    before, size = threads.MIN_ELEMENTS, threads.size()
    rng = np.random.default_rng(0)
    print(f"The elementwise pool at 2 threads ÷ 1 (medians of {repeats}, wall time, taking turns; "
          f"every size on the pool). Now: MIN_ELEMENTS = {before:,}.\n")
    print(f"{'op':26s} {'values':>9s} {'1 thread ms':>12s} {'2 threads ms':>13s} {'2 ÷ 1':>7s}")
    try:
        threads.MIN_ELEMENTS = 0
        for rows in ROWS:
            for name, values, step in cases(rows, rng):
                t = compare(step, repeats)
                print(f"{name:26s} {values:9,d} {t[1] * 1e3:12.3f} {t[2] * 1e3:13.3f} {t[2] / t[1]:7.2f}")
        threads.MIN_ELEMENTS = before
        tokens, targets = lm.token_batch()
        _, step = lm.tg_step(tokens, targets)
        t = compare(step, repeats)
        print(f"\n{lm.NAME}, MIN_ELEMENTS = {before:,}: 1 thread {t[1] * 1e3:.1f} ms, "
              f"2 threads {t[2] * 1e3:.1f} ms ({t[2] / t[1]:.2f})")
    finally:
        threads.MIN_ELEMENTS = before
        threads._resize(size)
