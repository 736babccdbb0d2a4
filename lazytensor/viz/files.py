"""Graph dump files: JSON (the data `viz/` reads), DOT and SVG (graphviz) of a lazy graph."""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import graphviz
import networkx as nx

from .. import config
from ..runtime.profile import KernelTiming
from .graph import add_timings

ROLE_STYLE = {  # fill colours: what a node is for
    "buffer": "#dddddd", "forward": "#cfe3ff", "backward": "#ffd9c2",
}


_REALISATIONS = [0]


def dump_realisation(graph: nx.DiGraph, timings: list[KernelTiming]) -> dict[str, Path]:
    """GRAPH=path: the graph of one realisation and its kernels' times, numbered after the
    path's stem (graph.dot -> graph-0001.dot), or into the folder GRAPH names."""
    _REALISATIONS[0] += 1
    target = Path(config.GRAPH)
    if target.is_dir() or config.GRAPH.endswith("/"):
        stem = target / f"graph-{_REALISATIONS[0]:04d}"
    else:
        base = stem_of(target)
        stem = base.with_name(f"{base.name}-{_REALISATIONS[0]:04d}")
    return write(graph, stem, timings)


def stem_of(path) -> Path:
    path = Path(path)
    return path.with_suffix("") if path.suffix == ".dot" else path


def write(graph: nx.DiGraph, path, timings: list[KernelTiming] = ()) -> dict[str, Path]:
    """The graph as JSON, DOT and (where graphviz's `dot` exists) SVG, with `timings`."""
    add_timings(graph, list(timings))
    stem = stem_of(path)
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = {"json": stem.with_name(stem.name + ".json"), "dot": stem.with_name(stem.name + ".dot")}
    written["json"].write_text(json.dumps(as_json(graph), indent=1))
    dot = as_dot(graph, stem.name)
    written["dot"].write_text(dot.source)
    if shutil.which("dot"):
        svg = stem.with_name(stem.name + ".svg")
        svg.write_bytes(dot.pipe(format="svg"))
        written["svg"] = svg
    else:
        print("[lt] graph dump: graphviz's `dot` is not installed, so no SVG was written "
              "(apt-get install graphviz, brew install graphviz, or conda install graphviz)", file=sys.stderr)
    return written


def as_json(graph: nx.DiGraph) -> dict:
    kernels: dict[str, list[int]] = {}
    for n, data in graph.nodes(data=True):
        if data["kernel"] is not None:
            kernels.setdefault(data["kernel"], []).append(n)
    return {"nodes": [{"id": n, **{k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}}
                      for n, data in graph.nodes(data=True)],
            "edges": [[a, b] for a, b in graph.edges], "kernels": kernels,
            "targets": graph.graph.get("targets", []), "sources": graph.graph.get("sources", {})}


def as_dot(graph: nx.DiGraph, anchor: str = "") -> graphviz.Digraph:
    """The graph for graphviz: a cluster per kernel; a node or cluster links to
    `#<anchor>-<kernel>`, where the report shows that kernel's source."""
    dot = graphviz.Digraph("lazytensor", graph_attr={"rankdir": "TB"},
                           node_attr={"shape": "box", "style": "filled,rounded", "fontname": "Helvetica"})
    clusters: dict[str, graphviz.Digraph] = {}
    for n, data in graph.nodes(data=True):
        label = f"{data['op']} {list(data['shape'])} {data['dtype']}\\n{_short(data['site'])}"
        kernel = data["kernel"]
        tooltip = data["site"] + (f" | stored: {data['why']}" if data.get("why") else "")
        attrs = {"label": label, "fillcolor": ROLE_STYLE[data["role"]], "tooltip": tooltip}
        if kernel is not None:
            attrs["href"] = f"#{anchor}-{kernel}"
        if kernel is None:
            dot.node(str(n), **attrs)
        else:
            if kernel not in clusters:
                clusters[kernel] = graphviz.Digraph(f"cluster_{len(clusters)}", graph_attr={
                    "label": kernel, "style": "dashed", "href": f"#{anchor}-{kernel}", "tooltip": kernel})
            clusters[kernel].node(str(n), **attrs)
    for cluster in clusters.values():
        dot.subgraph(cluster)
    for a, b in graph.edges:
        dot.edge(str(a), str(b))
    return dot


def _short(site: str) -> str:
    file, _, line = site.rpartition(":")
    return f"{Path(file).name}:{line}" if file else site
