"""The fixtures every test shares. Helper functions the tests import (float64
tensors, moving weights into PyTorch) are in support.py."""
import contextlib

import pytest

import tinygrad_tf as tg


@pytest.fixture(autouse=True)
def seeded():
    """Every test starts from the same random state (tg.manual_seed: nn's initialisation
    and dropout), whatever ran before it."""
    tg.manual_seed(0)


@pytest.fixture
def engine(request):
    """The engine a test runs on: "fast" (the fused ops and the fast backward loop) or
    "plain" (inside tg.plain(): the compositions of primitives and the reference loop).
    A module that asks for it (`pytestmark = pytest.mark.usefixtures("engine")`) runs
    each of its tests on both, except those marked `fast_only` (a test of the fast path
    itself, or one too slow to run twice)."""
    with tg.plain() if request.param == "plain" else contextlib.nullcontext():
        yield request.param


def pytest_generate_tests(metafunc):
    if "engine" in metafunc.fixturenames:
        both = metafunc.definition.get_closest_marker("fast_only") is None
        metafunc.parametrize("engine", ["fast", "plain"] if both else ["fast"], indirect=True)


def pytest_configure(config):
    config.addinivalue_line("markers", "fast_only: run on the fast engine only (see the engine fixture)")


@pytest.fixture(scope="session")
def translator():
    """The demo's trained translator (600 steps, seed 0: the model `make demo` trains), a
    `translation.Run`. Trained once per test run and shared by every worker and notebook
    through `translation.pretrained` (its cache folder: $TINYGRAD_TF_CACHE, which
    `make test` points at a new folder, so each run trains it afresh, about 20 s)."""
    from tinygrad_tf.demo import translation
    return translation.pretrained()


@pytest.fixture(scope="session")
def translator_checkpoint(translator, tmp_path_factory):
    """The `translator` as a checkpoint file (the demo's format), for the commands that
    take --checkpoint. Saved with a fresh optimizer: the format holds one."""
    import dataclasses

    from tinygrad_tf.demo import translation
    path = tmp_path_factory.mktemp("checkpoint") / "translator.npz"
    fresh = translation._optimizer(translator.model)
    translation.save(dataclasses.replace(translator, optimizer=fresh), path)
    return str(path)
