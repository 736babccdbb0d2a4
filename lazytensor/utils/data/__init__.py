"""torch.utils.data for lazytensor: datasets, samplers, random_split and DataLoader.

Loading runs in the calling process (`num_workers` above 0 is accepted and runs the same
way). Shuffling draws its orders on the host from a NumPy generator: seeded by the
`generator` given (an `lt.Generator`), else by lazytensor's global seed, so that
`lt.manual_seed` makes an epoch's order reproducible.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from ...random import Generator, host_rng
from ...tensor_base import TensorBase
from .sampler import Sampler


class Dataset:
    """A map-style dataset: `__getitem__(i)` and `__len__`."""

    def __getitem__(self, index):
        raise NotImplementedError

    def __add__(self, other: "Dataset") -> "ConcatDataset":
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A dataset read by iterating it (`__iter__`)."""

    def __iter__(self):
        raise NotImplementedError

    def __add__(self, other: "Dataset") -> "ChainDataset":
        return ChainDataset([self, other])


class TensorDataset(Dataset):
    """Row i of every tensor, as a tuple."""

    def __init__(self, *tensors: TensorBase):
        if any(t.shape[0] != tensors[0].shape[0] for t in tensors):
            raise ValueError(f"TensorDataset: size mismatch between tensors: {[tuple(t.shape) for t in tensors]}")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def collated(self, indices: Sequence[int]) -> list:
        """What default_collate makes of these rows, read as one gather per tensor: stacking
        single rows would put each row's offset in the graph, a new kernel every batch.
        (Rows of a NumPy array are gathered on the host and uploaded as one tensor.)"""
        from ...creation import tensor
        rows = tensor(list(indices))
        return [t[rows.to(t.device)] if isinstance(t, TensorBase) else tensor(np.asarray(t)[np.asarray(indices)])
                for t in self.tensors]

    def gathers_rows(self) -> bool:
        """Whether every member is a tensor or NumPy array (what `collated` reads)."""
        return all(isinstance(t, (TensorBase, np.ndarray)) for t in self.tensors)


class ConcatDataset(Dataset):
    def __init__(self, datasets: Sequence[Dataset]):
        self.datasets = list(datasets)
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]))

    def __len__(self) -> int:
        return int(self.cumulative_sizes[-1]) if self.cumulative_sizes else 0

    def __getitem__(self, index: int):
        if index < 0:
            index += len(self)
        which = int(np.searchsorted(self.cumulative_sizes, index, side="right"))
        start = 0 if which == 0 else int(self.cumulative_sizes[which - 1])
        return self.datasets[which][index - start]


class StackDataset(Dataset):
    """Row i of every dataset, as a tuple (positional datasets) or a dict (keyword datasets)."""

    def __init__(self, *args: Dataset, **kwargs: Dataset) -> None:
        if args and kwargs:
            raise ValueError("StackDataset: supported either tuple-like (via args) or dict-like (via kwargs) "
                             "input/output, but both types are given")
        if not args and not kwargs:
            raise ValueError("StackDataset: at least one dataset should be passed")
        self.datasets: tuple | dict = args or kwargs
        lengths = [len(d) for d in (args or kwargs.values())]
        if any(n != lengths[0] for n in lengths):
            raise ValueError(f"StackDataset: size mismatch between datasets: {lengths}")
        self._length = lengths[0]

    def __getitem__(self, index):
        if isinstance(self.datasets, dict):
            return {k: d[index] for k, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    def __len__(self) -> int:
        return self._length


class ChainDataset(IterableDataset):
    """The items of several iterable datasets, one after another."""

    def __init__(self, datasets) -> None:
        self.datasets = datasets

    def _checked(self):
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise AssertionError(f"ChainDataset only supports IterableDataset, got {type(d).__name__}")
            yield d

    def __iter__(self):
        for d in self._checked():
            yield from d

    def __len__(self) -> int:
        return sum(len(d) for d in self._checked())


class Subset(Dataset):
    def __init__(self, dataset: Dataset, indices: Sequence[int]):
        self.dataset, self.indices = dataset, list(indices)

    def __getitem__(self, index):
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)


def _rng(generator: Generator | None) -> np.random.Generator:
    return generator.host_rng() if generator is not None else host_rng()


def random_split(dataset: Dataset, lengths: Sequence[float], generator: Generator | None = None) -> list[Subset]:
    """Disjoint random subsets of the given lengths (or fractions summing to 1)."""
    n = len(dataset)
    if all(0 <= x <= 1 for x in lengths) and math.isclose(sum(lengths), 1) and sum(lengths) != n:
        sizes = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
    else:
        sizes = [int(x) for x in lengths]
    if sum(sizes) != n:
        raise ValueError(f"random_split: sum of input lengths {sizes} does not equal the length of the dataset ({n})")
    order = _rng(generator).permutation(n).tolist()
    out, start = [], 0
    for size in sizes:
        out.append(Subset(dataset, order[start:start + size]))
        start += size
    return out


class SequentialSampler(Sampler):
    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """A new random order every epoch (or `num_samples` draws with replacement)."""

    def __init__(self, data_source, replacement: bool = False, num_samples: int | None = None,
                 generator: Generator | None = None):
        self.data_source, self.replacement, self.generator = data_source, replacement, generator
        self._num_samples = num_samples
        self._rng: np.random.Generator | None = None

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        if self._rng is None:  # drawn once: each epoch continues the stream, as PyTorch's does
            self._rng = _rng(self.generator)
        n = len(self.data_source)
        if self.replacement:
            return iter(self._rng.integers(0, n, self.num_samples).tolist())
        return iter(self._rng.permutation(n).tolist()[:self.num_samples])

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a new random order every epoch."""

    def __init__(self, indices: Sequence[int], generator: Generator | None = None) -> None:
        self.indices, self.generator = indices, generator

    def __iter__(self) -> Iterator[int]:
        for i in _rng(self.generator).permutation(len(self.indices)).tolist():
            yield self.indices[i]

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """`num_samples` indices drawn with probabilities proportional to `weights`."""

    def __init__(self, weights, num_samples: int, replacement: bool = True,
                 generator: Generator | None = None) -> None:
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError(f"replacement should be a boolean value, but got replacement={replacement}")
        host = weights.numpy() if isinstance(weights, TensorBase) else weights
        self.weights = np.asarray(host, dtype=np.float64)
        if self.weights.ndim != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape {self.weights.shape}")
        self.num_samples, self.replacement, self.generator = num_samples, replacement, generator

    def _checked_weights(self) -> np.ndarray:
        """The weights, refused as torch.multinomial refuses them."""
        w = self.weights
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise RuntimeError("WeightedRandomSampler: probability tensor contains either `inf`, `nan` or "
                               "element < 0")
        if w.sum() <= 0:
            raise RuntimeError("WeightedRandomSampler: invalid multinomial distribution (sum of probabilities <= 0)")
        if not self.replacement and self.num_samples > len(w):
            raise RuntimeError(f"WeightedRandomSampler: cannot sample n_sample ({self.num_samples}) > "
                               f"prob_dist.size(-1) ({len(w)}) samples without replacement")
        return w

    def __iter__(self) -> Iterator[int]:
        w, rng = self._checked_weights(), _rng(self.generator)
        if self.replacement:
            yield from rng.choice(len(w), self.num_samples, p=w / w.sum()).tolist()
            return
        # without replacement: weighted keys (Efraimidis-Spirakis); zero weights come last, in
        # random order, as torch.multinomial draws them once the others are used up
        with np.errstate(divide="ignore"):
            keys = -np.log(rng.random(len(w))) / w
        yield from np.lexsort((rng.random(len(w)), keys))[:self.num_samples].tolist()

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    def __init__(self, sampler, batch_size: int, drop_last: bool):
        if not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def __iter__(self) -> Iterator[list[int]]:
        batch: list[int] = []
        for i in self.sampler:
            batch.append(i)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)


def default_collate(batch: list) -> Any:
    """Stack tensors, make tensors of numbers, and recurse into tuples, lists and dicts."""
    from ...creation import tensor
    from ...movement import stack
    first = batch[0]
    if isinstance(first, TensorBase):
        return stack(list(batch))
    if isinstance(first, np.ndarray):
        return tensor(np.stack(batch))
    if isinstance(first, (bool, int, float, np.number)):
        return tensor(list(batch))
    if isinstance(first, (str, bytes)):
        return list(batch)
    if isinstance(first, dict):
        return {k: default_collate([b[k] for b in batch]) for k in first}
    if isinstance(first, tuple) and hasattr(first, "_fields"):
        return type(first)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(first, (tuple, list)):
        if any(len(b) != len(first) for b in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        return [default_collate(list(s)) for s in zip(*batch)]
    raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
                    f"found {type(first).__name__}")


def default_convert(data: Any) -> Any:
    """NumPy arrays and scalars become tensors, inside sequences and mappings too; anything
    else is left as it is (a DataLoader's collate_fn when it does not batch)."""
    from ...creation import as_tensor
    if isinstance(data, TensorBase):
        return data
    if isinstance(data, (np.ndarray, np.number, np.bool_)):
        return data if data.dtype.kind in "OSU" else as_tensor(data)
    if isinstance(data, dict):
        return type(data)({k: default_convert(v) for k, v in data.items()})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, (tuple, list)):  # a tuple becomes a list, as in PyTorch
        return [default_convert(d) for d in data]
    return data


def get_worker_info() -> None:
    """Loading runs in the calling process, which has no worker info (PyTorch's None)."""
    return None


class DataLoader:
    """Batches of a dataset, as torch.utils.data.DataLoader (loading in this process)."""

    def __init__(self, dataset, batch_size: int | None = 1, shuffle: bool = False, sampler=None,
                 batch_sampler=None, num_workers: int = 0, collate_fn: Callable | None = None,
                 pin_memory: bool = False, drop_last: bool = False, timeout: float = 0,
                 worker_init_fn=None, generator: Generator | None = None, *, prefetch_factor=None,
                 persistent_workers: bool = False, pin_memory_device: str = "") -> None:
        self.dataset, self.batch_size, self.drop_last = dataset, batch_size, drop_last
        self.num_workers, self.generator = num_workers, generator
        batches = batch_size is not None or batch_sampler is not None
        self.collate_fn = collate_fn or (default_collate if batches else default_convert)
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            if shuffle or sampler is not None or batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified shuffle, sampler and "
                                 "batch_sampler options")
            self.sampler = self.batch_sampler = None
            return
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if sampler is None:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        self.sampler = sampler
        if batch_sampler is None and batch_size is not None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_sampler = batch_sampler

    def __iter__(self) -> Iterator:
        if self._iterable:
            yield from self._iterate_stream()
            return
        if self.batch_sampler is None:  # batch_size=None: single items, converted one by one
            for i in self.sampler:
                yield self.collate_fn(self.dataset[i])
            return
        gathers = (self.collate_fn is default_collate and isinstance(self.dataset, TensorDataset)
                   and self.dataset.gathers_rows())
        for indices in self.batch_sampler:
            yield self.dataset.collated(indices) if gathers else self.collate_fn([self.dataset[i] for i in indices])

    def _iterate_stream(self) -> Iterator:
        if self.batch_size is None:
            yield from map(self.collate_fn, self.dataset)
            return
        batch = []
        for item in self.dataset:
            batch.append(item)
            if len(batch) == self.batch_size:
                yield self.collate_fn(batch)
                batch = []
        if batch and not self.drop_last:
            yield self.collate_fn(batch)

    def __len__(self) -> int:
        if self._iterable:
            raise TypeError("an IterableDataset's DataLoader has no len()")
        return len(self.batch_sampler) if self.batch_sampler is not None else len(self.sampler)


from . import distributed  # noqa: E402  (torch.utils.data.distributed)
from .distributed import DistributedSampler  # noqa: E402

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "ConcatDataset", "StackDataset", "ChainDataset", "Subset",
           "random_split", "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "BatchSampler", "DataLoader", "default_collate", "default_convert",
           "get_worker_info", "DistributedSampler"]
