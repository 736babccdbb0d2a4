"""bfloat16: stored and rounded as PyTorch's, computed in float32 inside kernels."""
import numpy as np
import pytest
import torch

import lazytensor as lt
from lazytensor.ir import build as B
from lazytensor.ir.schedule import WHY_ROUNDS, schedule

pytestmark = pytest.mark.usefixtures("env")


def _data(n=1000, scale=100.0, seed=0) -> np.ndarray:
    return (np.random.RandomState(seed).randn(n) * scale).astype(np.float32)


def _pair(array: np.ndarray):
    return lt.tensor(array).bfloat16(), torch.tensor(array).bfloat16()


def _same(ours: lt.Tensor, theirs: torch.Tensor) -> None:
    assert ours.dtype == getattr(lt, str(theirs.dtype).replace("torch.", ""))
    np.testing.assert_array_equal(ours.float().numpy(), theirs.float().numpy())


def test_conversion_rounds_to_nearest_even_as_torch():
    ties = np.array([1 + 2 ** -8, 1 + 3 * 2 ** -8, -(1 + 2 ** -8), 3.4e38, -3.4e38, 1e-40, 0.0, -0.0],
                    np.float32)
    specials = np.array([np.inf, -np.inf, np.nan], np.float32)
    for array in (_data(), ties, specials):
        _same(*_pair(array))


def test_numpy_gives_the_float32_values_a_bfloat16_tensor_holds():
    a, t = _pair(_data(10))
    out = a.numpy()
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, t.float().numpy())
    assert a[3].item() == t[3].item()


@pytest.mark.parametrize("name, fn", [
    ("mul", lambda a: a * 3),
    ("add_tensors", lambda a: a + a.flip(0)),
    ("tanh", lambda a: a.tanh()),
    ("sum", lambda a: a.sum(0)),
    ("max", lambda a: a.max()),
])
def test_one_op_equals_torch_bit_for_bit(name, fn):
    """torch computes a bfloat16 op in float32 and rounds once: so does one fused kernel."""
    a, t = _pair(_data())
    _same(fn(a), fn(t))


def test_matmul_accumulates_in_float32():
    """Within a rounding of the largest term of torch's (with LAZY=0 the products round first)."""
    a, t = _pair(_data())
    ours, theirs = a.reshape(10, 100) @ a.reshape(100, 10), t.reshape(10, 100) @ t.reshape(100, 10)
    assert ours.dtype == lt.bfloat16
    largest_term = float((t.float().abs().max() ** 2).item())
    np.testing.assert_allclose(ours.float().numpy(), theirs.float().numpy(), rtol=2 ** -7, atol=largest_term * 2 ** -7)


def test_a_chain_rounds_where_it_is_stored():
    """Inside one kernel a chain computes in float32 (as float16 does): within two roundings of torch's."""
    a, t = _pair(_data())
    ours, theirs = (a * 0.01).exp() * 2 - 1, (t * 0.01).exp() * 2 - 1
    assert ours.dtype == lt.bfloat16
    np.testing.assert_allclose(ours.float().numpy(), theirs.float().numpy(), rtol=2 ** -6, atol=2 ** -6)


def test_a_constant_holds_its_rounded_value():
    _same(lt.full((3,), 0.1, dtype=lt.bfloat16), torch.full((3,), 0.1, dtype=torch.bfloat16))
    _same(lt.full((3,), 0.1, dtype=lt.bfloat16) * 3, torch.full((3,), 0.1, dtype=torch.bfloat16) * 3)


def test_a_cast_read_in_the_same_graph_rounds():
    """x.half().float() and x.bfloat16().float() round, although no value leaves the device between."""
    x = _data()
    for narrow in ("float16", "bfloat16"):
        ours = lt.tensor(x).to(getattr(lt, narrow)).float() + 0
        theirs = torch.tensor(x).to(getattr(torch, narrow)).float() + 0
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("other, expected", [
    (lambda: lt.ones(2, dtype=lt.float16), lt.float32),
    (lambda: lt.ones(2, dtype=lt.float32), lt.float32),
    (lambda: lt.ones(2, dtype=lt.int64), lt.bfloat16),
    (lambda: 2.5, lt.bfloat16),
    (lambda: lt.tensor(2.5, dtype=lt.float64), lt.bfloat16),
])
def test_promotion_as_torch(other, expected):
    assert (lt.ones(2, dtype=lt.bfloat16) + other()).dtype == expected


def test_gradients_flow_through_bfloat16():
    x = _data(50)
    a = lt.tensor(x, requires_grad=True)
    t = torch.tensor(x, requires_grad=True)
    (a.bfloat16() * 2).float().sum().backward()
    (t.bfloat16() * 2).float().sum().backward()
    assert a.grad.dtype == lt.float32
    np.testing.assert_array_equal(a.grad.numpy(), t.grad.numpy())


def test_a_module_converts_its_parameters():
    torch.manual_seed(0)
    ref = torch.nn.Linear(16, 4).bfloat16()
    ours = lt.nn.Linear(16, 4).bfloat16()
    ours.load_state_dict({k: lt.tensor(v.float().numpy()).bfloat16() for k, v in ref.state_dict().items()})
    assert ours.weight.dtype == lt.bfloat16
    x = _data(32, 1.0).reshape(2, 16)
    out, expected = ours(lt.tensor(x).bfloat16()), ref(torch.tensor(x).bfloat16())
    # torch rounds the product before adding the bias; one fused kernel rounds once
    np.testing.assert_allclose(out.detach().float().numpy(), expected.detach().float().numpy(),
                               rtol=2 ** -7, atol=2 ** -8)


def test_finfo_as_torch():
    for name in ("bfloat16", "float16", "float32", "float64"):
        ours, theirs = lt.finfo(getattr(lt, name)), torch.finfo(getattr(torch, name))
        assert (ours.bits, ours.eps, ours.max, ours.min, ours.tiny) == \
            (theirs.bits, theirs.eps, theirs.max, theirs.min, theirs.tiny), name
    assert lt.iinfo(lt.int32).max == torch.iinfo(torch.int32).max


def test_the_schedule_stores_a_converted_value_and_says_why():
    x = lt.arange(4.0).realize().node
    narrow = B.cast(B.elementwise("mul", x, x), lt.bfloat16)
    wide = B.cast(narrow, lt.float32)
    sched = schedule([wide])
    assert id(narrow) in sched.materialised
    assert sched.reasons[id(narrow)] == WHY_ROUNDS.format(dtype="bfloat16")
