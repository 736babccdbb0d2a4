"""A tour of lazytensor: PyTorch's API, a lazy fusing compiler inside.

Run: python examples/demo.py [--device cl|numpy]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import lazytensor as lt


def show(title: str) -> None:
    s = lt.stats()
    print(f"  {title:<46s} kernels launched {s.kernels_launched:3d}, compiled {s.kernels_compiled:3d}, "
          f"cache hits {s.cache_hits:3d}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default=None, help="cl or numpy (default: cl when OpenCL exists)")
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


if __name__ == "__main__":
    main()
