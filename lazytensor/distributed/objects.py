"""Collectives of picklable Python objects (metrics, configs), as PyTorch's *_object calls."""
from __future__ import annotations

from .agreement import agree
from .backend import world
from .stats import note


def all_gather_object(object_list: list, obj, group=None) -> None:
    """object_list[r] becomes rank r's `obj`, on every rank."""
    g = world("all_gather_object", group)
    if len(object_list) != g.size:
        raise ValueError(f"all_gather_object: object_list must have one slot per rank ({g.size}), "
                         f"got {len(object_list)}")
    agree(g, "all_gather_object", "", [])
    with g.watchdog.watch("all_gather_object"):
        object_list[:] = g.comm.allgather(obj)
    note("all_gather_object", 0)


def broadcast_object_list(object_list: list, src: int = 0, group=None, device=None) -> None:
    """object_list's items become rank `src`'s, on every rank (in place)."""
    g = world("broadcast_object_list", group)
    agree(g, "broadcast_object_list", f"src={src}, {len(object_list)} objects", [])
    with g.watchdog.watch("broadcast_object_list"):
        object_list[:] = g.comm.bcast(list(object_list) if g.rank == src else None, root=src)
    note("broadcast_object_list", 0)
