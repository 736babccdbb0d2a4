"""torch.nn.utils beyond clipping: parametrize, weight and spectral norm (parametrization and hook
forms), BatchNorm fusion, functional_call and skip_init, against torch with copied weights."""
import warnings

import numpy as np
import pytest
import torch

import lazytensor as lt
from helpers import check_cases, not_eager_on_cl, using
from nn_helpers import assert_close, copy_weights, data, to_lt

P, TP = lt.nn.utils.parametrize, torch.nn.utils.parametrize


def _symmetric(m):
    class Symmetric(m.nn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).transpose(-1, -2)
    return Symmetric()


def _scaled(m):
    class Scaled(m.nn.Module):  # with a right_inverse: assigning the weight stores weight / 2
        def forward(self, X):
            return X * 2

        def right_inverse(self, Y):
            return Y / 2
    return Scaled()


def _linear_pair(n_in=3, n_out=3, seed=0):
    torch.manual_seed(seed)
    tm = torch.nn.Linear(n_in, n_out)
    return tm, copy_weights(tm, lt.nn.Linear(n_in, n_out))


def _load(lm, tm):
    lm.load_state_dict({k: lt.tensor(v.detach().numpy().copy()) for k, v in tm.state_dict().items()})
    return lm


def _forward_backward(tm, lm, x):
    tout, lout = tm(x), lm(to_lt(x))
    assert_close(lout, tout, what="output")
    tout.square().sum().backward()
    lout.square().sum().backward()


def test_register_parametrization_computes_the_weight_and_trains_the_original(env):
    tm, lm = _linear_pair()
    for m, mod in ((torch, tm), (lt, lm)):
        m.nn.utils.parametrize.register_parametrization(mod, "weight", _symmetric(m))
        m.nn.utils.parametrize.register_parametrization(mod, "weight", _scaled(m))
    assert type(lm).__name__ == "ParametrizedLinear" and isinstance(lm, lt.nn.Linear)
    assert P.type_before_parametrizations(lm) is lt.nn.Linear
    assert list(lm.state_dict()) == list(tm.state_dict())
    _forward_backward(tm, lm, data((2, 3), seed=1))
    assert_close(lm.parametrizations.weight.original.grad, tm.parametrizations.weight.original.grad, what="grad")
    assert lm.weight.grad is None  # the parametrized value is not a leaf
    assert [n for n, _ in lm.named_parameters()] == [n for n, _ in tm.named_parameters()]


def test_assigning_a_parametrized_tensor_goes_through_right_inverse(env):
    tm, lm = _linear_pair()
    value = data((3, 3), seed=2)
    for m, mod, v in ((torch, tm, value), (lt, lm, to_lt(value))):
        m.nn.utils.parametrize.register_parametrization(mod, "weight", _scaled(m))
        original = mod.parametrizations.weight.original
        with m.no_grad():
            mod.weight = v
        assert mod.parametrizations.weight.original is original  # the same tensor: an optimizer holds it
    assert_close(lm.parametrizations.weight.original, tm.parametrizations.weight.original)
    assert_close(lm.weight, value)


@pytest.mark.parametrize("leave", [True, False])
def test_remove_parametrizations_restores_a_plain_parameter(env, leave):
    tm, lm = _linear_pair()
    for m, mod in ((torch, tm), (lt, lm)):
        m.nn.utils.parametrize.register_parametrization(mod, "weight", _scaled(m))
        original = mod.parametrizations.weight.original
        m.nn.utils.parametrize.remove_parametrizations(mod, "weight", leave_parametrized=leave)
        assert mod.weight is original and type(mod) is m.nn.Linear and not hasattr(mod, "parametrizations")
    assert_close(lm.weight, tm.weight)
    assert not P.is_parametrized(lm) and list(lm.state_dict()) == list(tm.state_dict())


def test_cached_computes_a_parametrization_once():
    _, lm = _linear_pair()
    calls = []

    class Counting(lt.nn.Module):
        def forward(self, X):
            calls.append(1)
            return X
    P.register_parametrization(lm, "weight", Counting())
    calls.clear()
    with P.cached():
        assert lm.weight is lm.weight
    assert len(calls) == 1
    lm.weight, lm.weight
    assert len(calls) == 3


def test_parametrize_refusals():
    def shape_changing(m):
        class Flat(m.nn.Module):
            def forward(self, X):
                return X.reshape(-1)
        return Flat()
    check_cases({
        "changes the shape": lambda: P.register_parametrization(lt.nn.Linear(2, 2), "weight", shape_changing(lt)),
        "no such tensor": lambda: P.register_parametrization(lt.nn.Linear(2, 2), "nothing", _scaled(lt)),
        "remove what is not there": lambda: P.remove_parametrizations(lt.nn.Linear(2, 2), "weight"),
    }, lambda call: pytest.raises(ValueError, call))
    # unsafe lets the shape change, as torch's
    assert P.register_parametrization(lt.nn.Linear(2, 2), "weight", shape_changing(lt), unsafe=True).weight.shape == (4,)


@pytest.mark.parametrize("dim", [0, 1, None])
def test_weight_norm_parametrization_matches_torch(env, dim):
    not_eager_on_cl(env)
    torch.manual_seed(0)
    tm = torch.nn.utils.parametrizations.weight_norm(torch.nn.Conv1d(2, 3, 2), dim=dim)
    lm = _load(lt.nn.utils.parametrizations.weight_norm(lt.nn.Conv1d(2, 3, 2), dim=dim), tm)
    assert list(lm.state_dict()) == list(tm.state_dict())
    assert_close(lm.weight, tm.weight)
    _forward_backward(tm, lm, data((1, 2, 5), seed=3))
    for name in ("original0", "original1"):
        assert_close(getattr(lm.parametrizations.weight, name).grad, getattr(tm.parametrizations.weight, name).grad,
                     what=name)


@pytest.mark.parametrize("layer", ["linear", "conv_transpose"])
def test_spectral_norm_parametrization_matches_torch_in_train_and_eval(env, layer):
    not_eager_on_cl(env)
    torch.manual_seed(0)
    make = {"linear": lambda m: m.nn.Linear(4, 3), "conv_transpose": lambda m: m.nn.ConvTranspose1d(2, 3, 2)}[layer]
    tm = torch.nn.utils.parametrizations.spectral_norm(make(torch))
    lm = _load(lt.nn.utils.parametrizations.spectral_norm(make(lt)), tm)  # u, v too: the draws differ
    for mode in ("train", "train", "eval", "eval"):
        getattr(tm, mode)(), getattr(lm, mode)()
        assert_close(lm.weight, tm.weight, what=f"{mode} weight")
        assert_close(lm.parametrizations.weight[0]._u, tm.parametrizations.weight[0]._u, what=f"{mode} u")
    x = data((2, 4) if layer == "linear" else (1, 2, 3), seed=4)
    tm.train(), lm.train()
    _forward_backward(tm, lm, x)
    assert_close(lm.parametrizations.weight.original.grad, tm.parametrizations.weight.original.grad, what="grad")


def test_spectral_norm_of_a_fresh_module_divides_by_its_power_iteration_estimate():
    with using("numpy", True):  # 15 dependent power steps at registration: one device is enough
        lt.manual_seed(0)
        lm = lt.nn.utils.parametrizations.spectral_norm(lt.nn.Linear(5, 4))
        lm.eval()
        w = lm.parametrizations.weight.original.detach().numpy().astype(np.float64)
        u, v = (getattr(lm.parametrizations.weight[0], b).numpy().astype(np.float64) for b in ("_u", "_v"))
        np.testing.assert_allclose(lm.weight.detach().numpy(), w / (u @ w @ v), rtol=1e-5)
    assert abs(np.linalg.norm(w / (u @ w @ v), 2) - 1.0) < 0.05  # an estimate of the largest singular value


def test_legacy_spectral_norm_hook_matches_torch(env):
    not_eager_on_cl(env)
    torch.manual_seed(0)
    tm = torch.nn.utils.spectral_norm(torch.nn.Conv2d(2, 3, 2))
    lm = _load(lt.nn.utils.spectral_norm(lt.nn.Conv2d(2, 3, 2)), tm)
    assert sorted(lm.state_dict()) == sorted(tm.state_dict())
    x = data((1, 2, 3, 3), seed=5)
    for mode in ("train", "train", "eval"):
        getattr(tm, mode)(), getattr(lm, mode)()
        assert_close(lm(to_lt(x)), tm(x), what=f"{mode} output")
        assert_close(lm.weight_u, tm.weight_u, what=f"{mode} u")
    tm.train(), lm.train()
    _forward_backward(tm, lm, x)
    assert_close(lm.weight_orig.grad, tm.weight_orig.grad, what="grad")
    lt.nn.utils.remove_spectral_norm(lm), torch.nn.utils.remove_spectral_norm(tm)
    assert_close(lm.weight, tm.weight)
    assert sorted(lm.state_dict()) == ["bias", "weight"] and lm.weight.is_leaf
    with pytest.raises(ValueError, match="spectral_norm of 'weight' not found"):
        lt.nn.utils.remove_spectral_norm(lm)


@pytest.mark.parametrize("kind", ["conv2d", "conv_transpose2d", "linear", "linear_no_bias"])
def test_fuse_batch_norm_into_the_layer_before_it(env, kind):
    not_eager_on_cl(env)
    torch.manual_seed(0)
    make = {"conv2d": lambda m: (m.nn.Conv2d(2, 3, 2), m.nn.BatchNorm2d(3)),
            "conv_transpose2d": lambda m: (m.nn.ConvTranspose2d(2, 3, 2), m.nn.BatchNorm2d(3)),
            "linear": lambda m: (m.nn.Linear(4, 3), m.nn.BatchNorm1d(3)),
            "linear_no_bias": lambda m: (m.nn.Linear(4, 3, bias=False), m.nn.BatchNorm1d(3))}[kind]
    (tl, tb), (ll, lb) = make(torch), make(lt)
    with torch.no_grad():
        tb.running_mean.uniform_(-1, 1), tb.running_var.uniform_(0.5, 2), tb.weight.uniform_(), tb.bias.uniform_()
    copy_weights(tl, ll), copy_weights(tb, lb)
    for mod in (tl, tb, ll, lb):
        mod.eval()
    if kind.startswith("linear"):
        tf, lf = torch.nn.utils.fuse_linear_bn_eval(tl, tb), lt.nn.utils.fuse_linear_bn_eval(ll, lb)
        x = data((2, 4), seed=6)
    else:
        transpose = kind == "conv_transpose2d"
        tf = torch.nn.utils.fuse_conv_bn_eval(tl, tb, transpose)
        lf = lt.nn.utils.fuse_conv_bn_eval(ll, lb, transpose)
        x = data((1, 2, 3, 3), seed=6)
    assert_close(lf(to_lt(x)), tf(x))
    assert_close(lf(to_lt(x)), lb(ll(to_lt(x))))
    assert lf is not ll and lf.weight.is_leaf and lf.weight.requires_grad
    assert lf.bias.requires_grad == tf.bias.requires_grad
    ll.train()
    with pytest.raises(AssertionError, match="Fusion only for eval"):
        (lt.nn.utils.fuse_linear_bn_eval if kind.startswith("linear") else lt.nn.utils.fuse_conv_bn_eval)(ll, lb)


def test_fuse_linear_refuses_mismatched_features():
    ll, lb = lt.nn.Linear(4, 3).eval(), lt.nn.BatchNorm1d(2).eval()
    with pytest.raises(AssertionError, match="out_features"):
        lt.nn.utils.fuse_linear_bn_eval(ll, lb)


def test_functional_call_uses_the_given_tensors_and_restores_the_module(env):
    tm, lm = _linear_pair(3, 2)
    w = data((2, 3), seed=7).requires_grad_()
    lw = to_lt(w, requires_grad=True)
    x = data((4, 3), seed=8)
    tout = torch.func.functional_call(tm, {"weight": w}, (x,))
    lout = lt.func.functional_call(lm, [{"weight": lw}], to_lt(x))
    assert_close(lout, tout)
    tout.sum().backward(), lout.sum().backward()
    assert_close(lw.grad, w.grad)
    assert lm.weight.grad is None and isinstance(lm.weight, lt.nn.Parameter)
    assert_close(lm(to_lt(x)), tm(x))  # the module's own weights again


def test_functional_call_ties_weights_and_refuses_bad_keys():
    lm = lt.nn.Sequential(lt.nn.Linear(2, 2, bias=False), lt.nn.Linear(2, 2, bias=False))
    lm[1].weight = lm[0].weight
    x, zero = lt.ones(1, 2), lt.zeros(2, 2)
    assert lt.func.functional_call(lm, {"0.weight": zero}, (x,)).abs().sum().item() == 0
    assert lt.func.functional_call(lm, {"0.weight": zero}, (x,), tie_weights=False).abs().sum().item() == 0
    check_cases({
        "strict with a missing key": lambda: lt.func.functional_call(lm, {}, (x,), strict=True),
        "a key in two dicts": lambda: lt.func.functional_call(lm, [{"0.weight": zero}, {"0.weight": zero}], (x,)),
        "not a dict": lambda: lt.func.functional_call(lm, zero, (x,)),
    }, lambda call: pytest.raises((RuntimeError, ValueError), call))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lt.nn.utils.stateless.functional_call(lm, {"0.weight": zero}, (x,))
    assert any(issubclass(w.category, FutureWarning) for w in caught)


def test_functional_call_through_a_parametrization(env):
    tm, lm = _linear_pair(3, 2)
    for m, mod in ((torch, tm), (lt, lm)):
        m.nn.utils.parametrize.register_parametrization(mod, "weight", _scaled(m))
    w = data((2, 3), seed=9)
    x = data((1, 3), seed=10)
    key = "parametrizations.weight.original"
    assert_close(lt.func.functional_call(lm, {key: to_lt(w)}, to_lt(x)), torch.func.functional_call(tm, {key: w}, x))
    with pytest.raises(NotImplementedError, match="parametrizations.weight.original"):
        lt.func.functional_call(lm, {"weight": to_lt(w)}, to_lt(x))


def test_skip_init_and_the_deprecated_clip_grad_norm():
    lin = lt.nn.utils.skip_init(lt.nn.Linear, 3, 2)
    assert isinstance(lin, lt.nn.Linear) and lin.weight.shape == (2, 3)
    with pytest.raises(RuntimeError, match="Expected a Module"):
        lt.nn.utils.skip_init(int)
    p = lt.nn.Parameter(lt.ones(4))
    p.grad = lt.full((4,), 2.0)
    with pytest.warns(FutureWarning):
        norm = lt.nn.utils.clip_grad_norm([p], 1.0)
    assert abs(norm.item() - 4.0) < 1e-6 and abs(np.linalg.norm(p.grad.numpy()) - 1.0) < 1e-5
    from lazytensor.nn.utils.convert_parameters import parameters_to_vector  # torch's module path
    assert parameters_to_vector([p]).shape == (4,)


ORTHOGONAL = {  # weight shape (out, in), orthogonal_map
    "square_matrix_exp_default": ((4, 4), None),
    "tall_cayley": ((5, 3), "cayley"),
    "wide_householder_default": ((3, 5), None),
    "cayley_without_trivialization": ((3, 3), "cayley", False),
    "wide_householder_without_trivialization": ((3, 5), "householder", False),
}


def test_orthogonal_parametrization_matches_torch_after_loading_its_state(env):
    """The original is moved off its initial -I (its diagonal kept for the householder map, whose
    columns it signs), so every map is exercised; weights, output and the original's gradient
    match torch's. Without the trivialization the original is the weight itself. OpenCL builds
    the kernels of one case."""
    not_eager_on_cl(env)

    def case(case):
        (n_out, n_in), kind, *trivial = case
        tm, lm = _linear_pair(n_in, n_out)
        torch.nn.utils.parametrizations.orthogonal(tm, orthogonal_map=kind, use_trivialization=trivial != [False])
        lt.nn.utils.parametrizations.orthogonal(lm, orthogonal_map=kind, use_trivialization=trivial != [False])
        assert list(lm.state_dict()) == list(tm.state_dict())
        original = tm.parametrizations.weight.original
        with torch.no_grad():
            original.add_(data(tuple(original.shape), seed=5, scale=0.3).tril(-1))
        _load(lm, tm)
        assert_close(lm.weight, tm.weight, what="weight")
        _forward_backward(tm, lm, data((2, n_in), seed=3))
        assert_close(lm.parametrizations.weight.original.grad, tm.parametrizations.weight.original.grad,
                     what="grad")
    check_cases({k: v for k, v in ORTHOGONAL.items() if env.device != "cl" or k == "tall_cayley"}, case)


def test_orthogonal_weight_starts_as_the_q_of_the_weight_and_takes_an_assigned_matrix():
    """At registration the weight is its QR's Q (R's diagonal made positive); an orthogonal matrix
    assigned to it is kept as it is, another one replaced by its Q."""
    tm, lm = _linear_pair(4, 4)
    torch.nn.utils.parametrizations.orthogonal(tm)
    lt.nn.utils.parametrizations.orthogonal(lm)
    assert_close(lm.weight, tm.weight, what="initial weight")
    rotation = torch.linalg.qr(data((4, 4), seed=7))[0]
    for value in (rotation, data((4, 4), seed=8)):
        with torch.no_grad():
            tm.weight = value
        lm.weight = to_lt(value)
        assert_close(lm.weight, tm.weight, what="assigned weight")
        assert_close(lm.parametrizations.weight.original, tm.parametrizations.weight.original, what="original")


def test_orthogonal_householder_without_trivialization_starts_from_the_weights_reflectors():
    """The original is geqrf's packed QR of the weight with its diagonal made +-1 (R above it).
    On numpy: a column at a time, the reflectors are many small kernels to build on OpenCL."""
    with using("numpy", True):
        for n_out, n_in in ((4, 4), (5, 3), (3, 5)):
            tm, lm = _linear_pair(n_in, n_out)
            torch.nn.utils.parametrizations.orthogonal(tm, orthogonal_map="householder", use_trivialization=False)
            lt.nn.utils.parametrizations.orthogonal(lm, orthogonal_map="householder", use_trivialization=False)
            assert_close(lm.parametrizations.weight.original, tm.parametrizations.weight.original, what="original")
            assert_close(lm.weight, tm.weight, what="weight")


def test_orthogonal_parametrization_refusals():
    with pytest.raises(ValueError, match="Expected a matrix or batch of matrices. Got a tensor of 1 dimensions"):
        lt.nn.utils.parametrizations.orthogonal(lt.nn.Linear(2, 2), "bias")
    with pytest.raises(ValueError, match='orthogonal_map has to be one of .* Got: qr'):
        lt.nn.utils.parametrizations.orthogonal(lt.nn.Linear(2, 2), orthogonal_map="qr")
    without = lt.nn.utils.parametrizations.orthogonal(lt.nn.Linear(2, 2), use_trivialization=False)
    with pytest.raises(NotImplementedError, match="matrix exponential or the Cayley parametrizations when "
                                                  "use_trivialization=False"):
        without.weight = lt.eye(2)
    module = lt.nn.utils.parametrizations.orthogonal(lt.nn.Linear(2, 3))
    with pytest.raises(ValueError, match=r"shape \(3, 2\). Got a tensor of shape \(2, 3\)"):
        module.weight = lt.ones(2, 3)