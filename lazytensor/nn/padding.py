"""The padding modules over F.pad: ZeroPad, ConstantPad, ReflectionPad, ReplicationPad and
CircularPad, each for 1, 2 and 3 padded dims. `padding` is an int (every side) or F.pad's
tuple, last dim first: (left, right[, top, bottom[, front, back]])."""
from __future__ import annotations

from ..tensor import Tensor
from . import functional as F
from .module import Module


class _Pad(Module):
    MODE = "reflect"
    ND = 1

    def __init__(self, padding) -> None:
        super().__init__()
        self.padding = F._tuple(padding, 2 * self.ND, "padding")

    def forward(self, input: Tensor) -> Tensor:
        return F.pad(input, self.padding, self.MODE)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPad(_Pad):
    MODE = "constant"

    def __init__(self, padding, value: float) -> None:
        super().__init__(padding)
        self.value = value

    def forward(self, input: Tensor) -> Tensor:
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class _ZeroPad(_ConstantPad):
    def __init__(self, padding) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


def _padding(name: str, base: type, mode: str, nd: int) -> type:
    return type(name, (base,), {"MODE": mode, "ND": nd, "__doc__": f"F.pad of the last {nd} dims, mode {mode!r}."})


ZeroPad1d, ZeroPad2d, ZeroPad3d = (_padding(f"ZeroPad{n}d", _ZeroPad, "constant", n) for n in (1, 2, 3))
ConstantPad1d, ConstantPad2d, ConstantPad3d = (_padding(f"ConstantPad{n}d", _ConstantPad, "constant", n)
                                               for n in (1, 2, 3))
ReflectionPad1d, ReflectionPad2d, ReflectionPad3d = (_padding(f"ReflectionPad{n}d", _Pad, "reflect", n)
                                                     for n in (1, 2, 3))
ReplicationPad1d, ReplicationPad2d, ReplicationPad3d = (_padding(f"ReplicationPad{n}d", _Pad, "replicate", n)
                                                        for n in (1, 2, 3))
CircularPad1d, CircularPad2d, CircularPad3d = (_padding(f"CircularPad{n}d", _Pad, "circular", n) for n in (1, 2, 3))
