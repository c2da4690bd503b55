"""tg.watch: every recorded number equals the same quantity computed directly, the probe
leaves the training's gradients alone, the recording round-trips, and the page works in
a real browser (Debian's chromium, driven by Playwright, as for the explorer)."""
import json
import math
import os

import numpy as np
import pytest
from test_explore import browser  # noqa: F401  (the module's Chromium, shared fixture)
from test_explore import open_page as explorer_page

import tinygrad_tf as tg
from tinygrad_tf import nn, optim
from tinygrad_tf.nn import functional as F
from tinygrad_tf.seeing import watch as W
from tinygrad_tf.seeing.trace import norm

SRC = np.array([[4, 5, 6, 7, 8], [5, 9, 4, 0, 0]])          # 0 = padding
TGT = np.array([[1, 5, 6, 7, 2], [1, 8, 9, 2, 0]])


def small_model():
    nn.manual_seed(0)
    return nn.Transformer(11, 12, d_model=16, n_heads=2, n_layers=2, d_ff=32)


def loss_of(model, src=SRC, tgt=TGT):
    return F.cross_entropy(model(src, tgt[:, :-1]), tgt[:, 1:], ignore_index=0)


def probe(model):
    return loss_of(model, SRC[:1], TGT[:1])


def recorder(model, every=3, **kw):
    return tg.watch(model, every=every, probe=probe,
                    cells={"dec → tok 2": ("decoder.layers.1.cross_attn", 0, 1, 2)},
                    maps={"enc": ("encoder.layers.1.self_attn", 0, ["a", "b", "c", "d", "e"], list("vwxyz"))},
                    relations={"1 → 3": ("encoder", [(0, 1, 3)]),
                               "2 → 0": ("encoder.layers.1", [(0, 2, 0), (0, 3, 0)])}, **kw)


def train(model, rec, steps, lr=0.05):
    """SGD steps; returns, per step, the gradients and weights `rec.step` saw and the
    probe's statistics computed directly (before the optimizer step)."""
    opt = optim.SGD(model.parameters(), lr=lr)
    seen = []
    for _ in range(steps):
        loss = loss_of(model)
        loss.backward()
        grads = [p.grad.copy() for p in model.parameters()]
        weights = [p.data.copy() for p in model.parameters()]
        with tg.trace() as tr:                          # the probe's backward, traced by hand
            probe(model).backward()
        shares = [r.skip_share for r in tr.residual_report()]
        attn = {path: m.attn.copy() for path, m in model.named_modules() if hasattr(m, "n_heads")}
        for p, g in zip(model.parameters(), grads):   # (undo the probe's gradients)
            p.grad = g.copy()
        recorded = rec.step(loss)
        assert all(np.array_equal(p.grad, g) for p, g in zip(model.parameters(), grads))
        seen.append(dict(loss=loss.item(), grads=grads, weights=weights, shares=shares, attn=attn,
                         recorded=recorded))
        opt.step()
        opt.zero_grad()
    return seen


def log_ratio(dw, w):
    """log10 ‖Δw‖/‖w‖; NaN when either is 0 (a zero bias, a parameter no gradient reached)."""
    return math.log10(dw / w) if dw and w else np.nan


def test_every_recorded_number_is_the_quantity_itself():
    model = small_model()
    rec = recorder(model)
    seen = train(model, rec, 7)
    assert rec.steps == [1, 3, 6] and [s["recorded"] for s in seen] == [True, False, True, False, False,
                                                                         True, False]
    names = [n for n, _ in model.named_parameters()]
    rows, grad = rec.series("grad_norm")
    _, ratio = rec.series("update_ratio")
    assert rows == names and grad.shape == ratio.shape == (3, len(names))
    for k, step in enumerate(rec.steps):
        s = seen[step - 1]
        assert rec.loss[k] == pytest.approx(s["loss"], rel=1e-5)
        assert grad[k] == pytest.approx([norm(g) for g in s["grads"]], rel=5e-3)   # 3 digits kept
        after = seen[step]["weights"]                  # SGD: Δw = lr·g
        expected = [log_ratio(norm(a - b), norm(b)) for a, b in zip(after, s["weights"])]
        assert ratio[k] == pytest.approx(expected, abs=6e-3, nan_ok=True)
        sgd = [log_ratio(0.05 * norm(g), norm(w)) for g, w in zip(s["grads"], s["weights"])]
        measurable = ~np.isnan(expected)               # (a k_proj bias's Δw, ~1e-10·w, is lost in float32)
        assert ratio[k][measurable] == pytest.approx(np.array(sgd)[measurable], abs=6e-3)
        shares = rec.series("skip_share")[1][k]
        assert shares == pytest.approx(s["shares"], rel=5e-3) and len(shares) == 10
        heads = s["attn"]["decoder.layers.1.cross_attn"][0, :, 1, 2]
        assert rec.data["cells"]["dec → tok 2"]["values"][k] == pytest.approx(heads, abs=1e-3)
        block = s["attn"]["encoder.layers.1.self_attn"][0, :, :5, :5]
        assert np.array(rec.data["maps"]["enc"]["values"][k]) == pytest.approx(block, abs=6e-3)
        table = rec.relation_table(k)
        enc0 = s["attn"]["encoder.layers.0.self_attn"][0, :, 1, 3]
        assert table[("encoder.layers.0.self_attn", "1 → 3")] == (int(np.argmax(enc0)),
                                                                   pytest.approx(enc0.max(), abs=1e-3))
        enc1 = s["attn"]["encoder.layers.1.self_attn"][0, :, [2, 3], 0].mean(axis=0)
        best, weight = table[("encoder.layers.1.self_attn", "2 → 0")]
        assert (best, weight) == (int(np.argmax(enc1)), pytest.approx(enc1.max(), abs=1e-3))
        assert table[("encoder.layers.0.self_attn", "2 → 0")] == (None, None)   # layer 0: not asked
    rows = rec.series("skip_share")[0]
    assert rows[:2] == ["encoder.layers.0 · self_attn", "encoder.layers.0 · ffn"]
    assert rec.best_head_curve("1 → 3", "encoder.layers.0") == pytest.approx(
        [seen[s - 1]["attn"]["encoder.layers.0.self_attn"][0, :, 1, 3].max() for s in rec.steps], abs=1e-3)


def test_dead_units_and_entropy():
    nn.manual_seed(0)
    ffn = nn.FeedForward(4, 8)
    ffn.up.weight.data[:3] = 0.0
    ffn.up.bias.data[:3] = [-1.0, 0.0, -2.0]            # off everywhere (0 counts as off: relu'(0) = 0)
    ffn.up.weight.data[3:5] = 0.0
    ffn.up.bias.data[3:5] = 1.0                         # on everywhere
    x = tg.randn(3, 5, 4, seed=1)
    rec = tg.watch(ffn, every=1, probe=lambda m: m(x).sum(), mostly=0.6)
    ffn(x).sum().backward()
    rec.step(1.5)
    h = x.data.reshape(-1, 4) @ ffn.up.weight.data.T + ffn.up.bias.data      # (tokens, 8)
    off = (h <= 0).mean(axis=0)
    assert rec.series("dead")[1][0, 0] == pytest.approx(np.mean(off == 1.0)) and np.mean(off == 1) >= 3 / 8
    assert rec.series("mostly_off")[1][0, 0] == pytest.approx(np.mean(off >= 0.6))
    assert rec.series("dead")[0] == [""] and rec.loss == [1.5]
    uniform = np.full((2, 3, 4, 5), 0.2)
    uniform[1, :, 2] = 0.0                              # a query that may attend to nothing: left out
    assert W.entropy(uniform) == pytest.approx([math.log(5)] * 3)
    onehot = np.zeros((1, 2, 3, 4))
    onehot[..., 1] = 1.0
    assert W.entropy(onehot) == pytest.approx([0.0, 0.0])


def test_without_a_probe_the_training_forward_gives_the_entropies():
    model = small_model()
    rec = tg.watch(model, every=2)
    loss = loss_of(model)
    loss.backward()
    rec.step(loss)
    _, ent = rec.series("entropy")
    expected = np.concatenate([W.entropy(m.attn) for p, m in model.named_modules() if hasattr(m, "n_heads")])
    assert ent[0] == pytest.approx(expected, rel=5e-3)
    assert rec.series("skip_share")[0] == [] and rec.data["dead"]["values"] == []


def test_save_load_and_bad_input(tmp_path):
    model = small_model()
    rec = recorder(model, every=2)
    train(model, rec, 4)
    path = rec.save(tmp_path / "rec.json")
    back = tg.load_recording(path)
    assert back.steps == rec.steps == [1, 2, 4] and back.loss == rec.loss
    for kind in (*W.SERIES, "entropy"):
        a, b = back.series(kind), rec.series(kind)
        assert a[0] == b[0] and np.array_equal(a[1], b[1], equal_nan=True)
    assert back.relation_table() == rec.relation_table()
    rows, ratio = rec.series("update_ratio")                      # the last update, measured on save
    assert all(r.endswith("k_proj.bias") for r, x in zip(rows, ratio[-1]) if np.isnan(x))
    (tmp_path / "bad.json").write_text(json.dumps({"format": "something else"}))
    with pytest.raises(ValueError, match="not a recording"):
        tg.load_recording(tmp_path / "bad.json")
    (tmp_path / "bad.txt").write_text("no json")
    with pytest.raises(ValueError, match="not JSON"):
        tg.load_recording(tmp_path / "bad.txt")
    with pytest.raises(ValueError, match="every must be"):
        tg.watch(model, every=0)
    with pytest.raises(ValueError, match="'decoder.layers.7.cross_attn', which is not an attention module"):
        tg.watch(model, probe=probe, cells={"x": ("decoder.layers.7.cross_attn", 0, 1, 2)})
    with pytest.raises(ValueError, match="pass probe="):
        tg.watch(model, cells={"x": ("decoder.layers.1.cross_attn", 0, 1, 2)})
    with pytest.raises(ValueError, match="no attention module starts with 'encoder.layers.9'"):
        tg.watch(model, probe=probe, relations={"r": ("encoder.layers.9", [(0, 1, 2)])})
    with pytest.raises(KeyError, match="no statistic 'loss'"):
        rec.series("loss")
    with pytest.raises(ValueError, match="recorded no steps"):
        tg.watch(model).page(tmp_path / "empty.html")


def test_plot_draws_every_panel():
    model = small_model()
    rec = recorder(model, every=2)
    train(model, rec, 4)
    fig = rec.plot()
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert titles == ["loss", W.TITLES["module_grad_norm"], W.TITLES["update_ratio"], W.TITLES["skip_share"],
                      W.TITLES["dead"]]


# ------------------------------------------------------------ the page, in a real browser

def open_page(browser, path):  # noqa: F811
    return explorer_page(browser, path, ready="window.tgTraining !== undefined")


def check_page(browser, path, shots=None):  # noqa: F811
    """The checks every training page passes: steps, #step=, goto, a colour bar on every
    heatmap, the relation table, no console errors, no network. Returns the page's data."""
    data = W.read_page_data(path)
    text = open(path, encoding="utf-8").read()
    assert "<link" not in text and "src=" not in text and "https://" not in text
    page, problems = open_page(browser, path)
    run = data["runs"][0]
    assert page.evaluate("tgTraining.steps") == run["steps"]
    assert page.evaluate("tgTraining.current") == len(run["steps"]) - 1       # opens at the end
    assert page.evaluate("tgTraining.goto(1)") == 1
    assert page.evaluate("location.hash") == "#step=1"
    assert f"step {run['steps'][1]} " in page.inner_text("#counter")
    page.evaluate("location.hash = '#step=0'")
    page.wait_for_function("tgTraining.current === 0")
    page.keyboard.press("End")
    assert page.evaluate("tgTraining.current") == len(run["steps"]) - 1
    heat = page.evaluate("Array.from(document.querySelectorAll('#heatmaps figure'), f => f.id)")
    assert {"heat-module_grad_norm", "heat-update_ratio", "heat-entropy"} <= set(heat)
    frames = page.evaluate("document.querySelectorAll('#heatmaps .frame').length")
    assert frames == len(heat)                       # the chosen step, framed in every heatmap
    if run["relations"]["names"]:
        header = page.evaluate("Array.from(document.querySelectorAll('#relations th'), t => t.textContent)")
        assert header == ["attention layer", *run["relations"]["names"]]
    if shots:
        page.screenshot(path=shots, full_page=True)
    page2, problems2 = open_page(browser, f"{path}#step=1")
    assert page2.evaluate("tgTraining.current") == 1
    assert problems == problems2 == []
    page.close()
    page2.close()
    return data


def test_the_page_in_chromium(browser, tmp_path):  # noqa: F811
    model = small_model()
    rec = recorder(model, every=2, name="small")
    train(model, rec, 6)
    path = rec.page(tmp_path / "training.html")
    assert path._repr_html_().startswith("<iframe srcdoc=")
    data = check_page(browser, path, os.environ.get("TG_SHOTS", str(tmp_path)) + "/training.png")
    assert data["runs"][0]["name"] == "small" and data["runs"][0]["steps"] == [1, 2, 4, 6]
    other = recorder(small_model(), every=2)
    train(other.model, other, 4, lr=0.2)
    both = W.training_page({"lr 0.05": rec, "lr 0.2": other}, tmp_path / "both.html")
    page, problems = open_page(browser, both)
    assert page.evaluate("tgTraining.runs") == ["lr 0.05", "lr 0.2"]
    page.select_option("#run", "1")
    assert page.evaluate("[tgTraining.run, tgTraining.steps]") == [1, [1, 2, 4]]
    assert problems == []
    assert os.path.getsize(path) < 200_000
