"""The lazy graph behind some tensors, with the kernels it would become, as networkx data."""
from __future__ import annotations

import networkx as nx

from ..codegen.lower import lower_kernel
from ..codegen.render_common import kernel_name
from ..ir.node import Node
from ..ir.schedule import schedule
from ..ir.traverse import postorder
from ..sites import site_of


def graph_of(targets: list[Node], fuse_row_reductions: bool = False, render=None) -> nx.DiGraph:
    """Every node under `targets` (realised ones are buffers, where the graph stops), each
    labelled with its op, shape, dtype, the user's file:line that made it, forward or
    backward, and the kernel the scheduler fuses it into; an edge from each source."""
    pending = [t for t in targets if not t.realized]
    sources: dict[str, dict] = {}
    kernels = _kernel_of(pending, fuse_row_reductions, render, sources) if pending else {}
    graph = nx.DiGraph()
    graph.graph["sources"] = sources
    nodes = postorder(targets, lambda n: () if n.realized else n.srcs)
    labels = _inherited_sites(nodes)
    for n in nodes:
        site, role = labels.get(id(n), ("?", "forward"))
        graph.add_node(id(n), op="buffer" if n.realized else n.op, shape=tuple(n.shape), dtype=n.dtype.name,
                       site=site, role="buffer" if n.realized else role, kernel=kernels.get(id(n)),
                       arg=repr(n.arg) if n.arg is not None and not n.realized else "")
        for s in n.srcs:
            graph.add_edge(id(s), id(n))
    graph.graph["targets"] = [id(t) for t in targets]
    return graph


def _kernel_of(targets: list[Node], fuse: bool, render, sources: dict) -> dict[int, str]:
    """Node id -> the name of the kernel it is computed in (the first, when it is inlined
    into several); `render(kernel, name)`, when given, fills `sources` with each kernel's
    generated code, launch sizes and optimisation choices."""
    out: dict[int, str] = {}
    for spec in schedule(targets, fuse_row_reductions=fuse).kernels:
        kernel = lower_kernel(spec)
        name = kernel_name(kernel)
        if render is not None:
            program = render(kernel, name)
            sources[name] = {"kernels": [{"name": k.name, "source": k.source, "opts": [repr(o) for o in k.opts],
                                          "global_size": list(k.global_size), "local_size": k.local_size}
                                         for k in program.kernels],
                             "outputs": [[list(o.shape), o.dtype.name] for o in spec.outputs],
                             "inputs": [[list(i.shape), i.dtype.name] for i in spec.inputs]}
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
