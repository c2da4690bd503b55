"""Multi-head attention: self-attention and cross-attention, with boolean or additive masks.

    heads_i = softmax(Q_i K_iᵀ / √d_head) V_i,   Q = x W_qᵀ, K = c W_kᵀ, V = c W_vᵀ
    out     = concat(heads) W_oᵀ

where c = x (self-attention) or the `context` sequence (cross-attention).
"""
from . import functional as F
from .layers import Linear
from .module import Module, module_name


class MultiHeadAttention(Module):
    """`n_heads` attention heads of size d_model / n_heads, with the projections
    `q_proj k_proj v_proj out_proj` (each Linear(d_model, d_model)).

    forward(x, context=None, mask=None, causal=False): x (batch, q_len, d_model);
    context (batch, k_len, d_model) for cross-attention. `mask` broadcasts to
    (batch, n_heads, q_len, k_len): boolean, True = may attend, or float, added to the
    scaled scores (-inf = may not attend), as in F.attention. After each call
    `.attn` holds the weights, an np.ndarray (batch, n_heads, q_len, k_len) (read-only).
    """

    def __init__(self, d_model, n_heads, bias=True, dropout=0.0):
        super().__init__()
        if n_heads < 1 or d_model % n_heads:
            raise ValueError(f"MultiHeadAttention: d_model = {d_model} is not divisible by "
                             f"n_heads = {n_heads}")
        self.d_model, self.n_heads, self.d_head = d_model, n_heads, d_model // n_heads
        self.dropout = dropout
        self.q_proj = Linear(d_model, d_model, bias)
        self.k_proj = Linear(d_model, d_model, bias)
        self.v_proj = Linear(d_model, d_model, bias)
        self.out_proj = Linear(d_model, d_model, bias)
        self.attn = None

    def _check(self, x, what):
        if x.ndim != 3 or x.shape[-1] != self.d_model:
            raise ValueError(f"{module_name(self)}: {what} of shape {x.shape} should be "
                             f"(batch, seq, d_model = {self.d_model})")

    def _split_heads(self, x):
        b, t, _ = x.shape                                          # (B, T, d_model)
        return x.reshape(b, t, self.n_heads, self.d_head).permute(0, 2, 1, 3)   # (B, h, T, d_head)

    def forward(self, x, context=None, mask=None, causal=False):
        x = F._tensor(x, self.q_proj.weight)
        self._check(x, "input")
        if context is None:
            context = x
        else:
            context = F._tensor(context, self.k_proj.weight)
            self._check(context, "context")
            if context.shape[0] != x.shape[0]:
                raise ValueError(f"{module_name(self)}: input batch {x.shape[0]} and context batch "
                                 f"{context.shape[0]} differ")
        (b, q_len, _), k_len = x.shape, context.shape[1]
        mask = F.attention_mask((b, self.n_heads, q_len, k_len), mask, causal, module_name(self), x)
        q = self._split_heads(self.q_proj(x))                      # (B, h, q_len, d_head)
        k = self._split_heads(self.k_proj(context))                # (B, h, k_len, d_head)
        v = self._split_heads(self.v_proj(context))                # (B, h, k_len, d_head)
        p = self.dropout if self.training else 0.0
        out, weights = F.attention(q, k, v, mask, dropout_p=p)
        self.attn = weights.data.view()                            # (B, h, q_len, k_len)
        self.attn.flags.writeable = False                          # backward still needs it
        out = out.permute(0, 2, 1, 3).reshape(b, q_len, self.d_model)   # heads side by side (a view:
        # the product was made in v's (B, T, h, d_head) layout, see ops._product)
        return self.out_proj(out)                                  # (B, q_len, d_model)

    def extra_repr(self):
        return f"d_model={self.d_model}, n_heads={self.n_heads}"
