"""tg.viz.explore: the page's steps are the trace's steps, number for number, and the page
works in a real browser (Debian's chromium, driven by Playwright)."""
import os
import re

import numpy as np
import pytest

import tinygrad_tf as tg
from tinygrad_tf import nn, viz
from tinygrad_tf.__main__ import main as cli
from tinygrad_tf.seeing import explore as ex
from tinygrad_tf.seeing.trace import node_name, norm

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def value_graph():
    a, b, c = tg.Value(2.0, "a"), tg.Value(-0.5, "b"), tg.Value(0.3, "c")
    L = (a * b + c * a).tanh()                  # a used twice: two edges, gradients summed
    L.label = "L"
    with tg.trace() as tr:
        L.backward()
    return L, tr, a


def decoder_block():
    nn.manual_seed(0)
    block = nn.DecoderBlock(8, 2, 16)
    x = tg.randn(2, 3, 8, seed=0, requires_grad=True)
    out = block(x, tg.randn(2, 4, 8, seed=1))
    loss = (out * tg.randn(2, 3, 8, seed=2)).sum()
    with tg.trace() as tr:
        loss.backward()
    return loss, tr


def small_transformer():
    nn.manual_seed(0)
    model = nn.Transformer(11, 13, d_model=16, n_heads=2, n_layers=2, d_ff=32)
    logits = model(np.array([[1, 2, 3, 4]]), np.array([[1, 5, 6]]))
    loss = nn.functional.cross_entropy(logits, np.array([[5, 6, 2]]))
    with tg.trace() as tr:
        loss.backward()
    return loss, tr


def drawn_ids(root, depth=None):
    return viz.draw_graph(root, depth=depth).drawn


def test_value_page_holds_every_step_with_exact_numbers(tmp_path):
    L, tr, a = value_graph()
    path = viz.explore(L, tr, tmp_path / "value.html")
    assert path == str(tmp_path / "value.html") and os.path.exists(path)
    data = ex.read_data(path)
    assert data["scalar"] and len(data["steps"]) == len(tr.steps) == 4
    ids = drawn_ids(L)
    for page, step in zip(data["steps"], tr.steps):
        assert (page["op"], page["module"], page["name"]) == (step.op, "", node_name(step.node))
        assert page["node"] == ids[step.node] and page["out"] == step.node.data
        assert page["formula"] == step.node.formula and "∂a = g" in page["formula"]
        assert page["grad"]["value"] == step.grad_in           # exact, not rounded
        assert [e["value"] for e in page["sent"]] == list(step.grads_sent)
        assert [e["to"] for e in page["sent"]] == [node_name(x) for x in step.inputs]
        assert [e["node"] for e in page["sent"]] == [ids[x] for x in step.inputs]
        assert [e["data"] for e in page["sent"]] == [x.data for x in step.inputs]
        for e, g in zip(page["sent"], step.grads_sent):        # local derivative × gradient in
            assert e["local"] * page["grad"]["value"] == g
    uses_of_a = [e for s in data["steps"] for e in s["sent"] if e["to"] == "a"]
    assert len(uses_of_a) == 2 and uses_of_a[-1]["so_far"] == pytest.approx(a.grad, rel=1e-15)
    assert data["seed"] == {"node": ids[L], "name": "L", "value": 1.0, "norm": 1.0}


def test_decoder_block_page_steps_are_the_trace_steps(tmp_path):
    loss, tr = decoder_block()
    data = ex.read_data(viz.explore(loss, tr, tmp_path / "block.html"))
    ids = drawn_ids(loss)
    assert not data["scalar"] and len(data["steps"]) == len(tr.steps)
    for page, step in zip(data["steps"], tr.steps):
        assert (page["op"], page["module"]) == (step.op, step.module or "")
        assert page["node"] == ids[step.node]
        assert page["formula"] == type(step.node).formula and page["formula"].startswith("∂")
        assert page["grad"]["shape"] == list(step.grad_in.shape)
        assert page["grad"]["norm"] == pytest.approx(norm(step.grad_in), rel=1e-12)
        assert [e.get("norm") for e in page["sent"]] == pytest.approx([norm(g) for g in step.grads_sent])
        assert [e.get("none", False) for e in page["sent"]] == [g is None for g in step.grads_sent]
    residual = [(page, step) for page, step in zip(data["steps"], tr.steps) if step.op == "residual_add"]
    report = {id(r.step): r for r in tr.residual_report()}
    assert len(residual) == 3                   # self-attention, cross-attention, feed-forward
    for page, step in residual:
        r = report[id(step)]
        assert page["residual"]["sublayer"] == r.sublayer
        assert page["residual"]["skip_norm"] == pytest.approx(r.skip_norm)
        assert page["residual"]["branch_norm"] == pytest.approx(r.branch_norm)
        assert page["residual"]["skip_share"] == pytest.approx(r.skip_share)


def test_heatmaps_sample_large_gradients_evenly():
    g = np.arange(40 * 50, dtype=np.float64).reshape(2, 20, 50) / 7
    h = ex.heatmap(g, 16, 32)
    assert (h["rows"], h["cols"]) == (40, 50)
    assert len(h["r"]) == 16 and len(h["c"]) == 32
    assert h["r"][0] == 0 and h["r"][-1] == 39 and h["c"][0] == 0 and h["c"][-1] == 49
    m = g.reshape(40, 50)
    for i, row in zip(h["r"], h["v"]):
        assert row == pytest.approx([m[i, j] for j in h["c"]], rel=5e-3)
    assert h["amax"] == pytest.approx(np.abs(g).max())
    small = ex.heatmap(np.array([1.0, -2.0]), 16, 32)
    assert small["v"] == [[1.0, -2.0]] and (small["rows"], small["cols"]) == (1, 2)
    assert ex.heatmap(np.array(3.5), 16, 32)["v"] == [[3.5]]


def test_the_page_is_self_contained_and_shows_itself_in_a_notebook(tmp_path):
    L, tr, _ = value_graph()
    path = viz.explore(L, tr, tmp_path / "v.html")
    text = open(path, encoding="utf-8").read()
    assert "<svg" in text and "window.tgExplorer" in text
    assert not re.search(r"<link|<script[^>]*\ssrc=|@import|url\(\s*['\"]?(https?:)?//", text)
    for url in re.findall(r"https?://[^\s\"'<>)]+", text):  # only XML namespaces and doctypes
        assert url.startswith(("http://www.w3.org/", "http://www.graphviz.org/")), url
    shown = path._repr_html_()
    assert shown.startswith("<iframe srcdoc=") and "&lt;svg" in shown and "<svg" not in shown
    temporary = viz.explore(L, tr)                   # path=None: a new temporary file
    try:
        assert temporary.endswith(".html") and ex.read_data(temporary)["steps"]
    finally:
        os.remove(temporary)


def test_explore_refuses_what_is_not_a_trace_of_a_backward():
    L, tr, _ = value_graph()
    with pytest.raises(TypeError, match="tg.trace"):
        viz.explore(L, tr.steps)
    with pytest.raises(ValueError, match="no steps"):
        viz.explore(L, tg.trace())


def test_cli_writes_each_kind_of_page(tmp_path, capsys):
    for flags, steps in ((["--value"], 3), (["--block", "decoder"], None), (["--model"], None)):
        out = tmp_path / f"{flags[-1].strip('-')}.html"
        assert cli(["explore", "-o", str(out), *flags]) == 0
        data = ex.read_data(out)
        assert data["scalar"] == (flags == ["--value"])
        assert steps is None or len(data["steps"]) == steps
        assert f"{len(data['steps'])} steps" in capsys.readouterr().out
    model = ex.read_data(tmp_path / "model.html")
    assert any(s["node"].startswith("box decoder.layers.1.") for s in model["steps"])   # depth 2
    assert os.path.getsize(tmp_path / "model.html") < 3_000_000
    assert cli(["explore", "-o", str(tmp_path / "no" / "such" / "dir.html")]) == 1
    assert "does not exist" in capsys.readouterr().err


# ------------------------------------------------------------ in a real browser

@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"the browser tests need Chromium at {CHROMIUM} (make setup-test installs Debian's "
                    "chromium; set CHROMIUM=/path/to/chromium to use another)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def open_page(browser, path, ready="window.tgExplorer !== undefined"):
    """A page showing `path` (a hash may follow it), once `ready` holds, with a list
    collecting console errors and off-file requests."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    problems = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("request", lambda r: None if r.url.startswith("file:") else problems.append(f"request {r.url}"))
    page.goto(f"file://{path}")
    page.wait_for_function(ready)
    return page, problems


def highlighted(page):
    """(step number, the SVG id of the highlighted node, the op named in the panel)."""
    return page.evaluate("""[tgExplorer.current,
        (document.querySelector('#graph g.node.cur title') || {}).textContent || null,
        document.querySelector('#detail h2').textContent.trim()]""")


def test_stepping_through_a_transformer_in_chromium(browser, tmp_path):
    loss, tr = small_transformer()
    path = viz.explore(loss, tr, tmp_path / "model.html", depth=2)
    ids = drawn_ids(loss, depth=2)
    page, problems = open_page(browser, path)
    assert highlighted(page) == [0, None, "start"]
    assert page.evaluate("tgExplorer.steps.length") == len(tr.steps)
    for n in range(1, 8):                       # step forward: the n-th step of the trace lights up
        page.keyboard.press("ArrowRight")
        step = tr.steps[n - 1]
        assert highlighted(page) == [n, ids[step.node], node_name(step.node)]
    page.click("#next")
    page.click("#prev")
    assert highlighted(page)[0] == 7
    hot = page.evaluate("""Array.from(document.querySelectorAll('#graph g.edge.hot title'),
                           t => t.textContent)""")
    step = tr.steps[6]                          # the highlighted edges are its input edges
    expected = {f"{ids[x]}->{ids[step.node]}" for x in step.inputs if ids[x] != ids[step.node]}
    assert set(hot) == expected
    page.evaluate("location.hash = '#step=12'")
    page.wait_for_function("tgExplorer.current === 12")
    assert highlighted(page) == [12, ids[tr.steps[11].node], node_name(tr.steps[11].node)]
    residual = next(k for k, s in enumerate(tr.steps, 1) if s.op == "residual_add")
    page.evaluate(f"tgExplorer.goto({residual})")
    assert "skip / branch split" in page.inner_text("#detail").lower()
    heatmaps = page.evaluate("document.querySelectorAll('#detail canvas').length")
    scales = page.evaluate("Array.from(document.querySelectorAll('#detail .scale'), e => e.innerText)")
    assert heatmaps >= 2 and len(scales) == heatmaps          # every heatmap has its colour scale
    assert all("white = 0" in s and "+" in s for s in scales)
    assert page.evaluate("location.hash") == f"#step={residual}"
    page.screenshot(path=str(tmp_path / "explore-model.png"))
    assert problems == []
    page.reload()                               # the page measures its own open time (ms from
    page.wait_for_function("tgExplorer.shownMs !== undefined")   # navigation to the first frame):
    shown = page.evaluate("tgExplorer.shownMs")  # reported, not asserted, since a test's clock is the
    size = os.path.getsize(path)                 # shared machine's (speed lives in benchmarks/)
    print(f"2-layer encoder-decoder at depth 2: {size / 1e6:.2f} MB, shown after {shown:.0f} ms")
    assert size < 3_000_000 and shown > 0


def test_a_value_page_opens_at_its_hash_and_shows_exact_numbers(browser, tmp_path):
    L, tr, _ = value_graph()
    path = viz.explore(L, tr, tmp_path / "value.html")
    page, problems = open_page(browser, path)
    page.goto(f"file://{path}#step=4")
    page.wait_for_function("tgExplorer.current === 4")
    step = tr.steps[3]
    assert highlighted(page)[2] == node_name(step.node)
    text = page.inner_text("#detail")
    for g in step.grads_sent:                   # every number exactly, as repr shows it
        assert repr(g) in text
    page.click("#first")
    assert highlighted(page) == [0, None, "start"]
    page.click("#last")
    assert highlighted(page)[0] == len(tr.steps)
    page.screenshot(path=str(tmp_path / "explore-value.png"))
    notebook = tmp_path / "notebook.html"      # as Jupyter shows it: the page in an iframe's srcdoc
    notebook.write_text(f"<!DOCTYPE html><html><body>{path._repr_html_()}</body></html>", encoding="utf-8")
    page.goto(f"file://{notebook}")
    inline = page.frames[1]
    inline.wait_for_function("window.tgExplorer !== undefined")
    assert inline.evaluate("tgExplorer.goto(2)") == 2
    assert inline.evaluate("document.querySelector('#detail h2').textContent") == node_name(tr.steps[1].node)
    assert problems == []


# ------------------------------------------------------------ on a real prediction

TIRED = "The animal didn't cross the street because it was too tired."


@pytest.fixture(scope="module")
def prediction_page(translator_checkpoint, tmp_path_factory):
    """The CLI's page for logit(動物) − logit(通り) on the trained translator."""
    path = tmp_path_factory.mktemp("prediction") / "why.html"
    assert cli(["explore", "--checkpoint", translator_checkpoint, "--sentence", TIRED,
                "--token", "動物", "--versus", "通り", "-o", str(path)]) == 0
    return str(path)


def test_a_prediction_page_follows_the_gradient_to_each_source_word(prediction_page, translator):
    from tinygrad_tf.demo import explain as E
    data = ex.read_data(prediction_page)
    words = "the animal didn't cross the street because it was too tired .".split()
    assert data["title"] == "backward of logit(動物) − logit(通り)"
    assert [w["label"] for w in data["watch"]] == ["memory (encoder output)", "input of encoder layer 1",
                                                   "input of encoder layer 0", "word embeddings"]
    assert all(w["rows"] == words for w in data["watch"])
    text = open(prediction_page, encoding="utf-8").read()
    for j, w in enumerate(words):                        # one input node per word, named by it
        assert f"“{w}” (word {j})" in text
    first = [next((k for k, s in enumerate(data["steps"]) if s["watch"][i] is not None), None)
             for i in range(4)]
    assert first[0] < first[1] < first[2] < first[3] == len(data["steps"]) - 2  # output → input, in order
    ex_ = E.explain(translator.model, translator.corpus, TIRED, token="動物", versus="通り")
    last = data["steps"][-1]["watch"][-1]                # Σ gradient × input per word: explain's scores
    np.testing.assert_allclose([gx for _, gx in last], ex_.methods["gradient_x_input"], rtol=2e-3, atol=1e-4)
    boxed = [s for s in data["steps"] if "box" in s]
    assert boxed and all(1 <= s["box"]["k"] <= s["box"]["n"] for s in boxed)


def test_a_prediction_page_in_chromium_changes_at_every_step(browser, prediction_page, tmp_path):
    page, problems = open_page(browser, prediction_page)
    steps = page.evaluate("tgExplorer.steps.length")
    assert highlighted(page)[:2] == [0, None]
    whole = page.evaluate("""(() => {
        const p = document.getElementById('graph').getBoundingClientRect(),
              s = document.querySelector('#graph svg').getBoundingClientRect();
        return [s.left >= p.left - 1, s.right <= p.right + 1, s.top >= p.top - 1, s.bottom <= p.bottom + 1];
        })()""")
    assert whole == [True, True, True, True]              # step 0: the whole graph is in view
    inside = lambda: page.evaluate(                       # noqa: E731  the op written into the current box
        "(document.querySelector('#graph g.node.cur text.inside') || {}).textContent || null")
    data = ex.read_data(prediction_page)
    seen, previous = 0, None
    for k in range(1, steps + 1):
        page.evaluate(f"tgExplorer.goto({k})")
        s = data["steps"][k - 1]
        now = inside()
        if "box" in s:                                   # inside a box: the box names this op
            assert now == f"▸ {s['name']} (op {s['box']['k']} of {s['box']['n']} here)"
            assert now != previous
            seen += 1
        else:
            assert now is None
        previous = now
    assert seen > 50
    assert page.evaluate("document.querySelectorAll('#graph text.inside').length") == 0   # closed again
    page.goto(f"file://{prediction_page}#step=20")
    page.wait_for_function("tgExplorer.current === 20")
    assert "gradient that has reached each row so far" in page.inner_text("#detail")
    assert problems == []


def test_prediction_options_without_a_sentence_are_refused(tmp_path, capsys):
    assert cli(["explore", "-o", str(tmp_path / "x.html"), "--token", "動物"]) == 2
    assert "need --sentence" in capsys.readouterr().err
