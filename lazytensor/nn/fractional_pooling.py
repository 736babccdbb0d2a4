"""Fractional max pooling (nn.functional.fractional_max_pool2d/3d), as PyTorch's kernel.

Along each spatial axis, window i of a (sample, channel) plane starts at
int((i + u) alpha) - int(u alpha), alpha = (input - kernel) / (output - 1), and the last one
ends at the input's end; u is a draw in [0, 1) per sample, channel and axis (_random_samples,
or lazytensor's generator). The windows are gathered from the input, so the gradient of each
maximum goes to the position it came from; the maximum is picked as max pooling's."""
from __future__ import annotations

import math

import numpy as np

from ..creation import arange
from ..elementwise import where
from ..random import rand
from ..tensor import Tensor
from .max_pooling import _pick
from .windows import as_tuple


def _output_size(input: Tensor, nd: int, output_size, output_ratio, name: str) -> tuple[int, ...]:
    if output_size is None and output_ratio is None:
        raise ValueError(f"{name} requires specifying either an output_size or an output_ratio")
    if output_size is not None:
        return as_tuple(output_size, nd, "output_size")
    ratio = tuple(output_ratio) if isinstance(output_ratio, (list, tuple)) else (output_ratio,) * nd
    if len(ratio) != nd:
        raise ValueError(f"{name} requires output_ratio to either be a single number or a tuple of {nd}")
    return tuple(int(n * r) for n, r in zip(input.shape[-nd:], ratio))


def _starts(samples: Tensor, size: int, out: int, kernel: int) -> Tensor:
    """Where each of `out` windows of `kernel` starts along an axis of `size`: (N, C, out), in
    the input's float type as PyTorch computes them (alpha rounded to it first)."""
    steps = arange(out, device=samples.device).reshape(1, 1, out)
    cast = np.float32 if samples.dtype.itemsize == 4 else np.float64
    alpha = float(cast(size - kernel) / cast(out - 1)) if out > 1 else 0.0
    u = samples.unsqueeze(-1)
    starts = ((steps.to(samples.dtype) + u) * alpha).long() - (u * alpha).long()
    return where(steps < out - 1, starts, size - kernel)


_AXES = {2: ("height", "width"), 3: ("time", "height", "width")}
_MARGIN = {2: 0, 3: 1}  # PyTorch's 3-D kernel wants its last window to end before the input's end


def _axis_order(nd: int) -> tuple[int, ...]:
    """The sample of each spatial axis: PyTorch's 2-D kernel reads (width, height), the 3-D one
    (time, height, width)."""
    return (1, 0) if nd == 2 else (0, 1, 2)


def fractional_max_poolnd(input: Tensor, nd: int, kernel_size, output_size, output_ratio, samples,
                          name: str) -> tuple[Tensor, Tensor]:
    """The maxima of the fractional windows and their flat spatial indices."""
    kernel = as_tuple(kernel_size, nd, "kernel_size")
    out = _output_size(input, nd, output_size, output_ratio, name)
    if input.ndim not in (nd + 1, nd + 2) or not input.dtype.is_floating_point:
        raise RuntimeError(f"{name}: expected a float {nd + 1}D or {nd + 2}D input, got {input.dtype.name} input of "
                           f"shape {tuple(input.shape)}")
    x = input if input.ndim == nd + 2 else input.unsqueeze(0)
    sizes = tuple(x.shape[2:])
    for axis, n, o, k in zip(_AXES[nd], sizes, out, kernel):
        if o <= 0 or o + k - 1 > n - _MARGIN[nd]:
            raise RuntimeError(f"{name}: pool {axis} {k} too large relative to input {axis} {n} for output size "
                               f"{out} (input shape {tuple(input.shape)})")
    batch, channels = x.shape[:2]
    if samples is None:
        samples = rand(batch, channels, nd, dtype=x.dtype, device=x.device)
    elif tuple(samples.shape) != (batch, channels, nd) or samples.dtype != x.dtype:
        raise RuntimeError(f"{name}: _random_samples must be {x.dtype.name} of shape {(batch, channels, nd)}, got "
                           f"{samples.dtype.name} of shape {tuple(samples.shape)} for input of shape "
                           f"{tuple(input.shape)}")
    flat = 0  # each window cell's flat spatial position: (N, C, *out, *kernel)
    for axis, j in enumerate(_axis_order(nd)):
        shape = [batch, channels] + [1] * (2 * nd)
        shape[2 + axis], shape[2 + nd + axis] = out[axis], kernel[axis]
        at = _starts(samples[..., j], sizes[axis], out[axis], kernel[axis]).unsqueeze(-1) + \
            arange(kernel[axis], device=x.device)
        flat = flat + at.reshape(shape) * math.prod(sizes[axis + 1:])
    cells = flat.flatten(2 + nd)
    shape = tuple(cells.shape)
    picked = x.flatten(2).gather(2, cells.reshape(batch, channels, -1)).reshape(shape)
    values, indices = _pick(picked, cells, cells >= 0)
    if input.ndim == nd + 1:
        return values.squeeze(0), indices.squeeze(0)
    return values, indices


def _fractional(nd: int, with_indices: bool):
    name = f"fractional_max_pool{nd}d"

    def pool(input: Tensor, kernel_size, output_size=None, output_ratio=None, return_indices: bool = with_indices,
             _random_samples: Tensor | None = None):
        values, indices = fractional_max_poolnd(input, nd, kernel_size, output_size, output_ratio, _random_samples,
                                                name)
        return (values, indices) if return_indices else values
    pool.__name__ = pool.__qualname__ = name + ("_with_indices" if with_indices else "")
    pool.__doc__ = f"Max pooling over the last {nd} dims in windows placed at random fractional strides."
    return pool


fractional_max_pool2d = _fractional(2, False)
fractional_max_pool3d = _fractional(3, False)
fractional_max_pool2d_with_indices = _fractional(2, True)
fractional_max_pool3d_with_indices = _fractional(3, True)
