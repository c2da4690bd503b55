"""Pictures of the graph and of the gradients that flowed through it: the face of the
tools for seeing (`tg.viz`).

    g = tg.viz.draw_graph(loss, trace=tr, depth=2)   # a graphviz.Digraph; g.source is DOT text
    tg.viz.save(g, "block.svg")                      # needs Graphviz's `dot` (not for .dot)
    tg.viz.explore(loss, tr, "backprop.html")        # a page stepping through the backward
    tg.viz.grad_flow(model)                          # [(parameter name, ‖grad‖), ...]

The drawing itself is graph.py's, the page explore.py's; this module adds the plots
of gradient flow. Graphviz is imported by graph.py, so the first use of `tg.viz`
needs the `graphviz` package (`import tinygrad_tf` does not).
"""
import functools
import io
import math

from .explore import explore
from .graph import MAX_NODES, Graph, GraphvizNotFound, draw_graph, format_of, save  # noqa: F401
from .trace import norm

__all__ = ["draw_graph", "save", "explore", "grad_flow", "plot_grad_flow", "plot_residuals",
           "format_of", "Graph", "GraphvizNotFound"]


# ------------------------------------------------------------ gradient flow

def grad_flow(module):
    """[(parameter name, ‖grad‖), ...] in layer order (0.0 where no gradient arrived)."""
    return [(name, norm(p.grad)) for name, p in module.named_parameters()]


def _figure(**kwargs):
    """A matplotlib Figure on the Agg canvas, with no pyplot state, that shows itself in
    Jupyter as a PNG even when pyplot was never imported (a bare Figure shows as text)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    fig._repr_png_ = functools.partial(_png, fig)
    return fig


def _png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _log_scale(ax, values):
    """A log y axis with every tick labelled when the values span a decade or more
    (1-2-5 or powers of ten per decade); within one decade a log axis would have at most
    one labelled tick, so the axis stays linear."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    positive = [v for v in values if v > 0]
    decades = math.log10(max(positive) / min(positive)) if positive else 0.0
    if decades < 1:
        return
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1, 2, 5) if decades < 3 else (1,)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.3g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


MAX_BARS = 40          # more parameters than this: plot_grad_flow draws a grid, one column per block


def plot_grad_flow(flow, log=True):
    """A picture of `grad_flow(...)`, returned as a matplotlib Figure (fig.savefig("flow.png")
    writes it; in Jupyter it shows itself). Up to MAX_BARS parameters: one bar each, first
    layer on the left. More (a whole Transformer): a grid whose columns are the numbered
    blocks (`encoder.layers.0`, …, then the parameters outside any block) and whose rows are
    the parameter's name inside its block (`self_attn.k_proj.bias`), each cell coloured by
    log10 ‖grad‖ and labelled with it, so every name stays readable."""
    if len(flow) > MAX_BARS:
        return _grad_flow_grid(flow)
    names = [name for name, _ in flow]
    values = [value for _, value in flow]
    fig = _figure(figsize=(min(9.5, max(6, 0.25 * len(flow))), 4), layout="constrained")
    ax = fig.add_subplot()
    ax.bar(range(len(values)), values, color="#1f77b4")
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=8)
    if log and any(v > 0 for v in values):
        _log_scale(ax, values)
    ax.set_ylabel("‖grad‖")
    ax.set_title("gradient norm per parameter, in layer order")
    return fig


def _block_and_role(name):
    """("encoder.layers.0", "self_attn.k_proj.bias"): the numbered block a parameter sits
    in ("" when none) and its name inside that block."""
    parts = name.split(".")
    last = max((k for k, p in enumerate(parts[:-1]) if p.isdigit()), default=None)
    return ("", name) if last is None else (".".join(parts[:last + 1]), ".".join(parts[last + 1:]))


def _grad_flow_grid(flow):
    import numpy as np
    split = [(*_block_and_role(name), value) for name, value in flow]
    blocks = list(dict.fromkeys(b for b, _, _ in split if b)) + (["outside blocks"] if any(
        not b for b, _, _ in split) else [])
    roles = list(dict.fromkeys(r for _, r, _ in split))
    grid = np.full((len(roles), len(blocks)), np.nan)
    for block, role, value in split:
        if value > 0:
            grid[roles.index(role), blocks.index(block or "outside blocks")] = math.log10(value)
    fig = _figure(figsize=(9.5, 1.4 + 0.2 * len(roles)), layout="constrained")
    ax = fig.add_subplot()
    cmap = _colormap("viridis")
    cmap.set_bad("#eeeeee")
    image = ax.imshow(grid, cmap=cmap, aspect="auto")
    finite = grid[np.isfinite(grid)]
    lo, hi = (finite.min(), finite.max()) if finite.size else (0.0, 0.0)
    for (i, j), v in np.ndenumerate(grid):
        if np.isfinite(v):
            ax.text(j, i, f"{10 ** v:.0e}", ha="center", va="center", fontsize=8,
                    color="white" if v < lo + 0.45 * (hi - lo) else "black")
    ax.set_xticks(range(len(blocks)), blocks, fontsize=8, rotation=20, ha="right")
    ax.set_yticks(range(len(roles)), roles, fontsize=8)
    ax.set_title(f"‖grad‖ of {len(flow)} parameters: one column per block, one row per name in "
                 f"the block (grey: none there)", fontsize=10)
    fig.colorbar(image, ax=ax, label="log10 ‖grad‖", shrink=0.8)
    return fig


def _colormap(name):
    import matplotlib
    return matplotlib.colormaps[name].copy()


def plot_residuals(reports):
    """Compare residual reports (`{"post-LN": tr.residual_report(), "pre-LN": ...}`):
    ‖gradient at each residual's skip input‖ and the skip share, first block on the
    left, each residual add named by the sublayer on its branch (`0.self_attn`).
    Returns a matplotlib Figure that shows itself in Jupyter."""
    fig = _figure(figsize=(9.5, 4.5), layout="constrained")
    norms, shares = fig.subplots(1, 2)
    for label, report in reports.items():
        x = range(len(report))
        norms.plot(x, [r.input_norm for r in report], marker="o", label=label)
        shares.plot(x, [r.skip_share for r in report], marker="o", label=label)
    longest = max(reports.values(), key=len, default=[])
    names = [r.sublayer or r.module or str(k) for k, r in enumerate(longest)]
    for ax in (norms, shares):
        ax.set_xticks(range(len(names)), names, rotation=90, fontsize=8)
        ax.set_xlabel("residual add, in forward order (the sublayer on its branch)")
    _log_scale(norms, [r.input_norm for report in reports.values() for r in report])
    norms.set(ylabel="‖grad at skip input‖", title="gradient reaching each residual")
    shares.set(ylim=(0, 1), ylabel="skip share", title="share that came down the skip path")
    norms.legend()
    return fig
