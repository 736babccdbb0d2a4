"""PyTorch functions that lazytensor builds from its own ops (lazytensor/elementwise.py,
movement.py, reduce.py, products.py): values against torch's, on every device and LAZY mode.
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
    "diff_along_an_empty_dim": lambda m, x, v: x[:, :0].diff(),
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


SIGNS = {
    "copysign": lambda m, x: m.copysign(m.ones_like(x) * 2.5, x),
    "copysign_number": lambda m, x: m.copysign(x, -1.0),
    "copysign_of_integers": lambda m, x: m.copysign(m.arange(12).reshape(3, 4)[0, :1] + 3, x),
    "signbit": lambda m, x: m.signbit(x),
    "signbit_of_integers": lambda m, x: m.signbit(m.arange(-3, 3)),
    "sgn": lambda m, x: x.sgn(),
    "heaviside": lambda m, x: m.heaviside(x, m.tensor(0.5)),
    "heaviside_tensor_values": lambda m, x: x.heaviside(x * 0 + 7),
    "float_power": lambda m, x: m.float_power(x, 2),
    "float_power_of_a_number": lambda m, x: m.float_power(2, x),
    "isclose": lambda m, x: m.isclose(x, x * (1 + 1e-6)),
    "isclose_method_equal_nan": lambda m, x: x.isclose(x, equal_nan=True),
}


def test_sign_functions_match_torch_at_special_values():
    """-0.0 has its sign bit set (signbit, copysign), NaN is not above zero (heaviside)."""
    check_cases(SIGNS, lambda fn: compare(fn, SPECIAL, rtol=1e-6, atol=0))


PRODUCTS = {
    "mv": lambda m, a, b: m.mv(a, b[:, 0]),
    "addmm": lambda m, a, b: m.addmm(a[:, :3], a, b, beta=0.5, alpha=2),
    "addmm_broadcast_row": lambda m, a, b: b[0].addmm(a, b),
    "addmm_beta_zero_ignores_nan": lambda m, a, b: m.addmm(a[:, :3] * float("nan"), a, b, beta=0),
    "addmv": lambda m, a, b: m.addmv(b[0], b.t(), a[0], alpha=-1),
    "addr": lambda m, a, b: m.addr(a, a[:, 0], a[0], beta=2),
    "baddbmm": lambda m, a, b: m.baddbmm(a[:, :3], m.stack([a, a * 2]), m.stack([b, b]), alpha=0.5),
    "addbmm": lambda m, a, b: m.addbmm(b[:3, :3].t(), m.stack([a, a]), m.stack([b, -b * 2])),
    "tensordot_int": lambda m, a, b: m.tensordot(a.reshape(3, 2, 2), b.reshape(2, 2, 3), 2),
    "tensordot_lists": lambda m, a, b: m.tensordot(a, b, ([1], [0])),
    "tensordot_zero": lambda m, a, b: m.tensordot(a[0], b[0], 0),
    "inner": lambda m, a, b: m.inner(a, a),
    "inner_with_a_number": lambda m, a, b: m.inner(a, m.tensor(2.0)),
    "vdot": lambda m, a, b: m.vdot(a[0], b[:, 1]),
    "kron": lambda m, a, b: m.kron(a[:2, :2], b),
    "kron_of_different_ranks": lambda m, a, b: a[0].kron(b[:2]),
    "block_diag": lambda m, a, b: m.block_diag(a, b[0], m.tensor(5.0)),
    "cross": lambda m, a, b: m.cross(a[:, :3], b[:3], dim=1),
    "cross_first_dim_of_three": lambda m, a, b: a[:, :3].t().cross(b[1:]),
    "cross_first_dim_of_three_of_the_first_input": lambda m, a, b: m.cross(a[:1, :3], b[:3]),
    "tensordot_over_nothing": lambda m, a, b: m.tensordot(a[:, :0], b[:0], 1),
    "tensordot_dims_as_a_tensor": lambda m, a, b: m.tensordot(a, b, dims=m.tensor([[1], [0]])),
    "addmm_of_integers_truncates_the_factors": lambda m, a, b: m.addmm(a[:, :3].long(), a.long(), b.long(), beta=0.5,
                                                                       alpha=2.5),
    "block_diag_of_nothing": lambda m, a, b: m.block_diag(),
    "cdist": lambda m, a, b: m.cdist(a, b.t()),
    "cdist_p1_batched": lambda m, a, b: m.cdist(m.stack([a, a * 2]), m.stack([b.t(), b.t()]), p=1),
    "cdist_inf": lambda m, a, b: m.cdist(a, a, p=float("inf")),
    "dist": lambda m, a, b: m.dist(a, b.t(), 3),
    "cartesian_prod": lambda m, a, b: m.cartesian_prod(a[0], b[0, :2], a[1, :2]),
    "vander": lambda m, a, b: m.vander(a[0], 3),
    "vander_increasing": lambda m, a, b: m.vander(a[0], increasing=True),
}


def test_products_match_torch():
    check_cases(PRODUCTS, lambda fn: compare(fn, values((3, 4), seed=11), values((4, 3), seed=12), rtol=1e-5, atol=1e-5))


LINALG = {
    "vector_norm": lambda m, x: m.linalg.vector_norm(x),
    "vector_norm_dims": lambda m, x: m.linalg.vector_norm(x, 3, dim=(0, 2), keepdim=True),
    "vector_norm_inf": lambda m, x: m.linalg.vector_norm(x, float("inf"), dim=1),
    "vector_norm_minus_inf": lambda m, x: m.linalg.vector_norm(x, -float("inf")),
    "vector_norm_zero": lambda m, x: m.linalg.vector_norm(x.round(), 0, dim=-1),
    "vector_norm_one_in_double": lambda m, x: m.linalg.vector_norm(x, 1, dtype=m.float64),
    "matrix_norm": lambda m, x: m.linalg.matrix_norm(x),
    "matrix_norm_inf": lambda m, x: m.linalg.matrix_norm(x, float("inf")),
    "matrix_norm_minus_one": lambda m, x: m.linalg.matrix_norm(x, -1, dim=(2, 0), keepdim=True),
    "norm": lambda m, x: m.linalg.norm(x),
    "norm_of_a_vector": lambda m, x: m.linalg.norm(x[0, 0], 1),
    "norm_of_a_matrix": lambda m, x: m.linalg.norm(x[0], -float("inf")),
    "norm_two_dims": lambda m, x: m.linalg.norm(x, dim=(1, 2)),
    "vecdot": lambda m, x: m.linalg.vecdot(x, x[0], dim=1),
    "cross": lambda m, x: m.linalg.cross(x[..., :3], x[..., 1:]),
    "multi_dot": lambda m, x: m.linalg.multi_dot([x[0, 0], x[0].t(), x[1], x[0, 1]]),
    "matrix_power_0": lambda m, x: m.linalg.matrix_power(x[:, :, :3], 0),
    "matrix_power_5": lambda m, x: m.linalg.matrix_power(x[:, :, :3] / 2, 5),
    "diagonal": lambda m, x: m.linalg.diagonal(x, offset=1),
    "vander": lambda m, x: m.linalg.vander(x[0]),
    "matrix_norm_of_no_rows": lambda m, x: m.linalg.matrix_norm(x[:, :0], float("inf")),
}


def test_linalg_products_and_norms_match_torch():
    check_cases(LINALG, lambda fn: compare(fn, values((2, 3, 4), seed=13), rtol=1e-5, atol=1e-5))


MORE_SHAPES = {
    "fliplr": lambda m, x, v: m.fliplr(x),
    "flipud": lambda m, x, v: v.flipud(),
    "rot90": lambda m, x, v: m.rot90(x),
    "rot90_twice": lambda m, x, v: x.rot90(2),
    "rot90_back": lambda m, x, v: m.rot90(x, -1, (1, 0)),
    "rot90_four_times": lambda m, x, v: m.rot90(x, 4),
    "narrow_copy": lambda m, x, v: x.narrow_copy(1, 1, 2),
    "moveaxis": lambda m, x, v: m.moveaxis(x.reshape(3, 2, 2), 0, -1),
    "tril_indices": lambda m, x, v: m.tril_indices(3, 4, 1),
    "triu_indices": lambda m, x, v: m.triu_indices(4, 3, -1),
    "sum_to_size": lambda m, x, v: x.sum_to_size(1, 4),
    "sum_to_size_fewer_dims": lambda m, x, v: x.reshape(1, 3, 4).sum_to_size((3, 1)),
}


def test_more_shape_functions_match_torch():
    check_cases(MORE_SHAPES, lambda fn: compare(fn, values((3, 4), seed=14), values((5,), seed=15)))


STATISTICS = {
    "aminmax": lambda m, x: m.aminmax(x),
    "aminmax_dim": lambda m, x: x.aminmax(dim=1, keepdim=True),
    "trapezoid": lambda m, x: m.trapezoid(x),
    "trapezoid_dx": lambda m, x: m.trapezoid(x, dx=0.5, dim=0),
    "trapezoid_x": lambda m, x: m.trapezoid(x, m.tensor([0.0, 1.0, 3.0, 3.5])),
    "trapz": lambda m, x: m.trapz(x, dim=0),
    "cumulative_trapezoid": lambda m, x: m.cumulative_trapezoid(x, dx=2.0),
    "cov": lambda m, x: m.cov(x),
    "cov_of_one_variable": lambda m, x: x[0].cov(correction=0),
    "cov_of_one_row_is_0d": lambda m, x: m.cov(x[:1]),
    "corrcoef_of_one_row_is_0d": lambda m, x: m.corrcoef(x[:1]),
    "cov_weighted": lambda m, x: m.cov(x, fweights=m.tensor([1, 2, 1, 3]), aweights=m.tensor([0.5, 1.0, 2.0, 1.0])),
    "corrcoef": lambda m, x: m.corrcoef(x),
}


def test_statistics_match_torch():
    check_cases(STATISTICS, lambda fn: compare(fn, values((3, 4), seed=16), rtol=1e-5, atol=1e-6))
