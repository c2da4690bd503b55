"""`torch.nn.utils`: clip_grad_norm_ as PyTorch returns it (the norm as a tensor)."""
import numpy as np

from ...core.tensor import Tensor
from ...optim import clip_grad_norm_ as _clip


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale the gradients together to a joint L2 norm of at most `max_norm`; the norm
    before clipping, as a 0-d tensor (tinygrad_tf.optim.clip_grad_norm_ returns a float)."""
    if norm_type != 2.0:
        raise ValueError(f"clip_grad_norm_: only the L2 norm (norm_type=2) is here, not {norm_type}")
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    total = _clip(params, max_norm)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of the gradients is {total}")
    dtype = params[0].dtype if params else np.float32
    return Tensor._make(np.array(total, dtype=dtype))
