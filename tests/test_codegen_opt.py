"""Layer tests for the code generator: Opt lists, the heuristic, the rendered OpenCL.

Every choice the heuristic may make must preserve results: random kernels on
odd shapes x random valid Opt lists are compared with the unoptimised kernel
(and with NumPy). Invalid choices raise OptError. Known kernels render to the
shapes the heuristic promises (vector loads, a local size, packed matmul tiles).
"""
import random
import re

import numpy as np
import pytest

import lazytensor as lt
import torch
from helpers import cl_unavailable_reason
from lazytensor.codegen.caps import DeviceCaps
from lazytensor.codegen.heuristic import choose_opts
from lazytensor.codegen.lower import lower_kernel
from lazytensor.codegen.opt import Opt, OptError, OptKind, make_plan
from lazytensor.codegen.program import build_program
from lazytensor.ir.schedule import schedule
from lazytensor.ir.traverse import postorder
from lazytensor.runtime.buffer import Buffer
from lazytensor.runtime.devices import get_device

pytestmark = pytest.mark.skipif(cl_unavailable_reason() is not None, reason="needs an OpenCL device")
CPU = DeviceCaps(is_cpu=True, compute_units=2, max_work_group_size=4096)
GPU = DeviceCaps(is_cpu=False, compute_units=64, max_work_group_size=1024, preferred_vector_width=4)


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def one_kernel(build, *arrays):
    """The single lowered kernel that computes build(*tensors) from realised inputs."""
    tensors = [lt.tensor(a, device="cl").realize() for a in arrays]
    with lt.no_grad():  # values autograd follows for another test's tensors, still alive, add no detach
        out = build(*tensors)
    sched = schedule([out.node], fuse_row_reductions=True)
    assert len(sched.kernels) == 1, "test programs must be one kernel"
    return lower_kernel(sched.kernels[0]), tensors


_RUNS = [0]


def run(kernel, opts, caps=CPU) -> np.ndarray:
    """Compile and launch `kernel` with exactly `opts` on the cl device; its first output."""
    device = get_device("cl")
    _RUNS[0] += 1
    program = build_program(kernel, caps, f"t{_RUNS[0]}", opts)
    runnables = device.compile(program.sources)
    outs = [Buffer(device, d, kernel.numel) for d in kernel.out_dtypes]
    bufs = {"out": outs, "in": [n.buffer.buffer for n in kernel.inputs],
            "scratch": [Buffer(device, d, n) for d, n in program.scratch]}
    for rk in program.kernels:
        raws = [bufs[kind][i].raw for kind, i in rk.buffers]
        device.launch(runnables[rk.name], raws[:rk.n_out], raws[rk.n_out:], kernel.args[:rk.n_args], rk)
    host = np.empty(kernel.numel, dtype=np.float32)
    device.cl.enqueue_copy(device.queue, host, outs[0].raw, is_blocking=True)
    return host.reshape(kernel.out_shape)


KERNELS = {
    "chain_7x1000": (lambda x: ((x * 0.5 + 1).exp() * x - x * x).tanh() + 0.25, [(7, 1000)]),
    "chain_prime": (lambda x: (x * 3).relu() + x.sin(), [(1021,)]),
    "transpose_add": (lambda x, y: x.T + y * 2, [(33, 47), (47, 33)]),
    "broadcast": (lambda x, y: x * y, [(13, 1, 31), (1, 17, 31)]),
    "row_sum_ragged": (lambda x: (x * x).sum(-1), [(37, 1023)]),
    "row_max": (lambda x: x.amax(-1), [(29, 100)]),
    "col_sum": (lambda x: x.sum(0), [(101, 77)]),
    "row_normalise": (lambda x: x.exp() / x.exp().sum(-1, keepdim=True), [(40, 333)]),
    "matmul_odd": (lambda a, b: a @ b, [(37, 53), (53, 71)]),
    "matmul_packed": (lambda a, b: (a @ b + 1).relu(), [(96, 200), (200, 48)]),
    "batched_matmul": (lambda a, b: a @ b, [(3, 20, 30), (3, 30, 32)]),
    "conv2d": (lambda x, w: lt.nn.functional.conv2d(x, w, padding=1).relu(), [(2, 5, 9, 11), (32, 5, 3, 3)]),
}


def _candidates(kernel) -> list[Opt]:
    plan = make_plan(kernel, [])
    n_axes, n_red = len(plan.axes), len(plan.reduce_axes)
    pool = [Opt(OptKind.STREAM, 0)]
    for a in range(n_axes):
        pool.append(Opt(OptKind.GLOBAL_ORDER, a, 1))
        pool += [Opt(OptKind.UPCAST, a, w) for w in (2, 4, 8, 16)]
        pool += [Opt(OptKind.UNROLL, a, n) for n in (2, 3, 4)]
        pool += [Opt(OptKind.LOOP, a), Opt(OptKind.LOCAL, a, 4), Opt(OptKind.LOCAL, a, 1)]
    for r in range(n_red):
        pool += [Opt(OptKind.REDUCE_UPCAST, r, w) for w in (4, 8, 16)]
        pool += [Opt(OptKind.REDUCE_UNROLL, r, n) for n in (2, 3, 4)]
        pool += [Opt(OptKind.GROUP, r, n) for n in (16, 32)]
        pool += [Opt(OptKind.PACK, r, p) for p in (16, 32, 64)]
    return pool


def _random_valid_opts(kernel, rng: random.Random, length: int) -> list[Opt]:
    """A random list of choices, each kept only if it applies after the ones before it."""
    opts: list[Opt] = []
    pool = _candidates(kernel)
    for _ in range(length * 4):
        opt = rng.choice(pool)
        try:
            make_plan(kernel, opts + [opt])
        except OptError:
            continue
        opts.append(opt)
        if len(opts) == length:
            break
    return opts


@pytest.mark.parametrize("name", list(KERNELS))
def test_random_opt_lists_preserve_results(name):
    build, shapes = KERNELS[name]
    arrays = [rand(*s, seed=i) for i, s in enumerate(shapes)]
    kernel, tensors = one_kernel(build, *arrays)
    reference = run(kernel, [])
    expected = build(*[lt.tensor(a, device="numpy") for a in arrays]).numpy()
    np.testing.assert_allclose(reference, expected.reshape(reference.shape), rtol=2e-5, atol=2e-5)
    rng = random.Random(name)
    for trial in range(3):
        opts = _random_valid_opts(kernel, rng, length=2 + trial)
        got = run(kernel, opts)
        np.testing.assert_allclose(got, reference, rtol=2e-5, atol=2e-5, err_msg=f"{name} with {opts}")


@pytest.mark.parametrize("caps", [CPU, GPU], ids=["cpu", "gpu"])
@pytest.mark.parametrize("name", list(KERNELS))
def test_heuristic_choices_preserve_results(name, caps):
    """The GPU choices run here too (PoCL runs work-groups, local memory and barriers)."""
    build, shapes = KERNELS[name]
    arrays = [rand(*s, seed=i) for i, s in enumerate(shapes)]
    kernel, _ = one_kernel(build, *arrays)
    opts = choose_opts(kernel, caps)
    np.testing.assert_allclose(run(kernel, opts, caps), run(kernel, [], caps), rtol=2e-5, atol=2e-5,
                               err_msg=str(opts))


@pytest.mark.parametrize("opt, why", [
    (Opt(OptKind.UPCAST, 0, 3), "width must be one of"),
    (Opt(OptKind.UPCAST, 5, 4), "axes"),
    (Opt(OptKind.UNROLL, 0, 7), "must divide"),
    (Opt(OptKind.LOCAL, 0, 10 ** 6), "work-group"),
    (Opt(OptKind.REDUCE_UPCAST, 0, 4), "reduce variables"),
    (Opt(OptKind.REDUCE_UNROLL, 0, 4), "reduce variables"),
    (Opt(OptKind.PACK, 0, 64), "reduce variable"),
    (Opt(OptKind.STREAM, 0), "whole vector lanes"),
])
def test_invalid_opt_raises(opt, why):
    kernel, _ = one_kernel(lambda x: x * 2 + 1, rand(6, 10))
    with pytest.raises(OptError, match=why):
        make_plan(kernel, [opt])


def test_planning_a_kernel_again_starts_from_its_initial_plan():
    """The initial plan is kept between plannings of one kernel; choices made in one plan
    never show in the next."""
    from lazytensor.codegen.opt import initial_plan
    kernel, _ = one_kernel(lambda x: (x * 2).sum(-1), rand(8, 64))
    chosen = make_plan(kernel, [Opt(OptKind.UPCAST, 0, 4), Opt(OptKind.REDUCE_UNROLL, 0, 4)])
    again = initial_plan(kernel, frozenset({"g0"}))
    fresh = make_plan(kernel, [])
    assert chosen.opts and not again.opts and again.varying == {"g0"} and not fresh.varying
    assert [(a.size, a.kind) for a in again.axes] == [(a.size, a.kind) for a in fresh.axes] == [(8, "global")]
    assert again.stores == fresh.stores and again.stores != chosen.stores


def test_reduce_unroll_needs_enough_steps():
    kernel, _ = one_kernel(lambda x: x.sum(-1), rand(6, 10))
    with pytest.raises(OptError, match="need at least 16 steps"):
        make_plan(kernel, [Opt(OptKind.REDUCE_UNROLL, 0, 8)])


@pytest.mark.parametrize("size", [1024, 1023, 1000, 67])
def test_reduce_unroll_keeps_ragged_sums_exact(size):
    x = rand(9, size)
    kernel, _ = one_kernel(lambda t: t.sum(-1), x)
    for opts in ([Opt(OptKind.REDUCE_UNROLL, 0, 4)],
                 [Opt(OptKind.REDUCE_UPCAST, 0, 8), Opt(OptKind.REDUCE_UNROLL, 0, 3)]):
        np.testing.assert_allclose(run(kernel, opts).ravel(), x.sum(-1), rtol=1e-5, err_msg=str(opts))


@pytest.mark.parametrize("op, reference", [("sum", np.sum), ("amax", np.max), ("amin", np.min)])
@pytest.mark.parametrize("group", [16, 64, 256])
def test_grouped_reduction_matches_numpy(op, reference, group):
    x = rand(21, 1024)
    kernel, _ = one_kernel(lambda t: getattr(t, op)(-1), x)
    got = run(kernel, [Opt(OptKind.GROUP, 0, group)], GPU).ravel()
    np.testing.assert_allclose(got, reference(x, axis=-1), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("opts, why", [
    ([Opt(OptKind.GROUP, 0, 48)], "must be one of"),
    ([Opt(OptKind.GROUP, 0, 64)], "divide the reduce size 1000"),
    ([Opt(OptKind.GROUP, 0, 16), Opt(OptKind.UPCAST, 0, 4)], "scalar work-items"),
    ([Opt(OptKind.GROUP, 0, 16), Opt(OptKind.LOCAL, 0, 8)], "grouped reduction's"),
    ([Opt(OptKind.GLOBAL_ORDER, 0, 1), Opt(OptKind.GROUP, 0, 16)], "global order"),
])
def test_invalid_group_raises(opts, why):
    kernel, _ = one_kernel(lambda x: x.sum(-1), rand(8, 1000 if "1000" in why else 1024))
    with pytest.raises(OptError, match=why):
        make_plan(kernel, opts)


def test_gpu_row_reduction_is_a_work_group_with_a_local_tree():
    kernel, _ = one_kernel(lambda x: x.sum(1), rand(512, 4096))
    (k,) = build_program(kernel, GPU, "k").kernels
    assert "__local float" in k.source and "barrier(CLK_LOCAL_MEM_FENCE)" in k.source
    assert k.local_size == (256, 1) and k.global_size == (256, 512)


def test_cpu_row_reduction_has_no_barrier():
    (k,) = source_for(lambda x: x.sum(1), rand(512, 4096)).kernels
    assert "barrier" not in k.source


def test_upcast_twice_raises():
    kernel, _ = one_kernel(lambda x: x * 2, rand(64, 64))
    with pytest.raises(OptError, match="already has vector lanes"):
        make_plan(kernel, [Opt(OptKind.UPCAST, 0, 4), Opt(OptKind.UPCAST, 0, 4)])


def source_for(build, *arrays):
    kernel, _ = one_kernel(build, *arrays)
    return build_program(kernel, CPU, "k")


def test_elementwise_renders_wide_vectors_and_a_local_size():
    program = source_for(lambda x: (x * 0.5 + 1).exp() * x, rand(256, 1024))
    (k,) = program.kernels
    assert "vload16" in k.source and "vstore16" in k.source
    assert k.local_size is not None and k.global_size == (256 * 1024 // 16,)


def test_ragged_elementwise_has_a_scalar_tail():
    (k,) = source_for(lambda x: x + 1, rand(1000, 7 * 13)).kernels
    assert "vload" in k.source and "for (int" in k.source  # vector body, then a remainder loop


def test_relu_selects_on_its_comparison_directly():
    (k,) = source_for(lambda x: x.relu(), rand(64, 64)).kernels
    assert "convert_" not in k.source and "!=" not in k.source  # no bool -> float -> bool round trip


def test_softmax_divides_once_per_row():
    (k,) = source_for(lambda x: x.softmax(-1), rand(64, 1024)).kernels
    loop = k.source[k.source.rindex("for ("):]
    assert "(1/" in k.source and "/" not in loop  # the last loop (the row's output) multiplies


def test_row_reduction_keeps_several_accumulators():
    (k,) = source_for(lambda x: x.sum(1), rand(512, 4096)).kernels
    assert k.source.count("float16 acc") == 4


def test_row_reduction_is_one_work_item_per_row_with_vector_loads():
    (k,) = source_for(lambda x: x.sum(1), rand(512, 4096)).kernels
    assert k.global_size == (512,) and "vload16" in k.source and ".lo + " in k.source


def test_full_reduction_runs_in_two_stages(env):
    x = lt.tensor(rand(1 << 20))
    lt.reset_stats()
    total = x.sum().item()
    if env.lazy:
        assert lt.stats().kernels_launched == 2
    assert abs(total - rand(1 << 20).astype(np.float64).sum()) < 1e-6 * (1 << 20)


def test_float32_sum_is_as_accurate_as_torch():
    import torch
    x = np.random.default_rng(3).random(10 ** 6, dtype=np.float32)
    exact = x.astype(np.float64).sum()
    ours = lt.tensor(x, device="cl").sum().item()
    theirs = torch.from_numpy(x).sum().item()
    assert abs(ours - exact) / exact <= max(abs(theirs - exact) / exact, 1e-7)


def test_matmul_uses_a_packed_operand_and_register_tiles():
    program = source_for(lambda a, b: a @ b, rand(256, 256), rand(256, 256, seed=1))
    pack, main = program.kernels
    assert pack.name.endswith("_pack0") and program.scratch
    assert main.source.count("fma(") == 16 and main.source.count("vload16") == 4


def test_a_small_transposed_operand_is_packed_rather_than_gathered_lane_by_lane():
    """Attention's q @ k^T: k is not contiguous along the output axis, so its lanes would be
    gathered one element at a time; a panel copy pays even for a small product."""
    program = source_for(lambda q, k: q @ k.transpose(-2, -1), rand(8, 64, 32), rand(8, 64, 32, seed=1))
    assert program.kernels[0].name.endswith("_pack0")
    main = program.kernels[-1].source
    assert "vload16" in main and ".s0]" not in main  # no lane-by-lane gather


def test_a_weight_gradient_reads_the_smaller_operand_a_row_apart():
    """dy^T @ x summed over a long batch: each reduction step reads a new row of both. The
    operand read as scalars steps a whole row each time, so where one of them would not stay
    in cache, the smaller one (dy) is read that way and x goes in vector lanes."""
    dy, x = rand(1024, 128), rand(1024, 512, seed=1)
    kernel, _ = one_kernel(lambda d, a: d.t() @ a, dy, x)
    opts = choose_opts(kernel, CPU)
    plan = make_plan(kernel, [])
    lanes = next(o for o in opts if o.kind == OptKind.UPCAST)
    assert plan.axes[lanes.axis].size == 512  # x's columns in the lanes
    np.testing.assert_allclose(run(kernel, opts), dy.T @ x, rtol=1e-4, atol=1e-3)


def _lane_axis_size(kernel, opts) -> int | None:
    """The size of the output axis the heuristic put in vector lanes, if it did."""
    lanes = next((o for o in opts if o.kind == OptKind.UPCAST), None)
    return None if lanes is None else make_plan(kernel, []).axes[lanes.axis].size


def test_a_classifier_with_few_outputs_sums_in_the_reductions_own_lanes():
    """x @ w.t() with 10 outputs: two lanes across the outputs (or lanes across rows,
    gathered) lose to 16 lanes along the reduction, contiguous in both operands."""
    x, w = rand(256, 512), rand(10, 512, seed=1)
    kernel, _ = one_kernel(lambda a, b: a @ b.t(), x, w)
    opts = choose_opts(kernel, CPU)
    assert any(o.kind == OptKind.REDUCE_UPCAST and o.amount == 16 for o in opts)
    assert not any(o.kind == OptKind.PACK for o in opts)
    np.testing.assert_allclose(run(kernel, opts), x @ w.T, rtol=1e-4, atol=1e-4)


def test_a_narrow_weight_gradient_puts_the_wide_axis_in_lanes():
    """dy^T @ h for a 10-output layer: the 512 columns of h go in the lanes, not dy's 10."""
    dy, h = rand(256, 10), rand(256, 512, seed=1)
    kernel, _ = one_kernel(lambda d, a: a.t() @ d, dy, h)
    opts = choose_opts(kernel, CPU)
    assert _lane_axis_size(kernel, opts) == 512
    np.testing.assert_allclose(run(kernel, opts), h.T @ dy, rtol=1e-4, atol=1e-4)


def test_lanes_avoid_gathering_the_reads_after_the_reduction():
    """A ReLU's backward, (dy @ w) * (h > 0): lanes along the rows would gather the mask
    a row apart, so they run along the columns, where it is contiguous."""
    dy, w, h = rand(256, 10), rand(10, 512, seed=1), rand(256, 512, seed=2)
    kernel, _ = one_kernel(lambda d, b, a: (d @ b) * (a > 0), dy, w, h)
    opts = choose_opts(kernel, CPU)
    assert _lane_axis_size(kernel, opts) == 512
    np.testing.assert_allclose(run(kernel, opts), (dy @ w) * (h > 0), rtol=1e-4, atol=1e-4)


def test_a_transposed_read_takes_neighbouring_rows_in_one_work_item():
    """An update reading its gradient transposed (w + lr * g.t()): each lane's load starts a
    cache line of g, and 16 rows of the output in one work-item use all of it."""
    w, g = rand(64, 96), rand(96, 64, seed=1)
    kernel, _ = one_kernel(lambda a, b: a + b.t() * 0.5, w, g)
    opts = choose_opts(kernel, CPU)
    assert Opt(OptKind.UNROLL, 0, 16) in opts and _lane_axis_size(kernel, opts) == 96
    np.testing.assert_allclose(run(kernel, opts), w + g.T * 0.5, rtol=1e-6)


def test_a_bool_mask_gathered_lane_by_lane_selects_like_numpy():
    """Vector selects read a lane's mask from its top bit: gathered bools must be -1/0."""
    mask = np.random.default_rng(5).random((32, 16)) > 0.5
    a, b = rand(16, 32), rand(16, 32, seed=1)
    kernel, (m, x, y) = one_kernel(lambda m, x, y: lt.where(m.t(), x, y), mask, a, b)
    assert any(o.kind == OptKind.UPCAST for o in choose_opts(kernel, CPU))
    np.testing.assert_array_equal(run(kernel, choose_opts(kernel, CPU)), np.where(mask.T, a, b))


def test_only_flat_kernels_without_work_groups_may_share_a_launch():
    from lazytensor.codegen.horizontal import can_join, join
    from lazytensor.codegen.program import RenderedKernel
    flat = RenderedKernel("k", "__kernel void k(__global float* restrict b0) {\n  b0[get_global_id(0)] = 1;\n}\n",
                          (8,), None, (("out", 0),))
    assert can_join(flat)
    assert not can_join(RenderedKernel("k", flat.source, (8, 2), None, flat.buffers))
    assert not can_join(RenderedKernel("k", flat.source.replace("b0[", "__local float s[4]; b0["), (8,), None,
                                       flat.buffers))
    joined = join([flat, flat], "both")
    assert joined.global_size == (16,) and joined.source.count("void both_part0(") == 1  # one definition
    assert "if (lt_g < 8) both_part0(lt_g - 0, m0_b0);" in joined.source
    assert "both_part0(lt_g - 8, m1_b0)" in joined.source


def test_joined_kernels_sharing_a_member_build_in_one_program():
    """Each joined kernel names its member functions after itself, so two that run the same
    member compile together with the member's own kernel."""
    from lazytensor.codegen.horizontal import join
    from lazytensor.codegen.program import RenderedKernel
    from lazytensor.codegen.render_opencl import program_source
    flat = RenderedKernel("k", "__kernel void k(__global float* restrict b0) {\n  b0[get_global_id(0)] = 1;\n}\n",
                          (8,), None, (("out", 0),))
    other = RenderedKernel("k2", flat.source.replace("void k(", "void k2(").replace("= 1", "= 2"), (4,), None,
                           flat.buffers)
    first, second = join([flat, other], "j1"), join([other, flat], "j2")
    device = get_device("cl")
    program = device.cl.Program(device.ctx, program_source([flat.source, first.source, second.source])).build()
    assert {k.function_name for k in program.all_kernels()} == {"k", "j1", "j2"}


@pytest.mark.parametrize("rows", [2, 4, 8])
def test_scattered_lanes_store_their_unrolled_neighbours_as_one_short_vector(rows):
    """Lanes down a column (a transposed result) with unrolled copies along the row: each lane
    stores its copies' values, adjacent in memory, with one vstore instead of one per copy."""
    x = rand(64, 32)
    kernel, _ = one_kernel(lambda x: x.t() * 2, x)
    opts = [Opt(OptKind.UPCAST, 0, 32 // rows), Opt(OptKind.UNROLL, 1, rows)]
    source = build_program(kernel, CPU, "k", opts).kernels[-1].source
    assert source.count(f"vstore{rows}((float{rows})(") == 32 // rows and "b0[" not in source
    np.testing.assert_array_equal(run(kernel, opts), x.T * 2)


def test_a_run_of_three_neighbours_stores_two_together_and_one_alone():
    x = rand(48, 32)
    kernel, _ = one_kernel(lambda x: x.t() * 2, x)
    opts = [Opt(OptKind.UPCAST, 0, 4), Opt(OptKind.UNROLL, 1, 3)]
    source = build_program(kernel, CPU, "k", opts).kernels[-1].source
    assert source.count("vstore2((float2)(") == 4 and source.count("b0[") == 4
    np.testing.assert_array_equal(run(kernel, opts), x.T * 2)


def test_scattered_bools_store_lane_by_lane():
    """A bool is stored through its own conversion: its scattered lanes stay scalar stores."""
    x = rand(64, 32)
    kernel, _ = one_kernel(lambda x: x.t() > 0, x)
    opts = [Opt(OptKind.UPCAST, 0, 4), Opt(OptKind.UNROLL, 1, 4)]
    source = build_program(kernel, CPU, "k", opts).kernels[-1].source
    assert "vstore" not in source and source.count("b0[") == 16


def test_conv2d_packs_its_weights_and_scatters_channels():
    """Lanes along the output channels: the small weights are packed, not the large windows."""
    program = source_for(lambda x, w: lt.nn.functional.conv2d(x, w, padding=1),
                         rand(2, 16, 30, 30), rand(64, 16, 3, 3))
    assert [n for _, n in program.scratch] == [64 * 16 * 9]
    assert "vstore16" not in program.kernels[-1].source  # each lane stores into its own channel plane


def _conv_weight_gradient(x, w, dy):
    """The gradient of conv2d(x, w, padding=1) against w, for the upstream gradient dy."""
    weight = w.detach().requires_grad_()
    with lt.enable_grad():
        out = lt.nn.functional.conv2d(x, weight, padding=1)
    return lt.autograd.grad(out, weight, dy)[0]


def test_a_conv_weight_gradient_tiles_channels_by_output_channels():
    """dW[o, c, i, j] sums dy[b, o] against windows of x[b, c] over the batch and the image: the
    output channels go in the lanes and the input channels make the tile's rows (the window's
    3 columns, the innermost axis, are too few), so the windows are packed, never gathered
    lane by lane at each step."""
    x, w, dy = rand(8, 16, 10, 10), rand(32, 16, 3, 3, seed=1), rand(8, 32, 10, 10, seed=2)
    kernel, _ = one_kernel(_conv_weight_gradient, x, w, dy)
    opts = choose_opts(kernel, CPU)
    assert any(o.kind == OptKind.PACK for o in opts)
    assert _lane_axis_size(kernel, opts) == 32
    expected = torch.nn.grad.conv2d_weight(torch.tensor(x), w.shape, torch.tensor(dy), padding=1)
    np.testing.assert_allclose(run(kernel, opts), expected.numpy(), rtol=1e-4, atol=1e-3)


def test_a_matmul_whose_columns_fill_one_vector_still_tiles_its_rows():
    """A conv's input gradient with 16 input channels: the lanes use up the channel axis, and
    the rows (an axis after it, renumbered) are still unrolled into a register tile."""
    x, w, dy = rand(4, 16, 8, 8), rand(8, 16, 3, 3, seed=1), rand(4, 8, 8, 8, seed=2)

    def input_gradient(a, weight, g):
        inp = a.detach().requires_grad_()
        with lt.enable_grad():
            out = lt.nn.functional.conv2d(inp, weight, padding=1)
        return lt.autograd.grad(out, inp, g)[0]
    kernel, _ = one_kernel(input_gradient, x, w, dy)
    opts = choose_opts(kernel, CPU)
    assert _lane_axis_size(kernel, opts) == 16
    assert any(o.kind == OptKind.UNROLL for o in opts)
    expected = torch.nn.grad.conv2d_input(x.shape, torch.tensor(w), torch.tensor(dy), padding=1)
    np.testing.assert_allclose(run(kernel, opts), expected.numpy(), rtol=1e-4, atol=1e-4)


def test_a_matmul_whose_rows_are_all_unrolled_still_unrolls_its_columns():
    """4 rows, unrolled whole (the axis is used up), then the 32 columns in two vectors of 16."""
    a, b = rand(4, 9), rand(9, 32, seed=1)
    kernel, _ = one_kernel(lambda x, y: x @ y, a, b)
    opts = choose_opts(kernel, CPU)
    assert sum(o.kind == OptKind.UNROLL for o in opts) == 2
    np.testing.assert_allclose(run(kernel, opts), a @ b, rtol=1e-5, atol=1e-5)


def test_a_padded_read_through_a_reshape_keeps_no_division():
    """A pad over a reshaped value (a pooling's (n, c, h, w, 1) result read by a padded
    convolution) reads each dim by its own index: an index that leaves its range at the
    border (masked off there) does not carry into the next dim through a division."""
    kernel, _ = one_kernel(lambda a: lt.nn.functional.pad(a.reshape(4, 6, 6), (1, 1, 1, 1)) * 2,
                           rand(4, 6, 6, 1))
    ops = {n.op for n in postorder(kernel.values, lambda n: n.srcs)}
    assert not ops & {"idiv", "mod"}


@pytest.mark.parametrize("before, after", [(1, 1), (3, 0), (0, 5)])
def test_a_padded_row_reads_whole_vectors_inside_its_border(before, after):
    """Lanes along a padded axis are valid on one run: a vector whose first and last lanes are
    valid is read with one vector load, and only the vectors across the border lane by lane."""
    a, b = rand(6, 37), rand(37 + before + after, seed=1)
    kernel, _ = one_kernel(lambda x, w: (lt.nn.functional.pad(x, (before, after)) * w).sum(-1), a, b)
    opts = choose_opts(kernel, CPU)
    source = build_program(kernel, CPU, "k", opts).kernels[-1].source
    assert re.search(r"if \(\w+\.s0 && \w+\.s[0-9a-f]\) \w+ = vload", source)
    expected = (np.pad(a, ((0, 0), (before, after))) * b).sum(-1)
    np.testing.assert_allclose(run(kernel, opts), expected, rtol=1e-5, atol=1e-5)


def test_matmul_epilogue_fuses_into_the_tile():
    program = source_for(lambda a, b, c: (a @ b + c).relu(), rand(128, 128), rand(128, 128, seed=1),
                         rand(128, seed=2))
    assert len(program.kernels) == 2  # the packed copy and one kernel with bias and relu inside
    body = program.kernels[-1].source.split("{", 1)[1]
    assert "b3" in body and "?" in body  # reads the bias (slot 3) and selects for relu


@pytest.mark.parametrize("build, on_cpu, on_gpu", [
    # a CPU work-item computes a row's reductions in turn, then writes the row: one kernel;
    # a GPU stores each row reduction (max, sum, then divide)
    (lambda x, w, b: x.softmax(-1), 1, 3),
    (lambda x, w, b: lt.nn.functional.layer_norm(x, (x.shape[-1],)), 1, 3),
    (lambda x, w, b: lt.nn.functional.gelu(lt.nn.functional.layer_norm(x, (256,)) * b + b, approximate="tanh"), 1, 3),
    (lambda x, w, b: (x @ w + b).relu(), 2, 1),  # a CPU packs w first; the bias and relu fuse in
], ids=["softmax", "layer_norm", "ln_gelu", "linear_relu"])
def test_pinned_kernel_counts_on_cl(build, on_cpu, on_gpu):
    kernels = on_cpu if get_device("cl").caps.is_cpu else on_gpu
    x, w, b = (lt.tensor(a, device="cl").realize() for a in (rand(128, 256), rand(256, 256, seed=1),
                                                              rand(256, seed=2)))
    lt.reset_stats()
    build(x, w, b).realize()
    assert lt.stats().kernels_launched == kernels
