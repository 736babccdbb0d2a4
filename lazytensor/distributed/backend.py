"""The default process group: MPI's world, set up by init_process_group (mpi4py is imported
only there, so `import lazytensor.distributed` works without it)."""
from __future__ import annotations

import datetime
import importlib.util
from dataclasses import dataclass
from typing import Any

from .failure import install_abort_hook, remove_abort_hook
from .watchdog import Watchdog

BACKENDS = ("mpi",)  # what lazytensor has; PyTorch's others need their own runtimes
DEFAULT_TIMEOUT = datetime.timedelta(minutes=30)  # PyTorch's default for non-NCCL backends
INSTALL_HINT = 'lt.distributed needs mpi4py and an MPI library: pip install "lazytensor[distributed]"'


@dataclass
class Group:
    """The world: its communicator (a duplicate of COMM_WORLD, so a script's own mpi4py
    messages never match ours), this process's rank and the number of processes."""
    MPI: Any
    comm: Any
    rank: int
    size: int
    watchdog: Watchdog


_WORLD: Group | None = None


def is_available() -> bool:
    """Can init_process_group work here (is mpi4py installed)?"""
    return importlib.util.find_spec("mpi4py") is not None


def is_initialized() -> bool:
    return _WORLD is not None


def is_mpi_available() -> bool:
    return is_available()


def _import_mpi():
    try:
        from mpi4py import MPI
    except ImportError as e:  # no mpi4py, or mpi4py without a usable MPI library
        raise ImportError(f"{INSTALL_HINT} ({type(e).__name__}: {e})") from e
    return MPI


def _seconds(timeout) -> float:
    if timeout is None:
        return DEFAULT_TIMEOUT.total_seconds()
    if isinstance(timeout, datetime.timedelta):
        return timeout.total_seconds()
    return float(timeout)


def _check_backend(backend) -> None:
    name = None if backend is None else str(backend).lower()
    if name is not None and name not in BACKENDS:
        raise ValueError(f"init_process_group: backend {backend!r} is not available in lazytensor; "
                         f"its backends are {', '.join(repr(b) for b in BACKENDS)} (launch with mpirun)")


def _check_agrees(what: str, given: int, actual: int) -> None:
    if given not in (-1, None) and int(given) != actual:
        raise ValueError(f"init_process_group: {what}={given} but MPI says {actual} "
                         f"(with the mpi backend, mpirun decides the world size and the ranks)")


def init_process_group(backend: str | None = "mpi", init_method: str | None = None, timeout=None,
                       world_size: int = -1, rank: int = -1, store=None, group_name: str = "",
                       pg_options=None, device_id=None) -> None:
    """Join the processes that mpirun started (backend "mpi"; None means the same)."""
    global _WORLD
    _check_backend(backend)
    if _WORLD is not None:
        raise RuntimeError("trying to initialize the default process group twice!")
    MPI = _import_mpi()
    world = MPI.COMM_WORLD
    _check_agrees("world_size", world_size, world.Get_size())
    _check_agrees("rank", rank, world.Get_rank())
    comm = world.Dup()
    r, n = comm.Get_rank(), comm.Get_size()
    _WORLD = Group(MPI, comm, r, n, Watchdog(MPI, r, _seconds(timeout)))
    if n > 1:  # one process: Python's own traceback and exit code are the clearest
        install_abort_hook(MPI, r, n)


def destroy_process_group(group=None) -> None:
    """Leave the group (MPI itself stays up until the process exits: it cannot start twice)."""
    global _WORLD
    if _WORLD is None:
        raise RuntimeError("destroy_process_group: the default process group has not been initialized")
    _WORLD.watchdog.stop()
    _WORLD.comm.Free()
    _WORLD = None
    remove_abort_hook()


def world(op: str, group=None) -> Group:
    """The initialised group, or a clear error naming `op`."""
    if _WORLD is None:
        raise RuntimeError(f"{op}: the default process group has not been initialized; "
                           "call lt.distributed.init_process_group() first (and launch with mpirun)")
    if group is not None and group is not _WORLD and group is not GroupMember.WORLD:
        raise NotImplementedError(f"{op}: only the default (world) group is supported")
    return _WORLD


def get_rank(group=None) -> int:
    return world("get_rank", group).rank


def get_world_size(group=None) -> int:
    return world("get_world_size", group).size


def get_backend(group=None) -> str:
    world("get_backend", group)
    return "mpi"


class GroupMember:
    """PyTorch's `dist.group.WORLD` / `dist.GroupMember.WORLD`: the default group."""
    WORLD = object()


group = GroupMember
