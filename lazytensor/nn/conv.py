"""Conv1d/2d/3d (stride, padding incl. 'same'/'valid', dilation, groups, padding modes) and
ConvTranspose1d/2d/3d (stride, padding, output_padding, groups, dilation; zeros padding)."""
from __future__ import annotations

import math

from ..creation import empty
from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter


class _ConvNd(Module):
    _nd = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None) -> None:
        super().__init__()
        nd = self._nd
        if in_channels % groups:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups:
            raise ValueError("out_channels must be divisible by groups")
        if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
            raise ValueError(f"padding_mode must be one of 'zeros', 'reflect', 'replicate' or 'circular', "
                             f"got {padding_mode!r}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = F._tuple(kernel_size, nd, "kernel_size")
        self.stride = F._tuple(stride, nd, "stride")
        self.padding = padding if isinstance(padding, str) else F._tuple(padding, nd, "padding")
        self.dilation = F._tuple(dilation, nd, "dilation")
        self.padding_mode = padding_mode
        self.weight = Parameter(empty(self._weight_shape(in_channels, out_channels, groups),
                                      device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_channels, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def _weight_shape(self, in_channels: int, out_channels: int, groups: int) -> tuple[int, ...]:
        return (out_channels, in_channels // groups) + self.kernel_size

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        fn = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[self._nd]
        padding = self.padding
        if self.padding_mode != "zeros":  # padded by the mode first ('same' too), then read unpadded
            widths = F._conv_padding(padding, self._nd, self.kernel_size, self.dilation, self.stride)
            input = F.pad(input, widths, mode=self.padding_mode)
            padding = 0
        return fn(input, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self._nd:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._nd:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv1d(_ConvNd):
    _nd = 1


class Conv2d(_ConvNd):
    _nd = 2


class Conv3d(_ConvNd):
    _nd = 3


class _ConvTransposeNd(_ConvNd):
    """The transposed convolution: weight (in_channels, out_channels / groups, *kernel), as PyTorch."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                 groups: int = 1, bias: bool = True, dilation=1, padding_mode: str = "zeros", device=None,
                 dtype=None) -> None:
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {type(self).__name__}')
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype)
        self.output_padding = F._tuple(output_padding, self._nd, "output_padding")

    def _weight_shape(self, in_channels: int, out_channels: int, groups: int) -> tuple[int, ...]:
        return (in_channels, out_channels // groups) + self.kernel_size

    def forward(self, input: Tensor, output_size=None) -> Tensor:
        extra = self.output_padding if output_size is None else self._output_padding_for(input, output_size)
        fn = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}[self._nd]
        return fn(input, self.weight, self.bias, self.stride, self.padding, extra, self.groups, self.dilation)

    def _output_padding_for(self, input: Tensor, output_size) -> tuple[int, ...]:
        """The output_padding that makes the output `output_size` (the sizes a strided conv
        maps to one input size are ambiguous; PyTorch's output_size picks one)."""
        wanted = tuple(output_size)[-self._nd:]
        extra = []
        for j, want in enumerate(wanted):
            i, k, s, p, d = (input.shape[input.ndim - self._nd + j], self.kernel_size[j], self.stride[j],
                             self.padding[j], self.dilation[j])
            smallest = (i - 1) * s - 2 * p + d * (k - 1) + 1
            if not smallest <= want < smallest + s:
                raise ValueError(f"requested an output size of {list(wanted)}, but valid sizes for dimension {j} "
                                 f"range from {smallest} to {smallest + s - 1} (for an input of {list(input.shape)})")
            extra.append(want - smallest)
        return tuple(extra)

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s + (f", output_padding={self.output_padding}" if any(self.output_padding) else "")


class ConvTranspose1d(_ConvTransposeNd):
    _nd = 1


class ConvTranspose2d(_ConvTransposeNd):
    _nd = 2


class ConvTranspose3d(_ConvTransposeNd):
    _nd = 3
