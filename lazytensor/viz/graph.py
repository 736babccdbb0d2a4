"""The lazy graph behind some tensors, with the kernels it would become, as networkx data."""
from __future__ import annotations

import networkx as nx

from ..codegen.lower import lower_kernel
from ..codegen.render_common import kernel_name
from ..ir import ops as O
from ..ir.node import Node
from ..ir.schedule import schedule
from ..ir.traverse import postorder
from ..runtime.profile import KernelTiming
from ..sites import site_of


def graph_of(targets: list[Node], fuse_row_reductions: bool = False, render=None) -> nx.DiGraph:
    """Every node under `targets` (realised ones are buffers, where the graph stops), each
    labelled with its op, shape, dtype, the user's file:line that made it, forward or
    backward, the kernel the scheduler fuses it into, why it is stored (`why`: None where it
    is computed inside the kernels that read it) and its floating-point work (`flops`: one
    op per element computed); an edge from each source."""
    pending = [t for t in targets if not t.realized]
    sources: dict[str, dict] = {}
    reasons: dict[int, str] = {}
    kernels = _kernel_of(pending, fuse_row_reductions, render, sources, reasons) if pending else {}
    graph = nx.DiGraph()
    graph.graph["sources"] = sources
    nodes = postorder(targets, lambda n: () if n.realized else n.srcs)
    labels = _inherited_sites(nodes)
    for n in nodes:
        site, role = labels.get(id(n), ("?", "forward"))
        graph.add_node(id(n), op="buffer" if n.realized else n.op, shape=tuple(n.shape), dtype=n.dtype.name,
                       site=site, role="buffer" if n.realized else role, kernel=kernels.get(id(n)),
                       arg=repr(n.arg) if n.arg is not None and not n.realized else "",
                       why=reasons.get(id(n)), flops=_flops(n))
        for s in n.srcs:
            graph.add_edge(id(s), id(n))
    graph.graph["targets"] = [id(t) for t in targets]
    return graph


def _flops(n: Node) -> int:
    if n.realized or n.op in O.MOVEMENT or n.op in O.LEAVES:
        return 0
    return n.srcs[0].numel if n.op == "reduce" else n.numel


def _kernel_of(targets: list[Node], fuse: bool, render, sources: dict, reasons: dict) -> dict[int, str]:
    """Node id -> the name of the kernel it is computed in (the first, when it is inlined
    into several); fills `reasons` (why each kernel output is stored) and, given
    `render(kernel, name)`, `sources` with each kernel's generated code, launch sizes,
    optimisation choices and the reasons for its outputs."""
    out: dict[int, str] = {}
    sched = schedule(targets, fuse_row_reductions=fuse)
    reasons.update(sched.reasons or {})
    for spec in sched.kernels:
        kernel = lower_kernel(spec)
        name = kernel_name(kernel)
        if render is not None:
            program = render(kernel, name)
            sources[name] = {"kernels": [{"name": k.name, "source": k.source, "opts": [repr(o) for o in k.opts],
                                          "global_size": list(k.global_size), "local_size": k.local_size}
                                         for k in program.kernels],
                             "outputs": [[list(o.shape), o.dtype.name] for o in spec.outputs],
                             "inputs": [[list(i.shape), i.dtype.name] for i in spec.inputs],
                             "why": [reasons.get(id(o), "") for o in spec.outputs]}
        inputs = spec.input_ids
        for n in postorder(list(spec.outputs), lambda m: () if id(m) in inputs or m.realized else m.srcs):
            if id(n) not in inputs and not n.realized:
                out.setdefault(id(n), name)
    return out


def _inherited_sites(nodes: list[Node]) -> dict[int, tuple[str, str]]:
    """A node made inside an op (not a tensor's value) takes the site and role of the first
    value that reads it."""
    labels = {id(n): found for n in nodes if (found := site_of(n)) is not None}
    for n in reversed(nodes):  # consumers before their sources
        if id(n) in labels:
            for s in n.srcs:
                labels.setdefault(id(s), labels[id(n)])
    return labels


def add_timings(graph: nx.DiGraph, timings: list[KernelTiming]) -> None:
    """Add each kernel's measured time, bytes moved, work and whether it was built for this
    run to the graph's `sources` (a joined launch's time is shared among its members)."""
    sources = graph.graph.setdefault("sources", {})
    flops: dict[str, int] = {}
    for _, data in graph.nodes(data=True):
        if data["kernel"] is not None:
            flops[data["kernel"]] = flops.get(data["kernel"], 0) + data["flops"]
    for t in timings:
        names = {graph.nodes[o]["kernel"] for o in t.outputs if o in graph and graph.nodes[o]["kernel"]}
        for name in names:
            entry = sources.setdefault(name, {})
            entry["seconds"] = entry.get("seconds", 0.0) + t.seconds / t.members
            entry["bytes"] = entry.get("bytes", 0) + t.nbytes // t.members
            entry["built"] = entry.get("built", False) or t.built
            entry["flops"] = flops.get(name, 0)
            if t.members > 1:
                entry["joined"] = f"{t.name} ({t.members} kernels, one launch)"
