"""The IR's node table: hash-consing finds a live node again, and forgets dead ones."""
from lazytensor.ir import node as N
from lazytensor.ir.dtype import float32


def _leaf() -> N.Node:
    """A value of its own that no construction-time rewrite folds."""
    return N.unique("detach", N.make("const", float32, (4,), (), 2.0, "numpy"))


def test_building_a_node_twice_gives_the_same_node():
    a = _leaf()
    assert N.make("add", float32, (4,), (a, a), None, "numpy") is N.make("add", float32, (4,), (a, a), None, "numpy")


def test_the_table_stays_bounded_while_nodes_are_built_and_dropped():
    """Dead nodes' entries leave in sweeps, never one per node; the table never holds more
    than the sweep bound and twice the live ones."""
    a = _leaf()
    for i in range(3 * N._SWEEP_FROM):
        N.make("mul", float32, (4,), (a, N.make("const", float32, (4,), (), float(i), "numpy")), None, "numpy")
        assert len(N._CACHE) <= max(N._SWEEP_FROM, N._sweep_at) + 1


def test_live_node_count_counts_only_live_nodes():
    a = _leaf()
    start = N.live_node_count()
    kept = [N.make("mul", float32, (4,), (a, a), None, "numpy")]
    for i in range(100):
        N.make("add", float32, (4,), (a, N.make("const", float32, (4,), (), float(i), "numpy")), None, "numpy")
    assert N.live_node_count() == start + len(kept)


def test_a_dead_nodes_entry_is_never_returned_for_new_sources():
    """An entry whose node died may share its key with a new node whose sources reuse the
    dead ones' ids: the new node is built, with its own sources."""
    for i in range(200):
        a, b = _leaf(), _leaf()
        built = N.make("sub", float32, (4,), (a, b), None, "numpy")
        assert built.srcs[0] is a and built.srcs[1] is b
