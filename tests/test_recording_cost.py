"""What recording an op and realising a known graph allocate and ask: structural probes of the
per-op Python cost (benchmarks/profile_overheads.py times it; nothing here is timed)."""
import gc

import numpy as np
from helpers import using

import lazytensor as lt
from lazytensor.codegen import horizontal
from lazytensor.codegen.program import RenderedKernel
from lazytensor.ir import node as N
from lazytensor.ir import rewrite
from lazytensor.runtime import engine


def _chain(x, ops: int):
    for _ in range(ops):
        x = x + 1.0
    return x


def test_an_op_keeps_four_collector_tracked_objects_alive(device):
    """A recorded op leaves its node, the node's weak reference and key in the hash-consing
    table, and its sources tuple (the tensor and storage it replaced die): each object the
    collector tracks brings its next young collection nearer."""
    ops = 200
    with using(device, True), lt.no_grad():
        x = lt.tensor(np.ones((4, 4), np.float32))
        y = _chain(x, 10)
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            start = gc.get_count()[0]
            y = _chain(y, ops)
            per_op = (gc.get_count()[0] - start) / ops
        finally:
            if was_enabled:
                gc.enable()
    assert per_op < 4.5, per_op
    np.testing.assert_array_equal(y.numpy(), np.full((4, 4), 211.0, np.float32))


def test_a_nodes_table_key_is_left_alone_by_the_collector():
    """The key names its dtype by name, so it holds only strings and numbers: the collector
    stops tracking it at its first pass and never walks it again."""
    a = N.unique("detach", N.make("const", lt.float32, (4,), (), 2.0, "numpy"))
    built = N.make("mul", lt.float32, (4,), (a, a), None, "numpy")
    gc.collect()
    gc.collect()  # the first pass may meet the key before the shape tuple inside it is untracked
    assert not gc.is_tracked(built.key)


def test_an_op_with_a_scalar_that_is_not_neutral_skips_the_identity_test(monkeypatch):
    """x + 2.0 can fold to nothing: the algebraic-identity test is asked only where a scalar
    operand is the op's neutral one (x + -0.0 is still x)."""
    asked = []
    original = rewrite._algebraic_identity
    monkeypatch.setattr(rewrite, "_algebraic_identity", lambda *a: asked.append(a[0]) or original(*a))
    with using("numpy", True):
        x = lt.tensor(np.arange(4, dtype=np.float32))
        assert (x + 2.0).node.op == "add" and asked == []
        assert (x + -0.0).node is x.node and asked == ["add"]


def test_a_kernels_source_is_scanned_once_for_a_shared_launch(monkeypatch):
    """Whether a kernel may join others' launch is read from its source once: a long kernel's
    scan for each work-group feature took tens of microseconds per launch."""
    source = "__kernel void k(__global float* restrict b0) {\n  b0[get_global_id(0)] = 2;\n}\n"
    flat = RenderedKernel("k", source, (8,), None, (("out", 0),))
    assert horizontal.can_join(flat)
    # a second scan would now find a feature in it: the answer is the remembered one
    monkeypatch.setattr(horizontal, "_WORK_GROUP_FEATURES", ("get_global_id(0)",))
    assert horizontal.can_join(RenderedKernel("k", source, (8,), None, (("out", 0),)))


class _CountingLookups(dict):
    def __init__(self, *args):
        super().__init__(*args)
        self.lookups = 0

    def get(self, key, default=None):
        self.lookups += 1
        return super().get(key, default)

    def __contains__(self, key):
        self.lookups += 1
        return super().__contains__(key)

    def __getitem__(self, key):
        self.lookups += 1
        return super().__getitem__(key)


def test_a_known_graph_looks_each_kernels_program_up_once(device, monkeypatch):
    """Realising a graph of a known structure finds each kernel's program with one lookup: a
    long kernel's key takes microseconds to hash."""
    ops = 120
    with using(device, True), lt.no_grad():
        x = lt.tensor(np.ones((4, 4), np.float32))
        _chain(x, ops).numpy()  # its schedule and programs, made once
        counting = _CountingLookups(engine._RENDERED)
        monkeypatch.setattr(engine, "_RENDERED", counting)
        rendered = []
        render_all = engine._render_all
        monkeypatch.setattr(engine, "_render_all", lambda specs, *a: rendered.extend(specs) or render_all(specs, *a))
        lt.reset_stats()
        out = _chain(x, ops).numpy()
    assert lt.stats().schedules_built == 0
    assert rendered
    assert counting.lookups == len(rendered)
    np.testing.assert_array_equal(out, np.full((4, 4), 1.0 + ops, np.float32))
