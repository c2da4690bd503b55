"""Every exercise: its name, notebook, kind and one line, and for a write-it-yourself one the
grader: a function returning the cases (inputs in float64, random and edge cases, each
with the engine's answer, computed here by the engine itself: its forward, or the
gradients its `.backward()` leaves).

The learner's function is never compared with the reference solutions in `solutions/`:
they are one way to write the answer, and the tests check that each grader accepts them.
"""

import copy
from collections import namedtuple

import numpy as np

import tinygrad_tf as tg
from tinygrad_tf import nn
from tinygrad_tf.nn import functional as F
from tinygrad_tf.nn.transformer import sinusoidal_positions as engine_positions

from .grading import ATOL, RTOL, Case, Mismatch, compare

Exercise = namedtuple("Exercise", "name notebook kind line signature cases hint")
Exercise.__doc__ = """One exercise. kind "write": write the function `signature`, graded by
`cases()`; kind "predict": predict, then check, in the notebook (no grader)."""

EXERCISES = {}  # name → Exercise, in notebook order


def _write(notebook, signature, line, hint=""):
    """Register the decorated function as the cases of a write-it-yourself exercise."""

    def register(cases):
        name = signature.split("(")[0]
        EXERCISES[name] = Exercise(name, notebook, "write", line, signature, cases, hint)
        return cases

    return register


def _predict(notebook, name, line):
    EXERCISES[name] = Exercise(name, notebook, "predict", line, "", None, "")


def _rng(seed):
    return np.random.default_rng(seed)


def _t(a):
    return tg.tensor(np.asarray(a, dtype=np.float64), dtype=np.float64, requires_grad=True)


def _c(a):
    """A float64 constant (a weight the exercise gives, not one it asks the gradient of)."""
    return tg.tensor(np.asarray(a, dtype=np.float64), dtype=np.float64)


def _grad(t):
    return np.zeros(t.shape) if t.grad is None else t.grad


def _vjp(f, arrays, g):
    """The engine's output of f(*arrays) and the gradient that `g` (∂L/∂output) sends back
    to each array: one backward."""
    ts = [_t(a) for a in arrays]
    out = f(*ts)
    out.backward(np.asarray(g, dtype=np.float64))
    return out.data, tuple(_grad(t) for t in ts)


def _values(f, numbers):
    """f on tg.Value leaves, one backward; the leaves' gradients."""
    leaves = [tg.Value(float(v)) for v in numbers]
    f(*leaves).backward()
    return tuple(v.grad for v in leaves)


# ------------------------------------------------------------- 01 the chain rule

NEURON = ("dx1", "dw1", "dx2", "dw2", "db")


@_write(
    "01_chain_rule",
    "neuron_backward(x1, w1, x2, w2, b)",
    "the five gradients of o = tanh(x1·w1 + x2·w2 + b), on plain floats",
    "∂o/∂n = 1 - o² for n = x1·w1 + x2·w2 + b; each product sends it on times its other factor.",
)
def _neuron():
    r = _rng(1)
    neuron = lambda x1, w1, x2, w2, b: (x1 * w1 + x2 * w2 + b).tanh()
    points = [
        ("the notebook's neuron", (2.0, -3.0, 0.0, 1.0, 6.8813735870195432)),
        ("random", tuple(r.normal(size=5))),
        ("random, larger", tuple(2 * r.normal(size=5))),
        ("all zero", (0.0,) * 5),
        ("nearly saturated, n = 3", (1.0, 1.0, 1.0, 1.0, 1.0)),
    ]
    return [Case(label, p, _values(neuron, p), NEURON) for label, p in points]


@_write(
    "01_chain_rule",
    "div_backward(a, b, g)",
    "(∂L/∂a, ∂L/∂b) for out = a / b, given g = ∂L/∂out",
    "a / b = a · b⁻¹: ∂out/∂a = 1/b and ∂out/∂b = -a/b².",
)
def _div():
    r = _rng(2)
    points = [
        ("random", tuple(r.normal(size=3))),
        ("negative b", (1.5, -0.5, 2.0)),
        ("small b = 0.01", (0.3, 0.01, 1.0)),
        ("a = 0", (0.0, 2.0, -1.0)),
        ("g = 0", (1.0, 3.0, 0.0)),
    ]
    return [Case(label, p, _values(lambda a, b, g: a / b * g, p)[:2], ("da", "db")) for label, p in points]


@_write(
    "01_chain_rule",
    "shared_use_backward(a, b)",
    "(∂L/∂a, ∂L/∂b) for u = a·b, L = u·u + u: u is used twice",
    "∂L/∂u sums what both uses of u send back: 2u + 1.",
)
def _shared():
    r = _rng(3)
    points = [
        ("the notebook's a = 3, b = -2", (3.0, -2.0)),
        ("random", tuple(r.normal(size=2))),
        ("a = 0", (0.0, 1.5)),
        ("u = -1/2 (∂L/∂u = 0)", (0.25, -2.0)),
    ]
    return [
        Case(label, p, _values(lambda a, b: (a * b) * (a * b) + a * b, p), ("da", "db"))
        for label, p in points
    ]


_predict("01_chain_rule", "reuse_gradient", "c = a·a·a and d = a + a + a: predict ∂c/∂a and ∂d/∂a at a = 2")


# --------------------------------------------------------- 02 scalars to tensors


@_write(
    "02_scalars_to_tensors",
    "matmul_backward(A, B, G)",
    "(∂L/∂A, ∂L/∂B) for C = A @ B, given G = ∂L/∂C: two matmuls",
    "each gradient has its own input's shape: ∂L/∂A = G Bᵀ, ∂L/∂B = Aᵀ G.",
)
def _matmul():
    r = _rng(4)
    shapes = [
        ("random (3, 4) @ (4, 2)", (3, 4, 2)),
        ("a row times a column, (1, 3) @ (3, 1)", (1, 3, 1)),
        ("square (4, 4) @ (4, 4)", (4, 4, 4)),
        ("wide (2, 5) @ (5, 3)", (2, 5, 3)),
    ]
    cases = []
    for label, (n, k, m) in shapes:
        A, B, G = r.normal(size=(n, k)), r.normal(size=(k, m)), r.normal(size=(n, m))
        cases.append(Case(label, (A, B, G), _vjp(lambda A, B: A @ B, (A, B), G)[1], ("dA", "dB")))
    return cases


@_write(
    "02_scalars_to_tensors",
    "unbroadcast(grad, shape)",
    "sum a gradient back to the shape of an input that was broadcast",
    "sum over the leading axes the input did not have, then (keepdims) over its axes of size 1.",
)
def _unbroadcast():
    r = _rng(5)
    pairs = [
        ("bias (2,) over a batch (4, 2)", (4, 2), (2,)),
        ("column (3, 1) in (3, 5)", (3, 5), (3, 1)),
        ("row (1, 5) in (3, 5)", (3, 5), (1, 5)),
        ("(3, 1) in (2, 3, 4)", (2, 3, 4), (3, 1)),
        ("a scalar () in (2, 3)", (2, 3), ()),
        ("no broadcast at all", (3, 4), (3, 4)),
        ("(1, 1, 4) in (2, 3, 4)", (2, 3, 4), (1, 1, 4)),
    ]
    cases = []
    for label, big, shape in pairs:
        grad, t = r.normal(size=big), _t(np.zeros(shape))
        (t + np.zeros(big)).backward(grad)
        cases.append(Case(label, (grad, shape), t.grad))
    return cases


@_write(
    "02_scalars_to_tensors",
    "linear_backward(x, W, b, g)",
    "(∂L/∂x, ∂L/∂W, ∂L/∂b) for y = x Wᵀ + b, x of shape (..., in)",
    "W is (out, in) as in PyTorch; for a batch (B, T, in), ∂L/∂W and ∂L/∂b sum over every position.",
)
def _linear():
    r = _rng(6)
    shapes = [
        ("random (4, 3) → 2", (4, 3), 2),
        ("a batch (2, 3, 4) → 5", (2, 3, 4), 5),
        ("one row (1, 3) → 3", (1, 3), 3),
    ]
    cases = []
    for label, xs, out in shapes:
        x, W, b = r.normal(size=xs), r.normal(size=(out, xs[-1])), r.normal(size=out)
        g = r.normal(size=xs[:-1] + (out,))
        cases.append(Case(label, (x, W, b, g), _vjp(F.linear, (x, W, b), g)[1], ("dx", "dW", "db")))
    return cases


_predict(
    "02_scalars_to_tensors",
    "bias_gradient",
    "b (2,) is broadcast over a batch of 4: predict b.grad for L = (X W + b).sum()",
)


# ------------------------------------------------------------ 03 self-attention


@_write(
    "03_self_attention",
    "softmax_backward(y, g)",
    "∂L/∂x for y = softmax(x) over the last axis, given y and g = ∂L/∂y",
    "dx = y ⊙ (g - Σ_j g_j y_j), the sum over the last axis of each row.",
)
def _softmax():
    r = _rng(7)
    logits = [
        ("random (3, 5)", r.normal(size=(3, 5))),
        ("a batch (2, 3, 4)", r.normal(size=(2, 3, 4))),
        ("large logits ±30", 30 * r.normal(size=(2, 4))),
        ("equal logits", np.ones((2, 4))),
        ("one class per row (3, 1)", r.normal(size=(3, 1))),
    ]
    cases = []
    for label, x in logits:
        g = r.normal(size=x.shape)
        y, (dx,) = _vjp(lambda x: x.softmax(-1), (x,), g)
        cases.append(Case(label, (y, g), dx))
    return cases


def _attention_cases(seed):
    r = _rng(seed)
    shapes = [
        ("random, 4 tokens, d = 3", (4,), (4,), 3, 3),
        ("2 queries, 5 keys, d_v = 2", (2,), (5,), 3, 2),
        ("a batch (2, 3, 4)", (2, 3), (2, 3), 4, 4),
        ("a single key", (3,), (1,), 2, 2),
    ]
    out = []
    for label, qs, ks, d, dv in shapes:
        q, k, v = r.normal(size=qs + (d,)), r.normal(size=ks + (d,)), r.normal(size=ks + (dv,))
        out.append((label, q, k, v, r.normal(size=qs + (dv,))))
    return out


@_write(
    "03_self_attention",
    "attention_backward(q, k, v, g)",
    "(∂L/∂q, ∂L/∂k, ∂L/∂v) for out = softmax(q kᵀ/√d) v, given g = ∂L/∂out",
    "forward again (scores, weights), then back: dv = wᵀg, dw = g vᵀ, softmax's backward, "
    "then dq = ds k/√d and dk = dsᵀ q/√d.",
)
def _attention():
    cases = []
    for label, q, k, v, g in _attention_cases(8):
        grads = _vjp(lambda q, k, v: F.attention(q, k, v).out, (q, k, v), g)[1]
        cases.append(Case(label, (q, k, v, g), grads, ("dq", "dk", "dv")))
    return cases


_predict(
    "03_self_attention",
    "softmax_gradient_sum",
    "predict the sum over each row of softmax's input gradient, for any g",
)


# ----------------------------------------------------------- 04 cross-attention


@_write(
    "04_cross_attention",
    "memory_backward(dk, dv, Wk, Wv)",
    "∂L/∂memory when k = memory Wkᵀ and v = memory Wvᵀ, given dk and dv",
    "memory is used twice, by the key and the value projections: add what both send back.",
)
def _memory():
    r = _rng(9)
    shapes = [
        ("random: 5 source tokens, d = 4", (5,), 4, 4, 4),
        ("a batch (2, 5, 4)", (2, 5), 4, 4, 4),
        ("d_k = 3, d_v = 2", (5,), 4, 3, 2),
        ("dv = 0", (3,), 4, 4, 4),
    ]
    cases = []
    for label, lead, d, dk_, dv_ in shapes:
        m, Wk, Wv = _t(r.normal(size=lead + (d,))), r.normal(size=(dk_, d)), r.normal(size=(dv_, d))
        dk, dv = r.normal(size=lead + (dk_,)), r.normal(size=lead + (dv_,))
        if label == "dv = 0":
            dv = np.zeros_like(dv)
        ((F.linear(m, _c(Wk)) * dk).sum() + (F.linear(m, _c(Wv)) * dv).sum()).backward()
        cases.append(Case(label, (dk, dv, Wk, Wv), m.grad))
    return cases


@_write(
    "04_cross_attention",
    "cross_attention(x, memory, Wq, Wk, Wv)",
    "one head of cross-attention, forward: queries from x, keys and values from memory",
    "q = x Wqᵀ, k = memory Wkᵀ, v = memory Wvᵀ; out = softmax(q kᵀ/√d_k) v with d_k = Wq.shape[0].",
)
def _cross():
    r = _rng(10)
    shapes = [
        ("3 target tokens, 5 source tokens", (3,), (5,), 4, 4, 4),
        ("one target token", (1,), (5,), 4, 4, 4),
        ("a batch: (2, 3) over (2, 6)", (2, 3), (2, 6), 4, 4, 4),
        ("d_k = 2, d_v = 3", (3,), (4,), 4, 2, 3),
    ]
    cases = []
    for label, xs, ms, d, dk, dv in shapes:
        x, m = r.normal(size=xs + (d,)), r.normal(size=ms + (d,))
        Wq, Wk, Wv = r.normal(size=(dk, d)), r.normal(size=(dk, d)), r.normal(size=(dv, d))
        out = F.attention(
            F.linear(_c(x), _c(Wq)), F.linear(_c(m), _c(Wk)), F.linear(_c(m), _c(Wv))
        ).out
        cases.append(Case(label, (x, m, Wq, Wk, Wv), out.data))
    return cases


_predict(
    "04_cross_attention",
    "padded_memory_gradient",
    "a memory_mask hides the padded source token: predict which rows of ∂L/∂memory are exactly zero",
)


# ---------------------------------------------------------- 05 blocks and masks


@_write(
    "05_blocks_and_masks",
    "causal_mask(q_len, k_len)",
    "the causal mask (q_len, k_len): True where key j ≤ query i",
    "query i may attend to keys 0..i (np.tri, or compare np.arange columns with rows).",
)
def _causal():
    sizes = [
        ("4 × 4", (4, 4)),
        ("one token", (1, 1)),
        ("3 queries, 5 keys", (3, 5)),
        ("5 queries, 3 keys", (5, 3)),
    ]
    return [Case(label, size, F.causal_mask(*size)) for label, size in sizes]


@_write(
    "05_blocks_and_masks",
    "padding_mask(tokens, pad_id)",
    "the padding mask (batch, 1, 1, seq) from token ids: True where not padding",
    "compare with pad_id, then add the two axes for heads and queries so it broadcasts.",
)
def _padding():
    batches = [
        ("two sentences padded with 0", [[5, 3, 0, 0], [7, 0, 0, 0]], 0),
        ("pad_id = 1", [[4, 1, 1], [1, 1, 1]], 1),
        ("no padding at all", [[2, 3, 4, 5, 6]], 0),
        ("a row of padding only", [[0, 0], [9, 0]], 0),
    ]
    return [Case(label, (np.array(t), pad), F.padding_mask(np.array(t), pad)) for label, t, pad in batches]


@_write(
    "05_blocks_and_masks",
    "masked_attention_backward(q, k, v, mask, g)",
    "(∂L/∂q, ∂L/∂k, ∂L/∂v) for masked attention (True = may attend); a row with no key gets zeros",
    "a forbidden place has weight exactly 0, so it sends no gradient back; a row with no allowed key "
    "has all-zero weights (and output), never NaN.",
)
def _masked():
    r = _rng(11)
    d = 3
    q4, k4, v4 = (r.normal(size=(4, d)) for _ in range(3))
    q3, k5, v5 = r.normal(size=(3, d)), r.normal(size=(5, d)), r.normal(size=(5, 2))
    hole = np.ones((4, 4), dtype=bool)
    hole[2] = False
    qb, kb, vb = (r.normal(size=(2, 3, d)) for _ in range(3))
    setups = [
        ("causal, 4 tokens", q4, k4, v4, F.causal_mask(4)),
        ("padding: the last 2 of 5 keys hidden", q3, k5, v5, np.array([[True, True, True, False, False]])),
        ("query 2 may attend to nothing", q4, k4, v4, hole),
        ("a batch (2, 3, 3), causal", qb, kb, vb, F.causal_mask(3)),
        ("everything allowed", q4, k4, v4, np.ones((4, 4), dtype=bool)),
    ]
    cases = []
    for label, q, k, v, mask in setups:
        g = r.normal(size=q.shape[:-1] + v.shape[-1:])
        attend = lambda q, k, v, mask=mask: F.attention(q, k, v, mask).out
        grads = _vjp(attend, (q, k, v), g)[1]
        cases.append(Case(label, (q, k, v, mask, g), grads, ("dq", "dk", "dv")))
    return cases


def _module_case(label, module, args, reference, g):
    """A case for a Tensor function of (x, module): `reference(x, module)` is the engine's
    answer; the learner's output and then its gradients (of x and every parameter, after
    one backward with `g`) are compared with the reference's."""
    ref_module = copy.deepcopy(module)
    x = _t(args)
    out = reference(x, ref_module)
    out.backward(g)
    grads = {"x": _grad(x), **{name: _grad(p) for name, p in ref_module.named_parameters()}}

    def check(answer, given):
        x, module = given
        if not isinstance(answer, tg.Tensor):
            raise Mismatch(
                f"the function should return a Tensor built with the block's modules (so the "
                f"engine can backpropagate through it), not {type(answer).__name__}"
            )
        compare(answer.data, out.data, "the output")
        if not answer.requires_grad:
            raise Mismatch(
                "the output is right but does not require grad: the graph was cut "
                "(.data, .numpy() or no_grad inside the function?)"
            )
        answer.backward(g)
        mine = {"x": _grad(x), **{name: _grad(p) for name, p in module.named_parameters()}}
        for name, expected in grads.items():
            compare(mine[name], expected, f"the gradient of {name}")

    return Case(label, (_t(args), module), check=check)


@_write(
    "05_blocks_and_masks",
    "prenorm_block(x, block)",
    "the pre-LN arrangement of an encoder block, as a Tensor function of its submodules",
    "x = x + self_attn(norm1(x)), then x = x + ffn(norm2(x)): the norm goes inside the branch.",
)
def _prenorm():
    r = _rng(12)
    cases = []
    for label, (b, t, d, h, dff, act) in [
        ("one sentence of 3 tokens, relu", (1, 3, 4, 2, 8, "relu")),
        ("a batch (2, 4, 6), 3 heads, gelu", (2, 4, 6, 3, 5, "gelu")),
    ]:
        nn.manual_seed(len(cases))
        block = nn.EncoderBlock(d, h, dff, activation=act).astype(np.float64)  # built post-LN
        for p in (block.norm1.weight, block.norm2.weight, block.norm1.bias, block.norm2.bias):
            p.data += 0.3 * r.normal(size=p.shape)  # so a swapped norm1/norm2 shows
        cases.append(
            _module_case(label, block, r.normal(size=(b, t, d)), _prenorm_reference, r.normal(size=(b, t, d)))
        )
    return cases


def _prenorm_reference(x, block):
    """The engine's own pre-LN block (on a copy of the learner's block)."""
    block.norm_first = True
    return block(x)


# ------------------------------------------------------- 06 residual connections


@_write(
    "06_residual_connections",
    "residual_stack_backward(h0, weights, biases, g)",
    "∂L/∂h0 through h_{l+1} = h_l + tanh(h_l W_lᵀ + b_l), given g = ∂L/∂h_L",
    "walk the layers backwards: each one passes g on unchanged (the skip) plus its branch's part.",
)
def _residual():
    r = _rng(13)
    cases = []
    for label, (n, d, depth, scale) in [
        ("one layer", (2, 3, 1, 1.0)),
        ("three layers", (4, 5, 3, 0.5)),
        ("12 layers whose branches are all zero", (2, 4, 12, 0.0)),
        ("6 layers with large weights (tanh saturates)", (3, 4, 6, 3.0)),
    ]:
        h0, g = r.normal(size=(n, d)), r.normal(size=(n, d))
        Ws = [scale * r.normal(size=(d, d)) for _ in range(depth)]
        bs = [scale * r.normal(size=d) for _ in range(depth)]
        h = x = _t(h0)
        for W, b in zip(Ws, bs):
            h = tg.residual(h, F.linear(h, _c(W), _c(b)).tanh())
        h.backward(g)
        cases.append(Case(label, (h0, Ws, bs, g), x.grad))
    return cases


_predict(
    "06_residual_connections",
    "zero_branches",
    "12 residual layers whose branches output 0: predict the gradient at the stack's input",
)


# ------------------------------------------------- 07 LayerNorm versus BatchNorm

NOTES_EXAMPLE = np.array([[0.1, 0.2, 150.0, 0.05]])


def _norm_inputs(seed):
    r = _rng(seed)
    constant = r.normal(size=(2, 4))
    constant[1] = 0.7
    return [
        ("random (3, 4)", r.normal(size=(3, 4)), 1e-5),
        ("the notes' [0.1, 0.2, 150, 0.05]", NOTES_EXAMPLE, 1e-5),
        ("a constant row (variance 0)", constant, 1e-5),
        ("a batch (2, 3, 5)", r.normal(size=(2, 3, 5)), 1e-5),
        ("a large eps = 0.5", 0.5 * r.normal(size=(3, 4)), 0.5),
    ], r


@_write(
    "07_layernorm_vs_batchnorm",
    "layernorm_forward(x, w, b, eps)",
    "LayerNorm over the last axis: (x - mean)/√(var + eps)·w + b, var biased",
    "the variance divides by n (not n - 1), and eps goes inside the square root.",
)
def _ln_forward():
    inputs, r = _norm_inputs(14)
    cases = []
    for label, x, eps in inputs:
        w, b = 1 + 0.5 * r.normal(size=x.shape[-1]), r.normal(size=x.shape[-1])
        cases.append(Case(label, (x, w, b, eps), F.layer_norm(_t(x), x.shape[-1], w, b, eps).data))
    return cases


@_write(
    "07_layernorm_vs_batchnorm",
    "layernorm_backward(x, w, g, eps)",
    "(∂L/∂x, ∂L/∂w, ∂L/∂b) of LayerNorm over the last axis, given g = ∂L/∂y",
    "with x̂ = (x - mean)/σ and ĝ = g·w: dx = (ĝ - mean(ĝ) - x̂·mean(ĝ·x̂))/σ; "
    "dw and db sum g·x̂ and g over every position.",
)
def _ln_backward():
    inputs, r = _norm_inputs(15)
    cases = []
    for label, x, eps in inputs:
        w, b, g = 1 + 0.5 * r.normal(size=x.shape[-1]), r.normal(size=x.shape[-1]), r.normal(size=x.shape)
        grads = _vjp(lambda x, w, b, eps=eps: F.layer_norm(x, x.shape[-1], w, b, eps), (x, w, b), g)[1]
        cases.append(Case(label, (x, w, g, eps), grads, ("dx", "dw", "db")))
    return cases


@_write(
    "07_layernorm_vs_batchnorm",
    "batchnorm_forward(x, w, b, eps)",
    "BatchNorm1d in training mode on (N, C): each channel normalised over the batch",
    "the statistics are over axis 0 (the batch), one mean and variance per channel.",
)
def _bn_forward():
    r = _rng(16)
    constant = r.normal(size=(6, 3))
    constant[:, 1] = -2.0
    cases = []
    for label, x, eps in [
        ("random (8, 3)", r.normal(size=(8, 3)), 1e-5),
        ("a batch of 2", r.normal(size=(2, 4)), 1e-5),
        ("a constant channel", constant, 1e-5),
        ("a large eps = 0.5", r.normal(size=(5, 3)), 0.5),
    ]:
        bn = nn.BatchNorm1d(x.shape[1], eps=eps).astype(np.float64)
        bn.weight.data[:] = 1 + 0.5 * r.normal(size=x.shape[1])
        bn.bias.data[:] = r.normal(size=x.shape[1])
        cases.append(Case(label, (x, bn.weight.data.copy(), bn.bias.data.copy(), eps), bn(_t(x)).data))
    return cases


_predict(
    "07_layernorm_vs_batchnorm",
    "layernorm_shift",
    "add 100 to every feature of a token: predict how its LayerNorm output changes",
)


# ----------------------------------------------------------- 08 feed-forward


def _activation_cases(seed, method):
    r = _rng(seed)
    cases = []
    for label, x in [
        ("random (3, 4)", r.normal(size=(3, 4))),
        ("large inputs ±40", np.array([-40.0, -8.0, 8.0, 40.0])),
        ("zeros", np.zeros(3)),
        ("a batch (2, 3, 2)", 3 * r.normal(size=(2, 3, 2))),
    ]:
        g = r.normal(size=x.shape)
        cases.append(Case(label, (x, g), _vjp(lambda x: getattr(x, method)(), (x,), g)[1][0]))
    return cases


@_write(
    "08_feed_forward",
    "silu_backward(x, g)",
    "∂L/∂x for y = x·σ(x) (SiLU, Swish), given g = ∂L/∂y",
    "the product rule: d/dx x·σ(x) = σ(x) + x·σ(x)(1 - σ(x)).",
)
def _silu():
    return _activation_cases(17, "silu")


@_write(
    "08_feed_forward",
    "gelu_backward(x, g)",
    "∂L/∂x for the exact GELU, y = x·Φ(x), given g = ∂L/∂y",
    "d/dx x·Φ(x) = Φ(x) + x·φ(x), φ the standard normal density; scipy.special.ndtr is Φ.",
)
def _gelu():
    return _activation_cases(18, "gelu")


@_write(
    "08_feed_forward",
    "ffn_backward(x, W1, b1, W2, b2, g)",
    "all five gradients of a ReLU FFN, y = relu(x W1ᵀ + b1) W2ᵀ + b2",
    "forward first and keep the hidden pre-activation; ReLU passes the gradient only where it was > 0.",
)
def _ffn():
    r = _rng(19)
    cases = []
    for label, xs, dff, dead in [
        ("random (4, 3), d_ff = 6", (4, 3), 6, False),
        ("a batch (2, 3, 4), d_ff = 5", (2, 3, 4), 5, False),
        ("half the units dead (b1 = -100)", (4, 3), 6, True),
        ("one token", (1, 3), 4, False),
    ]:
        d = xs[-1]
        x, W1, b1 = r.normal(size=xs), r.normal(size=(dff, d)), r.normal(size=dff)
        W2, b2, g = r.normal(size=(d, dff)), r.normal(size=d), r.normal(size=xs)
        if dead:
            b1[::2] = -100.0
        grads = _vjp(
            lambda x, W1, b1, W2, b2: F.linear(F.linear(x, W1, b1).relu(), W2, b2), (x, W1, b1, W2, b2), g
        )[1]
        cases.append(Case(label, (x, W1, b1, W2, b2, g), grads, ("dx", "dW1", "db1", "dW2", "db2")))
    return cases


_predict(
    "08_feed_forward",
    "dead_unit",
    "a ReLU unit negative for every token: predict the gradient of its up weights",
)


# ----------------------------------------------------- 09 backprop end to end


@_write(
    "09_backprop_end_to_end",
    "cross_entropy_backward(logits, targets, ignore_index=None)",
    "∂L/∂logits for the mean cross-entropy over the positions not ignored",
    "softmax(logits) minus the one-hot target, divided by the number of positions counted; "
    "an ignored position gets zeros.",
)
def _cross_entropy():
    r = _rng(20)
    cases = []
    for label, shape, ignore, scale in [
        ("random (4, 5)", (4, 5), None, 1.0),
        ("a batch (2, 3, 6)", (2, 3, 6), None, 1.0),
        ("ignore_index = 0 (padding)", (2, 4, 5), 0, 1.0),
        ("confident logits ±20", (3, 4), None, 20.0),
    ]:
        logits = scale * r.normal(size=shape)
        targets = r.integers(0, shape[-1], size=shape[:-1])
        if ignore is not None:
            targets[:, -1], targets[0, 0] = ignore, 1 + ignore
        x = _t(logits)
        F.cross_entropy(x, targets, ignore_index=ignore).backward()
        cases.append(Case(label, (logits, targets, ignore), x.grad))
    return cases


@_write(
    "09_backprop_end_to_end",
    "sinusoidal_positions(max_len, d_model)",
    "the 2017 paper's position codes (max_len, d_model): sin on even columns, cos on odd",
    "P[pos, 2i] = sin(pos / 10000^(2i/d_model)), P[pos, 2i+1] = cos(the same angle).",
)
def _positions():
    sizes = [
        ("6 positions, d_model = 8", (6, 8)),
        ("an odd d_model = 7", (5, 7)),
        ("one position", (1, 2)),
        ("50 positions, d_model = 16", (50, 16)),
    ]
    # the engine's table is float32: compare to its precision
    return [
        Case(label, size, engine_positions(*size).astype(np.float64), atol=1e-6, rtol=0.0)
        for label, size in sizes
    ]


@_write(
    "09_backprop_end_to_end",
    "encoder_block_backward(x, params, g, n_heads)",
    "backprop ninja: every gradient of a post-LN encoder block, by hand, checked per parameter",
    "build it from your earlier answers (linear, attention per head, layernorm, ffn); "
    "remember that x feeds q, k, v and the skip, and the FFN's input feeds its skip too.",
)
def _ninja():
    r = _rng(21)
    cases = []
    for label, (b, t, d, h, dff) in [
        ("one sentence: 3 tokens, d = 4, 2 heads", (1, 3, 4, 2, 8)),
        ("a batch (2, 4, 6), 3 heads, d_ff = 5", (2, 4, 6, 3, 5)),
        ("one head", (2, 2, 4, 1, 4)),
    ]:
        nn.manual_seed(len(cases) + 1)
        block = nn.EncoderBlock(d, h, dff).astype(np.float64)
        for _, p in block.named_parameters():
            p.data += 0.2 * r.normal(size=p.shape)  # every bias and norm parameter matters
        x, g = _t(r.normal(size=(b, t, d))), r.normal(size=(b, t, d))
        block(x).backward(g)
        expected = {"x": x.grad, **{name: p.grad for name, p in block.named_parameters()}}
        params = {name: p.data.copy() for name, p in block.named_parameters()}
        cases.append(Case(label, (x.data.copy(), params, g, h), expected))
    return cases


_predict(
    "09_backprop_end_to_end",
    "sgd_first_order",
    "one SGD step with learning rate lr: predict how much the loss falls, to first order",
)


# ---------------------------------------------------- 10 graduating to PyTorch

OUR_ATTENTION = tuple(f"{p}.{w}" for p in ("q_proj", "k_proj", "v_proj", "out_proj")
                      for w in ("weight", "bias"))


def _torch_attention(seed, d_model, n_heads):
    """A float64 torch.nn.MultiheadAttention with every weight and bias drawn at random (its
    own initialisation leaves the biases 0, where an answer that mixes them up looks right)."""
    import torch

    r = _rng(seed)
    mha = torch.nn.MultiheadAttention(d_model, n_heads, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        for p in mha.parameters():
            p.copy_(torch.from_numpy(r.normal(size=tuple(p.shape))))
    return mha


@_write(
    "10_graduating_to_pytorch",
    "attention_from_torch(state)",
    "PyTorch's nn.MultiheadAttention state_dict → ours: split the packed in_proj into q_proj, k_proj, v_proj",
    "in_proj_weight is [W_q; W_k; W_v] stacked on the output axis (rows 0:E, E:2E, 2E:3E), each (E, E) "
    "as a Linear keeps it; in_proj_bias is split the same way; out_proj.* keep their names.",
)
def _attention_from_torch():
    try:
        from tinygrad_tf import interop  # PyTorch is optional; this exercise is about it
    except ImportError as e:
        raise ImportError(f"the exercise attention_from_torch needs PyTorch: {e}") from None
    setups = [
        ("random: d_model 6 and 2 heads", _torch_attention(34, 6, 2)),
        ("d_model 1 and one head: each projection a single number", _torch_attention(35, 1, 1)),
        ("d_model 3: in_proj_weight (9, 3), whose columns are not the split", _torch_attention(36, 3, 1)),
    ]
    nn.manual_seed(37)
    ours = nn.MultiHeadAttention(8, 4).astype(np.float64)      # the way notebook 10 goes, there and back
    setups.append(("our MultiHeadAttention(8, 4) after interop.to_torch", interop.to_torch(ours)))
    cases = []
    for label, mha in setups:
        state = {k: v.detach().numpy().copy() for k, v in mha.state_dict().items()}
        expected = {k: np.array(v, dtype=np.float64) for k, v in interop.from_torch(mha).state_dict().items()}
        assert tuple(expected) == OUR_ATTENTION, tuple(expected)
        cases.append(Case(label, (state,), expected))
    return cases


@_write(
    "10_graduating_to_pytorch",
    "cross_entropy_classes_axis1(scores, targets, ignore_index=-100)",
    "PyTorch's F.cross_entropy layout: scores (N, C) or (N, C, d1, ...) with the classes on axis 1",
    "the classes are on axis 1: move that axis last (np.moveaxis(scores, 1, -1)), then log-softmax "
    "(max subtracted), pick each target's entry, and average over the targets that are not ignore_index.",
)
def _cross_entropy_axis1():
    r = _rng(38)
    setups = [
        ("(N, C) = (5, 4): no extra axes", (5, 4), None),
        ("(N, C, d) = (3, 4, 4): C equals d, so the classes-last reading raises no error", (3, 4, 4), None),
        ("(N, C, d) = (2, 5, 3)", (2, 5, 3), None),
        ("(N, C, d1, d2) = (2, 3, 2, 4)", (2, 3, 2, 4), None),
        ("ignore_index = 0 (padding) on some targets", (2, 6, 5), 0),
        ("the default ignore_index = -100 on two targets", (3, 4, 2), -100),
        ("large scores ±1000 (exp overflows unless the max is subtracted)", (2, 4, 3), None),
    ]
    cases = []
    for label, shape, ignore in setups:
        scores = (1000.0 if "large" in label else 1.5) * r.normal(size=shape)
        targets = r.integers(0, shape[1], size=(shape[0], *shape[2:]))
        if ignore == 0:
            targets.flat[[0, 3, 7]] = 0
        elif ignore == -100:
            targets.flat[[1, 4]] = -100
        args = (scores, targets, ignore) if ignore == 0 else (scores, targets)   # else the default -100
        loss = F.cross_entropy(_c(np.moveaxis(scores, 1, -1)), targets,
                               ignore_index=-100 if ignore is None else ignore)
        cases.append(Case(label, args, loss.data))
    return cases


_predict(
    "10_graduating_to_pytorch",
    "unflipped_mask",
    "our causal mask (True = may attend) given to torch's nn.MultiheadAttention unchanged: predict what "
    "each query sees",
)


# ----------------------------------------------------- 11 why did it say 動物?


def _engine_grad(f, shape):
    """∂f/∂x at one point of `shape`, by the engine (one forward, one backward), as a
    NumPy function: the `f_grad` an integrated-gradients answer is given."""

    def f_grad(point):
        point = np.asarray(point, dtype=np.float64)
        if point.shape != shape:
            raise ValueError(f"f_grad takes one point of x's shape {shape}, got shape {point.shape}")
        t = _t(point)
        f(t).backward()
        return _grad(t)

    return f_grad


def _attention_score(w):
    """A small score of a (tokens, d) input: one self-attention head, read out by w. Any
    leading axes are a batch (one score per row), so `tg.attribute` can take its batch path."""
    return lambda x: (F.attention(x, x, x).out * _c(w)).sum(axis=(-2, -1))


@_write(
    "11_why_did_it_say",
    "gradient_times_input(x, g)",
    "per-token attribution: Σ over features of x·∂score/∂x, for embeddings x (..., T, d)",
    "multiply element by element, then sum over the last axis (the features), one score per token.",
)
def _gxi():
    r = _rng(22)
    w5, wb = r.normal(size=(5, 4)), r.normal(size=(3, 4))
    keep = np.array([[1.0], [1.0], [0.0], [1.0]])
    setups = [
        ("random: 5 tokens, d = 4, one attention head", r.normal(size=(5, 4)), _attention_score(w5)),
        ("a batch (2, 3, 4)", r.normal(size=(2, 3, 4)), lambda x: _attention_score(wb)(x).sum()),
        ("the notebook's tanh(3x), 4 tokens of d = 1", np.array([[0.5], [-1.0], [2.0], [3.0]]),
         lambda x: (3 * x).tanh().sum()),
        ("token 2 is ignored (its gradient is 0)", r.normal(size=(4, 3)),
         lambda x: ((x * _c(keep)) ** 2).sum()),
        ("one token", r.normal(size=(1, 3)), lambda x: x.exp().sum()),
    ]
    cases = []
    for label, x, f in setups:
        g = _engine_grad(f, x.shape)(x)
        scores = tg.attribute(f, x, method="gradient_x_input").scores.sum(axis=-1)
        cases.append(Case(label, (x, g), scores))
    return cases


def _integrated_check(expected, gap, steps):
    """Completeness first (the scores should add up to f(x) − f(baseline), to the
    midpoint rule's error), then element by element against the engine's scores."""

    def check(answer, args):
        try:
            total = float(np.sum(np.asarray(answer, dtype=np.float64)))
        except (TypeError, ValueError):
            total = None
        slack = abs(float(expected.sum()) - gap) + ATOL + RTOL * abs(gap)   # the engine's own step error
        if total is not None and np.shape(answer) == expected.shape and abs(total - gap) > 10 * slack:
            raise Mismatch(
                f"the scores add up to {total:.6g}, but f(x) − f(baseline) = {gap:.6g} (completeness: "
                f"the engine's {steps}-step midpoint rule adds up to {float(expected.sum()):.6g})"
            )
        compare(answer, expected)

    return check


@_write(
    "11_why_did_it_say",
    "integrated_gradients(f_grad, x, baseline, steps)",
    "integrated gradients by the midpoint rule, from a function that gives ∂f/∂x at a point",
    "scores = (x − baseline) · mean over k of f_grad(baseline + α_k (x − baseline)), "
    "α_k = (k + ½)/steps for k = 0 … steps − 1.",
)
def _integrated():
    r = _rng(23)
    w = r.normal(size=(3, 4))
    square = lambda x: (x * x).sum(axis=-1)
    saturating = lambda x: (3 * x).tanh().sum(axis=-1)
    softish = lambda x: (x.exp() / (1 + x.exp())).sum(axis=-1) + (x * x * x).sum(axis=-1) / 10
    notebook_x = np.array([0.5, -1.0, 2.0, 3.0])
    setups = [
        ("f = Σ x², zero baseline, 8 steps (exact)", square, notebook_x, np.zeros(4), 8),
        ("f = Σ tanh(3x), zero baseline, 64 steps", saturating, notebook_x, np.zeros(4), 64),
        ("a nonzero baseline, 16 steps", softish, r.normal(size=5), r.normal(size=5), 16),
        ("one step: the midpoint α = ½ alone", softish, r.normal(size=3), np.zeros(3), 1),
        ("(3, 4) tokens through an attention head, 32 steps", _attention_score(w), r.normal(size=(3, 4)),
         np.zeros((3, 4)), 32),
    ]
    cases = []
    for label, f, x, baseline, steps in setups:
        a = tg.attribute(f, x, baseline=baseline, steps=steps)
        cases.append(Case(label, (_engine_grad(f, x.shape), x, baseline, steps),
                          check=_integrated_check(np.asarray(a.scores, np.float64),
                                                  a.value - a.baseline_value, steps)))
    return cases


_predict(
    "11_why_did_it_say",
    "dog_attribution",
    "the translator writes 犬 for \"The dog sat on the mat.\": predict the top word by gradient × input "
    "and by integrated gradients",
)


# ------------------------------------------------------- 12 watching training


def _adamw_run(seed, shape, steps, lr, betas, eps, weight_decay, zero_grad=False):
    """The engine's AdamW on one float64 parameter for `steps` steps of random gradients;
    the inputs and outputs of its last step: (p, g, m, v) before it and (p, m, v) after."""
    r = _rng(seed)
    p = _t(r.normal(size=shape))
    opt = tg.optim.AdamW([p], lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
    for _ in range(steps):
        before = p.data.copy()
        state = opt.state[0]
        m = state["exp_avg"].copy() if "exp_avg" in state else np.zeros(shape)
        v = state["exp_avg_sq"].copy() if "exp_avg_sq" in state else np.zeros(shape)
        p.grad = np.zeros(shape) if zero_grad else r.normal(size=shape) * r.choice([0.01, 1.0, 30.0])
        g = p.grad.copy()
        opt.step()
    state = opt.state[0]
    assert state["step"] == steps
    return (before, g, m, v), (p.data.copy(), state["exp_avg"].copy(), state["exp_avg_sq"].copy())


@_write(
    "12_watching_training",
    "adamw_step(p, g, m, v, t, lr, betas, eps, weight_decay)",
    "one AdamW step as PyTorch computes it: decoupled decay, both moments, bias correction",
    "p ← p·(1 − lr·wd) first; m ← β1 m + (1−β1) g, v ← β2 v + (1−β2) g²; "
    "p ← p − lr · (m/(1−β1^t)) / (√(v/(1−β2^t)) + eps), with t the step's number counted from 1.",
)
def _adamw():
    cases = []
    for label, (seed, shape, t, lr, betas, eps, wd, zero) in [
        ("step 1 from zero moments", (24, (4,), 1, 1e-2, (0.9, 0.999), 1e-8, 0.01, False)),
        ("step 2 of a run", (25, (3, 2), 2, 1e-2, (0.9, 0.999), 1e-8, 0.01, False)),
        ("step 12 of a run, betas (0.8, 0.99)", (26, (5,), 12, 3e-3, (0.8, 0.99), 1e-8, 0.01, False)),
        ("no weight decay, eps = 1e-3", (27, (2, 3), 4, 1e-2, (0.9, 0.999), 1e-3, 0.0, False)),
        ("large weight decay 0.5", (28, (4,), 3, 0.1, (0.9, 0.999), 1e-8, 0.5, False)),
        ("a gradient that has always been 0 (only the decay moves p)",
         (29, (3,), 5, 1e-2, (0.9, 0.999), 1e-8, 0.1, True)),
    ]:
        (p, g, m, v), after = _adamw_run(seed, shape, t, lr, betas, eps, wd, zero)
        cases.append(Case(label, (p, g, m, v, t, lr, betas, eps, wd), after, ("p", "m", "v")))
    return cases


def _clip_check(total, before, clipped):
    """The returned number is the norm before clipping; the arrays given were scaled in place."""

    def check(answer, args):
        if isinstance(answer, (list, tuple, dict)) or answer is None or np.ndim(answer) != 0:
            raise Mismatch(
                f"the function should return the total norm (one number, before clipping), not "
                f"{'None' if answer is None else 'a ' + type(answer).__name__}; the gradients "
                "themselves are changed in place"
            )
        compare(answer, total, "the returned total norm")
        grads = args[0]
        for i, (mine, old, expected) in enumerate(zip(grads, before, clipped)):
            if np.array_equal(mine, old) and not np.allclose(expected, old, rtol=RTOL, atol=ATOL):
                factor = float(np.linalg.norm(expected) / np.linalg.norm(old))
                raise Mismatch(
                    f"grads[{i}] is unchanged, but it should have been multiplied by {factor:.6g} "
                    f"(in place, g *= coef, as clip_grad_norm_ changes the arrays it is given)"
                )
            compare(mine, expected, f"grads[{i}] after clipping")

    return check


@_write(
    "12_watching_training",
    "clip_grad_norm(grads, max_norm)",
    "clip a list of gradients to one joint L2 norm, in place, as torch's clip_grad_norm_; "
    "return the norm before",
    "total = √(Σ over every array of Σ g²); each g *= min(1, max_norm / (total + 1e-6)): one factor for all.",
)
def _clip():
    r = _rng(30)
    exact = [np.array([0.006, 0.008])]                 # a norm of 0.01: the eps decides
    setups = [
        ("three gradients, total ≈ 4.4, max_norm 1",
         [r.normal(size=(3, 4)), r.normal(size=4), r.normal(size=(2, 2))], 1.0),
        ("already small: left as it is", [0.05 * r.normal(size=(2, 3)), 0.05 * r.normal(size=3)], 1.0),
        ("a total exactly max_norm = 0.01 (the 1e-6 matters)", exact, 0.01),
        ("max_norm = 0: every gradient becomes 0", [r.normal(size=3), r.normal(size=(2, 2))], 0.0),
        ("all-zero gradients (total 0)", [np.zeros(3), np.zeros((2, 2))], 1.0),
        ("a 0-d gradient beside a (2, 3, 4) one", [np.array(7.0), r.normal(size=(2, 3, 4))], 2.0),
    ]
    cases = []
    for label, grads, max_norm in setups:
        params = [_t(np.zeros(np.shape(g))) for g in grads]
        for p, g in zip(params, grads):
            p.grad = np.array(g, dtype=np.float64)
        total = tg.optim.clip_grad_norm_(params, max_norm)
        before = [np.array(g, dtype=np.float64) for g in grads]
        clipped = [p.grad for p in params]
        cases.append(Case(label, (before, max_norm), check=_clip_check(total, before, clipped)))
    return cases


_predict(
    "12_watching_training",
    "adam_first_step",
    "gradients from 1e-6 to 1e3: predict how far AdamW's first step moves each weight",
)


# ------------------------------------------------------------ 13 let's build GPT


@_write(
    "13_lets_build_gpt",
    "gpt_loss(logits, targets)",
    "the GPT's loss: mean cross-entropy of logits (B, T, C) against targets (B, T)",
    "log-softmax over the last axis (subtract each row's max before exp), pick the target's entry, "
    "and take minus the mean over all B·T positions.",
)
def _gpt_loss():
    r = _rng(31)
    setups = [
        ("random (2, 4, 5)", 1.0 * r.normal(size=(2, 4, 5))),
        ("one sequence of one token, (1, 1, 6)", r.normal(size=(1, 1, 6))),
        ("uniform logits (2, 3, 32): the loss is ln 32", np.zeros((2, 3, 32))),
        ("confident logits ±1000 (exp overflows unless you subtract the max)",
         1000 * r.normal(size=(2, 3, 4))),
        ("the notebook's shape (4, 8, 32)", 2 * r.normal(size=(4, 8, 32))),
    ]
    cases = []
    for label, logits in setups:
        b, t, c = logits.shape
        targets = r.integers(0, c, size=(b, t))
        loss = F.cross_entropy(_c(logits.reshape(b * t, c)), targets.reshape(b * t))
        cases.append(Case(label, (logits, targets), loss.data))
    return cases


def _tiny_gpt(seed, vocab, block_size, d=8):
    """A GPT of one causal attention layer, with a position table of `block_size` rows
    (so a longer context is refused, as the lecture's model refuses it), on the engine in
    float64: `logits_fn(idx)` maps int ids (B, T) to logits (B, T, vocab)."""
    r = _rng(seed)
    tok, pos, head = r.normal(size=(vocab, d)), r.normal(size=(block_size, d)), 2 * r.normal(size=(vocab, d))
    Wq, Wk, Wv = (r.normal(size=(d, d)) for _ in range(3))

    def logits_fn(idx):
        idx = np.asarray(idx)
        if idx.ndim != 2 or idx.dtype.kind not in "iu":
            raise ValueError(f"logits_fn takes integer ids of shape (B, T), got {idx.dtype} {idx.shape}")
        if not 1 <= idx.shape[1] <= block_size:
            raise ValueError(f"logits_fn: a context of {idx.shape[1]} tokens, but the position table "
                             f"has block_size = {block_size} rows: crop the context to its last "
                             f"{block_size} tokens")
        with tg.no_grad():
            x = _c(tok[idx] + pos[: idx.shape[1]])
            q, k, v = (F.linear(x, _c(W)) for W in (Wq, Wk, Wv))
            h = x + F.attention(q, k, v, causal=True).out
            return F.linear(h, _c(head)).data

    return logits_fn


@_write(
    "13_lets_build_gpt",
    "generate_greedy(logits_fn, idx, max_new_tokens, block_size)",
    "the lecture's generate loop, greedy: crop to block_size, take the last position's argmax, append",
    "each step: logits_fn(idx[:, -block_size:])[:, -1, :].argmax(-1), appended as a new column; "
    "return the prompt and the new tokens, (B, T + max_new_tokens).",
)
def _greedy():
    r = _rng(32)
    setups = [
        ("one prompt of 3 tokens, 4 new, block_size 8", 1, 3, 4, 8),
        ("a batch of 3 prompts", 3, 2, 5, 8),
        ("the context outgrows block_size = 4", 2, 3, 6, 4),
        ("a prompt already longer than block_size = 3", 1, 5, 4, 3),
        ("max_new_tokens = 0: the prompt comes back", 2, 3, 0, 8),
    ]
    cases = []
    for n, (label, b, t, new, block) in enumerate(setups):
        logits_fn = _tiny_gpt(33 + n, 7, block)
        idx = r.integers(0, 7, size=(b, t))
        out = idx.copy()
        for _ in range(new):                          # the lecture's generate, with argmax for sampling
            nxt = logits_fn(out[:, -block:])[:, -1, :].argmax(axis=-1)
            out = np.concatenate([out, nxt[:, None]], axis=1)
        cases.append(Case(label, (logits_fn, idx, new, block), out))
    return cases


_predict(
    "13_lets_build_gpt",
    "untrained_loss",
    "an untrained GPT: predict its loss, and the loss when lm_head's weights have std 1 instead of 0.02",
)
