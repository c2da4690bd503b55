"""Transformer blocks against torch.nn.TransformerEncoderLayer / TransformerDecoderLayer
(post-LN and pre-LN, relu and gelu; outputs and every gradient to 1e-7 relative),
finite differences, masking of padding, and a small Transformer that learns to reverse."""
import numpy as np
import pytest
from support import assert_close, assert_grads_match, backward_both, load_into_torch, pair, randomize, torch

import tinygrad_tf as tg
from tinygrad_tf import nn, optim
from tinygrad_tf.nn import functional as F

D, H, FF = 8, 2, 16
BLOCKS = [(norm_first, activation) for norm_first in (False, True) for activation in ("relu", "gelu")]



def torch_layer(cls, norm_first, activation):
    return cls(D, H, FF, dropout=0.0, activation=activation, batch_first=True, norm_first=norm_first,
               dtype=torch.float64)


def not_allowed(real):
    """PyTorch's key padding mask is True where a key may NOT be attended."""
    return torch.tensor(~real)


@pytest.mark.parametrize("norm_first, activation", BLOCKS)
def test_encoder_block_matches_torch(norm_first, activation):
    block = randomize(nn.EncoderBlock(D, H, FF, activation, norm_first).astype(np.float64))
    tblock = torch_layer(torch.nn.TransformerEncoderLayer, norm_first, activation)
    load_into_torch(block, tblock)
    x, tx = pair(2, 5, D)
    real = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=bool)
    causal = torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64) != 0
    y = block(x, mask=real[:, None, None, :], causal=True)
    ty = tblock(tx, src_mask=causal, src_key_padding_mask=not_allowed(real))
    assert_close(y, ty, "output")
    backward_both(y, ty)
    assert_close(x.grad, tx.grad, "input grad")
    assert_grads_match(block, tblock)


@pytest.mark.parametrize("norm_first, activation", BLOCKS)
def test_decoder_block_matches_torch(norm_first, activation):
    block = randomize(nn.DecoderBlock(D, H, FF, activation, norm_first).astype(np.float64))
    tblock = torch_layer(torch.nn.TransformerDecoderLayer, norm_first, activation)
    load_into_torch(block, tblock)
    x, tx = pair(2, 4, D, seed=1)
    memory, tmemory = pair(2, 6, D, seed=2)
    real = np.array([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]], dtype=bool)
    causal = torch.nn.Transformer.generate_square_subsequent_mask(4, dtype=torch.float64) != 0
    y = block(x, memory, memory_mask=real[:, None, None, :])
    ty = tblock(tx, tmemory, tgt_mask=causal, memory_key_padding_mask=not_allowed(real))
    assert_close(y, ty, "output")
    backward_both(y, ty)
    assert_close(x.grad, tx.grad, "input grad")
    assert_close(memory.grad, tmemory.grad, "memory grad")
    assert_grads_match(block, tblock)


@pytest.mark.parametrize("norm_first", [False, True])
def test_gradcheck_blocks(norm_first):
    enc = nn.EncoderBlock(4, 2, 6, "gelu", norm_first).astype(np.float64)
    dec = nn.DecoderBlock(4, 2, 6, "swiglu", norm_first).astype(np.float64)
    x = tg.randn(2, 3, 4, seed=1, dtype=np.float64, requires_grad=True)
    memory = tg.randn(2, 2, 4, seed=2, dtype=np.float64, requires_grad=True)
    pad = np.array([True, False])[None, None, None, :]
    assert tg.gradcheck(lambda x: enc(x, causal=True), [x], enc.parameters())
    assert tg.gradcheck(lambda x, m: dec(x, m, memory_mask=pad), [x, memory], dec.parameters())


def test_source_padding_does_not_change_the_output():
    model = nn.Transformer(8, 8, d_model=16, n_heads=2, d_ff=32)
    tgt = np.array([[1, 5, 6]])
    a = model(np.array([[3, 4, 5, 0, 0]]), tgt).data
    b = model(np.array([[3, 4, 5, 0, 0, 0, 0]]), tgt).data
    assert np.allclose(a, b, atol=1e-6)
    assert a.shape == (1, 3, 8)


def test_decoder_output_at_a_position_ignores_later_target_tokens():
    model = nn.Transformer(8, 8, d_model=16, n_heads=2, d_ff=32, norm_first=True)
    src = np.array([[3, 4, 5]])
    a = model(src, np.array([[1, 5, 6, 7]])).data
    b = model(src, np.array([[1, 5, 2, 3]])).data
    assert np.array_equal(a[:, :2], b[:, :2]) and not np.allclose(a[:, 2:], b[:, 2:])


def test_positions_are_the_papers_sinusoids():
    from tinygrad_tf.nn.transformer import sinusoidal_positions
    p = sinusoidal_positions(50, 6)
    pos = 7
    assert np.allclose(p[pos], [np.sin(pos), np.cos(pos), np.sin(pos / 10000 ** (2 / 6)),
                                np.cos(pos / 10000 ** (2 / 6)), np.sin(pos / 10000 ** (4 / 6)),
                                np.cos(pos / 10000 ** (4 / 6))], atol=1e-6)
    with pytest.raises(ValueError, match="sequence of length 9 is longer than max_len = 8"):
        nn.TransformerLM(5, d_model=8, n_heads=2, max_len=8)(np.zeros((1, 9), dtype=int))


def test_transformer_lm_is_causal_and_generates_repeatably():
    lm = nn.TransformerLM(11, d_model=16, n_heads=2, n_layers=2, d_ff=32, max_len=6)
    logits = lm(np.array([[1, 2, 3, 4]]))
    assert logits.shape == (1, 4, 11)
    assert np.array_equal(lm(np.array([[1, 2, 9, 9]])).data[:, :2], logits.data[:, :2])
    a = lm.generate(np.array([1, 2, 3]), 8, temperature=1.0, seed=4)
    assert a.shape == (11,) and np.array_equal(a[:3], [1, 2, 3])
    assert np.array_equal(a, lm.generate([1, 2, 3], 8, seed=4))
    assert not np.array_equal(a, lm.generate([1, 2, 3], 8, seed=5))
    greedy = lm.generate(np.array([[1, 2, 3], [4, 5, 6]]), 2, temperature=0)
    assert greedy.shape == (2, 5)
    assert greedy[0, 3] == lm(np.array([[1, 2, 3]])).data[0, -1].argmax()
    assert [n for n, _ in lm.named_parameters()][-4:] == [
        "decoder.norm.weight", "decoder.norm.bias", "lm_head.weight", "lm_head.bias"]


def test_the_lm_blocks_are_encoder_blocks_that_always_attend_causally():
    block = nn.TransformerLM(11, d_model=8, n_heads=2, n_layers=1, d_ff=16).decoder.layers[0]
    assert type(block) is nn.DecoderOnlyBlock and isinstance(block, nn.EncoderBlock)
    plain = nn.EncoderBlock(8, 2, 16, "gelu", norm_first=True)
    plain.load_state_dict(block.state_dict())
    x = tg.randn(2, 4, 8)
    assert np.array_equal(block(x).data, plain(x, causal=True).data)
    assert not np.allclose(block(x).data, plain(x).data)


PAD, BOS, EOS, LENGTH = 0, 1, 2, 5


def reverse_task(rng, n, held_out=frozenset()):
    """Source: LENGTH random tokens 3..9; target: them reversed, between BOS and EOS."""
    src = rng.integers(3, 10, size=(n, LENGTH))
    src = np.array([s for s in src if tuple(s) not in held_out])
    tgt = src[:, ::-1]
    bos, eos = np.full((len(src), 1), BOS), np.full((len(src), 1), EOS)
    return src, np.concatenate([bos, tgt], 1), np.concatenate([tgt, eos], 1)


def test_a_small_transformer_learns_to_reverse_sequences():
    rng = np.random.default_rng(0)
    test_src, _, test_out = reverse_task(rng, 40)
    held_out = frozenset(map(tuple, test_src))
    model = nn.Transformer(10, 10, d_model=32, n_heads=2, n_layers=1, d_ff=64, pad_id=PAD)
    opt = optim.Adam(model.parameters(), lr=5e-3)
    steps = 150
    for step in range(steps):
        opt.lr = 5e-3 * (1 - step / steps)                                # linear decay: a calm end
        src, tgt_in, tgt_out = reverse_task(rng, 32, held_out)
        loss = F.cross_entropy(model(src, tgt_in), tgt_out, ignore_index=PAD)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.05
    decoded = model.greedy_decode(test_src, LENGTH + 2, BOS, EOS)
    assert decoded.shape == (40, LENGTH + 2) and np.all(decoded[:, 0] == BOS)
    assert np.array_equal(decoded[:, 1:], test_out)                      # every one exact


def test_bad_inputs_to_blocks_and_models_name_the_submodule():
    with pytest.raises(ValueError, match=r"MultiHeadAttention 'self_attn': input of shape \(2, 3, 6\) "
                                         r"should be \(batch, seq, d_model = 8\)"):
        nn.EncoderBlock(D, H, FF)(tg.randn(2, 3, 6))
    with pytest.raises(ValueError, match=r"LayerNorm 'norm1': input of shape \(2, 3, 6\)"):
        nn.DecoderBlock(D, H, FF, norm_first=True)(tg.randn(2, 3, 6), tg.randn(2, 4, D))
    with pytest.raises(ValueError, match=r"MultiHeadAttention 'cross_attn': context of shape \(2, 4, 5\)"):
        nn.DecoderBlock(D, H, FF)(tg.randn(2, 3, D), tg.randn(2, 4, 5))
    with pytest.raises(ValueError, match="d_model = 8 is not divisible by n_heads = 3"):
        nn.Transformer(5, 5, d_model=8, n_heads=3)
    model = nn.Transformer(5, 6, d_model=8, n_heads=2, d_ff=16)
    with pytest.raises(IndexError, match=r"Embedding 'src_embed.tokens': id 5 at position \(0, 1\) is "
                                         r"out of range for 5 embeddings"):
        model(np.array([[1, 5]]), np.array([[1, 2]]))
    with pytest.raises(IndexError, match="cross_entropy: target id 6"):
        F.cross_entropy(model(np.array([[1, 2]]), np.array([[1, 2]])), np.array([[3, 6]]))


def test_generate_refuses_a_negative_temperature_or_count():
    lm = nn.TransformerLM(7, d_model=8, n_heads=2, n_layers=1, d_ff=16)
    prompt = np.array([1, 2])
    for temperature in (-0.5, float("nan")):
        with pytest.raises(ValueError, match=f"generate: temperature must be > 0 \\(or 0 for the most "
                                             f"likely token\\), got {temperature}"):
            lm.generate(prompt, 3, temperature=temperature)
    for n in (-1, 2.5):
        with pytest.raises(ValueError, match=f"n \\(the number of tokens to add\\) must be an integer "
                                             f">= 0, got {n}"):
            lm.generate(prompt, n)
    assert np.array_equal(lm.generate(prompt, 0), prompt)
