"""viz: graphs of Values and Tensors with modules, residual skips and gradient norms; grad_flow."""
import io
import pathlib
import re
import xml.etree.ElementTree as ET

import graphviz
import numpy as np
import pytest

import tinygrad_tf as tg
from tinygrad_tf import nn, viz
from tinygrad_tf.__main__ import main as cli
from tinygrad_tf.seeing import graph as graph_module

EDGE = re.compile(r'^\s*("[^"]+"|\w+) -> ("[^"]+"|\w+)(?: \[(.*)\])?$')


def edges(g):
    """(src, dst, attribute text) for every edge line of the DOT source."""
    return [m.groups("") for m in map(EDGE.match, g.source.splitlines()) if m]


def label_number(attrs):
    m = re.search(r'label="?(?:skip )?([-0-9.e+]+)"?', attrs)
    return float(m.group(1)) if m else None


def traced_block(norm_first=False, seed=0):
    nn.manual_seed(seed)
    block = nn.EncoderBlock(8, 2, 16, norm_first=norm_first)
    x = tg.randn(2, 3, 8, seed=seed, requires_grad=True)
    loss = (block(x) * tg.randn(2, 3, 8, seed=seed + 1)).sum()
    with tg.trace() as tr:
        loss.backward()
    return block, x, loss, tr


def test_value_graph_shows_each_use_and_the_gradient_on_each_edge():
    a, b = tg.Value(3.0, "a"), tg.Value(-2.0, "b")
    y = a * a + b                               # dy/da = 2a along the two edges a -> *, 3 each
    with tg.trace() as tr:
        y.backward()
    g = viz.draw_graph(y, trace=tr)
    assert "a = 3" in g.source and "grad 6" in g.source and "op *" in g.source
    es = edges(g)
    assert len(es) == 4                         # a→*, a→*, *→+, b→+
    src_a = re.search(r'(\w+) \[label=<<B>a = 3', g.source).group(1)
    assert sorted(label_number(attrs) for src, _, attrs in es if src == src_a) == [3.0, 3.0]
    plain = viz.draw_graph(y, show_grads=False)
    assert "grad 6" not in plain.source and all(label_number(attrs) is None for *_, attrs in edges(plain))


def test_encoder_block_has_module_clusters_styled_skips_and_gradient_labels():
    block, x, loss, tr = traced_block()
    g = viz.draw_graph(loss, trace=tr)
    src = g.source
    for cluster in ("self_attn", "ffn", "self_attn.q_proj", "ffn.up", "norm1"):
        assert f'subgraph "cluster_{cluster}"' in src or f"subgraph cluster_{cluster} " in src
    assert src.index("subgraph cluster_self_attn") < src.index('subgraph "cluster_self_attn.q_proj"')
    for name, _ in block.named_parameters():    # leaves carry the parameter names
        assert f"<B>{name}</B>" in src
    skips = [e for e in edges(g) if "style=dashed" in e[2]]
    assert len(skips) == 2 and len({dst for _, dst, _ in skips}) == 2   # one per residual add
    assert all("skip" in attrs for *_, attrs in skips)
    report = tr.residual_report()               # the skip label is the gradient along that edge
    assert sorted(label_number(a) for *_, a in skips) == pytest.approx(
        sorted(r.skip_norm for r in report), rel=1e-2)
    constants = set(re.findall(r"^\s*(\w+) \[.*shape=plaintext", src, flags=re.M))
    for source, _, attrs in edges(g):           # every edge a gradient flows along is labelled
        assert (label_number(attrs) is not None) == (source not in constants)
    untraced = viz.draw_graph(loss)
    assert all(label_number(a) is None for *_, a in edges(untraced))
    assert len([e for e in edges(untraced) if "style=dashed" in e[2]]) == 2


def test_svg_rendering_is_valid_svg():
    _, _, loss, tr = traced_block(norm_first=True)
    svg = viz.draw_graph(loss, trace=tr).pipe("svg")
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    text = " ".join(t.text or "" for t in root.iter() if t.tag.endswith("text"))
    assert "self_attn" in text and "residual_add" in text and "skip" in text


def test_depth_collapses_modules_into_boxes():
    _, x, loss, tr = traced_block()
    g = viz.draw_graph(loss, trace=tr, depth=1)
    boxes = set(re.findall(r'"box ([\w.]+)"', g.source))
    assert boxes == {"self_attn", "ffn", "norm1", "norm2"}
    assert "q_proj" not in g.source and "cluster" not in g.source
    assert "<B>input</B>" in g.source           # the block's input stays in sight
    into_attn = [a for s, d, a in edges(g) if d == '"box self_attn"']
    assert len(into_attn) == 1                  # x's three uses inside (q, k, v) as one edge
    with pytest.raises(ValueError, match="depth"):
        viz.draw_graph(loss, depth=0)


def test_a_decoder_block_at_depth_one_keeps_the_memory_edge_into_cross_attention():
    """memory needs no gradient here (as in `graph --block decoder`), yet it is the
    block's second input: folded into the cross_attn box it vanished from the picture."""
    nn.manual_seed(0)
    block = nn.DecoderBlock(8, 2, 16)
    x, memory = tg.randn(1, 3, 8, seed=0, requires_grad=True), tg.randn(1, 4, 8, seed=1)
    x.name, memory.name = "x", "memory"
    loss = block(x, memory).sum()
    with tg.trace() as tr:
        loss.backward()
    for depth in (1, None):
        g = viz.draw_graph(loss, trace=tr, depth=depth)
        memory_id = g.drawn[graph_module.node_of(memory)]
        assert not memory_id.startswith("box ")
        into = [d for s, d, _ in edges(g) if s.strip('"') == memory_id]
        assert into and (depth is None or into == ['"box cross_attn"'])


def test_a_two_layer_encoder_decoder_stays_readable_at_depth_two():
    nn.manual_seed(0)
    model = nn.Transformer(11, 13, d_model=16, n_heads=2, n_layers=2, d_ff=32)
    loss = model(np.array([[1, 2, 3, 4]]), np.array([[1, 5, 6]])).mean()
    with tg.trace() as tr:
        loss.backward()
    blocks = viz.draw_graph(loss, trace=tr, depth=1)
    assert set(re.findall(r'"box ([\w.]+)"', blocks.source)) >= {
        "encoder.layers.0", "encoder.layers.1", "decoder.layers.0", "decoder.layers.1"}
    g = viz.draw_graph(loss, trace=tr, depth=2)
    boxes = set(re.findall(r'"box ([\w.]+)"', g.source))
    assert {"encoder.layers.0.self_attn", "decoder.layers.1.cross_attn", "decoder.layers.1.ffn"} <= boxes
    nodes = re.findall(r"^\s*(\w+|\"[^\"]+\") \[label", g.source, flags=re.M)
    full = viz.draw_graph(loss, trace=tr)
    all_nodes = re.findall(r"^\s*(\w+|\"[^\"]+\") \[label", full.source, flags=re.M)
    assert len(nodes) <= 70 and len(all_nodes) > 4 * len(nodes)
    assert "subgraph cluster_encoder " in g.source and 'subgraph "cluster_encoder.layers.0"' in g.source
    assert len([e for e in edges(g) if "style=dashed" in e[2]]) == 10   # 2·2 encoder + 2·3 decoder


def test_without_dot_the_graph_builds_and_rendering_says_how_to_install(monkeypatch, tmp_path):
    _, _, loss, tr = traced_block()
    monkeypatch.setenv("PATH", str(tmp_path))   # no `dot` anywhere
    g = viz.draw_graph(loss, trace=tr)
    assert g.source.startswith("digraph")
    viz.save(g, tmp_path / "block.dot")
    assert (tmp_path / "block.dot").read_text() == g.source
    for render in (lambda: g.pipe("svg"), lambda: g.render(tmp_path / "b", format="png"),
                   lambda: viz.save(g, tmp_path / "block.svg")):
        with pytest.raises(graphviz.ExecutableNotFound, match="apt-get install graphviz"):
            render()


def test_save_picks_the_format_from_the_extension(tmp_path):
    _, _, loss, _ = traced_block()
    g = viz.draw_graph(loss, depth=1)
    viz.save(g, tmp_path / "g.png")
    viz.save(g, tmp_path / "g.pdf")
    assert (tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "g.pdf").read_bytes()[:4] == b"%PDF"
    with pytest.raises(ValueError, match=r"\.svg"):
        viz.save(g, tmp_path / "g.jpeg2")


def test_ungrouped_graphs_name_the_module_in_each_node_and_rankdir_is_kept():
    _, _, loss, _ = traced_block()
    g = viz.draw_graph(loss, group_modules=False, rankdir="LR")
    assert "subgraph" not in g.source and "rankdir=LR" in g.source
    assert "self_attn.q_proj</FONT>" in g.source


def test_grad_flow_lists_every_parameter_in_layer_order_with_its_norm():
    block, _, _, _ = traced_block()
    block.ffn.up.bias.grad = None               # one that got no gradient
    flow = viz.grad_flow(block)
    assert [name for name, _ in flow] == [name for name, _ in block.named_parameters()]
    assert flow[0][0] == "self_attn.q_proj.weight"
    for (_, value), (_, p) in zip(flow, block.named_parameters()):
        assert value == pytest.approx(0.0 if p.grad is None else np.linalg.norm(p.grad))
    assert dict(flow)["ffn.up.bias"] == 0.0
    png = io.BytesIO()
    fig = viz.plot_grad_flow(flow)
    assert min(t.get_fontsize() for t in fig.axes[0].get_xticklabels()) >= 8
    fig.savefig(png, format="png")
    assert png.getvalue()[:4] == b"\x89PNG"


def test_plot_grad_flow_of_a_whole_transformer_is_a_grid_of_readable_names():
    nn.manual_seed(0)
    model = nn.Transformer(11, 13, d_model=16, n_heads=2, n_layers=2, d_ff=32)
    model(np.array([[1, 2, 3]]), np.array([[1, 5]])).mean().backward()
    flow = viz.grad_flow(model)
    assert len(flow) > viz.MAX_BARS
    fig = viz.plot_grad_flow(flow)
    ax = fig.axes[0]
    columns = [t.get_text() for t in ax.get_xticklabels()]
    rows = [t.get_text() for t in ax.get_yticklabels()]
    assert columns == ["encoder.layers.0", "encoder.layers.1", "decoder.layers.0", "decoder.layers.1",
                       "outside blocks"]
    assert "self_attn.k_proj.bias" in rows and "generator.weight" in rows
    assert min(t.get_fontsize() for t in ax.get_xticklabels() + ax.get_yticklabels()) >= 8
    grid = ax.images[0].get_array()
    value = dict(flow)["decoder.layers.1.cross_attn.k_proj.bias"]
    assert grid[rows.index("cross_attn.k_proj.bias"), 3] == pytest.approx(np.log10(value))
    assert np.ma.count(grid) == sum(v > 0 for _, v in flow)     # one coloured cell per parameter
    assert len(fig.axes) == 2                                     # and its colour scale


def test_plot_residuals_draws_both_arrangements():
    reports = {}
    for norm_first in (False, True):
        *_, tr = traced_block(norm_first)
        reports["pre-LN" if norm_first else "post-LN"] = tr.residual_report()
    fig = viz.plot_residuals(reports)
    norms_ax = fig.axes[0]
    assert [line.get_label() for line in norms_ax.lines] == ["post-LN", "pre-LN"]
    np.testing.assert_allclose(norms_ax.lines[1].get_ydata(), [r.input_norm for r in reports["pre-LN"]])
    assert min(t.get_fontsize() for ax in fig.axes for t in ax.get_xticklabels()) >= 8   # readable
    assert fig.get_figwidth() <= 9.5                                                    # at notebook width
    fig.savefig(io.BytesIO(), format="png")


@pytest.mark.parametrize("args, kind", [
    ([], "post-LN encoder"), (["--block", "decoder", "--norm-first", "--activation", "swiglu"],
                              "pre-LN decoder"), (["--depth", "1"], "post-LN encoder")])
def test_the_graph_command_writes_the_format_of_the_extension(tmp_path, capsys, args, kind):
    svg, dot = tmp_path / "block.svg", tmp_path / "block.dot"
    for path in (svg, dot):
        assert cli(["graph", "-o", str(path), *args]) == 0
        assert kind in capsys.readouterr().out
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    source = dot.read_text()
    assert source.startswith("digraph") and source.count("style=dashed") == (3 if "decoder" in kind else 2)
    assert ("cross_attn" in source) == ("decoder" in kind) and ("box self_attn" in source) == ("1" in args)


def test_the_graph_command_without_dot_says_so(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert cli(["graph", "-o", str(tmp_path / "block.svg")]) == 1
    assert "install Graphviz" in capsys.readouterr().err
    assert cli(["graph", "-o", str(tmp_path / "block.dot")]) == 0


def test_scalar_edges_carry_the_signed_gradient_and_the_graph_has_a_legend():
    a, b = tg.Value(2.0, "a"), tg.Value(-0.5, "b")
    L = (a * b).tanh()
    with tg.trace() as tr:
        L.backward()
    g = viz.draw_graph(L, trace=tr)
    numbers = sorted(label_number(attrs) for _, _, attrs in edges(g))
    assert a.grad < 0 and numbers[0] == pytest.approx(a.grad, abs=1e-3)   # signed, not a norm
    assert "arrows run forward" in g.source and "the signed value for a scalar" in g.source
    assert "red dashed" not in g.source                                 # no residual here
    assert "arrows run forward" not in viz.draw_graph(L, legend=False).source


def test_named_constants_modules_classes_and_attention_details_are_drawn():
    block, x, loss, tr = traced_block()
    g = viz.draw_graph(loss, trace=tr)
    assert "self_attn: MultiHeadAttention" in g.source and "q_proj: Linear" in g.source
    assert "transpose ᵀ" in g.source and "1/√4 = 0.5" in g.source       # Kᵀ and the 1/√d_head scale
    assert 'red dashed "skip"' in g.source
    model = nn.Transformer(7, 9, d_model=8, n_heads=2, n_layers=1, d_ff=16)
    src = tg.tensor(np.array([[1, 2, 3]]), name="src")
    tgt = tg.tensor([[0.5, -1.0]], name="tgt_noise")                    # a named constant
    out = (model(src, np.array([[1, 4]])).sum(axis=-1) * tgt).sum()
    g = viz.draw_graph(out, depth=1)
    assert "layers.0: EncoderBlock" in g.source and "encoder: LayerStack" in g.source
    assert "tgt_noise" in g.source and "const (1, 2)" not in g.source


def test_a_huge_graph_warns_and_collapses(monkeypatch):
    monkeypatch.setattr(graph_module, "MAX_NODES", 40)
    _, _, loss, tr = traced_block()
    with pytest.warns(UserWarning, match="too many to draw; drawing the modules at depth 1"):
        g = viz.draw_graph(loss, trace=tr)
    assert "box self_attn" in g.source
    v = tg.Value(1.0, "v")
    for _ in range(200):                         # a long chain: no modules to fold
        v = v * 1.001
    # 401 nodes (v, 200 products, 200 constants 1.001): the last 40 products and their
    # constants stay, the other 321 go in one box
    with pytest.warns(UserWarning, match="the earliest 321 are folded into one box"):
        g = viz.draw_graph(v)
    drawn = [line for line in g.source.splitlines() if re.match(r"\tn\d+ \[", line)]
    assert len(drawn) == 80 and "earlier nodes" in g.source


def test_draw_graph_of_a_module_says_to_call_it_first():
    with pytest.raises(TypeError, match=r"draw_graph: got the module Linear, which has no graph until "
                                        r"it is called; call it first and draw what it returns: "
                                        r"draw_graph\(model\(x\)\) or draw_graph\(loss\)"):
        tg.viz.draw_graph(nn.Linear(2, 2))
    with pytest.raises(TypeError, match="expected the Tensor \\(or Value\\) whose graph to draw, got int"):
        tg.viz.draw_graph(3)


NOTEBOOK_PX = 800     # the narrow end of a notebook's output area (classic Jupyter, JupyterLab: 800-900 px)


def smallest_text_px(svg, shown_px=NOTEBOOK_PX):
    """The smallest text of an SVG in CSS pixels as a notebook shows it: at its natural size
    (width in pt x 96/72 px), or scaled down to the output area's width if wider."""
    root = ET.fromstring(svg)
    width_pt = float(root.get("width").removesuffix("pt"))
    view_width = float(root.get("viewBox").split()[2])
    natural_px = width_pt * 96 / 72
    px_per_unit = min(natural_px, shown_px) / view_width
    scale = re.search(r"scale\(([\d.]+)", svg)              # graphviz's top group: scale(1 1)
    px_per_unit *= float(scale.group(1)) if scale else 1.0
    sizes = [float(t.get("font-size")) for t in root.iter() if t.tag.endswith("text")]
    return min(sizes) * px_per_unit


def notebook_05_graphs():
    """Notebook 05's three block graphs, built as the notebook builds them."""
    nn.manual_seed(0)
    rng = np.random.default_rng(0)
    B, T, S, D, H, D_FF = 1, 6, 5, 16, 2, 32
    enc = nn.EncoderBlock(D, H, D_FF)
    x = tg.tensor(rng.normal(size=(B, S, D)), requires_grad=True, name="x")
    y = enc(x)
    with tg.trace() as tr_enc:
        (y * rng.normal(size=y.shape)).sum().backward()
    dec = nn.DecoderBlock(D, H, D_FF)
    memory = tg.tensor(rng.normal(size=(B, S, D)), requires_grad=True, name="memory")
    out = dec(tg.tensor(rng.normal(size=(B, T, D)), requires_grad=True, name="tgt"), memory)
    with tg.trace() as tr_dec:
        (out * rng.normal(size=out.shape)).sum().backward()
    return {"encoder, depth 1": viz.draw_graph(y, trace=tr_enc, depth=1),
            "decoder, depth 1": viz.draw_graph(out, trace=tr_dec, depth=1),
            "encoder, depth 2": viz.draw_graph(y, trace=tr_enc, depth=2)}


def test_notebook_05s_block_graphs_read_at_the_notebook_width():
    """Every label, the small grey detail lines and edge numbers included, is at least 9 px
    where the notebook shows it. The depth-2 encoder block was 925 pt wide (a staircase of
    clusters, full dotted names in every box): scaled to 800 px its 9 pt lines were 7.8 px."""
    graphs = notebook_05_graphs()
    px = {name: round(smallest_text_px(g.pipe("svg").decode()), 2) for name, g in graphs.items()}
    assert min(px.values()) >= 9, px
    src = graphs["encoder, depth 2"].source    # boxes are named within their cluster, as clusters are
    assert "<B>q_proj: Linear</B>" in src and "self_attn.q_proj: Linear" not in src
    assert "<B>transpose ᵀ</B>" in src and "1 op · 2 params" in src


@pytest.mark.parametrize("path", sorted((pathlib.Path(__file__).resolve().parent.parent / "notebooks")
                                         .glob("*.ipynb")), ids=lambda p: p.stem)
def test_every_stored_graph_reads_at_the_notebook_width(path):
    """The pictures stored in the notebooks (what a learner opening one sees) pass too:
    notebook 05's three block graphs, and every other graph (notebook 06's residual stack,
    drawn left to right, was 1460 pt wide: its 9 pt lines showed at 5.2 px)."""
    import nbformat
    nb = nbformat.read(path, as_version=4)
    svgs = [out["data"]["image/svg+xml"] for cell in nb.cells if cell.cell_type == "code"
            for out in cell.get("outputs", []) if "image/svg+xml" in out.get("data", {})]
    if path.stem.startswith("05_"):
        assert len(svgs) == 3
    assert all(smallest_text_px(svg) >= 9 for svg in svgs), [round(smallest_text_px(s), 1) for s in svgs]
