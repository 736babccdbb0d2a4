"""Checks on values the host has not seen: an index held in tensor data, an integer divisor.

An op that gathers or scatters by a tensor of indices asks for a check: a lazy reduction
to one offending index (or a sentinel when every index is in range); an integer division
by a tensor asks that no divisor be 0, as PyTorch raises ZeroDivisionError for it. Checks pending on a
device are realised with that device's next realisation, fused into its kernels, so a
training step waits for nothing; their results are read when a value next leaves the
device (`.numpy()`, `.item()`, `print`, `lt.synchronize()`), and the first offending one
raises (IndexError for an index) naming the op, the value, the size and the user's line. With LAZY=0
the check is realised with the op and read at once: the op itself raises.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import capture, config
from .ir import build as B
from .ir import dtype as D
from .ir.node import Node, const
from .sites import user_site

NO_OFFENDER = -(2 ** 63)  # the check's value when every index is in range


@dataclass(frozen=True)
class Failure:
    """What a failing check raises: the exception's type and text ("{index}" in it stands for
    the offending value)."""
    error: type
    text: str
    first: bool = False  # the check reduced the negated values: the smallest offender is named

    def exception(self, value: int) -> Exception:
        return self.error(self.text.replace("{index}", str(-value if self.first else value)))


@dataclass
class IndexCheck:
    value: Node  # int64 scalar: an offending value (an out-of-range index), or NO_OFFENDER
    message: Failure
    recording: Any = None  # the lt.jit capture it was asked in, if any


_PENDING: list[IndexCheck] = []  # not realised yet
_DONE: list[tuple[Any, str]] = []  # (realised BufferView, message), not read yet
# unread checks kept per call site: past this the oldest is read, so that a loop that never
# reads a value holds a few scalars per site, not one per step
_UNREAD_PER_SITE = 4


def bounds(op: str, index: Node, size: int, dim: int, allowed: int | None = None, negative: bool = True) -> None:
    """Ask that every entry of `index` lie in [-size, size) (or [0, size) when not
    `negative`: gather, scatter, index_select), `allowed` excepted (an ignore_index)."""
    if index.numel == 0:
        return
    idx = B.cast(index, D.int64) if index.dtype != D.int64 else index
    low = -size if negative else 0
    bad = B.elementwise("or", B.elementwise("lt", idx, _int(low, idx)), B.elementwise("le", _int(size, idx), idx))
    if allowed is not None:
        bad = B.elementwise("and", bad, B.elementwise("ne", idx, _int(allowed, idx)))
    _ask(bad, idx, Failure(IndexError, f"{op}: index {{index}} is out of bounds for dimension {dim} with size {size} "
                                       f"(raised where the indices were read; the op was called at {user_site()})"))


def nonzero_divisor(op: str, divisor: Node) -> None:
    """Ask that no entry of the integer `divisor` be 0: PyTorch raises ZeroDivisionError where
    C would trap (and lazytensor's kernels would give 0)."""
    if divisor.numel == 0:
        return
    d = B.cast(divisor, D.int64) if divisor.dtype != D.int64 else divisor
    _ask(B.elementwise("eq", d, _int(0, d)), d,
         Failure(RuntimeError, f"{op}: ZeroDivisionError: an integer divisor is 0 (raised where the result was "
                               f"read; the op was called at {user_site()})"))


def distribution(op: str, weights: Node, distinct: int = 0) -> None:
    """Ask that the float rows (last axis) of `weights` be a distribution to sample from, as
    PyTorch does: every weight finite and not negative, every row's sum above 0, and at least
    `distinct` weights above 0 in each row (draws without replacement)."""
    if weights.numel == 0:
        return
    dev, shape = weights.device, weights.shape
    _ask(_outside(weights, 0.0, float("inf"), "lt"), _int(1, weights),
         Failure(RuntimeError, f"{op}: probability tensor contains either inf, nan or element < 0 (raised where the "
                               f"sample was read; the op was called at {user_site()})"))
    sums = B.reduce(weights, "sum", (len(shape) - 1,))
    _ask(B.elementwise("le", sums, const(0.0, weights.dtype, sums.shape, dev)), _int(1, sums),
         Failure(RuntimeError, f"{op}: invalid multinomial distribution (sum of probabilities <= 0) (raised where "
                               f"the sample was read; the op was called at {user_site()})"))
    if distinct > 1:
        positive = B.cast(B.elementwise("lt", const(0.0, weights.dtype, shape, dev), weights), D.int64)
        count = B.reduce(positive, "sum", (len(shape) - 1,))
        _ask(B.elementwise("lt", count, _int(distinct, count)), count,
             Failure(RuntimeError, f"{op}: invalid multinomial distribution (with replacement=False, not enough "
                                   f"non-negative category to sample): a row has {{index}} weights above 0 for "
                                   f"{distinct} draws (raised where the sample was read; the op was called at "
                                   f"{user_site()})"))


def within(op: str, values: Node, low: float, high: float, what: str) -> None:
    """Ask that every entry of the float `values` lie in [low, high] (NaN does not), as PyTorch
    asks of binary_cross_entropy's input and target."""
    if values.numel == 0:
        return
    _ask(_outside(values, low, high, "le"), _int(1, values),
         Failure(RuntimeError, f"{op}: all elements of {what} should be between {low:g} and {high:g} (raised where "
                               f"the result was read; the op was called at {user_site()})"))


def first_where(op: str, bad: Node, order: Node, error: type, text: str) -> Node | None:
    """Ask that `bad` hold nowhere; where it does, raise `error` with `text`, whose "{index}"
    names the smallest int64 `order` where it holds (the first failing step of a factorisation).
    Returns the check's value (the caller realises it at once with LAZY=0, when the op it
    checks ran already)."""
    if bad.numel == 0:
        return None
    negated = B.elementwise("neg", B.cast(order, D.int64) if order.dtype != D.int64 else order)
    _ask(bad, negated, Failure(error, f"{text} (raised where the result was read; the op was called at "
                                      f"{user_site()})", first=True))
    return _PENDING[-1].value


def _outside(values: Node, low: float, high: float, below_high: str) -> Node:
    """Where `values` is not in [low, high] ("le") or [low, high) ("lt"); NaN is outside."""
    dev, shape, dt = values.device, values.shape, values.dtype
    inside = B.elementwise("and", B.elementwise("le", const(low, dt, shape, dev), values),
                           B.elementwise(below_high, values, const(high, dt, shape, dev)))
    return B.elementwise("not", inside)


def _int(value: int, like: Node) -> Node:
    return const(value, D.int64, like.shape, like.device)


def _ask(bad: Node, value: Node, failure: Failure) -> None:
    """A pending check: the largest int64 `value` where `bad` holds (the one the failure names),
    or NO_OFFENDER where it holds nowhere."""
    found = B.elementwise("where", bad, value, _int(NO_OFFENDER, value))
    offender = B.reduce(found, "max", tuple(range(len(value.shape))))
    _PENDING.append(IndexCheck(B.reshape(offender, ()), failure, capture.ACTIVE))


def pending_on(device: str) -> list[Node]:
    """The values of the checks waiting for a realisation on `device` (the engine adds them).
    While a capture realises a value pending from before the call (outside the recording),
    the checks asked in the call wait for one of its recorded realisations: realised there,
    their kernels, and the call's work they read, would be missing from the captured program."""
    rec = capture.ACTIVE
    held = rec if rec is not None and rec.paused else None
    return [c.value for c in _PENDING
            if c.value.device == device and not c.value.realized and (held is None or c.recording is not held)]


def realised() -> None:
    """After a realisation: checks whose values now hold a buffer are ready to be read (at
    once with LAZY=0, so that the op raises)."""
    still = []
    for c in _PENDING:
        if c.value.realized:
            add_done(c.value.buffer, c.message)
            capture.checked(c.value.buffer, c.message)
        else:
            still.append(c)
    _PENDING[:] = still
    if not config.LAZY:
        raise_if_any()


def add_done(view: Any, message: Failure) -> None:
    """A computed check (also one a replayed kernel computed), to be read like the others."""
    same = [i for i, (_, m) in enumerate(_DONE) if m == message]
    if len(same) >= _UNREAD_PER_SITE:
        oldest = _DONE.pop(same[0])
        _raise_if_bad(*oldest)
    _DONE.append((view, message))


def raise_if_any() -> None:
    """Read the realised checks; raise for the first offending value."""
    if not _DONE:
        return
    done = list(_DONE)
    _DONE.clear()
    for view, message in done:
        _raise_if_bad(view, message)


def _raise_if_bad(view: Any, message: Failure) -> None:
    value = int(view.buffer.device.copyout(view).reshape(()))
    if value != NO_OFFENDER:
        raise message.exception(value)
