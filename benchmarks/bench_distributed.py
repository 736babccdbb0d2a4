"""lt.distributed benchmarks: all_reduce bandwidth against plain mpi4py on NumPy arrays, and
the step-time overhead of DistributedDataParallel, in one run.

Run:
    python benchmarks/bench_distributed.py            # launches itself under `mpirun -n 2`
    python benchmarks/bench_distributed.py --quick    # a few sizes, small model (seconds)
    mpirun -n 4 python benchmarks/bench_distributed.py --rounds 9

Table 1: the time of one all_reduce (SUM, float32) of each size, for plain mpi4py
(`comm.Allreduce` from one NumPy array into another) and for `lt.distributed.all_reduce` on a
tensor of each lazytensor device (what it adds: the check that the ranks agree, one small
message; reading the tensor to the host and writing the result back: no copy on numpy, one
each way on cl). `GB/s` is the algorithm bandwidth, bytes / time. The contestants take turns
in each round; every cell is the median over rounds of the slowest rank's time per call.

Table 2: the time of one training step (forward, backward, optimizer step, parameters
realised) of an MLP on each rank: `local` steps each rank's model on its own (no messages;
every rank computes at once, so the CPUs are as busy as under DDP), `ddp` wraps it in
DistributedDataParallel (gradients averaged in buckets). `overhead` = ddp - local.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from typing import Callable

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

MPI_RANK_VARS = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "MV2_COMM_WORLD_RANK")


def under_mpi() -> bool:
    return any(v in os.environ for v in MPI_RANK_VARS)


def mpirun() -> str | None:
    beside = os.path.join(os.path.dirname(sys.executable), "mpirun")
    return beside if os.path.exists(beside) else shutil.which("mpirun")


THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "POCL_MAX_PTHREAD_COUNT", "POCL_CPU_MAX_CU_COUNT")


def relaunch(argv: list[str], n: int) -> int:
    """Run this script under `mpirun -n n` with the same Python and arguments, each rank
    using its share of the cores (BLAS's and PoCL's thread pools would each take them all,
    and ranks fighting over cores make every time noise)."""
    exe = mpirun()
    if exe is None:
        sys.exit("bench_distributed: no mpirun next to this Python or on PATH "
                 "(pip install \"lazytensor[distributed]\")")
    env = dict(os.environ)
    for var in THREAD_VARS:
        env.setdefault(var, str(max(1, (os.cpu_count() or 1) // n)))
    return subprocess.call([exe, "-n", str(n), sys.executable, os.path.abspath(__file__), *argv], env=env)


# ---- timing ---------------------------------------------------------------------------------
def slowest(comm, seconds: float) -> float:
    """The largest of the ranks' times (a collective is as fast as its slowest rank)."""
    from mpi4py import MPI  # imported (and MPI started) by init_process_group already
    return comm.allreduce(seconds, op=MPI.MAX)


def time_calls(comm, fn: Callable[[], None], iters: int) -> float:
    """Seconds per call of `fn`, started together on every rank, the slowest rank's."""
    comm.Barrier()
    start = time.perf_counter()
    for _ in range(iters):
        fn()
    return slowest(comm, (time.perf_counter() - start) / iters)


def round_robin(comm, fns: dict[str, Callable[[], None]], iters: int, rounds: int) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            times[name].append(time_calls(comm, fn, iters))
    return {name: statistics.median(ts) for name, ts in times.items()}


# ---- table 1: all_reduce --------------------------------------------------------------------------
def allreduce_contestants(lt, dist, comm, nbytes: int, devices: list[str]) -> dict[str, Callable[[], None]]:
    n = nbytes // 4
    src, dst = np.zeros(n, np.float32), np.empty(n, np.float32)
    fns = {"mpi4py": lambda: comm.Allreduce(src, dst)}
    for dev in devices:
        t = lt.zeros(n, device=dev)  # zeros stay zeros however often they are summed
        fns[f"lt:{dev}"] = (lambda t=t: dist.all_reduce(t))
    return fns


def check_allreduce(lt, dist, world: int, devices: list[str]) -> list[str]:
    """The lt contestants' sums are right (checked once, outside the timing)."""
    bad = []
    for dev in devices:
        t = lt.ones(1000, device=dev)
        dist.all_reduce(t)
        if not np.array_equal(t.numpy(), np.full(1000, world, np.float32)):
            bad.append(dev)
    return bad


def size_name(nbytes: int) -> str:
    return f"{nbytes >> 20} MB" if nbytes >= 1 << 20 else f"{nbytes >> 10} KB"


def allreduce_table(lt, dist, comm, sizes: list[int], devices: list[str], rounds: int) -> tuple[list, list]:
    contestants = ["mpi4py"] + [f"lt:{d}" for d in devices]
    header = ["size", *(f"{c} us" for c in contestants), *(f"{c}/mpi4py" for c in contestants[1:]),
              *(f"{c} GB/s" for c in contestants)]
    rows = []
    for nbytes in sizes:
        fns = allreduce_contestants(lt, dist, comm, nbytes, devices)
        for fn in fns.values():  # warm: pages touched, lt's fill realised, buffers pooled
            fn()
        iters = max(1, min(100, (4 << 20) // nbytes))
        t = round_robin(comm, fns, iters, rounds)
        rows.append([size_name(nbytes), *(f"{1e6 * t[c]:.0f}" for c in contestants),
                     *(f"{t[c] / t['mpi4py']:.2f}" for c in contestants[1:]),
                     *(f"{nbytes / t[c] / 1e9:.2f}" for c in contestants)])
    return header, rows


# ---- table 2: DDP step overhead ---------------------------------------------------------------------
def mlp(nn, sizes: list[int]):
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def step_fn(lt, model, x, y) -> Callable[[], None]:
    F = lt.nn.functional
    opt = lt.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)

    def step() -> None:
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        lt.realize(*model.parameters())
        lt.synchronize()
    return step


def ddp_table(lt, dist, comm, devices: list[str], sizes: list[int], batch: int, rounds: int) -> tuple[list, list]:
    DDP = lt.nn.parallel.DistributedDataParallel
    n_params = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    header = ["device", "model", "buckets", "local ms", "ddp ms", "overhead ms", "overhead %",
              "all_reduce/step", "kernels/step local", "kernels/step ddp"]
    rows = []
    for dev in devices:
        lt.set_default_device(dev)
        rng = np.random.default_rng(dist.get_rank())
        x = lt.tensor(rng.standard_normal((batch, sizes[0])).astype(np.float32))
        y = lt.tensor(rng.integers(0, sizes[-1], batch))
        for cap in (25.0, 1.0):
            lt.manual_seed(0)
            local = step_fn(lt, mlp(lt.nn, sizes), x, y)
            ddp = DDP(mlp(lt.nn, sizes), bucket_cap_mb=cap)
            synced = step_fn(lt, ddp, x, y)
            for _ in range(3):  # compile, and Adam/SGD state made
                local()
                synced()
            kernels = {}
            for name, fn in (("local", local), ("ddp", synced)):
                lt.reset_stats()
                dist.reset_stats()
                fn()
                kernels[name] = lt.stats().kernels_launched
                kernels[name + " all_reduce"] = dist.stats().get("all_reduce", {}).get("calls", 0)
            t = round_robin(comm, {"local": local, "ddp": synced}, 1, rounds)
            over = t["ddp"] - t["local"]
            rows.append([dev, f"{n_params / 1e6:.2f}M params ({4 * n_params / 2 ** 20:.1f} MB)",
                         f"{len(ddp.buckets)} ({cap:g} MB cap)", f"{1e3 * t['local']:.1f}", f"{1e3 * t['ddp']:.1f}",
                         f"{1e3 * over:.1f}", f"{100 * over / t['local']:.0f}%", str(kernels["ddp all_reduce"]),
                         str(kernels["local"]), str(kernels["ddp"])])
    return header, rows


# ---- output -----------------------------------------------------------------------------------------
def print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w)  # noqa: E731
                               for i, (c, w) in enumerate(zip(r, widths)))
    print(line(header))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(line(r))


def lt_devices(lt, wanted: str, say) -> list[str]:
    out = []
    for dev in ("numpy", "cl") if wanted == "all" else (wanted,):
        try:
            lt.zeros(1, device=dev).realize()
            out.append(dev)
        except Exception as e:  # noqa: BLE001 - a device missing here is reported, not fatal
            say(f"(device {dev} unavailable: {type(e).__name__}: {e})")
    return out


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="few sizes, small model, 2 rounds")
    p.add_argument("--rounds", type=int, default=None, help="timed rounds (default 7; 2 with --quick)")
    p.add_argument("--device", default="all", choices=["numpy", "cl", "all"])
    p.add_argument("-n", type=int, default=2, help="processes, when this script launches mpirun itself")
    args = p.parse_args(argv)
    args.rounds = args.rounds or (2 if args.quick else 7)
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if not under_mpi():
        return relaunch(argv, args.n)
    import lazytensor as lt
    import lazytensor.distributed as dist
    dist.init_process_group("mpi")
    import mpi4py
    from mpi4py import MPI
    comm = MPI.COMM_WORLD.Dup()  # the baseline's own communicator, as a script's own mpi4py use would be
    say = print if dist.get_rank() == 0 else (lambda *a, **k: None)
    devices = lt_devices(lt, args.device, say)
    say(f"{dist.get_world_size()} processes, {os.cpu_count()} cpus; {MPI.Get_library_version().splitlines()[0]}; "
        f"mpi4py {mpi4py.__version__}; lazytensor devices {devices}")
    say("threads per rank: " + ", ".join(f"{v}={os.environ.get(v, '-')}" for v in THREAD_VARS))
    bad = check_allreduce(lt, dist, dist.get_world_size(), devices)
    say("all_reduce results: " + ("ok" if not bad else f"WRONG on {bad}"))
    sizes = [1 << 10, 1 << 20, 16 << 20] if args.quick else [1 << s for s in range(10, 27, 2)]
    say(f"\nall_reduce (float32 SUM), median of {args.rounds} rounds, slowest rank, us per call")
    header, rows = allreduce_table(lt, dist, comm, sizes, devices, args.rounds)
    if dist.get_rank() == 0:
        print_table(header, rows)
    model = [64, 256, 10] if args.quick else [784, 1024, 1024, 10]
    batch = 64
    say(f"\nDDP step (SGD momentum, batch {batch} per rank), median of {args.rounds} rounds, slowest rank")
    header, rows = ddp_table(lt, dist, comm, devices, model, batch, args.rounds)
    if dist.get_rank() == 0:
        print_table(header, rows)
    dist.destroy_process_group()
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
