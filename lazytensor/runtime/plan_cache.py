"""Realisation plans on disk: a second process skips scheduling, lowering and rendering.

A realisation's structure (ir/schedule_cache.py) decides its schedule, and each kernel's
signature decides code that computes it; the caches in memory reuse both within one
process. A new process (the second run of a script, or text generation meeting the lengths
an earlier run met) would schedule and render them all again: tens of milliseconds of
Python a realisation, most of a generated token's time. So the plan of each realisation
that built its schedule is written down: the schedule and the rendered programs, under a
digest of the structure's bytes, the device and lazytensor's own code (a plan that other
code made is never read). The file holds those bytes too, and a plan is taken only where
they equal the ones asked for: the test the cache in memory makes. A structure whose repr
differs between processes (an argument printed with its address) is only never found, and
one that cannot be pickled is not written.

The files are pickles in the user's own cache folder (LT_CACHE_DIR), beside the kernel
binaries, trusted as those are; LT_PLAN_CACHE=0 turns them off. Nothing removes old ones:
a changed lazytensor writes plans under new names, as a changed kernel does binaries.

Kernel sources are most of a plan's bytes, and the plans of one model at many lengths hold
the same generic sources: each long string is stored once, by the digest of its content
(`sources/`), and a plan names it. Reading a plan then unpickles its schedule alone, and a
source read once in a process is not read again (a generated token reads a plan: its
sources made each read a few times slower).
"""
from __future__ import annotations

import hashlib
import io
import marshal
import os
import pickle
from functools import lru_cache
from pathlib import Path

from .. import config
from ..codegen.program import RenderedProgram
from ..ir.bounded import remember
from ..ir.schedule_cache import CachedSchedule
from .cache_files import write_atomically

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


_LONG = 256  # strings this long (kernel sources) are stored once, by content
_SOURCES: dict[str, str] = {}  # digest -> a source read or written in this process
_SOURCES_LIMIT = 8192


def _source_path(digest: str) -> Path:
    return plans_dir() / "sources" / digest[:2] / f"{digest}.txt"


class _Pickler(pickle.Pickler):
    """Pickles a plan with each long string named by its digest, written once beside it."""

    def persistent_id(self, obj):
        if type(obj) is not str or len(obj) < _LONG:
            return None
        digest = hashlib.sha256(obj.encode()).hexdigest()
        path = _source_path(digest)
        if not path.exists():  # asked each time: the cache folder may have changed
            write_atomically(path, obj.encode())
        remember(_SOURCES, digest, obj, _SOURCES_LIMIT)
        return digest


class _Unpickler(pickle.Unpickler):
    """Reads a plan, its long strings from their files (once per process)."""

    def persistent_load(self, digest: str) -> str:
        found = _SOURCES.get(digest)
        if found is None:
            data = _source_path(digest).read_bytes()
            if hashlib.sha256(data).hexdigest() != digest:  # torn or foreign: the plan is not taken
                raise pickle.UnpicklingError(f"source {digest} does not match its digest")
            found = remember(_SOURCES, digest, data.decode(), _SOURCES_LIMIT)
        return found


def _path(identity: str, key_bytes: bytes) -> Path | None:
    if not enabled():
        return None
    digest = hashlib.sha256(f"{code_fingerprint()}\0{identity}\0".encode() + key_bytes).hexdigest()
    return plans_dir() / digest[:2] / f"{digest}.pkl"


def _key_bytes(key: tuple) -> bytes:
    """`key` as bytes that another process writes alike: marshal's (a tenth of repr's time for
    a realisation of a few hundred nodes: one is asked per new structure, per generated token),
    or its repr where it holds what marshal does not write. Marshal's format 0 writes values
    alone: later formats mark interned strings and objects met twice, which differ between
    processes holding equal keys."""
    try:
        return b"m" + marshal.dumps(key, 0)
    except ValueError:
        return b"r" + repr(key).encode()


def _portable(key: tuple, key_bytes: bytes) -> bool:
    """Could another process hold this key? One marshal wrote holds values alone; one written
    by its repr may hold an object that pickle cannot write, which no other process has."""
    if key_bytes.startswith(b"m"):
        return True
    try:
        pickle.dumps(key, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - whatever pickle refuses
        return False
    return True


def load(identity: str, key: tuple) -> tuple[CachedSchedule, Programs] | None:
    """The plan written for realising structure `key` on the device `identity`, if any."""
    key_bytes = _key_bytes(key)
    path = _path(identity, key_bytes)
    if path is None or not path.exists():
        return None
    try:
        with path.open("rb") as f:
            stored_key, schedule, programs = _Unpickler(f).load()
    except Exception:  # noqa: BLE001 - a torn or foreign file only costs scheduling again
        return None
    return (schedule, programs) if stored_key == key_bytes else None


def save(identity: str, key: tuple, schedule: CachedSchedule, programs: Programs) -> None:
    """Write the plan of realising structure `key` (atomically: readers see all or nothing).
    The file holds the key as the bytes its name digests: one object to read back and compare,
    where the key itself is a thousand tuples (half of reading a plan, with the collections
    that making them set off)."""
    key_bytes = _key_bytes(key)
    path = _path(identity, key_bytes)
    if path is None or not _portable(key, key_bytes):
        return
    out = io.BytesIO()
    try:
        _Pickler(out, protocol=pickle.HIGHEST_PROTOCOL).dump((key_bytes, schedule, programs))
    except OSError:  # a read-only or full cache only costs scheduling again
        return
    except Exception:  # noqa: BLE001 - an argument pickle cannot write: this plan stays in memory
        return
    try:
        write_atomically(path, out.getvalue())
    except OSError:  # a read-only or full cache only costs scheduling again
        pass
