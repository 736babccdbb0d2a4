"""Device memory given back, kept for the next allocation of its size while it is still in use.

A training loop frees and allocates the same sizes every step: keeping freed memory by size
makes its later steps allocate nothing. But a loop whose sizes change (text generated one
token at a time, batches of varying length) frees memory at sizes it never asks for again;
kept for ever, it would grow with every length met. So once the pool holds more than
`keep_bytes`, memory idle for more than `idle_limit` realisations is let go, the longest idle
first (the device frees it when its last reference goes). Below that, nothing is let go: a
step that realises many times (a loss read per batch, logging) still finds its memory.
"""
from __future__ import annotations

from ..ir.node import Epoch

IDLE_LIMIT = 64  # realisations: several a training step (a loss read, an optimizer step)
KEEP_BYTES = 256 << 20  # held whatever its age


class MemoryPool:
    """Freed device allocations by byte size, each with the realisation it was freed in."""

    def __init__(self, idle_limit: int = IDLE_LIMIT, keep_bytes: int = KEEP_BYTES):
        self.idle_limit, self.keep_bytes = idle_limit, keep_bytes
        self.free: dict[int, list[tuple[object, int]]] = {}
        self.kept_bytes = 0
        self.clock = Epoch  # held here: buffers are freed while the interpreter tears modules down
        self.swept_at = Epoch.now

    def take(self, nbytes: int):
        """A kept allocation of `nbytes`, the latest freed first; None if there is none."""
        kept = self.free.get(nbytes)
        if not kept:
            return None
        self.kept_bytes -= nbytes
        return kept.pop()[0]

    def give(self, raw, nbytes: int) -> None:
        """Keep `raw` (an allocation of `nbytes`) for a later take."""
        now = self.clock.now
        self.free.setdefault(nbytes, []).append((raw, now))
        self.kept_bytes += nbytes
        if self.kept_bytes > self.keep_bytes and now - self.swept_at >= max(self.idle_limit // 2, 1):
            self.sweep(now)

    def sweep(self, now: int) -> None:
        """Let go of memory freed more than idle_limit realisations before `now`, the longest
        idle first, until the pool holds keep_bytes or less."""
        self.swept_at = now
        oldest = now - self.idle_limit
        idle = sorted((when, nbytes) for nbytes, kept in self.free.items() for _, when in kept if when < oldest)
        for when, nbytes in idle:
            if self.kept_bytes <= self.keep_bytes:
                break
            kept = self.free[nbytes]
            kept.pop(next(i for i, entry in enumerate(kept) if entry[1] == when))
            self.kept_bytes -= nbytes
            if not kept:
                del self.free[nbytes]
