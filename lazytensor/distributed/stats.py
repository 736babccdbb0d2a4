"""Counts of the collectives this process ran and the bytes it contributed (for tests and
benchmarks: a DDP step should be a few large messages)."""
from __future__ import annotations

from collections import Counter

_CALLS: Counter = Counter()
_BYTES: Counter = Counter()


def note(op: str, nbytes: int) -> None:
    _CALLS[op] += 1
    _BYTES[op] += int(nbytes)


def stats() -> dict[str, dict[str, int]]:
    """{op: {"calls": n, "bytes": b}} since the last reset_stats()."""
    return {op: {"calls": n, "bytes": _BYTES[op]} for op, n in _CALLS.items()}


def calls(op: str) -> int:
    """How many times this process ran collective `op` since the last reset_stats()."""
    return _CALLS[op]


def reset_stats() -> None:
    _CALLS.clear()
    _BYTES.clear()
