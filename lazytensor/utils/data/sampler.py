"""The Sampler base class (its own module so that data.distributed can build on it without
importing the package that re-exports it)."""
from __future__ import annotations

from typing import Iterator


class Sampler:
    def __iter__(self) -> Iterator[int]:
        raise NotImplementedError
