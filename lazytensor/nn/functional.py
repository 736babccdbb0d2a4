"""torch.nn.functional: the functional forms, built from Tensor ops (so they fuse, run on every
device and are differentiated by the IR's autograd; a convolution's gradients are written out as
convolutions, see Convolution). Nothing here computes with NumPy."""
from __future__ import annotations

import functools
import inspect
import math
import warnings
from dataclasses import dataclass
from typing import Sequence

from .. import checks
from ..autodiff.grad_mode import is_grad_enabled, no_grad
from ..autograd.function import Function, differentiable
from ..creation import arange, full_like, ones, tensor
from ..ir import dtype as D
from .. import elementwise
from ..elementwise import gelu, inplace, sigmoid, softplus, tanh, where  # noqa: F401
from ..indexing import index_select
from ..products import einsum
from ..movement import broadcast_tensors, cat, pad as _pad
from ..reduce import vector_norm
from ..random import rand
from ..reduce import log_softmax as _log_softmax
from ..reduce import softmax as _softmax
from ..tensor import Tensor
from .windows import (  # noqa: F401  (shared with nn/max_pooling.py)
    _adaptive_bounds, adaptive_output as _adaptive_output, adaptive_positions as _adaptive_positions,
    adaptive_windows as _adaptive_windows, as_tuple as _tuple, pool_geometry as _pool_geometry,
    pool_prepare as _pool_prepare, windows as _windows,
)

_REDUCTIONS = ("none", "mean", "sum")


def _reduction(reduction: str, size_average=None, reduce=None) -> str:
    if size_average is not None or reduce is not None:  # PyTorch's legacy arguments
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = ("mean" if size_average else "sum") if reduce else "none"
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


# ---- activations ---------------------------------------------------------------------------
def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    return _softmax(input, _default_dim(input, dim), dtype=dtype)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    return _log_softmax(input, _default_dim(input, dim), dtype=dtype)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    return _softmax(-input, _default_dim(input, dim), dtype=dtype)


def _default_dim(input: Tensor, dim):
    if dim is None:  # PyTorch's implicit-dim rule
        return 0 if input.ndim in (0, 1, 3) else 1
    return dim


def _inplace_option(fn):
    """fn(input, ..., inplace=False) whose `inplace=True` (by keyword or in its place) writes the
    result into input and returns input, as PyTorch's activations do: a later read of the input
    (or of a view of it) sees the activation. The result is computed from a copy, as the
    in-place forms compute it (lazytensor/elementwise.inplace)."""
    written = inplace(fn.__name__, fn)
    at = list(inspect.signature(fn).parameters).index("inplace") - 1  # its place after input

    @functools.wraps(fn)
    def op(input: Tensor, *args, **kwargs) -> Tensor:
        flag = kwargs.pop("inplace", args[at] if len(args) > at else False)
        return written(input, *args[:at], **kwargs) if flag else fn(input, *args[:at], **kwargs)
    return op


@_inplace_option
def relu(input: Tensor, inplace: bool = False) -> Tensor:
    return elementwise.relu(input)


@_inplace_option
def silu(input: Tensor, inplace: bool = False) -> Tensor:
    return elementwise.silu(input)


@_inplace_option
def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    return where(input > 0, input, input * negative_slope)


@_inplace_option
def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          inplace: bool = False) -> Tensor:
    """x where x > 0, else x times a slope: drawn uniformly from [lower, upper) for each element
    in training, (lower + upper) / 2 in eval."""
    if not training:
        return leaky_relu(input, (lower + upper) / 2)
    slope = rand(*input.shape, dtype=input.dtype, device=input.device) * (upper - lower) + lower
    return where(input > 0, input, input * slope)


def gumbel_softmax(logits: Tensor, tau: float = 1.0, hard: bool = False, eps: float = 1e-10,
                   dim: int = -1) -> Tensor:
    """softmax((logits + Gumbel noise) / tau); with hard, the one-hot of its argmax in the forward
    pass and the soft sample's gradient (the straight-through estimator)."""
    noise = -(-(1.0 - rand(*logits.shape, dtype=logits.dtype, device=logits.device)).log()).log()
    soft = ((logits + noise) / tau).softmax(dim)
    if not hard:
        return soft
    hard_sample = full_like(soft, 0.0).scatter(dim, soft.max(dim, keepdim=True).indices, 1.0)
    return hard_sample - soft.detach() + soft


@_inplace_option
def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    return where(input <= 0, input.clamp(max=0).expm1() * alpha, input)  # torch's test: NaN is not <= 0


@_inplace_option
def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    return hardtanh(input, 0, 6)


@_inplace_option
def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """clamp's values (and dtype), but PyTorch's gradient: 0 at the bounds themselves too, where
    clamp passes it."""
    clamped = input.clamp(min_val, max_val)
    return where((input <= min_val) | (input >= max_val), clamped.detach(), input.to(clamped.dtype))  # NaN passes


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)) with no overflow: x - log1p(exp(x)) below 0, -log1p(exp(-x)) from 0 on
    (whose gradient at 0 is PyTorch's 1/2). Each piece reads x clamped to its own side, so the
    other side's exp never overflows into a NaN gradient."""
    below, above = where(input > 0, 0.0, input), where(input < 0, 0.0, input)  # not clamp: NaN passes
    return where(input < 0, below - below.exp().log1p(), -(-above).exp().log1p())


@_inplace_option
def mish(input: Tensor, inplace: bool = False) -> Tensor:
    return input * softplus(input).tanh()


@_inplace_option
def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * relu6(x + 3) / 6, piece by piece for PyTorch's gradient: 0 up to -3 (that point
    included), 1 from 3 on. The middle piece reads x clamped, so that an infinite x (in the
    other pieces) sends no NaN through it."""
    middle = input.clamp(-3, 3)
    return where(input <= -3, input * 0.0, where(input < 3, middle * (middle + 3) / 6, input))  # NaN: x's 1


@_inplace_option
def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """relu6(x + 3) / 6, whose gradient is PyTorch's 1/6 strictly inside (-3, 3) only (0 at NaN)."""
    shifted = input + 3
    return where((input > -3) & (input < 3), shifted / 6, (shifted.clamp(0, 6) / 6).detach())


SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


@_inplace_option
def selu(input: Tensor, inplace: bool = False) -> Tensor:
    return where(input <= 0, input.clamp(max=0).expm1() * (SELU_ALPHA * SELU_SCALE), input * SELU_SCALE)


@_inplace_option
def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    return where(input <= 0, (input.clamp(max=0) / alpha).expm1() * alpha, input)


def softsign(input: Tensor) -> Tensor:
    return input / (input.abs() + 1)


def tanhshrink(input: Tensor) -> Tensor:
    return input - input.tanh()


@_inplace_option
def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    return where(input <= threshold, value, input)  # torch's test: NaN stays NaN and passes its gradient


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x shrunk by lambd toward 0, 0 within [-lambd, lambd] (torch's x * 0 there); NaN passes."""
    inside = (input >= -lambd) & (input <= lambd)
    return where(inside, (input * 0).detach(), where(input > lambd, input - lambd, input + lambd))


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    return where((input >= -lambd) & (input <= lambd), 0.0, input)  # NaN passes, as torch's


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """x where x > 0, else weight * x, with one weight per channel (dim 1) or one for all."""
    if weight.numel() != 1:
        channels = input.shape[1] if input.ndim > 1 else input.shape[0]
        if weight.numel() != channels:
            raise RuntimeError(f"prelu: mismatch of parameter numbers and input channel size: {weight.numel()} "
                               f"weights for input of shape {tuple(input.shape)}")
        if input.ndim > 1:
            weight = weight.reshape((channels,) + (1,) * (input.ndim - 2))
    return where(input > 0, input, weight * input)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    a, b = input.chunk(2, dim)
    return a * b.sigmoid()


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out=None) -> Tensor:
    return input / input.norm(p, dim, keepdim=True).clamp(min=eps)


# the in-place forms: computed out of place, then written into the input's storage
relu_, elu_, leaky_relu_, hardtanh_, selu_, celu_, threshold_ = (
    inplace(fn.__name__, fn) for fn in (relu, elu, leaky_relu, hardtanh, selu, celu, threshold))


# ---- one-hot, linear, embedding -------------------------------------------------------------
def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    if tensor.dtype.is_floating_point:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    n = int(tensor.max().item()) + 1 if num_classes < 0 else num_classes
    checks.bounds("one_hot", tensor.node, n, tensor.ndim, negative=False)  # a class past them has no column
    return (tensor.unsqueeze(-1) == arange(n, device=tensor.device)).long()


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    if input.shape[-1] != weight.shape[-1]:
        raise RuntimeError(f"linear: mat1 and mat2 shapes cannot be multiplied "
                           f"({'x'.join(map(str, input.shape))} and {weight.shape[1]}x{weight.shape[0]})")
    out = input @ weight.t() if weight.ndim == 2 else input @ weight
    return out + bias if bias is not None else out


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    out = einsum("...i,oij,...j->...o", input1, weight, input2)
    return out + bias if bias is not None else out


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None, max_norm=None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    if input.dtype.is_floating_point:
        raise RuntimeError(f"embedding: Expected tensor for argument #1 'indices' to have one of the following "
                           f"scalar types: Long, Int; but got {input.dtype.name} instead")
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding: max_norm, scale_grad_by_freq and sparse are not supported")
    flat = input.reshape(-1)
    out = index_select(weight, 0, flat, op="embedding").reshape(tuple(input.shape) + (weight.shape[1],))
    if padding_idx is not None:
        if padding_idx < 0:
            padding_idx += weight.shape[0]
        # rows read at padding_idx carry no gradient back to the weight (PyTorch's rule)
        out = where((input == padding_idx).unsqueeze(-1), out.detach(), out)
    return out


# ---- dropout ----------------------------------------------------------------------------
def _dropout(input: Tensor, p: float, training: bool, inplace: bool, mask_shape: tuple[int, ...],
             alpha: bool = False) -> Tensor:
    """Inverted dropout with one draw per cell of `mask_shape` (broadcast over the input); with
    `alpha`, PyTorch's alpha dropout for SELU networks: kept values a x + alpha a p, dropped ones
    -alpha a + alpha a p (SELU's negative saturation, moved), a = ((alpha^2 p + 1)(1 - p))^-1/2,
    which keeps the mean and variance of a standardised input."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        out = input * 0.0
    else:
        keep = (rand(*mask_shape, device=input.device) >= p).to(input.dtype)
        if alpha:
            saturation = SELU_ALPHA * SELU_SCALE
            a = 1.0 / math.sqrt((saturation * saturation * p + 1) * (1 - p))
            out = input * (keep * a) + ((keep - 1) * (saturation * a) + saturation * a * p)
        else:
            out = input * keep * (1.0 / (1.0 - p))
    if inplace:
        input.copy_(out)
        return input
    return out


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    return _dropout(input, p, training, inplace, tuple(input.shape))


def _channel_dropout(input: Tensor, p: float, training: bool, inplace: bool, batched: bool, name: str,
                     ranks: tuple[int, int]) -> Tensor:
    """Dropout of whole channels: one draw per (sample, channel), or per channel unbatched. An
    input of another rank than `ranks` is read as PyTorch reads it, with its warning."""
    if input.ndim not in ranks:
        warnings.warn(f"{name}: Received a {input.ndim}-D input of shape {tuple(input.shape)}, which is deprecated "
                      f"(expected {ranks[0]}-D or {ranks[1]}-D); use dropout for element-wise dropout", stacklevel=3)
    lead = min(2 if batched else 1, input.ndim)
    return _dropout(input, p, training, inplace, tuple(input.shape[:lead]) + (1,) * (input.ndim - lead))


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of an (N, C, L) or (C, L) input."""
    if input.ndim not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {input.ndim}D input of shape "
                           f"{tuple(input.shape)}")
    return _channel_dropout(input, p, training, inplace, input.ndim == 3, "dropout1d", (2, 3))


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of an (N, C, H, W) input. A 3-D input is read as (N, C, L), as
    PyTorch reads it (channel-wise 1-D dropout), not as an unbatched (C, H, W)."""
    return _channel_dropout(input, p, training, inplace, True, "dropout2d", (3, 4))


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of an (N, C, D, H, W) or (C, D, H, W) input."""
    return _channel_dropout(input, p, training, inplace, input.ndim == 5, "dropout3d", (4, 5))


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    return _dropout(input, p, training, inplace, tuple(input.shape), alpha=True)


def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    """alpha_dropout of whole channels: one draw per (sample, channel)."""
    lead = min(2, input.ndim)
    return _dropout(input, p, training, inplace, tuple(input.shape[:lead]) + (1,) * (input.ndim - lead), alpha=True)


# ---- normalisation -----------------------------------------------------------------------
def _standardize(input: Tensor, dims: tuple[int, ...], eps: float) -> tuple[Tensor, Tensor, Tensor]:
    """input less its mean over `dims`, over the root of their biased variance plus eps; and
    that mean and variance (dims kept)."""
    mean = input.mean(dims, keepdim=True)
    centered = input - mean
    var = (centered * centered).mean(dims, keepdim=True)
    return centered * (var + eps).rsqrt(), mean, var


def _per_channel(out: Tensor, weight: Tensor | None, bias: Tensor | None) -> Tensor:
    """out * weight + bias, each holding one value per channel (dim 1); None skips it."""
    shape = (1, out.shape[1]) + (1,) * (out.ndim - 2)
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def _update_running(running_mean: Tensor, running_var: Tensor, mean: Tensor, unbiased_var: Tensor,
                    momentum: float | Tensor) -> None:
    """Move the running statistics (in place) a `momentum` of the way to a batch's (a 0-d tensor
    where it is computed on the device: BatchNorm's cumulative average)."""
    with no_grad():
        running_mean.mul_(1.0 - momentum).add_(mean.detach().reshape(running_mean.shape) * momentum)
        running_var.mul_(1.0 - momentum).add_(unbiased_var.detach().reshape(running_var.shape) * momentum)


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(input.shape[input.ndim - len(normalized_shape):]) != normalized_shape:
        raise RuntimeError(f"layer_norm: normalized_shape {list(normalized_shape)} does not match the trailing "
                           f"dims of the input of shape {tuple(input.shape)}")
    out = _standardize(input, tuple(range(input.ndim - len(normalized_shape), input.ndim)), eps)[0]
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def rms_norm(input: Tensor, normalized_shape, weight: Tensor | None = None, eps: float | None = None) -> Tensor:
    normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    dims = tuple(range(input.ndim - len(normalized_shape), input.ndim))
    if eps is None:
        eps = {2: 9.765625e-04, 4: 1.1920928955078125e-07, 8: 2.220446049250313e-16}[input.dtype.itemsize]
    out = input * ((input * input).mean(dims, keepdim=True) + eps).rsqrt()
    return out * weight if weight is not None else out


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float | Tensor | None = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise over every dim but 1. In training, batch statistics are used and the running
    buffers are updated in place (unbiased variance), as PyTorch."""
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected at least 2D input (got {input.ndim}D input)")
    dims = (0,) + tuple(range(2, input.ndim))
    shape = (1, input.shape[1]) + (1,) * (input.ndim - 2)
    if training:
        n = input.numel() // input.shape[1]
        if n <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                             f"{list(input.shape)}")
        out, mean, var = _standardize(input, dims, eps)
        if running_mean is not None and running_var is not None:
            m = 0.1 if momentum is None else momentum  # None (cumulative average) is handled by the module
            _update_running(running_mean, running_var, mean, var * (n / (n - 1)), m)
    else:
        if running_mean is None or running_var is None:
            raise RuntimeError("batch_norm: running_mean and running_var are needed in eval mode")
        out = (input - running_mean.reshape(shape)) * (running_var.reshape(shape) + eps).rsqrt()
    return _per_channel(out, weight, bias)


def instance_norm(input: Tensor, running_mean: Tensor | None = None, running_var: Tensor | None = None,
                  weight: Tensor | None = None, bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each (sample, channel) over its spatial dims. With use_input_stats the running
    buffers (if given) move towards the batch's mean of the instances' statistics (unbiased
    variance); without, they normalise as batch_norm's in eval."""
    if not use_input_stats:
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    n = math.prod(input.shape[2:])
    if input.ndim < 3 or n <= 1:
        raise ValueError(f"instance_norm: Expected more than 1 spatial element when training, got input size "
                         f"{list(input.shape)}")
    out, mean, var = _standardize(input, tuple(range(2, input.ndim)), eps)
    if running_mean is not None and running_var is not None:
        _update_running(running_mean, running_var, mean.mean(0), (var * (n / (n - 1))).mean(0), momentum)
    return _per_channel(out, weight, bias)


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    n, c = input.shape[0], input.shape[1]
    if c % num_groups:
        raise RuntimeError(f"group_norm: {c} channels are not divisible into {num_groups} groups")
    out = _standardize(input.reshape(n, num_groups, -1), (-1,), eps)[0].reshape(input.shape)
    return _per_channel(out, weight, bias)


# ---- padding -------------------------------------------------------------------------------
def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> Tensor:
    """input / (k + alpha * mean of the squares over `size` neighbouring channels)^beta, the
    channels zero-padded by size // 2 before and (size - 1) // 2 after, as PyTorch's."""
    if input.ndim < 3:
        raise ValueError(f"local_response_norm: Expected 3D or higher dimensionality input (got {input.ndim} "
                         f"dimensions, shape {tuple(input.shape)})")
    if input.numel() == 0:
        return input
    n, c = input.shape[0], input.shape[1]
    squares = (input * input).reshape(n, 1, c, -1, 1)
    squares = _pad(squares, [0, 0, 0, 0, size // 2, (size - 1) // 2])
    div = avg_pool3d(squares, (size, 1, 1), stride=1).reshape(tuple(input.shape))
    return input / (div * alpha + k) ** beta


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant", value: float | None = None) -> Tensor:
    """Constant padding as the core's pad; 'reflect', 'replicate' and 'circular' built from slices."""
    if mode == "constant":
        return _pad(input, pad, mode, value)
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise RuntimeError(f"pad: padding length {len(pad)} must be even and at most 2 * ndim")
    if input.ndim not in (len(pad) // 2 + 1, len(pad) // 2 + 2):  # the padded dims, channels, optional batch
        raise NotImplementedError(f"pad: mode {mode!r} pads {len(pad) // 2} dims of an input with channels and an "
                                  f"optional batch dim, not of shape {tuple(input.shape)}")
    out = input
    for i in range(len(pad) // 2):
        d = input.ndim - 1 - i
        left, right = int(pad[2 * i]), int(pad[2 * i + 1])
        n = out.shape[d]
        parts = []
        if mode == "reflect":
            if left >= n or right >= n:
                raise RuntimeError(f"pad: padding ({left}, {right}) should be less than the dimension size {n}")
            if left:
                parts.append(out.narrow(d, 1, left).flip(d))
            parts.append(out)
            if right:
                parts.append(out.narrow(d, n - 1 - right, right).flip(d))
        elif mode == "replicate":
            shape = list(out.shape)
            if left:
                parts.append(out.narrow(d, 0, 1).expand(*shape[:d], left, *shape[d + 1:]))
            parts.append(out)
            if right:
                parts.append(out.narrow(d, n - 1, 1).expand(*shape[:d], right, *shape[d + 1:]))
        elif mode == "circular":
            if left > n or right > n:
                raise RuntimeError(f"pad: circular padding ({left}, {right}) wraps around a dimension of size {n} "
                                   f"more than once")
            if left:
                parts.append(out.narrow(d, n - left, left))
            parts.append(out)
            if right:
                parts.append(out.narrow(d, 0, right))
        else:
            raise NotImplementedError(f"pad: mode {mode!r} is not supported")
        out = cat(parts, d) if len(parts) > 1 else out
    return out


# ---- convolution and pooling ----------------------------------------------------------------
def _conv_padding(padding, nd: int, kernel, dilation, stride) -> list[int]:
    """F.pad-style widths (last dim first) for conv padding (int, tuple, 'valid' or 'same')."""
    if isinstance(padding, str):
        if padding == "valid":
            return [0] * (2 * nd)
        if padding != "same":
            raise ValueError(f"Invalid padding string {padding!r}, should be one of 'valid', 'same'")
        if any(s != 1 for s in stride):
            raise ValueError("padding='same' is not supported for strided convolutions")
        widths = []
        for k, d in zip(reversed(kernel), reversed(dilation)):
            total = d * (k - 1)
            widths += [total // 2, total - total // 2]
        return widths
    p = _tuple(padding, nd, "padding")
    return [v for q in reversed(p) for v in (q, q)]


def _batched(input: Tensor, nd: int, name: str) -> tuple[Tensor, bool]:
    """A convolution's input with its batch dim (added when it has none), and whether it was added."""
    unbatched = input.ndim == nd + 1
    if unbatched:
        input = input.unsqueeze(0)
    if input.ndim != nd + 2:
        raise RuntimeError(f"{name}: Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input, but got "
                           f"input of size: {list(input.shape)}")
    return input, unbatched


@dataclass(frozen=True)
class _ConvGeometry:
    """How a convolution reads its input: the F.pad widths around it (last dim first), then
    windows `dilation` apart, `stride` apart, in `groups` groups of channels."""
    widths: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    groups: int


def _correlate(x: Tensor, weight: Tensor, geo: _ConvGeometry) -> Tensor:
    """(n, c, *in) read by (o, c / groups, *k): (n, o, *out), no bias."""
    nd = len(geo.stride)
    kernel = tuple(weight.shape[2:])
    n, o, cg, g = x.shape[0], weight.shape[0], weight.shape[1], geo.groups
    win = _windows(_pad(x, list(geo.widths)) if any(geo.widths) else x, kernel, geo.stride, geo.dilation)
    outs = tuple(win.shape[2:2 + nd])
    # (n, g, 1, cg, *out, *k) * (1, g, og, cg, 1.., *k) summed over cg and k: a reduction of
    # a product (weights x windows) that takes the code generator's matmul path
    xs = win.reshape((n, g, 1, cg) + outs + kernel)
    ws = weight.reshape((1, g, o // g, cg) + (1,) * nd + kernel)
    return (xs * ws).sum((3,) + tuple(range(4 + nd, 4 + 2 * nd))).reshape((n, o) + outs)


def _input_gradient(grad: Tensor, weight: Tensor, geo: _ConvGeometry, sizes: tuple[int, ...]) -> Tensor:
    """The gradient against the input (spatial `sizes`) as a convolution of the gradient, spread
    out by the stride and padded by the window's overhang less the input's own padding, read by
    the flipped kernel with its channel roles swapped (a transposed convolution)."""
    nd = len(geo.stride)
    kernel = tuple(weight.shape[2:])
    spread = _dilate(grad, geo.stride)
    widths = []
    for j in reversed(range(nd)):
        overhang, before = geo.dilation[j] * (kernel[j] - 1), geo.widths[2 * (nd - 1 - j)]
        widths += [overhang - before, sizes[j] + before - spread.shape[2 + j]]
    g, o, cg = geo.groups, weight.shape[0], weight.shape[1]
    w = weight.reshape((g, o // g, cg) + kernel).transpose(1, 2).reshape((g * cg, o // g) + kernel)
    flipped = w.flip(tuple(range(2, 2 + nd)))
    return _correlate(_pad(spread, widths), flipped, _ConvGeometry((0,) * 2 * nd, (1,) * nd, geo.dilation, g))


def _weight_gradient(x: Tensor, grad: Tensor, geo: _ConvGeometry, kernel: tuple[int, ...]) -> Tensor:
    """The gradient against the weight: each output channel's gradient summed against the
    windows it read, over the batch and the output positions."""
    nd = len(geo.stride)
    win = _windows(_pad(x, list(geo.widths)) if any(geo.widths) else x, kernel, geo.stride, geo.dilation)
    n, c, o, g = x.shape[0], x.shape[1], grad.shape[1], geo.groups
    outs = tuple(win.shape[2:2 + nd])
    xs = win.reshape((n, g, 1, c // g) + outs + kernel)
    gs = grad.reshape((n, g, o // g, 1) + outs + (1,) * nd)
    return (xs * gs).sum((0,) + tuple(range(4, 4 + nd))).reshape((o, c // g) + kernel)


class Convolution(Function):
    """A convolution with its gradients written as convolutions: the autograd of its window
    view would spread each output's gradient over a window-sized copy of the input and sum the
    copies back (two kernels, the second all index arithmetic); a transposed convolution reads
    the gradient once, as the forward reads the input (the matmul path, one kernel)."""

    grad_fn_name = "ConvolutionBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor | None, geo: _ConvGeometry) -> Tensor:
        ctx.save_for_backward(x, weight)
        ctx.geometry = geo
        out = _correlate(x, weight, geo)
        return out if bias is None else out + bias.reshape((1, weight.shape[0]) + (1,) * len(geo.stride))

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, weight = ctx.saved_tensors
        geo = ctx.geometry
        wants_x, wants_weight, wants_bias = ctx.needs_input_grad[:3]
        dx = _input_gradient(grad, weight, geo, tuple(x.shape[2:])) if wants_x else None
        dw = _weight_gradient(x, grad, geo, tuple(weight.shape[2:])) if wants_weight else None
        db = grad.sum((0,) + tuple(range(2, grad.ndim))) if wants_bias else None
        return dx, dw, db, None


def _convnd(input: Tensor, weight: Tensor, bias, stride, padding, dilation, groups: int, nd: int,
            name: str) -> Tensor:
    input, unbatched = _batched(input, nd, name)
    stride, dilation = _tuple(stride, nd, "stride"), _tuple(dilation, nd, "dilation")
    kernel = tuple(weight.shape[2:])
    c = input.shape[1]
    o, cg = weight.shape[0], weight.shape[1]
    if c != cg * groups or o % groups:
        raise RuntimeError(f"{name}: Given groups={groups}, weight of size {list(weight.shape)}, expected input"
                           f"{list(input.shape)} to have {cg * groups} channels, but got {c} channels instead")
    widths = tuple(_conv_padding(padding, nd, kernel, dilation, stride))
    out = Convolution.apply(input, weight, bias, _ConvGeometry(widths, stride, dilation, groups))
    return out.squeeze(0) if unbatched else out


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    return _convnd(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    return _convnd(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


def conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    return _convnd(input, weight, bias, stride, padding, dilation, groups, 3, "conv3d")


def _dilate(x: Tensor, stride: tuple[int, ...]) -> Tensor:
    """Insert stride-1 zeros between neighbours along each of the last len(stride) dims."""
    nd = len(stride)
    for j, s in enumerate(stride):
        if s == 1:
            continue
        dim = x.ndim - nd + j
        size = x.shape[dim]
        spread = _pad(x.unsqueeze(dim + 1), [0, 0] * (x.ndim - dim - 1) + [0, s - 1])  # (.., size, s, ..)
        x = spread.flatten(dim, dim + 1).narrow(dim, 0, (size - 1) * s + 1)
    return x


def _conv_transposend(input: Tensor, weight: Tensor, bias, stride, padding, output_padding, groups: int,
                      dilation, nd: int, name: str) -> Tensor:
    """The gradient of a convolution with respect to its input, as a convolution: the input
    spread out by the stride, padded by what the kernel overhangs, read by the flipped kernel."""
    input, unbatched = _batched(input, nd, name)
    stride, dilation = _tuple(stride, nd, "stride"), _tuple(dilation, nd, "dilation")
    pad_, extra = _tuple(padding, nd, "padding"), _tuple(output_padding, nd, "output_padding")
    if any(e >= max(s, d) for e, s, d in zip(extra, stride, dilation)):
        raise RuntimeError(f"{name}: output padding {extra} must be smaller than either stride {stride} or "
                           f"dilation {dilation}")
    c_in, og = weight.shape[0], weight.shape[1]
    if input.shape[1] != c_in or c_in % groups:
        raise RuntimeError(f"{name}: Given transposed=1, weight of size {list(weight.shape)}, expected input "
                           f"{list(input.shape)} to have {c_in} channels, but got {input.shape[1]} channels instead")
    kernel = tuple(weight.shape[2:])
    overhang = [d * (k - 1) for k, d in zip(kernel, dilation)]
    widths = [v for h, p, e in reversed(list(zip(overhang, pad_, extra))) for v in (h - p, h - p + e)]
    x = _pad(_dilate(input, stride), widths)
    # (c_in, og, *k) as a convolution's (groups * og, c_in / groups, *k), flipped in space
    w = weight.reshape((groups, c_in // groups, og) + kernel).transpose(1, 2)
    w = w.reshape((groups * og, c_in // groups) + kernel).flip(tuple(range(2, 2 + nd)))
    out = _convnd(x, w, bias, 1, 0, dilation, groups, nd, name)
    return out.squeeze(0) if unbatched else out


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    return _conv_transposend(input, weight, bias, stride, padding, output_padding, groups, dilation, 1,
                             "conv_transpose1d")


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    return _conv_transposend(input, weight, bias, stride, padding, output_padding, groups, dilation, 2,
                             "conv_transpose2d")


def conv_transpose3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    return _conv_transposend(input, weight, bias, stride, padding, output_padding, groups, dilation, 3,
                             "conv_transpose3d")


def _fold_geometry(kernel_size, dilation, padding, stride) -> tuple[tuple[int, int], ...]:
    return tuple(_tuple(v, 2, name) for v, name in ((kernel_size, "kernel_size"), (dilation, "dilation"),
                                                     (padding, "padding"), (stride, "stride")))


def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """im2col: (N, C, H, W) -> (N, C kh kw, L), one column per sliding block, from the same
    window view a convolution reads."""
    x, unbatched = _batched(input, 2, "unfold")
    kernel, dilation, padding, stride = _fold_geometry(kernel_size, dilation, padding, stride)
    widths = _conv_padding(padding, 2, kernel, dilation, stride)
    x = _pad(x, widths) if any(widths) else x
    win = _windows(x, kernel, stride, dilation)  # (n, c, oh, ow, kh, kw)
    out = win.permute(0, 1, 4, 5, 2, 3).reshape(x.shape[0], x.shape[1] * math.prod(kernel), -1)
    return out.squeeze(0) if unbatched else out


def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """col2im, unfold's adjoint: (N, C kh kw, L) -> (N, C, H, W), each column's block added at
    its place (overlaps sum). One term per kernel offset: the blocks' values at that offset,
    spread by the stride and shifted by the dilation (views and pads, fused into one sum)."""
    x, unbatched = _batched(input, 1, "fold")
    size = _tuple(output_size, 2, "output_size")
    kernel, dilation, padding, stride = _fold_geometry(kernel_size, dilation, padding, stride)
    blocks = tuple((o + 2 * p - d * (k - 1) - 1) // s + 1
                   for o, k, d, p, s in zip(size, kernel, dilation, padding, stride))
    n, ck, count = x.shape
    if ck % math.prod(kernel):
        raise RuntimeError(f"fold: Expected size of input's dimension 1 to be divisible by the product of "
                           f"kernel_size, but got input.size(1)={ck} and kernel_size={kernel}")
    if min(blocks) <= 0 or count != math.prod(blocks):
        raise RuntimeError(f"fold: Given output_size={size}, kernel_size={kernel}, dilation={dilation}, "
                           f"padding={padding}, stride={stride}, expected size of input's dimension 2 to match the "
                           f"calculated number of sliding blocks {blocks[0]} * {blocks[1]} = {math.prod(blocks)}, "
                           f"but got input.size(2)={count}")
    cols = x.reshape((n, ck // math.prod(kernel)) + kernel + blocks)
    full = tuple(o + 2 * p for o, p in zip(size, padding))
    terms = []
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            spread = _dilate(cols[:, :, i, j], stride)
            top, left = i * dilation[0], j * dilation[1]
            terms.append(_pad(spread, [left, full[1] - left - spread.shape[-1],
                                       top, full[0] - top - spread.shape[-2]]))
    out = sum(terms[1:], terms[0])[..., padding[0]:padding[0] + size[0], padding[1]:padding[1] + size[1]]
    return out.squeeze(0) if unbatched else out


def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False) -> Tensor:
    return _max_poolnd(input, 1, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False) -> Tensor:
    return _max_poolnd(input, 2, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool3d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False) -> Tensor:
    return _max_poolnd(input, 3, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def _pool_input(input: Tensor, nd: int, name: str) -> None:
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"{name}: Expected {nd + 1}D or {nd + 2}D input, but got {input.dtype.name} input of "
                           f"size {list(input.shape)}")


def _max_poolnd(input, nd, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    name = f"max_pool{nd}d"
    _pool_input(input, nd, name)
    if return_indices:
        return _max_pooling.max_poolnd_with_indices(input, nd, kernel_size, stride, padding, dilation,
                                                    ceil_mode, name)
    kernel, stride, _, dilation, widths = _pool_geometry(input, nd, kernel_size, stride, padding, dilation,
                                                         ceil_mode, name)
    return MAX_POOLS[nd].apply(input, widths, kernel, stride, dilation)


def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    return _avg_poolnd(input, 1, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    return _avg_poolnd(input, 2, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


def avg_pool3d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    return _avg_poolnd(input, 3, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


def _avg_poolnd(input, nd, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    name = f"avg_pool{nd}d"
    _pool_input(input, nd, name)
    x, kernel, stride, pad_, dilation, widths = _pool_prepare(input, nd, kernel_size, stride, padding, 1,
                                                              ceil_mode, 0.0, name)
    win = _windows(x, kernel, stride, dilation)
    red = tuple(range(win.ndim - nd, win.ndim))
    total = win.sum(red)
    if divisor_override is not None:
        return total / float(divisor_override)
    if count_include_pad and not ceil_mode:
        return total / float(math.prod(kernel))
    # count the cells each window covers: the padded input if count_include_pad, else the input only
    sizes = tuple(input.shape[-nd:])
    base = ones(*sizes, device=input.device)
    if count_include_pad:  # with ceil_mode, cells beyond the padding are not counted
        base = _pad(base, [p for q in reversed(pad_) for p in (q, q)], value=1.0)
        rest = [w - q for w, q in zip(widths, [p for q in reversed(pad_) for p in (q, q)])]
        base = _pad(base, rest, value=0.0) if any(rest) else base
    else:
        base = _pad(base, widths, value=0.0)
    cw = _windows(base, kernel, stride, dilation)
    counts = cw.sum(tuple(range(cw.ndim - nd, cw.ndim)))
    return total / counts


def _lp_poolnd(input: Tensor, nd: int, norm_type: float, kernel_size, stride, ceil_mode: bool) -> Tensor:
    """(sum of x^p over each window)^(1/p), as PyTorch computes it: an average times the window's
    size, its negative sums clamped to 0 through sign * relu(abs)."""
    kernel = _tuple(kernel_size, nd, "kernel_size")
    out = _avg_poolnd(input.pow(norm_type), nd, kernel, stride, 0, ceil_mode, True, None)
    return (out.sign() * relu(out.abs())).mul(math.prod(kernel)).pow(1.0 / norm_type)


def lp_pool1d(input: Tensor, norm_type: float, kernel_size, stride=None, ceil_mode: bool = False) -> Tensor:
    return _lp_poolnd(input, 1, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input: Tensor, norm_type: float, kernel_size, stride=None, ceil_mode: bool = False) -> Tensor:
    return _lp_poolnd(input, 2, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input: Tensor, norm_type: float, kernel_size, stride=None, ceil_mode: bool = False) -> Tensor:
    return _lp_poolnd(input, 3, norm_type, kernel_size, stride, ceil_mode)


def _adaptive_avg_poolnd(input: Tensor, output_size, nd: int) -> Tensor:
    """Output cell o of an axis of n averages inputs floor(o n / m) to ceil((o + 1) n / m), as
    PyTorch's windows (they overlap where m does not divide n): a window of its own size where
    it does, else, axis by axis, a product with the axis' 0/1 window matrix divided by the
    windows' sizes (an average over a box is the average over each of its axes in turn)."""
    out = _adaptive_output(input, output_size, f"adaptive_avg_pool{nd}d", nd)
    sizes = tuple(input.shape[-nd:])
    if all(n % m == 0 for n, m in zip(sizes, out)):
        return _avg_poolnd(input, nd, tuple(n // m for n, m in zip(sizes, out)), None, 0, False, True, None)
    x = input
    for axis, (n, m) in zip(range(input.ndim - nd, input.ndim), zip(sizes, out)):
        if n != m:
            windows, counts = _adaptive_windows(n, m, input)
            x = ((x.movedim(axis, -1) @ windows.t()) / counts).movedim(-1, axis)
    return x


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    return _adaptive_avg_poolnd(input, output_size, 1)


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    return _adaptive_avg_poolnd(input, output_size, 2)


def adaptive_avg_pool3d(input: Tensor, output_size) -> Tensor:
    return _adaptive_avg_poolnd(input, output_size, 3)


# ---- attention ---------------------------------------------------------------------------
def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(q k^T * scale + mask) v, as PyTorch's reference: a bool mask marks the positions
    that take part (True) and a float mask is added."""
    L, S = query.shape[-2], key.shape[-2]
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    if enable_gqa and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        rep = query.shape[-3] // key.shape[-3]
        key, value = key.repeat_interleave(rep, -3), value.repeat_interleave(rep, -3)
    scores = (query @ key.transpose(-2, -1)) * scale
    if is_causal:
        if attn_mask is not None:
            raise RuntimeError("scaled_dot_product_attention: explicit attn_mask should not be set when "
                               "is_causal=True")
        allowed = ones(L, S, device=query.device).tril().bool()
        scores = where(allowed, scores, -math.inf)
    if attn_mask is not None:
        if attn_mask.dtype.name == "bool":
            scores = where(attn_mask, scores, -math.inf)
        else:
            scores = scores + attn_mask
    weights = _softmax(scores, -1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, True)
    return weights @ value


# ---- losses ------------------------------------------------------------------------------
def _class_mask(target: Tensor, num_classes: int, class_dim: int, ndim: int) -> Tensor:
    """A bool tensor shaped like the input: True where the class equals the target."""
    classes = arange(num_classes, device=target.device)
    shape = [1] * ndim
    shape[class_dim] = num_classes
    return target.unsqueeze(class_dim) == classes.reshape(shape)


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
             ignore_index: int = -100, reduce=None, reduction: str = "mean") -> Tensor:
    """-input[target] (times weight[target]) for class-index targets; 'mean' divides by the
    summed weights of the targets that are not ignore_index (PyTorch's rule)."""
    reduction = _reduction(reduction, size_average, reduce)
    _not_differentiable("nll_loss_forward", weight=weight)
    if input.ndim < 1:
        raise ValueError("nll_loss: input tensor should be at least 1D")
    if target.dtype.is_floating_point:
        raise RuntimeError(f"nll_loss: expected target of an integer dtype, got {target.dtype.name}")
    class_dim = 0 if input.ndim == 1 else 1
    c = input.shape[class_dim]
    expected = tuple(input.shape[:class_dim]) + tuple(input.shape[class_dim + 1:])
    if tuple(target.shape) != expected:
        raise ValueError(f"nll_loss: expected target of shape {expected} for input of shape "
                         f"{tuple(input.shape)}, got {tuple(target.shape)}")
    checks.bounds("nll_loss (target)", target.node, c, class_dim, allowed=ignore_index, negative=False)
    hit = _class_mask(target, c, class_dim, input.ndim)
    picked = where(hit, input, 0.0).sum(class_dim)
    valid = target != ignore_index
    if weight is not None:
        wshape = [1] * input.ndim
        wshape[class_dim] = c
        w = where(hit, weight.reshape(wshape), 0.0).sum(class_dim)
        w = where(valid, w, 0.0)
    else:
        w = valid.to(input.dtype)
    loss = -picked * w
    if reduction == "mean":
        return loss.sum() / w.sum()
    return _reduce(loss, reduction)


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
                  ignore_index: int = -100, reduce=None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """log_softmax over the class dim then nll_loss (class-index targets) or the dot with the
    target probabilities, with PyTorch's label smoothing and weighting rules."""
    reduction = _reduction(reduction, size_average, reduce)
    _not_differentiable("nll_loss_forward", weight=weight)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    class_dim = 0 if input.ndim == 1 else 1
    c = input.shape[class_dim]
    logp = _log_softmax(input, class_dim)
    wshape = [1] * input.ndim
    wshape[class_dim] = c
    if target.dtype.is_floating_point:  # class probabilities
        if tuple(target.shape) != tuple(input.shape):
            raise RuntimeError(f"cross_entropy: expected target of shape {tuple(input.shape)} (probabilities) "
                               f"for input of shape {tuple(input.shape)}, got {tuple(target.shape)}")
        if label_smoothing > 0:
            target = target * (1 - label_smoothing) + label_smoothing / c
        prod = logp * target
        if weight is not None:
            prod = prod * weight.reshape(wshape)
        loss = -prod.sum(class_dim)
        if reduction == "mean":
            return loss.sum() / float(max(input.numel() // c, 1)) if input.numel() else loss.sum() / 0.0
        return _reduce(loss, reduction)
    nll = nll_loss(logp, target, weight, ignore_index=ignore_index, reduction=reduction)
    if label_smoothing <= 0:
        return nll
    valid = target != ignore_index
    smooth = -(logp * weight.reshape(wshape)).sum(class_dim) if weight is not None else -logp.sum(class_dim)
    smooth = where(valid, smooth, 0.0)
    if reduction == "mean":
        if weight is not None:
            hit = _class_mask(target, c, class_dim, input.ndim)
            denom = where(valid, where(hit, weight.reshape(wshape), 0.0).sum(class_dim), 0.0).sum()
        else:
            denom = valid.to(input.dtype).sum()
        smooth = smooth.sum() / denom
    elif reduction == "sum":
        smooth = smooth.sum()
    return nll * (1 - label_smoothing) + smooth * (label_smoothing / c)


def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
             weight: Tensor | None = None) -> Tensor:
    d = input - target
    loss = d * d
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, _reduction(reduction, size_average, reduce))


def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
            weight: Tensor | None = None) -> Tensor:
    loss = (input - target).abs()
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, _reduction(reduction, size_average, reduce))


def smooth_l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    d = (input - target).abs()
    loss = d if beta == 0 else where(d < beta, d * d * (0.5 / beta), d - 0.5 * beta)
    return _reduce(loss, _reduction(reduction, size_average, reduce))


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    d = (input - target).abs()
    loss = where(d < delta, d * d * 0.5, (d - 0.5 * delta) * delta)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, _reduction(reduction))


def _not_differentiable(op: str, **arguments) -> None:
    """torch's refusal of a loss argument that it takes no gradient for (a weight, a target)."""
    for name, t in arguments.items():
        if isinstance(t, Tensor) and t.requires_grad and is_grad_enabled():
            raise RuntimeError(f"The function '{op}' is not differentiable with respect to argument '{name}' (shape "
                               f"{tuple(t.shape)}). This input cannot have requires_grad True.")


def _bce_value(x: Tensor, t: Tensor) -> Tensor:
    """torch's elementwise loss: (t - 1) max(log1p(-x), -100) - t max(log x, -100)."""
    return (t - 1) * (-x).log1p().clamp(min=-100.0) - t * x.log().clamp(min=-100.0)


def _bce_backward(grad: Tensor, x: Tensor, t: Tensor) -> tuple:
    """torch's binary_cross_entropy_backward, grad (x - t) / max((1 - x) x, 1e-12), and its
    target backward, -logit(x) grad, unclamped (inf and NaN where x is 0 or 1): autograd
    through the clamped logs gave 0 there, and a gradient of 1/x below 1e-12."""
    return grad * (x - t) / ((1 - x) * x).clamp(min=1e-12), -(x / (1 - x)).log() * grad


_bce = differentiable("BinaryCrossEntropy", _bce_value, _bce_backward)


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
                         reduce=None, reduction: str = "mean") -> Tensor:
    reduction = _reduction(reduction, size_average, reduce)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Using a target size ({tuple(target.shape)}) that is different to the input size "
                         f"({tuple(input.shape)}) is deprecated. Please ensure they have the same size.")
    _not_differentiable("binary_cross_entropy", weight=weight)
    checks.within("binary_cross_entropy", target.node, 0.0, 1.0, "target")
    checks.within("binary_cross_entropy", input.node, 0.0, 1.0, "input")
    loss = _bce(input, target)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     size_average=None, reduce=None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    reduction = _reduction(reduction, size_average, reduce)
    _not_differentiable("binary_cross_entropy_with_logits", weight=weight, pos_weight=pos_weight)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Target size ({tuple(target.shape)}) must be the same as input size "
                         f"({tuple(input.shape)})")
    softplus_neg = -logsigmoid(input)  # stable for large |x|, and torch's gradient at 0
    if pos_weight is not None:
        log_weight = (pos_weight - 1) * target + 1
        loss = (1 - target) * input + log_weight * softplus_neg
    else:
        loss = (1 - target) * input + softplus_neg
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def kl_div(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    if log_target:
        loss = target.exp() * (target - input)
    else:
        # torch's xlogy(target, target) - target * input: 0 log 0 is 0, a negative target NaN
        loss = where(target == 0, 0.0, target * target.log()) - target * input
    if reduction == "batchmean":
        return loss.sum() / float(input.shape[0]) if input.ndim else loss.sum()
    return _reduce(loss, _reduction(reduction, size_average, reduce))


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """torch's form: sum((x1 / |x1|) (x2 / |x2|)) over dim, of x1 and x2 broadcast, whose norms
    are at least eps in value only (torch clamps them under no_grad): a zero vector's norm
    passes the norm's own gradient, 0, where the quotient's NaN came through a clamp."""
    x1, x2 = broadcast_tensors(x1, x2)
    n1 = _at_least(vector_norm(x1, 2, dim, keepdim=True), eps)
    n2 = _at_least(vector_norm(x2, 2, dim, keepdim=True), eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


_at_least = differentiable("Clone", lambda x, floor: x.clamp(min=floor), lambda grad, x, floor: (grad, None))


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """The p-norm of x1 - x2 + eps over the last dim."""
    return (x1 - x2 + eps).norm(p, -1, keepdim)


def pdist(input: Tensor, p: float = 2.0) -> Tensor:
    """The p-norm distance between every pair of rows i < j of an (N, M) input, in row-major
    order of the pairs; a distance of 0 passes no gradient, as PyTorch's."""
    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D (shape {tuple(input.shape)})")
    if p < 0:
        raise RuntimeError(f"pdist only supports non-negative p values, got {p}")
    n = input.shape[0]
    rows, cols = zip(*((i, j) for i in range(n) for j in range(i + 1, n))) if n > 1 else ((), ())
    pick = lambda at: index_select(input, 0, tensor(list(at), dtype=D.int64, device=input.device))  # noqa: E731
    gap = (pick(rows) - pick(cols)).abs()
    if p == 0:
        return (gap != 0).to(input.dtype).sum(-1)
    if math.isinf(p):
        return gap.amax(-1) if gap.shape[-1] else gap.sum(-1)
    return vector_norm(gap, p, -1)  # its gradient is 0 at a distance of 0, and at a 0 entry for p < 1


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0, size_average=None,
                        reduce=None, reduction: str = "mean") -> Tensor:
    """max(0, margin - target (input1 - input2)): target 1 asks input1 to rank higher, -1 lower."""
    reduction = _reduction(reduction, size_average, reduce)
    if not input1.ndim == input2.ndim == target.ndim:
        raise RuntimeError(f"margin_ranking_loss: All input tensors should have same dimension but got sizes: "
                           f"input1: {tuple(input1.shape)}, input2: {tuple(input2.shape)}, "
                           f"target: {tuple(target.shape)}")
    return _reduce((-target * (input1 - input2) + margin).clamp(min=0), reduction)


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0, size_average=None, reduce=None,
                         reduction: str = "mean") -> Tensor:
    """input where target is 1, max(0, margin - input) where it is -1 (both for other targets, as torch)."""
    reduction = _reduction(reduction, size_average, reduce)
    below_margin = (margin - input).clamp(min=0)
    return _reduce(where(target != 1, below_margin, 0.0) + where(target != -1, input, 0.0), reduction)


def soft_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """log(1 + exp(-target input)), for targets of 1 and -1."""
    _not_differentiable("soft_margin_loss", target=target)
    return _reduce((-input * target).exp().log1p(), _reduction(reduction, size_average, reduce))


def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
                                reduce=None, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of each class' logit (last dim) against a 0/1 target, averaged over the classes."""
    reduction = _reduction(reduction, size_average, reduce)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss.sum(-1) / float(input.shape[-1]), reduction)


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0, p: float = 2,
                        eps: float = 1e-6, swap: bool = False, size_average=None, reduce=None,
                        reduction: str = "mean") -> Tensor:
    """triplet_margin_with_distance_loss with d the pairwise p-distance."""
    return _triplet(anchor, positive, negative, lambda a, b: pairwise_distance(a, b, p, eps), margin, swap,
                    _reduction(reduction, size_average, reduce), "triplet_margin_loss")


def triplet_margin_with_distance_loss(anchor: Tensor, positive: Tensor, negative: Tensor, *,
                                      distance_function=None, margin: float = 1.0, swap: bool = False,
                                      reduction: str = "mean") -> Tensor:
    """max(0, margin + d(anchor, positive) - d(anchor, negative)), d the distance_function
    (pairwise_distance by default)."""
    if margin <= 0:
        raise ValueError(f"triplet_margin_with_distance_loss: margin must be greater than 0, got {margin}")
    return _triplet(anchor, positive, negative, distance_function or pairwise_distance, margin, swap,
                    _reduction(reduction), "triplet_margin_with_distance_loss")


def _triplet(anchor: Tensor, positive: Tensor, negative: Tensor, distance, margin: float, swap: bool,
             reduction: str, name: str) -> Tensor:
    """With swap, the negative's distance is the smaller of its distances to the anchor and the positive."""
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise RuntimeError(f"{name}: The anchor, positive, and negative tensors are expected to have "
                           f"the same number of dimensions, but got: anchor {anchor.ndim}D, positive "
                           f"{positive.ndim}D, and negative {negative.ndim}D inputs")
    d_pos = distance(anchor, positive)
    d_neg = distance(anchor, negative)
    if swap:
        d_neg = d_neg.minimum(distance(positive, negative))
    return _reduce((margin + d_pos - d_neg).clamp(min=0), reduction)


def multilabel_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                           reduction: str = "mean") -> Tensor:
    """sum over target classes j and other classes i of max(0, 1 - (x[j] - x[i])), over the
    number of classes; a sample's target classes are its target's entries before the first -1."""
    reduction = _reduction(reduction, size_average, reduce)
    if input.ndim > 2 or tuple(target.shape) != tuple(input.shape) or target.dtype.is_floating_point:
        raise RuntimeError(f"multilabel_margin_loss: expected a 0D, 1D or 2D input and an integer target of its "
                           f"shape, got input {input.dtype.name}{list(input.shape)} and target "
                           f"{target.dtype.name}{list(target.shape)}")
    c = input.shape[-1] if input.ndim else 1
    x, t = input.reshape(-1, c), target.reshape(-1, c).long()
    listed = (t == -1).long().cumsum(1) == 0  # the entries before the first -1
    checks.bounds("multilabel_margin_loss", where(listed, t, -1).node, c, 1, allowed=-1, negative=False)
    classes = arange(c, device=x.device)
    is_target = ((t.unsqueeze(-1) == classes) & listed.unsqueeze(-1)).any(1)  # (N, C)
    gaps = 1 - x.gather(1, t.clamp(min=0)).unsqueeze(-1) + x.unsqueeze(1)  # (N, j, i)
    counted = listed.unsqueeze(-1) & ~is_target.unsqueeze(1)
    loss = where(counted & (gaps > 0), gaps, 0.0).sum((1, 2)) / float(c)  # torch's z > 0: no gradient at 0
    return _reduce(loss.reshape(tuple(input.shape[:-1])), reduction)


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0, size_average=None,
                          reduce=None, reduction: str = "mean") -> Tensor:
    """1 - cos(input1, input2) where target is 1, max(0, cos - margin) where it is -1; the
    cosine over the last dim, with torch's 1e-12 added to each squared norm."""
    reduction = _reduction(reduction, size_average, reduce)
    if target.ndim > 1 or input1.ndim != target.ndim + 1 or input2.ndim != target.ndim + 1:
        raise RuntimeError(f"cosine_embedding_loss: a {target.ndim}D target tensor expects {target.ndim + 1}D input "
                           f"tensors (0D or 1D targets only), but found inputs with sizes {list(input1.shape)} and "
                           f"{list(input2.shape)}")
    dim = target.ndim
    squares = ((input1 * input1).sum(dim) + 1e-12) * ((input2 * input2).sum(dim) + 1e-12)
    cos = (input1 * input2).sum(dim) / squares.sqrt()
    loss = where(target == 1, 1 - cos, 0.0) + where(target == -1, (cos - margin).clamp(min=0), 0.0)
    return _reduce(loss, reduction)


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False, size_average=None,
                     eps: float = 1e-8, reduce=None, reduction: str = "mean") -> Tensor:
    """The negative log-likelihood of target under Poisson(rate): rate = exp(input) with
    log_input, else input (its log taken of input + eps); full adds Stirling's approximation
    of log(target!) where the target is above 1."""
    reduction = _reduction(reduction, size_average, reduce)
    loss = input.exp() - target * input if log_input else input - target * (input + eps).log()
    if full:
        stirling = target * target.log() - target + 0.5 * (target * (2 * math.pi)).log()
        loss = loss + where(target <= 1, 0.0, stirling)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input: Tensor, target: Tensor, var: Tensor | float, full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean") -> Tensor:
    """0.5 (log var + (input - target)^2 / var) (+ 0.5 log 2 pi when full). var matches the input,
    lacks its last dim, or has a 1 at one of its dims; it is clamped at eps with its gradient
    passed through as if it were not, as torch's (which clamps under no_grad)."""
    var = _gaussian_var(input, var)
    reduction = _reduction(reduction)
    var = var + (var.clamp(min=eps) - var).detach()
    loss = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def _gaussian_var(input: Tensor, var: Tensor | float) -> Tensor:
    """gaussian_nll_loss's var, checked not negative and shaped to broadcast against the input."""
    if not isinstance(var, Tensor):
        if var < 0:
            raise ValueError(f"gaussian_nll_loss: var has negative entry/entries ({var})")
        return full_like(input, var)
    # negative entries raise, as in torch; a NaN does not (its loss is NaN, as torch's)
    checks.within("gaussian_nll_loss", var.detach().nan_to_num(0.0).node, 0.0, math.inf, "var")
    if tuple(var.shape) == tuple(input.shape):
        return var
    if tuple(var.shape) == tuple(input.shape[:-1]):  # one variance for all the last dim's entries
        return var.unsqueeze(-1)
    if input.ndim == var.ndim and sum(v for i, v in zip(input.shape, var.shape) if i != v) == 1:
        return var  # one dim of size 1, broadcast
    raise ValueError(f"gaussian_nll_loss: var is of incorrect size {tuple(var.shape)} for input of shape "
                     f"{tuple(input.shape)}")


def multi_margin_loss(input: Tensor, target: Tensor, p: int = 1, margin: float = 1.0,
                      weight: Tensor | None = None, size_average=None, reduce=None,
                      reduction: str = "mean") -> Tensor:
    """For each sample, the mean over the classes i other than its target y of
    max(0, margin - x[y] + x[i])^p, times weight[y]."""
    reduction = _reduction(reduction, size_average, reduce)
    _not_differentiable("multi_margin_loss", weight=weight)
    if p not in (1, 2):
        raise ValueError("multi_margin_loss: only p == 1 and p == 2 supported")
    if input.ndim > 2 or (input.ndim and input.shape[-1] == 0):  # no classes (an empty batch is fine)
        raise RuntimeError(f"multi_margin_loss: Expected non-empty vector or matrix with optional 0-dim batch "
                           f"size, but got: {list(input.shape)}")
    x = input.reshape(-1, input.shape[-1]) if input.ndim else input.reshape(1, 1)
    n, c = x.shape
    if target.ndim > 1 or target.numel() != n or target.dtype.is_floating_point:
        raise RuntimeError(f"multi_margin_loss: target tensor should be 1-D integer indices with size equal to the "
                           f"number of input samples (batch size). Expected target size [{n}], but got "
                           f"{list(target.shape)} ({target.dtype.name}). Input has shape {list(input.shape)}.")
    if weight is not None and (weight.ndim != 1 or weight.numel() != c):
        raise RuntimeError(f"multi_margin_loss: inconsistent weight size, expected {c} but got {list(weight.shape)}")
    checks.bounds("multi_margin_loss (target)", target.node, c, 0, negative=False)
    hit = _class_mask(target.reshape(n), c, 1, 2)
    gap = margin - where(hit, x, 0.0).sum(1, keepdim=True) + x
    z = where(gap > 0, gap, 0.0)  # torch's kernel: no gradient where the gap is exactly 0
    z = z * z if p == 2 else z
    if weight is not None:
        z = z * where(hit, weight, 0.0).sum(1, keepdim=True)
    loss = where(hit, 0.0, z).sum(1) / float(c)
    return _reduce(loss.reshape(target.shape), reduction)


from . import max_pooling as _max_pooling  # noqa: E402  (nn/max_pooling.py)
from .max_pool_values import MAX_POOLS  # noqa: E402  (nn/max_pool_values.py)
from .max_pooling import (adaptive_max_pool1d, adaptive_max_pool1d_with_indices,  # noqa: E402,F401
                          adaptive_max_pool2d, adaptive_max_pool2d_with_indices, adaptive_max_pool3d,
                          adaptive_max_pool3d_with_indices, max_pool1d_with_indices, max_pool2d_with_indices,
                          max_pool3d_with_indices, max_unpool1d, max_unpool2d, max_unpool3d)
from .embedding_bag import embedding_bag  # noqa: E402,F401  (nn/embedding_bag.py)
from .spatial import affine_grid, grid_sample  # noqa: E402,F401  (nn/spatial.py)
from .resampling import (channel_shuffle, interpolate, pixel_shuffle, pixel_unshuffle,  # noqa: E402,F401
                         upsample)  # (nn/resampling.py)
from .ctc import ctc_loss  # noqa: E402,F401  (nn/ctc.py)
from .fractional_pooling import (fractional_max_pool2d, fractional_max_pool2d_with_indices,  # noqa: E402,F401
                                 fractional_max_pool3d, fractional_max_pool3d_with_indices)  # (nn/fractional_pooling.py)
