"""Custom differentiable functions: class F(lt.autograd.Function) with static forward/backward."""
from __future__ import annotations

from typing import Any, Callable

from .. import config
from ..autodiff.grad_mode import no_grad
from ..autodiff.graph import FREED, GradNode, own
from ..ir import build as B
from ..ir.node import Node, const, unique
from ..tensor_base import Storage, TensorBase, wrap, wrap_storage


class FunctionCtx:
    """What forward hands to backward: saved tensors and which inputs need gradients."""

    def __init__(self):
        self._saved: tuple = ()
        self._versions: tuple = ()
        self.needs_input_grad: tuple[bool, ...] = ()
        self.materialize_grads = True

    def save_for_backward(self, *tensors) -> None:
        self._saved = tensors
        self._versions = tuple(t._storage.version if t is not None else None for t in tensors)

    @property
    def saved_tensors(self) -> tuple:
        for t, v in zip(self._saved, self._versions):
            if t is not None and t._storage.version != v:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an inplace "
                    f"operation: [lazytensor.{t.dtype.name} {list(t.shape)}] is at version {t._storage.version}; "
                    f"expected version {v} instead.")
        return self._saved

    def mark_non_differentiable(self, *tensors) -> None:
        """Accepted for compatibility: such outputs simply get no gradient use."""

    def set_materialize_grads(self, value: bool) -> None:
        self.materialize_grads = value


class _CustomBackward(GradNode):
    def __init__(self, fn_cls, ctx: FunctionCtx, arguments: tuple, inputs: list, outputs: list[tuple],
                 input_shapes: list):
        super().__init__()
        self.fn_cls, self.ctx = fn_cls, ctx
        self.inputs = inputs  # per forward argument: its GradNode, or None
        # the arguments' values: their GradNodes hold them weakly, and a forward that read them
        # on the host (numpy) leaves nothing else holding them until backward
        self.input_values = [a.node if gn is not None else None for a, gn in zip(arguments, inputs)]
        self.input_shapes = input_shapes  # per forward argument: its shape, if a tensor
        self.outputs = outputs  # (dtype, shape, device) per output: never the outputs' own nodes

    def name(self) -> str:
        """A user's Function F gives FBackward, as in PyTorch; one of lazytensor's own names the
        op as PyTorch's grad_fn does (`grad_fn_name`, e.g. ConvolutionBackward0)."""
        return getattr(self.fn_cls, "grad_fn_name", None) or f"{self.fn_cls.__name__}Backward"

    def next_nodes(self) -> list[GradNode]:
        return [gn for gn in self.inputs if gn is not None]

    def apply(self, grads: dict[int, Node]) -> list[tuple[GradNode, int, Node]]:
        if self.ctx is None:
            raise RuntimeError(FREED)
        grad_tensors = []
        for i, (dtype, shape, device) in enumerate(self.outputs):
            g = grads.get(i)
            if g is None:
                g = const(0.0, dtype, shape, device) if self.ctx.materialize_grads else None
            grad_tensors.append(None if g is None else wrap(g))
        result = self.fn_cls.backward(self.ctx, *grad_tensors)
        result = result if isinstance(result, tuple) else (result,)
        flows = []
        for i, (gn, g, shape) in enumerate(zip(self.inputs, result, self.input_shapes)):
            if gn is not None and g is not None:
                flows.append((gn, 0, self._to_input_shape(i, g, shape)))
        return flows

    def _to_input_shape(self, i: int, g: TensorBase, shape: tuple) -> Node:
        """A gradient of the input's shape, or of a shape it broadcasts to (summed back, as
        PyTorch does); anything else is refused with PyTorch's message."""
        got = tuple(g.shape)
        if got == shape:
            return g.node
        padded = (1,) * (len(got) - len(shape)) + shape
        if len(got) < len(shape) or any(p not in (1, n) for p, n in zip(padded, got)):
            raise RuntimeError(f"Function {self.name()} returned an invalid gradient at index {i} - got "
                               f"{list(got)} but expected shape compatible with {list(shape)}")
        axes = tuple(d for d, (p, n) in enumerate(zip(padded, got)) if p != n)
        return B.reshape(B.reduce(g.node, "sum", axes), shape)

    def release(self) -> None:
        self.ctx, self.input_values = None, []


def _shape_of(node: Node) -> tuple:
    return (node.dtype, node.shape, node.device)


class Function:
    """Subclass with static forward(ctx, *args) and backward(ctx, *grads); call F.apply(*args)."""

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any, **kwargs: Any):
        raise NotImplementedError("a Function subclass must define forward(ctx, ...)")

    @staticmethod
    def backward(ctx: FunctionCtx, *grads: Any):
        raise NotImplementedError("a Function subclass must define backward(ctx, *grads)")

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any):
        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(a, TensorBase) and a.requires_grad for a in args)
        with no_grad():
            out = cls.forward(ctx, *args, **kwargs)
        if not (config.GRAD_ENABLED and any(ctx.needs_input_grad)):
            return out
        outs = out if isinstance(out, tuple) else (out,)
        inputs = [a._grad_node() if isinstance(a, TensorBase) and a.requires_grad else None for a in args]
        shapes = [tuple(a.shape) if isinstance(a, TensorBase) else None for a in args]
        outputs = [_shape_of(o.node) for o in outs if isinstance(o, TensorBase)]
        node = _CustomBackward(cls, ctx, args, inputs, outputs, shapes)
        wrapped, slot = [], 0
        for o in outs:
            if isinstance(o, TensorBase) and o.dtype.is_floating_point:
                value = unique("detach", o.node)
                own(value, node, slot)  # gradients of this output stop here and enter `node`
                t = wrap_storage(Storage(value))
                t._storage.grad_node = node
                wrapped.append(t)
                slot += 1
            else:
                wrapped.append(o)
        node.outputs = [_shape_of(w.node) for w in wrapped if isinstance(w, TensorBase) and w.requires_grad]
        return tuple(wrapped) if isinstance(out, tuple) else wrapped[0]



def differentiable(name: str, value: Callable[..., TensorBase],
                   backward: Callable[..., tuple]) -> Callable[..., TensorBase]:
    """An op whose value is value(*args) and whose gradients are backward(grad, *args), one per
    argument (None for one that takes none): PyTorch's own formula, where autograd through the
    composite that computes the value would differ at its singular points (0 / 0, inf * 0). The
    backward is built from public ops, so a second derivative follows from it. Its grad_fn is
    named as PyTorch's (`name` + "Backward0")."""
    def forward(ctx: FunctionCtx, *args: Any) -> TensorBase:
        ctx.save_for_backward(*(a if isinstance(a, TensorBase) else None for a in args))
        ctx.numbers = tuple(None if isinstance(a, TensorBase) else a for a in args)
        return value(*args)

    def grads(ctx: FunctionCtx, grad: TensorBase) -> tuple:
        args = tuple(n if t is None else t for t, n in zip(ctx.saved_tensors, ctx.numbers))
        return tuple(backward(grad, *args))

    fn = type(name, (Function,), {"forward": staticmethod(forward), "backward": staticmethod(grads),
                                  "grad_fn_name": f"{name}Backward0"})
    return fn.apply
