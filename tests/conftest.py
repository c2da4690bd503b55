"""The fixtures every test shares. Helper functions the tests import (float64
tensors, moving weights into PyTorch) are in support.py."""
import pytest

import tinygrad_tf as tg


@pytest.fixture(autouse=True)
def seeded():
    """Every test starts from the same random state (tg.manual_seed: nn's initialisation
    and dropout), whatever ran before it."""
    tg.manual_seed(0)
