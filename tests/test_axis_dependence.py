"""Which axes of a reduction's loop the values computed inside it change along
(ir/axis_dependence.py), and the schedule's use of it: a row reduction fused into a loop
over rows is stored, not computed again at every step (ir/schedule.py)."""
import numpy as np
import pytest
import torch

import lazytensor as lt
from helpers import using
from lazytensor.ir.axis_dependence import _reshaped, varying_row_reductions
from lazytensor.ir.schedule import WHY_ROW_VARIES, schedule

F = frozenset


@pytest.mark.parametrize("deps, shape, src_shape, want", [
    ((F({0}), F({1}), F()), (2, 3, 4), (6, 4), (F({0, 1}), F())),  # a merge
    ((F({0}), F()), (6, 4), (2, 3, 4), (F({0}), F({0}), F())),  # a split
    ((F({0}), F({2})), (16, 8), (1, 16, 1, 8, 1), (F(), F({0}), F(), F({2}), F())),  # size-1 axes depend on nothing
    ((F({0}), F({1})), (6, 4), (4, 6), (F({0, 1}), F({0, 1}))),  # neither: one group
])
def test_a_reshape_shares_dependencies_within_each_group_of_dimensions(deps, shape, src_shape, want):
    assert _reshaped(deps, shape, src_shape) == want


def _graph(build, *shapes):
    with using("numpy", True):
        xs = [lt.tensor(np.random.default_rng(i).standard_normal(s).astype(np.float32)) for i, s in enumerate(shapes)]
        return build(*xs).node


def _layer_norm_weight_grad(x, g):
    """What a layer norm's weight gradient sums over the rows: g times the normalised row."""
    normalised = (x - x.mean(-1, keepdim=True)) / (x.var(-1, keepdim=True, unbiased=False) + 1e-5).sqrt()
    return (g * normalised).sum((0, 1))


def _attention(q, k, v):
    return (q @ k.transpose(-1, -2)).softmax(-1) @ v


def _reductions(root):
    from lazytensor.ir.traverse import postorder
    return [n for n in postorder([root], lambda n: n.srcs) if n.op == "reduce"]


def test_the_row_statistics_under_a_sum_over_rows_change_along_its_loop():
    root = _graph(_layer_norm_weight_grad, (4, 32, 16), (4, 32, 16))
    outer = next(n for n in _reductions(root) if n.arg[1] == (0, 1))
    rows = [n for n in _reductions(root) if n.arg[1] == (2,)]
    found = varying_row_reductions(outer, set(), {id(n) for n in rows})
    assert found and {id(n) for n in found} <= {id(n) for n in rows}


def test_softmax_under_attention_s_sum_over_keys_does_not_change_along_its_loop():
    root = _graph(_attention, (2, 32, 8), (2, 32, 8), (2, 32, 8))
    scores, *softmax, outer = _reductions(root)  # q @ k^T, softmax's max and sum, the sum over keys
    assert varying_row_reductions(outer, {id(scores)}, {id(n) for n in softmax}) == []


def test_a_layer_norm_weight_gradient_stores_its_row_statistics():
    root = _graph(_layer_norm_weight_grad, (4, 32, 16), (4, 32, 16))
    sched = schedule([root], fuse_row_reductions=True)
    assert WHY_ROW_VARIES in sched.reasons.values()


def test_attention_keeps_softmax_inside_its_kernel():
    root = _graph(_attention, (2, 32, 8), (2, 32, 8), (2, 32, 8))
    sched = schedule([root], fuse_row_reductions=True)
    assert WHY_ROW_VARIES not in sched.reasons.values()


@pytest.mark.parametrize("device", ["numpy", "cl"])
def test_a_layer_norm_weight_gradient_matches_torch(device):
    if device == "cl":
        from helpers import cl_unavailable_reason
        if cl_unavailable_reason() is not None:
            pytest.skip("needs OpenCL")
    rng = np.random.default_rng(3)
    x, w, g = (rng.standard_normal(s).astype(np.float32) for s in ((4, 32, 16), (16,), (4, 32, 16)))
    with using(device, True):
        lw = lt.tensor(w, requires_grad=True)
        (lt.nn.functional.layer_norm(lt.tensor(x), (16,), lw) * lt.tensor(g)).sum().backward()
    tw = torch.tensor(w, requires_grad=True)
    (torch.nn.functional.layer_norm(torch.tensor(x), (16,), tw) * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(lw.grad.numpy(), tw.grad.numpy(), rtol=1e-5, atol=1e-5)
