"""The demo: the chain rule on one number and on arrays, then its main act, a small
Transformer that learns to reverse digit sequences.

    python -m tinygrad_tf demo [--steps N] [--quick] [--out DIR] [--seed S]

Every gradient below flows through this package's own engine, attention and
optimizer. After training, the model decodes held-out sequences greedily; one
cross-attention head is printed as a text heatmap (reversal shows as an
anti-diagonal: output i looks at input n−1−i); the weights go through a checkpoint
and back; and, when `tinygrad_tf.viz` is there, the graph of one encoder block is
written as DOT (and SVG where Graphviz's `dot` is installed).
"""
import os
import time

import numpy as np
from threadpoolctl import threadpool_limits

import tinygrad_tf as tg
from tinygrad_tf import nn, optim
from tinygrad_tf.nn import functional as F

PAD, BOS, EOS = 0, 1, 2          # special tokens; digit d is token d + 3
VOCAB = 13
MIN_LEN, MAX_LEN = 3, 7          # source lengths; shorter ones are padded with PAD
SHADES = " ·░▒▓█"               # attention weight 0 … 1 as one character
OUT_DIR = os.path.join("out", "demo")   # checkpoint and graph go here (out/ is git-ignored)

# The model and its training: small enough for well under a minute on two cores.
CONFIG = dict(d_model=64, n_heads=4, n_layers=2, d_ff=128)
BATCH, STEPS, WARMUP, LR_FACTOR = 64, 600, 80, 0.4


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


def random_sequences(rng, n, exclude=frozenset()):
    """n random digit tuples of length MIN_LEN..MAX_LEN, none of them in `exclude`."""
    out = []
    while len(out) < n:
        seq = tuple(rng.integers(0, 10, rng.integers(MIN_LEN, MAX_LEN + 1)).tolist())
        if seq not in exclude:
            out.append(seq)
    return out


def encode(seqs):
    """Token arrays for a batch: src = the digits, tgt = BOS, the digits reversed, EOS,
    each padded with PAD: src (n, MAX_LEN), tgt (n, MAX_LEN + 2)."""
    src = np.full((len(seqs), MAX_LEN), PAD, dtype=np.int64)
    tgt = np.full((len(seqs), MAX_LEN + 2), PAD, dtype=np.int64)
    for i, seq in enumerate(seqs):
        digits = np.array(seq) + 3
        src[i, :len(seq)] = digits
        tgt[i, :len(seq) + 2] = [BOS, *digits[::-1], EOS]
    return src, tgt


def decoded_digits(tokens):
    """The digits of a decoded row (after BOS, up to EOS or any other non-digit) as a tuple."""
    out = []
    for t in tokens[1:]:
        if t < 3:
            break
        out.append(int(t) - 3)
    return tuple(out)


def train(model, steps, rng, held_out, log_every):
    """Teacher forcing: the decoder sees BOS + the answer and predicts it shifted by one."""
    opt = optim.Adam(model.parameters(), betas=(0.9, 0.98), eps=1e-9)
    sched = optim.NoamSchedule(opt, CONFIG["d_model"], warmup=WARMUP, factor=LR_FACTOR)
    losses, start = [], time.perf_counter()
    for step in range(1, steps + 1):
        src, tgt = encode(random_sequences(rng, BATCH, exclude=held_out))
        logits = model(src, tgt[:, :-1])                    # (B, T, VOCAB)
        loss = F.cross_entropy(logits, tgt[:, 1:], ignore_index=PAD)
        loss.backward()
        grad_norm = optim.clip_grad_norm_(model.parameters(), 1.0)
        lr = opt.lr
        opt.step()
        sched.step()
        opt.zero_grad()
        losses.append(loss.item())
        if step == 1 or step % log_every == 0 or step == steps:
            print(f"   step {step:4d}/{steps}  loss {loss.item():.4f}  lr {lr:.2e}  "
                  f"|grad| {grad_norm:6.3f}  {time.perf_counter() - start:5.1f} s")
    return losses


def heatmap(weights, row_labels, col_labels):
    """A (rows, cols) matrix of weights in [0, 1] as lines of shade characters."""
    lines = ["        " + " ".join(f"{c:>2}" for c in col_labels)]
    for label, row in zip(row_labels, weights):
        cells = (SHADES[min(int(w * len(SHADES)), len(SHADES) - 1)] * 2 for w in row)
        lines.append(f"   {label:>4} " + " ".join(cells))
    return "\n".join(lines)


def show_cross_attention(model, seq, prediction):
    """Run the model on one example with its own prediction as the decoder input, and
    print the sharpest head of the last decoder layer's cross-attention."""
    src, _ = encode([seq])
    tgt_in = np.array([[BOS, *(np.array(prediction, dtype=np.int64) + 3)]])
    with tg.no_grad():
        model(src[:, :len(seq)], tgt_in)
    attn = model.decoder.layers[-1].cross_attn.attn[0]     # (heads, q_len, k_len)
    head = int(np.argmax(attn.max(axis=-1).mean(axis=-1)))  # the most decided head
    rows = [str(d) for d in prediction] + ["EOS"]
    print(f"4. Cross-attention, last decoder layer, head {head} (row: the token being produced; "
          f"column: the source digit; weight 0 → 1 as '{SHADES}')")
    print(heatmap(attn[head], rows, seq))


def save_and_reload(model, src, out_dir):
    """Write the weights with tg.save, load them into a fresh model, compare decodings."""
    path = os.path.join(out_dir, "reverse_transformer.npz")
    tg.save(model.state_dict(), path)
    fresh = nn.Transformer(VOCAB, VOCAB, **CONFIG, max_len=MAX_LEN + 2, pad_id=PAD)
    fresh.load_state_dict(tg.load(path))
    same = np.array_equal(greedy(fresh, src), greedy(model, src))
    size = os.path.getsize(path) / 1024
    print(f"5. Checkpoint: {path} ({len(model.state_dict())} arrays, {size:.0f} KiB); "
          f"a fresh model loaded from it decodes {'identically' if same else 'DIFFERENTLY'}")
    return same


def draw_encoder_block(model, seq, out_dir):
    """Draw encoder block 0 as it processes one example, each edge labelled with the
    norm of the training loss's gradient that flowed along it (needs tinygrad_tf.viz)."""
    try:
        from tinygrad_tf import viz
    except ImportError:
        print("6. Graph: tinygrad_tf.viz is not available; skipped")
        return None
    src, tgt = encode([seq])
    src_mask = F.padding_mask(src, PAD)
    x = tg.Tensor(model.src_embed(src).data, requires_grad=True, name="embedded source")
    block = model.encoder.layers[0](x, mask=src_mask)       # the part we draw
    memory = block
    for layer in list(model.encoder.layers)[1:]:
        memory = layer(memory, mask=src_mask)
    if model.encoder.norm is not None:
        memory = model.encoder.norm(memory)
    logits = model.generator(model.decode(tgt[:, :-1], memory, src_mask))
    with tg.trace() as tr:
        F.cross_entropy(logits, tgt[:, 1:], ignore_index=PAD).backward()
    model.zero_grad()
    graph = viz.draw_graph(block, trace=tr)
    path = os.path.join(out_dir, "encoder_block")
    with open(path + ".dot", "w") as f:
        f.write(graph.source)
    written = [path + ".dot"]
    try:
        svg = graph.pipe("svg")
    except Exception as e:       # Graphviz's `dot` missing or failing: the DOT file is enough
        print(f"   (no SVG: {type(e).__name__}: {e})")
    else:
        with open(path + ".svg", "wb") as f:
            f.write(svg)
        written.append(path + ".svg")
    print(f"6. Graph of encoder block 0 on one example, edges labelled with the loss's gradient "
          f"norms: {', '.join(written)}")
    return written


def greedy(model, src):
    return model.greedy_decode(src, max_len=MAX_LEN + 2, bos_id=BOS, eos_id=EOS)


def run(steps=STEPS, out_dir=OUT_DIR, seed=0, n_held_out=200, n_shown=6):
    """Train, evaluate, show; returns a summary dict (losses, accuracy, paths)."""
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    nn.manual_seed(seed)
    held_out = random_sequences(rng, n_held_out)
    model = nn.Transformer(VOCAB, VOCAB, **CONFIG, max_len=MAX_LEN + 2, pad_id=PAD)
    n_params = sum(p.size for p in model.parameters())
    print(f"3. A Transformer ({CONFIG['n_layers']}+{CONFIG['n_layers']} layers, "
          f"d_model {CONFIG['d_model']}, {n_params:,} parameters, float32) learns to reverse "
          f"{MIN_LEN}–{MAX_LEN} digit sequences")
    losses = train(model, steps, rng, set(held_out), log_every=max(steps // 8, 1))

    src, _ = encode(held_out)
    decoded = [decoded_digits(row) for row in greedy(model, src)]
    correct = [pred == seq[::-1] for seq, pred in zip(held_out, decoded)]
    print(f"   Greedy decoding of {len(held_out)} held-out sequences: "
          f"{sum(correct)}/{len(held_out)} exactly right")
    wrong = [i for i, ok in enumerate(correct) if not ok]
    for i in sorted(set(range(n_shown)) | set(wrong[:3])):        # a few, and some mistakes
        seq, pred, ok = held_out[i], decoded[i], correct[i]
        print(f"   {' '.join(map(str, seq)):>13}  →  {' '.join(map(str, pred)):<13} "
              f"{'✓' if ok else '✗ wanted ' + ' '.join(map(str, seq[::-1]))}")

    longest = max(range(len(held_out)), key=lambda i: len(held_out[i]))
    show_cross_attention(model, held_out[longest], decoded[longest])
    os.makedirs(out_dir, exist_ok=True)
    reloaded_same = save_and_reload(model, src, out_dir)
    graph_files = draw_encoder_block(model, held_out[longest], out_dir)
    print(f"   ({time.perf_counter() - start:.1f} s in all)")
    return dict(losses=losses, accuracy=float(np.mean(correct)), reloaded_same=reloaded_same,
                graph_files=graph_files)


def use_one_blas_thread():
    """Ask the BLAS for one thread, unless the user chose a number (OPENBLAS_NUM_THREADS
    or OMP_NUM_THREADS). The demo multiplies small matrices, for which OpenBLAS's worker
    threads cost more to wake than they save; on a 2-core machine whose cores are busy
    they spin against the other processes, and one thread trained 6-10x faster than two."""
    if "OPENBLAS_NUM_THREADS" in os.environ or "OMP_NUM_THREADS" in os.environ:
        return
    threadpool_limits(limits=1, user_api="blas")


def add_arguments(parser):
    """The demo's options, for `python -m tinygrad_tf demo`."""
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, default=STEPS, metavar="N",
                        help=f"training steps, at least 1 (default {STEPS})")
    length.add_argument("--quick", action="store_true",
                        help="a 40-step smoke run (instead of --steps)")
    parser.add_argument("--out", default=OUT_DIR, metavar="DIR",
                        help=f"folder for the checkpoint and pictures, made if missing (default {OUT_DIR})")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data and the weights (default 0)")


def main(args=None):
    """Run from parsed command-line arguments (any missing one takes its default)."""
    use_one_blas_thread()
    chain_rule()
    steps = 40 if getattr(args, "quick", False) else getattr(args, "steps", STEPS)
    run(steps=steps, out_dir=getattr(args, "out", OUT_DIR), seed=getattr(args, "seed", 0))
    return 0
