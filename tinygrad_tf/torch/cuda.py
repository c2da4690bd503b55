"""`torch.cuda`: there is no GPU here (tinygrad_tf computes with NumPy, on the CPU)."""
from . import amp  # noqa: F401 (torch.cuda.amp.GradScaler: the pass-through scaler)


def is_available():
    return False


def device_count():
    return 0
