"""dtypes, conversions and PyTorch type promotion."""
import operator

import numpy as np
import pytest
import torch

import lazytensor as lt
from helpers import ALL_DTYPES, check, check_cases, lt_dtype, pair, torch_dtype, values

pytestmark = pytest.mark.usefixtures("env")


def _tol(*dtypes):
    return dict(rtol=1e-3, atol=1e-3) if "float16" in dtypes else {}


def test_dtype_round_trip():
    def body(name):
        t = lt.tensor(values((3, 4), name))
        assert t.dtype == lt_dtype(name)
        assert t.numpy().dtype == np.dtype(name)
    check_cases(["float16", "float32", "float64", "int8", "int16", "int32", "int64", "bool", "uint8"], body)


NARROW = ("int8", "int16")


@pytest.mark.parametrize("op", [operator.add, operator.mul], ids=["add", "mul"])
def test_promotion_tensor_tensor(op):
    """Every ordered pair of the supported dtypes, as torch promotes; int8 and int16 (whose
    result types the table test below checks every way) beside each dtype in one order, in add."""
    def body(dts):
        (a, ta), (b, tb) = pair(values((3, 4), dts[0], seed=1)), pair(values((3, 4), dts[1], seed=2))
        check(op(a, b), op(ta, tb))
    narrow = [(n, d) for n in NARROW for d in ALL_DTYPES + NARROW] if op is operator.add else []
    check_cases({f"{l}{'+' if op is operator.add else '*'}{r}": (l, r)
                 for l, r in [(l, r) for l in ALL_DTYPES for r in ALL_DTYPES] + narrow}, body)


EVERY_DTYPE = ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64")


def test_result_type_of_every_pair_matches_torch():
    """The promotion table alone (no kernel runs): every ordered pair of dtypes as tensors with
    dims and 0-d, each dtype with Python scalars, promote_types and can_cast."""
    def name(dtype):
        return str(dtype).split(".")[-1]

    def ones(shape, dtype):  # on numpy, where an eager tensor costs no kernel: the table is every device's
        return lt.ones(shape, dtype=dtype, device="numpy")

    def body(names):
        (a, ta), (b, tb) = ((getattr(lt, n), getattr(torch, n)) for n in names)
        for sa, sb in (((2,), (2,)), ((2,), ()), ((), ())):
            assert name(lt.result_type(ones(sa, a), ones(sb, b))) == \
                name(torch.result_type(torch.ones(sa, dtype=ta), torch.ones(sb, dtype=tb))), (sa, sb)
        for scalar in (True, 2, 2.5):
            assert name(lt.result_type(ones(2, a), scalar)) == \
                name(torch.result_type(torch.ones(2, dtype=ta), scalar)), scalar
        assert name(lt.promote_types(a, b)) == name(torch.promote_types(ta, tb))
        assert lt.can_cast(a, b) == torch.can_cast(ta, tb)
    check_cases({f"{l},{r}": (l, r) for l in EVERY_DTYPE for r in EVERY_DTYPE}, body)


SCALAR_CASES = [
    ("int32", 2), ("int32", 2.5), ("int64", 3), ("int64", -1.5), ("float32", 2),
    ("float32", 0.5), ("float16", 2.5), ("bool", 1), ("bool", 1.5), ("bool", True),
    ("uint8", 2), ("float64", 3), ("int8", 2), ("int8", 2.5), ("int16", -3), ("int16", True),
]


def test_promotion_python_scalar_both_sides():
    def body(case):
        dtype, scalar = case
        a, ta = pair(values((3, 4), dtype, domain="pos"))
        for op in (operator.add, operator.mul):
            check(op(a, scalar), op(ta, scalar), **_tol(dtype))
            check(op(scalar, a), op(scalar, ta), **_tol(dtype))
    check_cases({f"{d} with {s!r}": (d, s) for d, s in SCALAR_CASES}, body)


ZERO_DIM_CASES = [
    ("int32", "int64"), ("int32", "float64"), ("float16", "float32"), ("float32", "float64"),
    ("uint8", "int64"), ("bool", "int32"), ("int64", "bool"), ("float32", "int64"),
    ("int8", "int64"), ("uint8", "int8"), ("int8", "int16"), ("int16", "float16"),
]


def test_promotion_zero_dim_tensor():
    """A 0-d tensor only decides the dtype if it is of a higher category."""
    def body(case):
        a, ta = pair(values((3, 4), case[0], domain="pos"))
        s, ts = pair(values((), case[1], domain="pos", seed=3))
        check(a + s, ta + ts, **_tol(*case))
        check(s * a, ts * ta, **_tol(*case))
    check_cases({f"{d}[3,4] with {z}[]": (d, z) for d, z in ZERO_DIM_CASES}, body)


def test_promotion_two_zero_dim_tensors():
    (a, ta), (b, tb) = pair(np.array(2, np.int32)), pair(np.array(1.5, np.float64))
    check(a + b, ta + tb)


CONVERSION_DATA = np.array([[1.7, -2.3, 0.0, 3.5], [-0.5, 9.9, -7.1, 2.0], [0.2, 1.0, -1.0, 4.4]])


@pytest.mark.parametrize("src", ["float32", "int64"])
def test_conversion_methods(src):
    a, ta = pair(CONVERSION_DATA.astype(src))
    check_cases(["float", "half", "double", "char", "short", "int", "long", "bool"], lambda meth: check(
        getattr(a, meth)(), getattr(ta, meth)(), **_tol("float16" if meth == "half" else "")))


def test_to_dtype():
    a, ta = pair(np.abs(CONVERSION_DATA).astype(np.float32))   # negative float -> uint8 is UB

    def body(target):
        check(a.to(lt_dtype(target)), ta.to(torch_dtype(target)), **_tol(target))
        check(a.to(dtype=lt_dtype(target)), ta.to(dtype=torch_dtype(target)), **_tol(target))
    check_cases(["float32", "float64", "int8", "int16", "int32", "int64", "bool", "uint8", "float16"], body)


def test_to_same_dtype_and_bool_to_float():
    a, ta = pair(np.array([True, False, True]))
    check(a.to(lt.float32), ta.to(torch.float32))
    check(a.to(lt.bool), ta.to(torch.bool))


FLOAT16_PROGRAMS = {
    "add": lambda a, b: a + b,
    "mul_sub": lambda a, b: a * b - b,
    "div_exp": lambda a, b: (a / b).exp(),
    "reductions": lambda a, b: a.sum(dim=1) + b.max(),
    "scalar": lambda a, b: a * 0.5 + 1,
}


def test_float16_arithmetic():
    (a, ta), (b, tb) = (pair(values((3, 4), "float16", "unit", seed=s)) for s in (1, 2))
    b, tb = b + 2, tb + 2
    check_cases(FLOAT16_PROGRAMS, lambda fn: check(fn(a, b), fn(ta, tb), rtol=1e-2, atol=1e-2))


def test_float64_arithmetic_keeps_precision():
    a, ta = pair(np.array([1.0 + 1e-12, 2.0, 3.0]))
    check(a - 1.0, ta - 1.0, rtol=1e-9, atol=1e-15)
    check((a * 3).sum(), (ta * 3).sum(), rtol=1e-12, atol=0)


def test_a_dtype_is_one_object_through_pickle_and_copy():
    """dtypes compare by identity (it is what every node built hashes), so every way of getting
    one back gives the very object."""
    import copy
    import pickle
    for dt in (lt.float32, lt.int64, lt.bool):
        assert pickle.loads(pickle.dumps(dt)) is dt
        assert copy.deepcopy(dt) is dt
        assert copy.copy(dt) is dt


# each narrow integer's extremes and values whose sums, products and shifts leave its range
NARROW_INTS = {"int8": ([127, -128, 100, -7, 5, -1], [1, 3, -2, 7, -128, 2]),
               "int16": ([32767, -32768, 20000, -7, 300, -1], [1, 3, -2, 7, -32768, 2])}

NARROW_INT_PROGRAMS = {
    "add_wraps": lambda x, y: x + 1,
    "sub_wraps": lambda x, y: x - y,
    "mul_wraps": lambda x, y: x * y,
    "neg_abs": lambda x, y: (-x, x.abs()),
    "floor_divide": lambda x, y: x // y,
    "remainder": lambda x, y: (x % y, x.fmod(y), x % -3),
    "shifts": lambda x, y: (x << 3, x >> 2, x << y.abs(), x >> 9),
    "bitwise": lambda x, y: (x & y, x | 5, x ^ y, ~x),
    "compare": lambda x, y: (x < y, x == 127, x.maximum(y), x.clamp(-5, 5)),
    "true_divide": lambda x, y: x / y,
    "pow_wraps": lambda x, y: (x ** 2, x.abs() ** 3),
    "reductions": lambda x, y: (x.sum(), x.prod(), x.cumsum(0), x.max(), x.min(), x.argmax()),
    "fused_chain": lambda x, y: (x * 2 + y).sum(),
    "from_int64": lambda x, y: (x.long() * 3 + 200).to(x.dtype),
}


@pytest.mark.parametrize("name", NARROW_INTS)
def test_narrow_integers_wrap_and_divide_as_torch(name):
    """int8 and int16 arithmetic wraps at the type's width, divisions and shifts follow
    PyTorch, and reductions that widen (sum, prod, cumsum) give int64."""
    (x, tx), (y, ty) = (pair(np.array(v, name)) for v in NARROW_INTS[name])
    check_cases(NARROW_INT_PROGRAMS, lambda fn: check(fn(x, y), fn(tx, ty)))


def test_narrow_integer_values_through_indexing():
    (x, tx) = pair(np.array([[5, -128, 127], [1, 2, -3]], np.int8))
    (i, ti) = pair(np.array([[2, 0, 1], [1, 1, 0]], np.int64))
    programs = {
        "getitem": lambda m, x, i: (x[:, i[0]], x[i[1]], x[x > 1]),
        "gather": lambda m, x, i: x.gather(1, i),
        "scatter": lambda m, x, i: x.scatter(1, i[:, :1], m.tensor([[7], [-9]], dtype=m.int8)),
        "index_select": lambda m, x, i: x.index_select(1, i[0]),
        "masked_fill": lambda m, x, i: x.masked_fill(x < 0, 100),
        "setitem": lambda m, x, i: x.clone().index_put_((i[1, :2],), m.tensor(-1, dtype=m.int8)),
        "where_cat": lambda m, x, i: m.cat([m.where(x > 0, x, -x), x.short()]),
    }
    check_cases(programs, lambda fn: check(fn(lt, x, i), fn(torch, tx, ti)))


def test_narrow_integer_names_and_limits():
    assert (lt.short, lt.int8.itemsize, lt.int16.itemsize) == (lt.int16, 1, 2)
    for name in ("int8", "int16"):
        ours, theirs = lt.iinfo(getattr(lt, name)), torch.iinfo(getattr(torch, name))
        assert (ours.min, ours.max, ours.bits) == (theirs.min, theirs.max, theirs.bits)
        t = lt.tensor([1, -2], dtype=getattr(lt, name))
        assert repr(t) == repr(torch.tensor([1, -2], dtype=getattr(torch, name))).replace("torch", "lazytensor")
        assert t.type() == torch.tensor(1, dtype=getattr(torch, name)).type().replace("torch", "lazytensor")
        assert t.is_signed() and t.to("torch." + name).dtype is t.dtype
    assert isinstance(lt.CharTensor([1]), lt.CharTensor) and lt.ShortTensor(2).dtype == lt.int16
    assert lt.tensor([1, 2]).to(lt.short).dtype == lt.int16


# a Python scalar past each integer dtype's range (2**40 wraps to 0 in int32)
OUTSIDE = {"int8": 300, "int16": 70000, "uint8": 300, "int32": 2 ** 40 + 5}
WRAPPING_OPERANDS = {
    "add": lambda m, x, s: (x + s, s - x), "mul": lambda m, x, s: x * s,
    "compare": lambda m, x, s: (x == s, x < s, x != s), "bitwise": lambda m, x, s: (x & s, x ^ s),
    "pow_base": lambda m, x, s: s ** (x % 2),
}
REFUSED_VALUES = {
    "full": lambda m, x, s: m.full((2,), s, dtype=x.dtype), "fill_": lambda m, x, s: x.clone().fill_(s),
    "masked_fill": lambda m, x, s: x.masked_fill(x > 0, s), "where": lambda m, x, s: m.where(x > 0, x, s),
    "clamp": lambda m, x, s: x.clamp(max=s), "pow": lambda m, x, s: x ** s,
}


@pytest.mark.parametrize("name", OUTSIDE)
def test_a_python_scalar_outside_an_integer_dtype(name):
    """An operand of arithmetic or a comparison wraps into the dtype, as PyTorch converts it; a
    value written into the tensor (full, fill_, masked_fill, where, clamp, pow's exponent) is refused."""
    x, tx = pair(np.array([44, 5, 0, 100], name))
    s = OUTSIDE[name]
    check_cases(WRAPPING_OPERANDS, lambda fn: check(fn(lt, x, s), fn(torch, tx, s)))

    def refused(fn):
        with pytest.raises(RuntimeError, match="cannot be converted to"):
            fn(torch, tx, s)
        with pytest.raises(RuntimeError, match=f"cannot be converted to {name} without overflow"):
            fn(lt, x, s)
    check_cases(REFUSED_VALUES, refused)


def test_a_jit_function_of_int8_tensors_replays_with_new_data():
    step = lt.jit(lambda x, y: (x * 3 + y, (x.long() * y).sum()))
    for start in range(3):
        data = (np.arange(start, start + 6) * 40).astype(np.int8), np.full(6, -2, np.int8)
        (x, tx), (y, ty) = pair(data[0]), pair(data[1])
        check(step(x, y), (tx * 3 + ty, (tx.long() * ty).sum()))
