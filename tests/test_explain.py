"""`explain` on the demo's trained translator: why did it say 動物 (or 通り)?"""
import json

import matplotlib
import numpy as np
import pytest

from tinygrad_tf.__main__ import main as cli
from tinygrad_tf.demo import explain as E

matplotlib.use("Agg")
TIRED = "The animal didn't cross the street because it was too tired."
WIDE = "The animal didn't cross the street because it was too wide."
FIELDS = {"source", "translation", "token", "position", "versus", "margin", "methods",
          "completeness_error", "faithfulness"}


@pytest.fixture
def checkpoint(translator_checkpoint):
    return translator_checkpoint


@pytest.mark.parametrize("sentence, first", [(TIRED, "動物"), (WIDE, "通り")])
def test_the_margin_its_scores_and_their_completeness(translator, sentence, first):
    ex = E.explain(translator.model, translator.corpus, sentence, token="動物", versus="通り")
    assert ex.translation[0] == first and ex.position == 0         # where the model chose
    tgt = translator.corpus.tgt_vocab
    src = np.array(translator.corpus.src_vocab.encode(ex.source))
    prefix = np.array([tgt.bos, *tgt.encode(ex.translation)])
    margin = E.margin_of(translator.model, src, prefix, 0, tgt.stoi["動物"], tgt.stoi["通り"])
    assert ex.margin == margin and (margin > 0) == (first == "動物")
    ig = ex.attributions["integrated_gradients"]
    assert ig.batched and ig.value == pytest.approx(margin, rel=1e-4, abs=1e-4)
    assert ex.completeness_error == ig.completeness_error <= 0.01
    assert ex.methods["integrated_gradients"].sum() == pytest.approx(ig.value - ig.baseline_value, rel=0.01)
    for m in E.METHODS:
        assert ex.methods[m].shape == (len(ex.source),)
    assert ex.methods["cross_attention"].sum() == pytest.approx(1.0, abs=1e-5)   # a softmax row
    assert ex.methods["attention_rollout"].sum() == pytest.approx(1.0, abs=1e-5)
    gxi = ex.attributions["gradient_x_input"]           # its scores: gradient × embedding, by row
    np.testing.assert_allclose(ex.methods["gradient_x_input"], gxi.scores.sum(axis=-1), rtol=1e-5)
    fth = ex.faithfulness                                # deleting the words, by hand
    order = np.argsort(-np.abs(ex.methods["integrated_gradients"]), kind="stable")
    for name, j in (("top", order[0]), ("median", order[len(order) // 2])):
        deleted = src.copy()
        deleted[j] = translator.model.pad_id
        assert fth[f"{name}_word"] == ex.source[j]
        assert fth[f"{name}_deleted_drop"] == pytest.approx(
            margin - E.margin_of(translator.model, deleted, prefix, 0, tgt.stoi["動物"], tgt.stoi["通り"]))


def test_without_a_rival_the_log_probability_of_the_first_content_word(translator):
    ex = E.explain(translator.model, translator.corpus, "the dog slept under the table")
    assert ex.token == ex.translation[ex.position] == "犬" and ex.versus is None
    assert ex.margin < 0 and ex.completeness_error < 0.01           # a log-probability


def test_the_command_prints_writes_the_picture_and_every_json_field(checkpoint, tmp_path, capsys):
    png, out = tmp_path / "why.png", tmp_path / "why.json"
    assert cli(["explain", TIRED, "--versus", "通り", "--checkpoint", checkpoint,
                "-o", str(png), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0] == "動物 は 疲れ すぎて いた ので 通り を 渡ら なかった"
    assert "logit(動物) − logit(通り)" in text and "faithfulness" in text
    data = json.loads(out.read_text(encoding="utf-8"))
    assert set(data) == FIELDS and set(data["methods"]) == set(E.METHODS)
    assert all(len(v) == len(data["source"]) for v in data["methods"].values())
    assert set(data["faithfulness"]) == {"top_deleted_drop", "median_deleted_drop"}
    assert (data["token"], data["versus"], data["position"]) == ("動物", "通り", 0)
    assert data["completeness_error"] <= 0.01
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("argv, code, message", [
    (["the cat sat on the mat", "--token", "犬"], 2, "'犬' is not in the translation"),
    (["the cat sat on the mat", "--token", "dog"], 2, "is not a Japanese word of the corpus"),
    (["the penguin sat on the mat"], 2, "unknown English word 'penguin'"),
    (["the cat sat", "--checkpoint", "nowhere.npz"], 1, "nowhere.npz"),
])
def test_bad_requests_are_one_clear_line(checkpoint, argv, code, message, capsys):
    if "--checkpoint" not in argv:
        argv = [*argv, "--checkpoint", checkpoint]
    assert cli(["explain", *argv]) == code
    err = capsys.readouterr().err
    assert message in err and err.startswith("explain: ") and err.count("\n") == 1


def test_the_report_sections_count_every_held_out_it_sentence(translator, tmp_path, capsys):
    from tinygrad_tf.demo import why
    stats = why.held_out_stats(translator, limit=8)       # the demo counts all 40; 8 keep the test short
    text = why.section(translator, str(tmp_path), stats=stats)
    for name in ("why_tired.png", "why_wide.png", "cat_self_attention.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    assert stats["n"] + stats["skipped"] == 8
    assert f"Over the {stats['n']} held-out" in text
    for m in E.METHODS:                                  # every sentence's top word lands in one column
        assert sum(stats["tops"][m].values()) == stats["n"]
        assert f"| {m.replace('_', ' ')} | " + " | ".join(str(stats["tops"][m][k]) for k in why.KINDS) in text
    assert f"**{stats['top_drop']:.2f}**" in text and f"**{stats['median_drop']:.2f}**" in text
    tokens, layers = why.encoder_self_attention(translator, why.CAT)
    found = why.claims(tokens, layers)
    assert [(c["word"], c["key"]) for c in found] == [("cat", "the"), ("cat", "sat"), ("sat", "cat"),
                                                      ("sat", "mat"), ("mat", "on"), ("mat", "the")]
    for c in found:                                      # the weight quoted is the largest over heads
        i, k = tokens.index(c["word"]), c["key_position"]
        assert c["weight"] == pytest.approx(max(layer[:, i, k].max() for layer in layers))
        assert f"**{c['word']} → {c['key']}** (word {k}): {'yes' if c['does'] else 'no'}," in text
    assert "## Why 動物? Why 通り?" in text and "7. Why 動物?" in capsys.readouterr().out
