"""The modules and names training scripts reach for first: torch.utils.data, torch.cuda and
torch.backends on a machine without CUDA, nn.utils, and the small top-level helpers,
compared with PyTorch where it defines the values."""
import inspect
import re

import numpy as np
import pytest
import torch

import lazytensor as lt
from lazytensor.utils.data import (BatchSampler, DataLoader, IterableDataset, RandomSampler, SequentialSampler,
                                   TensorDataset, default_collate, random_split)


def _dataset():
    return TensorDataset(lt.arange(20.0).reshape(10, 2), lt.arange(10))


def test_a_dataloader_batches_in_order_and_keeps_the_last_partial_batch():
    batches = [(x.tolist(), y.tolist()) for x, y in DataLoader(_dataset(), batch_size=4)]
    assert [len(y) for _, y in batches] == [4, 4, 2]
    assert batches[0] == ([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0], [6.0, 7.0]], [0, 1, 2, 3])
    assert len(DataLoader(_dataset(), batch_size=4)) == 3


def test_shuffled_batches_of_a_tensor_dataset_compile_once_and_equal_collated_rows():
    data = TensorDataset(lt.tensor(np.random.default_rng(0).random((200, 8), dtype=np.float32)), lt.arange(200))
    loader = DataLoader(data, batch_size=16, shuffle=True, drop_last=True, generator=lt.Generator().manual_seed(1))
    compiled = []
    for x, y in loader:
        lt.reset_stats()
        got, rows = x.numpy(), y.tolist()
        compiled.append(lt.stats().kernels_compiled)
        np.testing.assert_array_equal(got, default_collate([data[i] for i in rows])[0].numpy())
    assert compiled[1:] == [0] * (len(compiled) - 1)


def test_a_tensor_dataset_of_numpy_arrays_batches_into_tensors():
    x, y = np.arange(20.0, dtype=np.float32).reshape(10, 2), np.arange(10)
    batches = list(DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True, generator=lt.Generator().manual_seed(0)))
    assert all(isinstance(t, lt.Tensor) for b in batches for t in b)
    rows = np.concatenate([b[1].numpy() for b in batches])
    assert sorted(rows.tolist()) == list(range(10))
    np.testing.assert_array_equal(np.concatenate([b[0].numpy() for b in batches]), x[rows])


def test_matmul_of_a_numpy_array_and_a_tensor_is_a_type_error():
    with pytest.raises(TypeError, match="matmul: argument 'input' must be Tensor, not numpy.ndarray"):
        np.ones((2, 2), np.float32) @ lt.ones(2, 2)


def test_drop_last_drops_the_partial_batch():
    loader = DataLoader(_dataset(), batch_size=4, drop_last=True)
    assert [len(y) for _, y in loader] == [4, 4] and len(loader) == 2


def test_shuffling_covers_every_item_once_and_a_seeded_generator_repeats_it():
    def order(seed):
        g = lt.Generator().manual_seed(seed)
        return [i for _, y in DataLoader(_dataset(), batch_size=3, shuffle=True, generator=g) for i in y.tolist()]
    assert sorted(order(0)) == list(range(10))
    assert order(0) == order(0) and order(0) != list(range(10))
    lt.manual_seed(5)
    first = [y.tolist() for _, y in DataLoader(_dataset(), batch_size=10, shuffle=True)]
    lt.manual_seed(5)
    assert [y.tolist() for _, y in DataLoader(_dataset(), batch_size=10, shuffle=True)] == first


def test_epochs_of_one_shuffling_loader_differ():
    loader = DataLoader(_dataset(), batch_size=10, shuffle=True, generator=lt.Generator().manual_seed(1))
    assert next(iter(loader))[1].tolist() != next(iter(loader))[1].tolist()


def test_collate_stacks_tensors_and_numbers_inside_dicts_and_tuples():
    class Pairs:
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return {"x": lt.full((2,), float(i)), "label": i, "meta": (i * 0.5, np.array([i, i]))}

    batch = next(iter(DataLoader(Pairs(), batch_size=3)))
    assert batch["x"].tolist() == [[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]
    assert batch["label"].tolist() == [0, 1, 2] and batch["label"].dtype == lt.int64
    assert batch["meta"][0].tolist() == [0.0, 0.5, 1.0] and batch["meta"][1].tolist() == [[0, 0], [1, 1], [2, 2]]


def test_an_iterable_dataset_is_batched_as_it_streams():
    class Count(IterableDataset):
        def __iter__(self):
            return iter(range(5))

    assert [b.tolist() for b in DataLoader(Count(), batch_size=2)] == [[0, 1], [2, 3], [4]]
    with pytest.raises(ValueError, match="IterableDataset"):
        DataLoader(Count(), shuffle=True)


def test_random_split_makes_disjoint_subsets_of_the_asked_sizes():
    parts = random_split(_dataset(), [0.7, 0.3], generator=lt.Generator().manual_seed(0))
    assert [len(p) for p in parts] == [7, 3]
    seen = sorted(int(p[i][1].item()) for p in parts for i in range(len(p)))
    assert seen == list(range(10))
    with pytest.raises(ValueError, match="sum of input lengths"):
        random_split(_dataset(), [4, 4])


def test_samplers():
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3]
    drawn = list(RandomSampler(range(6), replacement=True, num_samples=20, generator=lt.Generator().manual_seed(2)))
    assert len(drawn) == 20 and set(drawn) <= set(range(6))
    assert list(BatchSampler(SequentialSampler(range(5)), 2, drop_last=False)) == [[0, 1], [2, 3], [4]]


def test_cuda_is_absent_and_says_where_the_gpu_path_is():
    assert lt.cuda.is_available() is False and lt.cuda.device_count() == 0
    lt.cuda.manual_seed_all(3)
    assert lt.initial_seed() == 3
    lt.cuda.synchronize()
    with pytest.raises(RuntimeError, match="not compiled with CUDA.*OpenCL"):
        lt.ones(2).cuda()


def test_backend_flags_that_scripts_set_are_accepted():
    lt.backends.cuda.matmul.allow_tf32 = True
    lt.backends.cudnn.allow_tf32 = True
    lt.backends.cudnn.benchmark = True
    assert lt.backends.mps.is_available() is False


def test_equal_allclose_and_isclose_match_torch():
    a, b = np.array([1.0, 2.0, np.nan], np.float32), np.array([1.0, 2.0 + 1e-6, np.nan], np.float32)
    for kw in ({}, {"equal_nan": True}, {"rtol": 0.0, "atol": 0.0}):
        assert lt.allclose(lt.tensor(a), lt.tensor(b), **kw) == torch.allclose(torch.tensor(a), torch.tensor(b), **kw)
        np.testing.assert_array_equal(lt.isclose(lt.tensor(a), lt.tensor(b), **kw).numpy(),
                                      torch.isclose(torch.tensor(a), torch.tensor(b), **kw).numpy())
    assert lt.equal(lt.ones(2), lt.ones(2)) and not lt.equal(lt.ones(2), lt.ones(3))


def test_compile_wraps_a_function_with_jit_and_keeps_a_module():
    fn = lt.compile(lambda x: x * 2 + 1)
    assert isinstance(fn, lt.jit) and fn(lt.ones(2)).tolist() == [3.0, 3.0]
    model = lt.nn.Linear(2, 2)
    assert lt.compile(model) is model
    assert lt.compile(mode="max-autotune")(model) is model


def test_a_0d_tensor_takes_a_format_spec_and_others_do_not():
    assert f"{lt.tensor(1.23456):.3f}" == f"{torch.tensor(1.23456):.3f}" == "1.235"
    assert f"{lt.tensor(7):d}" == "7"
    with pytest.raises(TypeError):
        f"{lt.ones(2):.1f}"
    assert f"{lt.ones(2)}" == repr(lt.ones(2))
    assert lt.ones(2).is_cuda is False


def test_legacy_tensor_types_construct_and_check_by_dtype():
    assert lt.FloatTensor([1, 2]).dtype == lt.float32 and lt.LongTensor([1, 2]).dtype == lt.int64
    assert tuple(lt.FloatTensor(2, 3).shape) == (2, 3)
    assert isinstance(lt.ones(2), lt.FloatTensor) and not isinstance(lt.ones(2), lt.LongTensor)
    assert isinstance(lt.arange(3), lt.LongTensor)


def test_type_names_the_legacy_type_and_converts_to_one():
    """x.type() answers as torch's does ('torch.FloatTensor' there); x.type(T) converts to a
    dtype, a legacy class or its name."""
    import torch
    for value in (lt.ones(2), lt.arange(3), lt.ones(2) > 0, lt.ones(2, dtype=lt.float64)):
        assert value.type() == "lazytensor." + torch.from_numpy(value.numpy()).type().split(".")[1]
    x = lt.ones(2)
    assert x.type(lt.DoubleTensor).dtype == lt.float64 and x.type("torch.LongTensor").dtype == lt.int64
    assert x.type(lt.int32).dtype == lt.int32


def test_the_default_dtype_is_float32_and_only_float32_can_be_set():
    assert lt.get_default_dtype() == lt.float32
    lt.set_default_dtype(lt.float32)
    with pytest.raises(NotImplementedError, match="set_default_dtype: .*float64"):
        lt.set_default_dtype(lt.float64)


def test_version_and_threads():
    assert lt.__version__.count(".") >= 2
    lt.set_num_threads(1)
    assert lt.get_num_threads() >= 1


def _grads_after(m, clip):
    m.manual_seed(0)
    lin = m.nn.Linear(3, 2)
    with m.no_grad():
        lin.weight.copy_(m.tensor([[1.0, -2.0, 3.0], [0.5, 0.1, -1.0]]))
        lin.bias.copy_(m.tensor([0.2, -0.3]))
    (lin(m.tensor([[1.0, 2.0, 3.0]])) ** 2).sum().backward()
    out = clip(m, lin.parameters())
    return [p.grad.numpy() if m is lt else p.grad.detach().numpy() for p in lin.parameters()], out


@pytest.mark.parametrize("clip", [
    lambda m, ps: float(m.nn.utils.clip_grad_norm_(ps, 1.0)),
    lambda m, ps: float(m.nn.utils.clip_grad_norm_(ps, 5.0, norm_type=float("inf"))),
    lambda m, ps: m.nn.utils.clip_grad_value_(ps, 0.1),
], ids=["norm", "inf_norm", "value"])
def test_gradient_clipping_matches_torch(clip):
    (lg, lout), (tg, tout) = _grads_after(lt, clip), _grads_after(torch, clip)
    for a, b in zip(lg, tg):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert lout == pytest.approx(tout, rel=1e-6) if tout is not None else lout is None


def test_parameters_to_vector_and_back():
    lin = lt.nn.Linear(3, 2)
    vec = lt.nn.utils.parameters_to_vector(lin.parameters())
    assert tuple(vec.shape) == (8,)
    lt.nn.utils.vector_to_parameters(lt.arange(8.0), lin.parameters())
    assert lin.weight.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]] and lin.bias.tolist() == [6.0, 7.0]
    assert lin.weight.requires_grad and lin.weight.is_leaf
    with pytest.raises(RuntimeError, match="8 elements.*the vector has 3|the vector has 3 elements"):
        lt.nn.utils.vector_to_parameters(lt.ones(3), lin.parameters())


def _scaled_training(m, steps=4, overflow_at=2):
    m.manual_seed(0)
    model = m.nn.Linear(3, 1)
    with m.no_grad():
        model.weight.copy_(m.tensor([[0.5, -1.0, 2.0]]))
        model.bias.zero_()
    opt = m.optim.SGD(model.parameters(), lr=0.1)
    scaler = m.amp.GradScaler("cpu", init_scale=1024.0, growth_interval=2)
    x, y = m.tensor([[1.0, 2.0, 3.0], [0.5, 0.0, -1.0]]), m.tensor([[1.0], [0.0]])
    scales = []
    for i in range(steps):
        opt.zero_grad()
        with m.autocast(device_type="cpu", dtype=m.float16 if m is lt else m.bfloat16, enabled=False):
            loss = ((model(x) - y) ** 2).mean()
        scaler.scale(loss * (float("inf") if i == overflow_at else 1.0)).backward()
        scaler.step(opt)
        scaler.update()
        scales.append(scaler.get_scale())
    return model.weight.detach().numpy(), scales


def test_grad_scaler_scales_skips_an_overflowing_step_and_adapts_like_torch():
    (lw, lscales), (tw, tscales) = _scaled_training(lt), _scaled_training(torch)
    np.testing.assert_allclose(lw, tw, rtol=1e-6)
    assert lscales == tscales  # grows after 2 good steps, halves at the overflow


def test_a_disabled_grad_scaler_passes_everything_through():
    scaler = lt.amp.GradScaler(enabled=False)
    loss = lt.tensor(2.0)
    assert scaler.scale(loss) is loss and scaler.get_scale() == 1.0
    from lazytensor.cuda.amp import GradScaler, autocast
    assert GradScaler is lt.amp.GradScaler
    with autocast():
        pass


@pytest.mark.parametrize("call", [
    lambda m: m.matmul(input=m.ones(2, 2), other=m.ones(2, 2)),
    lambda m: m.add(input=m.ones(2), other=m.ones(2), alpha=2),
    lambda m: m.mul(input=m.ones(2), other=3),
    lambda m: m.sum(input=m.ones(2, 2), dim=1),
    lambda m: m.max(input=m.ones(2, 2), dim=1).values,
    lambda m: m.transpose(input=m.ones(2, 3), dim0=0, dim1=1),
    lambda m: m.reshape(input=m.arange(4.0), shape=(2, 2)),
    lambda m: m.flatten(input=m.ones(2, 2), start_dim=0),
    lambda m: m.exp(input=m.zeros(2)),
    lambda m: m.bmm(input=m.ones(1, 2, 2), mat2=m.ones(1, 2, 2)),
    lambda m: m.mm(input=m.ones(2, 2), mat2=m.ones(2, 2)),
    lambda m: m.topk(input=m.arange(3.0), k=2).values,
    lambda m: m.gather(input=m.ones(2, 2), dim=1, index=m.zeros(2, 1, dtype=m.int64)),
    lambda m: m.zeros_like(input=m.ones(2)),
    lambda m: m.where(condition=m.arange(3) > 0, input=m.ones(3), other=m.zeros(3)),
    lambda m: m.std_mean(m.arange(6.0).reshape(3, 2), dim=0)[0],
], ids=["matmul", "add", "mul", "sum", "max", "transpose", "reshape", "flatten", "exp", "bmm", "mm", "topk",
        "gather", "zeros_like", "where", "std_mean"])
def test_functions_take_pytorchs_keyword_names(call):
    ours, theirs = call(lt), call(torch)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


# keywords lazytensor does not take: out= (results are new tensors), memory layout and pinning
_NOT_TAKEN = {"out", "layout", "pin_memory", "memory_format", "names"}


def _split_outside_brackets(text: str) -> list[str]:
    """Split at commas that are not inside [...] or (...): `dim: Optional[Union[int, List[int]]]`
    is one, and so is `dims=(0, 1)`."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += {"[": 1, "]": -1, "(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return parts + [text[start:]]


def _torch_keywords(fn) -> list[str] | None:
    """The parameter names in the signature line of a torch function's docstring."""
    lines = (getattr(fn, "__doc__", None) or "").strip().splitlines()
    match = re.match(r"\w+\((.*?)\)\s*->", lines[0]) if lines else None
    if match is None:
        return None
    names = (p.split("=")[0].split(":")[0].strip() for p in _split_outside_brackets(match.group(1)))
    return [n for n in names if n and not n.startswith(("*", "\\*")) and n not in _NOT_TAKEN]


def _our_keywords(fn) -> set[str] | None:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind == p.VAR_KEYWORD for p in params):
        return None  # takes anything: its own checks name what it refuses
    return {p.name for p in params} | set(getattr(fn, "torch_keywords", ()))


def test_every_function_takes_the_keywords_of_its_torch_signature():
    """An audit of every top-level function torch also has, against torch's own signatures."""
    missing, audited = {}, 0
    for name in sorted(n for n in dir(lt) if not n.startswith("_")):
        ours, theirs = getattr(lt, name), getattr(torch, name, None)
        if not inspect.isfunction(ours) or theirs is None:
            continue
        wanted, accepted = _torch_keywords(theirs), _our_keywords(ours)
        if wanted is None or accepted is None:
            continue
        audited += 1
        if lacking := [k for k in wanted if k not in accepted]:
            missing[name] = lacking
    assert audited > 100
    assert not missing, f"functions lacking torch's keyword names: {missing}"


def test_tensorboard_is_absent_with_an_import_error_naming_it():
    with pytest.raises(ImportError, match="lazytensor.utils.tensorboard does not exist.*tensorboardX"):
        import lazytensor.utils.tensorboard  # noqa: F401
