"""`python -m tinygrad_tf experiment NAME`: every experiment runs (--quick) and writes its
picture, page and JSON; each conclusion is computed from the numbers, checked here on
made-up runs with the expected effect and without it."""
import json
import math

import numpy as np
import pytest

from tinygrad_tf.__main__ import main as cli
from tinygrad_tf.demo import corpus as C
from tinygrad_tf.demo import experiments as X
from tinygrad_tf.seeing.watch import read_page_data

NOT_SEEN = "The expected effect did not appear"


def fake(name, final_loss, first_loss=4.0, grad=1.0, dead=(0.0,), off=(0.0,), params=1000, **config):
    return {"name": name, "config": {**X.BASE, "warmup": 0, "peak_lr": 1e-3, **config},
            "final_loss": final_loss, "loss": [first_loss, final_loss], "steps": [1, 2],
            "first_layer_grad_norm": [grad, grad], "dead": list(dead), "mostly_off": list(off),
            "params": params, "recorded_steps": [1, 10, 20][:len(dead)], "diverged": None}


def test_warmup_conclusion_both_ways():
    def runs(post_without):
        return [fake("a", 1.0, norm_first=False, warmup=50), fake("b", post_without, norm_first=False),
                fake("c", 1.0, norm_first=True, warmup=50), fake("d", 1.1, norm_first=True)]
    yes = X.conclude("warmup", runs(3.6))
    assert yes.startswith("As the notes say, post-LN needs warmup") and "post-LN ends at 3.60" in yes
    assert "+2.60" in yes and "+0.10" in yes
    assert X.conclude("warmup", runs(1.15)).startswith(NOT_SEEN)
    assert X.conclude("warmup", runs(math.inf)).startswith("As the notes say")    # diverged: worst of all


def test_depth_conclusion_both_ways():
    def runs(post12, grad12):
        return [fake("p2", 2.0, grad=1.0, n_layers=2, norm_first=False), fake("q2", 2.0, grad=1.0, n_layers=2,
                                                                              norm_first=True),
                fake("p12", post12, grad=grad12, n_layers=12, norm_first=False),
                fake("q12", 2.0, grad=1.0, n_layers=12, norm_first=True)]
    assert X.conclude("depth", runs(3.0, 1.0)).startswith("Depth favours pre-LN")
    assert X.conclude("depth", runs(2.0, 0.1)).startswith("Depth favours pre-LN")     # the gradient alone
    no = X.conclude("depth", runs(2.0, 1.0))
    assert no.startswith(NOT_SEEN)
    assert "multiplies the first layer's initial gradient norm by 1 in post-LN" in no


def test_residual_conclusion_both_ways():
    yes = X.conclude("residual", [fake("with skips", 1.0, n_layers=6),
                                  fake("without skips", 3.0, n_layers=6)])
    assert yes.startswith("Skip connections let the deep stack train") and "without at 3.00" in yes
    no = X.conclude("residual", [fake("with skips", 1.0), fake("without skips", 1.05)])
    assert no.startswith(NOT_SEEN)


def test_layernorm_conclusion_both_ways():
    def runs(none_at_big):
        out = []
        for kind, at_big in (("LayerNorm", 1.0), ("no norm", none_at_big), ("BatchNorm", 1.0)):
            out += [fake(f"{kind}, lr 0.001", 1.0, peak_lr=1e-3),
                    fake(f"{kind}, lr 0.1", at_big, peak_lr=0.1)]
        return out
    assert X.largest_rate(runs(math.inf), "no norm") == 1e-3
    yes = X.conclude("layernorm", runs(math.inf))
    assert yes.startswith("LayerNorm trains at larger") and "no norm: up to lr 0.001" in yes
    assert X.conclude("layernorm", runs(3.9)).startswith("LayerNorm trains at larger")   # stuck: not training
    no = X.conclude("layernorm", runs(1.0))
    assert no.startswith(NOT_SEEN) and "LayerNorm: up to lr 0.1; no norm: up to lr 0.1" in no


def test_activation_conclusion_both_ways():
    def runs(relu_dead):
        return [fake("relu", 1.0, dead=(0.0, relu_dead), off=(0.1, 0.2), activation="relu"),
                fake("gelu", 1.0, dead=(0.0, 0.0), activation="gelu"),
                fake("swiglu", 1.0, dead=(0.0, 0.0), activation="swiglu")]
    yes = X.conclude("activation", runs(0.25))
    assert yes.startswith("More ReLU units died") and "dead units up to 25.0%" in yes
    assert X.conclude("activation", runs(0.0)).startswith(NOT_SEEN)


def test_width_conclusion_both_ways():
    def runs(losses):
        return [fake(f"{k}x", loss, d_ff=32 * k, params=1000 * k) for k, loss in zip((1, 2, 4, 8), losses)]
    yes = X.conclude("width", runs([2.0, 1.5, 1.3, 1.2]))
    assert yes.startswith("A wider FFN reaches a lower loss") and "each doubling gains less" in yes
    assert "each doubling" not in X.conclude("width", runs([2.0, 1.9, 1.3, 1.2]))
    assert X.conclude("width", runs([2.0, 1.5, 1.6, 1.2])).startswith(NOT_SEEN)


def test_coreference_conclusion_both_ways():
    def run(name, ref, other):
        r = fake(name, 1.0, dead=(0.0, 0.0, 0.0))
        r.update(it_referent=ref, it_other=other)
        return r
    flat = run("demo corpus", [0.2, 0.2, 0.2], [0.2, 0.2, 0.2])
    rising = run("gendered pronoun", [0.2, 0.35, 0.6], [0.2, 0.2, 0.1])
    yes = X.conclude("coreference", [flat, rising])
    assert yes.startswith("The picture appears only when") and "first ahead by 0.1 at step 10" in yes
    assert X.conclude("coreference", [{**rising, "name": "demo corpus"}, rising]).startswith(
        "A head links")
    assert X.conclude("coreference", [flat, {**flat, "name": "gendered pronoun"}]).startswith(NOT_SEEN)


def test_the_gendered_variant_says_it_with_the_referents_pronoun():
    corpus = X.gendered_corpus(C.build())
    tired = next(p for p in corpus.train if p.english.startswith("the animal didn't cross the street")
                 and p.english.endswith("tired ."))
    wide = next(p for p in corpus.train if p.english.startswith("the animal didn't cross the street")
                and p.english.endswith("wide ."))
    assert tired.japanese == "動物 は 通り を 渡ら なかった 。 イル は 疲れ すぎて いた"    # animal: m
    assert wide.japanese == "動物 は 通り を 渡ら なかった 。 エル は 広 すぎた"           # street: f
    assert corpus.train[0] == C.build().train[0]                   # simple pairs as they were
    for kind in (C.TOO_ANIMAL, C.TOO_PLACE):        # the adjective alone never tells the pronoun
        referents = C.SUBJECTS if kind is C.TOO_ANIMAL else C.CROSSABLE
        assert {X.GENDER[n] for n in referents} == {"m", "f"}


def test_lr_schedules_and_bad_names(capsys):
    assert X.lr_at(1, 1.0, 10) == pytest.approx(0.1) and X.lr_at(10, 1.0, 10) == 1.0
    assert X.lr_at(40, 1.0, 10) == pytest.approx(0.5)
    assert X.lr_at(1, 1.0, 10, ramp=False) == 1.0 and X.lr_at(40, 1.0, 10, ramp=False) == pytest.approx(0.5)
    assert X.lr_at(7, 1.0, 0) == 1.0
    assert X.lr_at(100, 2.0, 0, decay=False) == 2.0
    with pytest.raises(SystemExit):
        cli(["experiment", "nonsense"])
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize("name", list(X.EXPERIMENTS))
def test_each_experiment_runs_quick_and_writes_its_json(name, tmp_path, capsys):
    path = tmp_path / f"{name}.json"
    assert cli(["experiment", name, "--quick", "-o", str(tmp_path), "--json", str(path)]) == 0
    out = capsys.readouterr().out
    result = json.loads(path.read_text(encoding="utf-8"))
    assert result["experiment"] == name and result["quick"] is True
    assert result["conclusion"] in out
    for r in result["runs"]:
        assert {"name", "config", "steps", "loss"} <= set(r)
        assert r["steps"] == list(range(1, len(r["loss"]) + 1)) and r["config"]["seed"] == 0
    runs = [{**r, "final_loss": math.inf if r["final_loss"] is None else r["final_loss"]}
            for r in result["runs"]]
    assert result["conclusion"] == X.conclude(name, runs)          # computed from these numbers
    assert (tmp_path / f"{name}.png").stat().st_size > 10_000
    page = read_page_data(tmp_path / f"{name}.html")
    assert [r["name"] for r in page["runs"]] == [r["name"] for r in result["runs"]]
    groups = {}                           # runs that differ only in their learning rate: same seed,
    for r in result["runs"]:              # same batches, so the same loss at step 1
        groups.setdefault(r["name"].split(",")[0], []).append(r["loss"][0])
    if name in ("warmup", "layernorm"):
        assert all(len(set(first)) == 1 for first in groups.values()) and len(groups) in (2, 3)
    assert np.isfinite(result["cpu_seconds"])
