"""Device memory given back, kept for the next allocation of its size while it is still in use.

A training loop frees and allocates the same sizes every step: keeping freed memory by size
makes its later steps allocate nothing. But a loop whose sizes change (text generated one
token at a time, batches of varying length) frees memory at sizes it never asks for again;
kept for ever, it would grow with every length met. So memory idle for more than
`idle_limit` realisations is let go (the device frees it when its last reference goes).
"""
from __future__ import annotations

from ..ir.node import Epoch

IDLE_LIMIT = 64  # realisations: several a training step (a loss read, an optimizer step)


class MemoryPool:
    """Freed device allocations by byte size, each with the realisation it was freed in."""

    def __init__(self, idle_limit: int = IDLE_LIMIT):
        self.idle_limit = idle_limit
        self.free: dict[int, list[tuple[object, int]]] = {}
        self.clock = Epoch  # held here: buffers are freed while the interpreter tears modules down
        self.swept_at = Epoch.now

    def take(self, nbytes: int):
        """A kept allocation of `nbytes`, the latest freed first; None if there is none."""
        kept = self.free.get(nbytes)
        return kept.pop()[0] if kept else None

    def give(self, raw, nbytes: int) -> None:
        """Keep `raw` (an allocation of `nbytes`) for a later take."""
        now = self.clock.now
        self.free.setdefault(nbytes, []).append((raw, now))
        if now - self.swept_at >= max(self.idle_limit // 2, 1):
            self.sweep(now)

    def sweep(self, now: int) -> None:
        """Let go of what was freed more than idle_limit realisations before `now`."""
        self.swept_at = now
        oldest = now - self.idle_limit
        for nbytes in list(self.free):
            kept = [entry for entry in self.free[nbytes] if entry[1] >= oldest]
            if kept:
                self.free[nbytes] = kept
            else:
                del self.free[nbytes]

    @property
    def kept_bytes(self) -> int:
        return sum(nbytes * len(kept) for nbytes, kept in self.free.items())
