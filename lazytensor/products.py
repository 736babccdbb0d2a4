"""Matrix products, contractions (tensordot, kron, einsum) and distances, as broadcast multiply + sum: fused reduction kernels."""
from __future__ import annotations

import functools
import itertools
import math
from typing import TYPE_CHECKING

from .elementwise import broadcast_shapes, common_device, result_dtype
from .indexing import _stride_dim
from .ir import build as B
from .ir import dtype as D
from .ir.node import Node, const
from .creation import tensor
from .movement import cat, stack
from .reduce import vector_norm
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


def _vectors(op: str, a: Tensor, b: Tensor) -> None:
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"{op}: 1D tensors expected, but got {a.ndim}D and {b.ndim}D tensors "
                           f"(shapes {tuple(a.shape)} and {tuple(b.shape)})")


def dot(a: Tensor, b: Tensor) -> Tensor:
    _vectors("dot", a, b)
    return matmul(a, b)


def outer(a: Tensor, b: Tensor) -> Tensor:
    _vectors("outer", a, b)
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
    # a view step, not Tensor.reshape: that copies a strided view (a shrunk or moved one), and a
    # diagonal is a view whatever the strides (writes through it reach the tensor)
    flat = x._view_of("reshape", tuple(x.shape[:-2]) + (n * n,))
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


def diagflat(self: Tensor, offset: int = 0) -> Tensor:
    """The flattened input on the `offset`-th diagonal of a square matrix."""
    return diag(self.flatten(), offset)


def diag_embed(self: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """Each vector along the last dim on the `offset`-th diagonal of dims (dim1, dim2) of a
    tensor with one more dim, zero elsewhere."""
    ndim = self.ndim + 1
    d1, d2 = self._dim(dim1, "diag_embed", ndim), self._dim(dim2, "diag_embed", ndim)
    if d1 == d2:
        raise RuntimeError(f"diag_embed: diagonal dimensions cannot be identical {dim1}, {dim2} "
                           f"(input shape {tuple(self.shape)})")
    n = self.shape[-1] + abs(offset)  # a 0-d input has no two distinct dims: refused above
    batch = iter(self.shape[:-1])
    shape = tuple(n if d in (d1, d2) else next(batch) for d in range(ndim))
    return self.new_zeros(shape).diagonal_scatter(self, offset, d1, d2)


def trace(self: Tensor) -> Tensor:
    if self.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, got shape {tuple(self.shape)}")
    return self.diagonal().sum()


def einsum(equation: str, *operands) -> Tensor:
    """Einstein summation over single-letter subscripts, with ... for the leading dims."""
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


# ---- products with a scaled addend, and other contractions ---------------------------------

def _shape_of(op: str, x: Tensor, ndim: int, what: str) -> None:
    if x.ndim != ndim:
        raise RuntimeError(f"{op}: {what} must be a {ndim}-D tensor, got shape {tuple(x.shape)} ({x.dtype.name})")


def _scaled_sum(op: str, input: Tensor, product: Tensor, beta, alpha) -> Tensor:
    """beta * input + alpha * product, as the add* products compute it: input broadcasts to the
    product's shape and has its dtype; where beta is 0 it is not read (its NaN and inf do not
    spread), and a factor of 1 multiplies nothing."""
    if input.dtype != product.dtype:
        raise RuntimeError(f"{op}: expected input and the product to have the same dtype, got "
                           f"{input.dtype.name} {tuple(input.shape)} and {product.dtype.name} {tuple(product.shape)}")
    if broadcast_shapes(op, tuple(input.shape), tuple(product.shape)) != tuple(product.shape):
        raise RuntimeError(f"{op}: input of shape {tuple(input.shape)} does not broadcast to the product's "
                           f"shape {tuple(product.shape)}")
    if not product.dtype.is_floating_point:  # integer products take integer factors, as torch's
        beta, alpha = int(beta), int(alpha)
    scaled = product if alpha == 1 else product * alpha
    if beta == 0:
        return scaled
    return scaled + (input if beta == 1 else input * beta)


def mv(input: Tensor, vec: Tensor) -> Tensor:
    _shape_of("mv", input, 2, "input")
    _shape_of("mv", vec, 1, "vec")
    return matmul(input, vec)


def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """beta * input + alpha * (mat1 @ mat2)."""
    return _scaled_sum("addmm", input, mm(mat1, mat2), beta, alpha)


def addmv(input: Tensor, mat: Tensor, vec: Tensor, *, beta=1, alpha=1) -> Tensor:
    """beta * input + alpha * (mat @ vec)."""
    return _scaled_sum("addmv", input, mv(mat, vec), beta, alpha)


def addr(input: Tensor, vec1: Tensor, vec2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """beta * input + alpha * outer(vec1, vec2)."""
    return _scaled_sum("addr", input, outer(vec1, vec2), beta, alpha)


def baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """beta * input + alpha * (batch1 @ batch2), per batch."""
    return _scaled_sum("baddbmm", input, bmm(batch1, batch2), beta, alpha)


def addbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """beta * input + alpha * the sum over the batch of batch1 @ batch2."""
    return _scaled_sum("addbmm", input, bmm(batch1, batch2).sum(0), beta, alpha)


def tensordot(a: Tensor, b: Tensor, dims=2) -> Tensor:
    """Contract a's dims `dims[0]` with b's `dims[1]` (or a's last `dims` with b's first)."""
    if isinstance(dims, TensorBase):  # torch takes the dims as a tensor too
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0 or dims > min(a.ndim, b.ndim):
            raise RuntimeError(f"tensordot: dims ({dims}) out of range for shapes {tuple(a.shape)} and {tuple(b.shape)}")
        dims_a, dims_b = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        dims_a, dims_b = ([d] if isinstance(d, int) else list(d) for d in dims)
    dims_a = [a._dim(d, "tensordot") for d in dims_a]
    dims_b = [b._dim(d, "tensordot") for d in dims_b]
    if len(dims_a) != len(dims_b) or any(a.shape[i] != b.shape[j] for i, j in zip(dims_a, dims_b)):
        raise RuntimeError(f"tensordot: contracted dims {dims_a} of {tuple(a.shape)} and {dims_b} of "
                           f"{tuple(b.shape)} must pair up with equal sizes")
    free_a = [d for d in range(a.ndim) if d not in dims_a]
    free_b = [d for d in range(b.ndim) if d not in dims_b]
    rows, k = (math.prod(a.shape[d] for d in ds) for ds in (free_a, dims_a))
    columns = math.prod(b.shape[d] for d in free_b)
    left = a.permute(free_a + dims_a).reshape(rows, k)
    right = b.permute(dims_b + free_b).reshape(k, columns)
    return matmul(left, right).reshape([a.shape[d] for d in free_a] + [b.shape[d] for d in free_b])


def inner(a: Tensor, b: Tensor) -> Tensor:
    """The sum over the last dims of a and b (a product where either is a number)."""
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    return tensordot(a, b, ([-1], [-1]))


def vdot(a: Tensor, b: Tensor) -> Tensor:
    _vectors("vdot", a, b)
    return matmul(a, b)


def kron(a: Tensor, b: Tensor) -> Tensor:
    """The Kronecker product: block (i, j, ...) is a[i, j, ...] * b."""
    ndim = max(a.ndim, b.ndim)
    sa = (1,) * (ndim - a.ndim) + tuple(a.shape)
    sb = (1,) * (ndim - b.ndim) + tuple(b.shape)
    # a's axes interleaved with b's: (a0, 1, a1, 1, ...) * (1, b0, 1, b1, ...)
    spread_a = a.reshape([n for s in sa for n in (s, 1)])
    spread_b = b.reshape([n for s in sb for n in (1, s)])
    return (spread_a * spread_b).reshape([x * y for x, y in zip(sa, sb)])


def block_diag(*tensors: Tensor) -> Tensor:
    """The tensors (numbers, vectors as rows, matrices) as the blocks of a block-diagonal matrix."""
    blocks = []
    for t in tensors:
        if t.ndim > 2:
            raise RuntimeError(f"block_diag: Input tensors must have 2 or fewer dimensions, got shape {tuple(t.shape)}")
        blocks.append(t.reshape(1, -1) if t.ndim < 2 else t)
    if not blocks:  # torch's empty block matrix
        from .creation import zeros
        return zeros(1, 0)
    dtype = result_dtype(*tensors)
    width = sum(b.shape[1] for b in blocks)
    rows, left = [], 0
    for b in blocks:  # each block widened by zeros to its columns
        rows.append(wrap(B.pad(b.to(dtype).node, ((0, 0), (left, width - left - b.shape[1])))))
        left += b.shape[1]
    return cat(rows, 0)


def vander(x: Tensor, N: int | None = None, increasing: bool = False) -> Tensor:
    """Powers of the vector x as columns: x ** (N - 1), ..., x ** 0 (or increasing)."""
    from .creation import arange
    n = x.shape[-1] if N is None else N
    if x.ndim < 1 or n < 0:
        raise RuntimeError(f"vander: expected a vector and N >= 0, got shape {tuple(x.shape)} and N = {N}")
    powers = arange(n, device=x.device) if increasing else arange(n - 1, -1, -1, device=x.device)
    return x.unsqueeze(-1) ** powers


def cross_along(op: str, input: Tensor, other: Tensor, dim: int) -> Tensor:
    """The cross product of 3-vectors along `dim`, broadcast over the other dims."""
    shape = broadcast_shapes(op, tuple(input.shape), tuple(other.shape))
    a, b = input.expand(shape), other.expand(shape)
    d = a._dim(dim, op)
    if shape[d] != 3:
        raise RuntimeError(f"{op}: inputs dimension {dim} must have length 3, got shapes "
                           f"{tuple(input.shape)} and {tuple(other.shape)}")
    a1, a2, a3 = a.unbind(d)
    b1, b2, b3 = b.unbind(d)
    return stack([a2 * b3 - a3 * b2, a3 * b1 - a1 * b3, a1 * b2 - a2 * b1], d)


def cross(input: Tensor, other: Tensor, dim: int | None = None) -> Tensor:
    """torch.cross: the cross product along `dim`, or along the first dim of size 3."""
    if dim is None:  # torch's deprecated default: input's first dim of size 3
        dim = next((d for d, n in enumerate(input.shape) if n == 3), -1)
    return cross_along("cross", input, other, dim)


def _pairwise_distances(x1: Tensor, x2: Tensor, p: float) -> Tensor:
    """The p-norm distance of every row of x1 to every row of x2, batched over leading dims."""
    return vector_norm(x1.unsqueeze(-2) - x2.unsqueeze(-3), p, dim=-1)


def cdist(x1: Tensor, x2: Tensor, p: float = 2.0, compute_mode: str | None = None) -> Tensor:
    """The p-norm distances between the rows of x1 (..., P, M) and of x2 (..., R, M): (..., P, R).
    Computed from the differences (no |a|^2 + |b|^2 - 2ab cancellation at any size)."""
    if x1.ndim < 2 or x2.ndim < 2 or x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"cdist: X1 and X2 must have at least 2 dimensions and the same number of columns, got "
                           f"shapes {tuple(x1.shape)} and {tuple(x2.shape)}")
    if not x1.dtype.is_floating_point or not x2.dtype.is_floating_point:
        raise RuntimeError(f"cdist only supports floating-point dtypes, X1 got: {x1.dtype.name}, X2 got: {x2.dtype.name}")
    if p < 0:
        raise RuntimeError(f"cdist only supports non-negative p values, got {p}")
    return _pairwise_distances(x1, x2, p)


def dist(input: Tensor, other: Tensor, p: float = 2) -> Tensor:
    """The p-norm of input - other (broadcast)."""
    return vector_norm(input - other, p)


def cartesian_prod(*tensors: Tensor) -> Tensor:
    """Every combination of one element from each vector, as rows (a single vector as it is)."""
    from .movement import meshgrid
    for t in tensors:
        if t.ndim != 1:
            raise RuntimeError(f"cartesian_prod: expect a 1D vector, but got shape {tuple(t.shape)}")
    if len(tensors) == 1:
        return tensors[0]
    return stack([g.reshape(-1) for g in meshgrid(*tensors, indexing="ij")], 1)


def combinations(input: Tensor, r: int = 2, with_replacement: bool = False) -> Tensor:
    """The length-r combinations of a vector's elements, as rows, in itertools' order."""
    if input.ndim != 1:
        raise RuntimeError(f"combinations: Expect a 1D vector, but got shape {list(input.shape)}")
    if r < 0:
        raise RuntimeError(f"combinations: Expect a non-negative number, but got {r}")
    if r == 0:
        return input.new_empty(0)
    choose = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    picks = list(choose(range(input.shape[0]), r))
    index = tensor(picks, dtype=D.int64, device=input.device).reshape(-1)
    return input.index_select(0, index).reshape(len(picks), r)


def chain_matmul(*matrices: Tensor) -> Tensor:
    """The product of a chain of matrices, left to right."""
    if not matrices:
        raise RuntimeError("chain_matmul(): Expected one or more matrices")
    for m in matrices:
        if m.ndim != 2:
            raise RuntimeError(f"chain_matmul: Tensor dimension is {m.ndim}, expected 2 instead (shape "
                               f"{tuple(m.shape)})")
    return functools.reduce(mm, matrices[1:], matrices[0].clone())
