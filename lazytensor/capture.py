"""The guard lt.jit keeps while it captures a function: no value may leave the device.

A captured function is meant to be replayed as its kernels alone, so anything that
reads data on the host (`.item()`, `.numpy()`, `print`, `bool(t)`, a data-dependent
shape) would be stale or wrong on replay: it raises, naming the call and the function."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

_CAPTURING: list[str] = []  # the functions being captured, innermost last


@contextmanager
def capturing(name: str) -> Iterator[None]:
    _CAPTURING.append(name)
    try:
        yield
    finally:
        _CAPTURING.pop()


def refuse_host_read(call: str) -> None:
    """Raise if a jitted function is being captured: `call` would read device data on the host."""
    if _CAPTURING:
        raise RuntimeError(
            f"lt.jit: {call} inside the jitted function '{_CAPTURING[-1]}' reads a tensor's value on the "
            f"host, which a replay of the captured kernels cannot do; return the tensor from the function "
            f"and read it after the call")
