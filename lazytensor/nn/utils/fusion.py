"""torch.nn.utils.fusion: fold an eval-mode BatchNorm into the convolution or linear layer
before it (new weights w * gamma / sqrt(var + eps) and a bias to match)."""
from __future__ import annotations

import copy

from ...creation import zeros_like
from ...tensor import Tensor
from ..module import Module
from ..parameter import Parameter


def _batch_norm_scale(bn_rv: Tensor, bn_eps: float, bn_w: Tensor | None) -> Tensor:
    """gamma / sqrt(running_var + eps), the per-channel factor the fused weight takes."""
    scale = (bn_rv + bn_eps).rsqrt()
    return scale if bn_w is None else bn_w * scale


def _fused_bias(bias: Tensor | None, bn_rm: Tensor, scale: Tensor, bn_b: Tensor | None, dtype) -> Tensor:
    bias = zeros_like(bn_rm) if bias is None else bias
    shifted = (bias - bn_rm) * scale
    return (shifted if bn_b is None else shifted + bn_b).to(dtype)


def _parameters(fused_w: Tensor, w: Tensor, fused_b: Tensor, b: Tensor | None) -> tuple[Parameter, Parameter]:
    """New leaves (as PyTorch's Parameter(t) of a computed t), requiring grad as the originals did."""
    return (Parameter(fused_w.detach(), w.requires_grad),
            Parameter(fused_b.detach(), b is not None and b.requires_grad))


def fuse_conv_bn_weights(conv_w: Tensor, conv_b: Tensor | None, bn_rm: Tensor, bn_rv: Tensor, bn_eps: float,
                         bn_w: Tensor | None, bn_b: Tensor | None, transpose: bool = False) -> tuple[Parameter, Parameter]:
    """The convolution's weight and bias with the batch norm folded in (dim 1 of a transposed one)."""
    scale = _batch_norm_scale(bn_rv, bn_eps, bn_w)
    shape = ([1, -1] if transpose else [-1, 1]) + [1] * (conv_w.ndim - 2)
    fused_w = (conv_w * scale.reshape(shape)).to(conv_w.dtype)
    fused_b = _fused_bias(conv_b, bn_rm, scale, bn_b, conv_w.dtype if conv_b is None else conv_b.dtype)
    return _parameters(fused_w, conv_w, fused_b, conv_b)


def fuse_linear_bn_weights(linear_w: Tensor, linear_b: Tensor | None, bn_rm: Tensor, bn_rv: Tensor, bn_eps: float,
                           bn_w: Tensor, bn_b: Tensor) -> tuple[Parameter, Parameter]:
    """The linear layer's weight and bias with the batch norm over its outputs folded in."""
    scale = _batch_norm_scale(bn_rv, bn_eps, bn_w)
    fused_w = linear_w * scale.unsqueeze(-1).to(linear_w.dtype)
    fused_b = _fused_bias(linear_b, bn_rm, scale, bn_b, linear_w.dtype if linear_b is None else linear_b.dtype)
    return _parameters(fused_w, linear_w, fused_b, linear_b)


def _check_eval(layer: Module, bn: Module) -> None:
    if layer.training or bn.training:
        raise AssertionError("Fusion only for eval!")
    if bn.running_mean is None or bn.running_var is None:
        raise AssertionError("bn.running_mean and bn.running_var must not be None")


def fuse_conv_bn_eval(conv: Module, bn: Module, transpose: bool = False) -> Module:
    """A copy of the convolution that computes conv followed by bn (both in eval mode)."""
    _check_eval(conv, bn)
    fused = copy.deepcopy(conv)
    fused.weight, fused.bias = fuse_conv_bn_weights(fused.weight, fused.bias, bn.running_mean, bn.running_var,
                                                    bn.eps, bn.weight, bn.bias, transpose)
    return fused


def fuse_linear_bn_eval(linear: Module, bn: Module) -> Module:
    """A copy of the linear layer that computes linear followed by bn (both in eval mode)."""
    _check_eval(linear, bn)
    if linear.out_features != bn.num_features and bn.num_features != 1:
        raise AssertionError(f"To fuse, linear.out_features == bn.num_features or bn.num_features == 1, got "
                             f"linear.out_features={linear.out_features} and bn.num_features={bn.num_features}")
    fused = copy.deepcopy(linear)
    fused.weight, fused.bias = fuse_linear_bn_weights(fused.weight, fused.bias, bn.running_mean, bn.running_var,
                                                      bn.eps, bn.weight, bn.bias)
    return fused
