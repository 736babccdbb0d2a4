"""lt.finfo and lt.iinfo: the limits of a floating or integer dtype, as torch.finfo/iinfo."""
from __future__ import annotations

import numpy as np

from .ir import dtype as D


class finfo:  # noqa: N801 - PyTorch's name
    """The limits of a floating dtype (float32 without an argument): bits, eps, max, min, tiny,
    resolution, dtype."""

    def __new__(cls, dtype=None):
        dt = D.to_dtype(dtype if dtype is not None else D.float32)
        if not dt.is_floating_point:
            raise TypeError(f"finfo: {dt.name} is not a floating point dtype (use iinfo)")
        return _FINFO[dt]

    @property
    def smallest_normal(self) -> float:
        return self.tiny

    def __repr__(self) -> str:
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, eps={self.eps:g}, "
                f"smallest_normal={self.tiny:g}, tiny={self.tiny:g}, dtype={self.dtype})")


def _finfo(dt: D.DType, bits: int, eps: float, largest: float, tiny: float, resolution: float) -> finfo:
    info = object.__new__(finfo)
    for name, value in dict(bits=bits, eps=eps, max=largest, min=-largest, tiny=tiny, resolution=resolution,
                            dtype=dt.name).items():
        setattr(info, name, value)
    return info


def _from_numpy(dt: D.DType) -> finfo:
    i = np.finfo(dt.np)
    return _finfo(dt, i.bits, float(i.eps), float(i.max), float(i.tiny), float(i.resolution))


# bfloat16 keeps float32's exponent with 8 bits of precision
_FINFO = {**{dt: _from_numpy(dt) for dt in (D.float16, D.float32, D.float64)},
          D.bfloat16: _finfo(D.bfloat16, 16, 2.0 ** -7, float.fromhex("0x1.fep127"), 2.0 ** -126, 0.01)}


class iinfo:  # noqa: N801 - PyTorch's name
    """The limits of an integer dtype: bits, max, min, dtype."""

    def __new__(cls, dtype):
        dt = D.to_dtype(dtype)
        if dt.is_floating_point or dt == D.bool_:
            raise TypeError(f"iinfo: {dt.name} is not an integer dtype (use finfo)")
        i = np.iinfo(dt.np)
        info = object.__new__(iinfo)
        for name, value in dict(bits=i.bits, max=int(i.max), min=int(i.min), dtype=dt.name).items():
            setattr(info, name, value)
        return info

    def __repr__(self) -> str:
        return f"iinfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype})"
