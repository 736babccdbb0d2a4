"""from_numpy shares memory with its array on the numpy device, as in PyTorch; elsewhere it copies."""
import numpy as np
import pytest
import torch

import lazytensor as lt
from helpers import using


@pytest.fixture(params=[True, False], ids=["lazy", "eager"])
def on_numpy(request):
    with using("numpy", request.param):
        yield


@pytest.mark.parametrize("dtype", [np.float32, np.int8, np.int16])
def test_a_write_to_the_array_shows_in_the_tensor(on_numpy, dtype):
    a = np.zeros(3, dtype)
    t = lt.from_numpy(a)
    a[1] = 5
    np.testing.assert_array_equal(t.numpy(), [0, 5, 0])
    assert t.dtype.name == np.dtype(dtype).name


@pytest.mark.parametrize("dtype", [np.float32, np.int8])
def test_an_in_place_op_shows_in_the_array_when_it_returns(on_numpy, dtype):
    a = np.arange(4, dtype=dtype)
    t = lt.from_numpy(a)
    t.mul_(2).add_(1)
    np.testing.assert_array_equal(a, [1, 3, 5, 7])


def test_a_value_read_before_an_in_place_op_keeps_the_old_contents(on_numpy):
    a, ref = np.ones(3, np.float32), np.ones(3, np.float32)
    t, tt = lt.from_numpy(a), torch.from_numpy(ref)
    before, tbefore = t * 2, tt * 2
    t.add_(10)
    tt.add_(10)
    np.testing.assert_array_equal(before.numpy(), tbefore.numpy())
    np.testing.assert_array_equal(a, ref)


def test_numpy_of_a_from_numpy_tensor_is_the_array_memory(on_numpy):
    a = np.zeros((2, 3), np.float64)
    t = lt.from_numpy(a)
    assert np.shares_memory(t.numpy(), a)
    t.numpy()[0, 0] = 4
    assert a[0, 0] == 4 and t[0, 0].item() == 4


def test_writes_through_a_view_reach_the_array(on_numpy):
    a = np.zeros((3, 4), np.float32)
    lt.from_numpy(a)[1:, ::2].fill_(3)
    expected = np.zeros((3, 4), np.float32)
    expected[1:, ::2] = 3
    np.testing.assert_array_equal(a, expected)


def test_a_strided_array_is_shared_too(on_numpy):
    base = np.arange(12, dtype=np.int64).reshape(3, 4)
    t = lt.from_numpy(base[:, ::2])
    np.testing.assert_array_equal(t.numpy(), base[:, ::2])
    t.zero_()
    np.testing.assert_array_equal(base, [[0, 1, 0, 3], [0, 5, 0, 7], [0, 9, 0, 11]])


def test_an_optimizer_step_updates_the_array_of_a_parameter(on_numpy):
    a = np.ones(2, np.float32)
    p = lt.from_numpy(a).requires_grad_()
    opt = lt.optim.SGD([p], lr=0.5)
    (p * 3).sum().backward()
    opt.step()
    np.testing.assert_array_equal(a, [-0.5, -0.5])
    assert p.is_leaf and p.requires_grad


def test_negative_strides_and_other_inputs_are_refused_as_torch():
    with pytest.raises(ValueError, match="from_numpy: at least one stride in the given numpy array is negative"):
        lt.from_numpy(np.arange(3.0)[::-1])
    with pytest.raises(TypeError, match=r"from_numpy: expected np.ndarray \(got list\)"):
        lt.from_numpy([1.0, 2.0])


@pytest.mark.parametrize("make", [
    lambda: np.arange(3, dtype=np.uint16),  # held widened, as int64
    lambda: np.frombuffer(np.arange(3, dtype=np.float32).tobytes(), np.float32),  # read-only
], ids=["widened_dtype", "read_only"])
def test_an_array_that_cannot_be_shared_is_copied(on_numpy, make):
    a = make()
    t = lt.from_numpy(a)
    t.add_(1)
    np.testing.assert_array_equal(a, np.arange(3))
    np.testing.assert_array_equal(t.numpy(), np.arange(3) + 1)


def test_an_opencl_tensor_copies_its_array(device):
    if device != "cl":
        pytest.skip("the numpy device shares")
    with using("cl", True):
        a = np.zeros(3, np.float32)
        t = lt.from_numpy(a)
        t.add_(1)
        assert not np.shares_memory(t.numpy(), a)
    np.testing.assert_array_equal(a, 0)


def test_a_jit_function_writing_a_shared_tensor_runs_every_call(on_numpy):
    a = np.zeros(3, np.float32)
    t = lt.from_numpy(a)

    @lt.jit
    def step(x):
        t.add_(x)
        return t * 2

    outs = [step(lt.ones(3)).numpy() for _ in range(4)]
    np.testing.assert_array_equal(a, [4, 4, 4])
    np.testing.assert_array_equal(np.stack(outs)[:, 0], [2, 4, 6, 8])
