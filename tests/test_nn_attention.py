"""Attention: MultiHeadAttention against torch.nn.MultiheadAttention (outputs, `.attn`,
every gradient), masks (True = may attend, causal, padding), exact zeros where a mask
forbids, no NaN for a query with no allowed key, finite differences, clear errors."""
import numpy as np
import pytest
import torch
from test_nn_support import assert_close, assert_grads_match, backward_both, f64, load_into_torch, pair

import tinygrad_tf as tg
from tinygrad_tf import nn
from tinygrad_tf.nn import functional as F

D, H = 8, 2


@pytest.fixture(autouse=True)
def seeded():
    nn.manual_seed(0)


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
    q, k, v = f64(2, 3, 4, 5, seed=0), f64(2, 3, 6, 5, seed=1), f64(2, 3, 6, 5, seed=2)
    allowed = np.random.default_rng(0).random((2, 1, 4, 6)) < 0.7
    allowed[..., 0] = True
    out, w = F.scaled_dot_product_attention(q, k, v, mask=allowed)
    tq, tk, tv = (torch.tensor(t.data) for t in (q, k, v))
    expect = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=torch.tensor(allowed))
    assert_close(out, expect, "output")
    assert np.allclose(w.data.sum(-1), 1.0) and np.all(w.data[np.broadcast_to(~allowed, w.shape)] == 0)
    assert tg.gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, allowed, True)[0],
                        [q, k, v])


def test_causal_mask_passes_exactly_zero_gradient_to_future_positions():
    mha = nn.MultiHeadAttention(D, H).astype(np.float64)
    for i in range(4):
        x = f64(2, 4, D)
        y = mha(x, causal=True)
        y[:, i].sum().backward()
        assert np.all(x.grad[:, i + 1:] == 0.0)                     # exactly, not nearly
        assert np.all(np.abs(x.grad[:, : i + 1]).sum(-1) > 0)


def test_a_padded_key_gets_exactly_zero_gradient():
    mha = nn.MultiHeadAttention(D, H).astype(np.float64)
    x, ctx = f64(2, 3, D, seed=1), f64(2, 5, D, seed=2)
    tokens = np.array([[5, 6, 7, 0, 0], [5, 6, 7, 8, 9]])
    y = mha(x, ctx, mask=F.padding_mask(tokens, pad_id=0))
    y.backward(np.random.default_rng(0).standard_normal(y.shape))
    assert np.all(ctx.grad[0, 3:] == 0.0)
    assert np.all(mha.attn[0, :, :, 3:] == 0.0)
    assert np.all(np.abs(ctx.grad[1]).sum(-1) > 0)


def test_a_query_with_no_allowed_key_gets_zero_weights_and_finite_gradients():
    mha = nn.MultiHeadAttention(D, H).astype(np.float64)
    x = f64(2, 3, D)
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
    x, ctx = f64(2, 3, 4, seed=1), f64(2, 4, 4, seed=2)
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
    with pytest.raises(TypeError, match="mask must be boolean"):
        mha(tg.randn(2, 3, D), mask=np.ones((3, 3)))
