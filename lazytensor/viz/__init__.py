"""Graph dumps of the lazy IR: `lt.viz.dump(tensors_or_fn, path)` and `lt.viz.to_networkx(tensors)`."""
from .api import dump, to_networkx

__all__ = ["dump", "to_networkx"]
