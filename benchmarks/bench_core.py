"""Core benchmarks: lazytensor against NumPy and PyTorch, measured in the same run.

Run: python benchmarks/bench_core.py [--device cl|numpy|all] [--repeat 20]

Each row times one program after a warm-up (so compiles are excluded) and prints
the ratio of lazytensor's time to NumPy's and to PyTorch's (lower is better for
lazytensor; 1.0 means the same speed).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import lazytensor as lt


def timeit(fn, repeat: int) -> float:
    fn()  # warm-up: compiles, caches
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def programs(rng: np.random.Generator):
    """name -> (lazytensor fn(lt, arrays), numpy fn(arrays), torch fn(torch, arrays), arrays)."""
    a = rng.standard_normal((1024, 1024)).astype(np.float32)
    b = rng.standard_normal((1024, 1024)).astype(np.float32)
    m1 = rng.standard_normal((256, 512)).astype(np.float32)
    m2 = rng.standard_normal((512, 256)).astype(np.float32)
    return {
        "elementwise chain ((x*2+1).exp()*x)": (
            lambda t, x: ((x * 2 + 1).exp() * x).realize(),
            lambda x: np.exp(x * 2 + 1) * x,
            lambda t, x: torch_eval(t, lambda: (x * 2 + 1).exp() * x),
            (a * 0.1,)),
        "chain + row sum": (
            lambda t, x: ((x * 2 + 1).exp() * x).sum(1).realize(),
            lambda x: (np.exp(x * 2 + 1) * x).sum(1),
            lambda t, x: torch_eval(t, lambda: ((x * 2 + 1).exp() * x).sum(1)),
            (a * 0.1,)),
        "softmax(-1)": (
            lambda t, x: x.softmax(-1).realize(),
            lambda x: (lambda e: e / e.sum(-1, keepdims=True))(np.exp(x - x.max(-1, keepdims=True))),
            lambda t, x: torch_eval(t, lambda: x.softmax(-1)),
            (a,)),
        "transpose + add": (
            lambda t, x, y: (x.T + y).realize(),
            lambda x, y: x.T + y,
            lambda t, x, y: torch_eval(t, lambda: (x.T + y).contiguous()),
            (a, b)),
        "matmul 256x512x256 + relu": (
            lambda t, x, y: (x @ y).relu().realize(),
            lambda x, y: np.maximum(x @ y, 0),
            lambda t, x, y: torch_eval(t, lambda: (x @ y).relu()),
            (m1, m2)),
    }


def torch_eval(torch, fn):
    with torch.no_grad():
        return fn()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="all", help="cl, numpy or all")
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    try:
        import torch
        torch.set_num_threads(2)
    except ImportError:
        torch = None
    devices = ["numpy", "cl"] if args.device == "all" else [args.device]
    rng = np.random.default_rng(0)
    table = programs(rng)
    print(f"{'program':<38s} {'device':<6s} {'lt ms':>9s} {'numpy ms':>9s} {'torch ms':>9s} "
          f"{'lt/numpy':>9s} {'lt/torch':>9s}")
    for name, (lt_fn, np_fn, torch_fn, arrays) in table.items():
        t_np = timeit(lambda: np_fn(*arrays), args.repeat)
        t_torch = float("nan")
        if torch is not None:
            tensors = [torch.from_numpy(x) for x in arrays]
            t_torch = timeit(lambda: torch_fn(torch, *tensors), args.repeat)
        for dev in devices:
            xs = [lt.tensor(x, device=dev).realize() for x in arrays]
            t_lt = timeit(lambda: (lt_fn(lt, *xs), lt.synchronize(dev)), args.repeat)
            print(f"{name:<38s} {dev:<6s} {t_lt * 1e3:9.3f} {t_np * 1e3:9.3f} {t_torch * 1e3:9.3f} "
                  f"{t_lt / t_np:9.2f} {t_lt / t_torch:9.2f}")


if __name__ == "__main__":
    main()
