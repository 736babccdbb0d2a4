"""Bounded waits: a collective still running after the group's timeout ends the job with
an error naming the rank and the op (another rank exited, or called a different one)."""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Iterator

from .failure import abort


class Watchdog:
    """One daemon thread per process, started by the first collective; it only reads the
    (op, deadline) the main thread sets, so a collective pays two attribute writes."""

    def __init__(self, MPI, rank: int, timeout_s: float):
        self.MPI, self.rank, self.timeout_s = MPI, rank, timeout_s
        self.op: str | None = None
        self.deadline = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @contextmanager
    def watch(self, op: str) -> Iterator[None]:
        """Time the blocking MPI call inside against the timeout."""
        if self._thread is None:
            self._start()
        self.deadline, self.op = time.monotonic() + self.timeout_s, op
        try:
            yield
        finally:
            self.op = None

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="lt.distributed watchdog", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        tick = min(1.0, max(self.timeout_s / 10, 0.05))
        while not self._stop.wait(tick):
            op = self.op
            if op is not None and time.monotonic() > self.deadline:
                abort(self.MPI, self.rank, f"{op} did not complete within {self.timeout_s:g} s (timeout): "
                      "another rank may have failed, exited, or called a different collective")

    def stop(self) -> None:
        self._stop.set()
