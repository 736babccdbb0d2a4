"""The decompositions LAPACK computes on the host (lazytensor/spectral.py: svd, eigh, qr) and
what the singular values give (pseudo_inverse.py, matrix_norms.py), against torch: values
(compared where they are unique: reconstructions, singular values, sign-normalised factors)
and gradients of losses that do not depend on the factors' signs, on every device and LAZY
mode; bad input raises at the call, a non-finite one when LAPACK fails, a jitted call at once."""
import numpy as np
import pytest
import torch

import lazytensor as lt
from helpers import check_cases, check_dtype_table, not_eager_on_cl, using

RNG = np.random.default_rng(7)
TALL = RNG.standard_normal((2, 4, 3))  # batched
WIDE = RNG.standard_normal((3, 5))
SQUARE = RNG.standard_normal((2, 3, 3))
SYMMETRIC = SQUARE + SQUARE.transpose(0, 2, 1)
RHS = RNG.standard_normal((2, 4, 2))
WEIGHTS = RNG.standard_normal(64)


def _weighted(m, t):
    """A fixed weighted sum of t's entries: a loss whose gradient reaches every entry."""
    return (t * m.tensor(WEIGHTS[:t.numel()].reshape(tuple(t.shape)))).sum()


def _rank_one(m, U, Vh):
    """The first singular (or eigen) pair's outer product: the same whatever the pair's sign."""
    return U[..., :, :1] @ Vh[..., :1, :]


def _positive_diagonal(m, Q, R):
    """Q and R with R's diagonal made positive: QR is unique up to those signs."""
    k = min(R.shape[-2], R.shape[-1])
    signs = R.diagonal(0, -2, -1)[..., :k].sign()
    return Q[..., :, :k] * signs.unsqueeze(-2), R[..., :k, :] * signs.unsqueeze(-1)


def _svd_parts(m, a, full):
    U, S, Vh = m.linalg.svd(a, full_matrices=full)
    k = S.shape[-1]
    return (U[..., :, :k] * S.unsqueeze(-2)) @ Vh[..., :k, :], S, _rank_one(m, U, Vh)


def _eigh_parts(m, a, uplo):
    L, V = m.linalg.eigh(a, UPLO=uplo)
    return L, (V * L.exp().unsqueeze(-2)) @ V.mT, _rank_one(m, V, V.mT)


CASES = {
    "svd_tall": (lambda m, a: _svd_parts(m, a, False), TALL),
    "svd_tall_full_matrices": (lambda m, a: _svd_parts(m, a, True), TALL),
    "svd_wide": (lambda m, a: _svd_parts(m, a, False), WIDE),
    "svd_wide_full_matrices": (lambda m, a: _svd_parts(m, a, True), WIDE),
    "svd_transposed_input": (lambda m, a: _svd_parts(m, a.mT, False), TALL),
    "svdvals": (lambda m, a: m.linalg.svdvals(a), TALL),
    "svd_old_api": (lambda m, a: (lambda r: (r.S, _rank_one(m, r.U, r.V.mT)))(m.svd(a)), TALL),
    "eigh_lower": (lambda m, a: _eigh_parts(m, a, "L"), SYMMETRIC),
    "eigh_reads_one_triangle": (lambda m, a: _eigh_parts(m, a.triu() + 5 * a.tril(-1), "U"), SYMMETRIC),
    "eigvalsh": (lambda m, a: m.linalg.eigvalsh(a), SYMMETRIC),
    "qr_tall": (lambda m, a: _positive_diagonal(m, *m.linalg.qr(a)), TALL),
    "qr_wide": (lambda m, a: _positive_diagonal(m, *m.linalg.qr(a)), WIDE),
    "qr_complete_square": (lambda m, a: _positive_diagonal(m, *m.linalg.qr(a, mode="complete")), SQUARE),
    "qr_old_api": (lambda m, a: _positive_diagonal(m, *m.qr(a)), TALL),
    "pinv": (lambda m, a: m.linalg.pinv(a), TALL),
    "pinv_hermitian": (lambda m, a: m.linalg.pinv(a, hermitian=True), SYMMETRIC),
    "pinverse_method": (lambda m, a: a.pinverse(), WIDE),
    "lstsq": (lambda m, a, b: m.linalg.lstsq(a, b).solution, TALL, RHS),
    "lstsq_gelsd_extras": (lambda m, a, b: tuple(m.linalg.lstsq(a, b, driver="gelsd"))[:2], TALL, RHS),
    "cond": (lambda m, a: m.linalg.cond(a), SQUARE),
    "matrix_norm_nuc": (lambda m, a: m.linalg.matrix_norm(a, "nuc"), TALL),
    "matrix_norm_2_over_dims": (lambda m, a: m.linalg.matrix_norm(a, 2, dim=(0, 2), keepdim=True), TALL),
    "matrix_norm_minus_2": (lambda m, a: m.linalg.matrix_norm(a, -2), TALL),
    "norm_nuc": (lambda m, a: m.linalg.norm(a, "nuc"), WIDE),
    "nuclear_norm": (lambda m, a: m.nuclear_norm(a), WIDE),
    "torch_norm_nuc": (lambda m, a: m.norm(a, "nuc", dim=(0, 2), keepdim=True), TALL),
    "norm_method_nuc": (lambda m, a: a.norm("nuc"), WIDE),
}


def _run(m, fn, arrays, dtype):
    inputs = [m.tensor(a, dtype=dtype, requires_grad=True) for a in arrays]
    out = fn(m, *inputs)
    outs = out if isinstance(out, tuple) else (out,)
    sum(_weighted(m, o) for o in outs).backward()
    return [o.detach().numpy() for o in outs] + [x.grad.numpy() for x in inputs]


# OpenCL compiles the kernels of every case's forward and backward, and float32 runs the same
# code as float64: a few cases cover them
FEW = ("svd_tall_full_matrices", "eigh_lower", "qr_wide", "pinv")


@pytest.fixture(autouse=True)
def _numpy_by_default():
    """The tests without `env` check what is the same on every device (shapes, conventions,
    errors): on numpy, which compiles nothing."""
    with using("numpy", True):
        yield


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-9), ("float32", 2e-4)])
def test_values_and_gradients_match_torch(env, dtype, tol):
    check_dtype_table(env, dtype, tol, CASES, FEW, _run)


@pytest.mark.parametrize("ord", [None, 2, -2, "fro", "nuc", 1, -1, float("inf"), float("-inf")])
def test_cond_matches_torch(ord):
    np.testing.assert_allclose(lt.linalg.cond(lt.tensor(SQUARE), ord).numpy(),
                               torch.linalg.cond(torch.tensor(SQUARE), ord).numpy(), rtol=1e-10)


def test_cond_of_a_singular_matrix_is_inf():
    assert lt.linalg.cond(lt.ones(2, 3, 3, dtype=lt.float64), "fro").tolist() == [float("inf")] * 2


def test_factors_are_orthonormal_and_rebuild_the_input():
    a = lt.tensor(TALL)
    U, S, Vh = lt.linalg.svd(a)  # full matrices: U is 4 x 4
    assert tuple(U.shape) == (2, 4, 4) and tuple(Vh.shape) == (2, 3, 3)
    np.testing.assert_allclose((U.mT @ U).numpy(), np.broadcast_to(np.eye(4), (2, 4, 4)), atol=1e-12)
    assert (np.diff(S.numpy(), axis=-1) <= 0).all()  # descending
    L, V = lt.linalg.eigh(lt.tensor(SYMMETRIC))
    assert (np.diff(L.numpy(), axis=-1) >= 0).all()  # ascending
    np.testing.assert_allclose(((V * L.unsqueeze(-2)) @ V.mT).numpy(), SYMMETRIC, atol=1e-12)
    Q, R = lt.linalg.qr(a, mode="complete")
    np.testing.assert_allclose((Q @ R).numpy(), TALL, atol=1e-12)
    np.testing.assert_array_equal(R.numpy(), np.triu(R.numpy()))


def test_rank_and_extras_follow_the_driver():
    singular = np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]])
    assert lt.linalg.matrix_rank(lt.tensor(singular)).item() == 1
    assert lt.linalg.matrix_rank(lt.tensor(TALL), atol=10.0).tolist() == [0, 0]
    assert lt.linalg.matrix_rank(lt.tensor(TALL), hermitian=False, rtol=0.0).dtype == lt.int64
    for driver in ("gels", "gelsy", "gelsd", "gelss"):
        got = lt.linalg.lstsq(lt.tensor(singular), lt.ones(3, 1, dtype=lt.float64), driver=driver)
        want = torch.linalg.lstsq(torch.tensor(singular), torch.ones(3, 1, dtype=torch.float64), driver=driver)
        for g, w in zip(got, want):
            assert tuple(g.shape) == tuple(w.shape), driver
        if driver != "gels":  # gels assumes full rank
            np.testing.assert_allclose(got.solution.numpy(), want.solution.numpy(), atol=1e-12)


def test_empty_matrices_give_empty_factors():
    U, S, Vh = lt.linalg.svd(lt.zeros(0, 3))
    assert [tuple(t.shape) for t in (U, S, Vh)] == [(0, 0), (0,), (3, 3)]
    assert [tuple(t.shape) for t in lt.linalg.eigh(lt.zeros(2, 0, 0))] == [(2, 0), (2, 0, 0)]
    assert tuple(lt.linalg.pinv(lt.zeros(0, 3)).shape) == (3, 0)
    assert lt.linalg.matrix_norm(lt.zeros(0, 3), "nuc").item() == 0.0
    assert lt.linalg.matrix_norm(lt.zeros(0, 3), 2).item() == 0.0
    assert tuple(lt.linalg.qr(lt.zeros(3, 0))[0].shape) == (3, 0)


def test_a_non_finite_input_raises_linalg_error():
    with pytest.raises(lt.linalg.LinAlgError, match="linalg.svd: The algorithm failed to converge"):
        lt.linalg.svd(lt.full((2, 2), float("nan")))


def test_inside_jit_the_host_decomposition_raises():
    def spectrum(x):
        return lt.linalg.svdvals(x * 2)

    with pytest.raises(RuntimeError, match=r"lt.jit: linalg.svd \(a LAPACK call on the host\).*'.*spectrum'"):
        lt.jit(spectrum)(lt.ones(3, 3))


def test_qr_backward_refuses_what_torch_refuses():
    a = lt.tensor(TALL, requires_grad=True)
    with pytest.raises(RuntimeError, match="not differentiable when mode='complete' and nrows > ncols"):
        lt.linalg.qr(a, mode="complete").Q.sum().backward()
    with pytest.raises(RuntimeError, match="depends on Q, which is not computed when mode='r'"):
        lt.linalg.qr(a, mode="r").R.sum().backward()


@pytest.mark.parametrize("call, error, message", [
    (lambda: lt.linalg.svd(lt.ones(2, 2, dtype=lt.int64)), RuntimeError, r"linalg.svd: Expected a float.*int64"),
    (lambda: lt.linalg.svd(lt.ones(3)), RuntimeError, r"linalg.svd: .*at least 2 dimensions.*\(3,\)"),
    (lambda: lt.linalg.eigh(lt.ones(2, 3)), RuntimeError, r"linalg.eigh: A must be batches of square.*2 by 3"),
    (lambda: lt.linalg.eigh(lt.eye(2), UPLO="X"), RuntimeError, r"linalg.eigh: Expected UPLO.*'X'"),
    (lambda: lt.linalg.qr(lt.eye(2), mode="x"), RuntimeError, r"qr received unrecognized mode 'x'"),
    (lambda: lt.linalg.lstsq(lt.eye(2), lt.ones(2, 1), driver="x"), RuntimeError, r"`driver` should be one of"),
    (lambda: lt.linalg.lstsq(lt.eye(2), lt.ones(3, 1)), RuntimeError, r"lstsq: input.size\(-2\) should match"),
    (lambda: lt.linalg.lstsq(lt.eye(2), lt.ones(3, 2, 1)), RuntimeError, r"lstsq: input.dim\(\) must be greater"),
    (lambda: lt.linalg.lstsq(lt.eye(2), lt.ones(2, 1, dtype=lt.float64)), RuntimeError,
     r"lstsq: Expected input and other to have the same dtype.*float32.*float64"),
    (lambda: lt.linalg.cond(lt.ones(2, 3), "fro"), RuntimeError, r"linalg.cond\(ord=fro\): A must be batches of sq"),
    (lambda: lt.linalg.matrix_norm(lt.eye(2), 3), RuntimeError, r"linalg.matrix_norm: Order 3 not supported"),
    (lambda: lt.norm(lt.ones(2, 3, 4), "nuc"), RuntimeError, r"linalg.matrix_norm: dim must be a 2-tuple. Got 0 1 2"),
    (lambda: lt.linalg.eig(lt.eye(2)), NotImplementedError, r"linalg.eig: .*complex.*use linalg.eigh"),
    (lambda: lt.linalg.eigvals(lt.eye(2)), NotImplementedError, r"linalg.eigvals: .*complex"),
])
def test_bad_input_raises_at_the_call(call, error, message):
    with pytest.raises(error, match=message):
        call()
