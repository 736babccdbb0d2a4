"""Dropout, the channel-wise Dropout1d/2d/3d (inverted: kept values scaled by 1/(1-p) in training,
identity in eval), and AlphaDropout / FeatureAlphaDropout for SELU networks."""
from __future__ import annotations

from ..tensor import Tensor
from . import functional as F
from .module import Module


class Dropout(Module):
    FUNCTION = staticmethod(F.dropout)

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, input: Tensor) -> Tensor:
        return type(self).FUNCTION(input, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout1d(Dropout):
    FUNCTION = staticmethod(F.dropout1d)


class Dropout2d(Dropout):
    FUNCTION = staticmethod(F.dropout2d)


class Dropout3d(Dropout):
    FUNCTION = staticmethod(F.dropout3d)


class AlphaDropout(Dropout):
    FUNCTION = staticmethod(F.alpha_dropout)


class FeatureAlphaDropout(Dropout):
    FUNCTION = staticmethod(F.feature_alpha_dropout)
