"""affine_grid: the sampling grid of a batch of affine maps (the first half of a spatial
transformer), as PyTorch builds it: normalised [-1, 1] output coordinates times theta^T."""
from __future__ import annotations

import warnings

from ..creation import linspace, ones, zeros
from ..movement import stack
from ..tensor import Tensor


def _axis(n: int, align_corners: bool, like: Tensor) -> Tensor:
    """The normalised coordinates of n cells: their centres (-1 + 1/n ... 1 - 1/n) or, with
    align_corners, their corners (-1 ... 1); a single cell is at 0, as PyTorch puts it."""
    if n <= 1:
        return zeros(n, dtype=like.dtype, device=like.device)
    steps = linspace(-1.0, 1.0, n, dtype=like.dtype, device=like.device)
    return steps if align_corners else steps * ((n - 1) / n)


def affine_grid(theta: Tensor, size, align_corners: bool | None = None) -> Tensor:
    """(N, H, W, 2) from theta (N, 2, 3) and size (N, C, H, W); (N, D, H, W, 3) from theta
    (N, 3, 4) and size (N, C, D, H, W). Each output point is (x, y[, z], 1) @ theta^T."""
    if align_corners is None:
        warnings.warn("Default grid_sample and affine_grid behavior has changed to align_corners=False since 1.3.0. "
                      "Please specify align_corners=True if the old behavior is desired.", stacklevel=2)
        align_corners = False
    size = tuple(int(v) for v in size)
    nd = len(size) - 2
    if not theta.dtype.is_floating_point:
        raise ValueError(f"affine_grid: expected theta to have floating point type, but got {theta.dtype.name}")
    if nd not in (2, 3) or tuple(theta.shape) != (size[0], nd, nd + 1):
        raise ValueError(f"affine_grid: expected a 4-D or 5-D size and theta of shape (N, {max(nd, 2)}, "
                         f"{max(nd, 2) + 1}) for it, got size {list(size)} and theta of shape {tuple(theta.shape)}")
    if min(size[2:]) <= 0:
        raise ValueError(f"affine_grid: expected non-zero, positive output size, got {list(size)}")
    spatial = size[2:]
    # x varies along the last dim, y along the one before (and z before that)
    axes = [_axis(n, align_corners, theta).reshape([n if j == i else 1 for j in range(nd)])
            for i, n in enumerate(spatial)]
    coords = [a.expand(spatial) for a in reversed(axes)] + [ones(*spatial, dtype=theta.dtype, device=theta.device)]
    base = stack(coords, -1).reshape(1, -1, nd + 1)  # (1, points, nd + 1)
    return (base @ theta.transpose(1, 2)).reshape((size[0],) + spatial + (nd,))
