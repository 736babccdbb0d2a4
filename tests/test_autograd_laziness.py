"""Autograd keeps lazytensor lazy and fused: backward records IR nodes and
runs nothing until a gradient is read; forward + backward + SGD update of a
small MLP realise in a handful of kernels; training does not leak IR nodes
or buffers; deep chains backprop without recursion."""
import gc

import numpy as np
import pytest
import torch

import lazytensor as lt
from helpers import check, using, values
from lazytensor.runtime.devices import get_device

TOL = dict(rtol=1e-4, atol=1e-5)

# Kernels for one realised SGD step of the MLP below (forward, backward and the
# update of both weights, realised together by lt.realize(w1, w2)).
# Pinned: h = relu(x @ w1) and the output error are materialised (they feed two matmuls each),
# grad wrt h, then the two weight gradients fused with their SGD updates: 6 kernels in all.
SGD_STEP_KERNELS = 6
# on a CPU's OpenCL the two weights' gradient-and-update kernels, each one flat loop over a
# weight, share one launch (codegen/horizontal.py)
SGD_STEP_LAUNCHES_CL_CPU = 5


@pytest.fixture
def lazy_env(device):
    with using(device, lazy=True) as e:
        yield e


def _mlp_data():
    x = values((16, 8), seed=51)
    y = values((16, 4), seed=52)
    w1 = values((8, 32), seed=53) / 3
    w2 = values((32, 4), seed=54) / 6
    return x, y, w1, w2


def _sgd_step(m, x, y, w1, w2, lr=0.05):
    loss = ((x @ w1).relu() @ w2 - y).pow(2).mean()
    loss.backward()
    with m.no_grad():
        w1 -= lr * w1.grad
        w2 -= lr * w2.grad
    w1.grad = None
    w2.grad = None
    return loss


def _lt_mlp():
    x, y, w1, w2 = _mlp_data()
    x, y = lt.tensor(x), lt.tensor(y)
    w1, w2 = lt.tensor(w1, requires_grad=True), lt.tensor(w2, requires_grad=True)
    lt.realize(x, y, w1, w2)
    return x, y, w1, w2


def test_backward_runs_no_kernel_until_a_gradient_is_read(lazy_env):
    x, y, w1, w2 = _lt_mlp()
    lt.reset_stats()
    loss = ((x @ w1).relu() @ w2 - y).pow(2).mean()
    loss.backward()
    g1, g2 = w1.grad, w2.grad            # the .grad tensors themselves are lazy
    assert g1 is not None and g2 is not None
    assert lt.stats().kernels_launched == 0, "backward() ran kernels before any value was read"
    assert lt.stats().realizations == 0
    g1.numpy()                           # reading a gradient runs the work
    assert lt.stats().kernels_launched >= 1

    tx, ty, tw1, tw2 = (torch.tensor(a, requires_grad=i >= 2) for i, a in enumerate(_mlp_data()))
    ((tx @ tw1).relu() @ tw2 - ty).pow(2).mean().backward()
    check(g1, tw1.grad, **TOL)
    check(g2, tw2.grad, **TOL)


def test_autograd_grad_runs_no_kernel(lazy_env):
    x, y, w1, w2 = _lt_mlp()
    lt.reset_stats()
    loss = ((x @ w1).tanh() @ w2 - y).abs().sum()
    gw1, gw2 = lt.autograd.grad(loss, (w1, w2))
    assert lt.stats().kernels_launched == 0
    lt.realize(gw1, gw2)
    assert lt.stats().kernels_launched >= 1


def test_second_order_graph_runs_no_kernel(lazy_env):
    x = lt.tensor(values((3, 4), seed=55), requires_grad=True).realize()
    lt.reset_stats()
    (g,) = lt.autograd.grad((x.sin() * x).sum(), x, create_graph=True)
    (g.pow(2).sum()).backward()
    assert lt.stats().kernels_launched == 0
    x.grad.numpy()
    assert lt.stats().kernels_launched >= 1


def test_sgd_step_of_mlp_runs_few_kernels(lazy_env):
    x, y, w1, w2 = _lt_mlp()
    _sgd_step(lt, x, y, w1, w2)          # warm-up step: compiles, realises first updates
    lt.realize(w1, w2)

    lt.reset_stats()
    _sgd_step(lt, x, y, w1, w2)
    lt.realize(w1, w2)
    n = lt.stats().kernels_launched
    print(f"\nSGD step of a 2-layer MLP ({lazy_env.device}): {n} kernels")
    cl_cpu = lazy_env.device == "cl" and get_device("cl").caps.is_cpu
    assert n == (SGD_STEP_LAUNCHES_CL_CPU if cl_cpu else SGD_STEP_KERNELS)

    # and the values are right: same two steps in torch
    tx, ty, tw1, tw2 = (torch.tensor(a, requires_grad=i >= 2) for i, a in enumerate(_mlp_data()))
    for _ in range(2):
        _sgd_step(torch, tx, ty, tw1, tw2)
    check(w1, tw1, **TOL)
    check(w2, tw2, **TOL)


def test_elementwise_backward_is_fused(lazy_env):
    """A chain of 20 elementwise ops (about 80 with backward) realises its
    gradient in a few kernels, not one per op (the scheduler may cut a very
    deep expression into a few equal pieces)."""
    x = lt.tensor(values((3, 4), seed=57), requires_grad=True).realize()
    tx = torch.tensor(values((3, 4), seed=57), requires_grad=True)
    for m, t in ((lt, x), (torch, tx)):
        y = t
        for i in range(5):
            y = (y * 0.9 + 0.1).sin() * (y.sigmoid() + 0.5) - y.tanh() * 0.1
        y.sum().backward()
    lt.reset_stats()
    x.grad.realize()
    n = lt.stats().kernels_launched
    print(f"\n20-op elementwise chain backward ({lazy_env.device}): {n} kernels")
    assert n <= 5
    check(x.grad, tx.grad, **TOL)


def test_sgd_loop_matches_torch(lazy_env):
    x, y, w1, w2 = _lt_mlp()
    tx, ty, tw1, tw2 = (torch.tensor(a, requires_grad=i >= 2) for i, a in enumerate(_mlp_data()))
    lt_losses, t_losses = [], []
    for _ in range(10):
        lt_losses.append(_sgd_step(lt, x, y, w1, w2))
        lt.realize(w1, w2)
        t_losses.append(_sgd_step(torch, tx, ty, tw1, tw2).item())
    np.testing.assert_allclose([v.item() for v in lt_losses], t_losses, rtol=1e-4)
    assert t_losses[-1] < t_losses[0]


def _live_buffers():
    from lazytensor.runtime.buffer import Buffer
    return sum(1 for o in gc.get_objects() if type(o) is Buffer)


@pytest.mark.slow
def test_training_keeps_live_nodes_and_buffers_flat(lazy_env):
    x, y, w1, w2 = _lt_mlp()
    counts = {}
    for step in range(1, 1001):
        loss = _sgd_step(lt, x, y, w1, w2)
        lt.realize(w1, w2)
        if step in (50, 1000):
            loss.item()
            del loss
            gc.collect()
            counts[step] = (lt.ir.node.live_node_count(), _live_buffers())
    (n50, b50), (n1000, b1000) = counts[50], counts[1000]
    print(f"\nlive IR nodes: {n50} after step 50, {n1000} after step 1000; "
          f"live buffers: {b50} -> {b1000}")
    assert n1000 <= n50 + 5, f"live IR nodes grew from {n50} to {n1000}"
    assert b1000 <= b50 + 5, f"live buffers grew from {b50} to {b1000}"


def test_saved_graph_is_freed_after_backward(lazy_env):
    x, y, w1, w2 = _lt_mlp()
    for _ in range(3):
        _sgd_step(lt, x, y, w1, w2)
        lt.realize(w1, w2)
    gc.collect()
    start = lt.ir.node.live_node_count()
    for _ in range(20):
        loss = ((x @ w1).relu() @ w2 - y).pow(2).mean()
        loss.backward()
        w1.grad = None
        w2.grad = None
        del loss
    gc.collect()
    assert lt.ir.node.live_node_count() <= start + 5


def test_ten_thousand_op_chain_backprops():
    """The backward traversal is device independent; run it on numpy (the
    forward realisation of deep chains on every device is in test_laziness)."""
    with using("numpy", True):
        _ten_thousand_op_chain()


def _ten_thousand_op_chain():
    x = lt.tensor(values((3,), seed=56), requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001 + 0.001
    y.sum().backward()                   # iterative traversal: no RecursionError
    check(x.grad, torch.full((3,), 1.0001 ** 10_000), rtol=1e-3)
    check(y, torch.from_numpy(values((3,), seed=56)).double().mul(1.0001 ** 10_000)
          .add(0.001 * (1.0001 ** 10_000 - 1) / 0.0001).float(), rtol=1e-3, atol=1e-3)
