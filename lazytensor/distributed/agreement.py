"""Before each collective, the ranks check that they called the same one on tensors of the
same shapes and dtypes (one small message): a mismatch raises on every rank, naming each
rank's call, instead of hanging or mixing up data."""
from __future__ import annotations

import zlib
from typing import Sequence

import numpy as np

from ..tensor_base import TensorBase
from .backend import Group


def describe(op: str, detail: str, tensors: Sequence[TensorBase]) -> str:
    """A call as the error names it: `all_reduce(op=SUM) of float32 (3, 4)`."""
    call = f"{op}({detail})"
    if not tensors:
        return call
    return call + " of " + ", ".join(f"{t.dtype.name} {tuple(t.shape)}" for t in tensors)


def agree(g: Group, op: str, detail: str, tensors: Sequence[TensorBase]) -> None:
    """Raise ValueError on every rank unless all ranks made the same call."""
    mine = describe(op, detail, tensors)
    code = np.array([zlib.crc32(mine.encode())], dtype=np.int64)
    codes = np.empty(g.size, dtype=np.int64)
    with g.watchdog.watch(f"{op} (checking that every rank called it)"):
        g.comm.Allgather(code, codes)
    if (codes == codes[0]).all():
        return
    with g.watchdog.watch(f"{op} (reporting a mismatch)"):
        calls = g.comm.allgather(mine)  # every rank saw the mismatch, so all of them are here
    listed = "; ".join(f"rank {r}: {c}" for r, c in enumerate(calls))
    raise ValueError(f"{op}: the ranks' collective calls do not match (every rank must call the same "
                     f"collective with tensors of the same shape and dtype): {listed}")
