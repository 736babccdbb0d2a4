"""Process-wide switches, read from the environment once and settable at run time."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

LAZY: bool = os.environ.get("LAZY", "1") != "0"
DEBUG: int = int(os.environ.get("DEBUG", "0") or 0)
GRAPH: str | None = os.environ.get("GRAPH") or None
# VALIDATE=1: every non-numpy kernel is checked against the numpy device (runtime/validate.py)
VALIDATE: bool = os.environ.get("VALIDATE", "0") not in ("", "0")
# NANCHECK=1: every op runs at once and the first one whose result holds a NaN or inf raises
NANCHECK: bool = os.environ.get("NANCHECK", "0") not in ("", "0")
SEARCH: bool = os.environ.get("LT_SEARCH", "0") not in ("", "0")  # time candidate kernels once (runtime/search.py)
GRAD_ENABLED: bool = True  # autograd records ops (lt.no_grad() turns it off)


def cache_root() -> Path:
    """Where the disk caches live (kernel binaries, plans): LT_CACHE_DIR, else the user's cache
    folder. Read at each use, so a test or a launcher may point it elsewhere."""
    root = os.environ.get("LT_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "lazytensor")
    return Path(root)


def set_lazy(flag: bool) -> bool:
    """Switch lazy mode (LAZY=0 realises every op at once); returns the previous value."""
    global LAZY
    previous, LAZY = LAZY, bool(flag)
    return previous


def set_debug(level: int) -> int:
    global DEBUG
    previous, DEBUG = DEBUG, int(level)
    return previous


@contextmanager
def debug(level: int) -> Iterator[None]:
    """`with lt.debug(2): ...`: DEBUG at `level` inside, restored after."""
    previous = set_debug(level)
    try:
        yield
    finally:
        set_debug(previous)
