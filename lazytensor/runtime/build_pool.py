"""OpenCL programs built in parallel, in worker processes (runtime/build_worker.py).

PoCL compiles one program at a time in a process (its LLVM work runs under a lock, even from
two threads or two contexts), and a cold first step spends most of its time there. So a
batch of kernels is cut into a fixed number of groups (codegen decides nothing here: the
same kernels always make the same groups, so a second process finds each group's binary on
disk), and the groups this process would build one after another are built at once: one
here, the others by workers that return binaries, which load in milliseconds.

Workers start at the first program built from source and load the compiler while this
process goes on; a batch uses the workers that are ready then and never waits for one to
start. A worker that fails leaves its groups to this process.
"""
from __future__ import annotations

import os
import select
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .build_worker import receive, send
from .stats import STATS

WORKER_SCRIPT = str(Path(__file__).with_name("build_worker.py"))
# the environment variables MPI launchers set to a process's rank: ranks build in parallel already
_RANK_VARIABLES = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK")


def default_workers(environ=os.environ) -> int:
    """LT_BUILD_WORKERS, else one fewer than the cores (0 under an MPI launcher)."""
    chosen = environ.get("LT_BUILD_WORKERS", "")
    if os.name != "posix" or not hasattr(select, "poll"):  # the pool waits on its pipes with poll()
        return 0
    if chosen.strip():
        return max(0, int(chosen))
    if any(v in environ for v in _RANK_VARIABLES):
        return 0
    return min(3, max(0, (os.cpu_count() or 1) - 1))


def split(kernels: dict[str, str], groups: int) -> list[dict[str, str]]:
    """`kernels` (name -> source) as at most `groups` groups of about equal source length (the
    longest first, each to the lightest group): a function of the kernels alone."""
    bins: list[dict[str, str]] = [{} for _ in range(min(groups, len(kernels)))]
    weights = [0] * len(bins)
    for name, src in sorted(kernels.items(), key=lambda kv: (-len(kv[1]), kv[1])):
        lightest = weights.index(min(weights))
        bins[lightest][name] = src
        weights[lightest] += len(src)
    return [b for b in bins if b]


# source characters whose build outlasts a worker's start (about 1 s: Python, pyopencl and
# the compiler's first build): below it, a starting worker would be waited for
WORTH_A_START = 16_000


def _send_quietly(worker: "_Worker", source: str) -> None:
    try:
        send(worker.process.stdin, source)
    except (OSError, ValueError):
        pass  # a worker that is gone answers nothing: its source is built here


class BuildRefused(Exception):
    """The compiler refused a program: its source and the compiler's log."""

    def __init__(self, source: str, log: str):
        super().__init__(log)
        self.source, self.log = source, log


@dataclass
class _Worker:
    process: subprocess.Popen
    state: str = "starting"  # "reading" (an answer half read), "ready", or "gone" once failed or ended

    def poll_ready(self) -> bool:
        """Has it loaded the compiler (asked without waiting)?"""
        if self.state == "starting" and _readable(self.process.stdout):
            self.wait_ready()
        return self.state == "ready"

    def answer(self):
        """Its next message (None if it is gone); "reading" while one is half read."""
        self.state = "reading"
        reply = _receive(self)
        self.state = "ready"
        return reply

    def abandon(self) -> None:
        self.state = "gone"
        self.process.kill()

    def wait_ready(self) -> None:
        """Read its first answer, where not read yet: ready, or gone."""
        if self.state == "starting":
            self.state = "reading"
            reply = _receive(self)
            self.state = "ready" if reply is not None and reply[0] == "ready" else "gone"


def _readable(stream) -> bool:
    """Can `stream` be read without waiting? (poll(), not select(): a process with more than
    1024 open files has descriptors select() cannot take)"""
    poller = select.poll()
    try:
        poller.register(stream, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return False


def _receive(worker: _Worker):
    """Its next message, or None where it is gone (a pipe closed or a message cut short)."""
    try:
        return receive(worker.process.stdout)
    except Exception:  # noqa: BLE001 - a worker killed mid-answer leaves a torn pickle
        return None


class BuildPool:
    """Worker processes building programs for one OpenCL device with one set of options."""

    def __init__(self, device_id: tuple[str, str, str], options: list[str], workers: int):
        self.device_id, self.options = device_id, options
        self.size = workers
        self.workers: list[_Worker] = []
        self.started = False
        self.owner = os.getpid()  # a forked child must not talk to its parent's workers

    @property
    def groups(self) -> int:
        """How many groups a batch is cut into: one per process that builds."""
        return 1 + self.size

    def start(self) -> None:
        """Start the workers, once (they load the compiler in the background)."""
        if self.started or self.size <= 0 or os.getpid() != self.owner:
            return
        self.started = True
        for _ in range(self.size):
            try:
                process = subprocess.Popen([sys.executable, WORKER_SCRIPT], stdin=subprocess.PIPE,
                                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
                send(process.stdin, (*self.device_id, self.options))
            except OSError:
                break
            self.workers.append(_Worker(process))

    def build(self, sources: list[str], build_here: Callable[[str], bytes]) -> list[bytes]:
        """The binary of each source: some sent to workers, the rest built here by `build_here`
        meanwhile. Raises BuildRefused with the compiler's log."""
        sent = [(i, worker) for i, worker in zip(range(len(sources) - 1), self._takers(sources[:-1]))]
        binaries: list[bytes | None] = [None] * len(sources)
        away = {i for i, _ in sent}
        try:
            for i, worker in sent:  # a starting worker reads its job once ready: written aside
                threading.Thread(target=_send_quietly, args=(worker, sources[i]), daemon=True).start()
            for i, src in enumerate(sources):
                if i not in away:
                    binaries[i] = build_here(src)
            while sent:
                i, worker = sent[0]
                try:
                    binaries[i] = self._collect(worker, sources[i], build_here)
                finally:  # refused or built, its answer was read whole; an interrupt falls through
                    if worker.state != "reading":
                        sent.pop(0)
        except BaseException:  # a refused build, an interrupt: an answer left unread would be
            for _, worker in sent:  # taken for the next batch's, so those workers go
                worker.abandon()
            raise
        return binaries

    def _takers(self, sources: list[str]) -> list[_Worker]:
        """The workers to send these sources to (one at least stays here): the ready ones, and
        the starting ones too where the sources are long enough to outlast a start."""
        if os.getpid() != self.owner:
            return []
        ready = [w for w in self.workers if w.poll_ready()]
        if sum(map(len, sources)) < WORTH_A_START:
            return ready
        return ready + [w for w in self.workers if w.state == "starting"]

    def _collect(self, worker: _Worker, source: str, build_here: Callable[[str], bytes]) -> bytes:
        worker.wait_ready()
        reply = worker.answer() if worker.state == "ready" else None
        if reply is None or reply[0] not in ("built", "refused"):
            worker.state = "gone"
            return build_here(source)
        if reply[0] == "refused":
            raise BuildRefused(source, reply[1])
        STATS.programs_built_by_workers += 1
        return reply[1]

    def close(self) -> None:
        if os.getpid() != self.owner:
            return
        for worker in self.workers:  # a worker ends when its input does; a forked child may
            try:                        # hold that pipe open too, so it is not waited for long
                worker.process.stdin.close()
                worker.process.wait(timeout=0.5)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                worker.process.kill()
        self.workers = []
