"""repr(tensor), laid out as PyTorch prints it."""
from __future__ import annotations

import numpy as np

from .ir import dtype as D

PRECISION = 4
THRESHOLD = 1000
EDGE_ITEMS = 3
LINE_WIDTH = 80
SCI_MODE: bool | None = None  # None: chosen from the values, as PyTorch chooses
# torch.set_printoptions' profiles: (precision, threshold, edgeitems, linewidth)
_PROFILES = {"default": (4, 1000, 3, 80), "short": (2, 1000, 2, 80), "full": (4, float("inf"), 3, 80)}


def set_printoptions(precision: int | None = None, threshold: float | None = None, edgeitems: int | None = None,
                     linewidth: int | None = None, profile: str | None = None, sci_mode: bool | None = None) -> None:
    """torch.set_printoptions: a profile first, then the options given; sci_mode=None lets the
    values choose again."""
    global PRECISION, THRESHOLD, EDGE_ITEMS, LINE_WIDTH, SCI_MODE
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"set_printoptions: profile must be one of {sorted(_PROFILES)}, got {profile!r}")
        PRECISION, THRESHOLD, EDGE_ITEMS, LINE_WIDTH = _PROFILES[profile]
    PRECISION = PRECISION if precision is None else precision
    THRESHOLD = THRESHOLD if threshold is None else threshold
    EDGE_ITEMS = EDGE_ITEMS if edgeitems is None else edgeitems
    LINE_WIDTH = LINE_WIDTH if linewidth is None else linewidth
    SCI_MODE = sci_mode
_DEFAULT_DTYPES = (D.float32, D.int64, D.bool_)


class _Formatter:
    """Chooses one format for every element so columns line up."""

    def __init__(self, values: np.ndarray):
        self.floating = values.dtype.kind == "f"
        self.is_bool = values.dtype.kind == "b"
        self.int_mode, self.sci_mode = True, False
        if self.floating:
            finite = values[np.isfinite(values)].astype(np.float64)
            nonzero = np.abs(finite[finite != 0])
            self.int_mode = bool(np.all(finite == np.round(finite)))
            if nonzero.size:
                big, small = nonzero.max(), nonzero.min()
                # as PyTorch's: a wide range or a large value (or, unless all are whole, a small one)
                self.sci_mode = big / small > 1000.0 or big > 1e8 or (not self.int_mode and small < 1e-4)
            if SCI_MODE is not None:
                self.sci_mode = SCI_MODE
        texts = [self.plain(v) for v in values.reshape(-1)] if values.size else [""]
        self.width = max(len(t) for t in texts)

    def plain(self, v) -> str:
        if self.is_bool:
            return str(bool(v))
        if not self.floating:
            return str(int(v))
        if np.isnan(v):
            return "nan"
        if np.isinf(v):
            return "inf" if v > 0 else "-inf"
        if self.sci_mode:
            return f"{float(v):.{PRECISION}e}"
        if self.int_mode:
            return f"{float(v):.0f}."
        return f"{float(v):.{PRECISION}f}"

    def __call__(self, v) -> str:
        return self.plain(v).rjust(self.width)


def _format(values: np.ndarray, fmt: _Formatter, indent: int, summarize: bool) -> str:
    if values.ndim == 0:
        return fmt(values.item())
    n = values.shape[0]
    cut = summarize and n > 2 * EDGE_ITEMS
    idx = list(range(EDGE_ITEMS)) + [None] + list(range(n - EDGE_ITEMS, n)) if cut else list(range(n))
    if values.ndim == 1:
        items = [" ..." if i is None else fmt(values[i]) for i in idx]  # PyTorch's ellipsis, spaced
        per_line = max(1, (LINE_WIDTH - indent) // (fmt.width + 2))
        lines = [", ".join(items[k:k + per_line]) for k in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    sep = "," + "\n" * (values.ndim - 1) + " " * (indent + 1)
    parts = ["..." if i is None else _format(values[i], fmt, indent + 1, summarize) for i in idx]
    return "[" + sep.join(parts) + "]"


def _summarized(values: np.ndarray) -> np.ndarray:
    """The values a summarised print shows (EDGE_ITEMS at each end of each long dim): PyTorch
    picks the format from these alone."""
    for axis, n in enumerate(values.shape):
        if n > 2 * EDGE_ITEMS:
            values = np.concatenate([values.take(range(EDGE_ITEMS), axis),
                                     values.take(range(n - EDGE_ITEMS, n), axis)], axis)
    return values


def tensor_repr(t) -> str:
    values = t.numpy()
    summarize = values.size > THRESHOLD
    suffixes = []
    if values.size == 0 and values.ndim != 1:
        body = "[]"
        suffixes.append(f"size={tuple(values.shape)}")
    else:
        shown = _summarized(values) if summarize else values
        body = _format(values, _Formatter(shown), len("tensor("), summarize)
    if t.dtype not in _DEFAULT_DTYPES or (values.size == 0 and t.dtype != D.float32):
        suffixes.append(f"dtype={t.dtype!r}")
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{type(t.grad_fn).__name__}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return "tensor(" + ", ".join([body] + suffixes) + ")"
