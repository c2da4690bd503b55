"""The elementwise thread pool: the fused ops' blocks and Adam's update on every core.

NumPy's ufuncs let go of Python's lock (the GIL) while they loop over an array, so
the blocks of one elementwise formula (GELU, the masked softmax, LayerNorm, softmax
cross-entropy, Adam) can run at the same time on several threads. Their matrix
products already do: BLAS has its own threads. `run` hands the blocks of one array to
a small pool of persistent threads, as many as BLAS has (threadpoolctl's count, read
on first use), the calling thread being one of them; `tg.set_num_threads(n)` sets both.

The pool's size changes no bit of any result: the blocks are cut from the array's
shape alone (`large`, below, decides with no regard to the pool), each block is worked
out the same way whichever thread takes it, and no block reads what another writes.
tests/test_threads.py compares gradients at pool sizes 1 and 2, bit for bit.
"""
import os
import threading
from concurrent.futures import ThreadPoolExecutor

# An array of fewer elements is worked on by the calling thread alone, in one piece
# (as with a pool of 1): handing blocks to another thread costs ~30-60 µs (waking it,
# and the two threads taking turns at the GIL between NumPy calls), more than half of
# such an array's work. Measured: benchmarks/README.md, the elementwise pool's rows.
MIN_ELEMENTS = 1 << 16

_pool = {"size": None, "executor": None}     # the pool's size (None: not read yet), its other threads
_lock = threading.Lock()


def large(elements):
    """Whether an array of `elements` values is cut into blocks for the pool. A decision
    on the size alone, never on the pool's: the same blocks at every pool size."""
    return elements >= MIN_ELEMENTS


def run(work, jobs, elements):
    """work(todo) on this thread and, when the array of `elements` values is `large` and
    there are several jobs, at the same time on the pool's other threads: all of them
    share one iterator `todo` over `jobs`, each taking the next job as it is done with
    one. With a pool of 1 (or a small array) this is just work(iter(jobs)).
    `work` writes its results into arrays of the caller's (each job its own part)."""
    jobs = list(jobs)
    helpers = min(size(), len(jobs)) - 1
    if helpers < 1 or not large(elements):
        work(iter(jobs))
        return
    todo = iter(jobs)                  # next() on it is one step under the GIL: no job twice
    executor = _executor()
    futures = [executor.submit(work, todo) for _ in range(helpers)]
    try:
        work(todo)
    finally:
        for f in futures:              # (all of them, even after an error here: no thread
            f.result()                 # may still be writing when the caller moves on)


def size():
    """The pool's size: threads that work on one array's blocks, the caller's included."""
    if _pool["size"] is None:
        _pool["size"] = _blas_threads()
    return _pool["size"]


def set_num_threads(n):
    """`tg.set_num_threads(n)`: BLAS's threads (every BLAS NumPy and SciPy loaded, via
    threadpoolctl) and the elementwise pool's, together. 1: one core, as NumPy alone."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: n must be an int >= 1, got {n!r}")
    from threadpoolctl import threadpool_limits  # (not on `import tinygrad_tf`)
    threadpool_limits(limits=n, user_api="blas")
    _resize(n)


def _resize(n):
    """The pool alone at n threads (BLAS's left as they are: tests compare pool sizes)."""
    with _lock:
        old, _pool["executor"] = _pool["executor"], None
        _pool["size"] = n
    if old is not None:
        old.shutdown(wait=True)


def _blas_threads():
    """The most threads any loaded BLAS uses (threadpoolctl), at most the cores."""
    from threadpoolctl import threadpool_info
    counts = [p["num_threads"] for p in threadpool_info() if p.get("user_api") == "blas"]
    return max(1, min(max(counts, default=1), os.cpu_count() or 1))


def _executor():
    with _lock:
        if _pool["executor"] is None:
            _pool["executor"] = ThreadPoolExecutor(size() - 1, thread_name_prefix="tinygrad_tf")
        return _pool["executor"]


def _forget_after_fork():
    """A forked child has none of the parent's threads: it starts a pool of its own."""
    global _lock
    _pool["executor"], _lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)
