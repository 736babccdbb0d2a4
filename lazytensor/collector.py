"""lazytensor and Python's cyclic garbage collector.

Recording an op allocates a few objects the collector tracks (a tensor, its storage, a node),
and a realisation of a thousand ops keeps thousands alive until it runs; enough of them
outlive the young generations that a full collection comes every few dozen steps. A full
collection walks every tracked object in the process, and most of those are the modules,
classes and functions that importing NumPy, pyopencl and lazytensor made: in a text
generation loop it took a fifth of each token's time, in a chain of small ops as much.

So importing lazytensor moves the objects that exist then into the collector's permanent
generation (gc.freeze): they live as long as the process in a script that imports its
libraries first, and reference counting still frees any of them that is dropped; only a
reference cycle among them would no longer be collected. LT_GC_FREEZE=0 leaves the
collector as it is.
"""
from __future__ import annotations

import gc
import os


def enabled() -> bool:
    return os.environ.get("LT_GC_FREEZE", "1") not in ("0", "")


def freeze_import_time_objects() -> None:
    """Leave the objects that exist now out of every later collection (unless LT_GC_FREEZE=0)."""
    if enabled():
        gc.freeze()
