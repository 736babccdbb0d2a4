"""PyTorch functions that lazytensor builds from its own ops (lazytensor/elementwise.py,
movement.py, reduce.py, linalg.py): values against torch's, on every device and LAZY mode.
Their gradients are autograd's through those ops (test_autograd_ops.py checks them)."""
import numpy as np
import pytest

from helpers import check_cases, compare, values

pytestmark = pytest.mark.usefixtures("env")

SPECIAL = np.array([0.0, -0.0, 1e-30, 0.5, -2.0, 3.0, 1e20, -1e20, 3e38, np.inf, -np.inf, np.nan], np.float32)
PAIRS = np.stack(np.meshgrid(SPECIAL, SPECIAL, indexing="ij")).reshape(2, -1)

POINTWISE_PAIRS = {
    "logaddexp": lambda m, a, b: m.logaddexp(a, b),
    "logaddexp2": lambda m, a, b: m.logaddexp2(a, b),
    "hypot": lambda m, a, b: m.hypot(a, b),
    "xlogy": lambda m, a, b: m.xlogy(a, b),
    "xlogy_number": lambda m, a, b: m.xlogy(a, 2.5),
    "fmax": lambda m, a, b: m.fmax(a, b),
    "fmin": lambda m, a, b: a.fmin(b),
    "addcmul": lambda m, a, b: m.addcmul(a, b, a, value=0.5),
    "addcdiv": lambda m, a, b: a.addcdiv(a, b, value=-2),
    "clamp_min_tensor": lambda m, a, b: a.clamp_min(b),
}


def test_pointwise_functions_of_two_tensors_match_torch_at_special_values():
    """Infinities (logaddexp of two equal ones is that one), NaN (fmax prefers the number,
    xlogy gives 0 at x = 0), huge values (hypot never overflows in its squares)."""
    check_cases(POINTWISE_PAIRS, lambda fn: compare(fn, PAIRS[0], PAIRS[1], rtol=2e-6, atol=0))


POINTWISE = {
    "frac": lambda m, x: x.frac(),
    "deg2rad": lambda m, x: m.deg2rad(x),
    "rad2deg": lambda m, x: x.rad2deg(),
    "logit": lambda m, x: (x.abs() / (x.abs() + 1)).logit(),
    "logit_eps": lambda m, x: m.logit(x.sigmoid(), eps=0.25),
    "isposinf": lambda m, x: m.isposinf(x),
    "isneginf": lambda m, x: x.isneginf(),
    "clamp_max": lambda m, x: m.clamp_max(x, 0.5),
    "in_place_addcmul": lambda m, x: x.clone().addcmul_(x, x, value=2),
    "in_place_frac": lambda m, x: x.clone().frac_(),
}


def test_pointwise_functions_match_torch_at_special_values():
    check_cases(POINTWISE, lambda fn: compare(fn, SPECIAL, rtol=2e-6, atol=0))


SHAPES = {
    "broadcast_tensors": lambda m, x, v: m.broadcast_tensors(x[:, :1], x[:1])[1] * 2,
    "broadcast_to": lambda m, x, v: m.broadcast_to(v[:4], (3, 4)) + x,
    "meshgrid_ij": lambda m, x, v: m.meshgrid(v, x[0], indexing="ij")[1],
    "meshgrid_xy": lambda m, x, v: m.meshgrid(v, x[0], x[1, :2], indexing="xy")[0],
    "ravel": lambda m, x, v: x.t().ravel(),
    "view_as": lambda m, x, v: x.reshape(12).view_as(x.t().contiguous()),
    "tile_fewer_dims": lambda m, x, v: x.tile((2,)),
    "tile_more_dims": lambda m, x, v: m.tile(v, (2, 1, 2)),
    "hstack": lambda m, x, v: m.hstack([x, x * 2]),
    "hstack_vectors": lambda m, x, v: m.hstack([v, v]),
    "vstack": lambda m, x, v: m.vstack([x, x[0]]),
    "dstack": lambda m, x, v: m.dstack([x, x]),
    "column_stack": lambda m, x, v: m.column_stack([x[:, 0], x]),
    "atleast_3d": lambda m, x, v: m.atleast_3d(v),
    "atleast_2d_of_a_scalar": lambda m, x, v: m.atleast_2d(v.sum()),
    "diff": lambda m, x, v: m.diff(x),
    "diff_twice_along_rows": lambda m, x, v: x.diff(n=2, dim=0),
    "diff_prepend_append": lambda m, x, v: m.diff(v, prepend=v[:2], append=v[:1]),
    "diff_of_bools": lambda m, x, v: m.diff(v > 0),
    "repeat_interleave": lambda m, x, v: x.repeat_interleave(2, dim=1),
    "repeat_interleave_flat": lambda m, x, v: m.repeat_interleave(x, 3),
    "repeat_interleave_counts": lambda m, x, v: x.repeat_interleave(m.tensor([1, 0, 2]), dim=0),
    "diag_of_a_vector": lambda m, x, v: m.diag(v, 1),
    "diag_below": lambda m, x, v: m.diag(v, -2),
    "diag_of_a_matrix": lambda m, x, v: x.diag(-1),
    "trace": lambda m, x, v: x.trace(),
}


def test_shape_functions_match_torch():
    check_cases(SHAPES, lambda fn: compare(fn, values((3, 4), seed=1), values((5,), seed=2)))


REDUCTIONS = {
    "cumprod": lambda m, x: m.cumprod(x, 1),
    "cumprod_of_integers": lambda m, x: (x * 3).long().cumprod(0),
    "cumprod_in_place": lambda m, x: x.clone().cumprod_(0),
    "nansum": lambda m, x: m.nansum(m.where(x > 1, float("nan"), x), 1),
    "nansum_all": lambda m, x: m.where(x > 1, float("nan"), x).nansum(),
    "nanmean": lambda m, x: m.where(x > 1, float("nan"), x).nanmean(0),
    "nanmean_of_only_nan": lambda m, x: m.nanmean(x * float("nan"), 1),
    "count_nonzero": lambda m, x: m.count_nonzero(x.round(), 1),
    "count_nonzero_all": lambda m, x: x.round().count_nonzero(),
}


def test_reductions_match_torch():
    check_cases(REDUCTIONS, lambda fn: compare(fn, values((3, 4), seed=3), rtol=1e-6, atol=1e-7))


# module name -> its arguments: built alike in both libraries
ACTIVATION_MODULES = {
    "ReLU6": (), "Hardtanh": (-2.0, 2.5), "Hardswish": (), "Hardsigmoid": (), "LogSigmoid": (), "Mish": (),
    "SELU": (), "CELU": (0.5,), "Softsign": (), "Tanhshrink": (), "Threshold": (0.5, -3.0), "Softshrink": (0.5,),
    "Hardshrink": (1.0,), "GLU": (0,), "Softmin": (1,),
}
# their kinks and bounds, where a gradient is a choice (PyTorch's is the one to match)
KINKS = np.array([[-3.0, 3.0, 0.0, -0.5, 0.5], [1.0, -1.0, -2.0, 2.5, 6.0], [-1e-10, 1e-3, -30.0, 40.0, 2.0],
                  [0.25, -0.25, 1.5, -1.5, 0.0]], np.float32)


def test_activation_modules_match_torch_values_and_gradients(device, lazy):
    import torch
    import lazytensor as lt
    from helpers import using

    def run(m, name, args, x):
        x = m.tensor(x, requires_grad=True)
        y = getattr(m.nn, name)(*args)(x)
        (y * y.detach().abs().add(1)).sum().backward()
        return y.detach().numpy(), x.grad.numpy()

    failures = []
    for name, args in ACTIVATION_MODULES.items():
        want = run(torch, name, args, KINKS)
        with using(device, lazy):
            got = run(lt, name, args, KINKS)
        for what, g, w in zip(("value", "gradient"), got, want):
            if not np.allclose(g, w, rtol=1e-6, atol=1e-7):
                failures.append(f"{name} {what}: {g.ravel()[:6]} vs torch {w.ravel()[:6]}")
    assert not failures, "\n".join(failures)


def test_prelu_learns_one_slope_per_channel_as_torch(device, lazy):
    import torch
    import lazytensor as lt
    from helpers import using
    x = values((2, 3, 4), seed=5)

    def run(m):
        layer = m.nn.PReLU(3, init=0.1)
        out = layer(m.tensor(x))
        (out * out).sum().backward()
        return out.detach().numpy(), layer.weight.grad.numpy()
    want = run(torch)
    with using(device, lazy):
        got = run(lt)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_huber_and_kl_div_loss_modules_are_their_functions():
    import lazytensor as lt
    a, b = lt.tensor(values((3, 4), seed=6)), lt.tensor(values((3, 4), domain="pos", seed=7))
    assert lt.nn.HuberLoss(delta=0.5)(a, b).item() == lt.nn.functional.huber_loss(a, b, delta=0.5).item()
    assert lt.nn.KLDivLoss(reduction="sum")(a, b).item() == lt.nn.functional.kl_div(a, b, reduction="sum").item()
