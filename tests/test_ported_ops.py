"""The kinds of op tests other autograd engines keep (tinygrad's test_ops, micrograd's,
minitorch's tensor tests, lines from PyTorch tutorials and nanoGPT), written afresh as
one table: each case is a PyTorch-style expression run on our tensors and on torch's,
and the values, dtype, shape and every input's gradient must agree (float64 to ~1e-10,
float32 to float32's precision). A case PyTorch refuses must be refused here too.

`python tests/test_ported_ops.py` prints the tally: passing / total, and each case
that fails, as wrong (a different answer), crash (an error where PyTorch computes)
or missing (no such op)."""
import math
import re

import numpy as np
import pytest

import tinygrad_tf as tg
from tinygrad_tf.nn import functional as tgF

torch = pytest.importorskip("torch")     # the whole module compares with PyTorch


class _Lib:
    """`M` in the cases: the module (`M.cat`, `M.where`, ...) and its functional `M.F`."""

    def __init__(self, module, functional):
        self.module, self.F = module, functional

    def __getattr__(self, name):
        return getattr(self.module, name)


TG, TORCH = _Lib(tg, tgF), _Lib(torch, torch.nn.functional)
A = np.array


def pos(*shape):
    """A float input with positive entries (for log, sqrt, ...)."""
    return ("pos", shape)


def const(value):
    """A float input that does not require grad."""
    return ("const", A(value, dtype=np.float64))


def sdpa(M, q, k, v, mask=None, causal=False):
    """The attention output: PyTorch's call (`attn_mask=`, `is_causal=`) or ours (`mask=`,
    `causal=`)."""
    if M is TORCH:
        return M.F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)
    return M.F.attention(q, k, v, mask=mask, causal=causal).out


LABELS = A([0, 4, 2, 2])

# (id, fn(M, *inputs), inputs): a tuple is a random float input of that shape; a float
# array is a float input of the case's dtype; an int or bool array stays as it is.
CASES = [
    # ---------------------------------------------------------------- arithmetic
    ("add", lambda M, x, y: x + y, [(3, 4), (3, 4)]),
    ("add_broadcast_row", lambda M, x, y: x + y, [(3, 4), (4,)]),
    ("add_broadcast_both", lambda M, x, y: x + y, [(3, 1), (1, 4)]),
    ("add_scalar_right", lambda M, x: x + 2.5, [(3,)]),
    ("add_scalar_left", lambda M, x: 2.5 + x, [(3,)]),
    ("add_method", lambda M, x, y: x.add(y), [(2, 3), (3,)]),
    ("sub", lambda M, x, y: x - y, [(2, 3), (2, 3)]),
    ("rsub_scalar", lambda M, x: 1 - x, [(4,)]),
    ("sub_method", lambda M, x, y: x.sub(y), [(2, 3), (2, 1)]),
    ("mul", lambda M, x, y: x * y, [(2, 3), (2, 3)]),
    ("mul_self", lambda M, x: x * x, [(5,)]),
    ("mul_scalar_left", lambda M, x: -3 * x, [(2, 2)]),
    ("mul_method", lambda M, x, y: x.mul(y), [(4, 1), (1, 3)]),
    ("div", lambda M, x, y: x / y, [(3, 3), pos(3, 3)]),
    ("rdiv_scalar", lambda M, x: 2 / x, [pos(4)]),
    ("div_method", lambda M, x, y: x.div(y), [(2, 3), pos(3)]),
    ("neg", lambda M, x: -x, [(3,)]),
    ("neg_method", lambda M, x: x.neg(), [(2, 2)]),
    ("pow_scalar", lambda M, x: x ** 3, [(5,)]),
    ("pow_half", lambda M, x: x ** 0.5, [pos(5)]),
    ("pow_neg", lambda M, x: x ** -1.5, [pos(5)]),
    ("pow_zero_exp", lambda M, x: x ** 0, [(4,)]),
    ("pow_tensor", lambda M, x, y: x ** y, [pos(3, 2), (3, 2)]),
    ("rpow_scalar", lambda M, x: 2.0 ** x, [(4,)]),
    ("pow_method", lambda M, x: x.pow(2), [(3,)]),
    ("pow_neg_base_int_exp", lambda M, x, y: x ** y, [A([-2.0, -3.0, 0.0, 2.0]), A([2.0, 3.0, 0.0, 0.0])]),
    ("pow_zero_base", lambda M, x, y: x ** y, [A([0.0, 0.0]), A([2.0, 0.5])]),
    ("square", lambda M, x: x.square(), [(3,)]),
    ("reciprocal", lambda M, x: x.reciprocal(), [pos(3)]),
    ("micrograd_expr", lambda M, x, y: ((x * 2 + 2 + x) * (x + y).relu() + (y * y).relu()
                                        - (x * y) ** 2 / 2).sum(), [A([-4.0]), A([2.0])]),
    ("micrograd_more", lambda M, a, b: ((a + b) * 2 + (b + 3 + a).relu() / 3 + 10.0 / (a + b + 10)
                                        ).tanh() ** 2, [A([-4.0, 1.5]), A([2.0, -0.5])]),
    ("chain_reuse", lambda M, x: (x * x.exp() - x.tanh() * x).sum(), [(4, 3)]),
    # ------------------------------------------------------------- elementwise
    ("exp", lambda M, x: x.exp(), [(3, 4)]),
    ("log", lambda M, x: x.log(), [pos(3, 4)]),
    ("sqrt", lambda M, x: x.sqrt(), [pos(6)]),
    ("rsqrt", lambda M, x: x.rsqrt(), [pos(6)]),
    ("abs", lambda M, x: x.abs(), [(6,)]),
    ("tanh", lambda M, x: x.tanh(), [(6,)]),
    ("tanh_big", lambda M, x: x.tanh(), [A([-50.0, -20.0, 0.0, 20.0, 50.0])]),
    ("sigmoid", lambda M, x: x.sigmoid(), [(6,)]),
    ("sigmoid_extreme", lambda M, x: x.sigmoid(), [A([-1000.0, -40.0, 0.0, 40.0, 1000.0])]),
    ("relu", lambda M, x: x.relu(), [A([-2.0, -0.5, 0.5, 3.0])]),
    ("silu", lambda M, x: x.silu() if M is TG else M.F.silu(x), [(6,)]),
    ("gelu", lambda M, x: M.F.gelu(x), [(6,)]),
    ("gelu_tanh", lambda M, x: M.F.gelu(x, approximate="tanh"), [(6,)]),
    ("sign", lambda M, x: x.sign(), [A([-2.0, 0.0, 3.0])]),
    ("sin", lambda M, x: x.sin(), [(6,)]),
    ("cos", lambda M, x: x.cos(), [(6,)]),
    ("erf", lambda M, x: x.erf(), [(6,)]),
    ("softplus", lambda M, x: M.F.softplus(x) if M is TORCH else x.softplus(), [(6,)]),
    ("softplus_big", lambda M, x: M.F.softplus(x) if M is TORCH else x.softplus(), [A([-30.0, 25.0, 100.0])]),
    ("leaky_relu", lambda M, x: M.F.leaky_relu(x, 0.2) if M is TORCH else x.leaky_relu(0.2), [(6,)]),
    ("clamp_both", lambda M, x: x.clamp(-0.5, 0.5), [(8,)]),
    ("clamp_min_kw", lambda M, x: x.clamp(min=0.0), [(8,)]),
    ("clamp_max_kw", lambda M, x: x.clamp(max=0.1), [(8,)]),
    ("clip", lambda M, x: x.clip(-1, 1), [(8,)]),
    ("clamp_edges", lambda M, x: x.clamp(-1.0, 1.0), [A([-1.0, 1.0, 0.0, 2.0, -2.0])]),
    ("maximum", lambda M, x, y: M.maximum(x, y), [(3, 4), (3, 4)]),
    ("maximum_ties", lambda M, x, y: M.maximum(x, y), [A([1.0, 2.0, 3.0]), A([1.0, 0.0, 3.0])]),
    ("minimum_broadcast", lambda M, x, y: M.minimum(x, y), [(3, 4), (4,)]),
    ("maximum_method", lambda M, x, y: x.maximum(y), [(5,), (5,)]),
    # ------------------------------------------------------------- reductions
    ("sum_all", lambda M, x: x.sum(), [(3, 4)]),
    ("sum_dim", lambda M, x: x.sum(dim=1), [(3, 4)]),
    ("sum_dim_neg_keepdim", lambda M, x: x.sum(dim=-1, keepdim=True), [(2, 3, 4)]),
    ("sum_axis_kw", lambda M, x: x.sum(axis=0), [(3, 4)]),
    ("sum_positional", lambda M, x: x.sum(1), [(3, 4)]),
    ("sum_tuple", lambda M, x: x.sum(dim=(0, 2)), [(2, 3, 4)]),
    ("sum_tuple_keepdim", lambda M, x: x.sum((0, -1), keepdim=True), [(2, 3, 4)]),
    ("sum_function", lambda M, x: M.sum(x) if M is TORCH else x.sum(), [(3,)]),
    ("sum_0d", lambda M, x: x.sum(), [A(2.0)]),
    ("sum_0d_dim0", lambda M, x: x.sum(0), [A(2.0)]),
    ("sum_0d_dim_neg1", lambda M, x: x.sum(-1), [A(2.0)]),
    ("sum_empty", lambda M, x: x.sum(), [(0,)]),
    ("sum_empty_dim", lambda M, x: x.sum(dim=0), [(0, 3)]),
    ("mean_all", lambda M, x: x.mean(), [(3, 4)]),
    ("mean_dim_keepdim", lambda M, x: x.mean(dim=-1, keepdim=True), [(3, 4)]),
    ("mean_tuple", lambda M, x: x.mean(dim=(1, 2)), [(2, 3, 4)]),
    ("mean_0d_dim0", lambda M, x: x.mean(0), [A(2.0)]),
    ("max_all", lambda M, x: x.max(), [(3, 4)]),
    ("amax_dim", lambda M, x: M.amax(x, dim=1) if M is TORCH else x.amax(dim=1), [(3, 4)]),
    ("amax_ties", lambda M, x: M.amax(x) if M is TORCH else x.max(), [A([1.0, 3.0, 3.0, 2.0])]),
    ("amax_0d", lambda M, x: M.amax(x, 0) if M is TORCH else x.amax(0), [A(5.0)]),
    ("amin_tuple", lambda M, x: M.amin(x, (0, 1)) if M is TORCH else x.amin((0, 1)), [(2, 3, 4)]),
    ("min_all", lambda M, x: x.min(), [(3, 4)]),
    ("argmax", lambda M, x: x.argmax(), [(3, 4)]),
    ("argmax_dim", lambda M, x: x.argmax(dim=1), [(3, 4)]),
    ("argmax_dim_keepdim", lambda M, x: x.argmax(dim=-1, keepdim=True), [(3, 4)]),
    ("argmin_dim", lambda M, x: x.argmin(dim=0), [(3, 4)]),
    ("argmax_ties_first", lambda M, x: x.argmax(), [A([1.0, 3.0, 3.0])]),
    ("var_default", lambda M, x: x.var(correction=0), [(3, 4)]),
    ("var_unbiased_dim", lambda M, x: x.var(dim=1, correction=1), [(3, 4)]),
    ("var_keepdim", lambda M, x: x.var(dim=-1, keepdim=True, correction=0), [(3, 4)]),
    ("var_tuple", lambda M, x: x.var(dim=(0, 1), correction=1), [(3, 4, 2)]),
    ("var_correction_ge_n", lambda M, x: x.var(correction=3), [(3,)]),
    ("std", lambda M, x: x.std(), [(3, 4)]),
    ("std_dim", lambda M, x: x.std(dim=0), [(3, 4)]),
    ("std_keepdim", lambda M, x: x.std(dim=1, keepdim=True), [(3, 4)]),
    ("prod_all", lambda M, x: x.prod(), [(5,)]),
    ("prod_dim", lambda M, x: x.prod(dim=1), [(3, 4)]),
    ("prod_one_zero", lambda M, x: x.prod(), [A([2.0, 0.0, 3.0, -1.0])]),
    ("prod_two_zeros", lambda M, x: x.prod(), [A([2.0, 0.0, 3.0, 0.0])]),
    ("prod_zeros_dim", lambda M, x: x.prod(dim=1, keepdim=True), [A([[0.0, 2.0, 3.0], [0.0, 0.0, 1.0],
                                                                     [1.0, 2.0, 3.0]])]),
    ("cumsum", lambda M, x: x.cumsum(dim=0), [(5,)]),
    ("cumsum_dim1", lambda M, x: x.cumsum(1), [(3, 4)]),
    ("cumsum_neg", lambda M, x: x.cumsum(dim=-1), [(2, 3, 4)]),
    ("cumsum_with_zeros", lambda M, x: x.cumsum(0), [A([0.0, 0.0, 1.0, 0.0])]),
    ("logsumexp", lambda M, x: x.logsumexp(dim=-1), [(3, 4)]),
    ("logsumexp_keepdim", lambda M, x: x.logsumexp(dim=0, keepdim=True), [(3, 4)]),
    ("logsumexp_big", lambda M, x: x.logsumexp(dim=-1), [A([[1000.0, 1000.0], [-1000.0, 0.0]])]),
    ("logsumexp_tuple", lambda M, x: x.logsumexp(dim=(0, 1)), [(2, 3)]),
    ("logsumexp_neg_inf", lambda M, x: x.masked_fill(x < 0, float("-inf")).logsumexp(-1),
     [A([[0.5, -1.0, 2.0], [1.0, 3.0, -2.0]])]),
    # ------------------------------------------------------------- normalised
    ("softmax", lambda M, x: x.softmax(dim=-1), [(3, 5)]),
    ("softmax_dim0", lambda M, x: x.softmax(0), [(3, 5)]),
    ("softmax_F", lambda M, x: M.F.softmax(x, dim=1), [(2, 3, 4)]),
    ("softmax_extreme", lambda M, x: x.softmax(-1), [A([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]])]),
    ("softmax_inf_masked", lambda M, x: x.masked_fill(x > 1, float("-inf")).softmax(-1),
     [A([[0.5, 2.0, -1.0], [3.0, 0.0, 0.2]])]),
    ("log_softmax", lambda M, x: x.log_softmax(dim=-1), [(3, 5)]),
    ("log_softmax_F", lambda M, x: M.F.log_softmax(x, dim=0), [(3, 5)]),
    ("log_softmax_extreme", lambda M, x: x.log_softmax(-1), [A([[1e4, -1e4, 0.0], [5.0, 5.0, 5.0]])]),
    # ------------------------------------------------------------------- shape
    ("reshape", lambda M, x: x.reshape(4, 3), [(3, 4)]),
    ("reshape_tuple_neg1", lambda M, x: x.reshape((-1, 2)), [(3, 4)]),
    ("view", lambda M, x: x.view(2, -1), [(3, 4)]),
    ("view_0d", lambda M, x: x.view(1, 1), [A(3.0)]),
    ("reshape_empty", lambda M, x: x.reshape(0, 2), [(2, 0)]),
    ("transpose", lambda M, x: x.transpose(0, 1), [(3, 4)]),
    ("transpose_neg", lambda M, x: x.transpose(-2, -1), [(2, 3, 4)]),
    ("T", lambda M, x: x.T, [(3, 4)]),
    ("permute", lambda M, x: x.permute(2, 0, 1), [(2, 3, 4)]),
    ("permute_tuple_neg", lambda M, x: x.permute((0, -1, 1)), [(2, 3, 4)]),
    ("unsqueeze", lambda M, x: x.unsqueeze(0), [(3,)]),
    ("unsqueeze_neg", lambda M, x: x.unsqueeze(-1), [(3, 2)]),
    ("squeeze_all", lambda M, x: x.squeeze(), [(1, 3, 1)]),
    ("squeeze_dim", lambda M, x: x.squeeze(0), [(1, 3, 1)]),
    ("squeeze_dim_not_one", lambda M, x: x.squeeze(1), [(1, 3, 1)]),
    ("flatten", lambda M, x: x.flatten(), [(2, 3, 4)]),
    ("flatten_start", lambda M, x: x.flatten(1), [(2, 3, 4)]),
    ("flatten_range", lambda M, x: x.flatten(0, 1), [(2, 3, 4)]),
    ("flatten_0d", lambda M, x: x.flatten(), [A(1.5)]),
    ("unflatten", lambda M, x: x.unflatten(1, (3, 2)), [(2, 6)]),
    ("split_nanogpt_qkv", lambda M, x: (lambda q, k, v: q * k - v)(*x.split(4, dim=2)), [(2, 3, 12)]),
    ("split_uneven", lambda M, x: M.cat(x.split(2)[::-1]), [(5, 2)]),
    ("split_sizes", lambda M, x: M.cat(x.split([1, 3], dim=-1)[::-1], dim=-1), [(2, 4)]),
    ("chunk", lambda M, x: M.cat(x.chunk(3, dim=1)[::-1], dim=1), [(2, 7)]),
    ("chunk_fewer", lambda M, x: M.stack([c.sum() for c in x.chunk(4)]), [(3, 2)]),
    ("chunk_empty", lambda M, x: M.stack(x.chunk(2, dim=1), dim=0), [(2, 0)]),
    ("split_empty", lambda M, x: M.stack(x.split(2)), [(0, 3)]),
    ("refuse_split_sizes", lambda M, x: x.split([1, 1]), [(3,)]),
    ("expand", lambda M, x: x.expand(3, 4), [(1, 4)]),
    ("expand_neg1", lambda M, x: x.expand(2, -1, 4), [(3, 1)]),
    ("clone", lambda M, x: x.clone() * 2, [(3,)]),
    ("contiguous", lambda M, x: x.transpose(0, 1).contiguous().reshape(-1), [(2, 3)]),
    ("flip", lambda M, x: x.flip(0), [(3, 4)]),
    ("flip_dims", lambda M, x: x.flip((0, -1)), [(3, 4)]),
    ("tril", lambda M, x: M.tril(x), [(4, 4)]),
    ("tril_diag", lambda M, x: x.tril(-1), [(3, 5)]),
    ("triu", lambda M, x: M.triu(x, 1), [(4, 3)]),
    ("triu_batched", lambda M, x: x.triu(), [(2, 3, 3)]),
    # ----------------------------------------------------------------- indexing
    ("index_int", lambda M, x: x[1], [(3, 4)]),
    ("index_neg_int", lambda M, x: x[-1], [(3, 4)]),
    ("index_slice", lambda M, x: x[1:, ::2], [(3, 4)]),
    ("index_ellipsis", lambda M, x: x[..., 0], [(2, 3, 4)]),
    ("index_none", lambda M, x: x[None, :, None], [(3,)]),
    ("index_list", lambda M, x: x[[0, 2, 0]], [(3, 4)]),
    ("index_int_array_repeat", lambda M, x, i: x[i], [(4, 2), A([3, 0, 3, 3])]),
    ("index_two_arrays", lambda M, x, i, j: x[i, j], [(3, 4), A([0, 2, 1]), A([3, 3, 0])]),
    ("index_int_slice_array", lambda M, x, i: x[1, :, i], [(2, 3, 4), A([0, 2])]),
    ("index_bool_mask", lambda M, x: x[x > 0], [A([[1.0, -2.0], [-3.0, 4.0]])]),
    ("index_tensor_idx", lambda M, x, i: x[:, i], [(3, 4), A([1, 1, 2])]),
    ("index_nanogpt_last", lambda M, x: x[:, -1, :], [(2, 3, 4)]),
    ("index_tril_slice", lambda M, x: x[:2, :2], [(4, 4)]),
    ("masked_fill", lambda M, x: x.masked_fill(x < 0, 0.0), [(3, 4)]),
    ("masked_fill_neg_inf_softmax", lambda M, x: x.masked_fill(
        M.tril(M.ones(3, 3, dtype=x.dtype)) == 0, float("-inf")).softmax(-1), [(2, 3, 3)]),
    ("masked_fill_broadcast", lambda M, x, m: x.masked_fill(m, -1.0), [(2, 3), A([True, False, True])]),
    ("where", lambda M, x, y: M.where(x > 0, x, y), [(3, 4), (3, 4)]),
    ("where_scalar_right", lambda M, x: M.where(x > 0, x, 0.0), [(3, 4)]),
    ("where_scalar_left", lambda M, x: M.where(x > 0, 1.0, x), [(3, 4)]),
    ("where_broadcast", lambda M, x, y: M.where(x > 0, x, y), [(3, 4), (4,)]),
    ("gather_dim1", lambda M, x, i: x.gather(1, i), [(3, 4), A([[0, 0], [1, 3], [2, 1]])]),
    ("gather_dim0", lambda M, x, i: x.gather(0, i), [(3, 4), A([[2, 1, 0, 0]])]),
    ("gather_neg_dim", lambda M, x, i: x.gather(-1, i), [(2, 3), A([[2], [0]])]),
    ("gather_function", lambda M, x, i: M.gather(x, 1, i) if M is TORCH else x.gather(1, i),
     [(2, 3), A([[1, 1, 1], [0, 2, 0]])]),
    # --------------------------------------------------------------- matmul
    ("matmul_2d", lambda M, x, y: x @ y, [(3, 4), (4, 5)]),
    ("matmul_1d_1d", lambda M, x, y: x @ y, [(4,), (4,)]),
    ("matmul_1d_2d", lambda M, x, y: x @ y, [(4,), (4, 3)]),
    ("matmul_2d_1d", lambda M, x, y: x @ y, [(3, 4), (4,)]),
    ("matmul_batched", lambda M, x, y: x @ y, [(2, 3, 4), (2, 4, 5)]),
    ("matmul_batched_broadcast", lambda M, x, y: x @ y, [(2, 3, 4), (4, 5)]),
    ("matmul_batch_bcast_both", lambda M, x, y: x.matmul(y), [(2, 1, 3, 4), (5, 4, 2)]),
    ("matmul_1d_batched", lambda M, x, y: x @ y, [(4,), (2, 4, 3)]),
    ("matmul_batched_1d", lambda M, x, y: x @ y, [(2, 3, 4), (4,)]),
    ("matmul_function", lambda M, x, y: M.matmul(x, y) if M is TORCH else x.matmul(y), [(2, 3), (3, 2)]),
    ("matmul_zero_inner", lambda M, x, y: x @ y, [(3, 0), (0, 2)]),
    ("matmul_zero_outer", lambda M, x, y: x @ y, [(0, 3), (3, 2)]),
    ("matmul_transpose", lambda M, x, y: x @ y.T, [(3, 4), (5, 4)]),
    ("attention_scores", lambda M, q, k: (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(4)),
     [(2, 2, 3, 4), (2, 2, 3, 4)]),
    ("outer", lambda M, x, y: M.outer(x, y), [(3,), (4,)]),
    ("dot", lambda M, x, y: M.dot(x, y), [(5,), (5,)]),
    ("einsum_matmul", lambda M, x, y: M.einsum("ij,jk->ik", x, y), [(2, 3), (3, 4)]),
    ("einsum_attention_qk", lambda M, q, k: M.einsum("bhqd,bhkd->bhqk", q, k), [(2, 2, 3, 4), (2, 2, 5, 4)]),
    ("einsum_attention_av", lambda M, a, v: M.einsum("bhqk,bhkd->bhqd", a, v), [(2, 2, 3, 5), (2, 2, 5, 4)]),
    ("einsum_implicit", lambda M, x, y: M.einsum("ij,jk", x, y), [(2, 3), (3, 4)]),
    ("einsum_transpose", lambda M, x: M.einsum("ij->ji", x), [(2, 3)]),
    ("einsum_sum", lambda M, x: M.einsum("ij->", x), [(2, 3)]),
    ("einsum_ellipsis", lambda M, x, y: M.einsum("...ij,...jk->...ik", x, y), [(2, 3, 4), (2, 4, 2)]),
    ("einsum_outer", lambda M, x, y: M.einsum("i,j->ij", x, y), [(3,), (2,)]),
    ("einsum_bilinear", lambda M, x, w, y: M.einsum("bi,ij,bj->b", x, w, y), [(2, 3), (3, 4), (2, 4)]),
    ("einsum_list_operands", lambda M, x, y: M.einsum("bi,bi->b", [x, y]), [(3, 4), (3, 4)]),
    # ---------------------------------------------------------------- joining
    ("cat", lambda M, x, y: M.cat([x, y]), [(2, 3), (1, 3)]),
    ("cat_dim1", lambda M, x, y: M.cat((x, y), dim=1), [(2, 3), (2, 2)]),
    ("cat_neg", lambda M, x, y: M.cat([x, y, x], -1), [(2, 3), (2, 1)]),
    ("cat_empty_part", lambda M, x, y: M.cat([x, y]), [(0, 3), (2, 3)]),
    ("stack", lambda M, x, y: M.stack([x, y]), [(2, 3), (2, 3)]),
    ("stack_dim_neg", lambda M, x, y: M.stack([x, y], dim=-1), [(2, 3), (2, 3)]),
    ("stack_dim1", lambda M, x, y: M.stack((x, y, x), 1), [(2,), (2,)]),
    # ------------------------------------------------------------------- nn.F
    ("F_relu", lambda M, x: M.F.relu(x), [(6,)]),
    ("F_linear", lambda M, x, w, b: M.F.linear(x, w, b), [(2, 3), (4, 3), (4,)]),
    ("F_linear_nobias", lambda M, x, w: M.F.linear(x, w), [(2, 5, 3), (4, 3)]),
    ("F_layer_norm", lambda M, x, w, b: M.F.layer_norm(x, (4,), w, b), [(2, 3, 4), (4,), (4,)]),
    ("F_layer_norm_noaffine", lambda M, x: M.F.layer_norm(x, (4,)), [(3, 4)]),
    ("F_mse", lambda M, x, y: M.F.mse_loss(x, y), [(3, 4), (3, 4)]),
    ("F_mse_sum", lambda M, x, y: M.F.mse_loss(x, y, reduction="sum"), [(3, 4), (3, 4)]),
    ("F_mse_none", lambda M, x, y: M.F.mse_loss(x, y, reduction="none"), [(3,), (3,)]),
    ("F_mse_shapes_differ", lambda M, x, y: M.F.mse_loss(x, y), [(4, 1), (4,)]),
    ("F_cross_entropy", lambda M, x, t: M.F.cross_entropy(x, t), [(4, 5), LABELS]),
    ("F_cross_entropy_sum", lambda M, x, t: M.F.cross_entropy(x, t, reduction="sum"), [(4, 5), LABELS]),
    ("F_cross_entropy_none", lambda M, x, t: M.F.cross_entropy(x, t, reduction="none"), [(4, 5), LABELS]),
    ("F_cross_entropy_ignore", lambda M, x, t: M.F.cross_entropy(x, t, ignore_index=0),
     [(4, 5), A([0, 4, 0, 2])]),
    ("F_cross_entropy_smooth", lambda M, x, t: M.F.cross_entropy(x, t, label_smoothing=0.1),
     [(4, 5), A([0, 4, 3, 2])]),
    ("F_cross_entropy_probs", lambda M, x, p: M.F.cross_entropy(x, p), [(3, 4), const([[0.1, 0.2, 0.3, 0.4],
                                                                          [1.0, 0, 0, 0], [0.25] * 4])]),
    ("F_cross_entropy_extreme", lambda M, x, t: M.F.cross_entropy(x, t),
     [A([[1e4, -1e4], [0.0, 3e3]]), A([1, 0])]),
    ("F_cross_entropy_nanogpt_view", lambda M, x, t: M.F.cross_entropy(x.view(-1, x.shape[-1]), t.view(-1)),
     [(2, 3, 5), A([[0, 1, 4], [2, 2, 3]])]),
    ("F_cross_entropy_classes_axis1", lambda M, x, t: M.F.cross_entropy(x, t),
     [(2, 5, 3), A([[0, 4, 1], [2, 2, 3]])]),
    ("F_cross_entropy_classes_last", lambda M, x, t: M.F.cross_entropy(x.transpose(1, -1), t) if M is TORCH
     else M.F.cross_entropy(x, t), [(2, 3, 5), A([[0, 4, 1], [2, 2, 3]])]),
    ("F_nll_loss_classes_axis1", lambda M, x, t: M.F.nll_loss(x, t), [(2, 4, 3), A([[0, 3, 1], [2, 2, 3]])]),
    ("F_nll_loss", lambda M, x, t: M.F.nll_loss(x.log_softmax(-1), t), [(4, 3), A([0, 2, 1, 1])]),
    ("F_nll_loss_sum", lambda M, x, t: M.F.nll_loss(x, t, reduction="sum"), [(4, 3), A([0, 2, 1, 1])]),
    ("F_bce", lambda M, x, y: M.F.binary_cross_entropy(x.sigmoid(), y),
     [(5,), const([0.0, 1.0, 1.0, 0.0, 0.5])]),
    ("F_bce_logits", lambda M, x, y: M.F.binary_cross_entropy_with_logits(x, y),
     [(5,), const([0.0, 1.0, 1.0, 0.0, 0.5])]),
    ("F_bce_logits_extreme", lambda M, x, y: M.F.binary_cross_entropy_with_logits(x, y),
     [A([-200.0, 200.0, 0.0]), const([1.0, 0.0, 1.0])]),
    ("F_bce_logits_none", lambda M, x, y: M.F.binary_cross_entropy_with_logits(x, y, reduction="none"),
     [(2, 3), const([[0.0, 1.0, 1.0], [1.0, 0.0, 0.3]])]),
    ("F_sdpa", lambda M, q, k, v: sdpa(M, q, k, v), [(2, 3, 4), (2, 5, 4), (2, 5, 4)]),
    ("F_sdpa_causal", lambda M, q, k, v: sdpa(M, q, k, v, causal=True),
     [(1, 2, 4, 3), (1, 2, 4, 3), (1, 2, 4, 3)]),
    ("F_sdpa_bool_mask", lambda M, q, k, v, m: sdpa(M, q, k, v, m),
     [(2, 3, 4), (2, 3, 4), (2, 3, 4), A([[True, False, True], [True, True, False], [False, True, True]])]),
    ("F_sdpa_float_mask", lambda M, q, k, v, m: sdpa(M, q, k, v, m),
     [(2, 3, 4), (2, 3, 4), (2, 3, 4), const([[0.0, -1.0, 0.5], [0.0, 0.0, -2.0], [-1e9, 0.0, 0.0]])]),
    ("F_sdpa_empty_seq", lambda M, q, k, v: sdpa(M, q, k, v), [(2, 0, 4), (2, 0, 4), (2, 0, 4)]),
    ("F_sdpa_causal_empty", lambda M, q, k, v: sdpa(M, q, k, v, causal=True),
     [(1, 0, 3), (1, 0, 3), (1, 0, 3)]),
    ("F_softmax_dim_kw", lambda M, x: M.F.softmax(x, dim=-1), [(2, 3)]),
    ("F_gelu_tanh", lambda M, x: M.F.gelu(x, approximate="tanh"), [(2, 3)]),
    ("F_silu", lambda M, x: M.F.silu(x), [(4,)]),
    ("F_dropout_eval", lambda M, x: M.F.dropout(x, 0.5, training=False), [(4,)]),
    ("F_dropout_p0", lambda M, x: M.F.dropout(x, 0.0), [(4,)]),
    ("F_embedding", lambda M, i, w: M.F.embedding(i, w), [A([[0, 2], [2, 1]]), (3, 4)]),
    ("nn_Tanh", lambda M, x: M.nn.Tanh()(x), [(2, 3)]),
    ("nn_Sigmoid", lambda M, x: M.nn.Sigmoid()(x), [(2, 3)]),
    ("nn_ReLU", lambda M, x: M.nn.ReLU()(x), [(2, 3)]),
    ("nn_GELU", lambda M, x: M.nn.GELU()(x), [(2, 3)]),
    ("nn_GELU_tanh", lambda M, x: M.nn.GELU(approximate="tanh")(x), [(2, 3)]),
    ("nn_SiLU", lambda M, x: M.nn.SiLU()(x), [(2, 3)]),
    ("nn_LayerNorm_tuple", lambda M, x: M.nn.LayerNorm((4,)).to(x.dtype)(x) if M is TORCH
     else M.nn.LayerNorm((4,)).to(x.dtype)(x), [(2, 3, 4)]),
    ("nn_LayerNorm_2d_shape", lambda M, x: M.F.layer_norm(x, (3, 4)), [(2, 3, 4)]),
    # ------------------------------------------------------- tutorial lines
    ("nanogpt_head", lambda M, q, k, v: (
        (q @ k.transpose(-2, -1) * k.shape[-1] ** -0.5)
        .masked_fill(M.tril(M.ones(4, 4))[:3, :3] == 0, float("-inf"))
        .softmax(dim=-1) @ v), [(2, 3, 4), (2, 3, 4), (2, 3, 4)]),
    ("nanogpt_loss", lambda M, x, t: M.F.cross_entropy(x.view(6, 5), t.view(6)),
     [(2, 3, 5), A([[0, 1, 4], [2, 2, 3]])]),
    ("handmade_layer_norm", lambda M, x: (x - x.mean(-1, keepdim=True))
     * (((x - x.mean(-1, keepdim=True)) ** 2).mean(-1, keepdim=True) + 1e-5).rsqrt(), [(3, 4)]),
    ("handmade_softmax", lambda M, x: x.exp() / x.exp().sum(-1, keepdim=True), [(3, 4)]),
    ("handmade_cross_entropy", lambda M, x, t: -x.log_softmax(-1).gather(1, t.unsqueeze(1)).mean(),
     [(4, 3), A([0, 2, 1, 1])]),
    ("handmade_mse", lambda M, x, y: ((x - y) ** 2).mean(), [(5,), (5,)]),
    ("relu_via_bool_mask", lambda M, x: x * (x > 0), [(6,)]),
    ("relu_via_float_mask", lambda M, x: x * (x > 0).float(), [(6,)]),
    ("clamp_then_log", lambda M, x: x.clamp(min=1e-8).log(), [(6,)]),
    ("norm_by_hand", lambda M, x: x.pow(2).sum(dim=1).sqrt(), [(3, 4)]),
    ("sum_of_sums", lambda M, x: x.sum(0).sum(0), [(2, 3, 4)]),
    ("three_way_broadcast", lambda M, x, y, z: x + y * z, [(2, 1, 3), (4, 1), (3,)]),
    ("permute_then_view", lambda M, x: x.permute(1, 0, 2).reshape(3, -1), [(2, 3, 4)]),
    ("reduce_then_broadcast", lambda M, x: x - x.max(dim=-1, keepdim=True).values, [(3, 4)]),
    ("one_hot_by_compare", lambda M, x, t: (x * (M.arange(4) == t.unsqueeze(-1))).sum(-1),
     [(3, 4), A([0, 3, 1])]),
    ("mean_of_argmax_match", lambda M, x, t: (x.argmax(-1) == t).float().mean(),
     [(5, 3), A([0, 1, 2, 0, 1])]),
    ("scalar_first_ops", lambda M, x: (2 - x) / (3 + x.exp()) * 0.5, [(4,)]),
    ("int_tensor_index_of_float", lambda M, x, i: x[i] * 2, [(5, 2), A(3)]),
    ("softmax_then_log", lambda M, x: x.softmax(-1).log(), [(2, 3)]),
    ("attention_float_mask_add", lambda M, s, m: (s + m).softmax(-1), [(2, 3, 3), const(
        [[0.0, float("-inf"), float("-inf")], [0.0, 0.0, float("-inf")], [0.0, 0.0, 0.0]])]),
    ("tanh_of_linear", lambda M, x, w, b: (x @ w.T + b).tanh(), [(4, 3), (2, 3), (2,)]),
    ("mask_and", lambda M, x: x.masked_fill((x > 0) & (x < 1), 0.0), [(3, 4)]),
    ("mask_or_not", lambda M, x: x.masked_fill(~((x < -1) | (x > 1)), 5.0), [(3, 4)]),
    ("mask_xor_scalar", lambda M, x: M.where((x > 0) ^ True, x, -x), [(6,)]),
    ("mask_and_causal_padding", lambda M, s, p: s.masked_fill(~(M.tril(M.ones(3, 3)) == 1) | p, float("-inf"))
     .softmax(-1), [(2, 3, 3), A([[False, False, True], [False, False, False]]).reshape(2, 1, 3)]),
    ("int_bitwise_and", lambda M, x: x & 6, [A([3, 5, 7])]),
    ("compare_methods", lambda M, x: M.stack([x.eq(0), x.ne(0), x.lt(0), x.le(0), x.gt(0), x.ge(0)]),
     [A([-1.0, 0.0, 2.0])]),
    ("isnan_isinf_isfinite", lambda M, x: M.stack([(x / x).isnan(), (1 / x).isinf(), (1 / x).isfinite()]),
     [A([0.0, 1.0, -2.0])]),
    ("amax_method", lambda M, x: x.amax(dim=1), [(3, 4)]),
    ("amin_method_keepdim", lambda M, x: x.amin(dim=(0, 1), keepdim=True), [(2, 3, 4)]),
    ("t_method", lambda M, x: x.t(), [(3, 4)]),
    ("t_method_1d", lambda M, x: x.t(), [(3,)]),
    ("transpose_dim0_dim1", lambda M, x: x.transpose(dim0=0, dim1=2), [(2, 3, 4)]),
    ("var_unbiased_false", lambda M, x: x.var(dim=-1, keepdim=True, unbiased=False), [(3, 4)]),
    ("var_unbiased_true", lambda M, x: x.var(unbiased=True), [(3, 4)]),
    ("std_unbiased_false", lambda M, x: x.std(dim=0, unbiased=False), [(3, 4)]),
    ("refuse_float_and", lambda M, x: x & x, [(3,)]),
    ("refuse_float_invert", lambda M, x: ~x, [(3,)]),
    ("refuse_t_3d", lambda M, x: x.t(), [(2, 3, 4)]),
    # ------------------------------------------------ values at the edges
    ("abs_grad_at_zero", lambda M, x: x.abs(), [A([0.0, -1.0, 2.0])]),
    ("relu_grad_at_zero", lambda M, x: x.relu(), [A([0.0, -1.0, 2.0])]),
    ("sqrt_at_zero", lambda M, x: x.sqrt(), [A([0.0, 4.0])]),
    ("sqrt_negative_nan", lambda M, x: x.sqrt(), [A([-1.0, 4.0])]),
    ("log_at_zero", lambda M, x: x.log(), [A([0.0, 1.0])]),
    ("exp_overflow", lambda M, x: x.exp(), [A([1e3, 0.0])]),
    ("div_by_zero", lambda M, x, y: x / y, [A([1.0, -1.0, 0.0]), A([0.0, 0.0, 2.0])]),
    ("pow_sq_at_zero", lambda M, x: x ** 2, [A([0.0, -3.0])]),
    ("pow_half_at_zero", lambda M, x: x ** 0.5, [A([0.0, 4.0])]),
    ("pow_zero_neg_exp", lambda M, x: x ** -1, [A([0.0, 2.0])]),
    ("pow_inf_zero", lambda M, x, y: x ** y, [A([float("inf"), 2.0]), A([0.0, 0.0])]),
    ("softmax_all_masked_row", lambda M, x: x.masked_fill(x < 10, float("-inf")).softmax(-1),
     [A([[0.0, 1.0], [20.0, 0.0]])]),
    ("prod_empty", lambda M, x: x.prod(), [(0,)]),
    ("prod_0d", lambda M, x: x.prod(), [A(3.0)]),
    ("cumsum_0d", lambda M, x: x.cumsum(0), [A(3.0)]),
    ("amin_ties", lambda M, x: M.amin(x) if M is TORCH else x.min(), [A([2.0, 1.0, 1.0])]),
    ("mean_empty_nan", lambda M, x: x.mean(), [(0,)]),
    ("int_matmul", lambda M, x, y: x @ y, [A([[1, 2], [3, 4]]), A([[1], [-1]])]),
    ("int_pow", lambda M, x: x ** 2, [A([1, -2, 3])]),
    # -------------------------------------------- PyTorch refuses, so must we
    ("refuse_f32_at_f64", lambda M, x, y: x.float() @ y.double(), [(2, 3), (3, 2)]),
    ("refuse_sum_dim_range", lambda M, x: x.sum(dim=2), [(2, 3)]),
    ("refuse_reshape_size", lambda M, x: x.reshape(5), [(2, 3)]),
    ("refuse_view_two_neg1", lambda M, x: x.view(-1, -1), [(2, 3)]),
    ("refuse_expand_non_one", lambda M, x: x.expand(2, 3), [(3, 2)]),
    ("refuse_cat_empty_list", lambda M, x: M.cat([]), [(2,)]),
    ("refuse_cat_shapes", lambda M, x, y: M.cat([x, y], dim=1), [(2, 3), (3, 3)]),
    ("refuse_stack_shapes", lambda M, x, y: M.stack([x, y]), [(2, 3), (3, 3)]),
    ("refuse_gather_range", lambda M, x, i: x.gather(1, i), [(2, 3), A([[0], [3]])]),
    ("refuse_index_range", lambda M, x: x[5], [(2, 3)]),
    ("refuse_softmax_dim", lambda M, x: x.softmax(dim=3), [(2, 3)]),
    ("refuse_unsqueeze_dim", lambda M, x: x.unsqueeze(4), [(2, 3)]),
    ("refuse_permute_repeat", lambda M, x: x.permute(0, 0), [(2, 3)]),
    ("refuse_transpose_dim", lambda M, x: x.transpose(0, 5), [(2, 3)]),
    ("refuse_flatten_order", lambda M, x: x.flatten(2, 1), [(2, 3, 4)]),
    ("refuse_float_mask", lambda M, x: x.masked_fill(x * 0, 1.0), [(2, 3)]),
    ("refuse_float_cond", lambda M, x: M.where(x, x, x), [(2, 3)]),
    ("refuse_clamp_nothing", lambda M, x: x.clamp(), [(2, 3)]),
    ("refuse_matmul_inner", lambda M, x, y: x @ y, [(2, 3), (2, 3)]),
    ("refuse_matmul_0d", lambda M, x, y: x @ y, [A(2.0), (3,)]),
    ("refuse_broadcast", lambda M, x, y: x + y, [(2, 3), (2,)]),
    ("refuse_einsum_count", lambda M, x: M.einsum("ij,jk->ik", x), [(2, 3)]),
    ("refuse_ce_target_range", lambda M, x, t: M.F.cross_entropy(x, t), [(2, 3), A([0, 3])]),
    ("refuse_int_requires_grad_backward", lambda M, x: x.sum().backward(), [A([1, 2])]),
    # ---------------------------------------------------------------- dtypes
    ("int_plus_float_scalar", lambda M, x: x + 1.5, [A([1, 2, 3])]),
    ("int_times_int", lambda M, x: x * 2, [A([1, 2, 3])]),
    ("int_div_int", lambda M, x: x / 2, [A([1, 2, 3])]),
    ("int_plus_float_tensor", lambda M, x, y: x + y, [A([1, 2, 3]), (3,)]),
    ("float_plus_int_tensor", lambda M, x, y: x * y, [(3,), A([1, 2, 3])]),
    ("bool_plus_int", lambda M, x: (x > 1) + 1, [A([1, 2, 3])]),
    ("int_mean", lambda M, x: x.float().mean(), [A([1, 2, 4])]),
    ("int_sum", lambda M, x: x.sum(), [A([[1, 2], [3, 4]])]),
    ("int_max_dim", lambda M, x: M.amax(x, 0) if M is TORCH else x.amax(0), [A([[1, 5], [3, 4]])]),
    ("int_cumsum", lambda M, x: x.cumsum(0), [A([1, 2, 3])]),
    ("int_argmax", lambda M, x: x.argmax(), [A([1, 7, 3])]),
    ("int_exp_is_float", lambda M, x: x.exp(), [A([0, 1, 2])]),
    ("int_neg_abs", lambda M, x: (-x).abs(), [A([1, -2, 3])]),
    ("int_compare", lambda M, x: x >= 2, [A([1, 2, 3])]),
    ("bool_sum", lambda M, x: (x > 0).sum(), [(10,)]),
    ("float_eq_zero", lambda M, x: x == 0, [A([0.0, 1.0, 0.0])]),
    ("compare_tensor_tensor", lambda M, x, y: x < y, [(3, 4), (4,)]),
    ("compare_scalar_left", lambda M, x: 0 < x, [(5,)]),
    ("cat_float_and_double_as_case", lambda M, x, y: M.cat([x, y.double()]), [(2,), (3,)]),
    ("stack_int_float", lambda M, x, y: M.stack([x, y]), [A([1, 2]), (2,)]),
    ("cast_float_double_grad", lambda M, x: (x.double() * 2).float(), [(3,)]),
    ("zeros_dtype", lambda M, x: M.zeros(2, 3, dtype=x.dtype) + x, [(3,)]),
    ("ones_tuple_shape", lambda M, x: M.ones((2, 3), dtype=x.dtype) * x, [(2, 1)]),
    ("zeros_like_plus", lambda M, x: M.zeros_like(x) + x, [(3,)]),
    ("ones_like_int", lambda M, x: M.ones_like(x), [A([1, 2])]),
    ("full", lambda M, x: M.full((2, 2), 3.0, dtype=x.dtype) * x, [(2,)]),
    ("full_int", lambda M, x: M.full((2,), 7) + x, [A([1, 2])]),
    ("arange_start_stop", lambda M, x: M.arange(2, 5) * x, [A([1, 2, 3])]),
    ("arange_step_float", lambda M, x: M.arange(0, 1, 0.25) + x, [A([1, 1, 1, 1])]),
    ("arange_n", lambda M, x: M.arange(4) + x, [(4,)]),
    ("tensor_from_list", lambda M, x: M.tensor([1.0, 2.0]) * 0 + M.tensor([3, 4]), [(1,)]),
    # --------------------------------------------------------------- 0-d / empty
    ("zero_d_ops", lambda M, x, y: (x * y + x.exp()) / y, [A(1.5), A(-2.0)]),
    ("zero_d_with_vector", lambda M, x, y: x * y, [A(2.0), (3,)]),
    ("empty_elementwise", lambda M, x: (x * 2).exp(), [(0, 3)]),
    ("empty_mean_dim1", lambda M, x: x.mean(dim=1), [(0, 3)]),
    ("empty_softmax", lambda M, x: x.softmax(-1), [(0, 3)]),
    ("empty_matmul_batched", lambda M, x, y: x @ y, [(2, 0, 3), (3, 4)]),
    ("max_empty_refused", lambda M, x: x.max(), [(0,)]),
    ("empty_attention", lambda M, q, k, v: (q @ k.transpose(-2, -1)).softmax(-1) @ v,
     [(1, 0, 4), (1, 0, 4), (1, 0, 4)]),
]


# Where PyTorch computes but we refuse on purpose (docs/engine.md, "Different on purpose"):
# the case must raise a clear error whose message contains this text.
REFUSED = {"F_mse_shapes_differ": "(4, 1) and target of shape (4,)",
           "F_cross_entropy_classes_axis1": "pass x.transpose(1, -1)",
           "F_nll_loss_classes_axis1": "pass x.transpose(1, -1)"}


def _input(spec, dtype, rng):
    """(our tensor, torch's tensor) for one input spec."""
    if isinstance(spec, np.ndarray) and spec.dtype.kind in "biu":
        return tg.tensor(spec), torch.tensor(spec)
    grad = True
    if isinstance(spec, tuple) and spec and spec[0] == "pos":
        data = np.abs(rng.standard_normal(spec[1])) + 0.5
    elif isinstance(spec, tuple) and spec and spec[0] == "const":
        data, grad = spec[1], False
    elif isinstance(spec, tuple):
        data = rng.standard_normal(spec)
    else:
        data = spec
    data = np.asarray(data, dtype=dtype)
    return (tg.tensor(data, dtype=dtype, requires_grad=grad),
            torch.tensor(data, requires_grad=grad))


def _check_close(ours, theirs, what):
    theirs = theirs.detach().numpy()
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape}, PyTorch's {theirs.shape}"
    if theirs.dtype.kind != "f":
        np.testing.assert_array_equal(ours, theirs, err_msg=what)
        return
    rtol = 1e-10 if ours.dtype == np.float64 else 1e-4    # (PyTorch's float32 rounds too)
    finite = np.isfinite(theirs)
    np.testing.assert_array_equal(np.isfinite(ours), finite, err_msg=f"{what}: non-finite places")
    np.testing.assert_array_equal(ours[~finite], theirs[~finite], err_msg=f"{what}: non-finite values")
    scale = max(np.abs(theirs[finite]).max(initial=0.0), 1.0)
    err = np.abs(ours[finite] - theirs[finite]).max(initial=0.0)
    assert err <= rtol * scale, f"{what}: max error {err:.3g} > {rtol:g} × {scale:.3g}"


def run_case(name, fn, specs, dtype):
    """Run one case on both engines and compare; raises AssertionError on a different
    answer. If PyTorch refuses, ours must refuse too (with a clear Python error)."""
    rng = np.random.default_rng(sum(map(ord, str(specs))))
    pairs = [_input(s, dtype, rng) for s in specs]
    ours, theirs = [p[0] for p in pairs], [p[1] for p in pairs]
    if name in REFUSED:
        with pytest.raises((ValueError, TypeError), match=re.escape(REFUSED[name])):
            fn(TG, *ours)
        return
    try:
        ref = fn(TORCH, *theirs)
    except (RuntimeError, ValueError, TypeError, IndexError):
        with pytest.raises((ValueError, TypeError, IndexError, RuntimeError)):
            fn(TG, *ours)
        return
    out = fn(TG, *ours)
    assert isinstance(out, tg.Tensor), f"got {type(out).__name__}, not a Tensor"
    assert out.dtype.name == str(ref.dtype).replace("torch.", ""), f"dtype {out.dtype} vs {ref.dtype}"
    _check_close(out.data, ref, "value")
    assert out.requires_grad == ref.requires_grad, "requires_grad differs"
    if not ref.requires_grad:
        return
    cotangent = rng.standard_normal(ref.shape).astype(out.dtype)
    out.backward(cotangent)
    ref.backward(torch.tensor(cotangent))
    for k, (x, xt) in enumerate(zip(ours, theirs)):
        if xt.requires_grad:
            if xt.grad is None:
                assert x.grad is None or not np.any(x.grad), f"input {k} has a gradient PyTorch has not"
                continue
            assert x.grad is not None, f"input {k}: no gradient"
            _check_close(x.grad, xt.grad, f"gradient of input {k}")


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("name, fn, specs", CASES, ids=[c[0] for c in CASES])
def test_ported_op(name, fn, specs, dtype):
    run_case(name, fn, specs, dtype)


# ------------------------------------------------------ stateful scripts
# Lines that change tensors in place or run backward more than once: each script runs on
# both engines (`make(values, requires_grad)` makes a float64 tensor of either) and
# returns what must agree. `grad` reads a gradient as an array (ours is an ndarray).

def _grad(t):
    return t.grad if isinstance(t, tg.Tensor) else t.grad.numpy()


def sgd_by_hand(M, make):
    x, y = make([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]]), make([1.0, -2.0, 0.5])
    w = make([0.3, -0.2], True)
    for _ in range(3):
        loss = ((x @ w - y) ** 2).mean()
        loss.backward()
        with M.no_grad():
            w -= 0.1 * w.grad
        w.grad = None
    return [w, loss]


def inplace_under_no_grad(M, make):
    x = make([1.0, 2.0, 3.0], True)
    seen = []
    with M.no_grad():
        alias = x
        x += 1
        seen.append(alias * 1)
        x *= 2
        x /= 4
        x -= 0.5
        seen.append(x * 1)
        x[0] = 7.0
        seen.append(x * 1)
        x.fill_(3.0)
        seen.append(x * 1)
        x.copy_(make([4.0, 5.0, 6.0]))
        seen.append(x * 1)
        x.zero_()
    return seen + [x, alias]


def inplace_on_a_computed_tensor(M, make):
    x = make([1.0, -2.0, 3.0], True)
    y = x * x
    y += x
    y *= 2
    y.sum().backward()
    return [y, _grad(x)]


def gradients_accumulate(M, make):
    x = make([0.5, -1.5], True)
    (x * x).sum().backward()
    (x.exp()).sum().backward()
    return [_grad(x)]


def retain_grad_of_intermediate(M, make):
    x = make([0.5, -1.5], True)
    h = x.tanh()
    h.retain_grad()
    (h * h).sum().backward()
    return [_grad(h), _grad(x)]


def detach_stops_gradient(M, make):
    x = make([0.5, -1.5], True)
    (x * x.detach()).sum().backward()
    return [_grad(x)]


def leaf_inplace_refused(M, make):
    w = make([1.0], True)
    w += 1                                 # PyTorch refuses: a leaf that requires grad
    return [w]


SCRIPTS = [sgd_by_hand, inplace_under_no_grad, inplace_on_a_computed_tensor, gradients_accumulate,
           retain_grad_of_intermediate, detach_stops_gradient, leaf_inplace_refused]


def run_script(script):
    def ours(values, requires_grad=False):
        return tg.tensor(values, dtype=np.float64, requires_grad=requires_grad)

    def theirs(values, requires_grad=False):
        return torch.tensor(values, dtype=torch.float64, requires_grad=requires_grad)
    try:
        ref = script(TORCH, theirs)
    except RuntimeError:
        with pytest.raises(RuntimeError, match="in-place"):
            script(TG, ours)
        return
    out = script(TG, ours)
    assert len(out) == len(ref)
    for k, (a, b) in enumerate(zip(out, ref)):
        a = a.data if isinstance(a, tg.Tensor) else np.asarray(a)
        _check_close(a, b if isinstance(b, torch.Tensor) else torch.tensor(b), f"result {k}")


@pytest.mark.parametrize("script", SCRIPTS, ids=[f.__name__ for f in SCRIPTS])
def test_ported_script(script):
    run_script(script)


def _outcome(run, *args):
    """'pass', or the kind of failure (wrong, missing, crash) and its message."""
    try:
        run(*args)
        return "pass", ""
    except AssertionError as e:
        return "wrong", str(e).splitlines()[0] if str(e) else ""
    except AttributeError as e:
        return "missing", str(e)
    except Exception as e:   # noqa: BLE001 (the tally reports every kind of failure)
        return "crash", f"{type(e).__name__}: {e}"


def tally():
    """Run every case in both dtypes and every script; print passing/total and each
    failure's kind."""
    counts, failures = {"pass": 0, "wrong": 0, "crash": 0, "missing": 0, "refused": 0}, []
    runs = [(f"{name} [{np.dtype(dtype).name}]", run_case, (name, fn, specs, dtype))
            for name, fn, specs in CASES for dtype in (np.float64, np.float32)]
    runs += [(script.__name__, run_script, (script,)) for script in SCRIPTS]
    for what, run, args in runs:
        kind, msg = _outcome(run, *args)
        if kind == "pass" and args[0] in REFUSED:
            kind = "refused"
        counts[kind] += 1
        if kind not in ("pass", "refused"):
            failures.append(f"{kind:8s}{what}: {msg[:160]}")
    print("\n".join(failures))
    print(f"{counts['pass']}/{sum(counts.values())} passing; " +
          ", ".join(f"{k} {v}" for k, v in counts.items() if k != "pass"))


if __name__ == "__main__":
    tally()
