"""Window functions for spectral analysis (torch.hann_window and its kin): each is a formula
in n / (N - 1) over arange(N); a periodic window is the symmetric one of N + 1, less its last."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable

from .creation import arange, ones, resolve_dtype
from .special_functions import i0

if TYPE_CHECKING:
    from .tensor import Tensor


def _window(op: str, window_length: int, periodic: bool, dtype, device, requires_grad: bool,
            formula: Callable[[Tensor, int], Tensor]) -> Tensor:
    """formula(n, N) over n = 0 .. N-1 for the symmetric window of length N."""
    dt = resolve_dtype(dtype)
    if not dt.is_floating_point:
        raise RuntimeError(f"{op} expects floating point dtypes, got: {dt.name}")
    if window_length < 0:
        raise RuntimeError(f"{op} requires non-negative window_length, got window_length={window_length}")
    length = window_length + 1 if periodic and window_length > 1 else window_length
    if length <= 1:
        out = ones(length, dtype=dt, device=device)
    else:
        # a tensor of its own, not a view of the longer periodic window: requires_grad makes it a leaf
        out = formula(arange(length, dtype=dt, device=device), length)[:window_length].clone()
    out.requires_grad = requires_grad
    return out


def _cosines(*coefficients: float) -> Callable[[Tensor, int], Tensor]:
    """sum_k (-1)^k a_k cos(2 pi k n / (N - 1)): the generalised cosine windows."""
    def formula(n: Tensor, length: int) -> Tensor:
        phase = n * (2 * math.pi / (length - 1))
        out = n * 0 + coefficients[0]
        for k, a in enumerate(coefficients[1:], 1):
            out = out + (-1) ** k * a * (phase * k).cos()
        return out
    return formula


def hamming_window(window_length: int, periodic: bool = True, alpha: float = 0.54, beta: float = 0.46, *,
                   dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _window("hamming_window", window_length, periodic, dtype, device, requires_grad,
                   _cosines(alpha, beta))


def hann_window(window_length: int, periodic: bool = True, *, dtype=None, device=None,
                requires_grad: bool = False) -> Tensor:
    return _window("hann_window", window_length, periodic, dtype, device, requires_grad, _cosines(0.5, 0.5))


def blackman_window(window_length: int, periodic: bool = True, *, dtype=None, device=None,
                    requires_grad: bool = False) -> Tensor:
    return _window("blackman_window", window_length, periodic, dtype, device, requires_grad,
                   _cosines(0.42, 0.5, 0.08))


def bartlett_window(window_length: int, periodic: bool = True, *, dtype=None, device=None,
                    requires_grad: bool = False) -> Tensor:
    """The triangle 1 - |2n / (N - 1) - 1|."""
    return _window("bartlett_window", window_length, periodic, dtype, device, requires_grad,
                   lambda n, length: 1 - (n * (2 / (length - 1)) - 1).abs())


def kaiser_window(window_length: int, periodic: bool = True, beta: float = 12.0, *, dtype=None, device=None,
                  requires_grad: bool = False) -> Tensor:
    """i0(beta sqrt(1 - ((n - a) / a)^2)) / i0(beta), a = (N - 1) / 2."""
    def formula(n: Tensor, length: int) -> Tensor:
        a = (length - 1) / 2
        return i0(beta * (1 - ((n - a) / a) ** 2).clamp(min=0).sqrt()) / i0(n.new_tensor(beta))
    return _window("kaiser_window", window_length, periodic, dtype, device, requires_grad, formula)
