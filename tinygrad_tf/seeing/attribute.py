"""Attribution: how much each element of an input contributed to a scalar output.

    a = tg.attribute(f, x)                       # integrated gradients, zero baseline
    a.scores                                     # x's shape; sums to f(x) - f(baseline)
    a.completeness_error                         # how far from that sum (relative)
    a.plot()                                     # a matplotlib Figure with a colour scale

Three methods, each one backward pass or one batch of them:

    "gradient"              ∂f/∂x at x
    "gradient_x_input"      ∂f/∂x · (x − b)          (b = baseline, zeros by default)
    "integrated_gradients"  (x − b) · mean over k of ∂f/∂x at b + αₖ(x − b),
                            αₖ = (k + ½)/steps, k = 0 … steps − 1   (the midpoint rule)

Integrated gradients (Sundararajan, Taly & Yan 2017) is the path integral
(x − b) ∫₀¹ ∂f/∂x(b + α(x − b)) dα, and by the fundamental theorem of calculus its
scores add up to f(x) − f(b) ("completeness"); the midpoint rule gets that exactly when
the gradient is linear along the path (f quadratic), and to O(1/steps²) otherwise.

The batch path. `f` always receives a Tensor; when it also maps a *batch* — given
inputs of shape (n, *x.shape) it returns n values, shape (n,) — integrated gradients
evaluate all `steps` points (plus x and the baseline) in one forward and ONE backward,
seeded with the weights (1, …, 1, 0, 0). `attribute` tries that first, and checks the
batch's value at x against f(x) computed alone; a function that does not map a batch
(it raises, or returns another shape) is evaluated one point at a time instead, one
backward per point. `batch=True` insists on the batch path (an error if f does not map
one); `batch=False` never tries it.
"""
import html

import numpy as np

from ..core.engine import no_grad
from ..core.tensor import Tensor

METHODS = ("gradient", "gradient_x_input", "integrated_gradients")


class Attribution:
    """What `attribute` returns: `.scores` (an np.ndarray of x's shape), `.method`,
    `.value` = f(x), `.baseline_value` = f(baseline), `.baseline`, `.steps`, `.batched`
    (whether one batched backward was used) and `.completeness_error` =
    |Σ scores − (f(x) − f(b))| / |f(x) − f(b)| (None for "gradient", whose scores are
    not in f's units, and when f(x) = f(b))."""

    def __init__(self, scores, method, value, baseline_value, baseline, steps, batched, labels=None):
        self.scores, self.method, self.baseline = scores, method, baseline
        self.value, self.baseline_value = float(value), float(baseline_value)
        self.steps, self.batched, self.labels = steps, batched, labels
        self.completeness_error = None
        gap = self.value - self.baseline_value
        if method != "gradient" and gap != 0:
            self.completeness_error = abs(float(scores.sum(dtype=np.float64)) - gap) / abs(gap)

    def __repr__(self):
        done = ("" if self.completeness_error is None
                else f", completeness error {self.completeness_error:.2e}")
        return (f"Attribution({self.method}, scores of shape {self.scores.shape}, f(x) = {self.value:.6g}, "
                f"f(baseline) = {self.baseline_value:.6g}{done})")

    def _matrix(self):
        """The scores as rows × columns: the last axis across, the others flattened down."""
        s = np.asarray(self.scores, dtype=np.float64)
        return s.reshape(1, -1) if s.ndim < 2 else s.reshape(-1, s.shape[-1])

    def plot(self, labels=None, ax=None, title=None):
        """A heatmap of the scores (rows × the last axis) on a diverging colour scale
        centred at zero, with a colour bar; `labels` names the columns (a 1-D x's
        elements). Returns the matplotlib Figure."""
        import matplotlib.pyplot as plt
        m = self._matrix()
        labels = self.labels if labels is None else labels
        if ax is None:
            width, height = min(max(6, 2 + 0.6 * m.shape[1]), 14), min(1.8 + 0.35 * m.shape[0], 10)
            fig, ax = plt.subplots(figsize=(width, height))
        else:
            fig = ax.figure
        top = float(np.abs(m).max()) or 1.0
        im = ax.imshow(m, cmap="RdBu_r", vmin=-top, vmax=top, aspect="auto")
        if m.size <= 200:
            for (i, j), v in np.ndenumerate(m):
                ax.text(j, i, f"{v:.2g}", ha="center", va="center", fontsize=8,
                        color="white" if abs(v) > 0.6 * top else "black")
        if labels is not None:
            ax.set_xticks(range(m.shape[1]), list(labels), rotation=45, ha="right", fontsize=9)
        if m.shape[0] == 1:
            ax.set_yticks([])
        fig.colorbar(im, ax=ax, label="score (red > 0 > blue)")
        err = self.completeness_error
        done = "" if err is None else f", completeness error {err:.1e}"
        ax.set_title(title or f"{self.method}: f(x) = {self.value:.4g}, f(baseline) = "
                              f"{self.baseline_value:.4g}{done}", fontsize=10)
        fig.tight_layout()
        return fig

    def _repr_html_(self):
        """A table: the numbers, then the scores (the first 64 cells) shaded red > 0 > blue."""
        m = self._matrix()
        top = float(np.abs(m).max()) or 1.0
        rows = []
        for row in m[:8]:
            cells = "".join(f'<td style="background:{_shade(v / top)};padding:2px 6px">{v:.3g}</td>'
                            for v in row[:16])
            rows.append(f"<tr>{cells}</tr>")
        head = ""
        if self.labels is not None and m.shape[0] == 1:
            names = "".join(f"<th>{html.escape(str(t))}</th>" for t in list(self.labels)[:16])
            head = f"<tr>{names}</tr>"
        done = ("–" if self.completeness_error is None else f"{self.completeness_error:.2e}")
        return (f"<div><b>{self.method}</b>: f(x) = {self.value:.6g}, f(baseline) = "
                f"{self.baseline_value:.6g}, Σ scores = {float(m.sum()):.6g}, completeness error {done}, "
                f"scores of shape {self.scores.shape}"
                f"<table style='border-collapse:collapse;font-family:monospace'>{head}{''.join(rows)}</table>"
                "</div>")


def _shade(t):
    """A colour for t in [-1, 1]: blue below zero, white at zero, red above."""
    t = max(-1.0, min(1.0, float(t)))
    r, g, b = (255, int(255 - 190 * t), int(255 - 200 * t)) if t >= 0 else \
        (int(255 + 200 * t), int(255 + 150 * t), 255)
    return f"rgb({r},{g},{b})"


def _scalar(out, what, shape):
    """f's output as a Tensor of `shape` (checked), with a clear error otherwise."""
    if not isinstance(out, Tensor):
        raise TypeError(f"attribute: f must return a tg.Tensor, got {type(out).__name__} for {what}")
    if out.shape != shape and not (shape == () and out.size == 1):
        need = "a scalar (one element)" if shape == () else f"shape {shape}"
        raise ValueError(f"attribute: f must return {need} for {what}, got shape {out.shape}")
    return out


def _value_and_grad(f, point):
    """f(point) and ∂f/∂point, one forward and one backward."""
    x = Tensor(point, requires_grad=True, dtype=point.dtype)
    out = _scalar(f(x), "x", ())
    if not out.requires_grad:
        raise ValueError("attribute: f(x) does not depend on x through the graph (did f use .data, "
                         ".numpy() or no_grad?)")
    out.reshape(()).backward()
    return float(out.data.reshape(())), x.grad


def _f_at(f, point, what):
    """f(point) as a float, without a graph."""
    with no_grad():
        return float(_scalar(f(Tensor(point, dtype=point.dtype)), what, ()).data.reshape(()))


def _integrated_batched(f, x, baseline, alphas, value):
    """One forward over every midpoint, x and the baseline, ONE backward seeded with
    (1, …, 1, 0, 0): returns (Σ gradients at the midpoints, f(x), f(baseline)), or None
    when f does not map a batch."""
    n = len(alphas)
    a = np.concatenate([alphas, [1.0, 0.0]]).astype(x.dtype).reshape(-1, *([1] * x.ndim))
    points = Tensor(baseline + a * (x - baseline), requires_grad=True, dtype=x.dtype)   # (n + 2, *x.shape)
    out = f(points)
    if not isinstance(out, Tensor) or out.shape != (n + 2,):
        return None
    at_x, at_b = float(out.data[n]), float(out.data[n + 1])
    if not np.isclose(at_x, value, rtol=1e-4, atol=1e-6 * max(1.0, abs(value))):
        raise ValueError(f"attribute: f on a batch gives {at_x:.6g} at x but {value:.6g} alone: f mixes "
                         "the batch's rows (it reads the leading axis as data); pass batch=False")
    seed = np.zeros(n + 2, dtype=out.dtype)
    seed[:n] = 1.0
    out.backward(seed)
    return points.grad[:n].sum(axis=0, dtype=np.float64), at_x, at_b


def attribute(f, x, *, baseline=None, method="integrated_gradients", steps=64, batch=None, labels=None):
    """The attribution of the scalar `f(x)` to each element of `x`.

    f: a function of one Tensor returning a one-element Tensor (for the batch path
    of integrated gradients, see the module's docstring). x: an array or Tensor of
    floats (its dtype is kept; float64 for exact sums). baseline: an array of x's
    shape (default zeros). method: "gradient", "gradient_x_input" or
    "integrated_gradients". steps: points of the midpoint rule. batch: None (try the
    batch path), True (require it) or False. labels: names of x's last axis, for the
    plot. Returns an `Attribution`."""
    if method not in METHODS:
        raise ValueError(f"attribute: unknown method {method!r}; use one of {', '.join(METHODS)}")
    if not callable(f):
        raise TypeError(f"attribute: f must be a function of one Tensor, got {type(f).__name__}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"attribute: steps must be a whole number >= 1, got {steps!r}")
    x = np.array(x.data if isinstance(x, Tensor) else x)
    if x.dtype.kind != "f":
        if x.dtype.kind not in "iub":
            raise TypeError(f"attribute: x must hold numbers, got dtype {x.dtype}")
        raise TypeError(f"attribute: x must be floating point (an integer array such as token ids has "
                        f"no gradient; attribute to their embeddings), got dtype {x.dtype}")
    if baseline is None:
        baseline = np.zeros_like(x)
    else:
        baseline = np.array(baseline.data if isinstance(baseline, Tensor) else baseline, dtype=x.dtype)
        if baseline.shape != x.shape:
            raise ValueError(f"attribute: baseline has shape {baseline.shape} but x has shape {x.shape}")
    if labels is not None and len(labels) != (x.shape[-1] if x.ndim else 1):
        raise ValueError(f"attribute: {len(labels)} labels for an x whose last axis has "
                         f"{x.shape[-1] if x.ndim else 1} elements")

    if method != "integrated_gradients":
        value, grad = _value_and_grad(f, x)
        scores = grad if method == "gradient" else grad * (x - baseline)
        baseline_value = _f_at(f, baseline, "the baseline")
        return Attribution(np.asarray(scores), method, value, baseline_value, baseline, None, False, labels)

    alphas = (np.arange(steps) + 0.5) / steps                 # the midpoint rule on [0, 1]
    value = _f_at(f, x, "x")
    done = None
    if batch is not False:
        try:
            done = _integrated_batched(f, x, baseline, alphas, value)
        except (ValueError, TypeError, IndexError) as e:
            if batch or "mixes the batch" in str(e):
                raise
        if done is None and batch:
            raise ValueError(f"attribute: batch=True, but f on a batch of shape {(steps + 2, *x.shape)} "
                             f"does not return one value per row, shape ({steps + 2},)")
    if done is not None:
        total, value, baseline_value = done
    else:
        total = np.zeros(x.shape, dtype=np.float64)
        for a in alphas:
            total += _value_and_grad(f, (baseline + a * (x - baseline)).astype(x.dtype))[1]
        baseline_value = _f_at(f, baseline, "the baseline")
    scores = (x - baseline).astype(np.float64) * total / steps
    return Attribution(scores.astype(x.dtype), method, value, baseline_value, baseline, steps,
                       done is not None, labels)


def rollout(attentions, residual=0.5):
    """Attention rollout (Abnar & Zuidema 2020): how much of each input token has reached
    each position after a stack of self-attention layers, if attention alone moved
    information. `attentions`: one array per layer, first layer first, each (heads, S, S)
    or (S, S), rows = queries. Per layer the heads are averaged and the residual
    connection is counted as attention to oneself, Â = residual·I + (1 − residual)·A
    (rows renormalised); the rollout is Â_L ⋯ Â_2 Â_1, (S, S), each row summing to 1."""
    if len(attentions) == 0:
        raise ValueError("rollout: no attention layers given")
    if not 0 <= residual <= 1:
        raise ValueError(f"rollout: residual must be in [0, 1], got {residual}")
    out = None
    for l, a in enumerate(attentions):
        a = np.asarray(a, dtype=np.float64)
        a = a.mean(axis=0) if a.ndim == 3 else a
        if a.ndim != 2 or a.shape[0] != a.shape[1] or (out is not None and a.shape != out.shape):
            raise ValueError(f"rollout: layer {l}'s attention has shape {np.shape(attentions[l])}; "
                             "expected (heads, S, S) or (S, S), the same S in every layer")
        a = residual * np.eye(len(a)) + (1 - residual) * a
        a /= a.sum(axis=-1, keepdims=True)
        out = a if out is None else a @ out
    return out
