"""torch.nn.functional: the functional forms, built from Tensor ops (so they fuse)."""
from __future__ import annotations

from ..elementwise import gelu, relu, sigmoid, silu, softplus, tanh  # noqa: F401
from ..movement import pad  # noqa: F401
from ..reduce import log_softmax, softmax  # noqa: F401
from ..tensor import Tensor


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    from ..elementwise import where
    return where(x > 0, x, x * negative_slope)


def one_hot(x: Tensor, num_classes: int = -1) -> Tensor:
    from ..creation import arange
    n = int(x.max().item()) + 1 if num_classes < 0 else num_classes
    return (x.unsqueeze(-1) == arange(n, device=x.device)).long()
