"""Grad mode: whether ops record autograd history (no_grad, enable_grad, set_grad_enabled)."""
from __future__ import annotations

import functools

from .. import config


def is_grad_enabled() -> bool:
    return config.GRAD_ENABLED


class set_grad_enabled:
    """Context manager (and function) that sets grad mode; restores it on exit."""

    def __init__(self, mode: bool):
        self.prev = config.GRAD_ENABLED
        config.GRAD_ENABLED = bool(mode)

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc) -> None:
        config.GRAD_ENABLED = self.prev


class _GradMode:
    mode = True

    def __enter__(self) -> None:
        self.prev = config.GRAD_ENABLED
        config.GRAD_ENABLED = self.mode

    def __exit__(self, *exc) -> None:
        config.GRAD_ENABLED = self.prev

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)
        return wrapped


class no_grad(_GradMode):
    """Ops inside record no autograd history (results do not require grad)."""
    mode = False


class enable_grad(_GradMode):
    mode = True


inference_mode = no_grad
