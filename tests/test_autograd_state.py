"""What autograd knows about values is autograd's: IR nodes carry none of it, and the IR
is the same in every grad mode."""
import gc

import numpy as np

import lazytensor as lt
from lazytensor.ir import build as B
from lazytensor.ir.node import Node, live_node_count


def test_nodes_have_no_autograd_fields():
    assert not {"needs_grad", "grad_owner"} & set(Node.__slots__)


def test_grad_mode_does_not_change_hash_consing():
    x = lt.randn(3, requires_grad=True)
    with lt.no_grad():
        untracked = B.elementwise("mul", x.node, x.node)
    tracked = B.elementwise("mul", x.node, x.node)
    assert untracked is tracked


def test_a_value_built_under_no_grad_stays_a_constant_after_the_same_value_is_tracked():
    x = lt.tensor([1.0, -2.0, 3.0], requires_grad=True)
    with lt.no_grad():
        a = x * 2
    b = x * 2  # the same node as a's
    assert not a.requires_grad and b.requires_grad
    loss = (a * b).sum()  # d/dx = a * 2: a is a constant
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), (x.numpy() * 2) * 2)


def test_results_that_fold_to_their_input_get_their_own_grad_fn():
    x = lt.randn(4, requires_grad=True)
    y = x * 1  # folds to x's value, yet is a new non-leaf as in PyTorch
    assert y.grad_fn is not None and not y.is_leaf and x.is_leaf
    y.retain_grad()
    (y * 3).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), np.full(4, 3.0))
    np.testing.assert_allclose(x.grad.numpy(), np.full(4, 3.0))


def test_a_comparison_cuts_the_graph():
    x = lt.randn(5, requires_grad=True)
    assert not (x > 0).float().requires_grad


def test_dead_leaves_and_their_graphs_are_freed():
    gc.collect()
    start = live_node_count()
    for _ in range(20):
        w = lt.randn(8, 8, requires_grad=True)
        (w @ w).relu().sum().backward()
        del w
    gc.collect()
    assert live_node_count() <= start + 5


def test_an_op_built_on_a_node_an_untracked_view_also_holds_still_tracks():
    w = lt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    k = lt.tensor([[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]])
    with lt.no_grad():
        a = w * 2
        e = a.expand(2, 3)  # an untracked view over the node b will share
        assert e.shape == (2, 3)
    b = w * 2
    c = b * k
    assert c.requires_grad
    c.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [6.0, 6.0, 6.0])


def test_a_broadcast_reduction_built_under_no_grad_does_not_cut_a_later_graph():
    w = lt.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    with lt.no_grad():
        held = w.sum(1, keepdim=True).expand(2, 3)
        assert held.shape == (2, 3)
    y = w - w.sum(1, keepdim=True)
    (y * y).sum().backward()
    expected = 2 * (w.numpy() - w.numpy().sum(1, keepdims=True))
    expected = expected - expected.sum(1, keepdims=True)
    np.testing.assert_allclose(w.grad.numpy(), expected, rtol=1e-6)


def test_setting_data_on_a_non_leaf_keeps_its_gradient_path():
    x = lt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    y.data = lt.ones(3)
    (y * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 6.0, 6.0])


def test_a_non_leaf_overwritten_under_no_grad_does_not_borrow_another_tensors_gradient():
    w = lt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x = lt.tensor([4.0, 5.0, 6.0], requires_grad=True)
    y = w * 2
    with lt.no_grad():
        y.copy_(x * 3)
    z = x * 3  # the same node as y's new value
    assert z.requires_grad
    (z * 5).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [15.0, 15.0, 15.0])
    assert w.grad is None
