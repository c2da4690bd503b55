"""Starter stubs: one function per write-it-yourself exercise, with its signature and what it
takes and returns. Copy one into a file or a notebook cell, replace the `raise` with your
code, and check it:

    python -m tinygrad_tf check softmax_backward my_answer.py
    tg.exercises.check("softmax_backward", softmax_backward)        # in a notebook

Work in NumPy (float64 arrays in, arrays out) unless the exercise says Tensor function.
"""
import numpy as np  # noqa: F401  (the stubs are copied out with this line; answers use it)

# 01 · the chain rule ------------------------------------------------------------------

def neuron_backward(x1, w1, x2, w2, b):
    """o = tanh(x1·w1 + x2·w2 + b) on plain floats.
    Return the five gradients (∂o/∂x1, ∂o/∂w1, ∂o/∂x2, ∂o/∂w2, ∂o/∂b) as a tuple."""
    raise NotImplementedError("write neuron_backward here")


def div_backward(a, b, g):
    """out = a / b on floats; g = ∂L/∂out. Return (∂L/∂a, ∂L/∂b)."""
    raise NotImplementedError("write div_backward here")


def shared_use_backward(a, b):
    """u = a·b and L = u·u + u on floats. Return (∂L/∂a, ∂L/∂b)."""
    raise NotImplementedError("write shared_use_backward here")


# 02 · from scalars to tensors ---------------------------------------------------------

def matmul_backward(A, B, G):
    """C = A @ B with A (n, k), B (k, m); G = ∂L/∂C (n, m). Return (∂L/∂A, ∂L/∂B)."""
    raise NotImplementedError("write matmul_backward here")


def unbroadcast(grad, shape):
    """An input of `shape` (a tuple) was broadcast to grad.shape; grad is the gradient at the
    broadcast result. Return the input's gradient, an array of exactly `shape`."""
    raise NotImplementedError("write unbroadcast here")


def linear_backward(x, W, b, g):
    """y = x @ W.T + b with x (..., in), W (out, in), b (out,); g = ∂L/∂y (..., out).
    Return (∂L/∂x, ∂L/∂W, ∂L/∂b)."""
    raise NotImplementedError("write linear_backward here")


# 03 · self-attention ------------------------------------------------------------------

def softmax_backward(y, g):
    """y = softmax(x) over the last axis (y is given, x is not); g = ∂L/∂y, same shape.
    Return ∂L/∂x."""
    raise NotImplementedError("write softmax_backward here")


def attention_backward(q, k, v, g):
    """out = softmax(q @ kᵀ / √d) @ v with q (..., q_len, d), k (..., k_len, d),
    v (..., k_len, d_v); g = ∂L/∂out (..., q_len, d_v). Return (∂L/∂q, ∂L/∂k, ∂L/∂v)."""
    raise NotImplementedError("write attention_backward here")


# 04 · cross-attention -----------------------------------------------------------------

def memory_backward(dk, dv, Wk, Wv):
    """k = memory @ Wk.T and v = memory @ Wv.T; dk = ∂L/∂k and dv = ∂L/∂v.
    Return ∂L/∂memory."""
    raise NotImplementedError("write memory_backward here")


def cross_attention(x, memory, Wq, Wk, Wv):
    """One head: q = x @ Wq.T, k = memory @ Wk.T, v = memory @ Wv.T, with x (..., t, d),
    memory (..., s, d). Return softmax(q @ kᵀ / √d_k) @ v, d_k = Wq.shape[0]."""
    raise NotImplementedError("write cross_attention here")


# 05 · blocks and masks ----------------------------------------------------------------

def causal_mask(q_len, k_len):
    """Return a boolean array (q_len, k_len), True where key j may be seen by query i (j <= i)."""
    raise NotImplementedError("write causal_mask here")


def padding_mask(tokens, pad_id):
    """tokens: integer array (batch, seq). Return a boolean array (batch, 1, 1, seq),
    True where the token is not pad_id."""
    raise NotImplementedError("write padding_mask here")


def masked_attention_backward(q, k, v, mask, g):
    """out = softmax(q @ kᵀ / √d, only where mask is True) @ v; mask is boolean and broadcasts
    to (..., q_len, k_len); a query with no allowed key gets all-zero weights.
    g = ∂L/∂out. Return (∂L/∂q, ∂L/∂k, ∂L/∂v)."""
    raise NotImplementedError("write masked_attention_backward here")


def prenorm_block(x, block):
    """A Tensor function: x is a Tensor (batch, seq, d_model) and block an nn.EncoderBlock
    (built post-LN). Use its submodules (block.self_attn, block.norm1, block.ffn,
    block.norm2) to return the pre-LN block's output, as a Tensor."""
    raise NotImplementedError("write prenorm_block here")


# 06 · residual connections ------------------------------------------------------------

def residual_stack_backward(h0, weights, biases, g):
    """h_{l+1} = h_l + tanh(h_l @ W_l.T + b_l) for the lists weights (each (d, d)) and
    biases (each (d,)), starting from h0 (n, d); g = ∂L/∂(the last h). Return ∂L/∂h0."""
    raise NotImplementedError("write residual_stack_backward here")


# 07 · LayerNorm versus BatchNorm ------------------------------------------------------

def layernorm_forward(x, w, b, eps):
    """LayerNorm over the last axis of x (..., n), with w and b of shape (n,). Return y."""
    raise NotImplementedError("write layernorm_forward here")


def layernorm_backward(x, w, g, eps):
    """y = LayerNorm(x)·w + b over the last axis; g = ∂L/∂y. Return (∂L/∂x, ∂L/∂w, ∂L/∂b)."""
    raise NotImplementedError("write layernorm_backward here")


def batchnorm_forward(x, w, b, eps):
    """BatchNorm1d in training mode: x (N, C), w and b (C,). Return y."""
    raise NotImplementedError("write batchnorm_forward here")


# 08 · the feed-forward network --------------------------------------------------------

def silu_backward(x, g):
    """y = x·σ(x); g = ∂L/∂y. Return ∂L/∂x."""
    raise NotImplementedError("write silu_backward here")


def gelu_backward(x, g):
    """y = x·Φ(x), Φ the standard normal CDF (the exact GELU); g = ∂L/∂y. Return ∂L/∂x."""
    raise NotImplementedError("write gelu_backward here")


def ffn_backward(x, W1, b1, W2, b2, g):
    """y = relu(x @ W1.T + b1) @ W2.T + b2 with x (..., d), W1 (d_ff, d), W2 (d, d_ff);
    g = ∂L/∂y. Return (∂L/∂x, ∂L/∂W1, ∂L/∂b1, ∂L/∂W2, ∂L/∂b2)."""
    raise NotImplementedError("write ffn_backward here")


# 09 · backpropagation end to end ------------------------------------------------------

def cross_entropy_backward(logits, targets, ignore_index=None):
    """L = mean cross-entropy of logits (..., C) against integer targets (...), over the
    positions whose target is not ignore_index. Return ∂L/∂logits."""
    raise NotImplementedError("write cross_entropy_backward here")


def sinusoidal_positions(max_len, d_model):
    """Return the position codes (max_len, d_model) of the 2017 paper."""
    raise NotImplementedError("write sinusoidal_positions here")


def encoder_block_backward(x, params, g, n_heads):
    """The backprop ninja. A post-LN encoder block (ReLU FFN, LayerNorm eps 1e-5, no mask):
        a = self_attn(x);  h = norm1(x + a);  y = norm2(h + ffn(h))
    x (batch, seq, d_model); params: a dict name → array with the block's parameter names
    ("self_attn.q_proj.weight", ..., "norm1.weight", "ffn.up.bias", ...); g = ∂L/∂y.
    Return a dict with the same keys as params, holding each ∂L/∂param, plus "x": ∂L/∂x."""
    raise NotImplementedError("write encoder_block_backward here")


# 10 · graduating to PyTorch -----------------------------------------------------------

def attention_from_torch(state):
    """state: the state_dict of a torch.nn.MultiheadAttention(E, n_heads) as NumPy arrays:
    "in_proj_weight" (3E, E), "in_proj_bias" (3E,), "out_proj.weight" (E, E), "out_proj.bias" (E,).
    Return our MultiHeadAttention's state_dict: a dict with the keys "q_proj.weight",
    "q_proj.bias", "k_proj.weight", "k_proj.bias", "v_proj.weight", "v_proj.bias",
    "out_proj.weight", "out_proj.bias" (each weight (E, E), (out, in) as a Linear keeps it)."""
    raise NotImplementedError("write attention_from_torch here")


def cross_entropy_classes_axis1(scores, targets, ignore_index=-100):
    """PyTorch's F.cross_entropy for class ids: scores (N, C) or (N, C, d1, ...) with the
    classes on axis 1; integer targets (N,) or (N, d1, ...). Return the mean, over the
    targets that are not ignore_index, of -log softmax(scores over axis 1)[target], a float."""
    raise NotImplementedError("write cross_entropy_classes_axis1 here")


# 11 · why did it say 動物? --------------------------------------------------------------

def gradient_times_input(x, g):
    """x: token embeddings (..., T, d); g = ∂score/∂x, the same shape.
    Return one gradient × input score per token, (..., T): the sum over the features."""
    raise NotImplementedError("write gradient_times_input here")


def integrated_gradients(f_grad, x, baseline, steps):
    """f_grad(point) returns ∂f/∂x at one point of x's shape (an array). Return the
    integrated-gradients scores of x against `baseline` (x's shape), by the midpoint
    rule: α_k = (k + ½)/steps for k = 0 … steps − 1."""
    raise NotImplementedError("write integrated_gradients here")


# 12 · watching training ---------------------------------------------------------------

def adamw_step(p, g, m, v, t, lr, betas, eps, weight_decay):
    """One step of AdamW as PyTorch computes it. p: the weights, g: their gradient,
    m and v: the moments after step t − 1 (zeros before step 1); t: this step's number,
    from 1; betas = (β1, β2). Return the new (p, m, v)."""
    raise NotImplementedError("write adamw_step here")


def clip_grad_norm(grads, max_norm):
    """grads: a list of arrays. Scale them all IN PLACE by one factor so that their joint
    L2 norm is at most max_norm, as torch.nn.utils.clip_grad_norm_ does (with its 1e-6);
    return the joint norm before clipping, a float."""
    raise NotImplementedError("write clip_grad_norm here")


# 13 · let's build a GPT ---------------------------------------------------------------

def gpt_loss(logits, targets):
    """logits (B, T, C), integer targets (B, T). Return the mean cross-entropy over all
    B·T positions, a float."""
    raise NotImplementedError("write gpt_loss here")


def generate_greedy(logits_fn, idx, max_new_tokens, block_size):
    """logits_fn(ids) maps integer ids (B, T), 1 <= T <= block_size, to logits (B, T, vocab).
    Starting from the prompt idx (B, T0), append max_new_tokens tokens, each the argmax
    of the last position's logits given at most the last block_size tokens.
    Return the ids (B, T0 + max_new_tokens)."""
    raise NotImplementedError("write generate_greedy here")
