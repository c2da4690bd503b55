"""`torch.nn.functional`: the engine's functions (tinygrad_tf.nn.functional)."""
from ...nn.functional import *  # noqa: F403
from ...nn.functional import (  # noqa: F401 (the names `import *` leaves out)
    attention,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    dropout,
    embedding,
    gelu,
    kl_div,
    layer_norm,
    linear,
    log_softmax,
    mse_loss,
    nll_loss,
    pad,
    relu,
    scaled_dot_product_attention,
    sigmoid,
    silu,
    softmax,
    tanh,
)
