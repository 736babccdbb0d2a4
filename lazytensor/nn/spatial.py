"""affine_grid and grid_sample, the two halves of a spatial transformer, with PyTorch's coordinate
rules: the sampling grid of a batch of affine maps (normalised [-1, 1] output coordinates times
theta^T), and the input read at such a grid (gathers of the neighbouring pixels)."""
from __future__ import annotations

import warnings

from ..creation import linspace, ones, zeros
from ..movement import stack
from ..elementwise import where
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


_PADDING_MODES = ("zeros", "border", "reflection")
_SAMPLING_MODES = ("bilinear", "nearest")


def _reflect(x: Tensor, twice_low: int, twice_high: int) -> Tensor:
    """x reflected into [twice_low / 2, twice_high / 2] as often as it takes, as PyTorch's."""
    if twice_low == twice_high:
        return x * 0.0
    low, span = twice_low / 2, (twice_high - twice_low) / 2
    distance = (x - low).abs()
    extra, flips = distance.fmod(span), (distance / span).floor()
    return where(flips.fmod(2) == 0, extra + low, span - extra + low)


def _source(coord: Tensor, size: int, padding_mode: str, align_corners: bool) -> Tensor:
    """A normalised [-1, 1] coordinate as a position in an axis of `size` pixels, padded."""
    x = (coord + 1) / 2 * (size - 1) if align_corners else ((coord + 1) * size - 1) / 2
    if padding_mode == "reflection":
        x = _reflect(x, 0, 2 * (size - 1)) if align_corners else _reflect(x, -1, 2 * size - 1)
    return x.clamp(0, size - 1) if padding_mode != "zeros" else x


def grid_sample(input: Tensor, grid: Tensor, mode: str = "bilinear", padding_mode: str = "zeros",
                align_corners: bool | None = None) -> Tensor:
    """(N, C, H_out, W_out): input (N, C, H, W) read at grid (N, H_out, W_out, 2) of normalised
    (x, y) points, bilinearly or at the nearest pixel; outside the input, zeros, the border
    pixel, or the input reflected."""
    if mode not in _SAMPLING_MODES:
        raise NotImplementedError(f"grid_sample: mode {mode!r} is not supported (bilinear or nearest)")
    if padding_mode not in _PADDING_MODES:
        raise ValueError(f"grid_sample: expected padding_mode to be 'zeros', 'border', or 'reflection', but got: "
                         f"'{padding_mode}'")
    if align_corners is None:
        warnings.warn("Default grid_sample and affine_grid behavior has changed to align_corners=False since 1.3.0. "
                      "Please specify align_corners=True if the old behavior is desired.", stacklevel=2)
        align_corners = False
    if input.ndim == 5:
        raise NotImplementedError("grid_sample: 5-D (volumetric) input is not supported")
    if input.ndim != 4 or grid.ndim != 4 or grid.shape[-1] != 2 or grid.shape[0] != input.shape[0]:
        raise RuntimeError(f"grid_sampler(): expected a 4-D input (N, C, H, W) and a grid (N, H_out, W_out, 2) of the "
                           f"same batch, got input of shape {list(input.shape)} and grid of shape {list(grid.shape)}")
    n, c, h, w = input.shape
    rows, cols = grid.shape[1], grid.shape[2]
    x = _source(grid[..., 0], w, padding_mode, align_corners)
    y = _source(grid[..., 1], h, padding_mode, align_corners)
    flat = input.reshape(n, c, h * w)

    def tap(yi: Tensor, xi: Tensor) -> Tensor:  # the pixels at integer (yi, xi), zero outside the input
        inside = ((xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)).unsqueeze(1)
        at = (yi.clamp(0, h - 1) * w + xi.clamp(0, w - 1)).reshape(n, 1, rows * cols).expand(n, c, rows * cols)
        return where(inside, flat.gather(2, at).reshape(n, c, rows, cols), 0.0)
    if mode == "nearest":
        return tap(y.round().long(), x.round().long())
    x0, y0 = x.floor(), y.floor()
    wx, wy = (x - x0).unsqueeze(1), (y - y0).unsqueeze(1)
    x0, y0 = x0.long(), y0.long()
    return (tap(y0, x0) * ((1 - wx) * (1 - wy)) + tap(y0, x0 + 1) * (wx * (1 - wy))
            + tap(y0 + 1, x0) * ((1 - wx) * wy) + tap(y0 + 1, x0 + 1) * (wx * wy))
