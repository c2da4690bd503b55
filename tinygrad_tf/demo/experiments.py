"""The notes' claims about training, tried: small trainings side by side on the demo's
corpus, each recorded with `tg.watch`.

    python -m tinygrad_tf experiment NAME [--quick] [--seed S] [-o DIR] [--json PATH]

NAME is one of

    warmup       post-LN vs pre-LN, each with and without learning-rate warmup
    depth        2, 6 and 12 layers, post-LN vs pre-LN: the first layer's gradient and the loss
    residual     6 layers with and without the skip connections
    layernorm    LayerNorm vs no normalisation vs BatchNorm, over a learning-rate sweep
    activation   ReLU vs GELU vs SwiGLU: loss and dead units over training
    width        d_ff = 1×, 2×, 4×, 8× d_model: final loss against parameter count
    coreference  when does a head learn "it" → its referent? The demo's corpus beside a
                 variant whose target needs the referent at "it" (gendered pronouns)

Every run of an experiment starts from the same seed and sees the same batches (batch t
of seed s is `translation.batch_indices`), with the demo's recipe: Adam (0.9, 0.98),
label smoothing 0.1, gradient clipping at 1.0. Each experiment writes DIR/NAME.png (its
picture), DIR/NAME.html (the training page, runs overlaid) and prints a table whose last
line, the conclusion, is computed from the numbers by `conclude(NAME, runs)`: it says
what was measured, and says so when the expected effect did not appear.
`--quick` runs fewer and smaller steps (the tests run it): its conclusions are about
the quick runs, which are often too short to show the effect.
"""
import json
import math
import os
import time

import numpy as np

import tinygrad_tf as tg
from tinygrad_tf import nn, optim

from . import corpus as C
from . import translation as T

BASE = dict(d_model=32, n_heads=2, n_layers=2, d_ff=64, norm_first=False, activation="relu",
            batch=32, label_smoothing=0.1, it_share=0.25, clip=1.0)
PEAK_LR = 2e-3                    # the demo's peak: 0.5 · (64 · 100)^-0.5 = 6.25e-3 at d_model 64


# ------------------------------------------------------------------ the runs

def lr_at(step, peak, warmup, ramp=True, decay=True):
    """The learning rate of step 1, 2, ...: `peak` reached after a linear rise over
    `warmup` steps (ramp=False: at once, from step 1), then (decay) falling as 1/√step
    from step `warmup` on, as in the 2017 paper:
        peak · min(step / warmup, 1) · min(1, √(warmup / step))"""
    rise = min(step / warmup, 1.0) if ramp and warmup else 1.0
    fall = min(1.0, math.sqrt(warmup / step)) if decay and warmup else 1.0
    return peak * rise * fall


class NoNorm(nn.Module):
    """Stands where a LayerNorm was: passes its input through. (`weight`, a constant,
    only tells the blocks the dtype, as a LayerNorm's does.)"""

    def __init__(self, d_model):
        super().__init__()
        self.weight = np.ones(d_model, dtype=np.float32)

    def forward(self, x):
        return x


class TokenBatchNorm(nn.Module):
    """BatchNorm1d over every token of the batch: (B, T, d) seen as (B·T, d)."""

    def __init__(self, d_model):
        super().__init__()
        self.bn = nn.BatchNorm1d(d_model)

    @property
    def weight(self):
        return self.bn.weight

    def forward(self, x):
        b, t, d = x.shape
        return self.bn(x.reshape(b * t, d)).reshape(b, t, d)


def replace_norms(model, make):
    """Every LayerNorm of the model's blocks (and the stacks' final ones) → make(d_model)."""
    for stack in (model.encoder, model.decoder):
        for block in stack.layers:
            for name in ("norm1", "norm2", "norm3"):
                if hasattr(block, name):
                    setattr(block, name, make(getattr(block, name).weight.shape[0]))
        if stack.norm is not None:
            stack.norm = make(stack.norm.weight.shape[0])


def remove_skips(model):
    """Every block computes its sublayers without the residual adds (post-LN order kept:
    norm(sublayer(x)); pre-LN: sublayer(norm(x)))."""
    def encoder(block, x, mask=None, causal=False):
        if block.norm_first:
            x = block._sa_block(block.norm1(x), mask, causal)
            return block._ff_block(block.norm2(x))
        x = block.norm1(block._sa_block(x, mask, causal))
        return block.norm2(block._ff_block(x))

    def decoder(block, x, memory, mask=None, memory_mask=None):
        if block.norm_first:
            x = block._sa_block(block.norm1(x), mask, True)
            x = block._ca_block(block.norm2(x), memory, memory_mask)
            return block._ff_block(block.norm3(x))
        x = block.norm1(block._sa_block(x, mask, True))
        x = block.norm2(block._ca_block(x, memory, memory_mask))
        return block.norm3(block._ff_block(x))
    for block in model.encoder.layers:
        block.__dict__["forward"] = lambda *a, b=block, **k: encoder(b, *a, **k)
    for block in model.decoder.layers:
        block.__dict__["forward"] = lambda *a, b=block, **k: decoder(b, *a, **k)


def probe_pairs(corpus):
    """The recorder's fixed batch: 8 "it" sentences and 8 simple ones, from training."""
    its = [p for p in corpus.train if p.is_it]
    simple = [p for p in corpus.train if not p.is_it]
    return its[::max(len(its) // 8, 1)][:8] + simple[::max(len(simple) // 8, 1)][:8]


def it_relations(pairs, prefix="encoder"):
    """"it" → its referent and "it" → the other noun, over the "it" pairs of a batch."""
    ref, other = [], []
    for b, p in enumerate(pairs):
        if p.is_it:
            s = p.english.split()
            o = p.place if p.referent == p.subject else p.subject
            ref.append((b, s.index("it"), s.index(p.referent)))
            other.append((b, s.index("it"), s.index(o)))
    return {'"it" → its referent': (prefix, ref), '"it" → the other noun': (prefix, other)}


def train_one(name, steps, seed=0, corpus=None, peak=PEAK_LR, warmup=0, ramp=True, decay=True,
              modify=None, every=10, relations=False, **config):
    """Train one model of BASE updated by `config` for `steps` steps and return its run
    (a dict for the JSON: name, config, steps, loss, and what the recorder kept) and its
    recording. A run whose loss stops being finite ends there (`diverged`)."""
    corpus = corpus or C.build()
    cfg = {**BASE, **config, "seed": seed, "peak_lr": peak, "warmup": warmup if ramp else 0,
           "decay_from": warmup if decay else None}
    nn.manual_seed(seed)
    model = nn.Transformer(len(corpus.src_vocab), len(corpus.tgt_vocab), d_model=cfg["d_model"],
                           n_heads=cfg["n_heads"], n_layers=cfg["n_layers"], d_ff=cfg["d_ff"],
                           activation=cfg["activation"], norm_first=cfg["norm_first"],
                           max_len=T.MAX_LEN, pad_id=corpus.src_vocab.pad)
    if modify is not None:
        modify(model)
    opt = optim.Adam(model.parameters(), betas=(0.9, 0.98), eps=1e-9)
    run = T.Run(model, corpus, cfg, opt)
    pairs = probe_pairs(corpus)
    rec = tg.watch(model, every=every, name=name,
                   probe=lambda m: T.loss_on(m, corpus, pairs, cfg["label_smoothing"]),
                   relations=it_relations(pairs) if relations else None)
    losses, diverged = [], None
    model.train()
    for step in range(1, steps + 1):
        opt.lr = lr_at(step, peak, warmup, ramp, decay)
        batch = [corpus.train[i] for i in T.batch_indices(run, step)]
        loss = T.loss_on(model, corpus, batch, cfg["label_smoothing"])
        if not np.isfinite(loss.item()):
            diverged = step
            break
        loss.backward()
        rec.step(loss)
        optim.clip_grad_norm_(model.parameters(), cfg["clip"])
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    model.eval()
    out = {"name": name, "config": cfg, "steps": list(range(1, len(losses) + 1)),
           "loss": [round(x, 5) for x in losses], "final_loss": final(losses, steps),
           "diverged": diverged, "params": int(sum(p.size for p in model.parameters())),
           "recorded_steps": rec.steps}
    rows, grads = rec.series("grad_norm")
    first = [i for i, r in enumerate(rows) if r.startswith("encoder.layers.0.")]
    first_norm = np.sqrt(np.nansum(grads[:, first] ** 2, axis=1))
    out["first_layer_grad_norm"] = [round(float(x), 6) for x in first_norm]
    out["dead"] = [round(float(np.mean(d)), 4) for d in rec.series("dead")[1]]
    out["mostly_off"] = [round(float(np.mean(d)), 4) for d in rec.series("mostly_off")[1]]
    if relations:
        out["it_referent"] = [round(x, 4) for x in rec.best_head_curve('"it" → its referent')]
        out["it_other"] = [round(x, 4) for x in rec.best_head_curve('"it" → the other noun')]
    return out, rec


def final(losses, steps):
    """The loss a run ended at: the mean of its last 10% of steps (inf if it diverged
    before finishing, NaN if it made no step)."""
    if len(losses) < steps:
        return math.inf
    if not losses:
        return math.nan
    k = max(len(losses) // 10, 1)
    return round(float(np.mean(losses[-k:])), 5)


# ------------------------------------------------------------------ the experiments
# Each returns the runs (and their recordings) of one experiment; `quick` runs are fewer
# and shorter. The settings: (default, quick).

def warmup(seed, quick):
    """The demo's width (d_model 64) at a peak rate of 0.03 (5× the demo's), reached after
    a 50-step linear warmup or from step 1; the same 1/√step decay after step 50."""
    steps, w, batch = (30, 10, 16) if quick else (150, 50, 32)
    out = []
    for norm_first in (False, True):
        for ramp in (True, False):
            label = f"{'pre' if norm_first else 'post'}-LN, {'warmup ' + str(w) if ramp else 'no warmup'}"
            out.append(train_one(label, steps, seed, peak=0.03, warmup=w, ramp=ramp, norm_first=norm_first,
                                 d_model=64, d_ff=128, n_heads=4, batch=batch, every=5 if quick else 10))
    return out


def depth(seed, quick):
    steps, depths = (8, (2, 6, 12)) if quick else (80, (2, 6, 12))
    batch = 8 if quick else 16
    return [train_one(f"{'pre' if nf else 'post'}-LN, {n} layers", steps, seed, warmup=steps // 4,
                      n_layers=n, norm_first=nf, batch=batch, every=2 if quick else 5)
            for n in depths for nf in (False, True)]


def residual(seed, quick):
    steps = 20 if quick else 150
    return [train_one(label, steps, seed, warmup=steps // 4, n_layers=6, modify=modify, batch=16,
                      every=5 if quick else 10)
            for label, modify in (("with skips", None), ("without skips", remove_skips))]


def layernorm(seed, quick):
    steps, rates = (15, (1e-3, 1e-2, 1e-1)) if quick else (100, (1e-3, 3e-3, 1e-2, 3e-2, 1e-1))
    kinds = (("LayerNorm", None), ("no norm", lambda m: replace_norms(m, NoNorm)),
             ("BatchNorm", lambda m: replace_norms(m, TokenBatchNorm)))
    return [train_one(f"{label}, lr {lr:g}", steps, seed, peak=lr, warmup=0, decay=False, modify=modify,
                      batch=16, every=5 if quick else 10)
            for label, modify in kinds for lr in rates]


def activation(seed, quick):
    """A large constant rate, 0.03 after a short warmup: the regime in which the notes say
    ReLU units die (a big update pushes a unit's pre-activation below 0 on every input)."""
    steps = 25 if quick else 300
    return [train_one(act, steps, seed, peak=0.03, warmup=steps // 10, decay=False, activation=act,
                      every=5 if quick else 10)
            for act in ("relu", "gelu", "swiglu")]


def width(seed, quick):
    steps = 25 if quick else 120
    return [train_one(f"d_ff = {k}× d_model", steps, seed, peak=3 * PEAK_LR, warmup=steps // 6,
                      d_ff=k * BASE["d_model"], every=5 if quick else 10)
            for k in (1, 2, 4, 8)]


# The variant corpus of `coreference`: each noun has a grammatical gender, and the
# target says "it" with the pronoun of its referent's gender, so the word produced for
# "it" can only be right if the referent is known. The genders are spread so that the
# adjective alone never tells the pronoun (each kind of referent has both genders).
GENDER = {"cat": "f", "dog": "m", "animal": "m", "bird": "f", "horse": "m", "rabbit": "f",
          "fox": "m", "child": "f", "street": "f", "river": "m", "road": "m", "bridge": "m",
          "field": "f", "mat": "f", "table": "f", "bed": "m", "tree": "m", "box": "f"}
PRONOUN = {"m": "イル", "f": "エル"}      # il / elle, written in katakana: a made-up word pair


def gendered(pair):
    """An "it" pair of the demo's corpus in the variant: the main clause first, then the
    reason as a sentence of its own whose subject is the pronoun standing for "it":
        the animal didn't cross the street because it was too tired .
        → 動物 は 通り を 渡ら なかった 。 イル は 疲れ すぎて いた"""
    if not pair.is_it:
        return pair
    s, p = C.SUBJECTS[pair.subject][0], C.PLACES[pair.place][0]
    adjective = pair.english.split()[-2]
    reason = (C.TOO_ANIMAL.get(adjective) or C.TOO_PLACE[adjective])[0]
    japanese = [s, "は", p, "を", "渡ら", "なかった", "。", PRONOUN[GENDER[pair.referent]], "は", *reason]
    return C.Pair(pair.english, " ".join(japanese), pair.subject, pair.place, pair.referent)


def gendered_corpus(corpus):
    return C.Corpus(train=[gendered(p) for p in corpus.train], test=[gendered(p) for p in corpus.test],
                    held_out_pairs=corpus.held_out_pairs)


def coreference(seed, quick):
    steps = 40 if quick else 400
    demo = C.build()
    return [train_one(label, steps, seed, corpus=data, peak=3 * PEAK_LR, warmup=steps // 6, relations=True,
                      it_share=0.5, every=5 if quick else 10)
            for label, data in (("demo corpus", demo), ("gendered pronoun", gendered_corpus(demo)))]


EXPERIMENTS = {"warmup": warmup, "depth": depth, "residual": residual, "layernorm": layernorm,
               "activation": activation, "width": width, "coreference": coreference}


# ------------------------------------------------------------------ conclusions, from the numbers

def _by(runs, **want):
    """The run whose config has all of `want`."""
    for r in runs:
        if all(r["config"].get(k) == v for k, v in want.items()):
            return r
    raise KeyError(f"no run with {want}")


def _loss(r):
    return "diverged" if not math.isfinite(r["final_loss"]) else f"{r['final_loss']:.2f}"


def conclude(name, runs):
    """The conclusion sentence of experiment `name` from its runs (dicts as in the JSON):
    what the numbers show, and whether the effect the notes expect appeared."""
    return CONCLUSIONS[name](runs)


def conclude_warmup(runs):
    post_w, post_0 = (_by(runs, norm_first=False, warmup=w) for w in (_warm(runs), 0))
    pre_w, pre_0 = (_by(runs, norm_first=True, warmup=w) for w in (_warm(runs), 0))
    hurt_post = post_0["final_loss"] - post_w["final_loss"]
    hurt_pre = pre_0["final_loss"] - pre_w["final_loss"]
    numbers = (f"without warmup post-LN ends at {_loss(post_0)} (with: {_loss(post_w)}), pre-LN at "
               f"{_loss(pre_0)} (with: {_loss(pre_w)})")
    if hurt_post > 0.1 and hurt_post > hurt_pre + 0.1:
        return (f"As the notes say, post-LN needs warmup more than pre-LN: {numbers}; leaving warmup "
                f"out costs post-LN {_gap(hurt_post)} and pre-LN {_gap(hurt_pre)}.")
    return (f"The expected effect did not appear (post-LN hurt more than pre-LN by leaving warmup out): "
            f"{numbers}.")


def _warm(runs):
    return max(r["config"]["warmup"] for r in runs)


def _gap(x):
    return "nothing (diverged both ways)" if not math.isfinite(x) else f"{x:+.2f} in loss"


def conclude_depth(runs):
    deepest = max(r["config"]["n_layers"] for r in runs)
    shallow = min(r["config"]["n_layers"] for r in runs)
    post, pre = _by(runs, norm_first=False, n_layers=deepest), _by(runs, norm_first=True, n_layers=deepest)
    g = {(r["config"]["norm_first"], r["config"]["n_layers"]): r["first_layer_grad_norm"][0] for r in runs}
    shrink_post = g[(False, deepest)] / g[(False, shallow)]
    shrink_pre = g[(True, deepest)] / g[(True, shallow)]
    numbers = (f"at {deepest} layers post-LN ends at {_loss(post)} and pre-LN at {_loss(pre)}; going from "
               f"{shallow} to {deepest} layers multiplies the first layer's initial gradient norm by "
               f"{shrink_post:.2g} in post-LN and {shrink_pre:.2g} in pre-LN")
    if pre["final_loss"] < post["final_loss"] - 0.05 or shrink_post < 0.7 * shrink_pre:
        return f"Depth favours pre-LN, as the notes expect: {numbers}."
    return f"The expected effect did not appear (deep post-LN no worse than pre-LN): {numbers}."


def conclude_residual(runs):
    with_, without = (next(r for r in runs if r["name"] == n) for n in ("with skips", "without skips"))
    g_with, g_without = with_["first_layer_grad_norm"][0], without["first_layer_grad_norm"][0]
    numbers = (f"at {with_['config']['n_layers']} layers the model with skips ends at {_loss(with_)}, "
               f"without at {_loss(without)}; the first layer's initial gradient norm is {g_with:.3g} "
               f"with and {g_without:.3g} without")
    if without["final_loss"] > with_["final_loss"] + 0.1:
        return f"Skip connections let the deep stack train, as the notes say: {numbers}."
    return f"The expected effect did not appear (no skips trained as well): {numbers}."


TRAINS = 0.6                      # a run "trains" if it ends below this share of ln(vocabulary)


def largest_rate(runs, kind):
    """The largest learning rate at which the runs of `kind` ("LayerNorm", ...) still train:
    final loss below TRAINS · (its first loss), never diverging (None: none trains)."""
    ok = [r["config"]["peak_lr"] for r in runs if r["name"].startswith(kind + ",")
          and math.isfinite(r["final_loss"]) and r["loss"] and r["final_loss"] < TRAINS * r["loss"][0]]
    return max(ok) if ok else None


def conclude_layernorm(runs):
    kinds = list(dict.fromkeys(r["name"].split(",")[0] for r in runs))
    best = {k: largest_rate(runs, k) for k in kinds}
    numbers = "; ".join(f"{k}: {'no rate trains' if v is None else f'up to lr {v:g}'}"
                        for k, v in best.items())
    ln, none = best.get("LayerNorm"), best.get("no norm")
    if ln is not None and (none is None or ln > none):
        return (f"LayerNorm trains at larger learning rates than no normalisation, as the notes say "
                f"({numbers}).")
    return f"The expected effect did not appear (LayerNorm's largest rate is no larger): {numbers}."


def conclude_activation(runs):
    r = {x["config"]["activation"]: x for x in runs}
    dead = {k: max(v["dead"]) if v["dead"] else 0.0 for k, v in r.items()}
    off = {k: v["mostly_off"][-1] if v["mostly_off"] else 0.0 for k, v in r.items()}
    numbers = "; ".join(f"{k}: loss {_loss(v)}, dead units up to {100 * dead[k]:.1f}%, "
                        f"mostly off at the end {100 * off[k]:.1f}%" for k, v in r.items())
    if dead["relu"] > 0 and dead["relu"] > max(dead["gelu"], dead["swiglu"]):
        return (f"More ReLU units died than GELU's or SwiGLU's, as the notes say (a GELU unit counted dead "
                f"still passes a small gradient; a ReLU unit passes none): {numbers}.")
    return f"The expected effect did not appear (no ReLU unit died more than GELU's or SwiGLU's): {numbers}."


GAIN = 0.01                       # a wider FFN "reaches a lower loss" if at least this much lower


def conclude_width(runs):
    rs = sorted(runs, key=lambda x: x["config"]["d_ff"])
    losses = [x["final_loss"] for x in rs]
    numbers = "; ".join(f"d_ff {x['config']['d_ff']} ({x['params']:,} parameters): {_loss(x)}" for x in rs)
    gains = [a - b for a, b in zip(losses, losses[1:])]
    if all(g >= GAIN for g in gains):
        shrinking = all(a > b for a, b in zip(gains, gains[1:]))
        tail = " and each doubling gains less than the one before" if shrinking else ""
        return f"A wider FFN reaches a lower loss at every step of the sweep{tail} ({numbers})."
    return (f"The expected effect did not appear (a wider FFN is not {GAIN} lower in loss at every step of "
            f"the sweep): {numbers}.")


MARGIN = 0.1                      # a head "links it to its referent" if it beats the other noun by this


def conclude_coreference(runs):
    parts, links = [], {}
    for r in runs:
        gap = np.array(r["it_referent"]) - np.array(r["it_other"])
        k = next((i for i, g in enumerate(gap) if g >= MARGIN), None)
        links[r["name"]] = k is not None
        parts.append(f"{r['name']}: the best encoder head ends with {r['it_referent'][-1]:.2f} on the "
                     f"referent "
                     f"and {r['it_other'][-1]:.2f} on the other noun"
                     + (f", first ahead by {MARGIN} at step {r['recorded_steps'][k]}" if k is not None else
                        f", never ahead by {MARGIN}"))
    numbers = "; ".join(parts)
    demo, variant = links.get("demo corpus"), links.get("gendered pronoun")
    if variant and not demo:
        return (f"The picture appears only when the output needs the referent at \"it\": {numbers}.")
    if variant and demo:
        return f"A head links \"it\" to its referent in both corpora: {numbers}."
    return (f"The expected effect did not appear (no head links \"it\" to its referent in the variant): "
            f"{numbers}.")


CONCLUSIONS = {"warmup": conclude_warmup, "depth": conclude_depth, "residual": conclude_residual,
               "layernorm": conclude_layernorm, "activation": conclude_activation, "width": conclude_width,
               "coreference": conclude_coreference}


# ------------------------------------------------------------------ the table, the picture, the page

def table(name, runs):
    """The printed table: one row per run."""
    rows = [("run", "final loss", "params", "1st-layer ‖grad‖ at step 1", "dead units (end)", "diverged at")]
    for r in runs:
        rows.append((r["name"], _loss(r), f"{r['params']:,}",
                     f"{r['first_layer_grad_norm'][0]:.3g}" if r["first_layer_grad_norm"] else "-",
                     f"{100 * r['dead'][-1]:.1f}%" if r["dead"] else "-",
                     str(r["diverged"]) if r["diverged"] else "-"))
    from ..seeing.trace import text_table
    return text_table(rows)


def picture(name, runs, path):
    """NAME.png: the loss of every run (log step axis), and the experiment's own panel."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax, side) = plt.subplots(1, 2, figsize=(13, 4.6))
    for k, r in enumerate(runs):
        if r["loss"]:
            ax.plot(r["steps"], r["loss"], lw=1, color=f"C{k % 10}", label=r["name"])
    ax.set(xlabel="step", ylabel="training loss (label smoothing 0.1)", title=f"{name}: loss per step")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    if name == "layernorm":
        kinds = list(dict.fromkeys(r["name"].split(",")[0] for r in runs))
        for k, kind in enumerate(kinds):
            rs = [r for r in runs if r["name"].startswith(kind + ",")]
            side.plot([r["config"]["peak_lr"] for r in rs],
                      [r["final_loss"] if math.isfinite(r["final_loss"]) else np.nan for r in rs],
                      "o-", color=f"C{k}", label=kind)
        side.set(xscale="log", xlabel="learning rate", ylabel="final loss (diverged: missing)",
                 title="final loss against learning rate")
    elif name == "width":
        side.plot([r["params"] for r in runs], [r["final_loss"] for r in runs], "o-")
        for r in runs:
            side.annotate(f"d_ff {r['config']['d_ff']}", (r["params"], r["final_loss"]), fontsize=8,
                          xytext=(4, 4), textcoords="offset points")
        side.set(xlabel="parameters", ylabel="final loss", title="final loss against parameter count")
    elif name == "activation":
        for k, r in enumerate(runs):
            side.plot(r["recorded_steps"], 100 * np.array(r["dead"]), "-", color=f"C{k}",
                      label=f"{r['name']} dead")
            side.plot(r["recorded_steps"], 100 * np.array(r["mostly_off"]), "--", color=f"C{k}",
                      label=f"{r['name']} off on ≥ 90% of tokens")
        side.set(xlabel="step", ylabel="% of FFN units", title="dead and mostly-off units (probe batch)")
    elif name == "coreference":
        for k, r in enumerate(runs):
            side.plot(r["recorded_steps"], r["it_referent"], "-", color=f"C{k}",
                      label=f"{r['name']}: referent")
            side.plot(r["recorded_steps"], r["it_other"], "--", color=f"C{k}",
                      label=f"{r['name']}: other noun")
        side.set(xlabel="step", ylabel="weight from \"it\"", ylim=(0, 1),
                 title="best encoder head: \"it\" → referent vs other noun")
    else:
        for k, r in enumerate(runs):
            side.plot(r["recorded_steps"], r["first_layer_grad_norm"], color=f"C{k % 10}", label=r["name"])
        side.set(yscale="log", xlabel="step", ylabel="‖grad‖ of encoder layer 0",
                 title="the first layer's gradient norm")
    if side.get_legend_handles_labels()[0]:
        side.legend(fontsize=7)
    side.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


OUT_DIR = os.path.join("out", "experiments")


def run(name, seed=0, quick=False, out_dir=OUT_DIR, json_path=None):
    """Run experiment `name`: write DIR/NAME.png and DIR/NAME.html, print the table and the
    conclusion, write the JSON if asked. Returns the JSON-able result."""
    if name not in EXPERIMENTS:
        raise ValueError(f"experiment: unknown experiment {name!r}; choose one of {', '.join(EXPERIMENTS)}")
    os.makedirs(out_dir, exist_ok=True)
    started, cpu = time.perf_counter(), time.process_time()
    pairs = EXPERIMENTS[name](seed, quick)
    runs = [r for r, _ in pairs]
    from ..seeing.watch import training_page
    training_page({r["name"]: rec for r, rec in pairs}, os.path.join(out_dir, f"{name}.html"),
                  title=f"experiment {name}{' (quick)' if quick else ''}: {len(runs)} runs")
    picture(name, runs, os.path.join(out_dir, f"{name}.png"))
    sentence = conclude(name, runs)
    result = {"experiment": name, "quick": quick, "seed": seed, "runs": runs, "conclusion": sentence,
              "seconds": round(time.perf_counter() - started, 1),
              "cpu_seconds": round(time.process_time() - cpu, 1)}
    print(f"experiment {name}{' --quick' if quick else ''}, seed {seed}: {len(runs)} runs, "
          f"{result['cpu_seconds']:.1f} s of CPU")
    print(table(name, runs))
    print(sentence)
    print(f"wrote {os.path.join(out_dir, name + '.png')} and {os.path.join(out_dir, name + '.html')}")
    if json_path:
        with open(json_path, "w", encoding="utf-8") as f:
            json.dump(_finite(result), f, ensure_ascii=False)
    return result


def _finite(x):
    """The result for JSON: NaN and inf (a diverged run's final loss) become null."""
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def main(args):
    """`python -m tinygrad_tf experiment NAME ...` (parsed arguments)."""
    from .app import use_one_blas_thread
    use_one_blas_thread()
    try:
        run(args.name, seed=args.seed, quick=args.quick, out_dir=args.out, json_path=args.json)
    except (ValueError, OSError) as e:
        import sys
        print(f"experiment: {e}", file=sys.stderr)
        return 2
    return 0
