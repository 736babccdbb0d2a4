"""Gradients of every differentiable op, compared with torch.

Each case is ``fn(m, *xs)`` run with m = lazytensor and m = torch on the same
float32 inputs (all ``requires_grad=True``).  The outputs are projected onto
fixed random weights and summed to a scalar, so the upstream gradient is not
uniform; ``backward()`` is called on both and every input's ``.grad`` is
compared with torch's.  Ops are grouped into few tests (``check_cases``) and
shapes are shared so that OpenCL compiles few distinct kernels.
"""
import numpy as np
import pytest
import torch

import lazytensor as lt
from helpers import check, check_cases, values

pytestmark = pytest.mark.usefixtures("env")

TOL = dict(rtol=1e-4, atol=1e-5)

X = values((3, 4), seed=1)
Y = values((3, 4), seed=2)
X3 = values((2, 3, 4), seed=3)
Y3 = values((2, 3, 4), seed=4)
POS = values((3, 4), domain="pos", seed=5)
NZ = values((3, 4), domain="nonzero", seed=6)
UNIT = values((3, 4), domain="unit", seed=7)


def _flat(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def grad_compare(fn, *arrays, rtol=1e-4, atol=1e-5, seed=100):
    """Check forward values and input gradients of ``fn`` against torch."""
    lt_in = [lt.tensor(np.array(a, copy=True), requires_grad=True) for a in arrays]
    t_in = [torch.tensor(np.array(a, copy=True), requires_grad=True) for a in arrays]
    t_outs = _flat(fn(torch, *t_in))
    lt_outs = _flat(fn(lt, *lt_in))
    assert len(lt_outs) == len(t_outs), f"{len(lt_outs)} outputs, expected {len(t_outs)}"

    t_loss = lt_loss = None
    for i, (o, to) in enumerate(zip(lt_outs, t_outs)):
        check(o, to, rtol=rtol, atol=atol)                  # forward agrees
        if not to.requires_grad:                            # e.g. integer indices
            continue
        assert o.requires_grad, f"output [{i}] does not require grad"
        w = values(tuple(to.shape), seed=seed + i)
        tl = (to * torch.from_numpy(w)).sum()
        ll = (o * lt.tensor(w)).sum()
        t_loss = tl if t_loss is None else t_loss + tl
        lt_loss = ll if lt_loss is None else lt_loss + ll
    assert t_loss is not None, "case has no differentiable output"
    t_loss.backward()
    lt_loss.backward()
    check(lt_loss.detach(), t_loss.detach(), rtol=rtol, atol=atol)

    for i, (a, ta) in enumerate(zip(lt_in, t_in)):
        if ta.grad is None:                                 # input unused by torch
            assert a.grad is None or not np.any(a.grad.numpy()), f"input [{i}]: unexpected grad"
            continue
        assert a.grad is not None, f"input [{i}]: .grad is None"
        try:
            check(a.grad, ta.grad, rtol=rtol, atol=atol)
        except AssertionError as e:
            raise AssertionError(f"grad of input [{i}]: {e}") from None


def run_cases(cases, **kw):
    """cases: name -> (fn, *arrays)."""
    check_cases(cases, lambda c: grad_compare(c[0], *c[1:], **kw))


# ---------------------------------------------------------------- unary
UNARY_DOMAIN = {
    "exp": X, "exp2": X, "log": POS, "log2": POS, "log1p": POS, "expm1": X,
    "sqrt": POS, "rsqrt": POS, "reciprocal": NZ, "square": X, "abs": NZ, "neg": X,
    "sin": X, "cos": X, "tan": UNIT, "tanh": X, "sigmoid": X, "relu": NZ, "erf": X,
    "asin": UNIT, "acos": UNIT, "atan": X, "sinh": X, "cosh": X, "asinh": X, "acosh": POS + 1.0, "atanh": UNIT,
}


def test_unary_methods():
    run_cases({name: (lambda m, x, n=name: getattr(x, n)(), a) for name, a in UNARY_DOMAIN.items()})


def test_unary_functions_and_activations():
    cases = {f"m.{name}": (lambda m, x, n=name: getattr(m, n)(x), a)
             for name, a in UNARY_DOMAIN.items() if name in ("exp", "log", "sqrt", "sin", "tanh", "sigmoid", "relu")}
    cases.update({
        "F.gelu": (lambda m, x: m.nn.functional.gelu(x), X),
        "F.silu": (lambda m, x: m.nn.functional.silu(x), X),
        "F.softplus": (lambda m, x: m.nn.functional.softplus(x), X),
        "F.relu": (lambda m, x: m.nn.functional.relu(x), NZ),
        "F.sigmoid": (lambda m, x: m.nn.functional.sigmoid(x), X),
        "F.tanh": (lambda m, x: m.nn.functional.tanh(x), X),
        "unary_minus": (lambda m, x: -x, X),
        "nan_to_num_finite": (lambda m, x: m.nan_to_num(x), X),
        "chain": (lambda m, x: (x.abs() + 1).log() * x.sigmoid() - x.exp().sqrt(), X),
        "noncontiguous_chain": (lambda m, x: x.T.tanh() * x[:, ::2].repeat(1, 2).T, X),
    })
    run_cases(cases)


def test_unary_zero_gradient():
    """Piecewise-constant ops have zero gradient in torch (not None, not an error)."""
    run_cases({name: (lambda m, x, n=name: getattr(x, n)() * x, X)
               for name in ("floor", "ceil", "round", "trunc", "sign")})


# ---------------------------------------------------------------- binary
NAN, INF = float("nan"), float("inf")
ORIGIN_X = np.array([[0.0, 0.0, 0.0, 1.0], [0.0, -0.0, 2.0, NAN], [0.0, 1.0, -1.0, 3.0]], np.float32)
ORIGIN_Y = np.array([[0.0, 2.0, -1.0, 0.0], [NAN, INF, INF, 1.0], [-0.0, NAN, -0.0, -2.0]], np.float32)
BINARY = {
    "add": (lambda m, x, y: x + y, X, Y),
    "sub": (lambda m, x, y: x - y, X, Y),
    "mul": (lambda m, x, y: x * y, X, Y),
    "div": (lambda m, x, y: x / y, X, NZ),
    "pow_tensor_tensor": (lambda m, x, y: m.pow(x, y), POS, UNIT),
    "maximum": (lambda m, x, y: m.maximum(x, y), X, Y),
    "minimum": (lambda m, x, y: m.minimum(x, y), X, Y),
    "max_binary": (lambda m, x, y: m.max(x, y), X, Y),
    "remainder": (lambda m, x, y: x % y, X, POS),
    "fmod": (lambda m, x, y: m.fmod(x, y), X, POS),
    "atan2": (lambda m, y, x: m.atan2(y, x), X, Y),
    "atan2_at_origin_is_zero": (lambda m, y, x: m.atan2(y * (y > 0), x * (x > 0)), X, Y),
    "addcmul": (lambda m, x, y: m.addcmul(x, y, x, value=0.5), X, Y),
    "addcdiv": (lambda m, x, y: x.addcdiv(x, y, value=2), X, NZ),
    "logaddexp": (lambda m, x, y: m.logaddexp(x, y), X, Y),
    "hypot": (lambda m, x, y: m.hypot(x, y), X, Y),
    "xlogy": (lambda m, x, y: m.xlogy(x, y), X, POS),
    "fmax": (lambda m, x, y: m.fmax(x, y), X, Y),
    "copysign": (lambda m, x, y: m.copysign(x, y), X, Y),
    "float_power": (lambda m, x, y: m.float_power(x, y.round()).float(), POS, Y),
    "rot90_kron_aminmax": (lambda m, x, y: x.rot90() @ y + sum(x.aminmax(dim=1)).sum(), X, Y[:, :3].T),
    "cumprod": (lambda m, x: m.cumprod(x, 1), X),
    "diff": (lambda m, x: m.diff(x, n=2), X),
    "tile": (lambda m, x: x.tile((2, 1)), X),
    "repeat_interleave": (lambda m, x: x.repeat_interleave(2, dim=0), X),
    "diag_trace": (lambda m, x: m.diag(x[0], 1) * x.trace(), X),
    "logit": (lambda m, x: x.logit(), UNIT.__abs__()),
    "nanmean": (lambda m, x: x.nanmean(1), X),
    "add_alpha": (lambda m, x, y: m.add(x, y, alpha=2), X, Y),
    "sub_alpha_method": (lambda m, x, y: x.sub(y, alpha=0.5), X, Y),
    "mul_method": (lambda m, x, y: x.mul(y), X, Y),
    "div_fn": (lambda m, x, y: m.div(x, y), X, NZ),
    "same_tensor_twice": (lambda m, x: x * x + x, X),
    "self_minus_self": (lambda m, x: x - x.T.T, X),
    "diamond": (lambda m, x, y: (lambda a: a * y + a.exp() - a / 3)(x * y), X, Y),
    # at the points where a formula breaks, torch's own formula (NaN and inf included)
    "hypot_at_origin_and_inf": (lambda m, x, y: m.hypot(x, y), ORIGIN_X, ORIGIN_Y),
    "xlogy_at_zeros": (lambda m, x, y: m.xlogy(x, y), ORIGIN_X, ORIGIN_Y),
    "xlogy_number_0": (lambda m, x: m.xlogy(x, 0.0), ORIGIN_X),
    "xlogy_number_nan": (lambda m, x: m.xlogy(x, float("nan")), ORIGIN_X),
    "xlogy_number_self": (lambda m, y: m.xlogy(0.0, y), ORIGIN_Y),
    "xlog1py_at_poles": (lambda m, x, y: m.special.xlog1py(x, y - 1), ORIGIN_X, ORIGIN_Y),
    "xlog1py_number": (lambda m, x: m.special.xlog1py(x, -1.0), ORIGIN_X),
    "maximum_nan": (lambda m, x, y: m.maximum(x, y), ORIGIN_X, ORIGIN_Y),
    "minimum_nan": (lambda m, x, y: m.minimum(x, y), ORIGIN_X, ORIGIN_Y),
    "fmax_ties_to_the_first": (lambda m, x, y: m.fmax(x, y), ORIGIN_X, ORIGIN_Y),
    "fmin_ties_to_the_first": (lambda m, x, y: m.fmin(x, y), ORIGIN_X, ORIGIN_Y),
    "pow_at_a_zero_base": (lambda m, x, y: m.pow(x, y), ORIGIN_X, ORIGIN_Y),
    "lerp_at_infinities": (lambda m, x, y: m.lerp(x, y, 0.5) + m.lerp(x, y, 0.25), ORIGIN_X, ORIGIN_Y),
    "lerp_tensor_weight_at_infinities": (lambda m, x, y: m.lerp(x, y, x * 0 + 0.75), ORIGIN_X, ORIGIN_Y),
}

SCALAR = {
    "x+s": (lambda m, x: x + 2.5, X),
    "s+x": (lambda m, x: 2.5 + x, X),
    "x-s": (lambda m, x: x - 2.5, X),
    "s-x": (lambda m, x: 2.5 - x, X),
    "x*s": (lambda m, x: x * -3.0, X),
    "s*x": (lambda m, x: 3 * x, X),
    "x/s": (lambda m, x: x / 4.0, X),
    "s/x": (lambda m, x: 2.0 / x, NZ),
    "x**2": (lambda m, x: x ** 2, X),
    "x**3_int": (lambda m, x: x.pow(3), X),
    "x**0.5": (lambda m, x: x ** 0.5, POS),
    "x**-1.5": (lambda m, x: m.pow(x, -1.5), POS),
    "s**x": (lambda m, x: 2.0 ** x, X),
    "pow_scalar_base_fn": (lambda m, x: m.pow(1.5, x), X),
    "x%s": (lambda m, x: x % 1.5, X),
}

# shape pairs for broadcasting; the gradient of the smaller operand is summed back
BROADCAST = {
    "col_row": ((3, 1), (1, 4)),
    "rank": ((2, 3, 4), (4,)),
    "rank_mid": ((2, 3, 4), (3, 1)),
    "zero_dim": ((), (3, 4)),
    "both_expand": ((2, 1, 4), (3, 1)),
}
BROADCAST_OPS = {
    "add": lambda m, x, y: x + y,
    "sub": lambda m, x, y: y - x,
    "mul": lambda m, x, y: x * y,
    "div": lambda m, x, y: x / (y.abs() + 0.5),
    "pow": lambda m, x, y: (x.abs() + 0.5) ** y,
    "maximum": lambda m, x, y: m.maximum(x, y),
    "where": lambda m, x, y: m.where(y > 0, x, y),
    "lerp": lambda m, x, y: m.lerp(x, y, 0.3),
}


def test_binary():
    run_cases(BINARY)


def test_binary_with_python_scalars():
    run_cases(SCALAR)


@pytest.mark.parametrize("shapes", BROADCAST.values(), ids=list(BROADCAST))
def test_binary_broadcasting(shapes):
    a, b = values(shapes[0], seed=11), values(shapes[1], seed=12)
    run_cases({name: (fn, a, b) for name, fn in BROADCAST_OPS.items()})


def test_binary_noncontiguous():
    run_cases({
        "transposed": (lambda m, x, y: x.T * y.T + x.T, X, Y),
        "strided": (lambda m, x, y: x[:, ::2] * y[:, 1::2], X, Y),
        "transposed_vs_contig": (lambda m, x, y: x.T[:3] / (y.abs() + 1)[:, :3], X, Y),
        "expanded": (lambda m, x, y: x[:1].expand(3, 4) * y, X, Y),
    })


# ---------------------------------------------------------------- clamp / lerp
LO = Y - 1.0
HI = Y + 1.0
BOUNDS = np.array([[[NAN, 1.0, 1.0, NAN], [1.0, 3.0, 0.0, 2.0]],        # x
                   [[0.0, NAN, 0.0, 2.0], [2.0, 2.0, 1.0, 1.0]],        # min
                   [[2.0, 2.0, NAN, 1.0], [1.0, 1.0, 1.0, 1.0]]], np.float32)  # max


def test_clamp_and_lerp():
    w = values((3, 4), domain="pos", seed=13) / 3
    run_cases({
        "clamp_both": (lambda m, x: x.clamp(-0.5, 0.5), X),
        "clamp_min": (lambda m, x: x.clamp(min=0.1), X),
        "clamp_max": (lambda m, x: m.clamp(x, max=-0.2), X),
        "clip": (lambda m, x: m.clip(x, -1, 1), X),
        "clamp_tensor_bounds": (lambda m, x, lo, hi: x.clamp(lo, hi), X, LO, HI),
        "clamp_tensor_min_only": (lambda m, x, lo: x.clamp(min=lo), X, LO),
        "lerp_scalar_weight": (lambda m, x, y: m.lerp(x, y, 0.25), X, Y),
        "lerp_tensor_weight": (lambda m, x, y, w: x.lerp(y, w), X, Y, w),
        "lerp_broadcast_weight": (lambda m, x, y, w: m.lerp(x, y, w[:1]), X, Y, w),
        # torch's clamp_backward_min_max: min's only where min < max, max's also where max < min,
        # x's where min <= x <= max (not at NaN); a NaN anywhere makes the value NaN
        "clamp_tensor_bounds_equal": (lambda m, x, lo: x.clamp(lo, lo), X, X.round()),
        "clamp_tensor_bounds_inverted": (lambda m, x, lo, hi: m.clamp(x, lo, hi), X, HI, LO),
        "clamp_tensor_bounds_nan": (lambda m, x, lo, hi: m.clamp(x, lo, hi), BOUNDS[0], BOUNDS[1], BOUNDS[2]),
        "clamp_nan_input": (lambda m, x: x.clamp(-1.0, 1.0), BOUNDS[0]),
        "clamp_inverted_bounds": (lambda m, x: x.clamp(1.0, -1.0), BOUNDS[0]),
        "hardtanh_nan_input": (lambda m, x: m.nn.functional.hardtanh(x), BOUNDS[0]),
    })


# ---------------------------------------------------------------- reductions
REDUCE = {
    "sum_all": (lambda m, x: x.sum(), X3),
    "sum_dim": (lambda m, x: x.sum(1), X3),
    "sum_tuple_keepdim": (lambda m, x: x.sum((0, 2), keepdim=True), X3),
    "sum_neg_keepdim": (lambda m, x: m.sum(x, -1, keepdim=True), X3),
    "mean_all": (lambda m, x: x.mean(), X3),
    "mean_dim": (lambda m, x: x.mean(dim=1), X3),
    "mean_tuple_neg": (lambda m, x: m.mean(x, (0, -1)), X3),
    "prod_all": (lambda m, x: (x / 4 + 1).prod(), X3),
    "prod_dim": (lambda m, x: x.prod(1), X3),
    "prod_keepdim": (lambda m, x: m.prod(x, -1, keepdim=True), X3),
    "max_all": (lambda m, x: x.max(), X3),
    "min_all": (lambda m, x: m.min(x), X3),
    "max_dim_values": (lambda m, x: x.max(dim=1).values, X3),
    "max_dim_tuple": (lambda m, x: x.max(1), X3),                # (values, indices)
    "min_dim_keepdim": (lambda m, x: x.min(-1, keepdim=True)[0], X3),
    "amax": (lambda m, x: x.amax(1), X3),
    "amax_tuple": (lambda m, x: m.amax(x, (0, 2)), X3),
    "amin_keepdim": (lambda m, x: x.amin(-1, keepdim=True), X3),
    "var_all": (lambda m, x: x.var(), X3),
    "var_dim": (lambda m, x: x.var(1), X3),
    "var_correction0": (lambda m, x: x.var(dim=1, correction=0), X3),
    "var_unbiased_false": (lambda m, x: m.var(x, -1, unbiased=False, keepdim=True), X3),
    "std_all": (lambda m, x: x.std(), X3),
    "std_tuple_keepdim": (lambda m, x: x.std((0, 2), keepdim=True), X3),
    "norm_all": (lambda m, x: x.norm(), X3),
    "norm_dim": (lambda m, x: m.norm(x, dim=1), X3),
    "norm_p1": (lambda m, x: x.norm(p=1), X3),
    "norm_p3_dim": (lambda m, x: x.norm(p=3, dim=-1, keepdim=True), X3),
    "logsumexp_dim": (lambda m, x: x.logsumexp(1), X3),
    "logsumexp_tuple": (lambda m, x: m.logsumexp(x, (0, 2)), X3),
    "logsumexp_keepdim_large": (lambda m, x: (x * 30).logsumexp(-1, keepdim=True), X3),
    "cumsum_dim1": (lambda m, x: x.cumsum(1), X3),
    "cumsum_last": (lambda m, x: m.cumsum(x, dim=-1), X3),
    "cumsum_first": (lambda m, x: x.cumsum(0), X3),
}

SOFTMAX = {
    "softmax_last": (lambda m, x: x.softmax(-1), X3),
    "softmax_dim0": (lambda m, x: m.softmax(x, 0), X3),
    "softmax_F": (lambda m, x: m.nn.functional.softmax(x, dim=1), X3),
    "softmax_large": (lambda m, x: (x * 40).softmax(-1), X3),
    "log_softmax_last": (lambda m, x: x.log_softmax(-1), X3),
    "log_softmax_dim1": (lambda m, x: m.log_softmax(x, dim=1), X3),
    "log_softmax_F": (lambda m, x: m.nn.functional.log_softmax(x, dim=0), X3),
    "log_softmax_large": (lambda m, x: (x * 40).log_softmax(1), X3),
    "softmax_then_reduce": (lambda m, x: (x.softmax(-1) * x).sum(-1), X3),
    "softmax_noncontig": (lambda m, x: x.transpose(0, 2).softmax(1), X3),
}


def test_reductions():
    run_cases(REDUCE)


def test_softmax_family():
    run_cases(SOFTMAX)


def test_prod_with_zero():
    """torch's prod backward handles zeros (no division by the input)."""
    a = X3.copy()
    a[0, 1, 2] = 0.0                       # one zero in a row
    b = X3.copy()
    b[1, 2, 0] = b[1, 2, 3] = 0.0          # two zeros in a row: gradient all zero there
    run_cases({
        "one_zero_dim": (lambda m, x: x.prod(-1), a),
        "one_zero_all": (lambda m, x: (x[0] / 3 + x[0].abs().sign() * 0.7).prod(), a),
        "two_zeros_dim": (lambda m, x: x.prod(-1), b),
    })


def test_reductions_with_ties():
    """Ties: amax/amin and full max/min share the gradient evenly (torch's rule);
    max(dim) gives it to the returned index."""
    t = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, -1.0], [0.5, -4.0, 0.5, -4.0]], np.float32)
    run_cases({
        "amax_dim": (lambda m, x: x.amax(1), t),
        "amin_dim": (lambda m, x: x.amin(1), t),
        "max_all": (lambda m, x: x.max(), t),
        "min_all": (lambda m, x: x.min(), t),
        "max_dim": (lambda m, x: x.max(dim=1).values, t),
        "relu_at_zero": (lambda m, x: (x - 2).relu(), t),
        "clamp_at_bound": (lambda m, x: x.clamp(0.5, 2.0), t),
        "maximum_equal": (lambda m, x: m.maximum(x, x.flip(1)), t),
    })


# ---------------------------------------------------------------- shape ops
SHAPE = {
    "reshape": (lambda m, x: x.reshape(6, 4), X3),
    "reshape_minus1": (lambda m, x: x.reshape(-1, 2), X3),
    "view": (lambda m, x: x.view(3, 8), X3),
    "permute": (lambda m, x: x.permute(2, 0, 1), X3),
    "transpose": (lambda m, x: x.transpose(0, 2), X3),
    "transpose_fn": (lambda m, x: m.transpose(x, -1, -2), X3),
    "t": (lambda m, x: x[0].t(), X3),
    "T": (lambda m, x: x[1].T, X3),
    "mT": (lambda m, x: x.mT, X3),
    "expand": (lambda m, x: x[:, :1].expand(2, 5, 4), X3),
    "expand_new_dim": (lambda m, x: x.expand(3, 2, 3, 4), X3),
    "expand_as": (lambda m, x: x[:1].expand_as(x), X3),
    "squeeze_all": (lambda m, x: x[:, :1, None].squeeze(), X3),
    "squeeze_dim": (lambda m, x: x[:, :1].squeeze(1), X3),
    "unsqueeze": (lambda m, x: x.unsqueeze(1), X3),
    "unsqueeze_neg": (lambda m, x: m.unsqueeze(x, -1), X3),
    "flatten": (lambda m, x: x.flatten(), X3),
    "flatten_start": (lambda m, x: m.flatten(x, 1), X3),
    "unflatten": (lambda m, x: x.unflatten(2, (2, 2)), X3),
    "contiguous": (lambda m, x: x.transpose(0, 1).contiguous(), X3),
    "flip": (lambda m, x: x.flip(0), X3),
    "flip_dims": (lambda m, x: m.flip(x, (0, 2)), X3),
    "roll": (lambda m, x: x.roll(1, 2), X3),
    "roll_multi": (lambda m, x: m.roll(x, (-1, 2), (0, 1)), X3),
    "roll_flat": (lambda m, x: x.roll(5), X3),
    "repeat": (lambda m, x: x.repeat(2, 1, 1), X3),
    "repeat_more_dims": (lambda m, x: x.repeat(2, 1, 2, 1), X3),
    "narrow": (lambda m, x: x.narrow(2, 1, 2), X3),
    "narrow_fn": (lambda m, x: m.narrow(x, 1, 0, 2), X3),
    "tril": (lambda m, x: x.tril(), X3),
    "triu_diag": (lambda m, x: m.triu(x, diagonal=1), X3),
    "tril_neg_diag": (lambda m, x: m.tril(x, -1), X3),
    "pad": (lambda m, x: m.nn.functional.pad(x, (1, 2)), X3),
    "pad_two_dims_value": (lambda m, x: m.nn.functional.pad(x, (0, 1, 2, 0), value=-3.5), X3),
    "pad_negative_crops": (lambda m, x: m.nn.functional.pad(x, (-1, 1)), X3),
    "permute_then_reshape": (lambda m, x: x.permute(1, 2, 0).reshape(4, 6), X3),
    "view_chain": (lambda m, x: x[:, ::2].transpose(0, 1).reshape(-1).flip(0)[1::3], X3),
    "expand_sum": (lambda m, x: x.unsqueeze(0).expand(3, 2, 3, 4).sum(0), X3),
}

SPLIT_JOIN = {
    "chunk": (lambda m, x: x.chunk(2, dim=2), X3),
    "chunk_uneven": (lambda m, x: m.chunk(x, 2, dim=1), X3),
    "chunk_partly_used": (lambda m, x: x.chunk(3, dim=1)[1], X3),
    "split_int": (lambda m, x: x.split(3, dim=2), X3),
    "split_list": (lambda m, x: m.split(x, [1, 2], dim=1), X3),
    "unbind": (lambda m, x: x.unbind(1), X3),
    "unbind_fn_first_only": (lambda m, x: m.unbind(x)[0] * 2, X3),
    "cat_self": (lambda m, x: m.cat([x, x * 2], dim=0), X3),
    "cat_two_inputs": (lambda m, x, y: m.cat((x, y[..., :1], y + 1), dim=-1), X3, Y3),
    "cat_default_dim": (lambda m, x, y: m.cat([x[:1], y]), X3, Y3),
    "stack": (lambda m, x, y: m.stack([x, y]), X3, Y3),
    "stack_last": (lambda m, x: m.stack((x[0], x[1], x[0]), dim=-1), X3),
    "stack_mid": (lambda m, x, y: m.stack([x, y * x], dim=1), X3, Y3),
    "split_then_cat": (lambda m, x: m.cat(list(reversed(x.split(1, dim=2))), dim=2), X3),
}


def test_shape_ops():
    run_cases(SHAPE)


def test_shape_ops_noncontiguous_input():
    """Same shape ops applied to a permuted view of a leaf."""
    base = np.ascontiguousarray(X3.transpose(2, 0, 1))       # (4, 2, 3)
    names = ["reshape", "permute", "expand", "flatten", "flip", "roll", "repeat", "narrow",
             "tril", "pad", "squeeze_dim"]
    run_cases({k: (lambda m, b, f=SHAPE[k][0]: f(m, b.permute(1, 2, 0)), base) for k in names})


def test_split_and_join():
    run_cases(SPLIT_JOIN)


# ---------------------------------------------------------------- indexing
INDEXING = {
    "int": (lambda m, x: x[1], X3),
    "negative_int": (lambda m, x: x[-1], X3),
    "ints_0d": (lambda m, x: x[1, 2, 3], X3),
    "slice": (lambda m, x: x[:, 1:3], X3),
    "slice_step": (lambda m, x: x[:, ::2], X3),
    "slice_step_offset": (lambda m, x: x[..., 1::2], X3),
    "negative_slice": (lambda m, x: x[:, -3:-1], X3),
    "none": (lambda m, x: x[None, :, None], X3),
    "ellipsis": (lambda m, x: x[..., 0], X3),
    "mixed": (lambda m, x: x[-1, 1:, None, ::3], X3),
    "slice_of_slice": (lambda m, x: x[:, 1:][:, ::2][0], X3),
    "int_list_dup": (lambda m, x: x[[0, 1, 1, 0]], X3),
    "int_tensor_dup": (lambda m, x: x[:, m.tensor([2, 0, 2, 2])], X3),
    "negative_int_tensor": (lambda m, x: x[..., m.tensor([-1, 0, -1])], X3),
    "tensor_2d": (lambda m, x: x[m.tensor([[0, 1], [1, 1]])], X3),
    "two_lists": (lambda m, x: x[[0, 1, 1], [2, 0, 2]], X3),
    "broadcast_index_tensors": (lambda m, x: x[m.tensor([[0], [1]]), m.tensor([0, 2, 2])], X3),
    "int_and_tensor": (lambda m, x: x[1, m.tensor([0, 2, 0])], X3),
    "slice_and_tensor": (lambda m, x: x[:, m.tensor([2, 1]), 1:3], X3),
    "separated_tensors": (lambda m, x: x[m.tensor([0, 1, 0]), :, m.tensor([1, 3, 1])], X3),
    "bool_mask_full": (lambda m, x: x[x > 0], X3),
    "bool_mask_rows": (lambda m, x: x[m.tensor([True, False])], X3),
    "bool_mask_2d": (lambda m, x: x[x[..., 0] > 0], X3),
    "bool_list": (lambda m, x: x[:, [True, False, True]], X3),
    "index_on_view": (lambda m, x: x.transpose(0, 2)[m.tensor([3, 3, 0])], X3),
}

IDX = np.array([[3, 0, 1, 2], [1, 1, 3, 0], [0, 0, 0, 3]], np.int64)    # with duplicates
PERM = np.array([[3, 0, 1, 2], [1, 2, 3, 0], [0, 1, 2, 3]], np.int64)   # rows are permutations

GATHER = {
    "gather_dim1_dup": (lambda m, x: x.gather(1, m.tensor(IDX)), X),
    "gather_dim0_fn": (lambda m, x: m.gather(x, 0, m.tensor(IDX[:2] % 3)), X),
    "index_select_dup": (lambda m, x: x.index_select(1, m.tensor([3, 3, 0])), X),
    "index_select_fn": (lambda m, x: m.index_select(x, 0, m.tensor([2, 0, 2])), X),
    "take_along_dim": (lambda m, x: m.take_along_dim(x, m.tensor(IDX), dim=1), X),
    "take_along_dim_argsort": (lambda m, x: x.take_along_dim(x.argsort(dim=0), dim=0), X),
    "masked_fill": (lambda m, x: x.masked_fill(x > 0, -1.0), X),
    "masked_fill_broadcast_mask": (lambda m, x: m.masked_fill(x, x[:1] > 0, 0.5), X),
    "where": (lambda m, x, y: m.where(x > 0, x, y), X, Y),
    "where_same_input": (lambda m, x: m.where(x > 0, x * 2, x.exp()), X),
    "where_scalar_other": (lambda m, x: m.where(x > 0, x, 0.0), X),
    "where_broadcast": (lambda m, x, y: m.where(y[:1] > 0, x, y[:, :1]), X, Y),
    "scatter_src": (lambda m, x, y: x.scatter(1, m.tensor(PERM[:, :2]), y[:, :2]), X, Y),
    "scatter_value": (lambda m, x: x.scatter(1, m.tensor(PERM[:, :1]), 9.0), X),
    "sort_values": (lambda m, x: x.sort(dim=1).values, X),
    "topk_values": (lambda m, x: x.topk(2, dim=-1).values, X),
}


def test_indexing():
    run_cases(INDEXING)


def test_gather_scatter_where():
    run_cases(GATHER)


def _setitem(key_fn, value_fn):
    def fn(m, x, v):
        x = x * 1.5            # non-leaf, so in-place writes are allowed
        x[key_fn(m, x)] = value_fn(m, v)
        return x
    return fn


SETITEM = {
    "int_scalar": _setitem(lambda m, x: 1, lambda m, v: 5.0),
    "row_tensor": _setitem(lambda m, x: -1, lambda m, v: v[0] * 2),
    "slice_step_tensor": _setitem(lambda m, x: (slice(None), slice(None, None, 2)), lambda m, v: -v[:, 1::2]),
    "broadcast_value": _setitem(lambda m, x: (slice(0, 2),), lambda m, v: v[2]),
    "bool_mask": _setitem(lambda m, x: x > 0, lambda m, v: 0.0),
    "index_tensors": _setitem(lambda m, x: (m.tensor([0, 1]), m.tensor([3, 0])), lambda m, v: v[0, :2]),
}


def test_setitem_and_inplace_on_non_leaf():
    cases = {f"setitem_{k}": (fn, X, Y) for k, fn in SETITEM.items()}
    cases.update({
        "add_": (lambda m, x, y: (x * 1.5).add_(y, alpha=2), X, Y),
        "mul_chain": (lambda m, x, y: (x * 1.5).mul_(y).add_(1).clamp_(max=1.5), X, Y),
        "iadd_imul": (lambda m, x, y: (lambda z: (z.__iadd__(y), z.__imul__(y)))(x * 2)[1], X, Y),
        "div_": (lambda m, x, y: (x * 0.5).div_(y.abs() + 1), X, Y),
        "masked_fill_": (lambda m, x, y: (x * y).masked_fill_(x > 0, 0.0), X, Y),
        "copy_": (lambda m, x, y: (x * 2).copy_(y * 3) + x, X, Y),
        "inplace_through_view": (lambda m, x, y: (lambda z: (z[:, :2].mul_(y[:, :2]), z)[1])(x * 2), X, Y),
        "zero_": (lambda m, x, y: (lambda z: (z[0].zero_(), z * y)[1])(x * 2), X, Y),
    })
    run_cases(cases)


# ---------------------------------------------------------------- linear algebra
MATMUL_SHAPES = {
    "1d@1d": ((4,), (4,)),
    "2d@1d": ((3, 4), (4,)),
    "1d@2d": ((3,), (3, 4)),
    "2d@2d": ((3, 4), (4, 2)),
    "batched@2d": ((2, 3, 4), (4, 2)),
    "1d@batched": ((4,), (2, 4, 3)),
    "batched_broadcast": ((2, 1, 3, 4), (5, 4, 2)),
}

LINALG = {
    "mm": (lambda m, a, b: m.mm(a, b), (3, 4), (4, 2)),
    "mm_transposed": (lambda m, a, b: a.mm(b.t()), (3, 4), (2, 4)),
    "bmm": (lambda m, a, b: m.bmm(a, b), (2, 3, 4), (2, 4, 2)),
    "bmm_transposed": (lambda m, a, b: a.bmm(b.transpose(1, 2)), (2, 3, 4), (2, 2, 4)),
    "dot": (lambda m, a, b: m.dot(a, b), (4,), (4,)),
    "dot_strided": (lambda m, a, b: a.dot(b[::2]), (4,), (8,)),
    "outer": (lambda m, a, b: m.outer(a, b), (3,), (4,)),
    "matmul_same_input": (lambda m, a, b: a @ a.T, (3, 4), (1,)),
    "matmul_fused_elementwise": (lambda m, a, b: ((a * 2 + 1) @ b.exp()).relu(), (3, 4), (4, 2)),
    "mlp_layer": (lambda m, a, b: (a @ b).tanh() @ b.T, (3, 4), (4, 2)),
    "addmm": (lambda m, a, b: m.addmm(a[:, :2], a, b, beta=0.5, alpha=-2), (3, 4), (4, 2)),
    "baddbmm": (lambda m, a, b: a[:, :2].baddbmm(m.stack([a, a * 3]), m.stack([b, b]), beta=2), (3, 4), (4, 2)),
    "addbmm": (lambda m, a, b: m.addbmm(b[:2].t(), m.stack([a[:2], a[1:]]), m.stack([b, -b]), alpha=3), (3, 4), (4, 2)),
    "addmv_addr": (lambda m, a, b: m.addmv(b[0], b.t(), a[0]) + m.addr(b[0], b[:, 0], b[1]).sum(), (3, 4), (4, 2)),
    "tensordot": (lambda m, a, b: m.tensordot(a.reshape(3, 2, 2), b.reshape(2, 2, 2), 2), (3, 4), (4, 2)),
    "kron": (lambda m, a, b: m.kron(a, b), (3, 4), (4, 2)),
    "block_diag": (lambda m, a, b: m.block_diag(a, b[0], b), (3, 4), (4, 2)),
    "cross": (lambda m, a, b: m.linalg.cross(a[:, :3], b[:3, :1].t()), (3, 4), (4, 2)),
    "cdist": (lambda m, a, b: m.cdist(a, b.t()), (3, 4), (4, 2)),
    "cdist_p3": (lambda m, a, b: m.cdist(a, b.t(), p=3), (3, 4), (4, 2)),
    "cdist_at_zero_distance": (lambda m, a, b: m.cdist(a, a), (3, 4), (4, 2)),
    "cdist_p3_at_zero_distance": (lambda m, a, b: m.cdist(a, a, p=3), (3, 4), (4, 2)),
    "vector_norm_inf": (lambda m, a, b: m.linalg.vector_norm(a @ b, float("inf"), dim=0), (3, 4), (4, 2)),
    "matrix_norm_one": (lambda m, a, b: m.linalg.matrix_norm(a, 1) * m.linalg.matrix_norm(b), (3, 4), (4, 2)),
    "matrix_power": (lambda m, a, b: m.linalg.matrix_power(a[:, :3], 3), (3, 4), (4, 2)),
    "cov_corrcoef": (lambda m, a, b: m.cov(a).sum() + m.corrcoef(b.t()), (3, 4), (4, 2)),
    "trapezoid": (lambda m, a, b: m.trapezoid(a, b[:, 0].cumsum(0)) + m.cumulative_trapezoid(b, dim=0).sum(), (3, 4), (4, 2)),
}

EINSUM = {
    "ij,jk->ik": [(3, 4), (4, 2)],
    "bij,bjk->bik": [(2, 3, 4), (2, 4, 2)],
    "ii->i": [(3, 3)],
    "ii": [(3, 3)],
    "ij->ji": [(3, 4)],
    "i,i->": [(4,)] * 2,
    "ij->j": [(3, 4)],
    "i,j->ij": [(3,), (4,)],
    "bij,jk": [(2, 3, 4), (4, 2)],
    "...ij,...jk->...ik": [(2, 3, 4), (2, 4, 2)],
    "ij,ij->i": [(3, 4), (3, 4)],
}


def test_matmul_shapes():
    run_cases({k: (lambda m, a, b: a @ b, values(s[0], seed=1), values(s[1], seed=2))
               for k, s in MATMUL_SHAPES.items()}, **TOL)


def test_mm_bmm_dot_outer():
    run_cases({k: (fn, values(sa, seed=1), values(sb, seed=2)) for k, (fn, sa, sb) in LINALG.items()}, **TOL)


def test_einsum():
    run_cases({eq: (lambda m, *xs, e=eq: m.einsum(e, *xs), *[values(s, seed=i) for i, s in enumerate(shapes)])
               for eq, shapes in EINSUM.items()}, **TOL)


# ---------------------------------------------------------------- a whole model
def test_two_layer_mlp_with_cross_entropy_like_loss():
    x = values((16, 8), seed=21)
    w1 = values((8, 32), seed=22) / 3
    b1 = values((32,), seed=23) / 3
    w2 = values((32, 4), seed=24) / 3
    onehot = np.eye(4, dtype=np.float32)[np.arange(16) % 4]

    def fn(m, x, w1, b1, w2):
        h = (x @ w1 + b1).relu()
        logits = h @ w2
        return -(logits.log_softmax(-1) * m.tensor(onehot)).sum(-1).mean()

    grad_compare(fn, x, w1, b1, w2, **TOL)


# -------------------------------------------- gradients at the points where a formula breaks
AT_ZERO = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5]], np.float32)
EDGES = np.array([[0.0, -0.0, 1.0, -0.5, -1.0], [1.5, 0.25, 0.75, NAN, 2.0]], np.float32)
KINKS = np.array([[NAN, INF, -INF, 0.0, -0.0], [0.5, -0.5, 3.0, -3.0, 1.0]], np.float32)
TIES = np.array([[2.0, 2.0, 1.0, -1.0], [1.0, NAN, 2.0, NAN]], np.float32)
PROB_EDGES = np.array([[0.0, 1.0, 1e-20, 0.5], [1.0, 0.3, 1 - 1e-7, 0.0]], np.float32)
SUBGRADIENTS = {
    "norm_of_a_zero_row": (lambda m, x: x.norm(dim=1), AT_ZERO),
    "norm_3_of_a_zero_row": (lambda m, x: x.norm(p=3, dim=1), AT_ZERO),
    "std_of_a_constant_row": (lambda m, x: (x * 0 + x[:, :1]).std(1), AT_ZERO),
    "std_mean_of_a_constant_row": (lambda m, x: m.std_mean((x * 0 + x[:, :1]), 1)[0], AT_ZERO),
    "x_to_the_0_at_0": (lambda m, x: x ** 0, AT_ZERO),
    "abs_x_to_the_x_at_0": (lambda m, x: x.abs() ** x, AT_ZERO),
    "hardtanh_at_its_bounds": (lambda m, x: m.nn.functional.hardtanh(x * 2, -1.0, 1.0), AT_ZERO),
    "relu6_at_its_bounds": (lambda m, x: m.nn.functional.relu6(x * 12), AT_ZERO),
    "norm_half_of_a_zero_row": (lambda m, x: m.linalg.vector_norm(x, 0.5, dim=1), AT_ZERO),
    "norm_minus_one_with_a_zero": (lambda m, x: m.linalg.vector_norm(x, -1, dim=1), AT_ZERO),
    "cosine_similarity_of_a_zero_row": (lambda m, x, y: m.nn.functional.cosine_similarity(x, y), AT_ZERO, AT_ZERO[::-1]),
    "cosine_similarity_below_eps": (lambda m, x, y: m.nn.functional.cosine_similarity(x * 1e-10, y), AT_ZERO,
                                    AT_ZERO[::-1] + 1),
    "entr_at_0_and_below": (lambda m, x: m.special.entr(x), EDGES),
    "logit_outside_0_1": (lambda m, x: m.logit(x), EDGES),
    "logit_eps_outside": (lambda m, x: m.logit(x, eps=0.25), EDGES),
    "acosh_at_minus_one": (lambda m, x: m.acosh(x), EDGES),
    "x_to_the_minus_half_at_minus_0": (lambda m, x: x ** -0.5, EDGES),
    "erf_erfc_at_nan": (lambda m, x: m.erf(x) + m.erfc(x) * 2, EDGES),
    "pdist_half_of_equal_rows": (lambda m, x: m.nn.functional.pdist(m.cat([x, x[:1]]), 0.5), AT_ZERO[::-1]),
    "multilabel_margin_at_0": (lambda m, x: m.nn.functional.multilabel_margin_loss(x, m.tensor([[0, -1, 1, 1],
                                                                                              [1, 2, -1, 0]])),
                               np.array([[1.0, 1.0, 0.0, 2.0], [0.0, 1.0, 1.0, 0.5]], np.float32)),
    "max_min_median_of_all_ties_and_nan": (lambda m, x: m.stack([x.max(), x.min(), x.median(), x.nanmedian(),
                                                                 x[0].max(), x[0].median(), x[0].nanmedian()]), TIES),
    "inf_norms_beside_nan": (lambda m, x: m.linalg.vector_norm(x, INF, dim=1) + m.linalg.vector_norm(x, -INF, dim=1),
                             TIES),
    "bce_at_0_and_1": (lambda m, x, t: m.nn.functional.binary_cross_entropy(x, t), PROB_EDGES, PROB_EDGES[::-1]),
    "bce_below_1e-12_sum": (lambda m, x, t: m.nn.functional.binary_cross_entropy(x * 1e-8, t, reduction="sum"),
                            PROB_EDGES, PROB_EDGES[::-1]),
}


NAN_KINKS = {name: (lambda m, x, f=f: f(m.nn.functional, x), KINKS) for name, f in {
    "elu": lambda F, x: F.elu(x), "selu": lambda F, x: F.selu(x), "celu": lambda F, x: F.celu(x, 2.0),
    "threshold": lambda F, x: F.threshold(x, 0.5, -1.0), "softshrink": lambda F, x: F.softshrink(x),
    "hardshrink": lambda F, x: F.hardshrink(x), "hardswish": lambda F, x: F.hardswish(x),
    "hardsigmoid": lambda F, x: F.hardsigmoid(x), "softplus": lambda F, x: F.softplus(x),
    "logsigmoid": lambda F, x: F.logsigmoid(x), "hardtanh": lambda F, x: F.hardtanh(x)}.items()}


def test_activations_at_nan_and_their_kinks_are_torchs():
    """torch's activations test x <= 0 (or x inside a range) and take the other branch at NaN:
    elu's and threshold's NaN passes its gradient, hardsigmoid's gets 0, softplus' and
    logsigmoid's NaN; threshold and the shrinks keep a NaN (a comparison with NaN is false)."""
    run_cases(NAN_KINKS)


@pytest.mark.parametrize("op, call", [("heaviside", lambda x: lt.heaviside(x, lt.tensor([0.5, 0.5]))),
                                      ("floor_divide", lambda x: x // 0.5)])
def test_ops_without_a_derivative_raise_in_backward_as_in_torch(op, call):
    """PyTorch has no derivative for these: the result requires grad, its backward raises."""
    x = lt.tensor([0.0, 1.0], requires_grad=True)
    y = call(x)
    assert y.requires_grad
    with pytest.raises(RuntimeError, match=rf"derivative for aten::{op} is not implemented"):
        y.sum().backward()


def test_gradients_where_the_formula_breaks_are_torchs_subgradients():
    """The norm and deviation of zeros and x ** 0 at 0 have gradient 0 in PyTorch (sqrt's inf
    times 0 gave NaN), and so have hardtanh and relu6 at their bounds (a clamp passes it), a
    norm of order below 1 at a zero entry and cosine_similarity at a zero vector. Where torch's
    formula is unguarded (entr's -(1 + log x) at 0, binary_cross_entropy's target gradient
    -logit(x) at 0 and 1, logit's NaN outside [0, 1]) so is ours."""
    run_cases(SUBGRADIENTS)


FAR_OUT = np.array([[-1e30, -100.0, -95.0, -20.0], [0.0, 20.0, 95.0, 100.0], [1e30, -0.0, 3.0, -3.0]], np.float32)
FAR_OUT_GRADIENTS = {
    "sigmoid": (lambda m, x: x.sigmoid(), FAR_OUT),
    "silu": (lambda m, x: m.nn.functional.silu(x), FAR_OUT),
    "softplus": (lambda m, x: m.nn.functional.softplus(x), FAR_OUT),
    "softplus_beta": (lambda m, x: m.nn.functional.softplus(x, beta=2, threshold=5), FAR_OUT),
    "mish": (lambda m, x: m.nn.functional.mish(x), FAR_OUT),
    "erf": (lambda m, x: x.erf(), FAR_OUT),
    "erfc": (lambda m, x: m.erfc(x), FAR_OUT),
    "gelu": (lambda m, x: m.nn.functional.gelu(x), FAR_OUT[:, 1:]),
    "bce_with_logits": (lambda m, x: m.nn.functional.binary_cross_entropy_with_logits(x, m.full_like(x, 0.3)), FAR_OUT),
    "bce_with_logits_pos_weight": (lambda m, x: m.nn.functional.binary_cross_entropy_with_logits(
        x, m.full_like(x, 0.3), pos_weight=m.tensor([1.0, 2.0, 3.0, 0.5])), FAR_OUT),
    "bce_of_a_saturated_sigmoid": (lambda m, x: m.nn.functional.binary_cross_entropy(x.sigmoid(), m.full_like(x, 0.3)),
                                   FAR_OUT),
}


def test_gradients_far_from_zero_are_torchs_not_nan():
    """exp overflowing in a piece a where does not take (softplus past its threshold) or in a
    chain (1 / (1 + exp(-x)) below -88, erf's approximation at 1e30, binary_cross_entropy's log of
    a sigmoid that is exactly 0) made NaN gradients where torch's are 0 or 1; erfc's at 0 is
    -2/sqrt(pi) and binary_cross_entropy_with_logits' at a logit of 0 is sigmoid(0) - target,
    not abs's and max's 0."""
    run_cases(FAR_OUT_GRADIENTS)


@pytest.mark.parametrize("eps", [None, 0.1])
def test_logit_second_derivative_inside_the_interval_is_torchs(env, eps):
    """logit's gradient is torch's formula with inf at 0 and 1; its second derivative stays
    finite inside (0, 1) (a 0 * inf from the edge branch made it NaN everywhere)."""
    found = []
    for m in (lt, torch):
        x = m.tensor(np.array([0.25, 0.6, 0.9], np.float32), requires_grad=True)
        y = m.logit(x, eps)
        (gx,) = m.autograd.grad((y * y).sum(), x, create_graph=True)
        (ggx,) = m.autograd.grad(gx.sum(), x)
        found.append((gx.detach(), ggx))
    check(list(found[0]), list(found[1]))
