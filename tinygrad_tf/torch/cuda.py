"""`torch.cuda`: there is no GPU here (tinygrad_tf computes with NumPy, on the CPU)."""


def is_available():
    return False


def device_count():
    return 0
