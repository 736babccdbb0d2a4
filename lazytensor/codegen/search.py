"""Candidate choice lists for one kernel: the heuristic's list and its near neighbours.

The heuristic and the search speak the same language (lists of `Opt`); a
search only proposes, checks each proposal by applying it, and leaves the
timing to the device (runtime/search.py), which keeps the winner on disk.
"""
from __future__ import annotations

from dataclasses import replace

from .caps import DeviceCaps
from .heuristic import choose_opts
from .lower import LoweredKernel
from .opt import Opt, OptError, OptKind, make_plan

# For each kind whose amount is a tuning knob: the amounts to try instead (0 drops the choice).
NEIGHBOURS: dict[OptKind, tuple[int, ...]] = {
    OptKind.LOCAL: (1, 16, 64, 128, 256, 512, 1024),
    OptKind.REDUCE_UNROLL: (0, 2, 8),
    OptKind.UNROLL: (0, 2),
}
MAX_CANDIDATES = 12


def candidate_opts(kernel: LoweredKernel, caps: DeviceCaps) -> list[list[Opt]]:
    """The heuristic's list first, then every valid list that changes one tunable choice."""
    base = choose_opts(kernel, caps)
    out = [base]
    for i, opt in enumerate(base):
        for amount in NEIGHBOURS.get(opt.kind, ()):
            if amount == opt.amount:
                continue
            changed = base[:i] + base[i + 1:] if amount == 0 else base[:i] + [replace(opt, amount=amount)] + base[i + 1:]
            if changed not in out and _valid(kernel, changed, caps):
                out.append(changed)
            if len(out) >= MAX_CANDIDATES:
                return out
    return out


def _valid(kernel: LoweredKernel, opts: list[Opt], caps: DeviceCaps) -> bool:
    try:
        plan = make_plan(kernel, opts)
    except OptError:
        return False
    local = 1
    for axis in plan.axes:
        local *= axis.local
    return local <= caps.max_work_group_size
