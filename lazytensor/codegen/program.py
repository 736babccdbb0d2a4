"""From one lowered kernel to the OpenCL kernels that compute it, with launch sizes.

The heuristic picks the choices, the plan applies them, the linearizer orders
the work and the renderer prints it. A packed operand adds a copy kernel that
runs first into a scratch buffer.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..ir.dtype import DType
from .caps import DeviceCaps
from .heuristic import choose_opts
from .linearize import linearize
from .lower import LoweredKernel
from .opt import Opt, make_plan, reduce_by_fields
from .render_opencl import render_linearized

BufferRef = tuple[str, int]  # ("out", i) | ("in", i) | ("scratch", j)


@dataclass(frozen=True, slots=True)
class RenderedKernel:
    name: str
    source: str
    global_size: tuple[int, ...]
    local_size: tuple[int, ...] | None
    buffers: tuple[BufferRef, ...]  # outputs first
    n_out: int = 1
    n_args: int = 0
    opts: tuple[Opt, ...] = ()
    literals: tuple[int, ...] = ()  # a generic kernel's sizes, passed after the scalar arguments (codegen/hoist.py)
    sized_at_launch: bool = False  # its code serves several sizes (codegen/hoist.py): the launch gives them

    __reduce__ = reduce_by_fields


@dataclass(frozen=True, slots=True)
class RenderedProgram:
    """Kernels in launch order (the last computes the outputs), and the scratch they share."""
    kernels: tuple[RenderedKernel, ...]
    scratch: tuple[tuple[DType, int], ...] = ()

    __reduce__ = reduce_by_fields

    @property
    def name(self) -> str:
        return self.kernels[-1].name

    @property
    def sources(self) -> dict[str, str]:
        return {k.name: k.source for k in self.kernels}


def code_of(name: str, source: str) -> str:
    """A kernel's source with its name left out: two kernels whose code is one under two
    names (sizes only in their launches, named after their shapes) compute the same."""
    return source.replace(name, "\0")


def single_kernel(name: str, source: str, kernel: LoweredKernel) -> RenderedProgram:
    """A program of one kernel that takes the kernel's buffers as they are (the NumPy device)."""
    buffers = tuple([("out", i) for i in range(kernel.n_out)] + [("in", i) for i in range(len(kernel.inputs))])
    return RenderedProgram((RenderedKernel(name, source, (), None, buffers, kernel.n_out, len(kernel.args)),))


def build_program(kernel: LoweredKernel, caps: DeviceCaps, name: str, opts: list[Opt] | None = None,
                  varying: frozenset[str] = frozenset()) -> RenderedProgram:
    """Render `kernel` with the heuristic's choices (or with `opts`, e.g. from a search or a test);
    `varying`: variables whose size varies between launches of one generic program."""
    opts = choose_opts(kernel, caps, varying=varying) if opts is None else opts
    plan = make_plan(kernel, opts, varying)
    kernels, scratch = [], []
    n_in = len(kernel.inputs)
    for j, pack in enumerate(plan.packs):
        pack_plan = make_plan(pack.kernel, choose_opts(pack.kernel, caps, write_once=True))
        lin = linearize(pack_plan, f"{name}_pack{j}")
        refs = (("scratch", j),) + tuple(("in", i) for i in range(n_in))
        kernels.append(RenderedKernel(lin.name, render_linearized(lin), lin.global_size, lin.local_size,
                                      refs, 1, len(kernel.args), tuple(pack_plan.opts)))
        scratch.append((pack.dtype, pack.kernel.numel))
    lin = linearize(plan, name)
    buffers = tuple([("out", i) for i in range(kernel.n_out)] + [("in", i) for i in range(n_in)]
                    + [("scratch", j) for j in range(len(plan.packs))])
    kernels.append(RenderedKernel(name, render_linearized(lin), lin.global_size, lin.local_size, buffers,
                                  kernel.n_out, len(kernel.args), tuple(plan.opts)))
    return RenderedProgram(tuple(kernels), tuple(scratch))
