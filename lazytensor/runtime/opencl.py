"""The OpenCL device (any GPU, or the CPU through PoCL) via pyopencl."""
from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..codegen import render_opencl
from ..codegen.lower import LoweredKernel
from ..ir.dtype import DType, float64
from .buffer import BufferView
from .device import Device
from .stats import STATS


def cache_dir() -> Path:
    root = os.environ.get("LT_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "lazytensor")
    return Path(root) / "opencl"


def opencl_devices() -> list:
    """Every OpenCL device visible, GPUs first; [] when there is no platform."""
    try:
        import pyopencl as cl
        devices = [d for p in cl.get_platforms() for d in p.get_devices()]
    except Exception:  # no ICD loader, no platform: OpenCL is simply absent
        return []
    return sorted(devices, key=lambda d: 0 if d.type & cl.device_type.GPU else 1)


class OpenCLDevice(Device):
    renderer = render_opencl

    def __init__(self, index: int = 0):
        import pyopencl as cl
        self.cl = cl
        devices = opencl_devices()
        if index >= len(devices):
            raise RuntimeError(f"OpenCL device cl:{index} does not exist ({len(devices)} OpenCL device(s) found)")
        self.dev = devices[index]
        self.name = "cl" if index == 0 else f"cl:{index}"
        self.ctx = cl.Context([self.dev])
        self.queue = cl.CommandQueue(self.ctx, properties=cl.command_queue_properties.PROFILING_ENABLE)
        self.fp64 = "cl_khr_fp64" in self.dev.extensions
        self.max_alloc = self.dev.max_mem_alloc_size
        self.kernels: dict[str, object] = {}  # source -> cl.Kernel
        self.pool: dict[int, list] = {}
        # Extra build options, e.g. LT_CL_OPTIONS=-cl-opt-disable where compile time matters more
        # than kernel speed (a test suite that compiles thousands of tiny kernels once each).
        self.build_options = ["-cl-std=CL1.2"] + os.environ.get("LT_CL_OPTIONS", "").split()
        self.identity = f"{self.dev.platform.name}|{self.dev.name}|{self.dev.driver_version}|{self.build_options}"

    def __repr__(self) -> str:
        return f"<OpenCLDevice {self.name}: {self.dev.name.strip()} ({self.dev.platform.name})>"

    def supports(self, dtype: DType) -> bool:
        return dtype != float64 or self.fp64

    # ---- memory ------------------------------------------------------------------------
    def alloc(self, dtype: DType, size: int):
        nbytes = max(size * dtype.itemsize, 1)
        if nbytes > self.max_alloc:
            raise RuntimeError(
                f"{self.name}: cannot allocate {nbytes} bytes ({size} x {dtype.name}); "
                f"the device allows at most {self.max_alloc} bytes in one buffer")
        free = self.pool.get(nbytes)
        if free:
            return free.pop()
        try:
            return self.cl.Buffer(self.ctx, self.cl.mem_flags.READ_WRITE, nbytes)
        except self.cl.Error as e:
            raise RuntimeError(f"{self.name}: allocating {nbytes} bytes failed: {e}") from None

    def free(self, raw, dtype: DType, size: int) -> None:
        self.pool.setdefault(max(size * dtype.itemsize, 1), []).append(raw)

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
    def compile(self, sources: dict[str, str]) -> dict[str, object]:
        missing = {n: s for n, s in sources.items() if s not in self.kernels}
        STATS.cache_hits += len(sources) - len(missing)
        if missing:
            self._build(missing)
        return {n: self.kernels[s] for n, s in sources.items()}

    def _build(self, sources: dict[str, str]) -> None:
        needs_fp64 = any("double" in s for s in sources.values())
        program_src = render_opencl.program_source(list(sources.values()), needs_fp64)
        start = time.perf_counter()
        program = self._program(program_src)
        STATS.compile_time_s += time.perf_counter() - start
        STATS.kernels_compiled += len(sources)
        for name, src in sources.items():
            self.kernels[src] = self.cl.Kernel(program, name)

    def _program(self, src: str):
        """Build from the on-disk binary cache when this source was built before."""
        cl = self.cl
        key = hashlib.sha256((self.identity + "\0" + src).encode()).hexdigest()
        path = cache_dir() / f"{key}.bin"
        if path.exists():
            try:
                program = cl.Program(self.ctx, [self.dev], [path.read_bytes()]).build()
                STATS.disk_cache_hits += 1
                return program
            except Exception:  # a stale or foreign binary: rebuild from source
                pass
        program = cl.Program(self.ctx, src).build(options=self.build_options)
        STATS.programs_built += 1
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(program.get_info(cl.program_info.BINARIES)[0])
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only cache only costs rebuilds
        return program

    def launch(self, runnable, outs, inputs, args, kernel: LoweredKernel):
        params = outs + inputs + [d.np(v) for v, d in args]
        runnable.set_args(*params)
        return self.cl.enqueue_nd_range_kernel(self.queue, runnable, (kernel.numel,), None)

    def elapsed(self, handle) -> float:
        handle.wait()
        return (handle.profile.end - handle.profile.start) * 1e-9

    def synchronize(self) -> None:
        self.queue.finish()
