"""Nothing runs before it is needed; realising frees the graph behind; deep graphs work."""
import gc
import weakref

import numpy as np
import pytest
import torch

import lazytensor as lt
from helpers import check, using


@pytest.fixture
def lazy_env(device):
    with using(device, lazy=True) as e:
        yield e


def test_building_a_thousand_ops_runs_no_kernel(lazy_env):
    x = lt.ones(4, 4)
    lt.reset_stats()
    y = x
    for i in range(1000):
        y = (y * 1.0001 + 0.5).relu() if i % 2 else y.T - 0.25
    assert lt.stats().kernels_launched == 0
    assert lt.stats().realizations == 0


@pytest.mark.parametrize("leave", [
    lambda t: print(t), lambda t: t.sum().item(), lambda t: t.numpy(), lambda t: bool(t[0, 0] > -1),
    lambda t: t.tolist(), lambda t: float(t[0, 0]), lambda t: np.asarray(t),
], ids=["print", "item", "numpy", "bool", "tolist", "float", "array"])
def test_leaving_the_graph_realises(lazy_env, leave, capsys):
    x = lt.arange(16.0).reshape(4, 4)
    y = x * 2
    lt.reset_stats()
    leave(y)
    assert lt.stats().kernels_launched >= 1


def test_realize_runs_only_what_is_needed(lazy_env):
    x = lt.arange(8.0)
    wanted = x * 2
    unused = (x + 1).exp()
    lt.reset_stats()
    wanted.realize()
    assert lt.stats().kernels_launched == 1
    assert not unused.node.realized


def test_intermediates_are_freed_after_realise(lazy_env):
    x = lt.arange(8.0)
    y = x * 3
    z = (y + 1).sqrt()
    probe = weakref.ref(y.node)
    del y
    z.realize()
    gc.collect()
    assert probe() is None
    assert z.node.srcs == ()


def test_ten_thousand_op_chain_realises(lazy_env):
    x = lt.zeros(3)
    y = x
    for _ in range(10_000):
        y = y + 1
    check(y, torch.full((3,), 10_000.0))


def test_deep_chain_compiles_one_kernel_shape(lazy_env):
    """A long chain is cut into equal pieces that share one compiled kernel."""
    y = lt.zeros(5).realize()
    for _ in range(2000):
        y = y * 0.5 + 1.0
    lt.reset_stats()
    y.realize()
    assert lt.stats().kernels_launched > 1
    assert lt.stats().kernels_compiled <= 3


def test_value_read_before_mutation_keeps_old_value(lazy_env):
    x = lt.ones(3)
    before = x * 1
    x.add_(1)
    check(before, torch.ones(3))
    check(x, torch.full((3,), 2.0))


def test_live_nodes_stay_flat_over_a_loop(lazy_env):
    x = lt.ones(16)
    for _ in range(5):
        x = (x * 0.5 + 1).realize()
    gc.collect()
    start = lt.ir.node.live_node_count()
    for _ in range(200):
        x = (x * 0.5 + 1).realize()
    gc.collect()
    assert lt.ir.node.live_node_count() <= start + 2


def test_lazy_and_eager_elementwise_results_are_bit_identical_on_numpy():
    """Fused or one op at a time, the numpy device computes the same float32 values."""
    data = np.random.default_rng(3).standard_normal((5, 7)).astype(np.float32)

    def program():
        x = lt.tensor(data, device="numpy")
        y = ((x * 2 + 1).exp() * x).tanh() - x.sigmoid() / (x.abs() + 1)
        return (y.T[::2] * 3).numpy()

    with using("numpy", lazy=True):
        fused = program()
    with using("numpy", lazy=False):
        eager = program()
    np.testing.assert_array_equal(fused, eager)


def test_a_views_shape_is_read_without_building_its_node(lazy_env):
    x = lt.ones(6, 8)
    view = x.t().reshape(4, 12)[1:3]
    gc.collect()
    before = lt.ir.node.live_node_count()
    assert tuple(view.shape) == (2, 12) and view.ndim == 2 and view.numel() == 24
    assert lt.ir.node.live_node_count() == before


def test_a_module_built_then_given_weights_never_computes_its_initial_ones(lazy_env):
    lt.reset_stats()
    model = lt.nn.Sequential(lt.nn.Linear(8, 16), lt.nn.ReLU(), lt.nn.Linear(16, 3))
    assert lt.stats().realizations == 0  # parameters made, initialised, and still pending
    weights = {k: lt.tensor(np.full(tuple(v.shape), 0.5, dtype=np.float32)) for k, v in model.state_dict().items()}
    model.load_state_dict(weights)
    out = model(lt.ones(2, 8))
    np.testing.assert_allclose(out.numpy(), np.full((2, 3), 0.5 * 16 * (0.5 * 8 + 0.5) + 0.5), rtol=1e-6)
    assert all(p.is_leaf and p.requires_grad for p in model.parameters())


def test_a_pending_value_made_to_require_grad_stays_lazy_and_is_a_leaf(lazy_env):
    lt.reset_stats()
    w = (lt.ones(3) * 2).requires_grad_()
    assert lt.stats().realizations == 0
    (w * w).sum().backward()
    assert w.is_leaf and w.grad_fn is None
    np.testing.assert_array_equal(w.grad.numpy(), [4.0, 4.0, 4.0])


def test_a_random_normal_draw_is_one_value_for_every_kernel_that_reads_it(lazy_env):
    x = lt.randn(4096)
    doubled, total = x * 2, (x * x).sum()
    lt.realize(doubled, total)
    lt.reset_stats()
    values = x.numpy()  # stored when first computed: reading it runs nothing
    assert lt.stats().kernels_launched == 0
    np.testing.assert_array_equal(doubled.numpy(), values * 2)


def test_a_views_layout_is_worked_out_once_per_kind_of_view(lazy_env, monkeypatch):
    """A loop asks for the same views every step (a result read transposed): the layout is
    lowered once; the same chain over a base of another shape is worked out for itself."""
    from lazytensor.codegen import lower
    monkeypatch.setattr(lower, "_VIEW_LAYOUTS", {})
    worked_out = []
    real = lower._view_layout
    monkeypatch.setattr(lower, "_view_layout", lambda node, base: worked_out.append(1) or real(node, base))
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    for step in range(3):
        check((lt.tensor(x + step) * 2).t(), (torch.tensor(x + step) * 2).t())
    assert len(worked_out) == 1
    check(lt.tensor(x.T.copy()).t(), torch.tensor(x))  # the same chain over a (4, 3) base
    assert len(worked_out) == 2
