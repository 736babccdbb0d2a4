"""Devices, the program cache on disk, DEBUG output, and device errors."""
import os
import subprocess
import sys
import textwrap
import types

import numpy as np
import pytest

import lazytensor as lt
from helpers import available_devices, using

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_python(code: str, **env) -> str:
    full_env = {**os.environ, **env, "PYTHONPATH": ROOT}
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                         env=full_env, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout + out.stderr


@pytest.mark.skipif("cl" not in available_devices(), reason="needs OpenCL")
def test_second_process_loads_programs_from_disk(tmp_path):
    code = """
        import lazytensor as lt
        x = lt.arange(12.0, device="cl").reshape(3, 4)
        (x.exp() * 1.5 - x.sum(0)).numpy()
        s = lt.stats()
        print("built", s.programs_built, "disk", s.disk_cache_hits)
    """
    first = run_python(code, LT_CACHE_DIR=str(tmp_path))
    second = run_python(code, LT_CACHE_DIR=str(tmp_path))
    assert "built 0 " not in first
    assert "built 0 disk" in second and "disk 0" not in second


def test_debug_1_names_the_user_line_and_debug_2_each_kernel():
    out = run_python("""
        import lazytensor as lt
        x = lt.arange(6.0, device="numpy")
        y = (x * 2).sum()
        y.item()  # the line that realises
    """, DEBUG="2")
    assert "realize on numpy: 1 kernel(s)" in out
    assert "<string>:5" in out
    assert "r_sum" in out and "GB/s" in out


def test_debug_3_prints_kernel_source():
    out = run_python("""
        import lazytensor as lt
        (lt.arange(6.0, device="numpy") + 1).numpy()
    """, DEBUG="3")
    assert "def e_" in out and "out=o0" in out  # the kernel writes into its output buffer


def test_lt_device_env_picks_the_default():
    out = run_python("import lazytensor as lt; print(lt.get_default_device())", LT_DEVICE="numpy")
    assert out.strip().endswith("numpy")


def test_no_opencl_falls_back_to_numpy_with_a_notice():
    out = run_python("""
        import warnings
        import lazytensor.runtime.opencl as ocl
        ocl.opencl_devices = lambda wanted=None: ()
        import lazytensor as lt
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            print(lt.get_default_device())
        print(caught[0].message)
        try:
            lt.zeros(2, device="cl")
        except RuntimeError as e:
            print("error:", e)
    """, LT_DEVICE="")
    assert "numpy" in out and "no OpenCL platform" in out
    assert "error:" in out and "OpenCL" in out


def test_without_pyopencl_the_library_runs_on_numpy_and_cl_names_opencl():
    out = run_python("""
        import sys
        sys.modules["pyopencl"] = None  # as if it were not installed
        import lazytensor as lt
        print("sum:", (lt.ones(3) * 2).sum().item())
        try:
            lt.zeros(2, device="cl")
        except RuntimeError as e:
            print("error:", e)
    """, LT_DEVICE="")
    assert "sum: 6.0" in out and "no OpenCL platform" in out
    assert "error: device 'cl' needs OpenCL" in out


@pytest.mark.skipif("cl" not in available_devices(), reason="needs OpenCL")
def test_a_kernel_that_fails_to_build_shows_its_source_and_the_users_line(monkeypatch, tmp_path):
    import lazytensor.codegen.render_opencl as render
    import lazytensor.runtime.opencl as ocl
    from lazytensor.runtime.devices import get_device
    monkeypatch.setattr(get_device("cl"), "kernels", {})  # no kernel built earlier, in memory or on disk
    monkeypatch.setattr(get_device("cl"), "by_code", {})
    monkeypatch.setattr(ocl, "cache_dir", lambda: tmp_path)
    KernelBuildError = ocl.KernelBuildError
    good = render.program_source
    monkeypatch.setattr(render, "program_source", lambda sources: good(sources) + "\nnot_a_type broken;\n")
    x = lt.ones(3, device="cl") * 7.25 + 1.5
    with pytest.raises(KernelBuildError, match=r"(?s)realisation at .*test_runtime\.py:\d+.*error.*not_a_type"
                                              r".*the generated source.*__kernel void"):
        x.realize()
    monkeypatch.setattr(render, "program_source", good)
    assert x.tolist() == [8.75] * 3  # nothing half-done: the same tensor realises once the build works


def test_cpu_names_the_device_that_computes_on_the_host():
    from lazytensor.runtime.devices import get_device
    default = lt.get_default_device().name
    host = default if default == "numpy" or get_device(default).caps.is_cpu else "numpy"
    assert lt.device("cpu") == host and lt.ones(2).cpu().device == host
    model = lt.nn.Linear(2, 2)  # on the default device: inputs moved .to("cpu") still meet it on a CPU machine
    if host == default:
        assert model(lt.ones(1, 2).to("cpu")).shape == (1, 2)
    with using("numpy", True):
        assert lt.device("cpu") == "numpy"


def test_unknown_device_is_a_clear_error():
    with pytest.raises(RuntimeError, match="unknown device 'tpu'"):
        lt.zeros(2, device="tpu")


@pytest.mark.skipif("cl" not in available_devices(), reason="needs OpenCL")
def test_float64_without_device_support_is_a_clear_error(monkeypatch):
    from lazytensor.runtime.devices import get_device
    monkeypatch.setattr(get_device("cl"), "fp64", False)
    with pytest.raises(RuntimeError, match="float64.*not supported"):
        lt.zeros(2, dtype=lt.float64, device="cl")
    assert lt.zeros(2, device="cl").sum().item() == 0


@pytest.mark.skipif("cl" not in available_devices(), reason="needs OpenCL")
def test_huge_allocation_fails_cleanly_and_library_stays_usable():
    before = (lt.arange(4.0, device="cl") * 2).realize()
    with pytest.raises(RuntimeError, match="cannot allocate"):
        lt.zeros(1 << 40, device="cl").realize()
    assert before.tolist() == [0.0, 2.0, 4.0, 6.0]
    assert lt.ones(3, device="cl").sum().item() == 3


def test_to_moves_between_devices(device):
    with using(device, lazy=True):
        x = lt.arange(6.0).reshape(2, 3)
        for target in available_devices():
            y = x.to(target)
            assert str(y.device) == target
            np.testing.assert_array_equal(y.numpy(), x.numpy())


@pytest.mark.parametrize("environ, expected", [
    ({"PMI_RANK": "1", "POCL_KERNEL_CACHE": "0", "XDG_CACHE_HOME": "/c"}, "/c/pocl/rank1"),
    ({"OMPI_COMM_WORLD_RANK": "3", "POCL_KERNEL_CACHE": "0", "XDG_CACHE_HOME": "/c"}, "/c/pocl/rank3"),
    ({"PMI_RANK": "1", "XDG_CACHE_HOME": "/c"}, None),  # PoCL's cache on: its files are shared safely
    ({"POCL_KERNEL_CACHE": "0"}, None),  # not under MPI
    ({"PMI_RANK": "1", "POCL_KERNEL_CACHE": "0", "POCL_CACHE_DIR": "/mine"}, "/mine"),  # the user's choice
], ids=["mpich", "open_mpi", "cache_on", "one_process", "chosen"])
def test_mpi_ranks_with_pocls_cache_off_get_scratch_folders_of_their_own(environ, expected):
    from lazytensor.runtime.opencl import separate_pocl_scratch_per_rank
    separate_pocl_scratch_per_rank(environ)
    assert environ.get("POCL_CACHE_DIR") == expected


@pytest.mark.parametrize("environ, expected", [({}, "0"), ({"POCL_WORK_GROUP_SPECIALIZATION": "1"}, "1")],
                         ids=["default", "chosen"])
def test_pocl_compiles_one_work_group_function_per_kernel_unless_told_otherwise(environ, expected):
    from lazytensor.runtime.opencl import one_pocl_compile_per_kernel
    one_pocl_compile_per_kernel(environ)
    assert environ["POCL_WORK_GROUP_SPECIALIZATION"] == expected


class _ListedDevice:
    """A stand-in for a listed OpenCL device: what probing and its warning read."""

    def __init__(self, i: int):
        self.int_ptr, self.name, self.driver_version = 1000 + i, f"device {i}", "1.0"
        self.platform = types.SimpleNamespace(name="platform", version="OpenCL 3.0")


def test_opencl_devices_are_probed_only_as_far_as_wanted(monkeypatch):
    """A probe on an empty cache compiles a kernel: the device used first is probed alone."""
    from lazytensor.runtime import opencl as ocl
    listed = (_ListedDevice(0), _ListedDevice(1))
    probed = []
    monkeypatch.setattr(ocl, "_candidates", lambda: listed)
    monkeypatch.setattr(ocl, "_PROBED", {})
    monkeypatch.setattr(ocl, "probe", lambda d: probed.append(d))  # None: usable
    assert ocl.opencl_devices(1) == listed[:1] and probed == list(listed[:1])
    assert ocl.opencl_devices() == listed and probed == list(listed)  # each probed once


@pytest.mark.skipif("cl" not in available_devices(), reason="needs OpenCL")
def test_a_probed_device_keeps_its_probe_program(monkeypatch):
    """PoCL unloads its compiler with a device's last program: the probe's stays alive, so
    the first real build does not load the compiler again (0.3 s of a cold first step)."""
    import pyopencl as cl
    from lazytensor.runtime import opencl as ocl
    monkeypatch.setattr(ocl, "_KEPT_ALIVE", [])
    (device,) = ocl._candidates()[:1]
    assert ocl.probe(device) is None
    (program,) = ocl._KEPT_ALIVE
    assert program.get_info(cl.program_info.DEVICES) == [device]


@pytest.mark.skipif("cl" not in available_devices(), reason="needs OpenCL")
def test_one_code_under_two_names_builds_once_and_runs_under_either():
    from lazytensor.runtime.devices import get_device
    from lazytensor.runtime.stats import STATS
    import pyopencl as cl
    device = get_device("cl")
    code = "__kernel void NAME(__global float* b0) { b0[get_global_id(0)] = 0.5f * get_global_id(0) + 0.0625f; }"
    before = STATS.kernels_compiled
    runnables = device.compile({"lt_test_a_4x4": code.replace("NAME", "lt_test_a_4x4"),
                                "lt_test_b_16": code.replace("NAME", "lt_test_b_16")})
    assert STATS.kernels_compiled - before == 1
    again = device.compile({"lt_test_c_8": code.replace("NAME", "lt_test_c_8")})  # a later realisation
    assert STATS.kernels_compiled - before == 1
    assert runnables["lt_test_a_4x4"] is runnables["lt_test_b_16"] is again["lt_test_c_8"]
    assert device.has_built("lt_test_d_2", code.replace("NAME", "lt_test_d_2"))
    out = np.empty(16, np.float32)
    buf = cl.Buffer(device.ctx, cl.mem_flags.WRITE_ONLY, out.nbytes)
    runnables["lt_test_b_16"](device.queue, (16,), None, buf)
    cl.enqueue_copy(device.queue, out, buf, is_blocking=True)
    np.testing.assert_array_equal(out, 0.5 * np.arange(16, dtype=np.float32) + 0.0625)


def test_opening_a_device_starts_its_build_workers_before_its_probe(monkeypatch):
    """Where nothing was ever built, the workers load the compiler while the probe runs: only
    for the device being opened, and stopped again if it fails its probe."""
    from lazytensor.runtime import opencl as ocl
    listed = (_ListedDevice(0), _ListedDevice(1), _ListedDevice(2))
    events = []
    monkeypatch.setattr(ocl, "_candidates", lambda: listed)
    monkeypatch.setattr(ocl, "_PROBED", {})
    monkeypatch.setattr(ocl, "_any_binary", lambda folder: False)
    monkeypatch.setattr(ocl, "shared_build_pool", lambda d, start: events.append(("start", d.name)))
    monkeypatch.setattr(ocl, "close_build_pool", lambda d: events.append(("close", d.name)))
    monkeypatch.setattr(ocl, "probe", lambda d: events.append(("probe", d.name)) or ("broken" if d is listed[0] else None))
    with pytest.warns(UserWarning, match="skipping OpenCL device 'device 0'"):
        assert ocl.opencl_devices(1) == listed[1:2]
    assert events == [("start", "device 0"), ("probe", "device 0"), ("close", "device 0"),
                      ("start", "device 1"), ("probe", "device 1")]


def test_a_device_opened_where_programs_were_built_starts_no_workers_before_its_probe(monkeypatch):
    from lazytensor.runtime import opencl as ocl
    started = []
    monkeypatch.setattr(ocl, "_candidates", lambda: (_ListedDevice(0),))
    monkeypatch.setattr(ocl, "_PROBED", {})
    monkeypatch.setattr(ocl, "_any_binary", lambda folder: True)
    monkeypatch.setattr(ocl, "shared_build_pool", lambda d, start: started.append(d))
    monkeypatch.setattr(ocl, "probe", lambda d: None)
    assert len(ocl.opencl_devices(1)) == 1 and started == []


def test_a_device_that_fails_its_probe_is_skipped_with_a_warning(monkeypatch):
    from lazytensor.runtime import opencl as ocl
    listed = (_ListedDevice(0), _ListedDevice(1))
    monkeypatch.setattr(ocl, "_candidates", lambda: listed)
    monkeypatch.setattr(ocl, "_PROBED", {})
    monkeypatch.setattr(ocl, "probe", lambda d: "unknown target CPU 'generic'" if d is listed[0] else None)
    with pytest.warns(UserWarning, match="skipping OpenCL device 'device 0'.*unknown target CPU"):
        assert ocl.opencl_devices(1) == listed[1:]
