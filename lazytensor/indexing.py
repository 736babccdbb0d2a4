"""Indexing: basic (views), advanced (gathers), boolean masks, scatter, __setitem__."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from . import checks
from .ir import build as B
from .ir import dtype as D
from .ir.node import const
from .creation import arange, tensor
from .data_dependent import nonzero
from .elementwise import broadcast_shapes, common_device, where
from .tensor_base import TensorBase, wrap

if TYPE_CHECKING:
    from .tensor import Tensor


def _as_index_tensor(value, device: str) -> Tensor:
    """An index (a tensor, list or array) as a tensor on `device`: an index tensor may live on
    the host's `numpy` device, as a CPU index may index a CUDA tensor in PyTorch."""
    t = value if isinstance(value, TensorBase) else tensor(value, device=device)
    if t.device.name != device:
        if t.device.name != "numpy":
            raise RuntimeError(f"indices should be either on numpy or on the same device as the indexed tensor "
                               f"({device}), got indices on {t.device.name} (shape {tuple(t.shape)})")
        t = t.to(device)
    if t.dtype.is_floating_point:
        raise IndexError(f"tensors used as indices must be long, int, byte or bool tensors, got {t.dtype.name}")
    return t


def _expand_index(x: Tensor, index, known: dict[int, np.ndarray]) -> list:
    """Normalise an index to a list of entries; bool masks become integer index tensors.
    Integer indices given as Python lists or arrays go into `known` (by tensor id): they
    are checked at the call."""
    entries = list(index) if isinstance(index, tuple) else [index]
    out = []
    for e in entries:
        if isinstance(e, list) or (isinstance(e, np.ndarray)):
            values = np.asarray(e)
            e = _as_index_tensor(e, x.device.name)
            known[id(e)] = values
        elif isinstance(e, TensorBase):
            e = _as_index_tensor(e, x.device.name)
        out.append(e)
    consumed = sum(_dims_taken(e) for e in out)
    if consumed > x.ndim:
        raise IndexError(f"too many indices for tensor of dimension {x.ndim} (shape {tuple(x.shape)})")
    ellipses = [i for i, e in enumerate(out) if e is Ellipsis]
    if ellipses:
        i = ellipses[0]
        out = out[:i] + [slice(None)] * (x.ndim - consumed) + out[i + 1:]
    else:
        out = out + [slice(None)] * (x.ndim - consumed)
    return _masks_as_indices(x, out)


def _is_mask(e) -> bool:
    """A bool (or, as PyTorch still allows, uint8) tensor of at least one dim: it selects."""
    return isinstance(e, TensorBase) and e.dtype in (D.bool_, D.uint8) and e.ndim > 0


def _dims_taken(e) -> int:
    """How many dims of the indexed tensor an index entry covers."""
    if e is None or e is Ellipsis:
        return 0
    return e.ndim if _is_mask(e) else 1


def _masks_as_indices(x: Tensor, entries: list) -> list:
    """Each mask among `entries` (which cover x's dims in order) as the integer indices of its
    true elements, once its shape is checked against the dims it covers: a mask shorter than
    its dim would select from part of it."""
    out, dim = [], 0
    for e in entries:
        if _is_mask(e):
            covered = tuple(x.shape[dim:dim + e.ndim])
            if tuple(e.shape) != covered:
                raise IndexError(f"The shape of the mask {list(e.shape)} at index {dim} does not match the shape "
                                 f"of the indexed tensor {list(x.shape)} at index {dim}")
            out.extend(nonzero(e, as_tuple=True))
        else:
            out.append(e)
        dim += _dims_taken(e)
    return out


def _stride_dim(t: Tensor, d: int, step: int) -> Tensor:
    """Every step-th element along d, as views: pad to a multiple, split, keep the first."""
    n = t.shape[d]
    m = math.ceil(n / step)
    shape = tuple(t.shape)
    widths = tuple((0, m * step - n) if i == d else (0, 0) for i in range(t.ndim))
    if m * step != n:
        t = t._view_of("pad", (widths, 0))
    t = t._view_of("reshape", shape[:d] + (m, step) + shape[d + 1:])
    bounds = tuple((0, 1) if i == d + 1 else (0, s) for i, s in enumerate(t.shape))
    t = t._view_of("shrink", bounds)
    return t._view_of("reshape", shape[:d] + (m,) + shape[d + 1:])


def _check_index(op: str, index: Tensor, size: int, dim: int, known: dict[int, np.ndarray]) -> None:
    """Every entry of `index` in [-size, size): at once when the host knows the values, else
    where the kernel reads them (lazytensor/checks.py)."""
    values = known.get(id(index))
    if values is None:
        checks.bounds(op, index.node, size, dim)
        return
    bad = values[(values < -size) | (values >= size)]
    if bad.size:
        raise IndexError(f"{op}: index {int(bad.flat[0])} is out of bounds for dimension {dim} with size {size}")


def getitem(self: Tensor, index) -> Tensor:
    known: dict[int, np.ndarray] = {}
    entries = _expand_index(self, index, known)
    out = self
    dim = 0  # current axis in `out`
    final_shape: list[int] = []
    advanced: dict[int, Tensor] = {}
    for e in entries:
        if e is None:
            out = out.unsqueeze(dim)
            final_shape.append(1)
            dim += 1
        elif isinstance(e, (int, np.integer)) and not isinstance(e, bool):
            n = out.shape[dim]
            if not -n <= e < n:
                raise IndexError(f"index {e} is out of bounds for dimension {dim} with size {n} "
                                 f"(indexing a tensor of shape {tuple(self.shape)})")
            out = out.select(dim, int(e))
        elif isinstance(e, slice):
            start, stop, step = e.indices(out.shape[dim])
            if step <= 0:
                raise ValueError(f"step must be greater than zero (indexing shape {tuple(self.shape)} with {e})")
            stop = max(start, stop)
            out = out._shrink_dim(dim, start, stop)
            if step > 1:
                out = _stride_dim(out, dim, step)
            dim += 1
        elif isinstance(e, TensorBase):
            _check_index("index", e, out.shape[dim], dim, known)
            advanced[dim] = e
            dim += 1
        else:
            raise TypeError(f"indexing a tensor of shape {tuple(self.shape)} with {type(e).__name__} is not supported")
    return _advanced(out, advanced) if advanced else out


def _advanced(x: Tensor, indices: dict[int, Tensor]) -> Tensor:
    """x[..., i1, ..., ik, ...] for integer index tensors at dims `indices` (a gather)."""
    dims = sorted(indices)
    shapes = [tuple(indices[d].shape) for d in dims]
    bshape = broadcast_shapes("index", *shapes)
    rest_dims = [d for d in range(x.ndim) if d not in dims]
    sizes = [x.shape[d] for d in dims]
    lin = None
    stride = 1
    for d, n in reversed(list(zip(dims, sizes))):
        i = indices[d]
        i = where(i < 0, i + n, i).long()
        term = i * stride
        lin = term if lin is None else lin + term
        stride *= n
    rest = tuple(x.shape[d] for d in rest_dims)
    nb = len(bshape)
    src = x.permute(dims + rest_dims).reshape((1,) * nb + (stride,) + rest).expand(bshape + (stride,) + rest)
    idx = lin.expand(bshape).reshape(bshape + (1,) * (1 + len(rest))).expand(bshape + (1,) + rest)
    out = wrap(B.gather(src.node, idx.node, nb)).reshape(bshape + rest)
    adjacent = dims == list(range(dims[0], dims[0] + len(dims)))
    if adjacent and dims[0] > 0:
        front = list(range(nb, nb + dims[0]))
        perm = front + list(range(nb)) + list(range(nb + dims[0], nb + len(rest)))
        out = out.permute(perm)
    return out


def setitem(self: Tensor, index, value) -> None:
    if isinstance(value, TensorBase) and value.device != self.device:
        value = value.to(self.device)
    entries = index if isinstance(index, tuple) else (index,)
    is_advanced = any(isinstance(e, (TensorBase, list, np.ndarray)) for e in entries)
    if not is_advanced:
        view = getitem(self, index)
        _write(view, value)
        return
    positions = arange(self.numel(), device=self.device).reshape(self.shape)
    selected = getitem(positions, index).reshape(-1)
    values = value if isinstance(value, TensorBase) else wrap(
        const(value, self.dtype, (), self.device.name))
    values = values.to(self.dtype).expand(getitem(positions, index).shape).reshape(-1)
    flat = self.reshape(-1)
    self._assign(scatter(flat, 0, selected, values).reshape(self.shape).node)


def _write(view: Tensor, value) -> None:
    if isinstance(value, TensorBase):
        if broadcast_shapes("__setitem__", view.shape, value.shape) != tuple(view.shape):
            raise RuntimeError(f"__setitem__: shape mismatch: value tensor of shape {tuple(value.shape)} cannot be "
                               f"broadcast to indexing result of shape {tuple(view.shape)}")
        view._assign(value.node)
    else:
        view._assign(const(value, view.dtype, (), view.device.name))




def _check_index_tensor(op: str, self: Tensor, index: Tensor) -> None:
    """An index tensor of an integer dtype, on self's device."""
    common_device(op, self, index)
    if index.dtype.is_floating_point or index.dtype == D.bool_:
        raise RuntimeError(f"{op}(): Expected dtype int64 for index, got {index.dtype.name} "
                           f"(index shape {tuple(index.shape)})")


def gather(self: Tensor, dim: int, index: Tensor, sparse_grad: bool = False) -> Tensor:
    """`sparse_grad` is accepted; the gradient is dense either way. A negative index is out of
    range, as in PyTorch (take_along_dim counts it from the end)."""
    return _gather(self, dim, index, negative=False)


def _gather(self: Tensor, dim: int, index: Tensor, negative: bool) -> Tensor:
    d = self._dim(dim, "gather")
    _check_index_tensor("gather", self, index)
    if index.ndim != self.ndim or any(i != d and index.shape[i] > self.shape[i] for i in range(self.ndim)):
        raise RuntimeError(f"gather(): Size does not match at dimension {d}: index shape {tuple(index.shape)} "
                           f"vs input shape {tuple(self.shape)}")
    src = self
    for i in range(self.ndim):
        if i != d:
            src = src._shrink_dim(i, 0, index.shape[i])
    n = self.shape[d]
    checks.bounds("gather", index.node, n, d, negative=negative)
    idx = where(index < 0, index + n, index) if negative else index
    return wrap(B.gather(src.node, idx.node, d))


def take_along_dim(self: Tensor, indices: Tensor, dim: int | None = None) -> Tensor:
    if dim is None:  # PyTorch's flat gather: no index counts from the end
        return self.reshape(-1).gather(0, indices.reshape(-1))
    d = self._dim(dim, "take_along_dim")
    shape_x = list(self.shape)
    shape_i = list(indices.shape)
    shape_x[d] = shape_i[d] = 1
    common = list(broadcast_shapes("take_along_dim", tuple(shape_x), tuple(shape_i)))
    x = self.expand(common[:d] + [self.shape[d]] + common[d + 1:])
    i = indices.expand(common[:d] + [indices.shape[d]] + common[d + 1:])
    return _gather(x, d, i, negative=True)


def index_select(self: Tensor, dim: int, index: Tensor, op: str = "index_select") -> Tensor:
    """`op`: the name its errors give (embedding's rows are an index_select)."""
    d = self._dim(dim, op)
    _check_index_tensor(op, self, index)
    checks.bounds(op, index.node, self.shape[d], d, negative=False)  # PyTorch counts none from the end
    return _advanced(self, {d: index.reshape(-1)})  # checked here, not again as x[index] would


def masked_fill(self: Tensor, mask: Tensor, value) -> Tensor:
    if mask.dtype != D.bool_:
        raise RuntimeError(f"masked_fill: expected a bool mask, got {mask.dtype.name} (shape {tuple(mask.shape)})")
    value = value.item() if isinstance(value, TensorBase) and value.ndim == 0 else value
    return where(mask, value, self).to(self.dtype)


def masked_fill_(self: Tensor, mask: Tensor, value) -> Tensor:
    return self._assign(masked_fill(self, mask, value).node)


def masked_select(self: Tensor, mask: Tensor) -> Tensor:
    return getitem(self, mask.expand(self.shape) if mask.shape != self.shape else mask)


def _scatter(self: Tensor, dim: int, index: Tensor, src, add: bool, op: str) -> Tensor:
    d = self._dim(dim, op)
    _check_index_tensor(op, self, index)
    if not isinstance(src, TensorBase):
        src = wrap(const(src, self.dtype, tuple(index.shape), self.device.name))
    src = src.to(self.dtype)
    for i in range(self.ndim):
        src = src._shrink_dim(i, 0, index.shape[i])
    n = self.shape[d]
    checks.bounds(op, index.node, n, d, negative=False)  # as in PyTorch: no index counts from the end
    x = self.movedim(d, -1)
    idx = index.movedim(d, -1)
    val = src.movedim(d, -1)
    other = tuple(x.shape[:-1])
    m = idx.shape[-1]
    widths = tuple((0, o - s) for o, s in zip(other, idx.shape[:-1])) + ((0, 0),)
    idx_n = B.pad(idx.node, widths, -1)
    val_n = B.pad(val.node, widths, 0)
    dev = self.device.name
    if add:
        out = B.elementwise("add", x.node, B.select_by_key(idx_n, val_n, n))
    else:  # the last write to a position wins, as a sequential loop would do
        candidate = B.iota(other + (m,), len(other), D.int64, dev)
        last = B.select_by_key(idx_n, candidate, n, "max", fill=-1)
        safe = B.elementwise("max", last, const(0, D.int64, last.shape, dev))
        picked = B.gather(val_n, safe, len(other))
        written = B.elementwise("le", const(0, D.int64, last.shape, dev), last)
        out = B.elementwise("where", written, picked, x.node)
    return wrap(out).movedim(-1, d)


def scatter(self: Tensor, dim: int, index: Tensor, src=None, value=None, reduce: str | None = None) -> Tensor:
    src = value if src is None else src
    return _scatter(self, dim, index, src, add=(reduce == "add"), op="scatter")


def scatter_add(self: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    return _scatter(self, dim, index, src, add=True, op="scatter_add")


def scatter_(self: Tensor, dim: int, index: Tensor, src=None, value=None, reduce=None) -> Tensor:
    return self._assign(scatter(self, dim, index, src, value, reduce).node)


def scatter_add_(self: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    return self._assign(scatter_add(self, dim, index, src).node)


def index_put_(self: Tensor, indices, values, accumulate: bool = False) -> Tensor:
    """self[indices] = values; with `accumulate`, self[indices] += values where an index met
    twice adds twice (a write through __setitem__ keeps one of them)."""
    indices = tuple(indices)
    if not accumulate:
        setitem(self, indices, values)
        return self
    return self.copy_(_accumulated(self, indices, values))


def _accumulated(self: Tensor, indices: tuple, values) -> Tensor:
    """self with `values` added at the positions the index tensors `indices` name in its
    leading dims (a bool mask stands for the positions it holds): one scatter-add over the
    flattened leading dims."""
    dev = self.device.name
    entries = [_as_index_tensor(index, dev) for index in indices]
    taken = sum(map(_dims_taken, entries))
    if taken > self.ndim:
        raise IndexError(f"index_put_: too many indices for a tensor of dimension {self.ndim} (got {taken})")
    entries = _masks_as_indices(self, entries)
    lead, rest = tuple(self.shape[:len(entries)]), tuple(self.shape[len(entries):])
    shape = broadcast_shapes("index_put_", *(tuple(t.shape) for t in entries))
    flat = None
    for dim, (t, size) in enumerate(zip(entries, lead)):
        _check_index_tensor("index_put_", self, t)
        checks.bounds("index_put_", t.node, size, dim)
        t = t.long()
        t = (t + size * (t < 0).long()).expand(shape)
        flat = t if flat is None else flat * size + t
    rows, width = math.prod(shape), math.prod(rest)
    source = (values if isinstance(values, TensorBase) else tensor(values, dtype=self.dtype, device=dev))
    source = source.to(self.dtype).expand(shape + rest).reshape(rows, width)
    target = self.reshape(math.prod(lead), width)
    return target.scatter_add(0, flat.reshape(rows, 1).expand(rows, width), source).reshape(tuple(self.shape))


