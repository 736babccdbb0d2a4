"""lt.jit: the capture contract (no host reads inside, a capture per input signature, new
outputs per call), and results equal to the plain function's over a training loop."""
import re

import numpy as np
import pytest

import lazytensor as lt
import lazytensor.config as config

from helpers import DEVICES, cl_unavailable_reason, using


def devices():
    return [d for d in DEVICES if d != "cl" or cl_unavailable_reason() is None]


def _model_and_optimizer(seed: int):
    lt.manual_seed(seed)
    model = lt.nn.Sequential(lt.nn.Linear(6, 12), lt.nn.ReLU(), lt.nn.Linear(12, 3))
    return model, lt.optim.Adam(model.parameters(), lr=0.05)


def _train(step, model, opt, x, y, n=6):
    return [step(model, opt, x, y) for _ in range(n)]


def _step(model, opt, x, y):
    opt.zero_grad()
    loss = lt.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    return loss


@pytest.mark.parametrize("device", devices())
def test_a_jitted_training_step_matches_the_plain_one(device):
    with using(device, True):
        x, y = lt.randn(16, 6), lt.randint(0, 3, (16,))
        plain_model, plain_opt = _model_and_optimizer(1)
        jit_model, jit_opt = _model_and_optimizer(1)
        plain = _train(_step, plain_model, plain_opt, x, y)
        jitted_step = lt.jit(_step)
        jitted = _train(jitted_step, jit_model, jit_opt, x, y)
    np.testing.assert_allclose([t.item() for t in jitted], [t.item() for t in plain], rtol=1e-6)
    for a, b in zip(jit_model.parameters(), plain_model.parameters()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)
    for a, b in zip(jit_opt.state.values(), plain_opt.state.values()):
        np.testing.assert_allclose(a["exp_avg"].numpy(), b["exp_avg"].numpy(), rtol=1e-6, atol=1e-8)
    assert jitted_step.captures == 1


@pytest.mark.parametrize("read, call", [
    (lambda t: t.item(), "Tensor.item()"),
    (lambda t: t.numpy(), "Tensor.numpy()"),
    (lambda t: t.tolist(), "Tensor.tolist()"),
    (lambda t: print(t), "print() or repr()"),
    (lambda t: bool(t), "bool(tensor)"),
    (lambda t: np.asarray(t), "np.asarray(tensor)"),
    (lambda t: lt.nonzero(t), "nonzero()"),
])
def test_reading_a_value_inside_a_jitted_function_raises_naming_the_call(read, call):
    def reads_inside(x):
        y = (x * 2).sum()
        read(y)
        return y

    with pytest.raises(RuntimeError, match=re.escape(f"lt.jit: {call}") + ".*'.*reads_inside'"):
        lt.jit(reads_inside)(lt.ones(3))


def test_the_guard_ends_with_the_call():
    fn = lt.jit(lambda x: x + 1)
    out = fn(lt.ones(2))
    assert out.tolist() == [2.0, 2.0]


def test_a_shape_change_captures_again_and_says_so(capsys):
    fn = lt.jit(lambda x: (x * 3).sum(0))
    previous = config.set_debug(1)
    try:
        fn(lt.ones(2, 3))
        fn(lt.ones(2, 3))
        fn(lt.ones(4, 3))
    finally:
        config.set_debug(previous)
    assert fn.captures == 2
    assert capsys.readouterr().err.count("capturing") == 2


def test_outputs_of_two_calls_are_distinct():
    fn = lt.jit(lambda x: x * 2)
    first = fn(lt.tensor([1.0, 2.0]))
    second = fn(lt.tensor([5.0, 6.0]))
    assert first is not second
    assert first.tolist() == [2.0, 4.0] and second.tolist() == [10.0, 12.0]


def test_outputs_are_realised_when_the_call_returns():
    out = lt.jit(lambda x: x.exp() + 1)(lt.zeros(3))
    assert out._storage.node.realized
