"""A tour of lazytensor: PyTorch's API, a lazy fusing compiler inside.

Run: python examples/demo.py [--device cl|numpy] [--report DIR]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import lazytensor as lt


def show(title: str) -> None:
    s = lt.stats()
    print(f"  {title:<46s} kernels launched {s.kernels_launched:3d}, compiled {s.kernels_compiled:3d}, "
          f"cache hits {s.cache_hits:3d}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default=None, help="cl or numpy (default: cl when OpenCL exists)")
    parser.add_argument("--report", default="lazytensor-report", help="where the training step's report goes")
    args = parser.parse_args()
    if args.device:
        lt.set_default_device(args.device)
    print(f"lazytensor on device '{lt.get_default_device()}'")
    lt.manual_seed(0)

    x = lt.randn(256, 512).realize()
    lt.reset_stats()
    y = ((x * 2 + 1).exp() * x).sum(1)
    show("built ((x*2+1).exp()*x).sum(1): nothing ran")
    y.realize()
    show("realised it: one fused kernel")

    lt.reset_stats()
    p = x.softmax(-1)
    p.realize()
    show("softmax: max, sum of exp, normalise")

    lt.reset_stats()
    t = x.T
    t.realize()
    show("x.T is a view: no kernel, no copy")

    w = lt.randn(512, 128).realize()
    start = time.perf_counter()
    for step in range(5):
        lt.reset_stats()
        h = (x @ w).relu().mean().item()
    show("(x @ w).relu().mean() again: compiles nothing")
    print(f"  5 repeats took {(time.perf_counter() - start) * 1e3:.1f} ms, value {h:.5f}")

    ref = np.maximum(x.numpy() @ w.numpy(), 0).mean()
    print(f"  NumPy agrees: {abs(h - ref) < 1e-4 * max(1.0, abs(ref))}")
    print(f"  printing realises too: {lt.tensor([[1.0, 2.5], [3.0, 4.0]]) * 2}")
    print(f"  the report of one training step: {write_step_report(Path(args.report))}")


def write_step_report(folder: Path) -> Path:
    """Dump one SGD step of a small MLP (forward, backward and update) and write its report."""
    from viz.report import write_report
    lt.manual_seed(0)
    model = lt.nn.Sequential(lt.nn.Linear(64, 32), lt.nn.ReLU(), lt.nn.Linear(32, 10))
    opt = lt.optim.SGD(model.parameters(), lr=0.1)
    x, y = lt.randn(16, 64).realize(), lt.randint(0, 10, (16,)).realize()

    def step():
        opt.zero_grad()
        loss = lt.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return [loss, *model.parameters()]
    written = lt.viz.dump(step, folder / "training-step")
    return write_report(written["json"], folder / "report.html").resolve()


if __name__ == "__main__":
    main()
