"""The demo (`python -m tinygrad_tf demo`, `translate`) and the training behind it:
a short run end to end, exact resume, determinism, Ctrl-C, translate's errors."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from test_explore import browser  # noqa: F401  (Chromium, for training.html)

import tinygrad_tf as tg
import tinygrad_tf.demo.app as demo
from tinygrad_tf import optim
from tinygrad_tf.__main__ import main
from tinygrad_tf.demo import translation as T

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FINAL_LINE = re.compile(r'held-out exact match: \d+\.\d% \(\d+/1040\); "it" resolved: \d+\.\d% \(\d+/40\)')
SMALL = dict(d_model=32, n_heads=2, n_layers=1, d_ff=64, batch=16, warmup=10)   # fast tests


def cli(*args, timeout=300):
    """`python -m tinygrad_tf ARGS` with the repo importable and the BLAS choice left
    to the demo (so use_one_blas_thread runs)."""
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    env["PYTHONPATH"] = ROOT
    return subprocess.run([sys.executable, "-m", "tinygrad_tf", *args], capture_output=True,
                          text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    """One short demo run from the command line, shared by the tests that read it."""
    out = tmp_path_factory.mktemp("demo")
    return out, cli("demo", "--steps", "24", "--out", str(out))


def test_short_demo_writes_every_file_and_the_loss_falls(short_run):
    out, result = short_run
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert "1. Scalars" in result.stdout and "2. Tensors" in result.stdout     # the warm-up stays
    assert FINAL_LINE.fullmatch(lines[-1]), lines[-1]                          # for scripts
    assert "tokens/s" in result.stderr and "24/24" in result.stderr           # the tqdm bar
    for name in ("loss.png", "cross_attention.png", "it_attention.png", "decoder_block.svg",
                 "report.md", "translator.npz"):
        assert (out / name).stat().st_size > 1000, name
    assert (out / "decoder_block.svg").read_text().lstrip().startswith(("<?xml", "<svg"))
    report = (out / "report.md").read_text(encoding="utf-8")
    assert lines[-1] in report and "![cross-attention](cross_attention.png)" in report
    assert "## Why 動物? Why 通り?" in report and (out / "cat_self_attention.png").exists()
    run = T.load(out / "translator.npz")
    assert run.step == 24 and len(run.losses) == 24
    assert np.mean(run.losses[-4:]) < 0.8 * np.mean(run.losses[:4])           # it learns
    assert run.losses[0] == pytest.approx(np.log(len(run.corpus.tgt_vocab)), rel=0.1)
    assert run.model.generator.weight.dtype == np.float32


def test_translate_on_the_saved_checkpoint(short_run):
    out, _ = short_run
    ckpt = str(out / "translator.npz")
    result = cli("translate", "--checkpoint", ckpt, "--attention", "the dog slept on the mat")
    assert result.returncode == 0, result.stderr
    run = T.load(ckpt)
    expected = T.translate(run.model, run.corpus, "the dog slept on the mat").text
    lines = result.stdout.splitlines()
    assert lines[0] == expected                              # the Japanese, first
    assert "cross-attention" in lines[1] and "head 0" in lines
    assert "columns: 0=the  1=dog  2=slept" in result.stdout
    assert result.stderr == ""


def test_translate_warns_of_unknown_words_and_refuses_bad_input(short_run, tmp_path, capsys):
    ckpt = str(short_run[0] / "translator.npz")
    assert main(["translate", "--checkpoint", ckpt, "the penguin slept on the mat"]) == 0
    out, err = capsys.readouterr()
    assert "unknown word 'penguin' read as <unk>" in err and out.strip()

    assert main(["translate", "--checkpoint", ckpt, "the café is naïve. The cat sat on the mat"]) == 0
    out, err = capsys.readouterr()
    assert "unknown words 'café', 'is', 'naïve' read as <unk>, so the translation is a guess" in err
    assert "docs/demo.md lists them" in err and "2 sentences" in err and out.strip()

    assert main(["translate", "--checkpoint", ckpt, " . "]) == 2
    err = capsys.readouterr().err
    assert err.startswith("translate: the sentence") and "has no words" in err
    assert err.count("translate:") == 1

    assert main(["translate", "--checkpoint", ckpt, "猫がマットの上に座った"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("translate: this model translates English into Japanese") and "no words" not in err

    other = tmp_path / "other_model.npz"
    tg.save({"encoder.weight": np.zeros((2, 2), np.float32)}, other)
    assert main(["translate", "--checkpoint", str(other), "the cat sat on the mat"]) == 1
    err = capsys.readouterr().err
    assert "is not a translation checkpoint" in err and "other_model.npz" in err
    assert err.count("\n") == 1                              # one line, no traceback

    assert main(["translate", "--checkpoint", str(tmp_path / "missing.npz"), "the cat sat"]) == 1
    err = capsys.readouterr().err
    assert "no checkpoint at" in err and "python -m tinygrad_tf demo" in err


def test_a_checkpoint_of_another_shape_is_a_clear_error(tmp_path):
    run = T.train(steps=1, progress=False, **SMALL)
    path = tmp_path / "t.npz"
    T.save(run, path)
    state = tg.load(path)
    state["model.generator.weight"] = np.zeros((3, 3), np.float32)
    tg.save(state, path)
    with pytest.raises(tg.CheckpointError, match="do not fit the model.*generator.weight"):
        T.load(path)


def state_of(run):
    return {**run.model.state_dict(), **{f"optim.{k}": v for k, v in run.optimizer.state_dict().items()}}


def test_resume_continues_exactly(tmp_path):
    straight = T.train(steps=6, progress=False, checkpoint=tmp_path / "a.npz", **SMALL)
    T.train(steps=3, progress=False, checkpoint=tmp_path / "b.npz", **SMALL)     # stops at 3
    resumed = T.train(steps=6, progress=False, checkpoint=tmp_path / "b.npz", resume=True, **SMALL)
    assert resumed.step == 6
    a, b = state_of(straight), state_of(resumed)
    assert a.keys() == b.keys()
    for name in a:                                            # bit for bit, every parameter
        assert np.array_equal(a[name], b[name]), name
    assert resumed.losses == straight.losses                  # the whole curve, bit for bit
    assert tg.load(tmp_path / "b.npz")["meta.step"] == 6

    with pytest.raises(ValueError, match="trained with d_model=32.*asks for d_model=64"):
        T.train(steps=8, progress=False, checkpoint=tmp_path / "b.npz", resume=True,
                **{**SMALL, "d_model": 64})


def test_same_seed_same_losses_other_seed_other_losses():
    a = T.train(steps=4, progress=False, **SMALL)
    b = T.train(steps=4, progress=False, **SMALL)
    c = T.train(steps=4, seed=1, progress=False, **SMALL)
    assert a.losses == b.losses
    assert a.losses != c.losses


def test_ctrl_c_leaves_the_last_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "t.npz"
    real_clip, calls = optim.clip_grad_norm_, []

    def clip_then_interrupt(params, max_norm):
        calls.append(1)
        if len(calls) == 5:                                   # Ctrl-C during step 5
            raise KeyboardInterrupt
        return real_clip(params, max_norm)

    monkeypatch.setattr(optim, "clip_grad_norm_", clip_then_interrupt)
    with pytest.raises(T.Interrupted) as info:
        T.train(steps=10, progress=False, checkpoint=path, checkpoint_every=2, **SMALL)
    assert info.value.checkpoint_step == 4 and info.value.run.step == 4
    assert T.load(path).step == 4

    real_save, real_write, saves, written = tg.io.save, np.lib.format.write_array, [], []

    def write_three_then_interrupt(fp, array, *args, **kwargs):
        written.append(1)
        if len(written) > 3:
            raise KeyboardInterrupt                           # Ctrl-C in the middle of a save
        return real_write(fp, array, *args, **kwargs)

    def save_interrupted_the_second_time(state, p):
        saves.append(1)
        if len(saves) == 2:
            monkeypatch.setattr(np.lib.format, "write_array", write_three_then_interrupt)
        return real_save(state, p)

    monkeypatch.undo()
    monkeypatch.setattr(tg.io, "save", save_interrupted_the_second_time)
    with pytest.raises(T.Interrupted) as info:
        T.train(steps=10, progress=False, checkpoint=path, checkpoint_every=2, resume=True, **SMALL)
    assert info.value.checkpoint_step == 6                    # step 8's save was interrupted
    monkeypatch.undo()
    assert T.load(path).step == 6 and sorted(os.listdir(tmp_path)) == ["t.npz"]


def test_run_without_a_cjk_font_labels_in_romaji(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(T, "CONFIG", {**T.CONFIG, **{k: SMALL[k] for k in T.CONFIG if k in SMALL}})
    monkeypatch.setattr(T, "TRAINING", {**T.TRAINING, "batch": 16, "warmup": 10})
    monkeypatch.setattr(demo, "cjk_font", lambda: None)
    with pytest.warns(UserWarning, match="romaji"):
        summary = demo.run(steps=3, out_dir=str(tmp_path))
    assert summary["steps"] == 3 and summary["font"] is None
    assert (tmp_path / "cross_attention.png").exists()
    assert demo.japanese_labels(["猫", "が", "座った"], None) == ["neko", "ga", "suwatta"]
    assert demo.japanese_labels(["猫"], "Noto Sans CJK JP") == ["猫"]
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1] == demo.final_line(summary)


def test_heatmap_draws_shades_and_numbers_the_columns():
    text = demo.heatmap(np.array([[0.0, 1.0], [0.5, 0.5]]), ["猫", "が"], ["the", "cat"])
    lines = text.splitlines()
    assert lines[1].endswith("   ██") and lines[2].endswith("▒▒ ▒▒")
    assert lines[-1].strip() == "columns: 0=the  1=cat"


BLAS_THREADS = """
from threadpoolctl import threadpool_info
import tinygrad_tf.demo.app as demo
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


def test_pretrained_trains_once_then_loads_what_it_saved(tmp_path, monkeypatch):
    monkeypatch.setenv(T.CACHE_ENV, str(tmp_path))
    first = T.pretrained(steps=2, **SMALL)
    assert len(list(tmp_path.glob("translator-2-0-*.npz"))) == 1

    def no_training(*args, **kwargs):
        raise AssertionError("pretrained trained again instead of loading its checkpoint")

    monkeypatch.setattr(T, "train", no_training)
    again = T.pretrained(steps=2, **SMALL)
    assert again.step == 2 and again.losses == first.losses
    for (name, a), (_, b) in zip(first.model.state_dict().items(), again.model.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=name)
    with pytest.raises(AssertionError, match="trained again"):      # other settings: another file
        T.pretrained(steps=3, **SMALL)


def test_the_demo_records_its_training_for_the_page(short_run, browser):  # noqa: F811
    """training.html: the recorded steps, the 猫 → "cat" cell, the "it" rows and the
    notes' three relations over training, and the page's checks in Chromium."""
    from test_watch import check_page
    out, result = short_run
    assert result.returncode == 0, result.stderr
    path = out / "training.html"
    assert 10_000 < path.stat().st_size < 400_000
    run = check_page(browser, str(path))["runs"][0]
    assert run["steps"] == [1, 10, 20] and len(run["loss"]) == 3
    assert run["relations"]["names"] == list(demo.RELATIONS)
    assert run["relations"]["modules"] == ["encoder.layers.0.self_attn", "encoder.layers.1.self_attn"]
    assert len(run["relations"]["values"]) == 3
    assert list(run["cells"]) == ['猫 → "cat"'] and len(run["cells"]['猫 → "cat"']["values"][0]) == 4
    cat = next(m for label, m in run["maps"].items() if label.startswith("cross-attention"))
    assert cat["rows"] == ["猫", "が", "マット", "の", "上", "に", "座った", "<eos>"]
    assert [m["rows"] for label, m in run["maps"].items() if "from \"it\"" in label] == [["it"]] * 4
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "[training.html](training.html)" in report and '"it" → its referent: 0.' in report
