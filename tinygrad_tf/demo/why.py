"""Two sections of the demo's report: "Why 動物? Why 通り?" (attribution of the translator's
choice of referent, on the two seed sentences and over the held-out "it" sentences) and
the encoder's self-attention on the cat sentence beside the notes' claims about it.

    from tinygrad_tf.demo import translation, why
    run = translation.pretrained()
    stats = why.held_out_stats(run)            # top word per method, faithfulness, over 40 sentences
    text = why.section(run, "out/demo", font)  # markdown; writes why_tired.png, why_wide.png, ...
"""
import os
from collections import Counter

import numpy as np

from ..core.engine import no_grad
from . import corpus as C
from . import explain as E
from .pictures import attention_grid

TIRED = "The animal didn't cross the street because it was too tired."
WIDE = "The animal didn't cross the street because it was too wide."
CAT = "The cat sat on the mat."
# The notes' claims about self-attention in "the cat sat on the mat .": (word, its position,
# the positions it is said to attend to).
NOTES_CLAIMS = (("cat", 1, (0, 2)), ("sat", 2, (1, 5)), ("mat", 5, (3, 4)))
KINDS = ("adjective", "referent", "something else")


def _japanese(word):
    return C.SUBJECTS[word][0] if word in C.SUBJECTS else C.PLACES[word][0]


def held_out_stats(run, limit=None):
    """Over the held-out "it" sentences: for each method, how often its top source word
    (largest |score|; for attention, largest weight) is the adjective, the referent, or
    something else (and which), explaining logit(referent's Japanese) − logit(the other
    noun's) where the translation names one of them first; and the faithfulness check's
    margin drops. Sentences whose translation names neither noun are counted as skipped.
    `limit`: only the first that many sentences (for a quick look)."""
    tops = {m: Counter() for m in E.METHODS}
    others = {m: Counter() for m in E.METHODS}
    drops, skipped = [], 0
    for pair in [p for p in run.corpus.test if p.is_it][:limit]:
        tokens = pair.english.split()
        other = pair.place if pair.referent == pair.subject else pair.subject
        try:
            ex = E.explain(run.model, run.corpus, pair.english, token=_japanese(pair.referent),
                           versus=_japanese(other))
        except ValueError:
            skipped += 1
            continue
        for m in E.METHODS:
            s = ex.methods[m]
            signed = m in ("gradient_x_input", "integrated_gradients")     # ranked by |score|
            word = ex.source[int(np.argmax(np.abs(s) if signed else s))]
            kind = ("adjective" if word == tokens[-2] else "referent" if word == pair.referent
                    else "something else")
            tops[m][kind] += 1
            if kind == "something else":
                others[m][word] += 1
        f = ex.faithfulness
        drops.append((ex.margin, f["top_deleted_drop"], f["median_deleted_drop"], ex.completeness_error))
    if not drops:
        return {"n": 0, "skipped": skipped}
    d = np.array(drops)
    return {"n": len(drops), "skipped": skipped, "tops": tops, "others": others,
            "margin": d[:, 0].mean(), "top_drop": d[:, 1].mean(), "median_drop": d[:, 2].mean(),
            "top_beats_median": int((d[:, 1] > d[:, 2]).sum()), "flips": int((d[:, 0] - d[:, 1] < 0).sum()),
            "completeness_max": d[:, 3].max()}


def encoder_self_attention(run, sentence):
    """Every encoder layer's self-attention for `sentence`: (tokens, [(heads, S, S), ...])."""
    tokens = C.tokenize(sentence)
    with no_grad():
        run.model.encode(np.array([run.corpus.src_vocab.encode(tokens)]))
    return tokens, [np.array(layer.self_attn.attn[0]) for layer in run.model.encoder.layers]


def plot_self_attention(tokens, layers, path):
    """Layers (rows) × heads (columns) of self-attention, query down, key across, one colour scale."""
    attention_grid(layers, tokens, tokens, path, threshold=0.25,
                   title=f"Encoder self-attention, every head: \"{' '.join(tokens)}\"",
                   scale_label="attention weight (row: query, column: key)")


LINK = 0.3          # a link "exists" when some head gives it at least this weight (uniform: 1/7)


def claims(tokens, layers):
    """Each link of the notes' claims (word → a word it should attend to), as a dict: the
    head that gives it the most weight, that weight, whether it reaches LINK, and what the
    word attends to most in any head."""
    heads = [(l, h) for l in range(len(layers)) for h in range(layers[l].shape[0])]
    rows = []
    for word, i, keys in NOTES_CLAIMS:
        top = max(heads, key=lambda lh: layers[lh[0]][lh[1], i].max())
        for k in keys:
            best = max(heads, key=lambda lh: layers[lh[0]][lh[1], i, k])
            w = float(layers[best[0]][best[1], i, k])
            rows.append(dict(word=word, key=tokens[k], key_position=k, head=best, weight=w,
                             does=w >= LINK, top=tokens[int(np.argmax(layers[top[0]][top[1], i]))],
                             top_head=top, top_weight=float(layers[top[0]][top[1], i].max())))
    return rows


def section(run, out_dir, font=None, stats=None):
    """The two report sections as markdown; writes why_tired.png, why_wide.png and
    cat_self_attention.png to `out_dir` and prints what they found. `stats`:
    `held_out_stats(run)` if already computed."""
    import matplotlib.pyplot as plt
    tokens, layers = encoder_self_attention(run, CAT)
    plot_self_attention(tokens, layers, os.path.join(out_dir, "cat_self_attention.png"))
    found = claims(tokens, layers)
    seeds = []
    for name, sentence in (("why_tired.png", TIRED), ("why_wide.png", WIDE)):
        try:
            ex = E.explain(run.model, run.corpus, sentence, token="動物", versus="通り")
        except ValueError:                       # a short run may name neither noun
            continue
        plt.close(E.plot(ex, os.path.join(out_dir, name), font=font))
        seeds.append((name, ex))
    s = held_out_stats(run) if stats is None else stats
    if not seeds or not s["n"]:
        print("7. Why 動物? Why 通り?: the translations name neither 動物 nor 通り yet (train longer)")
        return ("## Why 動物? Why 通り?\n\nThis model's translations of the \"it\" sentences name neither "
                "動物 nor 通り, so there is no choice between them to explain: train it longer.\n\n"
                + cat_markdown(found))

    print("7. Why 動物? Why 通り? logit(動物) − logit(通り) where the translation names its first noun:")
    for _, ex in seeds:
        print(f"   too {ex.source[-2]}: margin {ex.margin:+.2f}; top word by integrated gradients "
              f"\"{ex.ranked('integrated_gradients')[0][0]}\", by gradient × input "
              f"\"{ex.ranked('gradient_x_input')[0][0]}\", by cross-attention "
              f"\"{ex.source[int(np.argmax(ex.methods['cross_attention']))]}\"")
    print(f"   over {s['n']} held-out \"it\" sentences, the top word (adjective / referent / else): "
          + "; ".join(f"{m} {'/'.join(str(s['tops'][m][k]) for k in KINDS)}" for m in E.METHODS))
    print("   the notes' self-attention links in the cat sentence: " + ", ".join(
        f"{c['word']} → {c['key']} {'yes' if c['does'] else 'no'} ({c['weight']:.2f})" for c in found))
    print(f"   faithfulness: deleting the top word by |IG| lowers the margin by {s['top_drop']:.2f} on "
          f"average, the median-ranked word by {s['median_drop']:.2f} (mean margin {s['margin']:.2f})")

    def row(m):
        else_words = ", ".join(f"\"{w}\" {k}" for w, k in s["others"][m].most_common(3))
        return (f"| {m.replace('_', ' ')} | " + " | ".join(str(s["tops"][m][k]) for k in KINDS)
                + f" | {else_words or '–'} |")
    table = "\n".join(["| method | adjective | referent | something else | which else |",
                       "| --- | --- | --- | --- | --- |", *(row(m) for m in E.METHODS)])
    seed_text = " ".join(
        f"In \"…too {ex.source[-2]}\" the translation starts with {ex.translation[0]} (margin "
        f"{ex.margin:+.2f}): integrated gradients rank " + ", ".join(
            f"\"{w}\" {v:+.2f}" for w, v in ex.ranked("integrated_gradients")[:3])
        + f" (completeness error {ex.completeness_error:.1e}); the last decoder layer's cross-attention "
        f"puts {ex.methods['cross_attention'].max():.2f} on "
        f"\"{ex.source[int(np.argmax(ex.methods['cross_attention']))]}\"; deleting "
        f"\"{ex.faithfulness['top_word']}\" changes the margin by "
        f"{-ex.faithfulness['top_deleted_drop']:+.2f}, deleting \"{ex.faithfulness['median_word']}\" by "
        f"{-ex.faithfulness['median_deleted_drop']:+.2f}."
        for _, ex in seeds)
    skipped = f"; {s['skipped']} skipped: the translation named neither noun" if s["skipped"] else ""
    pictures = "\n\n".join(f"![why {ex.translation[ex.position]}, too {ex.source[-2]}]({name})"
                             for name, ex in seeds)
    return f"""## Why 動物? Why 通り?

Attention shows where the model looked; it does not say what the answer depends on.
`python -m tinygrad_tf explain` backpropagates the choice itself, the margin
logit(動物) − logit(通り) at the position where the translation names its first noun, to
each English word (the sum over its embedding): gradient × input and integrated
gradients (64 midpoint steps from all-zero token embeddings, positions kept), beside the
raw cross-attention of each decoder layer and attention rollout of the encoder
(docs/seeing.md, "Attribution").

{pictures}

{seed_text}

Over the {s['n']} held-out "it" sentences (the margin being logit(the referent's Japanese) −
logit(the other noun's), {s['margin']:.2f} on average; largest completeness error
{s['completeness_max']:.1e}{skipped}),
the word each method ranks first:

{table}

Faithfulness: deleting the word integrated gradients rank first (replacing it by `<pad>`,
masked) lowers the margin by **{s['top_drop']:.2f}** on average, deleting the median-ranked
word by **{s['median_drop']:.2f}**; the top word matters more in {s['top_beats_median']} of
{s['n']} sentences, and in {s['flips']} deleting it makes the other noun win.

""" + cat_markdown(found)


def cat_markdown(found):
    """The cat sentence's section: the picture and each of the notes' links, present or not."""
    claim_text = "\n".join(
        f"- **{c['word']} → {c['key']}** (word {c['key_position']}): "
        + ("yes, the model does this" if c["does"] else "no, the model does not do this")
        + f": at most {c['weight']:.2f} in any head (layer {c['head'][0]} head {c['head'][1]}); "
        f"the strongest link from \"{c['word']}\" in any head goes to \"{c['top']}\" "
        f"({c['top_weight']:.2f}, layer {c['top_head'][0]} head {c['top_head'][1]})."
        for c in found)
    return f"""## The cat sentence's self-attention beside the notes

![encoder self-attention, cat sentence](cat_self_attention.png)

Every head of both encoder layers for "{CAT}" (row: the word attending, column: the word
attended to). The notes say "cat" attends to "The" and "sat", "sat" to "cat" and "mat",
"mat" to "on" and "the". A link counts as present when some head gives it at least {LINK}
(uniform attention over the 7 tokens would give 0.14):

{claim_text}
"""
