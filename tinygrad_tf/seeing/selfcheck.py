"""The self-checks: gradcheck over every Tensor op and every layer, as a table; and
the residual reports of deep post-LN and pre-LN stacks, side by side.

    python -m tinygrad_tf gradcheck
    python -m tinygrad_tf residuals

The op table `OPS` (one row per op: its function, PyTorch's twin, the input
shapes) is also the one tests/test_ops.py runs. Each row and shape builds a small
float64 problem, runs `gradcheck.compare` on it (the full Jacobian when small, the
random projection vᵀJu when large) and reports the largest |numerical - analytical|
seen. Inputs are kept away from kinks (relu and abs at 0,
ties of max) where finite differences are not a derivative. The ops a row
exercised are read off its graph, so `covered()` can tell that every op in ops.py
and fused.py was checked.
"""
import importlib
import time
from collections import namedtuple

import numpy as np

from ..core import fused, ops
from ..core.engine import topological_order
from ..core.tensor import Tensor, cat, dot, einsum, maximum, minimum, outer, residual, stack, where
from ..nn import functional as F
from .gradcheck import compare
from .trace import text_table, trace

Row = namedtuple("Row", "name shapes ops mode max_error ok message")


def _rng(seed=0):
    return np.random.default_rng(seed)


def _t(shape, seed=0, kind="any"):
    """A float64 tensor that requires grad: any values, positive ones, values kept off
    0 (the kink of relu and abs), distinct ones (no ties for max), ones in (0, 1), or
    a float attention mask (some -inf)."""
    a = _rng(seed).standard_normal(shape)
    if kind == "positive":
        a = np.abs(a) + 0.5
    elif kind == "off0":
        a = np.where(np.abs(a) < 0.2, np.sign(a + 1e-12) * 0.3, a)
    elif kind == "distinct":
        a = a + np.arange(a.size).reshape(shape) * 0.1
    elif kind == "unit":
        a = _rng(seed).uniform(0.1, 0.9, shape)
    elif kind == "float mask":
        a[1, 2:] = -np.inf                 # an additive attention mask: -inf forbids
    return Tensor(a, requires_grad=True, dtype=np.float64)


class _Lazy:
    """A module imported on first use: the table names PyTorch's twin of each op, but
    only the tests (PyTorch parity) call them, and PyTorch is no dependency."""

    def __init__(self, name):
        self.name = name

    def __getattr__(self, attr):
        return getattr(importlib.import_module(self.name), attr)


torch = _Lazy("torch")
TF = _Lazy("torch.nn.functional")


class Case(namedtuple("Case", "name fn torch shapes kind eps")):
    """One row of the op table: `fn` on inputs of each entry of `shapes` (a list of input
    shapes per entry), drawn as `kind` (see `_t`; a tuple gives one kind per input),
    checked with finite differences of step `eps`; `torch` is PyTorch's twin for the
    tests' parity check (SAME: `fn` itself runs on torch tensors; None: no twin)."""

    def inputs(self, shapes):
        kinds = self.kind if isinstance(self.kind, tuple) else (self.kind,) * len(shapes)
        return [_t(shape, seed, kind) for seed, (shape, kind) in enumerate(zip(shapes, kinds))]


SAME = object()


def case(name, fn, torch=None, shapes=None, kind="any", eps=1e-6):
    return Case(name, fn, fn if torch is SAME else torch, shapes or UNARY, kind, eps)


UNARY = [[(3, 5)], [(2, 3, 5)]]
BINARY = [[(3, 5), (3, 5)], [(2, 3, 5), (5,)], [(3, 1), (1, 5)], [(2, 1, 5), (3, 1)]]
MATMUL = [[(3, 4), (4, 5)], [(2, 3, 4), (4, 5)], [(2, 3, 4), (2, 4, 5)], [(4,), (4, 5)],
          [(3, 4), (4,)], [(4,), (4,)], [(2, 1, 3, 4), (5, 4, 2)], [(3, 4), (2, 4, 5)]]
THREE = [[(2, 3), (2, 3), (2, 3)]]
MASK = np.array([True, False, False, True, False])     # for inputs whose last axis is 5
ATTENTION_MASK = np.ones((4, 5), dtype=bool)
ATTENTION_MASK[1] = False                               # a query with no key: all-zero weights
ATTENTION_MASK[2, 3:] = False
GATHER = np.array([[0, 4, 4], [1, 0, 2], [3, 3, 1]])       # gather's index: a row read twice
TARGETS = np.array([[0, 1, 4, 2], [3, 3, 0, 1], [2, 4, 1, 0]])


def _heads_product(x, w):
    """Attention's layout: x (B, T, h·d) split into heads v (B, h, T, d) (a transposed
    view), products with v, vᵀ and w (B, h, T, T), and the heads merged back."""
    b, t, _ = x.shape
    v = x.reshape(b, t, w.shape[1], -1).permute(0, 2, 1, 3)
    return ((v @ v.transpose(-2, -1) + w) @ v).permute(0, 2, 1, 3).reshape(x.shape)


# The op table: every Tensor op (and the fused ops, through nn.functional) on a few
# shapes, for `python -m tinygrad_tf gradcheck` and for tests/test_ops.py (which also
# checks values and gradients against the PyTorch twin). A new op is one row:
#     case(name, fn, PyTorch's twin or SAME or None, [[shapes of one call], ...] (UNARY),
#          kind of inputs ("any", "positive", ...: see `_t`), eps (1e-6))
OPS = [
    # name              tinygrad_tf                           PyTorch's twin         shapes / inputs
    case("neg",         lambda a: -a,                         SAME),
    case("exp",         lambda a: a.exp(),                    SAME),
    case("log",         lambda a: a.log(),                    SAME, kind="positive"),
    case("sqrt",        lambda a: a.sqrt(),                   SAME, kind="positive"),
    case("abs",         lambda a: a.abs(),                    SAME, kind="off0"),
    case("tanh",        lambda a: a.tanh(),                   SAME),
    case("sigmoid",     lambda a: a.sigmoid(),                SAME),
    case("relu",        lambda a: a.relu(),                   SAME, kind="off0"),
    case("silu",        lambda a: a.silu(),                   lambda a: TF.silu(a)),
    case("gelu",        lambda a: a.gelu(),                   lambda a: TF.gelu(a)),
    case("gelu(tanh)",  lambda a: a.gelu(approximate="tanh"), lambda a: TF.gelu(a, approximate="tanh")),
    case("pow 3",       lambda a: a ** 3,                     SAME),
    case("pow 0.5",     lambda a: a ** 0.5,                   SAME, kind="positive"),
    case("pow -2",      lambda a: a ** -2,                    SAME, kind="positive"),
    case("2 ** a",      lambda a: 2.0 ** a,                   SAME),
    case("sum",         lambda a: a.sum(),                    SAME),
    case("sum(axis=-1, keepdims)", lambda a: a.sum(axis=-1, keepdims=True), SAME),
    case("mean",        lambda a: a.mean(),                   SAME),
    case("mean(axis=(0, -1))", lambda a: a.mean(axis=(0, -1)), SAME),
    case("max",         lambda a: a.max(),                    lambda a: a.amax(), kind="distinct"),
    case("amax(axis=-1, keepdims)", lambda a: a.amax(axis=-1, keepdims=True),
         lambda a: a.amax(dim=-1, keepdim=True), kind="distinct"),
    case("var",         lambda a: a.var(),                    SAME),
    case("var(axis=-1, correction=1)", lambda a: a.var(axis=-1, correction=1), SAME),
    case("softmax(axis=-1)", lambda a: a.softmax(axis=-1),    SAME),
    case("softmax(axis=0)", lambda a: a.softmax(axis=0),      SAME),
    case("log_softmax", lambda a: a.log_softmax(axis=-1),     SAME),
    case("reshape",     lambda a: a.reshape(-1),              SAME),
    case("permute (.T)", lambda a: a.T,                       lambda a: a.permute(*reversed(range(a.ndim)))),
    case("transpose(0, -1)", lambda a: a.transpose(0, -1),    SAME),
    case("getitem slice", lambda a: a[1:, ::2],               SAME),
    case("getitem int array", lambda a: a[[0, 1, 0]],         SAME),
    case("getitem mixed", lambda a: a.permute(2, 0, 1)[1:, :, [0, 2, 2]], SAME, [[(2, 3, 5)]]),
    case("masked_fill", lambda a: a.masked_fill(MASK, -3.0),
         lambda a: a.masked_fill(torch.from_numpy(MASK), -3.0)),
    case("astype f32 and back", lambda a: a.astype(np.float32).astype(np.float64),
         lambda a: a.float().double(), eps=1e-2),           # a float32 round trip is flat below 1e-7
    case("sin",         lambda a: a.sin(),                    SAME),
    case("cos",         lambda a: a.cos(),                    SAME),
    case("erf",         lambda a: a.erf(),                    SAME),
    case("rsqrt",       lambda a: a.rsqrt(),                  SAME, kind="positive"),
    case("square",      lambda a: a.square(),                 SAME),
    case("reciprocal",  lambda a: a.reciprocal(),             SAME, kind="positive"),
    case("softplus",    lambda a: a.softplus(),               lambda a: TF.softplus(a)),
    case("softplus(beta=2)", lambda a: a.softplus(beta=2.0),  lambda a: TF.softplus(a, beta=2.0)),
    case("leaky_relu",  lambda a: a.leaky_relu(0.1),          lambda a: TF.leaky_relu(a, 0.1), kind="off0"),
    case("sign (zero gradient)", lambda a: a.sign() * a,      SAME, kind="off0"),
    case("clamp",       lambda a: a.clamp(-0.5, 0.7),         SAME),
    case("amin(axis=0)", lambda a: a.amin(axis=0),            lambda a: a.amin(dim=0), kind="distinct"),
    case("std(dim=-1)", lambda a: a.std(dim=-1),              SAME),
    case("logsumexp(dim=-1)", lambda a: a.logsumexp(dim=-1),  SAME),
    case("cumsum(dim=-1)", lambda a: a.cumsum(dim=-1),        SAME),
    case("prod(dim=-1)", lambda a: a.prod(dim=-1),            SAME),
    case("prod",        lambda a: a.prod(),                   SAME),
    case("gather(dim=-1)", lambda a: a.gather(-1, GATHER[:a.shape[0]]),
         lambda a: a.gather(-1, torch.from_numpy(GATHER[:a.shape[0]])), [[(3, 5)]]),
    case("expand",      lambda a: a[..., :1].expand(*a.shape[:-1], 3), SAME),
    case("unsqueeze(1)", lambda a: a.unsqueeze(1),            SAME),
    case("squeeze",     lambda a: a.squeeze(),                SAME, [[(3, 1, 5)]]),
    case("flatten(1)",  lambda a: a.flatten(1),               SAME, [[(2, 3, 5)]]),
    case("unflatten",   lambda a: a.unflatten(-1, (1, 5)),    SAME),
    case("view",        lambda a: a.view(-1, 5),              SAME),
    case("clone",       lambda a: a.clone(),                  SAME),
    case("flip(0)",     lambda a: a.flip(0),                  SAME),
    case("split(2, dim=-1)", lambda a: cat(a.split(2, dim=-1)[::-1], axis=-1),
         lambda a: torch.cat(a.split(2, dim=-1)[::-1], dim=-1)),
    case("chunk(2) reordered", lambda a: cat(a.chunk(2)[::-1]), lambda a: torch.cat(a.chunk(2)[::-1])),
    case("tril",        lambda a: a.tril(),                   SAME),
    case("triu(1)",     lambda a: a.triu(1),                  SAME),
    case("add",         lambda a, b: a + b,                   SAME, BINARY),
    case("sub",         lambda a, b: a - b,                   SAME, BINARY),
    case("mul",         lambda a, b: a * b,                   SAME, BINARY),
    case("div",         lambda a, b: a / b,                   SAME, BINARY, "positive"),
    case("pow (tensor exponent)", lambda a, b: a ** b,        SAME, BINARY, "positive"),
    case("residual",    lambda a, b: residual(a, b),          lambda a, b: a + b, BINARY),
    case("where",       lambda a, b: where(MASK, a, b),
         lambda a, b: torch.where(torch.from_numpy(MASK), a, b), BINARY),
    case("maximum",     maximum,                              lambda a, b: torch.maximum(a, b), BINARY),
    case("minimum",     minimum,                              lambda a, b: torch.minimum(a, b), BINARY),
    case("outer",       outer,                                lambda a, b: torch.outer(a, b), [[(3,), (4,)]]),
    case("dot",         dot,                                  lambda a, b: torch.dot(a, b), [[(4,), (4,)]]),
    case("einsum bhqd,bhkd->bhqk", lambda q, k: einsum("bhqd,bhkd->bhqk", q, k),
         lambda q, k: torch.einsum("bhqd,bhkd->bhqk", q, k), [[(2, 2, 3, 4), (2, 2, 5, 4)]]),
    case("einsum bhqk,bhkd->bhqd", lambda w, v: einsum("bhqk,bhkd->bhqd", w, v),
         lambda w, v: torch.einsum("bhqk,bhkd->bhqd", w, v), [[(2, 2, 3, 5), (2, 2, 5, 4)]]),
    case("einsum ...ij,jk", lambda a, b: einsum("...ij,jk", a, b),
         lambda a, b: torch.einsum("...ij,jk", a, b), [[(2, 3, 4), (4, 5)]]),
    case("einsum ...ij->...j", lambda a: einsum("...ij->...j", a), lambda a: torch.einsum("...ij->...j", a)),
    case("matmul",      lambda a, b: a @ b,                   SAME, MATMUL),
    case("matmul in heads' layout", lambda x, w: _heads_product(x, w), SAME,   # (see ops._product)
         [[(2, 3, 4), (2, 2, 3, 3)]]),
    case("cat(axis=0)", lambda *t: cat(t, axis=0),            lambda *t: torch.cat(t, dim=0), THREE),
    case("cat(axis=1)", lambda *t: cat(t, axis=1),            lambda *t: torch.cat(t, dim=1),
         [[(2, 3), (2, 1), (2, 4)]]),
    case("stack(axis=0)", lambda *t: stack(t, axis=0),        lambda *t: torch.stack(t, dim=0), THREE),
    case("stack(axis=-1)", lambda *t: stack(t, axis=-1),      lambda *t: torch.stack(t, dim=-1), THREE),
    case("F.linear",    F.linear,                             lambda x, w, b: TF.linear(x, w, b),
         [[(2, 3, 4), (5, 4), (5,)]]),
    case("F.linear (no bias)", F.linear,                      lambda x, w: TF.linear(x, w),
         [[(2, 3, 4), (5, 4)]]),
    case("F.embedding", lambda w: F.embedding(TARGETS, w),    # (ids read several times add up)
         lambda w: TF.embedding(torch.from_numpy(TARGETS), w), [[(5, 3)]]),
    case("F.layer_norm", lambda x, w, b: F.layer_norm(x, (6,), w, b),
         lambda x, w, b: TF.layer_norm(x, (6,), w, b), [[(2, 3, 6), (6,), (6,)]]),
    case("F.scaled_dot_product_attention",
         lambda q, k, v: F.attention(q, k, v, mask=ATTENTION_MASK).out,
         None, [[(2, 4, 3), (2, 5, 3), (2, 5, 3)]]),        # (PyTorch: NaN for a query with no key)
    case("F.scaled_dot_product_attention float mask",
         lambda q, k, v, b: F.attention(q, k, v, mask=b).out,
         lambda q, k, v, b: TF.scaled_dot_product_attention(q, k, v, attn_mask=b),
         [[(2, 4, 3), (2, 5, 3), (2, 5, 3), (4, 5)]], ("any", "any", "any", "float mask")),
    case("F.scaled_dot_product_attention causal",
         lambda q, k, v: F.attention(q, k, v, causal=True).out,
         lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, is_causal=True),
         [[(2, 4, 3), (2, 4, 3), (2, 4, 3)]]),
    case("F.cross_entropy (smoothing, ignore)",
         lambda x: F.cross_entropy(x, TARGETS, ignore_index=3, label_smoothing=0.1), None, [[(3, 4, 5)]]),
    case("F.mse_loss",  F.mse_loss,                           lambda a, b: TF.mse_loss(a, b),
         [[(3, 4), (3, 4)]]),
    case("F.cross_entropy (probabilities)",
         lambda x, p: F.cross_entropy(x, p, label_smoothing=0.1, reduction="none"), None,
         [[(3, 4, 5), (3, 4, 5)]], ("any", "unit")),
    case("F.nll_loss",  lambda x: F.nll_loss(x, TARGETS, ignore_index=3), None, [[(3, 4, 5)]]),
    case("F.binary_cross_entropy", F.binary_cross_entropy,  lambda p, y: TF.binary_cross_entropy(p, y),
         [[(3, 4), (3, 4)]], "unit"),
    case("F.binary_cross_entropy_with_logits",
         lambda z, y: F.binary_cross_entropy_with_logits(z, y, pos_weight=np.array(2.0)),
         lambda z, y: TF.binary_cross_entropy_with_logits(z, y, pos_weight=torch.tensor(2.0)),
         [[(3, 4), (3, 4)]], ("any", "positive")),
]


def _op_cases():
    """(name, shapes, fn, inputs, gradcheck keywords) for every row and shape of OPS."""
    return [(c.name, shapes, c.fn, c.inputs(shapes), {"eps": c.eps}) for c in OPS for shapes in c.shapes]


def _layer_cases():
    """(name, shapes, fn, inputs, gradcheck keywords with the module's parameters)."""
    from .. import nn
    nn.manual_seed(0)
    B, S, D, H, FF = 2, 3, 8, 2, 16
    x, memory, ids = _t((B, S, D)), _t((B, 4, D), 1), np.array([[1, 2, 3], [4, 0, 2]])
    key_mask = np.array([[True, True, False]])[:, None, None, :]    # (1, 1, 1, S): last key hidden
    layers = [
        ("Linear", nn.Linear(D, 5), lambda m, x: m(x), [x]),
        ("Embedding", nn.Embedding(6, D), lambda m: m(ids), []),
        ("LayerNorm", nn.LayerNorm(D), lambda m, x: m(x), [x]),
        ("LayerNorm((seq, d_model))", nn.LayerNorm((S, D)), lambda m, x: m(x), [x]),
        ("Tanh", nn.Tanh(), lambda m, x: m(x), [x]),
        ("Sigmoid", nn.Sigmoid(), lambda m, x: m(x), [x]),
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
    return text_table([header] + [(r.name, r.shapes, r.mode, f"{r.max_error:.1e}", "ok" if r.ok else "FAIL")
                              for r in rows])


def residual_stacks(n_layers=12, d_model=16, seed=0):
    """{"post-LN": report, "pre-LN": report}: the residual reports of one backward through
    `n_layers` EncoderBlocks of each arrangement, same data and initialisation.

    Pre-LN keeps an identity path from the loss to the input: each residual's skip
    gradient reaches the next block down unchanged, and the sublayers only add to it.
    Post-LN puts a LayerNorm on that path after every residual, which rescales the
    gradient at each block, so at depth it can shrink (or grow) geometrically."""
    from .. import nn
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
