"""The elementwise thread pool: the fused ops' blocks and Adam's update on several threads.

NumPy's ufuncs let go of Python's lock (the GIL) while they loop over an array, so
the blocks of one elementwise formula (GELU, the masked softmax, softmax cross-entropy,
Adam) can run at the same time on several threads. `run` hands the
blocks of one array to a small pool of persistent threads, the calling thread being
one of them; `tg.set_num_threads(n)` sets BLAS's threads and the pool's together.

The pool is 1 thread (no helper: every block on the calling thread) until
`tg.set_num_threads(n)` asks for more, because on the 2-vCPU VM this was measured on
it cost time instead of saving it (benchmarks/README.md has the numbers; `python -m
benchmarks --pool` measures again): OpenBLAS's worker thread spins for ~100 ms after
each threaded product without yielding the core, so a helper thread shares the second
core with it, and each block's ~20 short NumPy calls hand the GIL back and forth
between the two threads. GELU on 0.5-4 M values took 1.01-1.07× as long at 2 threads,
the LM step 1.05-1.06×, the large encoder step 1.035×.

The pool's size changes no bit of any result: the blocks are cut from the array's
shape alone (`large`, below, decides with no regard to the pool), each block is worked
out the same way whichever thread takes it, and no block reads what another writes.
tests/test_threads.py compares gradients at pool sizes 1 and 2, bit for bit.
"""
import os
import queue
import threading

# An array of fewer elements is worked on by the calling thread alone, in one piece
# (as with a pool of 1). Measured (`python -m benchmarks --pool`, 2026-12-07, a busy
# 2-core VM, load ~3): 2 threads ÷ 1 was 0.92-1.41 on 16k-133k values (LayerNorm,
# cross-entropy, Adam, attention's products cost 5-40% more) and 0.98-1.00 for GELU on
# 262k-524k. On the quiet machine (others 0.01 cores) it paid at no size either: GELU
# 0.5-4 M values 0.91-1.07, the masked softmax 0.5-2 M 0.99-1.05, q·kᵀ 0.5-2 M 1.07-1.09.
MIN_ELEMENTS = 1 << 18

_pool = {"size": 1, "inboxes": []}      # its size (1: no helper), each helper thread's inbox
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
    todo, done = iter(jobs), queue.SimpleQueue()   # (next() on todo: one step under the GIL)
    inboxes = _inboxes(helpers)
    for inbox in inboxes:
        inbox.put((work, todo, done))
    try:
        work(todo)
    finally:                            # every helper is done before the caller moves on
        errors = [done.get() for _ in inboxes]
    for error in errors:
        if error is not None:
            raise error


def size():
    """The pool's size: threads that work on one array's blocks, the caller's included."""
    return _pool["size"]


def set_num_threads(n):
    """`tg.set_num_threads(n)`: BLAS's threads (every BLAS NumPy and SciPy loaded, via
    threadpoolctl) and the elementwise pool's, together. 1: one core, as NumPy alone.
    (Until it is called the pool is 1 thread and BLAS as the machine set it: the module
    docstring of tinygrad_tf/core/threads.py says why.)"""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: n must be an int >= 1, got {n!r}")
    from threadpoolctl import threadpool_limits  # (not on `import tinygrad_tf`)
    threadpool_limits(limits=n, user_api="blas")
    _resize(n)


def _resize(n):
    """The pool alone at n threads (BLAS's left as they are: tests compare pool sizes)."""
    _pool["size"] = n


def _inboxes(n):
    """The inboxes of n helper threads, started on first need; they wait for work forever."""
    with _lock:
        while len(_pool["inboxes"]) < n:
            inbox = queue.SimpleQueue()
            threading.Thread(target=_serve, args=(inbox,), daemon=True,
                             name=f"tinygrad_tf pool {len(_pool['inboxes']) + 1}").start()
            _pool["inboxes"].append(inbox)
        return _pool["inboxes"][:n]


def _serve(inbox):
    """A helper thread: work(todo) for each (work, todo, done) it is sent; puts the error or
    None into `done`."""
    while True:
        work, todo, done = inbox.get()
        try:
            work(todo)
        except Exception as error:
            done.put(error)
        else:
            done.put(None)


def _forget_after_fork():
    """A forked child has none of the parent's threads: it starts helpers of its own."""
    global _lock
    _pool["inboxes"], _lock = [], threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)
