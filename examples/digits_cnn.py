"""Train a small CNN on scikit-learn's bundled digits (8x8 images, no download) with lazytensor.

The batches come from torch.utils.data: a TensorDataset read through a shuffling DataLoader.

Run: python examples/digits_cnn.py [--device cl|numpy] [--epochs 5] [--quick]

Prints the loss of each epoch, the test accuracy, the kernels compiled and launched
(lt.stats()) and the time per step.  --quick (for CI) trains 2 epochs on half the data.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import lazytensor as torch
import lazytensor.nn as nn
import lazytensor.nn.functional as F
from lazytensor.utils.data import DataLoader, TensorDataset


def load_data(seed: int = 0, train_fraction: float = 1.0):
    """(x_train, x_test, y_train, y_test): images as (N, 1, 8, 8) float32 in [0, 1]."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=seed, stratify=y)
    keep = int(len(x_train) * train_fraction)  # the split is shuffled, so a prefix is a fair subset
    return x_train[:keep], x_test, y_train[:keep], y_test


class CNN(nn.Module):
    """Two conv-ReLU-pool stages (8x8 -> 4x4 -> 2x2) and a linear classifier."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(32 * 2 * 2, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def make_loader(dataset: TensorDataset, batch_size: int, seed: int) -> DataLoader:
    """Shuffled batches of ``batch_size`` rows (whole batches only: one shape, one compile)."""
    return DataLoader(dataset, batch_size=batch_size, shuffle=True, drop_last=True,
                      generator=torch.Generator().manual_seed(seed))


def evaluate(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    """Fraction of the images classified correctly."""
    model.eval()
    with torch.no_grad():
        pred = model(torch.tensor(x)).argmax(1).numpy()
    model.train()
    return float((pred == y).mean())


def train_epoch(model: nn.Module, opt, loader: DataLoader, step_times: list[float]) -> float:
    """One pass over the loader; appends each step's seconds to step_times, returns the mean loss."""
    losses = []
    for xb, yb in loader:
        start = time.perf_counter()
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())  # .item() waits for the step, so the time below is all of it
        step_times.append(time.perf_counter() - start)
    return float(np.mean(losses))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default=None, help="cl or numpy (default: lazytensor's default device)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-fraction", type=float, default=1.0, help="train on this share of the data")
    parser.add_argument("--quick", action="store_true", help="reduced run for CI: 2 epochs, half the data")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.train_fraction = 2, 0.5
    if args.device:
        torch.set_default_device(args.device)
    print(f"lazytensor digits CNN on device '{torch.get_default_device()}'")

    x_train, x_test, y_train, y_test = load_data(args.seed, args.train_fraction)
    torch.manual_seed(args.seed)
    dataset = TensorDataset(torch.tensor(x_train), torch.tensor(y_train))
    loader = make_loader(dataset, args.batch_size, args.seed)
    model = CNN()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)

    torch.reset_stats()
    start = time.perf_counter()
    losses: list[float] = []
    step_times: list[float] = []
    for epoch in range(args.epochs):
        losses.append(train_epoch(model, opt, loader, step_times))
        print(f"epoch {epoch + 1:3d}  loss {losses[-1]:.4f}")
    elapsed = time.perf_counter() - start
    stats = torch.stats()
    acc = evaluate(model, x_test, y_test)
    steps = len(step_times)
    print(f"test accuracy: {acc * 100:.2f}% ({len(y_test)} images, trained on {len(x_train)})")
    # The first steps compile the kernels; the median is the cost of a step once they are built.
    print(f"steps: {steps}, time per step: {elapsed / max(steps, 1) * 1e3:.2f} ms "
          f"(median {np.median(step_times) * 1e3 if steps else 0:.2f} ms)")
    print(f"kernels compiled: {stats.kernels_compiled}, launched: {stats.kernels_launched} "
          f"({stats.kernels_launched / max(steps, 1):.1f} per step)")
    return {"accuracy": acc, "losses": losses, "seconds_per_step": elapsed / max(steps, 1),
            "median_step_seconds": float(np.median(step_times)) if steps else 0.0}


if __name__ == "__main__":
    main()
