"""A realisation whose graph has the structure of an earlier one reuses its schedule."""
import gc

import numpy as np
import pytest

import lazytensor as lt

from helpers import DEVICES, cl_unavailable_reason, using


def devices():
    return [d for d in DEVICES if d != "cl" or cl_unavailable_reason() is None]


def _data(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("device", devices())
def test_the_same_structure_with_new_data_and_scalars_builds_no_schedule(device):
    results = []
    for step in range(4):
        a = _data(step, 6, 7)
        x = lt.tensor(a, device=device)
        lt.reset_stats()
        y = ((x * (step + 10.0) - 0.5).exp() / 3).sum(1)
        results.append((y.numpy(), np.exp(a * (step + 10.0) - 0.5).sum(1) / 3, lt.stats()))
    for got, want, _ in results:
        np.testing.assert_allclose(got, want, rtol=1e-5)
    assert [s.schedules_built for _, _, s in results] == [1, 0, 0, 0]
    assert all(s.kernels_compiled == 0 for _, _, s in results[1:])


@pytest.mark.parametrize("device", devices())
def test_scalars_equal_in_one_graph_and_not_in_another_get_their_own_schedules(device):
    a = _data(0, 5)
    x = lt.tensor(a, device=device)
    same = (x * 3.0 + 3.0).numpy()
    different = (x * 3.0 + 4.0).numpy()
    np.testing.assert_allclose(same, a * 3 + 3, rtol=1e-6)
    np.testing.assert_allclose(different, a * 3 + 4, rtol=1e-6)


@pytest.mark.parametrize("device", devices())
def test_an_input_with_another_layout_is_another_structure(device):
    a = _data(1, 4, 4)
    lt.reset_stats()
    plain = (lt.tensor(a, device=device) + 1).numpy()
    transposed = (lt.tensor(a, device=device).t().contiguous().t() + 1)
    got = transposed.numpy()
    np.testing.assert_allclose(plain, a + 1)
    np.testing.assert_allclose(got, a + 1)


def test_a_training_step_reuses_its_schedules():
    model = lt.nn.Sequential(lt.nn.Linear(8, 16), lt.nn.ReLU(), lt.nn.Linear(16, 3))
    opt = lt.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, target = lt.randn(32, 8), lt.randint(0, 3, (32,))
    built = []
    for _ in range(5):
        lt.reset_stats()
        opt.zero_grad()
        loss = lt.nn.functional.cross_entropy(model(x), target)
        loss.backward()
        opt.step()
        loss.item()
        built.append(lt.stats().schedules_built)
    assert built[3:] == [0, 0], built


@pytest.mark.skipif(cl_unavailable_reason() is not None, reason=str(cl_unavailable_reason()))
def test_a_training_loop_allocates_no_device_buffers_after_warm_up():
    with using("cl", True):
        model = lt.nn.Sequential(lt.nn.Linear(8, 16), lt.nn.ReLU(), lt.nn.Linear(16, 3))
        opt = lt.optim.Adam(model.parameters(), lr=0.01)
        x, target = lt.randn(32, 8), lt.randint(0, 3, (32,))
        created = []
        for _ in range(6):
            gc.collect()  # buffers return to the pool when the last step's graph is collected
            lt.reset_stats()
            opt.zero_grad()
            lt.nn.functional.cross_entropy(model(x), target).backward()
            opt.step()
            model[0].weight.sum().item()
            created.append(lt.stats().buffers_created)
    assert created[3:] == [0, 0, 0], created


def test_debug_explains_a_new_schedule_by_the_shape_that_changed(capsys):
    with lt.debug(1):
        # shapes and scalars no other test uses, so neither graph is in this process's cache
        (lt.tensor(_data(0, 3, 19)) * 7.125 + 0.375).expm1().realize()
        capsys.readouterr()
        (lt.tensor(_data(1, 4, 19)) * 7.125 + 0.375).expm1().realize()
    err = capsys.readouterr().err
    assert "new schedule" in err and "(4, 19)" in err  # the nearest cached graph may be another test's


def _masked_pair(now: int, before: int) -> tuple:
    """The structure of two masked inputs: one at this step's length, one at the last's."""
    from lazytensor.ir.schedule_cache import structure
    with using("numpy", True):
        x, w = lt.tensor(_data(0, now, now)), lt.tensor(_data(1, before, before))
        y, z = x * lt.ones(now, now).tril(), w * lt.ones(before, before).tril()
        return structure([y.node, z.node]).key


def test_a_step_at_new_lengths_shares_its_sizeless_structure_with_one_at_one_length():
    """A loop at one length shares a mask between steps (one node); a loop over lengths has
    two. Without sizes and constants the structures agree, so the second is seen as the first
    at another size."""
    from lazytensor.ir.schedule_cache import size_free_structure
    one_length, two_lengths = _masked_pair(5, 5), _masked_pair(7, 6)
    assert len(one_length) != len(two_lengths)
    assert size_free_structure(one_length) == size_free_structure(two_lengths)
    with using("numpy", True):  # another computation is not
        x, w = lt.tensor(_data(0, 7, 7)), lt.tensor(_data(1, 6, 6))
        other = (x + lt.ones(7, 7).tril(), w * lt.ones(6, 6).tril())
        from lazytensor.ir.schedule_cache import structure
        assert size_free_structure(structure([t.node for t in other]).key) != size_free_structure(two_lengths)


def test_asking_also_for_a_node_of_the_graph_is_the_structure_of_asking_for_both():
    from lazytensor.ir.schedule_cache import structure
    with using("numpy", True):
        x = lt.tensor(_data(2, 3, 5))
        y = (x * 2).exp()
        z = (y + 1).sum(1)
        assert structure([z.node]).asking_also([y.node]).key == structure([z.node, y.node]).key


def test_a_realised_input_read_twice_is_one_input_of_the_structure():
    from lazytensor.ir.schedule_cache import structure
    with using("numpy", True):
        x = lt.tensor(_data(3, 4)).realize()
        shape = structure([(x * x).node])
        assert [part[0] for part in shape.key[1:-1]] == ["in", "mul"] and shape.key[2][-1] == (0, 0)


def test_the_structure_lists_each_unrealised_node_after_its_sources():
    from lazytensor.ir.schedule_cache import structure
    with using("numpy", True):
        x = lt.tensor(_data(4, 3, 3)).realize()
        shared = x.exp()
        y = shared * 2 + shared.sum(1, keepdim=True)
        nodes = structure([y.node]).nodes
        place = {id(n): i for i, n in enumerate(nodes)}
        assert all(place[id(s)] < i for i, n in enumerate(nodes) for s in n.srcs)
        assert len(place) == len(nodes)  # each once


def test_an_input_of_length_one_shares_the_sizeless_structure_of_a_longer_one():
    """A sequence that grows from one token: a size-1 axis is not a broadcast one, whatever
    stride its buffer gives it, so the step at length 1 is the step at length 2 resized."""
    from lazytensor.ir.schedule_cache import size_free_structure, structure
    with using("numpy", True):
        one, two = lt.tensor([[3]]).realize(), lt.tensor([[3, 4]]).realize()
        keys = [size_free_structure(structure([(t * 2).node]).key) for t in (one, two)]
    assert keys[0] == keys[1]
    with using("numpy", True):  # a broadcast input is another layout
        wide = lt.tensor([[3]]).expand(1, 2).realize()  # a view: its buffer read with stride 0
        assert size_free_structure(structure([(wide * 2).node]).key) != keys[1]
