"""lt.cuda, as torch.cuda on a machine without CUDA: lazytensor's GPU path is OpenCL
(device "cl"), so scripts that ask whether CUDA is there are told no and take their CPU
branch; seeding goes to lazytensor's generator."""
from __future__ import annotations

from ..random import manual_seed as _manual_seed
from . import amp  # noqa: F401


def is_available() -> bool:
    return False


def device_count() -> int:
    return 0


def manual_seed(seed: int) -> None:
    _manual_seed(seed)


def manual_seed_all(seed: int) -> None:
    _manual_seed(seed)


def synchronize(device=None) -> None:
    """Nothing to wait for: there is no CUDA device."""


def empty_cache() -> None:
    """Nothing to free: there is no CUDA device."""


def current_device() -> int:
    raise RuntimeError(NO_CUDA)


NO_CUDA = ("Torch not compiled with CUDA enabled: lazytensor has no CUDA device; its GPU path is OpenCL "
           "(device 'cl'), e.g. tensor.to('cl')")
