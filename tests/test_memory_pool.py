"""Freed device memory is kept by size for reuse, and let go once idle past a budget
(runtime/memory_pool.py)."""
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
    assert pool.kept_bytes == 0


def test_memory_idle_past_the_limit_is_let_go_once_the_pool_holds_more_than_its_budget(clock):
    pool = MemoryPool(idle_limit=8, keep_bytes=100)
    pool.give("old", 64)
    clock(9)
    pool.give("new", 32)  # 96 bytes kept: within the budget, nothing is let go however old
    assert pool.kept_bytes == 96
    pool.give("newer", 16)  # 112 bytes: the memory idle for 9 realisations goes
    assert pool.take(64) is None and pool.take(32) == "new" and pool.take(16) == "newer"
    assert pool.kept_bytes == 0


def test_the_longest_idle_goes_first_and_only_until_the_pool_is_within_budget(clock):
    pool = MemoryPool(idle_limit=4, keep_bytes=100)
    pool.give("first", 60)
    clock(1)
    pool.give("second", 50)
    clock(10)
    pool.give("recent", 10)  # 120 bytes: "first" goes, which is enough
    assert pool.take(60) is None and pool.take(50) == "second" and pool.take(10) == "recent"


def test_memory_reused_every_few_realisations_is_kept(clock):
    pool = MemoryPool(idle_limit=8, keep_bytes=0)
    for _ in range(50):  # a training step: take what the last one freed, free it again
        raw = pool.take(64) or object()
        clock(3)
        pool.give(raw, 64)
    assert pool.kept_bytes == 64


@pytest.mark.skipif(cl_unavailable_reason() is not None, reason="needs an OpenCL device")
def test_memory_kept_stops_growing_over_many_lengths(monkeypatch):
    device = lt.runtime.devices.get_device("cl")
    monkeypatch.setattr(device, "pool", MemoryPool(keep_bytes=0))  # as a model whose buffers pass the budget
    for length in range(1, 301):  # a sequence one longer every step: each size is met once
        x = lt.tensor(np.ones((length, 8), np.float32), device="cl")
        ((x * 2).exp() + 1).sum(1).numpy()
    entries = [when for kept in device.pool.free.values() for _, when in kept]
    assert all(Epoch.now - when <= IDLE_LIMIT + IDLE_LIMIT // 2 for when in entries)  # only the recent lengths'
    assert len(entries) < 300  # kept for ever, each of the 300 lengths would hold its freed values
