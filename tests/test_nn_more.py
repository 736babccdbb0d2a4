"""More lt.nn / lt.nn.functional names against torch's: max pooling with indices and its
inverse max_unpool, 3-D pooling, power-average pooling, and the layers and losses beyond the
common ones. Values and input gradients on every device and LAZY mode; bad input refused."""
import numpy as np
import pytest
import torch

import lazytensor as lt
from helpers import check, check_cases, not_eager_on_cl, values
from nn_helpers import copy_weights
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


def _special_cells(shape: tuple) -> np.ndarray:
    """Small integers (ties everywhere) with NaNs (several to a window), -infs and -0.0s
    scattered, and a corner of -inf only (all -inf windows, some beside the padding)."""
    r = np.random.default_rng(3)
    a = r.integers(-1, 2, shape).astype(np.float32)
    for fill in (np.nan, -np.inf, -0.0):
        a.reshape(-1)[r.integers(0, a.size, a.size // 6)] = fill
    a[(Ellipsis,) + (slice(0, 3),) * (len(shape) - 2)] = -np.inf
    return a


MAX_POOL_SPECIALS = {  # fn(m, x): a result or (values, indices); input shape
    "2d_halves": (lambda m, x: m.nn.functional.max_pool2d(x, 2), (2, 3, 6, 8)),
    "2d_padded_overlapping": (lambda m, x: m.nn.functional.max_pool2d(x, 3, 2, 1), (2, 3, 7, 6)),
    "2d_dilated_ceil_indices": (lambda m, x: m.nn.functional.max_pool2d(
        x, (2, 3), (1, 2), 1, (1, 2), True, True), (2, 2, 6, 7)),
    "1d_padded_indices": (lambda m, x: m.nn.functional.max_pool1d(x, 3, 2, 1, return_indices=True), (2, 3, 9)),
    "3d_padded": (lambda m, x: m.nn.functional.max_pool3d(x, 2, 1, 1), (1, 2, 4, 3, 5)),
    "2d_large_windows_indices": (lambda m, x: m.nn.functional.max_pool2d(x, (5, 4), 1, 2, return_indices=True),
                                 (1, 2, 6, 5)),
}


@pytest.mark.parametrize("name", MAX_POOL_SPECIALS)
def test_max_pool_values_and_gradients_at_nans_minus_infs_signed_zeros_and_ties_are_torchs(env, name):
    """Bit for bit: the value a window keeps (the sign of a zero too), its index, and where its
    gradient goes: PyTorch's loop keeps the first of tied values, the last NaN, and the first
    cell inside the input of an all -inf window. Integer gradients, so that sums are exact."""
    not_eager_on_cl(env)
    fn, shape = MAX_POOL_SPECIALS[name]
    array = _special_cells(shape)
    results = []
    for m in (lt, torch):
        x = m.tensor(array, requires_grad=True)
        out = fn(m, x)
        pooled = out[0] if isinstance(out, tuple) else out
        weights = np.random.default_rng(4).integers(-3, 4, tuple(pooled.shape)).astype(np.float32)
        (pooled * m.tensor(weights)).sum().backward()
        results.append([t.detach().numpy() for t in (out if isinstance(out, tuple) else (out,))] + [x.grad.numpy()])
    for got, want, what in zip(*results, ("values", "indices", "gradient")[:len(results[0]) - 1] + ("gradient",)):
        assert np.array_equal(got, want, equal_nan=True), f"{name}: {what}\n{got}\nwant\n{want}"
        assert np.array_equal(np.signbit(got), np.signbit(want)), f"{name}: {what}'s signs of zero"


def test_max_pool_of_integers_pads_with_their_least_value_as_torch():
    """An integer type has no -inf: its padding is the type's least value (it raised)."""
    array = (np.arange(2 * 3 * 5 * 6).reshape(2, 3, 5, 6) * 7 % 11 - 5).astype(np.int64)
    cases = {
        "padded": lambda m: m.nn.functional.max_pool2d(m.tensor(array), 3, 2, 1),
        "padded_large_windows_indices": lambda m: list(m.nn.functional.max_pool2d(
            m.tensor(array), (5, 4), 1, 2, return_indices=True)),
    }
    check_cases(cases, lambda fn: check(fn(lt), fn(torch)))


def test_max_pool_gradient_keeps_its_history_under_create_graph_as_torch():
    """A gradient penalty differentiates max pooling's gradient: its second derivatives, to the
    input through the pooled values and to a scale through the routed gradient, are torch's."""
    array = values((1, 2, 6, 6), domain="ints")
    weights = values((1, 2, 6, 6), seed=5)
    found = []
    for m in (lt, torch):
        x = m.tensor(array, requires_grad=True)
        scale = m.tensor(np.float32(1.5), requires_grad=True)
        y = m.nn.functional.max_pool2d(x * scale, 3, 2, 1)
        (gx,) = m.autograd.grad((y * y).sum(), x, create_graph=True)
        (gx * m.tensor(weights)).sum().backward()
        found.append((gx, x.grad, scale.grad))
    check(list(found[0]), [t.detach() for t in found[1]])


# ---- fractional max pooling ----------------------------------------------------------------------
SAMPLES = {nd: np.random.default_rng(3).random((2, 2, nd)).astype(np.float32) for nd in (2, 3)}  # (N, C, nd)
FRACTIONAL = {  # fn(m, x) -> (values, indices) for the same _random_samples, input shape, value domain
    "2d_output_size": (lambda m, x: m.nn.functional.fractional_max_pool2d(
        x, 2, (3, 2), return_indices=True, _random_samples=m.tensor(SAMPLES[2])), IMG, "ints"),
    "2d_ratio_module": (lambda m, x: m.nn.FractionalMaxPool2d((2, 1), output_ratio=(0.5, 0.7), return_indices=True,
                                                              _random_samples=m.tensor(SAMPLES[2]))(x), IMG, "any"),
    "2d_with_indices_unbatched_one_window": (lambda m, x: m.nn.functional.fractional_max_pool2d_with_indices(
        x[0], 3, 1, _random_samples=m.tensor(SAMPLES[2][:1])), IMG, "any"),
    "3d_module": (lambda m, x: m.nn.FractionalMaxPool3d(2, (2, 1, 3), return_indices=True,
                                                        _random_samples=m.tensor(SAMPLES[3][:1]))(x), VOL, "ints"),
}


def test_fractional_max_pooling_matches_torch_given_its_samples(env):
    """OpenCL builds the kernels of one case (the others run the same code at other sizes)."""
    not_eager_on_cl(env)
    check_cases({k: v for k, v in FRACTIONAL.items() if env.device != "cl" or k == "3d_module"},
                lambda case: _compare_pair(case[0], values(case[1], domain=case[2])))


def test_fractional_max_pooling_draws_its_samples_from_the_generator(env):
    not_eager_on_cl(env)
    x = lt.tensor(values((2, 2, 8, 8)))
    lt.manual_seed(5)
    first = lt.nn.FractionalMaxPool2d(2, 4, return_indices=True)(x)
    lt.manual_seed(5)
    samples = lt.rand(2, 2, 2)
    check(first, list(lt.nn.functional.fractional_max_pool2d(x, 2, 4, return_indices=True, _random_samples=samples)))


def test_fractional_max_pooling_rejects_bad_input():
    check_cases({
        "no_size": raises(ValueError, r"fractional_max_pool2d requires specifying either an output_size or an "
                                      r"output_ratio", lambda: lt.nn.functional.fractional_max_pool2d(lt.ones(*IMG), 2)),
        "module_ratio": raises(ValueError, r"output_ratio must be between 0 and 1 \(got 1.5\)",
                               lambda: lt.nn.FractionalMaxPool3d(2, output_ratio=1.5)),
        "module_both": raises(ValueError, r"only one of output_size and output_ratio",
                              lambda: lt.nn.FractionalMaxPool2d(2, 2, 0.5)),
        "pool_too_large": raises(RuntimeError, r"fractional_max_pool2d: pool height 3 too large relative to input "
                                               r"height 5 for output size \(4, 2\) \(input shape \(2, 2, 5, 4\)\)",
                                 lambda: lt.nn.functional.fractional_max_pool2d(lt.ones(*IMG), 3, (4, 2))),
        "3d_last_window_at_the_end": raises(RuntimeError, r"fractional_max_pool3d: pool time 2 too large relative to "
                                                          r"input time 4", lambda: lt.nn.functional.fractional_max_pool3d(
                                                              lt.ones(1, 1, 4, 4, 4), 2, 3)),
        "samples_shape": raises(RuntimeError, r"_random_samples must be float32 of shape \(2, 2, 3\), got float32 of "
                                              r"shape \(2, 2, 2\)", lambda: lt.nn.functional.fractional_max_pool3d(
                                                  lt.ones(2, 2, 4, 4, 4), 2, 2, _random_samples=lt.ones(2, 2, 2))),
        "input_rank": raises(RuntimeError, r"fractional_max_pool3d: expected a float 4D or 5D input",
                             lambda: lt.nn.functional.fractional_max_pool3d(lt.ones(2, 3, 4), 1, 1)),
    }, run)


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


# ---- recurrent layers over a PackedSequence --------------------------------------------------------
PACKED_RNN = {  # (module, its options), lengths, enforce_sorted, initial state given, batch_first
    "RNN_sorted": (("RNN", {}), [3, 2, 2], True, False, False),
    "GRU_bidirectional_unsorted_hx": (("GRU", {"bidirectional": True}), [2, 3, 1], False, True, False),
    "RNN_2_layers_bidirectional_batch_first": (("RNN", {"num_layers": 2, "bidirectional": True}), [2, 3, 1],
                                               False, True, True),
    "LSTM_ties_sorted_hx": (("LSTM", {}), [3, 3, 1], True, True, False),
}
CHEAP_ON_CL = ("RNN_sorted",)  # an unrolled GRU or LSTM takes a minute or more to compile on PoCL


def _packed_run(m, module, case):
    """The packed output's data and padded form, the final state and the gradients of the input
    and initial state, for a recurrent layer run over a PackedSequence."""
    (_, options), lengths, enforce_sorted, given, batch_first = case
    steps, batch = max(lengths), len(lengths)
    x = m.tensor(values((batch, steps, 3) if batch_first else (steps, batch, 3)), requires_grad=True)
    packed = m.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
    layers = options.get("num_layers", 1) * (2 if options.get("bidirectional") else 1)
    h0 = m.tensor(values((layers, batch, 4), seed=1), requires_grad=True) if given else None
    out, state = module(packed, None if h0 is None else ((h0, h0 * 0.5) if isinstance(module, m.nn.LSTM) else h0))
    padded, _ = m.nn.utils.rnn.pad_packed_sequence(out, batch_first=batch_first)
    states = list(state) if isinstance(state, tuple) else [state]
    loss = (padded * m.tensor(values(tuple(padded.shape), seed=2))).sum()
    sum((s * (1.5 + k)).sum() for k, s in enumerate(states)).add(loss).backward()
    return [out.data, out.batch_sizes, padded, *states, x.grad] + ([h0.grad] if given else [])


def test_recurrent_layers_run_a_packed_sequence_as_torch(env):
    """Each sequence stops at its length: the output is packed as the input, h_n (and c_n) hold
    each sequence's state after its own last step, in the caller's order, with gradients."""
    not_eager_on_cl(env)

    def case(case):
        (name, options) = case[0]
        torch.manual_seed(0)
        reference = getattr(torch.nn, name)(3, 4, **options)
        module = copy_weights(reference, getattr(lt.nn, name)(3, 4, **options))
        check(_packed_run(lt, module, case), [t.detach() for t in _packed_run(torch, reference, case)],
              rtol=1e-4, atol=1e-5)
    check_cases({k: v for k, v in PACKED_RNN.items() if env.device != "cl" or k in CHEAP_ON_CL}, case)


# ---- layers and losses --------------------------------------------------------------------------
def _ints(*rows):
    return np.array(rows, dtype=np.int64)


WEIGHT = values((6, 3), seed=4)  # an embedding table of 6 rows
LABELS = _ints([3, 0, -1, 1], [0, 1, 2, 3], [-1, 2, 1, 0])  # each row's classes, up to its first -1
GRID = np.random.default_rng(5).uniform(-1.6, 1.6, (2, 3, 4, 2)).astype(np.float32)  # reaches past the edges
LAYERS = {  # fn(m, *tensors), arrays (float ones require grad)
    "local_response_norm_3d": (lambda m, x: m.nn.functional.local_response_norm(x, 3), [values(SEQ)]),
    "LocalResponseNorm_4d": (lambda m, x: m.nn.LocalResponseNorm(2, 1e-2, 0.5, 2.0)(x), [values(IMG)]),
    "LocalResponseNorm_5d": (lambda m, x: m.nn.LocalResponseNorm(4)(x), [values(VOL)]),
    "rrelu_eval": (lambda m, x: m.nn.functional.rrelu(x, 0.1, 0.3), [values(SEQ)]),
    "RReLU_eval": (lambda m, x: m.nn.RReLU().eval()(x), [values(SEQ)]),
    "pdist": (lambda m, x: m.nn.functional.pdist(x), [values((4, 3))]),
    "pdist_1_with_a_repeated_row": (lambda m, x: m.nn.functional.pdist(m.cat([x, x[:1]]), 1), [values((3, 2))]),
    "pdist_3_with_a_repeated_row": (lambda m, x: m.nn.functional.pdist(m.cat([x, x[:1]]), 3), [values((3, 2))]),
    "pdist_inf": (lambda m, x: m.nn.functional.pdist(x, float("inf")), [values((4, 3))]),
    "pdist_0": (lambda m, x: m.nn.functional.pdist(x.detach(), 0), [values((4, 3), domain="ints")]),
    "pdist_of_one_row": (lambda m, x: m.nn.functional.pdist(x), [values((1, 3))]),
    "multilabel_margin_loss": (lambda m, x, t: m.nn.functional.multilabel_margin_loss(x, t), [values((3, 4)), LABELS]),
    "MultiLabelMarginLoss_none": (lambda m, x, t: m.nn.MultiLabelMarginLoss(reduction="none")(x, t),
                                  [values((3, 4)), LABELS]),
    "multilabel_margin_loss_1d": (lambda m, x, t: m.nn.functional.multilabel_margin_loss(x, t, reduction="sum"),
                                  [values((4,)), LABELS[0]]),
    "TripletMarginWithDistanceLoss_cosine_swap": (
        lambda m, a, p, n: m.nn.TripletMarginWithDistanceLoss(
            distance_function=lambda x, y: 1 - m.nn.functional.cosine_similarity(x, y), swap=True)(a, p, n),
        [values((3, 4)), values((3, 4), seed=1), values((3, 4), seed=2)]),
    "triplet_margin_with_distance_loss": (
        lambda m, a, p, n: m.nn.functional.triplet_margin_with_distance_loss(a, p, n, margin=2.0, reduction="none"),
        [values((3, 4)), values((3, 4), seed=1), values((3, 4), seed=2)]),
    "embedding_bag_2d_mean": (lambda m, w, i: m.nn.functional.embedding_bag(i, w), [WEIGHT, _ints([1, 2, 3],
                                                                                                [0, 5, 5])]),
    "embedding_bag_sum_offsets_weights_empty_bag": (
        lambda m, w, i, o, p: m.nn.functional.embedding_bag(i, w, o, mode="sum", per_sample_weights=p),
        [WEIGHT, _ints(1, 2, 3, 0, 5, 5, 4), _ints(0, 2, 2, 5), values((7,), seed=3)]),
    "embedding_bag_max_padding": (lambda m, w, i, o: m.nn.functional.embedding_bag(i, w, o, mode="max", padding_idx=5),
                                  [WEIGHT, _ints(1, 2, 3, 0, 5, 5, 4), _ints(0, 2, 2, 4, 6)]),
    "embedding_bag_max_ties": (lambda m, w, i: m.nn.functional.embedding_bag(i, w, mode="max"),
                               [np.ones((4, 2), np.float32), _ints([1, 2, 3], [0, 0, 2])]),
    "affine_grid_2d": (lambda m, t: m.nn.functional.affine_grid(t, (2, 1, 3, 4), align_corners=False),
                       [values((2, 2, 3))]),
    "affine_grid_3d_align_corners_unit_depth": (
        lambda m, t: m.nn.functional.affine_grid(t, (2, 1, 1, 2, 3), align_corners=True), [values((2, 3, 4))]),
    "grid_sample_bilinear_zeros": (lambda m, x, g: m.nn.functional.grid_sample(x, g, align_corners=False),
                                   [values(IMG), GRID]),
    "grid_sample_bilinear_border_align_corners": (
        lambda m, x, g: m.nn.functional.grid_sample(x, g, "bilinear", "border", True), [values(IMG), GRID]),
    "grid_sample_bilinear_reflection": (
        lambda m, x, g: m.nn.functional.grid_sample(x, g, "bilinear", "reflection", False), [values(IMG), GRID]),
    "grid_sample_nearest_reflection_align_corners": (
        lambda m, x, g: m.nn.functional.grid_sample(x, g.detach(), "nearest", "reflection", True), [values(IMG), GRID]),
    "EmbeddingBag_mean_padding_last_offset": (
        lambda m, w, i, o: m.nn.EmbeddingBag.from_pretrained(w.detach(), freeze=False, padding_idx=5,
                                                             include_last_offset=True)(i, o),
        [WEIGHT, _ints(1, 2, 3, 0, 5, 5, 4), _ints(0, 2, 2, 4, 6, 7)]),
}


def test_layers_and_losses_match_torch(env):
    not_eager_on_cl(env)
    check_cases(LAYERS, lambda case: compare_with_grads(case[0], *case[1]))


def test_embedding_bag_module_zeroes_its_padding_row_and_keeps_torchs_state_dict_names():
    bag = lt.nn.EmbeddingBag(5, 2, mode="sum", padding_idx=-1)
    assert bag.padding_idx == 4 and list(bag.state_dict()) == ["weight"]
    check(bag.weight[4], torch.zeros(2))
    check(bag(lt.tensor([[4, 4]])), torch.zeros(1, 2))


# ---- ctc_loss -----------------------------------------------------------------------------------
CTC_TARGETS = _ints([1, 2, 2, 0], [3, 3, 0, 0], [4, 1, 2, 3])  # padded (N, S); a repeated label needs a blank
CTC_CONCATENATED = np.concatenate([CTC_TARGETS[0, :3], CTC_TARGETS[1, :2], CTC_TARGETS[2]])
CTC_LOGITS = values((5, 3, 5))  # (T, N, C)


def _ctc(m, x, targets=CTC_TARGETS, input_lengths=(5, 4, 5), target_lengths=(3, 2, 4), normalise=True, **options):
    return m.nn.functional.ctc_loss(x.log_softmax(-1) if normalise else x, m.tensor(targets), input_lengths,
                                    target_lengths, **options)


CTC = {  # fn(m, logits (T, N, C)): the loss; its gradient reaches the logits through log_softmax or not
    "mean_tensor_lengths": lambda m, x: _ctc(m, x, input_lengths=m.tensor([5, 4, 5]),
                                             target_lengths=m.tensor([3, 2, 4])),
    "sum_concatenated_blank_4": lambda m, x: _ctc(m, x, np.where(CTC_CONCATENATED == 4, 0, CTC_CONCATENATED),
                                                  blank=4, reduction="sum"),
    # an empty input (loss inf, no gradient), an empty target, and PyTorch's gradient of raw log_probs
    "none_of_raw_log_probs_empty_input_and_target": lambda m, x: _ctc(
        m, x, normalise=False, input_lengths=(0, 5, 4), target_lengths=(3, 0, 4), reduction="none"),
    "zero_infinity_mean_of_an_impossible_alignment": lambda m, x: m.nn.CTCLoss(zero_infinity=True)(
        x.log_softmax(-1), m.tensor(CTC_TARGETS), (5, 1, 5), (3, 2, 4)),
    "unbatched": lambda m, x: m.nn.functional.ctc_loss(x[:, 0].log_softmax(-1), m.tensor(CTC_TARGETS[0, :3]),
                                                       m.tensor(5), m.tensor(3)),
}


def test_ctc_loss_matches_torchs_values_and_gradients(env):
    """On OpenCL one case: each time step is a kernel or two of its own, some fifty in all to build."""
    not_eager_on_cl(env)
    check_cases({k: v for k, v in CTC.items() if env.device != "cl" or k == "mean_tensor_lengths"},
                lambda fn: compare_with_grads(fn, CTC_LOGITS, rtol=1e-5, atol=1e-5))


def test_ctc_loss_backward_is_torchs_node(env):
    not_eager_on_cl(env)
    x = lt.tensor(CTC_LOGITS, requires_grad=True)
    assert _ctc(lt, x, normalise=False, reduction="none").grad_fn.name() == "CtcLossBackward0"


def test_ctc_loss_rejects_bad_input(env):
    not_eager_on_cl(env)
    x = lt.tensor(CTC_LOGITS).log_softmax(-1)
    check_cases({
        "input_length_past_the_input": raises(RuntimeError, r"ctc_loss: input_lengths\[0\] = 6 must lie in \[0, 5\].*"
                                                            r"log_probs float32\[5, 3, 5\], targets int64\[3, 4\]",
                                              lambda: _ctc(lt, x, input_lengths=(6, 5, 5), normalise=False)),
        "negative_target_length": raises(RuntimeError, r"ctc_loss: target_lengths\[1\] = -2 is negative",
                                         lambda: _ctc(lt, x, target_lengths=(3, -2, 4), normalise=False)),
        "target_longer_than_the_padded_targets": raises(
            RuntimeError, r"ctc_loss: padded targets must be of shape \(batch_size 3, at least the largest target "
                          r"length 5\)", lambda: _ctc(lt, x, target_lengths=(3, 2, 5), normalise=False)),
        "concatenated_targets_of_another_length": raises(
            RuntimeError, r"exactly the sum of target_lengths, 10 labels .*targets int64\[9\]",
            lambda: _ctc(lt, x, CTC_CONCATENATED, target_lengths=(3, 3, 4), normalise=False)),
        "lengths_for_another_batch": raises(RuntimeError, r"input_lengths must be of size batch_size 3, got 2",
                                            lambda: _ctc(lt, x, input_lengths=(6, 6), normalise=False)),
        "blank_out_of_range": raises(RuntimeError, r"blank 5 must be in label range \[0, 5\)",
                                     lambda: _ctc(lt, x, blank=5, normalise=False)),
        "float_targets": raises(RuntimeError, r"integer targets",
                                lambda: _ctc(lt, x, CTC_TARGETS.astype(np.float32), normalise=False)),
    }, run)


# ---- random layers: checked by the laws their draws follow ---------------------------------------------
def test_rrelu_in_training_scales_each_negative_by_a_uniform_slope_which_is_its_gradient(env):
    lower, upper = 0.1, 0.3
    x = lt.tensor(values((40, 50), domain="nonzero"), requires_grad=True)
    out = lt.nn.RReLU(lower, upper).train()(x)
    out.sum().backward()
    a, y, grad = x.detach().numpy(), out.detach().numpy(), x.grad.numpy()
    slope = y[a < 0] / a[a < 0]
    np.testing.assert_array_equal(y[a > 0], a[a > 0])
    assert lower <= slope.min() and slope.max() < upper and abs(slope.mean() - (lower + upper) / 2) < 0.01
    np.testing.assert_allclose(grad, np.where(a > 0, 1.0, y / a), rtol=1e-5)


SELU_A = 1.6732632423543772848170429916717 * 1.0507009873554804934193349852946


def test_alpha_dropout_keeps_a_standard_input_standard(env):
    """A kept value is a x + alpha a p (its gradient a), a dropped one -alpha a + alpha a p (no
    gradient), about p of them dropped, and a standard normal input stays about standard."""
    p = 0.2
    a = 1 / np.sqrt((SELU_A ** 2 * p + 1) * (1 - p))
    x = lt.tensor(np.random.default_rng(0).standard_normal(4000).astype(np.float32), requires_grad=True)
    out = lt.nn.AlphaDropout(p).train()(x)
    out.sum().backward()
    y, grad, data = out.detach().numpy(), x.grad.numpy(), x.detach().numpy()
    dropped = grad == 0
    np.testing.assert_allclose(y[dropped], -SELU_A * a + SELU_A * a * p, rtol=1e-5)
    np.testing.assert_allclose(y[~dropped], a * data[~dropped] + SELU_A * a * p, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(grad[~dropped], a, rtol=1e-6)
    assert abs(dropped.mean() - p) < 0.03 and abs(y.mean()) < 0.1 and abs(y.std() - 1) < 0.1
    check(lt.nn.functional.alpha_dropout(x, p), torch.from_numpy(data))  # training=False by default


def test_feature_alpha_dropout_drops_whole_channels(env):
    x = lt.tensor(values((8, 6, 5), domain="pos"))
    y = lt.nn.FeatureAlphaDropout(0.5).train()(x).numpy()
    dropped_value = -SELU_A / np.sqrt((SELU_A ** 2 * 0.5 + 1) * 0.5) * 0.5
    dropped = np.isclose(y, dropped_value, rtol=1e-5)
    assert np.all(dropped.all(-1) == dropped.any(-1)) and 0 < dropped.all(-1).mean() < 1


def test_gumbel_softmax_samples_the_softmax_and_hard_passes_the_soft_gradient(env):
    not_eager_on_cl(env)
    logits = np.log(np.array([0.2, 0.5, 0.3], np.float32))
    lt.manual_seed(3)
    soft = lt.nn.functional.gumbel_softmax(lt.tensor(np.tile(logits, (3000, 1))), tau=0.5).numpy()
    np.testing.assert_allclose(soft.sum(-1), 1, rtol=1e-5)
    np.testing.assert_allclose(np.bincount(soft.argmax(-1), minlength=3) / 3000, [0.2, 0.5, 0.3], atol=0.03)

    def draw(hard):
        lt.manual_seed(7)
        x = lt.tensor(np.tile(logits, (4, 1)), requires_grad=True)
        out = lt.nn.functional.gumbel_softmax(x, tau=0.5, hard=hard, dim=1)
        (out * lt.tensor(values((4, 3), seed=2))).sum().backward()
        return out.detach().numpy(), x.grad.numpy()
    (y_soft, g_soft), (y_hard, g_hard) = draw(False), draw(True)
    np.testing.assert_array_equal(y_hard, np.eye(3, dtype=np.float32)[y_soft.argmax(-1)])
    np.testing.assert_allclose(g_hard, g_soft, rtol=1e-5, atol=1e-6)


def test_layers_and_losses_reject_bad_input():
    check_cases({
        "pdist_of_3d": raises(RuntimeError, r"pdist only supports 2D tensors, got: 3D",
                              lambda: lt.nn.functional.pdist(lt.ones(2, 3, 4))),
        "pdist_negative_p": raises(RuntimeError, r"non-negative p values, got -1",
                                   lambda: lt.nn.functional.pdist(lt.ones(2, 3), -1)),
        "local_response_norm_of_2d": raises(ValueError, r"Expected 3D or higher dimensionality input \(got 2",
                                            lambda: lt.nn.LocalResponseNorm(2)(lt.ones(2, 3))),
        "alpha_dropout_p": raises(ValueError, r"between 0 and 1, but got 1.5",
                                  lambda: lt.nn.functional.alpha_dropout(lt.ones(3), 1.5, True)),
        "multilabel_target_shape": raises(RuntimeError, r"multilabel_margin_loss: .*target int64\[3\]",
                                          lambda: lt.nn.functional.multilabel_margin_loss(lt.ones(2, 3),
                                                                                          lt.zeros(3).long())),
        "multilabel_target_range": raises(IndexError, r"multilabel_margin_loss: index 4 is out of bounds",
                                          lambda: lt.nn.functional.multilabel_margin_loss(
                                              lt.ones(2, 3), lt.tensor([[0, 4, -1], [1, -1, 9]]))),
        "triplet_margin": raises(ValueError, r"expected margin to be greater than 0, got 0",
                                 lambda: lt.nn.TripletMarginWithDistanceLoss(margin=0)),
        "triplet_dims": raises(RuntimeError, r"anchor 2D, positive 1D, and negative 2D",
                               lambda: lt.nn.functional.triplet_margin_with_distance_loss(
                                   lt.ones(2, 3), lt.ones(3), lt.ones(2, 3))),
        "affine_grid_theta_shape": raises(ValueError, r"affine_grid: .*size \[2, 1, 3, 4\] and theta of shape \(2, 3, 4\)",
                                          lambda: lt.nn.functional.affine_grid(lt.ones(2, 3, 4), (2, 1, 3, 4), False)),
        "grid_sample_padding_mode": raises(ValueError, r"padding_mode to be 'zeros', 'border', or 'reflection', but "
                                                       r"got: 'wrap'", lambda: lt.nn.functional.grid_sample(
                                                           lt.ones(*IMG), lt.ones(2, 3, 4, 2), padding_mode="wrap")),
        "grid_sample_grid_shape": raises(RuntimeError, r"grid of shape \[2, 3, 4, 3\]", lambda: lt.nn.functional.grid_sample(
            lt.ones(*IMG), lt.ones(2, 3, 4, 3), align_corners=False)),
        "bag_2d_with_offsets": raises(ValueError, r"if input is 2D, then offsets has to be None",
                                      lambda: lt.nn.functional.embedding_bag(lt.zeros(2, 2).long(), lt.ones(3, 2),
                                                                             lt.zeros(2).long())),
        "bag_1d_without_offsets": raises(ValueError, r"input of shape \(4,\) and offsets None",
                                         lambda: lt.nn.functional.embedding_bag(lt.zeros(4).long(), lt.ones(3, 2))),
        "bag_weights_for_mean": raises(NotImplementedError, r"only supported for mode='sum' \(got mode='mean'\)",
                                       lambda: lt.nn.functional.embedding_bag(lt.zeros(2, 2).long(), lt.ones(3, 2),
                                                                              per_sample_weights=lt.ones(2, 2))),
        "bag_mode": raises(ValueError, r"mode has to be one of sum, mean or max, got 'min'",
                           lambda: lt.nn.EmbeddingBag(3, 2, mode="min")),
        "bag_index_range": raises(IndexError, r"embedding_bag: index 3 is out of bounds",
                                  lambda: lt.nn.functional.embedding_bag(lt.tensor([[0, 3]]), lt.ones(3, 2))),
    }, run)


# ---- lazy modules ---------------------------------------------------------------------------------
LAZY_MODULES = {  # name, constructor arguments, input shape
    "LazyLinear": ("LazyLinear", (4,), (2, 3)),
    "LazyConv1d_unbatched": ("LazyConv1d", (4, 2), (3, 6)),
    "LazyConv2d_groups": ("LazyConv2d", (4, 3, 1, 0, 1, 2), (2, 2, 5, 5)),
    "LazyConv3d": ("LazyConv3d", (2, 2), (1, 2, 3, 3, 3)),
    "LazyConvTranspose2d": ("LazyConvTranspose2d", (4, 3, 2), (2, 2, 3, 3)),
    "LazyBatchNorm1d": ("LazyBatchNorm1d", (), (4, 3)),
    "LazyBatchNorm2d": ("LazyBatchNorm2d", (), (2, 3, 2, 2)),
    "LazyInstanceNorm1d": ("LazyInstanceNorm1d", (), (2, 3, 5)),
    "LazyInstanceNorm2d_momentum": ("LazyInstanceNorm2d", (1e-3, 0.3), (2, 3, 2, 2)),
    "LazyInstanceNorm3d_without_running_stats": ("LazyInstanceNorm3d", (1e-5, 0.1, True, False), (1, 2, 3, 2, 2)),
}


def test_lazy_modules_infer_their_sizes_at_the_first_call_and_become_the_regular_module(env):
    """Before the call: placeholders in the state_dict, without a shape; after it: torch's class,
    shapes and (with torch's weights loaded) values; a fresh lazy module loads a state_dict."""
    not_eager_on_cl(env)
    def case(case):
        name, args, shape = case
        reference, module = getattr(torch.nn, name)(*args), getattr(lt.nn, name)(*args)
        assert module.has_uninitialized_params()
        assert all(isinstance(v, lt.nn.UninitializedParameter) for k, v in module.state_dict().items()
                   if k in ("weight", "bias"))
        with pytest.raises(RuntimeError, match="Can't access the shape of an uninitialized parameter"):
            module.weight.shape
        x = values(shape)
        reference(torch.tensor(x))
        module(lt.tensor(x))
        assert type(module).__name__ == type(reference).__name__
        assert {k: tuple(v.shape) for k, v in module.state_dict().items()} == \
            {k: tuple(v.shape) for k, v in reference.state_dict().items()}
        fresh = getattr(lt.nn, name)(*args)
        for target in (module, fresh):
            copy_weights(reference, target)
            check(target(lt.tensor(x)), reference(torch.tensor(x)).detach(), rtol=1e-5, atol=1e-5)
    check_cases(LAZY_MODULES, case)


def test_lazy_parameters_are_materialised_in_place_for_an_optimiser_made_before_the_first_call():
    module = lt.nn.LazyLinear(2)
    optimiser = lt.optim.SGD(module.parameters(), lr=0.5)
    module(lt.ones(1, 3)).sum().backward()
    before = module.weight.numpy().copy()
    optimiser.step()
    np.testing.assert_allclose(module.weight.numpy(), before - 0.5, rtol=1e-6)


def test_lazy_instance_norm_reads_the_channels_of_an_unbatched_input_from_its_first_dim():
    module, x = lt.nn.LazyInstanceNorm1d(), values((3, 5))
    out = module(lt.tensor(x))
    assert type(module) is lt.nn.InstanceNorm1d and module.num_features == 3
    assert tuple(module.weight.shape) == tuple(module.running_var.shape) == (3,)
    check(out, torch.nn.InstanceNorm1d(3, affine=True, track_running_stats=True)(torch.tensor(x)).detach(),
          rtol=1e-5, atol=1e-5)


def test_lazy_modules_reject_bad_input():
    check_cases({
        "conv_input_rank": raises(RuntimeError, r"Expected 3D \(unbatched\) or 4D \(batched\) input to LazyConv2d",
                                  lambda: lt.nn.LazyConv2d(2, 3)(lt.ones(2, 3))),
        "conv_groups": raises(ValueError, r"in_channels \(3\) must be divisible by groups \(2\)",
                              lambda: lt.nn.LazyConv1d(4, 1, groups=2)(lt.ones(1, 3, 5))),
        "instance_norm_input_rank": raises(ValueError, r"LazyInstanceNorm2d: expected 3D or 4D input \(got 2D",
                                           lambda: lt.nn.LazyInstanceNorm2d()(lt.ones(2, 3))),
        "placeholder_into_a_regular_module": raises(RuntimeError, r"Can't access the shape",
                                                    lambda: lt.nn.Linear(2, 3).load_state_dict(
                                                        lt.nn.LazyLinear(3).state_dict())),
    }, run)
