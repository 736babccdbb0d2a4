"""Helpers that each have one definition in the lowest layer that needs them: strides and
permutations (ir/layout.py), reduction identities (ir/ops.py), the C types of the OpenCL
renderer (codegen/render_opencl.py)."""
import itertools
import math

import numpy as np
import pytest
import torch

import lazytensor as lt
from lazytensor.codegen import render_opencl
from lazytensor.codegen.caps import DeviceCaps
from lazytensor.codegen.lower import lower_kernel
from lazytensor.codegen.program import build_program
from lazytensor.ir import dtype as D
from lazytensor.ir.kernel import kernel_spec
from lazytensor.ir.layout import contiguous_strides, inverse_permutation
from lazytensor.ir.ops import REDUCE_COMBINE, REDUCE_OPS, reduce_identity
from lazytensor.ir.semantics import ELEMENTWISE
from lazytensor.views import strides_of

SHAPES_WITH_UNIT_AXES = [(2, 1, 3), (1, 4, 1), (3, 1, 1, 2), (1, 1), (2, 3, 1), (1,), (4, 1, 2, 1)]


def _address(index, strides) -> int:
    return sum(i * s for i, s in zip(index, strides))


@pytest.mark.parametrize("shape", SHAPES_WITH_UNIT_AXES)
def test_contiguous_strides_address_every_index_row_major(shape):
    """A size-1 axis gets stride 0, which addresses exactly what the row-major stride does."""
    strides = contiguous_strides(shape)
    assert all(s == 0 for s, n in zip(strides, shape) if n == 1)
    for index in itertools.product(*map(range, shape)):
        assert _address(index, strides) == np.ravel_multi_index(index, shape)


def _prefixes(shape):
    """Movement chains (as views record them) over contiguous memory of `shape`, with the
    shape each leaves: permutations, a shrink to one element, an expand of a unit axis."""
    yield (), shape
    for perm in itertools.permutations(range(len(shape))):
        yield (("permute", perm),), tuple(shape[p] for p in perm)
    for axis, n in enumerate(shape):
        if n > 1:
            bounds = tuple((1, 2) if a == axis else (0, m) for a, m in enumerate(shape))
            yield (("shrink", bounds),), tuple(1 if a == axis else m for a, m in enumerate(shape))
        else:
            wider = tuple(2 if a == axis else m for a, m in enumerate(shape))
            yield (("expand", wider),), wider


def _targets(numel):
    """Shapes of `numel` elements with unit axes in every position."""
    pairs = [(a, numel // a) for a in range(1, numel + 1) if numel % a == 0]
    for core in [(numel,)] + pairs:
        for extra in range(3):
            for places in itertools.combinations(range(len(core) + extra), extra):
                rest = iter(core)
                yield tuple(1 if i in places else next(rest) for i in range(len(core) + extra))


def _torch_view(shape, chain):
    t = torch.arange(math.prod(shape)).reshape(shape)
    for op, arg in chain:
        if op == "permute":
            t = t.permute(arg)
        elif op == "expand":
            t = t.expand(arg)
        elif op == "shrink":
            t = t[tuple(slice(s, e) for s, e in arg)]
    return t


def _reshape_cases():
    for shape in SHAPES_WITH_UNIT_AXES:
        for chain, now in _prefixes(shape):
            for target in _targets(math.prod(now)):
                yield shape, chain, now, target


def test_reshape_viewability_with_unit_axes_matches_pytorch():
    """strides_of starts from the layout's strides (0 on unit axes); whether a reshape is a
    view must still be PyTorch's answer, which reads row-major strides."""
    wrong = []
    for shape, chain, _, target in _reshape_cases():
        try:
            _torch_view(shape, chain).view(target)
            torch_views = True
        except RuntimeError:
            torch_views = False
        ours = strides_of(shape, chain + (("reshape", target),)) is not None
        if ours != torch_views:
            wrong.append((shape, chain, target, ours, torch_views))
    assert not wrong, wrong[:5]


def test_reshape_view_strides_address_every_index_as_pytorch():
    for shape, chain, _, target in _reshape_cases():
        ours = strides_of(shape, chain + (("reshape", target),))
        if ours is None:
            continue
        theirs = _torch_view(shape, chain).view(target).stride()
        for index in itertools.product(*map(range, target)):
            assert _address(index, ours) == _address(index, theirs), (shape, chain, target)


@pytest.mark.parametrize("rank", [1, 2, 3, 4])
def test_inverse_permutation_undoes_the_permutation(rank):
    axes = tuple(range(rank))
    for perm in itertools.permutations(axes):
        inverse = inverse_permutation(perm)
        assert tuple(perm[i] for i in inverse) == axes
        assert tuple(inverse[p] for p in perm) == axes


@pytest.mark.parametrize("op", REDUCE_OPS)
@pytest.mark.parametrize("dtype", D.ALL, ids=lambda d: d.name)
def test_reduce_identity_is_neutral_for_its_combining_op(op, dtype):
    """combine(identity, x) == x for every value x of the dtype, extremes included."""
    host = D.host_type(dtype)  # bfloat16's values are float32s
    identity = np.array(reduce_identity(op, dtype), dtype=host)
    if dtype.is_floating_point:
        values = np.array([-np.inf, -1.5, 0.0, 2.0, np.inf], dtype=host)
    else:
        values = np.array(D.value_range(dtype), dtype=host)
    combine = ELEMENTWISE[REDUCE_COMBINE[op]]
    with np.errstate(all="ignore"):
        got = combine(np.broadcast_to(identity, values.shape), values).astype(host)
    np.testing.assert_array_equal(got, values)


@pytest.mark.parametrize("op", ["sum", "prod"])
def test_empty_reduction_is_the_identity(op):
    x = lt.zeros(0, 3, device="numpy")
    got = getattr(x, op)(0).numpy()
    np.testing.assert_array_equal(got, np.full(3, reduce_identity(op, D.float32), np.float32))


def test_opencl_type_names_live_in_the_renderer():
    assert not hasattr(D.float32, "cl")
    assert {d.name for d in D.ALL} <= set(render_opencl.STORAGE_TYPES)
    assert render_opencl.ctype(D.bool_) == "bool" and render_opencl.storage_type(D.bool_) == "uchar"
    assert render_opencl.ctype(D.float64, 4) == "double4"


def _kernel_sources(build) -> list[str]:
    x = lt.tensor(np.arange(6, dtype=np.float32), device="numpy").realize()
    out = build(x)
    kernel = lower_kernel(kernel_spec((out.node,), set()))
    return [k.source for k in build_program(kernel, DeviceCaps(fp64=True), "k").kernels]


@pytest.mark.parametrize("build, uses_double", [
    (lambda x: x * 2, False),
    (lambda x: (x.double() * 1.5).float(), True),  # float32 buffers, a float64 value between
    (lambda x: x.double() + 1, True),
], ids=["float32", "float64-inside", "float64-out"])
def test_fp64_extension_follows_the_kernels_dtypes(build, uses_double):
    for source in _kernel_sources(build):
        assert (render_opencl.FP64_PRAGMA in source) == uses_double
        assert ("double" in source) == uses_double
