"""One training step of the demo's translator (English → Japanese): tinygrad_tf's
`nn.Transformer` at the demo's default size (`demo.translation.CONFIG`) on one batch
of its corpus, against the same model in PyTorch made by `interop.to_torch`: the same
weights, the same batch, the demo's loss (label-smoothed cross-entropy, padding
ignored), gradient clipping and Adam (`interop.to_torch_optimizer` carries its
settings over). A step is what the demo's training loop does, less the schedule.
"""
import copy

from tinygrad_tf import optim
from tinygrad_tf.nn import functional as F

from .compare import assert_agree
from .harness import Workload, optional_import, ratio_at_most, times_of

LR = 1e-3


def workload():
    from tinygrad_tf.demo import translation
    torch = optional_import("torch")
    run = translation.new_run(seed=0)                       # the demo's model, untrained
    cfg, corpus = run.config, run.corpus
    pairs = [corpus.train[i] for i in translation.batch_indices(run, 1)]   # its first batch
    src, tgt = corpus.batch(pairs)
    pad, smoothing = corpus.tgt_vocab.pad, cfg["label_smoothing"]
    name = (f"demo Transformer EN→JA (d {cfg['d_model']}, h {cfg['n_heads']}, {cfg['n_layers']}+"
            f"{cfg['n_layers']} layers, ff {cfg['d_ff']}, B {len(src)}, T {src.shape[1]}→"
            f"{tgt.shape[1] - 1}), Adam step")
    engines, grads_of, skipped = {}, {}, {}

    def tg_loss(model):
        logits = model(src, tgt[:, :-1])                                   # (B, T, vocab)
        return F.cross_entropy(logits, tgt[:, 1:], ignore_index=pad, label_smoothing=smoothing)

    model = run.model
    opt = translation._optimizer(model)
    opt.lr = LR
    reference = copy.deepcopy(model)          # the check's weights, shared with PyTorch's copy

    def tg_step():
        opt.zero_grad()
        tg_loss(model).backward()
        optim.clip_grad_norm_(model.parameters(), cfg["clip"])
        opt.step()

    def tg_grads():
        reference.zero_grad()
        loss = tg_loss(reference)
        loss.backward()
        return [loss.item()] + [p.grad for _, p in sorted(reference.named_parameters())]

    engines["tinygrad_tf"], grads_of["tinygrad_tf"] = tg_step, tg_grads
    if torch is None:
        skipped["torch"] = "not installed"
    else:
        from tinygrad_tf import interop
        t_model = interop.to_torch(model)
        t_opt = interop.to_torch_optimizer(opt, t_model)
        t_src, t_tgt = torch.from_numpy(src), torch.from_numpy(tgt)

        def torch_loss(m):
            logits = m(t_src, t_tgt[:, :-1])
            return torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), t_tgt[:, 1:].reshape(-1), ignore_index=pad,
                label_smoothing=smoothing)

        def torch_step():
            t_opt.zero_grad()
            torch_loss(t_model).backward()
            torch.nn.utils.clip_grad_norm_(t_model.parameters(), cfg["clip"])
            t_opt.step()

        def torch_grads():
            m = interop.to_torch(reference)
            loss = torch_loss(m)
            loss.backward()
            as_weights = copy.deepcopy(m)              # a copy whose weights are the gradients,
            with torch.no_grad():                      # read back under our names by from_torch
                for p, g in zip(m.parameters(), as_weights.parameters()):
                    g.copy_(p.grad)
            ours = interop.from_torch(as_weights)
            return [loss.item()] + [p.data for _, p in sorted(ours.named_parameters())]

        engines["torch"], grads_of["torch"] = torch_step, torch_grads

    def verify():
        return assert_agree({engine: fn() for engine, fn in grads_of.items()}, 2e-3)

    return Workload(name, engines, verify, skipped=skipped,
                    targets=[("≤ torch's time", ratio_at_most("torch", 1.0, times_of("torch")))],
                    note="the demo's step: label-smoothed cross-entropy (padding ignored), "
                         "backward, clip_grad_norm_, Adam; both engines at the machine's thread count.")
