"""Realise nodes: schedule, lower, render, compile (batched, cached), allocate, launch."""
from __future__ import annotations

import hashlib
import sys
import time
from dataclasses import dataclass

from .. import capture, checks, config
from ..codegen.lower import lower_kernel, strided_view
from ..codegen.horizontal import can_join, join
from ..codegen.program import RenderedKernel, RenderedProgram
from ..codegen.render_common import kernel_name
from ..ir.bounded import remember
from ..ir.kernel import KernelSpec, kernel_spec
from ..ir.layout import contiguous_strides
from ..ir.node import Epoch, Node
from ..ir.schedule import Schedule, schedule, toposort
from ..ir.schedule_cache import CachedSchedule, explain_difference, size_free_structure, structure, worth_storing
from .buffer import Buffer, BufferView
from ..sites import user_site
from . import plan_cache, profile, validate
from .profile import KernelTiming
from .devices import get_device
from .stats import STATS


_RENDERED: dict[tuple, RenderedProgram] = {}  # (device, kernel signature) -> its rendered kernels
_RENDERED_LIMIT = 8192  # forget the oldest entries past this (a long session meets many shapes)


def _allocate(device, node: Node) -> BufferView:
    buf = Buffer(device, node.dtype, node.numel)
    STATS.bytes_allocated += buf.nbytes
    capture.record_allocation(buf)
    return BufferView(buf, node.shape, contiguous_strides(node.shape))


def _rendered(device, spec: KernelSpec, suffix: int, resized: bool = False) -> RenderedProgram:
    """The rendered program for a kernel signature (lowering and rendering only on a miss).
    `resized`: its realisation repeats an earlier one at other sizes (codegen/hoist.py)."""
    cache_key = (device.name, spec.key, suffix)
    program = _RENDERED.get(cache_key)  # one lookup: a long kernel's key takes microseconds to hash
    if program is None:
        kernel = lower_kernel(spec)
        name = kernel_name(kernel)
        program = device.render(kernel, name if suffix == 0 else f"{name}_{suffix}", spec.key, resized)
        remember(_RENDERED, cache_key, program, _RENDERED_LIMIT)
    return program


def _attach_empty(spec: KernelSpec, device) -> bool:
    """Nothing to compute: empty buffers are the whole result. Whether `spec` is such a kernel."""
    if spec.outputs[0].numel != 0:
        return False
    for out in spec.outputs:
        out.attach(_allocate(device, out))
    return True


def _render_all(specs: list[KernelSpec], device, resized: bool = False,
                kept: list | None = None) -> list[tuple[KernelSpec, RenderedProgram]]:
    """Render each kernel (from the cache where its signature was seen); names are unique
    within one batch. Kernels new to this batch may then share code (Device.share), and are
    remembered as shared. `kept`, if given, receives per spec what a plan on disk keeps
    (runtime/plan_cache.py): None for an empty kernel, else its name suffix and program."""
    prepared, sources, new, suffixes = [], {}, [], []
    # per base name, the suffix after the largest one this batch gave: a kernel whose name is
    # taken goes straight there, not through every suffix before it (a long unrolled loop has
    # hundreds of kernels of one name that differ only in an offset; trying each suffix in turn
    # rendered the k-th of them k times)
    free: dict[str, int] = {}
    for spec in specs:
        if _attach_empty(spec, device):
            suffixes.append(None)
            continue
        suffix = 0
        while True:  # a name already taken in this batch by another kernel gets a numbered suffix
            program = _RENDERED.get((device.name, spec.key, suffix))
            known = program is not None
            if not known:
                program = _rendered(device, spec, suffix, resized)
            if all(sources.get(name, src) == src for name, src in program.sources.items()):
                break
            base = min(program.sources) if suffix == 0 else None
            suffix = max(suffix + 1, free.get(base, 0)) if base is not None else suffix + 1
        if suffix:
            base = min(_rendered(device, spec, 0, resized).sources)
            free[base] = max(free.get(base, 0), suffix + 1)
        sources.update(program.sources)
        if not known:
            new.append((len(prepared), (device.name, spec.key, suffix)))
        suffixes.append(suffix)
        prepared.append((spec, program))
    if len(new) > 1:
        shared = device.share([prepared[at][1] for at, _ in new])
        for (at, cache_key), program in zip(new, shared):
            prepared[at] = (prepared[at][0], program)
            _RENDERED[cache_key] = program
    if kept is not None:
        programs = iter(program for _, program in prepared)
        kept.extend(None if suffix is None else (suffix, next(programs)) for suffix in suffixes)
    return prepared


def _planned(specs: list[KernelSpec], device, kept: list) -> list[tuple[KernelSpec, RenderedProgram]]:
    """The kernels of a plan from disk, as _render_all would have prepared them; their programs
    are remembered as rendered. A kernel this process runs already keeps its program (the plan
    may hold another code for it, a generic one, that rounds otherwise: one kernel signature
    computes the same bits all along), unless its names would clash with the plan's."""
    pairs = []
    for spec, entry in zip(specs, kept):
        if entry is None:
            _attach_empty(spec, device)
        else:
            pairs.append((spec, entry))
    ours = [(spec, _RENDERED.get((device.name, spec.key, suffix), program)) for spec, (suffix, program) in pairs]
    prepared = ours if _names_unique(p for _, p in ours) else [(spec, p) for spec, (_, p) in pairs]
    for spec, (suffix, program) in pairs:
        if (device.name, spec.key, suffix) not in _RENDERED:
            remember(_RENDERED, (device.name, spec.key, suffix), program, _RENDERED_LIMIT)
    return prepared


def _names_unique(programs) -> bool:
    """Does each kernel name of these programs name one source?"""
    seen: dict[str, str] = {}
    return all(seen.setdefault(name, src) == src for program in programs for name, src in program.sources.items())


def _run(prepared, device) -> list[KernelTiming]:
    """Launch the prepared programs, all built together: the kernels that run alone and the
    joined launches (whose members are not built on their own)."""
    batches = _launch_batches(prepared, device)
    joins = [_joined_kernel(batch) if len(batch) > 1 else None for batch in batches]
    sources = {name: src for batch, joined in zip(batches, joins) if joined is None
               for name, src in batch[0][1].sources.items()}
    sources.update((joined.name, joined.source) for joined in joins if joined is not None)
    timed = profile.timing()
    built = {name for name, src in sources.items() if not device.has_built(name, src)} if timed else set()
    runnables = device.compile(sources)
    if config.DEBUG >= 3:
        for name, src in sources.items():
            print(f"[lt] --- {name} ---\n{src}", file=sys.stderr)
    timings = _Timings(timed, built)
    for batch, joined in zip(batches, joins):
        if joined is None:
            _run_program(*batch[0], runnables, device, timings)
        else:
            _run_joined(batch, joined, runnables[joined.name], device, timings)
    device.after_batch()
    return timings


JOIN_LIMIT = 64  # kernels one joined launch may take


def _launch_batches(prepared, device) -> list[list]:
    """Consecutive one-kernel programs that can share a launch (codegen/horizontal.py) and do
    not read each other's outputs; every other program launches alone."""
    batches: list[list] = []
    current: list = []
    made: set[int] = set()  # outputs of the current batch
    for spec, program in prepared:
        joinable = (device.joins_kernels and len(program.kernels) == 1 and not program.scratch
                    and can_join(program.kernels[0]))
        if joinable and current and len(current) < JOIN_LIMIT and not any(id(n) in made for n in spec.inputs):
            current.append((spec, program))
            made.update(id(o) for o in spec.outputs)
            continue
        if current:
            batches.append(current)
        current = [(spec, program)] if joinable else []
        made = {id(o) for o in spec.outputs} if joinable else set()
        if not joinable:
            batches.append([(spec, program)])
    if current:
        batches.append(current)
    return batches


def _run_program(spec: KernelSpec, program: RenderedProgram, runnables, device, timings: "_Timings") -> None:
    outs = spec.outputs
    views = [_allocate(device, out) for out in outs]
    scratch = [Buffer(device, dtype, size) for dtype, size in program.scratch]
    for buf in scratch:
        capture.record_allocation(buf)
    buffers = {"out": [v.buffer for v in views], "in": [n.buffer.buffer for n in spec.inputs], "scratch": scratch}
    for rk in program.kernels:
        bufs = [buffers[kind][i] for kind, i in rk.buffers]
        _launch(device, runnables[rk.name], rk, bufs, spec.args[:rk.n_args], outs, timings)
    _finish(spec, program, device, views)


# (member source, its work size) per member -> their joined kernel: one source can run at
# several sizes (codegen/hoist.py), and the joined kernel spells out each member's range
_JOINED: dict[tuple, RenderedKernel] = {}
_JOINED_LIMIT = 1024


def _joined_kernel(batch) -> RenderedKernel:
    """The one kernel that runs the kernels of `batch` (each program has one kernel and no
    scratch), under a name no other joined kernel has (they build in one program)."""
    members = [program.kernels[0] for _, program in batch]
    key = tuple((m.source, m.global_size) for m in members)
    if key not in _JOINED:
        digest = hashlib.sha1(repr(key).encode()).hexdigest()[:12]
        remember(_JOINED, key, join(members, f"joined{len(members)}_{members[0].name}_j{digest}"), _JOINED_LIMIT)
    return _JOINED[key]


def _run_joined(batch, joined: RenderedKernel, runnable, device, timings: "_Timings") -> None:
    """One launch of `joined` (built as `runnable`) for the kernels of `batch`."""
    members = [program.kernels[0] for _, program in batch]
    views, bufs, args = [], [], []
    for (spec, _), rk in zip(batch, members):
        vs = [_allocate(device, out) for out in spec.outputs]
        views.append(vs)
        buffers = {"out": [v.buffer for v in vs], "in": [n.buffer.buffer for n in spec.inputs]}
        bufs += [buffers[kind][i] for kind, i in rk.buffers]
        args += list(spec.args[:rk.n_args])
    outputs = tuple(out for spec, _ in batch for out in spec.outputs)
    _launch(device, runnable, joined, bufs, args, outputs, timings, len(batch))
    for (spec, program), vs in zip(batch, views):
        _finish(spec, program, device, vs)


class _Timings(list):
    """The timings of one batch of launches (when `timed`), and which of its kernels were
    built for it."""

    def __init__(self, timed: bool, built: set[str]):
        super().__init__()
        self.timed, self.built = timed, built


def _launch(device, runnable, rk: RenderedKernel, bufs: list, args, outputs: tuple, timings: _Timings,
            members: int = 1) -> None:
    raws = [b.raw for b in bufs]
    handle = device.launch(runnable, raws[:rk.n_out], raws[rk.n_out:], args, rk)
    capture.record_launch(device, runnable, rk, bufs, args)
    STATS.kernels_launched += 1
    nbytes = sum(b.nbytes for b in bufs)
    STATS.bytes_moved += nbytes
    if timings.timed:
        timings.append(KernelTiming(rk.name, outputs[0].shape, device.elapsed(handle), nbytes,
                                    tuple(map(id, outputs)), rk.name in timings.built, members))


def _finish(spec: KernelSpec, program: RenderedProgram, device, views: list) -> None:
    """Check (VALIDATE=1) and attach a kernel's results, once it is launched."""
    if config.VALIDATE and device.name != "numpy":  # before attaching: the spec still computes them
        validate.check(spec, program, device, views, lambda dev, s: _rendered(dev, s, 0))
    for out, view in zip(spec.outputs, views):
        out.attach(view)


HINT_AT = (100, 1000, 10000)  # realisations from one site that earn a DEBUG=1 hint
_SCHEDULES: dict[tuple, CachedSchedule] = {}  # (device, graph structure) -> its schedule
_SCHEDULES_LIMIT = 1024
_SIZES_SEEN: dict[tuple, tuple] = {}  # (device, structure without sizes) -> the first structure of it


@dataclass
class _Plan:
    """How a realisation runs: its schedule; whether it repeats an earlier one at other sizes
    (the next token, another batch length: its kernels become generic, codegen/hoist.py); its
    programs where a plan on disk gave them; and its structure's key and cached schedule where
    its schedule was built here (the plan is then written down once rendered)."""
    schedule: Schedule
    resized: bool = False
    programs: list | None = None
    built: tuple[tuple, CachedSchedule] | None = None


def _identity(device) -> str:
    """What a plan on disk is made for: the device, its build options and the caps its kernels
    were planned from (LT_CL_AS_GPU plans a CPU's kernels as a GPU's)."""
    return f"{getattr(device, 'identity', device.name)}|{getattr(device, 'caps', None)!r}"


def _schedule(targets: list[Node], device) -> _Plan:
    """The schedule for `targets`, reused from an earlier graph of the same structure: in
    this process, or from a plan on disk (runtime/plan_cache.py), or built."""
    fuse = getattr(device, "fuse_row_reductions", False)
    epoch, Epoch.now = Epoch.now, Epoch.now + 1
    shape = structure(targets, (fuse,), epoch)
    stored = [n for n in shape.recomputed if worth_storing(n)]
    if stored:  # computed once already and built upon since: computed a last time, and kept
        targets = targets + stored
        shape = shape.asking_also(stored)
    cache_key = (device.name, shape.key)
    cached = _SCHEDULES.get(cache_key)
    if cached is not None:
        return _Plan(cached.instantiate(shape))
    loaded = plan_cache.load(_identity(device), shape.key)
    if loaded is not None:
        cached, programs = loaded
        remember(_SCHEDULES, cache_key, cached, _SCHEDULES_LIMIT)
        STATS.schedules_loaded += 1
        return _Plan(cached.instantiate(shape), programs=programs)
    if config.DEBUG >= 1:
        _explain_miss(device.name, shape.key)
    sched = schedule(targets, fuse_row_reductions=fuse)
    STATS.schedules_built += 1
    cached = CachedSchedule.of(sched, shape)
    remember(_SCHEDULES, cache_key, cached, _SCHEDULES_LIMIT)
    sizeless = (device.name, size_free_structure(shape.key))
    first = _SIZES_SEEN.get(sizeless)
    if first is None:
        first = remember(_SIZES_SEEN, sizeless, shape.key, _SCHEDULES_LIMIT)
    resized = first != shape.key
    return _Plan(sched, resized, built=(shape.key, cached))


def _prepare(plan: _Plan, device) -> list[tuple[KernelSpec, RenderedProgram]]:
    """The programs of a realisation: from its plan on disk, or rendered (and then written
    down, where its schedule was built here)."""
    if plan.programs is not None:
        return _planned(plan.schedule.kernels, device, plan.programs)
    programs = [] if plan.built is not None else None
    prepared = _render_all(plan.schedule.kernels, device, plan.resized, programs)
    if plan.built is not None:
        plan_cache.save(_identity(device), *plan.built, programs)
    return prepared


def _explain_miss(device_name: str, key: tuple) -> None:
    """DEBUG=1: a new schedule (and, where the kernels differ, new compiles) and why."""
    why = explain_difference(key, [k for d, k in _SCHEDULES if d == device_name])
    if why is not None:
        print(f"[lt] new schedule: {why}", file=sys.stderr)


def _print_graph(targets: list[Node]) -> None:
    """DEBUG=4: the lazy graph being realised (after the construction-time rewrites), one
    node a line, sources by number."""
    order = toposort(targets)
    number = {id(n): i for i, n in enumerate(order)}
    print(f"[lt] graph of {len(order)} node(s):", file=sys.stderr)
    for i, n in enumerate(order):
        srcs = ", ".join(f"%{number[id(s)]}" if id(s) in number else f"buffer{list(s.shape)}" for s in n.srcs)
        arg = "" if n.arg is None else f" {n.arg!r}"
        print(f"[lt]   %{i} = {n.op}{arg} ({srcs}) -> {n.dtype.name}{list(n.shape)}", file=sys.stderr)


def realize(nodes: list[Node], device_name: str) -> None:
    """Compute every node in `nodes` (and only what they need); attach their buffers."""
    targets = [n for n in nodes if not n.realized]
    if not targets:
        return
    targets += checks.pending_on(device_name)  # index checks ride along (lazytensor/checks.py)
    start = time.perf_counter()
    compiled_before, hits_before = STATS.kernels_compiled, STATS.cache_hits
    device = get_device(device_name)
    if config.GRAPH:
        from ..viz.graph import graph_of  # the dump reads the IR, the kernels and their names
        graph = graph_of(targets, getattr(device, "fuse_row_reductions", False), device.render)
    if config.DEBUG >= 4:
        _print_graph(targets)
    plan = _schedule(targets, device)
    sched = plan.schedule
    timings = _run(_prepare(plan, device), device)
    late = []
    for v in sched.views:
        found = strided_view(v)
        if found is None:
            late.append(v)
        else:
            base, strides, offset = found
            v.attach(BufferView(base.buffer.buffer, v.shape, strides, offset))
    if late:
        timings += _run(_render_all([kernel_spec((v,), sched.materialised) for v in late], device), device)
    checks.realised()
    profile.record(timings)
    if config.GRAPH:
        from ..viz.files import dump_realisation
        dump_realisation(graph, timings)
    STATS.realizations += 1
    STATS.device = str(getattr(device, "description", device.name))
    site = user_site()
    count = STATS.realizations_by_site[site] = STATS.realizations_by_site.get(site, 0) + 1
    if config.DEBUG >= 1:
        device.synchronize()
        elapsed = time.perf_counter() - start
        STATS.kernel_time_s += elapsed
        print(f"[lt] realize on {STATS.device}: {len(sched.kernels) + len(late)} kernel(s), "
              f"{elapsed * 1e3:.2f} ms, compiled {STATS.kernels_compiled - compiled_before}, "
              f"cache hits {STATS.cache_hits - hits_before}  <- {site}", file=sys.stderr)
        if count in HINT_AT:
            print(f"[lt] hint: {site} has forced {count} realisations; a value read there in a loop "
                  f"(.item(), print, bool) makes each step wait for the device", file=sys.stderr)
    for t in timings if config.DEBUG >= 2 else ():
        gbs = t.nbytes / t.seconds / 1e9 if t.seconds > 0 else float("inf")
        print(f"[lt]   {t.name:<40s} {str(t.shape):<18s} {t.seconds * 1e6:9.1f} us {gbs:8.2f} GB/s", file=sys.stderr)
