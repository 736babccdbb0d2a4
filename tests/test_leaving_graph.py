"""Leaving the graph: numpy/item/tolist/__array__/float/int/bool/len/iter,
printing, copies and aliases, attributes."""
import re

import numpy as np
import pytest
import torch

import lazytensor as lt
from helpers import check, check_cases, compare, lt_dtype, values

pytestmark = pytest.mark.usefixtures("env")

X = values((3, 4), seed=11)


def test_numpy_returns_ndarray_of_the_value():
    x = lt.tensor(X)
    a = (x * 2).numpy()
    assert isinstance(a, np.ndarray) and a.dtype == np.float32 and a.shape == (3, 4)
    np.testing.assert_allclose(a, X * 2)
    assert lt.tensor(3).numpy().shape == ()


def test_numpy_of_noncontiguous_view():
    x = lt.tensor(X)
    np.testing.assert_array_equal(x.t()[::2].numpy(), X.T[::2])


def test_array_protocol():
    x = lt.tensor(X)
    np.testing.assert_array_equal(np.asarray(x), X)
    np.testing.assert_allclose(np.asarray(x + 1, dtype=np.float64), X.astype(np.float64) + 1, rtol=1e-6)
    np.testing.assert_allclose(np.exp(x.numpy()), np.exp(X))
    assert np.asarray(lt.tensor([1, 2])).dtype == np.int64


ITEMS = {
    "float": (lambda m: m.tensor([2.5]).sum(), float),
    "int": (lambda m: m.tensor([[7]]) * 2, int),
    "bool": (lambda m: m.tensor(3.0) > 2, bool),
    "reduction": (lambda m: m.tensor(X).max(), float),
}


def test_item():
    def body(case):
        fn, typ = case
        got, ref = fn(lt).item(), fn(torch).item()
        assert type(got) is typ and type(ref) is typ
        assert got == pytest.approx(ref)
    check_cases(ITEMS, body)


def test_tolist():
    def body(fn):
        got, ref = fn(lt).tolist(), fn(torch).tolist()
        assert got == pytest.approx(ref) if isinstance(ref, float) else got == ref
        assert type(got) is type(ref)
    check_cases({
        "2d_int": lambda m: m.arange(6).reshape(2, 3),
        "1d_bool": lambda m: m.tensor([1.0, -1.0]) > 0,
        "0d": lambda m: m.tensor(4),
        "empty": lambda m: m.zeros(0, 2),
        "float_exact": lambda m: m.tensor([0.5, 1.25, -3.0]),
    }, body)
    vals = lt.tensor(X).tolist()
    assert all(type(v) is float for row in vals for v in row)
    np.testing.assert_allclose(np.array(vals), X)


def test_python_number_conversions():
    assert float(lt.tensor([2.5]).sum()) == 2.5
    assert int(lt.tensor(7.9)) == 7
    assert int(lt.tensor([-7.9])) == -7
    assert bool(lt.tensor([1.0])) is True
    assert bool(lt.tensor(0)) is False
    assert isinstance(float(lt.tensor(3)), float)


def test_bool_of_multi_element_raises():
    with pytest.raises(RuntimeError):
        bool(lt.ones(2))


def test_len_and_iter():
    x = lt.tensor(X)
    assert len(x) == 3
    assert len(lt.zeros(0, 3)) == 0
    rows = list(x)
    assert len(rows) == 3
    for row, ref in zip(rows, X):
        check(row, ref)
    assert [int(v) for v in lt.arange(4)] == [0, 1, 2, 3]
    with pytest.raises(TypeError):
        len(lt.tensor(1.0))


def _lt_str(t):
    """str() without a device suffix (torch only prints one for non-CPU)."""
    return re.sub(r",\s*device='[^']*'", "", str(t))


PRINTS = {
    "floats": lambda m: m.tensor([1.0, 2.0, 3.0]),
    "fractions": lambda m: m.tensor([1.5, -0.25, 3.0]),
    "ints": lambda m: m.tensor([1, 2, 3]),
    "bools": lambda m: m.tensor([True, False]),
    "2d": lambda m: m.tensor([[1.0, 2.0], [3.0, 4.0]]),
    "int32": lambda m: m.tensor([1, 2], dtype=m.int32),
    "float64": lambda m: m.tensor([1.0, 2.0], dtype=m.float64),
    "0d": lambda m: m.tensor(3.5),
    "computed": lambda m: m.arange(4).reshape(2, 2) * 2,
    "empty": lambda m: m.zeros(0, 3),
}


@pytest.mark.parametrize("fmt", [str, repr])
def test_print_like_torch(fmt):
    def body(fn):
        assert _lt_str(fmt(fn(lt))) == fmt(fn(torch)).replace("torch.", "lazytensor.")
    check_cases(PRINTS, body)


def test_print_does_not_break_laziness_or_values():
    x = lt.tensor(X)
    y = x * 2
    str(y)
    check(y + 1, torch.from_numpy(X) * 2 + 1)


def test_clone_and_data():
    x = lt.tensor(X)
    c = x.clone()
    check(c, X)
    assert c is not x
    d = x.data
    check(d, X)
    assert not d.requires_grad


NEW = {
    "new_zeros": lambda m, x: x.new_zeros(2, 3),
    "new_zeros_tuple": lambda m, x: x.new_zeros((2, 3)),
    "new_ones_dtype": lambda m, x: x.new_ones((2,), dtype=m.int32),
    "new_full": lambda m, x: x.new_full((2, 2), 4.5),
    "new_tensor": lambda m, x: x.new_tensor([1, 2, 3]),
    "new_of_int_tensor": lambda m, x: x.long().new_zeros(3),
    "type_as_int": lambda m, x: x.type_as(m.tensor([1])),
    "type_as_float": lambda m, x: m.tensor([1, 2]).type_as(x),
}


def test_new_and_type_as():
    check_cases(NEW, lambda fn: compare(fn, X))


def test_attributes(env):
    x = lt.tensor(values((2, 3, 4)))
    assert tuple(x.shape) == (2, 3, 4) and x.shape == (2, 3, 4)
    assert tuple(x.size()) == (2, 3, 4)
    assert x.size(1) == 3 and x.size(-1) == 4
    assert x.size(dim=0) == 2
    assert x.dtype == lt.float32
    assert x.ndim == 3 and x.dim() == 3
    assert x.numel() == 24
    assert lt.tensor(1.0).ndim == 0 and lt.tensor(1.0).numel() == 1
    assert lt.zeros(0, 3).numel() == 0
    assert str(x.device) == env.device
    assert x.shape[0] == 2 and isinstance(x.shape[0], int)
    assert x.T.shape == (4, 3, 2)
    assert x.mT.shape == (2, 4, 3)
    assert lt_dtype("int64") == lt.tensor([1]).dtype


def test_to_device_and_cpu(env):
    x = lt.tensor(X)
    y = x.to("numpy")
    assert str(y.device) == "numpy"
    check(y, X)
    check(x.cpu(), X)
    assert str(x.to(env.device).device) == env.device
