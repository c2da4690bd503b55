"""Why did the translator say 動物? Attribution of one output word to the source words.

    from tinygrad_tf.demo import explain, translation
    run = translation.pretrained()
    ex = explain.explain(run.model, run.corpus,
                         "The animal didn't cross the street because it was too tired.",
                         token="動物", versus="通り")
    ex.methods["integrated_gradients"]      # one score per source word
    explain.plot(ex, "why.png")

The quantity explained is the margin at one output position of the model's own
translation (the decoder reads `<bos>` and the words before it, teacher-forced):

    margin = logit(token) − logit(versus)        (or log p(token) with no rival)

It is a function of the source's token embeddings E (S, d_model): the encoder reads
E·√d_model + positions. Each method's score for a source word is the sum over that
word's row:

    gradient_x_input       Σ_d ∂margin/∂E · E
    integrated_gradients   Σ_d (E − 0) · mean_k ∂margin/∂E(α_k E)     (tg.attribute)
                           baseline: every token embedding zero, positions kept
    cross_attention        the last decoder layer's cross-attention row at that
                           position (mean over heads); every layer's is in `.cross_layers`
    attention_rollout      that row times the encoder's rollout (tg.seeing.attribute.rollout):
                           how much of each source word reaches the output, by attention alone

Faithfulness: rank the source words by |integrated gradients|, delete the top one
(its id becomes <pad>, so the attention masks it as padding) and measure how much the
margin drops; do the same for the median-ranked word. A faithful attribution's top
word should matter much more.

`python -m tinygrad_tf explain "SENTENCE" [--token T] [--versus T2] [-o PNG] [--json PATH]`
(its command-line face is `app.explain_main`).
"""
from dataclasses import dataclass, field

import numpy as np

from ..core.engine import no_grad
from ..nn import functional as F
from ..seeing.attribute import attribute, rollout
from . import corpus as C
from . import translation as T

STEPS = 64                              # integrated gradients' midpoint-rule points
METHODS = ("gradient_x_input", "integrated_gradients", "attention_rollout", "cross_attention")


@dataclass
class Explanation:
    """What `explain` returns; `json()` gives the command's JSON."""
    source: list
    translation: list
    token: str
    position: int
    versus: str | None
    margin: float
    methods: dict                       # method -> np.ndarray (len(source),)
    completeness_error: float
    faithfulness: dict                  # top/median word, index and margin drop
    cross_layers: list = field(default_factory=list)   # every decoder layer's row (mean over heads)
    attributions: dict = field(default_factory=dict)   # the two gradient methods' tg.Attribution

    def json(self):
        return {"source": self.source, "translation": self.translation, "token": self.token,
                "position": self.position, "versus": self.versus, "margin": self.margin,
                "methods": {m: [float(v) for v in self.methods[m]] for m in METHODS},
                "completeness_error": self.completeness_error,
                "faithfulness": {"top_deleted_drop": self.faithfulness["top_deleted_drop"],
                                 "median_deleted_drop": self.faithfulness["median_deleted_drop"]}}

    def ranked(self, method):
        """(word, score) from the largest |score| down."""
        s = self.methods[method]
        return [(self.source[j], float(s[j])) for j in np.argsort(-np.abs(s), kind="stable")]


def first_content_word(tokens):
    """The first Japanese token that is not a particle or an ending (e.g. 動物, 通り)."""
    return next((t for t in tokens if t not in C.FUNCTION_WORDS), tokens[0] if tokens else None)


def margin_function(model, src, prefix, position, token, rival=None):
    """f(E): the margin at `position` as a function of the source's token embeddings E,
    (S, d_model) → a scalar, or a batch (n, S, d_model) → (n,) (so tg.attribute takes
    its batch path). src: (S,) ids (for the padding mask); prefix: (≥ position + 1,)
    target ids starting with <bos>."""
    src, prefix = np.asarray(src), np.asarray(prefix)[: position + 1]
    positions = model.src_embed.positions[: len(src)]

    def f(e):
        batched = e.ndim == 3
        x = e if batched else e.reshape(1, *e.shape)                        # (n, S, d_model)
        n = x.shape[0]
        ids = np.broadcast_to(src, (n, len(src)))
        mask = F.padding_mask(ids, model.pad_id)
        memory = model.encoder(x + positions.astype(x.dtype), mask=mask)
        logits = model.generator(model.decode(np.broadcast_to(prefix, (n, len(prefix))), memory, mask))
        last = logits[:, position]                                          # (n, tgt_vocab)
        m = last[:, token] - last[:, rival] if rival is not None else last.log_softmax(-1)[:, token]
        return m if batched else m.reshape(())
    return f


def source_embedding(model, src):
    """The token embeddings the encoder reads, E = table[src]·√d_model, (S, d_model)."""
    emb = model.src_embed
    return emb.tokens.weight.data[np.asarray(src)] * np.float32(emb.scale)


def margin_of(model, src, prefix, position, token, rival=None):
    """The margin for token ids `src` (a plain forward; <pad> is masked as padding)."""
    with no_grad():
        logits = model(np.asarray(src)[None], np.asarray(prefix)[None, : position + 1]).data[0, position]
    logits = logits.astype(np.float64)
    if rival is not None:
        return float(logits[token] - logits[rival])
    return float(logits[token] - logits.max() - np.log(np.exp(logits - logits.max()).sum()))


def _target(corpus, tr, token, versus, command):
    """(token, its id, the rival's id or None, the output position) for a Translation `tr`:
    the first position where the translation has `token` or `versus`."""
    vocab = corpus.tgt_vocab
    token = token or first_content_word(tr.tokens)
    if token is None:
        raise ValueError(f"{command}: the translation is empty")
    for word, what in ((token, "--token"), (versus, "--versus")):
        if word is not None and word not in vocab.stoi:
            raise ValueError(f"{command}: {what} {word!r} is not a Japanese word of the corpus "
                             f"(the translation is 「{' '.join(tr.tokens)}」)")
    if versus == token:
        raise ValueError(f"{command}: --token and --versus are the same word {token!r}")
    where = [i for i, t in enumerate(tr.tokens) if t in (token, versus)]
    if not where:
        raise ValueError(f"{command}: {token!r} is not in the translation 「{' '.join(tr.tokens)}」"
                         + ("" if versus is None else f", nor is {versus!r}")
                         + "; choose one of its words")
    return token, vocab.stoi[token], None if versus is None else vocab.stoi[versus], where[0]


def explain(model, corpus, sentence, token=None, versus=None, steps=STEPS):
    """Translate `sentence` and explain the output word `token` (default: the first
    content word) against the rival `versus` (None: its log-probability), at the first
    position where the translation has either of them: where the model chose between
    the two (in "… too wide", 通り comes first, so logit(動物) − logit(通り) < 0 there).
    Returns an `Explanation`."""
    tr = T.translate(model, corpus, sentence)
    if tr.unknown:
        raise ValueError(f"explain: unknown English word{'s' * (len(tr.unknown) > 1)} "
                         f"{', '.join(map(repr, tr.unknown))}")
    tgt = corpus.tgt_vocab
    token, token_id, rival_id, position = _target(corpus, tr, token, versus, "explain")
    src = np.array(corpus.src_vocab.encode(tr.source))
    prefix = np.array([tgt.bos, *tgt.encode(tr.tokens)])
    f = margin_function(model, src, prefix, position, token_id, rival_id)
    e = source_embedding(model, src)
    gxi = attribute(f, e, method="gradient_x_input")
    ig = attribute(f, e, method="integrated_gradients", steps=steps)

    margin = margin_of(model, src, prefix, position, token_id, rival_id)   # and the attention it used
    cross = [layer.cross_attn.attn[0, :, position].mean(axis=0) for layer in model.decoder.layers]
    enc = rollout([layer.self_attn.attn[0] for layer in model.encoder.layers])
    methods = {"gradient_x_input": gxi.scores.sum(axis=-1, dtype=np.float64),
               "integrated_gradients": ig.scores.sum(axis=-1, dtype=np.float64),
               "attention_rollout": cross[-1] @ enc,
               "cross_attention": np.asarray(cross[-1], dtype=np.float64)}
    ex = Explanation(list(tr.source), list(tr.tokens), token, position, versus, margin, methods,
                     ig.completeness_error, {}, [np.asarray(c, dtype=np.float64) for c in cross],
                     {"gradient_x_input": gxi, "integrated_gradients": ig})
    ex.faithfulness = faithfulness(model, src, prefix, position, token_id, rival_id,
                                   methods["integrated_gradients"], margin, ex.source)
    return ex


def faithfulness(model, src, prefix, position, token, rival, scores, margin, words):
    """Delete (replace by <pad>) the word of largest |score|, then the median-ranked one;
    the margin's drop for each (margin − margin without the word)."""
    order = np.argsort(-np.abs(scores), kind="stable")
    out = {}
    for name, j in (("top", int(order[0])), ("median", int(order[len(order) // 2]))):
        deleted = np.array(src)
        deleted[j] = model.pad_id
        out[f"{name}_deleted_drop"] = margin - margin_of(model, deleted, prefix, position, token, rival)
        out[f"{name}_word"] = words[j]
    return out


# ------------------------------------------------------------------ the picture

ROWS = (("gradient_x_input", "gradient × input"), ("integrated_gradients", "integrated gradients"),
        ("attention_rollout", "attention rollout"))


def plot(ex, path=None, font=None):
    """Source words (columns) × methods (rows): each row divided by its largest |score|
    (one diverging colour scale, red > 0 > blue), the raw score written in each cell.
    Rows: gradient × input, integrated gradients, attention rollout, and every decoder
    layer's cross-attention row. `font`: one with Japanese glyphs (the demo's
    `app.cjk_font()`; None: the Japanese in romaji). Returns the Figure (saved to
    `path` when given)."""
    import matplotlib.pyplot as plt
    ja = (lambda t: t) if font else C.romaji
    rows = [(label, ex.methods[m]) for m, label in ROWS]
    rows += [(f"cross-attention, layer {l}", c) for l, c in enumerate(ex.cross_layers)]
    m = np.array([r / (np.abs(r).max() or 1.0) for _, r in rows])
    fig, ax = plt.subplots(figsize=(1.0 + 0.72 * len(ex.source) + 2.2, 1.6 + 0.5 * len(rows)))
    im = ax.imshow(m, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
    for (i, j), v in np.ndenumerate(m):
        ax.text(j, i, f"{rows[i][1][j]:.2f}", ha="center", va="center", fontsize=8,
                color="white" if abs(v) > 0.6 else "black")
    ax.set_xticks(range(len(ex.source)), ex.source, rotation=40, ha="right", fontsize=10)
    ax.set_yticks(range(len(rows)), [label for label, _ in rows], fontsize=10)
    ax.axhline(len(ROWS) - 0.5, color="black", lw=1)
    fig.colorbar(im, ax=ax, label="score ÷ largest |score| of its row", fraction=0.04, pad=0.02)
    what = (f"logit({ja(ex.token)}) − logit({ja(ex.versus)})" if ex.versus else f"log p({ja(ex.token)})")
    out = [ja(t) for t in ex.translation]
    out[ex.position] = f"[{out[ex.position]}]"
    fth = ex.faithfulness
    ax.set_title(f"{' '.join(ex.source)}\n→ {' '.join(out)}\nwhy {what} = {ex.margin:.2f} at position "
                 f"{ex.position}: IG completeness error {ex.completeness_error:.1e}; deleting "
                 f"\"{fth['top_word']}\" drops it by {fth['top_deleted_drop']:.2f}, "
                 f"\"{fth['median_word']}\" by {fth['median_deleted_drop']:.2f}",
                 fontsize=10, fontfamily=font or "sans-serif")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def table(ex, width=5):
    """The ranked table the command prints: rank, then each method's word and score."""
    head = f"{'rank':>4}  " + "  ".join(f"{m:<22}" for m in METHODS)
    lines = [head]
    ranked = {m: ex.ranked(m) for m in METHODS}
    for k in range(min(width, len(ex.source))):
        lines.append(f"{k + 1:>4}  " + "  ".join(f"{ranked[m][k][0]:<12}{ranked[m][k][1]:>+9.3f} "
                                                 for m in METHODS))
    return "\n".join(lines)


# ------------------------------------------------------------------ the explorer on a prediction

EXPLORE_DEPTH = 2                       # sublayers (self_attn, cross_attn, ffn, norms) as boxes


def traced_prediction(model, corpus, sentence, token=None, versus=None):
    """The backward of one prediction's margin, traced, for the explorer: each source word's
    token embedding is its own input node, named by the word, stacked into the sentence.
    Returns (margin Tensor, its trace, watch, Explanation-less facts dict) where `watch` lists
    the tensors whose gradient per source word the explorer's panel follows: the memory
    (encoder output), each encoder layer's input, and the word embeddings."""
    from ..core.tensor import Tensor, stack
    from ..seeing.trace import trace
    tr = T.translate(model, corpus, sentence)
    if tr.unknown:
        raise ValueError(f"explore: unknown English word{'s' * (len(tr.unknown) > 1)} "
                         f"{', '.join(map(repr, tr.unknown))}")
    token, token_id, rival_id, position = _target(corpus, tr, token, versus, "explore")
    src = np.array(corpus.src_vocab.encode(tr.source))
    tgt = corpus.tgt_vocab
    prefix = np.array([tgt.bos, *tgt.encode(tr.tokens)])[: position + 1]
    e = source_embedding(model, src)
    words = [Tensor(row, requires_grad=True, name=f"“{w}” (word {j})") for j, (w, row) in
             enumerate(zip(tr.source, e))]
    embedded = stack(words)                                                 # (S, d_model)
    embedded.name = "source word embeddings"
    mask = F.padding_mask(src[None], model.pad_id)
    x = (embedded + model.src_embed.positions[: len(src)]).reshape(1, *e.shape)   # (1, S, d_model)
    layer_inputs = []
    for layer in model.encoder.layers:
        layer_inputs.append(x)
        x = layer(x, mask=mask)
    memory = model.encoder.norm(x) if model.encoder.norm is not None else x
    logits = model.generator(model.decode(prefix[None], memory, mask))[0, position]
    margin = logits[token_id] - logits[rival_id] if rival_id is not None else logits.log_softmax(-1)[token_id]
    what = f"logit({token}) − logit({versus})" if rival_id is not None else f"log p({token})"
    margin.name = what
    with trace() as tape:
        margin.backward()
    watch = [("memory (encoder output)", memory, tr.source)]
    watch += [(f"input of encoder layer {l}", layer_inputs[l], tr.source)
              for l in reversed(range(len(layer_inputs)))]
    watch.append(("word embeddings", embedded, tr.source))
    facts = dict(source=tr.source, translation=tr.tokens, token=token, versus=versus,
                 position=position, what=what, margin=float(margin.data), embedding=e)
    return margin, tape, watch, facts
