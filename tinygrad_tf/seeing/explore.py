"""Step through a traced backward pass in the browser: one self-contained HTML page.

    with tg.trace() as tr:
        loss.backward()
    page = tg.viz.explore(loss, tr, "backprop.html")   # the path; in Jupyter it shows itself

The page is `draw_graph`'s SVG (the same nodes, module clusters and skip edges)
beside a step panel that replays `tr.steps` in the order they ran: at each step the
op and its input edges light up, and the panel shows the op, its module, its
vector-Jacobian product (the op's `formula`, the docstring of its backward), the
gradient that arrived and what went along each input edge. Nodes already reached are
shaded by ‖grad‖. Everything the page shows is computed here and embedded as JSON;
the page's script (explore.html, beside this file) only draws it, with no network.

Step k of the page is `tr.steps[k - 1]`, numbered as `print(tr)` numbers them;
step 0 is the start, before any op's backward ran.
"""
import html
import math

import numpy as np

from ..core.scalar import Value
from . import page
from .graph import _check_root, draw_graph
from .trace import node_name, node_of, norm
from .trace import trace as Trace

HEAT_ROWS, HEAT_COLS = 16, 32          # the most cells a gradient's heatmap shows
SENT_ROWS, SENT_COLS = 8, 16           # ... and that of a gradient sent along an edge


class Page(page.Page):
    """The path of a written explorer page (a str); in Jupyter it shows itself inline."""
    title = "backprop explorer"


def explore(root, trace, path=None, depth=None, watch=None):
    """Write the page stepping through `trace` (a `tg.trace()` of the backward of `root`,
    a Tensor or a Value) over the graph of `root`, drawn as `draw_graph(root, trace,
    depth)` draws it. Returns its path as a `Page` (a str); with `path=None` the page
    goes to a new temporary file.

    watch: optional [(label, tensor, row labels), ...]: tensors of the graph whose rows
    (axis −2, e.g. one per source word) the panel follows; at every step it shows, per
    row, ‖the gradient the tensor has received so far‖ and Σ gradient × value (gradient
    × input, once the backward is done)."""
    _check_root(root, "explore")
    if not isinstance(trace, Trace):
        raise TypeError(f"explore: trace must be a tg.trace(), not {type(trace).__name__}")
    if not trace.steps:
        raise ValueError("explore: the trace holds no steps; run the backward inside "
                         "`with tg.trace() as tr:`")
    graph = draw_graph(root, trace=trace, depth=depth)
    svg = graph.pipe("svg").decode("utf-8")
    data = page_data(root, trace, graph.drawn, watch)
    text = render(svg[svg.index("<svg"):], data)
    return Page(page.write(text, path, "explore"))


def render(svg, data):
    """The page: the template with the title, the graph's SVG and the data put in."""
    return page.fill("explore.html", {"TITLE": html.escape(data["title"]), "SVG": svg}, data)


read_data = page.read_data       # the data embedded in a written page (window.tgExplorer's)


def page_data(root, trace, drawn, watch=None):
    """Everything the page shows, as plain JSON-able values: one dict per step of the
    trace, and the root's seed. `drawn` maps each graph node to the SVG node id it is
    drawn as (its own, or its module's box); `watch` as `explore` takes it."""
    name = getattr(root, "label", None) or getattr(root, "name", None) or node_name(node_of(root))
    root = node_of(root)
    residual = {id(r.step): r for r in trace.residual_report()}   # none for a Value's trace
    so_far = {}                        # id(node) -> the gradient it has received so far
    steps = []
    watched = [(node_of(t), np.asarray(t.data, dtype=np.float64)) for _, t, _ in watch or ()]
    for step in trace.steps:
        steps.append(_step(step, drawn, so_far, residual.get(id(step))))
        if watch:
            steps[-1]["watch"] = [_rows(so_far.get(id(node)), value) for node, value in watched]
    _boxes(steps)
    first = trace.steps[0]
    scalar = isinstance(root, Value)
    seed = {"node": drawn.get(first.node), "name": name, **_gradient(first.grad_in, scalar)}
    reached = [n for s in steps for _, n in s["reach"] if n > 0] + [seed["norm"]]
    lo, hi = np.percentile(reached, [5, 100]) if reached else (0.0, 0.0)
    data = {"title": f"backward of {name}", "scalar": scalar, "seed": seed, "steps": steps,
            "lo": float(lo), "hi": float(hi)}   # the shading's range: a few tiny norms stay below it
    if watch:
        data["watch"] = [{"label": label, "rows": [str(r) for r in rows]} for label, _, rows in watch]
    return data


def _rows(grad, value):
    """Per row (axis −2) of a watched tensor: [‖gradient so far‖, Σ gradient × value], or
    None before any gradient reached it."""
    if grad is None:
        return None
    g = np.asarray(grad, dtype=np.float64)
    g, v = g.reshape(-1, *g.shape[-2:]), value.reshape(-1, *value.shape[-2:])
    norms = np.sqrt((g * g).sum(axis=(0, 2)))
    return [[_number(f"{n:.4g}"), _number(f"{d:.4g}")] for n, d in zip(norms, (g * v).sum(axis=(0, 2)))]


def _boxes(steps):
    """Mark each step whose op is drawn folded into a module's box with its place among
    that box's steps: "box": {"k": 1-based, "n": how many}. The page writes the op into
    the box, so every step inside a box changes the picture."""
    runs = {}
    for s in steps:
        if s["node"] and s["node"].startswith("box "):
            runs.setdefault(s["node"], []).append(s)
    for members in runs.values():
        for k, s in enumerate(members, 1):
            s["box"] = {"k": k, "n": len(members)}


def _step(step, drawn, so_far, residual):
    """One step's record: its op, module, VJP formula, gradient in, what each input edge
    got, and the nodes it reached (drawn id, ‖gradient received so far‖)."""
    node = step.node
    scalar = isinstance(node, Value)
    out = {"op": step.op, "module": step.module or "", "name": node_name(node),
           "node": drawn.get(node), "formula": node.formula,   # the VJP: its backward's docstring
           "grad": _gradient(step.grad_in, scalar)}
    reach = [[drawn.get(node), norm(step.grad_in)]]
    sent = []
    locals_ = (node._d1, node._d2) if scalar else ()
    for i, (x, g) in enumerate(zip(step.inputs, step.grads_sent)):
        edge = {"to": node_name(x), "node": drawn.get(x), **_gradient(g, scalar, small=True)}
        if g is not None:
            so_far[id(x)] = g if id(x) not in so_far else so_far[id(x)] + g
            edge["so_far"] = _number(so_far[id(x)]) if scalar else norm(so_far[id(x)])
            reach.append([drawn.get(x), norm(so_far[id(x)])])
        if scalar:
            edge.update(data=x.data, local=locals_[i])
        sent.append(edge)
    out["sent"] = sent
    out["reach"] = [r for r in reach if r[0] is not None]
    if scalar:
        out["out"] = node.data
    if residual is not None:
        out["residual"] = {"sublayer": residual.sublayer, "skip_norm": residual.skip_norm,
                           "branch_norm": residual.branch_norm, "input_norm": residual.input_norm,
                           "skip_share": _number(residual.skip_share)}
    return out


def _number(x):
    """A float for JSON (None for NaN or Inf, which JSON cannot hold)."""
    x = float(x)
    return x if math.isfinite(x) else None


def _gradient(g, scalar, small=False):
    """A gradient as the page shows it: its exact value (a Value's), or its shape, norm
    and a heatmap of its values (sampled when large); {"none": true} where no gradient
    went."""
    if g is None:
        return {"none": True, "norm": 0.0}
    if scalar:
        return {"value": _number(g), "norm": abs(float(g))}
    a = np.asarray(g, dtype=np.float64)
    rows, cols = (SENT_ROWS, SENT_COLS) if small else (HEAT_ROWS, HEAT_COLS)
    return {"shape": list(a.shape), "norm": norm(a), "heat": heatmap(a, rows, cols)}


def heatmap(a, max_rows, max_cols):
    """`a` seen as a matrix (the last axis across, every other axis flattened down), its
    rows and columns sampled evenly down to at most max_rows × max_cols, each value
    to 3 significant digits: {"rows", "cols" (of the whole matrix), "r", "c" (the
    sampled indices), "v" (the sampled values, row by row), "amax" (max |a|)}."""
    m = a.reshape(1, -1) if a.ndim < 2 else a.reshape(-1, a.shape[-1])
    r, c = _sample(m.shape[0], max_rows), _sample(m.shape[1], max_cols)
    v = m[np.ix_(r, c)]
    return {"rows": m.shape[0], "cols": m.shape[1], "r": r, "c": c,
            "v": [[_number(f"{x:.3g}") for x in row] for row in v],
            "amax": _number(np.abs(m).max()) if m.size else 0.0}


def _sample(n, most):
    """`most` evenly spaced indices of range(n), first and last included (all if n <= most)."""
    if n <= most:
        return list(range(n))
    return [int(i) for i in np.unique(np.linspace(0, n - 1, most).round().astype(int))]
