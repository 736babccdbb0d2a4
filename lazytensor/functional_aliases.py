"""torch's top-level forms of nn.functional ops (torch.conv2d, torch.layer_norm, ...). Most take
F's arguments in F's order and are F's functions; the others take torch's positional order,
listed here, and pass it on to F by name."""
from __future__ import annotations

from .nn import functional as F
from .tensor import Tensor

# the same arguments in the same order as nn.functional's
conv1d, conv2d, conv3d = F.conv1d, F.conv2d, F.conv3d
conv_transpose1d, conv_transpose2d, conv_transpose3d = F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d
max_pool1d, max_pool2d, avg_pool1d = F.max_pool1d, F.max_pool2d, F.avg_pool1d
adaptive_avg_pool1d = F.adaptive_avg_pool1d
pairwise_distance, cosine_similarity, bilinear = F.pairwise_distance, F.cosine_similarity, F.bilinear
pixel_shuffle, pixel_unshuffle, channel_shuffle = F.pixel_shuffle, F.pixel_unshuffle, F.channel_shuffle
prelu, hardshrink, selu, celu, threshold, threshold_ = F.prelu, F.hardshrink, F.selu, F.celu, F.threshold, F.threshold_
rms_norm = F.rms_norm


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5, cudnn_enable: bool = True) -> Tensor:
    return F.layer_norm(input, normalized_shape, weight, bias, eps)


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5, cudnn_enabled: bool = True) -> Tensor:
    return F.group_norm(input, num_groups, weight, bias, eps)


def batch_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None, running_mean: Tensor | None,
               running_var: Tensor | None, training: bool, momentum: float, eps: float,
               cudnn_enabled: bool = True) -> Tensor:
    """torch.batch_norm: weight and bias come before the running statistics (F's order is the reverse)."""
    return F.batch_norm(input, running_mean, running_var, weight=weight, bias=bias, training=training,
                        momentum=momentum, eps=eps)


def instance_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None, running_mean: Tensor | None,
                  running_var: Tensor | None, use_input_stats: bool, momentum: float, eps: float,
                  cudnn_enabled: bool = True) -> Tensor:
    """torch.instance_norm: weight and bias come before the running statistics (F's order is the reverse)."""
    return F.instance_norm(input, running_mean, running_var, weight=weight, bias=bias,
                           use_input_stats=use_input_stats, momentum=momentum, eps=eps)


def dropout(input: Tensor, p: float, train: bool) -> Tensor:
    return F.dropout(input, p, training=train)


def embedding(weight: Tensor, indices: Tensor, padding_idx: int = -1, scale_grad_by_freq: bool = False,
              sparse: bool = False) -> Tensor:
    """torch.embedding: the table first, then the indices (F's order is the reverse); a
    padding_idx of -1 is none."""
    return F.embedding(indices, weight, padding_idx=None if padding_idx == -1 else padding_idx,
                       scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)


# torch's top-level losses take the reduction as a number, 0 none (their default), 1 mean, 2 sum
_REDUCTIONS = ("none", "mean", "sum")


def _reduction(op: str, reduction: int) -> str:
    if reduction not in (0, 1, 2):
        raise ValueError(f"{op}: reduction must be 0 (none), 1 (mean) or 2 (sum), got {reduction!r}")
    return _REDUCTIONS[reduction]


def kl_div(input: Tensor, target: Tensor, reduction: int = 0, *, log_target: bool = False) -> Tensor:
    return F.kl_div(input, target, reduction=_reduction("kl_div", reduction), log_target=log_target)


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                        reduction: int = 0) -> Tensor:
    return F.margin_ranking_loss(input1, input2, target, margin, reduction=_reduction("margin_ranking_loss", reduction))


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0, reduction: int = 0) -> Tensor:
    return F.hinge_embedding_loss(input, target, margin, reduction=_reduction("hinge_embedding_loss", reduction))


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0, p: float = 2,
                        eps: float = 1e-6, swap: bool = False, reduction: int = 0) -> Tensor:
    return F.triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap,
                                 reduction=_reduction("triplet_margin_loss", reduction))


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                          reduction: int = 0) -> Tensor:
    return F.cosine_embedding_loss(input1, input2, target, margin,
                                   reduction=_reduction("cosine_embedding_loss", reduction))


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool, full: bool, eps: float,
                     reduction: int) -> Tensor:
    return F.poisson_nll_loss(input, target, log_input, full, eps=eps,
                              reduction=_reduction("poisson_nll_loss", reduction))


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     pos_weight: Tensor | None = None, reduction: int = 0) -> Tensor:
    """torch.binary_cross_entropy_with_logits: pos_weight before the reduction (F's order differs)."""
    return F.binary_cross_entropy_with_logits(input, target, weight, pos_weight=pos_weight,
                                              reduction=_reduction("binary_cross_entropy_with_logits", reduction))
