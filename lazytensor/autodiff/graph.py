"""The autograd graph: which IR values gradients flow to, recorded as ops are built.

A GradNode stands for a value that gradients flow into: a leaf (AccumulateGrad,
which adds into `.grad`) or the result of recorded ops (GradFn). A GradFn keeps
a snapshot of the IR subgraph between its output and the values it was built
from, so realising the forward pass (which frees IR sources) never loses it.
Its backward applies the per-op rules of ir/grad.py to that snapshot.
"""
from __future__ import annotations

import weakref
from typing import Optional

from .. import config
from ..ir import build as B
from ..ir import ops as O
from ..ir.grad import LINEAR, RULES, SAVES_OUTPUT
from ..ir.node import Node, const, unique
from ..ir.traverse import postorder
from ..ir.node_table import NodeSet, NodeTable
from ..ir.schedule import keep, ties_compared_later
from ..sites import user_site
from . import anomaly

# What autograd knows of IR values, kept here so the IR stays the same in every grad mode:
# the values it follows (on a path from a tensor that requires grad), and for the values
# that tensors hold, the GradNode their gradients flow into. A value keeps its GradNode
# alive (as in PyTorch); so that the table's entry can die with its value, a GradNode
# never holds its own value (or the storage holding it) strongly.
_FOLLOWED = NodeSet()
_FOLLOWED_IDS = _FOLLOWED.ids()  # its own dict: the queries asked per op recorded read it directly
_OWNERS: NodeTable[tuple] = NodeTable()

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
        return f"<{self.name()} object at {id(self):#x}>"


class AccumulateGrad(GradNode):
    """A leaf: gradients accumulate into the owning storage's `.grad`."""

    def __init__(self, storage):
        super().__init__()
        self._storage = weakref.ref(storage)

    @property
    def storage(self):
        """The leaf's storage (None once the leaf is gone)."""
        return self._storage()


# IR ops whose PyTorch backward node has another name than the op's own
TORCH_GRAD_NAMES = {
    "reshape": "ViewBackward0", "cast": "ToCopyBackward0", "shrink": "SliceBackward0",
    "pad": "ConstantPadNdBackward0", "recip": "ReciprocalBackward0", "max": "MaxBackward1",
    "min": "MinBackward1", "sum": "SumBackward1", "prod": "ProdBackward1", "gather": "IndexBackward0",
    "expm1": "Expm1Backward0", "log1p": "Log1PBackward0",
}


def _op_name(n: Node) -> str:
    return n.op if n.op != "reduce" else n.arg[0]


def _named_op(out: Node, order: list[tuple[Node, tuple]]) -> str:
    """The op a user called: the last one recorded that is not a reshape or other view
    (sum(dim) ends in a reshape), or a view when only views were recorded."""
    views_and_leaves = O.MOVEMENT | O.LEAVES
    return _op_name(next((n for n, _ in reversed(order) if n.op not in views_and_leaves), out))


def _reads_no_value(n: Node, srcs: tuple) -> bool:
    """Does the gradient of `n` (over `srcs`, its sources when recorded) read no forward value?
    Linear ops read none; a product with a constant (mean's 1 / n) or a quotient by one reads
    only the constant; a where reads only its condition, which may be made of constants
    (tril's mask of positions)."""
    if n.op in LINEAR:
        return n.op != "reduce" or n.arg[0] == "sum"  # max, min and prod read their values
    if n.op == "mul":
        return any(_constant(s) for s in srcs)
    if n.op == "div":
        return _constant(srcs[1])
    return n.op == "where" and _constant(srcs[0])


def _constant(n: Node, depth: int = 4) -> bool:
    """Is `n` computed from constants and positions alone (looked at `depth` ops down)?"""
    if n.op in ("const", "iota"):
        return True
    return depth > 0 and bool(n.srcs) and n.op not in O.LEAVES and all(_constant(s, depth - 1) for s in n.srcs)


class GradFn(GradNode):
    """Recorded ops: a snapshot of the IR from `out` down to the values it read."""

    def __init__(self, out: Node, order: list[tuple[Node, tuple]], stops: dict[int, tuple], storage=None):
        super().__init__()
        (last, self.out_srcs), self.order = order[-1], order[:-1]  # (node, srcs at record time)
        assert last is out
        self._out = weakref.ref(out)
        self._out_kept = None
        self.out_op = _op_name(out)
        self.named_op = _named_op(out, order)
        self.stops = stops  # id(node) -> (node, GradNode, slot, weakref to storage, version)
        self._storage = weakref.ref(storage) if storage is not None else None
        self.version = storage.version if storage is not None else 0
        self.saves_inputs = any(n.op not in LINEAR for n, _ in order if id(n) not in stops)
        self.freed = False
        self.site = user_site() if anomaly.ENABLED else None  # anomaly mode names the forward line

    @property
    def out(self) -> Node:
        return self._out_kept if self._out_kept is not None else self._out()

    def keep_out(self) -> None:
        """Hold the recorded value strongly: its tensor now holds another value (`.data` set on
        a non-leaf), which this GradFn owns instead, so nothing else keeps the old one."""
        self._out_kept = self._out()

    @property
    def storage(self):
        return self._storage() if self._storage is not None else None

    def name(self) -> str:
        """PyTorch's name for the op that made the value (`MulBackward0`), from its last IR op."""
        return TORCH_GRAD_NAMES.get(self.named_op) or f"{self.named_op.capitalize()}Backward0"

    def next_nodes(self) -> list[GradNode]:
        return [gn for _, gn, _, _, _ in self.stops.values()]

    def release(self) -> None:
        if self._saves_nothing():
            return
        self.order, self.out_srcs, self.stops, self.freed = [], (), {}, True

    def _saves_nothing(self) -> bool:
        """No op reads a forward value (views, sums, additions): backward frees nothing, so a
        second backward through it works, as PyTorch's (whose nodes then saved no tensor)."""
        out = self.out
        out_reads_none = out is not None and _reads_no_value(out, self.out_srcs)
        return out_reads_none and all(_reads_no_value(n, srcs) for n, srcs in self.order if id(n) not in self.stops)

    def rebase(self, storage) -> None:
        """This GradFn wrote `storage` in place: the old value it read is its own input."""
        self._storage, self.version = weakref.ref(storage), storage.version
        for key, (n, gn, slot, st, _) in list(self.stops.items()):
            if st is not None and st() is storage:
                self.stops[key] = (n, gn, slot, st, storage.version)

    def check_versions(self) -> None:
        if self.freed:
            raise RuntimeError(FREED)
        checks = [(st(), v) for _, _, _, st, v in self.stops.values() if st is not None] if self.saves_inputs else []
        own = self.storage
        if own is not None and self.out_op in SAVES_OUTPUT:
            checks.append((own, self.version))
        # the in-place chain of this GradFn's own storage only ever read values it made itself
        checks = [(st, v) for st, v in checks if st is not None and (st is not own or self.out_op in SAVES_OUTPUT)]
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
        out = self.out
        flowing: dict[int, Node] = {id(out): grads[0]}
        results = []
        for n, srcs in reversed(self.order + [(out, self.out_srcs)]):
            g = flowing.pop(id(n), None)
            if g is None:
                continue
            if id(n) in self.stops and n is not out:
                _, gn, slot, _, _ = self.stops[id(n)]
                results.append((gn, slot, g))
                continue
            for src, gs in zip(srcs, RULES[n.op](n, srcs, g)):
                if gs is None or src not in _FOLLOWED or not src.dtype.is_floating_point:
                    continue
                if gs.dtype != src.dtype:
                    gs = B.cast(gs, src.dtype)
                flowing[id(src)] = gs if id(src) not in flowing else B.elementwise("add", flowing[id(src)], gs)
        return results


def followed(node: Node) -> bool:
    """Does autograd follow this value (is it on a path from a tensor that requires grad)?"""
    return id(node) in _FOLLOWED_IDS


def follow(node: Node) -> None:
    _FOLLOWED.add(node)


def follows_new(node: Node, grad_enabled: bool | None = None) -> bool:
    """Would autograd follow `node` as an op's result now: grad mode is on (or `grad_enabled`,
    the mode a view was made in), the value is a float, and the op's nodes reach a followed
    value (they are then followed too, so that backward finds its way through them)."""
    enabled = config.GRAD_ENABLED if grad_enabled is None else grad_enabled
    if not (_FOLLOWED_IDS and enabled and node.dtype.is_floating_point):
        return False
    if id(node) in _FOLLOWED_IDS:  # a detach node is followed only as a leaf's lazy value (leaf_value)
        return True
    if node.op == "detach":
        return False
    if all(_stops_walk(s) for s in node.srcs):  # the common case: an op straight on tensors' values
        return any(s in _FOLLOWED for s in node.srcs)
    return _reaches_followed(node)


def _stops_walk(n: Node) -> bool:
    # a tensor's value that autograd does not follow reaches an op detached (TensorBase._value),
    # so the walk never reads through another tensor's history
    return n.op == "detach" or n.realized or not n.srcs


def _reaches_followed(root: Node) -> bool:
    """Walk the op's intermediate nodes (not other tensors' values) from `root`; mark and
    report those on a path to a followed value."""
    reaches: dict[Node, bool] = {}  # keyed by the nodes themselves (identity), not id()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        n, expanded = stack.pop()
        if n in reaches:
            continue
        if n in _FOLLOWED:
            reaches[n] = True
        elif n is not root and _stops_walk(n):
            reaches[n] = False
        elif not expanded:
            stack.append((n, True))
            stack.extend((s, False) for s in n.srcs if s not in reaches)
        else:
            # gradients flow through floats only: (x > 0).float() is a constant
            reaches[n] = n.dtype.is_floating_point and any(reaches.get(s, False) for s in n.srcs)
            if reaches[n] and n is not root:
                _FOLLOWED.add(n)
    return reaches[root]


def anything_followed() -> bool:
    return bool(_FOLLOWED_IDS)


def owned_by(node: Node, gradnode: Optional[GradNode]) -> bool:
    """Do the gradients of `node` flow into `gradnode` (freed or not)?"""
    owner = _OWNERS.get(node)
    return gradnode is not None and owner is not None and owner[0] is gradnode


def disown(node: Node) -> None:
    _OWNERS.pop(node)


def owner_of(node: Node) -> Optional[tuple[GradNode, int]]:
    """(GradNode, output slot) that gradients of this value flow into, if any (and not freed)."""
    owner = _OWNERS.get(node)
    return None if owner is None or getattr(owner[0], "freed", False) else owner


def _freed_owner(node: Node) -> bool:
    owner = _OWNERS.get(node)
    return owner is not None and getattr(owner[0], "freed", False)


def _held(node: Node, gradfn: "GradFn") -> bool:
    """Is `node` still the value of the tensor whose `gradfn` made it? (Else a new op that built
    the same expression got it from hash-consing: a new graph, whose walk goes on through it.)"""
    storage = gradfn.storage
    return storage is not None and storage.node is node


def own(node: Node, gradnode: GradNode, slot: int = 0) -> None:
    """Gradients of `node` flow into `gradnode` (the node keeps its history alive, as in PyTorch)."""
    _FOLLOWED.add(node)
    _OWNERS[node] = (gradnode, slot)


def result_value(node: Node) -> Node:
    """The node a new followed result holds: `node` itself, or, when hash-consing or folding
    returned a value another tensor already holds (x * 1 is x), a node of its own over it,
    so that each tensor has its own GradNode (PyTorch's y = x * 1 has a MulBackward)."""
    if owner_of(node) is not None or _freed_owner(node):
        node = unique("reshape", node)
    _FOLLOWED.add(node)
    return node


def record(out: Node, storage=None) -> GradNode:
    """The GradNode for value `out`: its owner if it has one, else a new GradFn over the
    subgraph from `out` down to values that already have (live) owners."""
    existing = owner_of(out)
    if existing is not None:
        return existing[0]
    stops: dict[int, tuple] = {}

    def sources(n: Node):
        owner = _OWNERS.get(n)
        if owner is None:
            return [s for s in n.srcs if s in _FOLLOWED]
        gn, slot = owner
        if not getattr(gn, "freed", False):
            if n is out:
                return [s for s in n.srcs if s in _FOLLOWED]
            st = getattr(gn, "storage", None)
            stops[id(n)] = (n, gn, slot, weakref.ref(st) if st is not None else None,
                            st.version if st is not None else 0)
            return ()
        if n.op != "buffer" and (n.realized or _held(n, gn)):
            # backward has freed how it was made: a backward that reaches it raises
            # (GradFn.check_versions), as PyTorch's does; an op on it (printing a value) is fine.
            # Computed or not: walking on through its sources would take the freed graph again
            stops[id(n)] = (n, gn, slot, None, 0)
            return ()
        return [s for s in n.srcs if s in _FOLLOWED]

    order = [(n, () if id(n) in stops else n.srcs) for n in postorder([out], sources)]
    for n, _ in order:
        if n.op == "reduce" and n.arg[0] in ("max", "min"):
            ties_compared_later(n)  # its gradient compares its source with it
    fn = GradFn(out, order, stops, storage)
    own(out, fn)
    return fn


_IDENTITY_VIEWS: NodeTable[dict] = NodeTable()  # value -> {view chain: weakref to its node}


def identity_view(node: Node, value: Node, chain: tuple) -> Node:
    """A view that moves nothing (x.view(x.shape), x[:]), `node`, at the end of `chain` over
    the followed `value`, as a node of its own, so that the view has a GradFn of its own as
    PyTorch's. One per chain while it lives: views of that view, which rebuild their chain
    from the storage's value, read through it, and another such view of `value` does not."""
    views = _IDENTITY_VIEWS.get(value)
    if views is None:
        views = {}
        _IDENTITY_VIEWS[value] = views
    found = views.get(chain)
    view = found() if found is not None else None
    if view is None:
        view = unique("reshape", node)
        views[chain] = weakref.ref(view)
    return view


def with_zero_gradient(value: Node, old: Node) -> Node:
    """`value` as a result of `old` whose gradient is 0 (sign's, so not even an infinite
    gradient makes a NaN of it): an in-place write of a value that does not depend on the
    tensor that requires grad (y.zero_(), y.fill_(1), y.eq_(z)) keeps it requiring grad, as
    PyTorch's does."""
    zero = B.elementwise("mul", B.elementwise("abs", B.elementwise("sign", old)), const(0.0, old.dtype, old.shape, old.device))
    return B.elementwise("sub", value, zero)  # x - (+0.0) is x, -0.0 and NaN included


def leaf_value(value: Node, leaf: GradNode) -> Node:
    """`value` as the new content of a leaf: requires grad, and gradients stop here."""
    node = keep(unique("detach", value))  # a parameter has one value in every kernel that reads it
    own(node, leaf)
    return node
