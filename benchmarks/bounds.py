"""Where two rows' ratios come from, measured rather than guessed:

    python -m benchmarks --bounds              # both tables, at the machine's thread count
    python -m benchmarks --bounds --repeats 30

1. The TransformerLM step against PyTorch's: the tinygrad_tf, torch and hand NumPy steps,
   and the 51 matrix products of our step alone (its 39 Linear GEMMs and attention's 12
   stacked products, on the step's shapes), in NumPy and in torch on the same arrays, all
   taking turns in one process. Each is shown ÷ torch's whole step: the products are the
   part no engine on NumPy can make faster, the rest of our step is what is left to cut.
2. The MLP step ÷ hand NumPy with different engines taking turns between them: the same
   code, only the neighbours change.

Wall time, medians; run it on a quiet machine (others' load is printed).
"""
import statistics

import numpy as np

from . import lm, mlp
from .harness import CpuShare, optional_import, time_samples


def lm_products(module, rng):
    """[(a, b)] of one LM step's products, as `module` (numpy or torch) multiplies them:
    per layer the 4 projections, the 2 FFN layers, q·kᵀ and weights·v forward, the two
    gradients of each, and the head's; arrays of the step's shapes, random float32."""
    def f(*shape):
        a = rng.standard_normal(shape, dtype=np.float32)
        return a if module is np else module.from_numpy(a)

    def t(a):                                   # a transposed view, as the engines take it
        return a.T if a.ndim == 2 else a.swapaxes(-1, -2)

    rows, d, ff, heads, dh, seq, batch = lm.SEQ * lm.BATCH, lm.D_MODEL, lm.D_FF, lm.N_HEADS, \
        lm.D_MODEL // lm.N_HEADS, lm.SEQ, lm.BATCH
    x, h, g, gh, gv = f(rows, d), f(rows, ff), f(rows, d), f(rows, ff), f(rows, lm.VOCAB)
    w, w_up, w_down, w_head = f(d, d), f(ff, d), f(d, ff), f(lm.VOCAB, d)
    q, k, p = f(batch, heads, seq, dh), f(batch, heads, seq, dh), f(batch, heads, seq, seq)
    layer = ([(x, t(w))] * 4 + [(x, t(w_up)), (h, t(w_down))]               # forward
             + [(g, w), (t(g), x)] * 4 + [(gh, w_up), (t(gh), x), (g, w_down), (t(g), h)]
             + [(q, t(k)), (p, k)]                                           # attention forward
             + [(q, t(k)), (t(p), q), (p, k), (t(q), p)])                    # and its gradients
    return layer * lm.N_LAYERS + [(x, t(w_head)), (gv, w_head), (t(gv), x)]


def _medians(cases, repeats, log):
    """Median wall seconds of each case, taking turns (A B C, A B C, ...), after one warm-up."""
    for step in cases.values():
        step()
    load = CpuShare()
    times = time_samples(cases, repeats)
    log(f"({repeats} rounds; other processes used {load.others() or 0.0:.2f} cores meanwhile)")
    return {name: statistics.median(t) for name, t in times.items()}


def lm_table(repeats, log=print):
    torch = optional_import("torch")
    if torch is None:
        log("the LM table needs PyTorch: not installed")
        return None
    engines = lm.workload().engines
    rng = np.random.default_rng(0)
    products = {"numpy": lm_products(np, rng), "torch": lm_products(torch, rng)}

    def multiply(pairs):
        def run():
            for a, b in pairs:
                a @ b
        return run

    cases = {"tinygrad_tf step": engines["tinygrad_tf"], "torch step": engines["torch"],
             "hand NumPy step": engines["numpy"]}
    for lib, pairs in products.items():
        cases[f"{lib}: 39 Linear GEMMs"] = multiply([ab for ab in pairs if ab[0].ndim == 2])
        cases[f"{lib}: 12 attention products"] = multiply([ab for ab in pairs if ab[0].ndim == 4])
    log(f"\n{lm.NAME}: each ÷ torch's whole step")
    m = _medians(cases, repeats, log)
    for name, seconds in m.items():
        log(f"  {name:32s} {seconds * 1e3:8.2f} ms  {seconds / m['torch step']:5.2f}")
    ours, torch_step = m["numpy: 39 Linear GEMMs"] + m["numpy: 12 attention products"], m["torch step"]
    rest = m["tinygrad_tf step"] - ours
    log(f"  our step less its products (NumPy): {rest * 1e3:.2f} ms = {rest / torch_step:.2f} of torch's "
        f"step; for ≤ 1.0 it would have to be ≤ {(torch_step - ours) / torch_step:.2f}")
    return m


def mlp_table(repeats, log=print):
    engines = mlp.workload().engines
    orders = [("tinygrad_tf", "torch", "autograd", "numpy"), ("tinygrad_tf", "autograd", "numpy"),
              ("tinygrad_tf", "numpy")]
    log("\nMLP step, tinygrad_tf ÷ hand NumPy, by which engines take turns with them")
    out = {}
    for order in orders:
        order = tuple(e for e in order if e in engines)
        m = _medians({e: engines[e] for e in order}, repeats, log)
        out[order] = m["tinygrad_tf"] / m["numpy"]
        log(f"  {', '.join(order):40s} tinygrad_tf {m['tinygrad_tf'] * 1e3:.3f} ms, hand NumPy "
            f"{m['numpy'] * 1e3:.3f} ms: {out[order]:.3f}")
    return out


def main(repeats=None, log=print):
    lm_table(repeats or 15, log)
    mlp_table(10 * (repeats or 15), log)
