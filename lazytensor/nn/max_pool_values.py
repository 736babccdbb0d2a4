"""Max pooling (max_pool1-3d, with or without indices) as PyTorch's CPU loop computes it: each
window is scanned in row-major order and a cell replaces the kept one when it is larger or NaN,
starting from -inf at the first cell inside the input. So a tie keeps the first largest value,
a NaN window the last NaN, an all -inf window its first cell inside the input.

A small window is scanned cell by cell as elementwise work (one kernel, no index reduction, no
gather); a large one by two reductions (its max, then the first or last cell equal to it).
The backward recomputes where each window's value came from (one small kernel) and routes the
gradient there (one kernel over the input), reading neither the pooled values nor an index
kept from the forward."""
from __future__ import annotations

import math

from ..autodiff.grad_mode import enable_grad, is_grad_enabled
from ..autograd.api import grad
from ..autograd.function import Function
from ..creation import arange, full, ones
from ..elementwise import where
from ..ir import build as B
from ..ir import dtype as D
from ..movement import pad
from ..tensor import Tensor
from ..tensor_base import wrap
from ..type_info import iinfo
from .windows import windows

# windows of up to this many cells are scanned cell by cell: a scan step is a few ops, and
# longer unrolled chains run into the scheduler's depth cap
UNROLLED = 16
_NONE = -1  # the place kept before a window's first cell inside the input
# Places are small integers held as float32: PoCL ran the scan's selects between int32 vectors
# 3-4x slower than between float32 ones (measured), and int64 or narrow ints have no vector form.
PLACE = D.float32


def lowest(dtype: D.DType) -> float:
    """The padding a max never keeps: -inf, or an integer type's least value."""
    return -math.inf if dtype.is_floating_point else iinfo(dtype).min


def cells_of(x: Tensor, widths: list[int], kernel, stride, dilation, fill: float | None = None) -> Tensor:
    """Every window of x padded by `fill` (else its lowest value), flattened: shape
    (..., *outs, prod(kernel))."""
    padded = pad(x, widths, value=lowest(x.dtype) if fill is None else fill) if any(widths) else x
    return windows(padded, kernel, stride, dilation).flatten(-len(kernel))


def inside_of(x: Tensor, widths: list[int], kernel, stride, dilation) -> Tensor | None:
    """Whether each window cell lies in the input, not in its padding (None without padding)."""
    if not any(widths):
        return None
    nd = len(kernel)
    inside = pad(ones(tuple(x.shape[-nd:]), dtype=D.bool_, device=x.device), widths, value=False)
    return windows(inside, kernel, stride, dilation).flatten(-nd)


def _or_nan(taken: Tensor, cells: Tensor) -> Tensor:
    """`taken`, or where a cell is NaN (a NaN is always taken; integers hold none)."""
    return taken | (cells != cells) if cells.dtype.is_floating_point else taken


def _scan(cells: Tensor, inside: Tensor | None) -> tuple[Tensor, Tensor]:
    """PyTorch's loop over each window (last dim), unrolled: the kept value and its place."""
    k = cells.shape[-1]
    shape = tuple(cells.shape[:-1])
    best = cells[..., 0]
    at = full(shape, 0, dtype=PLACE, device=cells.device)
    first = 1
    if inside is not None:  # -inf at no cell yet: the first cell inside is taken whatever it holds
        best = full(shape, lowest(cells.dtype), dtype=cells.dtype, device=cells.device)
        at, first = full(shape, _NONE, dtype=PLACE, device=cells.device), 0
    for j in range(first, k):
        cell = cells[..., j]
        take = _or_nan(cell > best, cell)
        if inside is not None:
            take = inside[..., j] & (take | (at == _NONE))
        best, at = where(take, cell, best), where(take, j, at)
    return best, at


def _reduced(cells: Tensor, inside: Tensor | None) -> tuple[Tensor, Tensor]:
    """The same choice by reductions, for windows too large to scan: the max, then the first
    cell equal to it (the last NaN of a NaN window), whose value is read (a max of -0.0 and
    0.0 is either; the loop keeps the first)."""
    k = cells.shape[-1]
    best = cells.amax(-1)
    peak = best.unsqueeze(-1)
    hit = _or_nan(cells == peak, cells)
    if inside is not None:
        hit = hit & inside
    order = arange(k, device=cells.device)
    at = where(hit, order, k).amin(-1)
    if cells.dtype.is_floating_point:  # a NaN window keeps its last NaN
        at = where(best != best, where(hit, order, -1).amax(-1), at)
    return read_at(cells, at), at


def choose(cells: Tensor, inside: Tensor | None) -> tuple[Tensor, Tensor]:
    """Each window's kept value and its place in the window (cells' last dim)."""
    return (_scan if cells.shape[-1] <= UNROLLED else _reduced)(cells, inside)


def read_at(table: Tensor, at: Tensor) -> Tensor:
    """table[..., at]: (..., k) read at the places `at` (...,), by a chain of selects for a
    small window, else a gather."""
    k = table.shape[-1]
    table = table.expand(tuple(at.shape) + (k,))
    if k > UNROLLED:
        return table.gather(-1, at.to(D.int64).unsqueeze(-1)).squeeze(-1)
    out = table[..., 0]
    for j in range(1, k):
        out = where(at == j, table[..., j], out)
    return out


class MaxPool(Function):
    """max_pool{1,2,3}d's values (padding, ceil_mode, stride and dilation given as the pad
    widths and the window geometry); its backward sends each gradient to the kept cell."""

    @staticmethod
    def forward(ctx, x: Tensor, widths: list[int], kernel: tuple[int, ...], stride: tuple[int, ...],
                dilation: tuple[int, ...]) -> Tensor:
        ctx.save_for_backward(x)
        ctx.geometry = (widths, kernel, stride, dilation)
        return choose(cells_of(x, *ctx.geometry), inside_of(x, *ctx.geometry))[0]

    @staticmethod
    def backward(ctx, upstream: Tensor):
        (x,) = ctx.saved_tensors
        geometry = ctx.geometry
        _, at = choose(cells_of(x, *geometry), inside_of(x, *geometry))
        k = math.prod(geometry[1])
        shape = tuple(at.shape) + (k,)
        # each cell's place as an iota of the full shape: a computed arange would be stored, then spread
        place = wrap(B.iota(shape, len(shape) - 1, at.dtype, x.device.name))
        kept = at.unsqueeze(-1).expand(shape) == place
        spread = where(kept, upstream.unsqueeze(-1), 0.0)
        return _summed_back(x, geometry, spread), None, None, None, None


def _summed_back(x: Tensor, geometry: tuple, spread: Tensor) -> Tensor:
    """The gradient of the window view, (..., *outs, k) back to x's shape: each cell's sum over
    the windows that read it. Under create_graph it keeps the spread's history (a gradient
    penalty differentiates it)."""
    with enable_grad():
        leaf = x.detach().requires_grad_()
        cells = cells_of(leaf, *geometry)
    return grad(cells, leaf, spread, create_graph=is_grad_enabled())[0]


# PyTorch's grad_fn names (its max_pool1d is max_pool2d's, then a squeeze)
MAX_POOLS = {nd: type(f"MaxPool{nd}d", (MaxPool,), {"grad_fn_name": f"MaxPool{max(nd, 2)}DWithIndicesBackward0"})
             for nd in (1, 2, 3)}
