"""A captured call as a program: kernel launches over slots, and the effects a replay applies.

Built once from a capture's Recording (lazytensor.capture), a Program replays the call
without building any graph. It finds each storage the call met again (an argument by
position, any other tensor by weak reference, a gradient through its tensor's `.grad`),
checks that it still has the layout and autograd state the kernels were captured with,
launches the captured kernels on those buffers, on fresh ones for what it hands back and
on buffers of its own for the temporaries between launches, and then points the written
storages, the new gradients and the outputs at the results.
"""
from __future__ import annotations

import gc
import weakref
from dataclasses import dataclass
from typing import Any, Callable

from . import checks
from .autodiff.graph import AccumulateGrad, followed, own
from .capture import Recording
from .ir.node import buffer_node
from .runtime import engine
from .runtime.buffer import Buffer, BufferView
from .runtime.stats import STATS
from .tensor_base import Storage, TensorBase, wrap_storage


class NotReplayable(Exception):
    """The captured call does something a replay cannot reproduce; `retry`: a later capture may."""

    def __init__(self, reason: str, retry: bool = False):
        super().__init__(reason)
        self.reason, self.retry = reason, retry


class Stale(Exception):
    """This call differs from the captured one in a way the kernels depend on."""


Ref = tuple  # ("slot", i): slot i's buffer; ("fresh", j): a buffer the replay makes; ("const", Buffer)
_PLAIN_VALUES = (type(None), bool, int, float, complex, str, bytes)


@dataclass
class Slot:
    """A storage the call met that existed before it, and how a replay finds it again."""

    kind: str  # "arg": the storage of argument tensor `ref`; "weak": `ref()`; "grad": slot `ref`'s .grad
    ref: Any
    layout: tuple  # (dtype, shape, strides, offset) the kernels read it with
    followed: bool
    grad_node_type: type


@dataclass
class Step:
    """One captured launch, with the fresh buffers made before it and dropped after it."""

    device: Any
    runnable: Any
    kernel: Any
    refs: list[Ref]
    args: list
    makes: list[int]
    drops: list[int]


@dataclass
class Result:
    """A storage a replay hands back: a slot's, or a new one over a buffer."""

    slot: int | None
    ref: Ref | None = None
    layout: tuple = ()  # (dtype, shape, strides, offset, device) of a new storage's buffer node


@dataclass
class Write:
    slot: int
    result: Result  # the slot's new value (a view of a buffer)
    leaf: bool  # the value is a leaf autograd follows (a parameter after an optimizer step)


def _layout(view: BufferView) -> tuple:
    return (view.buffer.dtype, view.shape, view.strides, view.offset)


class Program:
    def __init__(self, rec: Recording, arg_tensors: list[TensorBase], out: Any, first_serial: int):
        if rec.unreplayable:
            raise NotReplayable("; ".join(rec.unreplayable))
        self.guards = [(description, read, value) for description, read, value in rec.guards]
        self._first_serial = first_serial
        self._fresh_of: dict[int, int] = {}
        self.fresh: list[tuple[Any, Any, int]] = []  # (device, dtype, size) of each fresh buffer
        self._find_fresh(rec)
        self._find_slots(rec, arg_tensors)
        self.steps = [Step(launch.device, launch.runnable, launch.kernel,
                           [self._ref(b) for b in launch.buffers], list(launch.args), [], [])
                      for launch in rec.launches]
        self._results: dict[int, int] = {}
        self.results: list[Result] = []
        self.writes = self._find_writes()
        self.grads = self._find_grads(rec)
        self.template = self._template(out)
        self.checks = [(Result(None, self._ref(view.buffer), (*_layout(view), None)), message)
                       for view, message in rec.checks]
        self._check_survivors(rec)
        self._plan_lifetimes()

    # ---- building -------------------------------------------------------------------------
    def _find_slots(self, rec: Recording, arg_tensors: list[TensorBase]) -> None:
        self.slots: list[Slot] = []
        self._slot_of: dict[int, int] = {}  # id(storage) -> slot
        self._storages: list[Storage] = []  # while building only, with the views they held before
        self._before: list[BufferView] = []
        for i, t in enumerate(arg_tensors):
            s = t._storage
            if id(s) not in self._slot_of:
                met = rec.touched.get(id(s))
                view = met.view if met is not None else s.node.buffer
                self._add_slot(s, view, Slot("arg", i, _layout(view), followed(s.node), type(s.grad_node)))
        for sid, met in rec.touched.items():
            if sid not in self._slot_of:
                self._add_slot(met.storage, met.view, Slot("weak", weakref.ref(met.storage), _layout(met.view),
                                                           met.followed, met.grad_node_type))
        for owner, met in rec.touched.items():  # a gradient replaced every step is found through its tensor
            slot = self._slot_of.get(id(met.grad_storage))
            if slot is not None and self.slots[slot].kind == "weak":
                self.slots[slot].kind, self.slots[slot].ref = "grad", self._slot_of[owner]
        self._slot_buffers: dict[int, int] = {}
        for i, view in enumerate(self._before):
            self._slot_buffers.setdefault(id(view.buffer), i)
        # slots that shared a buffer (hash-consed values) are read through the first of them
        self.alias_of = [self._slot_buffers[id(view.buffer)] for view in self._before]

    def _add_slot(self, storage: Storage, before: BufferView, slot: Slot) -> None:
        self._slot_of[id(storage)] = len(self.slots)
        self.slots.append(slot)
        self._storages.append(storage)
        self._before.append(before)

    def _ref(self, buffer: Buffer) -> Ref:
        if id(buffer) in self._fresh_of:
            return ("fresh", self._fresh_of[id(buffer)])
        if id(buffer) in self._slot_buffers:
            return ("slot", self._slot_buffers[id(buffer)])
        if buffer.serial >= self._first_serial:  # data uploaded inside the call: fixed, like a literal
            return ("const", buffer)
        raise NotReplayable("it reads a tensor made before the call through a path the capture cannot follow")

    def _find_fresh(self, rec: Recording) -> None:
        for bid, buf in rec.fresh.items():
            self._fresh_of[bid] = len(self.fresh)
            self.fresh.append((buf.device, buf.dtype, buf.size))

    def _result(self, s: Storage) -> int:
        """The index of the result standing for storage `s` after a replay."""
        if id(s) not in self._results:
            self._results[id(s)] = len(self.results)
            if id(s) in self._slot_of:
                self.results.append(Result(self._slot_of[id(s)]))
            else:
                self.results.append(self._new_result(s))
        return self._results[id(s)]

    def _new_result(self, s: Storage) -> Result:
        view = s.node.buffer  # an output's autograd history is not replayed: its replay is detached
        if view is None:
            raise NotReplayable("it leaves a tensor unrealised")
        return Result(None, self._ref(view.buffer), (*_layout(view), s.node.device))

    def _find_writes(self) -> list[Write]:
        writes = []
        for i, s in enumerate(self._storages):
            if s.node.buffer == self._before[i]:
                continue
            leaf = followed(s.node)
            if leaf and not isinstance(s.grad_node, AccumulateGrad):
                raise NotReplayable("it writes in place to a tensor autograd follows")
            view = s.node.buffer
            writes.append(Write(i, Result(None, self._ref(view.buffer), (*_layout(view), s.node.device)), leaf))
        return writes

    def _find_grads(self, rec: Recording) -> list[tuple[int, int | None]]:
        grads = []
        for sid, s in rec.grads_written.items():
            if sid not in self._slot_of:
                if s in rec.created:
                    continue
                raise NotReplayable("it sets the gradient of a tensor it never reads")
            g = s.grad
            if g is not None and (g._chain or followed(g.node)):
                raise NotReplayable("its gradients have autograd history (create_graph) or are views")
            grads.append((self._slot_of[sid], None if g is None else self._result(g._storage)))
        return grads

    def _template(self, out: Any) -> Any:
        if isinstance(out, TensorBase):
            return ("tensor", self._result(out._storage), out._chain)
        if isinstance(out, (list, tuple)):
            return (type(out), [self._template(v) for v in out])
        if isinstance(out, dict):
            return (dict, {k: self._template(v) for k, v in out.items()})
        if isinstance(out, _PLAIN_VALUES):
            return ("value", out)
        raise NotReplayable(f"it returns a {type(out).__name__}, which a replay cannot rebuild")

    def _check_survivors(self, rec: Recording) -> None:
        """A storage made in the call and kept past it, other than the outputs and gradients, is
        state the replay would not update (an optimizer's state made lazily at this step)."""
        kept = {id(s) for s in self._storages} | set(self._results)
        if any(id(s) not in kept for s in rec.created):
            gc.collect()  # reference cycles may still hold the call's temporaries
            if any(id(s) not in kept for s in rec.created):
                raise NotReplayable("it made tensors that outlive the call besides its outputs and gradients",
                                    retry=True)

    def _plan_lifetimes(self) -> None:
        """Each fresh buffer is made just before its first launch and dropped after its last,
        unless a result keeps it; the pool then serves later launches from it."""
        kept = {r.ref[1] for r in self.results + [w.result for w in self.writes] + [c for c, _ in self.checks]
                if r.ref and r.ref[0] == "fresh"}
        first, last = {}, {}
        for k, step in enumerate(self.steps):
            for kind, j in step.refs:
                if kind == "fresh":
                    first.setdefault(j, k)
                    last[j] = k
        for j, k in first.items():
            self.steps[k].makes.append(j)
        for j, k in last.items():
            if j not in kept:
                self.steps[k].drops.append(j)
        self._unlaunched = [j for j in kept if j not in first]  # empty tensors: no kernel writes them
        self._arena_of = self._arena_slots({j: (first[j], last[j]) for j in first if j not in kept})
        self._arena: list[Buffer | None] = [None] * (max(self._arena_of.values(), default=-1) + 1)
        self._bytes_moved: int | None = None  # by one replay's launches, once one has run
        del self._storages, self._before, self._slot_buffers, self._fresh_of

    def _arena_slots(self, lifetimes: dict[int, tuple[int, int]]) -> dict[int, int]:
        """Fresh buffers that no result keeps, each given a buffer of the program's own that it
        uses from its first launch to its last (two whose launches do not overlap may share
        one). Those buffers are kept between replays: a replay makes no Python buffer for its
        temporaries, and the queue runs launches in order, so a replay's first launches
        write them only after the last replay's last launches have read them."""
        slot_of: dict[int, int] = {}
        free: dict[tuple, list[int]] = {}  # buffer kind -> slots whose last use is past
        ending: list[tuple[int, tuple, int]] = []  # (last launch, kind, slot) of the slots in use
        made = 0
        for j, (start, end) in sorted(lifetimes.items(), key=lambda item: item[1]):
            for done in [e for e in ending if e[0] < start]:
                ending.remove(done)
                free.setdefault(done[1], []).append(done[2])
            kind = self.fresh[j]
            spare = free.get(kind)
            if spare:
                slot_of[j] = spare.pop()
            else:
                slot_of[j] = made
                made += 1
            ending.append((end, kind, slot_of[j]))
        return slot_of

    # ---- replaying ------------------------------------------------------------------------
    def check_guards(self) -> None:
        for description, read, value in self.guards:
            if read() != value:
                raise Stale(f"{description} changed")

    def _resolve(self, arg_tensors: list[TensorBase]) -> list[Storage]:
        storages: list[Storage] = []
        for slot in self.slots:
            if slot.kind == "arg":
                s = arg_tensors[slot.ref]._storage
            elif slot.kind == "weak":
                s = slot.ref()
            else:
                grad = storages[slot.ref].grad
                s = None if grad is None else grad._storage
            if s is None:
                raise Stale("a tensor the captured call read is gone")
            if not s.node.realized:
                engine.realize([s.node], s.node.device)
            if (_layout(s.node.buffer) != slot.layout or followed(s.node) != slot.followed
                    or type(s.grad_node) is not slot.grad_node_type):
                raise Stale("a tensor it reads has a new layout or autograd state")
            storages.append(s)
        if any(storages[i].node.buffer.buffer is not storages[a].node.buffer.buffer
               for i, a in enumerate(self.alias_of) if a != i):
            raise Stale("tensors that shared memory when captured no longer do")
        return storages

    def replay(self, arg_tensors: list[TensorBase]) -> Any:
        self.check_guards()
        storages = self._resolve(arg_tensors)
        slot_buffers = [s.node.buffer.buffer for s in storages]
        fresh: list[Buffer | None] = [None] * len(self.fresh)

        def buffer(ref: Ref) -> Buffer:
            kind, where = ref
            return slot_buffers[where] if kind == "slot" else fresh[where] if kind == "fresh" else where

        count_bytes = self._bytes_moved is None  # the same every replay: counted on the first
        moved = 0
        arena, arena_of = self._arena, self._arena_of
        for step in self.steps:
            for j in step.makes:
                at = arena_of.get(j)
                if at is None:  # kept by a result: its own buffer every replay
                    fresh[j] = Buffer(*self.fresh[j])
                else:
                    if arena[at] is None:
                        arena[at] = Buffer(*self.fresh[j])
                    fresh[j] = arena[at]
            if count_bytes:
                moved += sum(buffer(ref).nbytes for ref in step.refs)
            raws = [buffer(ref).raw for ref in step.refs]
            n_out = step.kernel.n_out
            step.device.launch(step.runnable, raws[:n_out], raws[n_out:], step.args, step.kernel)
            for j in step.drops:
                fresh[j] = None
        STATS.kernels_launched += len(self.steps)
        if count_bytes:
            self._bytes_moved = moved
        STATS.bytes_moved += self._bytes_moved
        for j in self._unlaunched:
            fresh[j] = Buffer(*self.fresh[j])
        return self._apply(storages, buffer)

    def _apply(self, storages: list[Storage], buffer: Callable[[Ref], Buffer]) -> Any:
        results = [storages[r.slot] if r.slot is not None else Storage(_node(r, buffer)) for r in self.results]
        for w in self.writes:
            s = storages[w.slot]
            s.node = _node(w.result, buffer)
            s.version += 1
            if w.leaf:
                if not isinstance(s.grad_node, AccumulateGrad):
                    s.grad_node = AccumulateGrad(s)
                own(s.node, s.grad_node)
        for slot, result in self.grads:
            storages[slot].grad = None if result is None else wrap_storage(results[result])
        for check, message in self.checks:
            _, shape, strides, offset, _ = check.layout
            checks.add_done(BufferView(buffer(check.ref), shape, strides, offset), message)
        return _build(self.template, results)


def _node(result: Result, buffer: Callable[[Ref], Buffer]):
    dtype, shape, strides, offset, device = result.layout
    return buffer_node(BufferView(buffer(result.ref), shape, strides, offset), dtype, shape, device)


def _build(template: Any, results: list[Storage]) -> Any:
    kind, payload = template[0], template[1:]
    if kind == "tensor":
        index, chain = payload
        return wrap_storage(results[index], chain)
    if kind == "value":
        return payload[0]
    items = payload[0]
    if kind is dict:
        return {k: _build(v, results) for k, v in items.items()}
    built = [_build(v, results) for v in items]
    return kind(*built) if hasattr(kind, "_fields") else kind(built)
