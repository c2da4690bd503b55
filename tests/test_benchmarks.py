"""The benchmark suite runs end to end (so it cannot rot): engines agree on gradients
before anything is timed, the report is written, a missing peer is skipped. No
timing is asserted here: timings belong to `python -m benchmarks`, not to tests."""
import json
import sys

from benchmarks import chain, encoder, harness, profile, scalar_mlp, suite
from tinygrad_tf.core import fused


def test_smoke_run_verifies_every_workload_and_writes_the_report(tmp_path):
    report = suite.run("smoke", out_dir=str(tmp_path), log=lambda *_: None)
    rows = report["rows"]
    assert {r["workload"].split(" ")[0] for r in rows} >= {"per-op", "scalar", "MLP", "encoder",
                                                          "TransformerLM"}
    for r in rows:
        assert r["verified"], f"{r['workload']}: {r.get('error')}"
        assert "tinygrad_tf" in r["median"]
        assert all(t["pass"] in (True, False, None) for t in r["targets"])
    assert report["all_verified"]
    saved = json.loads((tmp_path / "latest.json").read_text(encoding="utf-8"))
    assert saved["rows"][0]["workload"] == rows[0]["workload"] and saved["machine"]["cpu"]
    md = (tmp_path / "latest.md").read_text(encoding="utf-8")
    assert md.startswith("# tinygrad_tf benchmarks") and "Machine:" in md
    assert md.count("\n| ") >= len(rows) + 1          # header and one line per workload


def test_a_missing_peer_is_skipped_not_a_crash(monkeypatch):
    for name in ("micrograd", "micrograd.engine"):     # importing micrograd now fails
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "autograd", None)
    w = scalar_mlp.workload()
    assert "micrograd" in w.skipped and list(w.engines) == ["tinygrad_tf"]
    row = harness.run_workload(w, repeats=1, log=lambda *_: None)
    assert row["verified"] and row["targets"][0]["measured"] == "micrograd skipped"
    row = harness.run_workload(chain.workload(n=100), repeats=1, log=lambda *_: None)
    assert row["verified"] and "autograd" in row["skipped"] and "autograd" not in row["median"]
    assert "skipped" in harness.markdown({
        "machine": harness.machine_info(), "gemm_gflops": 1.0, "mode": "test", "repeats": 1,
        "date": "", "rows": [row]})


def test_disagreeing_gradients_are_reported_and_not_timed():
    w = chain.workload(n=10)
    w.engines["tinygrad_tf"] = lambda: chain.X0 * 0     # a wrong gradient
    row = harness.run_workload(w, repeats=1, log=lambda *_: None)
    assert row["verified"] is False and "differs" in row["error"] and "median" not in row


def test_profile_times_ops_and_puts_them_back():
    original = fused.Linear.__dict__["forward"]
    per_op, wall = profile.profile(*profile.encoder_step(), steps=1)
    assert per_op["linear"]["calls"] == 6 and per_op["linear"]["backward"] > 0
    assert fused.Linear.__dict__["forward"] is original
    text = profile.table(per_op, wall)
    assert "(overhead: everything else)" in text and "linear" in text


def test_profile_of_an_encoder_says_its_share_of_the_gemm_rate():
    text = profile.gemm_share(profile.encoder_step(size="small"), "small", steps=1)
    gflop = encoder.flops(*(encoder.SIZES["small"][i] for i in (0, 2, 3, 4))) / 1e9
    assert text.startswith(f"matrix products: {gflop:.1f} GFLOP") and "% of that rate" in text


def test_update_readme_rewrites_only_the_marked_part(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n## Benchmarks\nintro\n{suite.README_START}\nold\n{suite.README_END}\nafter\n",
                      encoding="utf-8")
    assert suite.update_readme("# tinygrad_tf benchmarks\n\n| a |\n", str(readme))
    assert readme.read_text(encoding="utf-8") == (
        f"# x\n\n## Benchmarks\nintro\n{suite.README_START}\n| a |\n{suite.README_END}\nafter\n")
    readme.write_text("no markers\n", encoding="utf-8")
    assert not suite.update_readme("| a |\n", str(readme))


def test_pool_compares_each_pooled_op_and_puts_the_pool_back(monkeypatch, capsys):
    from benchmarks import pool
    from tinygrad_tf.core import threads
    monkeypatch.setattr(pool, "ROWS", (64,))
    before = (threads.MIN_ELEMENTS, threads.size())
    pool.main(repeats=1)
    out = capsys.readouterr().out
    for op in ("gelu forward", "masked softmax backward", "cross-entropy forward",
               "attention scores", "Adam update", "TransformerLM"):
        assert op in out
    assert (threads.MIN_ELEMENTS, threads.size()) == before


def test_bounds_multiplies_the_lm_steps_51_products_and_compares_mlp_orders():
    import numpy as np

    from benchmarks import bounds, lm
    pairs = bounds.lm_products(np, np.random.default_rng(0))
    assert [a.ndim for a, _ in pairs].count(2) == 39 and [a.ndim for a, _ in pairs].count(4) == 12
    outputs = {(a @ b).shape for a, b in pairs}
    rows, d, ff = lm.SEQ * lm.BATCH, lm.D_MODEL, lm.D_FF
    assert {(rows, d), (rows, ff), (d, d), (ff, d), (d, ff), (rows, lm.VOCAB), (lm.VOCAB, d)} <= outputs
    assert (lm.BATCH, lm.N_HEADS, lm.SEQ, lm.SEQ) in outputs
    lines = []
    ratios = bounds.mlp_table(1, log=lines.append)
    assert len(ratios) == 3 and all(r > 0 for r in ratios.values()) and "hand NumPy" in lines[0]
