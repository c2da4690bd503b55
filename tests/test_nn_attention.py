"""Attention: MultiHeadAttention against torch.nn.MultiheadAttention (outputs, `.attn`,
every gradient), masks (True = may attend, causal, padding), exact zeros where a mask
forbids, no NaN for a query with no allowed key, finite differences, clear errors."""
import pathlib
import re

import numpy as np
import pytest
from support import assert_close, assert_grads_match, backward_both, load_into_torch, pair, randn64, torch

import tinygrad_tf as tg
from tinygrad_tf import nn
from tinygrad_tf.nn import functional as F

D, H = 8, 2



def mha_pair(dropout=0.0):
    mha = nn.MultiHeadAttention(D, H).astype(np.float64)
    tmha = torch.nn.MultiheadAttention(D, H, batch_first=True, dtype=torch.float64)
    load_into_torch(mha, tmha)
    return mha, tmha


def test_self_attention_with_causal_and_padding_masks_matches_torch():
    mha, tmha = mha_pair()
    x, tx = pair(2, 5, D)
    lengths = np.array([5, 3])
    real = np.arange(5)[None, :] < lengths[:, None]              # (B, T) True = a real token
    y = mha(x, mask=real[:, None, None, :], causal=True)
    causal = torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64) != 0
    ty, tw = tmha(tx, tx, tx, attn_mask=causal, key_padding_mask=torch.tensor(~real),
                  need_weights=True, average_attn_weights=False)
    assert_close(y, ty, "output")
    assert isinstance(mha.attn, np.ndarray) and mha.attn.shape == (2, H, 5, 5)
    assert_close(mha.attn, tw, ".attn vs per-head weights")
    backward_both(y, ty)
    assert_close(x.grad, tx.grad, "input grad")
    assert_grads_match(mha, tmha)


def test_cross_attention_with_unequal_lengths_matches_torch():
    mha, tmha = mha_pair()
    x, tx = pair(2, 3, D, seed=1)
    ctx, tctx = pair(2, 6, D, seed=2)
    real = np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], dtype=bool)
    y = mha(x, ctx, mask=F.padding_mask(real.astype(int), 0))
    ty, tw = tmha(tx, tctx, tctx, key_padding_mask=torch.tensor(~real),
                  average_attn_weights=False)
    assert y.shape == (2, 3, D) and mha.attn.shape == (2, H, 3, 6)
    assert_close(y, ty, "output")
    assert_close(mha.attn, tw, ".attn")
    backward_both(y, ty)
    assert_close(x.grad, tx.grad, "query input grad")
    assert_close(ctx.grad, tctx.grad, "context grad")
    assert_grads_match(mha, tmha)


def test_sdpa_returns_output_and_weights_like_torch():
    q, k, v = randn64(2, 3, 4, 5, seed=0), randn64(2, 3, 6, 5, seed=1), randn64(2, 3, 6, 5, seed=2)
    allowed = np.random.default_rng(0).random((2, 1, 4, 6)) < 0.7
    allowed[..., 0] = True
    out, w = F.attention(q, k, v, mask=allowed)
    tq, tk, tv = (torch.tensor(t.data) for t in (q, k, v))
    expect = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=torch.tensor(allowed))
    assert_close(out, expect, "output")
    assert np.allclose(w.data.sum(-1), 1.0) and np.all(w.data[np.broadcast_to(~allowed, w.shape)] == 0)
    assert tg.gradcheck(lambda q, k, v: F.attention(q, k, v, allowed, True).out,
                        [q, k, v])


def test_causal_mask_passes_exactly_zero_gradient_to_future_positions():
    mha = nn.MultiHeadAttention(D, H).astype(np.float64)
    for i in range(4):
        x = randn64(2, 4, D)
        y = mha(x, causal=True)
        y[:, i].sum().backward()
        assert np.all(x.grad[:, i + 1:] == 0.0)                     # exactly, not nearly
        assert np.all(np.abs(x.grad[:, : i + 1]).sum(-1) > 0)


def test_a_padded_key_gets_exactly_zero_gradient():
    mha = nn.MultiHeadAttention(D, H).astype(np.float64)
    x, ctx = randn64(2, 3, D, seed=1), randn64(2, 5, D, seed=2)
    tokens = np.array([[5, 6, 7, 0, 0], [5, 6, 7, 8, 9]])
    y = mha(x, ctx, mask=F.padding_mask(tokens, pad_id=0))
    y.backward(np.random.default_rng(0).standard_normal(y.shape))
    assert np.all(ctx.grad[0, 3:] == 0.0)
    assert np.all(mha.attn[0, :, :, 3:] == 0.0)
    assert np.all(np.abs(ctx.grad[1]).sum(-1) > 0)


def test_a_query_with_no_allowed_key_gets_zero_weights_and_finite_gradients():
    mha = nn.MultiHeadAttention(D, H).astype(np.float64)
    x = randn64(2, 3, D)
    mask = np.ones((2, 1, 3, 3), dtype=bool)
    mask[0, :, 1, :] = False                                        # query 1 of item 0: nothing
    y = mha(x, mask=mask)
    assert np.all(mha.attn[0, :, 1] == 0.0)
    assert np.allclose(y.data[0, 1], mha.out_proj.bias.data)        # no value reaches it
    y.backward(np.ones(y.shape))
    assert all(np.isfinite(p.grad).all() for p in mha.parameters()) and np.isfinite(x.grad).all()
    x.grad = None
    with tg.detect_anomaly():
        mha(x, mask=np.zeros((3, 3), dtype=bool)).sum().backward()  # every query: nothing
    assert np.all(x.grad == 0.0)


def test_gradcheck_attention_with_masks():
    mha = nn.MultiHeadAttention(4, 2).astype(np.float64)
    x, ctx = randn64(2, 3, 4, seed=1), randn64(2, 4, 4, seed=2)
    pad = F.padding_mask(np.array([[1, 2, 0, 0], [1, 2, 3, 4]]), 0)
    assert tg.gradcheck(lambda x, c: mha(x, c, mask=pad), [x, ctx], mha.parameters())
    mask = np.ones((2, 1, 3, 3), dtype=bool)
    mask[1, 0, 2] = False                                           # with a row of nothing
    assert tg.gradcheck(lambda x: mha(x, mask=mask, causal=True), [x], mha.parameters())


def test_attention_keeps_float32():
    mha = nn.MultiHeadAttention(D, H)
    x = tg.randn(2, 3, D, requires_grad=True)
    y = mha(x, causal=True)
    assert y.dtype == np.float32 and mha.attn.dtype == np.float32
    y.backward(np.ones(y.shape, dtype=np.float32))
    assert x.grad.dtype == np.float32 and all(p.grad.dtype == np.float32 for p in mha.parameters())


def test_attn_is_read_only():
    mha = nn.MultiHeadAttention(D, H)
    mha(tg.randn(1, 2, D))
    with pytest.raises(ValueError):
        mha.attn[0, 0, 0, 0] = 1.0


def test_bad_attention_inputs_are_named():
    with pytest.raises(ValueError, match="d_model = 10 is not divisible by n_heads = 4"):
        nn.MultiHeadAttention(10, 4)
    mha = nn.MultiHeadAttention(D, H)
    with pytest.raises(ValueError, match=r"input of shape \(2, 3, 6\) should be \(batch, seq, d_model = 8\)"):
        mha(tg.randn(2, 3, 6))
    with pytest.raises(ValueError, match=r"context of shape \(2, 4, 5\)"):
        mha(tg.randn(2, 3, D), tg.randn(2, 4, 5))
    with pytest.raises(ValueError, match=r"mask of shape \(2, 1, 1, 4\) does not broadcast to .* "
                                         r"\(2, 2, 3, 3\)"):
        mha(tg.randn(2, 3, D), mask=np.ones((2, 1, 1, 4), dtype=bool))
    with pytest.raises(TypeError, match=r"mask must be boolean \(True = may attend\) or float "
                                        r"\(added to the scores, -inf = may not attend\), not int64"):
        mha(tg.randn(2, 3, D), mask=np.ones((3, 3), dtype=np.int64))


def test_float_masks_are_added_to_the_scores_as_torch():
    q, tq = pair(2, 3, 4, 5)
    k, tk = pair(2, 3, 6, 5, seed=1)
    v, tv = pair(2, 3, 6, 5, seed=2)
    bias, tbias = pair(3, 4, 6, seed=3)                  # a float mask that requires grad
    bias.data[0, 1, 2:] = -np.inf                         # -inf: may not attend
    tbias = torch.tensor(bias.data, requires_grad=True)
    out, weights = F.attention(q, k, v, mask=bias)
    tout = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=tbias)
    assert_close(out, tout, "output")
    assert np.all(weights.data[:, 0, 1, 2:] == 0.0)
    backward_both(out, tout)
    for ours, theirs, what in ((q, tq, "q"), (k, tk, "k"), (v, tv, "v"), (bias, tbias, "mask")):
        assert_close(ours.grad, theirs.grad, f"{what} grad")
    # causal folds in as -inf; a float32 query keeps a float64 array mask in float32
    out, _ = F.attention(q, k, v, mask=bias.data, causal=True)
    tout = torch.nn.functional.scaled_dot_product_attention(
        tq, tk, tv, attn_mask=tbias.detach() + torch.tensor(np.where(np.tri(4, 6), 0, -np.inf)))
    assert_close(out, tout, "causal output")
    q32 = tg.randn(1, 2, 3)
    assert F.attention(q32, q32, q32, mask=np.zeros((2, 2))).out.dtype == np.float32


def test_a_float_mask_in_multi_head_attention_matches_torch_and_the_boolean_one():
    mha, tmha = mha_pair()
    x, tx = pair(2, 4, D)
    bias = np.random.default_rng(4).standard_normal((4, 4))
    bias[np.triu_indices(4, 1)] = -np.inf
    y = mha(x, mask=bias)
    ty, tw = tmha(tx, tx, tx, attn_mask=torch.tensor(bias), need_weights=True, average_attn_weights=False)
    assert_close(y, ty, "output")
    assert_close(mha.attn, tw, ".attn")
    backward_both(y, ty)
    assert_grads_match(mha, tmha)
    zeros = np.where(np.tri(4), 0.0, -np.inf)                # 0 / -inf: the boolean causal mask
    np.testing.assert_allclose(mha(x, mask=zeros).data, mha(x, causal=True).data, rtol=1e-14)
    row = np.zeros((4, 4))
    row[1] = -np.inf                                          # a query with no key: zeros, no NaN
    mha(x, mask=row).sum().backward()
    assert np.all(mha.attn[:, :, 1] == 0) and np.isfinite(x.grad).all()
    assert tg.gradcheck(lambda q, b: F.attention(q, q, q, mask=b).out,
                        [randn64(2, 3, 4), randn64(3, 3, seed=5)])


def test_attention_over_an_empty_sequence_computes_as_torch():
    mha, tmha = mha_pair()
    x, tx = pair(2, 3, D)
    empty, tempty = pair(2, 0, D, seed=1)
    y = mha(x, context=empty)                                 # no keys: the output projection's bias
    ty, _ = tmha(tx, tempty, tempty)
    assert y.shape == (2, 3, D) and mha.attn.shape == (2, H, 3, 0)
    assert_close(y, ty, "output")
    backward_both(y, ty)
    assert_close(x.grad, tx.grad, "x grad")
    assert_grads_match(mha, tmha)
    y = mha(empty, causal=True)                               # no queries
    assert y.shape == (2, 0, D)
    y.sum().backward()
    assert empty.grad.shape == (2, 0, D)
    out, w = F.attention(tg.randn(3, 4), tg.randn(0, 4), tg.randn(0, 2))
    assert out.shape == (3, 2) and w.shape == (3, 0) and np.all(out.data == 0)


def test_scaled_dot_product_attention_is_pytorchs_call_and_attention_the_pair():
    q, tq = pair(2, 2, 4, 3)
    k, tk = pair(2, 2, 5, 3, seed=1)
    v, tv = pair(2, 2, 5, 3, seed=2)
    bias = np.random.default_rng(3).standard_normal((4, 5))
    tbias = torch.tensor(bias + np.where(np.tri(4, 5), 0, -np.inf))
    tout = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=tbias, scale=0.3)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, is_causal=True, scale=0.3)
    assert isinstance(out, tg.Tensor)
    assert_close(out, tout, "output")
    assert_close(F.scaled_dot_product_attention(q, k, v, bias, 0.0, True, 0.3), tout, "positional")
    assert_close(F.scaled_dot_product_attention(q, k, v, mask=bias, causal=True, scale=0.3), tout, "ours")
    out.sum().backward()
    tout.sum().backward()
    for mine, theirs in ((q, tq), (k, tk), (v, tv)):
        np.testing.assert_allclose(mine.grad, theirs.grad.numpy(), rtol=1e-10, atol=1e-12)
    both = F.attention(q, k, v, bias, True, scale=0.3)
    np.testing.assert_array_equal(both.out.data, out.data)
    result = F.attention(q, k, v)
    assert result.out is result[0] and result.weights is result[1]
    with pytest.raises(AttributeError, match=r"F.attention returns \(out, weights\), not the output "
                                             r"alone: write `out, weights = .*use out.transpose"):
        result.transpose(1, 2)
    with pytest.raises(TypeError, match="got both attn_mask and mask"):
        F.scaled_dot_product_attention(q, k, v, mask=bias, attn_mask=bias)
    x = tg.randn(2, 3, seed=0, dtype=np.float64)
    np.testing.assert_array_equal(F.softmax(x, dim=0).data, F.softmax(x, axis=0).data)
    np.testing.assert_array_equal(F.log_softmax(x, dim=-1).data, F.log_softmax(x).data)


def test_heads_are_split_and_merged_without_copies_forward_and_backward(monkeypatch):
    # the products are made in the layout the head split/merge transposes back to
    # (ops._product), so every reshape of attention's heads is a view, both ways
    from tinygrad_tf.core import ops
    views = []
    forward, backward = ops.Reshape.forward, ops.Reshape.backward

    def spied_forward(self, a, shape):
        y = forward(self, a, shape)
        views.append(("forward", np.shares_memory(y, a)))
        return y

    def spied_backward(self, g):
        (ga,) = backward(self, g)
        views.append(("backward", np.shares_memory(ga, g)))
        return (ga,)

    spied_backward.__doc__ = backward.__doc__
    monkeypatch.setattr(ops.Reshape, "forward", spied_forward)
    monkeypatch.setattr(ops.Reshape, "backward", spied_backward)
    mha, tmha = mha_pair()
    x, tx = pair(2, 5, D)
    y = mha(x)
    backward_both(y, tmha(tx, tx, tx, need_weights=False)[0])
    assert views == [("forward", True)] * 4 + [("backward", True)] * 4   # q, k, v split; merged
    assert_close(x.grad, tx.grad, "input grad")
    assert_grads_match(mha, tmha)


def test_a_product_shaped_like_a_transposed_operand_is_made_in_its_layout():
    x = np.arange(2 * 3 * 2 * 4, dtype=np.float32).reshape(2, 3, 2, 4) / 10   # (B, T, h, d)
    w = np.linspace(-1, 1, 2 * 2 * 3 * 3, dtype=np.float32).reshape(2, 2, 3, 3)
    v = tg.Tensor(x, requires_grad=True).permute(0, 2, 1, 3)                   # (B, h, T, d) view
    y = tg.Tensor(w) @ v
    np.testing.assert_allclose(y.data, w @ x.transpose(0, 2, 1, 3), rtol=1e-6)
    assert y.data.transpose(0, 2, 1, 3).flags.c_contiguous                      # v's layout


def test_no_caller_unpacks_the_output_of_scaled_dot_product_attention_as_a_pair():
    # it returned (out, weights) before it returned PyTorch's output alone: a caller left
    # behind would unpack the output's first axis without a word
    root = pathlib.Path(__file__).resolve().parent.parent
    pair_of = re.compile(r"\w+\s*,\s*\w+\s*=\s*[\w.]*scaled_dot_product_attention\(|"
                         r"scaled_dot_product_attention\([^()]*(\([^()]*\))?[^()]*\)(\[|\.out|\.weights)")
    found = []
    paths = [p for folder in ("tinygrad_tf", "tests", "notebooks", "docs", "examples", "benchmarks")
             for p in (root / folder).rglob("*")] + list(root.glob("*.md"))
    for path in paths:
        if path.suffix in (".py", ".md", ".ipynb") and path.is_file():
            text = path.read_text(encoding="utf-8")
            for at in (m.start() for m in re.finditer("scaled_dot_product_attention", text)):
                window = text[max(at - 80, 0):at + 400]        # (not the whole file: long outputs)
                found += [f"{path.relative_to(root)}: {m.group(0)}" for m in pair_of.finditer(window)]
    assert not found, found
