"""Checkpoints: round trip, NumPy compatibility, interrupted saves, bad files."""
import os
import pickle
import re
import signal
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import tinygrad_tf as tg


def example_state():
    rng = np.random.default_rng(0)
    return {
        "encoder.layers.0.self_attn.q_proj.weight": rng.standard_normal((4, 4)).astype(np.float32),
        "encoder.layers.0.norm1.bias": rng.standard_normal(4),                      # float64
        "generator.weight": tg.Tensor(rng.standard_normal((3, 4)), requires_grad=True),
        "step": np.array(17),
        "mask": np.array([True, False, True]),
        "empty": np.zeros((0, 5), dtype=np.float16),
    }


def expected_arrays(state):
    return {k: (v.data if isinstance(v, tg.Tensor) else v) for k, v in state.items()}


def assert_same(loaded, expected):
    assert list(loaded) == list(expected)
    for name, array in expected.items():
        assert isinstance(loaded[name], np.ndarray)
        assert loaded[name].dtype == array.dtype, name
        assert loaded[name].shape == array.shape, name
        np.testing.assert_array_equal(loaded[name], array)


def test_round_trip_keeps_names_dtypes_and_shapes(tmp_path):
    state = example_state()
    path = tmp_path / "model.npz"
    tg.save(state, path)
    loaded = tg.load(path)
    assert_same(loaded, expected_arrays(state))
    assert loaded["encoder.layers.0.self_attn.q_proj.weight"].dtype == np.float32
    assert os.listdir(tmp_path) == ["model.npz"]           # no temporary file left behind


def test_numpy_reads_our_files_and_we_read_numpys(tmp_path):
    state = expected_arrays(example_state())
    tg.save(state, tmp_path / "ours.npz")
    with np.load(tmp_path / "ours.npz", allow_pickle=False) as f:
        assert sorted(f.files) == sorted(state)
        for name, array in state.items():
            np.testing.assert_array_equal(f[name], array)
            assert f[name].dtype == array.dtype
    np.savez(tmp_path / "theirs.npz", **{"a.b": np.arange(3.0), "c": np.eye(2, dtype=np.float32)})
    loaded = tg.load(tmp_path / "theirs.npz")
    assert_same(loaded, {"a.b": np.arange(3.0), "c": np.eye(2, dtype=np.float32)})


def test_save_replaces_an_existing_file(tmp_path):
    path = str(tmp_path / "ckpt.npz")                       # str paths work as well as Paths
    tg.save({"w": np.zeros(2)}, path)
    tg.save({"w": np.ones(3), "b": np.array(2.0)}, path)
    assert_same(tg.load(path), {"w": np.ones(3), "b": np.array(2.0)})


@pytest.mark.parametrize("interruption", [OSError("No space left on device"), KeyboardInterrupt()])
def test_interrupted_save_keeps_the_previous_file(tmp_path, monkeypatch, interruption):
    path = tmp_path / "ckpt.npz"
    old = {"w": np.arange(6.0).reshape(2, 3), "b": np.ones(3, dtype=np.float32)}
    tg.save(old, path)
    old_bytes = path.read_bytes()

    real_write_array = np.lib.format.write_array
    calls = []

    def failing_write_array(fp, array, *args, **kwargs):
        """Write the first array fully, then half of the second's bytes, then fail."""
        calls.append(1)
        if len(calls) == 1:
            return real_write_array(fp, array, *args, **kwargs)
        fp.write(array.tobytes()[: array.nbytes // 2])
        raise interruption

    monkeypatch.setattr(np.lib.format, "write_array", failing_write_array)
    new = {"w": np.zeros((50, 50)), "b": np.zeros((50, 50)), "c": np.zeros(3)}
    with pytest.raises(type(interruption)):
        tg.save(new, path)
    monkeypatch.undo()

    assert len(calls) == 2
    assert path.read_bytes() == old_bytes
    assert_same(tg.load(path), old)
    assert os.listdir(tmp_path) == ["ckpt.npz"]


def test_missing_file_is_a_clear_error(tmp_path):
    path = tmp_path / "nope.npz"
    with pytest.raises(tg.CheckpointError, match=re.escape(str(path))) as info:
        tg.load(path)
    assert isinstance(info.value, FileNotFoundError)         # `except FileNotFoundError` works too
    assert "not found" in str(info.value)


@pytest.mark.parametrize("keep", [10, 0.5, -1])
def test_truncated_file_is_a_clear_error(tmp_path, keep):
    path = tmp_path / "ckpt.npz"
    tg.save(expected_arrays(example_state()), path)
    data = path.read_bytes()
    n = {0.5: len(data) // 2, -1: len(data) - 1}.get(keep, keep)
    path.write_bytes(data[:n])
    with pytest.raises(tg.CheckpointError, match=re.escape(str(path))) as info:
        tg.load(path)
    assert "truncated" in str(info.value)


def write_foreign(path, kind):
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("step,loss\n1,2.3\n")
    elif kind == "pickle":
        path.write_bytes(pickle.dumps({"w": np.ones(2)}))
    elif kind == "npz with objects":
        np.savez(path, w=np.array([{"a": 1}, None], dtype=object))
    elif kind == "npy":
        with open(path, "wb") as f:
            np.save(f, np.ones(3))
    elif kind == "zip":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("readme.txt", "hello")


@pytest.mark.parametrize("kind", ["empty", "text", "pickle", "npz with objects", "npy", "zip"])
def test_foreign_file_is_a_clear_error(tmp_path, kind):
    path = tmp_path / "foreign.npz"
    write_foreign(path, kind)
    with pytest.raises(tg.CheckpointError, match=re.escape(str(path))):
        tg.load(path)


def test_save_refuses_what_it_cannot_store(tmp_path):
    path = tmp_path / "x.npz"
    with pytest.raises(TypeError, match="'w' holds Python objects"):
        tg.save({"w": [{"a": 1}]}, path)
    with pytest.raises(TypeError, match="non-empty strings"):
        tg.save({3: np.ones(2)}, path)
    with pytest.raises(TypeError, match="dict"):
        tg.save([np.ones(2)], path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        tg.save({"w": np.ones(2)}, tmp_path / "no_such_dir" / "x.npz")
    assert os.listdir(tmp_path) == []


KILLED_WHILE_SAVING = """
import sys, time
import numpy as np
import tinygrad_tf as tg

real_write_array = np.lib.format.write_array
def stall_after_first(fp, array, *args, **kwargs):
    real_write_array(fp, array, *args, **kwargs)
    print("writing", flush=True)         # the temporary file exists and is half written
    time.sleep(60)                       # the parent kills us here
np.lib.format.write_array = stall_after_first
tg.save({"w": np.zeros((200, 200)), "b": np.ones(3)}, sys.argv[1])
"""


def test_save_removes_temporaries_left_by_a_killed_save(tmp_path):
    path = tmp_path / "ckpt.npz"
    tg.save({"w": np.arange(3.0)}, path)
    stranger = tmp_path / ".other.npz.tmp"                   # not ours: must stay
    stranger.write_bytes(b"x")
    for _ in range(2):             # each killed save leaves one; the next save removes it
        child = subprocess.Popen([sys.executable, "-c", KILLED_WHILE_SAVING, str(path)],
                                 stdout=subprocess.PIPE, text=True,
                                 env={**os.environ, "PYTHONPATH": os.getcwd()})
        try:
            assert child.stdout.readline().strip() == "writing"
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
        leftovers = [n for n in os.listdir(tmp_path) if n.endswith(".tmp") and n != stranger.name]
        assert [n.split(".")[4] for n in leftovers] == [str(child.pid)]
        assert leftovers[0].startswith(".ckpt.npz.")
        assert (tmp_path / leftovers[0]).stat().st_size > 200 * 200 * 8      # a big half-file
        assert_same(tg.load(path), {"w": np.arange(3.0)})    # the checkpoint survived

    tg.save({"w": np.arange(4.0)}, path)                     # the next save cleans up
    assert sorted(os.listdir(tmp_path)) == [".other.npz.tmp", "ckpt.npz"]
    assert_same(tg.load(path), {"w": np.arange(4.0)})


def test_save_leaves_a_live_writers_temporary_alone(tmp_path):
    path = tmp_path / "ckpt.npz"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        mine = f".ckpt.npz.{tg.io._host()}.{sleeper.pid}.0123abcd.tmp"      # a save in progress
        elsewhere = ".ckpt.npz.another-host.1.0123abcd.tmp"                # maybe on a shared disk
        for name in (mine, elsewhere):
            (tmp_path / name).write_bytes(b"partial")
        tg.save({"w": np.zeros(2)}, path)
        assert sorted(os.listdir(tmp_path)) == sorted([mine, elsewhere, "ckpt.npz"])
    finally:
        sleeper.kill()
        sleeper.wait()
    tg.save({"w": np.zeros(2)}, path)                        # now its writer is gone
    assert sorted(os.listdir(tmp_path)) == sorted([elsewhere, "ckpt.npz"])
