"""In-place ops, writes through views, and value semantics of a lazy graph:
a value built before a mutation keeps the old value."""
import numpy as np
import pytest
import torch

import lazytensor as lt
from helpers import check, check_cases, compare, values

pytestmark = pytest.mark.usefixtures("env")

X = values((3, 4), seed=11)


def _inplace(body):
    """Apply ``body(m, x)`` (which mutates x) to a clone, return the clone."""
    def fn(m, x):
        x = x.clone()
        body(m, x)
        return x
    return fn


def _iadd(m, x): x += 2            # noqa: E704
def _isub(m, x): x -= x[0] * 2     # noqa: E704
def _imul(m, x): x *= 0.5          # noqa: E704
def _idiv(m, x): x /= m.tensor([1.0, 2.0, 4.0, 8.0])  # noqa: E704


INPLACE = {
    "add_scalar": _inplace(lambda m, x: x.add_(1.5)),
    "add_tensor_alpha": _inplace(lambda m, x: x.add_(x[:1] + 1, alpha=2)),
    "sub_": _inplace(lambda m, x: x.sub_(x * 0.25)),
    "mul_": _inplace(lambda m, x: x.mul_(3)),
    "div_": _inplace(lambda m, x: x.div_(x.abs() + 1)),
    "copy_": _inplace(lambda m, x: x.copy_(m.ones(3, 4) * 7)),
    "copy_broadcast_and_cast": _inplace(lambda m, x: x.copy_(m.arange(4))),
    "zero_": _inplace(lambda m, x: x.zero_()),
    "fill_": _inplace(lambda m, x: x.fill_(-2.5)),
    "clamp_": _inplace(lambda m, x: x.clamp_(-0.5, 0.5)),
    "clamp_min_only": _inplace(lambda m, x: x.clamp_(min=0)),
    "masked_fill_": _inplace(lambda m, x: x.masked_fill_(x > 0, 0.0)),
    "iadd": _inplace(_iadd),
    "isub": _inplace(_isub),
    "imul": _inplace(_imul),
    "idiv": _inplace(_idiv),
    "chain": _inplace(lambda m, x: x.mul_(2).add_(1).clamp_(max=2)),
}


def test_inplace_values():
    check_cases(INPLACE, lambda fn: compare(fn, X))


def test_inplace_int_tensor_iadd_keeps_dtype():
    compare(_inplace(_iadd), values((3, 4), "int64"))
    compare(_inplace(lambda m, x: x.mul_(3)), values((3, 4), "int32"))


def test_inplace_on_zero_size_and_0d():
    compare(_inplace(lambda m, x: x.add_(1)), np.zeros((0, 3), np.float32))
    compare(_inplace(lambda m, x: x.mul_(4)), np.array(2.0, np.float32))


def test_inplace_returns_self():
    x = lt.tensor(X)
    for method, args in (("add_", (1,)), ("mul_", (2,)), ("zero_", ()), ("fill_", (3.0,)),
                         ("clamp_", (0, 1)), ("sub_", (1,)), ("div_", (2,))):
        assert getattr(x, method)(*args) is x, method


def test_inplace_shape_ops():
    x, tx = lt.tensor(X), torch.from_numpy(X.copy())
    for t in (x, tx):
        assert t.t_() is t
    check(x, tx)
    for t in (x, tx):
        t.unsqueeze_(0)
    check(x, tx)
    for t in (x, tx):
        t.transpose_(0, 2)
    check(x, tx)
    check(x + 1, tx + 1)


def test_iadd_keeps_identity():
    x = lt.tensor(X)
    y = x
    x += 1
    assert x is y
    check(y, torch.from_numpy(X) + 1)


def test_write_through_view_visible_in_base_and_other_views():
    x = lt.zeros(4, 4)
    v = x[1:3]
    w = x[:, 2]          # overlaps v
    v.add_(1)
    ref = torch.zeros(4, 4)
    ref[1:3] += 1
    check(x, ref)
    check(v, ref[1:3])
    check(w, ref[:, 2])


def test_an_expand_that_repeats_nothing_is_written_through_as_in_torch():
    results = []
    for m in (lt, torch):
        x = m.ones(2, 3)
        x.expand(2, 3)[0].add_(1)
        x.expand(1, 2, 3)[0, 1].mul_(3)
        y = x * 1
        y.expand(2, 3).mul_(2)
        results.append([x, y])
    check(*results)
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        lt.ones(1, 3).expand(2, 3).add_(1)  # repeats a row: refused, as in PyTorch


def test_write_through_noncontiguous_views():
    x, tx = lt.zeros(3, 4), torch.zeros(3, 4)
    for t in (x, tx):
        t.t()[::2].fill_(2.0)        # columns 0 and 2
        t[1:, 1::2].mul_(0).add_(5)
        t.reshape(12)[3:6].sub_(1)   # reshape of a contiguous tensor is a view
        t.unsqueeze(0)[0, 0].clamp_(max=1)
    check(x, tx)


def test_writes_through_diagonals_reach_the_tensor():
    """A diagonal is a view whatever it is taken of: off the main diagonal, of a transpose,
    over the outer dims of a batch."""
    x, tx = lt.zeros(3, 4, 4), torch.zeros(3, 4, 4)
    for t in (x, tx):
        t[0].diagonal().copy_(t.new_tensor([1.0, 2.0, 3.0, 4.0]))
        t[1].diagonal(1).fill_(5.0)
        t[1].diagonal(-2).fill_(-5.0)
        t[2].t().diagonal(-1).add_(7.0)
        t.diagonal(0, 0, 2).mul_(3.0).add_(1.0)
    check(x, tx)


def test_writes_through_windows_that_do_not_overlap_reach_the_tensor():
    x, tx = lt.zeros(2, 5), torch.zeros(2, 5)
    for t in (x, tx):
        t.unfold(1, 2, 3).add_(1.0)   # windows [0, 1] and [3, 4]: the row padded to 6 inside
        t.unfold(0, 1, 1)[1].mul_(3.0)
        t[0].unfold(0, 2, 2)[1].fill_(7.0)
    check(x, tx)


def test_value_read_before_mutation_keeps_old_value():
    x = lt.tensor(X)
    y = x * 1
    v = x[0]
    s = x.sum()
    x.add_(1)
    check(y, torch.from_numpy(X))
    check(s, torch.from_numpy(X).sum(), atol=1e-5)
    check(v, torch.from_numpy(X)[0] + 1)    # a view sees the mutation
    check(x, torch.from_numpy(X) + 1)


def test_mutation_after_realisation_and_repeated_mutation():
    x = lt.tensor(X)
    before = x.numpy().copy()
    for _ in range(3):
        x.mul_(2)
    y = x + 0
    x.zero_()
    np.testing.assert_allclose(y.numpy(), before * 8, rtol=1e-6)
    assert not x.numpy().any()


def test_setitem_then_view_then_mutate_base():
    x, tx = lt.tensor(X), torch.from_numpy(X.copy())
    for t in (x, tx):
        t[0] = 1.0
        v = t[:, 1:3]
        t.mul_(2)
        v.add_(1)
    check(x, tx)


def test_clone_is_independent():
    x = lt.tensor(X)
    c = x.clone()
    c.add_(1)
    check(x, torch.from_numpy(X))
    check(c, torch.from_numpy(X) + 1)


def test_data_is_an_alias():
    x = lt.tensor(X)
    x.data.mul_(2)
    check(x, torch.from_numpy(X) * 2)
