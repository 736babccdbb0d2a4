"""torch.autograd.functional: jacobian, hessian, vjp, jvp, vhp and hvp over lt.autograd.grad.

Forward-mode products use PyTorch's double-backward trick (the gradient of a vector-Jacobian
product with respect to its seed is the Jacobian-vector product), so everything here is
reverse mode over the IR, and a product's work fuses like any other gradient."""
from __future__ import annotations

from typing import Callable

from ..autodiff.grad_mode import enable_grad, is_grad_enabled, set_grad_enabled
from ..creation import zeros, zeros_like
from ..movement import stack
from ..tensor import Tensor
from .api import grad


def _as_tuple(value, what: str, op: str) -> tuple[bool, tuple]:
    """(whether it was a tuple, its tensors as a tuple), refusing anything but tensors."""
    is_tuple = isinstance(value, (tuple, list))
    items = tuple(value) if is_tuple else (value,)
    for i, item in enumerate(items):
        if not isinstance(item, Tensor):
            where = f"The {what} given to {op} must be either a Tensor or a tuple of Tensors"
            raise TypeError(f"{where} but the value at index {i} has type {type(item).__name__}." if is_tuple
                            else f"{where} but the given {what} has type {type(item).__name__}.")
    return is_tuple, items


def _untuple(values, is_tuple):
    """PyTorch's `_tuple_postprocess`: unwrap one level per False flag (outputs, then inputs)."""
    if isinstance(is_tuple, tuple):
        if not is_tuple[1]:
            values = tuple(v[0] for v in values)
        return values if is_tuple[0] else values[0]
    return values if is_tuple else values[0]


def _prepare(inputs: tuple, create_graph: bool, need_graph: bool) -> tuple:
    """Inputs the function records on: views (so higher-order graphs reach the caller's
    tensors) under create_graph, else detached leaves of their own."""
    return tuple(t.view_as(t) if create_graph and t.requires_grad else t.detach().requires_grad_(need_graph)
                 for t in inputs)


def _finish(values: tuple, create_graph: bool) -> tuple:
    return values if create_graph else tuple(v.detach() for v in values)


# PyTorch's strict-mode message for a value (of each kind) that does not depend on the inputs
_INDEPENDENT = {
    "outputs": "Output {i} of the user-provided function does not require gradients. The outputs must be computed "
               "in a differentiable manner from the input when running in strict mode.",
    "grad_inputs": "The gradient with respect to input {i} is independent of the inputs of the user-provided "
                   "function. This is not allowed in strict mode.",
    "jacobian": "While computing the hessian, found that the jacobian of the user-provided function with respect "
                "to input {i} is independent of the input. This is not allowed in strict mode. You should ensure "
                "that your function is twice differentiable and that the jacobian depends on the inputs (this "
                "would be violated by a linear function for example).",
}


def _check_requires_grad(values: tuple, what: str, strict: bool) -> None:
    if not strict:
        return
    for i, v in enumerate(values):
        if v is None or not v.requires_grad:
            raise RuntimeError(_INDEPENDENT[what].format(i=i))


def _validate_v(v: tuple, other: tuple, op: str) -> None:
    if len(v) != len(other):
        raise RuntimeError(f"{op}: v is a tuple of invalid length: should be {len(other)} but got {len(v)}.")
    for i, (a, b) in enumerate(zip(v, other)):
        if tuple(a.shape) != tuple(b.shape):
            raise RuntimeError(f"{op}: Entry {i} in v has invalid size: should be {tuple(b.shape)} but got "
                               f"{tuple(a.shape)}.")


def _grads(outputs: tuple, inputs: tuple, seeds, create_graph: bool) -> tuple:
    """lt.autograd.grad that skips outputs without history and gives None for inputs they
    do not reach (PyTorch's `_autograd_grad`)."""
    seeds = (None,) * len(outputs) if seeds is None else seeds
    pairs = [(o, s) for o, s in zip(outputs, seeds) if o is not None and o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    return grad([o for o, _ in pairs], list(inputs), [s for _, s in pairs], retain_graph=True,
                create_graph=create_graph, allow_unused=True)


def _zeros_for_unused(found: tuple, refs: tuple, strict: bool, create_graph: bool, op: str) -> tuple:
    out = []
    for i, (g, ref) in enumerate(zip(found, refs)):
        if g is None:
            if strict:
                raise RuntimeError(f"{op}: the output of the user-provided function is independent of input {i}. "
                                   "This is not allowed in strict mode.")
            g = zeros_like(ref)
        elif strict and create_graph and not g.requires_grad:
            raise RuntimeError(f"{op}: the gradient with respect to input {i} is independent of the inputs of the "
                               "user-provided function. This is not allowed in strict mode when create_graph=True.")
        out.append(g)
    return tuple(out)


def _seed_or_none(v, others: tuple, what: str, op: str):
    """The seeds v (checked against `others`' shapes); None only for one single-element tensor."""
    if v is None:
        if not (len(others) == 1 and others[0].numel() == 1):
            raise RuntimeError(f"{op}: The vector v can only be None if the {what} is a single Tensor with a "
                               "single element.")
        return None
    _, v = _as_tuple(v, "v", op)
    v = tuple(t.detach() for t in v)
    _validate_v(v, others, op)
    return v


def vjp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(inputs), v^T J): the vector-Jacobian product."""
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _prepare(inputs, create_graph, need_graph=True)
        is_outputs_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", "vjp")
        _check_requires_grad(outputs, "outputs", strict)
        v = _seed_or_none(v, outputs, "user-provided function's output", "vjp")
    with set_grad_enabled(create_graph or is_grad_enabled()):
        result = _zeros_for_unused(_grads(outputs, inputs, v, create_graph), inputs, strict, create_graph, "vjp")
    return _untuple(_finish(outputs, create_graph), is_outputs_tuple), _untuple(_finish(result, create_graph),
                                                                               is_inputs_tuple)


def jvp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(inputs), J v): the Jacobian-vector product."""
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _prepare(inputs, create_graph, need_graph=True)
        v = _seed_or_none(v, inputs, "input to the user-provided function", "jvp")
        is_outputs_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", "jvp")
        _check_requires_grad(outputs, "outputs", strict)
        dummies = tuple(zeros_like(o).requires_grad_(True) for o in outputs)
        grad_inputs = _grads(outputs, inputs, dummies, create_graph=True)
        _check_requires_grad(grad_inputs, "grad_inputs", strict)
    with set_grad_enabled(create_graph or is_grad_enabled()):
        found = _grads(grad_inputs, dummies, v, create_graph)
        result = _zeros_for_unused(found, outputs, strict, create_graph, "jvp")
    return _untuple(_finish(outputs, create_graph), is_outputs_tuple), _untuple(_finish(result, create_graph),
                                                                               is_outputs_tuple)


def jacobian(func: Callable, inputs, create_graph: bool = False, strict: bool = False, vectorize: bool = False,
             strategy: str = "reverse-mode"):
    """The Jacobian of func at inputs: for each output and input, a tensor of shape
    output.shape + input.shape (one backward pass per output element)."""
    if strategy not in ("forward-mode", "reverse-mode"):
        raise ValueError('Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your '
                         'function has more outputs than inputs, "forward-mode" tends to be more performant. '
                         'Otherwise, prefer to use "reverse-mode".')
    if strategy == "forward-mode":
        raise NotImplementedError("jacobian: strategy='forward-mode' is not supported (lazytensor has no forward-mode "
                                  "autograd); use the default 'reverse-mode', which gives the same values")
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _prepare(inputs, create_graph, need_graph=True)
        is_outputs_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", "jacobian")
        _check_requires_grad(outputs, "outputs", strict)
        result = tuple(_output_jacobian(i, out, inputs, create_graph, strict) for i, out in enumerate(outputs))
    result = tuple(_finish(r, create_graph) for r in result)
    return _untuple(result, (is_outputs_tuple, is_inputs_tuple))


def _output_jacobian(index: int, out: Tensor, inputs: tuple, create_graph: bool, strict: bool) -> tuple:
    """One output's rows of the Jacobian, one backward pass per element, stacked per input."""
    rows: list[list[Tensor]] = [[] for _ in inputs]
    flat = out.reshape(-1)
    for j in range(out.numel()):
        found = _grads((flat[j],), inputs, None, create_graph)
        for k, g in enumerate(_zeros_for_unused(found, inputs, strict, create_graph, f"jacobian (output {index})")):
            rows[k].append(g)
    return tuple(stack(r).reshape(tuple(out.shape) + tuple(inp.shape)) if r
                 else zeros(tuple(out.shape) + tuple(inp.shape), dtype=inp.dtype, device=inp.device)
                 for r, inp in zip(rows, inputs))


def _scalar_function(func: Callable, op: str, strict: bool) -> Callable:
    """func, checked to return one single-element tensor (squeezed to 0-d)."""
    def checked(*inputs):
        out = func(*inputs)
        is_tuple, outs = _as_tuple(out, "outputs of the user-provided function", op)
        _check_requires_grad(outs, "outputs", strict)
        if is_tuple:
            raise RuntimeError(f"The function given to {op} should return a single Tensor")
        if out.numel() != 1:
            raise RuntimeError(f"The Tensor returned by the function given to {op} should contain a single element "
                               f"(it has shape {tuple(out.shape)})")
        return out.squeeze()
    return checked


def hessian(func: Callable, inputs, create_graph: bool = False, strict: bool = False, vectorize: bool = False,
            outer_jacobian_strategy: str = "reverse-mode"):
    """The Hessian of a scalar function: the Jacobian of its gradient."""
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    scalar = _scalar_function(func, "hessian", strict)

    def gradient(*inp):
        jac = jacobian(scalar, inp, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict)
        return jac
    result = jacobian(gradient, inputs, create_graph=create_graph, strict=strict, vectorize=vectorize,
                      strategy=outer_jacobian_strategy)
    return _untuple(result, (is_inputs_tuple, is_inputs_tuple))


def vhp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(inputs), v^T H) for a scalar function."""
    return _hessian_product(func, inputs, v, create_graph, strict, "vhp")


def hvp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(inputs), H v) for a scalar function; the Hessian of a twice-differentiable
    function is symmetric, so this is v^T H reshaped, as PyTorch's double-backward gives."""
    return _hessian_product(func, inputs, v, create_graph, strict, "hvp")


def _hessian_product(func: Callable, inputs, v, create_graph: bool, strict: bool, op: str):
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", op)
        inputs = _prepare(inputs, create_graph, need_graph=True)
        v = _seed_or_none(v, inputs, "input to the user-provided function", op)
        output = _scalar_function(func, op, strict)(*inputs)
        jac = _grads((output,), inputs, None, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict)
    with set_grad_enabled(create_graph or is_grad_enabled()):
        found = _grads(jac, inputs, v, create_graph)
        result = _zeros_for_unused(found, inputs, strict, create_graph, op)
    return _finish((output,), create_graph)[0], _untuple(_finish(result, create_graph), is_inputs_tuple)
