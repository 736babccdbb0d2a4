"""PyTorch's keyword names for the functional forms of methods.

`torch.matmul(input=a, other=b)`: PyTorch's functions name their first argument `input`
(and a second tensor `other` or `mat2`); lazytensor's op families are written as methods
(`self`, `a`, `x`). The functions exported at the top level take both spellings.
"""
from __future__ import annotations

import functools
import inspect
from typing import Callable

# what PyTorch's functions call their first and second tensor arguments (`torch.pow(input,
# exponent)`, `torch.outer(input, vec2)`, `torch.true_divide(dividend, divisor)`)
_FIRST = ("input", "dividend", "ndarray", "type1", "tensor1")
_SECOND = ("other", "mat2", "exponent", "tensor", "vec2", "divisor", "type2", "tensor2")


def accepting_torch_keywords(fn: Callable) -> Callable:
    """`fn`, also callable with input= (and other= / mat2=) for its first (second) parameter."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return fn
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    names = {p.name for p in params}
    slots = []  # (torch's names, position) for the parameters PyTorch names differently
    if positional and positional[0].name not in _FIRST:
        slots.append((_FIRST, 0))
    if len(positional) > 1 and positional[1].name not in _SECOND + ("dim",):
        slots.append((_SECOND, 1))
    if not slots:
        return fn
    accepted = frozenset(k for keys, _ in slots for k in keys if k not in names)

    @functools.wraps(fn)
    def call(*args, **kwargs):
        for keys, position in slots:
            key = next((k for k in keys if k in kwargs and k not in names), None)
            if key is not None and len(args) == position:
                args = args + (kwargs.pop(key),)
        return fn(*args, **kwargs)
    call.torch_keywords = accepted  # for the audit against PyTorch's signatures (tests)
    return call


def adapt_namespace(namespace: dict, module_prefix: str = "lazytensor") -> None:
    """Wrap every public function of `namespace` that lazytensor defines."""
    for name, value in list(namespace.items()):
        if (not name.startswith("_") and inspect.isfunction(value)
                and getattr(value, "__module__", "").startswith(module_prefix)):
            namespace[name] = accepting_torch_keywords(value)
