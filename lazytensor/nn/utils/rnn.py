"""torch.nn.utils.rnn: padding variable-length sequences, and PackedSequence (the time-major
concatenation of their steps, longest sequence first). Lengths are host values, as in
PyTorch (whose lengths live on the CPU): packing reads them, never the data."""
from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

from ...creation import tensor
from ...ir import dtype as D
from ...movement import cat, pad, stack
from ...tensor import Tensor


class PackedSequence(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None = None
    unsorted_indices: Tensor | None = None


def _lengths(lengths, op: str) -> list[int]:
    values = [int(n) for n in (lengths.tolist() if isinstance(lengths, Tensor) else lengths)]
    if any(n <= 0 for n in values):
        raise RuntimeError(f"{op}: every length must be positive, got {values}")
    return values


def pad_sequence(sequences: Sequence[Tensor], batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stack sequences of shape (L_i, *) into (L_max, B, *) ((B, L_max, *) with batch_first)."""
    if padding_side not in ("left", "right"):
        raise ValueError(f"pad_sequence: padding_side must be 'left' or 'right', got {padding_side!r}")
    if not sequences:
        raise RuntimeError("pad_sequence: received an empty list of sequences")
    trailing = {tuple(s.shape[1:]) for s in sequences}
    if len(trailing) > 1 or any(s.ndim == 0 for s in sequences):
        raise RuntimeError(f"pad_sequence: the sequences must share their trailing dims, got shapes "
                           f"{[tuple(s.shape) for s in sequences]}")
    longest = max(s.shape[0] for s in sequences)

    def padded(s: Tensor) -> Tensor:
        extra = longest - s.shape[0]
        widths = (extra, 0) if padding_side == "left" else (0, extra)
        return pad(s, [0, 0] * (s.ndim - 1) + list(widths), value=padding_value)
    return stack([padded(s) for s in sequences], 0 if batch_first else 1)


def pack_padded_sequence(input: Tensor, lengths, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch (T, B, *) ((B, T, *) with batch_first) given each sequence's length."""
    sizes = _lengths(lengths, "pack_padded_sequence")
    x = input.transpose(0, 1) if batch_first else input
    if len(sizes) != x.shape[1] or max(sizes) > x.shape[0]:
        raise RuntimeError(f"pack_padded_sequence: {len(sizes)} lengths (longest {max(sizes)}) for a batch of "
                           f"{x.shape[1]} sequences of {x.shape[0]} steps (input shape {tuple(input.shape)})")
    order = sorted(range(len(sizes)), key=lambda i: -sizes[i])  # stable: ties keep their order
    if enforce_sorted and order != list(range(len(sizes))):
        raise RuntimeError(f"pack_padded_sequence: `lengths` array must be sorted in decreasing order when "
                           f"`enforce_sorted` is True (got {sizes}); pass enforce_sorted=False to pack "
                           "unsorted sequences")
    batch_sizes = [sum(n > t for n in sizes) for t in range(max(sizes))]
    x = x if enforce_sorted else x[:, order]
    data = cat([x[t, :b] for t, b in enumerate(batch_sizes)])
    if enforce_sorted:
        return PackedSequence(data, tensor(batch_sizes, dtype=D.int64))
    return PackedSequence(data, tensor(batch_sizes, dtype=D.int64), tensor(order, dtype=D.int64),
                          tensor(np.argsort(order).tolist(), dtype=D.int64))


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[Tensor, Tensor]:
    """The padded batch and the lengths (in the original order) of a PackedSequence."""
    batch_sizes = [int(b) for b in sequence.batch_sizes.tolist()]
    steps = len(batch_sizes) if total_length is None else total_length
    if steps < len(batch_sizes):
        raise ValueError(f"pad_packed_sequence: expected total_length to be at least the length of the longest "
                         f"sequence ({len(batch_sizes)}), but got total_length={total_length}")
    starts = np.cumsum([0] + batch_sizes)
    data, batch = sequence.data, batch_sizes[0]
    rows = [pad(data[starts[t]:starts[t + 1]], [0, 0] * (data.ndim - 1) + [0, batch - b], value=padding_value)
            for t, b in enumerate(batch_sizes)]
    rows += [data.new_full((batch, *data.shape[1:]), padding_value)] * (steps - len(batch_sizes))
    out = stack(rows)
    lengths = [sum(b > i for b in batch_sizes) for i in range(batch)]
    if sequence.unsorted_indices is not None:
        back = sequence.unsorted_indices.tolist()
        out, lengths = out[:, back], [lengths[i] for i in back]
    return (out.transpose(0, 1) if batch_first else out), tensor(lengths, dtype=D.int64)


def pack_sequence(sequences: Sequence[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    return pack_padded_sequence(pad_sequence(sequences), [s.shape[0] for s in sequences],
                                enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences: Tensor, lengths, batch_first: bool = False) -> list[Tensor]:
    """The sequences of a padded batch, each cut to its length."""
    x = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    return [x[i, :n] for i, n in enumerate(_lengths(lengths, "unpad_sequence"))]


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
