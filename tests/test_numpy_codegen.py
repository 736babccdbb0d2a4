"""The NumPy renderer's speed choices, each checked against NumPy on odd shapes.

Matmul-shaped reductions must reach BLAS through np.matmul; elementwise chains
write into preallocated arrays (ufunc out=) and long ones run in cache-sized
blocks; reductions are ufunc reduces. None of that may change a value, so most
comparisons here are exact: the kernels call the same ufuncs on the same float32
operands as the hand-written NumPy next to them.
"""
import numpy as np
import pytest

import lazytensor as lt
import lazytensor.config as config
import lazytensor.nn.functional as F
from helpers import using

RNG = np.random.default_rng(7)
f32 = np.float32


def data(*shape, dtype=np.float32):
    return RNG.uniform(-1, 1, shape).astype(dtype)


def t(array):
    return lt.tensor(array, device="numpy")


def run(capsys, fn):
    """(fn()'s value as NumPy, the source of every kernel that computed it)."""
    previous = config.set_debug(3)
    try:
        value = fn().numpy()
    finally:
        config.set_debug(previous)
    return value, capsys.readouterr().err


@pytest.fixture
def matmul_calls(monkeypatch):
    """Counts np.matmul calls (the kernel helper's way to BLAS)."""
    calls = []
    real = np.matmul

    def spy(*args, **kwargs):
        calls.append(args[0].shape)
        return real(*args, **kwargs)

    monkeypatch.setattr(np, "matmul", spy)
    return calls


# ---- matmul-shaped reductions ----------------------------------------------------------------

def T(x):
    """The last two axes swapped, for a NumPy array or a lazytensor Tensor."""
    return x.swapaxes(-1, -2) if isinstance(x, np.ndarray) else x.transpose(-1, -2)


MATMULS = {
    "7x1000@1000x1023": ((7, 1000), (1000, 1023), lambda a, b: a @ b),
    "1023x7@7x13": ((1023, 7), (7, 13), lambda a, b: a @ b),
    "batched 3x7x1000@3x1000x13": ((3, 7, 1000), (3, 1000, 13), lambda a, b: a @ b),
    "broadcast 7x1000@3x1000x13": ((7, 1000), (3, 1000, 13), lambda a, b: a @ b),
    "q@k^T 2x3x7x64": ((2, 3, 7, 64), (2, 3, 13, 64), lambda q, k: q @ T(k)),
    "matrix@vector": ((1023, 7), (7,), lambda a, b: a @ b),
    "vector@matrix": ((1000,), (1000, 13), lambda a, b: a @ b),
    "x^T@w (strided operand)": ((1000, 7), (1000, 13), lambda a, b: T(a) @ b),
}


@pytest.mark.parametrize("name", list(MATMULS))
def test_numpy_matmul_shaped_reduction_calls_np_matmul(capsys, matmul_calls, name):
    sa, sb, fn = MATMULS[name]
    a, b = data(*sa), data(*sb)
    got, src = run(capsys, lambda: fn(t(a), t(b)))
    assert "matmul(" in src and "np.add.reduce" not in src, src
    assert matmul_calls, "the kernel did not reach np.matmul"
    np.testing.assert_allclose(got, fn(a, b), rtol=1e-5, atol=1e-5)


def test_numpy_matmul_with_epilogue_is_one_kernel_blocked_after_blas(capsys, matmul_calls):
    x, w, b = data(1021, 7), data(7, 1000), data(1000)
    got, src = run(capsys, lambda: (t(x) @ t(w) + t(b)).relu())
    assert src.count("def ") == 1 and "matmul(" in src and "for lo in range" in src, src
    assert len(matmul_calls) == 1
    np.testing.assert_allclose(got, np.maximum(x @ w + b, 0), rtol=1e-6, atol=1e-6)


def test_numpy_integer_matmul_is_exact(capsys):
    a = RNG.integers(-1000, 1000, (13, 1000)).astype(np.int64)
    b = RNG.integers(-1000, 1000, (1000, 7)).astype(np.int64)
    got, src = run(capsys, lambda: t(a) @ t(b))
    assert "matmul(" in src, src
    np.testing.assert_array_equal(got, a @ b)


def test_numpy_batched_dot_is_not_a_matmul(capsys):
    """sum(x * x) over the last axis has no matrix in it: multiply, then reduce."""
    x = data(1023, 13)
    got, src = run(capsys, lambda: (t(x) * t(x)).sum(-1))
    assert "matmul(" not in src and "np.add.reduce" in src, src
    np.testing.assert_allclose(got, (x * x).sum(-1), rtol=1e-6)


# ---- elementwise chains -----------------------------------------------------------------------

def chain(m, x):
    """The same ops, in the same order, for lazytensor and NumPy."""
    if m is np:
        return np.tanh(np.exp(x * f32(0.5) + f32(1)) * x - x * x) + f32(0.25)
    return ((x * 0.5 + 1).exp() * x - x * x).tanh() + 0.25


@pytest.mark.parametrize("shape", [(7,), (1000, 1023), (1 << 17,), (3, 1021, 7)])
def test_numpy_chain_writes_in_place_and_equals_numpy_exactly(capsys, shape):
    x = data(*shape)
    got, src = run(capsys, lambda: chain(lt, t(x)))
    assert "out=o0" in src and src.count("empty(") <= 2, src  # two scratch arrays, not one per op
    np.testing.assert_array_equal(got, chain(np, x))


def test_numpy_long_chain_runs_in_cache_sized_blocks(capsys):
    x = data(1021, 1000)
    got, src = run(capsys, lambda: chain(lt, t(x)))
    assert "for lo in range(0, 1021, " in src, src
    np.testing.assert_array_equal(got, chain(np, x))


def test_numpy_blocked_kernel_reads_a_padded_buffer_one_block_at_a_time(capsys):
    """A cat of a large computed value and a small buffer: the buffer is read padded to the
    whole output (no index array), which the block loop must slice like any view."""
    x, y = data(300, 700), data(5)
    got, src = run(capsys, lambda: lt.cat([(t(x) * 2 + 1).reshape(-1), t(y)]))
    assert "for lo in range(0, 210005, " in src and "padded_strided" in src, src
    np.testing.assert_array_equal(got, np.concatenate([(x * 2 + 1).reshape(-1), y]))


def test_numpy_short_kernels_are_not_blocked(capsys):
    x = data(1021, 1000)
    _, src = run(capsys, lambda: t(x) * 2)
    assert "for lo" not in src and "out=o0" in src, src
    _, src = run(capsys, lambda: t(x).sum(1))
    assert "for lo" not in src, src


def test_numpy_lazy_and_eager_bit_identical_when_blocked():
    """Fused and blocked, or one op at a time: the same float32 values (LAZY=0 vs 1)."""
    x = data(1021, 1000)

    def program():
        y = t(x)
        z = ((y * 2 + 1).exp() * y).tanh() - y.sigmoid() / (y.abs() + 1)
        return (z * z.T.T + (z > 0).float() * 3).numpy()

    with using("numpy", lazy=True):
        fused = program()
    with using("numpy", lazy=False):
        eager = program()
    np.testing.assert_array_equal(fused, eager)


def test_numpy_gather_inside_blocks(capsys):
    x = data(300, 1023)
    idx = RNG.integers(-300, 300, 4099)
    got, src = run(capsys, lambda: (t(x)[t(idx)] * 2 + 1).exp() - 3)
    assert "for lo" in src and "gather(" in src, src
    np.testing.assert_array_equal(got, np.exp(x[idx] * f32(2) + f32(1)) - f32(3))


def test_numpy_float16_chain_computes_in_float32():
    x = data(1021, 1000, dtype=np.float16)
    got = chain(lt, t(x)).numpy()
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got, chain(np, x.astype(np.float32)).astype(np.float16))


# ---- reductions -------------------------------------------------------------------------------

@pytest.mark.parametrize("shape,dim", [((1023, 13), 1), ((7, 1000), 0), ((1 << 17,), 0), ((3, 7, 1021), (0, 2))])
def test_numpy_sum_is_a_ufunc_reduce(capsys, shape, dim):
    x = data(*shape)
    got, src = run(capsys, lambda: t(x).sum(dim))
    assert "np.add.reduce" in src and "broadcast_to" not in src, src
    np.testing.assert_allclose(got, x.sum(dim), rtol=1e-5, atol=1e-5)


def test_numpy_max_propagates_nan():
    x = data(1023, 7)
    x[5, 3] = np.nan
    np.testing.assert_array_equal(t(x).amax(1).numpy(), x.max(1))


def test_numpy_sum_over_an_expanded_axis_scales():
    v = data(1021)
    got = t(v).reshape(1, 1021).expand(7, 1021).sum(0).numpy()
    np.testing.assert_allclose(got, 7 * v, rtol=1e-6)


def test_numpy_reduction_over_an_expanded_axis_beside_one_of_its_size():
    """The reduction variables of one reduction get axes of their own even where its body
    lacks one: a gather by rows broadcast along the columns checks its (2, 4, 4) indices with
    a max over three variables, two of size 4."""
    x = np.arange(32, dtype=np.float32).reshape(2, 4, 4)
    rows = np.array([[1, 0, 3, 2], [0, 0, 1, 1]])
    got = t(x).gather(1, t(rows).unsqueeze(-1).expand(2, 4, 4)).numpy()
    np.testing.assert_array_equal(got, np.take_along_axis(x, np.broadcast_to(rows[..., None], (2, 4, 4)), 1))


def test_numpy_prod_over_an_expanded_axis():
    v = data(13)
    got = t(v).reshape(1, 13).expand(3, 13).prod(0).numpy()
    np.testing.assert_allclose(got, v ** 3, rtol=1e-6)


def test_numpy_integer_sum_keeps_exact_values():
    x = RNG.integers(-2**20, 2**20, (1023, 1000)).astype(np.int32)
    np.testing.assert_array_equal(t(x).sum(1).numpy(), x.astype(np.int64).sum(1))


def test_numpy_softmax_and_layer_norm_blocked():
    x, w, b = data(1021, 1023) * 4, data(1023), data(1023)
    e = np.exp(x - x.max(-1, keepdims=True))
    np.testing.assert_allclose(t(x).softmax(-1).numpy(), e / e.sum(-1, keepdims=True), rtol=1e-5, atol=1e-7)
    mu = x.mean(-1, keepdims=True)
    ref = (x - mu) / np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + 1e-5) * w + b
    np.testing.assert_allclose(F.layer_norm(t(x), (1023,), t(w), t(b)).numpy(), ref, rtol=1e-4, atol=1e-5)


# ---- select, masks, shared work -----------------------------------------------------------

def specials(*shape):
    """Random floats with NaN, infinities and signed zeros sprinkled in."""
    x = data(*shape)
    flat = x.reshape(-1)
    for i, v in enumerate([np.nan, np.inf, -np.inf, 0.0, -0.0]):
        flat[i::97] = v
    return x


def test_numpy_where_selects_the_same_bits_as_np_where(capsys):
    x, y = specials(1021, 1000), specials(1021, 1000)[::-1].copy()
    got, src = run(capsys, lambda: lt.where(t(x) > 0.1, t(x), t(y)))
    assert "where_into(" in src, src
    np.testing.assert_array_equal(got.view(np.int32), np.where(x > f32(0.1), x, y).view(np.int32))


def test_numpy_relu_mask_skips_the_round_trip_through_float(capsys):
    x = specials(1021, 7)
    got, src = run(capsys, lambda: t(x).relu())
    assert "cast(" not in src, src
    ref = np.where(x <= 0, f32(0), x)
    np.testing.assert_array_equal(got.view(np.int32), ref.view(np.int32))


def test_numpy_softmax_computes_exp_once_per_element(capsys):
    """The row sum and the quotient read exp(x - max) along different axes: one exp."""
    x = data(1021, 1023) * 4
    got, src = run(capsys, lambda: t(x).softmax(-1))
    assert src.count("op_exp(") == 1, src
    e = np.exp(x - x.max(-1, keepdims=True))
    np.testing.assert_allclose(got, e / e.sum(-1, keepdims=True), rtol=1e-5, atol=1e-7)


def test_numpy_echo_read_transposed_is_never_overwritten_in_place():
    """exp(x) and exp(x^T) written so that one is the other on swapped axes share one exp;
    adding them must not write over the first while reading the second transposed."""
    from lazytensor.codegen import render_numpy, uops as S
    from lazytensor.codegen.lower import LoweredKernel
    from lazytensor.ir.dtype import float32
    from lazytensor.runtime.numpy_kernels import NAMESPACE

    g0, g1, g2 = S.var("g0", 64), S.var("g1", 33), S.var("g2", 33)
    mul = lambda a, k: S.u("mul", S.INDEX, (a, S.lit(k)))  # noqa: E731  (unsimplified on purpose)
    add = lambda a, b: S.u("add", S.INDEX, (a, b))  # noqa: E731
    load = lambda i, j: S.u("load", float32, (add(add(mul(g0, 1089), mul(i, 33)), j), S.TRUE), 1)  # noqa: E731
    ex, ex_t = S.u("exp", float32, (load(g1, g2),)), S.u("exp", float32, (load(g2, g1),))
    total = S.u("mul", float32, (S.u("add", float32, (ex, ex_t)), S.lit(2.0, float32)))
    kernel = LoweredKernel((64, 33, 33), [float32], (g0, g1, g2), [total], input_dtypes=[float32])
    name, src = render_numpy.render(kernel)
    assert src.count("op_exp(") == 1 and ".transpose(" in src, src
    namespace = dict(NAMESPACE)
    exec(src, namespace)
    x, out = data(64, 33, 33), np.empty(64 * 33 * 33, np.float32)
    namespace[name]([out, x.reshape(-1)], [])
    e = np.exp(x)
    np.testing.assert_array_equal(out.reshape(x.shape), (e + e.transpose(0, 2, 1)) * f32(2))


# ---- windows and padding: strided views, no index arrays -------------------------------------

def _np_conv2d(x, w, padding):
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    windows = np.lib.stride_tricks.sliding_window_view(xp, w.shape[2:], axis=(2, 3))  # n c h w kh kw
    return np.einsum("nchwij,ocij->nohw", windows, w)


@pytest.mark.parametrize("padding", [0, 1, 2])
def test_numpy_conv2d_reads_its_windows_as_views(capsys, padding):
    x, w = data(2, 5, 9, 11), data(7, 5, 3, 3)
    got, source = run(capsys, lambda: F.conv2d(t(x), t(w), padding=padding))
    assert "gather(" not in source
    np.testing.assert_allclose(got, _np_conv2d(x, w, padding), rtol=1e-5, atol=1e-5)


def test_numpy_constant_pad_selects_its_fill_over_a_view(capsys):
    x = data(4, 6)
    got, source = run(capsys, lambda: F.pad(t(x), (2, 1, 1, 3), value=-7.5) * 2)
    assert "padded_strided(" in source and "gather(" not in source
    np.testing.assert_array_equal(got, np.pad(x, ((1, 3), (2, 1)), constant_values=-7.5) * 2)


def test_numpy_masked_load_read_elsewhere_keeps_its_zeros(capsys):
    x = data(5, 8)
    got, source = run(capsys, lambda: F.pad(t(x), (1, 1)).cumsum(-1))
    expected = np.cumsum(np.pad(x, ((0, 0), (1, 1))), -1)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
