"""Matrix products and einsum, as broadcast multiply + sum: one fused reduction kernel."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .elementwise import broadcast_shapes, common_device
from .indexing import _stride_dim
from .ir import build as B
from .ir import dtype as D
from .ir.node import Node, const
from .tensor_base import TensorBase, wrap

if TYPE_CHECKING:
    from .tensor import Tensor


def _shapes_error(op: str, a: Tensor, b: Tensor) -> RuntimeError:
    sa = "x".join(map(str, a.shape))
    sb = "x".join(map(str, b.shape))
    return RuntimeError(f"{op}: mat1 and mat2 shapes cannot be multiplied ({sa} and {sb}): shapes "
                        f"{tuple(a.shape)} and {tuple(b.shape)}, dtypes {a.dtype.name} and {b.dtype.name}")


def matmul(a: Tensor, b: Tensor) -> Tensor:
    for name, x in (("input", a), ("other", b)):  # an ndarray @ tensor comes here as rmatmul
        if not isinstance(x, TensorBase):
            raise TypeError(f"matmul: argument '{name}' must be Tensor, not {type(x).__module__}.{type(x).__name__}")
    common_device("matmul", a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"matmul: both arguments need at least 1 dimension, got shapes "
                           f"{tuple(a.shape)} and {tuple(b.shape)}")
    if a.dtype != b.dtype:  # PyTorch's matmul promotes nothing
        raise RuntimeError(f"matmul: expected m1 and m2 to have the same dtype, but got: {a.dtype.name} != "
                           f"{b.dtype.name} (shapes {tuple(a.shape)} and {tuple(b.shape)})")
    if a.ndim == 1 and b.ndim == 1:
        if a.shape[0] != b.shape[0]:
            raise RuntimeError(f"matmul: inconsistent tensor size, expected tensor [{a.shape[0]}] and src "
                               f"[{b.shape[0]}] to have the same number of elements")
        return (a * b).sum()
    return wrap(_product_node(a, b))


def _product_node(a: Tensor, b: Tensor) -> Node:
    """The product as IR: both operands broadcast to (*batch, n, k, m), multiplied, summed
    over k. Built on the nodes directly (a matmul is a few views, one multiply and one sum:
    as tensor ops each view would be a tensor of its own, and a layer records several)."""
    an, bn = a.node, b.node
    squeeze_front, squeeze_back = len(an.shape) == 1, len(bn.shape) == 1
    if squeeze_front:
        an = B.reshape(an, (1,) + an.shape)
    if squeeze_back:
        bn = B.reshape(bn, bn.shape + (1,))
    if an.shape[-1] != bn.shape[-2]:
        raise _shapes_error("matmul", a, b)
    batch = broadcast_shapes("matmul", an.shape[:-2], bn.shape[:-2])
    n, k, m = an.shape[-2], an.shape[-1], bn.shape[-1]
    full = batch + (n, k, m)
    left = B.broadcast_to(B.reshape(an, an.shape + (1,)), full)
    right = B.broadcast_to(B.reshape(bn, bn.shape[:-2] + (1,) + bn.shape[-2:]), full)
    dtype = an.dtype
    product = B.elementwise("and" if dtype == D.bool_ else "mul", left, right)
    total = D.int64 if dtype.category < 2 else dtype  # as sum() accumulates
    if total != dtype:
        product = B.cast(product, total)
    summed = B.reduce(product, "sum", (len(full) - 2,))
    shape = batch + ((n,) if not squeeze_front else ()) + ((m,) if not squeeze_back else ())
    return B.reshape(summed, shape)


def rmatmul(self: Tensor, other: Tensor) -> Tensor:
    return matmul(other, self)


def mm(a: Tensor, b: Tensor) -> Tensor:
    if a.ndim != 2 or b.ndim != 2:
        raise RuntimeError(f"mm: expected 2-D tensors, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    return matmul(a, b)


def bmm(a: Tensor, b: Tensor) -> Tensor:
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0]:
        raise RuntimeError(f"bmm: expected 3-D tensors with equal batch sizes, got shapes "
                           f"{tuple(a.shape)} and {tuple(b.shape)}")
    return matmul(a, b)


def dot(a: Tensor, b: Tensor) -> Tensor:
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"dot: 1D tensors expected, but got {a.ndim}D and {b.ndim}D tensors "
                           f"(shapes {tuple(a.shape)} and {tuple(b.shape)})")
    return matmul(a, b)


def outer(a: Tensor, b: Tensor) -> Tensor:
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"outer: 1D tensors expected, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    return a.unsqueeze(1) * b.unsqueeze(0)


def diagonal(self: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The diagonal of dims (dim1, dim2), as a view, moved to the last axis."""
    d1, d2 = self._dim(dim1, "diagonal"), self._dim(dim2, "diagonal")
    x = self.movedim((d1, d2), (-2, -1))
    rows, cols = x.shape[-2], x.shape[-1]
    if offset >= 0:
        x = x._shrink_dim(x.ndim - 1, min(offset, cols), cols)
    else:
        x = x._shrink_dim(x.ndim - 2, min(-offset, rows), rows)
    rows, cols = x.shape[-2], x.shape[-1]
    n = min(rows, cols)
    x = x._shrink_dim(x.ndim - 2, 0, n)._shrink_dim(x.ndim - 1, 0, n)
    flat = x.reshape(tuple(x.shape[:-2]) + (n * n,))
    if n == 0:
        return flat
    return _stride_dim(flat, flat.ndim - 1, n + 1)


def diag(self: Tensor, diagonal: int = 0) -> Tensor:
    """A vector's square matrix with it on the `diagonal`-th diagonal, or a matrix's diagonal."""
    if self.ndim == 2:
        return self.diagonal(diagonal).clone()
    if self.ndim != 1:
        raise RuntimeError(f"diag: expected a 1-D or 2-D tensor, got shape {tuple(self.shape)}")
    size = self.shape[0] + abs(diagonal)
    dev, square = self.device.name, (size, size)
    rows, cols = B.iota(square, 0, D.int64, dev), B.iota(square, 1, D.int64, dev)
    on = B.elementwise("eq", B.elementwise("sub", cols, rows), const(diagonal, D.int64, square, dev))
    # (i, i + k) holds v[i] above the main diagonal, (j + k, j) holds v[j] below it
    padded = B.pad(self.node, ((0, abs(diagonal)),))
    along = (size, 1) if diagonal >= 0 else (1, size)
    spread = B.expand(B.reshape(padded, along), square)
    return wrap(B.elementwise("where", on, spread, const(0, self.dtype, square, dev)))


def trace(self: Tensor) -> Tensor:
    if self.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, got shape {tuple(self.shape)}")
    return self.diagonal().sum()


def einsum(equation: str, *operands) -> Tensor:
    """Einstein summation over single-letter subscripts (no ellipsis)."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    equation = equation.replace(" ", "")
    lhs, arrow, rhs = equation.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(operands):
        raise RuntimeError(f"einsum(): {len(terms)} operand subscripts for {len(operands)} operands in {equation!r}")
    terms, rhs, batch = _expand_ellipsis(terms, rhs, operands, bool(arrow))
    if not arrow:
        letters = "".join(terms)
        rhs = batch + "".join(sorted(c for c in set(letters) if letters.count(c) == 1 and c not in batch))
    sizes: dict[str, int] = {}
    prepared = []
    for term, x in zip(terms, operands):
        if len(term) != x.ndim:
            raise RuntimeError(f"einsum(): the subscript {term!r} has {len(term)} letters for an operand of "
                               f"shape {tuple(x.shape)}")
        x, term = _take_diagonals(x, term)
        for c, n in zip(term, x.shape):
            if sizes.setdefault(c, n) != n and n != 1 and sizes[c] != 1:
                raise RuntimeError(f"einsum(): subscript {c} has size {n} for an operand of shape "
                                   f"{tuple(x.shape)}, which does not match the size {sizes[c]} seen before")
            sizes[c] = max(sizes[c], n)
        prepared.append((x, term))
    summed = [c for c in sizes if c not in rhs]
    order = list(rhs) + summed
    product = None
    for x, term in prepared:
        perm = [term.index(c) for c in order if c in term]
        aligned = x.permute(perm).reshape(tuple(x.shape[term.index(c)] if c in term else 1 for c in order))
        product = aligned if product is None else product * aligned
    if summed:
        product = product.expand(tuple(sizes[c] for c in order)).sum(tuple(range(len(rhs), len(order))))
    return product.expand(tuple(sizes[c] for c in rhs)) if product.ndim else product


def _expand_ellipsis(terms: list[str], rhs: str, operands, explicit: bool):
    """Replace '...' by fresh capital letters, one per broadcast batch dim."""
    used = set("".join(terms) + rhs)
    free = [c for c in "ZYXWVUTSRQPONMLKJIHGFEDCBA" if c not in used]
    width = max((x.ndim - len(t.replace("...", "")) for t, x in zip(terms, operands) if "..." in t), default=0)
    batch = "".join(free[:width][::-1])
    out = []
    for t, x in zip(terms, operands):
        if "..." in t:
            n = x.ndim - len(t.replace("...", ""))
            t = t.replace("...", batch[width - n:])
        out.append(t)
    return out, rhs.replace("...", batch), batch if not explicit else ""


def _take_diagonals(x: Tensor, term: str) -> tuple[Tensor, str]:
    while len(set(term)) != len(term):
        c = next(c for c in term if term.count(c) > 1)
        i = term.index(c)
        j = term.index(c, i + 1)
        x = x.diagonal(0, i, j)
        term = term[:i] + term[i + 1:j] + term[j + 1:] + c
    return x, term


