"""Gradient propagation over IR nodes: the graph recorded as ops are built (graph.py),
the backward walk that builds gradient IR (backprop.py) and the grad-mode switch.
It knows nothing of Tensors; lazytensor.autograd is the PyTorch-named API over them."""
