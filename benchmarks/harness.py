"""The measuring side of the suite: timing, memory, the machine, and the report.

A workload is a handful of engines, each a zero-argument `step()` that does one
whole unit of work (forward, backward, and an update where the workload has one).
Before anything is timed, `verify()` runs every engine once and asserts that they
agree on the gradients; a workload that disagrees is reported, never timed.

Timing interleaves the engines (A B C, A B C, ...) so that a noisy neighbour on
this shared machine slows them all alike, and reports the median of the repeats.
Only NumPy, the standard library and the peers themselves are used.
"""
import gc
import importlib
import importlib.metadata
import json
import os
import platform
import statistics
import time
import tracemalloc
from dataclasses import dataclass, field

import numpy as np

ENGINE_ORDER = ("tinygrad_tf", "torch", "autograd", "micrograd", "numpy", "fast")   # fast: tinygrad_tf
                                                          # outside tg.plain() (the plain row's peer)


@dataclass
class Workload:
    name: str                       # "encoder base, post-LN"
    engines: dict                   # engine name -> step(): one unit of work
    verify: object                  # () -> max relative difference of gradients across engines
    unit: str = "ms"                # "ms" per step, or "µs/op"
    per: int = 1                    # a step counts as `per` units (10,000 ops in the chain)
    flops: float = 0.0              # floating-point operations in one step (0: not reported)
    targets: list = field(default_factory=list)   # [(label, check(row) -> (ok, shown))];
                                                  # ok is None when a peer it needs was skipped
    skipped: dict = field(default_factory=dict)   # engine -> why it did not run
    memory: tuple = ()              # engines whose peak memory is measured
    note: str = ""


def speed(ratio):
    """A time ratio (ours ÷ theirs) in words: "3.2× faster" or "1.4× slower"."""
    return f"{1 / ratio:.1f}× faster" if ratio <= 1 else f"{ratio:.1f}× slower"


def times_of(peer):
    """A ratio as a time target writes it: "1.08× torch's time"."""
    return lambda r: f"{r:.2f}× {peer}'s time"


def ratio_at_most(peer, limit, shown=speed):
    """A target's check: tinygrad_tf's time ÷ `peer`'s is at most `limit` (ok is None
    when `peer` was skipped); `shown(ratio)` is what the report writes."""
    def check(row):
        r = row["ratio"].get(peer)
        if r is None:
            return None, f"{peer} skipped"
        return r <= limit, shown(r)
    return check


# every tensor workload's
AUTOGRAD_TARGET = ("≥2.5× faster than autograd", ratio_at_most("autograd", 1 / 2.5))


def optional_import(name):
    """The module, or None when this peer is not installed (or fails to import)."""
    try:
        return importlib.import_module(name)
    except Exception:                      # a broken peer is skipped like a missing one
        return None


def time_samples(engines, repeats):
    """Seconds of each timed step, engine -> [repeats samples], the engines taking turns.
    Garbage is collected (untimed) before each step, so that no engine pays for the
    reference cycles another left behind (micrograd leaves a whole graph of them);
    the collector stays on, as users have it, during the step itself."""
    samples = {name: [] for name in engines}
    for _ in range(repeats):
        for name, step in engines.items():
            gc.collect()
            start = time.perf_counter()
            step()
            samples[name].append(time.perf_counter() - start)
    return samples


def quiet_samples(engines, repeats, retries=0, max_load=0.5, pause=10.0, log=print):
    """`time_samples`, taken again (up to `retries` times, `pause` seconds apart) while
    other processes used more than `max_load` cores meanwhile. Returns the samples of
    the quietest attempt, the cores others used then, and the number of attempts."""
    best = None
    for attempt in range(1, retries + 2):
        load = CpuShare()
        samples = time_samples(engines, repeats)
        others = load.others() or 0.0
        if best is None or others < best[1]:
            best = (samples, others, attempt)
        if others <= max_load or attempt > retries:
            break
        log(f"    other processes used {others:.1f} cores: timing again in {pause:.0f} s")
        time.sleep(pause)
    return best[0], best[1], attempt


def peak_memory(step):
    """Peak bytes that Python and NumPy allocate during one step, above what was live
    before it (tracemalloc sees NumPy's arrays; PyTorch's own allocator it does not)."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        step()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def run_workload(w, repeats, log=print, retries=0, pause=10.0):
    """Verify, then time (again while the machine is busy, up to `retries` times), then
    measure memory: one row of the report."""
    row = {"workload": w.name, "unit": w.unit, "skipped": dict(w.skipped), "note": w.note}
    try:
        row["max_grad_diff"] = float(w.verify())
        row["verified"] = True
    except AssertionError as e:
        row["verified"], row["error"] = False, str(e)
        log(f"  {w.name}: gradients DISAGREE, not timed: {e}")
        return row
    scale = 1e6 / w.per if w.unit == "µs/op" else 1e3
    for step in w.engines.values():        # warm up: first calls fill caches and pools
        step()
    samples, row["others_cores"], row["attempts"] = quiet_samples(
        w.engines, repeats, retries, pause=pause, log=log)
    seconds = {name: statistics.median(s) for name, s in samples.items()}
    row["median"] = {name: s * scale for name, s in seconds.items()}
    row["min_max"] = {name: [min(s) * scale, max(s) * scale] for name, s in samples.items()}
    tg = seconds.get("tinygrad_tf")
    row["ratio"] = {name: tg / s for name, s in seconds.items() if tg and name != "tinygrad_tf"}
    if w.flops:
        row["gflops"] = {name: w.flops / s / 1e9 for name, s in seconds.items()}
    row["peak_mb"] = {name: peak_memory(w.engines[name]) / 2**20 for name in w.memory
                      if name in w.engines}
    row["targets"] = []
    for label, check in w.targets:
        ok, shown = check(row)
        row["targets"].append({"target": label, "pass": None if ok is None else bool(ok),
                               "measured": shown})
    shown = ", ".join(f"{n} {v:.4g}" for n, v in row["median"].items())
    log(f"  {w.name} ({w.unit}): {shown}")
    return row


# ------------------------------------------------------------------- the machine

def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_info():
    """NumPy's BLAS as built (numpy.show_config) and as running (threadpoolctl if present)."""
    info = {}
    try:
        config = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        info["blas"] = f"{config.get('name')} {config.get('version')}"
        info["blas_config"] = config.get("openblas configuration", "")
    except Exception as e:                 # the layout of show_config is NumPy's to change
        info["blas"] = f"unknown ({e})"
    threadpoolctl = optional_import("threadpoolctl")
    if threadpoolctl is not None:
        pools = threadpoolctl.threadpool_info()
        info["threadpools"] = [
            {k: p.get(k) for k in ("internal_api", "prefix", "version", "num_threads", "architecture")}
            for p in pools]
        blas = [p for p in pools if p.get("user_api") == "blas" and "numpy" in p.get("filepath", "")]
        if blas:                           # the kernel OpenBLAS picked for this CPU, and its threads
            info["blas_kernel"], info["blas_threads"] = blas[0].get("architecture"), blas[0]["num_threads"]
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                "OMP_WAIT_POLICY"):
        info[var] = os.environ.get(var, "(unset)")
    return info


class CpuShare:
    """How busy the machine was with other processes while we ran: the cores' busy
    time from /proc/stat, less this process's own CPU time, over the wall time."""

    def __init__(self):
        self.start = self._sample()

    @staticmethod
    def _sample():
        try:
            with open("/proc/stat") as f:
                user, nice, system, idle, iowait, irq, softirq, steal = map(int, f.readline().split()[1:9])
        except (OSError, ValueError):
            return None
        busy = (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
        own = os.times()
        return time.perf_counter(), busy, own.user + own.system

    def others(self):
        """Cores' worth of CPU that other processes used (0.0 to the core count), or None."""
        end = self._sample()
        if self.start is None or end is None:
            return None
        wall, busy, own = (e - s for e, s in zip(end, self.start))
        return max(0.0, (busy - own) / wall)


def machine_info():
    torch = optional_import("torch")
    info = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": f"{torch.__version__} ({torch.get_num_threads()} threads)" if torch else "not installed",
    }
    for peer in ("autograd", "micrograd"):
        try:
            info[peer] = importlib.metadata.version(peer)
        except importlib.metadata.PackageNotFoundError:
            info[peer] = "not installed"
    info.update(blas_info())
    return info


def gemm_rate(repeats, n=1024, k=512, m=2048, retries=0, pause=10.0, log=print):
    """NumPy's own float32 matrix-multiply rate (GFLOP/s), on the large encoder's FFN
    shape: the ceiling any NumPy engine can reach on this machine."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, k), dtype=np.float32)
    b = rng.standard_normal((k, m), dtype=np.float32)
    a @ b                                                  # warm up
    samples, _, _ = quiet_samples({"gemm": lambda: a @ b}, repeats, retries, pause=pause, log=log)
    return 2 * n * k * m / statistics.median(samples["gemm"]) / 1e9


# -------------------------------------------------------------------- the report

def _fmt(x):
    if x is None:
        return "—"
    return f"{x:.3g}" if x < 100 else f"{x:,.0f}"


VERDICT = {True: "pass", False: "**MISS**", None: "n/a"}


def _short(engine):
    return "tg" if engine == "tinygrad_tf" else engine


def markdown(report):
    m = report["machine"]
    lines = [
        "# tinygrad_tf benchmarks",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores; Python {m['python']}, NumPy {m['numpy']} "
        f"with {m.get('blas')}, running the {m.get('blas_kernel', '?')} kernel on "
        f"{m.get('blas_threads', '?')} threads (OPENBLAS_CORETYPE={m['OPENBLAS_CORETYPE']}, "
        f"OPENBLAS_L2_SIZE={m['OPENBLAS_L2_SIZE']}); PyTorch {m['torch']}, "
        f"OMP_WAIT_POLICY={m['OMP_WAIT_POLICY']}; autograd {m.get('autograd')}, micrograd "
        f"{m.get('micrograd')}. NumPy float32 GEMM: {report['gemm_gflops']:.1f} GFLOP/s.",
        "",
        f"{report['mode']} run, {report['repeats']} repeats, medians, engines interleaved; "
        f"{report['date']}. Ratio = tinygrad_tf's time ÷ the peer's (below 1: tinygrad_tf "
        "is faster). Every row's gradients were first checked to agree across engines. "
        "Peak MB: tracemalloc's peak during one step (NumPy arrays and Python objects). "
        "Others' load: cores' worth of CPU other processes used while the row was timed "
        f"(of {m['cores']}); the higher it is, the noisier the row.",
        "",
    ]
    engines = [e for e in ENGINE_ORDER if any(e in r.get("median", {}) for r in report["rows"])]
    peers = [e for e in engines if e != "tinygrad_tf"]
    head = (["workload", "unit"] + engines + [f"÷ {p}" for p in peers]
            + ["GFLOP/s", "peak MB", "others' load", "targets"])
    lines += ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in report["rows"]:
        if not r.get("verified"):
            cells = [r["workload"], r["unit"]] + ["—"] * (len(head) - 3) + [
                f"NOT VERIFIED: {r.get('error', '')[:80]}"]
            lines.append("| " + " | ".join(cells) + " |")
            continue
        med, ratio = r["median"], r["ratio"]
        cells = [r["workload"], r["unit"]]
        cells += [_fmt(med[e]) if e in med else "skipped" if e in r["skipped"] else "" for e in engines]
        cells += [f"{ratio[p]:.2f}" if p in ratio else "" for p in peers]
        cells.append(", ".join(f"{_short(e)} {_fmt(r['gflops'][e])}" for e in ("tinygrad_tf", "numpy")
                               if e in r.get("gflops", {})))
        cells.append(", ".join(f"{_short(e)} {_fmt(v)}" for e, v in r.get("peak_mb", {}).items()))
        others = r.get("others_cores")
        cells.append("" if others is None else f"{others:.1f} cores")
        cells.append("; ".join(f"{t['target']}: {VERDICT[t['pass']]} ({t['measured']})"
                               for t in r["targets"]))
        lines.append("| " + " | ".join(cells) + " |")
    skipped = sorted({f"{e} ({why})" for r in report["rows"] for e, why in r["skipped"].items()})
    if skipped:
        lines += ["", "Skipped: " + "; ".join(skipped) + "."]
    notes = [f"{r['workload']}: {r['note']}" for r in report["rows"] if r.get("note")]
    if notes:
        lines += [""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def write_report(report, out_dir):
    """latest.md and latest.json in `out_dir`, each written whole then renamed."""
    os.makedirs(out_dir, exist_ok=True)
    paths = {}
    for name, text in (("latest.md", markdown(report)),
                       ("latest.json", json.dumps(report, indent=2, ensure_ascii=False) + "\n")):
        path = os.path.join(out_dir, name)
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(path + ".tmp", path)
        paths[name] = path
    return paths
