"""Max pooling that also returns where each maximum came from (return_indices, the
max_pool*_with_indices names and the adaptive max pools), and max_unpool, its inverse.

A window's maximum is picked as PyTorch's CPU loop picks it: the first largest value in
row-major order, the last NaN when the window holds one, and the first cell inside the input
when every value is -inf. The value is then read at that position, so the gradient goes to
it alone, and the index is the position in the flattened spatial dims of the input."""
from __future__ import annotations

import functools
import math
import operator

from .. import checks
from ..creation import arange, zeros
from ..autograd.function import Function
from ..elimination import now_if_eager
from ..ir import dtype as D
from ..elementwise import where
from ..tensor import Tensor
from .max_pool_values import MAX_POOLS, cells_of, choose, inside_of, read_at
from .windows import adaptive_output, adaptive_positions, as_tuple, pool_geometry


def _pick(cells: Tensor, positions: Tensor, inside: Tensor) -> tuple[Tensor, Tensor]:
    """The maximum of each window (last dim) and its position: `positions` and `inside` (whether
    a cell lies in the input, not in padding) broadcast against `cells`."""
    k = cells.shape[-1]
    candidates = where(inside, cells, -math.inf)
    best = candidates.amax(-1, keepdim=True)
    nan = cells != cells
    hit = inside & ((cells == best) | nan)
    order = arange(k, device=cells.device)
    first = where(hit, order, k).amin(-1, keepdim=True)
    last = where(hit, order, -1).amax(-1, keepdim=True)
    at = where(best != best, last, first).clamp(0, max(k - 1, 0))
    values = cells.gather(-1, at).squeeze(-1)
    indices = positions.expand(tuple(cells.shape)).gather(-1, at).squeeze(-1)
    return values, indices


def max_poolnd_with_indices(input: Tensor, nd: int, kernel_size, stride, padding, dilation, ceil_mode: bool,
                            name: str) -> tuple[Tensor, Tensor]:
    """max_pool{nd}d's values and, for each, its index into the input's flattened spatial dims."""
    kernel, stride, _, dilation, widths = pool_geometry(input, nd, kernel_size, stride, padding, dilation,
                                                        ceil_mode, name)
    values = MAX_POOLS[nd].apply(input, widths, kernel, stride, dilation)
    x = input.detach()
    _, at = choose(cells_of(x, widths, kernel, stride, dilation), inside_of(x, widths, kernel, stride, dilation))
    sizes = tuple(input.shape[-nd:])
    # the flat position of every input cell, cut into the same windows, read at the kept cell
    flat = arange(math.prod(sizes), device=input.device).reshape(sizes)
    return values, read_at(cells_of(flat, widths, kernel, stride, dilation, fill=0), at)


def _max_pool_with_indices(nd: int):
    def pool(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
             return_indices: bool = True) -> tuple[Tensor, Tensor]:
        return max_poolnd_with_indices(input, nd, kernel_size, stride, padding, dilation, ceil_mode,
                                       f"max_pool{nd}d")
    pool.__name__ = pool.__qualname__ = f"max_pool{nd}d_with_indices"
    return pool


max_pool1d_with_indices = _max_pool_with_indices(1)
max_pool2d_with_indices = _max_pool_with_indices(2)
max_pool3d_with_indices = _max_pool_with_indices(3)


# ---- adaptive ---------------------------------------------------------------------------------
def adaptive_max_poolnd(input: Tensor, output_size, nd: int, name: str) -> tuple[Tensor, Tensor]:
    """The largest value of each adaptive window (as adaptive_avg_pool's, overlapping where the
    output size does not divide the input) and its flat spatial index. The windows of an axis
    are gathered padded to the largest one; the padding is outside every window."""
    out = adaptive_output(input, output_size, name, nd)
    sizes = tuple(input.shape[-nd:])
    axes = [adaptive_positions(n, m, input) for n, m in zip(sizes, out)]
    kernel = tuple(p.shape[1] for p, _ in axes)

    def spread(t: Tensor, j: int) -> Tensor:  # axis j's (m, k) table as dims (m_0, .., m_nd, k_0, .., k_nd)
        shape = [1] * (2 * nd)
        shape[j], shape[nd + j] = out[j], kernel[j]
        return t.reshape(shape)
    index = tuple(spread(p, j) for j, (p, _) in enumerate(axes))
    inside = functools.reduce(operator.and_, (spread(v, j) for j, (_, v) in enumerate(axes)))
    flat = sum(p * math.prod(sizes[j + 1:]) for j, p in enumerate(index))
    windows = input[(Ellipsis,) + index]  # (..., *out, *kernel)
    return _pick(windows.flatten(-nd), flat.flatten(-nd), inside.flatten(-nd))


def _adaptive_max(nd: int):
    def pool(input: Tensor, output_size, return_indices: bool = False):
        values, indices = adaptive_max_poolnd(input, output_size, nd, f"adaptive_max_pool{nd}d")
        return (values, indices) if return_indices else values
    pool.__name__ = pool.__qualname__ = f"adaptive_max_pool{nd}d"
    pool.__doc__ = f"The maximum of each adaptive window over the last {nd} dims (and its index)."
    return pool


adaptive_max_pool1d = _adaptive_max(1)
adaptive_max_pool2d = _adaptive_max(2)
adaptive_max_pool3d = _adaptive_max(3)


def _adaptive_max_with_indices(nd: int):
    def pool(input: Tensor, output_size, return_indices: bool = True) -> tuple[Tensor, Tensor]:
        return adaptive_max_poolnd(input, output_size, nd, f"adaptive_max_pool{nd}d")
    pool.__name__ = pool.__qualname__ = f"adaptive_max_pool{nd}d_with_indices"
    return pool


adaptive_max_pool1d_with_indices = _adaptive_max_with_indices(1)
adaptive_max_pool2d_with_indices = _adaptive_max_with_indices(2)
adaptive_max_pool3d_with_indices = _adaptive_max_with_indices(3)


# ---- unpooling ----------------------------------------------------------------------------------
def _unpool_size(input: Tensor, nd: int, kernel, stride, padding, output_size, name: str) -> tuple[int, ...]:
    """The output's spatial size: (in - 1) stride - 2 padding + kernel, or output_size checked
    to lie within a stride of it, as PyTorch's."""
    sizes = tuple(input.shape[-nd:])
    default = tuple((i - 1) * s - 2 * p + k for i, k, s, p in zip(sizes, kernel, stride, padding))
    if output_size is None:
        return default
    given = tuple(int(v) for v in output_size)
    if len(given) == nd + 2:
        given = given[2:]
    if len(given) != nd:
        raise ValueError(f"{name}: output_size must have {nd} or {nd + 2} elements (got {len(given)})")
    for g, d, s in zip(given, default, stride):
        if not d - s < g < d + s:
            raise ValueError(f"{name}: invalid output_size {list(output_size)} (dim {g} must be between "
                             f"{d - s} and {d + s})")
    return given


def max_unpoolnd(input: Tensor, indices: Tensor, nd: int, kernel_size, stride, padding, output_size,
                 name: str) -> Tensor:
    """Zeros of the unpooled size with each input value written at its index (into the
    flattened spatial dims); where two indices meet, the later one's value stays."""
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"{name}: Expected {nd + 1}D or {nd + 2}D input, but got input of size "
                           f"{list(input.shape)}")
    if tuple(indices.shape) != tuple(input.shape) or indices.dtype != D.int64:
        raise RuntimeError(f"{name}: Expected int64 indices of the input's shape {list(input.shape)}, got "
                           f"{indices.dtype.name} indices of shape {list(indices.shape)}")
    kernel = as_tuple(kernel_size, nd, "kernel_size")
    stride = kernel if stride is None else as_tuple(stride, nd, "stride")
    padding = as_tuple(padding, nd, "padding")
    out = _unpool_size(input, nd, kernel, stride, padding, output_size, name)
    lead = tuple(input.shape[:-nd])
    size, at = math.prod(out), indices.flatten(-nd)
    now_if_eager(checks.first_where(name, ((at < 0) | (at >= size)).node, at.node, RuntimeError,
                                     f"{name}: Found an invalid max index: {{index}} (output volumes are of size "
                                     f"{'x'.join(map(str, out))})"))
    return _Unpool.apply(input.flatten(-nd), at, size).reshape(lead + out)


class _Unpool(Function):
    """The scatter of max_unpool, whose gradient (as PyTorch's) reads the output's gradient at
    every index, a repeated one included (a scatter's would reach only the value that stays)."""

    @staticmethod
    def forward(ctx, values: Tensor, at: Tensor, size: int) -> Tensor:
        ctx.save_for_backward(at)
        ctx.values = values  # held, so the graph that made it lives until backward (LAZY=0 drops it else)
        out = zeros(tuple(values.shape[:-1]) + (size,), dtype=values.dtype, device=values.device)
        return out.scatter(-1, at, values)

    @staticmethod
    def backward(ctx, grad: Tensor):
        (at,) = ctx.saved_tensors
        return grad.gather(-1, at), None, None


def max_unpool1d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0, output_size=None) -> Tensor:
    return max_unpoolnd(input, indices, 1, kernel_size, stride, padding, output_size, "max_unpool1d")


def max_unpool2d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0, output_size=None) -> Tensor:
    return max_unpoolnd(input, indices, 2, kernel_size, stride, padding, output_size, "max_unpool2d")


def max_unpool3d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0, output_size=None) -> Tensor:
    return max_unpoolnd(input, indices, 3, kernel_size, stride, padding, output_size, "max_unpool3d")
