"""The fixtures every test shares. Helper functions the tests import (float64
tensors, moving weights into PyTorch) are in support.py."""
import pytest

import tinygrad_tf as tg


@pytest.fixture(autouse=True)
def seeded():
    """Every test starts from the same random state (tg.manual_seed: nn's initialisation
    and dropout), whatever ran before it."""
    tg.manual_seed(0)


@pytest.fixture(scope="session")
def translator():
    """The demo's trained translator (600 steps, seed 0: the model `make demo` trains), a
    `translation.Run`. Trained once per test run and shared by every worker and notebook
    through `translation.pretrained` (its cache folder: $TINYGRAD_TF_CACHE, which
    `make test` points at a new folder, so each run trains it afresh, about 20 s)."""
    from tinygrad_tf.demo import translation
    return translation.pretrained()
