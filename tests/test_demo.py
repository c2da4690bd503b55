"""The demo (`python -m tinygrad_tf demo`): a short run end to end, and its guards."""
import os
import re
import subprocess
import sys

import numpy as np

import tinygrad_tf as tg
import tinygrad_tf.demo as demo
from tinygrad_tf import nn


def test_quick_demo_runs_end_to_end_and_the_loss_falls(tmp_path):
    # Without a thread setting of our own, so that the demo's use_one_blas_thread() runs.
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    result = subprocess.run(
        [sys.executable, "-m", "tinygrad_tf", "demo", "--quick", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "1. Scalars" in out and "2. Tensors" in out               # the opening is kept
    losses = [float(x) for x in re.findall(r"step +\d+/40 +loss (\d+\.\d+)", out)]
    assert len(losses) >= 5
    assert losses[0] > 2.0                                          # ≈ ln(13) at the start
    assert losses[-1] < 0.75 * losses[0]                            # and it falls
    assert re.search(r"Greedy decoding of 200 held-out sequences: \d+/200 exactly right", out)
    assert "Cross-attention, last decoder layer" in out
    assert "decodes identically" in out
    ckpt = tmp_path / "reverse_transformer.npz"
    with np.load(ckpt) as f:
        assert "generator.weight" in f.files and f["generator.weight"].dtype == np.float32


def test_run_reports_losses_and_accuracy(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(demo, "CONFIG", dict(d_model=32, n_heads=2, n_layers=1, d_ff=64))
    monkeypatch.setattr(demo, "BATCH", 32)
    summary = demo.run(steps=20, out_dir=str(tmp_path), n_held_out=10, n_shown=2)
    losses = summary["losses"]
    assert len(losses) == 20
    assert np.mean(losses[-3:]) < 0.95 * np.mean(losses[:3])
    assert 0.0 <= summary["accuracy"] <= 1.0
    assert summary["reloaded_same"] is True
    if summary["graph_files"] is not None:                           # when tinygrad_tf.viz exists
        dot = (tmp_path / "encoder_block.dot").read_text()
        assert dot.startswith("digraph")
    assert "held-out sequences" in capsys.readouterr().out


def test_encode_and_decode_tokens():
    src, tgt = demo.encode([(1, 2, 3), (4, 5, 6, 7, 8, 9, 0)])
    assert src.shape == (2, demo.MAX_LEN) and tgt.shape == (2, demo.MAX_LEN + 2)
    np.testing.assert_array_equal(src[0], [4, 5, 6, 0, 0, 0, 0])
    np.testing.assert_array_equal(tgt[0], [demo.BOS, 6, 5, 4, demo.EOS, 0, 0, 0, 0])
    assert demo.decoded_digits(tgt[1]) == (0, 9, 8, 7, 6, 5, 4)
    rng = np.random.default_rng(0)
    seqs = demo.random_sequences(rng, 50, exclude={(1, 2, 3)})
    assert all(demo.MIN_LEN <= len(s) <= demo.MAX_LEN and s != (1, 2, 3) for s in seqs)


def test_graph_is_skipped_cleanly_without_viz(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tinygrad_tf.viz", None)        # `import` now fails
    monkeypatch.delattr(tg, "viz", raising=False)
    nn.manual_seed(0)
    model = nn.Transformer(demo.VOCAB, demo.VOCAB, d_model=16, n_heads=2, n_layers=1, d_ff=32,
                           max_len=demo.MAX_LEN + 2)
    assert demo.draw_encoder_block(model, (1, 2, 3), str(tmp_path)) is None
    assert "not available" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


BLAS_THREADS = """
from threadpoolctl import threadpool_info
import tinygrad_tf.demo as demo
demo.use_one_blas_thread()
print(*[pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"])
"""


def test_use_one_blas_thread_sets_openblas_to_one_thread():
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    env["OPENBLAS_NUM_THREADS"] = "2"                    # as if the machine had two cores ...
    result = subprocess.run([sys.executable, "-c", BLAS_THREADS], capture_output=True, text=True,
                            env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() and set(result.stdout.split()) == {"2"}   # ... a user's choice stays
    del env["OPENBLAS_NUM_THREADS"]
    result = subprocess.run([sys.executable, "-c", BLAS_THREADS], capture_output=True, text=True,
                            env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() and set(result.stdout.split()) == {"1"}
