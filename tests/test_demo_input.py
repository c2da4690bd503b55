"""The demo's commands are honest about their input: what the model does not know is
said (unknown words, several sentences, Japanese), and options that cannot work are
refused before any work starts."""
import os
import re

import pytest

import tinygrad_tf.demo.app as app
from tinygrad_tf.__main__ import DEMO_CHECKPOINT
from tinygrad_tf.__main__ import main as cli
from tinygrad_tf.demo import corpus as C
from tinygrad_tf.demo import translation as T

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_unknown_words_and_several_sentences_are_warned_about(translator):
    run = translator
    plain = T.translate(run.model, run.corpus, "The cat sat on the mat.")
    assert T.input_warnings(plain, run.corpus) == []
    odd = T.translate(run.model, run.corpus, "the café is naïve")
    assert odd.unknown == ["café", "is", "naïve"]                 # not 'caf', 'na', 've'
    [warning] = T.input_warnings(odd, run.corpus)
    assert "'café', 'is', 'naïve' read as <unk>" in warning and "47 English words" in warning
    two = T.translate(run.model, run.corpus, "The cat sat on the mat. The dog slept on the bed!")
    assert any("2 sentences" in w for w in T.input_warnings(two, run.corpus))


@pytest.mark.parametrize("sentence", ["猫がマットの上に座った", "the ねこ sat"])
def test_japanese_input_is_refused_saying_what_the_model_does(translator, sentence):
    with pytest.raises(ValueError, match="^this model translates English into Japanese"):
        T.translate(translator.model, translator.corpus, sentence)


def test_tokenize_keeps_words_of_any_alphabet_whole():
    assert C.tokenize("The café is naïve") == ["the", "café", "is", "naïve", "."]
    assert C.tokenize("the animal didn't cross 3 roads") == ["the", "animal", "didn't", "cross", "3",
                                                             "roads", "."]


def test_the_docs_word_list_is_the_corpus_vocabulary():
    with open(os.path.join(ROOT, "docs", "demo.md"), encoding="utf-8") as fh:
        listed = re.search(r"<!-- words -->\n(.*?)<!-- /words -->", fh.read(), re.S)[1].split()
    words = sorted(w for w in C.build().src_vocab.itos[len(C.SPECIALS):] if w != ".")
    assert listed == words


def run_demo_with(monkeypatch, argv):
    """main(argv) for `demo`, with the training replaced: the folder it would write to."""
    seen = {}
    monkeypatch.setattr(app, "chain_rule", lambda: None)
    monkeypatch.setattr(app, "run", lambda **kw: seen.update(kw))
    assert cli(argv) == 0
    return seen["out_dir"], seen["steps"]


def test_demo_quick_writes_to_its_own_folder(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)                               # (--out folders are made up front)
    assert run_demo_with(monkeypatch, ["demo", "--quick"]) == (app.QUICK_OUT_DIR, app.QUICK_STEPS)
    assert run_demo_with(monkeypatch, ["demo"]) == (app.OUT_DIR, app.STEPS)
    assert os.path.dirname(DEMO_CHECKPOINT) == app.OUT_DIR != app.QUICK_OUT_DIR   # translate's model
    assert run_demo_with(monkeypatch, ["demo", "--quick", "--out", "elsewhere"])[0] == "elsewhere"


@pytest.mark.parametrize("steps", ["0", "-5", "many"])
def test_demo_steps_below_one_prints_the_demos_usage(steps, capsys):
    with pytest.raises(SystemExit) as e:
        cli(["demo", "--steps", steps])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.startswith("usage: python -m tinygrad_tf demo ")
    assert "argument --steps:" in err


@pytest.mark.parametrize("extra", [["--norm-first"], ["--activation", "gelu"], ["--depth", "2"]])
def test_explore_value_with_block_options_is_a_conflict(extra, tmp_path, capsys):
    assert cli(["explore", "--value", *extra, "-o", str(tmp_path / "x.html")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"explore: --value and {extra[0]} conflict") and err.count("\n") == 1
    assert not (tmp_path / "x.html").exists()


@pytest.mark.parametrize("argv, expected", [
    (["explore", "-o", "page.png"], ".html"), (["explain", "the cat sat", "-o", "words.txt"], ".png"),
    (["export", "-o", "model.npz"], ".pt")])
def test_an_output_the_command_cannot_write_is_refused_up_front(argv, expected, tmp_path, monkeypatch,
                                                                capsys):
    monkeypatch.chdir(tmp_path)
    assert cli(argv) == 1
    err = capsys.readouterr().err
    assert f"end the name in {expected}" in err and err.count("\n") == 1
    assert os.listdir(tmp_path) == []                         # nothing was written
