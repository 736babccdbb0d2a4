"""The digits MLP training step: lazytensor against PyTorch, measured in the same run.

Run: python benchmarks/bench_digits.py [--device cl|numpy] [--epochs 2]

Same model (64-128-128-10 MLP), optimizer (Adam + cosine schedule), batch size and
data as examples/digits_mlp.py; prints seconds per epoch for both and the ratio.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))


def train_torch(x, y, epochs: int, batch: int, lr: float) -> tuple[float, float]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    torch.manual_seed(0)
    torch.set_num_threads(2)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = len(x) // batch
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps * epochs)
    rng = np.random.default_rng(0)
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        order = rng.permutation(len(x))
        for b in range(steps):
            idx = order[b * batch:(b + 1) * batch]
            loss = F.cross_entropy(model(torch.from_numpy(x[idx])), torch.from_numpy(y[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            loss.item()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), loss.item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default=None)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    import digits_mlp
    x_train, _, y_train, _ = digits_mlp.load_data(0)
    lt_args = ["--epochs", str(args.epochs), "--plot", "", "--no-progress"]
    if args.device:
        lt_args += ["--device", args.device]
    result = digits_mlp.main(lt_args)
    lt_epoch = result["seconds_per_step"] * (len(x_train) // 64)
    torch_epoch, _ = train_torch(x_train, y_train, args.epochs, 64, 3e-3)
    print(f"seconds per epoch: lazytensor {lt_epoch:.3f}, torch {torch_epoch:.3f}, "
          f"ratio lt/torch {lt_epoch / torch_epoch:.2f}")


if __name__ == "__main__":
    main()
