"""Where a tinygrad_tf step spends its time: per op, forward vs backward vs overhead.

    python -m benchmarks --profile            # a base encoder step (post-LN)
    python -m benchmarks --profile encoder-large   # the large one, and its share of the GEMM rate
    python -m benchmarks --profile lm         # a TransformerLM training step
    python -m benchmarks --profile chain      # the per-op overhead chain
    python -m benchmarks --profile mlp        # the 784→256→256→10 MLP step

Every op class's `forward` and `backward` is wrapped, for the run only, with a
timer keyed by the op's name, and so are the engine's `topological_order` and
`unbroadcast`, and `Tensor._accumulate` (a leaf's gradient into `.grad`). What
is left of the step's wall time is overhead: making Tensors, recording the
graph, module calls and scopes in forward; the backward loop, gradient sums and
freeing in backward. A cProfile of the same steps then names the Python
functions that hold the most time of their own. For the large encoder it also
says how far the step is from NumPy's GEMM rate: the row's target.
"""
import cProfile
import pstats
import time
from collections import defaultdict
from contextlib import contextmanager

from tinygrad_tf import nn
from tinygrad_tf.core import engine, ops
from tinygrad_tf.core.tensor import Tensor

from . import chain, encoder, harness, lm, mlp


def _op_classes():
    found, todo = [], [ops.Op]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


@contextmanager
def timed_ops(stats):
    """Wrap every op's forward/backward (and two engine functions) with timers that add
    into stats[(name, "forward" | "backward")] = [calls, seconds]; undone on exit."""
    undo = []

    def wrap(owner, attr, key_of):
        original = owner.__dict__[attr]

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                entry = stats[key_of(args)]
                entry[0] += 1
                entry[1] += time.perf_counter() - start

        setattr(owner, attr, timed)
        undo.append((owner, attr, original))

    for cls in _op_classes():
        for phase in ("forward", "backward"):
            if phase in cls.__dict__:
                wrap(cls, phase, lambda args, phase=phase: (args[0].name, phase))
    wrap(engine, "topological_order", lambda args: ("(topological order)", "backward"))
    wrap(engine, "unbroadcast", lambda args: ("(unbroadcast)", "backward"))
    wrap(Tensor, "_accumulate", lambda args: ("(accumulate into .grad)", "backward"))
    try:
        yield stats
    finally:
        for owner, attr, original in reversed(undo):
            setattr(owner, attr, original)


def encoder_step(norm_first=False, size="base"):
    """(forward, backward) closures of an encoder step, as the benchmark runs it."""
    import tinygrad_tf as tg
    d, h, d_ff, seq, batch = encoder.SIZES[size]
    block = nn.EncoderBlock(d, h, d_ff, activation="relu", norm_first=norm_first)
    x, dy = encoder.inputs(d, seq, batch)
    tx = tg.Tensor(x, requires_grad=True)
    out = {}

    def forward():
        block.zero_grad()
        out["y"] = block(tx)

    def backward():
        out.pop("y").backward(dy)

    return forward, backward


def lm_step():
    from tinygrad_tf import optim
    model = nn.TransformerLM(lm.VOCAB, lm.D_MODEL, lm.N_HEADS, lm.N_LAYERS, lm.D_FF)
    opt = optim.Adam(model.parameters(), lr=lm.LR)
    tokens, targets = lm.token_batch()
    out = {}

    def forward():
        opt.zero_grad()
        out["loss"] = nn.functional.cross_entropy(model(tokens), targets)

    def backward():
        out.pop("loss").backward()

    return forward, backward, opt.step


def chain_step():
    import tinygrad_tf as tg
    out = {}

    def forward():
        x = tg.Tensor(chain.X0, requires_grad=True)
        out["y"] = chain.chain(x)

    def backward():
        out.pop("y").backward()

    return forward, backward


def mlp_step():
    import tinygrad_tf as tg
    params = [tg.Tensor(p, requires_grad=True) for p in mlp.init_params()]
    x, onehot = (tg.Tensor(a) for a in mlp.batch())
    out = {}

    def forward():
        for p in params:
            p.grad = None
        out["loss"] = mlp.tensor_loss(params, x, onehot)

    def backward():
        out.pop("loss").backward()

    def update():
        mlp.sgd([p.data for p in params], [p.grad for p in params])

    return forward, backward, update


def profile(forward, backward, update=None, steps=5):
    """Per-op table rows and the wall times of forward, backward (and the optimizer's
    update, if there is one), per step in ms."""
    phases = [("forward", forward), ("backward", backward)] + ([("update", update)] if update else [])
    for _, fn in phases:                               # warm up
        fn()
    stats = defaultdict(lambda: [0, 0.0])
    wall = dict.fromkeys(dict(phases), 0.0)
    with timed_ops(stats):
        for _ in range(steps):
            for phase, fn in phases:
                start = time.perf_counter()
                fn()
                wall[phase] += time.perf_counter() - start
    per_op = defaultdict(lambda: {"calls": 0, "forward": 0.0, "backward": 0.0})
    for (name, phase), (calls, seconds) in stats.items():
        per_op[name][phase] += 1e3 * seconds / steps
        if phase == "forward" or name.startswith("("):
            per_op[name]["calls"] += calls // steps
    wall = {k: 1e3 * v / steps for k, v in wall.items()}
    return dict(per_op), wall


def table(per_op, wall):
    total = sum(wall.values())
    rows = sorted(per_op.items(), key=lambda kv: -(kv[1]["forward"] + kv[1]["backward"]))
    in_ops = {ph: sum(r[ph] for _, r in rows) for ph in ("forward", "backward")}
    rows.append(("(overhead: everything else)", {
        "calls": 0, "forward": wall["forward"] - in_ops["forward"],
        "backward": wall["backward"] - in_ops["backward"]}))
    lines = [f"{'op':<28} {'calls':>6} {'forward ms':>11} {'backward ms':>12} {'total ms':>9} {'share':>6}",
             "-" * 77]
    for name, r in rows:
        t = r["forward"] + r["backward"]
        lines.append(f"{name:<28} {r['calls'] or '':>6} {r['forward']:>11.2f} {r['backward']:>12.2f} "
                     f"{t:>9.2f} {100 * t / total:>5.1f}%")
    if "update" in wall:
        lines.append(f"{'(optimizer update)':<28} {'':>6} {'':>11} {'':>12} {wall['update']:>9.2f} "
                     f"{100 * wall['update'] / total:>5.1f}%")
    lines.append("-" * 77)
    lines.append(f"{'step (wall, timers on)':<28} {'':>6} {wall['forward']:>11.2f} "
                 f"{wall['backward']:>12.2f} {total:>9.2f} {100.0:>5.1f}%")
    return "\n".join(lines)


def top_functions(phases, steps=3, n=15):
    """cProfile of the same steps: the functions with the most time of their own."""
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(steps):
        for fn in phases:
            fn()
    prof.disable()
    st = pstats.Stats(prof)
    rows = sorted(st.stats.items(), key=lambda kv: -kv[1][2])[:n]    # by own (total) time
    lines = [f"{'own ms/step':>11} {'calls/step':>10}  function", "-" * 77]
    for (path, line, func), (_, calls, own, _cum, _) in rows:
        where = f"{path.split('site-packages/')[-1].split('/work/main/')[-1]}:{line}"
        lines.append(f"{1e3 * own / steps:>11.2f} {calls // steps:>10}  {func} ({where})")
    return "\n".join(lines)


def gemm_share(phases, size, steps=5):
    """How a whole encoder step (timers off, the fastest of `steps`) compares with
    NumPy's GEMM rate measured now, as the suite's large-encoder target does."""
    d, h, d_ff, seq, batch = encoder.SIZES[size]
    flops = encoder.flops(d, d_ff, seq, batch)
    best = float("inf")
    for _ in range(steps):
        start = time.perf_counter()
        for fn in phases:
            fn()
        best = min(best, time.perf_counter() - start)
    rate = harness.gemm_rate(steps, log=lambda *_: None)
    gemm_ms, step_ms = 1e3 * flops / rate / 1e9, 1e3 * best
    return (f"matrix products: {flops / 1e9:.1f} GFLOP, {gemm_ms:.0f} ms at NumPy's GEMM rate now "
            f"({rate:.0f} GFLOP/s).\nThe step (timers off, fastest of {steps}): {step_ms:.0f} ms, "
            f"{100 * gemm_ms / step_ms:.0f}% of that rate: {step_ms - gemm_ms:.0f} ms of it is not GEMM "
            "at that rate.")


def _encoder_title(size):
    d, h, d_ff, seq, batch = encoder.SIZES[size]
    return f"{size} encoder step, post-LN (d {d}, h {h}, ff {d_ff}, T {seq}, B {batch})"


def main(what="encoder"):
    nn.manual_seed(0)                       # the same initial weights every run
    title, make = {
        "encoder": (_encoder_title("base"), encoder_step),
        "encoder-large": (_encoder_title("large"), lambda: encoder_step(size="large")),
        "lm": ("TransformerLM training step (Adam)", lm_step),
        "mlp": ("MLP 784→256→256→10 SGD step", mlp_step),
        "chain": (f"chain of {chain.N_OPS:,} tiny adds", chain_step),
    }[what]
    phases = [fn for fn in make() if fn is not None]
    per_op, wall = profile(*phases)
    print(f"tinygrad_tf: where a {title} spends its time (ms per step)\n")
    print(table(per_op, wall))
    print("\nPython functions with the most time of their own (cProfile, which slows Python code):\n")
    print(top_functions(phases))
    if what == "encoder-large":
        print("\n" + gemm_share(phases, "large"))
