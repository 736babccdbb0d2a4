"""Recurrent layers: RNN, LSTM, GRU (stacked, bidirectional, batch_first) and their cells,
with PyTorch's parameter names, gate orders and initialisation.

A sequence unrolls into one lazy graph: the input projections of every step are one matmul
per layer and direction, and each step adds only the hidden projection and the gates."""
from __future__ import annotations

import itertools
import math
from typing import Callable

from ..creation import empty, zeros
from ..movement import cat, stack
from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter
from .utils.rnn import PackedSequence


def _tanh_cell(gi: Tensor, h: Tensor, w_hh: Tensor, b_hh, state) -> tuple[Tensor, None]:
    return (gi + F.linear(h, w_hh, b_hh)).tanh(), None


def _relu_cell(gi: Tensor, h: Tensor, w_hh: Tensor, b_hh, state) -> tuple[Tensor, None]:
    return (gi + F.linear(h, w_hh, b_hh)).relu(), None


def _lstm_cell(gi: Tensor, h: Tensor, w_hh: Tensor, b_hh, c: Tensor) -> tuple[Tensor, Tensor]:
    """Gates in PyTorch's order: input, forget, cell, output."""
    i, f, g, o = (gi + F.linear(h, w_hh, b_hh)).chunk(4, -1)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    return o.sigmoid() * c.tanh(), c


def _gru_cell(gi: Tensor, h: Tensor, w_hh: Tensor, b_hh, state) -> tuple[Tensor, None]:
    """Gates in PyTorch's order: reset, update, new; the reset gate scales the hidden
    projection (bias included) before it joins the input's."""
    ir, iz, i_n = gi.chunk(3, -1)
    hr, hz, h_n = F.linear(h, w_hh, b_hh).chunk(3, -1)
    r, z = (ir + hr).sigmoid(), (iz + hz).sigmoid()
    n = (i_n + r * h_n).tanh()
    return n + z * (h - n), None


# mode -> (gates per hidden unit, the step)
_MODES: dict[str, tuple[int, Callable]] = {
    "RNN_TANH": (1, _tanh_cell), "RNN_RELU": (1, _relu_cell), "LSTM": (4, _lstm_cell), "GRU": (3, _gru_cell),
}


class RNNBase(Module):
    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None) -> None:
        super().__init__()
        if not 0 <= dropout <= 1:
            raise ValueError(f"{type(self).__name__}: dropout must be in [0, 1], got {dropout}")
        if hidden_size <= 0 or num_layers <= 0:
            raise ValueError(f"{type(self).__name__}: hidden_size and num_layers must be positive, "
                             f"got {hidden_size} and {num_layers}")
        self.mode, self.input_size, self.hidden_size, self.num_layers = mode, input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout, self.bidirectional = bias, batch_first, float(dropout), bidirectional
        gates = _MODES[mode][0] * hidden_size
        directions = 2 if bidirectional else 1
        for layer in range(num_layers):
            width = input_size if layer == 0 else hidden_size * directions
            for suffix in ["", "_reverse"][:directions]:
                self._add(f"weight_ih_l{layer}{suffix}", (gates, width), device, dtype)
                self._add(f"weight_hh_l{layer}{suffix}", (gates, hidden_size), device, dtype)
                if bias:
                    self._add(f"bias_ih_l{layer}{suffix}", (gates,), device, dtype)
                    self._add(f"bias_hh_l{layer}{suffix}", (gates,), device, dtype)
        self.reset_parameters()

    def _add(self, name: str, shape: tuple, device, dtype) -> None:
        self.register_parameter(name, Parameter(empty(shape, device=device, dtype=dtype)))

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _weights(self, layer: int, suffix: str) -> tuple:
        get = lambda kind: getattr(self, f"{kind}_l{layer}{suffix}") if self.bias or kind.startswith("w") else None  # noqa: E731
        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")

    def forward(self, input: Tensor | PackedSequence, hx=None):
        """input (L, N, H_in) ((N, L, H_in) with batch_first, (L, H_in) unbatched, or a
        PackedSequence): the last layer's outputs (of the input's kind) and the final state (h_n, or
        (h_n, c_n) for an LSTM; with a PackedSequence, each sequence's state after its last step)."""
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx)
        name = type(self).__name__
        if input.dim() not in (2, 3) or input.shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected input of shape (L, N, {self.input_size}) or (L, {self.input_size}), "
                             f"got {tuple(input.shape)}")
        unbatched = input.dim() == 2
        x = input.unsqueeze(1) if unbatched else (input.transpose(0, 1) if self.batch_first else input)
        h0, c0 = self._initial_state(x.shape[1], x, hx, unbatched)
        out, h_n, c_n = self._layers(x, None, h0, c0)
        out = out.squeeze(1) if unbatched else (out.transpose(0, 1) if self.batch_first else out)
        if unbatched:
            h_n, c_n = h_n.squeeze(1), None if c_n is None else c_n.squeeze(1)
        return (out, h_n) if self.mode != "LSTM" else (out, (h_n, c_n))

    def _forward_packed(self, input: PackedSequence, hx):
        """A PackedSequence runs step by step over the sequences still going at each step (the
        first batch_sizes[t] of them, longest first); a state given or returned is in the
        sequences' own order, permuted through sorted_indices / unsorted_indices as PyTorch's."""
        data, batch_sizes, sorted_indices, unsorted_indices = input
        if data.dim() != 2 or data.shape[-1] != self.input_size:
            raise ValueError(f"{type(self).__name__}: expected a PackedSequence of data (N, {self.input_size}), got "
                             f"{tuple(data.shape)}")
        sizes = [int(b) for b in batch_sizes.tolist()]
        h0, c0 = self._initial_state(sizes[0], data, hx, False)
        if sorted_indices is not None and hx is not None:
            h0, c0 = h0.index_select(1, sorted_indices), None if c0 is None else c0.index_select(1, sorted_indices)
        out, h_n, c_n = self._layers(data, sizes, h0, c0)
        if unsorted_indices is not None:
            h_n, c_n = h_n.index_select(1, unsorted_indices), None if c_n is None else c_n.index_select(1, unsorted_indices)
        packed = PackedSequence(out, batch_sizes, sorted_indices, unsorted_indices)
        return (packed, h_n) if self.mode != "LSTM" else (packed, (h_n, c_n))

    def _layers(self, data: Tensor, sizes: list[int] | None, h0: Tensor, c0) -> tuple[Tensor, Tensor, Tensor | None]:
        """Every layer and direction over a padded (L, N, H) input (sizes None) or packed rows
        (step t is the next sizes[t] rows): the last layer's output, and the final states stacked
        as h_n (and c_n)."""
        step = _MODES[self.mode][1]
        finals_h, finals_c = [], []
        directions = ["", "_reverse"] if self.bidirectional else [""]
        x = data
        for layer in range(self.num_layers):
            outs = []
            for d, suffix in enumerate(directions):
                k = layer * len(directions) + d
                seq, h, c = self._run(x, sizes, step, self._weights(layer, suffix), h0[k],
                                      None if c0 is None else c0[k], reverse=d == 1)
                outs.append(seq)
                finals_h.append(h)
                finals_c.append(c)
            x = outs[0] if len(outs) == 1 else cat(outs, -1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        return x, stack(finals_h), (stack(finals_c) if self.mode == "LSTM" else None)

    def _initial_state(self, batch: int, like: Tensor, hx, unbatched: bool) -> tuple:
        shape = ((2 if self.bidirectional else 1) * self.num_layers, batch, self.hidden_size)
        if hx is None:
            zero = zeros(shape, dtype=like.dtype, device=like.device)
            return zero, (zero if self.mode == "LSTM" else None)
        states = hx if self.mode == "LSTM" else (hx, None)
        if self.mode == "LSTM" and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise ValueError(f"{type(self).__name__}: hx must be a tuple (h_0, c_0)")
        fixed = []
        for s in states:
            if s is None:
                fixed.append(None)
                continue
            s = s.unsqueeze(1) if unbatched else s
            if tuple(s.shape) != shape:
                raise ValueError(f"{type(self).__name__}: expected hidden state of shape {shape}, got {tuple(s.shape)}")
            fixed.append(s)
        return fixed[0], fixed[1]

    @staticmethod
    def _run(x: Tensor, sizes: list[int] | None, step: Callable, weights: tuple, h: Tensor, c,
             reverse: bool) -> tuple:
        """One layer and direction over x[t] for each t (padded), or (packed) over rows starts[t]:
        starts[t] + sizes[t] of x, moving the first sizes[t] states (the sequences still going;
        the rest keep theirs)."""
        w_ih, w_hh, b_ih, b_hh = weights
        projected = F.linear(x, w_ih, b_ih)  # every step's input projection in one matmul
        if sizes is None:
            inputs = [projected[t] for t in range(x.shape[0])]
        else:
            starts = [0, *itertools.accumulate(sizes)]
            inputs = [projected[starts[t]:starts[t] + b] for t, b in enumerate(sizes)]
        outputs = [None] * len(inputs)
        for t in (reversed(range(len(inputs))) if reverse else range(len(inputs))):
            if inputs[t].shape[0] == h.shape[0]:  # every sequence still going
                h, c = step(inputs[t], h, w_hh, b_hh, c)
                outputs[t] = h
                continue
            b = inputs[t].shape[0]
            h_b, c_b = step(inputs[t], h[:b], w_hh, b_hh, None if c is None else c[:b])
            h, c = cat([h_b, h[b:]]), None if c is None else cat([c_b, c[b:]])
            outputs[t] = h_b
        return (stack(outputs) if sizes is None else cat(outputs)), h, c

    def extra_repr(self) -> str:
        extra = "".join(f", {k}={getattr(self, k)}" for k, default in
                        (("num_layers", 1), ("bias", True), ("batch_first", False), ("dropout", 0.0),
                         ("bidirectional", False)) if getattr(self, k) != default)
        return f"{self.input_size}, {self.hidden_size}{extra}"


class RNN(RNNBase):
    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity '{nonlinearity}' (tanh or relu)")
        super().__init__(f"RNN_{nonlinearity.upper()}", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, device, dtype)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device=None, dtype=None) -> None:
        if proj_size:
            raise NotImplementedError("LSTM: proj_size is not supported yet")
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device, dtype)


class GRU(RNNBase):
    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device, dtype)


class RNNCellBase(Module):
    mode = "RNN_TANH"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None,
                 mode: str | None = None) -> None:
        super().__init__()
        self.mode = mode or type(self).mode
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        gates = _MODES[self.mode][0] * hidden_size
        self.weight_ih = Parameter(empty((gates, input_size), device=device, dtype=dtype))
        self.weight_hh = Parameter(empty((gates, hidden_size), device=device, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(empty(gates, device=device, dtype=dtype))
            self.bias_hh = Parameter(empty(gates, device=device, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        bound = 1 / math.sqrt(hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _step(self, input: Tensor, h, c):
        name = type(self).__name__
        if input.dim() not in (1, 2) or input.shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected input of shape (N, {self.input_size}) or ({self.input_size},), "
                             f"got {tuple(input.shape)}")
        unbatched = input.dim() == 1
        x = input.unsqueeze(0) if unbatched else input
        shape = (x.shape[0], self.hidden_size)
        h = zeros(shape, dtype=x.dtype, device=x.device) if h is None else (h.unsqueeze(0) if unbatched else h)
        if c is None and self.mode == "LSTM":
            c = zeros(shape, dtype=x.dtype, device=x.device)
        elif c is not None and unbatched:
            c = c.unsqueeze(0)
        h, c = _MODES[self.mode][1](F.linear(x, self.weight_ih, self.bias_ih), h, self.weight_hh, self.bias_hh, c)
        return (h.squeeze(0), None if c is None else c.squeeze(0)) if unbatched else (h, c)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(RNNCellBase):
    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device=None, dtype=None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity '{nonlinearity}' (tanh or relu)")
        super().__init__(input_size, hidden_size, bias, device, dtype, mode=f"RNN_{nonlinearity.upper()}")
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._step(input, hx, None)[0]


class LSTMCell(RNNCellBase):
    mode = "LSTM"

    def forward(self, input: Tensor, hx=None) -> tuple[Tensor, Tensor]:
        h, c = (None, None) if hx is None else hx
        return self._step(input, h, c)


class GRUCell(RNNCellBase):
    mode = "GRU"

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._step(input, hx, None)[0]
