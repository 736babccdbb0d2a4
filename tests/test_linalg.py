"""matmul / @ in all its shape forms, mm, bmm, dot, outer and einsum."""
import numpy as np
import pytest

import torch

import lazytensor as lt
from helpers import check_cases, compare, values

pytestmark = pytest.mark.usefixtures("env")

TOL = dict(rtol=1e-4, atol=1e-5)

MATMUL_SHAPES = {
    "1d@1d": ((4,), (4,)),
    "2d@1d": ((3, 4), (4,)),
    "1d@2d": ((3,), (3, 4)),
    "2d@2d": ((3, 4), (4, 2)),
    "batched@2d": ((2, 3, 4), (4, 2)),
    "1d@batched": ((4,), (2, 4, 3)),
    "batched_broadcast": ((2, 1, 3, 4), (5, 4, 2)),
    "zero_size_inner": ((3, 0), (0, 4)),
    "zero_size_outer": ((0, 4), (4, 2)),
}


@pytest.mark.parametrize("form", ["operator", "method", "function"])
def test_matmul_shapes(form):
    fn = {"operator": lambda m, a, b: a @ b, "method": lambda m, a, b: a.matmul(b),
          "function": lambda m, a, b: m.matmul(a, b)}[form]
    check_cases(MATMUL_SHAPES, lambda s: compare(fn, values(s[0], seed=1), values(s[1], seed=2), **TOL))


def test_matmul_noncontiguous_and_int():
    a, b = values((4, 3), seed=1), values((2, 4), seed=2)
    compare(lambda m, x, y: x.t() @ y.t(), a, b, **TOL)
    compare(lambda m, x, y: x[::2] @ y[:, :3].t(), a, b, **TOL)
    compare(lambda m, x, y: x @ y, values((3, 4), "int64"), values((4, 2), "int64", seed=2))


def test_matmul_python_dtype_and_fusion_with_elementwise():
    compare(lambda m, x, y: ((x * 2 + 1) @ y.exp()).relu().sum(-1), values((3, 4)), values((4, 2)), **TOL)


LINALG = {
    "mm": (lambda m, a, b: m.mm(a, b), (3, 4), (4, 2)),
    "mm_method": (lambda m, a, b: a.mm(b.t()), (3, 4), (2, 4)),
    "bmm": (lambda m, a, b: m.bmm(a, b), (2, 3, 4), (2, 4, 2)),
    "bmm_method_transposed": (lambda m, a, b: a.bmm(b.transpose(1, 2)), (2, 3, 4), (2, 2, 4)),
    "dot": (lambda m, a, b: m.dot(a, b), (4,), (4,)),
    "dot_method": (lambda m, a, b: a.dot(b[::2]), (4,), (8,)),
    "outer": (lambda m, a, b: m.outer(a, b), (3,), (4,)),
    "outer_method": (lambda m, a, b: a.outer(b), (4,), (2,)),
}


def test_mm_bmm_dot_outer():
    check_cases(LINALG, lambda c: compare(c[0], values(c[1], seed=1), values(c[2], seed=2), **TOL))


EINSUM = {
    "ij,jk->ik": [(3, 4), (4, 2)],
    "bij,bjk->bik": [(2, 3, 4), (2, 4, 2)],
    "ii->i": [(3, 3)],
    "ii": [(3, 3)],
    "ij->ji": [(3, 4)],
    "i,i->": [(4,)] * 2,
    "ij->": [(3, 4)],
    "ij->j": [(3, 4)],
    "i,j->ij": [(3,), (4,)],
    "bij,jk": [(2, 3, 4), (4, 2)],
    "...ij,...jk->...ik": [(2, 3, 4), (2, 4, 2)],
    "i j , j k -> i k": [(3, 4), (4, 2)],
}


def test_einsum():
    def body(eq):
        arrays = [values(s, seed=i) for i, s in enumerate(EINSUM[eq])]
        compare(lambda m, *xs: m.einsum(eq, *xs), *arrays, **TOL)
    check_cases({eq: eq for eq in EINSUM}, body)


def test_einsum_operands_as_list():
    compare(lambda m, a, b: m.einsum("ij,jk->ik", [a, b]), values((3, 4)), values((4, 2), seed=2), **TOL)


@pytest.mark.parametrize("dtypes", [("float32", "float64"), ("int64", "float32")])
def test_matmul_of_two_dtypes_raises_as_torch_does(dtypes):
    """PyTorch's matmul promotes nothing: mixed operands are refused, not converted."""
    for m in (torch, lt):
        a = m.ones(2, 3, dtype=getattr(m, dtypes[0]))
        b = m.ones(3, 2, dtype=getattr(m, dtypes[1]))
        with pytest.raises(RuntimeError, match="same dtype"):
            a @ b
