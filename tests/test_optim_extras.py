"""The rest of torch.optim, torch.optim.lr_scheduler and torch.nn.utils, against PyTorch.

Optimizers: six steps under a scheduler equal torch's parameters; a step is a few fused
kernels and a new learning rate compiles nothing; state_dict round trips.
Schedulers: the lr (and the cycled momentum) sequences equal torch's."""
import math

import numpy as np
import pytest
import torch

import lazytensor as lt
from helpers import check, check_cases, not_eager_on_cl, using, values
from nn_helpers import assert_close, copy_weights, data, to_lt

# name -> (class name in both libraries, keyword arguments)
OPTIMIZERS = {
    "adamax": ("Adamax", dict(lr=0.05, weight_decay=0.1)),
    "nadam": ("NAdam", dict(lr=0.05, weight_decay=0.1)),
    "nadam_decoupled_maximize": ("NAdam", dict(lr=0.05, weight_decay=0.1, momentum_decay=0.01,
                                               decoupled_weight_decay=True, maximize=True)),
    "radam": ("RAdam", dict(lr=0.05)),
    # beta2 = 0.9 makes the variance tractable from step 3: both branches run in six steps
    "radam_decoupled": ("RAdam", dict(lr=0.05, betas=(0.8, 0.9), weight_decay=0.1, decoupled_weight_decay=True)),
    "adadelta": ("Adadelta", dict(lr=0.5, rho=0.8, weight_decay=0.1)),
    "adagrad": ("Adagrad", dict(lr=0.1, lr_decay=0.01)),
    "rprop": ("Rprop", dict(lr=0.05, etas=(0.4, 1.5), step_sizes=(1e-3, 0.08))),
    "asgd": ("ASGD", dict(lr=0.05, lambd=0.01, t0=2, weight_decay=0.1)),  # t0=2: averaging starts
    "adafactor": ("Adafactor", dict(lr=0.05, weight_decay=0.1)),
    "adafactor_eps_clip_maximize": ("Adafactor", dict(eps=(1e-3, 1e-2), d=1.5, beta2_decay=-0.5, maximize=True)),
}


def _models():
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh())
    lm = lt.nn.Sequential(lt.nn.Linear(4, 3), lt.nn.Tanh())
    copy_weights(tm, lm)
    return tm, lm


def _train(model, opt, x, y, steps, scheduler=None):
    for _ in range(steps):
        opt.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        opt.step()
        if scheduler is not None:
            scheduler.step()


def _make(m, model, name):
    cls, kw = OPTIMIZERS[name]
    return getattr(m.optim, cls)(model.parameters(), **kw)


def test_optimizers_match_torch_over_six_steps_with_a_scheduler(env):
    x, y = data((8, 4), seed=1), data((8, 3), seed=2)

    def case(name):
        tm, lm = _models()
        topt, lopt = _make(torch, tm, name), _make(lt, lm, name)
        _train(tm, topt, x, y, 6, torch.optim.lr_scheduler.ExponentialLR(topt, gamma=0.7))
        _train(lm, lopt, to_lt(x), to_lt(y), 6, lt.optim.lr_scheduler.ExponentialLR(lopt, gamma=0.7))
        for (n, p), tp in zip(lm.named_parameters(), tm.parameters()):
            assert_close(p, tp, rtol=1e-5, atol=1e-5, what=f"{name}: {n}")
            assert p.requires_grad and p.is_leaf
            for key, value in topt.state[tp].items():  # the state too (ASGD's average moves no parameter)
                assert_close(lopt.state[p][key], value, rtol=1e-5, atol=1e-6, what=f"{name}: state {key} of {n}")
    check_cases(list(OPTIMIZERS), case)


def test_state_dict_has_torchs_layout_and_a_round_trip_continues_identically():
    def case(name):
        x, y = to_lt(data((8, 4), seed=1)), to_lt(data((8, 3), seed=2))
        tm, a = _models()
        topt, opt_a = _make(torch, tm, name), _make(lt, a, name)
        tm(data((8, 4), seed=1)).sum().backward()
        topt.step()
        _train(a, opt_a, x, y, 2)
        saved = opt_a.state_dict()
        assert set(saved["state"][0]) == set(topt.state_dict()["state"][0])
        assert set(saved["param_groups"][0]) <= set(topt.state_dict()["param_groups"][0])
        _, b = _models()
        b.load_state_dict(a.state_dict())
        opt_b = _make(lt, b, name)
        opt_b.load_state_dict(saved)
        _train(a, opt_a, x, y, 2)
        _train(b, opt_b, x, y, 2)
        for pa, pb in zip(a.parameters(), b.parameters()):
            np.testing.assert_allclose(pa.numpy(), pb.numpy(), rtol=1e-6, atol=1e-7)
    with using("numpy", True):
        check_cases(list(OPTIMIZERS), case)


def test_a_step_is_a_few_fused_kernels_per_parameter_and_a_new_lr_compiles_nothing():
    """An update's ~10 ops fuse into one kernel per parameter tensor; a device step count, or
    a decoupled weight decay (a second write to the parameter), may add one."""
    def case(name):
        x, y = lt.randn(8, 4).realize(), lt.randn(8, 3).realize()
        _, lm = _models()
        opt = _make(lt, lm, name)
        counts = []
        for step in range(4):
            opt.zero_grad()
            ((lm(x) - y) ** 2).mean().backward()
            for p in lm.parameters():
                p.grad.realize()
            for group in opt.param_groups:
                group["lr"] = 0.05 / (step + 1)
            lt.reset_stats()
            opt.step()
            counts.append((lt.stats().kernels_launched, lt.stats().kernels_compiled))
        n_params = len(list(lm.parameters()))
        assert all(n_params <= launched <= 2 * n_params for launched, _ in counts), counts
        assert all(compiled == 0 for _, compiled in counts[2:]), counts
    with using("numpy", True):
        # RAdam's branch changes at step 3; Adafactor reduces the parameter's and the update's
        # norms (and a matrix's rows and columns) before its update, a few kernels more
        check_cases([n for n in OPTIMIZERS if n != "radam_decoupled" and not n.startswith("adafactor")], case)


BAD_ARGUMENTS = {
    "Adamax lr": ("Adamax", dict(lr=-1.0), "Adamax: Invalid learning rate: -1.0"),
    "NAdam beta": ("NAdam", dict(betas=(0.9, 1.0)), "NAdam: Invalid beta parameter at index 1: 1.0"),
    "NAdam momentum_decay": ("NAdam", dict(momentum_decay=-0.1), "NAdam: Invalid momentum_decay value: -0.1"),
    "RAdam eps": ("RAdam", dict(eps=-1e-8), "RAdam: Invalid epsilon value: -1e-08"),
    "Adadelta rho": ("Adadelta", dict(rho=1.5), "Adadelta: Invalid rho value: 1.5"),
    "Rprop etas": ("Rprop", dict(etas=(1.2, 0.5)), "Rprop: Invalid eta values: 1.2, 0.5"),
    "Rprop step sizes": ("Rprop", dict(step_sizes=(1.0, 0.1)), "Rprop: Invalid step sizes: 1.0, 0.1"),
    "ASGD weight decay": ("ASGD", dict(weight_decay=-0.5), "ASGD: Invalid weight_decay value: -0.5"),
    "Adafactor d": ("Adafactor", dict(d=0.5), "Adafactor: Clipping threshold d should be >= 1 but is: 0.5"),
    "Adafactor beta2_decay": ("Adafactor", dict(beta2_decay=0.1), "Adafactor: beta2_decay should be <= 0 but is: 0.1"),
    "LBFGS line search": ("LBFGS", dict(line_search_fn="wolfe"), "LBFGS: only 'strong_wolfe' is supported"),
}


def test_rprop_ignores_a_groups_weight_decay_as_torch():
    """Param groups often carry a weight_decay for other optimizers; Rprop has none."""
    def step(m):
        w = m.nn.Parameter(m.tensor([1.0, -2.0]))
        opt = m.optim.Rprop([{"params": [w], "weight_decay": 0.5}], lr=0.1)
        (w * m.tensor([0.1, 0.1])).sum().backward()
        opt.step()
        return w.detach().numpy()
    np.testing.assert_allclose(step(lt), step(torch), rtol=1e-6)


def test_bad_hyper_parameters_raise_naming_the_optimizer_and_the_value():
    def case(args):
        cls, kw, message = args
        with pytest.raises(ValueError, match=f"^{message}"):
            getattr(lt.optim, cls)([lt.nn.Parameter(lt.zeros(2))], **kw)
    check_cases(BAD_ARGUMENTS, case)


SCHEDULERS = {
    "constant": lambda s, opt: s.ConstantLR(opt, factor=0.5, total_iters=4),
    "multiplicative": lambda s, opt: s.MultiplicativeLR(opt, lambda epoch: 0.95),
    "polynomial": lambda s, opt: s.PolynomialLR(opt, total_iters=10, power=2.0),
    "warm_restarts": lambda s, opt: s.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2, eta_min=0.01),
    "cyclic_triangular": lambda s, opt: s.CyclicLR(opt, 0.01, 0.1, step_size_up=4, step_size_down=3),
    "cyclic_triangular2": lambda s, opt: s.CyclicLR(opt, 0.01, 0.1, step_size_up=3, mode="triangular2"),
    "cyclic_exp_range": lambda s, opt: s.CyclicLR(opt, 0.01, 0.1, step_size_up=3, mode="exp_range", gamma=0.9),
    "chained": lambda s, opt: s.ChainedScheduler([s.ConstantLR(opt, factor=0.5, total_iters=3),
                                                  s.ExponentialLR(opt, gamma=0.9)]),
}


@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
def test_schedulers_match_torchs_lr_and_momentum_over_thirty_steps(optimizer):
    """CyclicLR cycles SGD's momentum or Adam's beta1 against the lr."""
    momentum = "momentum" if optimizer == "SGD" else "betas"

    def case(kind):
        def make(m):
            extra = dict(momentum=0.9) if optimizer == "SGD" else {}
            opt = getattr(m.optim, optimizer)([m.nn.Parameter(m.zeros(1))], lr=0.1, **extra)
            return opt, SCHEDULERS[kind](m.optim.lr_scheduler, opt)
        (topt, ts), (lopt, ls) = make(torch), make(lt)
        for step in range(30):
            assert math.isclose(ls.get_last_lr()[0], ts.get_last_lr()[0], rel_tol=1e-12, abs_tol=1e-15), step
            assert lopt.param_groups[0][momentum] == pytest.approx(topt.param_groups[0][momentum], rel=1e-12), step
            topt.step()
            lopt.step()
            ts.step()
            ls.step()
    check_cases(list(SCHEDULERS), case)


def test_warm_restarts_at_a_given_epoch_match_torch():
    def lrs(m):
        opt = m.optim.SGD([m.nn.Parameter(m.zeros(1))], lr=0.1)
        scheduler = m.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=3)
        out = []
        for epoch in (0.5, 1, 2.5, 7, 9.25, 30):
            scheduler.step(epoch)
            out.append(scheduler.get_last_lr()[0])
        return out
    np.testing.assert_allclose(lrs(lt), lrs(torch), rtol=1e-12)


BAD_SCHEDULERS = {
    "ConstantLR factor": (lambda s, opt: s.ConstantLR(opt, factor=1.5), ValueError, "ConstantLR.*1.5"),
    "warm restarts T_0": (lambda s, opt: s.CosineAnnealingWarmRestarts(opt, T_0=0), ValueError, "T_0, but got 0"),
    "warm restarts T_mult": (lambda s, opt: s.CosineAnnealingWarmRestarts(opt, 2, T_mult=0.5), ValueError,
                             "T_mult >= 1, but got 0.5"),
    "CyclicLR mode": (lambda s, opt: s.CyclicLR(opt, 0.1, 1.0, mode="sine"), ValueError, "'sine' is invalid"),
    "CyclicLR lengths": (lambda s, opt: s.CyclicLR(opt, [0.1, 0.2], 1.0), ValueError,
                         "base_lr must have the same length.*2 values, param_groups has 1"),
    "CyclicLR momentum": (lambda s, opt: s.CyclicLR(_optimizer_without_momentum(), 0.1, 1.0), ValueError,
                          "Adadelta must support momentum"),
    "MultiplicativeLR lambda": (lambda s, opt: s.MultiplicativeLR(opt, 0.9), TypeError,
                                "should be a function, but got float"),
    "ChainedScheduler empty": (lambda s, opt: s.ChainedScheduler([]), ValueError, "at least one scheduler"),
}


def _optimizer_without_momentum():
    return lt.optim.Adadelta([lt.nn.Parameter(lt.zeros(1))])


def test_bad_scheduler_arguments_raise():
    def case(args):
        make, error, message = args
        with pytest.raises(error, match=message):
            make(lt.optim.lr_scheduler, lt.optim.SGD([lt.nn.Parameter(lt.zeros(1))], lr=0.1, momentum=0.9))
    check_cases(BAD_SCHEDULERS, case)


def test_total_norm_and_clipping_with_it_match_torch(env):
    """clip_grad_norm_ is get_total_norm then clip_grads_with_norm_; every norm order agrees."""
    grads = [data((3, 4), seed=5, scale=3.0), data((4,), seed=6, scale=3.0)]

    def case(norm_type):
        tparams = [torch.nn.Parameter(torch.zeros_like(g)) for g in grads]
        lparams = [lt.nn.Parameter(lt.zeros(*g.shape)) for g in grads]
        for tp, lp, g in zip(tparams, lparams, grads):
            tp.grad, lp.grad = g.clone(), to_lt(g)
        total = lt.nn.utils.get_total_norm([p.grad for p in lparams], norm_type)
        expected = torch.nn.utils.get_total_norm([p.grad for p in tparams], norm_type)
        assert_close(total, expected, rtol=1e-5, atol=1e-6, what=f"norm {norm_type}")
        lt.nn.utils.clip_grads_with_norm_(lparams, 1.5, total)
        torch.nn.utils.clip_grads_with_norm_(tparams, 1.5, expected)
        for lp, tp in zip(lparams, tparams):
            assert_close(lp.grad, tp.grad, rtol=1e-5, atol=1e-6, what=f"clipped by norm {norm_type}")
    check_cases([1.0, 2.0, 3.0, math.inf, -math.inf, 0.0], case)


def _sequences(m):
    return [m.tensor(np.random.default_rng(i).standard_normal((n, 2)).astype(np.float32))
            for i, n in enumerate((2, 4, 3))]


def test_pad_sequence_matches_torch(env):
    def case(args):
        batch_first, side = args
        got = lt.nn.utils.rnn.pad_sequence(_sequences(lt), batch_first, -1.0, side)
        check(got, torch.nn.utils.rnn.pad_sequence(_sequences(torch), batch_first, -1.0, side))
    check_cases([(False, "right"), (True, "right"), (False, "left"), (True, "left")], case)


def test_packing_and_unpacking_match_torch(env):
    """pack_sequence, pad_packed_sequence (total_length, batch_first) and unpack_sequence, sorted
    or not; unpad_sequence inverts pad_sequence."""
    rnn = torch.nn.utils.rnn

    def case(enforce_sorted):
        order = (lambda s: sorted(s, key=lambda t: -t.shape[0])) if enforce_sorted else list
        packed = lt.nn.utils.rnn.pack_sequence(order(_sequences(lt)), enforce_sorted)
        expected = rnn.pack_sequence(order(_sequences(torch)), enforce_sorted)
        for got, ref in zip(packed, expected):
            assert (got is None) == (ref is None)
            if ref is not None:
                check(got, ref)
        check(lt.nn.utils.rnn.pad_packed_sequence(packed, True, 0.5, 6),
              rnn.pad_packed_sequence(expected, True, 0.5, 6))
        check(lt.nn.utils.rnn.unpack_sequence(packed), rnn.unpack_sequence(expected))
    check_cases([True, False], case)
    padded = lt.nn.utils.rnn.pad_sequence(_sequences(lt))
    check(lt.nn.utils.rnn.unpad_sequence(padded, lt.tensor([2, 4, 3])), _sequences(torch))


BAD_PACKING = {
    "unsorted lengths": (lambda rnn: rnn.pack_padded_sequence(lt.zeros(4, 3, 2), [2, 4, 3]),
                         RuntimeError, r"must be sorted in decreasing order.*\[2, 4, 3\]"),
    "too many lengths": (lambda rnn: rnn.pack_padded_sequence(lt.zeros(4, 2, 2), [4, 3, 2]),
                         RuntimeError, "3 lengths .* a batch of 2 sequences"),
    "zero length": (lambda rnn: rnn.pack_padded_sequence(lt.zeros(4, 2, 2), [4, 0]), RuntimeError,
                    r"every length must be positive, got \[4, 0\]"),
    "short total_length": (lambda rnn: rnn.pad_packed_sequence(rnn.pack_sequence(_sequences(lt), False),
                                                               total_length=3), ValueError, "total_length=3"),
    "padding side": (lambda rnn: rnn.pad_sequence(_sequences(lt), padding_side="middle"), ValueError,
                     "'middle'"),
    "trailing dims": (lambda rnn: rnn.pad_sequence([lt.zeros(2, 3), lt.zeros(2, 4)]), RuntimeError,
                      r"trailing dims.*\(2, 4\)"),
    "an LSTM given a PackedSequence of other features": (
        lambda rnn: lt.nn.LSTM(5, 3)(rnn.pack_sequence(_sequences(lt), False)), ValueError,
        r"LSTM: expected a PackedSequence of data \(N, 5\), got \(9, 2\)"),
}


def test_bad_packing_raises():
    def case(args):
        make, error, message = args
        with pytest.raises(error, match=message):
            make(lt.nn.utils.rnn)
    check_cases(BAD_PACKING, case)


@pytest.mark.filterwarnings("ignore:`torch.nn.utils.weight_norm` is deprecated")
def test_weight_norm_matches_torch_and_remove_folds_it_back(env):
    """weight = g * v / ||v|| over every dim but `dim` (dim=None: the whole tensor), recomputed
    before each forward, with the gradients of g and v."""
    x = data((2, 4), seed=3)

    def case(dim):
        torch.manual_seed(0)
        tm, lm = torch.nn.Linear(4, 3), lt.nn.Linear(4, 3)
        copy_weights(tm, lm)
        tm, lm = torch.nn.utils.weight_norm(tm, dim=dim), lt.nn.utils.weight_norm(lm, dim=dim)
        assert [n for n, _ in lm.named_parameters()] == [n for n, _ in tm.named_parameters()]
        tm(x).pow(2).sum().backward()
        lm(to_lt(x)).pow(2).sum().backward()
        for (n, lp), tp in zip(lm.named_parameters(), tm.parameters()):
            assert_close(lp, tp, rtol=1e-5, atol=1e-6, what=f"{n} (dim={dim})")
            assert_close(lp.grad, tp.grad, rtol=1e-5, atol=1e-6, what=f"the gradient of {n} (dim={dim})")
        lt.nn.utils.remove_weight_norm(lm)
        assert sorted(n for n, _ in lm.named_parameters()) == ["bias", "weight"]
        assert_close(lm.weight, torch.nn.utils.remove_weight_norm(tm).weight, rtol=1e-5, atol=1e-6)
    check_cases([0, 1, None], case)
    with pytest.raises(ValueError, match="weight_norm of 'weight' not found in Linear"):
        lt.nn.utils.remove_weight_norm(lt.nn.Linear(2, 2))


VIEWS = {
    "contiguous": lambda t: t,
    "transposed": lambda t: t.transpose(0, 2),
    "stepped slice": lambda t: t[:, 1:, ::2],
    "selected": lambda t: t[1],
    "expanded": lambda t: t.expand(3, 2, 3, 4),
    "sliced then unsqueezed": lambda t: t[..., 1:3].unsqueeze(1),
}


def test_views_report_torchs_strides_offset_and_contiguity():
    base = np.arange(24, dtype=np.float32).reshape(2, 3, 4)

    def case(view):
        got, ref = view(lt.tensor(base)), view(torch.tensor(base))
        assert (got.stride(), got.stride(-1), got.storage_offset(), got.is_contiguous(), got.nbytes,
                got.itemsize) == (ref.stride(), ref.stride(-1), ref.storage_offset(), ref.is_contiguous(),
                                  ref.nbytes, ref.itemsize)
    check_cases(VIEWS, case)


def test_in_place_triangles_diagonal_fill_and_msort_match_torch(env):
    square, tall = values((4, 4), seed=1), values((7, 3), seed=2)
    cases = {
        "tril_": (square, lambda t: t.tril_(1)),
        "triu_": (square, lambda t: t.triu_(-1)),
        "fill_diagonal_": (tall, lambda t: t.fill_diagonal_(5.0)),
        "fill_diagonal_ wrap": (tall, lambda t: t.fill_diagonal_(5.0, wrap=True)),
        "fill_diagonal_ cube": (values((3, 3, 3)), lambda t: t.fill_diagonal_(-1.0)),
        "msort": (tall, lambda t: t.msort()),
    }

    def case(args):
        array, fn = args
        check(fn(lt.tensor(array.copy())), fn(torch.tensor(array.copy())))
    check_cases(cases, case)
    with pytest.raises(RuntimeError, match=r"fill_diagonal_: .*shape \(2, 3, 4\)"):
        lt.zeros(2, 3, 4).fill_diagonal_(1.0)


# name -> (fill, the distribution's mean and variance)
DISTRIBUTIONS = {
    "exponential_": (lambda t: t.exponential_(2.0), 0.5, 0.25),
    "geometric_": (lambda t: t.geometric_(0.3), 1 / 0.3, 0.7 / 0.09),
    "log_normal_": (lambda t: t.log_normal_(0.0, 0.5), math.exp(0.125), (math.exp(0.25) - 1) * math.exp(0.25)),
    "random_": (lambda t: t.random_(3, 7), 4.5, 15 / 12),
}


def test_random_fills_follow_their_distributions(env):
    """200k draws: the sample mean within 5 standard errors, the variance within 3%."""
    n = 200_000

    def case(args):
        fill, mean, var = args
        drawn = fill(lt.empty(n)).numpy().astype(np.float64)
        assert abs(drawn.mean() - mean) < 5 * math.sqrt(var / n), (drawn.mean(), mean)
        assert abs(drawn.var() / var - 1) < 0.03, (drawn.var(), var)
    lt.manual_seed(0)
    check_cases(DISTRIBUTIONS, case)
    cauchy = lt.empty(n).cauchy_(1.0, 2.0).numpy()  # no mean: its median and half the interquartile range
    assert abs(np.median(cauchy) - 1.0) < 0.03 and abs((np.percentile(cauchy, 75) - np.percentile(cauchy, 25)) / 2 - 2.0) < 0.05
    assert set(np.unique(lt.empty(1000).random_(5).numpy())) == {0, 1, 2, 3, 4}
    with pytest.raises(RuntimeError, match="geometric_: expects p to be in \\(0, 1\\), but got p=1.5"):
        lt.empty(3).geometric_(1.5)


def _newton_schulz_in_float32(grad, coefficients, steps, eps):
    """Muon's orthogonalisation written once for both libraries, in float32: bfloat16's roundings
    (an accumulation order apart) would hide the rest of the update from a tight comparison."""
    a, b, c = coefficients
    x = grad.float().T if grad.shape[0] > grad.shape[1] else grad.float()
    x = x / x.norm().clamp(min=eps)
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * (gram @ gram)) @ x
    return x.T if grad.shape[0] > grad.shape[1] else x


@pytest.mark.parametrize("kw", [dict(lr=0.02), dict(lr=0.05, nesterov=False, adjust_lr_fn="match_rms_adamw"),
                                dict(lr=0.02, ns_steps=3, ns_coefficients=(2.0, -1.5, 0.5), weight_decay=0.0)],
                         ids=["default", "no_nesterov_rms", "coefficients"])
def test_muon_matches_torch_given_the_same_gradients(env, kw, monkeypatch):
    """Momentum, Nesterov, weight decay and the learning-rate ratio, three steps, with the
    orthogonalisation in float32 on both sides (the bfloat16 one is compared below)."""
    not_eager_on_cl(env)
    import torch.optim._muon
    import lazytensor.optim.muon
    monkeypatch.setattr(torch.optim._muon, "_zeropower_via_newtonschulz", _newton_schulz_in_float32)
    monkeypatch.setattr(lazytensor.optim.muon, "zeropower_via_newtonschulz", _newton_schulz_in_float32)
    shapes = [(6, 4), (3, 6)]
    tps = [torch.nn.Parameter(torch.tensor(values(s, "float32", "unit", i))) for i, s in enumerate(shapes)]
    lps = [lt.nn.Parameter(to_lt(p)) for p in tps]
    topt, lopt = torch.optim.Muon(tps, **kw), lt.optim.Muon(lps, **kw)
    for step in range(3):
        for i, (tp, lp) in enumerate(zip(tps, lps)):
            g = values(shapes[i], "float32", "any", 10 * step + i)
            tp.grad, lp.grad = torch.tensor(g), lt.tensor(g)
        topt.step(), lopt.step()
        for i, (tp, lp) in enumerate(zip(tps, lps)):
            assert_close(lp, tp, rtol=1e-5, atol=1e-6, what=f"parameter {i} after step {step}")
            assert_close(lopt.state[lp]["momentum_buffer"], topt.state[tp]["momentum_buffer"], rtol=1e-6, atol=1e-7)


def test_muon_newton_schulz_in_bfloat16_agrees_with_torchs_to_bfloat16_rounding():
    """Most outputs are torch's bit for bit; where an accumulation order flips a bfloat16
    rounding, five iterations grow it to at most a few bfloat16 steps."""
    from torch.optim._muon import _zeropower_via_newtonschulz
    from lazytensor.optim.muon import zeropower_via_newtonschulz
    same, worst = [], 0.0
    for seed in range(20):
        g = values((5, 3) if seed % 2 else (3, 5), "float32", "any", seed)
        got = zeropower_via_newtonschulz(lt.tensor(g), (3.4445, -4.7750, 2.0315), 5, 1e-7)
        ref = _zeropower_via_newtonschulz(torch.tensor(g), (3.4445, -4.7750, 2.0315), 5, 1e-7)
        assert got.dtype == lt.bfloat16 and tuple(got.shape) == tuple(ref.shape)
        diff = np.abs(got.float().numpy() - ref.float().numpy())
        same.append(float((diff == 0).mean()))
        worst = max(worst, float(diff.max()))
    assert np.mean(same) > 0.8 and worst <= 1 / 16, (np.mean(same), worst)


def test_muon_refuses_what_torch_refuses():
    w = lt.nn.Parameter(lt.zeros(2, 2))
    check_cases({
        "a vector parameter": lambda: lt.optim.Muon([lt.nn.Parameter(lt.zeros(2))]),
        "negative lr": lambda: lt.optim.Muon([w], lr=-1.0),
        "unknown adjust_lr_fn": lambda: lt.optim.Muon([w], adjust_lr_fn="sqrt"),
    }, lambda call: pytest.raises(ValueError, call))
