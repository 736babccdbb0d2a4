"""Very deep graphs realise and backprop under Python's default recursion limit: every
traversal on the way from a graph to its values (scheduling, lowering, rendering,
autograd) is iterative, so the depth of a graph never meets the depth of the stack."""
import sys

import numpy as np
import pytest

import lazytensor as lt
from lazytensor.codegen import render_numpy
from lazytensor.codegen.lower import lower_kernel
from lazytensor.ir.kernel import kernel_spec
from lazytensor.ir.traverse import postorder
from helpers import using

DEFAULT_RECURSION_LIMIT = 1000
STEPS = 5_000  # two ops a step: a 10,000-op chain
SCALE, SHIFT = 1.0001, 0.001


@pytest.fixture
def default_recursion_limit():
    """Python's own limit, whatever the test runner set: a traversal that recurses once per
    op would need ten times this."""
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(DEFAULT_RECURSION_LIMIT)
    try:
        yield
    finally:
        sys.setrecursionlimit(before)


def _start() -> np.ndarray:
    return np.linspace(-1.0, 1.0, 7, dtype=np.float32)


def _chain(x):
    y = x
    for _ in range(STEPS):
        y = y * SCALE + SHIFT
    return y


def _reference() -> np.ndarray:
    y = _start()
    for _ in range(STEPS):
        y = y * np.float32(SCALE) + np.float32(SHIFT)
    return y


def test_ten_thousand_op_chain_realises(device, default_recursion_limit):
    with using(device, lazy=True):
        y = _chain(lt.tensor(_start()))
        assert sys.getrecursionlimit() == DEFAULT_RECURSION_LIMIT
        got = y.numpy()
    np.testing.assert_allclose(got, _reference(), rtol=1e-4, atol=1e-5)


def test_ten_thousand_op_chain_backprops(device, default_recursion_limit):
    with using(device, lazy=True):
        x = lt.tensor(_start(), requires_grad=True)
        _chain(x).sum().backward()
        assert sys.getrecursionlimit() == DEFAULT_RECURSION_LIMIT
        grad = x.grad.numpy()
    np.testing.assert_allclose(grad, np.full(7, SCALE ** STEPS, np.float32), rtol=1e-3)


def test_whole_chain_lowers_and_renders_as_one_kernel(default_recursion_limit):
    """The scheduler cuts long chains into shallow kernels; lowering and NumPy rendering do
    not rely on it: one kernel over the whole chain is lowered and rendered too."""
    with using("numpy", lazy=True):
        y = _chain(lt.tensor(_start()))
        kernel = lower_kernel(kernel_spec((y.node,), set()))
        name, source = render_numpy.render(kernel)
    ops = [n.op for n in postorder(kernel.values, lambda n: n.srcs)]
    assert ops.count("mul") == ops.count("add") == STEPS
    assert name in source
