"""The self-check table: every op (ops.py, fused.py) and every layer passes gradcheck; a broken one fails."""
import subprocess
import sys

import numpy as np

from tinygrad_tf.core import ops
from tinygrad_tf.seeing import selfcheck


def test_every_op_and_layer_passes_and_every_primitive_is_covered():
    rows = selfcheck.run()
    assert all(r.ok for r in rows), [r.message for r in rows if not r.ok]
    assert selfcheck.all_ops() <= selfcheck.covered(rows)
    assert {"linear", "layer_norm", "masked_softmax", "residual_add", "tanh"} <= selfcheck.all_ops()
    names = " ".join(r.name for r in rows)
    for layer in ("Linear", "Embedding", "LayerNorm", "BatchNorm1d", "FeedForward(swiglu)",
                  "MultiHeadAttention (cross)", "EncoderBlock pre-LN", "DecoderBlock post-LN",
                  "Transformer", "TransformerLM"):
        assert layer in names
    assert {r.mode for r in rows} == {"full", "vᵀJu"}
    assert max(r.max_error for r in rows) < 1e-4


def test_a_broken_backward_makes_its_rows_fail_and_the_exit_code_nonzero(monkeypatch, capsys):
    right = ops.Tanh.backward
    monkeypatch.setattr(ops.Tanh, "backward", lambda self, g: (right(self, g)[0] * 1.01,))
    assert selfcheck.main() == 1
    out = capsys.readouterr().out
    failed = [line for line in out.splitlines() if line.endswith("FAIL")]
    assert failed and all(line.lower().startswith("tanh") for line in failed)   # the op and nn.Tanh
    assert "FAIL tanh" in out and "numerical" in out


def test_the_command_line_prints_the_table_and_exits_zero():
    done = subprocess.run([sys.executable, "-m", "tinygrad_tf", "gradcheck"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "max error" in done.stdout and "every op in ops.py and fused.py covered: yes" in done.stdout
    rows = [line for line in done.stdout.splitlines() if line.endswith(" ok")]
    assert len(rows) == len(selfcheck.run(layers=True))
    assert np.isfinite(float(rows[0].split()[-2]))
