"""LBFGS (closure steps, with and without the strong-Wolfe line search) and torch.optim.swa_utils
(AveragedModel, SWALR, update_bn) against torch, from the same initial weights."""
import numpy as np
import pytest
import torch

import lazytensor as lt
from helpers import check_cases, not_eager_on_cl, using
from nn_helpers import assert_close, copy_weights, data, to_lt


def _model(m, kind):
    if kind == "least_squares":
        return m.nn.Linear(4, 2)
    return m.nn.Sequential(m.nn.Linear(4, 6), m.nn.Tanh(), m.nn.Linear(6, 2))


def _pair(kind):
    torch.manual_seed(0)
    tm = _model(torch, kind)
    return tm, copy_weights(tm, _model(lt, kind))


def _lbfgs_steps(m, model, x, y, steps, **kw):
    opt = m.optim.LBFGS(model.parameters(), **kw)

    def closure():
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        return loss
    losses = [float(opt.step(closure).detach()) for _ in range(steps)]
    return opt, losses, closure


# (model, LBFGS arguments): few enough iterations that no run stops at a tolerance torch and
# lazytensor could reach one iteration apart
LBFGS_CASES = {
    "least_squares": ("least_squares", dict(lr=0.5, max_iter=3, history_size=2)),
    "least_squares_wolfe": ("least_squares", dict(line_search_fn="strong_wolfe", max_iter=3)),
    "mlp": ("mlp", dict(lr=0.5, max_iter=4, history_size=3)),
    "mlp_wolfe": ("mlp", dict(line_search_fn="strong_wolfe", max_iter=5, history_size=4)),
}


def _on_device(env, cases: dict, representative: str) -> dict:
    """Each case builds new kernels per iteration (history lengths, line-search steps): the
    table runs lazily on numpy, and one case in the other modes (OpenCL's kernels, LAZY=0)."""
    return cases if env.device == "numpy" and env.lazy else {representative: cases[representative]}


def test_lbfgs_matches_torchs_iterates(env):
    not_eager_on_cl(env)
    x, y = data((12, 4), seed=1), data((12, 2), seed=2)

    def case(args):
        kind, kw = args
        tm, lm = _pair(kind)
        topt, tlosses, _ = _lbfgs_steps(torch, tm, x, y, 3, **kw)
        lopt, llosses, _ = _lbfgs_steps(lt, lm, to_lt(x), to_lt(y), 3, **kw)
        np.testing.assert_allclose(llosses, [float(v) for v in tlosses], rtol=1e-5)
        for (name, tp), lp in zip(tm.named_parameters(), lm.parameters()):
            assert_close(lp, tp, rtol=1e-4, atol=1e-5, what=name)
            assert lp.is_leaf and lp.requires_grad
        tstate, lstate = topt.state_dict()["state"][0], lopt.state_dict()["state"][0]
        for key in ("func_evals", "n_iter"):
            assert lstate[key] == tstate[key], key
        assert len(lstate["old_dirs"]) == len(tstate["old_dirs"])
        assert_close(lstate["d"], tstate["d"], rtol=1e-4, atol=1e-5, what="direction")
    check_cases(_on_device(env, LBFGS_CASES, "least_squares_wolfe" if env.device == "numpy" else "least_squares"),
                case)


def test_lbfgs_state_dict_round_trip_continues_identically():
    with using("numpy", True):
        x, y = to_lt(data((12, 4), seed=1)), to_lt(data((12, 2), seed=2))
        kw = dict(line_search_fn="strong_wolfe", max_iter=3, history_size=3)
        _, a = _pair("mlp")
        opt_a, _, closure_a = _lbfgs_steps(lt, a, x, y, 2, **kw)
        _, b = _pair("mlp")
        b.load_state_dict(a.state_dict())
        opt_b, _, closure_b = _lbfgs_steps(lt, b, x, y, 0, **kw)
        opt_b.load_state_dict(opt_a.state_dict())
        assert opt_b.state[next(b.parameters())]["old_dirs"] is not opt_a.state[next(a.parameters())]["old_dirs"]
        for _ in range(2):
            opt_a.step(closure_a), opt_b.step(closure_b)
        for pa, pb in zip(a.parameters(), b.parameters()):
            np.testing.assert_allclose(pa.numpy(), pb.numpy(), rtol=1e-6, atol=1e-7)


def test_lbfgs_stops_at_once_on_a_zero_gradient_and_refuses_groups():
    w = lt.nn.Parameter(lt.zeros(2))
    opt = lt.optim.LBFGS([w])
    loss = opt.step(lambda: (opt.zero_grad(), (w * 0).sum().backward(), (w * 0).sum())[-1])
    assert loss.item() == 0 and opt.state[w]["n_iter"] == 0
    with pytest.raises(ValueError, match="parameter groups"):
        lt.optim.LBFGS([{"params": [w]}, {"params": [lt.nn.Parameter(lt.zeros(1))]}])
    with pytest.raises(TypeError):  # the closure is required, as torch's
        opt.step()


def _bn_model(m):
    return m.nn.Sequential(m.nn.Linear(3, 4), m.nn.BatchNorm1d(4), m.nn.ReLU(), m.nn.Linear(4, 2))


def _averaged(m, model, kind):
    su = m.optim.swa_utils
    return {"swa": lambda: su.AveragedModel(model),
            "swa_buffers": lambda: su.AveragedModel(model, use_buffers=True),
            "ema_multi": lambda: su.AveragedModel(model, multi_avg_fn=su.get_ema_multi_avg_fn(0.9), use_buffers=True),
            "ema_avg_fn": lambda: su.AveragedModel(model, avg_fn=su.get_ema_avg_fn(0.8)),
            "swa_multi": lambda: su.AveragedModel(model, multi_avg_fn=su.get_swa_multi_avg_fn())}[kind]()


def test_averaged_model_swalr_and_update_bn_match_torch(env):
    not_eager_on_cl(env)

    def case(kind):
        torch.manual_seed(0)
        tm = _bn_model(torch)
        lm = copy_weights(tm, _bn_model(lt))
        ta, la = _averaged(torch, tm, kind), _averaged(lt, lm, kind)
        topt, lopt = torch.optim.SGD(tm.parameters(), lr=0.1), lt.optim.SGD(lm.parameters(), lr=0.1)
        tsched = torch.optim.swa_utils.SWALR(topt, swa_lr=0.02, anneal_epochs=3, anneal_strategy="cos")
        lsched = lt.optim.swa_utils.SWALR(lopt, swa_lr=0.02, anneal_epochs=3, anneal_strategy="cos")
        for step in range(4):
            x, y = data((6, 3), seed=step), data((6, 2), seed=10 + step)
            for model, opt, sched, avg, xx, yy in ((tm, topt, tsched, ta, x, y),
                                                   (lm, lopt, lsched, la, to_lt(x), to_lt(y))):
                opt.zero_grad()
                ((model(xx) - yy) ** 2).mean().backward()
                opt.step()
                sched.step()
                avg.update_parameters(model)
            np.testing.assert_allclose(lsched.get_last_lr(), tsched.get_last_lr(), rtol=1e-12)
        tstate, lstate = ta.state_dict(), la.state_dict()
        assert list(lstate) == list(tstate)
        for key, value in tstate.items():
            assert_close(lstate[key], value, rtol=1e-5, atol=1e-6, what=key)
        batches = [data((6, 3), seed=30 + i) for i in range(3)]
        torch.optim.swa_utils.update_bn(batches, ta)
        lt.optim.swa_utils.update_bn([(to_lt(b), None) for b in batches], la)  # a (input, target) batch too
        for key in ("module.1.running_mean", "module.1.running_var"):
            assert_close(la.state_dict()[key], ta.state_dict()[key], rtol=1e-5, atol=1e-6, what=key)
        x = data((2, 3), seed=40)
        ta.eval(), la.eval()
        assert_close(la(to_lt(x)), ta(x))
    kinds = ["swa", "swa_buffers", "ema_multi", "ema_avg_fn", "swa_multi"]
    check_cases(_on_device(env, {k: k for k in kinds}, "ema_multi"), case)


@pytest.mark.parametrize("strategy,epochs", [("linear", 4), ("cos", 0), ("cos", 2)])
def test_swalr_sequence_matches_torch_with_two_groups(strategy, epochs):
    def lrs(m):
        params = [{"params": [m.nn.Parameter(m.zeros(1))], "lr": 0.5}, {"params": [m.nn.Parameter(m.zeros(1))]}]
        opt = m.optim.SGD(params, lr=0.1)
        sched = m.optim.swa_utils.SWALR(opt, swa_lr=[0.05, 0.2], anneal_epochs=epochs, anneal_strategy=strategy)
        out = []
        for _ in range(6):
            opt.step()
            sched.step()
            out.append(sched.get_last_lr())
        return out
    np.testing.assert_allclose(lrs(lt), lrs(torch), rtol=1e-12)


def test_swa_refusals():
    opt = lt.optim.SGD([lt.nn.Parameter(lt.zeros(1))], lr=0.1)
    su = lt.optim.swa_utils
    check_cases({
        "strategy": (ValueError, lambda: su.SWALR(opt, 0.1, anneal_strategy="step")),
        "epochs": (ValueError, lambda: su.SWALR(opt, 0.1, anneal_epochs=-1)),
        "lr count": (ValueError, lambda: su.SWALR(opt, [0.1, 0.2])),
        "decay": (ValueError, lambda: su.get_ema_multi_avg_fn(1.5)),
        "two averaging functions": (AssertionError, lambda: su.AveragedModel(lt.nn.Linear(1, 1), avg_fn=su.get_swa_avg_fn(),
                                                                              multi_avg_fn=su.get_swa_multi_avg_fn())),
    }, lambda args: pytest.raises(args[0], args[1]))
