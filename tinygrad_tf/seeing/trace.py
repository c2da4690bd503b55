"""Record a backward pass, one chain-rule step at a time.

    with tg.trace() as tr:
        loss.backward()
    print(tr)                  # a table: op, module, gradient in, gradient sent along each edge
    tr.uses(x)                 # the gradient x received through each of its uses
    print(tr.residual_report())  # skip path versus sublayer, for every residual add

Each step is one op's backward: it received `grad_in` = ∂L/∂out and sent
`grads_sent[i]` = grad_inᵀ·∂out/∂input_i along the edge to input i (already summed
back to that input's shape, None where no gradient flows). A node's gradient is the
sum of what its consumers sent it: ∂L/∂x = Σ over the uses of x.

While no trace is open, `engine.state.tracer` is None and the backward loops pay one
`is not None` test per op; nothing else.
"""
import html
from collections import namedtuple

import numpy as np

from ..core.engine import state
from ..core.ops import Op
from ..core.scalar import Value

Step = namedtuple("Step", "node op module grad_in inputs grads_sent")
Step.__doc__ = """One op's backward: it got grad_in and sent grads_sent[i] to inputs[i]. `node` is
the graph node: the Op itself in the tensor engine (its inputs are the ops that made
them, or leaf tensors), the Value in the scalar engine."""
Use = namedtuple("Use", "step index grad")
Use.__doc__ = "One use of a node: it is input `index` of `step.node`, and got `grad` back from it."
ResidualRow = namedtuple("ResidualRow", "module sublayer step skip_norm branch_norm input_norm skip_share")
ResidualRow.__doc__ = """For one residual add `out = skip + branch` made in `module`, whose branch came
out of `sublayer`; with g_skip the gradient sent along the skip edge and g the skip
tensor's whole gradient (the sum over all of its uses):
    skip_norm = ‖g_skip‖, branch_norm = ‖g - g_skip‖ (what came back through the sublayer),
    input_norm = ‖g‖, skip_share = skip_norm / (skip_norm + branch_norm)."""


def norm(g):
    """‖g‖₂ of an array or a number (0 for None)."""
    return 0.0 if g is None else float(np.sqrt(np.sum(np.square(g, dtype=np.float64))))


def node_name(node):
    """A short name for a graph node: an op as `mul#12` (its creation number), a leaf
    tensor by its name (else `leaf`, or `const` if it needs no gradient), a Value by
    its label (else `*#12`)."""
    if isinstance(node, Op):
        return f"{node.name}#{node._seq}"
    if isinstance(node, Value):
        return node.label or (f"{node.op}#{node._seq}" if node.op else "leaf")
    return node.name or ("leaf" if node.requires_grad else "const")


def node_of(x):
    """The graph node standing for `x`: a computed tensor is stood for by its op."""
    return getattr(x, "_ctx", None) or x


def describe(g):
    """A gradient as one short cell: the number itself, or ‖g‖ and the shape."""
    if g is None:
        return "-"
    if np.ndim(g) == 0 or np.size(g) == 1:
        return f"{float(np.reshape(g, -1)[0]):.6g}"
    return f"‖{norm(g):.4g}‖ {tuple(np.shape(g))}"


def text_table(rows):
    """Rows of text cells, the first the header, as aligned columns under a rule."""
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def html_table(rows):
    """The same rows as an HTML table (how Jupyter shows them)."""
    def row(cells, tag):
        return "<tr>" + "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in cells) + "</tr>"
    head, *body = rows
    return ("<table><thead>" + row(head, "th") + "</thead><tbody>"
            + "".join(row(r, "td") for r in body) + "</tbody></table>")


class Tabular:
    """A result that prints as a text table and shows as an HTML table in Jupyter.
    Subclasses give `rows()` (text cells, the header first) and may give `footer()`."""

    def rows(self):
        raise NotImplementedError

    def footer(self):
        return ""

    def __str__(self):
        return text_table(self.rows()) + (f"\n{self.footer()}" if self.footer() else "")

    __repr__ = __str__

    def _repr_html_(self):
        foot = f"<p>{html.escape(self.footer())}</p>" if self.footer() else ""
        return html_table(self.rows()) + foot


class trace(Tabular):
    """`with tg.trace() as tr:` records every chain-rule step of the backward passes
    run inside it, in the order they ran, in `tr.steps` (a list of Step)."""

    def __init__(self):
        self.steps = []

    def __enter__(self):
        self._prev, state.tracer = state.tracer, self
        return self

    def __exit__(self, *exc):
        state.tracer = self._prev

    def record(self, node, op, module, grad_in, inputs, grads_sent):
        """The engine's hook, called after each op's backward."""
        inputs = tuple(inputs)
        self.steps.append(Step(node, op, module, grad_in, inputs, tuple(grads_sent)[:len(inputs)]))

    def __len__(self):
        return len(self.steps)

    def __iter__(self):
        return iter(self.steps)

    def rows(self):
        rows = [("#", "op", "module", "output", "grad in", "grad sent to each input")]
        for k, s in enumerate(self.steps, 1):
            sent = ", ".join(f"{node_name(x)}: {describe(g)}" for x, g in zip(s.inputs, s.grads_sent))
            rows.append((str(k), s.op, s.module or "", node_name(s.node), describe(s.grad_in), sent))
        return rows

    def uses(self, x):
        """Every use of `x` in the traced backward, with the gradient it got through that
        use. They sum to ∂L/∂x (x.grad, if x is a leaf whose .grad started empty).
        `x` is a Tensor (or its op), or a Value."""
        x = node_of(x)
        return Uses(Use(s, i, g) for s in self.steps
                    for i, (inp, g) in enumerate(zip(s.inputs, s.grads_sent))
                    if inp is x and g is not None)

    def residual_report(self):
        """One ResidualRow per residual add, in forward order (first block first)."""
        rows = []
        for s in sorted((s for s in self.steps if s.op == "residual_add"), key=lambda s: s.node._seq):
            skip = s.inputs[0]
            g_skip = s.grads_sent[0]
            g = self.uses(skip).total
            skip_norm, branch_norm = norm(g_skip), norm(None if g is None else g - g_skip)
            total = skip_norm + branch_norm
            rows.append(ResidualRow(s.module or "", _sublayer(s.module, s.inputs[1]), s, skip_norm,
                                    branch_norm, norm(g), skip_norm / total if total else float("nan")))
        return ResidualReport(rows)


def _sublayer(module, branch):
    """The module one level below `module` that made `branch` ('self_attn' for a
    branch made in 'self_attn.out_proj'), or the branch's own module."""
    inner = getattr(branch, "module", None) or ""
    prefix = f"{module}." if module else ""
    if not inner.startswith(prefix) or inner == module:
        return inner
    return prefix + inner[len(prefix):].split(".")[0]


class Uses(Tabular, list):
    """A list of Use that prints (and shows in Jupyter) as a table and knows its sum."""

    @property
    def total(self):
        """Σ of the gradients over the uses: ∂L/∂x (None if no gradient reached x)."""
        return sum(u.grad for u in self) if self else None

    def rows(self):
        return [("use", "op", "module", "input #", "gradient")] + [
            (str(k), u.step.op, u.step.module or "", str(u.index), describe(u.grad))
            for k, u in enumerate(self, 1)]

    def footer(self):
        return f"total: {describe(self.total)}"


class ResidualReport(Tabular, list):
    """The residual rows of a trace; prints (and shows in Jupyter) as a table."""

    @property
    def gain(self):
        """‖grad at the first residual's skip input‖ / ‖grad at the last one's‖: how the
        gradient grew (> 1) or shrank (< 1) on its way down through the stack."""
        return self[0].input_norm / self[-1].input_norm if self else float("nan")

    def rows(self):
        return [("#", "residual around", "‖grad at skip input‖", "via skip", "via sublayer",
                 "skip share")] + [
            (str(k), r.sublayer or r.module, f"{r.input_norm:.4g}", f"{r.skip_norm:.4g}",
             f"{r.branch_norm:.4g}", f"{r.skip_share:.2f}") for k, r in enumerate(self)]
