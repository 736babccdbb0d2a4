"""Sizes that vary become kernel arguments: the number of programs stops growing with the
number of lengths (codegen/hoist.py), and every length computes what it would alone."""
import re
from dataclasses import replace

import numpy as np
import pytest
import torch

import lazytensor as lt
from helpers import cl_unavailable_reason, using
from lazytensor.codegen.hoist import CUT_FROM, Hoister, split
from lazytensor.codegen.opt import Opt, OptError, OptKind, make_plan
from lazytensor.codegen.program import RenderedKernel
from lazytensor.runtime.devices import get_device
from lazytensor.runtime.stats import STATS


def _source(rows: int, step: int = 16, name: str = "k") -> str:
    return f"""__kernel void {name}(__global float* restrict b0, const float a0) {{
  __local float part[64];
  const int g0 = (int)get_global_id(0);
  int t3 = (g0 * {step});
  float4 t4 = vload4(0, b0 + t3);
  for (int r1 = 0; r1 < {rows}; r1++) {{ b0[t3 + r1] = t4.s3 * 1.5f + a0; }}
}}
"""


def _kernel(rows: int, step: int = 16, name: str = "k_x") -> RenderedKernel:
    return RenderedKernel(name, _source(rows, step, name), (rows,), None, (("out", 0),), 1, 1)


# ---- the codegen layer ---------------------------------------------------------------------
def test_integer_literals_are_split_out_but_not_names_floats_lanes_or_local_sizes():
    parts = split(_source(3, name="k_3x16"), "k_3x16")
    assert parts.literals == (0, 16, 0, 0, 3)  # get_global_id(0), * 16, vload4(0, .., r1 = 0, < 3
    assert any("part[64]" in piece for piece in parts.skeleton)
    assert not any("3x16" in piece for piece in parts.skeleton)  # the kernel's name is left out


def test_the_first_kernel_of_a_skeleton_is_kept_as_it_is():
    first = _kernel(3)
    assert Hoister().kernel(first) is first


def test_a_kernel_that_differs_in_a_size_runs_a_generic_kernel_with_the_size_as_argument():
    hoister = Hoister()
    hoister.kernel(_kernel(3))
    generic = hoister.kernel(_kernel(5))
    assert "const int lt_n0" in generic.source and "r1 < lt_n0" in generic.source
    assert "g0 * 16" in generic.source  # what did not vary stays a constant
    assert generic.literals == (5,) and generic.global_size == (5,)


def test_later_sizes_share_the_generic_kernel_with_their_own_values():
    hoister = Hoister()
    hoister.kernel(_kernel(3))
    five, seven = hoister.kernel(_kernel(5)), hoister.kernel(_kernel(7))
    assert seven.source == five.source and seven.name == five.name
    assert seven.literals == (7,) and seven.global_size == (7,)


def test_a_kernel_varying_in_another_literal_gets_a_generic_kernel_taking_both():
    hoister = Hoister()
    hoister.kernel(_kernel(3))
    hoister.kernel(_kernel(5))
    both = hoister.kernel(_kernel(5, step=32))
    assert "g0 * lt_n0" in both.source and "r1 < lt_n1" in both.source
    assert both.literals == (32, 5)


def test_the_same_code_under_other_names_is_one_program():
    """Sizes only in the launch: the kernels' names differ (they carry shapes), their code not."""
    hoister = Hoister()
    hoister.kernel(_kernel(3, name="k_3"))
    b, c = hoister.kernel(_kernel(3, name="k_4")), hoister.kernel(_kernel(3, name="k_5"))
    assert b.source == c.source and b.name == c.name and b.literals == ()
    assert b.sized_at_launch and b.name.startswith("k_n")  # a name no other code has


def test_kernels_of_one_realisation_that_differ_in_literals_share_one_generic_kernel():
    """Two layers of different widths: one program compiles, each launches it with its sizes."""
    from lazytensor.codegen.program import RenderedProgram
    narrow, wide = (RenderedProgram((_kernel(rows, name=f"k_{rows}"),)) for rows in (3, 5))
    other = RenderedProgram((replace(_kernel(3, name="k_o"), source=_source(3, name="k_o").replace("1.5f", "2.5f")),))
    shared = Hoister().share([narrow, wide, other])
    (a,), (b,) = shared[0].kernels, shared[1].kernels
    assert a.source == b.source and "r1 < lt_n0" in a.source and a.sized_at_launch
    assert (a.literals, a.global_size, b.literals, b.global_size) == ((3,), (3,), (5,), (5,))
    assert shared[2] is other  # code of its own stays as it is


def test_a_kernel_running_a_generic_code_is_not_shared_again():
    """A launch of a generic kernel (its holes are arguments) is left as it is, even beside a
    launch of another generic code of its skeleton."""
    from lazytensor.codegen.program import RenderedProgram
    first, second = Hoister(), Hoister()
    first.kernel(_kernel(3))
    second.kernel(_kernel(3, step=32))
    a, b = first.kernel(_kernel(5)), second.kernel(_kernel(7, step=32))
    programs = [RenderedProgram((a,)), RenderedProgram((b,))]
    assert first.share(programs) == programs


def test_a_copy_of_the_familys_first_joins_a_generic_kernel_with_another_width():
    """A kernel launched as the family's shared copy and one of other literals, in one
    realisation (two layers, one met before at the first's width): one generic kernel."""
    from lazytensor.codegen.program import RenderedProgram
    hoister = Hoister()
    hoister.kernel(_kernel(3, name="k_3"))
    copy, other = hoister.kernel(_kernel(3, name="k_4")), _kernel(5, name="k_5")
    (a,), (b,) = (p.kernels for p in hoister.share([RenderedProgram((copy,)), RenderedProgram((other,))]))
    assert a.source == b.source and "r1 < lt_n0" in a.source and (a.literals, b.literals) == ((3,), (5,))
    assert (_code_run(a), _code_run(b)) == (_code_run(_kernel(3)), _code_run(_kernel(5)))
    assert a.name.count("_n") == 1  # one digest in its name, not the copy's and its own


def _code_run(kernel: RenderedKernel) -> str:
    """The code a launch of `kernel` runs: each size argument replaced by its value, names left out."""
    source = re.sub(r", const int lt_n\d+", "", kernel.source)
    source = re.sub(r"\blt_n(\d+)\b", lambda m: str(kernel.literals[int(m.group(1))]), source)
    return source.replace(kernel.name, "K")


def _program(rows: int, step: int = 16):
    from lazytensor.codegen.program import RenderedProgram
    return RenderedProgram((_kernel(rows, step, name=f"k_{rows}x{step}"),))


@pytest.mark.parametrize("sizes", [((3, 32), (5, 32)), ((3, 16), (5, 32)), ((7, 32), (7, 16), (9, 64))])
def test_shared_kernels_run_their_own_code_where_the_family_began_at_other_sizes(sizes):
    """The family began at step 16 and has a generic kernel over rows: kernels of a later
    realisation at other steps must not run that kernel's step."""
    hoister = Hoister()
    hoister.kernel(_kernel(3))
    hoister.kernel(_kernel(5))
    programs = [_program(rows, step) for rows, step in sizes]
    for before, after in zip(programs, hoister.share(programs)):
        assert _code_run(after.kernels[0]) == _code_run(before.kernels[0])
    later = hoister.kernel(_kernel(9, step=32), generic=False)  # covered now, or kept as it is
    assert _code_run(later) == _code_run(_kernel(9, step=32))
    assert _code_run(hoister.kernel(_kernel(11), generic=False)) == _code_run(_kernel(11))


def test_generic_kernels_of_different_code_never_share_a_name():
    """A name is a digest of the code: a plan from another process can hold a generic kernel
    whose family began at other sizes, and two codes under one name would launch one of them."""
    first, second = Hoister(), Hoister()
    first.kernel(_kernel(3))
    second.kernel(_kernel(3, step=32))
    a, b = first.kernel(_kernel(5)), second.kernel(_kernel(5, step=32))  # both take rows, keep their steps
    assert _code_run(a) == _code_run(_kernel(5)) and _code_run(b) == _code_run(_kernel(5, step=32))
    assert a.source != b.source and a.name != b.name


def test_a_kernel_covered_by_a_generic_one_takes_it_even_where_it_would_keep_its_own():
    hoister = Hoister()
    hoister.kernel(_kernel(3))
    five = hoister.kernel(_kernel(5))
    seven = hoister.kernel(_kernel(7), generic=False)  # compiled already, and computes the same
    assert seven.source == five.source and seven.literals == (7,)
    assert hoister.kernel(_kernel(7, step=32), generic=False).source == _source(7, 32, "k_x")


def test_a_plan_refuses_to_cut_a_variable_whose_size_varies():
    from lazytensor.codegen.hoist import variable_sizes
    from lazytensor.codegen.lower import lower_kernel
    from lazytensor.ir.schedule import schedule
    with using("numpy", True):
        x = lt.tensor(np.ones((8, 16), np.float32)) * 2 + 1
    (spec,) = schedule([x.node]).kernels
    kernel = lower_kernel(spec)
    make_plan(kernel, [Opt(OptKind.UPCAST, 0, 4)])
    with pytest.raises(OptError, match="varies"):
        make_plan(kernel, [Opt(OptKind.UPCAST, 0, 4)], varying=frozenset(variable_sizes(kernel)))


def test_a_size_family_member_varies_in_what_differs_from_its_nearest_kin_not_from_the_first():
    """An MLP's up and down projections are one family (one code but for sizes): at a new
    length the down projection is compared with the down projection, so only the rows vary."""
    from lazytensor.codegen.hoist import _SizeFamily
    up, down = {"rows": 45, "n": 512, "k": 128}, {"rows": 45, "n": 128, "k": 512}
    family = _SizeFamily(None, up)
    for sizes in (up, down):
        family.met[tuple(sorted(sizes.items()))] = 1
    assert family.nearest({"rows": 46, "n": 128, "k": 512}, 2) == down
    assert family.nearest(up, 2) == down  # never itself
    assert _SizeFamily(None, up).nearest(up, 2) is None


def test_the_nearest_member_is_looked_for_in_the_latest_earlier_realisation():
    """A kernel of an unrelated graph met long ago whose sizes happen to agree more is not
    the same layer: the step before is where the same layer was."""
    from lazytensor.codegen.hoist import _SizeFamily
    family = _SizeFamily(None, {"t": 30, "s": 30, "d": 16})
    family.met[(("d", 16), ("s", 30), ("t", 30))] = 1  # another graph's kernel
    family.met[(("d", 19), ("s", 29), ("t", 29))] = 5  # this layer, one step before
    assert family.nearest({"t": 30, "s": 30, "d": 19}, 6) == {"t": 29, "s": 29, "d": 19}


# ---- through the engine, on OpenCL ---------------------------------------------------------
needs_cl = pytest.mark.skipif(cl_unavailable_reason() is not None, reason="needs OpenCL")
WIDTH = 19  # a hidden size no other test uses (these kernels compile here first), and no length


def _attention(m, x, w):
    """Causal self-attention of one sequence (length T): the sizes vary in every axis."""
    t = x.shape[1]
    h = (x @ w).relu()
    scores = (h @ h.transpose(1, 2)) / 4
    scores = scores.masked_fill(m.ones(t, t).tril() == 0, float("-inf"))
    return scores.softmax(-1) @ h


@needs_cl
def test_two_matmuls_of_one_realisation_that_differ_in_width_build_one_kernel(monkeypatch):
    from lazytensor.runtime import engine
    from lazytensor.runtime.devices import get_device
    device = get_device("cl")
    monkeypatch.setattr(engine, "_RENDERED", {})  # as in a fresh process
    monkeypatch.setenv("LT_PLAN_CACHE", "0")  # rendered here, not read from a plan on disk
    monkeypatch.setattr(device, "hoister", Hoister())
    built: list[dict] = []
    compile_ = device.compile
    monkeypatch.setattr(device, "compile", lambda sources: built.append(sources) or compile_(sources))
    rng = np.random.default_rng(6)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in ((8, 24), (24, 16), (8, 40), (40, 16))]
    with using("cl", True):
        a, w1, b, w2 = (lt.tensor(x) for x in arrays)
        lt.realize()
        built.clear()
        x, y = a @ w1, b @ w2
        lt.realize(x, y)
        np.testing.assert_allclose(x.numpy(), arrays[0] @ arrays[1], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(y.numpy(), arrays[2] @ arrays[3], rtol=1e-5, atol=1e-5)
    assert [len(set(sources.values())) for sources in built] == [1], built  # the one realisation: one code


@needs_cl
def test_a_training_step_builds_each_code_once(monkeypatch):
    """An MLP's SGD step, as in a fresh process: kernels of one code under different names
    (a layer's weight read the same way by forward and backward) are built once."""
    from lazytensor.runtime import engine
    device = get_device("cl")
    monkeypatch.setattr(engine, "_RENDERED", {})
    monkeypatch.setenv("LT_PLAN_CACHE", "0")
    monkeypatch.setattr(device, "hoister", Hoister())
    built: list[dict] = []
    build = device._build
    monkeypatch.setattr(device, "_build", lambda sources: built.append(sources) or build(sources))
    monkeypatch.setattr(device, "by_code", {})  # as in a fresh process
    monkeypatch.setattr(device, "kernels", {})
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((16, 300)).astype(np.float32), rng.integers(0, 7, 16)
    torch.manual_seed(0)
    ref = torch.nn.Sequential(torch.nn.Linear(300, 260), torch.nn.ReLU(), torch.nn.Linear(260, 260), torch.nn.ReLU(),
                              torch.nn.Linear(260, 7))

    def step(m, net):
        opt = m.optim.SGD(net.parameters(), lr=0.1)
        loss = m.nn.functional.cross_entropy(net(m.tensor(x)), m.tensor(y))
        loss.backward()
        opt.step()
        return [p.detach().numpy() for p in net.parameters()]

    with using("cl", True):
        net = lt.nn.Sequential(lt.nn.Linear(300, 260), lt.nn.ReLU(), lt.nn.Linear(260, 260), lt.nn.ReLU(), lt.nn.Linear(260, 7))
        net.load_state_dict({k: lt.tensor(v.detach().numpy()) for k, v in ref.state_dict().items()})
        lt.realize(*net.parameters())
        built.clear()
        ours = step(lt, net)
    codes = [src.replace(name, "K") for sources in built for name, src in sources.items()]
    assert len(codes) == len(set(codes)), sorted(n for sources in built for n in sources)
    for got, want in zip(ours, step(torch, ref)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@needs_cl
def test_a_code_met_again_at_another_length_under_another_name_builds_nothing(monkeypatch):
    """Rows of a row-wise product: the length is only in the launch, so every length runs the
    first length's code (launched as the family's copy, under a name of its own)."""
    from lazytensor.runtime import engine
    monkeypatch.setattr(engine, "_RENDERED", {})
    monkeypatch.setenv("LT_PLAN_CACHE", "0")
    monkeypatch.setattr(get_device("cl"), "hoister", Hoister())
    rng = np.random.default_rng(8)
    w = rng.standard_normal(WIDTH + 40).astype(np.float32)
    compiled = []
    with using("cl", True):
        for rows in (3, 5, 7):
            x = rng.standard_normal((rows, WIDTH + 40)).astype(np.float32)
            a, b = lt.tensor(x), lt.tensor(w)
            lt.realize(a, b)
            before = STATS.kernels_compiled
            got = (a * b - 0.5).numpy()
            compiled.append(STATS.kernels_compiled - before)
            np.testing.assert_allclose(got, x * w - 0.5, rtol=1e-6)
    assert compiled[1:] == [0, 0], compiled


@needs_cl
def test_programs_stop_growing_with_the_length_and_each_length_is_right(monkeypatch):
    """Lengths 2..39: after a few kinds of sizes (the first two lengths, a vector width's
    boundaries), later lengths compile nothing. As in a fresh process: kernels of other
    graphs met earlier in the same families can make a family's varying set grow late."""
    from lazytensor.runtime import engine
    from lazytensor.runtime.devices import get_device
    monkeypatch.setattr(engine, "_RENDERED", {})
    monkeypatch.setenv("LT_PLAN_CACHE", "0")
    monkeypatch.setattr(get_device("cl"), "hoister", Hoister())
    rng = np.random.default_rng(0)
    w = rng.standard_normal((WIDTH, WIDTH)).astype(np.float32)
    compiled = []
    with using("cl", True):
        for t in range(2, 40):
            x = rng.standard_normal((1, t, WIDTH)).astype(np.float32)
            before = STATS.kernels_compiled
            got = _attention(lt, lt.tensor(x), lt.tensor(w)).numpy()
            compiled.append(STATS.kernels_compiled - before)
            want = _attention(torch, torch.tensor(x), torch.tensor(w)).numpy()
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert sum(compiled[-16:]) == 0 and sum(compiled) <= 4 * compiled[0], compiled


def _train(m, lengths, seed: int = 1, width: int = WIDTH + 2, vocab: int = 50) -> list[float]:
    """SGD on an embedding and a linear head over batches of the given lengths: the losses."""
    rng = np.random.default_rng(seed)
    emb = m.tensor(rng.standard_normal((vocab, width)).astype(np.float32), requires_grad=True)
    head = m.tensor((rng.standard_normal((vocab, width)) / 4).astype(np.float32), requires_grad=True)
    losses = []
    for length in lengths:
        tokens = m.tensor(rng.integers(0, vocab, (4, length)))
        hidden = m.nn.functional.embedding(tokens, emb).cumsum(1) / length
        logits = m.nn.functional.linear(hidden, head)
        loss = m.nn.functional.cross_entropy(logits.reshape(-1, vocab), tokens.reshape(-1))
        loss.backward()
        with m.no_grad():
            for p in (emb, head):
                p -= 0.5 * p.grad
                p.grad = None
        losses.append(loss.item())
    emb.detach().numpy(), head.detach().numpy()  # the last update runs too
    return losses


@needs_cl
def test_training_over_many_lengths_stops_compiling_and_stays_right():
    """A steady loop at one length (three steps: the first step's graph is its own), then
    twenty lengths, then thirty more: the lengths build at most twice the kernels of one
    length (1.6x here: the two steps after the first meet new sizes, and build generic
    kernels at once), and the thirty later ones next to none."""
    with using("cl", True):
        before = STATS.kernels_compiled
        _train(lt, [7, 7, 7])
        one_length = STATS.kernels_compiled - before
        losses = _train(lt, list(range(7, 27)))
        twenty = STATS.kernels_compiled - before
        _train(lt, list(range(27, 57)))
        fifty = STATS.kernels_compiled - before
    assert 0 < one_length and twenty <= 2 * one_length, (one_length, twenty)
    assert fifty - twenty <= 3, (twenty, fifty)
    np.testing.assert_allclose(losses, _train(torch, list(range(7, 27))), rtol=1e-4)


@needs_cl
def test_a_jitted_function_replays_generic_kernels_at_each_length():
    rng = np.random.default_rng(2)
    w = rng.standard_normal((WIDTH, WIDTH)).astype(np.float32)
    with using("cl", True):
        fn = lt.jit(lambda x, w: _attention(lt, x, w))
        wt = lt.tensor(w)
        for t in (3, 4, 5, 4, 5, 6, 6, 6):
            x = rng.standard_normal((1, t, WIDTH)).astype(np.float32)
            want = _attention(torch, torch.tensor(x), torch.tensor(w)).numpy()
            np.testing.assert_allclose(fn(lt.tensor(x), wt).numpy(), want, rtol=1e-5, atol=1e-5)


@needs_cl
def test_kernels_that_share_a_launch_at_one_size_share_it_correctly_at_another():
    """One source can run at several sizes, so a joined launch is made per size too."""
    rng = np.random.default_rng(3)
    with using("cl", True):
        for n in (64, 128, 48, 1024, 96):
            xs = [rng.standard_normal(n).astype(np.float32) for _ in range(3)]
            a, b, c = (lt.tensor(x) for x in xs)
            outs = [a * 2 + 1, b * 3 - 1, c.exp()]
            lt.realize(*outs)
            for got, want in zip(outs, [xs[0] * 2 + 1, xs[1] * 3 - 1, np.exp(xs[2])]):
                np.testing.assert_allclose(got.numpy(), want, rtol=1e-6)


@needs_cl
def test_a_read_at_an_offset_that_moves_with_the_length_compiles_once():
    """The last row's argmax, as greedy generation reads it: only the offset varies."""
    rng = np.random.default_rng(4)
    compiled = []
    with using("cl", True):
        for t in range(2, 12):
            x = rng.standard_normal((1, t, WIDTH + 4)).astype(np.float32)
            before = STATS.kernels_compiled
            assert int(lt.tensor(x)[0, -1].argmax()) == int(x[0, -1].argmax())
            compiled.append(STATS.kernels_compiled - before)
    assert sum(compiled[3:]) == 0, compiled


def _tiny_gpt(m, vocab: int = 23, context: int = 32, width: int = 20):
    """One pre-norm encoder layer under a causal mask and a head: a GPT as `generate` runs it."""
    m.manual_seed(0)
    layer = m.nn.TransformerEncoderLayer(width, 2, 2 * width, dropout=0.0, batch_first=True, norm_first=True)

    class Gpt(m.nn.Module):
        def __init__(self):
            super().__init__()
            self.tok, self.pos = m.nn.Embedding(vocab, width), m.nn.Embedding(context, width)
            self.block, self.head = layer, m.nn.Linear(width, vocab)

        def forward(self, idx):
            t = idx.shape[1]
            x = self.tok(idx) + self.pos(m.arange(t))
            return self.head(self.block(x, src_mask=m.triu(m.full((t, t), float("-inf")), diagonal=1)))
    return Gpt().eval()


def _generate(m, net, tokens: int) -> tuple[list[int], list[int]]:
    """Greedy tokens from [[1]], and the kernels each token compiled."""
    idx, out, compiled = m.tensor([[1]]), [], []
    with m.no_grad():
        for _ in range(tokens):
            before = STATS.kernels_compiled
            nxt = int(net(idx)[0, -1].argmax())
            compiled.append(STATS.kernels_compiled - before)
            out.append(nxt)
            idx = m.cat([idx, m.tensor([[nxt]])], 1)
    return out, compiled


@needs_cl
def test_greedy_generation_stops_compiling_after_its_first_tokens():
    """The sequence is stored once a step (not rebuilt from its first token), and each family
    of kernels keeps the choices of its first size."""
    ref = _tiny_gpt(torch)
    with using("cl", True):
        net = _tiny_gpt(lt)
        net.load_state_dict({k: lt.tensor(v.numpy()) for k, v in ref.state_dict().items()})
        tokens, compiled = _generate(lt, net, 18)
    assert tokens == _generate(torch, ref, 18)[0]
    later = compiled[8:]  # lengths 9..18: only a length equal to a model size (10, the head's)
    # or at a fusion threshold (16 rows: layer norm fuses into its readers) meets new code
    assert sum(later) <= 8 and later.count(0) >= len(later) // 2, compiled


def test_a_kernel_whose_size_varies_names_its_work_groups():
    """PoCL compiles a kernel again for each local size, and picks one per global size when
    none is given: a generic kernel gives one, and guards an axis padded to it."""
    from lazytensor.codegen.caps import DeviceCaps
    from lazytensor.codegen.hoist import variable_sizes
    from lazytensor.codegen.lower import lower_kernel
    from lazytensor.codegen.program import build_program
    from lazytensor.ir.schedule import schedule
    with using("numpy", True):
        x = lt.tensor(np.ones((8, 16), np.float32)) * 2 + 1
    (spec,) = schedule([x.node]).kernels
    kernel = lower_kernel(spec)
    caps = DeviceCaps(is_cpu=True, compute_units=2)
    varying = frozenset(variable_sizes(kernel))
    fixed = build_program(kernel, caps, "k").kernels[-1]
    grouped = build_program(kernel, caps, "k", [Opt(OptKind.LOCAL, 0, 4)]).kernels[-1]
    generic = build_program(kernel, caps, "k", [Opt(OptKind.LOCAL, 0, 4)], varying).kernels[-1]
    assert fixed.local_size is None and build_program(kernel, caps, "k", [], varying).kernels[-1].local_size
    guard = "if (get_global_id(0) >= "
    assert guard not in grouped.source  # the size is a multiple of 4 here; at other sizes it may not be
    assert guard in generic.source


def _joins_launches() -> None:
    """Skip where kernels are planned for a GPU (LT_CL_AS_GPU=1): their work-groups never join."""
    if not get_device("cl").caps.is_cpu:
        pytest.skip("one-dimensional kernels share a launch on a CPU device only")


@needs_cl
def test_kernels_that_share_a_launch_are_built_only_as_that_launch():
    """Three independent kernels run as one joined launch: one program with one kernel is
    built, not the members on their own as well."""
    _joins_launches()
    rng = np.random.default_rng(5)
    with using("cl", True):
        xs = [rng.standard_normal(777).astype(np.float32) for _ in range(3)]
        a, b, c = (lt.tensor(x) for x in xs)
        lt.realize()  # the uploads
        before_kernels, before_programs = STATS.kernels_compiled, STATS.programs_built
        outs = [a * 2.5 + 1.25, b * 3.5 - 1.75, (c * 0.75).exp()]
        lt.realize(*outs)
        assert STATS.kernels_compiled - before_kernels == 1
        assert STATS.programs_built - before_programs <= 1
        for got, want in zip(outs, [xs[0] * 2.5 + 1.25, xs[1] * 3.5 - 1.75, np.exp(xs[2] * 0.75)]):
            np.testing.assert_allclose(got.numpy(), want, rtol=1e-6)


@needs_cl
def test_a_joined_launch_builds_in_its_realisations_batch(monkeypatch):
    """A joined launch and a kernel that runs alone are built by one compile call (one batch
    cut among the builders), not the joined one after the others."""
    _joins_launches()
    rng = np.random.default_rng(6)
    with using("cl", True):
        x, y, m = (lt.tensor(rng.standard_normal(s).astype(np.float32)) for s in (555, 556, (24, 24)))
        lt.realize()  # the uploads
        device = get_device("cl")
        monkeypatch.setattr(device, "hoister", Hoister())  # no family met at other sizes: none goes generic
        calls = []
        compile_ = device.compile
        monkeypatch.setattr(device, "compile", lambda sources: calls.append(sorted(sources)) or compile_(sources))
        outs = [x * 1.5 - 0.25, y * 2.5 + 0.75, (m @ m.t()).relu()]
        lt.realize(*outs)
        assert len(calls) == 1 and sum(name.startswith("joined2_") for name in calls[0]) == 1, calls
        np.testing.assert_allclose(outs[0].numpy(), x.numpy() * 1.5 - 0.25, rtol=1e-6)


def _encoder_lm(m, vocab: int = 65, d_model: int = 128):
    layer = m.nn.TransformerEncoderLayer(d_model, 4, 4 * d_model, dropout=0.0, batch_first=True, norm_first=True)
    return m.nn.Sequential(m.nn.Embedding(vocab, d_model), m.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False),
                           m.nn.LayerNorm(d_model), m.nn.Linear(d_model, vocab))


@pytest.mark.slow
@needs_cl
def test_a_step_whose_joined_launches_share_member_kernels_builds_and_matches_torch():
    """An AdamW step over two pre-norm encoder layers: its backward has several joined
    launches with a member kernel in common, built in one program (each names its member
    functions after itself)."""
    torch.manual_seed(0)
    ref = _encoder_lm(torch)
    rng = np.random.default_rng(0)
    batches = [(rng.integers(0, 65, (4, 16)), rng.integers(0, 65, (4, 16))) for _ in range(2)]

    def losses(m, net):
        opt = m.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=0.01)
        out = []
        for x, y in batches:
            opt.zero_grad()
            loss = m.nn.functional.cross_entropy(net(m.tensor(x)).reshape(-1, 65), m.tensor(y).reshape(-1))
            loss.backward()
            opt.step()
            out.append(loss.item())
        return out

    with using("cl", True):
        net = _encoder_lm(lt)
        net.load_state_dict({k: lt.tensor(v.detach().numpy()) for k, v in ref.state_dict().items()})
        ours = losses(lt, net)
    np.testing.assert_allclose(ours, losses(torch, ref), rtol=1e-4)


@needs_cl
def test_layers_of_other_widths_keep_their_widths_fixed_when_the_length_varies(monkeypatch):
    """Kernels of one family at other widths (the up and down projections) must not make the
    widths vary: a varying variable is never cut, and a matmul whose widths varied ran without
    vectors or tiles (16x slower in a transformer trained on varying lengths)."""
    from lazytensor.runtime import engine
    from lazytensor.runtime.devices import get_device
    device = get_device("cl")
    monkeypatch.setattr(engine, "_RENDERED", {})
    monkeypatch.setenv("LT_PLAN_CACHE", "0")
    monkeypatch.setattr(device, "hoister", Hoister())
    width, hidden = 40, 160  # no row count below meets these
    rng = np.random.default_rng(7)
    with using("cl", True):
        up = lt.tensor(rng.standard_normal((width, hidden)).astype(np.float32) / 8, requires_grad=True)
        down = lt.tensor(rng.standard_normal((hidden, width)).astype(np.float32) / 8, requires_grad=True)
        for length in (5, 6, 7, 8, 9):
            x = lt.tensor(rng.standard_normal((2, length, width)).astype(np.float32))
            loss = ((x @ up).relu() @ down).square().mean()
            loss.backward()
            with lt.no_grad():
                up -= 0.1 * up.grad
                down -= 0.1 * down.grad
                up.grad = down.grad = None
            loss.item()
    varied = [f for f in device.hoister.size_families.values() if f.varying]
    assert varied, "the lengths made some family vary"
    for family in varied:
        assert not {family.sizes[v] for v in family.varying} & {width, hidden}, family.varying


def _lowered(build, shape):
    """The one kernel that computes build(x) for an x of `shape` on the numpy device, lowered."""
    from lazytensor.codegen.lower import lower_kernel
    from lazytensor.ir.schedule import schedule
    with using("numpy", True):
        x = lt.tensor(np.ones(shape, np.float32)).realize()
        out = build(x)
    (spec,) = schedule([out.node], fuse_row_reductions=True).kernels
    return lower_kernel(spec), spec.key


def _recording_renderer(asked: list[frozenset], given: list | None = None):
    """A render function for Hoister.render that builds a CPU program and records which
    variables each build was asked to hold varying (and, into `given`, the choices it was
    handed: None for the heuristic's)."""
    from lazytensor.codegen.caps import DeviceCaps
    from lazytensor.codegen.program import build_program
    caps = DeviceCaps(is_cpu=True, compute_units=2, max_work_group_size=4096)

    def render(kernel, name, varying, opts):
        asked.append(varying)
        if given is not None:
            given.append(opts)
        return build_program(kernel, caps, name, opts, varying)
    return render


@pytest.mark.parametrize("sizes", [(24, 40), (320, 520)], ids=["small", "large"])
@pytest.mark.parametrize("build", [
    lambda x: x.sum(1),  # a row sum: a vector accumulator along the row, the rows untouched
    lambda x: x.t() * 2,  # a transpose: its vector lanes run along the rows
], ids=["row sum", "transpose"])
def test_a_family_goes_generic_at_the_second_size_an_earlier_realisation_met(build, sizes):
    """A size met in an earlier realisation is likely met again (the next token, the next
    batch): the second size runs a generic program at once, instead of another specialised one
    first, and the first size keeps its own."""
    asked: list[frozenset] = []
    render = _recording_renderer(asked)
    hoister = Hoister()
    programs = []
    for now, rows in enumerate(sizes, start=1):  # two realisations, not known to repeat one another
        kernel, key = _lowered(build, (rows, 64))
        programs.append(hoister.render(kernel, "rows_kernel", key, now, False, render))
    (family,) = hoister.size_families.values()
    assert family.varying  # the rows vary: later sizes take the family's choices, planned once
    assert not any(k.sized_at_launch for k in programs[0].kernels)
    if max(sizes) < CUT_FROM:  # no choice cuts a small size: one program for every later one
        assert all(k.sized_at_launch for k in programs[1].kernels)


def test_a_family_does_not_split_when_autograd_stops_following_an_unrelated_tensor():
    """While autograd follows anything in the process, a tensor's unfollowed value reaches an
    op detached (TensorBase._value): an earlier test's tensor that a garbage collection frees
    between two sizes must not make the second size another family (it failed so, flakily,
    after other tests in one process)."""
    asked: list[frozenset] = []
    render = _recording_renderer(asked)
    hoister = Hoister()
    followed = [lt.tensor(np.ones(3, np.float32), requires_grad=True) * 3]
    programs = []
    for now, rows in enumerate((24, 40), start=1):
        kernel, key = _lowered(lambda x: x.t() * 2, (rows, 64))
        followed.clear()  # gone before the second size
        programs.append(hoister.render(kernel, "rows_kernel", key, now, False, render))
    (family,) = hoister.size_families.values()
    assert family.varying
    assert all(k.sized_at_launch for k in programs[1].kernels)


def test_kernels_of_one_realisation_keep_their_own_programs():
    """Two layers of different widths, realised together, are specialised each."""
    asked: list[frozenset] = []
    render = _recording_renderer(asked)
    hoister = Hoister()
    programs = []
    for rows in (24, 40):
        kernel, key = _lowered(lambda x: x.t() * 2, (rows, 64))
        programs.append(hoister.render(kernel, "rows_kernel", key, 1, False, render))
    assert not any(k.sized_at_launch for p in programs for k in p.kernels)
    assert asked == [frozenset(), frozenset()]


@pytest.mark.parametrize("rows, uncut", [((24, 40, 56), True), ((300, 400, 500), False)],
                         ids=["small sizes", "large sizes"])
def test_a_varying_variable_is_held_uncut_only_where_it_was_met_small(rows, uncut):
    """A generated text's length (small) keeps one program for every size; a matmul's
    reduction met at several large sizes keeps its vector lanes and unrolls (the programs then
    differ by their ragged tails), where uncut it ran at half speed."""
    asked: list[frozenset] = []
    render = _recording_renderer(asked)
    hoister = Hoister()
    for now, n in enumerate(rows, start=1):
        kernel, key = _lowered(lambda x: x.sum(0), (n, 64))
        hoister.render(kernel, "sum_kernel", key, now, True, render)
    (family,) = hoister.size_families.values()
    assert family.varying  # the rows varied
    assert bool(asked[-1]) is uncut


@needs_cl
def test_matmuls_whose_reduction_varies_at_large_sizes_compute_exactly(monkeypatch):
    """Each size met, ragged tails included, computes its own product."""
    from lazytensor.runtime import engine
    from lazytensor.runtime.devices import get_device
    monkeypatch.setattr(engine, "_RENDERED", {})
    monkeypatch.setenv("LT_PLAN_CACHE", "0")
    monkeypatch.setattr(get_device("cl"), "hoister", Hoister())
    rng = np.random.default_rng(0)
    with using("cl", True):
        for k in (256, 300, 301, 302, 303, 517, 520):
            a = rng.standard_normal((24, k)).astype(np.float32)
            w = rng.standard_normal((40, k)).astype(np.float32)
            out = (lt.tensor(a) @ lt.tensor(w).T).numpy()
            np.testing.assert_allclose(out, a @ w.T, rtol=1e-4, atol=1e-4)


def test_a_member_large_where_its_family_was_met_small_is_planned_as_itself():
    """A family spans models: a row sum over 1536 met after one over 128 (another model in the
    same process) keeps its own vector lanes and unrolls, where holding the reduction uncut
    made it forty times slower."""
    from lazytensor.codegen.caps import DeviceCaps
    from lazytensor.codegen.program import build_program
    asked: list[frozenset] = []
    render = _recording_renderer(asked)
    hoister = Hoister()
    for now, width in enumerate((128, 1536), start=1):
        kernel, key = _lowered(lambda x: x.sum(1), (64, width))
        program = hoister.render(kernel, "row_sum", key, now, False, render)
    (family,) = hoister.size_families.values()
    assert family.varying  # the width varied between the two realisations
    assert asked[-1] == frozenset()
    caps = DeviceCaps(is_cpu=True, compute_units=2, max_work_group_size=4096)
    alone = build_program(kernel, caps, "row_sum", None, frozenset())
    assert program.kernels[-1].opts == alone.kernels[-1].opts


def test_members_holding_the_same_variables_uncut_take_the_first_ones_choices():
    """The choices of the first member planned holding a set of variables uncut serve every
    later one holding the same set: one code and no heuristic run per size."""
    given: list = []
    render = _recording_renderer([], given)
    hoister = Hoister()
    for now, width in enumerate((128, 1536, 1600), start=1):
        kernel, key = _lowered(lambda x: x.sum(1), (64, width))
        hoister.render(kernel, "row_sum", key, now, False, render)
    planned_as_itself, third = given[-2], given[-1]
    assert planned_as_itself is None and third is not None
