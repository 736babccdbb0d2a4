"""Reuse a schedule for a graph of the same structure (new buffers, new scalar values).

A training step builds the same graph every step. Its structure (ops, dtypes, shapes,
layouts of the realised inputs, which nodes are asked for, and which scalar values are
equal to which: the kernels number equal scalars as one argument) is one key computed in
one pass; a hit maps the cached kernels' outputs, inputs and arguments onto the new
graph's nodes by position, without scheduling or signing anything again.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from .dtype import compute_dtype
from .kernel import SIZE_ARGS, KernelSpec, arg_value, broadcast_axes, without_ints
from .node import Node, _arg_key
from .ops import MOVEMENT
from .traverse import postorder
from .schedule import KEPT_IDS, TIES_COMPARED, Schedule


@dataclass(frozen=True)
class Structure:
    key: tuple
    nodes: list[Node]  # position -> node: the unrealised graph, then realised inputs as met
    recomputed: list[Node]  # values an earlier realisation computed, that newer nodes read

    def positions(self) -> dict[int, int]:
        return {id(n): i for i, n in enumerate(self.nodes)}

    def asking_also(self, extra: list[Node]) -> "Structure":
        """This structure with `extra` (nodes of its graph) asked for too: only the targets
        part changes, as the walk from the first targets reaches every node already."""
        at = self.positions()
        targets = self.key[-1][1] + tuple(at[id(n)] for n in extra)
        return Structure(self.key[:-1] + (("targets", targets),), self.nodes, [])


_SPECIAL_PARTS = frozenset({"const", "pad", "reduce"})  # ops whose key entry is not op, dtype, shape, arg, sources


def structure(targets: list[Node], flags: tuple = (), epoch: int = -1) -> Structure:
    """The structural key of realising `targets` (`flags`: device choices that change the
    schedule), the graph's nodes by position, and the unrealised values that realisation
    `epoch` computes again for nodes built since an earlier one computed them (a sequence
    grown by one token a step would otherwise be rebuilt from its first token every step).

    One walk does it all (the order is the unrealised nodes' post-order, each realised input
    placed where it is first read): this runs on every realisation, cache hit or not. Parts
    name dtypes by their names: a key of strings and numbers alone is left alone by Python's
    garbage collector (it stops tracking such tuples), and the caches keep many keys."""
    nodes: list[Node] = []
    # the walk's tables are keyed by the nodes themselves: a node hashes by identity without
    # making an int object, where id() makes one per call (a third of the walk)
    position: dict[Node, int] = {}
    placed = position.get
    parts: list[tuple] = [flags]
    scalars: dict[tuple, int] = {}  # (repr, compute dtype) -> which distinct scalar it is

    def scalar(value, dtype) -> object:
        cd = compute_dtype(dtype)
        if cd.name == "bool":  # kernels bake bools into their code
            return ("lit", bool(value))
        return scalars.setdefault((repr(value), cd), len(scalars))

    def place_input(n: Node) -> int:  # a realised input: its layout shapes the code
        at = position[n] = len(nodes)
        nodes.append(n)
        view = n.buffer
        parts.append(("in", n.dtype.name, n.shape, view.strides, view.offset))
        return at

    earlier: dict[Node, int] = {}  # node -> the realisation that computed it before this one
    recomputed: dict[Node, None] = {}

    def special_part(n: Node, at: tuple) -> tuple:  # the key's entry of a node in _SPECIAL_PARTS
        op = n.op
        if op == "const":
            return ("const", n.dtype.name, n.shape, scalar(n.arg, n.dtype))
        if op == "pad":
            return ("pad", n.dtype.name, n.shape, _arg_key(n.arg[0]), scalar(n.arg[1], n.dtype), at)
        # a reduction: whether its ties are compared later changes what is stored
        return (op, n.dtype.name, n.shape, _arg_key(n.arg), at, n in TIES_COMPARED)

    # a recursive walk's order (sources in order, each node at its first visit): the open
    # node and its iterator over its sources are `n` and `pending`, its ancestors' are on the
    # stack, and a node is opened once (a node met again is placed already, as an open one is
    # an ancestor, never a source). The targets are the sources of a first frame that places
    # nothing; the pre-order visit is inline, as a call per node was a tenth of the walk
    stack: list[tuple[Node | None, Iterator[Node]]] = []
    n, pending = None, iter(targets)
    any_kept = bool(KEPT_IDS)  # most walks meet no kept node: skip asking each node's id
    while True:
        for s in pending:
            if s.buffer is None and s not in position:  # unrealised, not met yet: visit it
                if s.seen >= 0 and s.srcs:  # computed before (a constant is never worth storing)
                    earlier[s] = s.seen
                s.seen = epoch
                stack.append((n, pending))
                n, pending = s, iter(s.srcs)
                break
        else:
            if n is None:
                break
            # n's sources are placed: place n and its part (inline: a call per node was a
            # tenth of the walk, as the pre-order visit's was)
            srcs = n.srcs
            if earlier:
                for s in srcs:
                    if n.born > earlier.get(s, n.born):
                        recomputed[s] = None
            # the commonest arities spelt out: tuple(map(...)) was a fifth of the walk
            arity = len(srcs)
            at = ((placed(srcs[0]), placed(srcs[1])) if arity == 2 else (placed(srcs[0]),) if arity == 1
                  else tuple(map(placed, srcs)))
            if None in at:  # realised inputs, placed where first read
                at = tuple(position[s] if s in position else place_input(s) for s in srcs)
            position[n] = len(nodes)
            nodes.append(n)
            op = n.op
            if op in _SPECIAL_PARTS:
                parts.append(special_part(n, at))
            else:  # stored wherever computed if kept
                arg = n.arg if n.arg is None else _arg_key(n.arg)
                parts.append((op, n.dtype.name, n.shape, arg, at, "kept") if any_kept and id(n) in KEPT_IDS
                             else (op, n.dtype.name, n.shape, arg, at))
            n, pending = stack.pop()
    parts.append(("targets", tuple(map(position.__getitem__, targets))))
    return Structure(tuple(parts), nodes, list(recomputed))


def worth_storing(node: Node) -> bool:
    """Whether a value computed again is better stored than computed each time: it computes
    something from device data (views of a buffer cost nothing to redo, and values built from
    constants alone cost less to compute than to read)."""
    computes = reads = False
    for n in postorder([node], lambda m: [s for s in m.srcs if not s.realized]):
        computes = computes or n.op not in MOVEMENT
        reads = reads or any(s.realized for s in n.srcs)
    return computes and reads


@dataclass(frozen=True)
class CachedSchedule:
    kernels: tuple[tuple, ...]  # (outputs, inputs, argument sources, signature), by position
    views: tuple[int, ...]
    materialised: tuple[int, ...]

    @classmethod
    def of(cls, sched: Schedule, shape: Structure) -> "CachedSchedule":
        at = shape.positions()
        kernels = tuple((tuple(at[id(o)] for o in k.outputs), tuple(at[id(i)] for i in k.inputs),
                         tuple((at[id(n)], kind, cd) for (n, kind), (_, cd) in zip(k.arg_sources, k.args)),
                         k.key) for k in sched.kernels)
        return cls(kernels, tuple(at[id(v)] for v in sched.views),
                   tuple(at[i] for i in sched.materialised if i in at))

    def instantiate(self, shape: Structure) -> Schedule:
        nodes = shape.nodes
        kernels = [KernelSpec(tuple(nodes[i] for i in outs), tuple(nodes[i] for i in ins),
                              tuple((arg_value(nodes[i], kind), cd) for i, kind, cd in args), key,
                              tuple((nodes[i], kind) for i, kind, _ in args))
                   for outs, ins, args, key in self.kernels]
        return Schedule(kernels, [nodes[i] for i in self.views], {id(nodes[i]) for i in self.materialised})


def size_free_structure(key: tuple) -> tuple:
    """A structural key with its sizes left out (shapes, strides, offsets, movement ops'
    sizes) and its values computed from constants alone: the same step at another length
    (a longer text, a shorter batch) shares it. Constants are left out because a loop at one
    length shares them between steps (the last step's mask and length are this step's, one
    node each) where a loop over lengths has two of each."""
    constant: set[int] = set()  # positions of values computed from constants alone
    kept: dict[int, int] = {}  # every other position -> its place among them
    out = [key[0]]  # the device flags
    for position, part in enumerate(key[1:-1]):
        sources = part[_SOURCES.get(part[0], 4)] if part[0] not in ("in", "const") else ()
        if part[0] != "in" and all(s in constant for s in sources):
            constant.add(position)
            continue
        kept[position] = len(kept)
        at = _SOURCES.get(part[0], 4)
        if sources:
            part = part[:at] + (tuple(kept.get(s, "constant") for s in sources),) + part[at + 1:]
        out.append(_size_free_part(part))
    out.append(("targets", tuple(kept.get(t, "constant") for t in key[-1][1])))
    return tuple(out)


_SOURCES = {"pad": 5}  # where a structure part keeps its sources, where not at 4


def _size_free_part(part) -> object:
    if not isinstance(part, tuple) or not part or not isinstance(part[0], str) or part[0] == "targets":
        return part  # the device flags, and which nodes are asked for
    op = part[0]
    if op == "in":
        return ("in", part[1], len(part[2]), broadcast_axes(part[2], part[3]))
    sized = without_ints(part[3]) if op in SIZE_ARGS else part[3]
    return (op, part[1], len(part[2]), sized) + part[4:]


def explain_difference(new: tuple, known: list[tuple]) -> str | None:
    """Why `new` missed the cache, in words: the first part where it differs from the most
    alike known structure (same number of nodes first), or None when nothing is alike."""
    alike = [k for k in known if len(k) == len(new)]
    if not alike:
        return None
    nearest = max(alike, key=lambda k: sum(a == b for a, b in zip(k, new)))
    for i, (was, now) in enumerate(zip(nearest, new)):
        if was != now:
            return f"part {i}: {_describe(now)} (the cached one has {_describe(was)})"
    return None


def _describe(part) -> str:
    """A structure part in words: op, dtype name and shape where it has them."""
    if not isinstance(part, tuple) or len(part) < 3:
        return repr(part)
    op, dtype, shape = part[0], part[1], part[2]
    name = getattr(dtype, "name", dtype)
    return f"{'input' if op == 'in' else op} of dtype {name} and shape {tuple(shape) if isinstance(shape, tuple) else shape}"
