"""Elementwise operations: unary math, arithmetic with scalars on either
side, clamp, maximum/minimum, pow, lerp, where, nan handling, comparisons,
bitwise and logical ops - on contiguous, non-contiguous, broadcast, zero-size
and 0-d inputs."""
import operator

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import lazytensor as lt
from helpers import check, check_cases, compare, layout_pair, values

pytestmark = pytest.mark.usefixtures("env")

# family -> {op name -> input domain}; each op is checked as a method and as lt.<name>.
UNARY = {
    "exp_log": {"exp": "any", "exp2": "any", "log": "pos", "log2": "pos", "log1p": "pos",
                "expm1": "any"},
    "powers": {"sqrt": "pos", "rsqrt": "pos", "reciprocal": "nonzero", "square": "any",
               "abs": "any", "neg": "any", "sign": "ints"},
    "trig": {"sin": "any", "cos": "any", "tan": "unit", "tanh": "any", "erf": "any"},
    "activation": {"sigmoid": "any", "relu": "any"},
    "rounding": {"floor": "halves", "ceil": "halves", "round": "halves", "trunc": "halves"},
}


@pytest.mark.parametrize("family", UNARY)
def test_unary(family):
    def body(name):
        a = values((3, 4), domain=UNARY[family][name])
        compare(lambda m, x: getattr(x, name)(), a, atol=1e-5)
        compare(lambda m, x: getattr(m, name)(x), a, atol=1e-5)
    check_cases(list(UNARY[family]), body)


def test_round_half_to_even():
    a = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, 0.49999997], np.float32)
    compare(lambda m, x: x.round(), a)


def test_activation_method_and_functional():
    """gelu/silu/softplus are methods too (beyond torch) and live in lt.nn.functional."""
    a = values((3, 4))

    def body(name):
        ref = getattr(TF, name)(torch.from_numpy(a))
        check(getattr(lt.tensor(a), name)(), ref, atol=1e-5)
        check(getattr(lt.nn.functional, name)(lt.tensor(a)), ref, atol=1e-5)
    check_cases(["gelu", "silu", "softplus", "relu", "sigmoid", "tanh"], body)


def test_unary_minus():
    compare(lambda m, x: -x, values((3, 4)))
    compare(lambda m, x: -x, values((3, 4), "int64"))


@pytest.mark.parametrize("layout", ["transposed", "strided", "zero_size", "scalar_0d"])
def test_unary_chain_layouts(layout):
    x, tx = layout_pair(layout)
    fn = lambda t: (t.abs() + 1).log() * t.sigmoid() - t.exp().sqrt()  # noqa: E731
    check(fn(x), fn(tx), atol=1e-5)


# ---------------------------------------------------------------- arithmetic
ARITH = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
    "//": operator.floordiv, "%": operator.mod, "**": operator.pow,
}


@pytest.mark.parametrize("op", ARITH)
def test_arithmetic_tensor_and_scalar_both_sides(op):
    """x op y, x op scalar, scalar op x, for float32 and int64 operands;
    `//` and `%` follow torch's (floor) sign rules."""
    f = ARITH[op]
    if op == "**":      # positive base, small exponent
        cases = {"float32": (values((3, 4), domain="pos", seed=1), values((3, 4), domain="unit", seed=2), 2.5),
                 "int64": (values((3, 4), "int64", seed=1), values((3, 4), "int64", "pos", seed=2) % 3, 2)}
    else:
        cases = {dt: (values((3, 4), dt, "nonzero", seed=1), values((3, 4), dt, "nonzero", seed=2), s)
                 for dt, s in (("float32", 2.5), ("int64", 3))}

    def body(case):
        a, b, s = case
        compare(lambda m, x, y: f(x, y), a, b, atol=1e-5)
        compare(lambda m, x: f(x, s), a, atol=1e-5)
        compare(lambda m, y: f(s, y), b, atol=1e-5)
        if op != "**":
            compare(lambda m, y: f(-s, y), b, atol=1e-5)
    check_cases(cases, body)


def test_floordiv_and_mod_sign_rules():
    a = np.array([7.0, -7.0, 7.0, -7.0, 5.5, -5.5, 0.0], np.float32)
    b = np.array([2.0, 2.0, -2.0, -2.0, 2.0, -2.0, 3.0], np.float32)
    for x, y in ((a, b), (np.trunc(a).astype(np.int64), b.astype(np.int64))):
        compare(lambda m, p, q: p // q, x, y)
        compare(lambda m, p, q: p % q, x, y)


def test_floordiv_remainder_and_fmod_of_floats_are_exact_as_torchs():
    """They come from the exact remainder (fmod), not from a rounded a / b: 1.0 // 0.1 is 9 and
    1.0 % 0.1 is 0.0999..., and a huge dividend keeps its small remainder (3e38 % 3 is 2)."""
    a = np.array([1.0, 0.3, -0.3, 5.5, 0.7, 3e38, -3e38, 1e10, 1e-45, -1e-45, 7.0, -7.5, 0.0, -0.0, 1e-20,
                  np.inf, np.nan], np.float32)
    b = np.array([0.1, 0.1, 0.1, 1.1, 0.1, 3.0, 3.0, 3.0, -3.0, 3.0, 0.7, -2.0, 3.0, -3.0, 7.0, 2.0, 1.0], np.float32)
    for name in ("floor_divide", "remainder", "fmod"):
        compare(lambda m, p, q: getattr(m, name)(p, q), a, b, rtol=0, atol=0)


def test_fmod_of_integers_has_the_dividends_sign():
    a = np.array([1, 7, -7, -7, 6, 5, 2 ** 40], np.int64)
    b = np.array([-3, -3, 3, -3, -3, -3, -7], np.int64)
    compare(lambda m, p, q: m.fmod(p, q), a, b, rtol=0, atol=0)

INTEGER_DIVISIONS = {
    "floor_divide": lambda m, a, b: a // b,
    "remainder": lambda m, a, b: a % b,
    "fmod": lambda m, a, b: m.fmod(a, b),
    "div_trunc": lambda m, a, b: m.div(a, b, rounding_mode="trunc"),
}


def test_an_integer_division_by_a_tensor_holding_0_raises_when_read(env):
    """PyTorch raises ZeroDivisionError; a kernel would give 0. The check rides along with the
    realisation and is read with the result (with LAZY=0, at the op)."""
    def body(name):
        with pytest.raises(RuntimeError, match=rf"{name.split('_trunc')[0]}: ZeroDivisionError.*test_elementwise\.py:\d+"):
            INTEGER_DIVISIONS[name](lt, lt.tensor([4, 5, 6]), lt.tensor([2, 0, 3])).numpy()
    check_cases(list(INTEGER_DIVISIONS), body)


def test_an_integer_division_by_a_python_0_raises_at_the_call():
    for name, f in INTEGER_DIVISIONS.items():
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            f(lt, lt.tensor([4, 5]), 0)


def test_integer_divisions_without_a_0_divisor_match_torch_exactly(env):
    """Exact in integers, past what a float quotient holds (2^24): trunc division included."""
    a = np.array([7, -7, 7, -7, 2 ** 40 + 1, -(2 ** 40) - 3, 0, 6, 2 ** 62 + 7], np.int64)
    b = np.array([2, 2, -2, -2, 3, 7, 5, -3, 3], np.int64)
    check_cases(list(INTEGER_DIVISIONS), lambda name: compare(INTEGER_DIVISIONS[name], a, b, rtol=0, atol=0))

def test_arithmetic_named_functions():
    a, b = values((3, 4), seed=1), values((3, 4), domain="nonzero", seed=2)

    def body(name):
        compare(lambda m, x, y: getattr(m, name)(x, y), a, b, atol=1e-5)
        compare(lambda m, x, y: getattr(x, name)(y), a, b, atol=1e-5)
        compare(lambda m, x: getattr(x, name)(3), a, atol=1e-5)
    check_cases(["add", "sub", "mul", "div"], body)


def test_add_alpha_and_int_true_division():
    compare(lambda m, x, y: m.add(x, y, alpha=2), values((3, 4), seed=1), values((3, 4), seed=2))
    compare(lambda m, x, y: x / y, values((3, 4), "int64", "nonzero"), values((3, 4), "int32", "nonzero"))


BINARY_LAYOUTS = {
    "broadcast_col_row": ((3, 1), (1, 4)),
    "broadcast_rank": ((2, 3, 4), (4,)),
    "zero_size": ((0, 3), (1, 3)),
    "zero_dim_with_dim": ((), (3, 4)),
    "zero_dim_both": ((), ()),
}


def test_binary_broadcast_layouts():
    check_cases(BINARY_LAYOUTS, lambda shapes: compare(
        lambda m, x, y: x * y + x - y / 2, values(shapes[0], seed=1), values(shapes[1], seed=2)))


@pytest.mark.parametrize("layout", ["transposed", "strided"])
def test_binary_noncontiguous(layout):
    x, tx = layout_pair(layout, seed=1)
    y, ty = layout_pair("contiguous", seed=2)
    check(x * y - x, tx * ty - tx)
    check(x + x.T.T, tx + tx.T.T)
    check(x + x.T.T[:1], tx + tx.T.T[:1])


# ----------------------------------------------------------- clamp & friends
CLAMP = {
    "min_only": lambda m, x, lo, hi: x.clamp(min=-0.5),
    "max_only": lambda m, x, lo, hi: x.clamp(max=0.5),
    "both": lambda m, x, lo, hi: m.clamp(x, -0.5, 0.5),
    "tensor_bounds": lambda m, x, lo, hi: x.clamp(lo, hi),
    "clip_both": lambda m, x, lo, hi: m.clip(x, min=-1, max=1),
    "clip_method_tensor_min": lambda m, x, lo, hi: x.clip(min=lo),
    "int_stays_int": lambda m, x, lo, hi: (x * 3).long().clamp(-2, 3),
}


def test_clamp_and_clip():
    lo = values((3, 4), seed=2) - 1
    hi = lo + 2
    check_cases(CLAMP, lambda fn: compare(fn, values((3, 4)), lo, hi))


NAN_BOUNDS = {
    "scalar_min": lambda m, x, b: x.clamp(min=float("nan")),
    "scalar_max": lambda m, x, b: x.clamp(max=float("nan")),
    "tensor_min": lambda m, x, b: x.clamp(min=b),
    "tensor_max": lambda m, x, b: x.clamp(max=b),
    "tensor_both": lambda m, x, b: x.clamp(b, b + 1),
}


def test_a_nan_bound_clamps_to_nan_as_torch():
    """clamp is max(min(x, hi), lo) with NaN propagated from either side: a NaN bound (a scalar,
    or an element of a tensor of bounds) gives NaN, where a comparison with it would not."""
    x = np.array([1.0, -2.0, np.nan, 0.5], np.float32)
    bounds = np.array([np.nan, 0.0, 0.0, np.nan], np.float32)
    check_cases(NAN_BOUNDS, lambda fn: compare(fn, x, bounds))


MAXMIN = {
    "maximum_broadcast": lambda m, x, y: m.maximum(x[:, :1], y[:1]),
    "minimum_broadcast": lambda m, x, y: m.minimum(x[:, :1], y[:1]),
    "maximum_method_ties": lambda m, x, y: x.round().maximum(y.round()),
    "minimum_method_ties": lambda m, x, y: x.round().minimum(y.round()),
    "maximum_int": lambda m, x, y: m.maximum(x.long(), y.long()),
}


def test_maximum_minimum():
    check_cases(MAXMIN, lambda fn: compare(fn, values((3, 4), seed=1), values((3, 4), seed=2)))


def test_maximum_minimum_propagate_nan():
    a = np.array([1.0, np.nan, 3.0], np.float32)
    b = np.array([np.nan, 2.0, 1.0], np.float32)
    compare(lambda m, x, y: m.maximum(x, y), a, b)
    compare(lambda m, x, y: m.minimum(x, y), a, b)


POW = {
    "tensor_tensor": lambda m, x, y: m.pow(x, y),
    "tensor_int_scalar": lambda m, x, y: x.pow(3),
    "tensor_half": lambda m, x, y: m.pow(x, 0.5),
    "scalar_tensor": lambda m, x, y: m.pow(2.0, y),
    "negative_base_int_exponent": lambda m, x, y: (-x).pow(2),
    "int_tensor_int_scalar": lambda m, x, y: (x * 10).long().pow(2),
}


def test_pow():
    check_cases(POW, lambda fn: compare(
        fn, values((3, 4), domain="pos", seed=1), values((3, 4), domain="unit", seed=2), atol=1e-5))


def test_lerp():
    w = values((3, 4), domain="pos", seed=3) / 3
    a, b = values((3, 4), seed=1), values((3, 4), seed=2)
    compare(lambda m, x, y, w: m.lerp(x, y, 0.25), a, b, w, atol=1e-5)
    compare(lambda m, x, y, w: x.lerp(y, w), a, b, w, atol=1e-5)


WHERE = {
    "tensors": lambda m, c, x, y: m.where(c, x, y),
    "broadcast": lambda m, c, x, y: m.where(c[:, :1], x, y[:1]),
    "scalar_other": lambda m, c, x, y: m.where(c, x, 0.0),
    "scalar_both": lambda m, c, x, y: m.where(c, 1.0, -1.0),
    "method": lambda m, c, x, y: x.where(c, y),
    "from_comparison": lambda m, c, x, y: m.where(x > y, x, y),
    "int_values": lambda m, c, x, y: m.where(c, x.long(), y.long()),
}


def test_where():
    check_cases(WHERE, lambda fn: compare(
        fn, values((3, 4), "bool"), values((3, 4), seed=1), values((3, 4), seed=2)))


def test_where_records_one_node_over_operands_that_need_no_conversion(monkeypatch):
    """Recording is per-op Python work: where() builds its own node and nothing it then drops
    (a cast of the condition to the values' dtype was built and thrown away)."""
    c, x, y = (lt.tensor(v).realize() for v in (values((3, 4), "bool"), values((3, 4), seed=1), values((3, 4), seed=2)))
    built = []
    original = lt.ir.node.new_node  # every node is made by it
    monkeypatch.setattr(lt.ir.node, "new_node", lambda *a: built.append(a[0]) or original(*a))
    out = lt.where(c, x, y)
    assert built == ["where"]
    np.testing.assert_array_equal(out.numpy(), np.where(c.numpy(), x.numpy(), y.numpy()))



SIGNED_ZEROS = {
    "plus_zero": lambda m, x: 1 / (x + 0.0),
    "zero_plus": lambda m, x: 1 / (0.0 + x),
    "minus_negative_zero": lambda m, x: 1 / (x - (-0.0)),
    "minus_zero": lambda m, x: 1 / (x - 0.0),
    "plus_negative_zero": lambda m, x: 1 / (x + (-0.0)),
    "times_one": lambda m, x: 1 / (x * 1.0),
}


def test_adding_a_zero_keeps_the_sign_of_zero_as_torch_does():
    """-0.0 + 0.0 is 0.0: x + 0.0 is not folded to x (1 / it tells the signs apart)."""
    check_cases(SIGNED_ZEROS, lambda fn: compare(fn, np.array([-0.0, 0.0, 1.5, -2.0], np.float32)))


def test_gelu_and_erfc_keep_their_digits_far_below_zero():
    """1 + erf(x) for x far below 0 is erfc(-x), computed as such (within 1.2e-7 of itself): 1 plus
    an erf within 1.5e-7 left no digits there (gelu(-5) was 25% off). Against math.erfc in
    float64, as torch's own float32 gelu rounds 1 + erf there too."""
    import math
    import lazytensor as lt
    x = np.array([-9.0, -7.0, -5.0, -3.0, -1.0, -0.3, 0.0, 0.7, 2.0, 4.0], np.float32)
    erfc_want = np.array([math.erfc(v) for v in x.astype(np.float64)])
    gelu_want = np.array([0.5 * v * math.erfc(-v / math.sqrt(2)) for v in x.astype(np.float64)])
    np.testing.assert_allclose(lt.erfc(lt.tensor(x)).numpy(), erfc_want, rtol=1e-5, atol=0)
    np.testing.assert_allclose(lt.nn.functional.gelu(lt.tensor(x)).numpy(), gelu_want, rtol=1e-5, atol=1e-30)


def test_erf_is_accurate_relative_to_itself_near_zero():
    """erf(x) is about 1.13 x near 0: its value, not only within 1.5e-7 of it (the approximation
    used further out gave erf(1e-10) = 0)."""
    x = np.array([1e-30, 1e-10, -1e-6, 1e-4, -1e-3, 0.01, 0.1, -0.3, 0.49, 0.51, 2.0, -0.0, 0.0], np.float32)
    compare(lambda m, t: t.erf(), x, rtol=1e-6, atol=0)

def test_trig_of_small_values_beside_huge_ones_matches_torch():
    """PoCL's vector sin, cos and tan went wrong for small lanes once another lane of the same
    vector was 2^23 or more (sin(1e-3) gave 0.008 beside 1e10): a kernel's 16 lanes hold
    neighbouring elements, so a tensor of small values with one huge one read wrong."""
    x = np.full(64, 1e-3, np.float32)
    x[[1, 5, 7, 9, 11, 13, 14, 20, 21, 40]] = [1e10, -3e38, np.inf, np.nan, 8.4e6, 65536.0, -65535.9, 0.5, -0.0, 2e-5]
    check_cases(["sin", "cos", "tan"], lambda name: compare(lambda m, t: getattr(t, name)(), x, rtol=1e-5, atol=1e-7))


DIVISIONS = {
    "by_python_number": lambda m, x, y: x / 3.0,
    "by_a_column_read_from_memory": lambda m, x, y: x / y[:, :1],
    "integers_by_python_number": lambda m, x, y: (x * 100).long() / 7,
    "in_place_by_number": lambda m, x, y: x.clone().div_(0.1),
}


def test_division_rounds_each_quotient_as_torch():
    """x / d divides each element, as PyTorch does: multiplying by a hoisted 1 / d (which
    kernels keep for a divisor they reduce themselves, softmax's row sum) differed in the last
    bit for a third of the elements."""
    x, y = values((64, 48), seed=3) * 10, values((64, 48), seed=4) + 2
    check_cases(DIVISIONS, lambda fn: compare(fn, x, y, rtol=0, atol=0))


INVERSE_AND_HYPERBOLIC = {
    "asin": lambda m, t: t.clamp(-1, 1).asin(),
    "acos": lambda m, t: m.acos(t.clamp(-1, 1)),
    "atan": lambda m, t: t.atan(),
    "arctan_alias": lambda m, t: m.arctan(t),
    "sinh": lambda m, t: t.sinh(),
    "cosh": lambda m, t: m.cosh(t),
    "asinh": lambda m, t: t.asinh(),
    "acosh": lambda m, t: (t.abs() + 1).acosh(),
    "atanh": lambda m, t: t.clamp(-1, 1).atanh(),
    "atan2": lambda m, t: m.atan2(t, t.flip(0)),
    "atan2_scalar_other": lambda m, t: t.atan2(m.tensor(-0.0)),
    "outside_the_domain": lambda m, t: (t * 3).asin() + (t * 3).acos() + (t * 3).atanh() + t.acosh(),
    "integers_become_float": lambda m, t: (t * 4).long().atan(),
    "in_place": lambda m, t: t.clone().sinh_(),
}


def test_inverse_trigonometric_and_hyperbolic_functions_match_torch():
    """Over zeros, infinities, NaN, tiny and huge values and the domains' edges."""
    x = np.array([0.0, -0.0, 1e-30, -1e-6, 0.5, -0.999, 1.0, -1.0, 1.5, 20.0, -89.0, 1e20, -3e38,
                  np.inf, -np.inf, np.nan], np.float32)
    check_cases(INVERSE_AND_HYPERBOLIC, lambda fn: compare(fn, x, rtol=2e-6, atol=0))


SATURATED = np.array([-np.inf, -1e30, -1e4, -20.0, -12.0, -9.5, 9.2, 12.0, 20.0, 1e4, 1e30, np.inf, np.nan], np.float32)


def test_tanh_reaches_one_where_float32_rounds_it_there():
    """PoCL's float tanh stops at 0.99999994 for any |x| past 9, infinity included, and NumPy's up
    to about 10; float32 rounds tanh to 1 from 9.0109 on, as torch gives it."""
    compare(lambda m, t: t.tanh(), SATURATED, rtol=0, atol=0)


def test_gelu_tanh_of_large_negative_values_is_zero():
    """gelu's tanh form is x (1 + tanh(...)) / 2: with tanh short of -1 it gave -3e22 at x = -1e30."""
    compare(lambda m, t: m.nn.functional.gelu(t, approximate="tanh"), SATURATED[SATURATED < -9], rtol=0, atol=0)
    compare(lambda m, t: m.nn.functional.gelu(t, approximate="tanh"), np.array([-9.5, -9.2], np.float32), rtol=0, atol=0)


def test_elu_of_small_negative_values_keeps_their_size():
    """elu(x) = expm1(x) below 0: exp(x) - 1 lost every digit of x near 0 (elu(-1e-10) was 0)."""
    x = np.array([-1e-30, -1e-10, -1e-6, -1e-3, -0.5, -30.0, -np.inf, 0.0, 1e-10, 2.0], np.float32)
    compare(lambda m, t: m.nn.functional.elu(t), x, rtol=1e-6, atol=0)


POWERS = {e: (lambda e: lambda m, t: t ** e)(e) for e in (0.5, -0.5, -1, -1.0, 2, 1)}


def test_powers_torch_computes_by_another_op_have_that_ops_edges():
    """torch computes x ** -0.5 as rsqrt(x): -inf at -0.0 and NaN at -inf, where pow gives +inf and 0."""
    x = np.array([-np.inf, -4.0, -0.0, 0.0, 1e-30, 0.25, 3.0, np.inf, np.nan], np.float32)
    check_cases(POWERS, lambda fn: compare(fn, x, rtol=1e-6, atol=0))


CLOSE = {
    "tensors": lambda m, a, b: m.isclose(a, b),
    "tensors_equal_nan": lambda m, a, b: m.isclose(a, b, equal_nan=True),
    "zero_dim": lambda m, a, b: m.isclose(a, m.tensor(1.0)),
    "loose": lambda m, a, b: m.isclose(a, b, rtol=0.1, atol=0.5),
}


def test_isclose_treats_infinities_and_nan_as_torch_does():
    """An infinity is close only to itself (inf - inf is NaN, which a plain tolerance test
    calls far), and a finite value never to one (its difference, inf, is within rtol * inf)."""
    a = np.array([np.inf, -np.inf, 5.0, np.inf, np.nan, 1.0, 1.0 + 1e-6, 0.0, -np.inf, 2.0], np.float32)
    b = np.array([np.inf, -np.inf, np.inf, -np.inf, np.nan, 1.0, 1.0, 1e-9, 3.0, 2.4], np.float32)
    check_cases(CLOSE, lambda fn: compare(fn, a, b))
    assert lt.allclose(lt.tensor([1.0, np.inf]), lt.tensor([1.0, np.inf]))
    assert not lt.allclose(lt.tensor([1.0, 5.0]), lt.tensor([1.0, np.inf]))
    assert lt.isclose(lt.tensor([1.0, np.inf, 1.1]), 1.0).tolist() == [True, False, False]  # a Python number too

NAN_INF = {
    "isnan": lambda m, x: x.isnan(),
    "isinf": lambda m, x: m.isinf(x),
    "nan_to_num_default": lambda m, x: m.nan_to_num(x),
    "nan_to_num_args": lambda m, x: x.nan_to_num(nan=0.5, posinf=100.0, neginf=-100.0),
    "inf_times_zero_is_nan": lambda m, x: (x * 0).isnan(),
}


def test_nan_inf():
    special = np.array([1.0, np.nan, np.inf, -np.inf, -2.0, 0.0], np.float32)
    check_cases(NAN_INF, lambda fn: compare(fn, special))


# -------------------------------------------------------------- comparisons
COMPARISONS = {
    "eq": operator.eq, "ne": operator.ne, "lt": operator.lt,
    "le": operator.le, "gt": operator.gt, "ge": operator.ge,
}


@pytest.mark.parametrize("form", ["tensor_tensor", "scalar", "broadcast_mixed_dtype"])
def test_comparison(form):
    """Operator, method and function forms of == != < <= > >= (ties
    included); the result is bool."""
    a, b = values((3, 4), domain="ints", seed=1), values((3, 4), domain="ints", seed=2)

    def body(name):
        op = COMPARISONS[name]
        if form == "tensor_tensor":
            compare(lambda m, x, y: op(x, y), a, b)
            compare(lambda m, x, y: getattr(x, name)(y), a, b)
            compare(lambda m, x, y: getattr(m, name)(x, y), a, b)
        elif form == "scalar":
            compare(lambda m, x: op(x, 1.0), a)
            compare(lambda m, x: op(1, x), a)
            compare(lambda m, x: getattr(x, name)(0), a)
        else:
            compare(lambda m, x, y: op(x[:, :1], y[:1].long()), a, b)
    check_cases(list(COMPARISONS), body)


# --------------------------------------------------------- bitwise & logical
BITWISE = {"&": operator.and_, "|": operator.or_, "^": operator.xor}


@pytest.mark.parametrize("op", BITWISE)
def test_bitwise(op):
    f = BITWISE[op]

    def body(dtype):
        a, b = values((3, 4), dtype, seed=1), values((3, 4), dtype, seed=2)
        compare(lambda m, x, y: f(x, y), a, b)
        compare(lambda m, x: f(x, True if dtype == "bool" else 5), a)
    check_cases(["bool", "int64", "int32", "int16", "int8", "uint8"], body)


def test_invert():
    check_cases(["bool", "int64", "int32", "int16", "int8", "uint8"],
                lambda dt: compare(lambda m, x: ~x, values((3, 4), dt)))


LOGICAL = {
    "and_float_bool": lambda m, x, y: m.logical_and(x, y),
    "or_float_bool": lambda m, x, y: m.logical_or(x, y),
    "and_method": lambda m, x, y: y.logical_and(x > 0),
    "or_method": lambda m, x, y: y.logical_or(x > 0),
    "not_float": lambda m, x, y: m.logical_not(x),
    "not_method_bool": lambda m, x, y: y.logical_not(),
}


def test_logical():
    check_cases(LOGICAL, lambda fn: compare(fn, values((3, 4), domain="ints", seed=1), values((3, 4), "bool", seed=2)))


ALL_ANY = {
    "all": lambda m, x: x.all(),
    "any": lambda m, x: m.any(x),
    "all_fn": lambda m, x: m.all(x),
    "all_dim": lambda m, x: x.all(dim=1),
    "any_dim_keepdim": lambda m, x: x.any(dim=0, keepdim=True),
    "all_of_float": lambda m, x: (x.float() + 1).all(),
    "any_zero_size": lambda m, x: x[:0].any(),
    "all_zero_size": lambda m, x: x[:0].all(),
}


def test_all_any():
    a = values((3, 4), "bool")
    a[0] = True
    check_cases(ALL_ANY, lambda fn: compare(fn, a))
