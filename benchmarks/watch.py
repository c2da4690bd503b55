"""What `tg.watch` costs a training step: the demo's training (batch 64) with and
without its recorder (`demo.app.watch_training`: a 16-sentence probe run forward and
backward under a trace, the 猫 → "cat" cell, five attention maps, three relations) at
`every=10`.

    python -m benchmarks.watch [--blocks 12] [--every 10]

Two identical runs (same seed, same batches) take turns in one process, ten steps at
a time (A B, B A, A B, …; one thread, `tg.set_num_threads(1)`; garbage collected
untimed before each block), so both see the same machine load. Reported: the median
CPU time (process time) and wall time of a step without and with the recorder, and the
median of the per-pair ratios, the overhead. The recorder's budget is 10 % of a step.

Measured 2026-12-07 on the shared 2-core VM (other engineers' tests running, load
average 6-7), three runs of `--blocks 30`: 31.6 / 36.9 / 31.7 ms of CPU per step
without, overhead +7.4 / +2.4 / +5.5 % of CPU time (+8.7 / +2.7 / +5.5 % of wall time).
"""
import argparse
import gc
import statistics
import time


def block(run, steps, first):
    """`steps` training steps of `run` from step `first` (the demo's loop, as
    translation.train runs it); returns (process seconds, wall seconds)."""
    from tinygrad_tf import optim
    from tinygrad_tf.demo import translation as T
    cfg, model, opt = run.config, run.model, run.optimizer
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    for step in range(first, first + steps):
        pairs = [run.corpus.train[i] for i in T.batch_indices(run, step)]
        loss = T.loss_on(model, run.corpus, pairs, cfg["label_smoothing"])
        loss.backward()
        if run.recorder is not None:
            run.recorder.step(loss)
        optim.clip_grad_norm_(model.parameters(), cfg["clip"])
        opt.step()
        run.sched.step()
        opt.zero_grad()
    return time.process_time() - cpu, time.perf_counter() - wall


def measure(blocks=12, every=10):
    from tinygrad_tf import optim
    from tinygrad_tf.demo import app
    from tinygrad_tf.demo import translation as T
    runs = []
    for watched in (False, True):
        run = T.new_run(0)
        run.sched = optim.NoamSchedule(run.optimizer, run.config["d_model"], run.config["warmup"],
                                       run.config["lr_factor"])
        run.recorder = app.watch_training(run, every=every) if watched else None
        run.model.train()
        runs.append(run)
    block(runs[0], 2, 1)                          # warm up both (step numbers 1, 2 then go on)
    block(runs[1], 2, 1)
    times = {False: [], True: []}
    first = 3
    for k in range(blocks):
        for run in (runs if k % 2 == 0 else runs[::-1]):       # A B, then B A: neither always first
            times[run.recorder is not None].append(block(run, every, first))
        first += every
    plain, watched = times[False], times[True]
    ratio_cpu = statistics.median(w[0] / p[0] for p, w in zip(plain, watched))
    ratio_wall = statistics.median(w[1] / p[1] for p, w in zip(plain, watched))
    return dict(every=every, blocks=blocks, recorded=len(runs[1].recorder.steps),
                plain_cpu=statistics.median(p[0] for p in plain) / every,
                watched_cpu=statistics.median(w[0] for w in watched) / every,
                plain_wall=statistics.median(p[1] for p in plain) / every,
                watched_wall=statistics.median(w[1] for w in watched) / every,
                overhead_cpu=ratio_cpu - 1, overhead_wall=ratio_wall - 1)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.watch", description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=12, help="blocks of `every` steps per run (default 12)")
    parser.add_argument("--every", type=int, default=10, help="the recorder's every (default 10)")
    args = parser.parse_args(argv)
    import tinygrad_tf as tg
    tg.set_num_threads(1)                  # one core: BLAS and the engine's elementwise pool
    r = measure(args.blocks, args.every)
    print(f"demo training step, batch 64, tg.watch every={r['every']} ({r['recorded']} steps recorded, "
          f"{r['blocks']} blocks of {r['every']} steps each, taking turns)")
    print(f"  CPU per step:  {1e3 * r['plain_cpu']:.1f} ms without, {1e3 * r['watched_cpu']:.1f} ms with; "
          f"overhead (median of block ratios) {100 * r['overhead_cpu']:+.1f} %")
    print(f"  wall per step: {1e3 * r['plain_wall']:.1f} ms without, {1e3 * r['watched_wall']:.1f} ms with; "
          f"overhead {100 * r['overhead_wall']:+.1f} %")
    return r


if __name__ == "__main__":
    main()
