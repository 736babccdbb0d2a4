"""Indexing: basic (views), advanced (gathers), boolean masks, scatter, __setitem__."""
from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING

import numpy as np

from . import checks
from .ir import build as B
from .ir import dtype as D
from .ir.node import const
from .ir.ops import reduce_identity
from .creation import arange, check_scalar_fits, tensor
from .data_dependent import nonzero
from .elementwise import broadcast_shapes, common_device, where
from .movement import cat, stack
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
    if t.dtype not in _INDEXING_DTYPES:
        raise IndexError(f"tensors used as indices must be long, int, byte or bool tensors, got {t.dtype.name}")
    return t


# the index tensors PyTorch takes: x[i] also a uint8 or bool mask; gather, index_select and the
# scatters only positions
_INDEXING_DTYPES = (D.int64, D.int32, D.uint8, D.bool_)
_POSITION_DTYPES = (D.int64, D.int32)


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
    if index.dtype not in _POSITION_DTYPES:
        raise RuntimeError(f"{op}(): Expected dtype int32 or int64 for index, got {index.dtype.name} "
                           f"(index shape {tuple(index.shape)})")


def _zero_dim_as_vector(fn):
    """fn(self, dim, index, ...) where self is 0-d: on one-element vectors (0-d index and src
    too), the result 0-d again, as PyTorch treats a 0-d tensor there (dim 0 or -1)."""
    @functools.wraps(fn)
    def op(self: Tensor, dim: int, index: Tensor, *args, **kwargs):
        if self.ndim:
            return fn(self, dim, index, *args, **kwargs)
        self._dim(dim, fn.__name__)

        def vector(t):
            return t.reshape(1) if isinstance(t, TensorBase) and t.ndim == 0 else t
        out = fn(self.reshape(1), 0, vector(index), *map(vector, args), **{k: vector(v) for k, v in kwargs.items()})
        return out.reshape(())
    return op


@_zero_dim_as_vector
def gather(self: Tensor, dim: int, index: Tensor, sparse_grad: bool = False) -> Tensor:
    """`sparse_grad` is accepted; the gradient is dense either way. A negative index is out of
    range, as in PyTorch (take_along_dim counts it from the end)."""
    return _gather(self, dim, index, negative=False)


def _gather(self: Tensor, dim: int, index: Tensor, negative: bool, op: str = "gather") -> Tensor:
    d = self._dim(dim, op)
    _check_index_tensor(op, self, index)
    if index.ndim != self.ndim or any(i != d and index.shape[i] > self.shape[i] for i in range(self.ndim)):
        raise RuntimeError(f"{op}(): Size does not match at dimension {d}: index shape {tuple(index.shape)} "
                           f"vs input shape {tuple(self.shape)}")
    src = self
    for i in range(self.ndim):
        if i != d:
            src = src._shrink_dim(i, 0, index.shape[i])
    n = self.shape[d]
    checks.bounds(op, index.node, n, d, negative=negative)
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


def take(self: Tensor, index: Tensor) -> Tensor:
    """self read as 1-D at `index` (an index counts from the end when negative), in index's shape."""
    flat = _gather(self.reshape(-1), 0, index.reshape(-1), negative=True, op="take")
    return flat.reshape(tuple(index.shape))


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
    check_scalar_fits("masked_fill", value, self.dtype, self.shape)
    return where(mask, value, self).to(self.dtype)


def masked_fill_(self: Tensor, mask: Tensor, value) -> Tensor:
    return self._assign(masked_fill(self, mask, value).node)


def masked_select(self: Tensor, mask: Tensor) -> Tensor:
    return getitem(self, mask.expand(self.shape) if mask.shape != self.shape else mask)


def _scatter_operands(self: Tensor, dim: int, index: Tensor, src, op: str):
    """The scatter's operands with the scattered dim last: (self, index, src), index and src
    cut or padded to self's other dims (a padded index is -1, which names no position)."""
    d = self._dim(dim, op)
    _check_index_tensor(op, self, index)
    if not isinstance(src, TensorBase):
        src = wrap(const(src, self.dtype, tuple(index.shape), self.device.name))
    if index.ndim != self.ndim or any(i > s or (k != d and i > t)
                                      for k, (i, s, t) in enumerate(zip(index.shape, src.shape, self.shape))):
        raise RuntimeError(f"{op}(): Expected index {list(index.shape)} to be smaller than self {list(self.shape)} "
                           f"apart from dimension {d} and to be smaller size than src {list(src.shape)}")
    src = src.to(self.dtype)
    for i in range(self.ndim):
        src = src._shrink_dim(i, 0, index.shape[i])
    checks.bounds(op, index.node, self.shape[d], d, negative=False)  # as in PyTorch: no index counts from the end
    x, idx, val = self.movedim(d, -1), index.movedim(d, -1), src.movedim(d, -1)
    widths = tuple((0, o - s) for o, s in zip(x.shape[:-1], idx.shape[:-1])) + ((0, 0),)
    return x, B.pad(idx.node, widths, -1), B.pad(val.node, widths, 0), d


def _scatter(self: Tensor, dim: int, index: Tensor, src, add: bool, op: str) -> Tensor:
    x, idx_n, val_n, d = _scatter_operands(self, dim, index, src, op)
    n, other, m = x.shape[-1], tuple(x.shape[:-1]), idx_n.shape[-1]
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


@_zero_dim_as_vector
def scatter(self: Tensor, dim: int, index: Tensor, src=None, value=None, reduce: str | None = None) -> Tensor:
    src = value if src is None else src
    return _scatter(self, dim, index, src, add=(reduce == "add"), op="scatter")


@_zero_dim_as_vector
def scatter_add(self: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    return _scatter(self, dim, index, src, add=True, op="scatter_add")


def scatter_(self: Tensor, dim: int, index: Tensor, src=None, value=None, reduce=None) -> Tensor:
    return self._assign(scatter(self, dim, index, src, value, reduce).node)


def scatter_add_(self: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    return self._assign(scatter_add(self, dim, index, src).node)


# scatter_reduce's reduce: (the reduction over what lands on a position, whether the sum is
# divided by the count)
_SCATTER_REDUCTIONS = {"sum": ("sum", False), "prod": ("prod", False), "mean": ("sum", True),
                       "amax": ("max", False), "amin": ("min", False)}


@_zero_dim_as_vector
def scatter_reduce(self: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str,
                   *, include_self: bool = True) -> Tensor:
    """Reduce the src elements that index sends to each position (with self's own value when
    `include_self`); a position nothing lands on keeps self's value."""
    if reduce not in _SCATTER_REDUCTIONS:
        raise RuntimeError(f"scatter_reduce(): reduce argument must be either sum, prod, mean, amax or amin, "
                           f"got {reduce!r}")
    if not isinstance(src, TensorBase):
        raise TypeError(f"scatter_reduce(): argument 'src' must be Tensor, not {type(src).__name__}")
    if src.dtype != self.dtype:
        raise RuntimeError(f"scatter_reduce(): Expected self.dtype to be equal to src.dtype (self "
                           f"{self.dtype.name}{tuple(self.shape)}, src {src.dtype.name}{tuple(src.shape)})")
    x, keys, vals, d = _scatter_operands(self, dim, index, src, "scatter_reduce")
    n, dev = x.shape[-1], x.device.name
    keys, vals = wrap(keys), wrap(vals)
    if include_self:  # self's element is one more value landing on its own position
        keys = cat([keys, wrap(B.iota(tuple(x.shape), x.ndim - 1, D.int64, dev))], -1)
        vals = cat([vals, x], -1)
    combine, divide = _SCATTER_REDUCTIONS[reduce]
    fill = reduce_identity(combine, x.dtype)
    out = wrap(B.select_by_key(keys.node, vals.node, n, combine, fill))
    count = wrap(B.select_by_key(keys.node, B.full_like_node(keys.node, 1), n))
    if divide:  # by 1 where nothing lands, so that the value (and gradient) left unused is finite
        count_or_1 = count.clamp(min=1)
        out = out / count_or_1 if x.dtype.is_floating_point else out.div(count_or_1, rounding_mode="floor")
    return where(count > 0, out, x).movedim(-1, d)


def scatter_reduce_(self: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str,
                    *, include_self: bool = True) -> Tensor:
    return self._assign(scatter_reduce(self, dim, index, src, reduce, include_self=include_self).node)


def _index_shape(self: Tensor, dim: int, index: Tensor, op: str) -> tuple[int, tuple[int, ...]]:
    """dim, and the shape of what index_add/copy/fill write along it: self's with len(index) at
    dim (a 0-dim self is one element along dim 0)."""
    d = self._dim(dim, op)
    _check_index_tensor(op, self, index)
    if index.ndim > 1:
        raise IndexError(f"{op}(): Index is supposed to be a vector, got index shape {tuple(index.shape)}")
    base = tuple(self.shape) or (1,)
    return d, base[:d] + (index.numel(),) + base[d + 1:]


def _index_scatter(self: Tensor, dim: int, index: Tensor, source: Tensor, op: str, add: bool = False,
                   alpha=1) -> Tensor:
    """index_add/index_copy/index_fill as a scatter along dim: source[..., k, ...] goes to index[k]."""
    d, shape = _index_shape(self, dim, index, op)
    if not isinstance(source, TensorBase):
        raise TypeError(f"{op}(): argument 'source' must be Tensor, not {type(source).__name__}")
    if not self.ndim and not source.ndim:
        source = source.reshape(1)  # as self: one element along dim 0
    if tuple(source.shape) != shape or source.dtype != self.dtype:
        raise RuntimeError(f"{op}(): source {source.dtype.name}{tuple(source.shape)} does not match self "
                           f"{self.dtype.name}{tuple(self.shape)} with {index.numel()} indices along dim {d} "
                           f"(expected {self.dtype.name}{shape})")
    view = [1] * len(shape)
    view[d] = index.numel()
    if not self.dtype.is_floating_point:  # an integer tensor takes an integer factor, as torch's
        alpha = int(alpha)
    base = self.reshape(tuple(self.shape) or (1,))
    out = _scatter(base, d, index.reshape(view).expand(shape), source if alpha == 1 else source * alpha,
                   add=add, op=op)
    return out.reshape(tuple(self.shape))


def index_add(self: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha=1) -> Tensor:
    """self with alpha * source[..., k, ...] added at index[k] along dim (a repeated index adds twice)."""
    return _index_scatter(self, dim, index, source, "index_add", add=True, alpha=alpha)


def index_copy(self: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:
    """self with source[..., k, ...] written at index[k] along dim."""
    return _index_scatter(self, dim, index, source, "index_copy")


def index_fill(self: Tensor, dim: int, index: Tensor, value) -> Tensor:
    """self with `value` (a number or a 0-dim tensor) at the positions index names along dim."""
    if isinstance(value, TensorBase) and value.ndim:
        raise RuntimeError(f"index_fill(): only supports a 0-dimensional value tensor, but got a tensor of "
                           f"shape {tuple(value.shape)}")
    d, shape = _index_shape(self, dim, index, "index_fill")
    n = (tuple(self.shape) or (1,))[d]
    checks.bounds("index_fill", index.node, n, d)  # torch counts a negative index from the end here
    index = where(index < 0, index + n, index)
    value = value if isinstance(value, TensorBase) else wrap(const(value, self.dtype, (), self.device.name))
    return _index_scatter(self, dim, index, value.to(self.dtype).expand(shape), "index_fill")


def _embedded(self: Tensor, src: Tensor, region, op: str) -> Tensor:
    """self with `region(self)` (a view: a selection, slice or diagonal) replaced by src, of its
    shape exactly: a scatter to the flat positions that the same view of the positions holds."""
    positions = region(arange(self.numel(), device=self.device).reshape(self.shape))
    if tuple(src.shape) != tuple(positions.shape):
        raise RuntimeError(f"{op}(): expected src to have a size equal to the slice of self. src "
                           f"{src.dtype.name}{list(src.shape)}, slice {self.dtype.name}{list(positions.shape)}")
    flat = scatter(self.reshape(-1), 0, positions.reshape(-1), src.reshape(-1).to(self.dtype))  # cast, as torch
    return flat.reshape(tuple(self.shape))


def select_scatter(self: Tensor, src: Tensor, dim: int, index: int) -> Tensor:
    """self with self.select(dim, index) replaced by src."""
    return _embedded(self, src, lambda t: t.select(dim, index), "select_scatter")


def slice_scatter(self: Tensor, src: Tensor, dim: int = 0, start: int | None = None, end: int | None = None,
                  step: int = 1) -> Tensor:
    """self with self[..., start:end:step, ...] (at dim) replaced by src."""
    d = self._dim(dim, "slice_scatter")
    region = (slice(None),) * d + (slice(start, end, step),)
    return _embedded(self, src, lambda t: getitem(t, region), "slice_scatter")


def diagonal_scatter(self: Tensor, src: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """self with self.diagonal(offset, dim1, dim2) replaced by src."""
    return _embedded(self, src, lambda t: t.diagonal(offset, dim1, dim2), "diagonal_scatter")


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


def index_put(self: Tensor, indices, values, accumulate: bool = False) -> Tensor:
    """self with self[indices] = values (or += with `accumulate`), self unchanged."""
    return index_put_(self.clone(), indices, values, accumulate)


def put(self: Tensor, index: Tensor, source: Tensor, accumulate: bool = False) -> Tensor:
    """self with source's elements written (or added) at the flat positions `index` names,
    counting self as if contiguous and 1-D (a negative index from the end)."""
    _check_index_tensor("put", self, index)
    if index.numel() != source.numel():
        raise IndexError(f"put_(): Expected source and index to have the same number of elements, but got "
                         f"source.numel() = {source.numel()}, index.numel() = {index.numel()}")
    if source.dtype != self.dtype:
        raise RuntimeError(f"put_(): self and source expected to have the same dtype, but got self.dtype = "
                           f"{self.dtype.name} and source.dtype = {source.dtype.name}")
    flat = index_put(self.reshape(-1), (index.reshape(-1),), source.reshape(-1), accumulate)
    return flat.reshape(tuple(self.shape))


_INDEX_REDUCTIONS = ("prod", "mean", "amax", "amin")


def index_reduce(self: Tensor, dim: int, index: Tensor, source: Tensor, reduce: str,
                 *, include_self: bool = True) -> Tensor:
    """scatter_reduce of source[..., k, ...] onto index[k] along dim."""
    if reduce not in _INDEX_REDUCTIONS:
        raise RuntimeError(f"index_reduce(): Expected reduce to be one of prod, mean, amax or amin but got {reduce}.")
    if not isinstance(source, TensorBase) or source.dtype != self.dtype:
        got = source.dtype.name if isinstance(source, TensorBase) else type(source).__name__
        raise RuntimeError(f"index_reduce_(): self ({self.dtype.name}) and source ({got}) must have the same "
                           f"scalar type")
    d, shape = _index_shape(self, dim, index, "index_reduce")
    if tuple(source.shape) != shape or (self.ndim == 0 and source.ndim != 0):
        raise RuntimeError(f"index_reduce(): source {tuple(source.shape)} does not match self {tuple(self.shape)} "
                           f"with {index.numel()} indices along dim {d} (expected {shape})")
    view = [1] * len(shape)
    view[d] = index.numel()
    return scatter_reduce(self, d, index.reshape(view).expand(shape), source, reduce, include_self=include_self)


def masked_scatter(self: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    """self with the positions where mask holds taken, in row-major order, from source's
    leading elements."""
    if mask.dtype != D.bool_:
        raise RuntimeError(f"masked_scatter_ only supports boolean masks, but got mask with dtype {mask.dtype.name}")
    if source.dtype != self.dtype:
        raise RuntimeError(f"masked_scatter: expected self and source to have same dtypes but got "
                           f"{self.dtype.name} and {source.dtype.name}")
    shape = broadcast_shapes("masked_scatter", tuple(self.shape), tuple(mask.shape))
    x, m = self.expand(shape), mask.expand(shape)
    flat = source.reshape(-1)
    if flat.numel() == 0:  # nothing to take: any position the mask holds has no source element
        if m.any().item():
            raise RuntimeError("masked_scatter: Number of elements of source < number of ones in mask "
                               f"(source shape {tuple(source.shape)}, mask shape {tuple(mask.shape)})")
        return x.clone()
    # the k-th position the mask holds takes source's k-th element (an index past source's end
    # raises as gather's do); positions the mask does not hold read element 0, unused
    taken = m.reshape(-1).long().cumsum(0) - 1
    picked = flat.gather(0, where(m.reshape(-1), taken, 0))
    return where(m, picked.reshape(shape), x)


def unravel_index(indices: Tensor, shape) -> tuple[Tensor, ...]:
    """The coordinates in `shape` of flat (row-major) indices; an index past either end wraps
    around, as in PyTorch."""
    if not isinstance(indices, TensorBase) or indices.dtype.is_floating_point or indices.dtype == D.bool_:
        got = indices.dtype.name if isinstance(indices, TensorBase) else type(indices).__name__
        raise TypeError(f"unravel_index: expected 'indices' to be integer dtype, but got {got}")
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if any(s < 0 for s in shape):
        raise ValueError(f"unravel_index: 'shape' cannot have negative values, but got {shape}")
    if 0 in shape and indices.numel():
        raise RuntimeError(f"unravel_index: no index lies in the empty shape {shape} (ZeroDivisionError)")
    coordinates, rest = [], indices.long()
    for size in reversed(shape):
        coordinates.append(rest.remainder(max(size, 1)))  # (an empty shape has no indices to divide)
        rest = rest.div(max(size, 1), rounding_mode="floor")
    return tuple(reversed(coordinates))


def nonzero_static(input: Tensor, *, size: int, fill_value: int = -1) -> Tensor:
    """nonzero's first `size` rows, padded with fill_value: a fixed shape, so computed lazily."""
    if size < 0:
        raise RuntimeError(f"nonzero_static: 'size' must be an non-negative integer, got {size}")
    held = (input != 0).reshape(-1)
    rank = held.long().cumsum(0) - 1 if held.numel() else held.long()
    keys = where(held, rank, -1)  # the k-th nonzero element goes to row k
    flat = arange(held.numel(), device=input.device)
    found = arange(size, device=input.device) < held.sum()  # rows past the count are padding
    columns = [where(found, wrap(B.select_by_key(keys.node, coordinate.node, size)), fill_value)
               for coordinate in unravel_index(flat, tuple(input.shape))]
    if not columns:
        return tensor(np.full((size, 0), fill_value, np.int64), device=input.device)
    return stack(columns, 1)
