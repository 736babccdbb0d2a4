"""Search (LT_SEARCH=1): time a kernel's candidate choice lists once on the device, keep the
fastest in the disk cache keyed by device and kernel signature, and reuse it from then on.

Off by default: on the CPU through PoCL the heuristic's list is within noise of the
winner for the benchmark workloads, while a search compiles a dozen variants of every
new kernel. It is for long-running jobs on a device the heuristic knows less well.
"""
from __future__ import annotations

import hashlib
import json
import statistics
import time

import numpy as np

from ..codegen.lower import LoweredKernel
from ..codegen.opt import Opt, OptError, OptKind, make_plan
from ..codegen.program import build_program
from ..codegen.search import candidate_opts
from .buffer import Buffer
from .cache_files import write_atomically

TIMED_RUNS = 3


def searched_opts(device, kernel: LoweredKernel, key: tuple) -> list[Opt]:
    """The fastest candidate list for this kernel on `device`, from the disk cache when known."""
    path = device.cache_path("search", hashlib.sha256(repr(key).encode()).hexdigest() + ".json")
    known = _load(path, kernel)
    if known is not None:
        return known
    candidates = candidate_opts(kernel, device.caps)
    best = candidates[0]
    if len(candidates) > 1:
        buffers = _scratch_buffers(device, kernel)
        times = [_time(device, kernel, opts, buffers, i) for i, opts in enumerate(candidates)]
        best = candidates[times.index(min(times))]
    _save(path, best)
    return best


def _load(path, kernel: LoweredKernel) -> list[Opt] | None:
    try:
        opts = [Opt(OptKind[kind], axis, amount) for kind, axis, amount in json.loads(path.read_text())]
        make_plan(kernel, opts)  # a stale entry that no longer applies is searched again
        return opts
    except (OSError, ValueError, KeyError, TypeError, OptError):
        return None


def _save(path, opts: list[Opt]) -> None:
    try:
        write_atomically(path, json.dumps([[o.kind.name, o.axis, o.amount] for o in opts]).encode())
    except OSError:
        pass  # a read-only cache only costs searching again


def _scratch_buffers(device, kernel: LoweredKernel) -> dict[str, list]:
    """Buffers to time with: fresh outputs, and each input's own buffer where it exists already
    (zeros where an earlier kernel of the batch has not computed it yet)."""
    inputs = []
    for node in kernel.inputs:
        if node.realized:
            inputs.append(node.buffer.buffer)
        else:
            buf = Buffer(device, node.dtype, node.numel)
            device.copyin(buf.raw, np.zeros(node.numel, node.dtype.np))
            inputs.append(buf)
    return {"out": [Buffer(device, d, kernel.numel) for d in kernel.out_dtypes], "in": inputs}


def _time(device, kernel: LoweredKernel, opts: list[Opt], buffers: dict[str, list], index: int) -> float:
    program = build_program(kernel, device.caps, f"lt_search{index}", opts)
    runnables = device.compile(program.sources)
    bufs = {**buffers, "scratch": [Buffer(device, d, n) for d, n in program.scratch]}

    def once() -> float:
        start = time.perf_counter()
        for rk in program.kernels:
            raws = [bufs[kind][i].raw for kind, i in rk.buffers]
            device.launch(runnables[rk.name], raws[:rk.n_out], raws[rk.n_out:], kernel.args[:rk.n_args], rk)
        device.synchronize()
        return time.perf_counter() - start

    once()  # the first launch may compile again (PoCL)
    return statistics.median(once() for _ in range(TIMED_RUNS))
