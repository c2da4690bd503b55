"""`torch.nn`: the engine's layers (tinygrad_tf.nn) under PyTorch's module path, with
`functional`, `init` and `utils` as submodules (`import torch.nn.functional as F`)."""
from ...nn import *  # noqa: F403 (the layers, under their names)
from ...nn import Module, Parameter  # noqa: F401

del functional, init  # noqa: F821 (the engine's, which the star brought: this package's own below)
from . import functional, init, utils  # noqa: E402, F401
