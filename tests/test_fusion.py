"""Fusion is measurable: pinned kernel counts for known programs, and no recompiles."""
import numpy as np
import pytest
import torch

import lazytensor as lt
from helpers import check


def kernels_for(*tensors) -> int:
    """Kernels launched to realise `tensors` together."""
    lt.reset_stats()
    lt.realize(*tensors)
    return lt.stats().kernels_launched


def realized(shape, seed=0):
    x = lt.tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))
    return x.realize()


def test_elementwise_chain_into_reduction_is_one_kernel(env):
    x = realized((8, 16))
    y = ((x * 2 + 1).exp() * x).sum(1)
    if env.lazy:
        assert kernels_for(y) == 1
    t = torch.from_numpy(x.numpy())
    check(y, ((t * 2 + 1).exp() * t).sum(1), rtol=1e-4)


def test_permute_reshape_then_elementwise_is_one_kernel(env):
    x = realized((8, 16))
    y = x.permute(1, 0).reshape(4, 32) * 3 + 1
    if env.lazy:
        assert kernels_for(y) == 1
    check(y, torch.from_numpy(x.numpy()).permute(1, 0).reshape(4, 32) * 3 + 1)


@pytest.mark.parametrize("view", [
    lambda x: x.T, lambda x: x[1:, ::2], lambda x: x.reshape(16, 8), lambda x: x.unsqueeze(0).expand(3, 8, 16),
    lambda x: x.permute(1, 0)[2],
], ids=["T", "slice", "reshape", "expand", "permute_select"])
def test_pure_view_costs_no_kernel(env, view):
    x = realized((8, 16))
    v = view(x)
    assert kernels_for(v) == 0
    ref = view(torch.from_numpy(x.numpy()))
    lt.reset_stats()
    check(v, ref)
    assert lt.stats().kernels_launched == 0


def test_an_alias_realised_with_its_computed_source_is_a_view_of_it_not_a_copy(env):
    weight = lt.ones(8, 16, requires_grad=True)  # autograd follows something: values reach ops detached
    state = lt.zeros(8, 16).detach()  # as optimizers keep their state
    state.mul_(0.5).add_(realized((8, 16)) * weight.detach())
    assert kernels_for(state) == (1 if env.lazy else 0)
    assert state.node.buffer.buffer is state._storage.node.buffer.buffer


@pytest.mark.parametrize("device", ["cl"])
def test_independent_results_of_different_shapes_share_one_launch_on_cl(device, monkeypatch):
    from helpers import cl_unavailable_reason, using
    from lazytensor.codegen.hoist import Hoister
    from lazytensor.runtime import engine
    from lazytensor.runtime.devices import get_device
    if cl_unavailable_reason() is not None:
        pytest.skip("needs OpenCL")
    # as in a fresh process: kernels that other tests met at several sizes are generic (sized
    # at launch), and those launch alone
    monkeypatch.setattr(engine, "_RENDERED", {})
    monkeypatch.setenv("LT_PLAN_CACHE", "0")  # rendered here, not read from a plan on disk
    monkeypatch.setattr(get_device("cl"), "hoister", Hoister())
    with using(device, True):
        a, b, c = realized((7, 5)), realized((3,), seed=1), realized((4, 4, 4), seed=2)
        outs = [(a * 2 + 1).exp(), b.tanh() - 3, c * c]
        assert kernels_for(*outs) == 1
        for out, x, fn in zip(outs, (a, b, c), (lambda t: (t * 2 + 1).exp(), lambda t: t.tanh() - 3,
                                                lambda t: t * t)):
            check(out, fn(torch.from_numpy(x.numpy())), rtol=1e-5)


def _fuses_rows(env) -> bool:
    """Does the device run a row reduction inside the kernel that reads it back (a CPU)?"""
    from lazytensor.runtime.devices import get_device
    return getattr(get_device(env.device), "fuse_row_reductions", False)


def test_softmax_over_few_long_rows_is_three_kernels(env):
    x = realized((4, 2048))
    y = x.softmax(-1)
    if env.lazy:
        assert kernels_for(y) == 3  # max, sum of exp, normalise: each row's reductions run in parallel
    check(y, torch.from_numpy(x.numpy()).softmax(-1))


@pytest.mark.parametrize("shape", [(4, 10), (32, 10)], ids=["few short rows", "many rows"])
def test_softmax_over_short_or_many_rows_is_one_kernel_where_rows_fuse(env, shape):
    x = realized(shape)
    y = x.softmax(-1)
    if env.lazy:
        assert kernels_for(y) == (1 if _fuses_rows(env) else 3)
    check(y, torch.from_numpy(x.numpy()).softmax(-1))


def test_a_softmax_is_scheduled_alike_at_every_length_where_rows_fuse():
    """A sequence growing a token a step keeps one schedule (and one set of kernels to
    compile), from its first token on."""
    from lazytensor.ir.schedule import schedule
    counts = {length: len(schedule([lt.randn(4, length, length).realize().softmax(-1).node],
                                   fuse_row_reductions=True).kernels) for length in range(1, 20)}
    assert set(counts.values()) == {1}, counts


@pytest.mark.parametrize("rows,length,fused_kernels", [(4, 2048, 3), (4, 10, 1), (32, 10, 1)],
                         ids=["few long rows", "few short rows", "many rows"])
def test_layernorm_kernels(env, rows, length, fused_kernels):
    """mean, variance (+eps, sqrt fused), normalise: three kernels, or one where the device runs
    a row in a work-item and the rows are short or many."""
    x = realized((rows, length))
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    y = (x - mean) / (var + 1e-5).sqrt()
    if env.lazy:
        assert kernels_for(y) == (fused_kernels if _fuses_rows(env) else 3)
    check(y, torch.nn.functional.layer_norm(torch.from_numpy(x.numpy()), (length,)), rtol=1e-4, atol=1e-5)


def test_matmul_with_elementwise_epilogue_is_one_kernel(env):
    a, b = realized((5, 7), 1), realized((7, 3), 2)
    y = (a @ b).relu() * 2
    if env.lazy:
        assert kernels_for(y) == 1
    check(y, (torch.from_numpy(a.numpy()) @ torch.from_numpy(b.numpy())).relu() * 2, rtol=1e-5, atol=1e-5)


def test_shared_intermediate_is_computed_once_per_realize(env):
    x = realized((64, 64))  # a long row: the sum runs as a kernel of its own even where rows fuse
    s = x.sum()  # a reduction used by two outputs is materialised once
    a, b = x - s, x + s
    if env.lazy:
        assert kernels_for(a, b) == 2  # the sum; then a and b from one multi-output kernel
    t = torch.from_numpy(x.numpy())
    check(a, t - t.sum(), rtol=1e-5, atol=1e-5)
    check(b, t + t.sum(), rtol=1e-5, atol=1e-5)


def test_outputs_of_one_shape_reading_one_buffer_share_a_kernel(env):
    x, g = realized((4, 5), 1), realized((4, 5), 2)
    outs = (x - 0.1 * g, g * 0.9, (g * g).sqrt())  # like a parameter and its moments
    if env.lazy:
        assert kernels_for(*outs) == 1
    tx, tg = torch.from_numpy(x.numpy()), torch.from_numpy(g.numpy())
    for got, want in zip(outs, (tx - 0.1 * tg, tg * 0.9, (tg * tg).sqrt())):
        check(got, want, rtol=1e-5, atol=1e-6)


def test_same_program_on_new_data_compiles_nothing(env):
    def program(x):
        return ((x * 0.5).tanh() + x.mean(0)).sum(1)
    program(realized((6, 5), 1)).realize()
    lt.reset_stats()
    y = program(realized((6, 5), 2))
    y.realize()
    assert lt.stats().kernels_compiled == 0
    assert lt.stats().cache_hits >= 1


def test_changing_a_python_scalar_compiles_nothing(env):
    x = realized((4, 4))
    (x * 0.1 + 0.2).realize()
    lt.reset_stats()
    (x * 0.3 + 0.4).realize()
    assert lt.stats().kernels_compiled == 0


def test_eager_mode_runs_each_op_at_once(device):
    from helpers import using
    with using(device, lazy=False):
        x = realized((4, 4))
        lt.reset_stats()
        y = x * 2
        assert lt.stats().kernels_launched == 1
        y = y + 1
        assert lt.stats().kernels_launched == 2
        assert y.node.realized


def test_a_deep_chain_of_matrix_vector_products_is_not_nested_in_one_kernel():
    """The backward pass of ten stacked linear layers: each weight's gradient kernel nests
    at most three row reductions (not all ten: each would repeat the inner loops)."""
    from lazytensor.codegen.lower import lower_kernel
    from lazytensor.codegen.render_common import toposort
    from lazytensor.ir.schedule import MAX_ROW_NESTING, schedule
    lt.manual_seed(0)
    net = lt.nn.Sequential(*[lt.nn.Linear(8, 8) for _ in range(10)])
    net(lt.randn(4, 8)).pow(2).mean().backward()
    first = net[0].weight.grad._storage.node
    for spec in schedule([first], fuse_row_reductions=True).kernels:
        order = toposort(lower_kernel(spec).values)
        assert sum(n.op == "reduce" for n in order) <= MAX_ROW_NESTING


def test_a_reduction_several_kernels_would_compute_is_stored_once():
    from lazytensor.ir.schedule import schedule
    x = lt.randn(6, 5).realize()
    rows = x.sum(1).exp()  # a reduction fused into its elementwise reader, which two kernels read
    a, b = rows * 2, rows.reshape(2, 3) + 1  # two elementwise kernels (results of two shapes)
    sched = schedule([a.node, b.node])
    assert any(why.startswith("a reduction 2 kernels would each compute") for why in sched.reasons.values())
    np.testing.assert_allclose(b.numpy(), np.exp(x.numpy().sum(1)).reshape(2, 3) + 1, rtol=1e-5)
