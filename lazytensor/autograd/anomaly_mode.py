"""torch.autograd.detect_anomaly and set_detect_anomaly (context managers, and decorators)."""
from __future__ import annotations

import functools
import warnings

from ..autodiff.anomaly import is_anomaly_check_nan_enabled, is_anomaly_enabled, set_anomaly

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled", "is_anomaly_check_nan_enabled"]


class detect_anomaly:
    """Inside, backward raises at the first op whose gradient holds a NaN, naming the op and
    the line of its forward call (each gradient is computed as backward reaches it: slow)."""

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = check_nan
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime and should only be "
                      "enabled for debugging.", stacklevel=2)

    def __enter__(self) -> None:
        self.prev = set_anomaly(True, self.check_nan)

    def __exit__(self, *exc) -> None:
        set_anomaly(*self.prev)

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with self.__class__(self.check_nan):
                return fn(*args, **kwargs)
        return wrapped


class set_detect_anomaly:
    """Set anomaly mode on or off (at once, or for a `with` block, restored after)."""

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self.prev = set_anomaly(mode, check_nan)

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc) -> None:
        set_anomaly(*self.prev)
