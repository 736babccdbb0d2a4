"""Shape operations. Views share storage (no copy, writes go through); flip, roll,
repeat, cat and stack make new tensors, as in PyTorch."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Sequence

from .ir import build as B
from .ir import dtype as D
from .ir.node import const
from .creation import tensor
from .elementwise import broadcast_shapes, common_device, result_dtype
from .tensor_base import Size, TensorBase, wrap

if TYPE_CHECKING:
    from .tensor import Tensor
from .ir.layout import contiguous_strides
from .views import layout_of, strides_of


def _sizes(args: tuple, op: str) -> tuple[int, ...]:
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    try:
        return tuple(int(a) for a in args)
    except (TypeError, ValueError):
        raise TypeError(f"{op}(): expected a sequence of ints, got {args!r}") from None


def infer_shape(x: Tensor, shape: tuple[int, ...], op: str) -> tuple[int, ...]:
    if shape.count(-1) > 1:
        raise RuntimeError(f"{op}: only one dimension can be inferred (shape {list(shape)})")
    known = math.prod(s for s in shape if s != -1)
    n = x.numel()
    if -1 in shape:
        if known == 0 or n % known:
            raise RuntimeError(f"{op}: shape '{list(shape)}' is invalid for input of size {n} "
                               f"(input shape {tuple(x.shape)})")
        shape = tuple(n // known if s == -1 else s for s in shape)
    if math.prod(shape) != n or any(s < 0 for s in shape):
        raise RuntimeError(f"{op}: shape '{list(shape)}' is invalid for input of size {n} "
                           f"(input shape {tuple(x.shape)})")
    return shape


def _viewable(x: Tensor, shape: tuple[int, ...]) -> bool:
    chain = x._chain + (("reshape", shape),)
    return strides_of(tuple(x._storage.node.shape), chain) is not None


def reshape(self: Tensor, *shape) -> Tensor:
    """A view when the memory layout allows one, else a copy (as PyTorch)."""
    shape = infer_shape(self, _sizes(shape, "reshape"), "reshape")
    source = self if shape == tuple(self.shape) or _viewable(self, shape) else self.contiguous()
    return source._view_of("reshape", shape)


def view(self: Tensor, *shape) -> Tensor:
    """Always a view; raises, as PyTorch, when the layout cannot be viewed so."""
    shape = infer_shape(self, _sizes(shape, "view"), "view")
    if shape != tuple(self.shape) and not _viewable(self, shape):
        raise RuntimeError(f"view size is not compatible with input tensor's size and stride (at least one "
                           f"dimension spans across two contiguous subspaces): shape {tuple(self.shape)} -> "
                           f"{list(shape)}. Use .reshape(...) instead.")
    return self._view_of("reshape", shape)


def reshape_fn(x: Tensor, shape) -> Tensor:
    return reshape(x, shape)


def permute(self: Tensor, *dims) -> Tensor:
    dims = _sizes(dims, "permute")
    if len(dims) != self.ndim:
        raise RuntimeError(f"permute: number of dims don't match: tensor of shape {tuple(self.shape)} "
                           f"has {self.ndim} dims but {len(dims)} were given ({list(dims)})")
    dims = tuple(self._dim(d, "permute") for d in dims)
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"permute: repeated dim in {list(dims)} for shape {tuple(self.shape)}")
    return self._view_of("permute", dims)  # a new tensor even when nothing moves, as PyTorch's views


def transpose(self: Tensor, dim0: int, dim1: int) -> Tensor:
    if self.ndim == 0:
        return self.permute(())
    d0, d1 = self._dim(dim0, "transpose"), self._dim(dim1, "transpose")
    perm = list(range(self.ndim))
    perm[d0], perm[d1] = perm[d1], perm[d0]
    return self.permute(perm)


def t(self: Tensor) -> Tensor:
    if self.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {self.ndim}D "
                           f"(shape {tuple(self.shape)})")
    return self.transpose(0, 1) if self.ndim == 2 else self.permute(tuple(range(self.ndim)))


def reversed_axes(self: Tensor) -> Tensor:
    """x.T: every axis reversed."""
    return self.permute(tuple(reversed(range(self.ndim))))


def matrix_transpose(self: Tensor) -> Tensor:
    """x.mT (and x.mH, real tensors being their own conjugate): the last two axes swapped."""
    return self.transpose(-2, -1)


def as_strided(self: Tensor, size, stride, storage_offset: int | None = None) -> Tensor:
    """Refused: lazytensor's views are shape operations over a storage, not strides into it."""
    raise NotImplementedError(
        f"as_strided: lazytensor describes views by shape operations, not by strides (size {tuple(size)}, stride "
        f"{tuple(stride)} asked of a tensor of shape {tuple(self.shape)}); use view, permute, expand, narrow, "
        f"diagonal or unfold (sliding windows)")


def adjoint(self: Tensor) -> Tensor:
    """The conjugate transpose of a (batch of) matrices: for real tensors, mT."""
    if self.ndim < 2:
        raise RuntimeError(f"tensor.adjoint() is only supported on matrices or batches of matrices. Got "
                           f"{self.ndim}-D tensor.")
    return self.transpose(-2, -1)


def expand(self: Tensor, *sizes) -> Tensor:
    sizes = _sizes(sizes, "expand")
    if len(sizes) < self.ndim:
        raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be greater or equal "
                           f"to the number of dimensions in the tensor ({self.ndim}); shape {tuple(self.shape)}")
    lead = len(sizes) - self.ndim
    padded = (1,) * lead + tuple(self.shape)
    target = []
    for i, (want, have) in enumerate(zip(sizes, padded)):
        if want == -1:
            if i < lead:
                raise RuntimeError(f"expand: -1 is not allowed in a leading, non-existing dimension {i}")
            want = have
        if have != 1 and want != have:
            raise RuntimeError(f"expand: the expanded size of the tensor ({want}) must match the existing size "
                               f"({have}) at non-singleton dimension {i}.  Target sizes: {list(sizes)}.  "
                               f"Tensor sizes: {list(self.shape)}")
        target.append(want)
    out = self._view_of("reshape", padded) if lead else self
    return out if lead and tuple(target) == padded else out._view_of("expand", tuple(target))


def expand_as(self: Tensor, other: Tensor) -> Tensor:
    return self.expand(other.shape)


def broadcast_to(self: Tensor, shape) -> Tensor:
    return self.expand(shape)


def squeeze(self: Tensor, dim=None) -> Tensor:
    if dim is None:
        dims = set(range(self.ndim))
    else:
        dims = {self._dim(d, "squeeze") for d in (dim if isinstance(dim, (tuple, list)) else (dim,))}
    shape = tuple(n for i, n in enumerate(self.shape) if not (i in dims and n == 1))
    return self.reshape(shape)


def unsqueeze(self: Tensor, dim: int) -> Tensor:
    d = self._dim(dim, "unsqueeze", self.ndim + 1)
    shape = list(self.shape)
    shape.insert(d, 1)
    return self.reshape(shape)


def flatten(self: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    if self.ndim == 0:
        return self.reshape(1)
    s, e = self._dim(start_dim, "flatten"), self._dim(end_dim, "flatten")
    if s > e:
        raise RuntimeError(f"flatten: start_dim ({start_dim}) cannot come after end_dim ({end_dim})")
    if s == e:  # PyTorch returns the tensor itself here (not a view)
        return self
    shape = tuple(self.shape)
    return self.reshape(shape[:s] + (math.prod(shape[s:e + 1]),) + shape[e + 1:])


def unflatten(self: Tensor, dim: int, sizes) -> Tensor:
    d = self._dim(dim, "unflatten")
    shape = tuple(self.shape)
    sizes = tuple(sizes)
    if -1 in sizes:
        known = math.prod(s for s in sizes if s != -1)
        sizes = tuple(shape[d] // known if s == -1 else s for s in sizes)
    if math.prod(sizes) != shape[d]:
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size of dim "
                           f"{dim} ({shape[d]}) in the input tensor of shape {shape}")
    return self.reshape(shape[:d] + sizes + shape[d + 1:])


def contiguous(self: Tensor, memory_format=None) -> Tensor:
    return self if not self._chain else wrap(self.node)


def movedim(self: Tensor, source, destination) -> Tensor:
    src = [self._dim(d, "movedim") for d in (source if isinstance(source, (tuple, list)) else (source,))]
    dst = [self._dim(d, "movedim") for d in (destination if isinstance(destination, (tuple, list)) else (destination,))]
    rest = [d for d in range(self.ndim) if d not in src]
    perm = [None] * self.ndim
    for s, d in zip(src, dst):
        perm[d] = s
    it = iter(rest)
    perm = [p if p is not None else next(it) for p in perm]
    return self.permute(perm)


def narrow(self: Tensor, dim: int, start: int, length: int) -> Tensor:
    d = self._dim(dim, "narrow")
    n = self.shape[d]
    start = start + n if start < 0 else start
    if not (0 <= start and start + length <= n and length >= 0):
        raise RuntimeError(f"narrow: start ({start}) + length ({length}) exceeds dimension size ({n}) "
                         f"of dim {dim} in shape {tuple(self.shape)}")
    return self._shrink_dim(d, start, start + length)


def _shrink_dim(self: Tensor, d: int, start: int, end: int) -> Tensor:
    bounds = tuple((start, end) if i == d else (0, n) for i, n in enumerate(self.shape))
    return self._view_of("shrink", bounds)




def select(self: Tensor, dim: int, index: int) -> Tensor:
    d = self._dim(dim, "select")
    n = self.shape[d]
    if not -n <= index < n:
        raise IndexError(f"select: index {index} is out of bounds for dimension {d} with size {n} "
                         f"(shape {tuple(self.shape)})")
    index %= n
    out = self._shrink_dim(d, index, index + 1)
    return out.reshape(tuple(self.shape[:d]) + tuple(self.shape[d + 1:]))


def split(self: Tensor, split_size_or_sections, dim: int = 0) -> tuple[Tensor, ...]:
    d = self._dim(dim, "split")
    n = self.shape[d]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0:
            raise RuntimeError(f"split: split_size must be positive, got {step}")
        sizes = [min(step, n - s) for s in range(0, n, step)] or [0]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise RuntimeError(f"split: split_with_sizes expects split_sizes to sum exactly to {n} "
                               f"(input tensor's size at dimension {d}), but got split_sizes={sizes}")
    out, start = [], 0
    for s in sizes:
        out.append(self._shrink_dim(d, start, start + s))
        start += s
    return tuple(out)


def chunk(self: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    d = self._dim(dim, "chunk")
    if chunks <= 0:
        raise RuntimeError(f"chunk: chunks must be positive, got {chunks}")
    step = max(1, math.ceil(self.shape[d] / chunks))
    return self.split(step, d)


def unbind(self: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    d = self._dim(dim, "unbind")
    return tuple(self.select(d, i) for i in range(self.shape[d]))


def flip(self: Tensor, *dims) -> Tensor:
    dims = _sizes(dims, "flip")
    axes = tuple(self._dim(d, "flip") for d in dims)
    return wrap(B.flip(self.node, axes))


def fliplr(self: Tensor) -> Tensor:
    """Reverse the columns (dim 1)."""
    if self.ndim < 2:
        raise RuntimeError(f"fliplr: Input must be >= 2-d, got shape {tuple(self.shape)}")
    return flip(self, 1)


def flipud(self: Tensor) -> Tensor:
    """Reverse the rows (dim 0)."""
    if self.ndim < 1:
        raise RuntimeError(f"flipud: Input must be >= 1-d, got shape {tuple(self.shape)}")
    return flip(self, 0)


def rot90(self: Tensor, k: int = 1, dims=(0, 1)) -> Tensor:
    """Rotate by 90 degrees k times, from the first of `dims` towards the second."""
    if len(dims) != 2 or self.ndim < 2:
        raise RuntimeError(f"rot90: expected two dims of a tensor of at least 2 dims, got dims {tuple(dims)} "
                           f"and shape {tuple(self.shape)}")
    d0, d1 = (self._dim(d, "rot90") for d in dims)
    if d0 == d1:
        raise RuntimeError(f"rot90: the two dims must differ, got {tuple(dims)}")
    turns = k % 4
    if turns == 1:
        return flip(self, d1).transpose(d0, d1)
    if turns == 2:
        return flip(self, d0, d1)
    if turns == 3:
        return flip(self, d0).transpose(d0, d1)
    return self.clone()


def narrow_copy(self: Tensor, dim: int, start: int, length: int) -> Tensor:
    return narrow(self, dim, start, length).clone()


def roll(self: Tensor, shifts, dims=None) -> Tensor:
    if dims is None:
        return roll(self.flatten(), shifts, 0).reshape(self.shape)
    shifts = shifts if isinstance(shifts, (tuple, list)) else (shifts,)
    dims = dims if isinstance(dims, (tuple, list)) else (dims,)
    if len(shifts) != len(dims):
        raise RuntimeError(f"roll: shifts and dimensions must align. shifts: {len(shifts)}, dims: {len(dims)} "
                           f"(shape {tuple(self.shape)})")
    out = self
    for s, dim in zip(shifts, dims):
        d = self._dim(dim, "roll")
        n = self.shape[d]
        s = s % n if n else 0
        if s:
            out = cat([out._shrink_dim(d, n - s, n), out._shrink_dim(d, 0, n - s)], d)
    return out if out is not self else self.clone()


def repeat(self: Tensor, *sizes) -> Tensor:
    sizes = _sizes(sizes, "repeat")
    if len(sizes) < self.ndim:
        raise RuntimeError(f"repeat: Number of dimensions of repeat dims ({len(sizes)}) can not be smaller than "
                           f"number of dimensions of tensor ({self.ndim}); shape {tuple(self.shape)}")
    shape = (1,) * (len(sizes) - self.ndim) + tuple(self.shape)
    node = B.reshape(self.node, shape)
    inter = tuple(v for n in shape for v in (1, n))
    node = B.reshape(node, inter)
    node = B.expand(node, tuple(v for r, n in zip(sizes, shape) for v in (r, n)))
    return wrap(B.reshape(node, tuple(r * n for r, n in zip(sizes, shape))))


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat(): expected a non-empty list of Tensors")
    tensors = [t for t in tensors if not (t.ndim == 1 and t.shape[0] == 0)] or tensors[:1]
    ref = tensors[0]
    d = ref._dim(dim, "cat")
    for t in tensors[1:]:
        if t.ndim != ref.ndim or any(a != b for i, (a, b) in enumerate(zip(t.shape, ref.shape)) if i != d):
            raise RuntimeError(
                f"cat: Sizes of tensors must match except in dimension {d}; got shapes "
                f"{', '.join(str(tuple(x.shape)) for x in tensors)}")
    dt = result_dtype(*tensors)
    common_device("cat", *tensors)
    total = sum(t.shape[d] for t in tensors)
    combine = "or" if dt == D.bool_ else "add"
    out, start = None, 0
    for t in tensors:
        n = t.node if t.dtype == dt else B.cast(t.node, dt)
        widths = tuple((start, total - start - t.shape[d]) if i == d else (0, 0) for i in range(ref.ndim))
        placed = B.pad(n, widths, 0)
        out = placed if out is None else B.elementwise(combine, out, placed)
        start += t.shape[d]
    return wrap(out)


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack(): expected a non-empty list of Tensors")
    for t in tensors[1:]:
        if tuple(t.shape) != tuple(tensors[0].shape):
            raise RuntimeError(f"stack: stack expects each tensor to be equal size, but got "
                               f"{', '.join(str(tuple(x.shape)) for x in tensors)}")
    d = tensors[0]._dim(dim, "stack", tensors[0].ndim + 1)
    return cat([t.unsqueeze(d) for t in tensors], d)


def broadcast_tensors(*tensors: Tensor) -> tuple[Tensor, ...]:
    """Each tensor expanded (a view) to the shape they broadcast to together."""
    shape = broadcast_shapes("broadcast_tensors", *(tuple(t.shape) for t in tensors))
    return tuple(t.expand(shape) for t in tensors)


def broadcast_shapes_fn(*shapes) -> tuple[int, ...]:
    """torch.broadcast_shapes: the shape that tensors of these shapes (an int is a 1-D shape)
    broadcast to."""
    shapes = tuple((s,) if isinstance(s, int) else tuple(s) for s in shapes)
    if any(n < 0 for s in shapes for n in s):
        raise ValueError(f"broadcast_shapes: Attempting to broadcast a dimension with negative length! (shapes "
                         f"{', '.join(map(str, shapes))})")
    return Size(broadcast_shapes("broadcast_shapes", *shapes))


def meshgrid(*tensors: Tensor, indexing: str = "ij") -> tuple[Tensor, ...]:
    """Coordinate grids of 0- or 1-D tensors: 'ij' (matrix order) or 'xy' (the first two axes
    swapped, as NumPy's default); views, no copies."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    flat = [t.reshape(-1) for t in tensors]
    sizes = [t.shape[0] for t in flat]
    if indexing == "xy" and len(flat) >= 2:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    out = []
    for i, t in enumerate(flat):
        axis = (1 - i if i < 2 else i) if indexing == "xy" and len(flat) >= 2 else i
        view = [1] * len(flat)
        view[axis] = t.shape[0]
        out.append(t.reshape(view).expand(sizes))
    return tuple(out)


def ravel(self: Tensor) -> Tensor:
    return self.reshape(-1)


def view_as(self: Tensor, other: Tensor) -> Tensor:
    return self.view(tuple(other.shape))


def reshape_as(self: Tensor, other: Tensor) -> Tensor:
    return self.reshape(tuple(other.shape))


def tile(self: Tensor, dims) -> Tensor:
    """repeat, with `dims` padded by leading 1s to the tensor's number of dims."""
    dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    return self.repeat((1,) * (self.ndim - len(dims)) + dims)


def atleast_1d(*tensors):
    return _at_least(tensors, lambda t: t.reshape(1) if t.ndim == 0 else t)


def atleast_2d(*tensors):
    return _at_least(tensors, lambda t: t.reshape(1, -1) if t.ndim < 2 else t)


def atleast_3d(*tensors):
    """As NumPy: a vector of n becomes (1, n, 1), a matrix (r, c) becomes (r, c, 1)."""
    return _at_least(tensors, lambda t: t.reshape(1, -1, 1) if t.ndim < 2 else (t.unsqueeze(-1) if t.ndim == 2 else t))


def _at_least(tensors: tuple, lift):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    out = tuple(lift(t) for t in tensors)
    return out[0] if len(out) == 1 else out


def hstack(tensors: Sequence[Tensor]) -> Tensor:
    """cat along the columns (along the only axis for vectors)."""
    tensors = [atleast_1d(t) for t in tensors]
    return cat(tensors, 0 if tensors and tensors[0].ndim == 1 else 1)


def vstack(tensors: Sequence[Tensor]) -> Tensor:
    return cat([atleast_2d(t) for t in tensors], 0)


def dstack(tensors: Sequence[Tensor]) -> Tensor:
    return cat([atleast_3d(t) for t in tensors], 2)


def column_stack(tensors: Sequence[Tensor]) -> Tensor:
    """Vectors as columns, matrices as they are, side by side."""
    return cat([t.reshape(-1, 1) if t.ndim < 2 else t for t in tensors], 1)


def diff(self: Tensor, n: int = 1, dim: int = -1, prepend: Tensor | None = None, append: Tensor | None = None) -> Tensor:
    """The n-th forward difference along `dim` (prepend and append joined first); for bools, xor."""
    d = self._dim(dim, "diff")
    x = cat([t for t in (prepend, self, append) if t is not None], d) if prepend is not None or append is not None else self
    for _ in range(n):
        size = x.shape[d]
        later, earlier = x.narrow(d, min(1, size), max(size - 1, 0)), x.narrow(d, 0, max(size - 1, 0))
        x = later ^ earlier if x.dtype == D.bool_ else later - earlier
    return x


def repeat_interleave(self: Tensor, repeats, dim: int | None = None, *, output_size: int | None = None) -> Tensor:
    """Each element repeated `repeats` times in place (an int, or one per element along `dim`:
    those are read to learn the result's size, as PyTorch reads them; `output_size`, the
    result's size along `dim`, is checked against them)."""
    if dim is None:
        return repeat_interleave(self.reshape(-1), repeats, 0, output_size=output_size)
    d = self._dim(dim, "repeat_interleave")
    if isinstance(repeats, TensorBase) and repeats.numel() == 1:
        repeats = int(repeats.item())
    if isinstance(repeats, int):
        if repeats < 0:
            raise RuntimeError(f"repeat_interleave: repeats can not be negative (got {repeats})")
        shape = tuple(self.shape)
        if output_size is not None and output_size != shape[d] * repeats:
            raise RuntimeError(f"repeat_interleave: output_size {output_size} differs from {shape[d]} x {repeats}")
        spread = self.unsqueeze(d + 1).expand(shape[:d + 1] + (repeats,) + shape[d + 1:])
        return spread.reshape(shape[:d] + (shape[d] * repeats,) + shape[d + 1:])
    counts = [int(c) for c in repeats.tolist()]
    if len(counts) != self.shape[d] or any(c < 0 for c in counts):
        raise RuntimeError(f"repeat_interleave: repeats must have the same size as input along dim {d} and no "
                           f"negative entry (got {len(counts)} repeats for size {self.shape[d]})")
    index = [i for i, c in enumerate(counts) for _ in range(c)]
    if output_size is not None and output_size != len(index):
        raise RuntimeError(f"repeat_interleave: output_size {output_size} differs from the repeats' sum {len(index)}")
    return self.index_select(d, tensor(index, dtype=D.int64, device=self.device))


def _triangle(self: Tensor, diagonal: int, keep_lower: bool, op: str) -> Tensor:
    if self.ndim < 2:
        raise RuntimeError(f"{op}: input tensor must have at least 2 dimensions, got shape {tuple(self.shape)}")
    shape = tuple(self.shape)
    dev = self.device.name
    rows = B.iota(shape, self.ndim - 2, D.int64, dev)
    cols = B.iota(shape, self.ndim - 1, D.int64, dev)
    offset = B.elementwise("sub", cols, rows)
    k = const(diagonal, D.int64, shape, dev)
    mask = B.elementwise("le", offset, k) if keep_lower else B.elementwise("le", k, offset)
    zero = const(0, self.dtype, shape, dev)
    return wrap(B.elementwise("where", mask, self.node, zero))


def tril(self: Tensor, diagonal: int = 0) -> Tensor:
    return _triangle(self, diagonal, True, "tril")


def triu(self: Tensor, diagonal: int = 0) -> Tensor:
    return _triangle(self, diagonal, False, "triu")


def pad(x: Tensor, pad: Sequence[int], mode: str = "constant", value: float | None = None) -> Tensor:
    """torch.nn.functional.pad: (left, right) pairs from the last dim backwards."""
    if mode != "constant":
        raise NotImplementedError(f"pad: mode {mode!r} is not supported (only 'constant')")
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise RuntimeError(f"pad: padding length {len(pad)} must be even and at most 2 * ndim for shape "
                           f"{tuple(x.shape)}")
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    node = x.node
    crop = tuple((max(0, -b), n - max(0, -a)) for (b, a), n in zip(widths, node.shape))
    if any(hi < lo for lo, hi in crop):
        raise RuntimeError(f"pad: negative padding {tuple(pad)} removes more than the size of the dimension "
                           f"(input shape {tuple(x.shape)})")
    node = B.shrink(node, crop)
    node = B.pad(node, tuple((max(0, b), max(0, a)) for b, a in widths), 0 if value is None else value)
    return wrap(node)


concat = cat


def concatenate(tensors, axis: int = 0) -> Tensor:
    """NumPy's spelling of cat, as torch.concatenate."""
    return cat(tensors, axis)


def swapaxes(self: Tensor, axis0: int, axis1: int) -> Tensor:
    """NumPy's spelling of transpose, as torch.swapaxes."""
    return transpose(self, axis0, axis1)


def permute_fn(x: Tensor, dims) -> Tensor:
    """lt.permute(x, dims)."""
    return x.permute(dims)


def flip_fn(x: Tensor, dims) -> Tensor:
    """lt.flip(x, dims)."""
    return x.flip(dims)


def unfold(self: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """Every window of `size` elements along dimension, `step` apart, as a new last dim (the
    windows take dimension's place). Windows that do not overlap are a view (writes through
    them reach self, as in PyTorch); overlapping ones a gather, whose gradients add up where
    windows overlap (an in-place write to them, which PyTorch refuses, writes a copy)."""
    if self.ndim == 0:  # one element, along a dim of its own
        return unfold(self.reshape(1), 0, size, step).reshape(size)
    d = self._dim(dimension, "unfold")
    n = self.shape[d]
    if not 0 <= size <= n:
        raise RuntimeError(f"unfold: maximum size for tensor at dimension {d} is {n} but size is {size} "
                           f"(shape {tuple(self.shape)})")
    if step <= 0:
        raise RuntimeError(f"unfold: step is {step} but must be > 0 (shape {tuple(self.shape)})")
    x = self.movedim(d, -1)
    lead, count = tuple(x.shape[:-1]), (n - size) // step + 1
    if step >= size:
        return _disjoint_windows(x, count, size, step).movedim(-2, d)
    grid, dev = lead + (count, size), x.device.name
    starts = B.elementwise("mul", B.iota(grid, len(lead), D.int64, dev), const(step, D.int64, grid, dev))
    index = B.elementwise("add", starts, B.iota(grid, len(lead) + 1, D.int64, dev))
    windows = B.gather(x.node, B.reshape(index, lead + (count * size,)), len(lead))
    return wrap(B.reshape(windows, grid)).movedim(-2, d)


def _disjoint_windows(x: Tensor, count: int, size: int, step: int) -> Tensor:
    """x's `count` windows of `size` along its last dim, `step` >= size apart, as view steps:
    padded (or cut) to count * step, split into rows of step, each cut to its first `size`."""
    lead, n = tuple(x.shape[:-1]), x.shape[-1]
    span = count * step
    if span > n:
        x = x._view_of("pad", (((0, 0),) * len(lead) + ((0, span - n),), 0))
    elif span < n:
        x = x._shrink_dim(x.ndim - 1, 0, span)
    rows = x._view_of("reshape", lead + (count, step))
    return rows._shrink_dim(rows.ndim - 1, 0, size)


# ---- memory layout as PyTorch would have it (views know their strides: views.layout_of) ----
def _layout(self: Tensor) -> tuple[list[int], int]:
    """A view's strides and offset over its storage; a chain no strided layout describes
    (a flip) is a copy in PyTorch, so it reads as contiguous memory of its own."""
    found = layout_of(tuple(self._storage.node.shape), self._chain)
    return found if found is not None else (list(contiguous_strides(tuple(self.shape))), 0)


def stride(self: Tensor, dim: int | None = None):
    strides = tuple(_layout(self)[0])
    return strides if dim is None else strides[self._dim(dim, "stride")]


def storage_offset(self: Tensor) -> int:
    return _layout(self)[1]


def is_contiguous(self: Tensor, memory_format=None) -> bool:
    """Row-major with no gaps; a size-1 dim's stride never matters (PyTorch's rule)."""
    expected = contiguous_strides(tuple(self.shape))
    return self.numel() == 0 or all(n == 1 or s == e for n, s, e in zip(self.shape, _layout(self)[0], expected))


def fill_diagonal_(self: Tensor, fill_value, wrap: bool = False) -> Tensor:
    """Fill the main diagonal (all indices equal) in place; `wrap` restarts it every
    columns + 1 rows in a tall matrix, as PyTorch's."""
    shape = tuple(self.shape)
    if self.ndim < 2 or (self.ndim > 2 and len(set(shape)) != 1):
        raise RuntimeError(f"fill_diagonal_: expected a matrix, or a tensor whose dims all have the same length, "
                           f"got shape {shape}")
    dev = self.device.name
    index = [B.iota(shape, d, D.int64, dev) for d in range(self.ndim)]
    if wrap and self.ndim == 2:
        flat = B.elementwise("add", B.elementwise("mul", index[0], const(shape[1], D.int64, shape, dev)), index[1])
        on = B.elementwise("eq", B.elementwise("mod", flat, const(shape[1] + 1, D.int64, shape, dev)),
                           const(0, D.int64, shape, dev))
    else:
        on = const(True, D.bool_, shape, dev)
        for other in index[1:]:
            on = B.elementwise("and", on, B.elementwise("eq", index[0], other))
    return self._assign(B.elementwise("where", on, const(fill_value, self.dtype, shape, dev), self.node))


def nbytes(self: Tensor) -> int:
    return self.numel() * self.element_size()
