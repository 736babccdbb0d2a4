"""torch's training utilities beside the optimizers: utils.data's samplers and datasets,
nn.init's structured initialisers, and autograd's functional API and anomaly mode, against torch."""
import warnings
from collections import namedtuple

import numpy as np
import pytest
import torch

import lazytensor as lt
from helpers import check, check_cases, not_eager_on_cl, using, values

F = lt.autograd.functional


# ---- utils.data ------------------------------------------------------------------------------
def test_subset_random_sampler_permutes_its_indices():
    sampler = lt.utils.data.SubsetRandomSampler([3, 7, 11, 20, 21], generator=lt.Generator().manual_seed(1))
    first, second = list(sampler), list(sampler)
    assert sorted(first) == sorted(second) == [3, 7, 11, 20, 21] and len(sampler) == 5
    assert first != second  # a new order each epoch, as torch's


def test_weighted_random_sampler_draws_in_proportion_to_the_weights():
    weights = [0.0, 1.0, 3.0]
    sampler = lt.utils.data.WeightedRandomSampler(weights, 4000, generator=lt.Generator().manual_seed(0))
    counts = np.bincount(list(sampler), minlength=3)
    assert len(sampler) == 4000 and counts[0] == 0
    assert abs(counts[2] / counts[1] - 3.0) < 0.3


def test_weighted_random_sampler_without_replacement_draws_distinct_indices_zero_weights_last():
    sampler = lt.utils.data.WeightedRandomSampler(lt.tensor([1.0, 0.0, 2.0, 5.0, 0.0]), 5, replacement=False)
    first = list(sampler)
    assert sorted(first[:3]) == [0, 2, 3] and sorted(first[3:]) == [1, 4]
    # heavier weights come first more often
    heavy = lt.utils.data.WeightedRandomSampler([1.0, 9.0], 1, replacement=False, generator=lt.Generator().manual_seed(2))
    firsts = [next(iter(heavy)) for _ in range(300)]
    assert 0.8 < np.mean(firsts) < 0.97


def test_weighted_random_sampler_refusals():
    def case(args):
        kwargs, err, when = args
        if when == "call":
            with pytest.raises(err):
                lt.utils.data.WeightedRandomSampler(**kwargs)
            with pytest.raises(err):
                torch.utils.data.WeightedRandomSampler(**kwargs)
        else:
            with pytest.raises(err):
                list(lt.utils.data.WeightedRandomSampler(**kwargs))
            with pytest.raises(err):
                list(torch.utils.data.WeightedRandomSampler(**{**kwargs, "weights": torch.tensor(kwargs["weights"])}))
    check_cases({
        "zero num_samples": (dict(weights=[1.0], num_samples=0), ValueError, "call"),
        "bool num_samples": (dict(weights=[1.0], num_samples=True), ValueError, "call"),
        "replacement not bool": (dict(weights=[1.0], num_samples=1, replacement=1), ValueError, "call"),
        "2-d weights": (dict(weights=[[1.0, 2.0]], num_samples=1), ValueError, "call"),
        "negative weight": (dict(weights=[1.0, -1.0], num_samples=1), RuntimeError, "iter"),
        "all zero": (dict(weights=[0.0, 0.0], num_samples=1), RuntimeError, "iter"),
        "too many without replacement": (dict(weights=[1.0, 0.0], num_samples=3, replacement=False), RuntimeError,
                                         "iter"),
    }, case)


class _Range(lt.utils.data.IterableDataset):
    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def __iter__(self):
        return iter(range(self.lo, self.hi))

    def __len__(self):
        return self.hi - self.lo


def test_chain_dataset_and_iterable_addition_chain_their_items():
    chained = lt.utils.data.ChainDataset([_Range(0, 2), _Range(5, 7)])
    assert list(chained) == [0, 1, 5, 6] and len(chained) == 4
    assert list(_Range(0, 1) + _Range(3, 4)) == [0, 3]
    with pytest.raises(AssertionError, match="IterableDataset"):
        list(lt.utils.data.ChainDataset([lt.utils.data.TensorDataset(lt.ones(2))]))


def test_stack_dataset_as_tuple_and_as_dict():
    a, b = lt.arange(4.0), lt.arange(4) * 10
    tup = lt.utils.data.StackDataset(a, b)
    named = lt.utils.data.StackDataset(x=a, y=b)
    assert len(tup) == 4 and [v.item() for v in tup[2]] == [2.0, 20]
    assert {k: v.item() for k, v in named[3].items()} == {"x": 3.0, "y": 30}
    batch = next(iter(lt.utils.data.DataLoader(named, batch_size=3)))
    check(batch["y"], torch.tensor([0, 10, 20]))
    for args, kwargs in (((a, lt.ones(3)), {}), ((), {}), ((a,), {"y": b})):
        with pytest.raises(ValueError):
            lt.utils.data.StackDataset(*args, **kwargs)


def test_default_convert_matches_torch():
    point = namedtuple("Point", "x y")
    sample = {"a": np.arange(3), "b": (np.float32(1.5), 2), "c": point(np.ones(2), "s"), "d": "text",
              "e": np.array(["u"])}
    got, ref = lt.utils.data.default_convert(sample), torch.utils.data.default_convert(sample)
    check(got["a"], ref["a"])
    assert isinstance(got["b"], list) and got["b"][1] == 2
    check(got["b"][0], ref["b"][0])
    assert type(got["c"]) is point and got["c"].y == "s"
    check(got["c"].x, ref["c"].x)
    assert got["d"] == "text" and got["e"] is sample["e"]


def test_dataloader_without_batching_converts_each_item():
    class Arrays(lt.utils.data.Dataset):
        def __getitem__(self, i):
            return np.full(2, i)

        def __len__(self):
            return 3
    items = list(lt.utils.data.DataLoader(Arrays(), batch_size=None))
    refs = list(torch.utils.data.DataLoader(Arrays(), batch_size=None))
    check(items, refs)
    assert lt.utils.data.get_worker_info() is None is torch.utils.data.get_worker_info()


def test_dataloader_batches_like_torch_for_samplers_and_collate():
    with using("numpy", True):
        data = lt.utils.data.TensorDataset(lt.arange(10.0))
    tdata = torch.utils.data.TensorDataset(torch.arange(10.0))
    cases = {
        "drop_last": dict(batch_size=4, drop_last=True),
        "keep_last": dict(batch_size=4),
        "collate_fn": dict(batch_size=3, collate_fn=lambda b: len(b)),
        "batch_sampler": dict(batch_sampler=[[0, 5], [9], [2, 3, 4]]),
    }

    def case(kw):
        with using("numpy", True):  # batching is host work; its gathers need no OpenCL compile
            got = list(lt.utils.data.DataLoader(data, **kw))
        ref = list(torch.utils.data.DataLoader(tdata, **kw))
        assert len(got) == len(ref)
        for g, r in zip(got, ref):
            check(g, r) if not isinstance(r, int) else (g == r) or pytest.fail(f"{g} != {r}")
    check_cases(cases, case)


def test_dataloader_shuffle_with_a_generator_is_a_reproducible_permutation():
    data = lt.utils.data.TensorDataset(lt.arange(12))

    def epoch(seed):
        loader = lt.utils.data.DataLoader(data, batch_size=5, shuffle=True, generator=lt.Generator().manual_seed(seed))
        return [int(v) for (batch,) in loader for v in batch.numpy()]
    assert sorted(epoch(3)) == list(range(12)) and epoch(3) == epoch(3) and epoch(3) != epoch(4)


# ---- nn.init ---------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (4, 2, 3)])
def test_orthogonal_gives_orthonormal_rows_or_columns(env, shape):
    w = lt.nn.Parameter(lt.empty(*shape))
    assert lt.nn.init.orthogonal_(w, gain=2.0) is w and w.requires_grad and w.is_leaf
    flat = w.numpy().reshape(shape[0], -1).astype(np.float64)
    gram = flat @ flat.T if flat.shape[0] <= flat.shape[1] else flat.T @ flat
    np.testing.assert_allclose(gram, 4.0 * np.eye(len(gram)), atol=1e-5)


def test_orthogonal_is_uniform_over_signs_and_refuses_vectors():
    # Q's signs follow R's diagonal, so the diagonal of many draws is centred on 0 (torch's too)
    lt.manual_seed(0)
    diag = np.stack([np.diag(lt.nn.init.orthogonal_(lt.empty(3, 3)).numpy()) for _ in range(200)])
    assert abs(diag.mean()) < 0.1
    with pytest.raises(ValueError, match="2 or more dimensions"):
        lt.nn.init.orthogonal_(lt.empty(3))
    assert lt.nn.init.orthogonal_(lt.empty(0, 3)).shape == (0, 3)


@pytest.mark.parametrize("shape,groups", [((4, 2, 3), 2), ((3, 3, 3, 3), 1), ((2, 4, 1, 2, 3), 1), ((6, 1, 2, 2), 3)])
def test_dirac_matches_torch(env, shape, groups):
    w, ref = lt.empty(*shape, dtype=lt.float64), torch.empty(*shape, dtype=torch.float64)
    check(lt.nn.init.dirac_(w, groups), torch.nn.init.dirac_(ref, groups))


def test_dirac_and_sparse_refusals():
    for fn, arg in ((lambda t: lt.nn.init.dirac_(t), lt.empty(2, 2)), (lambda t: lt.nn.init.dirac_(t, 2), lt.empty(3, 2, 2)),
                    (lambda t: lt.nn.init.sparse_(t, 0.5), lt.empty(2, 2, 2))):
        with pytest.raises(ValueError):
            fn(arg)


def test_sparse_zeroes_the_same_count_in_every_column(env):
    w = lt.nn.init.sparse_(lt.empty(10, 6), sparsity=0.25, std=0.5)
    zeros = (w.numpy() == 0).sum(0)
    assert (zeros == 3).all()  # ceil(0.25 * 10), as torch
    assert 0.2 < w.numpy()[w.numpy() != 0].std() < 1.0


# ---- autograd.functional ---------------------------------------------------------------------
def _pair(shape, seed, dtype="float32"):
    a = values(shape, dtype, "unit", seed)
    return lt.tensor(a), torch.tensor(a)


# name -> (function written for both libraries, input shapes)
FUNCTIONS = {
    "single": (lambda x: (x.sin() * x.sum()), ((3,),)),
    "matrix": (lambda x: x @ x.t(), ((2, 3),)),
    "two_in_two_out": (lambda x, y: ((x * y.exp()).sum(), x ** 2 + y), ((3,), (3,))),
    "0-d": (lambda x: x * x * 3, ((),)),
    "unused_input": (lambda x, y: x.tanh(), ((2,), (2,))),
}


def _inputs(shapes, tuple_in):
    pairs = [_pair(s, i) for i, s in enumerate(shapes)]
    ls, ts = [p[0] for p in pairs], [p[1] for p in pairs]
    return (tuple(ls), tuple(ts)) if tuple_in or len(shapes) > 1 else (ls[0], ts[0])


def test_jacobian_matches_torch(env):
    not_eager_on_cl(env)

    def case(name):
        fn, shapes = FUNCTIONS[name]
        li, ti = _inputs(shapes, tuple_in=(name == "matrix"))
        check(F.jacobian(fn, li), torch.autograd.functional.jacobian(fn, ti))
    check_cases(list(FUNCTIONS), case)


def test_hessian_matches_torch(env):
    not_eager_on_cl(env)
    cases = {
        "cubic": (lambda x: (x ** 3).sum() + x[0] * x[1], ((3,),)),
        "two_inputs": (lambda x, y: (x.exp() * y).sum() + (y * y).sum(), ((2,), (2,))),
        "matrix": (lambda x: (x @ x.t()).tanh().sum(), ((2, 2),)),
    }

    def case(fn_and_shapes):
        fn, shapes = fn_and_shapes
        li, ti = _inputs(shapes, tuple_in=False)
        check(F.hessian(fn, li), torch.autograd.functional.hessian(fn, ti), rtol=1e-4, atol=1e-5)
    check_cases(cases, case)


@pytest.mark.parametrize("op", ["vjp", "jvp", "vhp", "hvp"])
def test_vector_products_match_torch(env, op):
    not_eager_on_cl(env)
    scalar = op in ("vhp", "hvp")
    fn = (lambda x, y: (x.sin() * y).sum() * x.sum()) if scalar else (lambda x, y: (x * y.exp(), x.sum() * y))
    li, ti = _inputs(((3,), (3,)), tuple_in=True)
    vl, vt = zip(*[_pair((3,), 10 + i) for i in range(2)])
    got = getattr(F, op)(fn, li, tuple(vl))
    ref = getattr(torch.autograd.functional, op)(fn, ti, tuple(vt))
    check(got, ref, rtol=1e-5, atol=1e-5)
    assert not any(t.requires_grad for t in got[1])


def test_vjp_and_hvp_with_create_graph_reach_the_inputs(env):
    not_eager_on_cl(env)
    fn = lambda x: (x ** 3).sum() * x[0]  # noqa: E731
    a = values((3,), "float32", "unit", 0)
    v = values((3,), "float32", "unit", 1)
    grads = []
    for m, mod in ((lt, F), (torch, torch.autograd.functional)):
        x = m.tensor(a, requires_grad=True)
        out, h = mod.hvp(fn, x, m.tensor(v), create_graph=True)
        assert h.requires_grad and out.requires_grad
        (h.sum() + out).backward()
        grads.append(x.grad)
    check(grads[0], grads[1], rtol=1e-5)


def test_functional_none_v_and_unused_inputs():
    x = lt.tensor(2.0)
    out, g = F.vjp(lambda t: t ** 3, x)
    assert abs(g.item() - 12.0) < 1e-5 and abs(out.item() - 8.0) < 1e-6
    jac = F.jacobian(lambda a, b: a * 2, (lt.ones(2), lt.ones(3)))
    check(jac[1], torch.zeros(2, 3))
    with pytest.raises(RuntimeError, match="independent of input 1"):
        F.jacobian(lambda a, b: a * 2, (lt.ones(2), lt.ones(3)), strict=True)


def test_functional_refusals():
    x = lt.ones(3)
    check_cases({
        "v None for a vector output": lambda: F.vjp(lambda t: t * 2, x),
        "v of the wrong shape": lambda: F.vjp(lambda t: t * 2, x, lt.ones(2)),
        "v of the wrong count": lambda: F.jvp(lambda t: t * 2, x, (lt.ones(3), lt.ones(3))),
        "hessian of a vector function": lambda: F.hessian(lambda t: t * 2, x),
        "hvp of a tuple function": lambda: F.hvp(lambda t: (t.sum(), t.sum()), x, x),
        "output not a tensor": lambda: F.jacobian(lambda t: 3.0, x),
        "bad strategy": lambda: F.jacobian(lambda t: t, x, strategy="sideways"),
    }, lambda call: pytest.raises((RuntimeError, TypeError, ValueError), call))
    with pytest.raises(NotImplementedError, match="forward-mode"):
        F.jacobian(lambda t: t, x, strategy="forward-mode")


# ---- anomaly mode and Variable ----------------------------------------------------------------
def test_detect_anomaly_names_the_op_whose_gradient_is_nan(env):
    x = lt.tensor([0.0, 1.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with lt.autograd.detect_anomaly():
            assert lt.is_anomaly_enabled()
            loss = (x.sqrt() * 0.0).sum()  # sqrt's gradient at 0 is inf, times 0: NaN
            with pytest.raises(RuntimeError, match=r"Function 'SqrtBackward0' returned nan values.*test_training_utils"):
                loss.backward()
    assert not lt.is_anomaly_enabled()
    (x.sqrt() * 0.0).sum().backward()  # outside the mode, torch's NaN gradient and no error
    assert np.isnan(x.grad.numpy()[0])


def test_set_detect_anomaly_with_check_nan_off_lets_backward_through():
    x = lt.tensor([0.0], requires_grad=True)
    with lt.autograd.set_detect_anomaly(True, check_nan=False):
        assert lt.is_anomaly_enabled() and not lt.is_anomaly_check_nan_enabled()
        (x.sqrt() * 0.0).sum().backward()
    assert not lt.is_anomaly_enabled() and np.isnan(x.grad.numpy()[0])


def test_variable_is_the_legacy_name_of_a_tensor():
    v = lt.autograd.Variable(lt.ones(2), requires_grad=True)
    assert isinstance(lt.zeros(1), lt.autograd.Variable) and v.requires_grad and v.is_leaf
    assert not isinstance(np.zeros(1), lt.autograd.Variable)
    (v * 3).sum().backward()
    check(v.grad, torch.full((2,), 3.0))

