"""More lt.nn / lt.nn.functional names against torch's: max pooling with indices and its
inverse max_unpool, 3-D pooling, power-average pooling, and the layers and losses beyond the
common ones. Values and input gradients on every device and LAZY mode; bad input refused."""
import numpy as np
import pytest
import torch

import lazytensor as lt
from helpers import check, check_cases, not_eager_on_cl, values
from test_nn_extras import compare_with_grads, raises, run

pytestmark = pytest.mark.usefixtures("env")

SEQ = (2, 3, 7)  # (N, C, L)
IMG = (2, 2, 5, 4)  # (N, C, H, W)
VOL = (1, 2, 4, 3, 5)  # (N, C, D, H, W)


def _compare_pair(fn, array, rtol=1e-5, atol=1e-6):
    """fn returns (values, indices): both match torch's, and the values' gradient does."""
    check(fn(lt, lt.tensor(array))[1], fn(torch, torch.tensor(array))[1])
    compare_with_grads(lambda m, x: fn(m, x)[0], array, rtol=rtol, atol=atol)


# ---- max pooling with indices --------------------------------------------------------------------
MAX_POOL_INDICES = {  # fn(m, x) -> (values, indices), input shape, value domain ("ints" has ties)
    "1d_padded_dilated_ceil": (lambda m, x: m.nn.functional.max_pool1d(x, 2, 2, 1, 2, True, True), SEQ, "any"),
    "2d_overlapping_ties": (lambda m, x: m.nn.functional.max_pool2d(x, 2, 1, return_indices=True), IMG, "ints"),
    "2d_padded_module": (lambda m, x: m.nn.MaxPool2d(3, 2, 1, return_indices=True)(x), IMG, "any"),
    "2d_with_indices_unbatched": (lambda m, x: m.nn.functional.max_pool2d_with_indices(x[0], (2, 3)), IMG, "ints"),
    "3d_module": (lambda m, x: m.nn.MaxPool3d(2, 1, 1, return_indices=True)(x), VOL, "ints"),
    "3d_with_indices": (lambda m, x: m.nn.functional.max_pool3d_with_indices(x, 2, ceil_mode=True), VOL, "any"),
    "adaptive_1d": (lambda m, x: m.nn.functional.adaptive_max_pool1d(x, 3, True), SEQ, "ints"),
    "adaptive_2d_overlapping": (lambda m, x: m.nn.AdaptiveMaxPool2d((3, 3), return_indices=True)(x), IMG, "ints"),
    "adaptive_3d": (lambda m, x: m.nn.functional.adaptive_max_pool3d_with_indices(x, (3, None, 2)), VOL, "any"),
}


def test_max_pooling_returns_torchs_indices_and_gradients(env):
    not_eager_on_cl(env)
    check_cases(MAX_POOL_INDICES, lambda case: _compare_pair(case[0], values(case[1], domain=case[2])))


def test_max_pool_index_picks_the_last_nan_and_the_first_cell_of_an_all_minus_inf_window():
    cases = {  # input, kernel, padding
        "last_nan": (np.array([[[np.nan, 1, np.nan, 2.0]]], np.float32), (1, 4), 0),
        "all_minus_inf_next_to_padding": (np.array([[[-np.inf, -np.inf]]], np.float32), (1, 2), (0, 1)),
    }

    def pool(m, case):
        return list(m.nn.functional.max_pool2d(m.tensor(case[0]), case[1], padding=case[2], return_indices=True))
    check_cases(cases, lambda case: check(pool(lt, case), pool(torch, case)))


# ---- 3-D, power-average and adaptive pooling -------------------------------------------------------
POOLING = {
    "max_pool3d": (lambda m, x: m.nn.functional.max_pool3d(x, 2, (1, 2, 2), 1), VOL),
    "MaxPool3d_unbatched": (lambda m, x: m.nn.MaxPool3d((2, 1, 3), dilation=(1, 2, 1))(x[0]), VOL),
    "avg_pool3d_exclude_pad_ceil": (lambda m, x: m.nn.functional.avg_pool3d(x, 2, 2, 1, True, False), VOL),
    "AvgPool3d_divisor": (lambda m, x: m.nn.AvgPool3d(2, 1, divisor_override=3)(x), VOL),
    "adaptive_avg_pool3d": (lambda m, x: m.nn.functional.adaptive_avg_pool3d(x, (3, 2, None)), VOL),
    "AdaptiveAvgPool3d_dividing": (lambda m, x: m.nn.AdaptiveAvgPool3d((2, 1, 5))(x), VOL),
    "adaptive_avg_pool2d_overlapping": (lambda m, x: m.nn.functional.adaptive_avg_pool2d(x, (3, 3)), IMG),
    "AdaptiveMaxPool3d": (lambda m, x: m.nn.AdaptiveMaxPool3d(2)(x), VOL),
    "lp_pool1d": (lambda m, x: m.nn.functional.lp_pool1d(x.abs() + 0.1, 3, 2), SEQ),
    "LPPool2d_ceil": (lambda m, x: m.nn.LPPool2d(2, 3, 2, ceil_mode=True)(x), IMG),
    "LPPool3d": (lambda m, x: m.nn.LPPool3d(1.5, 2, 1)(x.abs() + 0.1), VOL),
}


def test_pooling_matches_torch(env):
    not_eager_on_cl(env)
    check_cases(POOLING, lambda case: compare_with_grads(case[0], values(case[1])))


# ---- max_unpool ---------------------------------------------------------------------------------
UNPOOL = {
    "1d_overlapping_windows_repeat_an_index": (
        lambda m, x: m.nn.MaxUnpool1d(3, 2, 1)(*m.nn.MaxPool1d(3, 2, 1, return_indices=True)(x[..., :5])),
        SEQ),
    "2d_output_size": (lambda m, x: m.nn.functional.max_unpool2d(
        *m.nn.functional.max_pool2d(x, 2, return_indices=True), 2, output_size=(5, 4)), IMG),
    "2d_unbatched_full_output_size": (lambda m, x: m.nn.MaxUnpool2d(2, 1)(
        *m.nn.MaxPool2d(2, 1, return_indices=True)(x[0]), output_size=[1, 2, 5, 4]), IMG),
    "3d": (lambda m, x: m.nn.functional.max_unpool3d(*m.nn.functional.max_pool3d(x, 2, return_indices=True), 2,
                                                     output_size=VOL[2:]), VOL),
}


def test_max_unpool_writes_each_value_back_at_its_index(env):
    not_eager_on_cl(env)
    check_cases(UNPOOL, lambda case: compare_with_grads(case[0], values(case[1], domain="ints")))


def test_pooling_rejects_bad_input():
    pooled = lt.ones(2, 3, 4)
    index = lt.zeros(2, 3, 4, dtype=lt.int64)
    check_cases({
        "max_pool3d_of_2d": raises(RuntimeError, r"max_pool3d: Expected 4D or 5D input.*\[2, 3\]",
                                   lambda: lt.nn.functional.max_pool3d(lt.ones(2, 3), 2)),
        "avg_pool3d_of_3d_with_indices": raises(RuntimeError, r"avg_pool3d: Expected 4D or 5D",
                                                lambda: lt.nn.AvgPool3d(2)(lt.ones(*SEQ))),
        "unpool_index_out_of_range": raises(RuntimeError, r"max_unpool1d: Found an invalid max index: 7 .*size 7",
                                            lambda: lt.nn.functional.max_unpool1d(pooled, index + 7, 3, 2, 1)),
        "unpool_float_indices": raises(RuntimeError, r"max_unpool1d: Expected int64 indices.*float32",
                                       lambda: lt.nn.functional.max_unpool1d(pooled, index.float(), 2)),
        "unpool_indices_shape": raises(RuntimeError, r"indices of shape \[2, 3, 2\]",
                                       lambda: lt.nn.functional.max_unpool1d(pooled, index[..., :2], 2)),
        "unpool_output_size": raises(ValueError, r"invalid output_size \[10\] \(dim 10 must be between 5 and 9\)",
                                     lambda: lt.nn.functional.max_unpool1d(pooled, index, 3, 2, 1, [10])),
    }, run)
