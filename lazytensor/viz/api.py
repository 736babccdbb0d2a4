"""lt.viz's user API over tensors: to_networkx and dump."""
from __future__ import annotations

from pathlib import Path

import networkx as nx

from ..runtime.devices import get_device
from ..runtime.profile import profiled
from ..sites import record_sites
from ..tensor_base import TensorBase, realize
from .files import write
from .graph import graph_of


def to_networkx(tensors) -> nx.DiGraph:
    """`lt.viz.to_networkx(tensors)`: the lazy graph behind `tensors` (one or a list) as a
    networkx.DiGraph; node attributes op, shape, dtype, site, role, kernel."""
    tensors = [tensors] if isinstance(tensors, TensorBase) else list(tensors)
    nodes = [t.node if t._chain else t._storage.node for t in tensors]  # what each tensor holds
    device = get_device(tensors[0]._storage.node.device) if tensors else None
    return graph_of(nodes, _fuses_rows(tensors), device.render if device is not None else None)


def _fuses_rows(tensors) -> bool:
    return bool(tensors) and getattr(get_device(tensors[0]._storage.node.device), "fuse_row_reductions", False)


def dump(tensors_or_fn, path, run: bool = True) -> dict[str, Path]:
    """Write the graph behind `tensors_or_fn` (tensors, or a function called with site
    recording on, whose returned tensors are dumped): `path` ending in .dot gets the SVG and
    JSON beside it under the same stem; a path without an extension gets .dot/.svg/.json
    added. `run`: realise the tensors too, timing each kernel (the report's times; their
    values are computed now rather than when first read). Returns the paths written (no
    SVG where graphviz's `dot` is missing)."""
    if callable(tensors_or_fn) and not isinstance(tensors_or_fn, TensorBase):
        with record_sites():
            result = tensors_or_fn()
        tensors = _tensors(result)
    else:
        tensors = _tensors(tensors_or_fn)
    graph = to_networkx(tensors)
    timings: list = []
    if run and tensors:
        with profiled() as timings:
            realize(*tensors)
    return write(graph, path, timings)


def _tensors(value) -> list[TensorBase]:
    if isinstance(value, TensorBase):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensors(v)]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors(v)]
    return []
