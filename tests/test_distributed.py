"""lt.distributed, DistributedDataParallel and DistributedSampler. The multi-process checks
run `mpirun -n 2 python tests/distributed_worker.py SCENARIO DEVICE` (one launch per test,
several checks per launch) and look at its exit code and output; the checks themselves,
against NumPy, are in the worker."""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

import lazytensor as lt
import lazytensor.distributed as dist
from helpers import cl_unavailable_reason
from lazytensor.utils.data import DistributedSampler

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKER = os.path.join(ROOT, "tests", "distributed_worker.py")
TIMEOUT_S = 240


def _mpirun() -> str | None:
    """The mpirun next to this Python (the mpich wheel's), else the one on PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "mpirun")
    return beside if os.path.exists(beside) else shutil.which("mpirun")


def _mpi_missing() -> str | None:
    if importlib.util.find_spec("mpi4py") is None:
        return 'mpi4py is not installed (pip install "lazytensor[distributed]")'
    if _mpirun() is None:
        return "no mpirun next to the Python executable or on PATH (pip install mpich)"
    return None


needs_mpi = pytest.mark.skipif(_mpi_missing() is not None, reason=str(_mpi_missing()))


def _device(name: str) -> str:
    if name == "cl" and cl_unavailable_reason():
        pytest.skip(f"OpenCL device unavailable: {cl_unavailable_reason()}")
    return name


def launch(*args: str, n: int = 2, timeout: float = TIMEOUT_S) -> tuple[subprocess.CompletedProcess, float]:
    """Run `mpirun -n n python *args`; kill the whole job (its own session) on timeout."""
    env = dict(os.environ, LT_CL_OPTIONS="-cl-opt-disable", PYTHONUNBUFFERED="1")
    cmd = [_mpirun(), "-n", str(n), sys.executable, *args]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"{' '.join(args)} still running after {timeout} s:\n{out[-3000:]}\n{err[-3000:]}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err), time.monotonic() - start


CHECKS = {"collectives": 39, "ddp": 62, "ddp_cl": 24}  # per rank: a check that stops running fails here


def run_scenario(scenario: str, device: str) -> str:
    proc, _ = launch(WORKER, scenario, device)
    assert proc.returncode == 0, f"{scenario} on {device} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    done = dict(re.findall(rf"DONE {scenario} rank=(\d) checks=(\d+)", proc.stdout))
    assert done == {"0": str(CHECKS[scenario]), "1": str(CHECKS[scenario])}, proc.stdout
    return proc.stdout


# ---- in one process ----------------------------------------------------------------------------
def test_import_needs_no_mpi4py_and_init_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # as if not installed: `import mpi4py` fails
    assert not dist.is_initialized()
    with pytest.raises(ImportError, match=re.escape('pip install "lazytensor[distributed]"')):
        dist.init_process_group("mpi")
    assert not dist.is_initialized()


def test_unknown_backend_names_the_available_one():
    with pytest.raises(ValueError, match=r"'nccl'.*'mpi'"):
        dist.init_process_group("nccl")


def test_collectives_and_ddp_need_an_initialised_group():
    with pytest.raises(RuntimeError, match="all_reduce.*init_process_group"):
        dist.all_reduce(lt.zeros(2))
    with pytest.raises(RuntimeError, match="DistributedDataParallel.*init_process_group"):
        lt.nn.parallel.DistributedDataParallel(lt.nn.Linear(2, 2))
    with pytest.raises(RuntimeError, match="num_replicas"):
        DistributedSampler(range(4))


@pytest.mark.parametrize("n,replicas,drop_last", [(10, 3, False), (10, 3, True), (12, 4, False), (2, 3, False)])
def test_sampler_shards_are_disjoint_and_cover(n, replicas, drop_last):
    shards = [list(DistributedSampler(range(n), replicas, r, shuffle=True, seed=1, drop_last=drop_last))
              for r in range(replicas)]
    size = len(DistributedSampler(range(n), replicas, 0, drop_last=drop_last))
    assert [len(s) for s in shards] == [size] * replicas
    order = [shards[i % replicas][i // replicas] for i in range(size * replicas)]  # undo the interleave
    if drop_last:  # the tail of n % replicas indices is dropped: disjoint, nothing repeats
        assert len(set(order)) == len(order) == n - n % replicas
    else:  # a permutation of the data, then padding that repeats its start
        assert sorted(order[:n]) == list(range(n))
        assert order[n:] == (order[:n] * replicas)[:len(order) - n]


def test_sampler_padding_and_order_match_pytorch_without_shuffle():
    shards = [list(DistributedSampler(range(10), 4, r, shuffle=False)) for r in range(4)]
    assert shards == [[0, 4, 8], [1, 5, 9], [2, 6, 0], [3, 7, 1]]  # torch's, padded from the start


def test_sampler_set_epoch_changes_the_order_the_same_on_every_rank():
    def order(epoch, rank):
        s = DistributedSampler(range(40), 2, rank, seed=3)
        s.set_epoch(epoch)
        return list(s)
    assert order(0, 0) == order(0, 0) and order(0, 0) != order(1, 0)
    assert sorted(order(1, 0) + order(1, 1)) == list(range(40))  # epoch 1: still disjoint, covering


def test_sampler_rejects_a_bad_rank():
    with pytest.raises(ValueError, match="rank 2"):
        DistributedSampler(range(4), num_replicas=2, rank=2)


# ---- under mpirun -n 2 ---------------------------------------------------------------------------
@needs_mpi
@pytest.mark.parametrize("device", ["numpy", "cl"])
def test_collectives_values_views_mismatches(device):
    """Every collective and ReduceOp against NumPy, in place through views, on lazy inputs
    and Parameters; mismatched shapes, dtypes or calls raise on every rank, naming each."""
    run_scenario("collectives", _device(device))


@needs_mpi
def test_ddp_matches_one_process_and_buckets():
    """2 ranks x 32 == 1 x 64 after 10 SGD and 10 Adam steps; one all_reduce per bucket;
    no_sync accumulation; unused parameters; buffers broadcast (numpy device)."""
    run_scenario("ddp", "numpy")


@needs_mpi
def test_ddp_on_opencl_matches_one_process():
    run_scenario("ddp_cl", _device("cl"))


@needs_mpi
def test_a_failing_rank_ends_the_job_naming_itself():
    proc, elapsed = launch(WORKER, "fail", "numpy")
    assert proc.returncode != 0, proc.stdout
    assert "rank 1" in proc.stderr and "RuntimeError: deliberate failure on rank 1" in proc.stderr, proc.stderr
    assert elapsed < 60, f"took {elapsed:.1f} s to end"


@needs_mpi
def test_a_rank_that_leaves_early_ends_the_job_at_the_timeout():
    proc, elapsed = launch(WORKER, "early_exit", "numpy")
    assert proc.returncode != 0, proc.stdout
    assert "[rank 0]" in proc.stderr and "all_reduce" in proc.stderr and "timeout" in proc.stderr, proc.stderr
    assert elapsed < 60, f"took {elapsed:.1f} s to end"


@needs_mpi
@pytest.mark.parametrize("n", [1, 2])
def test_ddp_example_trains(n):
    pytest.importorskip("sklearn")
    proc, _ = launch(os.path.join(ROOT, "examples", "ddp_mlp.py"), "--device", "numpy", "--epochs", "2", n=n)
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    first, last = map(float, re.search(r"loss: first ([0-9.]+), last ([0-9.]+)", proc.stdout).groups())
    assert last < 0.8 * first, proc.stdout
    assert f"world size {n}" in proc.stdout, proc.stdout
