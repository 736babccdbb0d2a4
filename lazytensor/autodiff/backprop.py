"""Backward: walk the GradNodes from the roots, build gradient IR, and hand it out.

Everything here builds IR lazily: after backward() no kernel has run; the
gradients, the rest of the step and the optimizer update fuse when realised.
All errors are raised before any `.grad` changes, so a failed backward leaves
nothing half-updated.
"""
from __future__ import annotations

from typing import Callable, Iterable, Optional

from .. import capture
from ..ir import build as B
from ..ir.node import Node
from ..ir.traverse import postorder
from ..sites import phase
from .anomaly import check_gradients, is_anomaly_check_nan_enabled
from .grad_mode import set_grad_enabled
from .graph import AccumulateGrad, GradFn, GradNode

Wrap = Callable[[Node], object]  # a gradient node as the user's Tensor (for hooks and .grad)
_QUEUED: list[list[Callable[[], None]]] = []  # callbacks of each backward in progress (hooks may nest one)


def queue_callback(callback: Callable[[], None]) -> None:
    """Run `callback()` once the backward in progress has updated every `.grad` (PyTorch's
    `Variable._execution_engine.queue_callback`; DistributedDataParallel syncs gradients there).
    Queued once per backward, however many hooks ask."""
    if not _QUEUED:
        raise RuntimeError("queue_callback can only be called during backward (from a tensor hook)")
    if callback not in _QUEUED[-1]:
        _QUEUED[-1].append(callback)


def _topological(roots: Iterable[GradNode]) -> list[GradNode]:
    """GradNodes reachable from the roots, every consumer before what it reads."""
    return postorder(roots, lambda gn: gn.next_nodes())[::-1]


def _add(a: Optional[Node], b: Node) -> Node:
    return b if a is None else B.elementwise("add", a, b)


def _run_hooks(gn: GradNode, grad: Node, wrap: Wrap) -> Node:
    for hook in gn.hooks:
        out = hook(wrap(grad))
        if out is not None:
            grad = out.node
    return grad


def run_backward(roots: list[tuple[GradNode, Node]], retain_graph: bool, create_graph: bool,
                 wrap: Wrap, targets: Optional[list[GradNode]] = None) -> dict[int, Node]:
    """Propagate; returns {id(target): grad}. With targets=None, leaf grads are accumulated.
    `wrap` makes the Tensors that hooks receive and that `.grad` holds. Callbacks queued by
    hooks run at the end, after the `.grad` updates."""
    _QUEUED.append([])
    try:
        found = _propagate(roots, retain_graph, create_graph, wrap, targets)
    finally:
        callbacks = _QUEUED.pop()
    for callback in callbacks:
        callback()
    return found


def _propagate(roots: list[tuple[GradNode, Node]], retain_graph: bool, create_graph: bool,
               wrap: Wrap, targets: Optional[list[GradNode]]) -> dict[int, Node]:
    order = _topological([gn for gn, _ in roots])
    for gn in order:
        if isinstance(gn, GradFn):
            gn.check_versions()
    pending: dict[int, dict[int, Node]] = {}
    for gn, g in roots:
        slots = pending.setdefault(id(gn), {})
        slots[0] = _add(slots.get(0), g)
    wanted = {id(t) for t in targets} if targets is not None else None
    found: dict[int, Node] = {}
    leaf_updates: list[tuple[AccumulateGrad, Node]] = []
    retained: list[tuple[object, Node]] = []
    with set_grad_enabled(create_graph), phase("backward"):
        for gn in order:
            slots = pending.pop(id(gn), None)
            if not slots:
                continue
            if gn.hooks and 0 in slots:
                slots[0] = _run_hooks(gn, slots[0], wrap)
            if wanted is not None and id(gn) in wanted:
                found[id(gn)] = slots[0]
            if gn.retained is not None and gn.retained() is not None:
                retained.append((gn.retained(), slots[0]))
            if isinstance(gn, AccumulateGrad):
                if targets is None:
                    leaf_updates.append((gn, slots[0]))
                continue
            results = gn.apply(slots)
            if is_anomaly_check_nan_enabled():
                check_gradients(gn.name(), getattr(gn, "site", None), [g for _, _, g in results], wrap)
            for nxt, slot, g in results:
                into = pending.setdefault(id(nxt), {})
                into[slot] = _add(into.get(slot), g)
        for gn, g in leaf_updates:
            storage = gn.storage
            if storage is None:  # the leaf is gone: nobody can read its gradient
                continue
            old = storage.grad
            capture.grad_written(storage)
            storage.grad = wrap(g if old is None else _add(old.node, g))
        for tensor, g in retained:
            tensor._retained_grad = wrap(g)
    if not retain_graph:
        for gn in order:
            gn.release()
    return found
