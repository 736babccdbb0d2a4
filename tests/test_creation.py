"""Tensor creation: lt.tensor / from_numpy / as_tensor, factory functions,
*_like, size as ints or a tuple, dtype= and default dtypes."""
import numpy as np
import pytest
import torch

import lazytensor as lt
from helpers import check, check_cases, lt_dtype, values

pytestmark = pytest.mark.usefixtures("env")

PYTHON_DATA = {
    "floats": [1.0, 2.0, 3.0],               # -> float32
    "ints": [1, 2, 3],                       # -> int64
    "bools": [True, False, True],            # -> bool
    "nested_floats": [[1.5, -2.0], [3.0, 4.25]],
    "nested_ints": [[1, 2, 3], [4, 5, 6]],
    "mixed_int_float": [1, 2.5],             # -> float32
    "scalar_float": 2.5,
    "scalar_int": 7,
    "scalar_bool": True,
    "empty": [],                             # -> float32, shape (0,)
}


def test_tensor_from_python():
    check_cases(PYTHON_DATA, lambda d: check(lt.tensor(d), torch.tensor(d)))


def test_tensor_from_numpy_keeps_dtype():
    dtypes = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "bool", "uint8"]
    check_cases(dtypes, lambda dt: check(lt.tensor(values((3, 4), dt)), torch.tensor(values((3, 4), dt))))


@pytest.mark.parametrize("source", [
    lambda: torch.randn(2, 3, generator=torch.Generator().manual_seed(0)),
    lambda: torch.randn(4, generator=torch.Generator().manual_seed(1), requires_grad=True),
    lambda: torch.arange(5, dtype=torch.int32),
    lambda: torch.ones(2, 2, dtype=torch.float64).t(),
], ids=["float32", "requires_grad", "int32", "float64_transposed"])
def test_tensor_from_a_torch_tensor_keeps_its_values_and_dtype(source):
    t = source()
    ours = lt.tensor(t)
    assert ours.dtype == lt_dtype(str(t.dtype).replace("torch.", ""))
    np.testing.assert_array_equal(ours.numpy(), t.detach().numpy())


def test_tensor_from_numpy_0d_and_zero_size():
    check(lt.tensor(np.array(3.5, dtype=np.float32)), torch.tensor(np.array(3.5, dtype=np.float32)))
    check(lt.tensor(np.zeros((0, 3), np.float32)), torch.zeros(0, 3))


def test_tensor_dtype_argument():
    data = [[0, 1, 2], [3, 5, 0]]
    check_cases(["float32", "int8", "int16", "int32", "int64", "bool", "float64", "uint8"],
                lambda dt: check(lt.tensor(data, dtype=lt_dtype(dt)), torch.tensor(data, dtype=getattr(torch, dt))))


@pytest.mark.parametrize("ctor", ["from_numpy", "as_tensor"])
def test_from_numpy_and_as_tensor(ctor):
    check_cases(["float32", "int64", "bool"], lambda dt: check(
        getattr(lt, ctor)(values((3, 4), dt)), getattr(torch, ctor)(values((3, 4), dt))))


def test_as_tensor_from_list_and_tensor():
    check(lt.as_tensor([1.0, 2.0]), torch.as_tensor([1.0, 2.0]))
    check(lt.as_tensor(lt.tensor([1, 2, 3])), torch.tensor([1, 2, 3]))
    check(lt.as_tensor([1, 2], dtype=lt.float32), torch.as_tensor([1, 2], dtype=torch.float32))


FACTORIES = {
    "zeros_ones": {
        "zeros_ints": lambda m: m.zeros(3, 4),
        "zeros_tuple": lambda m: m.zeros((3, 4)),
        "zeros_list": lambda m: m.zeros([2, 3, 4]),
        "zeros_zero_size": lambda m: m.zeros(0, 3),
        "zeros_0d": lambda m: m.zeros(()),
        "ones": lambda m: m.ones(2, 3, 4),
        "ones_int32": lambda m: m.ones(3, 4, dtype=m.int32),
        "ones_bool": lambda m: m.ones((3, 4), dtype=m.bool),
        "zeros_int8": lambda m: m.zeros(3, dtype=m.int8),
        "ones_int16": lambda m: m.ones(2, 3, dtype=m.int16),
    },
    "full": {
        "full_float": lambda m: m.full((3, 4), 1.5),
        "full_int_infers_int64": lambda m: m.full((3, 4), 7),
        "full_bool_infers_bool": lambda m: m.full((3, 4), True),
        "full_dtype": lambda m: m.full((2, 3), 2, dtype=m.float32),
        "full_int8": lambda m: m.full((2, 3), -100, dtype=m.int8),
        "full_0d": lambda m: m.full((), -1.0),
    },
    "arange": {
        "int": lambda m: m.arange(5),
        "start_stop_step": lambda m: m.arange(1, 10, 3),
        "float": lambda m: m.arange(0.0, 1.0, 0.25),
        "negative_step_int": lambda m: m.arange(5, 0, -1),
        "negative_step_float": lambda m: m.arange(1.0, -1.0, -0.5),
        "empty": lambda m: m.arange(3, 3),
        "dtype": lambda m: m.arange(4, dtype=m.float32),
        "int8": lambda m: m.arange(-5, 120, 7, dtype=m.int8),
        "int16": lambda m: m.arange(3.0, dtype=m.int16),
    },
    "linspace": {
        "unit": lambda m: m.linspace(0, 1, 5),
        "negative": lambda m: m.linspace(2.0, -2.0, 9),
        "one_step": lambda m: m.linspace(-1, 1, 1),
    },
    "eye": {
        "square": lambda m: m.eye(3),
        "rect": lambda m: m.eye(2, 4),
        "dtype": lambda m: m.eye(3, dtype=m.int64),
    },
}


@pytest.mark.parametrize("family", FACTORIES)
def test_factory(family):
    check_cases(FACTORIES[family], lambda fn: check(fn(lt), fn(torch)))


def test_empty_shape_and_dtype():
    for args, kwargs, shape, dtype in [((3, 4), {}, (3, 4), "float32"),
                                       (((2, 3, 4),), {}, (2, 3, 4), "float32"),
                                       ((0, 3), {"dtype": lt.int64}, (0, 3), "int64")]:
        t = lt.empty(*args, **kwargs)
        assert tuple(t.shape) == shape
        assert t.dtype == lt_dtype(dtype)
        assert t.numpy().shape == shape and t.numpy().dtype == np.dtype(dtype)


LIKE = {
    "zeros_like": lambda m, x: m.zeros_like(x),
    "ones_like": lambda m, x: m.ones_like(x),
    "ones_like_dtype": lambda m, x: m.ones_like(x, dtype=m.int32),
    "full_like": lambda m, x: m.full_like(x, 3.5),
    "full_like_int_source": lambda m, x: m.full_like(x.long(), 3),
    "zeros_like_of_view": lambda m, x: m.zeros_like(x.transpose(0, 2)),
}


def test_like():
    a = values((2, 3, 4))
    check_cases(LIKE, lambda fn: check(fn(lt, lt.tensor(a)), fn(torch, torch.from_numpy(a))))


def test_empty_like_shape_and_dtype():
    e = lt.empty_like(lt.tensor(values((0, 3), "int32")))
    assert tuple(e.shape) == (0, 3) and e.dtype == lt.int32
    e = lt.empty_like(lt.ones(3, 4))
    assert tuple(e.shape) == (3, 4) and e.dtype == lt.float32


def test_factory_on_explicit_device(env):
    t = lt.zeros(2, 3, device=env.device)
    assert str(t.device) == env.device
    check(t, torch.zeros(2, 3))
    assert str(lt.ones(2).device) == env.device     # the default device


def test_default_dtypes():
    assert lt.tensor([1.0]).dtype == lt.float32
    assert lt.tensor([1]).dtype == lt.int64
    assert lt.tensor([True]).dtype == lt.bool
    assert lt.zeros(2).dtype == lt.float32
    assert lt.arange(3).dtype == lt.int64
    assert lt.arange(3.0).dtype == lt.float32
