"""A value that one realisation computed without storing it, and that newer work reads, is
stored by the next realisation that computes it: nothing is computed more than twice, and a
sequence grown one token a step is not rebuilt from its first token every step."""
import numpy as np
import pytest

import lazytensor as lt
from helpers import using
from lazytensor.ir.schedule import schedule
from lazytensor.ir.schedule_cache import worth_storing


@pytest.fixture
def lazy_env(device):
    with using(device, lazy=True) as e:
        yield e


def _data(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_a_value_read_again_by_newer_work_is_stored_the_second_time(lazy_env):
    a = _data(0, 5, 3)
    y = lt.tensor(a) * 2 + 1
    (y.exp()).numpy()
    assert not y.node.realized  # the first realisation computes it inside the exp's kernel
    got = (y - 4).numpy()
    assert y.node.realized
    np.testing.assert_allclose(got, a * 2 + 1 - 4, rtol=1e-6)
    np.testing.assert_allclose(y.numpy(), a * 2 + 1, rtol=1e-6)


def test_a_value_read_by_old_work_only_is_not_stored(lazy_env):
    """Two results of one graph read one after the other: the second computes the shared
    part again (it was built before the first realisation), as it did before."""
    y = lt.tensor(_data(1, 4)) * 3
    first, second = y + 1, y - 1
    first.numpy()
    second.numpy()
    assert not y.node.realized


def test_a_sequence_grown_one_token_a_step_reads_two_inputs_each_step(lazy_env):
    seq = lt.tensor([[1]])
    inputs = []
    for token in range(2, 12):
        seq = lt.cat([seq, lt.tensor([[token]])], 1)
        total = (seq * 2).sum()
        inputs.append(sum(len(k.inputs) for k in schedule([total.node]).kernels))
        assert int(total) == 2 * sum(range(1, token + 1))
    assert max(inputs[2:]) <= 3, inputs  # the stored sequence and the new tokens, not every token
    np.testing.assert_array_equal(seq.numpy(), [list(range(1, 12))])


def test_values_of_constants_alone_and_views_of_buffers_are_not_worth_storing(lazy_env):
    x = lt.tensor(_data(2, 4, 4))
    assert not worth_storing(lt.ones(4, 4).tril().node)
    assert not worth_storing(x.T[1:].node)
    assert worth_storing((x.T + 1).node)


def test_a_mask_built_once_and_read_every_step_stays_unstored(lazy_env):
    mask = lt.ones(4, 4).tril()
    x = lt.tensor(_data(3, 4, 4))
    for _ in range(3):
        np.testing.assert_allclose((x * mask).sum().item(), float(np.tril(x.numpy()).sum()), rtol=1e-5)
    assert not mask.node.realized
