"""DistributedDataParallel, as PyTorch's: the same module on every rank, parameters and
buffers broadcast from rank 0 at the start, gradients averaged over the ranks at the end of
every backward, in a few bucketed all_reduces."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from ... import distributed as dist
from ...autodiff.backprop import queue_callback
from ...distributed.transfer import write_into
from ...tensor_base import realize
from ..module import Module
from .buckets import Bucket, all_reduce_bucket, make_buckets
from .packing import flat, unflatten

DEFAULT_BUCKET_CAP_MB = 25  # PyTorch's bucket_cap_mb


class DistributedDataParallel(Module):
    """Wraps `module`; forward passes through, backward also averages gradients over ranks.
    device_ids, output_device, dim, find_unused_parameters (unused parameters are always
    handled), check_reduction, gradient_as_bucket_view and static_graph are accepted for
    PyTorch scripts and change nothing."""

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0,
                 broadcast_buffers: bool = True, process_group=None, bucket_cap_mb: float | None = None,
                 find_unused_parameters: bool = False, check_reduction: bool = False,
                 gradient_as_bucket_view: bool = False, static_graph: bool = False, init_sync: bool = True) -> None:
        super().__init__()
        if not dist.is_initialized():
            raise RuntimeError("DistributedDataParallel: the default process group has not been initialized; "
                               "call lt.distributed.init_process_group() first (and launch with mpirun)")
        self.module = module
        self.broadcast_buffers = broadcast_buffers
        self.world_size = dist.get_world_size(process_group)
        self.require_backward_grad_sync = True
        cap = DEFAULT_BUCKET_CAP_MB if bucket_cap_mb is None else bucket_cap_mb
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        self._buckets: list[Bucket] = make_buckets(named, max(int(cap * 2 ** 20), 1))
        _check_same_model(module)
        if init_sync:
            _broadcast_coalesced([t for _, t in module.named_parameters()] + list(module.buffers()))
        self._hooks = [p.register_hook(self._grad_ready) for _, p in named] if self.world_size > 1 else []

    @property
    def buckets(self) -> list[tuple[str, ...]]:
        """The parameter names of each gradient bucket, in the order they are reduced."""
        return [tuple(b.names) for b in self._buckets]

    def forward(self, *args, **kwargs):
        if self.broadcast_buffers and self.world_size > 1:
            buffers = list(self.module.buffers())
            if buffers:  # PyTorch's: rank 0's running statistics win, every forward
                _broadcast_coalesced(buffers)
        return self.module(*args, **kwargs)

    @contextmanager
    def no_sync(self) -> Iterator[None]:
        """Backward inside accumulates gradients locally; the first backward after syncs them."""
        previous, self.require_backward_grad_sync = self.require_backward_grad_sync, False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    def _grad_ready(self, grad):
        """A parameter's gradient arrived: sync them all when this backward ends (queued once)."""
        if self.require_backward_grad_sync:
            queue_callback(self._sync_gradients)
        return None

    def _sync_gradients(self) -> None:
        for bucket in self._buckets:
            all_reduce_bucket(bucket, self.world_size)


def _check_same_model(module: Module) -> None:
    """Every rank must wrap the same parameters and buffers: else raise naming the first difference."""
    mine = [(n, tuple(t.shape), t.dtype.name) for n, t in
            list(module.named_parameters()) + list(module.named_buffers())]
    everyone: list = [None] * dist.get_world_size()
    dist.all_gather_object(everyone, mine)
    for r, theirs in enumerate(everyone):
        if theirs != everyone[0]:
            diff = next((a, b) for a, b in zip(everyone[0] + [None], theirs + [None]) if a != b)
            raise ValueError(f"DistributedDataParallel: rank {r}'s module differs from rank 0's: "
                             f"rank 0 has {diff[0]}, rank {r} has {diff[1]} (name, shape, dtype)")


def _broadcast_coalesced(tensors: list) -> None:
    """Rank 0's values into `tensors` on every rank: one broadcast per (device, dtype)."""
    groups: dict[tuple[str, str], list] = {}
    for t in tensors:
        groups.setdefault((str(t.device), t.dtype.name), []).append(t)
    for (device, _), group in groups.items():
        message = flat([(t, t.numel()) for t in group], [], group[0].dtype, device)
        dist.broadcast(message, src=0)
        if dist.get_rank() != 0:
            for t, value in zip(group, unflatten(message, [tuple(t.shape) for t in group])):
                write_into(t, value)
            realize(*group)  # each tensor its own buffer again, not a view of the message
