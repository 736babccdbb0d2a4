"""Caches that keep at most a given number of entries, forgetting the oldest first (a long
session meets many shapes, kernels and structures; the caches must not grow with them)."""
from __future__ import annotations

from typing import TypeVar

V = TypeVar("V")


def remember(table: dict, key, value: V, limit: int) -> V:
    """table[key] = value, after forgetting the oldest entry if `table` holds `limit` already."""
    if key not in table and len(table) >= limit:
        del table[next(iter(table))]
    table[key] = value
    return value
