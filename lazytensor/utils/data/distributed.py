"""DistributedSampler, as torch.utils.data.distributed's: each rank reads a disjoint shard
of the dataset (padded by repeating indices so every shard has the same length, unless
drop_last), in an order that every rank draws the same way from (seed, epoch)."""
from __future__ import annotations

import math
from typing import Iterator

import numpy as np

from ... import distributed as dist
from .sampler import Sampler


def _from_group(value: int | None, getter, what: str) -> int:
    if value is not None:
        return int(value)
    if not dist.is_initialized():
        raise RuntimeError(f"DistributedSampler: {what} not given and the default process group has not "
                           "been initialized (call lt.distributed.init_process_group() or pass it)")
    return getter()


class DistributedSampler(Sampler):
    """Indices of this rank's shard: rank, rank + num_replicas, ... of the (shuffled) order."""

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = False) -> None:
        num_replicas = _from_group(num_replicas, dist.get_world_size, "num_replicas")
        rank = _from_group(rank, dist.get_rank, "rank")
        if num_replicas < 1 or not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset, self.num_replicas, self.rank = dataset, num_replicas, rank
        self.shuffle, self.seed, self.drop_last, self.epoch = shuffle, seed, drop_last, 0
        n = len(dataset)
        if drop_last and n % num_replicas:  # drop the tail so that every shard has the same length
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def _order(self) -> list[int]:
        n = len(self.dataset)
        if not self.shuffle:
            return list(range(n))
        return np.random.default_rng([self.seed, self.epoch]).permutation(n).tolist()

    def __iter__(self) -> Iterator[int]:
        indices = self._order()
        if self.drop_last:
            indices = indices[:self.total_size]
        elif indices:  # pad by repeating from the start (more than once for a tiny dataset)
            short = self.total_size - len(indices)
            indices += (indices * math.ceil(short / len(indices)))[:short]
        return iter(indices[self.rank:self.total_size:self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Shuffle differently this epoch (the same on every rank)."""
        self.epoch = int(epoch)
