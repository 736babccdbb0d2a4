"""Questions about a tensor (its dtype, size, device, truth), and the complex-number ops,
which lazytensor's real dtypes answer as PyTorch answers them for real tensors."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .elementwise import isnan, where
from .ir import dtype as D
from .runtime.devices import get_device as _runtime_device

if TYPE_CHECKING:
    from .tensor import Tensor


def is_signed(self: Tensor) -> bool:
    return self.dtype.is_signed


def is_false(self: Tensor) -> bool:
    """What a lazytensor tensor never is: complex (or a conjugated or negated view of one),
    sparse, quantized, nested, meta, pinned, shared or an inference tensor."""
    return False


def itself_in_host_memory(self: Tensor, *args, **kwargs) -> Tensor:
    """pin_memory, share_memory_: accepted for loaders that call them; the memory is the device's."""
    return self


def is_same_size(self: Tensor, other: Tensor) -> bool:
    return tuple(self.shape) == tuple(other.shape)


def is_nonzero(self: Tensor) -> bool:
    """The truth of a one-element tensor; more or fewer elements are ambiguous."""
    if self.numel() != 1:
        what = "no values" if self.numel() == 0 else "more than one value"
        raise RuntimeError(f"Boolean value of Tensor with {what} is ambiguous (shape {tuple(self.shape)})")
    return self.item() != 0


def equal(self: Tensor, other: Tensor) -> bool:
    """Same shape and the same values."""
    return tuple(self.shape) == tuple(other.shape) and bool((self == other).all().item())


def isreal(self: Tensor) -> Tensor:
    """True everywhere: every lazytensor dtype is real."""
    return self.new_ones(tuple(self.shape), dtype=D.bool_)


def itself(self: Tensor) -> Tensor:
    """conj, resolve_conj, resolve_neg, conj_physical and .real of a real tensor: the tensor."""
    return self


def angle(self: Tensor) -> Tensor:
    """The argument of a real number: pi below 0, else 0 (NaN stays NaN); its gradient is 0."""
    x = self if self.dtype.is_floating_point else self.float()
    return where(x < 0, math.pi, where(isnan(x), x, 0.0) * 0)


def imag(self: Tensor) -> Tensor:
    raise RuntimeError(f"imag is not implemented for tensors with non-complex dtypes "
                       f"(dtype {self.dtype.name}, shape {tuple(self.shape)}).")


def data_ptr(self: Tensor) -> int:
    """An address-like number, for comparing: equal for tensors whose first elements are the
    same element of the same memory (views and detached readings of a tensor), as PyTorch's
    pointers are. Not an address to read."""
    return id(self._storage) + self.storage_offset() * self.element_size()


def is_cpu(self: Tensor) -> bool:
    """Whether the tensor's device computes on the host CPU (numpy, or OpenCL through PoCL)."""
    name = self.device.name
    return name == "numpy" or _runtime_device(name).caps.is_cpu


def get_device(self: Tensor) -> int:
    """-1 for a tensor on the host CPU, as PyTorch's; else the OpenCL device's index."""
    name = self.device.name
    return -1 if is_cpu(self) else int(name.partition(":")[2] or 0)
