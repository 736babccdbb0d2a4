"""Indexing (__getitem__/__setitem__): basic, advanced (integer tensors and
lists, broadcast together), boolean masks, and gather / scatter /
index_select / masked_fill / take_along_dim."""
import numpy as np
import pytest
import torch

import lazytensor as lt
from helpers import check, check_cases, compare, values

pytestmark = pytest.mark.usefixtures("env")

X = values((3, 4), seed=11)
X3 = values((2, 3, 4), seed=5)

BASIC = {
    "int": lambda m, x: x[1],
    "negative_int": lambda m, x: x[-1],
    "two_ints_0d": lambda m, x: x[1, -2],
    "three_ints": lambda m, x: x[1, 2, 3],
    "slice": lambda m, x: x[:, 1:3],
    "slice_step": lambda m, x: x[:, ::2],
    "slice_step_offset": lambda m, x: x[..., 1::2],
    "negative_slice_bounds": lambda m, x: x[:, -3:-1],
    "slice_past_end": lambda m, x: x[:, 2:10],
    "empty_slice": lambda m, x: x[:, 3:1],
    "none": lambda m, x: x[None],
    "none_middle": lambda m, x: x[:, None, 1],
    "ellipsis": lambda m, x: x[..., 0],
    "ellipsis_middle": lambda m, x: x[1, ..., 2],
    "mixed": lambda m, x: x[-1, 1:, None, ::3],
    "int_on_view": lambda m, x: x.transpose(0, 2)[1],
    "slice_of_slice": lambda m, x: x[:, 1:][:, ::2][0],
}

ADVANCED = {
    "int_list": lambda m, x: x[[0, 1, 1]],
    "int_tensor": lambda m, x: x[m.tensor([1, 0])],
    "negative_int_tensor": lambda m, x: x[:, m.tensor([-1, 0, 2])],
    "tensor_2d": lambda m, x: x[m.tensor([[0, 1], [1, 0]])],
    "two_lists": lambda m, x: x[[0, 1], [2, 0]],
    "broadcast_index_tensors": lambda m, x: x[m.tensor([[0], [1]]), m.tensor([0, 2, 1])],
    "int_and_tensor": lambda m, x: x[1, m.tensor([0, 2])],
    "slice_and_tensor": lambda m, x: x[:, m.tensor([2, 1]), 1:3],
    "tensor_on_last_dim": lambda m, x: x[..., m.tensor([3, 0])],
    "separated_tensors": lambda m, x: x[m.tensor([0, 1]), :, m.tensor([1, 3])],
    "int32_index": lambda m, x: x[m.tensor([1, 0], dtype=m.int32)],
}

MASKS = {
    "bool_mask_full": lambda m, x: x[x > 0],
    "bool_mask_rows": lambda m, x: x[m.tensor([True, False])],
    "bool_mask_2d": lambda m, x: x[x[..., 0] > 0],
    "bool_mask_none_true": lambda m, x: x[x > 100],
    "bool_list": lambda m, x: x[:, [True, False, True]],
}

GROUPS = {"basic": BASIC, "advanced": ADVANCED, "masks": MASKS}


@pytest.mark.parametrize("group", GROUPS)
def test_getitem(group):
    check_cases(GROUPS[group], lambda fn: compare(fn, X3))


def test_getitem_on_noncontiguous():
    base = np.ascontiguousarray(X3.transpose(2, 0, 1))
    cases = {k: GROUPS[g][k] for g, k in (("basic", "slice_step"), ("basic", "mixed"),
                                          ("advanced", "two_lists"), ("masks", "bool_mask_full"))}
    check_cases(cases, lambda fn: compare(lambda m, b: fn(m, b.permute(1, 2, 0)), base))


GATHER_LIKE = {
    "gather_dim1": lambda m, x, i: x.gather(1, i),
    "gather_dim0_fn": lambda m, x, i: m.gather(x, 0, i[:2] % 3),
    "index_select": lambda m, x, i: x.index_select(1, i[0]),
    "index_select_fn": lambda m, x, i: m.index_select(x, 0, m.tensor([2, 0, 2])),
    "take_along_dim": lambda m, x, i: m.take_along_dim(x, i, dim=1),
    "take_along_dim_argsort": lambda m, x, i: x.take_along_dim(x.argsort(dim=0), dim=0),
    "masked_fill": lambda m, x, i: x.masked_fill(x > 0, -1.0),
    "masked_fill_broadcast_mask": lambda m, x, i: m.masked_fill(x, x[:1] > 0, 0.5),
    "masked_fill_0d_value": lambda m, x, i: x.masked_fill(x < 0, m.tensor(2.0)),
    "scatter_src": lambda m, x, i: m.zeros(3, 4).scatter(1, i[:, :2], x[:, :2]),
    "scatter_value": lambda m, x, i: x.scatter(1, i[:, :1], 9.0),
    "scatter_dim0": lambda m, x, i: m.zeros(3, 4).scatter(0, m.tensor([[2, 0, 1, 2]]), x[:1]),
}


def test_gather_scatter_family():
    idx = np.array([[3, 0, 1, 2], [1, 2, 3, 0], [0, 1, 2, 3]], np.int64)   # rows are permutations
    check_cases(GATHER_LIKE, lambda fn: compare(fn, X, idx))


def _setitem(key_fn, value_fn):
    def fn(m, x):
        x = x.clone()
        x[key_fn(m, x)] = value_fn(m, x)
        return x
    return fn


SETITEM = {
    "int_scalar": _setitem(lambda m, x: 1, lambda m, x: 5.0),
    "negative_int_row_tensor": _setitem(lambda m, x: -1, lambda m, x: m.arange(4.0)),
    "slice_scalar": _setitem(lambda m, x: (slice(None), slice(1, 3)), lambda m, x: 0.0),
    "slice_step_tensor": _setitem(lambda m, x: (slice(None), slice(None, None, 2)), lambda m, x: -x[:, 1::2]),
    "broadcast_value": _setitem(lambda m, x: (slice(0, 2),), lambda m, x: m.tensor([1.0, 2.0, 3.0, 4.0])),
    "element_0d": _setitem(lambda m, x: (2, 3), lambda m, x: m.tensor(7.5)),
    "ellipsis": _setitem(lambda m, x: (Ellipsis, 0), lambda m, x: 1.0),
    "bool_mask_scalar": _setitem(lambda m, x: x > 0, lambda m, x: 0.0),
    "bool_mask_tensor": _setitem(lambda m, x: x < 0, lambda m, x: m.tensor(-9.0)),
    "int_list_rows": _setitem(lambda m, x: [0, 2], lambda m, x: 3.0),
    "index_tensors": _setitem(lambda m, x: (m.tensor([0, 1]), m.tensor([3, 0])), lambda m, x: m.tensor([8.0, 9.0])),
    "int_value_cast_to_float": _setitem(lambda m, x: 0, lambda m, x: 2),
}


def test_setitem():
    check_cases(SETITEM, lambda fn: compare(fn, X))


def test_setitem_int_tensor_casts_value():
    compare(_setitem(lambda m, x: (slice(None), 0), lambda m, x: 2.7), values((3, 4), "int64"))


def test_setitem_through_view_visible_in_base():
    x = lt.zeros(3, 4)
    tx = torch.zeros(3, 4)
    for t in (x, tx):
        v = t.transpose(0, 1)
        v[1] = 5.0
        t[:, ::3][2] = -1.0
    check(x, tx)


def test_getitem_index_out_of_range_in_tensor_data_may_raise_late():
    x = lt.tensor(X)
    try:
        y = x[lt.tensor([0, 7])]
        y.numpy()
    except Exception:
        pass          # raising at realisation is allowed by the API
    check(x + 1, torch.from_numpy(X) + 1)   # the library stays usable


# ---- out-of-range indices raise, never read 0 ------------------------------------------------
def _read(t):
    """Force `t` and read it back: where an index held in tensor data is checked."""
    return t.numpy()


def test_a_python_list_index_out_of_range_raises_at_the_call():
    x = lt.arange(6.0).reshape(3, 2)
    with pytest.raises(IndexError, match=r"index 5 is out of bounds for dimension 0 with size 3"):
        x[[0, 5]]
    with pytest.raises(IndexError, match=r"index -4 is out of bounds for dimension 1 with size 2"):
        x[:, [-4]]


def test_an_index_tensor_holding_an_out_of_range_value_raises_when_read(env):
    x = lt.arange(6.0).reshape(3, 2)
    idx = lt.tensor([0, 5])
    with pytest.raises(IndexError, match=r"index: index 5 is out of bounds for dimension 0 with size 3"):
        _read(x[idx])


def test_the_index_error_names_the_users_line(env):
    x = lt.arange(3.0)
    with pytest.raises(IndexError, match=r"test_indexing\.py:\d+"):
        _read(x[lt.tensor([3])])


def test_gather_out_of_range_raises(env):
    x = lt.arange(6.0).reshape(2, 3)
    with pytest.raises(IndexError, match=r"gather: index 7 is out of bounds for dimension 1 with size 3"):
        _read(x.gather(1, lt.tensor([[0, 7]])))


def test_scatter_out_of_range_raises(env):
    with pytest.raises(IndexError, match=r"scatter_add: index 4 is out of bounds for dimension 0 with size 4"):
        _read(lt.zeros(4).scatter_add(0, lt.tensor([1, 4]), lt.ones(2)))


def test_an_out_of_range_class_target_raises_and_ignore_index_does_not(env):
    logits = lt.zeros(2, 3)
    with pytest.raises(IndexError, match=r"nll_loss \(target\): index 3 is out of bounds"):
        _read(lt.nn.functional.cross_entropy(logits, lt.tensor([0, 3])))
    loss = lt.nn.functional.cross_entropy(logits, lt.tensor([1, -100]))
    np.testing.assert_allclose(_read(loss), np.log(3.0), rtol=1e-6)


def test_negative_indices_in_range_still_count_from_the_end(env):
    x = lt.arange(4.0)
    assert x[lt.tensor([-1, -4])].tolist() == [3.0, 0.0]
    assert lt.take_along_dim(x.reshape(1, 4), lt.tensor([[-2]]), 1).tolist() == [[2.0]]


# The ops where PyTorch counts no index from the end: a negative index is out of range there
NO_NEGATIVE_INDEX = {
    "gather": (lambda x: x.gather(1, lt.tensor([[0], [-1], [1]])), "gather: index -1"),
    "scatter": (lambda x: x.scatter(1, lt.tensor([[0], [-1], [1]]), 5.0), "scatter: index -1"),
    "scatter_add": (lambda x: x.scatter_add(1, lt.tensor([[-2]]), lt.ones(1, 1)), "scatter_add: index -2"),
    "index_select": (lambda x: x.index_select(0, lt.tensor([0, -1])), "index_select: index -1"),
    "embedding": (lambda x: lt.nn.functional.embedding(lt.tensor([2, -3]), x), "embedding: index -3"),
    "one_hot": (lambda x: lt.nn.functional.one_hot(lt.tensor([0, -1]), 4), "one_hot: index -1"),
    "one_hot_past_classes": (lambda x: lt.nn.functional.one_hot(lt.tensor([0, 4]), 4), "one_hot: index 4"),
    "take_along_flat": (lambda x: lt.take_along_dim(x, lt.tensor([-1])), "gather: index -1"),
}


@pytest.mark.parametrize("case", NO_NEGATIVE_INDEX, ids=list(NO_NEGATIVE_INDEX))
def test_ops_that_count_no_index_from_the_end_raise_for_a_negative_one(env, case):
    """torch raises for these (they read wrapped values before); x[t] and index_put_ wrap."""
    build, message = NO_NEGATIVE_INDEX[case]
    with pytest.raises(IndexError, match=message):
        _read(build(lt.arange(12.0).reshape(3, 4)))


MISSHAPEN_MASKS = {
    "shorter": lambda x: x[lt.tensor([True, False])],
    "longer": lambda x: x[lt.tensor([True, False, True, True])],
    "two_dims": lambda x: x[lt.tensor([[True, False, True, True]])],
    "second_dim": lambda x: x[:, lt.tensor([True, False, True])],
    "after_ellipsis": lambda x: x[..., lt.tensor([True, False])],
    "index_put": lambda x: x.index_put_((lt.tensor([True, False]),), lt.tensor(1.0), accumulate=True),
}


@pytest.mark.parametrize("case", MISSHAPEN_MASKS, ids=list(MISSHAPEN_MASKS))
def test_a_mask_whose_shape_differs_from_the_dims_it_covers_raises(env, case):
    """A mask shorter than its dim selected from part of it, silently."""
    with pytest.raises(IndexError, match=r"The shape of the mask \[.*\] at index \d does not match"):
        _read(MISSHAPEN_MASKS[case](lt.arange(12.0).reshape(3, 4)))


def test_masks_that_fit_still_select(env):
    x = lt.arange(24.0).reshape(2, 3, 4)
    t = torch.arange(24.0).reshape(2, 3, 4)
    keep = np.array([[True, False, True], [False, False, True]])
    np.testing.assert_array_equal(_read(x[lt.tensor(keep)]), t[torch.tensor(keep)].numpy())
    np.testing.assert_array_equal(_read(x[..., lt.tensor([True, False, False, True])]),
                                  t[..., torch.tensor([True, False, False, True])].numpy())


def test_a_float_tensor_as_an_index_is_refused():
    with pytest.raises(IndexError, match="tensors used as indices must be long, int, byte or bool tensors"):
        lt.arange(3.0)[lt.tensor([0.0, 1.0])]


def test_after_an_index_error_the_library_goes_on(env):
    x = lt.arange(3.0)
    with pytest.raises(IndexError):
        _read(x[lt.tensor([9])])
    assert x[lt.tensor([2])].tolist() == [2.0]
    assert (x + 1).tolist() == [1.0, 2.0, 3.0]


INDEX_PUT_ACCUMULATE = {
    "duplicates_add_up": lambda m: m.arange(4.0).index_put_((m.tensor([1, 1, 3]),), m.tensor([1.0, 2.0, 3.0]), accumulate=True),
    "two_dims_scalar_value": lambda m: m.ones(3, 4).index_put_((m.tensor([0, 2, 0]), m.tensor([1, 1, 1])), m.tensor(5.0),
                                                              accumulate=True),
    "negative_index_broadcast_rows": lambda m: m.zeros(3, 2).index_put_((m.tensor([-1, 0, 2]),), m.tensor([[1.0, 2.0]]),
                                                                      accumulate=True),
    "bool_mask": lambda m: m.zeros(4).index_put_((m.tensor([True, False, True, False]),), m.tensor([1.0, 2.0]), accumulate=True),
    "non_contiguous_target": lambda m: m.arange(12.0).reshape(3, 4).t().index_put_((m.tensor([0, 0]),), m.tensor([1.0, 1.0, 1.0]),
                                                                                   accumulate=True),
    "without_accumulate_one_write_wins": lambda m: m.arange(4.0).index_put_((m.tensor([2]),), m.tensor([7.0])),
}


def test_index_put_with_accumulate_adds_and_duplicates_add_twice(env):
    """It was a plain write: an index met twice kept one value, and existing values were replaced."""
    def body(name):
        got, want = INDEX_PUT_ACCUMULATE[name](lt), INDEX_PUT_ACCUMULATE[name](torch)
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    check_cases(list(INDEX_PUT_ACCUMULATE), body)


def test_index_put_with_accumulate_checks_its_indices(env):
    with pytest.raises(IndexError, match=r"index_put_: index 5 is out of bounds for dimension 0 with size 3"):
        _read(lt.zeros(3).index_put_((lt.tensor([5]),), lt.tensor([1.0]), accumulate=True))
