"""`torch.optim.lr_scheduler`: the engine's schedules (tinygrad_tf.optim)."""
from ...optim import CosineAnnealingLR, LambdaLR, LRScheduler, StepLR  # noqa: F401
