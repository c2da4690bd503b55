"""Train, save, load and run the English→Japanese Transformer of the demo.

    from tinygrad_tf.demo import translation
    run = translation.train(steps=300)               # a small model, quickly (seconds)
    translation.translate(run.model, run.corpus, "The cat sat on the mat.")
    # → Translation(tokens=['猫', 'が', 'マット', 'の', '上', 'に', '座った'], ...)
    run = translation.load("out/demo/translator.npz")  # the demo's trained model

The corpus is `tinygrad_tf.demo.corpus` (a grammar; see there). Training is teacher
forcing: the decoder reads `<bos> + Japanese` and learns to predict the Japanese
shifted by one, `+ <eos>`, with label-smoothed cross-entropy (padding ignored),
Adam (betas 0.9, 0.98, eps 1e-9), the 2017 warmup schedule and gradient clipping.

Batch t is drawn from `np.random.default_rng([seed, t])` and the model is made
after `nn.manual_seed(seed)`, so a run is a function of its seed (on one machine,
bit for bit), and a checkpoint (model, optimizer, step, loss history) resumes it
exactly: training 0→N in one go or 0→k, save, load, k→N gives the same bits.
"""
import hashlib
import json
import os
import re
import time
from dataclasses import dataclass, field

import numpy as np

from .. import io, nn, optim
from ..core.engine import no_grad
from ..nn import functional as F
from . import corpus as corpus_module

FORMAT = "tinygrad_tf.translation/1"    # stored in every checkpoint; checked on load
CONFIG = dict(d_model=64, n_heads=4, n_layers=2, d_ff=128, norm_first=False)
TRAINING = dict(batch=64, warmup=100, lr_factor=0.5, label_smoothing=0.1, it_share=0.25,
                clip=1.0)
MAX_LEN = 32                            # positions; the longest sentence has 12 English tokens
DECODE_LEN = 16                         # greedy decoding stops here: the longest Japanese is 10 + 2


@dataclass
class Run:
    """A model with its corpus and training history (what `train` and `load` return).
    `losses`: the training loss of every step; `eval_steps`/`eval_losses`: the
    held-out loss now and then; `seconds` and `tokens`: wall-clock time spent in
    training steps and the (source + target) tokens they processed, for tokens/s;
    `cpu_seconds`: the CPU time of those steps (what they would take on an idle core)."""
    model: nn.Transformer
    corpus: corpus_module.Corpus
    config: dict
    optimizer: optim.Adam = None
    step: int = 0
    losses: list = field(default_factory=list)
    eval_steps: list = field(default_factory=list)
    eval_losses: list = field(default_factory=list)
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    tokens: int = 0
    recorder: object = None


class Interrupted(Exception):
    """Training stopped by Ctrl-C; `.run` holds the state up to the last full step and
    `.checkpoint_step` the step of the last checkpoint written (None: none)."""

    def __init__(self, run, checkpoint_step):
        super().__init__(f"interrupted at step {run.step}")
        self.run, self.checkpoint_step = run, checkpoint_step


def make_model(corpus, config):
    """A fresh nn.Transformer for the corpus's vocabularies (ids 0 = <pad>)."""
    return nn.Transformer(len(corpus.src_vocab), len(corpus.tgt_vocab), d_model=config["d_model"],
                          n_heads=config["n_heads"], n_layers=config["n_layers"],
                          d_ff=config["d_ff"], norm_first=config["norm_first"], max_len=MAX_LEN,
                          pad_id=corpus.src_vocab.pad)


def _optimizer(model):
    """Adam with the 2017 paper's betas and eps, for a new run and for a resumed one."""
    return optim.Adam(model.parameters(), betas=(0.9, 0.98), eps=1e-9)


def new_run(seed=0, **config):
    """An untrained model on the corpus: `config` overrides CONFIG and TRAINING."""
    unknown = set(config) - set(CONFIG) - set(TRAINING)
    if unknown:
        raise TypeError(f"translation: unknown settings {sorted(unknown)}; "
                        f"known: {sorted({*CONFIG, *TRAINING})}")
    config = {**CONFIG, **TRAINING, **config, "seed": seed}
    corpus = corpus_module.build()
    nn.manual_seed(seed)
    model = make_model(corpus, config)
    return Run(model, corpus, config, _optimizer(model))


def batch_indices(run, step):
    """The training pairs of step `step` (1, 2, ...): a fixed function of (seed, step).
    "it" sentences, 4% of the corpus, make up about `it_share` of each batch."""
    train = run.corpus.train
    is_it = np.array([p.is_it for p in train])
    share = run.config["it_share"]
    weights = np.where(is_it, share / is_it.sum(), (1 - share) / (~is_it).sum())
    rng = np.random.default_rng([run.config["seed"], step])
    return rng.choice(len(train), run.config["batch"], p=weights / weights.sum())


def loss_on(model, corpus, pairs, label_smoothing):
    """The label-smoothed cross-entropy of the model on some pairs (a Tensor)."""
    src, tgt = corpus.batch(pairs)
    logits = model(src, tgt[:, :-1])                                   # (B, T, vocab)
    return F.cross_entropy(logits, tgt[:, 1:], ignore_index=corpus.tgt_vocab.pad,
                           label_smoothing=label_smoothing)


def train(steps=600, seed=0, checkpoint=None, resume=False, checkpoint_every=250,
          eval_every=100, progress=True, run=None, watch=None, **config):
    """Train to `steps` steps in all and return the Run.

    checkpoint: a path; every `checkpoint_every` steps and at the end the run is
    saved there (atomically). resume=True continues from it when it exists (its
    settings win; asking for other ones is an error). progress: a tqdm bar with
    the loss and tokens/s. run: continue this Run instead (for notebooks). watch: a
    function of the Run that returns a `tg.watch` recorder (kept as `run.recorder`),
    told each step's loss after its backward, before clipping and the optimizer step.
    Ctrl-C raises `Interrupted` (the checkpoint on disk is the last complete one)."""
    if run is None:
        if resume and checkpoint and os.path.exists(checkpoint):
            run = load(checkpoint, for_training=True)
            wanted = {**config, "seed": seed}
            clash = {k: (run.config[k], v) for k, v in wanted.items() if run.config[k] != v}
            if clash:
                raise ValueError(f"resume: {checkpoint} was trained with "
                                 + ", ".join(f"{k}={a}" for k, (a, _) in clash.items())
                                 + "; this run asks for "
                                 + ", ".join(f"{k}={b}" for k, (_, b) in clash.items()))
        else:
            run = new_run(seed, **config)
    cfg, model, opt = run.config, run.model, run.optimizer
    if watch is not None:
        run.recorder = watch(run)
    sched = optim.NoamSchedule(opt, cfg["d_model"], cfg["warmup"], cfg["lr_factor"])
    sched.step_num = run.step                       # the schedule is a function of the step
    sched.step()
    eval_pairs = run.corpus.test[:: max(len(run.corpus.test) // 256, 1)]
    saved_step = run.step if resume and run.step else None
    bar = None
    if progress and run.step < steps:
        from tqdm import tqdm
        bar = tqdm(total=steps, initial=run.step, desc="training", unit="step", dynamic_ncols=True)
    model.train()
    try:
        while run.step < steps:
            start, cpu = time.perf_counter(), time.process_time()
            pairs = [run.corpus.train[i] for i in batch_indices(run, run.step + 1)]
            loss = loss_on(model, run.corpus, pairs, cfg["label_smoothing"])
            loss.backward()
            if run.recorder is not None:
                run.recorder.step(loss)
            optim.clip_grad_norm_(model.parameters(), cfg["clip"])
            opt.step()
            sched.step()
            opt.zero_grad()
            seconds = time.perf_counter() - start
            run.cpu_seconds += time.process_time() - cpu
            tokens = sum(len(p.english.split()) + len(p.japanese.split()) + 2 for p in pairs)
            run.step += 1
            run.losses.append(loss.item())
            run.seconds += seconds
            run.tokens += tokens
            if run.step % eval_every == 0 or run.step == steps:
                with no_grad():
                    held = loss_on(model, run.corpus, eval_pairs, cfg["label_smoothing"]).item()
                run.eval_steps.append(run.step)
                run.eval_losses.append(held)
            if bar is not None:
                bar.update(1)
                bar.set_postfix_str(f"loss {run.losses[-1]:.3f}, {tokens / seconds:,.0f} tokens/s")
            if checkpoint and (run.step % checkpoint_every == 0 or run.step == steps):
                save(run, checkpoint)
                saved_step = run.step
    except KeyboardInterrupt:
        raise Interrupted(run, saved_step) from None
    finally:
        if bar is not None:
            bar.close()
        model.eval()
    return run


def save(run, path):
    """Write the run (model, optimizer, step, history, settings, vocabularies) to one
    `.npz` checkpoint with `tg.save`."""
    state = {f"model.{k}": v for k, v in run.model.state_dict().items()}
    state.update({f"optim.{k}": v for k, v in run.optimizer.state_dict().items()})
    state.update({
        "meta.format": np.array(FORMAT), "meta.config": np.array(json.dumps(run.config)),
        "meta.step": np.array(run.step), "meta.seconds": np.array(run.seconds),
        "meta.cpu_seconds": np.array(run.cpu_seconds),
        "meta.tokens": np.array(run.tokens),
        "vocab.src": np.array(run.corpus.src_vocab.itos),
        "vocab.tgt": np.array(run.corpus.tgt_vocab.itos),
        "history.losses": np.array(run.losses, dtype=np.float64),
        "history.eval_steps": np.array(run.eval_steps, dtype=np.int64),
        "history.eval_losses": np.array(run.eval_losses, dtype=np.float64),
    })
    io.save(state, path)


def load(path, for_training=False):
    """A Run from a checkpoint written by `save`. A file of another kind (another
    model's weights, a foreign .npz) raises `tg.CheckpointError` saying so."""
    state = io.load(path)
    fmt = str(state.get("meta.format", ""))
    if fmt != FORMAT:
        what = (f"format '{fmt}'" if fmt else
                f"{len(state)} arrays such as {', '.join(sorted(state)[:3])}, without 'meta.format'")
        raise io.CheckpointError(f"load: '{path}' is not a translation checkpoint of the demo "
                                 f"({what}; expected format '{FORMAT}')")
    config = json.loads(str(state["meta.config"]))
    corpus = corpus_module.build()
    for side, vocab in (("src", corpus.src_vocab), ("tgt", corpus.tgt_vocab)):
        if list(state[f"vocab.{side}"]) != vocab.itos:
            raise io.CheckpointError(f"load: '{path}' was trained on another corpus (its {side} "
                                     "vocabulary differs from tinygrad_tf.demo.corpus's)")
    model = make_model(corpus, config)
    try:
        model.load_state_dict(_part(state, "model."))
    except (KeyError, ValueError) as e:
        raise io.CheckpointError(f"load: '{path}': its weights do not fit the model it describes "
                                 f"({e})") from e
    model.eval()
    run = Run(model, corpus, config, step=int(state["meta.step"]),
              losses=state["history.losses"].tolist(), eval_steps=state["history.eval_steps"].tolist(),
              eval_losses=state["history.eval_losses"].tolist(), seconds=float(state["meta.seconds"]),
              cpu_seconds=float(state["meta.cpu_seconds"]),
              tokens=int(state["meta.tokens"]))
    if for_training:
        run.optimizer = _optimizer(model)
        run.optimizer.load_state_dict(_part(state, "optim."))
    return run


CACHE_ENV = "TINYGRAD_TF_CACHE"     # where `pretrained` keeps its checkpoints (default below)


def cache_dir():
    """The folder for trained checkpoints that tests, notebooks and experiments share:
    $TINYGRAD_TF_CACHE, else ~/.cache/tinygrad_tf."""
    return os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "tinygrad_tf")


def pretrained_path(steps=600, seed=0, **config):
    """Where `pretrained` keeps that model: a checkpoint file in `cache_dir()` named by its
    settings (and the checkpoint format), which `load` and the CLI's --checkpoint read."""
    settings = {**CONFIG, **TRAINING, **config, "seed": seed, "steps": steps}
    key = "-".join(f"{k}{settings[k]}" for k in sorted(settings)).replace(" ", "")
    digest = hashlib.sha1(f"{FORMAT} {key}".encode()).hexdigest()[:12]
    return os.path.join(cache_dir(), f"translator-{steps}-{seed}-{digest}.npz")


def pretrained(steps=600, seed=0, **config):
    """The demo's model trained to `steps` steps (the demo's defaults: its 600 steps,
    seed 0), trained once per machine and then read back: the first caller trains and
    saves it in `cache_dir()`, every later one (another test worker, a notebook, an
    experiment) loads it. A file lock makes the others wait while the first trains, so
    a test run pays for the training once. Returns the Run, in eval mode."""
    import fcntl
    path = pretrained_path(steps, seed, **config)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)             # released when the file closes
        if os.path.exists(path):
            try:
                return load(path)
            except io.CheckpointError:               # another corpus or format: train anew
                os.remove(path)
        run = train(steps=steps, seed=seed, progress=False, **config)
        save(run, path)
        return run


def _part(state, prefix):
    """The entries `save` wrote under `prefix` ("model.", "optim."), the prefix taken off."""
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


@dataclass
class Translation:
    """What `translate` returns: the English tokens fed in (`<unk>` for unknown ones,
    listed in `unknown`), the Japanese tokens out, and the last decoder layer's
    cross-attention (n_heads, len(tokens) + 1, len(source)): row i is the step that
    produced tokens[i] (the last row produced <eos>)."""
    source: list
    tokens: list
    unknown: list
    cross_attention: np.ndarray

    @property
    def text(self):
        return " ".join(self.tokens)


JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uff66-\uff9f]")  # kana, kanji


def translate(model, corpus, sentence, max_len=DECODE_LEN):
    """Greedy-decode one English sentence (a string) into Japanese tokens. Japanese
    input, or a sentence with no words, is a ValueError saying so; unknown words come
    back in `unknown` (see `input_warnings`)."""
    if JAPANESE.search(sentence):
        raise ValueError(f"this model translates English into Japanese, and {sentence!r} is "
                         "Japanese already; give it an English sentence, e.g. \"The cat sat on the mat.\"")
    source = corpus_module.tokenize(sentence)
    if not any(t not in ".,!?" for t in source):
        raise ValueError(f"the sentence {sentence!r} has no words")
    vocab = corpus.src_vocab
    unknown = vocab.unknown(source)
    src = np.array([vocab.encode(source)])
    out = model.greedy_decode(src, max_len=max_len, bos_id=corpus.tgt_vocab.bos,
                              eos_id=corpus.tgt_vocab.eos)[0]
    tokens = corpus.tgt_vocab.decode(out)
    with no_grad():
        model(src, np.array([[corpus.tgt_vocab.bos, *corpus.tgt_vocab.encode(tokens)]]))
    attn = model.decoder.layers[-1].cross_attn.attn[0]
    return Translation([t if t in vocab.stoi else corpus_module.UNK for t in source], tokens,
                       unknown, np.array(attn))


def input_warnings(translation, corpus):
    """What a reader should know before trusting `translation` (from `translate`): the
    words the model has never seen (read as <unk>: the Japanese is a guess), and more
    than one sentence (it was trained on one at a time). [] when there is nothing to say."""
    notes, words = [], [t for t in translation.unknown if t not in ".,!?"]
    if words:
        known = len(corpus.src_vocab) - len(corpus_module.SPECIALS)
        notes.append(f"unknown word{'s' * (len(words) > 1)} {', '.join(repr(w) for w in words)} "
                     f"read as <unk>, so the translation is a guess: the model knows only the demo's "
                     f"{known} English words (docs/demo.md lists them)")
    ends = [i for i, t in enumerate(translation.source[:-1]) if t in ".!?"]
    if ends:
        notes.append(f"{len(ends) + 1} sentences: the model was trained on one sentence at a time, "
                     "so translate each on its own")
    return notes


def evaluate(model, corpus, pairs, batch=512):
    """Greedy-decode `pairs`: returns (outputs, exact, resolved) where outputs are
    the Japanese strings, exact[i] says output i is the reference exactly, and
    resolved[i] (for "it" pairs; None otherwise) says the output starts with the
    Japanese word of the referent, as the reference does."""
    outputs = []
    for i in range(0, len(pairs), batch):
        src, _ = corpus.batch(pairs[i:i + batch])
        decoded = model.greedy_decode(src, max_len=DECODE_LEN, bos_id=corpus.tgt_vocab.bos,
                                      eos_id=corpus.tgt_vocab.eos)
        outputs += [" ".join(corpus.tgt_vocab.decode(row)) for row in decoded]
    exact = [out == p.japanese for out, p in zip(outputs, pairs)]
    resolved = [out.split()[:1] == p.japanese.split()[:1] if p.is_it else None
                for out, p in zip(outputs, pairs)]
    return outputs, exact, resolved
