"""The IR's node table: hash-consing finds a live node again, and forgets dead ones."""
import pytest

from lazytensor.ir import node as N
from lazytensor.ir.dtype import float32, int64


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


def _const(value, shape=(4,)) -> N.Node:
    return N.make("const", float32, shape, (), value, "numpy")


@pytest.mark.parametrize("op, srcs, folds_to", [
    ("add", lambda x: (x, _const(-0.0)), 0),
    ("add", lambda x: (_const(-0.0), x), 1),
    ("sub", lambda x: (x, _const(0.0)), 0),
    ("mul", lambda x: (x, _const(1.0)), 0),
    ("mul", lambda x: (_const(1.0), x), 1),
    ("div", lambda x: (x, _const(1.0)), 0),
    ("add", lambda x: (x, _const(0.0)), None),  # -0.0 + 0.0 is 0.0
    ("add", lambda x: (_const(0.0), x), None),
    ("sub", lambda x: (x, _const(-0.0)), None),  # -0.0 - -0.0 is 0.0
    ("sub", lambda x: (_const(0.0), x), None),  # 0 - x is -x
    ("div", lambda x: (_const(1.0), x), None),  # 1 / x is a reciprocal
    ("mul", lambda x: (x, _const(0.0)), None),  # x * 0 is NaN where x is inf or NaN
    ("add", lambda x: (x, _const(2.0)), None),
])
def test_an_op_with_its_neutral_constant_is_its_other_operand(op, srcs, folds_to):
    """Construction-time identities (ir/rewrite.py): x + -0.0, x - 0.0, x * 1 and x / 1 are x,
    on either side where the op commutes; nothing else is folded away (x + 0.0 is not x where
    x is -0.0)."""
    x = _leaf()
    operands = srcs(x)
    built = N.make(op, float32, (4,), operands, None, "numpy")
    if folds_to is None:
        assert built.op == op and built.srcs == operands
    else:
        assert built is operands[folds_to]



def test_an_integer_zero_is_neutral_for_add_and_sub():
    x = N.unique("detach", N.make("const", int64, (4,), (), 3, "numpy"))
    zero = N.make("const", int64, (4,), (), 0, "numpy")
    assert N.make("add", int64, (4,), (x, zero), None, "numpy") is x
    assert N.make("add", int64, (4,), (zero, x), None, "numpy") is x
    assert N.make("sub", int64, (4,), (x, zero), None, "numpy") is x
