"""Activation modules and MultiheadAttention."""
from __future__ import annotations

import math

from ..creation import empty, ones
from ..tensor import Tensor
from . import functional as F
from . import init
from ._arguments import REQUIRED, bind
from .linear import Linear
from .module import Module
from .parameter import Parameter
from ..elementwise import where


class _Pointwise(Module):
    """A module applying one functional activation, FUNCTION, with its arguments kept as
    attributes: PARAMS names them, in PyTorch's order, with PyTorch's defaults (REQUIRED for
    none). `inplace` (positionally last, as PyTorch's) writes the result into the input, where
    the function takes it."""
    FUNCTION = None
    PARAMS: tuple[tuple[str, object], ...] = ()
    REQUIRED = REQUIRED

    def __init__(self, *args, **kwargs) -> None:
        super().__init__()
        for name, value in bind(type(self).__name__, self.PARAMS + (("inplace", False),), args, kwargs).items():
            setattr(self, name, value)

    def forward(self, input: Tensor) -> Tensor:
        arguments = {name: getattr(self, name) for name, _ in self.PARAMS}
        if self.inplace:  # only functions that take it are given it (bind refuses it for the others)
            arguments["inplace"] = True
        return type(self).FUNCTION(input, **arguments)

    def extra_repr(self) -> str:
        return ", ".join(f"{name}={getattr(self, name)}" for name, _ in self.PARAMS)


def _pointwise(name: str, function, *params: tuple[str, object]) -> type:
    return type(name, (_Pointwise,), {"FUNCTION": staticmethod(function), "PARAMS": params,
                                      "__doc__": f"Applies {function.__name__} (lt.nn.functional)."})


ReLU6 = _pointwise("ReLU6", F.relu6)
Hardtanh = _pointwise("Hardtanh", F.hardtanh, ("min_val", -1.0), ("max_val", 1.0))
Hardswish = _pointwise("Hardswish", F.hardswish)
Hardsigmoid = _pointwise("Hardsigmoid", F.hardsigmoid)
LogSigmoid = _pointwise("LogSigmoid", F.logsigmoid)
Mish = _pointwise("Mish", F.mish)
SELU = _pointwise("SELU", F.selu)
CELU = _pointwise("CELU", F.celu, ("alpha", 1.0))
Softsign = _pointwise("Softsign", F.softsign)
Tanhshrink = _pointwise("Tanhshrink", F.tanhshrink)
Threshold = _pointwise("Threshold", F.threshold, ("threshold", _Pointwise.REQUIRED), ("value", _Pointwise.REQUIRED))
Softshrink = _pointwise("Softshrink", F.softshrink, ("lambd", 0.5))
Hardshrink = _pointwise("Hardshrink", F.hardshrink, ("lambd", 0.5))
GLU = _pointwise("GLU", F.glu, ("dim", -1))
Softmin = _pointwise("Softmin", F.softmin, ("dim", None))


class PReLU(Module):
    """x where x > 0, else a learnt slope times x: one slope, or one per channel."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device=None, dtype=None) -> None:
        super().__init__()
        self.num_parameters = num_parameters
        self.weight = Parameter(ones(num_parameters, device=device, dtype=dtype) * init)

    def forward(self, input: Tensor) -> Tensor:
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class ReLU(Module):
    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.relu(input, inplace=True) if self.inplace else input.relu()


class GELU(Module):
    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.silu(input, inplace=self.inplace)


class Tanh(Module):
    def forward(self, input: Tensor) -> Tensor:
        return input.tanh()


class Sigmoid(Module):
    def forward(self, input: Tensor) -> Tensor:
        return input.sigmoid()


class LeakyReLU(Module):
    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.leaky_relu(input, self.negative_slope, inplace=self.inplace)


class ELU(Module):
    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.elu(input, self.alpha, inplace=self.inplace)


class Softplus(Module):
    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input: Tensor) -> Tensor:
        return F.softplus(input, self.beta, self.threshold)


class Softmax(Module):
    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax2d(Module):
    """Softmax over the channels (dim -3) of a (N, C, H, W) or (C, H, W) input."""

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {input.ndim}D instead "
                             f"(shape {tuple(input.shape)})")
        return F.softmax(input, -3)


class LogSoftmax(Softmax):
    def forward(self, input: Tensor) -> Tensor:
        return F.log_softmax(input, self.dim)


class MultiheadAttention(Module):
    """PyTorch's nn.MultiheadAttention (packed in_proj_weight, batch_first option, key_padding_mask,
    attn_mask bool (True = masked out) or float, need_weights averaged over heads)."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim=None, vdim=None,
                 batch_first: bool = False, device=None, dtype=None) -> None:
        super().__init__()
        if add_bias_kv or add_zero_attn:
            raise NotImplementedError("MultiheadAttention: add_bias_kv and add_zero_attn are not supported")
        if (kdim is not None and kdim != embed_dim) or (vdim is not None and vdim != embed_dim):
            raise NotImplementedError("MultiheadAttention: kdim/vdim different from embed_dim are not supported")
        if embed_dim % num_heads:
            raise AssertionError("embed_dim must be divisible by num_heads")
        self.embed_dim, self.num_heads, self.dropout = embed_dim, num_heads, dropout
        self.head_dim, self.batch_first = embed_dim // num_heads, batch_first
        self.kdim = self.vdim = embed_dim
        self._qkv_same_embed_dim = True
        self.in_proj_weight = Parameter(empty((3 * embed_dim, embed_dim), device=device, dtype=dtype))
        if bias:
            self.in_proj_bias = Parameter(empty(3 * embed_dim, device=device, dtype=dtype))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, device=device, dtype=dtype)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        init.xavier_uniform_(self.in_proj_weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Tensor | None = None,
                need_weights: bool = True, attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False):
        unbatched = query.ndim == 2
        if unbatched:
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        elif self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        L, N, E = query.shape
        S = key.shape[0]
        H, hd = self.num_heads, self.head_dim
        w, b = self.in_proj_weight, self.in_proj_bias
        if query is key and key is value:
            q, k, v = F.linear(query, w, b).chunk(3, -1)
        else:
            wq, wk, wv = w.chunk(3, 0)
            bq, bk, bv = b.chunk(3, 0) if b is not None else (None, None, None)
            q, k, v = F.linear(query, wq, bq), F.linear(key, wk, bk), F.linear(value, wv, bv)
        # (L, N, E) -> (N, H, L, hd)
        q = q.reshape(L, N, H, hd).permute(1, 2, 0, 3)
        k = k.reshape(S, N, H, hd).permute(1, 2, 0, 3)
        v = v.reshape(S, N, H, hd).permute(1, 2, 0, 3)
        scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))
        if is_causal and attn_mask is None:
            attn_mask = ones(L, S, device=query.device).triu(1).bool()
        if attn_mask is not None:
            mask = attn_mask
            if mask.ndim == 3:  # (N*H, L, S)
                mask = mask.reshape(N, H, L, S)
            if mask.dtype.name == "bool":
                scores = where(mask, -math.inf, scores)
            else:
                scores = scores + mask
        if key_padding_mask is not None:
            kpm = key_padding_mask.reshape(N, 1, 1, S)
            if kpm.dtype.name == "bool":
                scores = where(kpm, -math.inf, scores)
            else:
                scores = scores + kpm
        weights = F.softmax(scores, -1)
        if self.training and self.dropout > 0:
            weights = F.dropout(weights, self.dropout, True)
        out = (weights @ v).permute(2, 0, 1, 3).reshape(L, N, E)
        out = self.out_proj(out)
        if unbatched:
            out = out.squeeze(1)
        elif self.batch_first:
            out = out.transpose(0, 1)
        if not need_weights:
            return out, None
        attn = weights.mean(1) if average_attn_weights else weights
        if unbatched:
            attn = attn.squeeze(0)
        return out, attn


class RReLU(Module):
    """x where x > 0, else x times a random slope from [lower, upper) in training, their mean in eval."""

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, inplace: bool = False) -> None:
        super().__init__()
        self.lower, self.upper, self.inplace = lower, upper, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"lower={self.lower}, upper={self.upper}" + (", inplace=True" if self.inplace else "")
