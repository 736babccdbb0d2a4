"""lt.nn.init: PyTorch's initialisers (in place, under no_grad, drawing from lt's generator)."""
from __future__ import annotations

import math

import numpy as np

from ..tensor import Tensor
from .parameter import keep_leaf_inplace
from ..random import host_rng, rand, randn
from ..creation import eye, tensor as from_host


def calculate_gain(nonlinearity: str, param=None) -> float:
    linear = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d"]
    if nonlinearity in linear or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    if tensor.dim() < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")
    receptive = 1
    for s in tensor.shape[2:]:
        receptive *= s
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    return keep_leaf_inplace(tensor, lambda t: t.uniform_(a, b, generator=generator))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    return keep_leaf_inplace(tensor, lambda t: t.normal_(mean, std, generator=generator))


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0,
                  generator=None) -> Tensor:
    """Normal values redrawn by inverse CDF inside [a, b] (PyTorch's method)."""
    def norm_cdf(x):
        return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0

    lo, hi = norm_cdf((a - mean) / std), norm_cdf((b - mean) / std)

    def fill(t: Tensor) -> None:
        u = rand(*t.shape, device=t.device, generator=generator) * (2 * hi - 2 * lo) + (2 * lo - 1)
        # erfinv through a few Newton steps on erf (no erfinv op in the core)
        y = u.clamp(-0.999999, 0.999999)
        x = y * 0.886226925
        for _ in range(12):
            x = x - (x.erf() - y) / (1.1283791671 * (-x * x).exp())
        t.copy_((x * (std * math.sqrt(2.0)) + mean).clamp(a, b))
    return keep_leaf_inplace(tensor, fill)


def constant_(tensor: Tensor, val: float) -> Tensor:
    return keep_leaf_inplace(tensor, lambda t: t.fill_(val))


def ones_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 1.0)


def zeros_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 0.0)


def eye_(tensor: Tensor) -> Tensor:
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    return keep_leaf_inplace(tensor, lambda t: t.copy_(eye(*t.shape, dtype=t.dtype, device=t.device)))


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    a = math.sqrt(3.0) * std
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     generator=None) -> Tensor:
    if 0 in tuple(tensor.shape):
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    gain = calculate_gain(nonlinearity, a)
    std = gain / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    generator=None) -> Tensor:
    if 0 in tuple(tensor.shape):
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std, generator)


def _host_copy(t: Tensor, values: np.ndarray) -> None:
    """Write host values (an initialiser computed once, not differentiable) into t."""
    t.copy_(from_host(values.reshape(tuple(t.shape)), dtype=t.dtype, device=t.device))


def orthogonal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """A (semi-)orthogonal matrix over the flattened trailing dims: the Q of a normal matrix's
    QR, its columns' signs fixed by R's diagonal so that Q is uniform (PyTorch's method)."""
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: only tensors with 2 or more dimensions are supported, "
                         f"got shape {tuple(tensor.shape)}")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows

    def fill(t: Tensor) -> None:
        flat = randn(rows, cols, dtype=t.dtype, device=t.device, generator=generator).numpy().astype(np.float64)
        tall = flat if rows >= cols else flat.T
        q, r = np.linalg.qr(tall)
        q = q * np.sign(np.diag(r))
        _host_copy(t, (q if rows >= cols else q.T) * gain)
    return keep_leaf_inplace(tensor, fill)


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """The identity convolution: each output channel (per group) passes its input channel's centre."""
    if tensor.ndim not in (3, 4, 5):
        raise ValueError(f"dirac_: only tensors with 3, 4, or 5 dimensions are supported, "
                         f"got shape {tuple(tensor.shape)}")
    if tensor.shape[0] % groups != 0:
        raise ValueError(f"dirac_: dim 0 ({tensor.shape[0]}) must be divisible by groups ({groups})")
    per_group = tensor.shape[0] // groups
    centre = tuple(s // 2 for s in tensor.shape[2:])
    values = np.zeros(tuple(tensor.shape))
    for g in range(groups):
        for d in range(min(per_group, tensor.shape[1])):
            values[(g * per_group + d, d) + centre] = 1.0
    return keep_leaf_inplace(tensor, lambda t: _host_copy(t, values))


def sparse_(tensor: Tensor, sparsity: float, std: float = 0.01, generator=None) -> Tensor:
    """Normal values with a fraction `sparsity` of each column's rows (chosen at random) zero."""
    if tensor.ndim != 2:
        raise ValueError(f"sparse_: only tensors with 2 dimensions are supported, got shape {tuple(tensor.shape)}")
    rows, cols = tensor.shape
    num_zeros = math.ceil(sparsity * rows)
    rng = generator.host_rng() if generator is not None else host_rng()
    keep = np.ones((rows, cols))
    for col in range(cols):
        keep[rng.permutation(rows)[:num_zeros], col] = 0.0

    def fill(t: Tensor) -> None:
        t.normal_(0.0, std, generator=generator)
        t.mul_(from_host(keep, dtype=t.dtype, device=t.device))
    return keep_leaf_inplace(tensor, fill)


# PyTorch's deprecated names
uniform, normal, constant = uniform_, normal_, constant_
xavier_uniform, xavier_normal = xavier_uniform_, xavier_normal_
kaiming_uniform, kaiming_normal = kaiming_uniform_, kaiming_normal_
orthogonal, dirac, sparse = orthogonal_, dirac_, sparse_
