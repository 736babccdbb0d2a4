"""The tensor collectives, with PyTorch's names and in-place semantics: each realises what it
sends, moves it through MPI, and writes the result into the given tensors with copy_ (so
views see it and whatever reads it later stays lazy)."""
from __future__ import annotations

from ..movement import cat
from ..tensor_base import TensorBase
from .agreement import agree
from .backend import Group, world
from .reduce_op import WIDENED, ReduceOp, as_reduce_op, mpi_op
from .stats import note
from .transfer import Landing, host_value, write_into


class Work:
    """What `async_op=True` returns. lazytensor's collectives complete before they return,
    so `wait()` has nothing left to wait for."""

    def wait(self, timeout=None) -> bool:
        return True

    def is_completed(self) -> bool:
        return True

    def is_success(self) -> bool:
        return True


def _done(async_op: bool):
    return Work() if async_op else None


def _check_tensor(op: str, t, what: str = "tensor") -> None:
    if not isinstance(t, TensorBase):
        raise TypeError(f"{op}: {what} must be a lt.Tensor, got {type(t).__name__}")


def _check_rank(op: str, g: Group, rank, what: str) -> int:
    if not isinstance(rank, int) or not 0 <= rank < g.size:
        raise ValueError(f"{op}: {what}={rank!r} is not a rank of this group (world size {g.size})")
    return rank


def _check_list(op: str, g: Group, tensors, like: TensorBase, what: str) -> list:
    tensors = list(tensors)
    if len(tensors) != g.size:
        raise ValueError(f"{op}: {what} must hold one tensor per rank ({g.size}), got {len(tensors)}")
    for i, t in enumerate(tensors):
        _check_tensor(op, t, f"{what}[{i}]")
        if tuple(t.shape) != tuple(like.shape) or t.dtype != like.dtype:
            raise ValueError(f"{op}: {what}[{i}] is {t.dtype.name} {tuple(t.shape)} but the tensor is "
                             f"{like.dtype.name} {tuple(like.shape)}; they must match")
    return tensors


def _reduced(g: Group, op: ReduceOp, result: TensorBase) -> TensorBase:
    """AVG is a SUM on the wire; the division is a lazy op that fuses into the readers."""
    return result / g.size if op == ReduceOp.AVG else result


def all_reduce(tensor: TensorBase, op=ReduceOp.SUM, group=None, async_op: bool = False):
    """Reduce `tensor` across all ranks, in place: every rank ends with the result."""
    g = world("all_reduce", group)
    _check_tensor("all_reduce", tensor)
    op = as_reduce_op(op, "all_reduce")
    src = tensor.float() if tensor.dtype in WIDENED else tensor
    mop = mpi_op(g.MPI, op, src.dtype, "all_reduce")
    agree(g, "all_reduce", f"op={op.name}", [tensor])
    send = host_value(src)
    land = Landing(src.dtype, send.shape, tensor.device)
    with g.watchdog.watch("all_reduce"):
        g.comm.Allreduce(send, land.array, op=mop)
    write_into(tensor, _reduced(g, op, land.tensor()))
    note("all_reduce", send.nbytes)
    return _done(async_op)


def reduce(tensor: TensorBase, dst: int, op=ReduceOp.SUM, group=None, async_op: bool = False):
    """Reduce `tensor` across all ranks into rank `dst`'s tensor (the others keep theirs)."""
    g = world("reduce", group)
    _check_tensor("reduce", tensor)
    op, dst = as_reduce_op(op, "reduce"), _check_rank("reduce", g, dst, "dst")
    src = tensor.float() if tensor.dtype in WIDENED else tensor
    mop = mpi_op(g.MPI, op, src.dtype, "reduce")
    agree(g, "reduce", f"op={op.name}, dst={dst}", [tensor])
    send = host_value(src)
    land = Landing(src.dtype, send.shape, tensor.device) if g.rank == dst else None
    with g.watchdog.watch("reduce"):
        g.comm.Reduce(send, None if land is None else land.array, op=mop, root=dst)
    if land is not None:
        write_into(tensor, _reduced(g, op, land.tensor()))
    note("reduce", send.nbytes)
    return _done(async_op)


def broadcast(tensor: TensorBase, src: int, group=None, async_op: bool = False):
    """Every rank's `tensor` takes rank `src`'s value, in place."""
    g = world("broadcast", group)
    _check_tensor("broadcast", tensor)
    src = _check_rank("broadcast", g, src, "src")
    agree(g, "broadcast", f"src={src}", [tensor])
    if g.rank == src:
        data = host_value(tensor)
        with g.watchdog.watch("broadcast"):
            g.comm.Bcast(data, root=src)
    else:
        land = Landing(tensor.dtype, tuple(tensor.shape), tensor.device)
        data = land.array
        with g.watchdog.watch("broadcast"):
            g.comm.Bcast(data, root=src)
        write_into(tensor, land.tensor())
    note("broadcast", data.nbytes)
    return _done(async_op)


def all_gather(tensor_list: list, tensor: TensorBase, group=None, async_op: bool = False):
    """tensor_list[r] takes rank r's `tensor`, on every rank."""
    g = world("all_gather", group)
    _check_tensor("all_gather", tensor)
    outs = _check_list("all_gather", g, tensor_list, tensor, "tensor_list")
    agree(g, "all_gather", "", [tensor])
    gathered = _gather(g, "all_gather", tensor, outs[0].device)
    for r, out in enumerate(outs):
        write_into(out, gathered[r])
    return _done(async_op)


def all_gather_into_tensor(output_tensor: TensorBase, input_tensor: TensorBase, group=None,
                           async_op: bool = False):
    """The ranks' inputs, stacked (shape (world, ...)) or concatenated along dim 0, into output."""
    g = world("all_gather_into_tensor", group)
    _check_tensor("all_gather_into_tensor", input_tensor, "input_tensor")
    _check_tensor("all_gather_into_tensor", output_tensor, "output_tensor")
    shape = tuple(input_tensor.shape)
    fits = [(g.size, *shape)] + ([(g.size * shape[0], *shape[1:])] if shape else [])
    if tuple(output_tensor.shape) not in fits or output_tensor.dtype != input_tensor.dtype:
        raise ValueError(f"all_gather_into_tensor: output_tensor is {output_tensor.dtype.name} "
                         f"{tuple(output_tensor.shape)}, expected {input_tensor.dtype.name} of shape "
                         f"{' or '.join(str(f) for f in fits)} for an input of shape {shape}")
    agree(g, "all_gather_into_tensor", f"output={tuple(output_tensor.shape)}", [input_tensor])
    gathered = _gather(g, "all_gather_into_tensor", input_tensor, output_tensor.device)
    write_into(output_tensor, gathered.reshape(output_tensor.shape))
    return _done(async_op)


def _gather(g: Group, op: str, tensor: TensorBase, device) -> TensorBase:
    """Every rank's `tensor`, stacked along a new first axis, as one tensor on `device`."""
    send = host_value(tensor)
    land = Landing(tensor.dtype, (g.size, *send.shape), device)
    with g.watchdog.watch(op):
        g.comm.Allgather(send, land.array)
    note(op, send.nbytes)
    return land.tensor()


def reduce_scatter(output: TensorBase, input_list: list, op=ReduceOp.SUM, group=None, async_op: bool = False):
    """Rank r's `output` takes the reduction over ranks of their input_list[r]."""
    g = world("reduce_scatter", group)
    _check_tensor("reduce_scatter", output, "output")
    inputs = _check_list("reduce_scatter", g, input_list, output, "input_list")
    packed = cat([t.reshape(-1) for t in inputs])  # lazy: realised by the send as one kernel
    _scatter_reduced(g, "reduce_scatter", output, packed, op)
    return _done(async_op)


def reduce_scatter_tensor(output: TensorBase, input: TensorBase, op=ReduceOp.SUM, group=None,
                          async_op: bool = False):
    """reduce_scatter with the inputs as one tensor: (world, ...) or concatenated along dim 0."""
    g = world("reduce_scatter_tensor", group)
    _check_tensor("reduce_scatter_tensor", output, "output")
    _check_tensor("reduce_scatter_tensor", input, "input")
    if input.numel() != g.size * output.numel() or input.dtype != output.dtype:
        raise ValueError(f"reduce_scatter_tensor: input is {input.dtype.name} {tuple(input.shape)}, expected "
                         f"{output.dtype.name} with {g.size} x {output.numel()} elements for an output of "
                         f"shape {tuple(output.shape)}")
    _scatter_reduced(g, "reduce_scatter_tensor", output, input.reshape(-1), op)
    return _done(async_op)


def _scatter_reduced(g: Group, name: str, output: TensorBase, packed: TensorBase, op) -> None:
    """Reduce the flat `packed` (world blocks of output's size) and keep this rank's block."""
    op = as_reduce_op(op, name)
    src = packed.float() if packed.dtype in WIDENED else packed
    mop = mpi_op(g.MPI, op, src.dtype, name)
    agree(g, name, f"op={op.name}", [output])
    send = host_value(src)
    land = Landing(src.dtype, (output.numel(),), output.device)
    with g.watchdog.watch(name):
        g.comm.Reduce_scatter_block(send, land.array, op=mop)
    write_into(output, _reduced(g, op, land.tensor()).reshape(output.shape))
    note(name, send.nbytes)


def barrier(group=None, async_op: bool = False, device_ids=None):
    """Wait until every rank has reached this call."""
    g = world("barrier", group)
    agree(g, "barrier", "", [])
    with g.watchdog.watch("barrier"):
        g.comm.Barrier()
    note("barrier", 0)
    return _done(async_op)
