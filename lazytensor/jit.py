"""lt.jit(fn): run a step once, capture its kernels the next time, replay them after that.

Per input signature (every tensor argument's shape, dtype, device, grad flag and aliasing,
the other arguments by value or identity, and the grad mode), the first call runs `fn`
as it is: optimizers make their state lazily then. The second call runs it again under
a recording of every kernel it launches and every tensor it reads, writes or makes
(lazytensor.capture) and turns that into a Program (lazytensor.jit_program). Later calls
replay the program: no Python graph work at all, only the captured launches on the new
arguments' buffers, the parameters' and optimizer state's current buffers and fresh
buffers, and then the effects (in-place updates, new `.grad`s, new output tensors).

Inside `fn` no value may leave the device: `.item()`, `.numpy()`, `print`, `bool(t)` or a
data-dependent shape raise, naming the call. A replay refuses rather than replays wrong:
it captures again when an argument's shape or layout, a tensor's autograd state, the
training flag of a module that ran (train() or eval()) or an optimizer's hyper-parameters
(a learning rate a scheduler changed) differ from the capture, and never replays a call
that draws random numbers, makes state that outlives it, or returns a tensor with autograd
history that a replay cannot give; those calls run `fn` every time (DEBUG=1 says why). Outputs of a replay are new tensors without autograd
history. Python values `fn` reads itself (globals, closures) are fixed at capture, as in
other tracing JITs: a function that depends on them changing is the caller's to re-jit.
Debugging modes (LAZY=0, GRAPH, VALIDATE, NANCHECK) run `fn` every call.
"""
from __future__ import annotations

import functools
import sys
from dataclasses import dataclass
from typing import Any, Callable

from . import capture, config
from .capture import Recording, capturing
from .jit_program import NotReplayable, Program, Stale
from .runtime import engine
from .runtime.buffer import next_serial
from .runtime.devices import default_device
from .tensor_base import TensorBase, realize

_CAPTURE_TRIES = 3  # captures of one signature that may fail with a retryable reason


def _signature(value: Any) -> Any:
    """What a capture depends on: every tensor's shape, dtype, device and grad flag, and the
    other arguments by type and (where hashable) value."""
    if isinstance(value, TensorBase):
        return ("tensor", tuple(value.shape), value.dtype.name, str(value.device), value.requires_grad)
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_signature(v) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple((k, _signature(v)) for k, v in sorted(value.items(), key=lambda kv: repr(kv[0]))))
    try:
        hash(value)
        return (type(value).__name__, value)
    except TypeError:
        return (type(value).__name__, id(value))


def _tensors(value: Any) -> list[TensorBase]:
    if isinstance(value, TensorBase):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensors(v)]
    return []


def _aliasing(tensors: list[TensorBase]) -> tuple[int, ...]:
    """For each argument tensor, the first argument sharing its storage."""
    first: dict[int, int] = {}
    return tuple(first.setdefault(id(t._storage), i) for i, t in enumerate(tensors))


@dataclass
class _Entry:
    """What lt.jit knows of one input signature."""

    calls: int = 0
    program: Program | None = None
    failed_captures: int = 0
    plain_reason: str | None = None  # set when this signature runs `fn` every call


def _debugging() -> bool:
    return not config.LAZY or bool(config.GRAPH) or config.VALIDATE or config.NANCHECK


class jit:
    """Wrap `fn` (also as a decorator: `@lt.jit`)."""

    def __init__(self, fn: Callable):
        functools.update_wrapper(self, fn)
        self.fn = fn
        self._entries: dict[Any, _Entry] = {}
        self.replays = 0  # calls answered by replaying captured kernels

    @property
    def captures(self) -> int:
        """How many input signatures have been captured."""
        return len(self._entries)

    @property
    def _name(self) -> str:
        return getattr(self.fn, "__qualname__", repr(self.fn))

    def __call__(self, *args, **kwargs):
        arg_tensors = _tensors((args, kwargs))
        realize(*arg_tensors)
        signature = (_signature((args, kwargs)), _aliasing(arg_tensors), config.GRAD_ENABLED, default_device())
        entry = self._entries.get(signature)
        if entry is None:
            entry = self._entries[signature] = _Entry()
            self._say(f"capturing (capture {len(self._entries)}) for input shapes "
                      f"{[tuple(t.shape) for t in arg_tensors]}")
        entry.calls += 1
        if _debugging() or capture.ACTIVE is not None:
            return self._run(args, kwargs)
        if entry.program is not None:
            try:
                out = entry.program.replay(arg_tensors)
                self.replays += 1
                return out
            except Stale as why:
                entry.program = None
                self._say(f"capturing again: {why}")
        if entry.calls == 1 or entry.plain_reason is not None:
            return self._run(args, kwargs)
        return self._capture(entry, args, kwargs, arg_tensors)

    def _run(self, args, kwargs):
        with capturing(self._name):
            out = self.fn(*args, **kwargs)
        realize(*_tensors(out))
        return out

    def _capture(self, entry: _Entry, args, kwargs, arg_tensors: list[TensorBase]):
        rec = Recording()
        first_serial = next_serial()
        with capturing(self._name), capture.recording(rec):
            out = self.fn(*args, **kwargs)
            _realize_effects(rec, out)
        try:
            entry.program = Program(rec, arg_tensors, out, first_serial)
            self._say(f"captured {len(entry.program.steps)} kernel launch(es); later calls replay them")
        except NotReplayable as why:
            entry.failed_captures += 1
            if not why.retry or entry.failed_captures >= _CAPTURE_TRIES:
                entry.plain_reason = why.reason
                self._say(f"not replayed ({why.reason}); each call runs the function")
        return out

    def _say(self, message: str) -> None:
        if config.DEBUG >= 1:
            print(f"[lt] jit {self._name}: {message}", file=sys.stderr)

    def __get__(self, instance, owner):
        """As a method decorator: bind like a function."""
        return self if instance is None else functools.partial(self, instance)


def _realize_effects(rec: Recording, out: Any) -> None:
    """Realise, inside the recording, everything the call leaves behind: its outputs, the
    tensors it wrote and the gradients it set, so that their kernels are captured."""
    realize(*_tensors(out))
    storages = [met.storage for met in rec.touched.values()] + list(rec.grads_written.values())
    grads = [s.grad for s in rec.grads_written.values() if s.grad is not None]
    realize(*grads)
    by_device: dict[str, list] = {}
    for s in storages:
        if not s.node.realized:
            by_device.setdefault(s.node.device, []).append(s.node)
    for device, nodes in by_device.items():
        engine.realize(nodes, device)
