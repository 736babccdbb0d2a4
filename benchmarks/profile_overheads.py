"""Where the Python-side time of a lazy step goes: the profile behind bench_kernels' rows
whose targets are about per-op and per-token cost.

    python benchmarks/profile_overheads.py              # both rows
    python benchmarks/profile_overheads.py --only chain

Rows (lazytensor on `cl`, steady state: caches warm, medians):
  chain     1000 chained adds on a (4, 4) tensor, then realise (bench_kernels' chain1000):
            microseconds per op recording, walking the graph for its structural key,
            realising in all, and in the garbage collector
  generate  greedy generation from bench_first_call's 2-layer GPT, tokens 33..64 (each a new
            length; run it twice so that the second process reads the first one's plans,
            as the benchmark's warm run does): milliseconds per token recording the
            forward, then in each phase of realising it (the structure walk, finding and
            reading the plan, launching), and in the garbage collector
"""
from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import lazytensor as lt  # noqa: E402
from lazytensor.ir import schedule_cache  # noqa: E402
from lazytensor.runtime import engine, plan_cache  # noqa: E402


class Clock:
    """Seconds spent inside chosen functions, and in the garbage collector."""

    def __init__(self):
        self.spent: dict[str, float] = {}
        self._gc_start = 0.0

    def wrap(self, module, name: str) -> None:
        inner = getattr(module, name)

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.add(name, time.perf_counter() - start)
        setattr(module, name, timed)

    def add(self, name: str, seconds: float) -> None:
        self.spent[name] = self.spent.get(name, 0.0) + seconds

    def on_gc(self, phase: str, info: dict) -> None:
        """A gc.callbacks entry: adds the time of each collection."""
        if phase == "start":
            self._gc_start = time.perf_counter()
        else:
            self.add("garbage collector", time.perf_counter() - self._gc_start)

    @contextmanager
    def collecting(self):
        gc.callbacks.append(self.on_gc)
        try:
            yield
        finally:
            gc.callbacks.remove(self.on_gc)


def chain(ops: int = 1000, repeats: int = 30) -> None:
    x = lt.tensor(np.random.default_rng(0).random((4, 4), np.float32), device="cl")

    def record():
        y = x
        for _ in range(ops):
            y = y + 1.0
        return y
    for _ in range(5):
        record().numpy()
    recording, walking, realising = [], [], []
    clock = Clock()
    with lt.no_grad(), clock.collecting():
        for _ in range(repeats):
            start = time.perf_counter()
            y = record()
            recorded = time.perf_counter()
            schedule_cache.structure([y.node], (True,), -1)  # the walk alone, as realise does it
            walked = time.perf_counter()
            y.numpy()
            done = time.perf_counter()
            recording.append(recorded - start)
            walking.append(walked - recorded)
            realising.append(done - walked)
    per_op = 1e6 / ops
    print(f"chain of {ops} adds, us per op: record {statistics.median(recording) * per_op:.2f}, "
          f"structure walk {statistics.median(walking) * per_op:.2f}, realise (walk included) "
          f"{statistics.median(realising) * per_op:.2f}, garbage collector "
          f"{clock.spent.get('garbage collector', 0.0) / repeats * per_op:.2f} (spread over the above)")


def generate(tokens: int = 64) -> None:
    from bench_first_call import GPT, _gpt
    clock = Clock()
    clock.wrap(engine, "structure")
    clock.wrap(plan_cache, "load")
    clock.wrap(engine, "_schedule")
    clock.wrap(engine, "_run")
    clock.wrap(engine, "realize")
    net = _gpt(lt)
    idx = lt.tensor([[1]])
    recording = []
    half = tokens // 2
    with lt.no_grad():
        for i in range(tokens):
            if i == half:
                clock.spent.clear()
                gc.callbacks.append(clock.on_gc)
                start_all = time.perf_counter()
            start = time.perf_counter()
            logits = net(idx[:, -GPT["context"]:])
            last = logits[0, -1].argmax()
            recording.append(time.perf_counter() - start)
            nxt = int(last)
            idx = lt.cat([idx, lt.tensor([[nxt]])], 1)
        gc.callbacks.remove(clock.on_gc)
    steady = tokens - half
    total = (time.perf_counter() - start_all) / steady * 1e3
    spent = {k: v / steady * 1e3 for k, v in clock.spent.items()}
    print(f"generate, tokens {half + 1}..{tokens}, ms per token: all {total:.2f}, recording the forward "
          f"{statistics.median(recording[half:]) * 1e3:.2f}, realising {spent.get('realize', 0):.2f} "
          f"(scheduling {spent.get('_schedule', 0):.2f}: structure walk {spent.get('structure', 0):.2f}, "
          f"plan read {spent.get('load', 0):.2f}; launching {spent.get('_run', 0):.2f}), garbage collector "
          f"{spent.get('garbage collector', 0):.2f} (spread over the above)")


ROWS = {"chain": chain, "generate": generate}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(ROWS), help="comma-separated rows: " + ", ".join(ROWS))
    for row in parser.parse_args().only.split(","):
        ROWS[row]()


if __name__ == "__main__":
    main()
