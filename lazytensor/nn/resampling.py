"""Changing the spatial size: interpolate (nearest, nearest-exact, linear, bilinear,
trilinear), pixel_shuffle and pixel_unshuffle, and their modules Upsample (and its fixed-mode
forms UpsamplingNearest2d, UpsamplingBilinear2d), PixelShuffle and PixelUnshuffle, with
PyTorch's index rules (so results match it to rounding); and channel_shuffle, ChannelShuffle."""
from __future__ import annotations

import math

from ..creation import tensor
from ..indexing import index_select
from ..tensor import Tensor
from .module import Module

_LINEAR_MODES = {"linear": 1, "bilinear": 2, "trilinear": 3}
_MODES = ("nearest", "nearest-exact", *_LINEAR_MODES)


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C r^2, H, W) -> (*, C, H r, W r)."""
    r = upscale_factor
    *lead, c, h, w = input.shape
    if input.dim() < 3 or c % (r * r):
        raise RuntimeError(f"pixel_shuffle: expected an input of at least 3 dimensions whose channels divide by "
                           f"upscale_factor^2 = {r * r}, got shape {tuple(input.shape)}")
    n = len(lead)
    x = input.reshape(*lead, c // (r * r), r, r, h, w)
    x = x.permute(*range(n), n, n + 3, n + 1, n + 4, n + 2)
    return x.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H r, W r) -> (*, C r^2, H, W)."""
    r = downscale_factor
    *lead, c, h, w = input.shape
    if input.dim() < 3 or h % r or w % r:
        raise RuntimeError(f"pixel_unshuffle: expected an input of at least 3 dimensions whose height and width "
                           f"divide by downscale_factor = {r}, got shape {tuple(input.shape)}")
    n = len(lead)
    x = input.reshape(*lead, c, h // r, r, w // r, r)
    x = x.permute(*range(n), n, n + 2, n + 4, n + 1, n + 3)
    return x.reshape(*lead, c * r * r, h // r, w // r)


def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """(N, g * k, *) -> (N, k * g, *): the channels of g groups of k interleaved, group by group."""
    if input.dim() < 3:
        raise RuntimeError(f"channel_shuffle expects input with > 2 dims, but got input with sizes "
                           f"{list(input.shape)}")
    n, c, *rest = input.shape
    if groups <= 0 or c % groups:
        raise RuntimeError(f"channel_shuffle: Number of channels must be divisible by groups. Got {c} channels and "
                           f"{groups} groups.")
    return input.reshape(n, groups, c // groups, *rest).transpose(1, 2).reshape(input.shape)


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest", align_corners=None,
                recompute_scale_factor=None, antialias: bool = False) -> Tensor:
    """Resize the spatial dimensions (all after batch and channels), one dimension at a time."""
    spatial = input.dim() - 2
    _check(input, mode, size, scale_factor, align_corners, antialias, spatial)
    sizes, scales = _output_sizes(input, size, scale_factor, recompute_scale_factor, spatial)
    x = input
    for d in range(spatial):
        dim, n_in, n_out = 2 + d, input.shape[2 + d], sizes[d]
        if mode in _LINEAR_MODES:
            x = _linear_along(x, dim, n_in, n_out, scales[d], bool(align_corners))
        else:
            x = index_select(x, dim, tensor(_nearest(n_in, n_out, scales[d], mode == "nearest-exact"),
                                            device=x.device))
    return x


def _check(input: Tensor, mode: str, size, scale_factor, align_corners, antialias: bool, spatial: int) -> None:
    if mode not in _MODES:
        raise NotImplementedError(f"interpolate: mode '{mode}' is not supported (one of {', '.join(_MODES)})")
    if spatial < 1:
        raise ValueError(f"interpolate: expected an input of shape (N, C, ...spatial), got {tuple(input.shape)}")
    if mode in _LINEAR_MODES and _LINEAR_MODES[mode] != spatial:
        raise NotImplementedError(f"interpolate: mode '{mode}' expects {_LINEAR_MODES[mode] + 2}-D input, "
                                  f"got shape {tuple(input.shape)}")
    if align_corners is not None and mode not in _LINEAR_MODES:
        raise ValueError("interpolate: align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | trilinear")
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: exactly one of size and scale_factor must be given")
    if antialias:
        raise NotImplementedError("interpolate: antialias is not supported")


def _output_sizes(input: Tensor, size, scale_factor, recompute: bool | None, spatial: int):
    """The output sizes, and the scale (input per output step) each dimension's index rule uses."""
    ins = input.shape[2:]
    if size is not None:
        sizes = tuple(size) if isinstance(size, (tuple, list)) else (size,) * spatial
        if len(sizes) != spatial:
            raise ValueError(f"interpolate: size {size} does not match the {spatial} spatial dimensions of "
                             f"{tuple(input.shape)}")
        return sizes, [i / o for i, o in zip(ins, sizes)]
    factors = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * spatial
    sizes = tuple(int(math.floor(i * f)) for i, f in zip(ins, factors))
    if recompute:
        return sizes, [i / o for i, o in zip(ins, sizes)]
    return sizes, [1.0 / f for f in factors]


def _nearest(n_in: int, n_out: int, scale: float, exact: bool) -> list[int]:
    offset = 0.5 if exact else 0.0
    return [min(int(math.floor((i + offset) * scale)), n_in - 1) for i in range(n_out)]


def _linear_along(x: Tensor, dim: int, n_in: int, n_out: int, scale: float, align_corners: bool) -> Tensor:
    """Each output position between its two nearest inputs, weighted by its distance to them."""
    lo, hi, weights = [], [], []
    for i in range(n_out):
        if align_corners:
            src = i * (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
        else:
            src = max((i + 0.5) * scale - 0.5, 0.0)
        first = min(int(math.floor(src)), n_in - 1)
        lo.append(first)
        hi.append(min(first + 1, n_in - 1))
        weights.append(src - first)
    shape = [1] * x.dim()
    shape[dim] = n_out
    w = tensor(weights, dtype=x.dtype, device=x.device).reshape(shape)
    a = index_select(x, dim, tensor(lo, device=x.device))
    b = index_select(x, dim, tensor(hi, device=x.device))
    return a * (1 - w) + b * w


def upsample(input: Tensor, size=None, scale_factor=None, mode: str = "nearest", align_corners=None) -> Tensor:
    return interpolate(input, size, scale_factor, mode, align_corners)


class Upsample(Module):
    def __init__(self, size=None, scale_factor=None, mode: str = "nearest", align_corners=None,
                 recompute_scale_factor=None) -> None:
        super().__init__()
        self.size, self.scale_factor, self.mode = size, scale_factor, mode
        self.align_corners, self.recompute_scale_factor = align_corners, recompute_scale_factor

    def forward(self, input: Tensor) -> Tensor:
        return interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                           self.recompute_scale_factor)

    def extra_repr(self) -> str:
        what = f"size={self.size}" if self.size is not None else f"scale_factor={self.scale_factor}"
        return f"{what}, mode='{self.mode}'"


class UpsamplingNearest2d(Upsample):
    def __init__(self, size=None, scale_factor=None) -> None:
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Bilinear upsampling with align_corners=True, as PyTorch's."""

    def __init__(self, size=None, scale_factor=None) -> None:
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class ChannelShuffle(Module):
    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, input: Tensor) -> Tensor:
        return channel_shuffle(input, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"


class PixelShuffle(Module):
    def __init__(self, upscale_factor: int) -> None:
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    def __init__(self, downscale_factor: int) -> None:
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"
