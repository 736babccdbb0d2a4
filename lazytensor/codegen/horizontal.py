"""Independent one-dimensional kernels joined into one launch (a multi-tensor update).

An optimizer step over many parameters, or any realisation of many small independent
results, schedules one kernel per result; each launch costs more than the work of a small
one. Kernels of one flat NDRange with no work-group structure (no local memory, no
barriers) can share a launch: each becomes a function of its work-item id, and one kernel
hands work-items [offset_k, offset_k + size_k) to member k. The members keep their own
parameters; the joined kernel takes every member's buffers, then every member's scalar
arguments, in member order.
"""
from __future__ import annotations

import re

from ..ir.bounded import remember
from .program import RenderedKernel

_WORK_GROUP_FEATURES = ("__local", "barrier(", "get_local_id", "get_group_id", "get_global_id(1)",
                        "get_global_id(2)", "get_local_size", "get_num_groups")
_HEADER = re.compile(r"__kernel void (\w+)\((.*?)\) \{", re.S)


def can_join(kernel: RenderedKernel) -> bool:
    """Does this kernel only use its global id along one dimension (and is its code for one
    size only: a joined kernel spells out each member's range, which a generic kernel's
    launches vary)?"""
    return (len(kernel.global_size) == 1 and kernel.local_size is None and not kernel.sized_at_launch
            and _flat(kernel.source))


# source -> whether it uses no work-group feature: every launch asks, and scanning a long
# kernel's source for each feature took tens of microseconds (a string keeps its hash)
_FLAT: dict[str, bool] = {}
_FLAT_LIMIT = 4096


def _flat(source: str) -> bool:
    found = _FLAT.get(source)
    if found is None:
        found = remember(_FLAT, source, not any(f in source for f in _WORK_GROUP_FEATURES), _FLAT_LIMIT)
    return found


def _as_function(kernel: RenderedKernel, function: str) -> tuple[str, list[str]]:
    """The kernel as a function `function` of `lt_gid` (same body), and its parameter
    declarations."""
    match = _HEADER.search(kernel.source)
    if match is None or match.group(1) != kernel.name:
        raise ValueError(f"kernel {kernel.name}: unexpected source header")
    params = [p.strip() for p in match.group(2).split(",")]
    head = f"void {function}(const int lt_gid, {match.group(2)}) {{"
    body = kernel.source[:match.start()] + head + kernel.source[match.end():]
    return body.replace("get_global_id(0)", "lt_gid"), params


def join(members: list[RenderedKernel], name: str) -> RenderedKernel:
    """One kernel that runs every member over its own range of work-items. Its member functions
    are named after it, so that joined kernels with members in common build in one program."""
    parts: dict[str, tuple[str, str, list[str]]] = {}  # member -> its function's name, code, params
    buffer_params, scalar_params, calls = [], [], []
    offset = 0
    for k, member in enumerate(members):
        if member.name not in parts:  # one definition per distinct member kernel
            part = f"{name}_part{len(parts)}"
            parts[member.name] = (part, *_as_function(member, part))
        part, _, params = parts[member.name]
        renamed = [re.sub(r"(\w+)$", rf"m{k}_\1", p) for p in params]
        buffer_params += [p for p in renamed if "__global" in p]
        scalar_params += [p for p in renamed if "__global" not in p]
        arguments = ", ".join(re.search(r"(\w+)$", p).group(1) for p in renamed)
        size = member.global_size[0]
        test = "else " if k else ""
        calls.append(f"  {test}if (lt_g < {offset + size}) {part}(lt_g - {offset}, {arguments});")
        offset += size
    head = f"__kernel void {name}({', '.join(buffer_params + scalar_params)}) {{"
    body = "\n".join([head, "  const int lt_g = (int)get_global_id(0);", *calls, "}"])
    source = "\n".join(function for _, function, _ in parts.values()) + "\n" + body + "\n"
    n_buffers = sum(len(m.buffers) for m in members)
    return RenderedKernel(name, source, (offset,), None, tuple(("in", i) for i in range(n_buffers)), 0,
                          sum(m.n_args for m in members))
