"""The self-checks: gradcheck over every Tensor op and every layer, as a table; and
the residual reports of deep post-LN and pre-LN stacks, side by side.

    python -m tinygrad_tf gradcheck
    python -m tinygrad_tf residuals

Each row builds a small float64 problem, runs `gradcheck.compare` on it (the full
Jacobian when small, the random projection vᵀJu when large) and reports the largest
|numerical - analytical| seen. Inputs are kept away from kinks (relu and abs at 0,
ties of max) where finite differences are not a derivative. The ops a row
exercised are read off its graph, so `covered()` can tell that every op in ops.py
and fused.py was checked.
"""
import time
from collections import namedtuple

import numpy as np

from . import fused, ops
from .engine import topological_order
from .gradcheck import compare
from .tensor import Tensor, cat, residual, stack, where
from .trace import _table, trace

Row = namedtuple("Row", "name shapes ops mode max_error ok message")


def _rng(seed=0):
    return np.random.default_rng(seed)


def _t(shape, seed=0, kind="any"):
    """A float64 tensor that requires grad: any values, positive ones, values kept off
    0 (the kink of relu and abs), or distinct ones (no ties for max)."""
    a = _rng(seed).standard_normal(shape)
    if kind == "positive":
        a = np.abs(a) + 0.5
    elif kind == "off0":
        a = np.where(np.abs(a) < 0.2, np.sign(a + 1e-12) * 0.3, a)
    elif kind == "distinct":
        a = a + np.arange(a.size).reshape(shape) * 0.1
    return Tensor(a, requires_grad=True, dtype=np.float64)


def _ts(shapes, kind="any"):
    """One `_t` per shape, each from its own seed."""
    return [_t(s, k, kind) for k, s in enumerate(shapes)]


MASK = np.array([True, False, False, True, False])

# name: (fn, [input shapes], input kind)
UNARY = {
    "neg": (lambda a: -a, "any"),
    "exp": (lambda a: a.exp(), "any"),
    "log": (lambda a: a.log(), "positive"),
    "sqrt": (lambda a: a.sqrt(), "positive"),
    "abs": (lambda a: a.abs(), "off0"),
    "tanh": (lambda a: a.tanh(), "any"),
    "sigmoid": (lambda a: a.sigmoid(), "any"),
    "relu": (lambda a: a.relu(), "off0"),
    "silu": (lambda a: a.silu(), "any"),
    "gelu": (lambda a: a.gelu(), "any"),
    "gelu(tanh)": (lambda a: a.gelu(approximate="tanh"), "any"),
    "pow 3": (lambda a: a ** 3, "any"),
    "pow -0.5": (lambda a: a ** -0.5, "positive"),
    "sum": (lambda a: a.sum(), "any"),
    "sum(axis=-1, keepdims)": (lambda a: a.sum(axis=-1, keepdims=True), "any"),
    "mean(axis=0)": (lambda a: a.mean(axis=0), "any"),
    "max(axis=-1)": (lambda a: a.max(axis=-1), "distinct"),
    "max": (lambda a: a.max(), "distinct"),
    "var(axis=-1)": (lambda a: a.var(axis=-1), "any"),
    "var(correction=1)": (lambda a: a.var(correction=1), "any"),
    "reshape": (lambda a: a.reshape(-1), "any"),
    "permute (.T)": (lambda a: a.T, "any"),
    "getitem slice": (lambda a: a[1:, ::2], "any"),
    "getitem int array": (lambda a: a[[0, 1, 0]], "any"),
    "masked_fill": (lambda a: a.masked_fill(MASK[:a.shape[-1]], -3.0), "any"),
    "softmax(axis=-1)": (lambda a: a.softmax(axis=-1), "any"),
    "softmax(axis=0)": (lambda a: a.softmax(axis=0), "any"),
    "log_softmax": (lambda a: a.log_softmax(axis=-1), "any"),
    "astype f32 and back": (lambda a: a.astype(np.float32).astype(np.float64), "any"),
}
UNARY_SHAPES = [(3, 5), (2, 3, 5)]

COND = np.array([True, False, True, True, False])
BINARY = {
    "add": (lambda a, b: a + b, "any"),
    "sub": (lambda a, b: a - b, "any"),
    "mul": (lambda a, b: a * b, "any"),
    "div": (lambda a, b: a / b, "positive"),
    "residual": (lambda a, b: residual(a, b), "any"),
    "where": (lambda a, b: where(COND, a, b), "any"),
    "pow (tensor exponent)": (lambda a, b: a ** b, "positive"),
}
BINARY_SHAPES = [((3, 5), (3, 5)), ((2, 3, 5), (5,)), ((3, 1), (1, 5))]

MATMUL_SHAPES = [((3, 4), (4, 5)), ((2, 3, 4), (4, 5)), ((2, 3, 4), (2, 4, 5)), ((4,), (4, 5)),
                 ((3, 4), (4,)), ((2, 1, 3, 4), (5, 4, 2))]


def _op_cases():
    """(name, shapes, fn, inputs, gradcheck keywords) for every Tensor op."""
    from .nn import functional as F
    cases = []
    for name, (fn, kind) in UNARY.items():
        for shape in UNARY_SHAPES:
            eps = 1e-2 if name.startswith("astype") else 1e-6   # a float32 round trip is flat below 1e-7
            cases.append((name, [shape], fn, [_t(shape, 0, kind)], {"eps": eps}))
    for name, (fn, kind) in BINARY.items():
        for shapes in BINARY_SHAPES:
            if name == "where" and shapes[-1][-1] != 5:
                continue
            cases.append((name, list(shapes), fn, _ts(shapes, kind), {}))
    for shapes in MATMUL_SHAPES:
        cases.append(("matmul", list(shapes), lambda a, b: a @ b, _ts(shapes), {}))
    for axis in (0, 1):
        shapes = [(2, 3), (2, 3), (2, 3)]
        cases.append((f"cat(axis={axis})", shapes, lambda *t, axis=axis: cat(t, axis=axis),
                      _ts(shapes), {}))
        cases.append((f"stack(axis={axis})", shapes, lambda *t, axis=axis: stack(t, axis=axis),
                      _ts(shapes), {}))
    for bias in (True, False):
        shapes = [(2, 3, 4), (5, 4)] + ([(5,)] if bias else [])
        cases.append(("F.linear" + ("" if bias else " (no bias)"), shapes, F.linear,
                      _ts(shapes), {}))
    shapes = [(2, 3, 6), (6,), (6,)]
    cases.append(("F.layer_norm", shapes, lambda x, w, b: F.layer_norm(x, (6,), w, b),
                  _ts(shapes), {}))
    shapes = [(2, 4, 3), (2, 5, 3), (2, 5, 3)]
    mask = np.ones((4, 5), dtype=bool)
    mask[1] = False                                    # a query with no key: all-zero weights
    mask[2, 3:] = False
    for causal in (False, True):
        cases.append((f"F.scaled_dot_product_attention{' causal' if causal else ''}", shapes,
                      lambda q, k, v, causal=causal: F.scaled_dot_product_attention(
                          q, k, v, mask=mask, causal=causal)[0],
                      _ts(shapes), {}))
    bias = _rng(4).standard_normal((4, 5))
    bias[1, 2:] = -np.inf                              # a float (additive) mask: -inf forbids
    cases.append(("F.scaled_dot_product_attention float mask", shapes + [(4, 5)],
                  lambda q, k, v, b: F.scaled_dot_product_attention(q, k, v, mask=b)[0],
                  _ts(shapes) + [Tensor(bias, requires_grad=True, dtype=np.float64)], {}))
    logits, targets = (3, 4, 5), np.array([[0, 1, 4, 2], [3, 3, 0, 1], [2, 4, 1, 0]])
    cases.append(("F.cross_entropy (smoothing, ignore)", [logits],
                  lambda x: F.cross_entropy(x, targets, ignore_index=3, label_smoothing=0.1),
                  [_t(logits)], {}))
    cases.append(("F.mse_loss", [(3, 4), (3, 4)], F.mse_loss, [_t((3, 4)), _t((3, 4), 1)], {}))
    probs = Tensor(_rng(2).random(logits), requires_grad=True, dtype=np.float64)
    cases.append(("F.cross_entropy (probabilities)", [logits, logits],
                  lambda x, p: F.cross_entropy(x, p, label_smoothing=0.1, reduction="none"),
                  [_t(logits), probs], {}))
    cases.append(("F.nll_loss", [logits], lambda x: F.nll_loss(x, targets, ignore_index=3),
                  [_t(logits)], {}))
    unit = Tensor(_rng(3).uniform(0.1, 0.9, (3, 4)), requires_grad=True, dtype=np.float64)
    cases.append(("F.binary_cross_entropy", [(3, 4), (3, 4)], F.binary_cross_entropy,
                  [unit, _t((3, 4), 1, "positive")], {}))
    cases.append(("F.binary_cross_entropy_with_logits", [(3, 4), (3, 4)],
                  lambda z, y: F.binary_cross_entropy_with_logits(z, y, pos_weight=np.array(2.0)),
                  [_t((3, 4)), _t((3, 4), 1, "positive")], {}))
    return cases


def _layer_cases():
    """(name, shapes, fn, inputs, gradcheck keywords with the module's parameters)."""
    from . import nn
    nn.manual_seed(0)
    B, S, D, H, FF = 2, 3, 8, 2, 16
    x, memory, ids = _t((B, S, D)), _t((B, 4, D), 1), np.array([[1, 2, 3], [4, 0, 2]])
    key_mask = np.array([[True, True, False]])[:, None, None, :]    # (1, 1, 1, S): last key hidden
    layers = [
        ("Linear", nn.Linear(D, 5), lambda m, x: m(x), [x]),
        ("Embedding", nn.Embedding(6, D), lambda m: m(ids), []),
        ("LayerNorm", nn.LayerNorm(D), lambda m, x: m(x), [x]),
        ("BatchNorm1d (train)", nn.BatchNorm1d(D), lambda m, x: m(x.reshape(B * S, D)), [x]),
    ]
    for act in ("relu", "gelu", "swiglu"):
        layers.append((f"FeedForward({act})", nn.FeedForward(D, FF, act), lambda m, x: m(x), [x]))
    layers += [
        ("MultiHeadAttention (self, masked)", nn.MultiHeadAttention(D, H),
         lambda m, x: m(x, mask=key_mask), [x]),
        ("MultiHeadAttention (causal)", nn.MultiHeadAttention(D, H), lambda m, x: m(x, causal=True), [x]),
        ("MultiHeadAttention (cross)", nn.MultiHeadAttention(D, H),
         lambda m, x, mem: m(x, context=mem), [x, memory]),
    ]
    for norm_first in (False, True):
        arrangement = "pre-LN" if norm_first else "post-LN"
        layers.append((f"EncoderBlock {arrangement}", nn.EncoderBlock(D, H, FF, norm_first=norm_first),
                       lambda m, x: m(x, mask=key_mask), [x]))
        layers.append((f"DecoderBlock {arrangement}",
                       nn.DecoderBlock(D, H, FF, activation="swiglu", norm_first=norm_first),
                       lambda m, x, mem: m(x, mem), [x, memory]))
    layers += [
        ("Transformer", nn.Transformer(7, 9, d_model=D, n_heads=H, n_layers=1, d_ff=FF),
         lambda m: m(ids, ids[:, :2]), []),
        ("TransformerLM", nn.TransformerLM(7, d_model=D, n_heads=H, n_layers=1, d_ff=FF),
         lambda m: m(ids), []),
    ]
    cases = []
    for name, module, fn, inputs in layers:
        module.astype(np.float64)
        fn(module, *inputs)                # a first call names the parameters
        shapes = [t.shape for t in inputs] or [ids.shape]
        cases.append((name, shapes, lambda *xs, m=module, f=fn: f(m, *xs), inputs,
                      {"params": module.parameters()}))
    return cases


def _ops_in(fn, inputs):
    """The names of the ops in fn(*inputs)'s graph (its leaf tensors are no ops)."""
    out = fn(*inputs)
    nodes = topological_order(out._ctx) if out._ctx is not None else []
    return {node.name for node in nodes if isinstance(node, ops.Op)}


def run(layers=True):
    """Check every case; a list of Row."""
    rows = []
    for name, shapes, fn, inputs, kw in _op_cases() + (_layer_cases() if layers else []):
        results = compare(fn, inputs, **kw)
        failed = [r for r in results if not r.ok]
        rows.append(Row(name, " ".join(str(s) for s in shapes), _ops_in(fn, inputs),
                        results[0].mode if results else "-",
                        max((r.max_error for r in results), default=0.0),
                        not failed, failed[0].message if failed else ""))
    return rows


def covered(rows):
    """The op names (of ops.py and fused.py) that some row exercised."""
    return set().union(*(r.ops for r in rows))


def all_ops():
    """Every op defined in ops.py and fused.py, by name."""
    found, stack_ = set(), [ops.Op]
    while stack_:
        for sub in stack_.pop().__subclasses__():
            if sub.__module__ in (ops.__name__, fused.__name__):
                found.add(sub.name)
            stack_.append(sub)
    return found


def table(rows):
    header = ("op / layer", "input shapes", "check", "max error", "pass")
    return _table([header] + [(r.name, r.shapes, r.mode, f"{r.max_error:.1e}", "ok" if r.ok else "FAIL")
                              for r in rows])


def residual_stacks(n_layers=12, d_model=16, seed=0):
    """{"post-LN": report, "pre-LN": report}: the residual reports of one backward through
    `n_layers` EncoderBlocks of each arrangement, same data and initialisation.

    Pre-LN keeps an identity path from the loss to the input: each residual's skip
    gradient reaches the next block down unchanged, and the sublayers only add to it.
    Post-LN puts a LayerNorm on that path after every residual, which rescales the
    gradient at each block, so at depth it can shrink (or grow) geometrically."""
    from . import nn
    reports = {}
    for norm_first in (False, True):
        nn.manual_seed(seed)
        stack_ = nn.Sequential(*[nn.EncoderBlock(d_model, 2, 2 * d_model, norm_first=norm_first)
                                 for _ in range(n_layers)])
        x = Tensor(_rng(seed).standard_normal((2, 5, d_model)), requires_grad=True)
        y = stack_(x)
        loss = (y * Tensor(_rng(seed + 1).standard_normal(y.shape))).sum()
        with trace() as tr:
            loss.backward()
        reports["pre-LN" if norm_first else "post-LN"] = tr.residual_report()
    return reports


def main():
    """Print the table and a summary; 0 if every row passed, else 1."""
    start = time.perf_counter()
    rows = run()
    print(table(rows))
    missing = all_ops() - covered(rows)
    failed = [r for r in rows if not r.ok]
    for r in failed:
        print(f"\nFAIL {r.name} {r.shapes}: {r.message}")
    if missing:
        print(f"\nops with no row: {', '.join(sorted(missing))}")
    print(f"\n{len(rows) - len(failed)}/{len(rows)} passed, every op in ops.py and fused.py covered: "
          f"{'yes' if not missing else 'no'} ({time.perf_counter() - start:.1f} s)")
    return 0 if not failed and not missing else 1
