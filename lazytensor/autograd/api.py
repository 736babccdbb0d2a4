"""User entry points: Tensor.backward and lt.autograd.grad."""
from __future__ import annotations

import weakref

from ..autodiff.backprop import run_backward
from ..autodiff.grad_mode import set_grad_enabled
from ..ir import build as B
from ..ir.node import Node, const
from ..tensor_base import TensorBase, realised_together, wrap


def _seed(t, gradient, op: str) -> Node:
    if gradient is None:
        if t.numel() != 1:
            raise RuntimeError("grad can be implicitly created only for scalar outputs "
                               f"({op} was called on a tensor of shape {tuple(t.shape)})")
        return const(1.0, t.dtype, tuple(t.shape), t.device.name)
    if tuple(gradient.shape) != tuple(t.shape):
        raise RuntimeError(f"Mismatch in shape: grad_output has a shape of {tuple(gradient.shape)} and output "
                           f"has a shape of {tuple(t.shape)}")
    node = gradient.node
    return node if node.dtype == t.dtype else B.cast(node, t.dtype)


def _root(t, op: str):
    if not t.requires_grad:
        raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn "
                           f"({op} on a tensor of shape {tuple(t.shape)})")
    return t._grad_node()


# the losses backward() ran from since an optimizer step last took them (weakly: a loss
# nobody holds is not computed)
_ROOTS: list[weakref.ref] = []
_ROOTS_KEPT = 64


def backward(tensor, gradient=None, retain_graph=None, create_graph: bool = False, inputs=None) -> None:
    with realised_together():  # LAZY=0: the gradients' records first, then their realisation
        _backward(tensor, gradient, retain_graph, create_graph, inputs)
    if gradient is None:  # a loss (one value, its own seed), not an activation given a gradient
        _remember_root(tensor)


def _remember_root(loss) -> None:
    if len(_ROOTS) >= _ROOTS_KEPT:  # backward without optimizer steps: keep the latest only
        del _ROOTS[:_ROOTS_KEPT // 2]
    _ROOTS.append(weakref.ref(loss))


def take_backward_roots() -> list[TensorBase]:
    """The losses backward() ran from (without a gradient given) since the last call that are
    alive and not yet computed: any optimizer's step realises them with its gradients (the
    loss a training loop reads next shares most of its work with them, and would otherwise be
    a realisation of its own). A held loss is so computed every step, read or not."""
    roots = [t for t in (ref() for ref in _ROOTS) if t is not None and not t._storage.node.realized]
    _ROOTS.clear()
    return roots


def _backward(tensor, gradient, retain_graph, create_graph: bool, inputs) -> None:
    retain = create_graph if retain_graph is None else retain_graph
    roots = [(_root(tensor, "backward"), _seed(tensor, gradient, "backward"))]
    if inputs is None:
        run_backward(roots, retain, create_graph, wrap)
        return
    inputs = [inputs] if not isinstance(inputs, (list, tuple)) else list(inputs)
    found = run_backward(roots, retain, create_graph, wrap, [t._grad_node() for t in inputs])
    with set_grad_enabled(create_graph):  # gradients have history only under create_graph
        for t in inputs:
            g = found.get(id(t._grad_node()))
            if g is not None:
                t.grad = wrap(g if t.grad is None else B.elementwise("add", t.grad.node, g))


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph: bool = False,
         allow_unused: bool = False, materialize_grads: bool = False) -> tuple:
    """Gradients of `outputs` with respect to `inputs`, without touching any `.grad`."""
    with realised_together():  # LAZY=0: the gradients' records first, then their realisation
        return _grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused, materialize_grads)


def _grad(outputs, inputs, grad_outputs, retain_graph, create_graph: bool, allow_unused: bool,
          materialize_grads: bool) -> tuple:
    outputs = [outputs] if isinstance(outputs, TensorBase) else list(outputs)
    single = isinstance(inputs, TensorBase)
    inputs = [inputs] if single else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, TensorBase):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    retain = create_graph if retain_graph is None else retain_graph
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    roots = [(_root(o, "grad"), _seed(o, g, "grad")) for o, g in zip(outputs, grad_outputs)]
    targets = [t._grad_node() for t in inputs]
    found = run_backward(roots, retain, create_graph, wrap, targets)
    if any(found.get(id(gn)) is None for gn in targets) and not (allow_unused or materialize_grads):
        raise RuntimeError("One of the differentiated Tensors appears to not have been used in the graph. "
                           "Set allow_unused=True if this is the desired behavior.")
    results = []
    with set_grad_enabled(create_graph):  # gradients have history only under create_graph
        for t, gn in zip(inputs, targets):
            g = found.get(id(gn))
            if g is None:
                results.append(wrap(const(0.0, t.dtype, tuple(t.shape), t.device.name))
                               if materialize_grads else None)
            else:
                results.append(wrap(g))
    return tuple(results)
