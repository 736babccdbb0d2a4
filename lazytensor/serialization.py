"""lt.save / lt.load: state dicts stored as safetensors (the `safetensors` package's NumPy API).

A flat dict of tensors (a Module's state_dict) is written exactly as PyTorch's
`safetensors.torch.save_file` would write it, so either framework reads the other's files.
Nested objects (an optimizer's state_dict) are flattened: their tensors become entries named
by their path, everything else is kept as JSON in the file's metadata. Files in bfloat16
(common for Hugging Face checkpoints) load as float32.
"""
from __future__ import annotations

import json
import os
import struct
from collections import OrderedDict
from typing import Any

import numpy as np

from .tensor import Tensor

_META_KEY = "lazytensor.structure"


def _to_numpy(value) -> np.ndarray:
    """C-ordered, keeping 0-d arrays 0-d (np.ascontiguousarray would make them (1,))."""
    if isinstance(value, Tensor):
        array = value.detach().numpy()
    elif hasattr(value, "detach"):  # a torch tensor
        array = value.detach().cpu().numpy()
    else:
        array = np.asarray(value)
    return np.require(array, requirements="C")


def _is_tensor_like(value) -> bool:
    return isinstance(value, (Tensor, np.ndarray)) or (hasattr(value, "detach") and hasattr(value, "numpy"))


def _flatten(obj, prefix: str, tensors: dict[str, np.ndarray]):
    """Tensors go to `tensors` under their path; the rest becomes a JSON-able skeleton."""
    if _is_tensor_like(obj):
        tensors[prefix] = _to_numpy(obj)
        return {"__tensor__": prefix}
    if isinstance(obj, dict):
        return {"__dict__": [[_key(k), _flatten(v, f"{prefix}.{k}" if prefix else str(k), tensors)]
                             for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        items = [_flatten(v, f"{prefix}.{i}" if prefix else str(i), tensors) for i, v in enumerate(obj)]
        return {"__tuple__" if isinstance(obj, tuple) else "__list__": items}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"lt.save: cannot store an object of type {type(obj).__name__} at {prefix or 'the top level'} "
                    "(state dicts of tensors, numbers, strings, lists and dicts are supported)")


def _key(k):
    if isinstance(k, (str, int, float, bool)) or k is None:
        return [type(k).__name__, k]
    raise TypeError(f"lt.save: dict keys must be str, int, float or bool, got {type(k).__name__}")


def _unkey(k):
    kind, value = k
    return {"int": int, "float": float, "bool": bool, "str": str, "NoneType": lambda v: None}[kind](value)


def _is_flat_state_dict(obj) -> bool:
    return isinstance(obj, dict) and all(isinstance(k, str) for k in obj) and \
        all(_is_tensor_like(v) for v in obj.values())


def save(obj: Any, f, metadata: dict[str, str] | None = None) -> None:
    """Write `obj` (a state dict, or a nested dict/list of tensors and plain values) to `f`."""
    from safetensors.numpy import save, save_file
    tensors: dict[str, np.ndarray] = {}
    meta = {"format": "pt"}
    if metadata:
        meta.update({str(k): str(v) for k, v in metadata.items()})
    if _is_flat_state_dict(obj):
        tensors = {k: _to_numpy(v) for k, v in obj.items()}
    else:
        meta[_META_KEY] = json.dumps(_flatten(obj, "", tensors))
    if isinstance(f, (str, os.PathLike)):
        save_file(tensors, os.fspath(f), metadata=meta)
    else:
        f.write(save(tensors, metadata=meta))


def _read_bf16_aware(path: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Parse a safetensors file directly (used when it holds dtypes NumPy lacks, e.g. BF16)."""
    with open(path, "rb") as fh:
        data = fh.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    meta = header.pop("__metadata__", {}) or {}
    kinds = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
             "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_, "U16": np.uint16,
             "U32": np.uint32, "U64": np.uint64}
    out = {}
    for name, info in header.items():
        start, end = info["data_offsets"]
        raw = data[base + start:base + end]
        shape = tuple(info["shape"])
        if info["dtype"] == "BF16":
            bits = np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16
            out[name] = bits.view(np.float32).reshape(shape)
        elif info["dtype"] in kinds:
            out[name] = np.frombuffer(raw, dtype=kinds[info["dtype"]]).reshape(shape).copy()
        else:
            raise TypeError(f"lt.load: tensor {name!r} has dtype {info['dtype']}, which lazytensor cannot hold")
    return out, meta


def _refuse_pickle(path: str) -> None:
    """A torch.save file (a zip of pickles) is not safetensors: say so, and how to convert."""
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic.startswith(b"PK") or magic[:1] == b"\x80":
        raise ValueError(f"lt.load: {path} is a torch.save (pickle) file; lazytensor reads safetensors files "
                         f"(convert it with safetensors.torch.save_file(torch.load(path), 'model.safetensors'))")


def _rebuild(skeleton, tensors: dict[str, Tensor]):
    if isinstance(skeleton, dict):
        if "__tensor__" in skeleton:
            return tensors[skeleton["__tensor__"]]
        if "__dict__" in skeleton:
            return {_unkey(k): _rebuild(v, tensors) for k, v in skeleton["__dict__"]}
        if "__list__" in skeleton:
            return [_rebuild(v, tensors) for v in skeleton["__list__"]]
        if "__tuple__" in skeleton:
            return tuple(_rebuild(v, tensors) for v in skeleton["__tuple__"])
    return skeleton


def load(f, map_location=None, weights_only: bool = True, device=None) -> Any:
    """Read a file written by lt.save, or any safetensors file (PyTorch's, Hugging Face's):
    a dict name -> lt.Tensor on `device` (or map_location; the default device if neither)."""
    from safetensors import safe_open
    from safetensors.numpy import load as load_bytes
    from .creation import tensor

    device = device if device is not None else map_location
    if isinstance(f, (str, os.PathLike)):
        path = os.fspath(f)
        try:
            with safe_open(path, framework="numpy") as fh:
                meta = fh.metadata() or {}
                arrays = {k: fh.get_tensor(k) for k in fh.keys()}
        except (TypeError, ValueError, Exception) as e:  # noqa: BLE001 - e.g. BF16 in the NumPy framework
            _refuse_pickle(path)
            if "safetensors" in type(e).__module__ and "header" in str(e).lower():
                raise
            arrays, meta = _read_bf16_aware(path)
    else:
        raw = f.read()
        arrays = load_bytes(raw)
        (n,) = struct.unpack("<Q", raw[:8])
        meta = json.loads(raw[8:8 + n]).get("__metadata__", {}) or {}
    tensors = {k: tensor(v, device=device) for k, v in arrays.items()}
    if _META_KEY in meta:
        return _rebuild(json.loads(meta[_META_KEY]), tensors)
    return OrderedDict((k, tensors[k]) for k in arrays)
