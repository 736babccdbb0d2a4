"""PyTorch's zip checkpoint format (what torch.save writes since torch 1.6), read and written
without torch.

The file is a zip archive of stored (uncompressed) entries under one folder `<name>/`:
`data.pkl` (pickle protocol 2), `data/<key>` (each storage's raw little-endian bytes),
`byteorder`, `version`. In data.pkl a tensor is the call
`torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)`, and its
storage a persistent id `('storage', torch.FloatStorage, key, location, numel)`.

Reading never runs pickled code: only the globals in `_Unpickler` are resolved, much as
torch.load(weights_only=True) does, and any other global is refused by name.
"""
from __future__ import annotations

import codecs
import io
import math
import os
import pickle
import zipfile
from collections import Counter, OrderedDict
from typing import Any, BinaryIO

import numpy as np

ZIP_MAGIC = b"PK\x03\x04"
_ALIGNMENT = 64  # torch aligns each entry's data to 64 bytes (so torch.load(mmap=True) works)
_ARCHIVE = "archive"  # torch's folder name for buffers; a fixed name keeps files reproducible

# torch dtype name -> (NumPy type of its storage bytes, torch's legacy storage class or None).
# bfloat16 is read as its uint16 bits; dtypes without a storage class are saved by
# _rebuild_tensor_v3 over an UntypedStorage, as torch does.
_DTYPES: dict[str, tuple[type, str | None]] = {
    "float64": (np.float64, "DoubleStorage"),
    "float32": (np.float32, "FloatStorage"),
    "float16": (np.float16, "HalfStorage"),
    "bfloat16": (np.uint16, "BFloat16Storage"),
    "int64": (np.int64, "LongStorage"),
    "int32": (np.int32, "IntStorage"),
    "int16": (np.int16, "ShortStorage"),
    "int8": (np.int8, "CharStorage"),
    "uint8": (np.uint8, "ByteStorage"),
    "bool": (np.bool_, "BoolStorage"),
    "uint16": (np.uint16, None),
    "uint32": (np.uint32, None),
    "uint64": (np.uint64, None),
}
_BY_STORAGE = {storage: name for name, (_, storage) in _DTYPES.items() if storage}
# NumPy dtype -> torch dtype name, for writing (bfloat16 has no NumPy type; see _array)
_BY_NUMPY = {np.dtype(npt): name for name, (npt, _) in _DTYPES.items() if name != "bfloat16"}


def is_checkpoint(head: bytes) -> bool:
    """Whether a file starting with `head` is a zip archive (torch.save's format)."""
    return head.startswith(ZIP_MAGIC)


# ---- reading ------------------------------------------------------------------------------

class _StorageType:
    """What the global `torch.FloatStorage` (etc.) resolves to: just the element type."""

    __slots__ = ("dtype",)

    def __init__(self, dtype: str | None) -> None:
        self.dtype = dtype  # None: torch.storage.UntypedStorage (bytes)


class _TorchDType:
    """What a global such as `torch.float32` resolves to (an argument of _rebuild_tensor_v3)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class _Storage:
    """A storage read from the archive: its bytes and element type."""

    __slots__ = ("raw", "dtype")

    def __init__(self, raw: bytes, dtype: str | None) -> None:
        self.raw, self.dtype = raw, dtype


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    """`_codecs.encode`, which protocol-2 pickles use for bytes; only that use is allowed."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise pickle.UnpicklingError("lt.load: refusing _codecs.encode other than the latin1 form for bytes")
    return codecs.encode(text, "latin1")


# Globals that resolve to plain values; the rebuild functions are _Unpickler methods.
_PLAIN_GLOBALS: dict[str, Any] = {
    "collections.OrderedDict": OrderedDict,
    "collections.Counter": Counter,
    "builtins.set": set,
    "builtins.frozenset": frozenset,
    "builtins.complex": complex,
    "builtins.bytearray": bytearray,
    "_codecs.encode": _latin1_encode,
    "torch.Size": tuple,
    "torch.storage.UntypedStorage": _StorageType(None),
}
_REBUILDERS = {
    "torch._utils._rebuild_tensor_v2": "_rebuild_tensor_v2",
    "torch._utils._rebuild_tensor_v3": "_rebuild_tensor_v3",
    "torch._utils._rebuild_parameter": "_rebuild_parameter",
    "torch._utils._rebuild_parameter_with_state": "_rebuild_parameter_with_state",
}


def _refuse(what: str) -> pickle.UnpicklingError:
    return pickle.UnpicklingError(
        f"lt.load: refusing {what} in the checkpoint: lazytensor never runs code from a pickle "
        "(weights_only=False included) and rebuilds only tensors, dicts, lists, tuples, sets, "
        "numbers and strings, like torch.load(weights_only=True)")


def _check_view(storage_numel: int, offset, size, stride) -> None:
    """A view must lie inside its storage: as_strided would read past the buffer otherwise."""
    ints = all(isinstance(v, int) and v >= 0 for v in (offset, *size, *stride))
    if not ints or len(size) != len(stride):
        raise pickle.UnpicklingError(f"lt.load: bad tensor view offset={offset!r} size={size!r} stride={stride!r}")
    if math.prod(size) and offset + sum((n - 1) * s for n, s in zip(size, stride)) >= storage_numel:
        raise pickle.UnpicklingError(f"lt.load: a tensor of size {tuple(size)} (offset {offset}, stride "
                                     f"{tuple(stride)}) reaches past its storage of {storage_numel} elements")


class _Unpickler(pickle._Unpickler):
    """The pure-Python unpickler, so BUILD (setting an object's state) can be restricted too."""

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file: BinaryIO, archive: zipfile.ZipFile, prefix: str, big_endian: bool, device) -> None:
        super().__init__(file)
        self._archive, self._prefix, self._device = archive, prefix, device
        self._order = ">" if big_endian else "<"
        self._raw: dict[str, bytes] = {}

    def find_class(self, module: str, name: str) -> Any:
        module = "builtins" if module == "__builtin__" else module  # protocol 2's spelling
        full = f"{module}.{name}"
        if full in _PLAIN_GLOBALS:
            return _PLAIN_GLOBALS[full]
        if full in _REBUILDERS:
            return getattr(self, _REBUILDERS[full])
        if module == "torch" and name in _BY_STORAGE:
            return _StorageType(_BY_STORAGE[name])
        if module == "torch" and name in _DTYPES:
            return _TorchDType(name)
        raise _refuse(f"the global {full}")

    def persistent_load(self, pid) -> _Storage:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise _refuse(f"the persistent id {pid!r}")
        key = str(pid[2])
        if key not in self._raw:
            try:
                self._raw[key] = self._archive.read(f"{self._prefix}data/{key}")
            except KeyError:
                raise pickle.UnpicklingError(f"lt.load: the checkpoint lacks the storage record data/{key}") from None
        return _Storage(self._raw[key], pid[1].dtype)

    def load_build(self) -> None:
        # torch sets only `_metadata` on state-dict OrderedDicts; allow such new attributes and
        # nothing that would shadow a method or reach another type's __setstate__.
        state = self.stack.pop()
        inst = self.stack[-1]
        if not (type(inst) is OrderedDict and isinstance(state, dict)
                and all(isinstance(k, str) and not hasattr(OrderedDict, k) for k in state)):
            raise _refuse(f"setting the state of a {type(inst).__name__}")
        inst.__dict__.update(state)

    dispatch[pickle.BUILD[0]] = load_build

    # ---- the rebuild functions data.pkl calls ----
    def _rebuild_tensor_v2(self, storage, storage_offset, size, stride, requires_grad=False,
                           backward_hooks=None, metadata=None):
        if not isinstance(storage, _Storage) or storage.dtype is None:
            raise pickle.UnpicklingError("lt.load: _rebuild_tensor_v2 needs a typed storage")
        return self._tensor(storage, storage.dtype, storage_offset, size, stride, requires_grad)

    def _rebuild_tensor_v3(self, storage, storage_offset, size, stride, requires_grad, backward_hooks,
                           dtype, metadata=None):
        if not isinstance(storage, _Storage) or not isinstance(dtype, _TorchDType):
            raise pickle.UnpicklingError("lt.load: _rebuild_tensor_v3 needs a storage and a torch dtype")
        return self._tensor(storage, dtype.name, storage_offset, size, stride, requires_grad)

    def _rebuild_parameter(self, data, requires_grad, backward_hooks):
        from .nn.parameter import Parameter
        return Parameter(data, requires_grad=bool(requires_grad))

    def _rebuild_parameter_with_state(self, data, requires_grad, backward_hooks, state):
        # `state` holds Python attributes some libraries put on Parameters; weights only here
        return self._rebuild_parameter(data, requires_grad, backward_hooks)

    def _tensor(self, storage: _Storage, dtype: str, offset, size, stride, requires_grad):
        from .creation import tensor
        from .ir import dtype as D
        size, stride = tuple(size), tuple(stride)
        elements = np.dtype(_DTYPES[dtype][0]).newbyteorder(self._order)
        flat = np.frombuffer(storage.raw, dtype=elements, count=len(storage.raw) // elements.itemsize)
        _check_view(flat.size, offset, size, stride)
        view = np.lib.stride_tricks.as_strided(flat[offset:], shape=size,
                                               strides=[s * elements.itemsize for s in stride])
        values = np.array(view, dtype=elements.newbyteorder("="))  # a copy, in native order
        target = None
        if dtype == "bfloat16":  # bits -> the float32 values; held as lt.bfloat16 where it exists
            values = (values.astype(np.uint32) << 16).view(np.float32)
            target = D.BY_NAME.get("bfloat16", D.float32)
        return tensor(values, dtype=target, device=self._device, requires_grad=bool(requires_grad))


def _pickle_name(archive: zipfile.ZipFile) -> str:
    """The `<folder>/data.pkl` entry (torch allows any folder name; older files used 'archive')."""
    names = archive.namelist()
    pkl = next((n for n in names if n.endswith("/data.pkl") and n.count("/") == 1), None)
    if pkl is None or pkl.replace("data.pkl", "constants.pkl") in names:  # TorchScript has constants
        raise ValueError("lt.load: this zip file is not a torch.save checkpoint (it has no <folder>/data.pkl, "
                         "or it is a TorchScript archive from torch.jit.save, which holds code)")
    return pkl


def load(f: str | os.PathLike | BinaryIO, device=None) -> Any:
    """Read a torch.save zip checkpoint; its tensors become lt.Tensors on `device`."""
    with zipfile.ZipFile(f) as archive:
        pkl = _pickle_name(archive)
        prefix = pkl[: -len("data.pkl")]
        try:
            order = archive.read(prefix + "byteorder")
        except KeyError:
            order = b"little"  # files from before torch recorded it are little-endian
        if order not in (b"little", b"big"):
            raise ValueError(f"lt.load: unknown byte order {order!r} in the checkpoint")
        unpickler = _Unpickler(io.BytesIO(archive.read(pkl)), archive, prefix, order == b"big", device)
        return unpickler.load()


# ---- writing ------------------------------------------------------------------------------

class _Global:
    """A `module.name` written as a GLOBAL opcode without importing it (torch is not needed)."""

    __slots__ = ("module", "name")
    _interned: dict[tuple[str, str], "_Global"] = {}

    def __new__(cls, module: str, name: str) -> "_Global":
        # one object per name, so the pickle memo writes each global once
        key = (module, name)
        if key not in cls._interned:
            obj = super().__new__(cls)
            obj.module, obj.name = module, name
            cls._interned[key] = obj
        return cls._interned[key]

    def __call__(self, *args):  # pickle's save_reduce insists the callable be callable
        raise TypeError(f"{self.module}.{self.name} is only a name to write into a pickle")


class _StorageRef:
    """A storage to be written as a persistent id and a `data/<key>` entry."""

    __slots__ = ("key", "dtype", "numel")

    def __init__(self, key: str, dtype: str, numel: int) -> None:
        self.key, self.dtype, self.numel = key, dtype, numel


_REBUILD_V2 = _Global("torch._utils", "_rebuild_tensor_v2")
_REBUILD_V3 = _Global("torch._utils", "_rebuild_tensor_v3")
_REBUILD_PARAMETER = _Global("torch._utils", "_rebuild_parameter")
# exact types written as themselves; anything else but tensors is refused, since torch.load
# (weights_only=True) would refuse its class (a defaultdict, an Enum member)
_PLAIN_TYPES = frozenset({type(None), bool, int, float, complex, str, bytes, bytearray, dict, OrderedDict,
                          list, tuple, set, _Global, _StorageRef})
# what protocol 2 writes those with: all in torch's weights_only allowlist
_PLAIN_CALLABLES = (OrderedDict, set, complex, bytearray, codecs.encode)


def _array(value) -> tuple[np.ndarray, str]:
    """A tensor's values as a C-ordered array of its storage type, and its torch dtype name."""
    from .tensor_base import TensorBase
    if isinstance(value, TensorBase):
        value = value.detach()
        if value.dtype.name == "bfloat16":  # its values are exactly float32's top 16 bits
            values = np.ascontiguousarray(value.float().numpy(), dtype=np.float32)
            return (values.view(np.uint32) >> 16).astype(np.uint16), "bfloat16"
        array = value.numpy()
    elif isinstance(value, np.ndarray):
        array = value
    else:  # a torch tensor
        array = value.detach().cpu().numpy()
    array = np.require(array, requirements="C")
    if array.dtype not in _BY_NUMPY:
        raise TypeError(f"lt.save: a tensor of dtype {array.dtype} cannot be written to a torch checkpoint")
    return array, _BY_NUMPY[array.dtype]


def _is_tensor(value) -> bool:
    from .tensor_base import TensorBase
    return isinstance(value, (TensorBase, np.ndarray)) or (hasattr(value, "detach") and hasattr(value, "numpy"))


def _contiguous_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= max(n, 1)
    return tuple(reversed(strides))


class _Pickler(pickle._Pickler):
    """The pure-Python pickler, whose dispatch table can write `_Global`s as GLOBAL opcodes."""

    dispatch = dict(pickle._Pickler.dispatch)

    def __init__(self, file: BinaryIO) -> None:
        super().__init__(file, protocol=2)
        self.storages: list[tuple[str, bytes]] = []

    def save_stand_in_global(self, obj: _Global) -> None:
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode("utf-8"))
        self.memoize(obj)

    dispatch[_Global] = save_stand_in_global

    def save(self, obj, save_persistent_id=True):
        if isinstance(obj, np.generic):  # NumPy scalars as Python numbers: torch reads those safely
            obj = obj.item()
        elif isinstance(obj, tuple) and type(obj) is not tuple:  # lt.Size, named tuples
            obj = tuple(obj)
        super().save(obj, save_persistent_id)

    def persistent_id(self, obj):
        if isinstance(obj, _StorageRef):
            _, storage = _DTYPES[obj.dtype]
            cls = _Global("torch", storage) if storage else _Global("torch.storage", "UntypedStorage")
            return ("storage", cls, obj.key, "cpu", obj.numel)
        return None

    def reducer_override(self, obj):
        if type(obj) in _PLAIN_TYPES or any(obj is c for c in _PLAIN_CALLABLES):
            return NotImplemented
        if not _is_tensor(obj):
            raise TypeError(f"lt.save: cannot write an object of type {type(obj).__name__} to a torch "
                            "checkpoint (tensors, numbers, strings, lists, tuples, sets and dicts are supported)")
        from .nn.parameter import Parameter
        if isinstance(obj, Parameter):
            return _REBUILD_PARAMETER, (obj.detach(), obj.requires_grad, OrderedDict())
        return self._tensor_reduce(obj)

    def _tensor_reduce(self, obj):
        array, dtype = _array(obj)
        key = str(len(self.storages))
        self.storages.append((key, array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()))
        has_storage_class = _DTYPES[dtype][1] is not None
        ref = _StorageRef(key, dtype, array.size if has_storage_class else array.nbytes)
        args = (ref, 0, tuple(array.shape), _contiguous_strides(array.shape),
                bool(getattr(obj, "requires_grad", False)), OrderedDict())
        return (_REBUILD_V2, args) if has_storage_class else (_REBUILD_V3, args + (_Global("torch", dtype),))


def _padding(offset: int, name: str, size: int) -> bytes:
    """A zip extra field that puts an entry's data at a multiple of _ALIGNMENT, as torch does."""
    zip64 = 20 if size * 1.05 > zipfile.ZIP64_LIMIT else 0  # zipfile then adds a zip64 extra field
    header = 30 + len(name.encode("utf-8")) + 4 + zip64  # fixed local header, name, extra's own header
    pad = -(offset + header) % _ALIGNMENT
    return b"FB" + pad.to_bytes(2, "little") + b"Z" * pad


def _write_zip(fh: BinaryIO, records: list[tuple[str, bytes]]) -> None:
    with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED) as archive:
        for name, data in records:
            info = zipfile.ZipInfo(f"{_ARCHIVE}/{name}", date_time=(1980, 1, 1, 0, 0, 0))
            info.extra = _padding(archive.fp.tell(), info.filename, len(data))
            archive.writestr(info, data)


def save(obj: Any, f: str | os.PathLike | BinaryIO) -> None:
    """Write `obj` (tensors in dicts, lists, tuples, numbers, strings) as torch.save would."""
    buffer = io.BytesIO()
    pickler = _Pickler(buffer)
    pickler.dump(obj)
    # .format_version 1: storages are numbered in order; .storage_alignment: the padding used
    records = [("data.pkl", buffer.getvalue()), (".format_version", b"1"),
               (".storage_alignment", str(_ALIGNMENT).encode()), ("byteorder", b"little"),
               *((f"data/{key}", raw) for key, raw in pickler.storages), ("version", b"3\n")]
    if isinstance(f, (str, os.PathLike)):
        with open(f, "wb") as fh:
            _write_zip(fh, records)
    else:
        _write_zip(f, records)
