"""Where in the user's code a value was made or asked for (file:line), for dumps and DEBUG.

Finding a site walks Python frames, so values record their site only while someone will
look at it: a graph dump (`lt.viz.dump`, `GRAPH=path`) turns recording on."""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Iterator

from . import config
from .ir.node_table import NodeTable

_PACKAGE = os.path.dirname(os.path.abspath(__file__))
_STDLIB = os.path.dirname(os.path.abspath(os.__file__))  # contextlib, functools: never the user's line
_SITES: NodeTable[tuple[str, str]] = NodeTable()  # node -> (file:line, "forward" | "backward")
RECORDING: list[bool] = []  # record_sites() blocks open: never rebound (tensor_base.wrap reads it inline)
_PHASE: list[str] = ["forward"]


def user_site() -> str:
    """The first frame outside the lazytensor package, as file:line."""
    frame = sys._getframe(1)
    while frame is not None and _not_users(os.path.abspath(frame.f_code.co_filename)):
        frame = frame.f_back
    return f"{frame.f_code.co_filename}:{frame.f_lineno}" if frame else "?"


def _not_users(path: str) -> bool:
    return path.startswith(_PACKAGE) or (path.startswith(_STDLIB) and "site-packages" not in path)


def recording() -> bool:
    return bool(RECORDING) or config.GRAPH is not None or config.VALIDATE


@contextmanager
def record_sites() -> Iterator[None]:
    RECORDING.append(True)
    try:
        yield
    finally:
        RECORDING.pop()


@contextmanager
def phase(name: str) -> Iterator[None]:
    """Values made inside are labelled `name` ("backward" while gradients are built)."""
    _PHASE.append(name)
    try:
        yield
    finally:
        _PHASE.pop()


def note(node) -> None:
    """Remember where `node` was made (when recording)."""
    if recording() and node not in _SITES:
        _SITES[node] = (user_site(), _PHASE[-1])


def site_of(node) -> tuple[str, str] | None:
    return _SITES.get(node)
