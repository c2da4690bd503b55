"""Watch a model learn: a recorder for the training loop, and a page to scrub through it.

    rec = tg.watch(model, every=10, probe=probe_loss)   # probe_loss(model) → a loss on a fixed batch
    for step in range(n):
        loss = ...; loss.backward()
        rec.step(loss)                                  # the one added line: after backward,
        opt.step(); opt.zero_grad()                     # before the optimizer step
    rec.page("training.html"); rec.save("training.json"); rec.plot()

On step 1 and every `every`-th step after it the recorder keeps (Karpathy's training
statistics, and the Transformer's own):

    loss            the loss passed to `step`
    grad_norm       ‖grad‖ of every parameter (before any clipping the loop does after), and of
                    every module that owns parameters (`module_grad_norm`)
    update_ratio    log10(‖Δw‖ / ‖w‖) of every parameter: Δw is what the optimizer step
                    right after did (measured at the next `step` call, or on save/page/plot)
and, from a forward and backward of `probe(model)` (a fixed batch, so steps compare):
    skip_share      for every residual add, the share of the gradient at its skip input that
                    came straight down the skip path (`tr.residual_report()` of that backward)
    dead, mostly_off   for every FeedForward, the fraction of its hidden units whose
                    pre-activation is ≤ 0 (ReLU: output and gradient exactly 0) on every
                    token of the batch, and on at least `mostly` (0.9) of its tokens
    entropy         for every attention head, the mean entropy −Σ p log p of its rows (in nats;
                    log k_len for uniform attention, 0 for one-hot)
    cells, maps     the attention weights you name: `cells={label: (module, batch, query, key)}`
                    gives one weight per head; `maps={label: (module, batch, rows, keys)}` the
                    whole (heads, rows, keys) block, `rows` a list of labels (positions 0, 1, …)
                    or of (position, label) pairs, `keys` a list of labels
    relations       `relations={name: (module_prefix, [(batch, query, key), ...])}`: for every
                    attention module whose path starts with the prefix, the mean weight each head
                    puts on the pairs (the head × relation table), and the best head of each module

Without a probe, the entropies come from the `.attn` the training forward left; the skip
shares, dead units, cells, maps and relations need the probe. The probe's backward is
traced (`tg.trace()`) but its gradients never reach the training's: every `.grad` is set
aside during it and put back. Its cost, at `every=10`, is measured in
benchmarks/watch.py.
"""
import html
import json
import math
import os

import numpy as np

from . import page as pages
from .trace import trace

FORMAT = "tinygrad_tf.recording/1"
SERIES = ("grad_norm", "module_grad_norm", "update_ratio", "skip_share", "dead", "mostly_off")


def watch(model, every=10, probe=None, cells=None, maps=None, relations=None, mostly=0.9, name=""):
    """A `Recorder` for training `model`; call its `step(loss)` once per training step."""
    return Recorder(model, every, probe, cells, maps, relations, mostly, name)


def _norm(a):
    """‖a‖₂ of a parameter-sized array, as one BLAS dot product (a few times quicker than
    trace.norm's float64 sum, and close enough for a picture)."""
    a = a.ravel()
    return math.sqrt(float(np.dot(a, a)))


def _round(x, digits=3):
    """A float for JSON, to `digits` significant digits (None for NaN, Inf or None)."""
    if x is None or not math.isfinite(x):
        return None
    return float(f"{x:.{digits}g}")


def _rounded(a, digits=3):
    """Nested lists of rounded floats from an array."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 0:
        return _round(float(a), digits)
    return [_rounded(x, digits) for x in a]


class Recording:
    """What a recorder kept, as plain lists (the JSON `save` writes): `steps`, `loss`, and
    for each statistic its row names and one row of values per recorded step. Read the
    statistics as arrays with `series(kind)` (steps × rows); `plot()` draws them and
    `page(path)` writes the page that scrubs through them."""

    def __init__(self, data):
        self.data = data

    # ------------------------------------------------------------- reading
    @property
    def name(self):
        return self.data.get("name", "")

    @property
    def steps(self):
        return list(self.data["steps"])

    @property
    def loss(self):
        return list(self.data["loss"])

    def series(self, kind):
        """(row names, array steps × rows) of one statistic: one of SERIES or "entropy"
        (rows named "module · head h"); NaN where a value is missing."""
        self._flush()
        if kind == "entropy":
            d = self.data["entropy"]
            rows = [f"{m} · head {h}" for m, n in zip(d["modules"], d["heads"]) for h in range(n)]
            values = [[x for per in step for x in per] for step in d["values"]]
        elif kind in SERIES:
            d = self.data[kind]
            rows, values = d["rows"], d["values"]
        else:
            raise KeyError(f"Recording.series: no statistic {kind!r}; there are "
                           f"{', '.join((*SERIES, 'entropy'))}")
        array = np.array([[np.nan if v is None else v for v in row] for row in values],
                         dtype=np.float64).reshape(len(values), len(rows))
        return list(rows), array

    def relation_table(self, step=-1):
        """The head × relation table at recorded step index `step`: {(module, relation):
        (best head, its weight)}, (None, None) where the relation does not look at that module."""
        d = self.data["relations"]
        table = {}
        for m, module in enumerate(d["modules"]):
            for r, rel in enumerate(d["names"]):
                weights = [w[r] for w in d["values"][step][m]]
                if weights[0] is None:
                    table[(module, rel)] = (None, None)
                    continue
                best = int(np.argmax(weights))
                table[(module, rel)] = (best, weights[best])
        return table

    def best_head_curve(self, relation, prefix=""):
        """The weight the best head (over the modules starting with `prefix`) puts on
        `relation`, at every recorded step."""
        d = self.data["relations"]
        r = d["names"].index(relation)
        ms = [m for m, module in enumerate(d["modules"]) if module.startswith(prefix)]
        if not ms:
            raise KeyError(f"best_head_curve: no attention module starts with {prefix!r}")
        return [max((w[r] for m in ms for w in step[m] if w[r] is not None), default=None)
                for step in d["values"]]

    # ------------------------------------------------------------- writing
    def _flush(self):
        """(A Recorder measures the last update here.)"""

    def to_json(self):
        self._flush()
        return self.data

    def save(self, path):
        """Write the recording as JSON; `tg.load_recording(path)` reads it back."""
        text = json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":"))
        tmp = f"{path}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
        return path

    def page(self, path=None, title=None):
        """Write the page scrubbing through this recording; see `training_page`."""
        return training_page({self.name or "run": self}, path, title)

    def plot(self):
        """Loss, gradient norms, update ratios, skip shares and dead units over training,
        one panel each; returns a matplotlib Figure (shows itself in Jupyter)."""
        from .viz import _figure
        panels = [("loss", None)] + [(k, self.series(k)) for k in
                                     ("module_grad_norm", "update_ratio", "skip_share", "dead")]
        panels = [(k, s) for k, s in panels if s is None or s[0]]
        fig = _figure(figsize=(12, 2.6 * math.ceil(len(panels) / 2)), layout="constrained")
        axes = np.atleast_1d(fig.subplots(math.ceil(len(panels) / 2), 2)).ravel()
        steps = self.steps
        for ax, (kind, s) in zip(axes, panels):
            if s is None:
                ax.plot(steps, self.loss, color="C0")
                ax.set(title="loss", xlabel="step", ylabel="loss")
                continue
            rows, values = s
            for i, row in enumerate(rows):
                ax.plot(steps, values[:, i], lw=1, label=row if len(rows) <= 8 else None)
            ax.set(title=TITLES[kind], xlabel="step", ylabel=YLABELS[kind])
            if kind == "module_grad_norm":
                ax.set_yscale("log")
            if len(rows) <= 8:
                ax.legend(fontsize=7)
        for ax in axes[len(panels):]:
            ax.set_visible(False)
        return fig


TITLES = {"grad_norm": "‖grad‖ per parameter", "module_grad_norm": "‖grad‖ per module",
          "update_ratio": "log10 ‖Δw‖/‖w‖ per parameter", "skip_share": "skip share per residual add",
          "dead": "dead units per FFN (off on every token)",
          "mostly_off": "units off on most tokens, per FFN"}


YLABELS = {"grad_norm": "‖grad‖", "module_grad_norm": "‖grad‖", "update_ratio": "log10 ratio",
           "skip_share": "share via skip", "dead": "fraction of units", "mostly_off": "fraction of units"}


def load_recording(path):
    """A Recording from a file `Recording.save` wrote."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"load_recording: {path!r} is not a recording (not JSON: {e})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"load_recording: {path!r} is not a recording (expected format {FORMAT!r})")
    return Recording(data)


class Recorder(Recording):
    """Made by `tg.watch`; see the module's docstring."""

    def __init__(self, model, every=10, probe=None, cells=None, maps=None, relations=None,
                 mostly=0.9, name=""):
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"watch: every must be a whole number >= 1, got {every!r}")
        if not 0 < mostly <= 1:
            raise ValueError(f"watch: mostly must be in (0, 1], got {mostly!r}")
        if probe is None and (cells or maps or relations):
            raise ValueError("watch: cells, maps and relations are read from the probe's forward; "
                             "pass probe=(a function of the model returning a loss on a fixed batch)")
        self.model, self.every, self.probe, self.mostly = model, every, probe, mostly
        self.params = model.named_parameters()
        self.attention = [(p, m) for p, m in model.named_modules() if hasattr(m, "attn")
                          and hasattr(m, "n_heads")]
        self.ffns = [(p, m) for p, m in model.named_modules() if hasattr(m, "activation")
                     and hasattr(m, "up") and hasattr(m, "down")]
        owners = list(dict.fromkeys(n.rpartition(".")[0] for n, _ in self.params))
        self.cells, self.maps = _check_specs(dict(cells or {}), dict(maps or {}), self.attention)
        self.relations = _check_relations(dict(relations or {}), self.attention)
        names = [n for n, _ in self.params]
        self.n, self._before = 0, None
        super().__init__({
            "format": FORMAT, "name": name, "every": every, "mostly": mostly, "steps": [], "loss": [],
            "grad_norm": {"rows": names, "values": []},
            "module_grad_norm": {"rows": owners, "values": []},
            "update_ratio": {"rows": names, "values": []},
            "skip_share": {"rows": [], "values": []},
            "dead": {"rows": [p for p, _ in self.ffns], "values": []},
            "mostly_off": {"rows": [p for p, _ in self.ffns], "values": []},
            "entropy": {"modules": [p for p, _ in self.attention],
                        "heads": [m.n_heads for _, m in self.attention], "values": []},
            "cells": {label: {"spec": list(spec), "values": []} for label, spec in self.cells.items()},
            "maps": {label: {"module": spec[0], "batch": spec[1], "rows": [r for _, r in spec[2]],
                             "keys": list(spec[3]), "values": []} for label, spec in self.maps.items()},
            "relations": {"names": list(self.relations),
                          "modules": [p for p, _ in self.attention
                                      if any(p.startswith(pre) for pre, _ in self.relations.values())],
                          "values": []},
        })

    def step(self, loss):
        """Count one training step; on step 1 and every `every`-th, record it. Call after
        `loss.backward()` and before the optimizer's step. Returns True if it recorded."""
        self._flush()
        self.n += 1
        if self.n != 1 and self.n % self.every:
            return False
        d = self.data
        d["steps"].append(self.n)
        d["loss"].append(_round(float(np.asarray(getattr(loss, "data", loss))), 6))
        grads = [_norm(p.grad) if p.grad is not None else None for _, p in self.params]
        d["grad_norm"]["values"].append([_round(g) for g in grads])
        by_owner = {}
        for (n, _), g in zip(self.params, grads):
            by_owner.setdefault(n.rpartition(".")[0], []).append(g or 0.0)
        d["module_grad_norm"]["values"].append(
            [_round(math.sqrt(sum(g * g for g in by_owner[o]))) for o in d["module_grad_norm"]["rows"]])
        d["update_ratio"]["values"].append([None] * len(self.params))
        self._before = [p.data.copy() for _, p in self.params]
        if self.probe is not None:
            self._record_probe()
        d["entropy"]["values"].append([_rounded(entropy(m.attn)) if m.attn is not None
                                       else [None] * m.n_heads for _, m in self.attention])
        return True

    def _flush(self):
        """log10 ‖Δw‖/‖w‖ of the last recorded step, once its optimizer step has run."""
        if self._before is None:
            return
        ratios = []
        for (_, p), w in zip(self.params, self._before):
            dw, size = _norm(p.data - w), _norm(w)
            ratios.append(_round(math.log10(dw / size)) if dw > 0 and size > 0 else None)
        self.data["update_ratio"]["values"][-1] = ratios
        self._before = None

    def _record_probe(self):
        """Run the probe with its FFN pre-activations caught and its backward traced; its
        gradients are set aside so the training's stay as they were."""
        d = self.data
        saved = [p.grad for _, p in self.params]
        for _, p in self.params:
            p.grad = None
        caught = {}
        hooks = [_catch(m.gate if m.activation == "swiglu" else m.up, path, caught)
                 for path, m in self.ffns]
        try:
            loss = self.probe(self.model)
            with trace() as tr:
                loss.backward()
        finally:
            for module in hooks:
                del module.__dict__["forward"]
            for (_, p), g in zip(self.params, saved):
                p.grad = g
        report = tr.residual_report()
        rows = [f"{r.module} · {r.sublayer.rpartition('.')[2] or r.sublayer}" for r in report]
        if not d["skip_share"]["rows"]:
            d["skip_share"]["rows"] = rows
        d["skip_share"]["values"].append([_round(r.skip_share) for r in report])
        off = [caught[p] for p, _ in self.ffns]
        d["dead"]["values"].append([_round(float(np.mean(f >= 1.0))) for f in off])
        d["mostly_off"]["values"].append([_round(float(np.mean(f >= self.mostly))) for f in off])
        attn = dict(self.attention)
        for label, (module, b, q, k) in self.cells.items():
            d["cells"][label]["values"].append(_rounded(attn[module].attn[b, :, q, k]))
        for label, (module, b, rows, keys) in self.maps.items():
            a = attn[module].attn[b][:, [i for i, _ in rows], :len(keys)]
            d["maps"][label]["values"].append(_rounded(a, 2))
        table = []
        for module in d["relations"]["modules"]:
            a = attn[module].attn                                    # (B, h, q, k)
            table.append([[_round(float(np.mean([a[b, h, q, k] for b, q, k in pairs])))
                           if module.startswith(prefix) else None
                           for prefix, pairs in self.relations.values()]
                          for h in range(a.shape[1])])
        d["relations"]["values"].append(table)


def _catch(linear, path, caught):
    """Wrap `linear`'s forward for one call: keep, per hidden unit, the fraction of the
    tokens on which its output (the pre-activation) is ≤ 0. Returns the module."""
    forward = type(linear).forward

    def catching(x):
        out = forward(linear, x)
        h = out.data.reshape(-1, out.shape[-1])                   # (tokens, d_ff)
        caught[path] = np.mean(h <= 0, axis=0)
        return out
    linear.__dict__["forward"] = catching
    return linear


def entropy(attn):
    """Mean entropy −Σ_k p log p of the attention rows, per head: attn (B, h, q, k) → (h,).
    Rows with no weight at all (a query that may attend to nothing) are left out."""
    a = np.asarray(attn, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        rows = -np.sum(np.where(a > 0, a * np.log(a), 0.0), axis=-1)     # (B, h, q)
    live = a.sum(axis=-1) > 0
    counts = live.sum(axis=(0, 2))
    return np.where(counts > 0, np.sum(np.where(live, rows, 0.0), axis=(0, 2)) / np.maximum(counts, 1),
                    np.nan)


def _check_specs(cells, maps, attention):
    """Cells and maps with their modules checked and their rows as (position, label)."""
    known = dict(attention)

    def module_of(kind, label, module):
        if module not in known:
            raise ValueError(f"watch: {kind} {label!r} names the module {module!r}, which is not an "
                             f"attention module of the model (those are: {', '.join(known) or 'none'})")
    for label, spec in cells.items():
        if len(spec) != 4:
            raise ValueError(f"watch: cell {label!r} should be (module, batch, query, key), got {spec!r}")
        module_of("cell", label, spec[0])
    out = {}
    for label, spec in maps.items():
        if len(spec) != 4:
            raise ValueError(f"watch: map {label!r} should be (module, batch, rows, keys), got {spec!r}")
        module, b, rows, keys = spec
        module_of("map", label, module)
        rows = [tuple(r) if isinstance(r, (tuple, list)) else (i, r) for i, r in enumerate(rows)]
        out[label] = (module, b, rows, list(keys))
    return cells, out


def _check_relations(relations, attention):
    for name, spec in relations.items():
        if len(spec) != 2 or not isinstance(spec[0], str):
            raise ValueError(f"watch: relation {name!r} should be (module prefix, [(batch, query, key), "
                             f"...]), got {spec!r}")
        if not spec[1]:
            raise ValueError(f"watch: relation {name!r} has no (batch, query, key) pairs")
        if not any(p.startswith(spec[0]) for p, _ in attention):
            raise ValueError(f"watch: relation {name!r}: no attention module starts with {spec[0]!r}")
    return {name: (prefix, [tuple(map(int, t)) for t in pairs])
            for name, (prefix, pairs) in relations.items()}


# ------------------------------------------------------------------ the page

class Page(pages.Page):
    """The path of a written training page (a str); in Jupyter it shows itself inline."""
    title, height = "training", 900


def training_page(runs, path=None, title=None):
    """Write one self-contained HTML page (no network) for `runs`, {name: Recording}: a
    slider over the recorded steps; the loss curves (all runs overlaid) with the chosen
    step marked; layer × step heatmaps of gradient norms, update ratios, skip shares, dead
    units and attention entropies; the head × relation table and the tracked attention
    cells over training; and the tracked attention maps at the chosen step. It honours
    `#step=N` (the N-th recorded step, from 0) and exposes `window.tgTraining =
    {steps, current, goto(i), run, runs}`. Returns the path as a `Page`; with `path=None`
    a new temporary file."""
    if isinstance(runs, Recording):
        runs = {runs.name or "run": runs}
    if not runs:
        raise ValueError("training_page: no recordings given")
    for name, rec in runs.items():
        if not isinstance(rec, Recording):
            raise TypeError(f"training_page: run {name!r} is a {type(rec).__name__}, not a Recording")
        if not rec.steps:
            raise ValueError(f"training_page: run {name!r} recorded no steps (call rec.step(loss) "
                             "in the training loop)")
    title = title or ("training of " + ", ".join(runs))
    data = {"title": title, "runs": [{**rec.to_json(), "name": name} for name, rec in runs.items()]}
    text = pages.fill("training.html", {"TITLE": html.escape(title)}, data)
    return Page(pages.write(text, path, "training"))


read_page_data = pages.read_data   # the data embedded in a written page
