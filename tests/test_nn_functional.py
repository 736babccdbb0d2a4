"""lt.nn.functional against torch.nn.functional: values and input gradients, every device."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import lazytensor as lt
from lazytensor.runtime.profile import profiled
import lazytensor.nn.functional as F
from helpers import using
from nn_helpers import assert_close, data, needs_autograd, to_lt

LOGITS = (6, 5)
TARGET = np.array([0, 4, 2, -100, 1, 4])  # one ignored entry
PROBS = np.random.default_rng(7).dirichlet(np.ones(5), 6).astype(np.float32)
WEIGHT = np.array([1.0, 2.0, 0.5, 1.5, 1.0], dtype=np.float32)


def _ce(m, kw):
    def fn(F_, x):
        kw2 = dict(kw)
        tgt = kw2.pop("target")
        if "weight" in kw2:
            kw2["weight"] = m.tensor(WEIGHT)
        return F_.cross_entropy(x, m.tensor(tgt), **kw2)
    return fn


# name -> (input shape, fn(m, F, x) using module m (torch or lt) for constants, input domain)
CASES = {
    "cross_entropy_ignore_index": (LOGITS, lambda m, F_, x: F_.cross_entropy(x, m.tensor(TARGET))),
    "cross_entropy_label_smoothing_weight": (LOGITS, lambda m, F_, x: F_.cross_entropy(
        x, m.tensor(TARGET), weight=m.tensor(WEIGHT), label_smoothing=0.2)),
    "cross_entropy_label_smoothing_sum": (LOGITS, lambda m, F_, x: F_.cross_entropy(
        x, m.tensor(TARGET), label_smoothing=0.1, reduction="sum")),
    "cross_entropy_none": (LOGITS, lambda m, F_, x: F_.cross_entropy(x, m.tensor(TARGET), reduction="none")),
    "cross_entropy_probabilities": (LOGITS, lambda m, F_, x: F_.cross_entropy(x, m.tensor(PROBS),
                                                                             label_smoothing=0.1)),
    "cross_entropy_spatial": ((2, 3, 4), lambda m, F_, x: F_.cross_entropy(
        x, m.tensor(np.array([[0, 1, 2, 1], [2, 2, 0, 1]])))),
    "nll_loss_weight": (LOGITS, lambda m, F_, x: F_.nll_loss(F_.log_softmax(x, 1), m.tensor(TARGET),
                                                             weight=m.tensor(WEIGHT))),
    "mse_loss": ((3, 4), lambda m, F_, x: F_.mse_loss(x, m.tensor(np.linspace(-1, 1, 12, dtype=np.float32)
                                                                .reshape(3, 4)))),
    "l1_loss_sum": ((3, 4), lambda m, F_, x: F_.l1_loss(x, m.zeros(3, 4) + 0.3, reduction="sum")),
    "binary_cross_entropy": ((3, 4), lambda m, F_, x: F_.binary_cross_entropy(
        x.sigmoid(), m.tensor(PROBS[:3, :4] * 1.2))),
    "bce_with_logits_pos_weight": ((3, 4), lambda m, F_, x: F_.binary_cross_entropy_with_logits(
        x * 10, m.tensor(PROBS[:3, :4]), pos_weight=m.tensor(WEIGHT[:4]))),
    "softmax_log_softmax": ((3, 5), lambda m, F_, x: F_.softmax(x, -1) * 2 + F_.log_softmax(x, 0)),
    "sdpa_causal": ((2, 4, 3), lambda m, F_, x: F_.scaled_dot_product_attention(x, x * 0.5, x + 1, is_causal=True)),
    "sdpa_bool_mask": ((2, 4, 3), lambda m, F_, x: F_.scaled_dot_product_attention(
        x, x.flip(1), x, attn_mask=m.tensor(np.tril(np.ones((4, 4), dtype=bool))[::-1].copy()))),
    "sdpa_float_mask": ((2, 4, 3), lambda m, F_, x: F_.scaled_dot_product_attention(
        x, x, x, attn_mask=m.tensor(np.linspace(-2, 0, 16, dtype=np.float32).reshape(4, 4)))),
    "layer_norm": ((2, 3, 4), lambda m, F_, x: F_.layer_norm(x, (3, 4), m.ones(3, 4) * 2, m.zeros(3, 4) + 1)),
    "conv2d_same": ((1, 2, 5, 5), lambda m, F_, x: F_.conv2d(x, x[0, :, :3, :3].unsqueeze(0).repeat(3, 1, 1, 1),
                                                            padding="same")),
    "max_pool2d_ceil": ((1, 2, 5, 5), lambda m, F_, x: F_.max_pool2d(x, 2, ceil_mode=True)),
    "avg_pool2d_no_pad_count": ((1, 2, 5, 5), lambda m, F_, x: F_.avg_pool2d(x, 3, 2, 1, count_include_pad=False)),
    "pad_reflect_replicate": ((1, 2, 4), lambda m, F_, x: F_.pad(x, (2, 1), mode="reflect")
                              + F_.pad(x, (2, 1), mode="replicate")),
    "pad_constant": ((2, 3), lambda m, F_, x: F_.pad(x, (1, 2, 0, 1), value=0.5)),
    "linear": ((3, 4), lambda m, F_, x: F_.linear(x, x[:2] * 0.5, m.ones(2))),
    "dropout_eval": ((3, 4), lambda m, F_, x: F_.dropout(x, 0.5, training=False)),
}


def _run(case, device, grad):
    shape, fn = CASES[case]
    x = data(shape, seed=3)
    if grad:
        x.requires_grad_(True)
    ref = fn(torch, TF, x)
    with using(device, True):
        lx = to_lt(x, requires_grad=grad)
        got = fn(lt, F, lx)
        assert_close(got, ref, what=f"{case} on {device}")
        if grad:
            g = data(tuple(ref.shape), seed=5)
            (ref * g).sum().backward()
            (got * to_lt(g)).sum().backward()
            assert_close(lx.grad, x.grad, what=f"{case} input grad on {device}")


@pytest.mark.parametrize("case", list(CASES))
def test_functional_forward(case, device):
    _run(case, device, False)


@needs_autograd
@pytest.mark.parametrize("case", list(CASES))
def test_functional_input_grad(case, device):
    _run(case, device, True)


def test_one_hot(device):
    with using(device, True):
        got = F.one_hot(lt.tensor([0, 3, 1]), 5)
        ref = TF.one_hot(torch.tensor([0, 3, 1]), 5)
        assert got.dtype == lt.int64
        np.testing.assert_array_equal(got.numpy(), ref.numpy())
        np.testing.assert_array_equal(F.one_hot(lt.tensor([2, 0])).numpy(), TF.one_hot(torch.tensor([2, 0])).numpy())


def test_cross_entropy_rejects_bad_target_shape():
    with pytest.raises((ValueError, RuntimeError), match="target"):
        F.cross_entropy(lt.zeros(4, 3), lt.tensor([0, 1]))


def test_conv2d_rejects_channel_mismatch():
    with pytest.raises(RuntimeError, match="channels"):
        F.conv2d(lt.zeros(1, 3, 5, 5), lt.zeros(2, 4, 3, 3))


def test_conv2d_is_one_reduction_kernel():
    """Windows are views: the conv's gather/pad/multiply/sum fuse into one kernel."""
    x, w = lt.randn(1, 2, 6, 6).realize(), lt.randn(3, 2, 3, 3).realize()
    lt.reset_stats()
    F.conv2d(x, w, stride=2, padding=1).realize()
    assert lt.stats().kernels_launched == 1


@needs_autograd
def test_max_pool_is_one_kernel_and_its_gradient_two():
    """A window's kept value is scanned as elementwise work (no index reduction, no gather and
    no bounds check of one); the backward finds each kept cell again and routes the gradient."""
    x = lt.randn(2, 3, 8, 8, requires_grad=True).realize()
    lt.reset_stats()
    y = F.max_pool2d(x, 2)
    y.realize()
    assert lt.stats().kernels_launched == 1
    lt.reset_stats()
    y.backward(lt.ones(2, 3, 4, 4))
    x.grad.realize()
    assert lt.stats().kernels_launched == 2


@needs_autograd
@pytest.mark.parametrize("device", ["numpy", "cl"])
def test_max_pool_gives_a_tied_maximums_gradient_to_its_first_element_as_torch(device):
    from helpers import cl_unavailable_reason
    if device == "cl" and cl_unavailable_reason() is not None:
        pytest.skip("needs OpenCL")
    x = np.round(np.random.default_rng(0).standard_normal((2, 3, 7, 7)) * 2).astype(np.float32)  # many ties
    grads = []
    with using(device, True):
        for m, fn in ((torch, TF), (lt, F)):
            t = m.tensor(x, requires_grad=True)
            y = fn.max_pool2d(t, 3, stride=2, padding=1)
            (y * m.arange(float(y.numel())).reshape(y.shape)).sum().backward()
            grads.append(t.grad)
    assert_close(grads[1], grads[0], rtol=0, atol=0, what="max_pool2d gradient with ties")


def test_kl_div_at_edge_targets_is_torchs(device):
    """kl_div is xlogy(target, target) - target * input: 0 where the target is 0 (unless the input
    is infinite: 0 * inf), NaN where it is negative or NaN, and NaN for an infinite target."""
    target = np.array([0.0, 0.0, -0.5, np.inf, np.nan, 0.25, 1.0], np.float32)
    logits = np.array([1.0, np.inf, -1.0, 0.0, 0.5, -2.0, -np.inf], np.float32)
    with using(device, True):
        got = F.kl_div(lt.tensor(logits), lt.tensor(target), reduction="none").numpy()
    want = TF.kl_div(torch.tensor(logits), torch.tensor(target), reduction="none").numpy()
    np.testing.assert_array_equal(got, want)


ADAPTIVE_SIZES = [((2, 3, 7, 9), (3, 4)), ((1, 2, 5, 5), 3), ((3, 10, 13), (4, 5)), ((1, 2, 7, 7), (None, 3)),
                  ((1, 1, 4, 4), 7), ((2, 3, 8, 8), 4)]


@pytest.mark.parametrize("shape,size", ADAPTIVE_SIZES, ids=[f"{s}->{o}" for s, o in ADAPTIVE_SIZES])
def test_adaptive_avg_pool2d_to_any_size_matches_torch(device, shape, size):
    """Output sizes that do not divide the input (overlapping windows, and larger than the input)
    as well as those that do; values and the input's gradient."""
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    results = []
    for m in (torch, lt):
        with using(device, True):
            t = m.tensor(x, requires_grad=True)
            y = m.nn.functional.adaptive_avg_pool2d(t, size)
            (y * y).sum().backward()
            results.append((y.detach().numpy(), t.grad.numpy()))
    (want, want_grad), (got, got_grad) = results
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_grad, want_grad, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape,size", ADAPTIVE_SIZES, ids=[f"{s}->{o}" for s, o in ADAPTIVE_SIZES])
def test_adaptive_max_pool2d_matches_torch_and_gives_a_tie_to_its_first_element(device, shape, size):
    """Windows of different sizes; inputs after a ReLU, so many windows tie at 0 and the
    gradient must go where PyTorch sends it (the first in row-major order)."""
    x = np.maximum(np.random.default_rng(1).standard_normal(shape).astype(np.float32), 0)
    results = []
    for m in (torch, lt):
        with using(device, True):
            t = m.tensor(x, requires_grad=True)
            y = m.nn.AdaptiveMaxPool2d(size)(t)
            (y * (y + 1)).sum().backward()
            results.append((y.detach().numpy(), t.grad.numpy()))
    (want, want_grad), (got, got_grad) = results
    np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(got_grad, want_grad, rtol=1e-6, atol=1e-6)


# (dims, stride, padding, dilation, groups, kernel): the gradients of a convolution are written
# out as convolutions (nn/functional.Convolution); each geometry's border arithmetic differs
CONV_GEOMETRIES = {
    "plain": (2, 1, 0, 1, 1, 3),
    "strided_padded": (2, 2, 1, 1, 1, 3),
    "dilated": (2, 1, 1, 2, 1, 3),
    "grouped_strided": (2, 2, 0, 1, 2, 2),
    "stride_leaves_a_tail": (2, 3, 2, 2, 1, 3),
    "same_even_kernel": (2, 1, "same", 1, 1, 4),
    "same_dilated_grouped": (1, 1, "same", 2, 2, 3),
    "padding_past_the_kernel": (2, 2, 3, 1, 1, 1),
    "conv3d": (3, 2, 1, 1, 1, 3),
}
_CONV_INPUTS = {1: (2, 4, 11), 2: (2, 4, 9, 8), 3: (1, 4, 7, 6, 5)}


@needs_autograd
@pytest.mark.parametrize("case", list(CONV_GEOMETRIES))
def test_conv_gradients_match_torch(case, device):
    nd, stride, padding, dilation, groups, k = CONV_GEOMETRIES[case]
    x = data(_CONV_INPUTS[nd], seed=1)
    w, b = data((6, 4 // groups) + (k,) * nd, seed=2), data((6,), seed=3)
    results = []
    with using(device, True):
        for m, fn in ((torch, getattr(TF, f"conv{nd}d")), (lt, getattr(F, f"conv{nd}d"))):
            inputs = [(to_lt(a, requires_grad=True) if m is lt else a.clone().requires_grad_()) for a in (x, w, b)]
            y = fn(*inputs, stride=stride, padding=padding, dilation=dilation, groups=groups)
            g = data(tuple(y.shape), seed=4)
            (y * (to_lt(g) if m is lt else g)).sum().backward()
            results.append([y] + [t.grad for t in inputs])
    for name, got, ref in zip(("output", "input grad", "weight grad", "bias grad"), results[1], results[0]):
        assert_close(got, ref, what=f"conv {case} {name} on {device}")


@needs_autograd
def test_conv_double_backward_matches_torch(device):
    """A gradient penalty differentiates a convolution's input gradient again."""
    x, w = data((1, 2, 5, 5), seed=1), data((3, 2, 3, 3), seed=2)
    results = []
    with using(device, True):
        for m, fn in ((torch, TF), (lt, F)):
            xi = to_lt(x, requires_grad=True) if m is lt else x.clone().requires_grad_()
            wi = to_lt(w, requires_grad=True) if m is lt else w.clone().requires_grad_()
            (gx,) = m.autograd.grad(fn.conv2d(xi, wi, padding=1).tanh().sum(), xi, create_graph=True)
            (gx * gx).sum().backward()
            results.append((gx.detach(), wi.grad, xi.grad))
    for got, ref in zip(results[1], results[0]):
        assert_close(got, ref, what=f"conv double backward on {device}")


def test_conv2d_input_gradient_is_one_kernel(device):
    """A transposed convolution of the output's gradient: one reduction over the output
    channels and the window, not a window-sized copy of the input summed back (on `cl` the
    matmul path may copy the weight into a packed panel first: that copy is not counted)."""
    x = lt.randn(2, 4, 8, 8, device=device).realize().requires_grad_()
    w, g = lt.randn(6, 4, 3, 3, device=device).realize(), lt.randn(2, 6, 8, 8, device=device).realize()
    (gx,) = lt.autograd.grad(F.conv2d(x, w, padding=1), x, g)
    with profiled() as launched:
        gx.realize()
    assert [k.name for k in launched if "_pack" not in k.name] == [launched[-1].name], launched
    assert launched[-1].shape == (2, 4, 8, 8)


@pytest.mark.parametrize("bias", [False, True])
def test_conv_grad_fn_is_named_as_torch(bias):
    names = [fn.conv2d(m.ones(1, 1, 4, 4), m.ones(1, 1, 3, 3, requires_grad=True),
                       m.ones(1, requires_grad=True) if bias else None).grad_fn.name()
             for m, fn in ((torch, TF), (lt, F))]
    assert names[0] == names[1]


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("kernel", [3, 4])
def test_conv_same_padding_pads_by_the_module_padding_mode(mode, kernel, device):
    x = data((1, 2, 5, 6), seed=1)
    outs = []
    with using(device, True):
        for m in (torch, lt):
            conv = m.nn.Conv2d(2, 3, kernel, padding="same", padding_mode=mode, bias=False)
            with m.no_grad():
                conv.weight.copy_(m.tensor(data((3, 2, kernel, kernel), seed=2).numpy()))
            outs.append(conv(to_lt(x) if m is lt else x))
    assert_close(outs[1], outs[0], what=f"Conv2d same {mode} on {device}")
