"""lt.save / lt.load: safetensors files (the `safetensors` package's NumPy API), and PyTorch's
zip checkpoints (`.pt`; see torch_checkpoint.py).

lt.load tells the formats apart by content; lt.save picks by the file's suffix (`format=` overrides).

A flat dict of tensors (a Module's state_dict) is written exactly as PyTorch's
`safetensors.torch.save_file` would write it, so either framework reads the other's files.
Nested objects (an optimizer's state_dict) are flattened: their tensors become entries named
by their path, everything else is kept as JSON in the file's metadata. Files in bfloat16
(common for Hugging Face checkpoints) load as float32.
"""
from __future__ import annotations

import io
import json
import os
import struct
from collections import OrderedDict
from typing import Any

import numpy as np

from . import torch_checkpoint
from .ir import dtype as D
from .tensor import Tensor

_META_KEY = "lazytensor.structure"
# suffixes torch.save files usually have (Hugging Face's pytorch_model.bin, Lightning's .ckpt)
_TORCH_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")


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


def _format_for(f) -> str:
    """'torch' for a path (or named file object) with a torch.save suffix, else 'safetensors'."""
    name = os.fspath(f) if isinstance(f, (str, os.PathLike)) else getattr(f, "name", "")
    return "torch" if isinstance(name, str) and name.lower().endswith(_TORCH_SUFFIXES) else "safetensors"


def save(obj: Any, f, metadata: dict[str, str] | None = None, format: str | None = None) -> None:
    """Write `obj` (a state dict, or a nested dict/list of tensors and plain values) to `f`: as
    a torch.save checkpoint for a .pt/.pth/.bin/.ckpt path or format="torch", else as safetensors."""
    format = format or _format_for(f)
    if format not in ("torch", "safetensors"):
        raise ValueError(f"lt.save: format must be 'torch' or 'safetensors', got {format!r}")
    if format == "torch":
        if metadata:
            raise ValueError("lt.save: metadata is stored only in safetensors files, not torch checkpoints")
        return torch_checkpoint.save(obj, f)
    _save_safetensors(obj, f, metadata)


def _save_safetensors(obj: Any, f, metadata: dict[str, str] | None) -> None:
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


class BFloat16Values(np.ndarray):
    """float32 values read from bfloat16 data: they load as an lt.bfloat16 tensor."""


def _as_tensor(values: np.ndarray, device) -> Tensor:
    from .creation import tensor
    return tensor(values, dtype=D.bfloat16 if isinstance(values, BFloat16Values) else None, device=device)


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
            values = D.from_storage(np.frombuffer(raw, dtype=np.uint16), D.bfloat16)
            out[name] = values.reshape(shape).view(BFloat16Values)
        elif info["dtype"] in kinds:
            out[name] = np.frombuffer(raw, dtype=kinds[info["dtype"]]).reshape(shape).copy()
        else:
            raise TypeError(f"lt.load: tensor {name!r} has dtype {info['dtype']}, which lazytensor cannot hold")
    return out, meta


def _refuse_pickle(head: bytes, name: str) -> None:
    """A bare pickle (legacy torch.save, pickle.dump) could run code when read: refuse it, saying
    how to convert. Called only once the content failed to parse as safetensors."""
    if head[:1] == b"\x80":  # pickle's PROTO opcode
        raise ValueError(f"lt.load: {name} is a legacy torch.save (pickle) file or a plain pickle, which "
                         "lazytensor does not unpickle; it reads torch's zip checkpoints (torch.save's "
                         "format since torch 1.6) and safetensors files (re-save it with a recent torch, or "
                         "convert it with safetensors.torch.save_file(torch.load(path), 'model.safetensors'))")


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


def _read_safetensors_path(path: str, head: bytes) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    from safetensors import safe_open
    try:
        with safe_open(path, framework="numpy") as fh:
            return {k: fh.get_tensor(k) for k in fh.keys()}, fh.metadata() or {}
    except (TypeError, ValueError, Exception) as e:  # noqa: BLE001 - e.g. BF16 in the NumPy framework
        _refuse_pickle(head, path)
        if "safetensors" in type(e).__module__ and "header" in str(e).lower():
            raise
        return _read_bf16_aware(path)


def _read_safetensors_bytes(raw: bytes) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    from safetensors.numpy import load as load_bytes
    try:
        arrays = load_bytes(raw)
    except Exception:  # noqa: BLE001 - safetensors raises its own error types
        _refuse_pickle(raw[:1], "the file object")
        raise
    (n,) = struct.unpack("<Q", raw[:8])
    return arrays, json.loads(raw[8:8 + n]).get("__metadata__", {}) or {}


def load(f, map_location=None, weights_only: bool = True, device=None) -> Any:
    """Read a file written by lt.save, a torch.save zip checkpoint, or any safetensors file
    (PyTorch's, Hugging Face's), putting its tensors on `device` (or map_location; the default
    device if neither). Pickled code never runs: weights_only=False reads the same things."""
    device = device if device is not None else map_location
    if isinstance(f, (str, os.PathLike)):
        path = os.fspath(f)
        with open(path, "rb") as fh:
            head = fh.read(4)
        if torch_checkpoint.is_checkpoint(head):
            return torch_checkpoint.load(path, device)
        arrays, meta = _read_safetensors_path(path, head)
    else:
        raw = f.read()
        if torch_checkpoint.is_checkpoint(raw[:4]):
            return torch_checkpoint.load(io.BytesIO(raw), device)
        arrays, meta = _read_safetensors_bytes(raw)
    tensors = {k: _as_tensor(v, device) for k, v in arrays.items()}
    if _META_KEY in meta:
        return _rebuild(json.loads(meta[_META_KEY]), tensors)
    return OrderedDict((k, tensors[k]) for k in arrays)
