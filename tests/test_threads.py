"""The elementwise thread pool (tinygrad_tf/core/threads.py): every job runs once, on
several threads when the array is large, on the caller's alone when it is small; an
error reaches the caller; `tg.set_num_threads` sets BLAS and the pool. And the point
of it all: at a fixed BLAS thread count, the pool's size changes no bit of a training
step (gradients, loss, Adam's update)."""
import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import tinygrad_tf as tg
from tinygrad_tf import nn, optim
from tinygrad_tf.core import fused, threads
from tinygrad_tf.nn import functional as F


@pytest.fixture
def pool():
    """threads._resize: the pool at n threads, BLAS's left alone; its size comes back after."""
    before = threads.size()
    yield threads._resize
    threads._resize(before)


def test_a_large_array_is_shared_by_the_pool_and_every_job_runs_once(pool):
    pool(2)
    both = threading.Barrier(2, timeout=30)      # each thread's first job waits for the other's
    done, names = [], set()

    def work(todo):
        for i, job in enumerate(todo):
            if i == 0:
                both.wait()
            done.append(job)
            names.add(threading.current_thread().name)

    threads.run(work, range(50), threads.MIN_ELEMENTS)
    assert sorted(done) == list(range(50)) and len(names) == 2


def test_a_small_array_stays_on_the_calling_thread(pool):
    pool(2)
    calls = []
    threads.run(lambda todo: calls.append((threading.current_thread(), list(todo))),
                range(5), threads.MIN_ELEMENTS - 1)
    assert calls == [(threading.current_thread(), [0, 1, 2, 3, 4])]
    assert fused.pool_blocks((100, 10)) == [slice(None)]                  # and is not cut
    assert len(fused.pool_blocks((threads.MIN_ELEMENTS // 64, 64))) == threads.MIN_ELEMENTS // fused.BLOCK


def test_an_error_in_a_job_reaches_the_caller_and_the_pool_goes_on(pool):
    pool(2)
    done = []

    def work(todo):
        for job in todo:
            if job == 7:
                raise ValueError("job 7")
            done.append(job)

    with pytest.raises(ValueError, match="job 7"):
        threads.run(work, range(20), threads.MIN_ELEMENTS)
    done.clear()
    threads.run(work, range(7), threads.MIN_ELEMENTS)
    assert sorted(done) == list(range(7))


def test_set_num_threads_sets_blas_and_the_pool(pool):
    with threadpool_limits(limits=None):                    # (BLAS's threads as they were, after)
        tg.set_num_threads(1)
        assert threads.size() == 1
        assert {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"} == {1}
        for bad in (0, -1, 1.5, True, "2"):
            with pytest.raises(ValueError, match=f"n must be an int >= 1, got {bad!r}"):
                tg.set_num_threads(bad)
        assert threads.size() == 1


def lm_steps(pool_size):
    """Two Adam steps of the benchmarks' TransformerLM (d 64, T 64, B 16: GELU, the masked
    softmax and attention's products are large enough for the pool at its real threshold;
    the encoder test below puts every op on it); the losses, the gradients of both steps
    and the weights after them."""
    threads._resize(pool_size)
    tg.manual_seed(0)
    model = nn.TransformerLM(65, 64, 4, 2, 256, activation="gelu", norm_first=True)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    ids = np.random.default_rng(0).integers(0, 65, (16, 65))
    out = []
    for _ in range(2):
        opt.zero_grad()
        loss = F.cross_entropy(model(ids[:, :-1]), ids[:, 1:])
        loss.backward()
        out += [loss.data] + [p.grad.copy() for p in model.parameters()]
        opt.step()
    return out + [p.data for p in model.parameters()]


def encoder_steps(pool_size):
    """Two Adam steps of a small post-LN GELU encoder block under a cross-entropy loss."""
    threads._resize(pool_size)
    tg.manual_seed(0)
    block = nn.EncoderBlock(32, 4, 64, activation="gelu")
    opt = optim.Adam(block.parameters(), lr=1e-3)
    rng = np.random.default_rng(1)
    x, targets = rng.standard_normal((4, 16, 32), dtype=np.float32), rng.integers(0, 32, (4, 16))
    out = []
    for _ in range(2):
        opt.zero_grad()
        loss = F.cross_entropy(block(x, causal=True), targets)
        loss.backward()
        out += [loss.data] + [p.grad.copy() for p in block.parameters()]
        opt.step()
    return out + [p.data for p in block.parameters()]


def same_bits(a, b):
    return len(a) == len(b) and all(x.dtype == y.dtype and x.tobytes() == y.tobytes()
                                    for x, y in zip(a, b))


def test_the_pool_size_changes_no_bit_of_an_lm_step(pool):
    assert same_bits(lm_steps(1), lm_steps(2))


def test_the_pool_size_changes_no_bit_of_an_encoder_step_cut_in_many_blocks(pool, monkeypatch):
    monkeypatch.setattr(fused, "BLOCK", 256)                 # every op in 4-16 blocks
    monkeypatch.setattr(threads, "MIN_ELEMENTS", 512)
    assert same_bits(encoder_steps(1), encoder_steps(2))


def test_the_blocks_compute_what_the_whole_array_does(pool, monkeypatch):
    whole = encoder_steps(2)
    monkeypatch.setattr(fused, "BLOCK", 256)
    monkeypatch.setattr(threads, "MIN_ELEMENTS", 512)
    for ours, plain in zip(encoder_steps(2), whole):
        np.testing.assert_allclose(ours, plain, rtol=2e-5, atol=1e-6)
