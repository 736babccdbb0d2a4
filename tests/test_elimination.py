"""Linear systems (lazytensor/elimination.py): solve, inv, det, slogdet, logdet and cholesky
against torch's LAPACK results, values and gradients, on every device and LAZY mode; a
singular or indefinite matrix raises as PyTorch does, when a value is read."""
import numpy as np
import pytest
import torch

import lazytensor as lt
from helpers import check_cases, not_eager_on_cl

pytestmark = pytest.mark.usefixtures("env")

RNG = np.random.default_rng(3)
A = (RNG.standard_normal((2, 4, 4)) + 2 * np.eye(4)).astype(np.float32)  # batched, well conditioned
B = RNG.standard_normal((2, 4, 3)).astype(np.float32)
SPD = (A @ A.transpose(0, 2, 1) + np.eye(4)).astype(np.float32)  # symmetric positive-definite
WEIGHTS = RNG.standard_normal((2, 4, 4)).astype(np.float32)


def _run(m, fn, *arrays):
    """fn's outputs and the gradients of a weighted sum of its float outputs."""
    inputs = [m.tensor(a, requires_grad=True) for a in arrays]
    out = fn(m, *inputs)
    outs = tuple(out) if isinstance(out, tuple) else (out,)
    loss = sum((o * m.tensor(WEIGHTS.reshape(-1)[:o.numel()].reshape(tuple(o.shape)))).sum()
               for o in outs if o.dtype == m.float32)
    loss.backward()
    return [o.detach().numpy() for o in outs], [x.grad.numpy() for x in inputs]


SOLVERS = {
    "inv": (lambda m, a: m.linalg.inv(a), A),
    "inverse_method": (lambda m, a: a[0].inverse(), A),
    "solve": (lambda m, a, b: m.linalg.solve(a, b), A, B),
    "solve_a_vector": (lambda m, a, b: m.linalg.solve(a, b[..., 0]), A, B),
    "solve_broadcast_batch": (lambda m, a, b: m.linalg.solve(a[0], b), A, B),
    "solve_on_the_right": (lambda m, a, b: m.linalg.solve(a, b.mT, left=False), A, B),
    "matrix_power_negative": (lambda m, a: m.linalg.matrix_power(a, -2), A),
    "det": (lambda m, a: m.linalg.det(a), A),
    "det_method": (lambda m, a: (a[1] * -1).det(), A),
    "slogdet": (lambda m, a: m.linalg.slogdet(a - 3 * m.eye(4)), A),
    "logdet": (lambda m, a: m.logdet(a), SPD),
    "cholesky": (lambda m, a: m.linalg.cholesky(a), SPD),
    "cholesky_upper": (lambda m, a: m.linalg.cholesky(a[1], upper=True), SPD),
    "cholesky_reads_the_lower_triangle": (lambda m, a: m.linalg.cholesky(a.tril() + 5 * a.triu(1)), SPD),
}


def test_solvers_match_torch_values_and_gradients(env):
    not_eager_on_cl(env)
    def case(spec):
        fn, *arrays = spec
        want, got = _run(torch, fn, *arrays), _run(lt, fn, *arrays)
        for w, g in zip(want[0] + want[1], got[0] + got[1]):
            np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-5)
    check_cases(SOLVERS, case)


@pytest.mark.parametrize("singular", [[[1.0, 2.0], [2.0, 4.0]], [[1.0] * 3] * 3, [[0.0, 0.0], [0.0, 0.0]]])
def test_a_determinant_of_a_singular_matrix_is_zero_and_its_log_minus_inf(singular):
    """A zero pivot ends nothing in NaN: the determinant is 0, its log -inf, its gradient finite."""
    a = lt.tensor(singular, requires_grad=True)
    assert lt.linalg.det(a).item() == 0.0 and lt.logdet(a).item() == -np.inf
    sign, logabs = lt.linalg.slogdet(a)
    assert sign.item() == 0.0 and logabs.item() == -np.inf
    lt.linalg.det(a).backward()
    assert np.isfinite(a.grad.numpy()).all()


def test_an_empty_matrix_has_determinant_1_and_empty_factors():
    assert lt.linalg.det(lt.zeros(0, 0)).item() == 1.0
    assert [v.item() for v in lt.linalg.slogdet(lt.zeros(0, 0))] == [1.0, 0.0]
    assert lt.linalg.inv(lt.zeros(2, 0, 0)).shape == (2, 0, 0)
    assert lt.linalg.solve(lt.zeros(0, 0), lt.zeros(0, 3)).shape == (0, 3)
    assert lt.linalg.cholesky(lt.zeros(0, 0)).shape == (0, 0)


@pytest.mark.parametrize("op", ["inv", "solve"])
def test_a_singular_matrix_raises_when_the_result_is_read(op):
    singular = lt.tensor([[1.0, 2.0], [2.0, 4.0]])
    with pytest.raises(RuntimeError, match=rf"linalg.{op}: The diagonal element 2 is zero.*singular"):
        (lt.linalg.inv(singular) if op == "inv" else lt.linalg.solve(singular, lt.ones(2))).numpy()


def test_an_indefinite_matrix_raises_naming_the_first_failing_minor():
    indefinite = lt.tensor([[4.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, -1.0]])
    with pytest.raises(RuntimeError, match=r"linalg.cholesky: .*not positive-definite \(the leading minor of "
                                           r"order 2 is not positive-definite\)"):
        lt.linalg.cholesky(indefinite).numpy()


@pytest.mark.parametrize("call, message", [
    (lambda: lt.linalg.inv(lt.ones(2, 3)), r"linalg.inv: A must be batches of square matrices.*\(2, 3\)"),
    (lambda: lt.linalg.det(lt.ones(3, 3, dtype=lt.int64)), r"linalg.det: Expected a floating point tensor.*int64"),
    (lambda: lt.linalg.solve(lt.eye(3), lt.ones(2, 1)), r"linalg.solve: Incompatible shapes.*\(3, 3\) and \(2, 1\)"),
])
def test_bad_shapes_and_dtypes_raise_at_the_call(call, message):
    with pytest.raises(RuntimeError, match=message):
        call()
