"""torch's process-wide switches that training scripts set at the top: recorded and answered,
changing nothing, since lazytensor's kernels are deterministic already (counter-based random
numbers, fixed reduction orders) and its float32 matmuls are float32 throughout."""
from __future__ import annotations

import warnings

_SETTINGS = {"deterministic": False, "warn_only": False, "matmul_precision": "highest"}
_MATMUL_PRECISIONS = ("highest", "high", "medium")


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    _SETTINGS.update(deterministic=bool(mode), warn_only=bool(warn_only))


def are_deterministic_algorithms_enabled() -> bool:
    return _SETTINGS["deterministic"]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    return _SETTINGS["warn_only"]


def set_float32_matmul_precision(precision: str) -> None:
    """Accepts PyTorch's levels; float32 matmuls stay float32 (PyTorch's "highest") whatever is set."""
    if precision not in _MATMUL_PRECISIONS:  # PyTorch warns and keeps the setting
        warnings.warn(f"{precision} is not one of 'highest', 'high', or 'medium'; the current "
                      f"set_float32_matmul_precision call has no effect.")
        return
    _SETTINGS["matmul_precision"] = precision


def get_float32_matmul_precision() -> str:
    return _SETTINGS["matmul_precision"]
