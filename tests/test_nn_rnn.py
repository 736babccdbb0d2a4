"""RNN, LSTM and GRU (stacked, bidirectional, batch_first, unbatched) and their cells: the
outputs, final states and gradients equal PyTorch's for the same weights, on every device."""
import pytest
import torch

import lazytensor as lt
from helpers import using
from nn_helpers import assert_close, copy_weights, data, needs_autograd, to_lt

LAYERS = {  # name -> (constructor arguments, input shape)
    "RNN": ((5, 4), (6, 3, 5)),
    "RNN_relu_2layers": ((5, 4, 2), (6, 3, 5)),
    "LSTM": ((5, 4), (6, 3, 5)),
    "LSTM_2layers_bidirectional": ((5, 4, 2), (3, 2, 5)),
    "GRU": ((5, 4), (6, 3, 5)),
    "GRU_batch_first_bidirectional": ((5, 4), (2, 4, 5)),
    "GRU_unbatched": ((5, 4), (6, 5)),
}


def _pair(name):
    args, shape = LAYERS[name]
    kind = name.split("_")[0]
    kw = {"nonlinearity": "relu"} if "relu" in name else {}
    kw.update(batch_first="batch_first" in name, bidirectional="bidirectional" in name)
    torch.manual_seed(0)
    tmod = getattr(torch.nn, kind)(*args, **kw)
    return tmod, copy_weights(tmod, getattr(lt.nn, kind)(*args, **kw)), shape


def _flat(result):
    out, state = result
    return [out, *(state if isinstance(state, tuple) else (state,))]


@pytest.mark.parametrize("name", list(LAYERS))
def test_outputs_and_final_states_match_torch(name, device):
    tmod, _, shape = _pair(name)
    x = data(shape)
    with using(device, True):
        _, lmod, _ = _pair(name)
        got = _flat(lmod(to_lt(x)))
    for g, w in zip(got, _flat(tmod(x))):
        assert_close(g, w)


# Recurrences unroll into graphs whose OpenCL build is slow (PoCL compiles the backward pass's
# large kernels for minutes on two cores): on `cl` gradients are checked with one layer, one
# direction and a short sequence.
_GRADIENT_CASES = [("LSTM_2layers_bidirectional", "numpy"), ("GRU_batch_first_bidirectional", "numpy"),
                   ("LSTM", "cl"), ("GRU", "cl"), ("RNN", "numpy"), ("RNN", "cl")]


@needs_autograd
@pytest.mark.parametrize("name, on", _GRADIENT_CASES)
def test_gradients_match_torch(name, on, device):
    if device != on:
        pytest.skip(f"{name}'s gradients are checked on {on}")
    tmod, _, shape = _pair(name)
    x = data(shape if on == "numpy" else (3, 2, shape[-1])).requires_grad_(True)
    sum(t.square().sum() for t in _flat(tmod(x))).backward()
    with using(device, True):
        _, lmod, _ = _pair(name)
        lx = to_lt(x, requires_grad=True)
        sum(t.square().sum() for t in _flat(lmod(lx))).backward()
        assert_close(lx.grad, x.grad, what="input grad")
        for (n, p), (_, q) in zip(lmod.named_parameters(), tmod.named_parameters()):
            assert_close(p.grad, q.grad, what=n)


def test_parameter_names_are_pytorch_s():
    for kind in ("RNN", "LSTM", "GRU"):
        ours = getattr(lt.nn, kind)(3, 4, 2, bidirectional=True).state_dict()
        theirs = getattr(torch.nn, kind)(3, 4, 2, bidirectional=True).state_dict()
        assert {k: tuple(v.shape) for k, v in ours.items()} == {k: tuple(v.shape) for k, v in theirs.items()}


def test_a_given_initial_state_is_used(device):
    torch.manual_seed(1)
    tmod = torch.nn.LSTM(3, 4, 2)
    x, h0, c0 = data((5, 2, 3)), data((2, 2, 4), seed=1), data((2, 2, 4), seed=2)
    with using(device, True):
        lmod = copy_weights(tmod, lt.nn.LSTM(3, 4, 2))
        got = _flat(lmod(to_lt(x), (to_lt(h0), to_lt(c0))))
    for g, w in zip(got, _flat(tmod(x, (h0, c0)))):
        assert_close(g, w)


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells_match_torch(kind, device):
    torch.manual_seed(2)
    tcell = getattr(torch.nn, kind)(5, 4)
    x, h = data((3, 5)), data((3, 4), seed=3)
    state = (h, data((3, 4), seed=4)) if kind == "LSTMCell" else h
    want = tcell(x, state)
    with using(device, True):
        lcell = copy_weights(tcell, getattr(lt.nn, kind)(5, 4))
        lstate = tuple(map(to_lt, state)) if kind == "LSTMCell" else to_lt(state)
        got = lcell(to_lt(x), lstate)
        no_state = lcell(to_lt(x))
    for g, w in zip(*(r if isinstance(r, tuple) else (r,) for r in (got, want))):
        assert_close(g, w)
    first = no_state[0] if kind == "LSTMCell" else no_state
    assert_close(first, (tcell(x)[0] if kind == "LSTMCell" else tcell(x)))


def test_a_wrong_input_width_or_state_shape_is_refused():
    lstm = lt.nn.LSTM(3, 4)
    with pytest.raises(ValueError, match=r"LSTM: expected input of shape \(L, N, 3\).*\(5, 2, 7\)"):
        lstm(lt.randn(5, 2, 7))
    with pytest.raises(ValueError, match=r"LSTM: expected hidden state of shape \(1, 2, 4\), got \(1, 3, 4\)"):
        lstm(lt.randn(5, 2, 3), (lt.zeros(1, 3, 4), lt.zeros(1, 3, 4)))
