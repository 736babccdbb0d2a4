"""Anomaly mode's state: while it is on, backward computes each op's gradients as it goes
and raises at the first that holds a NaN, naming the op and the line that recorded it."""
from __future__ import annotations

from typing import Callable

# module globals, read as `anomaly.ENABLED` where every recorded op asks (graph.GradFn)
ENABLED = False
CHECK_NAN = True


def is_anomaly_enabled() -> bool:
    return ENABLED


def is_anomaly_check_nan_enabled() -> bool:
    return ENABLED and CHECK_NAN


def set_anomaly(enabled: bool, check_nan: bool = True) -> tuple[bool, bool]:
    """Set the mode; returns the previous (enabled, check_nan)."""
    global ENABLED, CHECK_NAN
    previous = (ENABLED, CHECK_NAN)
    ENABLED, CHECK_NAN = bool(enabled), bool(check_nan)
    return previous


def check_gradients(name: str, site: str | None, grads: list, wrap: Callable) -> None:
    """Raise PyTorch's anomaly error when one of the gradients an op's backward returned
    holds a NaN (computing them now: this mode trades the fusion of backward for the name)."""
    for i, g in enumerate(grads):
        if g.dtype.is_floating_point and bool(wrap(g).isnan().any().item()):
            where = f" Its forward call was at {site}." if site else ""
            raise RuntimeError(f"Function '{name}' returned nan values in its {i}th output.{where}")
