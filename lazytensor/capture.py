"""What lt.jit watches while it captures a function: the contract, and the recording.

A captured function is meant to be replayed as its kernels alone, so anything that
reads data on the host (`.item()`, `.numpy()`, `print`, `bool(t)`, a data-dependent
shape) would be stale or wrong on replay: it raises, naming the call and the function.

While a capture records (`ACTIVE` is its Recording), the core reports what a replay has
to reproduce: every kernel launched and every buffer allocated for it, the storages that
existed before the call and were read or written, the gradients assigned, the storages
made during the call, the Python values the kernels depend on (guards), and anything
that makes a replay impossible (random draws). `lazytensor.jit_program` turns it into
a program.
"""
from __future__ import annotations

import weakref
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional

from .ir.node import fresh_nodes

_CAPTURING: list[str] = []  # the functions being captured, innermost last
ACTIVE: Optional["Recording"] = None  # the recording of the capture in progress, if any


@contextmanager
def capturing(name: str) -> Iterator[None]:
    _CAPTURING.append(name)
    try:
        yield
    finally:
        _CAPTURING.pop()


def refuse_host_read(call: str) -> None:
    """Raise if a jitted function is being captured: `call` would read device data on the host."""
    if _CAPTURING:
        raise RuntimeError(
            f"lt.jit: {call} inside the jitted function '{_CAPTURING[-1]}' reads a tensor's value on the "
            f"host, which a replay of the captured kernels cannot do; return the tensor from the function "
            f"and read it after the call")


@dataclass
class Launch:
    """One kernel launch as captured: the device, the kernel and its buffers and arguments."""

    device: Any
    runnable: Any
    kernel: Any  # the RenderedKernel: global and local sizes, how many outputs and arguments
    buffers: list  # Buffer objects: outputs first, then inputs
    args: list  # (value, dtype) scalar arguments


@dataclass
class Touched:
    """A storage that existed before the call, as the call first met it."""

    storage: Any  # the Storage itself while recording; the program keeps a weak reference
    view: Any  # the BufferView it held then (realised first, outside the recording)
    followed: bool  # did autograd follow its value
    grad_node_type: type
    grad_storage: Any  # the storage of its .grad then, if any


@dataclass
class Recording:
    launches: list[Launch] = field(default_factory=list)
    fresh: dict[int, Any] = field(default_factory=dict)  # id -> Buffer allocated for a kernel
    touched: dict[int, Touched] = field(default_factory=dict)  # id(storage) -> first meeting
    grads_written: dict[int, Any] = field(default_factory=dict)  # id -> storage whose .grad was set
    created: "weakref.WeakSet" = field(default_factory=weakref.WeakSet)  # storages made in the call
    guards: list[tuple[str, Callable[[], Any], Any]] = field(default_factory=list)
    unreplayable: list[str] = field(default_factory=list)  # why a replay cannot reproduce the call
    checks: list[tuple[Any, Any]] = field(default_factory=list)  # (BufferView, checks.Failure): checks computed
    modules: dict[int, Any] = field(default_factory=dict)  # id -> module whose training flag is guarded
    paused: int = 0  # > 0 while the core realises a touched storage's earlier pending value

    def launch(self, device, runnable, kernel, buffers: list, args: list) -> None:
        if not self.paused:
            self.launches.append(Launch(device, runnable, kernel, buffers, args))

    def allocate(self, buffer) -> None:
        if not self.paused:
            self.fresh[id(buffer)] = buffer


def record_launch(device, runnable, kernel, buffers: list, args: list) -> None:
    if ACTIVE is not None:
        ACTIVE.launch(device, runnable, kernel, buffers, args)


def record_allocation(buffer) -> None:
    if ACTIVE is not None:
        ACTIVE.allocate(buffer)


def grad_written(storage) -> None:
    if ACTIVE is not None and not ACTIVE.paused:
        ACTIVE.grads_written.setdefault(id(storage), storage)


def checked(view, message) -> None:
    """A check (lazytensor/checks.py) computed by the recorded kernels, and the checks.Failure it
    raises (a replay reports its new value)."""
    if ACTIVE is not None and not ACTIVE.paused:
        ACTIVE.checks.append((view, message))


def guard(description: str, read: Callable[[], Any]) -> None:
    """The captured kernels depend on the Python value `read()` returns now (a learning rate):
    a later call where it differs captures again instead of replaying."""
    if ACTIVE is not None and not ACTIVE.paused:
        ACTIVE.guards.append((description, read, read()))


def guard_training(module) -> None:
    """`module` runs in the call: its forward may branch on its training flag (batch norm's
    statistics, dropout), so a later call after train() or eval() changed it captures again
    instead of replaying the other mode's kernels. Read through a weak reference: the
    program does not keep the module alive."""
    rec = ACTIVE
    if rec is None or rec.paused or id(module) in rec.modules:
        return
    rec.modules[id(module)] = module  # held while recording, so that no other module takes its id
    ref = weakref.ref(module)
    guard(f"the training flag of a {type(module).__name__} (train() or eval())",
          lambda: getattr(ref(), "training", None))


def unreplayable(reason: str) -> None:
    """This call does something a replay of its kernels cannot (`reason` says what)."""
    if ACTIVE is not None and not ACTIVE.paused and reason not in ACTIVE.unreplayable:
        ACTIVE.unreplayable.append(reason)


@contextmanager
def recording(rec: Recording) -> Iterator[Recording]:
    global ACTIVE
    outer, ACTIVE = ACTIVE, rec
    try:
        with fresh_nodes():
            yield rec
    finally:
        ACTIVE = outer


@contextmanager
def paused() -> Iterator[None]:
    """Work the replay must not repeat (realising a value pending from before the call)."""
    rec = ACTIVE
    if rec is not None:
        rec.paused += 1
    try:
        yield
    finally:
        if rec is not None:
            rec.paused -= 1
