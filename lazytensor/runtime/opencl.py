"""The OpenCL device (any GPU, or the CPU through PoCL) via pyopencl."""
from __future__ import annotations

import atexit
import hashlib
import os
import time
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..codegen import render_opencl
from ..codegen.caps import DeviceCaps
from ..codegen.hoist import Hoister
from ..codegen.lower import LoweredKernel
from ..codegen.program import RenderedKernel, RenderedProgram, build_program, code_of
from ..ir.dtype import DType, float64
from .. import config
from ..sites import user_site
from .buffer import BufferView
from .cache_files import write_atomically
from .memory_pool import MemoryPool
from .build_pool import BuildPool, BuildRefused, default_workers, split
from .search import searched_opts
from .device import Device
from .stats import STATS


class KernelBuildError(RuntimeError):
    """The OpenCL compiler refused a generated program (a lazytensor bug, or a device limit)."""


def _build_failure(src: str, log: str) -> str:
    """What a failed build says: the compiler's errors, the user's line, and the source."""
    errors = [ln.strip() for ln in log.splitlines() if "error" in ln.lower() and "clBuildProgram" not in ln]
    numbered = "\n".join(f"{i + 1:4d}  {line}" for i, line in enumerate(src.splitlines()))
    return (f"OpenCL could not build the kernels of the realisation at {user_site()}:\n  "
            + "\n  ".join(errors[:10] or [log.strip()[:2000]]) + f"\n--- the generated source ---\n{numbered}")


def cache_dir() -> Path:
    return config.cache_root() / "opencl"


_PROBE = "__kernel void lt_probe(__global float* a) { a[get_global_id(0)] = 2.0f * a[get_global_id(0)]; }"


# PoCL unloads its compiler's state with a device's last program, and the next build loads it
# again (0.3 s): the probe's program stays, so the first real build finds the compiler loaded
_KEPT_ALIVE: list = []


def probe(device) -> str | None:
    """None when `device` builds and runs a kernel correctly, else why not (one line).
    An OpenCL implementation can list a device it cannot compile for (an old LLVM inside
    PoCL that does not know the host CPU), so listing is not enough."""
    import pyopencl as cl
    try:
        ctx = cl.Context([device])
        queue = cl.CommandQueue(ctx)
        host = np.arange(16, dtype=np.float32)
        buf = cl.Buffer(ctx, cl.mem_flags.READ_WRITE | cl.mem_flags.COPY_HOST_PTR, hostbuf=host)
        program = cl.Program(ctx, _PROBE).build()
        program.lt_probe(queue, (16,), None, buf)
        cl.enqueue_copy(queue, host, buf, is_blocking=True)
        _KEPT_ALIVE.append(program)
    except Exception as e:  # noqa: BLE001 - any failure means the device is unusable
        lines = [ln.strip() for ln in str(e).splitlines() if "error" in ln.lower()]
        return (lines[-1] if lines else str(e).splitlines()[0])[:200]
    return None if np.array_equal(host, 2 * np.arange(16, dtype=np.float32)) else "the probe kernel computed wrong values"


def _version(text: str) -> tuple[int, ...]:
    import re
    found = re.search(r"(\d+)\.(\d+)", text or "")
    return tuple(int(g) for g in found.groups()) if found else (0,)


# the environment variables MPI launchers (MPICH's and Open MPI's) set to a process's rank
_RANK_VARIABLES = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK")


def separate_pocl_scratch_per_rank(environ=os.environ) -> None:
    """With its kernel cache off, PoCL compiles into one scratch folder named by the kernel's
    hash: ranks of one MPI job on one host compiling the same kernel remove each other's
    files (PoCL aborts: "Can't get stat()"). Each rank gets a folder of its own, unless
    the user chose one."""
    rank = next((environ[v] for v in _RANK_VARIABLES if v in environ), None)
    if rank is None or environ.get("POCL_KERNEL_CACHE", "1") != "0" or "POCL_CACHE_DIR" in environ:
        return
    base = os.path.join(environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "pocl")
    environ["POCL_CACHE_DIR"] = os.path.join(base, f"rank{rank}")


def one_pocl_compile_per_kernel(environ=os.environ) -> None:
    """PoCL compiles a kernel's work-group function for the local size of its first launch
    (work-group specialisation), and once more, generic, when the binaries are read back
    for the disk cache: with specialisation off the launch compiles the generic one, which
    the read-back then reuses. The MLP's cold first step took 4.6 s instead of 6.3 s, and
    the kernels ran as fast (benchmarks/bench_kernels.py, PoCL 3.1 on a CPU: they choose
    their own loops and vectors). A setting of the user's own wins."""
    environ.setdefault("POCL_WORK_GROUP_SPECIALIZATION", "0")


@lru_cache(maxsize=None)
def _candidates() -> tuple:
    """Every listed OpenCL device, in order of preference: GPUs first; then CPUs by newest
    driver (a newer implementation knows newer processors). () when there is no platform."""
    separate_pocl_scratch_per_rank()  # before PoCL starts, which reads them once
    one_pocl_compile_per_kernel()
    try:
        import pyopencl as cl
        devices = [d for p in cl.get_platforms() for d in p.get_devices()]
    except Exception:  # no ICD loader, no platform: OpenCL is simply absent
        return ()
    return tuple(sorted(devices, key=lambda d: (0 if d.type & cl.device_type.GPU else 1,
                                                tuple(-v for v in _version(d.driver_version)))))


_PROBED: dict[int, bool] = {}  # a candidate's handle -> whether it passed its probe


def _usable(device) -> bool:
    """Whether `device` passes its probe kernel (asked once; a failure warns once)."""
    handle = device.int_ptr
    if handle not in _PROBED:
        reason = probe(device)
        if reason is not None:
            warnings.warn(f"lazytensor: skipping OpenCL device {device.name.strip()!r} ({device.platform.name}, "
                          f"{device.platform.version}): {reason}", stacklevel=3)
        _PROBED[handle] = reason is None
    return _PROBED[handle]


def opencl_devices(wanted: int | None = None) -> tuple:
    """The usable OpenCL devices in order of preference; devices that fail a probe kernel are
    left out with a one-line warning. Candidates are probed in order only until `wanted`
    usable ones are found (all of them when None): a probe on an empty cache compiles a
    kernel, half a second a platform, and a machine with PoCL from its distribution and from
    pip lists two, of which the first is the one used. The device being opened (the
    `wanted`-th) starts its build workers before its probe where nothing was ever built
    here: a worker takes a second to load the compiler, which the probe then hides."""
    usable = []
    for device in _candidates():
        if wanted is not None and len(usable) >= wanted:
            break
        opening = wanted is not None and len(usable) == wanted - 1 and device.int_ptr not in _PROBED
        early = opening and not _any_binary(cache_dir())
        if early:
            shared_build_pool(device, start=True)
        if _usable(device):
            usable.append(device)
        elif early:
            close_build_pool(device)
    return tuple(usable)


def device_caps(dev) -> DeviceCaps:
    """What the heuristic may rely on, read from the OpenCL device."""
    import pyopencl as cl
    # LT_CL_AS_GPU=1 plans kernels as for a GPU: the GPU code paths, checked on a CPU device
    is_cpu = not (dev.type & cl.device_type.GPU) and os.environ.get("LT_CL_AS_GPU", "0") in ("", "0")
    return DeviceCaps(
        is_cpu=is_cpu, compute_units=dev.max_compute_units, max_work_group_size=dev.max_work_group_size,
        max_work_item_sizes=tuple(dev.max_work_item_sizes[:3]), local_memory_bytes=dev.local_mem_size,
        # explicit 16-wide vectors are what a CPU backend widens best; a GPU gets scalar lanes
        preferred_vector_width=16 if is_cpu else max(1, dev.preferred_vector_width_float),
        fp64="cl_khr_fp64" in dev.extensions)


def _save(path: Path, binary: bytes) -> None:
    """Keep a program's binary for later processes (a read-only cache only costs rebuilds)."""
    try:
        write_atomically(path, binary)
    except OSError:
        pass


def _any_binary(folder: Path) -> bool:
    try:
        with os.scandir(folder) as entries:  # closed when any() stops early
            return any(entry.name.endswith(".bin") for entry in entries)
    except OSError:
        return False


def build_options() -> list[str]:
    """What every program is built with: OpenCL C 1.2, and LT_CL_OPTIONS (e.g. -cl-opt-disable
    where compile time matters more than kernel speed: a test suite that compiles thousands
    of tiny kernels once each)."""
    return ["-cl-std=CL1.2"] + os.environ.get("LT_CL_OPTIONS", "").split()


_POOLS: dict[tuple, BuildPool | None] = {}  # (device id, options) -> its build pool, or None where none pays


def _pool_key(dev) -> tuple:
    return _device_id(dev), tuple(build_options())


def shared_build_pool(dev, start: bool) -> BuildPool | None:
    """The one build pool of `dev` with this process's options (made at the first ask, and
    started where `start`): the pool a probe started is the one its device builds with."""
    key = _pool_key(dev)
    if key not in _POOLS:
        _POOLS[key] = build_pool_for(dev, build_options())
        if _POOLS[key] is not None:
            atexit.register(_POOLS[key].close)
    pool = _POOLS[key]
    if pool is not None and start:
        pool.start()
    return pool


def close_build_pool(dev) -> None:
    """Stop the workers started for `dev` (a device that failed its probe)."""
    pool = _POOLS.pop(_pool_key(dev), None)
    if pool is not None:
        pool.close()


def build_pool_for(dev, options: list[str], environ=os.environ) -> BuildPool | None:
    """A pool of build workers for `dev`, where building in parallel pays: PoCL (one compile at
    a time per process) with work-group specialisation off, so that a binary read back right
    after the build holds the work-group functions a launch runs (one_pocl_compile_per_kernel)."""
    workers = default_workers(environ)
    if workers <= 0 or "Portable Computing Language" not in dev.platform.name:
        return None
    if environ.get("POCL_WORK_GROUP_SPECIALIZATION", "1") != "0":
        return None
    return BuildPool(_device_id(dev), options, workers)


def _device_id(dev) -> tuple[str, str, str]:
    """What a build worker finds its device by (runtime/build_worker.py)."""
    return dev.platform.name, dev.name, dev.driver_version


class OpenCLDevice(Device):
    renderer = render_opencl
    joins_kernels = True  # independent one-dimensional kernels may share a launch (codegen/horizontal.py)

    def __init__(self, index: int = 0):
        import pyopencl as cl
        self.cl = cl
        self.build_options = build_options()
        devices = opencl_devices(index + 1)
        if index >= len(devices):
            raise RuntimeError(f"OpenCL device cl:{index} does not exist ({len(opencl_devices())} OpenCL device(s) found)")
        self.dev = devices[index]
        self.name = "cl" if index == 0 else f"cl:{index}"
        self.ctx = cl.Context([self.dev])
        self.queue = cl.CommandQueue(self.ctx, properties=cl.command_queue_properties.PROFILING_ENABLE)
        self.caps = device_caps(self.dev)
        self.fp64 = self.caps.fp64
        self.fuse_row_reductions = self.caps.is_cpu  # one work-item per row: see PERF_NOTES
        self.pending_binaries: list[tuple[object, Path]] = []
        self.max_alloc = self.dev.max_mem_alloc_size
        self.kernels: dict[str, object] = {}  # source -> cl.Kernel
        self.by_code: dict[str, object] = {}  # source with its name left out (codegen/program.code_of) -> cl.Kernel
        self.pool = MemoryPool()  # freed memory kept for reuse while its size is in use
        self.hoister = Hoister()  # sizes that vary become kernel arguments (codegen/hoist.py)
        self.identity = f"{self.dev.platform.name}|{self.dev.name}|{self.dev.driver_version}|{self.build_options}"
        # programs built in parallel (runtime/build_pool.py); where nothing was ever built here,
        # builds are near: the workers start now, if the probe did not start them already
        self.builders = shared_build_pool(self.dev, start=not _any_binary(cache_dir()))

    @property
    def description(self) -> str:
        return f"{self.name} ({self.dev.name.strip()}, {self.dev.platform.name} {self.dev.driver_version})"

    def __repr__(self) -> str:
        return f"<OpenCLDevice {self.name}: {self.dev.name.strip()} ({self.dev.platform.name})>"

    def render(self, kernel: LoweredKernel, name: str, key: tuple | None = None, resized: bool = False) -> RenderedProgram:
        """`key`: the kernel's signature, under which a search (LT_SEARCH=1) keeps its winner;
        `resized`: the realisation repeats an earlier one at other sizes (codegen/hoist.py).
        Rendering means a build is likely near: the build workers start loading the compiler."""
        if self.builders is not None:
            self.builders.start()
        if config.SEARCH and key is not None:
            return build_program(kernel, self.caps, name, searched_opts(self, kernel, (self.identity, key)))
        if key is None:
            return build_program(kernel, self.caps, name)
        return self.hoister.render(kernel, name, key, STATS.realizations, resized,
                                   lambda k, n, varying, opts: build_program(k, self.caps, n, opts, varying))

    def share(self, programs: list[RenderedProgram]) -> list[RenderedProgram]:
        return self.hoister.share(programs)

    def cache_path(self, *parts: str) -> Path:
        return cache_dir().parent.joinpath(*parts)

    def supports(self, dtype: DType) -> bool:
        return dtype != float64 or self.fp64

    # ---- memory ------------------------------------------------------------------------
    def alloc(self, dtype: DType, size: int):
        nbytes = max(size * dtype.itemsize, 1)
        if nbytes > self.max_alloc:
            raise RuntimeError(
                f"{self.name}: cannot allocate {nbytes} bytes ({size} x {dtype.name}); "
                f"the device allows at most {self.max_alloc} bytes in one buffer")
        kept = self.pool.take(nbytes)
        if kept is not None:
            return kept
        STATS.buffers_created += 1
        try:
            return self.cl.Buffer(self.ctx, self.cl.mem_flags.READ_WRITE, nbytes)
        except self.cl.Error as e:
            raise RuntimeError(f"{self.name}: allocating {nbytes} bytes failed: {e}") from None

    def free(self, raw, dtype: DType, size: int) -> None:
        self.pool.give(raw, max(size * dtype.itemsize, 1))

    def copyin(self, raw, array: np.ndarray) -> None:
        if array.size:
            self.cl.enqueue_copy(self.queue, raw, np.ascontiguousarray(array), is_blocking=True)

    def copyout(self, view: BufferView) -> np.ndarray:
        buf = view.buffer
        host = np.empty(buf.size, dtype=buf.dtype.np)
        if buf.size:
            self.cl.enqueue_copy(self.queue, host, buf.raw, is_blocking=True)
        base = host[view.offset:] if view.offset else host
        return as_strided(base, view.shape, tuple(s * host.itemsize for s in view.strides)).copy()

    # ---- programs ----------------------------------------------------------------------
    def has_built(self, name: str, source: str) -> bool:
        return source in self.kernels or code_of(name, source) in self.by_code

    def compile(self, sources: dict[str, str]) -> dict[str, object]:
        missing = {n: s for n, s in sources.items() if s not in self.kernels}
        STATS.cache_hits += len(sources) - len(missing)
        if missing:
            self._build_each_code_once(missing)
        return {n: self.kernels[s] for n, s in sources.items()}

    def _build_each_code_once(self, sources: dict[str, str]) -> None:
        """Build `sources` (name -> source), each code once: a code built under another name
        (a family's first kernel, launched later at other sizes under a name of the code's
        own: codegen/hoist.py) runs as built, and a code met twice in `sources` builds once."""
        codes = {name: code_of(name, src) for name, src in sources.items()}
        needed: dict[str, str] = {}  # code -> the name it builds under
        for name in sources:
            if codes[name] not in self.by_code:
                needed.setdefault(codes[name], name)
            else:
                STATS.cache_hits += 1
        if needed:
            self._build({name: sources[name] for name in needed.values()})
        for name, src in sources.items():
            self.kernels[src] = self.by_code[codes[name]]

    def _build(self, sources: dict[str, str]) -> None:
        """Build `sources` (codes not built yet), keeping each kernel by its code."""
        start = time.perf_counter()
        groups = split(sources, self.builders.groups) if self.builders is not None else [sources]
        programs = self._programs([render_opencl.program_source(list(g.values())) for g in groups])
        STATS.compile_time_s += time.perf_counter() - start
        STATS.kernels_compiled += len(sources)
        for group, program in zip(groups, programs):
            for name, src in group.items():
                self.by_code[code_of(name, src)] = self.cl.Kernel(program, name)

    def _programs(self, srcs: list[str]) -> list:
        """Each program, from the on-disk binary cache where built before; the others built
        in parallel by the build pool, or here one by one."""
        paths = [self._binary_path(src) for src in srcs]
        programs = [self._load(path) for path in paths]
        missing = [i for i, p in enumerate(programs) if p is None]
        if self.builders is None or not missing:
            return [p if p is not None else self._program(src, path) for p, src, path in zip(programs, srcs, paths)]
        self.builders.start()
        try:
            binaries = self.builders.build([srcs[i] for i in missing], self._binary_of)
        except BuildRefused as e:
            raise KernelBuildError(_build_failure(e.source, e.log)) from None
        for i, binary in zip(missing, binaries):
            STATS.programs_built += 1
            programs[i] = self.cl.Program(self.ctx, [self.dev], [binary]).build()
            _save(paths[i], binary)
        return programs

    def _binary_path(self, src: str) -> Path:
        return cache_dir() / f"{hashlib.sha256((self.identity + chr(0) + src).encode()).hexdigest()}.bin"

    def _load(self, path: Path):
        """The program whose binary `path` holds, or None (absent, stale or foreign)."""
        if not path.exists():
            return None
        try:
            program = self.cl.Program(self.ctx, [self.dev], [path.read_bytes()]).build()
        except Exception:  # a stale or foreign binary: rebuilt from source
            return None
        STATS.disk_cache_hits += 1
        return program

    def _binary_of(self, src: str) -> bytes:
        """Build `src` here and read its binary back (which compiles its work-group functions)."""
        try:
            program = self.cl.Program(self.ctx, src).build(options=self.build_options)
        except self.cl.Error as e:
            raise BuildRefused(src, str(e)) from None
        return program.get_info(self.cl.program_info.BINARIES)[0]

    def _program(self, src: str, path: Path):
        """Build `src` here; its binary is saved once its kernels have run."""
        cl = self.cl
        try:
            program = cl.Program(self.ctx, src).build(options=self.build_options)
        except cl.Error as e:
            raise KernelBuildError(_build_failure(src, str(e))) from None
        STATS.programs_built += 1
        # PoCL compiles each kernel again at its first launch; a binary taken after that
        # launch loads with no further compile, so it is saved once the batch has run.
        self.pending_binaries.append((program, path))
        return program

    def after_batch(self) -> None:
        """Save the binaries of programs built for this batch, now that their kernels ran."""
        if not self.pending_binaries:
            return
        self.queue.finish()
        for program, path in self.pending_binaries:
            try:
                _save(path, program.get_info(self.cl.program_info.BINARIES)[0])
            except self.cl.Error:
                pass  # a read-only cache only costs rebuilds
        self.pending_binaries.clear()

    def launch(self, runnable, outs, inputs, args, kernel: RenderedKernel):
        if not getattr(runnable, "lt_typed", False):
            # declared once, pyopencl packs Python scalars itself: setting a NumPy scalar
            # argument costs ~7 us, the whole call with declared types ~0.5 us
            runnable.set_scalar_arg_dtypes([None] * (len(outs) + len(inputs)) + [d.np for _, d in args]
                                           + [np.int32] * len(kernel.literals))
            runnable.lt_typed = True
        runnable.set_args(*outs, *inputs, *[v for v, _ in args], *kernel.literals)
        return self.cl.enqueue_nd_range_kernel(self.queue, runnable, kernel.global_size, kernel.local_size)

    def elapsed(self, handle) -> float:
        handle.wait()
        return (handle.profile.end - handle.profile.start) * 1e-9

    def synchronize(self) -> None:
        self.queue.finish()
