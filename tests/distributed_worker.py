"""One rank of a tests/test_distributed.py scenario, run as `mpirun -n 2 python
tests/distributed_worker.py SCENARIO DEVICE`. Every check raises on a wrong value (the
failing rank then aborts the job, naming itself); a rank that finishes prints
`DONE <scenario> rank=<r> checks=<n>`, which the test looks for."""
from __future__ import annotations

import contextlib
import datetime
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import lazytensor as lt  # noqa: E402
import lazytensor.distributed as dist  # noqa: E402
import lazytensor.nn as nn  # noqa: E402
import lazytensor.nn.functional as F  # noqa: E402
from lazytensor.nn.parallel import DistributedDataParallel as DDP  # noqa: E402
from lazytensor.utils.data import DistributedSampler  # noqa: E402

CHECKS = [0]
RANK = WORLD = 0


def check(name: str, got, want, atol: float = 0.0) -> None:
    """Raise naming the check, this rank and the largest difference unless got ~= want."""
    got = got.numpy() if isinstance(got, lt.Tensor) else np.asarray(got)
    want = np.asarray(want)
    if got.dtype.kind in "OSU" or want.dtype.kind in "OSU":  # names, not numbers
        same = got.tolist() == want.tolist()
    else:
        same = got.shape == want.shape and np.allclose(got, want, rtol=0, atol=atol)
    if not same:
        diff = np.abs(got.astype(np.float64) - want.astype(np.float64)).max() \
            if got.shape == want.shape and got.dtype.kind not in "OSU" else None
        raise AssertionError(f"rank {RANK}: {name}: got {got!r} want {want!r} (shape {got.shape} vs "
                             f"{want.shape}, max |diff| {diff}, atol {atol})")
    CHECKS[0] += 1


def expect_raises(name: str, exc: type, fn, *needles: str) -> str:
    try:
        fn()
    except exc as e:
        missing = [n for n in needles if n not in str(e)]
        if missing:
            raise AssertionError(f"rank {RANK}: {name}: message lacks {missing}: {e}") from e
        CHECKS[0] += 1
        return str(e)
    raise AssertionError(f"rank {RANK}: {name}: no {exc.__name__} raised")


def value(r: int, shape=(3, 4), dtype=np.float32) -> np.ndarray:
    """Rank r's data in the collective checks (distinct per rank, exact in every dtype)."""
    return (np.arange(int(np.prod(shape))).reshape(shape) % 7 + 3 * r + 1).astype(dtype)


def every(shape=(3, 4), dtype=np.float32) -> np.ndarray:
    return np.stack([value(r, shape, dtype) for r in range(WORLD)])


# ---- collectives --------------------------------------------------------------------------------
def collectives(dev: str) -> None:
    all_reduce_ops(dev)
    all_reduce_inplace(dev)
    broadcast_and_gather(dev)
    reduce_scatters(dev)
    objects_and_barrier()
    mismatches(dev)
    sampler_defaults()


def all_reduce_ops(dev: str) -> None:
    ops = {"SUM": every().sum(0), "AVG": every().mean(0), "MAX": every().max(0), "MIN": every().min(0),
           "PRODUCT": every().prod(0)}
    for name, want in ops.items():
        t = lt.tensor(value(RANK), device=dev)
        dist.all_reduce(t, op=getattr(dist.ReduceOp, name))
        check(f"all_reduce {name} float32", t, want)
    t = lt.tensor(value(RANK, dtype=np.int64), device=dev)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    check("all_reduce MAX int64", t, every(dtype=np.int64).max(0))
    check("all_reduce keeps int64", t.dtype == lt.int64, True)
    h = lt.tensor(value(RANK), dtype=lt.float16, device=dev)
    dist.all_reduce(h, op=dist.ReduceOp.AVG)
    check("all_reduce AVG float16", h, every().mean(0).astype(np.float16))
    check("all_reduce keeps float16", h.dtype == lt.float16, True)
    bf = lt.tensor(value(RANK), device=dev).to(lt.bfloat16)  # small integers: exact in bfloat16
    dist.all_reduce(bf)
    check("all_reduce SUM bfloat16", bf.float(), every().sum(0))
    check("all_reduce keeps bfloat16", bf.dtype == lt.bfloat16, True)
    b = lt.tensor(np.arange(4) == RANK, device=dev)  # rank r holds True at r only
    dist.all_reduce(b)  # SUM of bools: any
    check("all_reduce SUM bool", b, np.arange(4) < WORLD)
    expect_raises("AVG of ints", ValueError, lambda: dist.all_reduce(lt.tensor([1, 2], device=dev),
                                                                      op=dist.ReduceOp.AVG), "AVG", "int64")


def all_reduce_inplace(dev: str) -> None:
    """In place through views, lazily built inputs, and parameters that stay leaves."""
    base = lt.tensor(value(RANK), device=dev)
    lazy = base * 2 + 1  # never realised before the collective
    before = lazy + 0  # built before the mutation: keeps the old value, as in PyTorch
    dist.all_reduce(lazy)
    check("all_reduce of a lazy value", lazy, (every() * 2 + 1).sum(0))
    check("a value built before it keeps the old value", before, value(RANK) * 2 + 1)
    whole = lt.tensor(value(RANK), device=dev)
    row = whole[1]
    dist.all_reduce(row)
    want = value(RANK).copy()
    want[1] = every()[:, 1].sum(0)
    check("all_reduce of a view writes through to its base", whole, want)
    col = whole[:, 2]  # a strided view: sent from a copy
    dist.all_reduce(col, op=dist.ReduceOp.MAX)
    want[:, 2] = np.max([np.where(np.arange(3) == 1, want[1, 2], value(r)[:, 2]) for r in range(WORLD)], axis=0)
    check("all_reduce of a strided view", whole, want)
    p = nn.Parameter(lt.tensor(value(RANK), device=dev))
    dist.all_reduce(p, op=dist.ReduceOp.AVG)
    check("all_reduce of a Parameter", p, every().mean(0))
    check("the Parameter is still a leaf that requires grad", (p.is_leaf, p.requires_grad), (True, True))
    (p * 3).sum().backward()
    check("and gets gradients", p.grad, np.full((3, 4), 3.0))


def broadcast_and_gather(dev: str) -> None:
    for src in range(WORLD):
        t = lt.tensor(value(RANK), device=dev)
        dist.broadcast(t, src=src)
        check(f"broadcast from rank {src}", t, value(src))
    t = lt.tensor(value(RANK, dtype=np.int64), device=dev)
    dist.broadcast(t, 1)
    check("broadcast int64", t, value(1, dtype=np.int64))
    outs = [lt.zeros(3, 4, device=dev) for _ in range(WORLD)]
    dist.all_gather(outs, lt.tensor(value(RANK), device=dev))
    for r, out in enumerate(outs):
        check(f"all_gather slot {r}", out, value(r))
    stacked = lt.zeros(WORLD, 3, 4, device=dev)
    dist.all_gather_into_tensor(stacked, lt.tensor(value(RANK), device=dev))
    check("all_gather_into_tensor stacked", stacked, every())
    joined = lt.zeros(WORLD * 3, 4, device=dev)
    dist.all_gather_into_tensor(joined, lt.tensor(value(RANK), device=dev))
    check("all_gather_into_tensor concatenated", joined, every().reshape(WORLD * 3, 4))
    mine = lt.tensor(value(RANK), device=dev)
    dist.reduce(mine, dst=1)
    check("reduce into dst only", mine, every().sum(0) if RANK == 1 else value(RANK))


def reduce_scatters(dev: str) -> None:
    inputs = [lt.tensor(value(RANK) * (k + 1), device=dev) for k in range(WORLD)]  # slot k: for rank k
    out = lt.zeros(3, 4, device=dev)
    dist.reduce_scatter(out, inputs)
    check("reduce_scatter", out, every().sum(0) * (RANK + 1))
    big = lt.tensor(np.concatenate([value(RANK) * (k + 1) for k in range(WORLD)]), device=dev)
    out = lt.zeros(3, 4, device=dev)
    dist.reduce_scatter_tensor(out, big, op=dist.ReduceOp.AVG)
    check("reduce_scatter_tensor AVG", out, every().mean(0) * (RANK + 1))


def objects_and_barrier() -> None:
    got: list = [None] * WORLD
    dist.all_gather_object(got, {"rank": RANK})
    check("all_gather_object", [g["rank"] for g in got], list(range(WORLD)))
    objs = [RANK, f"from {RANK}"]
    dist.broadcast_object_list(objs, src=1)
    check("broadcast_object_list", objs[0], 1)
    dist.barrier()
    check("rank and world size", (dist.get_rank(), dist.get_world_size(), dist.is_initialized()),
          (RANK, WORLD, True))


def mismatches(dev: str) -> None:
    """Each rank raises the same clear error; the group stays usable afterwards."""
    t = lt.zeros(3 + RANK, device=dev)
    expect_raises("shapes differ", ValueError, lambda: dist.all_reduce(t), "all_reduce",
                  "rank 0: all_reduce(op=SUM) of float32 (3,)", "rank 1: all_reduce(op=SUM) of float32 (4,)")
    t = lt.zeros(3, dtype=lt.float32 if RANK == 0 else lt.int64, device=dev)
    expect_raises("dtypes differ", ValueError, lambda: dist.broadcast(t, 0), "broadcast", "float32", "int64")
    t = lt.zeros(3, device=dev)
    call = (lambda: dist.all_reduce(t)) if RANK == 0 else (lambda: dist.broadcast(t, 0))
    expect_raises("different collectives", ValueError, call, "rank 0: all_reduce", "rank 1: broadcast")
    ok = lt.tensor(value(RANK), device=dev)
    dist.all_reduce(ok)
    check("all_reduce after the mismatches", ok, every().sum(0))


def sampler_defaults() -> None:
    """num_replicas and rank come from the group; the shards are disjoint and cover the data."""
    sampler = DistributedSampler(range(11), shuffle=True, seed=3)
    mine = list(sampler)
    got: list = [None] * WORLD
    dist.all_gather_object(got, mine)
    check("shard lengths", [len(g) for g in got], [6] * WORLD)
    check("shards cover the dataset", sorted(set(sum(got, []))), list(range(11)))


# ---- DistributedDataParallel ----------------------------------------------------------------------
CAP_MB = 4500 / 2 ** 20  # 2 buckets for the MLP below (6 parameters)


def mlp(seed: int) -> nn.Module:
    lt.manual_seed(seed)
    return nn.Sequential(nn.Linear(12, 32), nn.Tanh(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 5))


def batches(steps: int, batch: int, seed: int = 11):
    rng = np.random.default_rng(seed)  # the same on every rank
    return (rng.standard_normal((steps, batch, 12)).astype(np.float32),
            rng.integers(0, 5, (steps, batch)).astype(np.int64))


def params_of(model: nn.Module) -> dict:
    return {n: p.numpy() for n, p in model.named_parameters()}


def ddp(dev: str) -> None:
    for opt in ("SGD", "Adam"):
        ddp_matches_one_process(opt)
    no_sync_accumulates()
    unused_parameters()
    buffers_follow_rank0()


def ddp_cl(dev: str) -> None:
    """DDP on OpenCL against the one-process reference on numpy (fewer cold OpenCL compiles)."""
    ddp_matches_one_process("SGD")


@contextlib.contextmanager
def default_device(dev: str):
    previous = lt.get_default_device()
    lt.set_default_device(dev)
    try:
        yield
    finally:
        lt.set_default_device(previous)


def ddp_matches_one_process(opt_name: str) -> None:
    """2 ranks x 32 rows reach the parameters of 1 process x 64 rows, step after step (the
    reference runs on the numpy device: lt.manual_seed draws the same values on every device)."""
    make = {"SGD": lambda ps: lt.optim.SGD(ps, lr=0.1, momentum=0.9),
            "Adam": lambda ps: lt.optim.Adam(ps, lr=0.01)}[opt_name]
    model = mlp(seed=100 + RANK)  # different on each rank: DDP must start from rank 0's
    net = DDP(model, bucket_cap_mb=CAP_MB)
    with default_device("numpy"):
        ref = mlp(seed=100)
    for (name, got), want in zip(params_of(model).items(), params_of(ref).values()):
        check(f"{opt_name}: initial {name} is rank 0's", got, want, atol=1e-7)
    n_params = len(list(model.parameters()))
    check("two buckets, fewer than the parameters", (len(net.buckets), len(net.buckets) < n_params), (2, True))
    opt, ref_opt = make(net.parameters()), make(ref.parameters())
    x, y = batches(10, 32 * WORLD)
    rows = slice(32 * RANK, 32 * (RANK + 1))
    for step in range(10):
        dist.reset_stats()
        opt.zero_grad()
        F.cross_entropy(net(lt.tensor(x[step, rows])), lt.tensor(y[step, rows])).backward()
        check(f"{opt_name} step {step}: one all_reduce per bucket", dist.stats()["all_reduce"]["calls"],
              len(net.buckets))
        opt.step()
        ref_opt.zero_grad()
        F.cross_entropy(ref(lt.tensor(x[step], device="numpy")), lt.tensor(y[step], device="numpy")).backward()
        ref_opt.step()
    for (name, got), want in zip(params_of(model).items(), params_of(ref).values()):
        check(f"{opt_name}: {name} after 10 steps", got, want, atol=1e-5)
    check("state_dict names", list(net.state_dict())[:2], ["module.0.weight", "module.0.bias"])


def no_sync_accumulates() -> None:
    """A micro-batch under no_sync then a synced one: the average of the accumulated grads."""
    model = mlp(seed=7)
    net = DDP(model, bucket_cap_mb=CAP_MB)
    ref = mlp(seed=7)
    x, y = batches(1, 64, seed=5)
    x, y = x[0].reshape(WORLD, 2, -1, 12), y[0].reshape(WORLD, 2, -1)  # [rank, micro-batch, rows]
    dist.reset_stats()
    with net.no_sync():
        F.cross_entropy(net(lt.tensor(x[RANK, 0])), lt.tensor(y[RANK, 0])).backward()
    check("no all_reduce under no_sync", dist.stats().get("all_reduce", {}).get("calls", 0), 0)
    check("no_sync restores syncing", net.require_backward_grad_sync, True)
    F.cross_entropy(net(lt.tensor(x[RANK, 1])), lt.tensor(y[RANK, 1])).backward()
    check("one all_reduce per bucket after", dist.stats()["all_reduce"]["calls"], len(net.buckets))
    losses = [F.cross_entropy(ref(lt.tensor(x[r, m])), lt.tensor(y[r, m])) for r in range(WORLD) for m in range(2)]
    (sum(losses[1:], losses[0]) / WORLD).backward()
    for (name, p), q in zip(model.named_parameters(), ref.parameters()):
        check(f"no_sync: grad of {name}", p.grad, q.grad.numpy(), atol=1e-6)


class Branchy(nn.Module):
    """`b` is used on rank 1 only, `c` on no rank."""

    def __init__(self) -> None:
        super().__init__()
        lt.manual_seed(1)
        self.a, self.b, self.c = nn.Linear(4, 3), nn.Linear(4, 3), nn.Linear(4, 3)

    def forward(self, x, use_b: bool):
        return self.a(x) + self.b(x) if use_b else self.a(x)


def unused_parameters() -> None:
    net = DDP(Branchy(), find_unused_parameters=True)
    xs = [np.arange(8, dtype=np.float32).reshape(2, 4) + r for r in range(WORLD)]
    net(lt.tensor(xs[RANK]), use_b=RANK == 1).sum().backward()
    m = net.module
    check("a parameter no rank used keeps grad None", (m.c.weight.grad is None, m.c.bias.grad is None), (True, True))
    # d sum(W x + b) / dW = ones(3) outer (sum of the rows of x), averaged over the ranks
    check("a's grad: the ranks' average", m.a.weight.grad, np.outer(np.ones(3), sum(x.sum(0) for x in xs)) / WORLD)
    check("b's grad: rank 1's, halved", m.b.weight.grad, np.outer(np.ones(3), xs[1].sum(0)) / WORLD)
    check("b's bias grad", m.b.bias.grad, np.full(3, 2.0) / WORLD)


def buffers_follow_rank0() -> None:
    lt.manual_seed(2)
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
    net = DDP(model)
    net.eval()
    with lt.no_grad():
        model[1].running_mean.copy_(lt.full((4,), float(RANK + 1)))
    net(lt.ones(2, 4))
    check("forward broadcasts rank 0's buffers", model[1].running_mean, np.ones(4))


# ---- failures ---------------------------------------------------------------------------------------
def fail(dev: str) -> None:
    """Rank 1 dies of an exception while rank 0 waits in a collective."""
    dist.barrier()
    if RANK == 1:
        raise RuntimeError("deliberate failure on rank 1")
    dist.all_reduce(lt.zeros(3))  # would wait for ever without the abort


def early_exit(dev: str) -> None:
    """Rank 1 leaves without calling the collective that rank 0 waits in: the timeout ends it."""
    if RANK == 0:
        dist.all_reduce(lt.zeros(3))


SCENARIOS = {"collectives": collectives, "ddp": ddp, "ddp_cl": ddp_cl, "fail": fail, "early_exit": early_exit}


def main() -> None:
    global RANK, WORLD
    scenario, dev = sys.argv[1], sys.argv[2]
    lt.set_default_device(dev)
    timeout = datetime.timedelta(seconds=3) if scenario == "early_exit" else None
    dist.init_process_group("mpi", timeout=timeout)
    RANK, WORLD = dist.get_rank(), dist.get_world_size()
    if WORLD != 2:
        raise SystemExit("the scenarios are written for 2 ranks")
    SCENARIOS[scenario](dev)
    print(f"DONE {scenario} rank={RANK} checks={CHECKS[0]}", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
