"""The autograd graph: which IR values gradients flow to, recorded as ops are built.

A GradNode stands for a value that gradients flow into: a leaf (AccumulateGrad,
which adds into `.grad`) or the result of recorded ops (GradFn). A GradFn keeps
a snapshot of the IR subgraph between its output and the values it was built
from, so realising the forward pass (which frees IR sources) never loses it.
Its backward applies the per-op rules of ir/grad.py to that snapshot.
"""
from __future__ import annotations

from typing import Optional

from ..ir import build as B
from ..ir.grad import LINEAR, RULES, SAVES_OUTPUT
from ..ir.node import Node
from ..ir.traverse import postorder

FREED = ("Trying to backward through the graph a second time (or directly access saved tensors after they "
         "have already been freed). Saved intermediate values of the graph are freed when you call .backward() "
         "or autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second "
         "time or if you need to access saved tensors after calling backward.")


class GradNode:
    """A target of gradient flow. Subclasses say where the gradient goes next."""

    def __init__(self):
        self.hooks: list = []
        self.retained = None  # weakref to a tensor that called retain_grad()

    def next_nodes(self) -> list["GradNode"]:
        return []

    def apply(self, grads: dict[int, Node]) -> list[tuple["GradNode", int, Node]]:
        return []

    def release(self) -> None:
        """Free what backward needed (unless retain_graph)."""

    def name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{self.name()}>"


class AccumulateGrad(GradNode):
    """A leaf: gradients accumulate into the owning storage's `.grad`."""

    def __init__(self, storage):
        super().__init__()
        self.storage = storage


class GradFn(GradNode):
    """Recorded ops: a snapshot of the IR from `out` down to the values it read."""

    def __init__(self, out: Node, order: list[tuple[Node, tuple]], stops: dict[int, tuple], storage=None):
        super().__init__()
        self.out = out
        self.order = order  # (node, srcs at record time), sources first
        self.stops = stops  # id(node) -> (node, GradNode, slot, storage, version)
        self.storage, self.version = storage, (storage.version if storage is not None else 0)
        self.saves_inputs = any(n.op not in LINEAR for n, _ in order if id(n) not in stops)
        self.freed = False

    def name(self) -> str:
        top = self.out.op if self.out.op != "reduce" else self.out.arg[0]
        return f"{top.capitalize()}Backward"

    def next_nodes(self) -> list[GradNode]:
        return [gn for _, gn, _, _, _ in self.stops.values()]

    def release(self) -> None:
        self.order, self.stops, self.freed = [], {}, True

    def rebase(self, storage) -> None:
        """This GradFn wrote `storage` in place: the old value it read is its own input."""
        self.storage, self.version = storage, storage.version
        for key, (n, gn, slot, st, _) in list(self.stops.items()):
            if st is storage:
                self.stops[key] = (n, gn, slot, st, storage.version)

    def check_versions(self) -> None:
        if self.freed:
            raise RuntimeError(FREED)
        checks = [(st, v) for _, _, _, st, v in self.stops.values() if st is not None] if self.saves_inputs else []
        if self.storage is not None and self.out.op in SAVES_OUTPUT:
            checks.append((self.storage, self.version))
        # the in-place chain of this GradFn's own storage only ever read values it made itself
        checks = [(st, v) for st, v in checks if st is not self.storage or self.out.op in SAVES_OUTPUT]
        for storage, version in checks:
            if storage.version != version:
                n = storage.node
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an inplace "
                    f"operation: [lazytensor.{n.dtype.name} {list(n.shape)}], which is an input of "
                    f"{self.name()}, is at version {storage.version}; expected version {version} instead. "
                    "Hint: the operation that failed was simply the one that used the value; clone() it "
                    "before modifying it in place.")

    def apply(self, grads: dict[int, Node]) -> list[tuple[GradNode, int, Node]]:
        flowing: dict[int, Node] = {id(self.out): grads[0]}
        results = []
        for n, srcs in reversed(self.order):
            g = flowing.pop(id(n), None)
            if g is None:
                continue
            if id(n) in self.stops and n is not self.out:
                _, gn, slot, _, _ = self.stops[id(n)]
                results.append((gn, slot, g))
                continue
            for src, gs in zip(srcs, RULES[n.op](n, srcs, g)):
                if gs is None or not src.needs_grad or not src.dtype.is_floating_point:
                    continue
                if gs.dtype != src.dtype:
                    gs = B.cast(gs, src.dtype)
                flowing[id(src)] = gs if id(src) not in flowing else B.elementwise("add", flowing[id(src)], gs)
        return results


def owner_of(node: Node) -> Optional[tuple[GradNode, int]]:
    """(GradNode, output slot) that gradients of this value flow into, if any (and not freed)."""
    owner = node.grad_owner
    return None if owner is None or getattr(owner[0], "freed", False) else owner


def own(node: Node, gradnode: GradNode, slot: int = 0) -> None:
    """Gradients of `node` flow into `gradnode` (the node keeps its history alive, as in PyTorch)."""
    node.grad_owner = (gradnode, slot)


def record(out: Node, storage=None) -> GradNode:
    """The GradNode for value `out`: its owner if it has one, else a new GradFn over the
    subgraph from `out` down to values that already have (live) owners."""
    existing = owner_of(out)
    if existing is not None:
        return existing[0]
    stops: dict[int, tuple] = {}

    def sources(n: Node):
        found = owner_of(n) if n is not out else None
        if found is not None:
            gn, slot = found
            st = getattr(gn, "storage", None)
            stops[id(n)] = (n, gn, slot, st, st.version if st is not None else 0)
            return ()
        if n.realized and n.op != "buffer" and n.grad_owner is not None:
            raise RuntimeError(FREED)  # computed earlier, and backward has freed how
        return [s for s in n.srcs if s.needs_grad]

    order = [(n, () if id(n) in stops else n.srcs) for n in postorder([out], sources)]
    fn = GradFn(out, order, stops, storage)
    own(out, fn)
    return fn


def leaf_value(value: Node, leaf: GradNode) -> Node:
    """`value` as the new content of a leaf: requires grad, and gradients stop here."""
    node = Node("detach", value.dtype, value.shape, (value,), None, value.device, needs_grad=True)
    own(node, leaf)
    return node
