"""Special functions (lazytensor/special_functions.py) and the `lt.special` namespace: values
against torch's on every device and LAZY mode, their gradients, and their edges (poles,
infinities, NaN)."""
import numpy as np
import pytest
import torch

import lazytensor as lt
from helpers import check, check_cases
from test_autograd_ops import grad_compare

pytestmark = pytest.mark.usefixtures("env")

GRID = np.concatenate([np.linspace(-6.65, 11.35, 61), [1e-3, 0.5, 1.0001, 1.9999, 2.5, 4.5, 6.0, 30.0, 1e4]]).astype(np.float32)
POSITIVE = GRID[GRID > 0]
NEGATIVE = GRID[GRID < 0]
UNIT = np.concatenate([np.linspace(-0.999, 0.999, 41), [1e-30, -0.5, 0.9999, 1 - 6e-8]]).astype(np.float32)
PROBABILITIES = np.array([1e-30, 1e-10, 1e-4, 0.02, 0.3, 0.5, 0.7, 0.98, 1 - 6e-8], np.float32)


def _against_float64(lt_fn, torch_fn, x, rtol, atol):
    """lazytensor's float32 result against torch's float64 one at the same float32 inputs."""
    got = lt_fn(lt.tensor(x))
    assert got.dtype == lt.float32
    np.testing.assert_allclose(got.numpy().astype(np.float64), torch_fn(torch.tensor(x, dtype=torch.float64)).numpy(),
                               rtol=rtol, atol=atol, equal_nan=True)


# name -> (lazytensor function, torch function, inputs, rtol, atol)
VALUES = {
    "lgamma_positive": (lt.lgamma, torch.lgamma, POSITIVE, 1e-6, 1e-7),
    "lgamma_negative": (lt.lgamma, torch.lgamma, NEGATIVE, 1e-6, 1e-6),
    "digamma_positive": (lt.digamma, torch.digamma, POSITIVE, 1e-6, 2e-7),
    "digamma_negative": (lt.digamma, torch.digamma, NEGATIVE, 1e-6, 1e-6),
    "trigamma": (lambda x: lt.polygamma(1, x), lambda x: torch.polygamma(1, x), GRID, 1e-6, 0),
    "erfinv": (lt.erfinv, torch.erfinv, UNIT, 1e-6, 0),
    "ndtri": (lt.special.ndtri, torch.special.ndtri, PROBABILITIES, 1e-6, 0),
    "ndtr": (lt.special.ndtr, torch.special.ndtr, np.linspace(-5, 5, 21, dtype=np.float32), 1e-5, 0),
    "log_ndtr": (lt.special.log_ndtr, torch.special.log_ndtr, np.linspace(-40, 5, 46, dtype=np.float32), 1e-5, 0),
    "i0": (lt.i0, torch.special.i0, GRID, 1e-6, 0),
    "i1": (lt.special.i1, torch.special.i1, GRID, 1e-6, 0),
    "entr": (lt.special.entr, torch.special.entr, np.abs(GRID), 1e-6, 0),
}


def test_special_functions_match_torch_in_float64():
    """The float64 reference, since torch's own float32 lgamma/digamma/trigamma lose digits near
    the roots and poles. Below zero the reflection formulas leave an absolute error of a few
    float32 steps of the values they subtract (1e-6), relative accuracy near lgamma's and
    digamma's roots there is out of reach of float32; ndtr and log_ndtr carry erfc's 1e-5."""
    check_cases(VALUES, lambda case: _against_float64(*case))


def test_sinc_matches_torch_float32():
    """sin(pi x) / (pi x) in float32, as torch computes it (its rounding of pi x included)."""
    x = np.concatenate([GRID, [0.0, -1.0, 1e20]]).astype(np.float32)
    check(lt.sinc(lt.tensor(x)), torch.sinc(torch.tensor(x)), rtol=1e-6, atol=1e-7)


EDGES = np.array([0.0, -0.0, -1.0, -3.0, 1.0, 2.0, np.inf, -np.inf, np.nan, 1e-30, -1e-30], np.float32)
EDGE_CASES = {
    "lgamma": lambda m, x: m.lgamma(x),
    "digamma": lambda m, x: m.digamma(x),
    "i0": lambda m, x: m.special.i0(x),
    "i1": lambda m, x: m.special.i1(x),
    "sinc": lambda m, x: m.sinc(x),
    "entr": lambda m, x: m.special.entr(x),
    "erfinv": lambda m, x: m.erfinv(x.clamp(-1.5, 1.5)),
    "ndtri": lambda m, x: m.special.ndtri(x.clamp(-1.0, 2.0)),
}


def test_edges_match_torch():
    """Poles give inf (lgamma) or +-inf/NaN (digamma: -inf at 0, inf at -0), erfinv gives +-inf
    at +-1 and NaN beyond, NaN stays NaN."""
    def case(fn):
        check(fn(lt, lt.tensor(EDGES)), fn(torch, torch.tensor(EDGES)), rtol=1e-6, atol=1e-7)
    check_cases(EDGE_CASES, case)


def test_trigamma_is_inf_at_its_poles():
    """torch's float32 trigamma gives finite garbage there (1.3e15 at -1); the pole is inf."""
    got = lt.polygamma(1, lt.tensor([0.0, -1.0, -4.0, np.inf, -np.inf])).numpy()
    np.testing.assert_array_equal(got, [np.inf, np.inf, np.inf, 0.0, np.nan])


GRADIENTS = {
    "lgamma": (lambda m, x: m.lgamma(x), [0.7, 1.5, 3.0, 12.0, -2.5, -0.3]),
    "digamma": (lambda m, x: x.digamma(), [0.7, 1.5, 3.0, 12.0, -2.5, -0.3]),
    "erfinv": (lambda m, x: m.erfinv(x), [0.0, 0.3, -0.9, 0.999]),
    "ndtri": (lambda m, x: m.special.ndtri(x), [0.01, 0.5, 0.9]),
    "i0": (lambda m, x: x.i0(), [0.0, 1.0, -3.0, 5.0]),
    "sinc": (lambda m, x: m.sinc(x), [0.0, 0.25, -1.5, 3.3]),
    "log_ndtr": (lambda m, x: m.special.log_ndtr(x), [-10.0, -1.0, 0.0, 2.0]),
    "entr": (lambda m, x: m.special.entr(x), [0.1, 0.5, 2.0]),
}


def test_gradients_match_torch():
    """lgamma' is digamma, digamma' is trigamma, erfinv' is sqrt(pi)/2 exp(erfinv^2): the
    functions, not autograd through their approximations."""
    check_cases(GRADIENTS, lambda c: grad_compare(c[0], np.array(c[1], np.float32), rtol=2e-6, atol=1e-6))


def test_second_derivative_of_lgamma_is_trigamma():
    x = lt.tensor([0.7, 3.0, -2.5], requires_grad=True)
    (g,) = lt.autograd.grad(lt.lgamma(x).sum(), x, create_graph=True)
    (g2,) = lt.autograd.grad(g.sum(), x)
    check(g2, torch.polygamma(1, torch.tensor([0.7, 3.0, -2.5])), rtol=1e-6, atol=0)


def test_unsupported_orders_raise():
    x = lt.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(NotImplementedError, match=r"polygamma: n = 2 is not supported.*\(2,\)"):
        lt.polygamma(2, x)
    with pytest.raises(NotImplementedError, match=r"gradient of polygamma\(1, x\)"):
        lt.polygamma(1, x).sum().backward()
    with pytest.raises(RuntimeError, match="polygamma: n must be a non-negative integer"):
        lt.polygamma(-1, x)
    with pytest.raises(TypeError, match=r"lgamma\(\): argument 'input' must be Tensor, not float"):
        lt.lgamma(2.0)


def test_integer_inputs_give_float32_and_methods_work_in_place():
    check(lt.tensor([1, 2, 5]).lgamma(), torch.tensor([1, 2, 5]).lgamma())
    x, t = lt.tensor([0.3, 2.0]), torch.tensor([0.3, 2.0])
    check(x.digamma_(), t.digamma_(), rtol=1e-6)
    check(x.polygamma(1), t.polygamma(1), rtol=1e-6)


NAMESPACE = {
    "gammaln": lambda m, x: m.special.gammaln(x.abs() + 0.1),
    "psi": lambda m, x: m.special.psi(x.abs() + 0.1),
    "polygamma": lambda m, x: m.special.polygamma(1, x.abs() + 0.1),
    "erf": lambda m, x: m.special.erf(x),
    "erfc": lambda m, x: m.special.erfc(x),
    "erfinv": lambda m, x: m.special.erfinv(x.tanh()),
    "expit": lambda m, x: m.special.expit(x),
    "logit": lambda m, x: m.special.logit(x.sigmoid()),
    "log1p": lambda m, x: m.special.log1p(x.abs()),
    "expm1": lambda m, x: m.special.expm1(x),
    "exp2": lambda m, x: m.special.exp2(x),
    "xlogy": lambda m, x: m.special.xlogy(x, x.abs()),
    "i0": lambda m, x: m.special.i0(x),
    "sinc": lambda m, x: m.special.sinc(x),
    "logsumexp": lambda m, x: m.special.logsumexp(x, 0),
    "softmax": lambda m, x: m.special.softmax(x, 0),
    "log_softmax": lambda m, x: m.special.log_softmax(x, 0),
    "round": lambda m, x: m.special.round(x),
    "digamma": lambda m, x: m.special.digamma(x.abs() + 0.1),
}


def test_special_namespace_has_torch_special_names():
    x = np.linspace(-2.5, 2.5, 11, dtype=np.float32)
    check_cases(NAMESPACE, lambda fn: check(fn(lt, lt.tensor(x)), fn(torch, torch.tensor(x)), rtol=2e-6, atol=1e-6))
