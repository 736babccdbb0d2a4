"""Soak: a training loop with fresh inputs every step holds no more memory as it goes on.

Live device buffers and live IR nodes are counted exactly; RSS (which the allocator and
the OpenCL runtime move a little) may grow by a small margin. The suite runs a short loop;
the long one is `python tests/test_soak.py --steps 3000`, which prints the figures.
"""
import argparse
import gc
import os
import sys

import numpy as np
import pytest

import lazytensor as lt
from lazytensor.ir.node import Node
from lazytensor.runtime.buffer import Buffer

RSS_MARGIN = 8 << 20  # bytes


def _live(kind) -> int:
    return sum(1 for o in gc.get_objects() if type(o) is kind)


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _figures() -> tuple[int, int, int]:
    gc.collect()
    return _live(Buffer), _live(Node), _rss()


def soak(steps: int, device: str, jitted: bool, warmup: int = 20) -> dict:
    """Train a small classifier on fresh random batches; the figures after warm-up and at the end."""
    lt.set_default_device(device)
    lt.manual_seed(0)
    model = lt.nn.Sequential(lt.nn.Linear(16, 32), lt.nn.ReLU(), lt.nn.LayerNorm(32), lt.nn.Linear(32, 4))
    opt = lt.optim.AdamW(model.parameters(), lr=1e-3, capturable=True)

    def step(x, y):
        opt.zero_grad()
        loss = lt.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    run = lt.jit(step) if jitted else step
    rng = np.random.default_rng(0)
    figures = {}
    for i in range(steps):
        x = lt.tensor(rng.standard_normal((8, 16)).astype(np.float32))
        y = lt.tensor(rng.integers(0, 4, (8,)))
        loss = run(x, y)
        if i % 50 == 0:
            loss.item()  # a value leaves the device now and then, as a logging loop does
        if i + 1 == warmup:
            figures["warm"] = _figures()
    figures["end"] = _figures()
    return figures


@pytest.mark.parametrize("jitted", [False, True], ids=["plain", "jit"])
def test_a_training_loop_with_fresh_inputs_holds_no_more_memory(jitted):
    device = lt.get_default_device().type
    figures = soak(120, device, jitted)
    (buffers, nodes, rss), (buffers_end, nodes_end, rss_end) = figures["warm"], figures["end"]
    assert (buffers_end, nodes_end) == (buffers, nodes)
    assert rss_end - rss < RSS_MARGIN


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--device", default=lt.get_default_device().type)
    args = p.parse_args(argv)
    for jitted in (False, True):
        f = soak(args.steps, args.device, jitted)
        (b0, n0, r0), (b1, n1, r1) = f["warm"], f["end"]
        print(f"{'jit' if jitted else 'plain'} on {args.device}, {args.steps} steps: live buffers {b0} -> {b1}, "
              f"live nodes {n0} -> {n1}, RSS {r0 / 2**20:.1f} -> {r1 / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
