"""The views pooling and convolution read: sliding windows of the last dims, the padding a
pooling adds (ceil_mode included), and adaptive pooling's windows. nn.functional and
nn.max_pooling share them from here."""
from __future__ import annotations

from ..creation import arange
from ..movement import pad
from ..tensor import Tensor


def as_tuple(v, n: int, name: str) -> tuple[int, ...]:
    """An int or a sequence of `n` ints (a kernel size, a stride) as a tuple of `n` ints."""
    if isinstance(v, (list, tuple)):
        if len(v) != n:
            raise ValueError(f"{name} must be an int or a tuple of {n} ints, got {v}")
        return tuple(int(x) for x in v)
    return (int(v),) * n


def windows(x: Tensor, kernel: tuple[int, ...], stride: tuple[int, ...], dilation: tuple[int, ...]) -> Tensor:
    """All sliding windows of the last len(kernel) dims as a view: shape (..., *out, *kernel).

    No copy and no gather: the input is repeated (an expand), cut into rows of a length that
    shifts each row by `dilation`, then strided by `stride` (the reshape/shrink trick), so the
    consumer kernel reads x through index arithmetic."""
    nd = len(kernel)
    lead = tuple(x.shape[:-nd])
    sizes = tuple(x.shape[-nd:])
    outs = tuple((i - d * (k - 1) - 1) // s + 1 for i, k, s, d in zip(sizes, kernel, stride, dilation))
    if any(o <= 0 for o in outs):
        raise RuntimeError(f"Calculated output size {outs} is too small for input spatial size {sizes}, "
                           f"kernel {kernel}, stride {stride}, dilation {dilation}")
    nl = len(lead)
    if all(k <= s for k, s in zip(kernel, stride)) and all(d == 1 for d in dilation):
        # non-overlapping windows: pad/crop to o*s, split each dim into (o, s), keep the first k
        bounds = tuple((0, n) for n in lead) + tuple((0, min(i, o * s)) for i, o, s in zip(sizes, outs, stride))
        y = x[tuple(slice(a, b) for a, b in bounds)]
        grow = [0] * (2 * nd)
        for j, (i, o, s) in enumerate(zip(sizes, outs, stride)):
            grow[2 * (nd - 1 - j) + 1] = max(0, o * s - i)
        if any(grow):
            y = pad(y, grow)
        y = y.reshape(lead + tuple(v for o, s in zip(outs, stride) for v in (o, s)))
        y = y[(slice(None),) * nl + tuple(v for k in kernel for v in (slice(None), slice(0, k)))]
    else:
        rows = []  # row length L = d + m*i, L >= o*s, so row r starts r*d later in the input
        for i, o, s, d in zip(sizes, outs, stride, dilation):
            m = max(1, -(-(o * s - d) // i))
            rows.append(d + m * i)
        reps = tuple(-(-(k * L) // i) for k, L, i in zip(kernel, rows, sizes))
        y = x.repeat(*((1,) * nl + reps))
        y = y[(slice(None),) * nl + tuple(slice(0, k * L) for k, L in zip(kernel, rows))]
        y = y.reshape(lead + tuple(v for k, L in zip(kernel, rows) for v in (k, L)))
        y = y[(slice(None),) * nl + tuple(v for o, s in zip(outs, stride) for v in (slice(None), slice(0, o * s)))]
        y = y.reshape(lead + tuple(v for k, o, s in zip(kernel, outs, stride) for v in (k, o, s)))
        y = y[(slice(None),) * nl + tuple(v for _ in kernel for v in (slice(None), slice(None), slice(0, 1)))]
        y = y.reshape(lead + tuple(v for k, o in zip(kernel, outs) for v in (k, o)))
        perm = list(range(nl)) + [nl + 2 * j + 1 for j in range(nd)] + [nl + 2 * j for j in range(nd)]
        return y.permute(perm)
    perm = list(range(nl)) + [nl + 2 * j for j in range(nd)] + [nl + 2 * j + 1 for j in range(nd)]
    return y.permute(perm)


def pool_prepare(input: Tensor, nd: int, kernel_size, stride, padding, dilation, ceil_mode: bool,
                  fill: float, name: str):
    kernel, stride, pad_, dilation, widths = pool_geometry(input, nd, kernel_size, stride, padding, dilation,
                                                           ceil_mode, name)
    x = pad(input, widths, value=fill) if any(widths) else input
    return x, kernel, stride, pad_, dilation, widths


def pool_geometry(input: Tensor, nd: int, kernel_size, stride, padding, dilation, ceil_mode: bool, name: str):
    """A pooling's kernel, stride, padding and dilation as tuples, checked, and the pad widths
    (last dim first, ceil_mode's extra cells on the right) its windows read the input with."""
    kernel = as_tuple(kernel_size, nd, "kernel_size")
    stride = kernel if stride is None or (isinstance(stride, (list, tuple)) and not stride) else \
        as_tuple(stride, nd, "stride")
    pad_ = as_tuple(padding, nd, "padding")
    dilation = as_tuple(dilation, nd, "dilation")
    if any(p > k // 2 for p, k in zip(pad_, kernel)):
        raise RuntimeError(f"{name}: pad should be at most half of effective kernel size, but got pad={pad_}, "
                           f"kernel_size={kernel}")
    sizes = tuple(input.shape[-nd:])
    widths = []
    for j in reversed(range(nd)):
        i, k, s, p, d = sizes[j], kernel[j], stride[j], pad_[j], dilation[j]
        extra = 0
        if ceil_mode:
            span = i + 2 * p - d * (k - 1) - 1
            o = -(-span // s) + 1
            if (o - 1) * s >= i + p:  # the last window must start inside the input or left padding
                o -= 1
            extra = max(0, (o - 1) * s + d * (k - 1) + 1 - (i + 2 * p))
        widths += [p, p + extra]
    return kernel, stride, pad_, dilation, widths


def adaptive_output(input: Tensor, output_size, name: str, nd: int = 2) -> tuple[int, ...]:
    """An adaptive pooling's output size (an int for every axis; None keeps an axis' size), checked."""
    size = (output_size,) * nd if isinstance(output_size, int) else tuple(output_size)
    out = tuple(n if o is None else o for o, n in zip(size, input.shape[-nd:]))
    if (len(size) != nd or min(out) <= 0 or input.ndim not in (nd + 1, nd + 2)
            or min(input.shape[-nd:]) == 0):
        raise RuntimeError(f"{name}: expected a non-empty {nd + 1}-D or {nd + 2}-D input and {nd} positive output "
                           f"sizes, got input shape {tuple(input.shape)} and output_size {output_size}")
    return out


def adaptive_positions(n: int, m: int, like: Tensor) -> tuple[Tensor, Tensor]:
    """Each of m adaptive windows along an axis of n as the positions it covers, padded to the
    largest window (clamped into the axis) and whether each is inside the window."""
    largest = max(-(-(o + 1) * n // m) - (o * n) // m for o in range(m))
    start, end = _adaptive_bounds(n, m, like)
    at = start + arange(largest, device=like.device).reshape(1, largest)
    return at.clamp(max=n - 1), at < end


def adaptive_windows(n: int, m: int, like: Tensor) -> tuple[Tensor, Tensor]:
    """The (m, n) 0/1 matrix of adaptive pooling's windows along an axis of n, and their sizes."""
    start, end = _adaptive_bounds(n, m, like)
    i = arange(n, device=like.device).reshape(1, n)
    inside = (i >= start) & (i < end)
    return inside.to(like.dtype), (end - start).reshape(m).to(like.dtype)


def _adaptive_bounds(n: int, m: int, like: Tensor) -> tuple[Tensor, Tensor]:
    """Window o of m along an axis of n spans [floor(o n / m), ceil((o + 1) n / m)): both, (m, 1)."""
    o = arange(m, device=like.device).reshape(m, 1)
    return (o * n) // m, ((o + 1) * n + m - 1) // m
