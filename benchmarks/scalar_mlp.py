"""Scalar MLP 2→16→16→1 on 100 points, one training step, one number at a time.

`tg.Value` against micrograd 0.1.0, both driven by the same code: micrograd-style
neurons `sum((wi * xi for ...), b)`, an SVM hinge loss with L2 regularisation as in
micrograd's demo, backward, and a plain SGD update. Garbage collection is left at
its default settings for both, as a user would have it.
"""
import numpy as np

import tinygrad_tf as tg

from .compare import assert_agree
from .harness import Workload, optional_import, ratio_at_most

SIZES = (2, 16, 16, 1)


def moons(n=100, seed=0):
    """Two interleaved half-circles with a little noise; labels ±1."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, np.pi, n)
    upper = np.arange(n) % 2 == 0
    x = np.where(upper, np.cos(t), 1 - np.cos(t))
    y = np.where(upper, np.sin(t), 0.5 - np.sin(t))
    points = np.stack([x, y], axis=1) + rng.normal(0, 0.1, (n, 2))
    return points.tolist(), np.where(upper, 1.0, -1.0).tolist()


def init_weights(seed=0):
    """[(weights of each neuron, bias of each neuron) per layer] as plain floats."""
    rng = np.random.default_rng(seed)
    return [(rng.uniform(-1, 1, (n_out, n_in)).tolist(), [0.0] * n_out)
            for n_in, n_out in zip(SIZES, SIZES[1:])]


class ScalarMLP:
    """The network as lists of scalar nodes of any Value class."""

    def __init__(self, Value, weights):
        self.layers = [([[Value(w) for w in row] for row in W], [Value(b) for b in B])
                       for W, B in weights]

    def parameters(self):
        return [p for W, B in self.layers for row, b in zip(W, B) for p in row + [b]]

    def __call__(self, x):
        for i, (W, B) in enumerate(self.layers):
            last = i == len(self.layers) - 1
            x = [sum((wi * xi for wi, xi in zip(w, x)), b) for w, b in zip(W, B)]
            x = x if last else [a.relu() for a in x]
        return x[0]


def train_step(model, points, labels, lr=0.05, alpha=1e-4):
    scores = [model(x) for x in points]
    losses = [(1 + -yi * si).relu() for yi, si in zip(labels, scores)]
    params = model.parameters()
    loss = sum(losses) * (1.0 / len(losses)) + alpha * sum(p * p for p in params)
    for p in params:
        p.grad = 0.0
    loss.backward()
    grads = [p.grad for p in params]
    for p in params:
        p.data -= lr * p.grad
    return loss.data, grads


def workload():
    points, labels = moons()
    value_classes = {"tinygrad_tf": tg.Value}
    skipped = {}
    micrograd = optional_import("micrograd.engine")
    if micrograd is None:
        skipped["micrograd"] = "not installed"
    else:
        value_classes["micrograd"] = micrograd.Value
    models = {name: ScalarMLP(V, init_weights()) for name, V in value_classes.items()}
    engines = {name: (lambda m=m: train_step(m, points, labels)) for name, m in models.items()}

    def verify():
        grads = {}
        for name, V in value_classes.items():
            loss, g = train_step(ScalarMLP(V, init_weights()), points, labels)
            grads[name] = [loss] + g
        return assert_agree(grads, 1e-9)

    return Workload("scalar MLP 2→16→16→1, 100 points, train step", engines, verify,
                    skipped=skipped,
                    targets=[("≥10× faster than micrograd", ratio_at_most("micrograd", 1 / 10))],
                    memory=tuple(engines))
