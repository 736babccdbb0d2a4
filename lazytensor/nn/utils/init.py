"""torch.nn.utils.skip_init: a module built without running its initialisers."""
from __future__ import annotations

import inspect

from ..module import Module


def skip_init(module_cls: type, *args, **kwargs) -> Module:
    """The module, its parameters left uninitialised (as PyTorch, their values are unspecified).
    lazytensor builds it as usual: a parameter's initial value stays a lazy, unrun graph until
    it is read, so one overwritten first (a checkpoint's) is never computed."""
    if not (isinstance(module_cls, type) and issubclass(module_cls, Module)):
        raise RuntimeError(f"Expected a Module; got {module_cls}")
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    return module_cls(*args, **kwargs)
