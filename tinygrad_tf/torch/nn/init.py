"""`torch.nn.init`: the engine's initialisers (tinygrad_tf.nn.init)."""
from ...nn.init import *  # noqa: F403
