"""Optimizers: 5 steps from the same init equal torch's parameters; the step is a few fused
kernels; changing the learning rate recompiles nothing; state_dict round trip; schedulers."""
import math

import numpy as np
import pytest
import torch

import lazytensor as lt
from helpers import cl_unavailable_reason, using
from nn_helpers import assert_close, copy_weights, data, needs_autograd, to_lt

OPTIMIZERS = {
    "sgd": (torch.optim.SGD, lt.optim.SGD, dict(lr=0.1)),
    "sgd_momentum_wd": (torch.optim.SGD, lt.optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    "sgd_nesterov": (torch.optim.SGD, lt.optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True)),
    "adam": (torch.optim.Adam, lt.optim.Adam, dict(lr=0.01)),
    "adam_wd_amsgrad": (torch.optim.Adam, lt.optim.Adam, dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    "adamw": (torch.optim.AdamW, lt.optim.AdamW, dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1)),
    "rmsprop": (torch.optim.RMSprop, lt.optim.RMSprop, dict(lr=0.01)),
    "rmsprop_centered_momentum_wd": (torch.optim.RMSprop, lt.optim.RMSprop,
                                     dict(lr=0.01, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.01)),
    "adagrad": (torch.optim.Adagrad, lt.optim.Adagrad, dict(lr=0.1)),
    "adagrad_decay_init": (torch.optim.Adagrad, lt.optim.Adagrad,
                           dict(lr=0.1, lr_decay=0.05, initial_accumulator_value=0.1, weight_decay=0.01)),
}


def _models():
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3))
    lm = lt.nn.Sequential(lt.nn.Linear(4, 5), lt.nn.Tanh(), lt.nn.Linear(5, 3))
    copy_weights(tm, lm)
    return tm, lm


def _loss(m, mod, x, y):
    return ((mod(x) - y) ** 2).mean()


@needs_autograd
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_five_steps_match_torch(name, device):
    if device == "cl" and name not in ("sgd_momentum_wd", "adamw"):
        pytest.skip("the other variants' kernels differ little; numpy covers them")
    topt_cls, lopt_cls, kw = OPTIMIZERS[name]
    with using(device, True):
        tm, lm = _models()
        topt, lopt = topt_cls(tm.parameters(), **kw), lopt_cls(lm.parameters(), **kw)
        x, y = data((8, 4), seed=1), data((8, 3), seed=2)
        lx, ly = to_lt(x), to_lt(y)
        for _ in range(5):
            topt.zero_grad()
            _loss(torch, tm, x, y).backward()
            topt.step()
            lopt.zero_grad()
            _loss(lt, lm, lx, ly).backward()
            lopt.step()
        tparams = dict(tm.named_parameters())
        for n, p in lm.named_parameters():
            assert_close(p, tparams[n], rtol=1e-4, atol=1e-5, what=f"{name}: {n} after 5 steps on {device}")
            assert p.requires_grad and p.is_leaf


@needs_autograd
def test_a_step_computes_the_held_loss_with_the_gradients(device):
    """The loss a training loop reads after opt.step() is realised with the step (its work is
    mostly the gradients'), so reading it realises nothing more, and it is the loss before
    the update."""
    with using(device, True):
        tm, lm = _models()
        topt, lopt = torch.optim.SGD(tm.parameters(), lr=0.1), lt.optim.SGD(lm.parameters(), lr=0.1)
        x, y = data((8, 4), seed=1), data((8, 3), seed=2)
        lx, ly = to_lt(x), to_lt(y)
        for _ in range(3):
            topt.zero_grad()
            expected = _loss(torch, tm, x, y)
            expected.backward()
            topt.step()
            lopt.zero_grad()
            loss = _loss(lt, lm, lx, ly)
            loss.backward()
            lopt.step()
            lt.reset_stats()
            assert_close(loss, expected, rtol=1e-5, atol=1e-6, what=f"the loss on {device}")
            assert lt.stats().realizations == 0


def _kernels_of_a_step_after(backward_from) -> tuple[int, int]:
    """Kernels an SGD step launches once `backward_from(model)` ran backward (its gradients
    realised first), and the model's parameter count: numpy launches each update alone."""
    with using("numpy", True):
        _, lm = _models()
        opt = lt.optim.SGD(lm.parameters(), lr=0.1)
        held = backward_from(lm)  # noqa: F841 - kept alive through the step
        for p in lm.parameters():
            p.grad.realize()
        lt.reset_stats()
        opt.step()
        return lt.stats().kernels_launched, len(list(lm.parameters()))


@needs_autograd
def test_a_loss_nobody_holds_is_not_computed_by_the_step():
    def dropped_loss(lm):
        _loss(lt, lm, lt.randn(8, 4).realize(), lt.randn(8, 3).realize()).backward()
    launched, params = _kernels_of_a_step_after(dropped_loss)
    assert launched == params  # the updates alone


@needs_autograd
def test_a_step_leaves_a_held_output_that_backward_was_given_a_gradient_for_lazy():
    """backward(gradient) runs from an activation, not a loss: the step does not compute it."""
    def held_activation(lm):
        out = lm(lt.randn(8, 4).realize())
        out.backward(lt.ones(8, 3))
        return out
    launched, params = _kernels_of_a_step_after(held_activation)
    assert launched == params


@needs_autograd
def test_step_is_a_few_fused_kernels_and_lr_change_compiles_nothing():
    with using("numpy", True):
        _, lm = _models()
        opt = lt.optim.Adam(lm.parameters(), lr=0.01)
        x, y = lt.randn(8, 4).realize(), lt.randn(8, 3).realize()
        counts = []
        for step in range(4):
            opt.zero_grad()
            _loss(lt, lm, x, y).backward()
            for p in lm.parameters():
                p.grad.realize()
            for g in opt.param_groups:
                g["lr"] = 0.01 / (step + 1)  # a new learning rate every step
            lt.reset_stats()
            opt.step()
            s = lt.stats()
            counts.append((s.kernels_launched, s.kernels_compiled))
        n_params = len(list(lm.parameters()))
        # Adam: the ~12 ops updating a parameter, exp_avg and exp_avg_sq fuse into one
        # multi-output kernel per parameter tensor
        assert all(launched == n_params for launched, _ in counts), counts
        assert all(compiled == 0 for _, compiled in counts[2:]), counts  # steps >= 3: nothing new


@needs_autograd
@pytest.mark.skipif(cl_unavailable_reason() is not None, reason="needs OpenCL")
def test_an_adam_step_over_many_parameters_is_a_few_launches_on_cl():
    """The per-parameter update kernels are independent: they share one launch (a multi-tensor
    update), and the result equals torch's."""
    with using("cl", True):
        torch.manual_seed(0)
        tm = torch.nn.Sequential(*[torch.nn.Linear(8, 8) for _ in range(10)])
        lm = lt.nn.Sequential(*[lt.nn.Linear(8, 8) for _ in range(10)])
        copy_weights(tm, lm)
        topt = torch.optim.Adam(tm.parameters(), lr=0.01)
        lopt = lt.optim.Adam(lm.parameters(), lr=0.01, capturable=True)
        x = data((4, 8), seed=3)
        counts = []
        for _ in range(3):
            topt.zero_grad()
            tm(x).pow(2).mean().backward()
            topt.step()
            lopt.zero_grad()
            lm(to_lt(x)).pow(2).mean().backward()
            for p in lm.parameters():
                p.grad.realize()
            lt.reset_stats()
            lopt.step()
            counts.append(lt.stats().kernels_launched)
        assert len(list(lm.parameters())) == 20 and max(counts) <= 3, counts
        tparams = dict(tm.named_parameters())
        for n, p in lm.named_parameters():
            assert_close(p, tparams[n], rtol=1e-4, atol=1e-5, what=n)


@needs_autograd
def test_zero_grad_set_to_none_and_zeros():
    _, lm = _models()
    opt = lt.optim.SGD(lm.parameters(), lr=0.1)
    _loss(lt, lm, lt.randn(2, 4), lt.randn(2, 3)).backward()
    opt.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.numpy() == 0) for p in lm.parameters())
    opt.zero_grad()
    assert all(p.grad is None for p in lm.parameters())


def test_param_groups_have_their_own_lr():
    _, lm = _models()
    opt = lt.optim.SGD([{"params": lm[0].parameters()}, {"params": lm[2].parameters(), "lr": 0.5}], lr=0.1,
                       momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert opt.param_groups[1]["momentum"] == 0.9


@needs_autograd
def test_state_dict_round_trip_continues_identically():
    x, y = lt.randn(8, 4).realize(), lt.randn(8, 3).realize()

    def run(model, opt, steps):
        for _ in range(steps):
            opt.zero_grad()
            _loss(lt, model, x, y).backward()
            opt.step()

    _, a = _models()
    opt_a = lt.optim.Adam(a.parameters(), lr=0.01)
    run(a, opt_a, 2)
    _, b = _models()
    b.load_state_dict(a.state_dict())
    opt_b = lt.optim.Adam(b.parameters(), lr=0.01)
    opt_b.load_state_dict(opt_a.state_dict())
    run(a, opt_a, 2)
    run(b, opt_b, 2)
    for pa, pb in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(pa.numpy(), pb.numpy(), rtol=1e-6, atol=1e-7)


SCHEDULERS = {
    "step": lambda m, opt: m.optim.lr_scheduler.StepLR(opt, 3, 0.5),
    "cosine": lambda m, opt: m.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=5, eta_min=0.01),
    "linear": lambda m, opt: m.optim.lr_scheduler.LinearLR(opt, start_factor=0.25, total_iters=4),
    "lambda": lambda m, opt: m.optim.lr_scheduler.LambdaLR(opt, lambda e: 0.9 ** e),
    "sequential": lambda m, opt: m.optim.lr_scheduler.SequentialLR(
        opt, [m.optim.lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=3),
              m.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=6)], milestones=[3]),
    "one_cycle": lambda m, opt: m.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=13),
    "one_cycle_linear_three_phase": lambda m, opt: m.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=0.5, total_steps=13, anneal_strategy="linear", three_phase=True),
}


@pytest.mark.parametrize("kind", list(SCHEDULERS))
def test_schedulers_match_torch(kind):
    def make(m):
        opt = m.optim.SGD([m.nn.Parameter(m.zeros(1))], lr=0.1, momentum=0.9)
        return opt, SCHEDULERS[kind](m, opt)
    (topt, ts), (lopt, ls) = make(torch), make(lt)
    assert math.isclose(ls.get_last_lr()[0], ts.get_last_lr()[0], rel_tol=1e-12, abs_tol=1e-15)
    for _ in range(12):
        topt.step()
        lopt.step()
        ts.step()
        ls.step()
        assert math.isclose(ls.get_last_lr()[0], ts.get_last_lr()[0], rel_tol=1e-12, abs_tol=1e-15)
        assert math.isclose(lopt.param_groups[0]["momentum"], topt.param_groups[0]["momentum"], rel_tol=1e-12)


def test_reduce_on_plateau_matches_torch():
    def make(m):
        opt = m.optim.SGD([m.nn.Parameter(m.zeros(1))], lr=1.0)
        return opt, m.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1, cooldown=1, min_lr=0.1)
    (topt, ts), (lopt, ls) = make(torch), make(lt)
    for metric in [1.0, 0.9, 0.95, 0.97, 0.99, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1]:
        ts.step(metric)
        ls.step(lt.tensor(metric))
        assert lopt.param_groups[0]["lr"] == topt.param_groups[0]["lr"]
