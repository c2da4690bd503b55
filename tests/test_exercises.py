"""The exercises' graders: each accepts its reference solution, rejects its stub, and rejects
at least two planted wrong answers (a wrong axis, a missing term, ...), so no grader can pass
everything; the messages say which case, where and by how much; and the command line."""

import importlib
import json
import pkgutil
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
from scipy.special import ndtr
from support import torch

import tinygrad_tf as tg
from tinygrad_tf.__main__ import main as cli
from tinygrad_tf.exercises import EXERCISES, check, exercises, reveal, solutions, stub_source, stubs
from tinygrad_tf.exercises.grading import Mismatch, compare

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent
SOLUTION_FILES = {
    m.name: ROOT / "tinygrad_tf" / "exercises" / "solutions" / f"{m.name}.py"
    for m in pkgutil.iter_modules(solutions.__path__)
}
SOLUTIONS, SOLUTION_FILE = {}, {}
for _module in SOLUTION_FILES:
    _mod = importlib.import_module(f"tinygrad_tf.exercises.solutions.{_module}")
    for _name in EXERCISES:
        if hasattr(_mod, _name):
            SOLUTIONS[_name], SOLUTION_FILE[_name] = getattr(_mod, _name), SOLUTION_FILES[_module]
S = SOLUTIONS
IG = lambda *a: S["integrated_gradients"](*a)
WRITE = [e.name for e in exercises("write")]


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _weights(q, k):
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    w = np.exp(s - s.max(-1, keepdims=True))
    return w / w.sum(-1, keepdims=True)


def _residual_no_skip(h0, Ws, bs, g):
    ts, h = [], h0
    for W, b in zip(Ws, bs):
        ts.append(np.tanh(h @ W.T + b))
        h = h + ts[-1]
    for W, t in zip(reversed(Ws), reversed(ts)):
        g = ((1 - t * t) * g) @ W  # the skip's "+ g" forgotten
    return g


def _ffn_no_relu_mask(x, W1, b1, W2, b2, g):
    z = x @ W1.T + b1
    dz, flat = g @ W2, lambda a: a.reshape(-1, a.shape[-1])
    return dz @ W1, flat(dz).T @ flat(x), flat(dz).sum(0), flat(g).T @ flat(np.maximum(z, 0)), flat(g).sum(0)


def _post_ln(x, block):
    x = block.norm1(x + block.self_attn(x))
    return block.norm2(x + block.ffn(x))


def _ln_dx_without_xhat_term(x, w, g, eps):
    dx, dw, db = S["layernorm_backward"](x, w, g, eps)
    sigma = np.sqrt(x.var(-1, keepdims=True) + eps)
    return (g * w - (g * w).mean(-1, keepdims=True)) / sigma, dw, db


def _positions(max_len, d_model, swap=False, power=2):
    angle = np.arange(max_len)[:, None] / 10000 ** (power * np.arange((d_model + 1) // 2) / d_model)
    out = np.zeros((max_len, d_model))
    first, second = (np.cos, np.sin) if swap else (np.sin, np.cos)
    out[:, 0::2], out[:, 1::2] = first(angle), second(angle[:, : d_model // 2])
    return out


def _integrated_left_riemann(f_grad, x, baseline, steps):
    """α_k = k/steps: the left end of each piece instead of its midpoint."""
    return (x - baseline) * sum(f_grad(baseline + k / steps * (x - baseline)) for k in range(steps)) / steps


def _adamw(p, g, m, v, t, lr, betas, eps, wd, correct=True, coupled=False, t_used=None, eps_inside=False):
    """AdamW with one thing changed: no bias correction, the decay in the gradient (Adam's
    L2), the bias correction of another step, or eps under the root."""
    (b1, b2), t_used = betas, t if t_used is None else t_used
    if coupled:
        g = g + wd * p
    else:
        p = p * (1 - lr * wd)
    m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
    with np.errstate(divide="ignore", invalid="ignore"):        # step 0's correction divides by 1 − β⁰ = 0
        m_hat, v_hat = (m / (1 - b1**t_used), v / (1 - b2**t_used)) if correct else (m, v)
        denom = np.sqrt(v_hat + eps) if eps_inside else np.sqrt(v_hat) + eps
        return p - lr * m_hat / denom, m, v


def _clip_each_alone(grads, max_norm):
    for g in grads:
        g *= min(1.0, max_norm / (np.linalg.norm(g) + 1e-6))
    return float(np.sqrt(sum((g**2).sum() for g in grads)))


def _clip_without_eps(grads, max_norm):
    total = float(np.sqrt(sum((g**2).sum() for g in grads)))
    for g in grads:
        g *= min(1.0, max_norm / total) if total else 1.0
    return total


def _clip_not_in_place(grads, max_norm):
    total = float(np.sqrt(sum((g**2).sum() for g in grads)))
    grads = [g * min(1.0, max_norm / (total + 1e-6)) for g in grads]  # new arrays: the caller's unchanged
    return total


def _log_softmax(z, axis):
    z = z - z.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def _loss_without_max(logits, targets):
    with np.errstate(over="ignore", invalid="ignore"):          # exp(1000) = inf, inf - inf = nan
        log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    return float(-np.take_along_axis(log_probs, targets[..., None], -1).mean())


def _greedy(logits_fn, idx, new, crop=None, position=-1, keep_prompt=True):
    """Greedy generation with one thing changed: no crop or another one, another position's
    argmax, or the prompt left out."""
    out = idx
    for _ in range(new):
        context = out if crop is None else out[:, -crop:]
        out = np.concatenate([out, logits_fn(context)[:, position, :].argmax(-1)[:, None]], axis=1)
    return out if keep_prompt else out[:, idx.shape[1]:]



def _split_on_columns(state):
    """in_proj_weight split along its input axis: (3E, E/3) pieces, the wrong axis."""
    return {**S["attention_from_torch"](state), **{
        f"{n}_proj.weight": w for n, w in zip("qkv", np.array_split(state["in_proj_weight"], 3, axis=1))}}


def _ce_reshaped(scores, targets, ignore_index=-100):
    """(N, C, d) read as (N·d, C) by a reshape instead of moving the class axis."""
    n, c = scores.shape[:2]
    flat = scores.reshape(-1, c) if scores.ndim > 2 else scores
    return S["cross_entropy_classes_axis1"](flat, targets.reshape(-1), ignore_index)


def _ce_classes_last(scores, targets, ignore_index=-100):
    """The engine's layout: classes on the last axis."""
    return S["cross_entropy_classes_axis1"](np.moveaxis(scores, -1, 1), targets, ignore_index)


def _ce_counting_ignored(scores, targets, ignore_index=-100):
    keep = targets != ignore_index
    return S["cross_entropy_classes_axis1"](scores, targets, ignore_index) * keep.sum() / keep.size


def _ce_without_max(scores, targets, ignore_index=-100):
    z = np.moveaxis(scores, 1, -1)
    with np.errstate(over="ignore", invalid="ignore"):          # exp(1000) = inf
        log_probs = z - np.log(np.exp(z).sum(-1, keepdims=True))
    keep = targets != ignore_index
    picked = np.take_along_axis(log_probs, np.where(keep, targets, 0)[..., None], -1)[..., 0]
    return float(-(picked * keep).sum() / keep.sum())


# Planted wrong answers: realistic mistakes, each made from the solution or written out.
WRONG = {
    "neuron_backward": {
        "tanh' forgotten": lambda x1, w1, x2, w2, b: (w1, x1, w2, x2, 1.0),
        "dx and dw swapped": lambda *a: (lambda r: (r[1], r[0], r[3], r[2], r[4]))(S["neuron_backward"](*a)),
    },
    "div_backward": {
        "sign of db lost": lambda a, b, g: (g / b, g * a / b**2),
        "db = -a/b, a power missing": lambda a, b, g: (g / b, -g * a / b),
    },
    "shared_use_backward": {
        "u went too early (∂L/∂u = 1)": lambda a, b: (b, a),
        "∂L/∂u = 2u, the + u use missing": lambda a, b: (2 * a * b * b, 2 * a * b * a),
    },
    "matmul_backward": {
        "dA = G B, a transpose missing": lambda A, B, G: (G @ B, A.T @ G),
        "dB averaged over rows": lambda A, B, G: (G @ B.T, A.T @ G / len(A)),
    },
    "unbroadcast": {
        "only the leading axes summed": lambda grad, shape: grad.sum(
            axis=tuple(range(grad.ndim - len(shape)))
        ),
        "mean instead of sum": lambda grad, shape: (
            S["unbroadcast"](grad, shape) / (grad.size / max(np.prod(shape), 1))
        ),
    },
    "linear_backward": {
        "db summed over axis 0 only": lambda x, W, b, g: (
            *S["linear_backward"](x, W, b, g)[:2],
            g.sum(axis=0),
        ),
        "dx = g W scaled by the batch": lambda x, W, b, g: (
            (g @ W) / len(x),
            *S["linear_backward"](x, W, b, g)[1:],
        ),
    },
    "softmax_backward": {
        "sum over axis 0": lambda y, g: y * (g - (g * y).sum(axis=0, keepdims=True)),
        "the Σ g·y term missing": lambda y, g: y * g,
    },
    "attention_backward": {
        "1/√d forgotten in dq, dk": lambda q, k, v, g: (lambda r, s: (r[0] * s, r[1] * s, r[2]))(
            S["attention_backward"](q, k, v, g), np.sqrt(q.shape[-1])
        ),
        "dq and dk swapped": lambda q, k, v, g: (lambda r: (r[1], r[0], r[2]))(
            S["attention_backward"](q, k, v, g)
        ),
    },
    "memory_backward": {
        "the value path missing": lambda dk, dv, Wk, Wv: dk @ Wk,
        "Wk transposed": lambda dk, dv, Wk, Wv: dk @ Wk.T + dv @ Wv,
    },
    "cross_attention": {
        "no 1/√d scale": lambda x, m, Wq, Wk, Wv: S["cross_attention"](
            x, m, Wq * np.sqrt(Wq.shape[0]), Wk, Wv
        ),
        "softmax over the query axis": lambda x, m, Wq, Wk, Wv: (
            (lambda s: np.exp(s) / np.exp(s).sum(-2, keepdims=True))(
                (x @ Wq.T) @ np.swapaxes(m @ Wk.T, -1, -2) / np.sqrt(Wq.shape[0])
            )
            @ (m @ Wv.T)
        ),
    },
    "causal_mask": {
        "the upper triangle (the future)": lambda q, k: np.triu(np.ones((q, k), dtype=bool)),
        "j < i, off by one": lambda q, k: np.tri(q, k, -1, dtype=bool),
    },
    "padding_mask": {
        "True at the padding": lambda t, pad: (np.asarray(t) == pad)[:, None, None, :],
        "the query axis last": lambda t, pad: (np.asarray(t) != pad)[:, None, :, None],
    },
    "masked_attention_backward": {
        "the mask ignored": lambda q, k, v, mask, g: S["attention_backward"](q, k, v, g),
        "the mask transposed": lambda q, k, v, mask, g: S["masked_attention_backward"](
            q, k, v, np.swapaxes(mask, -1, -2), g
        ),
    },
    "prenorm_block": {
        "post-LN": _post_ln,
        "the second skip missing": lambda x, b: b.ffn(b.norm2(x + b.self_attn(b.norm1(x)))),
        "norm1 and norm2 swapped": lambda x, b: (lambda h: h + b.ffn(b.norm1(h)))(
            x + b.self_attn(b.norm2(x))
        ),
        "the graph cut with .data": lambda x, b: tg.Tensor(S["prenorm_block"](x, b).data),
    },
    "residual_stack_backward": {
        "the skip's + g missing": _residual_no_skip,
        "W transposed": lambda h0, Ws, bs, g: S["residual_stack_backward"](h0, [W.T for W in Ws], bs, g),
    },
    "layernorm_forward": {
        "eps outside the root": lambda x, w, b, eps: (
            (x - x.mean(-1, keepdims=True)) / (x.std(-1, keepdims=True) + eps) * w + b
        ),
        "unbiased variance": lambda x, w, b, eps: (
            (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, ddof=1, keepdims=True) + eps) * w + b
        ),
    },
    "layernorm_backward": {
        "the x̂ term of dx missing": _ln_dx_without_xhat_term,
        "db summed over axis 0 only": lambda x, w, g, eps: (
            *S["layernorm_backward"](x, w, g, eps)[:2],
            g.sum(0),
        ),
    },
    "batchnorm_forward": {
        "over the last axis (LayerNorm)": lambda x, w, b, eps: S["layernorm_forward"](x, w, b, eps),
        "unbiased variance": lambda x, w, b, eps: (x - x.mean(0)) / np.sqrt(x.var(0, ddof=1) + eps) * w + b,
    },
    "silu_backward": {
        "the x·σ'(x) term missing": lambda x, g: g * _sigmoid(x),
        "σ'(x) alone": lambda x, g: g * _sigmoid(x) * (1 - _sigmoid(x)),
    },
    "gelu_backward": {
        "the x·φ(x) term missing": lambda x, g: g * ndtr(x),
        "φ(x) without the x": lambda x, g: g * (ndtr(x) + np.exp(-x * x / 2) / np.sqrt(2 * np.pi)),
    },
    "ffn_backward": {
        "ReLU's mask forgotten": _ffn_no_relu_mask,
        "dW2 transposed": lambda *a: (lambda r: (*r[:3], r[3].T, r[4]))(S["ffn_backward"](*a)),
    },
    "cross_entropy_backward": {
        "not divided by the count": lambda lg, t, ig=None: S["cross_entropy_backward"](lg, t, ig) * t.size,
        "ignored positions counted": lambda lg, t, ig=None: (
            S["cross_entropy_backward"](lg, t, ig) * ((t != ig).sum() / t.size if ig is not None else 1.0)
        ),
    },
    "sinusoidal_positions": {
        "sin and cos swapped": lambda n, d: _positions(n, d, swap=True),
        "10000^(i/d), the 2 missing": lambda n, d: _positions(n, d, power=1),
    },
    "encoder_block_backward": {
        "one head over the whole width": lambda x, p, g, h: S["encoder_block_backward"](x, p, g, 1),
        "q_proj's gradient transposed": lambda x, p, g, h: (
            lambda r: {**r, "self_attn.q_proj.weight": r["self_attn.q_proj.weight"].T}
        )(S["encoder_block_backward"](x, p, g, h)),
    },
    "attention_from_torch": {
        "q and k swapped": lambda st: (lambda d: {
            **d, "q_proj.weight": d["k_proj.weight"], "k_proj.weight": d["q_proj.weight"],
            "q_proj.bias": d["k_proj.bias"], "k_proj.bias": d["q_proj.bias"]})(S["attention_from_torch"](st)),
        "each weight transposed": lambda st: {
            k: v.T if k.endswith("weight") else v for k, v in S["attention_from_torch"](st).items()},
        "split along the columns": _split_on_columns,
        "out_proj forgotten": lambda st: {
            k: v for k, v in S["attention_from_torch"](st).items() if not k.startswith("out_proj")},
    },
    "cross_entropy_classes_axis1": {
        "(N, C, d) reshaped to (N·d, C), not moved": _ce_reshaped,
        "classes on the last axis": _ce_classes_last,
        "ignored targets counted in the mean": _ce_counting_ignored,
        "no max subtracted (exp overflows)": _ce_without_max,
    },
    "gradient_times_input": {
        "summed over the tokens (axis 0)": lambda x, g: (x * g).sum(axis=0),
        "the gradient alone (x missing)": lambda x, g: g.sum(axis=-1),
        "absolute values": lambda x, g: np.abs(x * g).sum(axis=-1),
    },
    "integrated_gradients": {
        "left Riemann sum, α = k/steps": _integrated_left_riemann,
        "the (x − baseline) factor missing": lambda f, x, b, n: IG(f, x, b, n) / (x - b),
        "x, not x − baseline": lambda f, x, b, n: IG(f, x, b, n) / (x - b) * x,
        "a sum over the steps, not the mean": lambda f, x, b, n: IG(f, x, b, n) * n,
    },
    "adamw_step": {
        "no bias correction": lambda *a: _adamw(*a, correct=False),
        "the decay in the gradient (Adam's L2)": lambda *a: _adamw(*a, coupled=True),
        "the bias correction of step t − 1 (off by one)": lambda *a: _adamw(*a, t_used=a[4] - 1),
        "eps under the root": lambda *a: _adamw(*a, eps_inside=True),
    },
    "clip_grad_norm": {
        "each gradient clipped on its own": _clip_each_alone,
        "without the 1e-6": _clip_without_eps,
        "new arrays, not in place": _clip_not_in_place,
        "the norm after clipping returned": lambda grads, max_norm: (
            S["clip_grad_norm"](grads, max_norm), float(np.sqrt(sum((g**2).sum() for g in grads)))
        )[1],
    },
    "gpt_loss": {
        "log-softmax over the T axis": lambda lg, t: float(
            -np.take_along_axis(_log_softmax(lg, 1), t[..., None], -1).mean()
        ),
        "the log-sum-exp term missing": lambda lg, t: float(-np.take_along_axis(lg, t[..., None], -1).mean()),
        "summed over T, averaged over B": lambda lg, t: S["gpt_loss"](lg, t) * lg.shape[1],
        "no max subtracted (exp overflows)": _loss_without_max,
    },
    "generate_greedy": {
        "no crop to block_size": lambda f, idx, n, block: _greedy(f, idx, n),
        "cropped to block_size − 1 (off by one)": lambda f, idx, n, block: _greedy(f, idx, n, block - 1),
        "the first position's argmax": lambda f, idx, n, block: _greedy(f, idx, n, block, position=0),
        "only the new tokens returned": lambda f, idx, n, block: _greedy(f, idx, n, block, keep_prompt=False),
    },
}


NOTEBOOKS_WITH_EXERCISES = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))   # every one
NEEDS_TORCH = {"attention_from_torch"}          # graded against interop: skipped where torch is missing


def _skip_without_torch(name):
    if name in NEEDS_TORCH:
        pytest.importorskip("torch")


def test_at_least_20_write_exercises_and_2_to_4_in_each_notebook():
    assert len(WRITE) >= 20
    per_notebook = Counter(e.notebook for e in exercises())
    assert sorted(per_notebook) == NOTEBOOKS_WITH_EXERCISES and len(per_notebook) >= 13
    assert all(2 <= n <= 4 for n in per_notebook.values()), per_notebook
    assert all(any(e.kind == "write" for e in exercises() if e.notebook == nb) for nb in per_notebook)
    assert {e.kind for e in exercises()} == {"write", "predict"}
    assert set(SOLUTIONS) == set(WRITE) == set(WRONG)
    assert all(hasattr(stubs, name) for name in WRITE)


@pytest.mark.parametrize("name", WRITE)
def test_the_grader_accepts_the_solution_and_rejects_the_stub_and_planted_mistakes(name):
    _skip_without_torch(name)
    report = check(name, SOLUTIONS[name])
    assert report.ok, str(report)
    assert str(report).startswith(f"✓ {name}: all {report.total} cases match the engine")
    assert report.total >= 2
    stub = check(name, getattr(stubs, name))
    assert not stub.ok and stub.number == 1 and "still the stub" in str(stub)
    assert len(WRONG[name]) >= 2
    for mistake, wrong in WRONG[name].items():
        got = check(name, wrong)
        assert not got.ok, f"{name}: the grader let a planted mistake pass: {mistake}"
        assert f"Case {got.number} of {got.total}, “{got.case}”" in str(got)


def test_a_failure_says_which_case_where_and_by_how_much():
    got = check("softmax_backward", WRONG["softmax_backward"]["sum over axis 0"])
    text = str(got)
    assert text.startswith("✗ softmax_backward: not yet. Case 1 of 5, “random (3, 5)”: answer[")
    assert "but the engine gives" in text and "off by" in text and "elements are off" in text
    assert "Hint: dx = y ⊙ (g - Σ_j g_j y_j)" in text
    later = check("linear_backward", WRONG["linear_backward"]["db summed over axis 0 only"])
    assert later.number == 2 and later.passed == ["random (4, 3) → 2"]
    assert "db has shape (3, 5), but it should have shape (5,)" in str(later)
    assert "The cases before it pass: random (4, 3) → 2." in str(later)
    ninja = check("encoder_block_backward", WRONG["encoder_block_backward"]["q_proj's gradient transposed"])
    assert "['self_attn.q_proj.weight'][" in ninja.problem


def test_the_messages_of_the_graders_of_notebooks_11_to_13():
    riemann = str(check("integrated_gradients", _integrated_left_riemann))
    assert "the scores add up to 12.4688, but f(x) − f(baseline) = 14.25 (completeness" in riemann
    no_eps = check("clip_grad_norm", WRONG["clip_grad_norm"]["without the 1e-6"])
    assert no_eps.case == "a total exactly max_norm = 0.01 (the 1e-6 matters)"
    assert "grads[0] is unchanged, but it should have been multiplied by 0.9999" in no_eps.problem
    assert "the returned total norm is 1 but the engine gives 4.39387" in str(
        check("clip_grad_norm", WRONG["clip_grad_norm"]["the norm after clipping returned"])
    )
    assert "should return the total norm (one number" in str(check("clip_grad_norm", lambda g, m: g))
    uncropped = check("generate_greedy", WRONG["generate_greedy"]["no crop to block_size"])
    assert "raised ValueError: logits_fn: a context of 5 tokens, but the position table has block_size = 4" \
        in uncropped.problem and "(in test_exercises.py, line" in uncropped.problem   # the learner's line
    overflow = check("gpt_loss", WRONG["gpt_loss"]["no max subtracted (exp overflows)"])
    assert overflow.number == 4 and "answer is inf but the engine gives 359.065" in overflow.problem
    # two numbers alike to 6 digits are shown with 12, so the difference can be seen
    close = check("adamw_step", WRONG["adamw_step"]["eps under the root"]).problem
    mine, engine = close.split(" is ")[1].split(" (off by")[0].split(" but the engine gives ")
    assert mine != engine and len(mine) > 8


def test_the_graders_of_notebook_10_against_pytorch_and_their_messages(monkeypatch, capsys):
    cases = EXERCISES["cross_entropy_classes_axis1"].cases()
    for case in cases:                  # the engine's answer is PyTorch's (PyTorch: the oracle)
        scores, targets, *ignore = case.args
        assert torch.nn.functional.cross_entropy(
            torch.as_tensor(scores), torch.as_tensor(targets), ignore_index=(ignore or [-100])[0]
        ).item() == pytest.approx(float(case.expected), rel=1e-12), case.label
    assert any(-100 in case.args[1] for case in cases) and any(len(case.args) == 3 for case in cases)
    silent = check("cross_entropy_classes_axis1", _ce_classes_last)
    assert silent.case.startswith("(N, C, d) = (3, 4, 4): C equals d")
    assert "answer is" in silent.problem and "but the engine gives" in silent.problem
    for case in EXERCISES["attention_from_torch"].cases():      # the packed rows are q, k, v in turn
        state, ours = case.args[0], case.expected
        packed = np.concatenate([ours[f"{p}_proj.weight"] for p in "qkv"])
        assert np.array_equal(packed, state["in_proj_weight"])
    columns = check("attention_from_torch", _split_on_columns).problem
    assert "answer['q_proj.weight'] has shape (18, 2), but it should have shape (6, 6)" in columns
    forgot = check("attention_from_torch", WRONG["attention_from_torch"]["out_proj forgotten"]).problem
    assert forgot == "answer has no entry for 'out_proj.weight', 'out_proj.bias'"
    # where PyTorch is not installed, the command says so in one line
    monkeypatch.setitem(sys.modules, "tinygrad_tf.interop", None)
    monkeypatch.delattr(tg, "interop", raising=False)
    path = SOLUTION_FILE["attention_from_torch"]
    assert cli(["check", "attention_from_torch", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("check: the exercise attention_from_torch needs PyTorch") and err.count("\n") == 1


def test_the_messages_for_each_kind_of_wrong_answer():
    with pytest.raises(Mismatch, match=r"should return 3 values, \(dx, dw, db\), but returned 2 values"):
        compare((1, 2), (1.0, 2.0, 3.0), ("dx", "dw", "db"))
    with pytest.raises(Mismatch, match="has no entry for 'norm1.bias'"):
        compare({"x": 1.0}, {"x": 1.0, "norm1.bias": 2.0})
    with pytest.raises(Mismatch, match=r"mask\[0, 1\] is True but should be False \(1 of 4 entries differ\)"):
        compare(np.ones((2, 2), bool), np.tri(2, dtype=bool), "mask")
    with pytest.raises(Mismatch, match="should be a boolean array"):
        compare(np.ones((2, 2)), np.ones((2, 2), bool))
    with pytest.raises(Mismatch, match=r"dx\[1\] is nan but the engine gives 2"):
        compare(np.array([1.0, np.nan]), np.array([1.0, 2.0]), "dx")
    with pytest.raises(Mismatch, match="is None"):
        compare(None, np.zeros(2))
    raised = check("causal_mask", lambda q, k: [][0])
    assert "raised IndexError: list index out of range (in test_exercises.py, line" in str(raised)
    not_a_tensor = check("prenorm_block", lambda x, block: x.data)
    assert "should return a Tensor" in str(not_a_tensor)
    cut = check("prenorm_block", WRONG["prenorm_block"]["the graph cut with .data"])
    assert "does not require grad" in str(cut)


def test_unknown_and_predict_names_and_non_functions_are_clear_errors():
    with pytest.raises(KeyError, match="did you mean 'softmax_backward'"):
        check("softmax_backwards", S["softmax_backward"])
    with pytest.raises(ValueError, match="predict-then-check exercise of notebook 03_self_attention"):
        check("softmax_gradient_sum", S["softmax_backward"])
    with pytest.raises(TypeError, match="should be your function softmax_backward"):
        check("softmax_backward", "y * g")


def test_the_stub_source_runs_as_a_file_and_is_graded(tmp_path):
    path = tmp_path / "mine.py"
    path.write_text(stub_source("layernorm_backward"))
    assert cli(["check", "layernorm_backward", str(path)]) == 1
    path.write_text(
        stub_source("layernorm_backward").replace(
            '    raise NotImplementedError("write layernorm_backward here")',
            "    from tinygrad_tf.exercises.solutions.n07_layernorm_vs_batchnorm import "
            "layernorm_backward as s\n"
            "    return s(x, w, g, eps)",
        )
    )
    assert cli(["check", "layernorm_backward", str(path)]) == 0


def test_the_docs_page_lists_every_exercise():
    page = (ROOT / "docs" / "exercises.md").read_text(encoding="utf-8")
    assert all(f"`{e.signature or e.name}`" in page for e in exercises())
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"and {len(WRITE)}\n*write it yourself* functions" in readme


def test_the_notebooks_end_with_their_exercises_in_japanese_and_english():
    import nbformat

    for path in (ROOT / "notebooks" / f"{stem}.ipynb" for stem in NOTEBOOKS_WITH_EXERCISES):
        cells = [c for c in nbformat.read(path, as_version=4).cells
                 if "exercises" in c.metadata.get("tags", [])]
        assert cells and cells[0].source.startswith("## 演習 · Exercises"), path.name
        text = "\n".join(c.source for c in cells)
        for e in exercises():
            if e.notebook == path.stem and e.kind == "write":
                assert f'tg.exercises.check("{e.name}", {e.name})' in text and f"def {e.name}(" in text
        assert all(not c.get("outputs") for c in cells if c.cell_type == "code")


def test_reveal_folds_the_answer():
    r = reveal("∂c/∂a = 12")
    assert r._repr_html_().startswith("<details><summary><b>答え / Answer</b>") and "∂c/∂a = 12" in repr(r)


# ----------------------------------------------------------------- command line


def test_exercises_json_lists_every_exercise(capsys):
    assert cli(["exercises", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed[0] == {"name": "neuron_backward", "notebook": "01_chain_rule", "kind": "write"}
    assert len([e for e in listed if e["kind"] == "write"]) == len(WRITE) >= 20
    assert cli(["exercises"]) == 0
    out = capsys.readouterr().out
    assert "03_self_attention" in out and "softmax_backward" in out and "predict-then-check" in out


@pytest.mark.parametrize("name", WRITE)
def test_check_exits_0_on_the_solution_and_1_on_the_stub(name, capsys):
    _skip_without_torch(name)
    assert cli(["check", name, str(SOLUTION_FILE[name])]) == 0
    assert capsys.readouterr().out.startswith(f"✓ {name}")
    assert cli(["check", name, str(ROOT / "tinygrad_tf" / "exercises" / "stubs.py")]) == 1
    assert f"✗ {name}: not yet. Case 1 of" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["check", "softmax_backwrd", "x.py"], "no exercise called 'softmax_backwrd'; did you mean"),
        (["check", "softmax_backward", "nowhere.py"], "'nowhere.py' is not a file"),
        (["check", "bias_gradient", "x.py"], "predict-then-check"),
        (["exercises", "--stub", "nothing"], "no exercise called 'nothing'"),
    ],
)
def test_check_refuses_bad_arguments_in_one_line(argv, message, capsys):
    assert cli(argv) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_check_names_what_the_file_defines_instead(tmp_path, capsys):
    path = tmp_path / "answer.py"
    path.write_text("def softmax_backwards(y, g):\n    return y\n")
    assert cli(["check", "softmax_backward", str(path)]) == 1
    assert (
        "defines no function softmax_backward(...); it defines softmax_backwards" in capsys.readouterr().err
    )


def test_the_command_line_in_a_fresh_process():
    """As a learner runs it: the exit codes and the JSON; `import tinygrad_tf` stays light."""
    run = lambda *argv: subprocess.run(
        [sys.executable, "-m", "tinygrad_tf", *argv], capture_output=True, text=True, cwd=ROOT
    )
    ok = run("check", "softmax_backward", str(SOLUTION_FILE["softmax_backward"]))
    stub = run("check", "softmax_backward", str(ROOT / "tinygrad_tf" / "exercises" / "stubs.py"))
    assert (ok.returncode, stub.returncode) == (0, 1)
    assert "Case 1 of 5, “random (3, 5)”: the function is still the stub" in stub.stdout
    lazy = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, tinygrad_tf as tg; "
            "print('tinygrad_tf.exercises' in sys.modules, tg.exercises.check.__name__)",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert lazy.stdout.split() == ["False", "check"]
