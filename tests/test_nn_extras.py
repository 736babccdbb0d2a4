"""lt.nn / lt.nn.functional names beyond the basics, against torch's: instance norm, the padding
modules, channel-wise dropout, distances, the margin / embedding / likelihood losses, Softmax2d,
1-D adaptive pooling, fixed-mode upsampling, channel shuffle, unfold / fold, ParameterDict and
the in-place activation forms. Values and input gradients, on every device and LAZY mode."""
import numpy as np
import pytest
import torch

import lazytensor as lt
from helpers import check, check_cases, not_eager_on_cl, values

pytestmark = pytest.mark.usefixtures("env")

SEQ = (2, 3, 5)  # (N, C, L): the shared small shapes, so few kernels are compiled
IMG = (2, 3, 4, 5)  # (N, C, H, W)
VOL = (1, 2, 3, 3, 4)  # (N, C, D, H, W)


def compare_with_grads(fn, *arrays, rtol=1e-5, atol=1e-6):
    """Run ``fn(m, *tensors)`` with m = lazytensor and m = torch on the same data, every float
    array an input that requires grad; check the results and each input's gradient of
    sum(result * fixed weights)."""
    results = {}
    for m in (lt, torch):
        inputs = [m.tensor(a.copy(), requires_grad=a.dtype.kind == "f") for a in arrays]
        out = fn(m, *inputs)
        if out.requires_grad:
            (out * m.tensor(values(tuple(out.shape), seed=9))).sum().backward()
        results[m] = (out, [t.grad for t in inputs if t.requires_grad])
    (got, got_grads), (want, want_grads) = results[lt], results[torch]
    check(got, want.detach(), rtol=rtol, atol=atol)
    for i, (g, w) in enumerate(zip(got_grads, want_grads)):
        assert (g is None) == (w is None), f"input {i}: gradient {g} where torch has {w}"
        if w is not None:
            check(g, w, rtol=rtol, atol=atol)


def run(body):
    return body()


def raises(error, match, fn):
    """fn() raises `error` with `match` in its message; a value it returns is read first, as a
    deferred check on tensor data raises where the value is read."""
    def body():
        with pytest.raises(error, match=match):
            out = fn()
            out.numpy()
    return body


# ---- instance norm ---------------------------------------------------------------------------
INSTANCE_NORM = {
    "functional_affine": (lambda m, x: m.nn.functional.instance_norm(x, weight=m.ones(3) * 2, bias=m.ones(3) - 3,
                                                                     eps=1e-3), IMG),
    "1d_unbatched": (lambda m, x: m.nn.InstanceNorm1d(3)(x[0]), SEQ),
    "2d_affine_without_bias": (lambda m, x: m.nn.InstanceNorm2d(3, affine=True, bias=False)(x), IMG),
    "3d": (lambda m, x: m.nn.InstanceNorm3d(2)(x), VOL),
}


def test_instance_norm_normalises_each_sample_and_channel_over_its_spatial_dims(env):
    not_eager_on_cl(env)
    check_cases(INSTANCE_NORM, lambda case: compare_with_grads(case[0], values(case[1])))


def test_instance_norm_running_statistics_train_then_eval():
    """In training the running buffers move towards the batch's mean of the instances' mean and
    unbiased variance; in eval they normalise (and momentum=None leaves them as they are)."""
    x, y = values(SEQ, seed=1), values(SEQ, seed=2)

    def run(m, momentum):
        norm = m.nn.InstanceNorm1d(3, momentum=momentum, affine=True, track_running_stats=True)
        train_out = norm(m.tensor(x))
        return train_out, norm.running_mean, norm.running_var, norm.eval()(m.tensor(y))

    check_cases({"momentum_0.3": 0.3, "momentum_None": None},
                lambda momentum: check(list(run(lt, momentum)), [t.detach() for t in run(torch, momentum)]))


def test_instance_norm_rejects_bad_input():
    check_cases({
        "one_spatial_element": raises(ValueError, r"more than 1 spatial element.*\[2, 3, 1\]",
                                      lambda: lt.nn.functional.instance_norm(lt.ones(2, 3, 1))),
        "module_dims": raises(ValueError, r"InstanceNorm2d: expected 3D or 4D input \(got 2D",
                              lambda: lt.nn.InstanceNorm2d(3)(lt.ones(2, 3))),
        "affine_channels": raises(ValueError, r"num_features \(4\).*\(2, 3, 5\)",
                                  lambda: lt.nn.InstanceNorm1d(4, affine=True)(lt.ones(*SEQ))),
    }, run)


# ---- padding modules ---------------------------------------------------------------------------
PADDING = {
    "ZeroPad2d": (lambda m, x: m.nn.ZeroPad2d(1)(x), IMG),
    "ConstantPad3d": (lambda m, x: m.nn.ConstantPad3d(1, 2.0)(x), VOL),
    "ReflectionPad1d": (lambda m, x: m.nn.ReflectionPad1d((3, 1))(x), SEQ),
    "ReflectionPad2d_unbatched": (lambda m, x: m.nn.ReflectionPad2d(2)(x[0]), IMG),
    "ReflectionPad3d": (lambda m, x: m.nn.ReflectionPad3d(1)(x), VOL),
    "ReplicationPad2d": (lambda m, x: m.nn.ReplicationPad2d(2)(x), IMG),
    "CircularPad1d": (lambda m, x: m.nn.CircularPad1d((5, 1))(x), SEQ),
    "CircularPad2d": (lambda m, x: m.nn.CircularPad2d((1, 0, 4, 2))(x), IMG),
}


def test_padding_modules_pad_as_torchs(env):
    not_eager_on_cl(env)
    check_cases(PADDING, lambda case: compare_with_grads(case[0], values(case[1])))


def test_padding_rejects_what_torch_rejects():
    check_cases({
        "reflect_too_wide": raises(RuntimeError, r"padding \(5, 0\) should be less than the dimension size 5",
                                   lambda: lt.nn.ReflectionPad1d((5, 0))(lt.ones(*SEQ))),
        "reflect_of_a_4d_input_in_1d": raises(NotImplementedError, r"pads 1 dims .* \(2, 3, 4, 5\)",
                                              lambda: lt.nn.ReflectionPad1d(1)(lt.ones(*IMG))),
        "circular_wraps_twice": raises(RuntimeError, r"\(6, 0\) wraps around a dimension of size 5",
                                       lambda: lt.nn.CircularPad1d((6, 0))(lt.ones(*SEQ))),
        "padding_tuple_length": raises(ValueError, r"padding must be an int or a tuple of 4 ints",
                                       lambda: lt.nn.ZeroPad2d((1, 2))),
    }, run)


# ---- channel-wise dropout -----------------------------------------------------------------------
DROPOUT = {  # (module, input shape, the dims one draw covers)
    "Dropout1d": (lt.nn.Dropout1d, (4, 6, 5), (2,)),
    "Dropout2d": (lt.nn.Dropout2d, (4, 6, 5, 1), (2, 3)),
    "Dropout2d_of_3d_reads_N_C_L": (lt.nn.Dropout2d, (4, 6, 5), (2,)),
    "Dropout3d_unbatched": (lt.nn.Dropout3d, (6, 2, 2, 3), (1, 2, 3)),
}


def _drops_whole_channels(case):
    module, shape, spatial = case
    x = values(shape, domain="pos")
    p = 0.4
    lt.manual_seed(1)  # unseeded, a draw keeping all 6 channels (0.6^6 = 5%) failed now and then
    out = module(p)(lt.tensor(x)).numpy()
    scaled = x / (1 - p)
    zero = np.all(out == 0, axis=spatial)
    kept = np.all(np.isclose(out, scaled, rtol=1e-6), axis=spatial)
    assert np.all(zero ^ kept), "a channel is neither all dropped nor all kept and scaled by 1/(1-p)"
    assert zero.any() and kept.any(), f"over {zero.size} channels, {zero.sum()} dropped at p={p}"


@pytest.mark.filterwarnings("ignore:dropout2d. Received a 3-D input")  # torch's warning too
def test_channel_dropout_zeroes_whole_channels_and_scales_the_rest():
    check_cases(DROPOUT, _drops_whole_channels)


def _warns_and_drops_along_dim_0():
    """dropout3d of a 3-D input: PyTorch adds a batch dim, so each entry of dim 0 is one channel."""
    with pytest.warns(UserWarning, match=r"dropout3d: Received a 3-D input of shape \(6, 2, 5\)"):
        out = lt.nn.functional.dropout3d(lt.ones(6, 2, 5), 0.5).numpy()
    assert np.all((out == 0).all(axis=(1, 2)) ^ (out == 2).all(axis=(1, 2)))


def test_channel_dropout_in_eval_is_the_identity_and_p_is_checked():
    x = lt.tensor(values((4, 6, 5)))
    check_cases({
        "eval_Dropout1d": lambda: check(lt.nn.Dropout1d(0.9).eval()(x), x.numpy()),
        "eval_dropout2d": lambda: check(lt.nn.functional.dropout2d(x, 0.9, training=False), x.numpy()),
        "p_1_zeroes_all": lambda: check(lt.nn.functional.dropout1d(x, 1.0), np.zeros((4, 6, 5), np.float32)),
        "bad_p": raises(ValueError, "between 0 and 1, but got 1.5", lambda: lt.nn.functional.dropout1d(x, 1.5)),
        "dropout3d_of_3d_warns_and_reads_C_D_H": _warns_and_drops_along_dim_0,
        "dropout1d_of_4d": raises(RuntimeError, r"dropout1d: Expected 2D or 3D input.*\(4, 6, 5, 1\)",
                                  lambda: lt.nn.functional.dropout1d(x.unsqueeze(-1))),
    }, run)


# ---- distances -------------------------------------------------------------------------------------
DISTANCES = {
    "CosineSimilarity_last_dim_broadcast": lambda m, a, b: m.nn.CosineSimilarity(-1, 1e-6)(a, b[:1]),
    "pairwise_distance_p1_keepdim": lambda m, a, b: m.nn.functional.pairwise_distance(a, b, 1, keepdim=True),
    "PairwiseDistance_p3_eps": lambda m, a, b: m.nn.PairwiseDistance(3, 0.1)(a, b),
    "pairwise_distance_p0_counts_the_differing_entries": lambda m, a, b: m.nn.functional.pairwise_distance(
        a, a.round() + b * 0, 0),
}


def test_distances_match_torch(env):
    not_eager_on_cl(env)
    a, b = values(SEQ, seed=1), values(SEQ, seed=2)
    check_cases(DISTANCES, lambda fn: compare_with_grads(fn, a, b))


# ---- losses ------------------------------------------------------------------------------------------
SIGNS = np.where(values((6,), seed=4) > 0, 1.0, -1.0).astype(np.float32)
SIGN_GRID = np.where(values((6, 4), seed=5) > 0, 1.0, -1.0).astype(np.float32)
LABELS = (values((6, 4), domain="unit", seed=6) > 0).astype(np.float32)
COUNTS = np.array([[0, 1, 2, 5], [3, 0, 1, 7], [2, 2, 0, 1], [1, 4, 6, 0], [0, 0, 3, 2], [9, 1, 1, 2]], np.float32)
CLASSES = np.array([0, 3, 1, 1, 2, 3])
CLASS_WEIGHT = np.array([1.0, 0.5, 2.0, 1.5], np.float32)
REDUCTIONS = ("none", "mean", "sum")


def _loss_cases():
    """name -> fn(m, x, y, z) of three (6, 4) inputs."""
    t = lambda m, a: m.tensor(a)  # noqa: E731
    F = lambda m: m.nn.functional  # noqa: E731
    per_reduction = {
        "margin_ranking_loss": lambda m, x, y, z, r: F(m).margin_ranking_loss(x[:, 0], y[:, 0], t(m, SIGNS),
                                                                             margin=0.5, reduction=r),
        "hinge_embedding_loss": lambda m, x, y, z, r: F(m).hinge_embedding_loss(x, t(m, SIGN_GRID), 1.5,
                                                                               reduction=r),
        "soft_margin_loss": lambda m, x, y, z, r: F(m).soft_margin_loss(x, t(m, SIGN_GRID), reduction=r),
        "multilabel_soft_margin_loss": lambda m, x, y, z, r: F(m).multilabel_soft_margin_loss(
            x * 3, t(m, LABELS), weight=t(m, CLASS_WEIGHT), reduction=r),
        "triplet_margin_loss": lambda m, x, y, z, r: F(m).triplet_margin_loss(x, y, z, margin=2.0, reduction=r),
        "cosine_embedding_loss": lambda m, x, y, z, r: F(m).cosine_embedding_loss(x, y, t(m, SIGNS), 0.1,
                                                                                 reduction=r),
        "poisson_nll_loss_full": lambda m, x, y, z, r: F(m).poisson_nll_loss(x, t(m, COUNTS), full=True,
                                                                            reduction=r),
        "poisson_nll_loss_rates": lambda m, x, y, z, r: F(m).poisson_nll_loss(x.abs() + 0.1, t(m, COUNTS),
                                                                             log_input=False, eps=1e-3,
                                                                             reduction=r),
        "gaussian_nll_loss": lambda m, x, y, z, r: F(m).gaussian_nll_loss(x, y, z.abs() + 0.1, reduction=r),
        "multi_margin_loss_p2_weight": lambda m, x, y, z, r: F(m).multi_margin_loss(
            x, t(m, CLASSES), p=2, margin=0.7, weight=t(m, CLASS_WEIGHT), reduction=r),
    }
    # one reduction per loss, in turn: they share _reduce, so each reduction is met several times
    cases = {f"{name}_{r}": (lambda fn, r: lambda m, x, y, z: fn(m, x, y, z, r))(fn, r)
             for (name, fn), r in zip(per_reduction.items(), REDUCTIONS * 4)}
    cases.update({
        "triplet_margin_loss_p1_swap": lambda m, x, y, z: F(m).triplet_margin_loss(x, y, z, p=1, swap=True),
        "cosine_embedding_loss_of_vectors": lambda m, x, y, z: F(m).cosine_embedding_loss(
            x[0], y[0], t(m, SIGNS)[0], reduction="none"),
        "gaussian_nll_loss_full_one_var_per_row": lambda m, x, y, z: F(m).gaussian_nll_loss(
            x, y, z[:, 0].abs(), full=True),
        "gaussian_nll_loss_var_column_clamped": lambda m, x, y, z: F(m).gaussian_nll_loss(
            x, y, z[:, :1].abs() * 0, eps=0.5),
        "gaussian_nll_loss_float_var": lambda m, x, y, z: F(m).gaussian_nll_loss(x, y, 0.5),
        "gaussian_nll_loss_nan_var_is_a_nan_loss": lambda m, x, y, z: F(m).gaussian_nll_loss(
            x, y, (z.abs() + 0.1) * m.where(x > 1, float("nan"), 1.0), reduction="none"),
        "multi_margin_loss_vector": lambda m, x, y, z: F(m).multi_margin_loss(x[0], t(m, CLASSES)[1],
                                                                              reduction="none"),
        "multi_margin_loss_of_an_empty_batch": lambda m, x, y, z: F(m).multi_margin_loss(
            x[:0], t(m, CLASSES)[:0], reduction="none"),
    })
    return cases


LOSS_MODULES = {  # name -> (positional constructor arguments, keyword ones): torch's order and names
    "MarginRankingLoss": ((0.2, None, None, "sum"), {}),
    "HingeEmbeddingLoss": ((0.5,), {}),
    "SoftMarginLoss": ((), {"reduction": "none"}),
    "MultiLabelSoftMarginLoss": ((None, False), {}),
    "TripletMarginLoss": ((1.0, 3, 1e-3, True), {}),
    "CosineEmbeddingLoss": ((-0.2,), {"reduce": False}),
    "PoissonNLLLoss": ((False, True, None, 1e-2), {"reduction": "sum"}),
    "GaussianNLLLoss": ((), {"full": True, "eps": 1e-2}),
    "MultiMarginLoss": ((2, 2.0), {"reduction": "none"}),
}


@pytest.mark.filterwarnings("ignore:size_average and reduce args will be deprecated")
def test_loss_modules_take_torchs_constructor_arguments():
    """Positionally and by name, the legacy size_average and reduce folded into `reduction`:
    every option lands in the attribute torch keeps it in."""
    def body(name):
        args, kwargs = LOSS_MODULES[name]
        ours, theirs = getattr(lt.nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
        options = [k for k in vars(theirs) if not k.startswith("_") and k != "training"]
        assert {k: getattr(ours, k) for k in options} == {k: getattr(theirs, k) for k in options}
    check_cases(list(LOSS_MODULES), body)


def test_loss_modules_apply_their_function_with_their_options(env):
    not_eager_on_cl(env)
    weight = lambda m: m.tensor(CLASS_WEIGHT)  # noqa: E731
    check_cases({
        "TripletMarginLoss": lambda m, x, y, z: m.nn.TripletMarginLoss(1.0, 3, 1e-3, True)(x, y, z),
        "MultiMarginLoss_weight_buffer": lambda m, x, y, z: m.nn.MultiMarginLoss(1, 2.0, weight(m), None, None,
                                                                                  "none")(x, m.tensor(CLASSES)),
    }, lambda fn: compare_with_grads(fn, *_loss_inputs()))


def _loss_inputs():
    return values((6, 4), seed=1), values((6, 4), seed=2), values((6, 4), seed=3)


def test_losses_match_torch_for_each_reduction(env):
    not_eager_on_cl(env)
    check_cases(_loss_cases(), lambda fn: compare_with_grads(fn, *_loss_inputs()))


def test_losses_reject_bad_input():
    F = lt.nn.functional
    x, v = lt.ones(3, 4), lt.ones(4)
    check_cases({
        "margin_ranking_dims": raises(RuntimeError, r"same dimension.*input1: \(3, 4\), input2: \(4,\)",
                                      lambda: F.margin_ranking_loss(x, v, v)),
        "triplet_dims": raises(RuntimeError, r"anchor 2D, positive 1D, and negative 2D",
                               lambda: F.triplet_margin_loss(x, v, x)),
        "cosine_embedding_dims": raises(RuntimeError, r"1D target tensor expects 2D input.*\[3, 4\] and \[4\]",
                                        lambda: F.cosine_embedding_loss(x, v, lt.ones(3))),
        "gaussian_var_shape": raises(ValueError, r"var is of incorrect size \(2,\) for input of shape \(3, 4\)",
                                     lambda: F.gaussian_nll_loss(x, x, lt.ones(2))),
        "gaussian_negative_float_var": raises(ValueError, "var has negative entry",
                                              lambda: F.gaussian_nll_loss(x, x, -1.0)),
        "gaussian_negative_var": raises(RuntimeError, r"gaussian_nll_loss: all elements of var",
                                        lambda: F.gaussian_nll_loss(x, x, x - 2)),
        "multi_margin_p": raises(ValueError, "only p == 1 and p == 2", lambda: F.multi_margin_loss(
            x, lt.tensor([0, 1, 2]), p=3)),
        "multi_margin_target_size": raises(RuntimeError, r"Expected target size \[3\], but got \[2\]",
                                           lambda: F.multi_margin_loss(x, lt.tensor([0, 1]))),
        "multi_margin_weight": raises(RuntimeError, r"inconsistent weight size, expected 4 but got \[3\]",
                                      lambda: F.multi_margin_loss(x, lt.tensor([0, 1, 2]), weight=lt.ones(3))),
        "multi_margin_3d": raises(RuntimeError, r"vector or matrix.*\[2, 3, 4\]",
                                  lambda: F.multi_margin_loss(lt.ones(2, 3, 4), lt.tensor([0, 1]))),
        "multi_margin_target_range": raises(IndexError, r"multi_margin_loss \(target\): index 4 is out of bounds",
                                            lambda: F.multi_margin_loss(x, lt.tensor([0, 4, 1]))),
        "bad_reduction": raises(ValueError, "batch is not a valid value for reduction",
                                lambda: lt.nn.HingeEmbeddingLoss(reduction="batch")),
        "gaussian_loss_positional": raises(TypeError, r"GaussianNLLLoss\(\) takes at most 0 positional",
                                           lambda: lt.nn.GaussianNLLLoss(True)),
    }, run)


# ---- Softmax2d, 1-D adaptive pooling, fixed-mode upsampling, channel shuffle ---------------------
RESHAPING = {
    "Softmax2d_unbatched_over_dim_0": (lambda m, x: m.nn.Softmax2d()(x[0]), IMG),
    "AdaptiveAvgPool1d_overlapping_unbatched": (lambda m, x: m.nn.AdaptiveAvgPool1d(3)(x[0]), SEQ),
    "AdaptiveMaxPool1d_overlapping": (lambda m, x: m.nn.AdaptiveMaxPool1d(4)(x), SEQ),
    "UpsamplingNearest2d": (lambda m, x: m.nn.UpsamplingNearest2d((5, 7))(x), IMG),
    "UpsamplingBilinear2d_aligns_corners": (lambda m, x: m.nn.UpsamplingBilinear2d(scale_factor=2)(x), IMG),
    "ChannelShuffle": (lambda m, x: m.nn.ChannelShuffle(3)(x.reshape(1, 6, 5)), SEQ),
}


def test_reshaping_modules_match_torch(env):
    not_eager_on_cl(env)
    check_cases(RESHAPING, lambda case: compare_with_grads(case[0], values(case[1])))


def test_reshaping_modules_reject_bad_input():
    F = lt.nn.functional
    check_cases({
        "Softmax2d_of_2d": raises(ValueError, r"Softmax2d: expected input to be 3D or 4D, got 2D",
                                  lambda: lt.nn.Softmax2d()(lt.ones(3, 4))),
        "adaptive_avg_pool1d_of_4d": raises(RuntimeError, r"adaptive_avg_pool1d: expected .* 2-D or 3-D input",
                                            lambda: F.adaptive_avg_pool1d(lt.ones(*IMG), 2)),
        "adaptive_max_pool1d_two_sizes": raises(RuntimeError, r"adaptive_max_pool1d: .*output_size \(2, 2\)",
                                                lambda: F.adaptive_max_pool1d(lt.ones(*SEQ), (2, 2))),
        "channel_shuffle_groups": raises(RuntimeError, r"Got 5 channels and 2 groups",
                                         lambda: F.channel_shuffle(lt.ones(2, 5, 3), 2)),
        "channel_shuffle_dims": raises(RuntimeError, r"> 2 dims.*\[2, 5\]",
                                       lambda: F.channel_shuffle(lt.ones(2, 5), 5)),
    }, run)


# ---- unfold / fold -------------------------------------------------------------------------------------
FOLDING = {
    "Unfold_dilation_padding_stride": (lambda m, x: m.nn.Unfold((2, 3), dilation=(2, 1), padding=1,
                                                                stride=(1, 2))(x), IMG),
    "fold_overlapping": (lambda m, x: m.nn.functional.fold(x.reshape(2, 12, 6), (3, 4), 2), (2, 12, 6)),
    "Fold_dilation_padding_stride": (lambda m, x: m.nn.Fold((5, 6), (2, 3), dilation=(2, 1), padding=1,
                                                            stride=(1, 2))(x), (1, 6, 15)),
    "fold_unbatched": (lambda m, x: m.nn.Fold(4, 3, stride=2, padding=1)(x[0].reshape(9, 4)), (2, 9, 4)),
    "fold_of_unfold_counts_overlaps": (lambda m, x: m.nn.functional.fold(
        m.nn.functional.unfold(x, 3, padding=1), (4, 5), 3, padding=1), IMG),
}


def test_unfold_and_fold_match_torch(env):
    not_eager_on_cl(env)
    check_cases(FOLDING, lambda case: compare_with_grads(case[0], values(case[1])))


def test_unfold_and_fold_reject_bad_input():
    F = lt.nn.functional
    check_cases({
        "unfold_5d": raises(RuntimeError, r"unfold: Expected 3D \(unbatched\) or 4D \(batched\).*\[1, 2, 3, 3, 3\]",
                            lambda: F.unfold(lt.ones(1, 2, 3, 3, 3), 2)),
        "fold_blocks": raises(RuntimeError, r"sliding blocks 2 \* 2 = 4, but got input.size\(2\)=5",
                              lambda: F.fold(lt.ones(1, 8, 5), (3, 3), 2)),
        "fold_channels": raises(RuntimeError, r"input.size\(1\)=7 and kernel_size=\(2, 2\)",
                                lambda: F.fold(lt.ones(1, 7, 4), (3, 3), 2)),
        "fold_4d": raises(RuntimeError, r"fold: Expected 2D \(unbatched\) or 3D \(batched\)",
                          lambda: F.fold(lt.ones(1, 1, 8, 4), (3, 3), 2)),
    }, run)


# ---- ParameterDict, in-place activations -------------------------------------------------------------------
def test_a_parameter_dict_of_a_plain_dict_takes_its_keys_in_order_and_prints_them():
    """torch sorts a plain dict's keys (an OrderedDict keeps its order): the parameters, the
    state_dict and an optimizer's order follow."""
    from collections import OrderedDict
    d = lt.nn.ParameterDict({"b": lt.nn.Parameter(lt.ones(2, 3)), "a": lt.nn.Parameter(lt.ones(1))})
    assert list(d.keys()) == ["a", "b"] and [n for n, _ in d.named_parameters()] == ["a", "b"]
    assert list(lt.nn.ParameterDict(OrderedDict([("b", lt.ones(1)), ("a", lt.ones(1))]))) == ["b", "a"]
    assert "(b): Parameter containing: [lazytensor.FloatTensor of size 2x3]" in repr(d)
    assert d.setdefault("c", lt.nn.Parameter(lt.zeros(1))) is d["c"] and list(d) == ["a", "b", "c"]
    merged = d | {"e": lt.ones(1), "d": lt.ones(1)}
    assert list(merged) == ["a", "b", "c", "d", "e"] and list(d) == ["a", "b", "c"]
    assert list(lt.nn.ParameterDict.fromkeys(["y", "x"], lt.nn.Parameter(lt.ones(1)))) == ["y", "x"]


def test_parameter_dict_registers_its_tensors_as_parameters():
    d = lt.nn.ParameterDict({"w": lt.ones(2, 3), "b": lt.nn.Parameter(lt.zeros(3))})
    d["scale"] = lt.full((1,), 2.0)
    model = lt.nn.Module()
    model.params = d
    assert list(d) == ["b", "w", "scale"] and len(d) == 3 and "b" in d and d.get("nope") is None
    assert all(isinstance(p, lt.nn.Parameter) and p.requires_grad for p in d.values())
    assert [name for name, _ in model.named_parameters()] == ["params.b", "params.w", "params.scale"]
    ((lt.ones(4, 2) @ d["w"] + d["b"]) * d["scale"]).sum().backward()
    check(d["b"].grad, np.full(3, 8.0, np.float32))
    del d["w"]
    assert list(d.keys()) == ["b", "scale"] and d.pop("b") is not None and len(d) == 1
    with pytest.raises(TypeError, match="ParameterDict: the value of 'n' must be a tensor or None, got int"):
        d["n"] = 3


IN_PLACE = {
    "relu_": lambda m, x: m.nn.functional.relu_(x),
    "elu_": lambda m, x: m.nn.functional.elu_(x, 0.5),
    "leaky_relu_": lambda m, x: m.nn.functional.leaky_relu_(x, 0.2),
    "hardtanh_": lambda m, x: m.nn.functional.hardtanh_(x, -0.5, 1.5),
    "selu_": lambda m, x: m.nn.functional.selu_(x),
    "celu_": lambda m, x: m.nn.functional.celu_(x, 2.0),
    "threshold_": lambda m, x: m.nn.functional.threshold_(x, 0.3, -2.0),
    "Tensor.clamp_": lambda m, x: x.clamp_(-0.5, 1.0),  # the tensor layer's in-place form they are built on
}


def test_in_place_activations_write_into_their_input(env):
    """The result is the input itself, updated; the gradient flows back through the write."""
    not_eager_on_cl(env)
    def body(fn):
        def written(m, x):
            y = x * 1
            out = fn(m, y)
            assert out is y or m is torch
            return y
        compare_with_grads(written, values(SEQ))
    check_cases(IN_PLACE, body)


# how PyTorch's inplace flag is passed -> a call
INPLACE_FLAG = {
    "relu": lambda m, x: m.nn.functional.relu(x, inplace=True),
    "ReLU": lambda m, x: m.nn.ReLU(inplace=True)(x),
    "leaky_relu_positional": lambda m, x: m.nn.functional.leaky_relu(x, 0.2, True),
    "ELU": lambda m, x: m.nn.ELU(inplace=True)(x),
    "Hardtanh": lambda m, x: m.nn.Hardtanh(-0.5, 0.5, True)(x),
    "ReLU6": lambda m, x: m.nn.ReLU6(inplace=True)(x),
    "SiLU": lambda m, x: m.nn.SiLU(True)(x),
    "selu": lambda m, x: m.nn.functional.selu(x, True),
    "threshold": lambda m, x: m.nn.functional.threshold(x, 0.1, 9.0, True),
    "hardswish": lambda m, x: m.nn.functional.hardswish(x, inplace=True),
    "relu_of_a_view": lambda m, x: m.nn.functional.relu(x[1:], inplace=True),
}


def test_the_inplace_flag_writes_the_activation_into_the_input(env):
    """With inplace=True the input holds the activation afterwards (views write through), and
    the gradient flows back through the write, as in PyTorch."""
    not_eager_on_cl(env)
    def body(fn):
        def written(m, x):
            y = x * 1
            fn(m, y)
            return y
        compare_with_grads(written, values(SEQ))
    check_cases(INPLACE_FLAG, body)


def test_in_place_activation_of_a_leaf_that_requires_grad_raises():
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        lt.nn.functional.relu_(lt.ones(3, requires_grad=True))
