"""Random numbers: reproducible under lt.manual_seed, identical across
devices and LAZY modes, with the right distributions."""
import numpy as np
import pytest

import lazytensor as lt
from helpers import available_devices, check_cases, using

SAMPLERS = {
    "rand": lambda: lt.rand(3, 4),
    "rand_tuple": lambda: lt.rand((2, 3, 4)),
    "randn": lambda: lt.randn(3, 4),
    "randint": lambda: lt.randint(0, 10, (3, 4)),
    "randint_high_only": lambda: lt.randint(5, (7,)),
    "randperm": lambda: lt.randperm(10),
    "normal_": lambda: lt.empty(3, 4).normal_(),
    "normal_mean_std": lambda: lt.zeros(3, 4).normal_(mean=2.0, std=0.5),
    "uniform_": lambda: lt.empty(3, 4).uniform_(),
    "uniform_range": lambda: lt.zeros(3, 4).uniform_(-2, 3),
    "rand_like": lambda: lt.rand_like(lt.zeros(3, 4)),
    "randn_like": lambda: lt.randn_like(lt.zeros(2, 3)),
    "two_draws": lambda: lt.stack([lt.rand(4), lt.rand(4)]),
}


def _draw(fn, seed):
    lt.manual_seed(seed)
    return fn().numpy()


def _configs():
    return [(d, lazy) for d in available_devices() for lazy in (True, False)]


def test_reseeding_reproduces():
    def body(fn):
        for dev, lazy in _configs():
            with using(dev, lazy):
                a, b = _draw(fn, 123), _draw(fn, 123)
                np.testing.assert_array_equal(a, b, err_msg=f"{dev} lazy={lazy}")
    check_cases(SAMPLERS, body)


def test_different_seeds_differ_and_consecutive_draws_differ():
    with using("numpy", True):
        assert not np.array_equal(_draw(SAMPLERS["rand"], 1), _draw(SAMPLERS["rand"], 2))
        lt.manual_seed(5)
        a, b = lt.rand(100).numpy(), lt.rand(100).numpy()
        assert not np.array_equal(a, b)


def test_same_numbers_on_every_device_and_lazy_mode():
    """The API promises (seed) -> same numbers on every device and LAZY mode."""
    configs = _configs()
    if len(configs) < 2:
        pytest.skip("only one configuration available")

    def body(fn):
        results = {}
        for dev, lazy in configs:
            with using(dev, lazy):
                results[(dev, lazy)] = _draw(fn, 7)
        ref_key = configs[0]
        for key, got in results.items():
            assert got.dtype == results[ref_key].dtype
            np.testing.assert_allclose(got, results[ref_key], rtol=1e-6, atol=1e-6,
                                       err_msg=f"{key} differs from {ref_key}")
    check_cases(SAMPLERS, body)


@pytest.mark.parametrize("device", available_devices())
def test_rand_range_and_uniformity(device):
    with using(device, True):
        lt.manual_seed(0)
        a = lt.rand(100_000).numpy()
        assert a.dtype == np.float32 and a.shape == (100_000,)
        assert a.min() >= 0.0 and a.max() < 1.0
        assert abs(a.mean() - 0.5) < 0.01
        hist = np.histogram(a, bins=10, range=(0, 1))[0] / a.size
        np.testing.assert_allclose(hist, 0.1, atol=0.01)
        u = lt.empty(100_000).uniform_(-2, 3).numpy()
        assert u.min() >= -2 and u.max() < 3 and abs(u.mean() - 0.5) < 0.05


@pytest.mark.parametrize("device", available_devices())
def test_randn_moments(device):
    with using(device, True):
        lt.manual_seed(0)
        a = lt.randn(100_000).numpy()
        assert a.dtype == np.float32 and np.isfinite(a).all()
        assert abs(a.mean()) < 0.02
        assert abs(a.std() - 1) < 0.02
        assert abs((np.abs(a) < 1).mean() - 0.6827) < 0.01
        n = lt.empty(100_000).normal_(mean=2.0, std=0.5).numpy()
        assert abs(n.mean() - 2) < 0.02 and abs(n.std() - 0.5) < 0.02


@pytest.mark.parametrize("device", available_devices())
def test_randint_and_randperm(device):
    with using(device, True):
        lt.manual_seed(0)
        r = lt.randint(-3, 5, (10_000,))
        a = r.numpy()
        assert r.dtype == lt.int64 and a.dtype == np.int64
        assert a.min() == -3 and a.max() == 4
        counts = np.bincount(a + 3, minlength=8) / a.size
        np.testing.assert_allclose(counts, 1 / 8, atol=0.02)
        small = lt.randint(-3, 5, (1000,), dtype=lt.int8).numpy()
        assert small.dtype == np.int8 and small.min() == -3 and small.max() == 4
        p = lt.randperm(50)
        assert p.dtype == lt.int64
        assert sorted(p.numpy().tolist()) == list(range(50))
        assert p.numpy().tolist() != list(range(50))
        assert lt.randperm(0).numpy().shape == (0,)


@pytest.mark.parametrize("device", available_devices())
def test_random_dtypes_and_shapes(device):
    with using(device, False):
        assert lt.rand(2, 3).dtype == lt.float32
        assert tuple(lt.randn((2, 3)).shape) == (2, 3)
        assert lt.rand(2, dtype=lt.float64).numpy().dtype == np.float64
        assert tuple(lt.rand_like(lt.ones(0, 3)).shape) == (0, 3)
        assert lt.randn_like(lt.ones(2, 2, dtype=lt.float64)).dtype == lt.float64
        assert lt.randint(0, 3, (2,), dtype=lt.int32).dtype == lt.int32


@pytest.mark.parametrize("draw", [
    lambda g: lt.rand(6, generator=g),
    lambda g: lt.randn(6, generator=g),
    lambda g: lt.randint(0, 100, (6,), generator=g),
    lambda g: lt.randperm(6, generator=g),
    lambda g: lt.empty(6).uniform_(generator=g),
    lambda g: lt.nn.init.normal_(lt.empty(6), generator=g),
    lambda g: lt.ones(2, 3).multinomial(2, generator=g),
], ids=["rand", "randn", "randint", "randperm", "uniform_", "init.normal_", "multinomial"])
def test_a_seeded_generator_gives_its_own_numbers_and_leaves_the_global_stream(device, draw):
    with using(device, True):
        lt.manual_seed(0)
        first = draw(lt.Generator().manual_seed(7)).numpy()
        after_own = lt.rand(4).numpy()
        lt.manual_seed(0)
        global_draw = lt.rand(4).numpy()
        lt.manual_seed(123)  # the global seed does not change a seeded generator's numbers
        again = draw(lt.Generator().manual_seed(7)).numpy()
        other = draw(lt.Generator().manual_seed(8)).numpy()
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(after_own, global_draw)
    assert not np.array_equal(first, other) or first.size <= 2


def test_a_generator_state_round_trips():
    g = lt.Generator().manual_seed(5)
    lt.rand(3, generator=g)
    state = g.get_state()
    a = lt.rand(3, generator=g).numpy()
    b = lt.rand(3, generator=g.set_state(state)).numpy()
    np.testing.assert_array_equal(a, b)
