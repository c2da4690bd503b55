"""The suite: which workloads run in which mode, and the report they make."""
import os
import time

from . import chain, encoder, harness, lm, mlp, scalar_mlp, translator

RESULTS = os.path.join(os.path.dirname(__file__), "results")

MODES = {   # timed repeats; encoder sizes; ops in the chain; timing again while others are busy
    "full": dict(repeats=9, sizes=("small", "base", "large"), chain_ops=chain.N_OPS,
                 retries=3, pause=15.0),
    "quick": dict(repeats=3, sizes=("small", "base"), chain_ops=chain.N_OPS, retries=1, pause=5.0),
    "smoke": dict(repeats=1, sizes=("small",), chain_ops=1_000, retries=0, pause=0.0),  # the test's
}


def workloads(mode):
    m = MODES[mode]
    yield chain.workload(m["chain_ops"])
    yield scalar_mlp.workload()
    yield mlp.workload()
    for size in m["sizes"]:
        for norm_first in (False, True):
            yield encoder.workload(size, norm_first)
    yield lm.workload()
    yield lm.plain_workload()
    yield translator.workload()


def memory_target(rows):
    """Peak memory of a base encoder step, tinygrad_tf against hand NumPy (post-LN row)."""
    for r in rows:
        mem = r.get("peak_mb", {})
        if r["workload"].startswith("encoder base") and "tinygrad_tf" in mem and "numpy" in mem:
            ratio = mem["tinygrad_tf"] / mem["numpy"]
            r["targets"].append({"target": "peak memory ≤1.3× hand NumPy", "pass": ratio <= 1.3,
                                 "measured": f"{ratio:.2f}× ({mem['tinygrad_tf']:.1f} vs "
                                             f"{mem['numpy']:.1f} MB)"})


def run(mode="full", out_dir=RESULTS, repeats=None, log=print, only=None):
    """Run every workload of `mode` (or those whose name contains `only`), write
    latest.md and latest.json; return the report."""
    m = MODES[mode]
    repeats = repeats or m["repeats"]
    quiet = dict(retries=m["retries"], pause=m["pause"], log=log)
    log(f"benchmarks ({mode}, {repeats} repeats)")
    gemm = harness.gemm_rate(max(repeats, 5), **quiet)
    log(f"  NumPy float32 GEMM: {gemm:.1f} GFLOP/s")
    rows = []
    for w in workloads(mode):
        if only and only not in w.name:
            continue
        rows.append(harness.run_workload(w, repeats, **quiet))
    memory_target(rows)
    report = {
        "mode": mode, "repeats": repeats, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": harness.machine_info(), "gemm_gflops": gemm,
        "all_verified": all(r.get("verified") for r in rows), "rows": rows,
    }
    report["paths"] = harness.write_report(report, out_dir)
    return report


README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")
README_START = "<!-- benchmarks:start (python -m benchmarks --update-readme writes this part) -->"
README_END = "<!-- benchmarks:end -->"


def update_readme(report_md, path=README):
    """Put the report (less its title) between the two markers of README's Benchmarks
    section; the rest of README is left as it is. False when the markers are missing."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if README_START not in text or README_END not in text:
        return False
    before, rest = text.split(README_START, 1)
    after = rest.split(README_END, 1)[1]
    body = report_md.split("\n", 1)[1].strip() if report_md.startswith("# ") else report_md.strip()
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(f"{before}{README_START}\n{body}\n{README_END}{after}")
    os.replace(path + ".tmp", path)
    return True
