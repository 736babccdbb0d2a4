"""Binding a module's constructor arguments to a table of (name, default) pairs, as Python binds
a signature: the modules built from a table (activation.py, loss.py) share it."""
from __future__ import annotations

REQUIRED = object()  # the default of an argument that must be given


def bind(owner: str, params: tuple[tuple[str, object], ...], args: tuple, kwargs: dict,
         positional: int | None = None) -> dict[str, object]:
    """The value of each of `params` from `args` (the first `positional` of them, all by
    default) and `kwargs`, else its default; a TypeError as Python's for what does not fit."""
    names = [name for name, _ in params]
    limit = len(names) if positional is None else positional
    if len(args) > limit:
        raise TypeError(f"{owner}() takes at most {limit} positional arguments ({len(args)} given)")
    values = {**dict(params), **dict(zip(names, args))}
    for name, value in kwargs.items():
        if name not in names:
            raise TypeError(f"{owner}() got an unexpected keyword argument '{name}'")
        values[name] = value
    missing = [name for name in names if values[name] is REQUIRED]
    if missing:
        raise TypeError(f"{owner}() missing required arguments: {', '.join(missing)}")
    return values
