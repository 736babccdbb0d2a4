"""A rank that dies of an uncaught exception takes the job down with it, naming itself:
otherwise the other ranks would wait in their next collective for ever."""
from __future__ import annotations

import sys
import time
import traceback

# MPI_Abort tears the job down at once, and the process manager may drop what a rank wrote
# just before it (mpich's hydra forwards each rank's stderr asynchronously): the rank waits
# this long after flushing so that its message reaches the user.
FORWARD_GRACE_S = 1.0

_PREVIOUS = None  # sys.excepthook before ours


def install_abort_hook(MPI, rank: int, size: int) -> None:
    """Replace sys.excepthook: print the error prefixed with the rank, then MPI Abort."""
    global _PREVIOUS
    if _PREVIOUS is None:
        _PREVIOUS = sys.excepthook

    def hook(exc_type, exc, tb) -> None:
        lines = "".join(traceback.format_exception(exc_type, exc, tb)).splitlines()
        head = f"[rank {rank}] lazytensor.distributed: rank {rank} of {size} failed with " \
               f"{exc_type.__name__}: {exc}; aborting the job\n"
        _say_then_abort(MPI, head + "".join(f"[rank {rank}] {line}\n" for line in lines))

    sys.excepthook = hook


def remove_abort_hook() -> None:
    global _PREVIOUS
    if _PREVIOUS is not None:
        sys.excepthook, _PREVIOUS = _PREVIOUS, None


def abort(MPI, rank: int, message: str) -> None:
    """Print `message` naming the rank and end the whole job."""
    _say_then_abort(MPI, f"[rank {rank}] lazytensor.distributed: {message}; aborting the job\n")


def _say_then_abort(MPI, text: str) -> None:
    sys.stderr.write(text)
    sys.stderr.flush()
    sys.stdout.flush()
    time.sleep(FORWARD_GRACE_S)
    MPI.COMM_WORLD.Abort(1)
