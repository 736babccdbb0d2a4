"""Counter-based random numbers generated inside kernels.

Each value is a hash of (seed, position): a PCG output permutation applied
twice. The seed and the stream offset reach kernels as arguments, never as
code, so the numbers are the same on every device and LAZY mode and drawing
again compiles nothing.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from . import capture
from .ir import build as B
from .ir import dtype as D
from .ir.node import Node, const
from .ir.schedule import keep
from .creation import parse_size, resolve_device, resolve_dtype, tensor
from .tensor_base import TensorBase, wrap

if TYPE_CHECKING:
    from .tensor import Tensor

_state = {"seed": 0, "offset": 0}
_U32 = D.uint32


def manual_seed(seed: int):
    """Seed the generator: the same seed gives the same numbers on every device."""
    _state["seed"] = int(seed) & 0xFFFFFFFFFFFFFFFF
    _state["offset"] = 0
    _state["host_draws"] = 0
    return _state["seed"]


def host_rng() -> np.random.Generator:
    """A NumPy generator for host-side choices (a DataLoader's order), drawn from the global
    seed: reproducible after lt.manual_seed, and different at each draw."""
    draws = _state.get("host_draws", 0)
    _state["host_draws"] = draws + 1
    return np.random.default_rng([_state["seed"], draws])


class Generator:
    """torch.Generator: a seed with its own device stream (`randn(..., generator=g)`) and a
    count of host-side draws (DataLoader shuffling, random_split). Ops given no generator
    draw from the global one (lt.manual_seed)."""

    def __init__(self, device="cpu") -> None:
        self.device = device
        self._reset(67280421310721)

    def _reset(self, seed: int) -> None:
        self._seed, self._draws = int(seed) & 0xFFFFFFFFFFFFFFFF, 0
        self.stream = {"seed": self._seed, "offset": 0}

    def manual_seed(self, seed: int) -> "Generator":
        self._reset(seed)
        return self

    def initial_seed(self) -> int:
        return self._seed

    def seed(self) -> int:
        self._reset(int(np.random.SeedSequence().entropy))
        return self._seed

    def get_state(self) -> tuple[int, int, int]:
        return self._seed, self._draws, self.stream["offset"]

    def set_state(self, state: tuple[int, int, int]) -> "Generator":
        seed, draws, offset = state
        self._reset(seed)
        self._draws, self.stream["offset"] = draws, offset
        return self

    def host_rng(self) -> np.random.Generator:
        draws, self._draws = self._draws, self._draws + 1
        return np.random.default_rng([self._seed, draws])


def initial_seed() -> int:
    return _state["seed"]


def seed() -> int:
    """Seed the global generator from the operating system's entropy; return the seed."""
    return manual_seed(int(np.random.SeedSequence().entropy))


_STATE_FIELDS = ("seed", "offset", "host_draws")


def get_rng_state() -> Tensor:
    """The global generator's state as a uint8 tensor (its seed, stream offset and count of
    host draws), for set_rng_state; not PyTorch's byte layout."""
    words = np.array([_state.get(k, 0) for k in _STATE_FIELDS], dtype="<u8")
    return tensor(words.view(np.uint8))


def set_rng_state(new_state: Tensor) -> None:
    """Restore a state that get_rng_state returned: the numbers drawn next are the same again."""
    size = 8 * len(_STATE_FIELDS)
    if not isinstance(new_state, TensorBase) or new_state.dtype != D.uint8 or tuple(new_state.shape) != (size,):
        got = (f"dtype {new_state.dtype.name}, shape {tuple(new_state.shape)}" if isinstance(new_state, TensorBase)
               else type(new_state).__name__)
        raise RuntimeError(f"set_rng_state: expected a uint8 tensor of shape ({size},) from get_rng_state, got {got}")
    words = np.ascontiguousarray(new_state.numpy()).view("<u8")
    _state.update({k: int(v) for k, v in zip(_STATE_FIELDS, words)})


def _pcg(x: Node) -> Node:
    def c(v):
        return const(v, _U32, x.shape, x.device)
    state = B.elementwise("add", B.elementwise("mul", x, c(747796405)), c(2891336453))
    shift = B.elementwise("add", B.elementwise("shr", state, c(28)), c(4))
    word = B.elementwise("mul", B.elementwise("xor", B.elementwise("shr", state, shift), state), c(277803737))
    return B.elementwise("xor", B.elementwise("shr", word, c(22)), word)


def random_bits(n: int, device: str, generator: Generator | None = None) -> Node:
    """n fresh uint32 words from the generator's stream, the global one by default (advances it by n)."""
    capture.unreplayable("it draws random numbers, which a replay would repeat")
    state = _state if generator is None else generator.stream
    offset = state["offset"]
    state["offset"] += n
    seed = state["seed"]
    keys = [(seed ^ (offset >> 32) * 0x9E3779B9) & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF]
    key_lo = _pcg(const(keys[0], _U32, (n,), device))  # folded to a constant argument
    key_hi = _pcg(const(keys[1] ^ 0x85EBCA6B, _U32, (n,), device))
    counter = B.elementwise("add", B.iota((n,), 0, _U32, device), const(offset & 0xFFFFFFFF, _U32, (n,), device))
    return _pcg(B.elementwise("xor", _pcg(B.elementwise("add", counter, key_lo)), key_hi))


def _unit_floats(n: int, device: str, generator: Generator | None = None) -> Node:
    """n uniform float32 values in [0, 1): the top 24 bits of each word."""
    bits = B.elementwise("shr", random_bits(n, device, generator), const(8, _U32, (n,), device))
    return B.elementwise("mul", B.cast(bits, D.float32), const(2.0 ** -24, D.float32, (n,), device))


def _uniform(shape, device: str, generator: Generator | None = None) -> Node:
    n = math.prod(shape)
    return B.reshape(_unit_floats(n, device, generator), shape)


def _normal(shape, device: str, generator: Generator | None = None) -> Node:
    n = math.prod(shape)
    pairs = B.reshape(_unit_floats(2 * n, device, generator), (n, 2))
    u1 = B.reshape(B.shrink(pairs, ((0, n), (0, 1))), (n,))
    u2 = B.reshape(B.shrink(pairs, ((0, n), (1, 2))), (n,))

    def c(v):
        return const(v, D.float32, (n,), device)
    radius = B.elementwise("sqrt", B.elementwise("mul", c(-2.0), B.elementwise("log", B.elementwise("sub", c(1.0), u1))))
    angle = B.elementwise("cos", B.elementwise("mul", c(2 * math.pi), u2))
    return keep(B.reshape(B.elementwise("mul", radius, angle), shape))  # log, sqrt, cos: computed once


def _finish(node: Node, dtype, requires_grad: bool) -> Tensor:
    dt = resolve_dtype(dtype)
    t = wrap(B.cast(node, dt) if dt != D.float32 else node)
    t.requires_grad = requires_grad
    return t


def rand(*size, dtype=None, device=None, requires_grad=False, generator=None) -> Tensor:
    shape = parse_size(size, "rand")
    return _finish(_uniform(shape, resolve_device(device), generator), dtype, requires_grad)


def randn(*size, dtype=None, device=None, requires_grad=False, generator=None) -> Tensor:
    shape = parse_size(size, "randn")
    return _finish(_normal(shape, resolve_device(device), generator), dtype, requires_grad)


def randint(low, high=None, size=None, dtype=None, device=None, generator=None, requires_grad=False) -> Tensor:
    if size is None and isinstance(high, (tuple, list)):  # randint(high, size)
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    if size is None:
        raise TypeError("randint(): missing the required argument 'size'")
    if high <= low:
        raise RuntimeError(f"randint: expected low < high, got low={low}, high={high}")
    shape = parse_size((size,) if isinstance(size, int) else tuple(size), "randint")
    dev = resolve_device(device)
    n = math.prod(shape)
    span = high - low
    if span >= 2 ** 32:
        raise RuntimeError(f"randint: a range of {span} values is larger than supported (2**32)")
    picked = B.elementwise("mod", random_bits(n, dev, generator), const(span, _U32, (n,), dev))
    value = B.elementwise("add", B.cast(picked, D.int64), const(low, D.int64, (n,), dev))
    dt = resolve_dtype(dtype, D.int64)
    out = wrap(B.cast(B.reshape(value, shape), dt))
    out.requires_grad = requires_grad  # refused by the setter, as in PyTorch, for integer dtypes
    return out


def rand_like(x: Tensor, dtype=None, device=None, requires_grad=False, generator=None) -> Tensor:
    return rand(x.shape, dtype=dtype or x.dtype, device=device or x.device, requires_grad=requires_grad,
                generator=generator)


def randn_like(x: Tensor, dtype=None, device=None, requires_grad=False, generator=None) -> Tensor:
    return randn(x.shape, dtype=dtype or x.dtype, device=device or x.device, requires_grad=requires_grad,
                 generator=generator)


def randint_like(x: Tensor, low, high=None, dtype=None, device=None, generator=None,
                 requires_grad=False) -> Tensor:
    return randint(low, high, tuple(x.shape), dtype=dtype or x.dtype, device=device or x.device,
                   generator=generator, requires_grad=requires_grad)


def normal(mean=0.0, std=1.0, size=None, dtype=None, device=None, generator=None) -> Tensor:
    if isinstance(mean, TensorBase) or isinstance(std, TensorBase):
        like = mean if isinstance(mean, TensorBase) else std
        return randn_like(like if like.dtype.is_floating_point else like.float(), generator=generator) * std + mean
    return randn(*(size or ()), dtype=dtype, device=device, generator=generator) * std + mean


def uniform_(self: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    u = wrap(_uniform(tuple(self.shape), self.device.name, generator))
    return self._assign((u * (b - a) + a).node)


def normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    z = wrap(_normal(tuple(self.shape), self.device.name, generator))
    return self._assign((z * std + mean).node)


def bernoulli_(self: Tensor, p: float = 0.5, generator=None) -> Tensor:
    u = wrap(_uniform(tuple(self.shape), self.device.name, generator))
    return self._assign((u < p).node)


def bernoulli(self: Tensor, generator=None) -> Tensor:
    u = wrap(_uniform(tuple(self.shape), self.device.name, generator))
    if self.dtype.is_floating_point:  # u < p makes p's sign 1: the draw requires grad (a zero gradient), as PyTorch's
        return self.sign().where(u < self, 0.0)
    return (u < self).to(self.dtype)




# ---- in-place fills from other distributions: transforms of one uniform draw each ----------
def _fill_from_uniform(self: Tensor, transform, generator) -> Tensor:
    u = wrap(_uniform(tuple(self.shape), self.device.name, generator))
    return self._assign(transform(u).to(self.dtype).node)


def _check_positive(op: str, **named) -> None:
    for name, value in named.items():
        if not value > 0:
            raise RuntimeError(f"{op}: expects {name} > 0.0, but found {name}={value}")


def exponential_(self: Tensor, lambd: float = 1.0, *, generator=None) -> Tensor:
    _check_positive("exponential_", lambd=lambd)
    return _fill_from_uniform(self, lambda u: -(1.0 - u).log() / lambd, generator)


def geometric_(self: Tensor, p: float, *, generator=None) -> Tensor:
    """The number of Bernoulli(p) trials up to the first success (1, 2, ...)."""
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_: expects p to be in (0, 1), but got p={p}")
    return _fill_from_uniform(self, lambda u: ((1.0 - u).log() / math.log1p(-p)).ceil().clamp(min=1.0), generator)


def cauchy_(self: Tensor, median: float = 0.0, sigma: float = 1.0, *, generator=None) -> Tensor:
    _check_positive("cauchy_", sigma=sigma)
    return _fill_from_uniform(self, lambda u: ((u - 0.5) * math.pi).tan() * sigma + median, generator)


def log_normal_(self: Tensor, mean: float = 1.0, std: float = 2.0, *, generator=None) -> Tensor:
    _check_positive("log_normal_", std=std)
    z = wrap(_normal(tuple(self.shape), self.device.name, generator))
    return self._assign((z * std + mean).exp().to(self.dtype).node)


def _random_bound(dtype) -> int:
    """random_()'s exclusive bound: the integers the dtype holds exactly, capped at 2**32
    (the generator's word; PyTorch's int64 and float64 ranges go further)."""
    if dtype == D.bool_:
        return 2
    bits = {D.float16: 12, D.bfloat16: 9, D.float32: 25}.get(dtype, dtype.itemsize * 8 - (dtype != D.uint8))
    return min(2 ** bits if not dtype.is_floating_point else 2 ** (bits - 1) + 1, 2 ** 32)


def random_(self: Tensor, from_: int = 0, to: int | None = None, *, generator=None) -> Tensor:
    """Integers uniform in [from, to); random_(to) is [0, to)."""
    if to is None:
        from_, to = (0, from_) if from_ != 0 else (0, _random_bound(self.dtype))
    return self._assign(randint(from_, to, tuple(self.shape), device=self.device.name,
                                generator=generator).to(self.dtype).node)
