"""Loss modules (thin wrappers over lt.nn.functional)."""
from __future__ import annotations

from ..tensor import Tensor
from . import functional as F
from ._arguments import bind
from .module import Module


class _Loss(Module):
    def __init__(self, size_average=None, reduce=None, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = F._reduction(reduction, size_average, reduce)


class _WeightedLoss(_Loss):
    def __init__(self, weight: Tensor | None = None, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)


class CrossEntropyLoss(_WeightedLoss):
    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(input, target, self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean") -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.nll_loss(input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction)


class MSELoss(_Loss):
    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.l1_loss(input, target, reduction=self.reduction)


class HuberLoss(_Loss):
    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class KLDivLoss(_Loss):
    def __init__(self, size_average=None, reduce=None, reduction: str = "mean", log_target: bool = False) -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class SmoothL1Loss(_Loss):
    def __init__(self, size_average=None, reduce=None, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class BCELoss(_WeightedLoss):
    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean",
                 pos_weight=None) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(input, target, self.weight, reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


class _FunctionalLoss(_Loss):
    """A loss module applying FUNCTION with its options kept as attributes: PARAMS names the
    constructor's arguments in PyTorch's order with its defaults (the legacy size_average and
    reduce among them, folded into `reduction`); POSITIONAL, how many may be given by position;
    a `weight` is a buffer."""
    FUNCTION = None
    PARAMS: tuple[tuple[str, object], ...] = ()
    POSITIONAL: int | None = None

    def __init__(self, *args, **kwargs) -> None:
        values = bind(type(self).__name__, self.PARAMS, args, kwargs, self.POSITIONAL)
        super().__init__(values.pop("size_average", None), values.pop("reduce", None), values.pop("reduction"))
        self._options = tuple(values)
        for name, value in values.items():
            if name == "weight":
                self.register_buffer(name, value)
            else:
                setattr(self, name, value)

    def forward(self, *inputs: Tensor) -> Tensor:
        options = {name: getattr(self, name) for name in self._options}
        return type(self).FUNCTION(*inputs, **options, reduction=self.reduction)


def _loss(name: str, function, *params: tuple[str, object], positional: int | None = None) -> type:
    return type(name, (_FunctionalLoss,), {"FUNCTION": staticmethod(function), "PARAMS": params,
                                           "POSITIONAL": positional,
                                           "__doc__": f"Applies {function.__name__} (lt.nn.functional)."})


_LEGACY = (("size_average", None), ("reduce", None), ("reduction", "mean"))
MarginRankingLoss = _loss("MarginRankingLoss", F.margin_ranking_loss, ("margin", 0.0), *_LEGACY)
HingeEmbeddingLoss = _loss("HingeEmbeddingLoss", F.hinge_embedding_loss, ("margin", 1.0), *_LEGACY)
SoftMarginLoss = _loss("SoftMarginLoss", F.soft_margin_loss, *_LEGACY)
MultiLabelSoftMarginLoss = _loss("MultiLabelSoftMarginLoss", F.multilabel_soft_margin_loss, ("weight", None),
                                 *_LEGACY)
TripletMarginLoss = _loss("TripletMarginLoss", F.triplet_margin_loss, ("margin", 1.0), ("p", 2.0), ("eps", 1e-6),
                          ("swap", False), *_LEGACY)
CosineEmbeddingLoss = _loss("CosineEmbeddingLoss", F.cosine_embedding_loss, ("margin", 0.0), *_LEGACY)
PoissonNLLLoss = _loss("PoissonNLLLoss", F.poisson_nll_loss, ("log_input", True), ("full", False),
                       ("size_average", None), ("eps", 1e-8), ("reduce", None), ("reduction", "mean"))
GaussianNLLLoss = _loss("GaussianNLLLoss", F.gaussian_nll_loss, ("full", False), ("eps", 1e-6),
                        ("reduction", "mean"), positional=0)
MultiMarginLoss = _loss("MultiMarginLoss", F.multi_margin_loss, ("p", 1), ("margin", 1.0), ("weight", None),
                        *_LEGACY)
MultiLabelMarginLoss = _loss("MultiLabelMarginLoss", F.multilabel_margin_loss, *_LEGACY)


class TripletMarginWithDistanceLoss(_Loss):
    def __init__(self, *, distance_function=None, margin: float = 1.0, swap: bool = False,
                 reduction: str = "mean") -> None:
        super().__init__(reduction=reduction)
        if margin <= 0:
            raise ValueError(f"TripletMarginWithDistanceLoss: expected margin to be greater than 0, got {margin} "
                             "instead")
        self.distance_function, self.margin, self.swap = distance_function, margin, swap

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return F.triplet_margin_with_distance_loss(anchor, positive, negative, distance_function=self.distance_function,
                                                   margin=self.margin, swap=self.swap, reduction=self.reduction)


class CTCLoss(_Loss):
    def __init__(self, blank: int = 0, reduction: str = "mean", zero_infinity: bool = False) -> None:
        super().__init__(reduction=reduction)
        self.blank, self.zero_infinity = blank, zero_infinity

    def forward(self, log_probs: Tensor, targets: Tensor, input_lengths, target_lengths) -> Tensor:
        return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, self.blank, self.reduction,
                          self.zero_infinity)
