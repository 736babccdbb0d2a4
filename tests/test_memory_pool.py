"""Freed device memory is kept by size for reuse, and let go once idle (runtime/memory_pool.py)."""
import numpy as np
import pytest

import lazytensor as lt
from helpers import cl_unavailable_reason
from lazytensor.ir.node import Epoch
from lazytensor.runtime.memory_pool import IDLE_LIMIT, MemoryPool


@pytest.fixture
def clock(monkeypatch):
    """Epoch.now as a counter the test advances (one realisation a tick)."""
    monkeypatch.setattr(Epoch, "now", 1000)

    def tick(n: int = 1) -> None:
        Epoch.now += n
    return tick


def test_a_freed_allocation_serves_the_next_of_its_size_latest_first(clock):
    pool = MemoryPool()
    pool.give("a", 64)
    pool.give("b", 64)
    assert pool.take(128) is None
    assert pool.take(64) == "b" and pool.take(64) == "a" and pool.take(64) is None


def test_memory_idle_past_the_limit_is_let_go(clock):
    pool = MemoryPool(idle_limit=8)
    pool.give("old", 64)
    clock(9)
    pool.give("new", 32)  # giving sweeps now and then: 9 realisations on, "old" has been idle too long
    assert pool.take(64) is None and pool.take(32) == "new"
    assert pool.kept_bytes == 0


def test_memory_reused_every_few_realisations_is_kept(clock):
    pool = MemoryPool(idle_limit=8)
    for _ in range(50):  # a training step: take what the last one freed, free it again
        raw = pool.take(64) or object()
        clock(3)
        pool.give(raw, 64)
    assert pool.kept_bytes == 64


@pytest.mark.skipif(cl_unavailable_reason() is not None, reason="needs an OpenCL device")
def test_memory_kept_stops_growing_over_many_lengths():
    pool = lt.runtime.devices.get_device("cl").pool
    for length in range(1, 301):  # a sequence one longer every step: each size is met once
        x = lt.tensor(np.ones((length, 8), np.float32), device="cl")
        ((x * 2).exp() + 1).sum(1).numpy()
    entries = [when for kept in pool.free.values() for _, when in kept]
    assert all(Epoch.now - when <= IDLE_LIMIT + IDLE_LIMIT // 2 for when in entries)  # only the recent lengths'
    assert len(entries) < 300  # kept for ever, each of the 300 lengths would hold its freed values
