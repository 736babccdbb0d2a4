"""Data-parallel training of an MLP on scikit-learn's digits with lt.distributed.

Run on one machine with 2 processes (mpirun comes with `pip install "lazytensor[distributed]"`):
    mpirun -n 2 python examples/ddp_mlp.py [--device cl|numpy] [--epochs 20]
or as a single process (the same script, world size 1):
    python examples/ddp_mlp.py

Every rank builds the same model (DistributedDataParallel broadcasts rank 0's parameters),
reads its own shard of each epoch (DistributedSampler), and after each backward the
gradients are averaged over the ranks in a few bucketed all_reduces, so all ranks take the
same optimizer steps. Rank 0 prints the loss, the test accuracy and the time per step.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import lazytensor as lt
import lazytensor.distributed as dist
import lazytensor.nn as nn
import lazytensor.nn.functional as F
from lazytensor.nn.parallel import DistributedDataParallel as DDP
from lazytensor.utils.data import DataLoader, DistributedSampler, TensorDataset


def load_data(seed: int = 0):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    return train_test_split(x, y, test_size=0.25, random_state=seed, stratify=y)


def mlp(hidden: int) -> nn.Module:
    return nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, 10))


def mean_over_ranks(value: float) -> float:
    t = lt.tensor([value])
    dist.all_reduce(t, op=dist.ReduceOp.AVG)
    return t.item()


def same_on_every_rank(model: nn.Module) -> bool:
    """Do all ranks hold exactly the same parameters? (they should: same start, same steps)"""
    flat = np.concatenate([p.numpy().ravel() for p in model.parameters()])
    lo, hi = lt.tensor(flat), lt.tensor(flat)
    dist.all_reduce(lo, op=dist.ReduceOp.MIN)
    dist.all_reduce(hi, op=dist.ReduceOp.MAX)
    return bool((lo.numpy() == hi.numpy()).all())


def evaluate(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    model.eval()
    with lt.no_grad():
        pred = model(lt.tensor(x)).argmax(1).numpy()
    model.train()
    return float((pred == y).mean())


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default=None, help="cl or numpy (default: lazytensor's default device)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32, help="per process (the global batch is n times this)")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bucket-cap-mb", type=float, default=25.0)
    args = parser.parse_args(argv)
    if args.device:
        lt.set_default_device(args.device)

    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    say = print if rank == 0 else (lambda *a, **k: None)
    say(f"lazytensor DDP digits MLP: world size {world}, device '{lt.get_default_device()}'")

    x_train, x_test, y_train, y_test = load_data(args.seed)
    # rows as NumPy arrays: the loader gathers a batch on the host and uploads it as one tensor
    train = TensorDataset(x_train, y_train)
    sampler = DistributedSampler(train, shuffle=True, seed=args.seed)
    # whole batches only: one shape, one compile
    loader = DataLoader(train, batch_size=args.batch_size, sampler=sampler, drop_last=True)

    lt.manual_seed(args.seed + rank)  # different on purpose: DDP starts every rank from rank 0's
    model = DDP(mlp(args.hidden), bucket_cap_mb=args.bucket_cap_mb)
    opt = lt.optim.Adam(model.parameters(), lr=args.lr)
    say(f"{len(list(model.parameters()))} parameters in {len(model.buckets)} gradient bucket(s); "
        f"{len(loader)} steps per epoch per process")

    first = last = None
    step_times: list[float] = []
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)  # a new shuffle, the same on every rank
        total = 0.0
        for xb, yb in loader:
            start = time.perf_counter()
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()  # ... and the gradients' all_reduce
            opt.step()
            total += loss.item()  # this rank's loss; averaged over the ranks once per epoch
            step_times.append(time.perf_counter() - start)
            if first is None:
                first = mean_over_ranks(total)
        last = mean_over_ranks(total / len(loader))
        say(f"epoch {epoch}: mean loss {last:.4f}")

    accuracy = evaluate(model.module, x_test, y_test)
    identical = same_on_every_rank(model.module)
    say(f"loss: first {first:.4f}, last {last:.4f}")
    say(f"test accuracy {accuracy:.3f}; parameters identical on every rank: {identical}")
    say(f"{len(step_times)} steps per process: the first {step_times[0]:.2f} s (compiling), then "
        f"{1e3 * float(np.median(step_times[1:] or step_times)):.1f} ms per step (median; global batch "
        f"{args.batch_size * world})")
    dist.destroy_process_group()
    return {"first": first, "last": last, "accuracy": accuracy, "identical": identical}


if __name__ == "__main__":
    main()
