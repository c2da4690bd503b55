"""The demo: the chain rule on one number and on arrays, then its main act, a small
Transformer that learns to translate English into Japanese, the notes' examples
among them, and shows what its attention learned.

    python -m tinygrad_tf demo [--steps N] [--seed S] [--out DIR] [--resume] [--norm-first]

Every gradient below flows through this package's own engine, attention and
optimizer. The corpus is `tinygrad_tf.demo.corpus`, the training `tinygrad_tf.demo.translation`.
The demo writes to `--out` (default out/demo/): the checkpoint `translator.npz`,
`loss.png`, `cross_attention.png`, `it_attention.png`, `decoder_block.svg`,
`training.html` (its training, recorded by `tg.watch`, to scrub through) and
`report.md`. Its last line is, for scripts,

    held-out exact match: NN.N% (k/n); "it" resolved: NN.N% (k/n)
"""
import argparse
import glob
import os
import sys
import time
import warnings

import numpy as np

import tinygrad_tf as tg
from tinygrad_tf.demo import corpus as C
from tinygrad_tf.demo import translation as T
from tinygrad_tf.nn import functional as F

OUT_DIR = os.path.join("out", "demo")   # out/ is git-ignored
QUICK_OUT_DIR = os.path.join("out", "demo-quick")   # --quick's: never the model `translate` reads
STEPS = 600
QUICK_STEPS = 40
CHECKPOINT_EVERY = 200
EVAL_EVERY = 25                         # held-out loss for loss.png (256 sentences, no decoding)
CAT = "The cat sat on the mat."
IT_PAIR = ("The animal didn't cross the street because it was too tired.",
           "The animal didn't cross the street because it was too wide.")
SHADES = " ·░▒▓█"                      # attention weight 0 … 1 as one character


def chain_rule():
    """1.-2.: backward on a scalar expression, checked by hand, and on arrays, checked
    against finite differences."""
    print("1. Scalars: L = tanh(a*b + c), backward by the chain rule")
    a, b, c = tg.Value(2.0, "a"), tg.Value(-0.5, "b"), tg.Value(0.3, "c")
    L = (a * b + c).tanh()
    L.backward()
    print(f"   L = {L.data:.6f}; dL/da = {a.grad:.6f}, dL/db = {b.grad:.6f}, dL/dc = {c.grad:.6f}")
    print(f"   by hand: dL/da = (1 - L²)·b = {(1 - L.data ** 2) * b.data:.6f}")

    print("2. Tensors: loss = mean(softmax(x @ W) * y), gradients of x and W")
    x = tg.randn(4, 3, seed=0, dtype=np.float64, requires_grad=True)
    W = tg.randn(3, 5, seed=1, dtype=np.float64, requires_grad=True)
    y = tg.randn(4, 5, seed=2, dtype=np.float64)
    loss = ((x @ W).softmax(axis=-1) * y).mean()
    loss.backward()
    num = tg.numerical_grad(lambda: ((x @ W).softmax(axis=-1) * y).mean(), W)
    print(f"   loss = {loss.item():.6f}; W.grad shape {W.grad.shape}")
    print(f"   max |W.grad - finite differences| = {np.abs(W.grad - num).max():.2e}")


# ------------------------------------------------------------------ text heatmaps

def heatmap(weights, row_labels, col_labels):
    """A (rows, cols) matrix of weights in [0, 1] as lines of shade characters, two per
    cell, under numbered columns (the numbers' words are listed on the last line)."""
    width = max(_display_width(str(r)) for r in row_labels)
    lines = [" " * (width + 4) + " ".join(f"{j:>2}" for j in range(len(col_labels)))]
    for label, row in zip(row_labels, weights):
        cells = (SHADES[min(int(w * len(SHADES)), len(SHADES) - 1)] * 2 for w in row)
        lines.append("   " + " " * (width - _display_width(str(label))) + f"{label} " + " ".join(cells))
    lines.append("   columns: " + "  ".join(f"{j}={c}" for j, c in enumerate(col_labels)))
    return "\n".join(lines)


def _display_width(text):
    """Terminal columns of a string: CJK characters take two."""
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


# ------------------------------------------------------------------ the pictures

def cjk_font():
    """The name of a font that has Japanese glyphs, made known to matplotlib, or None.
    Looks in matplotlib's font list, then for the files of Debian's fonts-noto-cjk or
    fonts-ipaexfont (a font installed after matplotlib cached its list is added)."""
    from matplotlib import font_manager
    wanted = ("Noto Sans CJK JP", "IPAexGothic", "IPAGothic", "Noto Sans JP", "TakaoGothic",
              "Source Han Sans JP", "Hiragino Sans", "Yu Gothic", "MS Gothic")
    names = {f.name for f in font_manager.fontManager.ttflist}
    for name in wanted:
        if name in names:
            return name
    for pattern in ("/usr/share/fonts/**/NotoSansCJK*.tt[cf]", "/usr/share/fonts/**/ipaexg*.ttf",
                    "/usr/share/fonts/**/*CJK*.tt[cf]"):
        for path in sorted(glob.glob(pattern, recursive=True)):
            try:
                font_manager.fontManager.addfont(path)
                return font_manager.FontProperties(fname=path).get_name()
            except (OSError, RuntimeError, ValueError):
                continue
    return None


def japanese_labels(tokens, font):
    """Row labels: the tokens themselves with a CJK font, else their romaji."""
    return list(tokens) if font else [C.romaji(t) for t in tokens]


def plot_loss(run, path):
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4))
    steps = np.arange(1, len(run.losses) + 1)
    ax.plot(steps, run.losses, lw=0.6, alpha=0.45, color="C0", label="training batch")
    k = min(25, len(run.losses))
    smooth = np.convolve(run.losses, np.ones(k) / k, mode="valid")
    ax.plot(steps[k // 2:k // 2 + len(smooth)], smooth, color="C0",
            label=f"training (mean of {k} steps around each)")
    ax.plot(run.eval_steps, run.eval_losses, "o-", color="C3", ms=3, label="held-out sentences")
    eps, n = run.config["label_smoothing"], len(run.corpus.tgt_vocab)
    top, rest = 1 - eps + eps / n, eps / n               # the smoothed target of one position
    floor = -(top * np.log(top) + (n - 1) * rest * np.log(rest))
    ax.axhline(floor, ls="--", color="gray", lw=1,
               label=f"lowest possible with label smoothing {eps}: {floor:.3f}")
    # a log step axis: the loss falls in the first ~100 steps and then creeps along its floor,
    # so a linear axis would spend most of the picture on a flat line
    ax.set_xscale("log")
    ax.set(xlabel="step (log scale)", ylabel=f"cross-entropy (label smoothing {eps})",
           title="English → Japanese: loss per step", ylim=(0, None), xlim=(1, len(run.losses)))
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=8)   # below: off every curve
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_cross_attention(tr, font, path, best):
    """Every decoder layer's cross-attention (rows) × head (columns) for one sentence."""
    from .pictures import attention_grid
    attention_grid(tr["layers"], japanese_labels(tr["tokens"] + ["<eos>"], font), tr["source"], path,
                   title=f"Decoder cross-attention: row = the word being produced, column = the English "
                         f"word\n\"{tr['sentence']}\" → {' '.join(japanese_labels(tr['tokens'], font))}",
                   scale_label="attention weight (each row sums to 1)", threshold=0.3, font=font, best=best)


def plot_it_attention(its, path):
    """Encoder self-attention from "it", per layer (rows) and head (y axis), for the
    tired and the wide sentence side by side."""
    import matplotlib.pyplot as plt
    n_layers = len(its[0]["layers"])
    fig, axes = plt.subplots(n_layers, 2, figsize=(13, 2.2 * n_layers + 0.8), squeeze=False,
                             layout="constrained")
    for c, it in enumerate(its):
        for l, weights in enumerate(it["layers"]):               # (heads, src_len)
            ax = axes[l, c]
            image = ax.imshow(weights, vmin=0, vmax=1, cmap="Oranges", aspect="auto")
            for (h, j), w in np.ndenumerate(weights):
                if w >= 0.2:
                    ax.text(j, h, f"{w:.2f}", ha="center", va="center", fontsize=6)
            ref = it["source"].index(it["referent"])          # the referent's column, framed
            ax.add_patch(plt.Rectangle((ref - 0.5, -0.5), 1, weights.shape[0], fill=False,
                                       edgecolor="C2", lw=2))
            ax.set_xticks(range(len(it["source"])), it["source"], rotation=50, fontsize=8)
            ax.set_yticks(range(weights.shape[0]), [f"head {h}" for h in range(weights.shape[0])],
                          fontsize=8)
            ax.set_title(f"layer {l}: from \"it\" — too {it['adjective']} (it = the {it['referent']})",
                         fontsize=9)
    fig.colorbar(image, ax=axes, shrink=0.8, label="attention weight from \"it\"")
    fig.suptitle("Encoder self-attention from \"it\" (one row per head; the referent's column is "
                 "framed in green)", fontsize=10)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def draw_decoder_block(run, path):
    """The backward graph of decoder block 0 for the cat sentence, at sublayer depth,
    each edge labelled with the gradient of the training loss that flowed along it."""
    from tinygrad_tf import viz
    model, corpus = run.model, run.corpus
    pair = next(p for p in corpus.train if p.english == " ".join(C.tokenize(CAT)))
    src, tgt = corpus.batch([pair])
    src_mask = F.padding_mask(src, corpus.src_vocab.pad)
    with tg.no_grad():
        memory = model.encode(src).data
    memory = tg.Tensor(memory, requires_grad=True, name="encoder output")
    x = tg.Tensor(model.tgt_embed(tgt[:, :-1]).data, requires_grad=True, name="embedded target")
    block = model.decoder.layers[0](x, memory, memory_mask=src_mask)      # the part drawn
    h = block
    for layer in list(model.decoder.layers)[1:]:
        h = layer(h, memory, memory_mask=src_mask)
    if model.decoder.norm is not None:
        h = model.decoder.norm(h)
    with tg.trace() as trace:
        F.cross_entropy(model.generator(h), tgt[:, 1:]).backward()
    model.zero_grad()
    graph = viz.draw_graph(block, trace=trace, depth=2)
    try:
        viz.save(graph, path)
    except viz.GraphvizNotFound as e:
        dot = path[:-4] + ".dot"
        viz.save(graph, dot)
        print(f"   ({e}; wrote {dot} instead)")
        return dot
    return path


# ------------------------------------------------------------------ analysis

def cross_attention_of(run, sentence):
    """The model's translation of `sentence` and every decoder layer's cross-attention
    (heads, len(tokens) + 1, src_len) with its own output as the decoder's input."""
    tr = T.translate(run.model, run.corpus, sentence)
    layers = [np.array(layer.cross_attn.attn[0]) for layer in run.model.decoder.layers]
    return dict(sentence=sentence, source=tr.source, tokens=tr.tokens, layers=layers)


def cat_weights(tr):
    """In the last decoder layer, per head: the weight on "cat" of the row producing 猫
    and of the row producing が (None when the output has no 猫 が)."""
    last, j = tr["layers"][-1], tr["source"].index("cat")
    if tr["tokens"][:2] != ["猫", "が"]:
        return None
    return last[:, 0, j], last[:, 1, j]


def it_attention_of(run, sentence):
    """Encoder self-attention from "it", per layer: (heads, src_len)."""
    tokens = C.tokenize(sentence)
    src = np.array([run.corpus.src_vocab.encode(tokens)])
    with tg.no_grad():
        run.model.encode(src)
    i = tokens.index("it")
    pair = C.it_sentence(tokens[1], tokens[5], tokens[-2])
    return dict(source=tokens, adjective=tokens[-2], referent=pair.referent,
                other=pair.place if pair.referent == pair.subject else pair.subject,
                layers=[np.array(layer.self_attn.attn[0, :, i]) for layer in run.model.encoder.layers])


def adjective_head(it):
    """(layer, head, weight) where "it" attends most to the sentence's adjective."""
    j = it["source"].index(it["adjective"])
    return max(((l, h, float(w[h, j])) for l, w in enumerate(it["layers"]) for h in range(len(w))),
               key=lambda t: t[2])


def it_heads(its):
    """For each (layer, head): the mean weight "it" puts on its referent over the pair of
    sentences, and on the other noun. Returns (best (layer, head), table)."""
    table = {}
    for l in range(len(its[0]["layers"])):
        for h in range(its[0]["layers"][l].shape[0]):
            ref = np.mean([it["layers"][l][h, it["source"].index(it["referent"])] for it in its])
            other = np.mean([it["layers"][l][h, it["source"].index(it["other"])] for it in its])
            table[(l, h)] = (float(ref), float(other))
    best = max(table, key=lambda k: table[k][0] - table[k][1])
    return best, table


# ------------------------------------------------------------------ watching it learn

WATCH_EVERY = 10                        # training.html: a recorded step every 10
RELATIONS = ('"it" → its referent', '"cross" → "animal" (verb → subject)',
             '"tired" → "animal" (adjective → noun)')


def probe_pairs(corpus):
    """The fixed batch the recorder looks at: the cat sentence, the notes' two "it"
    sentences, six more "it" sentences (other animals, places and adjectives) and seven
    simple sentences: 16 pairs, all from training."""
    by_text = {p.english: p for p in corpus.train}
    named = [by_text[" ".join(C.tokenize(s))] for s in (CAT, *IT_PAIR)]
    its = [p for p in corpus.train if p.is_it and p not in named]
    simple = [p for p in corpus.train if not p.is_it and p not in named]
    return named + its[::max(len(its) // 6, 1)][:6] + simple[::max(len(simple) // 7, 1)][:7]


def watch_training(run, every=WATCH_EVERY):
    """A `tg.watch` recorder for the demo's training: the probe is `probe_pairs`; it tracks
    the 猫 → "cat" cell of the last decoder layer's cross-attention (the row producing 猫),
    the cross-attention map of the cat sentence, the "it" row of each encoder layer in the
    tired and the wide sentence, and the head × relation table of the notes' three
    relations over the probe's "it" sentences."""
    corpus, model = run.corpus, run.model
    pairs = probe_pairs(corpus)
    smoothing = run.config["label_smoothing"]
    src = [p.english.split() for p in pairs]
    last = f"decoder.layers.{len(model.decoder.layers) - 1}.cross_attn"
    produced = pairs[0].japanese.split() + ["<eos>"]
    maps = {f'cross-attention of "{CAT}" (row: the word being produced)': (last, 0, produced, src[0])}
    for b in (1, 2):
        adjective = src[b][-2]
        for l in range(len(model.encoder.layers)):
            maps[f'encoder layer {l}: from "it" (too {adjective})'] = (
                f"encoder.layers.{l}.self_attn", b, [(src[b].index("it"), "it")], src[b])
    relations = {name: ("encoder", []) for name in RELATIONS}
    for b, p in enumerate(pairs):
        if p.is_it:
            s = src[b]
            noun = p.subject if src[b][-2] in C.TOO_ANIMAL else p.place
            relations[RELATIONS[0]][1].append((b, s.index("it"), s.index(p.referent)))
            relations[RELATIONS[1]][1].append((b, s.index("cross"), s.index(p.subject)))
            relations[RELATIONS[2]][1].append((b, len(s) - 2, s.index(noun)))
    return tg.watch(model, every=every, probe=lambda m: T.loss_on(m, corpus, pairs, smoothing),
                    cells={'猫 → "cat"': (last, 0, 0, src[0].index("cat"))}, maps=maps,
                    relations=relations, name="demo")


def write_training_page(run, path):
    """training.html from the run's recorder (None if it recorded nothing, as when a
    resumed run had no steps left)."""
    if run.recorder is None or not run.recorder.steps:
        return None
    return run.recorder.page(path, title="The demo's Transformer learning English → Japanese")


def add_training_section(rec, path):
    """Append to the report what the recorder saw: when the 猫 → "cat" cell formed and
    what the best encoder head puts on each of the notes' relations at the end."""
    cat = [max(w) for w in rec.data["cells"]['猫 → "cat"']["values"]]
    formed = next((s for s, w in zip(rec.steps, cat) if w > 0.5), None)
    when = (f"first passes 0.5 at step {formed} (it was {cat[0]:.2f} at step 1 and is "
            f"{cat[-1]:.2f} at step {rec.steps[-1]})" if formed else
            f"never passes 0.5 (it ends at {cat[-1]:.2f})")
    table = rec.relation_table()
    best = {r: max((table[(m, r)] for m in rec.data["relations"]["modules"]), key=lambda t: t[1])
            for r in RELATIONS}
    relations = "; ".join(f"{r}: {w:.2f}" for r, (_, w) in best.items())
    with open(path, "a", encoding="utf-8") as f:
        f.write(f"""
## Watching it learn

[training.html](training.html) replays the training, recorded every {rec.every} steps by
`tg.watch`: drag its slider to see the gradient norms, update ratios, skip shares, dead units
and attention of every layer at any step. The weight the best head of the last decoder layer
puts on "cat" while producing 猫 {when}. At the end, the best encoder head's weight on each of
the notes' relations over the probe's "it" sentences: {relations}.
""")


# ------------------------------------------------------------------ the run

def run(steps=STEPS, seed=0, out_dir=OUT_DIR, resume=False, norm_first=False):
    """Train (or resume), evaluate, draw and report; returns a summary dict."""
    os.makedirs(out_dir, exist_ok=True)
    checkpoint = os.path.join(out_dir, "translator.npz")
    cfg = {**T.CONFIG, **T.TRAINING, "norm_first": norm_first}
    print(f"3. English → Japanese: an nn.Transformer ({cfg['n_layers']}+{cfg['n_layers']} layers, "
          f"d_model {cfg['d_model']}, {cfg['n_heads']} heads, d_ff {cfg['d_ff']}, "
          f"{'pre' if norm_first else 'post'}-LN, float32) on the grammar corpus of tinygrad_tf.demo.corpus")
    if resume:
        print(f"   resuming from {checkpoint}" if os.path.exists(checkpoint) else
              f"   --resume: no checkpoint at {checkpoint} yet; starting from step 0")
    started = time.perf_counter()
    try:
        result = T.train(steps=steps, seed=seed, checkpoint=checkpoint, resume=resume,
                         checkpoint_every=CHECKPOINT_EVERY, eval_every=EVAL_EVERY,
                         norm_first=norm_first, watch=watch_training)
    except T.Interrupted as e:
        where = (f"the last checkpoint, step {e.checkpoint_step}, is intact: {checkpoint}; "
                 "continue with --resume") if e.checkpoint_step else "no checkpoint was written yet"
        print(f"\ninterrupted at step {e.run.step}: {where}", file=sys.stderr)
        raise KeyboardInterrupt from None
    wall = time.perf_counter() - started
    data = result.corpus
    n_params = sum(p.size for p in result.model.parameters())
    print(f"   {len(data.train)} training pairs, {len(data.test)} held out "
          f"({sum(p.is_it for p in data.test)} of them \"it\" sentences); {n_params:,} parameters")
    if result.seconds:
        print(f"   {result.step} steps: {result.seconds:.1f} s in training steps "
              f"({result.cpu_seconds:.1f} s of CPU), {result.tokens / result.seconds:,.0f} tokens/s "
              f"({result.tokens / result.cpu_seconds:,.0f} per CPU second); loss "
              f"{result.losses[0]:.3f} → {np.mean(result.losses[-20:]):.3f}; checkpoint {checkpoint}")

    outputs, exact, resolved = T.evaluate(result.model, data, data.test)
    its = [r for r in resolved if r is not None]
    print("4. Translations (held-out sentences never seen in training, and the notes' examples):")
    shown = [CAT, *IT_PAIR]
    for sentence in shown:
        print(f"   {sentence:<64} → {T.translate(result.model, data, sentence).text}")
    wrong = [i for i, ok in enumerate(exact) if not ok]
    picks = [0, len(data.test) // 2] + [i for i, p in enumerate(data.test) if p.is_it][:2] + wrong[:3]
    for i in dict.fromkeys(picks):
        mark = "✓" if exact[i] else f"✗ wanted {data.test[i].japanese}"
        print(f"   {data.test[i].english:<64} → {outputs[i]}  {mark}")

    font = cjk_font()
    if font is None:
        warnings.warn("no font with Japanese glyphs found (install fonts-noto-cjk); the pictures "
                      "label Japanese words in romaji", stacklevel=1)
    cat = cross_attention_of(result, CAT)
    weights = cat_weights(cat)
    best = int(np.argmax(weights[0])) if weights else None
    print(f"5. Cross-attention of the last decoder layer for \"{CAT}\" ({SHADES!r} = weight 0 → 1):")
    head = best if best is not None else 0
    print(f"   head {head}; row = the word being produced")
    print(heatmap(cat["layers"][-1][head], cat["tokens"] + ["<eos>"], cat["source"]))
    if weights:
        print(f"   producing 猫, head {best} puts {weights[0][best]:.2f} of its attention on \"cat\" "
              f"(while producing が: {weights[1][best]:.2f}); every head: "
              + ", ".join(f"{w:.2f}" for w in weights[0]))
    it_pair = [it_attention_of(result, s) for s in IT_PAIR]
    (it_l, it_h), it_table = it_heads(it_pair)
    ref, other = it_table[(it_l, it_h)]
    links = ref > other
    print(f"6. Encoder self-attention from \"it\": layer {it_l} head {it_h} links it to its referent "
          f"most (mean weight {ref:.2f} on the referent vs {other:.2f} on the other noun)"
          + ("" if links else "; no head prefers the referent over the other noun"))
    adjectives = [adjective_head(it) for it in it_pair]
    print("   what \"it\" looks at most: " + "; ".join(
        f"\"{it['adjective']}\" gets {w:.2f} in layer {l} head {h}"
        for it, (l, h, w) in zip(it_pair, adjectives)))

    paths = {name: os.path.join(out_dir, name) for name in
             ("loss.png", "cross_attention.png", "it_attention.png", "report.md")}
    plot_loss(result, paths["loss.png"])
    plot_cross_attention(cat, font, paths["cross_attention.png"], best)
    plot_it_attention(it_pair, paths["it_attention.png"])
    paths["decoder_block.svg"] = draw_decoder_block(result, os.path.join(out_dir, "decoder_block.svg"))
    why_text = why_section(result, out_dir, font, paths)
    if write_training_page(result, os.path.join(out_dir, "training.html")):
        paths["training.html"] = os.path.join(out_dir, "training.html")
    summary = dict(steps=result.step, seconds=result.seconds, cpu_seconds=result.cpu_seconds,
                   tokens=result.tokens, wall=wall,
                   losses=result.losses, exact=(sum(exact), len(exact)), resolved=(sum(its), len(its)),
                   cat_head=best, cat_weight=None if weights is None else float(weights[0][best]),
                   cat_weights=weights, it_head=(it_l, it_h), it_weights=(ref, other), font=font,
                   it_adjectives=[(it["adjective"], *a) for it, a in zip(it_pair, adjectives)],
                   ga_top=None if best is None else
                   (cat["source"][int(np.argmax(cat["layers"][-1][best, 1]))],
                    float(cat["layers"][-1][best, 1].max())),
                   config=result.config, n_params=n_params, paths=paths, checkpoint=checkpoint,
                   why=why_text)
    write_report(summary, cat, paths["report.md"])
    if "training.html" in paths:
        add_training_section(result.recorder, paths["report.md"])
    print(f"8. Wrote {', '.join(sorted(os.path.basename(p) for p in paths.values()))} "
          f"and translator.npz to {out_dir}")
    print(final_line(summary))
    return summary


def why_section(run, out_dir, font, paths):
    """The report's sections "Why 動物? Why 通り?" and the cat sentence's self-attention
    (tinygrad_tf.demo.why), their pictures added to `paths`; returns their markdown."""
    from . import why
    started = time.process_time()
    text = why.section(run, out_dir, font)
    for name in ("why_tired.png", "why_wide.png", "cat_self_attention.png"):
        paths[name] = os.path.join(out_dir, name)
    print(f"   (attribution and the report's sections: {time.process_time() - started:.1f} s of CPU)")
    return text


def percent(k, n):
    return f"{100 * k / n:.1f}% ({k}/{n})" if n else "n/a (0/0)"


def final_line(summary):
    return (f"held-out exact match: {percent(*summary['exact'])}; "
            f"\"it\" resolved: {percent(*summary['resolved'])}")


def write_report(s, cat, path):
    cfg = s["config"]
    rate = (f"{s['tokens'] / s['seconds']:,.0f} tokens/s; {s['cpu_seconds']:.1f} s of CPU time, "
            f"{s['tokens'] / s['cpu_seconds']:,.0f} tokens per CPU second" if s["seconds"] else "n/a")
    cat_text = ("the translation does not start with 猫 が, so there is no 猫 row to read"
                if s["cat_weights"] is None else
                f"In the last decoder layer, head {s['cat_head']} puts **{s['cat_weight']:.2f}** of the "
                f"attention of the row producing 猫 on \"cat\" (the notes' example says 0.85 for the row "
                f"「猫が」; here 猫 and が are two tokens, and while producing が the same head puts "
                f"{s['cat_weights'][1][s['cat_head']]:.2f} on \"cat\" and {s['ga_top'][1]:.2f} on "
                f"\"{s['ga_top'][0]}\"); the {len(s['cat_weights'][0])} heads of the last layer put "
                + ", ".join(f"{w:.2f}" for w in s["cat_weights"][0]) + " on \"cat\" for 猫.")
    (l, h), (ref, other) = s["it_head"], s["it_weights"]
    it_text = (f"Layer {l} head {h} is the head where \"it\" attends most to its referent relative to the "
               f"other noun: on average over the two sentences {ref:.2f} of its weight goes to the "
               f"referent (the animal when tired, the street when wide) and {other:.2f} to the other noun.")
    if ref <= other + 0.1:
        it_text += (" That is hardly a preference: no encoder head of this model links \"it\" to its "
                    "referent the way the notes' example does. What \"it\" does attend to is the "
                    "word that decides the referent, the adjective: "
                    + "; ".join(f"\"{a}\" gets {w:.2f} in layer {l} head {h}"
                                for a, l, h, w in s["it_adjectives"])
                    + ". In this grammar the adjective alone decides whether the Japanese starts with "
                    "the animal or the place, so attending to it is enough to resolve \"it\"; the "
                    "nouns themselves reach the Japanese through cross-attention, as in the cat "
                    "sentence.")
    text = f"""# English → Japanese: what the demo's Transformer learned

An `nn.Transformer` ({cfg['n_layers']} encoder + {cfg['n_layers']} decoder layers, d_model {cfg['d_model']},
{cfg['n_heads']} heads, d_ff {cfg['d_ff']}, {'pre' if cfg['norm_first'] else 'post'}-LN, float32,
{s['n_params']:,} parameters), trained from seed {cfg['seed']} for {s['steps']} steps of
{cfg['batch']} sentence pairs with Adam, the 2017 warmup schedule (warmup {cfg['warmup']}) and label
smoothing {cfg['label_smoothing']}: {s['seconds']:.1f} s in training steps, {rate}.

**{final_line(s)}** — held out: every sentence whose (subject, place) pair never occurs in
training ({s['exact'][1]} sentences, {s['resolved'][1]} of them "it" sentences; "resolved" = the
Japanese names the right referent first).

## Loss

![loss](loss.png)

The training loss of every batch (light), its running mean, and the loss on held-out sentences
(red), both with label smoothing, so neither reaches zero: with smoothing ε the best possible
loss is the entropy of the smoothed target, not 0.

## Cross-attention: 「猫 が」 looks at "cat"

![cross-attention](cross_attention.png)

Each panel is one head of one decoder layer for "{CAT}" → 「{' '.join(cat['tokens'])}」. Row: the
Japanese word being produced; column: the English word. Japanese puts the verb last and the
place before its postposition, so the bright cells leave the diagonal: 座った looks at "sat",
マット at "mat". {cat_text}

## "it": the animal or the street?

![it attention](it_attention.png)

The encoder's self-attention from "it" in "The animal didn't cross the street because it was
too tired / wide", one row per head, the two sentences side by side. {it_text} Which words
the choice of 動物 or 通り actually depends on is measured, not read off attention, in
[Why 動物? Why 通り?](#why-動物-why-通り) below.

{s.get("why", "")}
## One decoder block's backward graph

[decoder_block.svg](decoder_block.svg): decoder block 0 for the cat sentence, drawn at sublayer
depth (self-attention, cross-attention, feed-forward, each with its LayerNorm), every edge
labelled with the norm of the training loss's gradient that flowed along it; residual skip
paths are dashed red.
"""
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def use_one_blas_thread():
    """Ask the BLAS for one thread, unless the user chose a number (OPENBLAS_NUM_THREADS
    or OMP_NUM_THREADS). The demo multiplies small matrices, for which OpenBLAS's worker
    threads cost more to wake than they save; on a 2-core machine whose cores are busy
    they spin against the other processes, and one thread trained 6-10x faster than two.
    One thread also makes the sums come out the same on every run (bit for bit).
    (tg.set_num_threads: the elementwise thread pool too, which would not change a bit.)"""
    if "OPENBLAS_NUM_THREADS" in os.environ or "OMP_NUM_THREADS" in os.environ:
        return
    tg.set_num_threads(1)


def positive_int(text):
    """An argparse type: a whole number of at least 1 (`--steps 0` is refused with the
    command's usage)."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {n}")
    return n


def add_arguments(parser):
    """The demo's options, for `python -m tinygrad_tf demo`."""
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--steps", type=positive_int, default=STEPS, metavar="N",
                        help=f"training steps in all, at least 1 (default {STEPS}); with --resume, "
                             "up to this many")
    length.add_argument("--quick", action="store_true",
                        help=f"a {QUICK_STEPS}-step smoke run (instead of --steps), written to "
                             f"{QUICK_OUT_DIR} unless --out says otherwise")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help=f"folder for the checkpoint and pictures, made if missing (default {OUT_DIR}; "
                             f"with --quick, {QUICK_OUT_DIR}, so the trained model stays)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and batches (default 0)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from DIR/translator.npz, exactly where it stopped")
    parser.add_argument("--norm-first", action="store_true", help="pre-LN blocks (default: post-LN)")


def main(args=None):
    """Run from parsed command-line arguments (any missing one takes its default)."""
    use_one_blas_thread()
    chain_rule()
    try:
        quick = getattr(args, "quick", False)
        steps = QUICK_STEPS if quick else getattr(args, "steps", STEPS)
        out_dir = getattr(args, "out", None) or (QUICK_OUT_DIR if quick else OUT_DIR)
        run(steps=steps, seed=getattr(args, "seed", 0),
            out_dir=out_dir, resume=getattr(args, "resume", False),
            norm_first=getattr(args, "norm_first", False))
    except KeyboardInterrupt:
        return 130
    except ValueError as e:                                    # e.g. --resume with other settings
        print(f"demo: {e}", file=sys.stderr)
        return 2
    return 0


def translate_main(args):
    """`python -m tinygrad_tf translate [--checkpoint PATH] [--attention] SENTENCE`."""
    use_one_blas_thread()
    sentence = " ".join(args.sentence)
    try:
        run_ = T.load(args.checkpoint)
        tr = T.translate(run_.model, run_.corpus, sentence)
    except tg.CheckpointError as e:
        hint = " (train one with `python -m tinygrad_tf demo`)" if isinstance(e, FileNotFoundError) else ""
        print(f"translate: {e}{hint}", file=sys.stderr)
        return 1
    except ValueError as e:
        print(f"translate: {e}", file=sys.stderr)
        return 2
    for warning in T.input_warnings(tr, run_.corpus):
        print(f"translate: warning: {warning}", file=sys.stderr)
    print(tr.text)
    if args.attention:
        last = tr.cross_attention
        print(f"cross-attention of the last decoder layer, per head ({SHADES!r} = weight 0 → 1; "
              "row = the word being produced):")
        for h in range(last.shape[0]):
            print(f"head {h}")
            print(heatmap(last[h], tr.tokens + ["<eos>"], tr.source))
    return 0


# ------------------------------------------------------------------ explain, and explore on a prediction

def on_checkpoint(command, path, work):
    """Load the demo's checkpoint at `path` (one BLAS thread, as the demo) and return
    (work(run), 0); a problem is one line on stderr and (None, 1) for the file, (None, 2)
    for the request (a ValueError)."""
    use_one_blas_thread()
    try:
        return work(T.load(path)), 0
    except tg.CheckpointError as e:
        hint = " (train one with `python -m tinygrad_tf demo`)" if isinstance(e, FileNotFoundError) else ""
        print(f"{command}: {e}{hint}", file=sys.stderr)
        return None, 1
    except ValueError as e:
        print(f"{command}: {e}", file=sys.stderr)
        return None, 2


def explain_main(args):
    """`python -m tinygrad_tf explain "SENTENCE" [--token T] [--versus T2] [--checkpoint PATH]
    [-o PNG] [--json PATH]` (tinygrad_tf.demo.explain)."""
    import json

    from . import explain as E
    sentence = " ".join(args.sentence)
    ex, code = on_checkpoint("explain", args.checkpoint, lambda run: E.explain(
        run.model, run.corpus, sentence, token=args.token, versus=args.versus))
    if code:
        return code
    print(" ".join(ex.translation))
    what = f"logit({ex.token}) − logit({ex.versus})" if ex.versus else f"log p({ex.token})"
    print(f"explaining {what} = {ex.margin:.3f} at output position {ex.position} "
          f"(「{ex.translation[ex.position]}」); integrated gradients over {E.STEPS} steps, "
          f"completeness error {ex.completeness_error:.2e}")
    print(E.table(ex, len(ex.source)))
    fth = ex.faithfulness
    print(f"faithfulness: deleting the top word by |IG| (\"{fth['top_word']}\") drops the margin by "
          f"{fth['top_deleted_drop']:.3f}; the median one (\"{fth['median_word']}\") by "
          f"{fth['median_deleted_drop']:.3f}")
    if args.output:
        import matplotlib.pyplot as plt
        fig = E.plot(ex, args.output, font=cjk_font())
        plt.close(fig)
        print(f"wrote {args.output}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(ex.json(), fh, ensure_ascii=False, indent=1)
        print(f"wrote {args.json}")
    return 0


def explore_main(args):
    """`python -m tinygrad_tf explore --checkpoint PATH --sentence "..." [--token T]
    [--versus T2] -o page.html`: the explorer over the backward of one prediction's margin."""
    from ..seeing.explore import explore
    from .explain import EXPLORE_DEPTH, traced_prediction

    def work(run):
        margin, tape, watch, facts = traced_prediction(run.model, run.corpus, args.sentence,
                                                       args.token, args.versus)
        return explore(margin, tape, args.output, depth=EXPLORE_DEPTH, watch=watch), tape, facts
    done, code = on_checkpoint("explore", args.checkpoint, work)
    if code:
        return code
    path, tape, facts = done
    out = list(facts["translation"])
    out[facts["position"]] = f"[{out[facts['position']]}]"
    print(f"wrote {path}: {len(tape.steps)} steps of the backward of {facts['what']} = {facts['margin']:.3f} "
          f"at 「{' '.join(out)}」, from the output to the {len(facts['source'])} source words; "
          "open it in a browser")
    return 0
