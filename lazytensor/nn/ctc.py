"""Connectionist temporal classification loss (nn.functional.ctc_loss), as PyTorch's CPU kernel.

The targets are extended with blanks (blank, l1, blank, l2, ..., blank: 2 S + 1 positions) and
the forward variables alpha_t(s) run over the time steps in log space, one step a few lazy
ops over the whole batch. Backward runs the backward variables beta the other way and gives
PyTorch's gradient, exp(log_probs) - (the posterior of each class at each step), which
assumes log_probs came out of a log_softmax: through one it is the exact gradient, but it is
not the derivative of the loss with respect to log_probs itself (autograd through the alphas
would give that), so a custom Function, not autograd, makes it. Steps past an input's length
get no gradient."""
from __future__ import annotations

import math
from typing import Sequence

from ..autograd.function import Function
from ..creation import arange, tensor
from ..elementwise import where
from ..ir import dtype as D
from ..movement import cat, pad, stack
from ..products import einsum
from ..tensor import Tensor

_NEG_INF = -math.inf


def _lengths(value, batch: int, name: str, shapes: str) -> list[int]:
    """Lengths given as a tensor, a sequence or an int, as a list of `batch` ints (read on the
    host, as PyTorch reads them)."""
    if isinstance(value, Tensor):
        if value.dtype.is_floating_point or value.ndim > 1:
            raise RuntimeError(f"ctc_loss: {name} must be an integer tensor of 0 or 1 dims, got a "
                               f"{value.dtype.name} tensor of shape {tuple(value.shape)} ({shapes})")
        value = value.tolist()
    values = [int(v) for v in value] if isinstance(value, (list, tuple)) else [int(value)]
    if len(values) != batch:
        raise RuntimeError(f"ctc_loss: {name} must be of size batch_size {batch}, got {len(values)} ({shapes})")
    return values


def _padded_targets(targets: Tensor, target_lengths: list[int], width: int, shapes: str) -> Tensor:
    """The targets as (N, width), each row its labels from the start (padded or concatenated)."""
    batch = len(target_lengths)
    if targets.ndim == 2:
        if targets.shape[0] != batch or targets.shape[1] < width:
            raise RuntimeError(f"ctc_loss: padded targets must be of shape (batch_size {batch}, at least the "
                               f"largest target length {width}) ({shapes})")
        return targets[:, :width]
    if targets.ndim != 1 or targets.shape[0] != sum(target_lengths):
        raise RuntimeError(f"ctc_loss: concatenated targets must be 1-D and hold exactly the sum of "
                           f"target_lengths, {sum(target_lengths)} labels ({shapes})")
    if width == 0:
        return targets.new_zeros((batch, 0))
    starts = [sum(target_lengths[:n]) for n in range(batch)]
    last = targets.shape[0] - 1  # a row's padding repeats a label that exists
    index = [[min(s + min(j, max(length - 1, 0)), last) for j in range(width)]
             for s, length in zip(starts, target_lengths)]
    return targets[tensor(index, device=targets.device)]


def _extended(targets: Tensor, target_lengths: list[int], blank: int) -> Tensor:
    """(N, 2 S + 1) labels: blank, l1, blank, l2, ..., blank; blank past each target's end."""
    batch, width = targets.shape
    used = arange(width, device=targets.device) < tensor(target_lengths, device=targets.device).reshape(batch, 1)
    labels = where(used, targets.long(), blank)
    blanks = labels.new_full((batch, width + 1), blank)
    return cat([stack([blanks[:, :width], labels], -1).reshape(batch, 2 * width), blanks[:, width:]], -1)


def _log_add(*terms: Tensor) -> Tensor:
    """log(e^a + e^b + ...) as PyTorch's kernel takes it (its largest term out, 0 when all are -inf).
    Taken as reductions over a stacked last dim: a reduction is stored, so each time step is a
    kernel or two that read the last one's stored result (elementwise steps would fuse into one
    kernel that computes every step again for each of its three readers)."""
    terms = stack(terms, -1)
    m = terms.amax(-1, keepdim=True)
    m = where(m == _NEG_INF, 0.0, m)
    return ((terms - m).exp().sum(-1, keepdim=True).log() + m).squeeze(-1)


def _shift(x: Tensor, by: int, fill) -> Tensor:
    """x moved `by` positions along its last dim (right when positive), `fill` coming in."""
    if by > 0:
        return pad(x[:, :-by], (by, 0), value=fill)
    return pad(x[:, -by:], (0, -by), value=fill)


def _first_alphas(lp0: Tensor, ends: Tensor) -> Tensor:
    """alpha_0: the first step may start at the leading blank or at the first label."""
    position = arange(lp0.shape[1], device=lp0.device)
    return where((position == 0) | ((position == 1) & (ends > 0)), lp0, _NEG_INF)


def _last_betas(lp: Tensor, ends: Tensor) -> Tensor:
    """beta at an input's last step: it may end at the trailing blank or at the last label."""
    position = arange(lp.shape[1], device=lp.device)
    return where((position == ends) | ((position == ends - 1) & (ends > 0)), lp, _NEG_INF)


class _CTCLoss(Function):
    """Per-sample negative log likelihoods from log_probs (T, N, C) and the extended labels
    ext (N, 2 S + 1); `ends[n]` = 2 target_lengths[n] is the last position of sample n."""
    grad_fn_name = "CtcLossBackward0"

    @staticmethod
    def forward(ctx, log_probs: Tensor, ext: Tensor, input_lengths: list[int], ends: Tensor, blank: int,
                zero_infinity: bool) -> Tensor:
        batch, width = ext.shape
        lp = log_probs.gather(2, ext.unsqueeze(0).expand(log_probs.shape[0], batch, width))  # (T, N, 2S+1)
        # a label may be reached from two positions back, over a blank, unless it repeats the label there
        skip = (ext != blank) & (ext != _shift(ext, 2, -1))
        lengths = tensor(input_lengths, device=ext.device).reshape(batch, 1)
        alpha = _first_alphas(lp[0], ends)
        alphas = [alpha]
        for t in range(1, max(max(input_lengths), 1)):
            # no where(t < length, ..., alpha) to hold an ended input's alphas: that would chain
            # every step into the next one's kernel; each input's nll reads its own last step
            alpha = _log_add(alpha, _shift(alpha, 1, _NEG_INF), where(skip, _shift(alpha, 2, _NEG_INF), _NEG_INF))
            alpha = alpha + lp[t]
            alphas.append(alpha)
        alpha = stack(alphas)[(lengths.reshape(batch) - 1).clamp(min=0), arange(batch, device=ext.device)]
        last = alpha.gather(1, ends)
        before = where(ends > 0, alpha.gather(1, (ends - 1).clamp(min=0)), _NEG_INF)
        # an empty input has probability 1 of the empty target, 0 of any other
        nll = where(lengths > 0, -_log_add(last, before), where(ends > 0, math.inf, 0.0)).reshape(batch)
        ctx.save_for_backward(log_probs, ext, lp, nll)
        ctx.alphas, ctx.skip, ctx.lengths, ctx.ends = alphas, skip, lengths, ends
        ctx.zero_infinity = zero_infinity
        return where(nll == math.inf, 0.0, nll) if zero_infinity else nll

    @staticmethod
    def backward(ctx, grad: Tensor):
        log_probs, ext, lp, nll = ctx.saved_tensors
        betas = _betas(lp, ctx.skip, ctx.lengths, ctx.ends, len(ctx.alphas))
        # each extended position's posterior at each step, summed into its class
        posterior = (stack(ctx.alphas) + betas + nll.reshape(1, -1, 1) - lp[:len(betas)]).exp()
        classes = arange(log_probs.shape[2], device=ext.device)
        per_class = einsum("tns,nsc->tnc", posterior, (ext.unsqueeze(-1) == classes).to(log_probs.dtype))
        steps = betas.shape[0]
        live = arange(steps, device=ext.device).reshape(steps, 1, 1) < ctx.lengths.reshape(1, -1, 1)
        if ctx.zero_infinity:
            live = live & (nll != math.inf).reshape(1, -1, 1)
        out = where(live, (log_probs[:steps].exp() - per_class) * grad.reshape(1, -1, 1), 0.0)
        out = pad(out, (0, 0, 0, 0, 0, log_probs.shape[0] - steps))
        return out, None, None, None, None, None


def _betas(lp: Tensor, skip: Tensor, lengths: Tensor, ends: Tensor, steps: int) -> Tensor:
    """beta_t(s) for t < steps, as (steps, N, 2S+1): -inf at and past each input's end."""
    skip_from = _shift(skip, -2, False)  # position s may go on to s + 2
    last = lengths - 1
    beta = lp[0].new_full(tuple(lp.shape[1:]), _NEG_INF)
    betas = []
    for t in reversed(range(steps)):
        step = _log_add(beta, _shift(beta, -1, _NEG_INF), where(skip_from, _shift(beta, -2, _NEG_INF), _NEG_INF))
        beta = where(t < last, step + lp[t], where(t == last, _last_betas(lp[t], ends), _NEG_INF))
        betas.append(beta)
    return stack(betas[::-1])


_REDUCTIONS = ("none", "mean", "sum")


def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths, target_lengths, blank: int = 0,
             reduction: str = "mean", zero_infinity: bool = False) -> Tensor:
    """The CTC loss of log_probs (T, N, C) or (T, C) against targets (N, S) padded or
    concatenated 1-D; 'mean' divides each loss by its target length (at least 1), then averages."""
    shapes = (f"log_probs {log_probs.dtype.name}{list(log_probs.shape)}, targets "
              f"{targets.dtype.name}{list(targets.shape)}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if log_probs.ndim not in (2, 3) or not log_probs.dtype.is_floating_point or targets.dtype.is_floating_point:
        raise RuntimeError(f"ctc_loss: expected float log_probs of shape (T, N, C) or (T, C) and integer targets "
                           f"({shapes})")
    unbatched = log_probs.ndim == 2
    if unbatched:
        log_probs, targets = log_probs.unsqueeze(1), targets.unsqueeze(0)
    steps, batch, classes = log_probs.shape
    input_lengths = _lengths(input_lengths, batch, "input_lengths", shapes)
    target_lengths = _lengths(target_lengths, batch, "target_lengths", shapes)
    _check(input_lengths, target_lengths, steps, blank, classes, shapes)
    width = max(target_lengths)
    ext = _extended(_padded_targets(targets, target_lengths, width, shapes), target_lengths, blank)
    ends = tensor([2 * n for n in target_lengths], device=ext.device).reshape(batch, 1)
    loss = _CTCLoss.apply(log_probs, ext, input_lengths, ends, blank, zero_infinity)
    if unbatched:
        loss = loss.squeeze(0)
    if reduction == "mean":
        divisor = tensor([max(n, 1) for n in target_lengths], dtype=loss.dtype, device=loss.device)
        return (loss / divisor.reshape(loss.shape)).mean()
    return loss.sum() if reduction == "sum" else loss


def _check(input_lengths: Sequence[int], target_lengths: Sequence[int], steps: int, blank: int, classes: int,
           shapes: str) -> None:
    if not 0 <= blank < classes:
        raise RuntimeError(f"ctc_loss: blank {blank} must be in label range [0, {classes}) ({shapes})")
    for n, length in enumerate(input_lengths):
        if not 0 <= length <= steps:
            raise RuntimeError(f"ctc_loss: input_lengths[{n}] = {length} must lie in [0, {steps}], the input's "
                               f"time steps ({shapes})")
    for n, length in enumerate(target_lengths):
        if length < 0:
            raise RuntimeError(f"ctc_loss: target_lengths[{n}] = {length} is negative ({shapes})")
