"""Autograd metadata compared with torch op by op: which results require grad (a
piecewise-constant op's result does, with a zero gradient; a comparison's does not), the
leaf-ness and grad_fn of views, nn.Parameter over a plain tensor, and a second backward
through a freed graph."""
import inspect

import numpy as np
import pytest
import torch

import lazytensor as lt
import lazytensor.elementwise as elementwise
from helpers import check, values

pytestmark = pytest.mark.usefixtures("env")

TOL = dict(rtol=1e-5, atol=1e-6)
A = values((2, 3), seed=41)
B = values((2, 3), seed=42)

# the public functions of lazytensor.elementwise that take no float tensors or give no tensor
NOT_FLOAT_TENSOR_OPS = {"allclose", "broadcast_shapes", "bitwise_and", "bitwise_not", "bitwise_or",
                        "bitwise_xor"}
# those whose required arguments are not all tensors of the input's shape
CALLS = {
    "clamp": lambda f, x, y: f(x, 0.5), "clip": lambda f, x, y: f(x, 0.5),
    "where": lambda f, x, y: f(x > 0, x, y),
}


def _arity(fn) -> int:
    params = inspect.signature(fn).parameters.values()
    return sum(p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


def _table() -> dict:
    """name -> call(f, x, y), for each elementwise function lazytensor and torch both have."""
    table = {}
    for name, fn in vars(elementwise).items():
        if (name.startswith("_") or not inspect.isfunction(fn) or fn.__module__ != elementwise.__name__
                or name in NOT_FLOAT_TENSOR_OPS or not hasattr(torch, name) or not hasattr(lt, name)):
            continue
        table[name] = CALLS.get(name) or {1: lambda f, x, y: f(x), 2: lambda f, x, y: f(x, y),
                                          3: lambda f, x, y: f(x, y, y)}[_arity(fn)]
    return table


ELEMENTWISE_TABLE = _table()


# in eager mode on cl every op compiles a kernel of its own (seconds for the whole table): there
# the piecewise-constant ops and the comparisons stand for the table (numpy runs all of it eagerly)
EAGER_CL_SUBSET = ("sign", "floor", "round", "frac", "heaviside", "eq", "isnan", "copysign", "maximum")
# PyTorch's in-place logical ops on a float tensor pass the gradient on as a product would
# (MulBackward0), not as the logical op's zero gradient; float_power_ of float32 it refuses
INPLACE_SKIPPED = {"logical_and", "logical_or", "logical_xor", "logical_not", "float_power"}


def _names(env) -> list[str]:
    return list(EAGER_CL_SUBSET) if env.device == "cl" and not env.lazy else list(ELEMENTWISE_TABLE)


def _flags(m, name: str, grad_first: bool):
    """(requires_grad, has grad_fn) of m.<name> with one float input requiring grad."""
    x, y = m.tensor(A, requires_grad=True), m.tensor(B)
    out = ELEMENTWISE_TABLE[name](getattr(m, name), *((x, y) if grad_first else (y, x)))
    return out.requires_grad, out.grad_fn is not None


def test_the_table_covers_the_piecewise_constant_ops():
    assert {"sign", "floor", "ceil", "round", "trunc", "frac", "heaviside", "eq", "isnan"} <= set(ELEMENTWISE_TABLE)


@pytest.mark.parametrize("grad_first", [True, False], ids=["grad_operand_first", "grad_operand_second"])
def test_elementwise_results_require_grad_as_torchs(env, grad_first):
    for name in _names(env):
        assert _flags(lt, name, grad_first) == _flags(torch, name, grad_first), name


def test_inplace_methods_keep_requires_grad_as_torchs(env):
    names = [name for name in _names(env) if name not in INPLACE_SKIPPED
             and hasattr(torch.Tensor, name + "_") and hasattr(lt.Tensor, name + "_")]
    assert "sign" in names
    for name in names:
        flags = []
        for m in (lt, torch):
            y = m.tensor(A, requires_grad=True) * 1
            ELEMENTWISE_TABLE[name](lambda t, *rest: getattr(t, name + "_")(*rest), y, m.tensor(B))
            flags.append((y.requires_grad, y.grad_fn is not None))
        assert flags[0] == flags[1], name


OVERWRITES = {
    "zero_": lambda m, y: y.zero_(), "fill_": lambda m, y: y.fill_(-0.0), "copy_": lambda m, y: y.copy_(m.ones(4)),
    "eq_": lambda m, y: y.eq_(1.0), "lt_": lambda m, y: y.lt_(m.zeros(4)), "setitem_all": lambda m, y: y.__setitem__(..., 3.0),
}


@pytest.mark.parametrize("op", OVERWRITES)
def test_an_inplace_overwrite_keeps_a_tensor_requiring_grad_with_a_zero_gradient(op):
    """y.zero_() on a non-leaf that requires grad: PyTorch's y still requires grad, and the
    overwritten values get a zero gradient (not a NaN from an infinite one)."""
    results = []
    for m in (lt, torch):
        x = m.tensor([1.0, -0.0, np.nan, -2.0], requires_grad=True)
        y = x * 1
        OVERWRITES[op](m, y)
        assert y.requires_grad and y.grad_fn is not None and not y.is_leaf
        (y * m.tensor([np.inf, 1.0, 2.0, 3.0])).sum().backward()
        results.append((y.detach(), x.grad))
    (ours, our_grad), (theirs, their_grad) = results
    check(ours, theirs)
    assert np.array_equal(np.signbit(ours.numpy()), np.signbit(theirs.numpy()))
    check(our_grad, their_grad)


@pytest.mark.parametrize("op", ["sign", "sgn", "sign_method", "sign_", "heaviside"])
def test_a_sign_requires_grad_and_has_a_zero_gradient(op):
    call = {"sign": lambda m, x: m.sign(x), "sgn": lambda m, x: m.sgn(x), "sign_method": lambda m, x: x.sign(),
            "sign_": lambda m, x: (x * 1).sign_(), "heaviside": lambda m, x: m.heaviside(x, m.tensor(0.5))}[op]
    a = np.array([-2.0, -0.0, 0.0, 1.5, np.nan, np.inf], np.float32)
    results = []
    for m in (lt, torch):
        x = m.tensor(a, requires_grad=True)
        out = call(m, x)
        assert out.requires_grad and out.grad_fn is not None
        if op != "heaviside":  # heaviside has no derivative: its backward raises (test_autograd_ops)
            (out * 2).sum().backward()
            grad = x.grad if m is lt else torch.zeros(len(a)).add(x.grad)  # torch's sgn gives a ZeroTensor
            results.append((out.detach(), grad))
        else:
            results.append((out.detach(), lt.zeros(len(a)) if m is lt else torch.zeros(len(a))))
    (ours, our_grad), (theirs, their_grad) = results
    check(ours, theirs)
    assert np.array_equal(np.signbit(ours.numpy()), np.signbit(theirs.numpy()))  # +0.0 at -0.0, as torch
    check(our_grad, their_grad)


def test_sign_names_its_grad_fn_as_torch():
    x = lt.tensor(A, requires_grad=True)
    assert x.sign().grad_fn.name() == torch.tensor(A, requires_grad=True).sign().grad_fn.name()


def test_bernoulli_of_probabilities_requiring_grad_requires_grad_with_a_zero_gradient():
    p = lt.tensor([0.0, 0.25, 0.75, 1.0] * 4, requires_grad=True)
    lt.manual_seed(0)
    draw = lt.bernoulli(p)
    assert draw.requires_grad and draw.grad_fn is not None
    assert torch.bernoulli(torch.tensor([0.5], requires_grad=True)).requires_grad
    values_ = draw.detach().numpy()
    assert set(values_.tolist()) <= {0.0, 1.0} and values_[0] == 0 and values_[3] == 1
    draw.sum().backward()
    check(p.grad, torch.zeros(16))


# views that move nothing: PyTorch still makes a new tensor, a view with a grad_fn
IDENTITY_VIEWS = {
    "view": lambda w: w.view(3, 2), "reshape": lambda w: w.reshape(3, 2), "view_as": lambda w: w.view_as(w),
    "reshape_minus1": lambda w: w.reshape(-1, 2), "permute": lambda w: w.permute(0, 1),
    "movedim": lambda w: w.movedim(0, 0), "expand": lambda w: w.expand(3, 2), "broadcast_to": lambda w: w.broadcast_to((3, 2)),
    "narrow": lambda w: w.narrow(0, 0, 3), "slice": lambda w: w[:], "split": lambda w: w.split(3)[0],
    "chunk": lambda w: w.chunk(1)[0], "unflatten": lambda w: w.unflatten(1, (2,)),
}
# the same views, and others, whose names agree with PyTorch's
NAMED_VIEWS = ("view", "reshape", "view_as", "permute", "movedim", "expand", "narrow", "slice")
MORE_VIEWS = {
    "squeeze": lambda w: w.squeeze(), "transpose": lambda w: w.transpose(1, 1), "ellipsis": lambda w: w[...],
    "t_1d": lambda w: w[0].t(), "t_0d": lambda w: w[0, 0].t(), "unsqueeze_squeeze": lambda w: w.unsqueeze(0).squeeze(0),
    "unbind": lambda w: w.unsqueeze(0).unbind(0)[0], "flatten_one_dim": lambda w: w.flatten(1, 1),
    "contiguous": lambda w: w.contiguous(), "detach": lambda w: w.detach(),
}


def _view_flags(m, view, requires_grad=True):
    w = m.ones(3, 2, requires_grad=requires_grad)
    v = view(w)
    return v is w, v.is_leaf, v.requires_grad, v.grad_fn is None


@pytest.mark.parametrize("name", [*IDENTITY_VIEWS, *MORE_VIEWS])
def test_a_view_of_a_leaf_is_a_leaf_as_in_torch(name):
    view = {**IDENTITY_VIEWS, **MORE_VIEWS}[name]
    assert _view_flags(lt, view) == _view_flags(torch, view)
    assert _view_flags(lt, view, requires_grad=False) == _view_flags(torch, view, requires_grad=False)
    if name in NAMED_VIEWS:
        assert view(lt.ones(3, 2, requires_grad=True)).grad_fn.name() == view(torch.ones(3, 2, requires_grad=True)).grad_fn.name()


def test_a_view_of_a_view_made_of_nothing_has_its_own_grad_fn():
    w = lt.ones(3, 2, requires_grad=True)
    v = w.unsqueeze(0).squeeze(0)  # its node is w's own value
    assert v.grad_fn.name() == "ViewBackward0"  # not the leaf's AccumulateGrad
    (v * 2).sum().backward()
    check(w.grad, torch.full((3, 2), 2.0))


def test_gradients_through_identity_views_reach_the_base_as_in_torch():
    def run(m):
        w = m.tensor(A * 1, requires_grad=True)
        v, s, p = w.view(2, 3), w[:], w.permute(0, 1)
        v.retain_grad()
        ((v * v).sum() + (s * 3).sum() + p.exp().sum()).backward()
        assert not v.is_leaf and v.retains_grad and w.is_leaf
        grads = [w.grad.clone(), v.grad]
        y = w * 2
        z = y.view(2, 3)
        z.mul_(3)  # in place through an identity view of a non-leaf
        (y.sum() + z.sum()).backward()
        return grads + [w.grad]
    for ours, theirs in zip(run(lt), run(torch)):
        check(ours, theirs, **TOL)


@pytest.mark.parametrize("make", ["view_as", "unsqueeze_squeeze", "slice"])
def test_a_gradient_with_respect_to_an_identity_view_counts_the_views_of_it(make):
    """grad(y, v) for v = x.view_as(x), where y reads v and views of v (v[0]): every path
    from v counts (autograd.functional records on such views under create_graph)."""
    view = {"view_as": lambda x: x.view_as(x), "unsqueeze_squeeze": lambda x: x.unsqueeze(0).squeeze(0),
            "slice": lambda x: x[:]}[make]
    results = []
    for m in (lt, torch):
        x = m.tensor(A[0] * 1, requires_grad=True)
        v = view(x)
        y = (v ** 3).sum() + v[0] * v[1] + v.unsqueeze(0).squeeze(0)[2]
        (g,) = m.autograd.grad(y, v, create_graph=True)
        (h,) = m.autograd.grad(g[0], x)
        results.append((g, h))
    check(results[0][0], results[1][0], **TOL)
    check(results[0][1], results[1][1], **TOL)


def test_a_view_of_a_result_equal_to_its_input_reaches_that_result():
    """y = x * 1 holds x's value as a node of its own; a reshape of y must not be merged into a
    reshape of x (y's retained gradient and hooks would be skipped)."""
    grads = []
    for m in (lt, torch):
        x = m.tensor(A * 1, requires_grad=True)
        y = x * 1
        y.retain_grad()
        (y.reshape(3, 2) * 2).sum().backward()
        grads.append(y.grad)
    check(grads[0], grads[1])


def test_an_inplace_op_on_an_identity_view_of_a_leaf_raises_as_in_torch():
    w = lt.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad is being used in an in-place"):
        w.view(3).add_(1)
    with lt.no_grad():
        w[:].add_(1)
    check(w, torch.full((3,), 2.0))
    assert w.is_leaf and w.requires_grad


@pytest.mark.parametrize("realised", [False, True])
def test_views_made_under_no_grad_do_not_require_grad_whether_they_move_anything_or_not(realised):
    """PyTorch's views made under no_grad still require grad (see the README): lazytensor's do not,
    all alike, whether the leaf's value was computed or not."""
    w = lt.ones(3, 2, requires_grad=True)
    if realised:
        w.realize()
    with lt.no_grad():
        views = [w.view(3, 2), w[:], w.permute(0, 1), w[1:], w.t()]
    assert [(v.requires_grad, v.is_leaf, v.grad_fn) for v in views] == [(False, True, None)] * len(views)
    (w * 2).sum().backward()  # w itself is untouched
    check(w.grad, torch.full((3, 2), 2.0))


def test_a_parameter_of_a_plain_tensor_shares_its_memory_and_leaves_it_not_requiring_grad():
    def run(m):
        x = m.tensor(A * 1)
        p = m.nn.Parameter(x)
        assert p.requires_grad and p.is_leaf and not x.requires_grad and x.is_leaf and x.grad_fn is None
        assert not (x * 2).requires_grad
        with m.no_grad():
            p.add_(1)                     # an update of the parameter shows in x
        x.mul_(3)                         # and a write to x in the parameter
        (p * x).sum().backward()          # x is a constant here: the gradient is x's value
        assert x.grad is None and not x.requires_grad
        m.optim.SGD([p], lr=0.5).step()
        return [p.grad, p.detach(), x]
    for ours, theirs in zip(run(lt), run(torch)):
        check(ours, theirs, **TOL)


def test_a_parameter_that_does_not_require_grad_leaves_its_tensor_as_it_was():
    x = lt.tensor(A * 1)
    p = lt.nn.Parameter(x, requires_grad=False)
    assert not p.requires_grad and not x.requires_grad
    with lt.no_grad():
        p.add_(1)
    check(x, torch.from_numpy(A) + 1, **TOL)


SECOND_BACKWARDS = {
    "backward_of_a_new_sum": lambda m, w, y: y.sum().backward(),
    "backward_of_a_new_product": lambda m, w, y: (y * w).sum().backward(),
    "autograd_grad_of_a_new_sum": lambda m, w, y: m.autograd.grad(y.sum(), w),
    "backward_through_a_view": lambda m, w, y: y[1:].sum().backward(),
}


@pytest.mark.parametrize("second", SECOND_BACKWARDS)
def test_a_second_backward_through_a_freed_graph_raises_in_both_modes(second):
    """y's graph was freed by the first backward; a new op on y leads back into it (lazily,
    y's value was never computed: the new op must not take y's history again)."""
    for m in (torch, lt):
        w = m.tensor(A * 1, requires_grad=True)
        y = (w * w).exp()
        y.sum().backward()
        first = w.grad.clone()
        with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
            SECOND_BACKWARDS[second](m, w, y)
        assert (y * 2).requires_grad          # an op on y is fine
    check(w.grad, first)                      # nothing half-updated


def test_a_state_carried_over_a_freed_graph_raises_at_the_next_backward():
    """A recurrent state kept across steps without detach: PyTorch's second step raises."""
    for m in (torch, lt):
        w = m.tensor(A * 0.1, requires_grad=True)
        h = m.zeros(2, 3)
        h = (h + w).tanh()
        h.sum().backward()
        h = (h + w).tanh()
        with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
            h.sum().backward()
        h = (h.detach() + w).tanh()           # the usual mend
        h.sum().backward()


REUSED_WITHOUT_SAVED_VALUES = {
    "sum_of_a_sum": lambda w: (w + 1).sum(),
    "view": lambda w: w.t(),
    "slice": lambda w: w[1:],
    "identity_view": lambda w: w.view(2, 3),
    "mean": lambda w: w.mean(0),  # its 1 / n is a constant, not a saved value
    "cumsum": lambda w: w.cumsum(1),
    "tril": lambda w: w.tril(),  # its mask is made of positions
}


@pytest.mark.parametrize("make", REUSED_WITHOUT_SAVED_VALUES)
def test_a_graph_that_saved_nothing_takes_a_second_backward_as_in_torch(make):
    """Views, sums and additions save no value for backward: PyTorch frees nothing of them,
    so a view (or sum) used again after a backward is fine in both LAZY modes."""
    def run(m):
        w = m.tensor(A * 1, requires_grad=True)
        y = REUSED_WITHOUT_SAVED_VALUES[make](w)
        (y * y).sum().backward()
        (y * 3).sum().backward()
        return w.grad
    check(run(lt), run(torch), **TOL)


def test_retain_graph_keeps_a_lazy_graph_for_a_second_backward():
    def run(m):
        w = m.tensor(A * 1, requires_grad=True)
        y = (w * w).exp()
        y.sum().backward(retain_graph=True)
        (y * w).sum().backward()
        return w.grad
    check(run(lt), run(torch), rtol=1e-4, atol=1e-5)
