"""A value compared with its own max or min finds it: the reduction and the comparison read
one stored copy of computed values, never two recomputations that may differ in the last bit."""
import numpy as np
import pytest
import torch

import lazytensor as lt
from helpers import using
from lazytensor.ir.schedule import TIES_COMPARED, schedule

# softmax over padded columns: computed values with exact ties (the padded zeros) and
# values whose exp a vector and a scalar path round differently
DATA = np.random.default_rng(4894).standard_normal((3, 3, 3)).astype(np.float32)


def _softmax_of_padded(m, x):
    return m.nn.functional.pad(x, (0, 2)).softmax(1)


@pytest.mark.parametrize("op", ["amin", "amax"])
@pytest.mark.usefixtures("env")
def test_gradient_of_an_extreme_of_computed_values_matches_torch(op):
    grads = []
    for m in (torch, lt):
        x = m.tensor(DATA, requires_grad=True)
        getattr(_softmax_of_padded(m, x), op)(-2).sum().backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-5, atol=1e-6)


@pytest.mark.usefixtures("env")
def test_gradient_of_an_extreme_is_right_when_the_forward_was_read_first():
    """The loss read before backward: the forward kernel already computed the minimum."""
    grads = []
    for m in (torch, lt):
        x = m.tensor(DATA, requires_grad=True)
        loss = (_softmax_of_padded(m, x).amin(-2) * m.linspace(0.5, 1.5, 15).reshape(3, 5)).sum()
        loss.item()
        loss.backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-5, atol=1e-6)


@pytest.mark.usefixtures("env")
def test_every_row_of_computed_values_meets_its_own_max():
    for m in (torch, lt):
        y = _softmax_of_padded(m, m.tensor(DATA)).exp()
        hits = (y == y.amax(1, keepdim=True)).sum(1)
        assert (hits.numpy() >= 1).all(), m.__name__


@pytest.fixture
def lazy_graph(device):
    """What the scheduler stores is a question about a lazy graph."""
    with using(device, True):
        yield


def _stored(out, *values) -> list[bool]:
    sched = schedule([out.node])
    return [id(v.node) in sched.materialised for v in values]


@pytest.mark.usefixtures("lazy_graph")
def test_a_comparison_with_its_own_max_stores_the_computed_values():
    x = lt.tensor(DATA)
    y = x.exp() * 2
    assert _stored((y == y.amax(1, keepdim=True)).float(), y) == [True]


@pytest.mark.usefixtures("lazy_graph")
def test_a_max_alone_does_not_store_its_computed_source():
    x = lt.tensor(DATA)
    y = x.exp() * 2
    assert _stored(y.amax(1), y) == [False]


@pytest.mark.usefixtures("lazy_graph")
def test_a_max_autograd_follows_is_marked_so_its_source_is_stored():
    x = lt.tensor(DATA, requires_grad=True)
    y = x.exp() * 2
    peak = y.amax(1, keepdim=True)
    assert peak.node in TIES_COMPARED
    assert _stored(peak, y) == [True]


@pytest.mark.usefixtures("lazy_graph")
def test_softmax_shifts_by_a_max_autograd_does_not_follow():
    """The shift cancels, so no tie-finding gradient (and no extra stored copy) comes of it."""
    x = lt.tensor(DATA, requires_grad=True)
    s = (x * 2).softmax(1)
    assert not any(n in TIES_COMPARED for n in _reduces(s.node))


def _reduces(node):
    from lazytensor.ir.traverse import postorder
    return [n for n in postorder([node], lambda n: n.srcs) if n.op == "reduce"]
