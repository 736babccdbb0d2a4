"""Counters that make laziness and fusion measurable (`lt.stats()`)."""
from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields


@dataclass
class Stats:
    kernels_launched: int = 0
    kernels_compiled: int = 0
    cache_hits: int = 0
    disk_cache_hits: int = 0
    programs_built: int = 0
    programs_built_by_workers: int = 0  # of programs_built, those build workers built (runtime/build_pool.py)
    bytes_allocated: int = 0
    bytes_moved: int = 0  # bytes of the buffers each launched kernel reads and writes
    buffers_created: int = 0  # device allocations the memory pool could not serve
    realizations: int = 0
    schedules_built: int = 0  # realisations whose structure had not been seen (the rest reuse one)
    schedules_loaded: int = 0  # realisations whose plan (schedule and programs) was read from disk
    kernel_time_s: float = 0.0
    compile_time_s: float = 0.0
    device: str = ""  # the device (and OpenCL platform) the last realisation ran on
    realizations_by_site: dict = field(default_factory=dict)  # user's file:line -> realisations it forced

    def __getitem__(self, name: str):
        """`lt.stats()["kernels_launched"]`: the counters as a mapping too."""
        return getattr(self, name)

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def __repr__(self) -> str:
        return "Stats(" + ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self)) + ")"


STATS = Stats()


def stats() -> Stats:
    """A snapshot of the counters since the last `reset_stats()`."""
    return Stats(**{f.name: (dict(v) if isinstance(v := getattr(STATS, f.name), dict) else v) for f in fields(STATS)})


def reset_stats() -> None:
    for f in fields(STATS):
        setattr(STATS, f.name, f.default_factory() if f.default_factory is not MISSING else f.default)
