"""Reductions with dim (int, tuple, negative, None) and keepdim, var/std
corrections, max/min named tuples, softmax family, cumsum, sort/argsort/topk
and lt.multinomial."""
import numpy as np
import pytest
import torch

import lazytensor as lt
from lazytensor.runtime.devices import get_device
from helpers import check, check_cases, compare, layout_pair, pair, values

pytestmark = pytest.mark.usefixtures("env")

X3 = values((2, 3, 4), seed=7)

# (dim, keepdim) cases; dim=None means "no dim argument".
DIMS = [(None, False), (1, False), (-1, True), ((0, 2), False), ((-1, 0), True)]
DIM_IDS = ["all", "dim1", "neg_keepdim", "tuple", "tuple_neg_keepdim"]


def _call(name, dim, keepdim, **kw):
    def fn(m, x):
        if dim is None:
            return getattr(x, name)(**kw)
        return getattr(x, name)(dim=dim, keepdim=keepdim, **kw)
    return fn


@pytest.mark.parametrize("name", ["sum", "mean", "amax", "amin"])
def test_reduce(name):
    check_cases(dict(zip(DIM_IDS, DIMS)),
                lambda dk: compare(_call(name, *dk), X3, rtol=1e-5, atol=1e-5))


def test_prod():
    a = values((2, 3, 4), domain="pos", seed=7) / 2 + 0.5
    check_cases({"all": (None, False), "dim1": (1, False), "neg_keepdim": (-1, True)},
                lambda dk: compare(_call("prod", *dk), a, rtol=1e-5))


def test_reduce_as_function():
    check_cases(["sum", "mean", "prod", "amax", "amin"],
                lambda name: compare(lambda m, x: getattr(m, name)(x, 1), X3, rtol=1e-5, atol=1e-5))


def test_integer_sum_promotes_to_int64():
    def body(dtype):
        a = values((3, 4), dtype)
        compare(lambda m, x: x.sum(), a)
        compare(lambda m, x: x.sum(dim=0), a)
        compare(lambda m, x: x.prod(dim=1), a)
    check_cases(["int8", "int16", "int32", "int64", "bool", "uint8"], body)


def test_reduce_layouts():
    check_cases(["transposed", "strided", "zero_size", "scalar_0d"], _reduce_layout)


def _reduce_layout(layout):
    x, tx = layout_pair(layout)
    dims = [None, 0, -1] if x.ndim else [None, 0]   # torch allows dim 0 on a 0-d tensor
    for dim in dims:
        kw = {} if dim is None else {"dim": dim, "keepdim": dim == -1}
        check(x.sum(**kw), tx.sum(**kw), atol=1e-5)
        check(x.mean(**kw), tx.mean(**kw), atol=1e-5)


def test_reduce_zero_size_over_nonempty_dim():
    compare(lambda m, x: x.amax(dim=1), np.zeros((0, 3), np.float32))
    compare(lambda m, x: x.prod(dim=0), np.zeros((0, 3), np.float32))


# ------------------------------------------------------------ max/min/arg
def test_max_min_full():
    def body(name):
        compare(lambda m, x: getattr(x, name)(), X3)
        compare(lambda m, x: getattr(m, name)(x), X3)
    check_cases(["max", "min"], body)


@pytest.mark.parametrize("name, keepdim", [("max", False), ("min", True)])
def test_max_min_dim_named_tuple(name, keepdim):
    x, tx = pair(X3)
    out = getattr(x, name)(dim=1, keepdim=keepdim)
    ref = getattr(tx, name)(dim=1, keepdim=keepdim)
    values_, indices = out
    check(values_, ref.values)
    check(indices, ref.indices)
    check(out.values, ref.values)
    check(out.indices, ref.indices)
    check(out[0], ref[0])


@pytest.mark.parametrize("n", [3, 17, 1000])
def test_max_and_min_of_bools_are_any_and_all(n):
    """Vector lanes of bool are -1/0 masks on OpenCL: their max and min are reversed there."""
    x = np.zeros((3, n), bool)
    x[0, 1] = x[2, :] = True
    t = lt.tensor(x)
    assert t.amax(1).tolist() == [True, False, True] and t.amin(1).tolist() == [False, False, True]
    assert t.max().item() and not t.min().item() and lt.tensor(~x).amin().item() is False
    assert [v.tolist() for v in lt.aminmax(t, dim=1)] == [[False, False, True], [True, False, True]]


def test_max_binary_form_is_maximum():
    compare(lambda m, x, y: m.max(x, y), values((3, 4), seed=1), values((3, 4), seed=2))


def test_argmax_argmin():
    cases = {f"{n}-{d}": (n, d, k) for n in ("argmax", "argmin")
             for d, k in ((None, False), (1, False), (-1, True))}
    check_cases(cases, lambda c: compare(_call(*c), X3))


def test_argmax_ties_return_first():
    a = np.array([[1.0, 3.0, 3.0, 0.0], [0.0, 0.0, 2.0, 2.0], [5.0, 5.0, 5.0, 5.0]], np.float32)

    def body(name):
        compare(lambda m, x: getattr(x, name)(dim=1), a)
        compare(lambda m, x: getattr(m, name)(x), a)
    check_cases(["argmax", "argmin"], body)


# ------------------------------------------------------------- var / std
VAR_CASES = [
    {}, {"dim": 1}, {"dim": 1, "correction": 0}, {"dim": (0, 2), "keepdim": True},
    {"unbiased": False}, {"dim": -1, "unbiased": True, "keepdim": True},
]


@pytest.mark.parametrize("name", ["var", "std"])
def test_var_std(name):
    check_cases({",".join(f"{k}={v}" for k, v in kw.items()) or "default": kw for kw in VAR_CASES},
                lambda kw: compare(lambda m, x: getattr(x, name)(**kw), X3, rtol=1e-4, atol=1e-5))


def test_var_as_function_and_large_offset():
    compare(lambda m, x: m.var(x, dim=0), X3, rtol=1e-4, atol=1e-5)
    # a large common offset must not destroy the variance (two-pass / Welford)
    compare(lambda m, x: (x + 1000).std(dim=-1), X3, rtol=2e-3, atol=1e-3)


NORMS = {
    "frobenius": lambda m, x: x.norm(),
    "dim": lambda m, x: x.norm(dim=1),
    "p1_keepdim": lambda m, x: x.norm(p=1, dim=-1, keepdim=True),
    "function": lambda m, x: m.norm(x, dim=(0, 2)),
}


def test_norm():
    check_cases(NORMS, lambda fn: compare(fn, X3, rtol=1e-5, atol=1e-5))


# ---------------------------------------------- logsumexp, softmax, cumsum
SOFT = {
    "logsumexp_dim": lambda m, x: x.logsumexp(dim=1),
    "logsumexp_tuple_keepdim": lambda m, x: m.logsumexp(x, dim=(0, 2), keepdim=True),
    "logsumexp_large": lambda m, x: (x * 100).logsumexp(dim=-1),
    "softmax_last": lambda m, x: x.softmax(dim=-1),
    "softmax_first": lambda m, x: m.softmax(x, dim=0),
    "softmax_large": lambda m, x: (x * 100).softmax(dim=-1),
    "log_softmax_last": lambda m, x: x.log_softmax(dim=-1),
    "log_softmax_mid": lambda m, x: m.log_softmax(x, dim=1),
    "log_softmax_large": lambda m, x: (x * 100).log_softmax(dim=1),
    "functional_softmax": lambda m, x: m.nn.functional.softmax(x, dim=1),
    "functional_log_softmax": lambda m, x: m.nn.functional.log_softmax(x, dim=-1),
}


def test_softmax_family():
    check_cases(SOFT, lambda fn: compare(fn, X3, rtol=1e-5, atol=1e-5))


CUMSUM = {
    "dim0": lambda m, x: x.cumsum(dim=0),
    "neg_dim": lambda m, x: m.cumsum(x, -1),
    "int": lambda m, x: (x * 3).long().cumsum(1),
    "int32_promotes": lambda m, x: (x * 3).int().cumsum(1),
    "bool": lambda m, x: (x > 0).cumsum(0),
    "transposed": lambda m, x: x.transpose(0, 2).cumsum(1),
}


def test_cumsum():
    check_cases(CUMSUM, lambda fn: compare(fn, X3, rtol=1e-5, atol=1e-5))


def test_cumsum_of_float32_is_torchs_bit_for_bit(env):
    """PyTorch's CPU cumsum sums float32 in float64; so does lazytensor where the device has
    float64: a running float32 sum differs in the last bits, and a later cast to int shows it."""
    if not get_device(str(lt.get_default_device())).supports(lt.float64):
        pytest.skip("the device has no float64")
    x = (np.random.default_rng(3).standard_normal((4, 37)) * 10).astype(np.float32)
    compare(lambda m, t: t.cumsum(1), x, rtol=0, atol=0)


# ----------------------------------------------------- sort / argsort / topk
@pytest.mark.parametrize("dim, descending", [(-1, False), (0, True)])
def test_sort(dim, descending):
    x, tx = pair(X3)
    out = x.sort(dim=dim, descending=descending)
    ref = tx.sort(dim=dim, descending=descending)
    check(out.values, ref.values)
    check(out.indices, ref.indices)
    v, i = lt.sort(x, dim=dim, descending=descending)
    check(v, ref.values)
    check(i, ref.indices)


def test_sort_stable_with_ties():
    x, tx = pair(values((3, 8), domain="ints", seed=3))

    def body(descending):
        out = x.sort(dim=1, descending=descending, stable=True)
        ref = tx.sort(dim=1, descending=descending, stable=True)
        check(out.values, ref.values)
        check(out.indices, ref.indices)
    check_cases({"ascending": False, "descending": True}, body)


ARGSORT = {"default": {}, "dim0": {"dim": 0}, "descending": {"descending": True},
           "stable_ties": {"dim": 1, "stable": True}}


def test_argsort():
    def body(kw):
        a = values((3, 4)) if "stable" not in kw else values((3, 4), domain="ints")
        compare(lambda m, x: x.argsort(**kw), a)
        compare(lambda m, x: m.argsort(x, **kw), a)
    check_cases(ARGSORT, body)


def test_sort_int_and_nan():
    compare(lambda m, x: x.sort(dim=1).values, values((3, 4), "int64"))
    a = np.array([[3.0, np.nan, 1.0, 2.0]], np.float32)
    compare(lambda m, x: x.sort(dim=1).values, a)   # NaN sorts last, as torch


TOPK = [
    {"k": 2}, {"k": 3, "dim": 1}, {"k": 1, "dim": 0}, {"k": 2, "largest": False},
    {"k": 4, "dim": -1, "largest": True},
]


def test_topk():
    check_cases({",".join(f"{k}={v}" for k, v in kw.items()): kw for kw in TOPK}, _topk)


def _topk(kw):
    x, tx = pair(X3)
    out = x.topk(**kw)
    ref = tx.topk(**kw)
    check(out.values, ref.values)
    check(out.indices, ref.indices)
    v, i = lt.topk(x, **kw)
    check(v, ref.values)


def test_topk_unsorted_returns_the_right_set():
    x, tx = pair(X3)
    out = x.topk(3, dim=-1, sorted=False)
    ref = tx.topk(3, dim=-1)
    got = np.sort(out.values.numpy(), axis=-1)
    np.testing.assert_allclose(got, np.sort(ref.values.numpy(), axis=-1))
    # the indices must point at the returned values
    np.testing.assert_allclose(np.take_along_axis(X3, out.indices.numpy(), -1), out.values.numpy())


# ------------------------------------------------------------ multinomial
PROBS = np.array([0.1, 0.2, 0.3, 0.4], np.float32)


def test_multinomial_shape_dtype_range():
    lt.manual_seed(0)
    s = lt.multinomial(lt.tensor(PROBS), 10, replacement=True)
    assert tuple(s.shape) == (10,) and s.dtype == lt.int64
    a = s.numpy()
    assert a.dtype == np.int64 and a.min() >= 0 and a.max() < 4
    s2 = lt.multinomial(lt.tensor(np.stack([PROBS, PROBS[::-1]])), 5, replacement=True)
    assert tuple(s2.shape) == (2, 5)


def test_multinomial_frequencies_match_probabilities():
    lt.manual_seed(1)
    n = 20000
    s = lt.multinomial(lt.tensor(PROBS * 10), n, replacement=True).numpy()  # unnormalised weights
    freq = np.bincount(s, minlength=4) / n
    np.testing.assert_allclose(freq, PROBS, atol=0.02)


def test_multinomial_without_replacement_is_distinct():
    lt.manual_seed(2)
    probs = lt.tensor(np.array([[0.1, 0.2, 0.3, 0.4, 0.0, 1.0]] * 3, np.float32))
    s = lt.multinomial(probs, 5, replacement=False).numpy()
    assert s.shape == (3, 5)
    for row in s:
        assert len(set(row.tolist())) == 5
        assert set(row.tolist()) <= {0, 1, 2, 3, 5}     # zero weight never drawn


BAD_DISTRIBUTIONS = {
    "negative": ([0.5, -0.1, 0.6], True, "element < 0"),
    "nan": ([0.5, np.nan], True, "inf, nan"),
    "inf": ([np.inf, 1.0], True, "inf, nan"),
    "all_zero_row": ([[1.0, 1.0], [0.0, 0.0]], True, r"sum of probabilities <= 0"),
    "too_few_to_draw_distinct": ([0.5, 0.0, 0.5], False, "not enough non-negative category"),
}


@pytest.mark.parametrize("case", BAD_DISTRIBUTIONS, ids=list(BAD_DISTRIBUTIONS))
def test_multinomial_refuses_what_is_not_a_distribution(case):
    """torch raises for these; a draw from them was an arbitrary index before."""
    weights, replacement, message = BAD_DISTRIBUTIONS[case]
    with pytest.raises(RuntimeError, match=message):
        lt.multinomial(lt.tensor(np.array(weights, np.float32)), 3, replacement=replacement).numpy()


def test_multinomial_zero_probability_never_sampled():
    lt.manual_seed(3)
    s = lt.multinomial(lt.tensor(np.array([0.0, 1.0, 0.0, 1.0], np.float32)), 500, replacement=True).numpy()
    assert set(np.unique(s).tolist()) <= {1, 3}
