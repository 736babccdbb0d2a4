"""Realisation plans on disk: a second process skips scheduling, lowering and rendering.

A realisation's structure (ir/schedule_cache.py) decides its schedule, and each kernel's
signature decides code that computes it; the caches in memory reuse both within one
process. A new process (the second run of a script, or text generation meeting the lengths
an earlier run met) would schedule and render them all again: tens of milliseconds of
Python a realisation, most of a generated token's time. So the plan of each realisation
that built its schedule is written down: the schedule and the rendered programs, under a
digest of the structure's repr, the device and lazytensor's own code (a plan that other
code made is never read). The file holds the structure too, and a plan is taken only where
that equals the one asked for: the test the cache in memory makes. A structure whose repr
differs between processes (an argument printed with its address) is only never found, and
one that cannot be pickled is not written.

The files are pickles in the user's own cache folder (LT_CACHE_DIR), beside the kernel
binaries, trusted as those are; LT_PLAN_CACHE=0 turns them off. Nothing removes old ones:
a changed lazytensor writes plans under new names, as a changed kernel does binaries.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import threading
from functools import lru_cache
from pathlib import Path

from .. import config
from ..codegen.program import RenderedProgram
from ..ir.schedule_cache import CachedSchedule

# per kernel of a schedule: None (it has no elements) or (name suffix, rendered program)
Programs = list[tuple[int, RenderedProgram] | None]


def enabled() -> bool:
    return os.environ.get("LT_PLAN_CACHE", "1") not in ("0", "")


def plans_dir() -> Path:
    """LT_PLAN_DIR, else `plans` in the cache folder (a test session keeps its own)."""
    chosen = os.environ.get("LT_PLAN_DIR")
    return Path(chosen) if chosen else config.cache_root() / "plans"


@lru_cache(maxsize=None)
def code_fingerprint() -> str:
    """A digest of lazytensor's source files: plans made by other code are other plans."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _path(identity: str, key: tuple) -> Path | None:
    if not enabled():
        return None
    digest = hashlib.sha256(f"{code_fingerprint()}\0{identity}\0{key!r}".encode()).hexdigest()
    return plans_dir() / digest[:2] / f"{digest}.pkl"


def load(identity: str, key: tuple) -> tuple[CachedSchedule, Programs] | None:
    """The plan written for realising structure `key` on the device `identity`, if any."""
    path = _path(identity, key)
    if path is None or not path.exists():
        return None
    try:
        stored_key, schedule, programs = pickle.loads(path.read_bytes())
    except Exception:  # noqa: BLE001 - a torn or foreign file only costs scheduling again
        return None
    return (schedule, programs) if stored_key == key else None


def save(identity: str, key: tuple, schedule: CachedSchedule, programs: Programs) -> None:
    """Write the plan of realising structure `key` (atomically: readers see all or nothing)."""
    path = _path(identity, key)
    if path is None:
        return
    try:
        data = pickle.dumps((key, schedule, programs), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - an argument pickle cannot write: this plan stays in memory
        return
    tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError:  # a read-only or full cache only costs scheduling again
        tmp.unlink(missing_ok=True)
