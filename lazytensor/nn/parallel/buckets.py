"""Gradient buckets: parameters grouped (by device and dtype, up to a byte cap) so that one
all_reduce averages many gradients (packing.py makes the message); unpacking writes views
of the reduced message into each .grad, lazily."""
from __future__ import annotations

from dataclasses import dataclass, field

from ... import distributed as dist
from ...autodiff.grad_mode import no_grad
from ...creation import zeros_like
from ..parameter import Parameter
from .packing import flat, unflatten


@dataclass
class Bucket:
    """Parameters whose gradients travel in one message, in packing order."""
    names: list[str] = field(default_factory=list)
    params: list[Parameter] = field(default_factory=list)
    nbytes: int = 0

    def add(self, name: str, p: Parameter) -> None:
        self.names.append(name)
        self.params.append(p)
        self.nbytes += p.numel() * p.dtype.itemsize


def make_buckets(named_params: list[tuple[str, Parameter]], cap_bytes: int) -> list[Bucket]:
    """Buckets in reverse parameter order (PyTorch's: roughly the order backward finishes
    gradients), a new one once a bucket reaches `cap_bytes` or the device or dtype changes."""
    buckets: list[Bucket] = []
    open_: dict[tuple[str, str], Bucket] = {}
    for name, p in reversed(named_params):
        key = (str(p.device), p.dtype.name)
        bucket = open_.get(key)
        if bucket is None:
            bucket = open_[key] = Bucket()
            buckets.append(bucket)
        bucket.add(name, p)
        if bucket.nbytes >= cap_bytes:
            del open_[key]
    return buckets


def all_reduce_bucket(bucket: Bucket, world_size: int) -> None:
    """Average the bucket's gradients over the ranks, in one all_reduce, into each .grad.
    The message ends with one count per parameter of the ranks that have its gradient: a
    parameter no rank has a gradient for keeps .grad None (as PyTorch's DDP)."""
    params = bucket.params
    like = params[0]
    with no_grad():
        message = flat([(p.grad, p.numel()) for p in params], [float(p.grad is not None) for p in params],
                       like.dtype, str(like.device))
        dist.all_reduce(message)
        users = message[message.numel() - len(params):].numpy()  # a view of the received buffer: no kernel
        for p, n_users, value in zip(params, users, unflatten(message, [tuple(p.shape) for p in params])):
            if n_users > 0:
                _write_grad(p, value / world_size)  # a lazy division: it fuses into the optimizer's read


def _write_grad(p: Parameter, value) -> None:
    """p.grad takes `value` in place (a tensor the user holds sees it), or is made from it."""
    if p.grad is None:
        p.grad = zeros_like(p)
    p.grad.copy_(value)
