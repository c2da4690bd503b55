"""`torch.optim`: the engine's optimizers (tinygrad_tf.optim), with `lr_scheduler`."""
from ...optim import SGD, Adam, AdamW, Optimizer  # noqa: F401
from . import lr_scheduler  # noqa: F401
