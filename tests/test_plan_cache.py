"""A second process takes each realisation's plan from disk: it schedules, lowers and renders
nothing, and computes the same values (runtime/plan_cache.py)."""
import json
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from helpers import DEVICES, cl_unavailable_reason
from lazytensor.runtime import plan_cache

_PROGRAM = textwrap.dedent("""
    import json, sys
    import numpy as np
    import lazytensor as lt
    from lazytensor.codegen import lower
    lowered = []
    original = lower.lower_kernel
    lower.lower_kernel = lambda spec: lowered.append(spec) or original(spec)
    import lazytensor.runtime.engine as engine
    engine.lower_kernel = lower.lower_kernel
    lt.set_default_device(sys.argv[1])
    lt.manual_seed(0)
    model = lt.nn.Sequential(lt.nn.Linear(12, 24), lt.nn.ReLU(), lt.nn.Linear(24, 5))
    opt = lt.optim.Adam(model.parameters(), lr=0.01)
    x, y = lt.randn(16, 12), lt.randint(0, 5, (16,))
    losses = []
    for _ in range(3):
        opt.zero_grad()
        loss = lt.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    s = lt.stats()
    print(json.dumps({"losses": losses, "built": s.schedules_built, "loaded": s.schedules_loaded,
                      "lowered": len(lowered), "weight": model[0].weight.numpy().tolist()}))
""")


def _run(device: str, plans, cache) -> dict:
    env = dict(os.environ, LT_PLAN_DIR=str(plans), LT_CACHE_DIR=str(cache))
    done = subprocess.run([sys.executable, "-c", _PROGRAM, device], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _devices():
    return [d for d in DEVICES if d != "cl" or cl_unavailable_reason() is None]


@pytest.mark.parametrize("device", _devices())
def test_a_second_process_takes_its_plans_from_disk_and_computes_the_same(device, tmp_path):
    first = _run(device, tmp_path / "plans", tmp_path / "cache")
    second = _run(device, tmp_path / "plans", tmp_path / "cache")
    assert first["built"] > 0 and first["loaded"] == 0 and first["lowered"] > 0
    assert second["built"] == 0 and second["loaded"] == first["built"] and second["lowered"] == 0
    assert second["losses"] == first["losses"]
    np.testing.assert_array_equal(second["weight"], first["weight"])


def test_plans_are_off_with_lt_plan_cache_0(tmp_path, monkeypatch):
    monkeypatch.setenv("LT_PLAN_DIR", str(tmp_path))
    monkeypatch.setenv("LT_PLAN_CACHE", "0")
    plan_cache.save("dev", ("k", 1), "schedule", [])
    assert not any(tmp_path.rglob("*.pkl")) and plan_cache.load("dev", ("k", 1)) is None


def test_a_plan_is_found_by_its_structure_device_and_code(tmp_path, monkeypatch):
    monkeypatch.setenv("LT_PLAN_DIR", str(tmp_path))
    plan_cache.save("dev", ("k", 1), "schedule", ["program"])
    assert plan_cache.load("dev", ("k", 1)) == ("schedule", ["program"])
    assert plan_cache.load("dev", ("k", 2)) is None and plan_cache.load("other", ("k", 1)) is None
    monkeypatch.setattr(plan_cache, "code_fingerprint", lambda: "other code")
    assert plan_cache.load("dev", ("k", 1)) is None


def test_a_file_holding_another_structure_or_torn_is_not_taken(tmp_path, monkeypatch):
    monkeypatch.setenv("LT_PLAN_DIR", str(tmp_path))
    plan_cache.save("dev", ("k", 1), "schedule", [])
    (path,) = tmp_path.rglob("*.pkl")
    path.write_bytes(pickle.dumps((("k", 2), "schedule", [])))  # as if two structures shared a digest
    assert plan_cache.load("dev", ("k", 1)) is None
    path.write_bytes(b"torn")
    assert plan_cache.load("dev", ("k", 1)) is None


def test_a_structure_pickle_cannot_write_is_kept_in_memory_only(tmp_path, monkeypatch):
    monkeypatch.setenv("LT_PLAN_DIR", str(tmp_path))
    plan_cache.save("dev", ("k", lambda: 0), "schedule", [])
    assert not any(tmp_path.rglob("*"))


def test_equal_structures_name_one_file_however_their_objects_are_shared():
    """Another process holds equal keys made of other objects: a part met twice or once each,
    a name interned or built at run time. The file's name depends on the values alone."""
    part = ("add", "float32", (4, 4), None, (0, 1))
    shared = (("flags",), part, part)
    built = "".join(["a", "dd"])  # equal to "add", not interned
    separate = (("flags",), (built, "float32", (4, 4), None, (0, 1)), ("add", "float32", (4, 4), None, (0, 1)))
    assert plan_cache._key_bytes(shared) == plan_cache._key_bytes(separate)
    assert plan_cache._key_bytes(shared) != plan_cache._key_bytes(shared[:2])


def test_long_strings_are_stored_once_by_content_and_read_back(tmp_path, monkeypatch):
    monkeypatch.setenv("LT_PLAN_DIR", str(tmp_path))
    source = "__kernel void k(__global float* out) { out[0] = 1.0f; }" * 8
    plan_cache.save("dev", ("k", 1), "schedule", [(0, source)])
    plan_cache.save("dev", ("k", 2), "schedule", [(0, source), (1, "short")])
    stored = list((tmp_path / "sources").rglob("*.txt"))
    assert [p.read_text() for p in stored] == [source]  # one file for both plans
    assert all(source.encode() not in p.read_bytes() for p in tmp_path.rglob("*.pkl"))
    plan_cache._SOURCES.clear()  # as a new process: read from the file
    assert plan_cache.load("dev", ("k", 2)) == ("schedule", [(0, source), (1, "short")])


def test_a_plan_whose_source_is_missing_or_altered_is_not_taken(tmp_path, monkeypatch):
    monkeypatch.setenv("LT_PLAN_DIR", str(tmp_path))
    plan_cache.save("dev", ("k", 1), "schedule", [(0, "x" * 1000)])
    (stored,) = (tmp_path / "sources").rglob("*.txt")
    plan_cache._SOURCES.clear()
    stored.write_text("y" * 1000)
    assert plan_cache.load("dev", ("k", 1)) is None
    stored.unlink()
    assert plan_cache.load("dev", ("k", 1)) is None


def _program(**sources):
    from types import SimpleNamespace
    return SimpleNamespace(sources=sources)


def _plan_entries(monkeypatch, known: dict):
    """engine._planned over two kernels whose plan holds programs A and B, with `known` (key ->
    program) what this process rendered before."""
    from types import SimpleNamespace
    from lazytensor.runtime import engine
    device = SimpleNamespace(name="dev")
    monkeypatch.setattr(engine, "_RENDERED", {("dev", key, 0): p for key, p in known.items()})
    specs = [SimpleNamespace(key="one"), SimpleNamespace(key="two")]
    planned = [(0, _program(k1="generic code")), (0, _program(k2="other code"))]
    return [p for _, p in engine._planned(specs, device, planned)], engine._RENDERED


def test_a_kernel_this_process_runs_keeps_its_program_over_a_plans(monkeypatch):
    ours = _program(k1="specialised code")
    programs, rendered = _plan_entries(monkeypatch, {"one": ours})
    assert programs[0] is ours and rendered[("dev", "one", 0)] is ours
    assert programs[1].sources == {"k2": "other code"} and ("dev", "two", 0) in rendered


def test_the_plans_programs_run_where_a_kept_one_would_clash_with_their_names(monkeypatch):
    clashing = _program(k2="specialised code")  # k2 names the plan's other kernel's code too
    programs, _ = _plan_entries(monkeypatch, {"one": clashing})
    assert [p.sources for p in programs] == [{"k1": "generic code"}, {"k2": "other code"}]


def test_rendered_programs_pickle_back_field_for_field():
    from lazytensor.codegen.opt import Opt, OptKind
    from lazytensor.codegen.program import RenderedKernel, RenderedProgram
    kernel = RenderedKernel("k", "src", (8, 4), (4, 1), (("out", 0), ("in", 1)), 1, 2,
                            (Opt(OptKind.UPCAST, 0, 4), Opt(OptKind.LOCAL, 1, 2, along=0)), (7, 9), True)
    from lazytensor.ir.dtype import float32
    program = RenderedProgram((kernel,), ((float32, 32),))
    assert pickle.loads(pickle.dumps(program, protocol=pickle.HIGHEST_PROTOCOL)) == program


def test_a_plan_file_holds_its_structure_as_the_bytes_its_name_digests(tmp_path, monkeypatch):
    monkeypatch.setenv("LT_PLAN_DIR", str(tmp_path))
    key = (("flags",), ("add", "float32", (4, 4), None, (0, 1)))
    plan_cache.save("dev", key, "schedule", [])
    (path,) = tmp_path.rglob("*.pkl")
    with path.open("rb") as f:
        stored, _, _ = plan_cache._Unpickler(f).load()
    assert stored == plan_cache._key_bytes(key)
    assert plan_cache.load("dev", key) == ("schedule", [])
