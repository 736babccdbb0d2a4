"""Kernel timings of realisations: for DEBUG=2, graph dumps and the viz/ report."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, NamedTuple

from .. import config


class KernelTiming(NamedTuple):
    name: str  # the kernel launched (a joined launch's own name)
    shape: tuple  # its first output's shape
    seconds: float  # device time of the launch
    nbytes: int  # bytes of the buffers it reads and writes
    outputs: tuple[int, ...]  # ids of the nodes it computes (every member's, for a joined launch)
    built: bool  # compiled (or loaded from the disk cache) for this realisation, not found in memory
    members: int = 1  # kernels sharing the launch


_LISTENERS: list[list[KernelTiming]] = []


def timing() -> bool:
    """Are launches timed (each waits for its kernel)?"""
    return config.DEBUG >= 2 or bool(_LISTENERS) or bool(config.GRAPH)


def record(timings: list[KernelTiming]) -> None:
    for listener in _LISTENERS:
        listener.extend(timings)


@contextmanager
def profiled() -> Iterator[list[KernelTiming]]:
    """Time every kernel launched inside: the list fills as realisations run."""
    found: list[KernelTiming] = []
    _LISTENERS.append(found)
    try:
        yield found
    finally:
        _LISTENERS.remove(found)
