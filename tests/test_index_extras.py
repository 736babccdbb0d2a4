"""Index arithmetic beyond gather and scatter (index_add/copy/fill, scatter_reduce, the
*_scatter embeddings, take, isin, searchsorted, bucketize, histc, bincount, unfold), order
statistics read from sort (kthvalue, median, nanmedian, mode, quantile, nanquantile) and the
running ops cummax, cummin and logcumsumexp: values and gradients against torch's, on every
device and LAZY mode, and the errors bad arguments raise at the call."""
import numpy as np
import pytest
import torch

import lazytensor as lt
from helpers import check, check_cases, compare, values
from test_autograd_ops import grad_compare

pytestmark = pytest.mark.usefixtures("env")

X = values((3, 4), seed=21)  # tie-free: gradients through selections are compared on it
TIES = values((3, 4), domain="ints", seed=3)  # small integers, many repeated
NAN = float("nan")
WITH_NAN = np.array([[1.0, NAN, 3.0, 0.5], [2.0, 4.0, -1.0, 0.0], [NAN, NAN, NAN, NAN]], np.float32)
ROW = np.array([0, 2, 0], np.int64)  # an index into X's 3 rows, 0 twice
COL = np.array([3, 1], np.int64)  # an index into X's 4 columns


def _long(m, a):
    return m.tensor(a)


INDEX_OPS = {
    "index_add_rows": lambda m, x: x.index_add(0, _long(m, ROW), x[:, :4] * 2),
    "index_add_alpha": lambda m, x: m.index_add(x, 1, _long(m, COL), x[:, :2], alpha=-0.5),
    "index_add_in_place": lambda m, x: x.clone().index_add_(0, _long(m, ROW), x.flip(0)),
    "index_copy_in_place": lambda m, x: x.clone().index_copy_(1, _long(m, COL), x[:, :2] + 1),
    "index_fill_number": lambda m, x: x.index_fill(1, _long(m, COL), -2.0),
    "index_fill_0d_tensor": lambda m, x: m.index_fill(x, 0, _long(m, ROW), x[1, 1]),
    "index_fill_in_place": lambda m, x: x.clone().index_fill_(0, _long(m, ROW), 7.0),
    "index_fill_counts_a_negative_index_from_the_end": lambda m, x: x.index_fill(1, m.tensor([-1, 0]), 3.0),
    "select_scatter_casts_src": lambda m, x: x.select_scatter(x[0].double(), 0, 1),
    "gather_of_a_0d_tensor": lambda m, x: x[0, 0].gather(0, m.tensor(0)),
    "scatter_add_into_a_0d_tensor": lambda m, x: x[0, 0].scatter_add(0, m.tensor(0), x[1, 1]),
    "scatter_reduce_into_a_0d_tensor": lambda m, x: x[0, 0].scatter_reduce(0, m.tensor(0), x[1, 1], "prod"),
    "take": lambda m, x: m.take(x, m.tensor([[0, 11], [-1, 5]])),
    "select_scatter": lambda m, x: m.select_scatter(x, x[0] * 2, 0, -1),
    "slice_scatter_step": lambda m, x: x.slice_scatter(x[:, :2] * 5, 1, 0, 4, 2),
    "slice_scatter_start": lambda m, x: m.slice_scatter(x, x[1:] + 1, start=1),
    "diagonal_scatter_offset": lambda m, x: m.diagonal_scatter(x, x[0, :2], -1, 0, 1),
    "unfold_overlapping": lambda m, x: x.unfold(1, 3, 1),
    "unfold_3d_middle_step": lambda m, x: x.reshape(2, 3, 2).unfold(1, 1, 2),
}


def test_index_ops_and_embeddings_match_torch_with_gradients():
    """A repeated index in index_add adds twice; gradients reach both self and source."""
    check_cases(INDEX_OPS, lambda fn: grad_compare(fn, X))


SCATTER = np.array([[0, 1, 0, 2], [2, 2, 2, 0]], np.int64)  # into dim 0 of X (3 rows); row 1 gets few


def _scatter_reduce(reduce, include_self):
    return lambda m, x: x.scatter_reduce(0, _long(m, SCATTER), x[1:] * 1.5 - 1, reduce, include_self=include_self)


SCATTER_REDUCE = {
    **{f"{reduce}_with_self": _scatter_reduce(reduce, True) for reduce in ("sum", "prod", "mean", "amax", "amin")},
    **{f"{reduce}_without_self": _scatter_reduce(reduce, False) for reduce in ("sum", "prod", "mean", "amax")},
    "in_place_mean_without_self": lambda m, x: x.clone().scatter_reduce_(1, _long(m, SCATTER.T[:3, :2]), x[:, :2],
                                                                         "mean", include_self=False),
}


def test_scatter_reduce_matches_torch_for_every_reduction_with_gradients():
    """A position nothing lands on keeps self; include_self=False leaves self out of the rest."""
    check_cases(SCATTER_REDUCE, lambda fn: grad_compare(fn, X))


def test_scatter_reduce_mean_of_integers_rounds_down_as_torch():
    compare(lambda m, x: x.scatter_reduce(0, m.tensor([0, 0, 1, 2]), -x, "mean", include_self=False),
            np.array([3, 4, 5, 6], np.int64))


SEARCHES = {
    "searchsorted_left": lambda m, s, v: m.searchsorted(s, v),
    "searchsorted_side_int32": lambda m, s, v: m.searchsorted(s, v, side="right", out_int32=True),
    "searchsorted_number": lambda m, s, v: m.searchsorted(s, 2.0),
    "searchsorted_rows": lambda m, s, v: m.searchsorted(m.stack([s, s * 2]), m.stack([v, v])),
    "searchsorted_sorter": lambda m, s, v: m.searchsorted(s.flip(0), v, sorter=m.arange(5).flip(0)),
    "bucketize": lambda m, s, v: m.bucketize(v, s),
    "bucketize_right": lambda m, s, v: m.bucketize(v, s, right=True, out_int32=True),
    "isin": lambda m, s, v: m.isin(v, s),
    "isin_invert": lambda m, s, v: m.isin(v, s, invert=True),
    "isin_number": lambda m, s, v: m.isin(v, 2.0),
    "histc": lambda m, s, v: m.histc(v, bins=4, min=-1, max=3),
    "histc_data_range_of_one_value": lambda m, s, v: m.histc(v.nan_to_num() * 0 + 2, bins=3),
}


def test_searching_and_counting_match_torch_including_nan_and_values_on_the_boundaries():
    """NaN sorts last (searchsorted puts it after every number); max falls in histc's last bin."""
    sequence = np.array([-1.0, 0.5, 0.5, 2.0, 3.0], np.float32)
    probes = np.array([0.5, -2.0, 2.0, NAN, 3.0, 0.0, 2.5, 4.0], np.float32)
    check_cases(SEARCHES, lambda fn: compare(fn, sequence, probes))


def test_bincount_has_the_data_s_length_and_weights_dtype():
    counts = np.array([1, 4, 1, 0, 4], np.int64)
    check_cases({
        "counts": lambda m, x, w: m.bincount(x),
        "minlength": lambda m, x, w: x.bincount(minlength=8),
        "float_weights": lambda m, x, w: m.bincount(x, w),
        "integer_weights_count_in_float64": lambda m, x, w: m.bincount(x, x),
        "empty": lambda m, x, w: m.bincount(x[:0], minlength=2),
    }, lambda fn: compare(fn, counts, np.linspace(0.5, 2.5, 5, dtype=np.float32)))


ORDER_GRADS = {
    "kthvalue_keepdim": lambda m, x: m.kthvalue(x, 2, 1, keepdim=True),
    "median_all": lambda m, x: x.median(),
    "median_dim_even": lambda m, x: m.median(x, 1),
    "nanmedian_dim": lambda m, x: m.nanmedian(x, -1),
    "mode_distinct": lambda m, x: x.mode(1),
    "quantile_linear": lambda m, x: m.quantile(x, 0.3, dim=1),
    "quantile_vector_all": lambda m, x: m.quantile(x, m.tensor([0.5, 0.9]), keepdim=True),
    "nanquantile": lambda m, x: x.nanquantile(0.5, 1),
    "quantile_midpoint": lambda m, x: x.quantile(m.tensor([0.0, 0.5, 0.6, 1.0]), 1, True, interpolation="midpoint"),
}
INTERPOLATIONS = {how: (lambda m, x, how=how: x.quantile(m.tensor([0.0, 0.5, 0.6, 1.0]), 1, True, interpolation=how))
                  for how in ("lower", "higher", "nearest")}  # a selection each: kthvalue's gradient


def test_order_statistics_match_torch_with_gradients_on_distinct_values():
    """The gradient goes to the selected element (two of them for an interpolated quantile)."""
    check_cases(ORDER_GRADS, lambda fn: grad_compare(fn, X))
    check_cases(INTERPOLATIONS, lambda fn: compare(fn, X))


def _same_values_at_indices(fn, x, dim):
    """fn's values equal torch's, and its indices pick elements of x equal to them (which of
    equal elements torch picks is left open; NaN counts as equal to NaN)."""
    got, want = fn(lt, lt.tensor(x)), fn(torch, torch.tensor(x))
    check(got.values, want.values)
    kept = got.indices.ndim == x.ndim
    indices = got.indices.numpy() if kept else np.expand_dims(got.indices.numpy(), dim)
    picked = np.take_along_axis(x, indices, dim)
    np.testing.assert_array_equal(picked if kept else picked.squeeze(dim), got.values.numpy())


ORDER_TIES = {
    "kthvalue": (lambda m, x: m.kthvalue(x, 2, 1), 1),
    "median": (lambda m, x: x.median(1), 1),
    "nanmedian": (lambda m, x: x.nanmedian(0), 0),
    "mode_rows": (lambda m, x: m.mode(x, 1), 1),
    "mode_cols": (lambda m, x: x.mode(0), 0),
}


def test_order_statistics_of_repeated_values_give_torch_s_values_and_indices_of_equal_elements():
    check_cases(ORDER_TIES, lambda case: _same_values_at_indices(case[0], TIES, case[1]))


def test_mode_picks_the_smallest_of_equally_frequent_values_and_its_last_index_as_torch():
    compare(lambda m, x: x.mode(), np.array([3, 1, 3, 2, 1, 5], np.int64))


def test_mode_counts_nans_together_and_a_number_as_frequent_wins_over_them():
    nan = np.nan
    compare(lambda m, x: x.mode(1).values, np.array([[nan, nan, 1, 2], [nan, 3, 1, 3], [1, nan, 1, nan]], np.float32)[:2])


def test_index_add_into_integers_truncates_alpha_as_torch():
    compare(lambda m, x: x.index_add(0, m.tensor([0, 2]), x[:2] * 3, alpha=1.5), np.arange(12).reshape(3, 4))


def test_the_median_of_nothing_is_nan_as_torch():
    compare(lambda m, x: m.median(x[:0]), np.arange(3, dtype=np.float32))


NAN_VALUES = {
    "median_all": lambda m, x: m.median(x),
    "nanmedian_all": lambda m, x: x.nanmedian(),
    "quantile": lambda m, x: x.quantile(m.tensor([0.25, 0.5]), dim=1),
    "nanquantile": lambda m, x: m.nanquantile(x, m.tensor([0.25, 0.5]), dim=1),
    "nanquantile_all": lambda m, x: x.nanquantile(0.4),
    "nanquantile_one_q_keeps_its_dim": lambda m, x: m.nanquantile(x, m.tensor([0.5]), dim=1),
    "median_dim_index_of_the_first_nan": lambda m, x: x.median(1),
}
NAN_INDICES = {
    "nanmedian_dim": (lambda m, x: x.nanmedian(1), 1),
    "nanmedian_cols": (lambda m, x: m.nanmedian(x, 0, keepdim=True), 0),
}


def test_nan_gives_nan_and_the_nan_variants_skip_it_as_torch():
    """A row holding NaN has median NaN (at its first NaN, as torch); an all-NaN row gives NaN."""
    check_cases(NAN_VALUES, lambda fn: compare(fn, WITH_NAN))
    check_cases(NAN_INDICES, lambda case: _same_values_at_indices(case[0], WITH_NAN, case[1]))


RUNNING = {
    "cummax": lambda m, x: m.cummax(x, 1),
    "cummin": lambda m, x: x.cummin(0),
    "logcumsumexp": lambda m, x: m.logcumsumexp(x, 1),
    "logcumsumexp_dim0": lambda m, x: x.logcumsumexp(0),
}


def test_running_extremes_and_logcumsumexp_match_torch_with_gradients():
    check_cases(RUNNING, lambda fn: grad_compare(fn, X))


def test_running_extremes_take_the_later_index_of_ties_and_nan_as_the_extreme():
    """[1, 3, 3, 2, nan, 5, nan].cummax() is ([1, 3, 3, 3, nan, nan, nan], [0, 1, 2, 2, 4, 4, 6])."""
    data = np.array([[1.0, 3, 3, 2, NAN, 5, NAN], [4, 4, -1, -1, 2, -1, 7]], np.float32)
    check_cases({"cummax": lambda m, x: x.cummax(1), "cummin": lambda m, x: m.cummin(x, -1),
                 "cummin_int": lambda m, x: x.nan_to_num().long().cummin(1)},
                lambda fn: compare(fn, data))


def test_logcumsumexp_keeps_infinities_and_large_values():
    data = np.array([-np.inf, -np.inf, 1.0, 1000.0, np.inf, 2.0, -1000.0], np.float32)
    compare(lambda m, x: x.logcumsumexp(0), data)


BAD = {
    "index_add_float_index": (RuntimeError, r"index_add\(\): Expected dtype int32 or int64 for index, got float32",
                              lambda x: x.index_add(0, lt.tensor([0.0]), x[:1])),
    "index_add_source_shape": (RuntimeError, r"index_add\(\): source float32\(2, 4\) does not match self "
                                             r"float32\(3, 4\) with 1 indices",
                               lambda x: x.index_add(0, lt.tensor([0]), x[:2])),
    "index_copy_2d_index": (IndexError, r"index_copy\(\): Index is supposed to be a vector",
                            lambda x: x.index_copy(0, lt.tensor([[0]]), x[:1])),
    "index_fill_dim": (IndexError, r"index_fill: Dimension out of range \(expected to be in range of \[-2, 1\], "
                                   r"but got 2\)", lambda x: x.index_fill(2, lt.tensor([0]), 1.0)),
    "index_fill_vector_value": (RuntimeError, r"index_fill\(\): only supports a 0-dimensional value",
                                lambda x: x.index_fill(0, lt.tensor([0]), x[0])),
    "scatter_reduce_unknown": (RuntimeError, r"reduce argument must be either sum, prod, mean, amax or amin, "
                                             r"got 'max'",
                               lambda x: x.scatter_reduce(0, lt.tensor([[0]]), x, "max")),
    "scatter_reduce_dtype": (RuntimeError, r"scatter_reduce\(\): Expected self.dtype to be equal to src.dtype",
                             lambda x: x.scatter_reduce(0, lt.tensor([[0]]), x.double(), "sum")),
    "scatter_reduce_index_too_big": (RuntimeError, r"Expected index \[4, 1\] to be smaller than self \[3, 4\]",
                                     lambda x: x.scatter_reduce(1, lt.zeros(4, 1).long(), x, "sum")),
    "select_scatter_shape": (RuntimeError, r"select_scatter\(\): expected src to have a size equal to the slice",
                             lambda x: x.select_scatter(x[:, 0], 0, 0)),
    "take_float_index": (RuntimeError, r"take\(\): Expected dtype int32 or int64", lambda x: x.take(x)),
    "searchsorted_shapes": (RuntimeError, r"searchsorted\(\): boundaries tensor should be 1 dimension",
                            lambda x: lt.searchsorted(x, x[:2])),
    "searchsorted_side": (RuntimeError, r"searchsorted\(\): side must be 'left' or 'right'",
                          lambda x: lt.searchsorted(x[0], x, right=True, side="left")),
    "bucketize_2d": (RuntimeError, r"bucketize\(\): boundaries tensor must be 1 dimension",
                     lambda x: lt.bucketize(x, x)),
    "histc_int": (RuntimeError, r"histc\(\): expected a float input, got int64", lambda x: x.long().histc()),
    "histc_bins": (RuntimeError, r"histc\(\): bins must be > 0", lambda x: x.histc(bins=0)),
    "histc_range": (RuntimeError, r"histc\(\): max must be larger than min", lambda x: x.histc(4, 2, 1)),
    "bincount_2d": (RuntimeError, r"bincount only supports 1-d non-negative integral inputs, got int64\(3, 4\)",
                    lambda x: x.long().bincount()),
    "bincount_negative": (RuntimeError, r"bincount only supports .* got the value -2",
                          lambda x: lt.bincount(lt.tensor([1, -2]))),
    "bincount_weights": (RuntimeError, r"weights should be 1-d and have the same length as input",
                         lambda x: lt.bincount(lt.tensor([1, 2]), x[0])),
    "kthvalue_k": (RuntimeError, r"kthvalue\(\): selected number k=5 out of range for dimension 1 of size 4",
                   lambda x: x.kthvalue(5, 1)),
    "kthvalue_k_zero": (RuntimeError, r"k=0 out of range", lambda x: x.kthvalue(0)),
    "median_dim": (IndexError, r"median: Dimension out of range", lambda x: x.median(3)),
    "mode_dim": (IndexError, r"mode: Dimension out of range", lambda x: x.mode(-3)),
    "quantile_q": (RuntimeError, r"quantile\(\) q must be in the range \[0, 1\] but got 1.5",
                   lambda x: x.quantile(1.5)),
    "quantile_q_tensor_dtype": (RuntimeError, r"quantile\(\) q must be a scalar or 1D tensor of the input's dtype",
                                lambda x: x.quantile(lt.tensor([0.5], dtype=lt.float64))),
    "quantile_int": (RuntimeError, r"quantile\(\) input tensor must be either float or double dtype, got int64",
                     lambda x: x.long().quantile(0.5)),
    "quantile_interpolation": (RuntimeError, r"interpolation must be one of .* but got 'cubic'",
                               lambda x: x.nanquantile(0.5, interpolation="cubic")),
    "logcumsumexp_int": (RuntimeError, r"logcumsumexp\(\): expected a float input, got int64",
                         lambda x: x.long().logcumsumexp(0)),
    "cummax_dim": (IndexError, r"cummax: Dimension out of range", lambda x: x.cummax(2)),
    "unfold_size": (RuntimeError, r"unfold: maximum size for tensor at dimension 1 is 4 but size is 5",
                    lambda x: x.unfold(1, 5, 1)),
    "unfold_step": (RuntimeError, r"unfold: step is 0 but must be > 0", lambda x: x.unfold(1, 2, 0)),
}


def test_bad_arguments_raise_at_the_call_naming_the_op():
    def body(case):
        error, message, call = case
        with pytest.raises(error, match=message):
            call(lt.tensor(X))
    check_cases(BAD, body)


OUT_OF_RANGE = {
    "index_add": lambda x: x.index_add(0, lt.tensor([0, 3]), x[:2]),
    "index_copy": lambda x: x.index_copy(1, lt.tensor([-1]), x[:, :1]),
    "index_fill": lambda x: x.index_fill(0, lt.tensor([5]), 0.0),
    "scatter_reduce": lambda x: x.scatter_reduce(1, lt.tensor([[4]]), x, "amax"),
    "take": lambda x: x.take(lt.tensor([12])),
}


def test_an_index_out_of_range_or_negative_raises_when_read():
    """As index_select: index_add/copy/fill count no index from the end (take does, as torch)."""
    def body(name):
        with pytest.raises(IndexError, match=rf"{name}: index -?\d+ is out of bounds"):
            OUT_OF_RANGE[name](lt.tensor(X)).numpy()
    check_cases(list(OUT_OF_RANGE), body)
