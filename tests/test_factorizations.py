"""The factorisations and solvers built from lazy ops (lazytensor/triangular.py, lu.py,
matrix_exp.py, elimination.py's *_ex, linalg.py's tensor and Householder products) against
torch: values and gradients on every device and LAZY mode, LAPACK's info and pivots, and
the errors torch raises."""
import numpy as np
import pytest
import torch

import lazytensor as lt
from helpers import check_cases, check_dtype_table, not_eager_on_cl, using

RNG = np.random.default_rng(11)
A = RNG.standard_normal((2, 3, 3)) + 2 * np.eye(3)  # batched, well conditioned
B = RNG.standard_normal((2, 3, 2))
SPD = A @ A.transpose(0, 2, 1) + np.eye(3)
TALL = RNG.standard_normal((2, 4, 3))
TAU = RNG.standard_normal((2, 2))
FOUR = RNG.standard_normal((4, 4)) + 3 * np.eye(4)  # reshaped into tensors for tensorinv, tensorsolve
WEIGHTS = RNG.standard_normal(64)


def _lower_factor(m, spd, upper):
    L = m.linalg.cholesky(spd)
    return L.mT if upper else L


CASES = {
    "solve_triangular_upper": (lambda m, a, b: m.linalg.solve_triangular(a, b, upper=True), A, B),
    "solve_triangular_lower_unit": (
        lambda m, a, b: m.linalg.solve_triangular(a, b, upper=False, unitriangular=True), A, B),
    "solve_triangular_on_the_right": (lambda m, a, b: m.linalg.solve_triangular(a, b.mT, upper=False, left=False),
                                      A, B),
    "solve_triangular_broadcast_batch": (lambda m, a, b: m.linalg.solve_triangular(a[0], b, upper=True), A, B),
    "triangular_solve_transposed": (lambda m, a, b: m.triangular_solve(b, a, transpose=True), A, B),
    "cholesky_solve": (lambda m, s, b: m.cholesky_solve(b, _lower_factor(m, s, False)), SPD, B),
    "cholesky_solve_upper": (lambda m, s, b: b.cholesky_solve(_lower_factor(m, s, True), upper=True), SPD, B),
    "cholesky_inverse": (lambda m, s: m.cholesky_inverse(_lower_factor(m, s, False)), SPD),
    "lu_factor": (lambda m, a: m.linalg.lu_factor(a).LU, A),
    "lu_of_a_tall_matrix": (lambda m, a: tuple(m.linalg.lu(a)), TALL),
    "lu_of_a_wide_matrix": (lambda m, a: tuple(m.linalg.lu(a.mT)), TALL),
    "lu_unpack": (lambda m, a: tuple(m.lu_unpack(*m.linalg.lu_factor(a))), A),
    "lu_solve": (lambda m, a, b: m.linalg.lu_solve(*m.linalg.lu_factor(a), b), A, B),
    "lu_solve_adjoint": (lambda m, a, b: m.linalg.lu_solve(*m.linalg.lu_factor(a), b, adjoint=True), A, B),
    "lu_solve_on_the_right": (lambda m, a, b: m.linalg.lu_solve(*m.linalg.lu_factor(a), b.mT, left=False), A, B),
    "solve_ex": (lambda m, a, b: m.linalg.solve_ex(a, b).result, A, B),
    "inv_ex": (lambda m, a: m.linalg.inv_ex(a).inverse, A),
    "cholesky_ex": (lambda m, s: m.linalg.cholesky_ex(s, upper=True).L, SPD),
    "matrix_exp": (lambda m, a: m.linalg.matrix_exp(a), A),
    "matrix_exp_of_a_large_norm": (lambda m, a: (a * 3).matrix_exp(), A),
    "matrix_exp_top_level": (lambda m, a: m.matrix_exp(a[0] / 4), A),
    "tensorinv": (lambda m, a: m.linalg.tensorinv(a.reshape(4, 2, 2), ind=1), FOUR),
    "tensorsolve": (lambda m, a, b: m.linalg.tensorsolve(a.reshape(2, 2, 4), b), FOUR, B[:, :2, 0]),
    "tensorsolve_dims": (lambda m, a, b: m.linalg.tensorsolve(a.reshape(4, 2, 2), b, dims=(0,)), FOUR,
                         B[:, :2, 0]),
    "householder_product": (lambda m, a, t: m.linalg.householder_product(a, t), TALL, TAU),
}


def _run(m, fn, arrays, dtype):
    inputs = [m.tensor(x, dtype=dtype, requires_grad=True) for x in arrays]
    out = fn(m, *inputs)
    outs = out if isinstance(out, tuple) else (out,)
    loss = sum((o * m.tensor(WEIGHTS[:o.numel()].reshape(tuple(o.shape)), dtype=dtype)).sum() for o in outs)
    loss.backward()
    return [o.detach().numpy() for o in outs] + [x.grad.numpy() for x in inputs]


# OpenCL compiles the kernels of every case's forward and backward, and float32 runs the same
# code as float64: a few cases cover them
FEW = ("solve_triangular_upper", "cholesky_solve", "lu_of_a_tall_matrix", "lu_solve", "inv_ex", "matrix_exp",
         "householder_product")


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-9), ("float32", 2e-4)])
def test_values_and_gradients_match_torch(env, dtype, tol):
    check_dtype_table(env, dtype, tol, CASES, FEW, _run)


@pytest.fixture(autouse=True)
def _numpy_by_default():
    """The tests without `env` check conventions and errors, the same on every device: on
    numpy, which compiles nothing."""
    with using("numpy", True):
        yield


def test_pivots_and_info_are_lapacks():
    tall = lt.tensor(TALL)
    LU, pivots, info = lt.linalg.lu_factor_ex(tall)
    want = torch.linalg.lu_factor_ex(torch.tensor(TALL))
    assert pivots.dtype == lt.int32 and info.dtype == lt.int32
    assert pivots.tolist() == want.pivots.tolist() and info.tolist() == [0, 0]
    singular = lt.tensor([[[1.0, 2.0], [2.0, 4.0]], [[1.0, 0.0], [0.0, 1.0]]])
    assert lt.linalg.lu_factor_ex(singular).info.tolist() == [2, 0]
    assert lt.linalg.inv_ex(singular).info.tolist() == [2, 0]
    assert lt.linalg.solve_ex(singular, lt.ones(2, 2)).info.tolist() == [2, 0]
    indefinite = lt.tensor([[4.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, -1.0]])
    assert lt.linalg.cholesky_ex(indefinite).info.item() == 2


def test_the_unread_triangle_may_hold_anything():
    a = np.triu(A[0]) + np.tril(np.full((3, 3), np.nan), -1)
    x = lt.linalg.solve_triangular(lt.tensor(a), lt.tensor(B[0]), upper=True)
    np.testing.assert_allclose(x.numpy(), np.linalg.solve(np.triu(A[0]), B[0]), atol=1e-12)


def test_a_zero_on_the_diagonal_gives_inf_not_an_error():
    x = lt.linalg.solve_triangular(lt.zeros(2, 2), lt.ones(2, 1), upper=True)
    want = torch.linalg.solve_triangular(torch.zeros(2, 2), torch.ones(2, 1), upper=True)
    np.testing.assert_array_equal(x.numpy(), want.numpy())


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_matrix_exp_of_a_16_bit_matrix_is_the_exact_one_rounded(dtype):
    """Compared with float64 (torch's own 16-bit matrix_exp on the CPU is far off)."""
    got = lt.linalg.matrix_exp(lt.tensor(A / 4, dtype=getattr(lt, dtype)))
    assert got.dtype == getattr(lt, dtype)
    np.testing.assert_allclose(got.float().numpy(), torch.linalg.matrix_exp(torch.tensor(A / 4)).numpy(), rtol=2e-2)


def test_empty_and_batched_shapes():
    assert tuple(lt.linalg.solve_triangular(lt.zeros(0, 0), lt.zeros(0, 2), upper=True).shape) == (0, 2)
    assert [tuple(t.shape) for t in lt.linalg.lu(lt.zeros(3, 0, 2))] == [(3, 0, 0), (3, 0, 0), (3, 0, 2)]
    assert tuple(lt.linalg.matrix_exp(lt.zeros(2, 0, 0)).shape) == (2, 0, 0)
    assert lt.linalg.inv_ex(lt.zeros(0, 0)).info.item() == 0


@pytest.mark.parametrize("call, error, message", [
    (lambda: lt.linalg.inv(lt.zeros(2, 2)).numpy(), lt.linalg.LinAlgError, r"linalg.inv: The diagonal element 1"),
    (lambda: lt.linalg.solve(lt.zeros(2, 2), lt.ones(2)).numpy(), lt.linalg.LinAlgError, r"linalg.solve: .*singular"),
    (lambda: lt.linalg.cholesky(-lt.eye(2)).numpy(), lt.linalg.LinAlgError, r"linalg.cholesky: .*not positive-def"),
    (lambda: lt.linalg.inv_ex(lt.zeros(2, 2), check_errors=True).inverse.numpy(), lt.linalg.LinAlgError,
     r"linalg.inv_ex: The diagonal element 1 is zero"),
    (lambda: lt.linalg.cholesky_ex(-lt.eye(2), check_errors=True).L.numpy(), lt.linalg.LinAlgError,
     r"linalg.cholesky_ex: .*not positive-definite"),
    (lambda: lt.linalg.lu_factor(lt.zeros(2, 2)).LU.numpy(), lt.linalg.LinAlgError,
     r"torch.linalg.lu_factor: U\[1,1\] is zero"),
    (lambda: lt.linalg.lu_factor_ex(lt.zeros(2, 2), check_errors=True).LU.numpy(), lt.linalg.LinAlgError,
     r"torch.linalg.lu_factor_ex: U\[1,1\] is zero"),
    (lambda: lt.linalg.lu_factor(lt.eye(2), pivot=False), RuntimeError, r"LU without pivoting is not implemented"),
    (lambda: lt.linalg.lu_factor(lt.ones(3)), RuntimeError, r"linalg.lu_factor: The input tensor A must have at least"),
    (lambda: lt.linalg.lu_solve(*lt.linalg.lu_factor(lt.eye(2)), lt.ones(2)), RuntimeError,
     r"linalg.lu_solve: The input tensor B must have at least 2 dimensions"),
    (lambda: lt.linalg.solve_triangular(lt.eye(3), lt.ones(2, 1), upper=True), RuntimeError,
     r"solve_triangular: Incompatible shapes.*\(3, 3\) and \(2, 1\)"),
    (lambda: lt.linalg.solve_triangular(lt.eye(2), lt.ones(2, 1, dtype=lt.float64), upper=True), RuntimeError,
     r"solve_triangular: Expected A and B to have the same dtype.*float32.*float64"),
    (lambda: lt.linalg.solve_triangular(lt.ones(2, 3), lt.ones(2, 1), upper=True), RuntimeError,
     r"solve_triangular: A must be batches of square matrices.*\(2, 3\)"),
    (lambda: lt.linalg.matrix_exp(lt.ones(2, 3)), RuntimeError, r"linalg.matrix_exp: A must be batches of square"),
    (lambda: lt.linalg.matrix_exp(lt.eye(2, dtype=lt.int64)), RuntimeError, r"linalg.matrix_exp: .*int64"),
    (lambda: lt.linalg.matrix_exp(lt.eye(2) * 1e9).numpy(), RuntimeError, r"matrix_exp: .*needs \d+ squarings, more"),
    (lambda: lt.linalg.tensorinv(lt.ones(2, 3), 1), RuntimeError, r"linalg.tensorinv: .*3 != 2"),
    (lambda: lt.linalg.tensorsolve(lt.ones(2, 3), lt.ones(2)), RuntimeError, r"linalg.tensorsolve: .*\(2, 3\)"),
    (lambda: lt.linalg.householder_product(lt.ones(2, 3), lt.ones(1)), RuntimeError,
     r"householder_product: expected A \(\.\.\., m, n\) with m >= n"),
])
def test_bad_input_raises(call, error, message):
    with pytest.raises(error, match=message):
        call()
