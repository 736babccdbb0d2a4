"""VALIDATE=1: every kernel another device runs is run again on the numpy device from the
same inputs, and the first whose outputs differ beyond tolerance raises, naming the kernel
and the user's lines of its nodes (recorded while validating)."""
from __future__ import annotations

import numpy as np

from ..ir.kernel import KernelSpec
from ..ir.traverse import postorder
from ..sites import site_of
from .buffer import BufferView
from .devices import get_device

RTOL, ATOL = 1e-4, 1e-5


class ValidationError(AssertionError):
    """A kernel's results disagree with the reference (NumPy) device's."""


def check(spec: KernelSpec, program, device, views: list[BufferView], render) -> None:
    """Run `spec` on the numpy device from the inputs `device` holds; compare with the outputs
    `device` wrote into `views`."""
    reference = get_device("numpy")
    ref_program = render(reference, spec)
    runnables = reference.compile(ref_program.sources)
    inputs = [_host_copy(device, n.buffer) for n in spec.inputs]
    outs = [np.empty(o.numel, dtype=o.dtype.np) for o in spec.outputs]
    for rk in ref_program.kernels:
        bufs = {"out": outs, "in": inputs, "scratch": []}
        raws = [bufs[kind][i] for kind, i in rk.buffers]
        reference.launch(runnables[rk.name], raws[:rk.n_out], raws[rk.n_out:], spec.args[:rk.n_args], rk)
    for out, view, expected in zip(spec.outputs, views, outs):
        got = device.copyout(view).reshape(-1)
        if not np.allclose(got, expected, rtol=RTOL, atol=ATOL, equal_nan=True):
            worst = int(np.nanargmax(np.abs(got.astype(np.float64) - expected.astype(np.float64))))
            raise ValidationError(
                f"VALIDATE: kernel {program.name} on {device.name} disagrees with numpy at element {worst} "
                f"({got[worst]!r} vs {expected[worst]!r}) of its output {tuple(out.shape)} {out.dtype.name}; "
                f"its nodes come from {_sites(spec) or 'lines not recorded'}")


def _host_copy(device, view: BufferView) -> np.ndarray:
    """The whole flat buffer behind `view` (the kernel indexes it with its own strides)."""
    whole = BufferView(view.buffer, (view.buffer.size,), (1,), 0)
    return device.copyout(whole)


def _sites(spec: KernelSpec) -> str:
    inputs = spec.input_ids
    found = []
    for n in postorder(list(spec.outputs), lambda m: () if id(m) in inputs or m.realized else m.srcs):
        site = site_of(n)
        if site is not None and site[0] not in found:
            found.append(site[0])
    return ", ".join(found)
