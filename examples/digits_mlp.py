"""Train an MLP on scikit-learn's bundled digits (8x8 images, no download) with lazytensor.

Run: python examples/digits_mlp.py [--device cl|numpy] [--epochs 30] [--steps N] [--plot loss.png]

Prints the test accuracy, the kernels compiled and launched (lt.stats()) and the time per
step; saves the training-loss curve as a PNG (matplotlib, Agg backend).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import lazytensor as lt
import lazytensor.nn as nn
import lazytensor.nn.functional as F


def load_data(seed: int = 0):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    return train_test_split(x, y, test_size=0.25, random_state=seed, stratify=y)


class MLP(nn.Module):
    def __init__(self, hidden: int = 128) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(),
                                 nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 10))

    def forward(self, x: lt.Tensor) -> lt.Tensor:
        return self.net(x)


def evaluate(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    model.eval()
    with lt.no_grad():
        pred = model(lt.tensor(x)).argmax(1).numpy()
    model.train()
    return float((pred == y).mean())


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default=None, help="cl or numpy (default: lazytensor's default device)")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--steps", type=int, default=None, help="stop after this many steps in all (for CI)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default="digits_loss.png", help="where to save the loss curve ('' for none)")
    parser.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    args = parser.parse_args(argv)
    if args.device:
        lt.set_default_device(args.device)
    device = lt.get_default_device()
    print(f"lazytensor digits MLP on device '{device}'")

    x_train, x_test, y_train, y_test = load_data(args.seed)
    lt.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    model = MLP(args.hidden)
    opt = lt.optim.Adam(model.parameters(), lr=args.lr)
    steps_per_epoch = len(x_train) // args.batch_size  # whole batches only: one shape, one compile
    total = steps_per_epoch * args.epochs if args.steps is None else args.steps
    sched = lt.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(total, 1))

    from tqdm import tqdm
    bar = tqdm(total=total, disable=args.no_progress, unit="step")
    losses: list[float] = []
    lt.reset_stats()
    start = time.perf_counter()
    step = 0
    epoch_times = []
    while step < total:
        epoch_start = time.perf_counter()
        order = rng.permutation(len(x_train))
        for b in range(steps_per_epoch):
            if step >= total:
                break
            idx = order[b * args.batch_size:(b + 1) * args.batch_size]
            xb, yb = lt.tensor(x_train[idx]), lt.tensor(y_train[idx])
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            value = loss.item()
            losses.append(value)
            bar.set_postfix(loss=f"{value:.4f}")
            bar.update(1)
            step += 1
        epoch_times.append(time.perf_counter() - epoch_start)
    bar.close()
    elapsed = time.perf_counter() - start
    stats = lt.stats()
    acc = evaluate(model, x_test, y_test)
    print(f"test accuracy: {acc * 100:.2f}% ({len(y_test)} images)")
    print(f"steps: {step}, time per step: {elapsed / max(step, 1) * 1e3:.2f} ms "
          f"(seconds per epoch: {np.median(epoch_times) if epoch_times else 0:.3f})")
    print(f"kernels compiled: {stats.kernels_compiled}, launched: {stats.kernels_launched} "
          f"({stats.kernels_launched / max(step, 1):.1f} per step)")
    print(f"loss: first {losses[0]:.4f}, last {np.mean(losses[-10:]):.4f}")
    if args.plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot(losses, lw=1)
        ax.set_xlabel("step")
        ax.set_ylabel("cross-entropy")
        ax.set_yscale("log")
        ax.set_title(f"digits MLP on {device}: test accuracy {acc * 100:.1f}%")
        fig.tight_layout()
        fig.savefig(args.plot, dpi=100)
        print(f"loss curve saved to {args.plot}")
    return {"accuracy": acc, "losses": losses, "seconds_per_step": elapsed / max(step, 1)}


if __name__ == "__main__":
    main()
