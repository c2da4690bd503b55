"""Drawings of the graph, and of the gradients that flowed through it (`tg.viz.draw_graph`).

    g = tg.viz.draw_graph(loss, trace=tr, depth=2)   # a graphviz.Digraph; g.source is DOT text
    tg.viz.save(g, "block.svg")                      # needs Graphviz's `dot` (not for .dot)
    tg.viz.grad_flow(model)                          # [(parameter name, ‖grad‖), ...]

`draw_graph` reads only what the engine leaves behind: each node's op, its parents
(`_prev`), the module path the op was made in (`op.module`) and the names of leaf
tensors (parameters are named by their module). It never looks inside a layer.

Module paths become nested clusters, one level per module: `encoder` ⊃
`encoder.layers.0` ⊃ `encoder.layers.0.self_attn` (a ModuleList's name and an index
make one level). `depth=d` draws each module at level d as one box; a module that
only holds a list of blocks (`encoder`) is not counted, so depth=1 shows blocks
(`encoder.layers.0`, or a lone block's sublayers), depth=2 their sublayers.
"""
import html
import math
import os
import shutil
import warnings

import graphviz
import numpy as np

from ..core.engine import topological_order
from ..core.ops import Op, Permute, ResidualAdd
from ..core.scalar import Value
from .trace import node_of, norm

MAX_NODES = 3000     # more than this many drawn nodes: modules fold into boxes, then the earliest nodes
SKIP_STYLE = {"style": "dashed", "color": "#d62728", "fontcolor": "#d62728"}  # residual skip edges
# How hard dot pulls an edge's two ends into one column: the path from op to op runs straight
# down, a parameter joins it from the side and a skip edge bends around; so a block stays
# about as wide as its widest sublayer instead of stepping sideways at every residual add.
WEIGHT = {"op": "3", "leaf": "1", "skip": "0"}
INSTALL_HINT = ("install Graphviz (apt-get install graphviz, brew install graphviz, or conda install "
                "graphviz), or write the DOT text instead: graph.source, or a file ending in .dot")


class GraphvizNotFound(graphviz.ExecutableNotFound):
    """Rendering needs Graphviz's `dot` program, which is not on PATH."""

    def __init__(self, engine):
        RuntimeError.__init__(self, f"rendering a graph needs Graphviz's '{engine}' program, which is "
                                    f"not on PATH: {INSTALL_HINT}")


class Graph(graphviz.Digraph):
    """A graphviz.Digraph whose rendering says plainly when `dot` is missing."""

    def _need_dot(self):
        if shutil.which(self.engine) is None:
            raise GraphvizNotFound(self.engine)

    def pipe(self, *args, **kwargs):
        self._need_dot()
        return super().pipe(*args, **kwargs)

    def render(self, *args, **kwargs):
        self._need_dot()
        return super().render(*args, **kwargs)


# The file formats `save` writes: .dot/.gv as DOT text, every other one Graphviz renders.
FORMATS = frozenset(graphviz.FORMATS) - {"x11", "xlib", "gtk", "cgimage"}   # those open windows


def format_of(path):
    """The format a file name's extension names: 'block.SVG' -> 'svg' ('' without one)."""
    name = os.path.basename(str(path))
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def save(graph, path):
    """Write `graph` to `path`, in the format its extension names: .svg, .png, .pdf, .jpg
    or any other Graphviz writes (needs `dot`), or .dot / .gv for the DOT text."""
    fmt = format_of(path)
    if fmt in ("dot", "gv"):
        data = graph.source.encode()
    elif fmt in FORMATS:
        data = graph.pipe(format=fmt)
    else:
        raise ValueError(f"save: cannot tell the format of {str(path)!r}; end it in .svg, .png, .pdf, "
                         f".jpg, .dot or another extension Graphviz writes")
    with open(path, "wb") as f:
        f.write(data)
    return path


def levels(path):
    """The nested module paths a dotted path lies in, outermost first; an index joins
    the name before it: 'encoder.layers.0.ffn' -> ['encoder', 'encoder.layers.0',
    'encoder.layers.0.ffn']."""
    if not path:
        return []
    parts = path.split(".")
    return [".".join(parts[:k + 1]) for k in range(len(parts))      # `layers` in `layers.0`:
            if k + 1 == len(parts) or not parts[k + 1].isdigit()]   # the index completes it


def _parent(path):
    """The module level just outside `path` ("" at the top)."""
    lv = levels(path)
    return lv[-2] if len(lv) > 1 else ""


def _containers(paths):
    """Levels that hold a list of blocks (`encoder` in `encoder.layers.0`): drawn as
    clusters but not counted by `depth`, so depth=1 means blocks wherever they sit."""
    out = set()
    for path in paths:
        lv = levels(path)
        out.update(a for a, b in zip(lv, lv[1:]) if b.rsplit(".", 1)[-1].isdigit())
    return out


def _common(paths):
    """The deepest module level that holds every one of `paths`."""
    common = None
    for path in paths:
        lv = levels(path)
        common = lv if common is None else [a for a, b in zip(common, lv) if a == b]
    return common[-1] if common else ""


def _module_of(nodes):
    """Module path of each node: an op's own; a leaf's is the deepest module holding
    every op that uses it (a parameter lands in its layer, a shared input higher up)."""
    if isinstance(nodes[-1], Value):        # a graph of Values has no modules
        return dict.fromkeys(nodes, "")
    users = {}
    for node in nodes:
        for parent in node._prev:
            users.setdefault(parent, []).append(node)
    module = {}
    for node in nodes:
        if isinstance(node, Op):
            module[node] = node.module or ""
        elif isinstance(node, Value):
            module[node] = ""
        else:
            module[node] = _common((u.module or "") for u in users.get(node, []))
    return module


def _is_input(node, module):
    """A leaf tensor that comes from outside `module`: it needs a gradient or has a name
    (a decoder's `memory` may need none), and is not a parameter of `module` (whose
    parameters are named `module.…` by nn). Unnamed constants made inside stay in the box."""
    return (not isinstance(node, (Op, Value)) and (node.requires_grad or bool(node.name))
            and not (node.name or "").startswith(module + "."))


def _label(*lines):
    """An HTML-like Graphviz label: the first line bold, the others small and grey."""
    first, *rest = [html.escape(str(s)) for s in lines if s not in (None, "")]
    small = "".join(f'<BR/><FONT POINT-SIZE="9" COLOR="#555555">{s}</FONT>' for s in rest)
    return f"<<B>{first}</B>{small}>"


def _count(n, noun):
    """'1 op', '3 ops'."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _fmt(x):
    return f"{x:.3g}"


def _node_attrs(node, module, step_in, show_grads, group_modules):
    """Label and style of one drawn node (an op, a leaf tensor or a Value)."""
    where = None if group_modules else module
    if isinstance(node, Value):
        title = f"{node.label} = {node.data:.4g}" if node.label else f"{node.data:.4g}"
        grad = f"grad {node.grad:.4g}" if show_grads else None
        return {"label": _label(title, node.op and f"op {node.op}", grad), "shape": "box",
                "style": "rounded,filled", "fillcolor": "#eef3fb" if node.op else "#fff7d6"}
    if isinstance(node, Op):
        grad = f"‖∂L/∂out‖ {_fmt(norm(step_in))}" if show_grads and step_in is not None else None
        attrs = {"label": _label(_op_title(node), node.shape, _op_detail(node), where, grad),
                 "shape": "box", "style": "rounded,filled", "fillcolor": "#eef3fb",
                 "tooltip": f"{node.name} {node.shape} in {module or '(top)'}"}
        if isinstance(node, ResidualAdd):
            attrs["fillcolor"] = "#fde0dd"
        return attrs
    if not node.requires_grad and node.name:    # a constant the user named: by its name
        return {"label": _label(node.name, node.shape), "shape": "box", "style": "filled",
                "fillcolor": "#f2f2f2", "color": "#999999"}
    if not node.requires_grad:              # an unnamed constant: small and grey
        text = f"{node.data.item():.4g}" if node.data.size == 1 else f"const {node.shape}"
        return {"label": text, "shape": "plaintext", "fontsize": "9", "fontcolor": "#777777"}
    grad = f"‖grad‖ {_fmt(norm(node.grad))}" if show_grads and node.grad is not None else None
    return {"label": _label(node.name or "input", node.shape, grad), "shape": "box",
            "style": "filled", "fillcolor": "#fff7d6"}


def _is_transpose(op):
    """A permute that swaps the last two axes (attention's Kᵀ)."""
    axes = getattr(op, "axes", None)
    return isinstance(op, Permute) and axes is not None and len(axes) >= 2 and \
        list(axes) == [*range(len(axes) - 2), len(axes) - 1, len(axes) - 2]


def _op_title(op):
    """An op's name; a transpose of the last two axes says so: `transpose ᵀ`."""
    return "transpose ᵀ" if _is_transpose(op) else op.name


def _op_detail(op):
    """A setting that changes what an op computes: the axes a transpose swaps,
    attention's 1/√d scale."""
    if _is_transpose(op):
        return "last two axes"
    scale = getattr(op, "scale", None)
    if scale is None or scale == 1.0:
        return None
    d = 1.0 / scale ** 2
    return f"× 1/√{round(d)} = {scale:.3g}" if abs(d - round(d)) < 1e-6 else f"× {scale:.3g}"


def _edge_text(grad):
    """An edge's gradient: the signed number for a scalar, else its norm ‖g‖."""
    if np.size(grad) == 1:
        return f"{float(np.reshape(grad, -1)[0]):.3g}"
    return _fmt(norm(grad))


def _legend(trace_given, has_skip, has_boxes):
    """The graph's key, as an HTML-like label under it."""
    rows = ["arrows run forward: from an input to the op that used it"]
    if trace_given:                         # lines kept short: the key must not set the picture's width
        rows.append("edge numbers: the gradient sent back along the edge in the traced backward"
                    '<BR ALIGN="LEFT"/>(the signed value for a scalar, the norm ‖g‖ for an array)')
    if has_skip:
        rows.append('<FONT COLOR="#d62728">red dashed "skip": the skip path into a residual add (pink);'
                    '<BR ALIGN="LEFT"/>the other input is the sublayer\'s branch</FONT>')
    if has_boxes:
        rows.append("3-D boxes: a whole module drawn as one box")
    cells = "".join(f'<TR><TD ALIGN="LEFT">{r}<BR ALIGN="LEFT"/></TD></TR>' for r in rows)
    return f'<<TABLE BORDER="0" CELLSPACING="1">{cells}</TABLE>>'


def _check_root(root, what):
    """A graph is drawn from what a computation returned: refuse a module (which has
    no graph until called) or anything else that is not a Tensor or a Value."""
    from ..core.tensor import Tensor
    from ..nn import Module
    if isinstance(root, Module):
        raise TypeError(f"{what}: got the module {type(root).__name__}, which has no graph until it "
                        f"is called; call it first and draw what it returns: {what}(model(x)) or "
                        f"{what}(loss)")
    if not isinstance(root, (Tensor, Value)):
        raise TypeError(f"{what}: expected the Tensor (or Value) whose graph to draw, got "
                        f"{type(root).__name__}")


def draw_graph(root, trace=None, depth=None, show_grads=True, group_modules=True, rankdir="TB",
               grad_width=True, legend=True):
    """The graph that produced `root` (a Tensor or a Value) as a graphviz.Digraph.

    Nodes: each op (its name, output shape, module path), each leaf (a parameter's
    name, its shape). Edges run from an input to the op that used it; a residual
    add's skip edge (input 0) is dashed red and labelled `skip`. With a `trace` of
    the backward, each edge carries ‖gradient sent back along it‖ (with `grad_width`,
    also as its width, on a log scale). `group_modules` draws modules as nested
    clusters; `depth=d` draws each module at nesting level d as one box holding its ops,
    its parameters and everything nested in it (depth=1: blocks; depth=2: their
    sublayers; None: every op). Clusters are labelled with the module's name and class
    (`layers.0: EncoderBlock`). `legend` adds a key under the graph.

    A graph of more than MAX_NODES nodes is not drawn in full (the DOT text of a
    million nodes is hundreds of MB): with a warning, its modules fold into boxes
    (depth=1), and if that is still too many, the earliest nodes fold into one box."""
    if depth is not None and depth < 1:
        raise ValueError(f"draw_graph: depth must be None or >= 1, not {depth}")
    _check_root(root, "draw_graph")
    root = node_of(root)
    nodes = topological_order(root)
    module = _module_of(nodes)
    if depth is None and len(nodes) > MAX_NODES and any(module.values()):
        warnings.warn(f"draw_graph: {len(nodes):,} nodes are too many to draw; drawing the modules "
                      f"at depth 1 as boxes (pass depth= to choose)", stacklevel=2)
        depth = 1
    if trace is not None:
        _check_trace(trace, set(nodes), root)
    sent, got = _gradients(trace)
    ids = {node: f"n{k}" for k, node in enumerate(nodes)}
    drawn, boxes = _fold(nodes, module, ids, depth)
    _trim(nodes, drawn, boxes)

    g = Graph(name="tinygrad_tf", graph_attr={"rankdir": rankdir, "fontname": "Helvetica",
                                              "compound": "true", "newrank": "true"},
              node_attr={"fontname": "Helvetica", "fontsize": "11"},
              edge_attr={"fontname": "Helvetica", "fontsize": "9", "arrowsize": "0.6"})
    classes = _module_classes(nodes)
    members = {}                            # cluster path -> [(id, attrs)] drawn inside it
    for node in nodes:
        if drawn[node] == ids[node]:
            attrs = _node_attrs(node, module[node], got.get(node), show_grads, group_modules)
            if node is root:
                attrs["penwidth"] = "2.5"
            members.setdefault(module[node] if group_modules else "", []).append((ids[node], attrs))
    for box, (n_ops, n_params) in boxes.items():   # a box sits in its parent's cluster
        counts = (f"{n_ops:,} nodes, not drawn" if box == EARLIER
                  else f"{_count(n_ops, 'op')} · {_count(n_params, 'param')}")
        where = _parent(box) if group_modules else ""
        name = box[len(where) + 1:] if where else box      # named within its cluster, as clusters are
        title = f"{name}: {classes[box]}" if box in classes else name
        attrs = {"label": _label(title, counts), "shape": "box3d", "style": "filled", "fillcolor": "#dbe9f6"}
        members.setdefault(where, []).append(("box " + box, attrs))
    _emit_clusters(g, members, classes)

    edges = _edges(nodes, ids, drawn, sent)
    norms = [norm(e["grad"]) for e in edges]          # 0.0 where no gradient was traced
    positive = [n for n in norms if n > 0]
    lo, hi = (math.log10(min(positive)), math.log10(max(positive))) if positive else (0.0, 0.0)
    for e, n in zip(edges, norms):
        kind = "skip" if e["skip"] else "leaf" if e["leaf"] else "op"
        attrs = dict(SKIP_STYLE, penwidth="2") if e["skip"] else {}
        attrs["weight"] = WEIGHT[kind]
        text = ["skip"] if e["skip"] else []
        if e["grad"] is not None and show_grads:
            text.append(_edge_text(e["grad"]))
            if grad_width and n > 0 and hi > lo:
                attrs["penwidth"] = f"{0.6 + 3.4 * (math.log10(n) - lo) / (hi - lo):.2f}"
        if text:
            attrs["label"] = " ".join(text)
        g.edge(e["src"], e["dst"], **attrs)
    if legend:
        g.attr(label=_legend(trace is not None and show_grads, any(e["skip"] for e in edges), bool(boxes)),
               labelloc="b", labeljust="l", fontsize="10")
    g.drawn = drawn                         # graph node -> the id it is drawn as (its own, or its box)
    return g


def _add(a, b):
    """a + b, where None means no gradient."""
    return b if a is None else a if b is None else a + b


def _check_trace(trace, nodes, root):
    """Refuse a trace whose steps are all ops of another graph: its gradients would be
    drawn on no edge here. (A trace of a larger graph that holds this one is fine: the
    backward of the loss, drawn for an intermediate.)"""
    if not hasattr(trace, "steps"):
        raise TypeError(f"draw_graph: trace= takes a tg.trace() (recorded around backward()), "
                        f"not {type(trace).__name__}")
    if trace.steps and not any(step.node in nodes for step in trace.steps):
        raise ValueError(f"draw_graph: the trace recorded the backward of another graph (none of its "
                         f"{len(trace.steps)} steps is an op in the graph of this root, made by "
                         f"'{getattr(root, 'name', '?')}'); record the backward of this root: "
                         "`with tg.trace() as tr: y.backward()`, then draw_graph(y, trace=tr)")


def _gradients(trace):
    """From a trace: {(node, input index): gradient sent along that edge} and
    {node: gradient that reached its output}."""
    sent, got = {}, {}
    for step in (trace.steps if trace is not None else ()):
        got[step.node] = step.grad_in
        for i, g in enumerate(step.grads_sent):
            sent[(step.node, i)] = _add(sent.get((step.node, i)), g)
    return sent, got


def _fold(nodes, module, ids, depth):
    """Where each node is drawn: its own id, or `box <path>` of the module at level `depth`
    it is folded into; and {box path: [ops, parameters]} inside each box."""
    if depth is None:
        return dict(ids), {}
    drawn, boxes = {}, {}
    containers = _containers(module.values())
    for node in nodes:
        lv = [m for m in levels(module[node]) if m not in containers]
        box = lv[depth - 1] if len(lv) >= depth else None
        if box is None:
            drawn[node] = ids[node]
        elif _is_input(node, box):
            module[node] = _parent(box)     # an input stays in sight, beside the box
            drawn[node] = ids[node]
        else:
            drawn[node] = "box " + box
            counts = boxes.setdefault(box, [0, 0])
            counts[0 if isinstance(node, Op) else 1] += node.requires_grad
    return drawn, boxes


EARLIER = "earlier nodes"


def _trim(nodes, drawn, boxes):
    """Past MAX_NODES drawn nodes, fold the earliest ops (farthest from the root) into
    one box, with a warning; the root and what is near it stay, and so does every leaf
    (a weight, a constant) that a kept op uses."""
    if len(set(drawn.values())) <= MAX_NODES:
        return
    kept = set()
    for node in reversed(nodes):                 # the root first
        if node._prev and (drawn[node] in kept or len(kept) < MAX_NODES):
            kept.add(drawn[node])
    for node in nodes:
        if drawn[node] in kept:
            kept.update(drawn[p] for p in node._prev if not p._prev)
    hidden = [node for node in nodes if drawn[node] not in kept]
    for node in hidden:
        drawn[node] = "box " + EARLIER
    boxes[EARLIER] = [len(hidden), 0]
    warnings.warn(f"draw_graph: still more than {MAX_NODES:,} nodes to draw; the earliest "
                  f"{len(hidden):,} are folded into one box", stacklevel=3)


def _edges(nodes, ids, drawn, sent):
    """One edge per input of every drawn op (so `x * x` has two); into a box, one per
    (input, box) carrying the sum of what the uses inside sent back; none inside a box."""
    edges = {}
    for node in nodes:
        dst = drawn[node]
        for i, parent in enumerate(node._prev):
            src = drawn[parent]
            if src == dst:
                continue
            key = (parent, dst) if dst != ids[node] else (parent, dst, i)
            grad = sent.get((node, i))
            if key in edges:
                edges[key]["grad"] = _add(edges[key]["grad"], grad)
            else:
                skip = isinstance(node, ResidualAdd) and i == 0 and dst == ids[node]
                edges[key] = {"src": src, "dst": dst, "grad": grad, "skip": skip,
                              "leaf": not parent._prev and src == ids[parent]}
    return list(edges.values())


def _module_classes(nodes):
    """{module path: class name}, from the paths the ops recorded (nn's paths carry
    the class of each module on them, as `.classes`)."""
    classes = {}
    for node in nodes:
        classes.update(getattr(getattr(node, "module", None), "classes", ()))
    return classes


def _emit_clusters(g, members, classes):
    """Add each module's nodes inside nested clusters (`encoder` ⊃ `encoder.layers.0` ⊃ ...),
    each labelled with its name below its parent and its class: `layers.0: EncoderBlock`."""
    children = {}
    for path in list(members):
        lv = levels(path)
        for parent, child in zip([""] + lv, lv):
            children.setdefault(parent, set()).add(child)

    def fill(graph, path):
        for node_id, attrs in members.get(path, ()):
            graph.node(node_id, **attrs)
        for child in sorted(children.get(path, ())):
            with graph.subgraph(name=f"cluster_{child}") as sub:
                name = child[len(path) + 1:] if path else child
                label = f"{name}: {classes[child]}" if child in classes else name
                sub.attr(label=label, style="rounded,filled", fillcolor=_cluster_colour(child),
                         color="#999999", fontsize="10", labeljust="l")
                fill(sub, child)

    fill(g, "")


def _cluster_colour(path):
    """Deeper modules a little darker, so nesting reads at a glance."""
    shade = ["#fafafa", "#f0f0f0", "#e6e6e6", "#dcdcdc"]
    return shade[min(len(levels(path)) - 1, len(shade) - 1)]
