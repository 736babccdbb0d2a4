"""OpenCL programs built in parallel by worker processes (runtime/build_pool.py): the groups a
batch is cut into, the workers' binaries, and what happens when a worker or a build fails."""
import json
import os
import subprocess
import sys
import textwrap
import time
from contextlib import contextmanager

import numpy as np
import pytest

from helpers import cl_unavailable_reason
from lazytensor.runtime import build_pool
from lazytensor.runtime.build_pool import BuildPool, BuildRefused, default_workers, split

_KERNEL = "__kernel void {name}(__global float* a) {{ a[get_global_id(0)] = a[get_global_id(0)] * {k}.0f + 1.0f; }}"


def _sources(count: int, size: int = 100) -> dict[str, str]:
    return {f"k{i}": _KERNEL.format(name=f"k{i}", k=i) + " " * (size * (i + 1)) for i in range(count)}


def test_a_batch_splits_into_groups_of_about_equal_length():
    kernels = _sources(7)
    groups = split(kernels, 3)
    weights = [sum(map(len, g.values())) for g in groups]
    assert len(groups) == 3 and sorted(n for g in groups for n in g) == sorted(kernels)
    assert max(weights) - min(weights) <= max(map(len, kernels.values()))


def test_the_same_kernels_make_the_same_groups_in_any_order():
    kernels = _sources(6)
    reordered = dict(reversed(list(kernels.items())))
    assert split(kernels, 2) == split(reordered, 2)


def test_fewer_kernels_than_groups_make_one_group_each():
    assert [list(g) for g in split(_sources(2), 4)] == [["k1"], ["k0"]]


@pytest.mark.parametrize("environ, expected", [
    ({"LT_BUILD_WORKERS": "0"}, 0),
    ({"LT_BUILD_WORKERS": "2"}, 2),
    ({"PMI_RANK": "1"}, 0),  # ranks of an MPI job build in parallel already
])
def test_the_number_of_workers_follows_the_environment(environ, expected):
    assert default_workers(environ) == expected


def test_by_default_all_cores_but_this_one_build():
    assert default_workers({}) == min(3, max(0, (os.cpu_count() or 1) - 1))


def test_a_pipe_is_polled_whatever_its_descriptor_number():
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft <= 1500:
        pytest.skip(f"this process may open {soft} files")
    read, write = os.pipe()
    high = os.dup2(read, 1500)  # select() refuses descriptors past 1023
    try:
        assert not build_pool._readable(high)
        os.write(write, b"x")
        assert build_pool._readable(high)
    finally:
        for fd in (read, write, high):
            os.close(fd)


def test_an_answer_cut_short_reads_as_a_worker_gone():
    import io
    import pickle
    import struct
    from types import SimpleNamespace
    whole = pickle.dumps(("built", b"\0" * 5000))
    torn = struct.pack("<Q", len(whole)) + whole[:1000]  # the worker was killed while writing
    worker = build_pool._Worker(SimpleNamespace(stdout=io.BytesIO(torn)), "ready")
    assert build_pool._receive(worker) is None


# ---- with a real OpenCL device ------------------------------------------------------------
needs_cl = pytest.mark.skipif(cl_unavailable_reason() is not None, reason=str(cl_unavailable_reason()))


def _device():
    import lazytensor as lt
    return lt.runtime.devices.get_device("cl")


def _pool(device, workers: int = 1, device_id=None) -> BuildPool:
    dev = device.dev
    return BuildPool(device_id or (dev.platform.name, dev.name, dev.driver_version), device.build_options, workers)


def _ready(pool: BuildPool, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not all(w.poll_ready() for w in pool.workers):
        assert time.monotonic() < deadline, "the build worker did not start"
        time.sleep(0.05)


def _runs(device, binary: bytes, name: str, k: int) -> bool:
    cl = device.cl
    program = cl.Program(device.ctx, [device.dev], [binary]).build()
    host = np.arange(8, dtype=np.float32)
    buf = cl.Buffer(device.ctx, cl.mem_flags.READ_WRITE | cl.mem_flags.COPY_HOST_PTR, hostbuf=host)
    getattr(program, name)(device.queue, (8,), None, buf)
    cl.enqueue_copy(device.queue, host, buf, is_blocking=True)
    return np.array_equal(host, np.arange(8, dtype=np.float32) * k + 1)


@contextmanager
def _ready_pool(device):
    """A one-worker pool whose worker has loaded the compiler; closed after."""
    pool = _pool(device)
    pool.start()
    try:
        _ready(pool)
        yield pool
    finally:
        pool.close()


def _built(device, sources: list[str], ready: bool, device_id=None) -> tuple[list[bytes], list[str]]:
    """`sources` built through a one-worker pool (ready first, or still starting): the binaries,
    and the sources this process built itself."""
    pool = _pool(device, device_id=device_id)
    pool.start()
    if ready:
        _ready(pool)
    here = []
    try:
        return pool.build(sources, lambda src: here.append(src) or device._binary_of(src)), here
    finally:
        pool.close()


@needs_cl
def test_a_ready_worker_builds_one_program_while_this_process_builds_the_other():
    device = _device()
    sources = [_KERNEL.format(name="twice", k=2), _KERNEL.format(name="thrice", k=3)]
    binaries, here = _built(device, sources, ready=True)
    assert here == [sources[1]]  # the worker took the first
    assert _runs(device, binaries[0], "twice", 2) and _runs(device, binaries[1], "thrice", 3)


_LONG = _KERNEL.format(name="lengthy", k=5) + " " * build_pool.WORTH_A_START
_BRIEF = _KERNEL.format(name="brief", k=7)


@needs_cl
def test_a_starting_worker_is_sent_long_sources_and_answers_once_ready():
    device = _device()
    binaries, here = _built(device, [_LONG, _BRIEF], ready=False)
    assert here == [_BRIEF] and _runs(device, binaries[0], "lengthy", 5)


@needs_cl
def test_a_starting_worker_is_not_waited_for_short_sources():
    device = _device()
    _, here = _built(device, [_BRIEF, _KERNEL.format(name="also_brief", k=3)], ready=False)
    assert len(here) == 2


@needs_cl
def test_a_worker_that_cannot_start_leaves_its_sources_to_this_process():
    device = _device()
    binaries, here = _built(device, [_LONG, _BRIEF], ready=False, device_id=("no such platform", "none", "0"))
    assert sorted(here) == sorted([_LONG, _BRIEF])
    assert _runs(device, binaries[0], "lengthy", 5) and _runs(device, binaries[1], "brief", 7)


@needs_cl
def test_a_refused_source_raises_naming_it_and_the_pool_goes_on():
    device = _device()
    broken = "__kernel void broken(__global float* a) { a[0] = undefined_name; }"
    with _ready_pool(device) as pool:
        with pytest.raises(BuildRefused) as refused:
            pool.build([broken, _KERNEL.format(name="fine", k=2)], device._binary_of)
        assert refused.value.source == broken and "undefined_name" in refused.value.log
        assert [w.state for w in pool.workers] == ["ready"]  # its answer was read whole
        binaries = pool.build([_KERNEL.format(name="after", k=4), _KERNEL.format(name="last", k=6)],
                              device._binary_of)
    assert _runs(device, binaries[0], "after", 4) and _runs(device, binaries[1], "last", 6)


@needs_cl
def test_a_batch_that_fails_here_retires_the_workers_whose_answers_are_unread():
    device = _device()

    def interrupted(src):
        raise KeyboardInterrupt

    here = []
    with _ready_pool(device) as pool:
        with pytest.raises(KeyboardInterrupt):
            pool.build([_KERNEL.format(name="sent", k=2), _BRIEF], interrupted)
        assert [w.state for w in pool.workers] == ["gone"]
        binaries = pool.build([_KERNEL.format(name="next", k=3), _BRIEF],
                              lambda src: here.append(src) or device._binary_of(src))
    assert len(here) == 2 and _runs(device, binaries[0], "next", 3)


@needs_cl
def test_a_batch_interrupted_while_sending_retires_the_workers_it_sent_to(monkeypatch):
    device = _device()

    class Unstartable(build_pool.threading.Thread):
        def start(self):
            raise KeyboardInterrupt

    with _ready_pool(device) as pool:
        monkeypatch.setattr(build_pool.threading, "Thread", Unstartable)
        with pytest.raises(KeyboardInterrupt):
            pool.build([_KERNEL.format(name="unsent", k=2), _BRIEF], device._binary_of)
        monkeypatch.undo()
        assert [w.state for w in pool.workers] == ["gone"]


_PROGRAM = textwrap.dedent("""
    import json
    import numpy as np
    import lazytensor as lt
    lt.set_default_device("cl")
    lt.manual_seed(0)
    model = lt.nn.Sequential(lt.nn.Linear(64, 96), lt.nn.ReLU(), lt.nn.Linear(96, 10))
    opt = lt.optim.SGD(model.parameters(), lr=0.1)
    x, y = lt.randn(32, 64), lt.randint(0, 10, (32,))
    opt.zero_grad()
    loss = lt.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    s = lt.stats()
    print(json.dumps({"loss": loss.item(), "weight": model[0].weight.numpy().sum().item(),
                      "built": s.programs_built, "by_workers": s.programs_built_by_workers}))
""")


def _training_step(cache, workers: str) -> dict:
    env = dict(os.environ, LT_CACHE_DIR=str(cache), LT_PLAN_CACHE="0", LT_BUILD_WORKERS=workers,
               POCL_CACHE_DIR=str(cache / "pocl"))
    done = subprocess.run([sys.executable, "-c", _PROGRAM], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _builds_in_parallel() -> bool:
    from lazytensor.runtime.opencl import build_pool_for
    return build_pool_for(_device().dev, [], {"LT_BUILD_WORKERS": "1", "POCL_WORK_GROUP_SPECIALIZATION": "0"}) is not None


@needs_cl
def test_a_training_step_built_by_workers_computes_what_one_process_does_and_is_kept_on_disk(tmp_path):
    if not _builds_in_parallel():
        pytest.skip("this OpenCL platform builds in one process (build workers serve PoCL)")
    alone = _training_step(tmp_path / "alone", "0")
    parallel = _training_step(tmp_path / "parallel", "1")
    again = _training_step(tmp_path / "parallel", "1")
    assert alone["by_workers"] == 0 and parallel["by_workers"] > 0
    assert parallel["loss"] == alone["loss"] and parallel["weight"] == alone["weight"]
    assert again["built"] == 0 and again["loss"] == alone["loss"]


@needs_cl
def test_a_forked_child_builds_alone_and_leaves_its_parents_workers_be(monkeypatch):
    device = _device()
    here = []
    with _ready_pool(device) as pool:
        monkeypatch.setattr(pool, "owner", -1)  # as a forked child sees it: another process's pool
        try:
            pool.build([_LONG, _BRIEF], lambda src: here.append(src) or device._binary_of(src))
            assert len(here) == 2 and [w.state for w in pool.workers] == ["ready"]
        finally:
            monkeypatch.undo()  # the pool is this process's again, so closing it ends its worker
