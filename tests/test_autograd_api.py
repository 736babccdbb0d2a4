"""The autograd user API, compared with torch: requires_grad propagation,
.grad accumulation, retain_grad, detach/.data, grad modes, lt.autograd.grad
(incl. higher order), backward(gradient=...), hooks, grad_fn/is_leaf, the
error cases with PyTorch's messages, custom Functions and gradcheck."""
import math
import warnings
import re

import numpy as np
import pytest
import torch

import lazytensor as lt
from helpers import check, using, values

TOL = dict(rtol=1e-4, atol=1e-5)
X = values((3, 4), seed=31)
W = values((4, 2), seed=32)


def leaf(m, a=X, requires_grad=True):
    return m.tensor(np.array(a, copy=True), requires_grad=requires_grad)


def both(fn):
    """Run fn(m) with m = lt and m = torch; return (lt result, torch result)."""
    return fn(lt), fn(torch)


# ------------------------------------------------------------ flags
@pytest.mark.usefixtures("env")
class TestFlags:
    def test_requires_grad_propagation(self):
        x = leaf(lt)
        c = leaf(lt, W, requires_grad=False)
        assert x.requires_grad and not c.requires_grad
        assert (x * 2).requires_grad
        assert (x @ c).requires_grad
        assert not (c * 2).requires_grad
        assert not (c.exp() + c).requires_grad
        assert (c.sum() + x.sum()).requires_grad
        assert (x[0]).requires_grad and x.T.requires_grad and x.reshape(-1).requires_grad
        assert not (x > 0).requires_grad                 # bool results never require grad
        assert not x.argmax().requires_grad
        assert lt.tensor(X).requires_grad is False
        assert lt.zeros(3, requires_grad=True).requires_grad
        assert lt.ones(2, 2).requires_grad is False

    def test_grad_fn_and_is_leaf(self):
        x = leaf(lt)
        c = leaf(lt, requires_grad=False)
        assert x.is_leaf and x.grad_fn is None
        assert c.is_leaf and c.grad_fn is None
        for y in (x * 2, x * 1, x + 0, x.exp(), x.sum(), x[0], x.T, x.reshape(-1), x.clone()):
            assert not y.is_leaf, y.grad_fn
            assert y.grad_fn is not None
        z = c * 2                        # no input requires grad: a leaf, like torch
        assert z.is_leaf and z.grad_fn is None
        d = (x * 2).detach()
        assert d.is_leaf and d.grad_fn is None and not d.requires_grad

    @pytest.mark.parametrize("fn", [
        lambda x: x * 2, lambda x: x + 1, lambda x: x - x.flip(0), lambda x: x.exp(), lambda x: x.tanh(),
        lambda x: x.sum(0), lambda x: x.reshape(-1), lambda x: x.abs(), lambda x: x.sqrt(),
        lambda x: x.double(), lambda x: x[1:], lambda x: x.reciprocal(), lambda x: x.log1p(),
    ], ids=["mul", "add", "sub", "exp", "tanh", "sum_dim", "view", "abs", "sqrt", "to", "slice", "reciprocal",
            "log1p"])
    def test_grad_fn_names_the_op_as_torch(self, fn):
        ours, theirs = fn(leaf(lt)).grad_fn, fn(leaf(torch)).grad_fn
        assert ours.name() == theirs.name()
        assert re.fullmatch(rf"<{theirs.name()} object at 0x[0-9a-f]+>", repr(ours))

    def test_requires_grad_(self):
        x = lt.tensor(X)
        assert x.requires_grad_() is x
        assert x.requires_grad and x.is_leaf
        (x * x).sum().backward()
        check(x.grad, 2 * torch.from_numpy(X), **TOL)
        x.requires_grad_(False)
        assert not x.requires_grad
        assert not (x * 2).requires_grad

    def test_a_detached_copy_made_a_leaf_leaves_the_original_as_it_was(self):
        w = lt.tensor(X, requires_grad=True)
        copy = w.detach().requires_grad_()
        (w * 2).sum().backward()
        (copy * 3).sum().backward()
        assert w.is_leaf and copy.is_leaf
        check(w.grad, 2 * torch.ones(X.shape), **TOL)
        check(copy.grad, 3 * torch.ones(X.shape), **TOL)

    @pytest.mark.parametrize("reading", ["detach", "data", "sliced_detach", "transpose", "slice"])
    def test_a_reading_of_a_plain_tensor_made_a_leaf_leaves_the_tensor_as_it_was(self, reading):
        """x.detach().requires_grad_(), the usual way to ask for an input's gradient, or a view's
        requires_grad_(): the reading requires grad, x does not."""
        read = {"detach": lambda t: t.detach(), "data": lambda t: t.data,
                "sliced_detach": lambda t: t[1:].detach(), "transpose": lambda t: t.t(),
                "slice": lambda t: t[1:]}[reading]
        for m in (torch, lt):  # torch first: the assertions hold there, and `v` is lazytensor's after
            x = m.tensor(X)
            v = read(x).requires_grad_()
            assert v.requires_grad and v.is_leaf and not x.requires_grad
            (v * 3).sum().backward()
            assert x.grad is None
        check(v.grad, 3 * torch.ones(tuple(v.shape)), **TOL)

    def test_a_parameter_of_a_computed_tensor_is_a_leaf_of_its_own(self):
        """nn.Parameter(w * 2): the parameter gets the gradient, w none (PyTorch detaches)."""
        results = []
        for m in (torch, lt):
            w = m.tensor(X, requires_grad=True)
            p = m.nn.Parameter(w * 2)
            (p * 3).sum().backward()
            assert p.is_leaf and w.grad is None
            results.append(p.grad)
        check(results[1], results[0], **TOL)

    def test_requires_grad_on_non_leaf_raises(self):
        y = leaf(lt) * 2
        with pytest.raises(RuntimeError, match="only change requires_grad flags of leaf variables"):
            y.requires_grad_(False)


# ------------------------------------------------------------ .grad
@pytest.mark.usefixtures("env")
class TestGrad:
    def test_grad_is_none_before_backward(self):
        x = leaf(lt)
        assert x.grad is None

    def test_leaf_grad_accumulates(self):
        def run(m):
            x = leaf(m)
            (x * x).sum().backward()
            first = x.grad.clone()
            (x.sin() * 3).sum().backward()
            return first, x.grad
        (a1, a2), (t1, t2) = both(run)
        check(a1, t1, **TOL)
        check(a2, t2, **TOL)

    def test_same_expression_rebuilt_after_backward(self):
        """A fresh graph that happens to compute the same values as a freed one
        is a new graph (no error, gradients accumulate)."""
        def run(m):
            x = leaf(m)
            for _ in range(3):
                (x * x).sum().backward()
                (x.exp() * 2).sum().backward()
            return x.grad
        check(run(lt), run(torch), **TOL)

    def test_grad_can_be_reset(self):
        x = leaf(lt)
        (x * 2).sum().backward()
        x.grad = None
        (x * 3).sum().backward()
        check(x.grad, torch.full((3, 4), 3.0))
        x.grad.zero_()
        (x * 4).sum().backward()
        check(x.grad, torch.full((3, 4), 4.0))

    def test_grad_has_the_leaf_shape_and_dtype(self):
        x = leaf(lt, X[0])
        (x.unsqueeze(0).expand(5, 4) * 2).sum().backward()
        assert tuple(x.grad.shape) == (4,)
        assert x.grad.dtype == lt.float32
        assert not x.grad.requires_grad
        check(x.grad, torch.full((4,), 10.0))

    def test_retain_grad_on_non_leaf(self):
        def run(m):
            x = leaf(m)
            y = x * 2 + 1
            y.retain_grad()
            z = y.tanh()
            z.retain_grad()
            (z * m.tensor(X)).sum().backward()
            return x.grad, y.grad, z.grad
        check(run(lt), run(torch), **TOL)

    def test_retain_grad_after_the_tensor_was_viewed(self):
        def run(m):
            x = leaf(m)
            y = x * 2
            view = y.view(-1)[1:]  # read through a view made before retain_grad
            y.retain_grad()
            (view * 3).sum().backward()
            return x.grad, y.grad
        ours, theirs = run(lt), run(torch)
        assert ours[1] is not None
        check(ours, theirs, **TOL)

    def test_non_leaf_grad_not_retained_by_default(self):
        x = leaf(lt)
        y = x * 2
        (y * y).sum().backward()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")        # torch warns when .grad of a non-leaf is read
            assert y.grad is None
        assert x.grad is not None

    def test_backward_with_gradient_on_non_scalar(self):
        g = values((3, 2), seed=33)

        def run(m):
            x, w = leaf(m), leaf(m, W)
            y = (x @ w).sigmoid()
            y.backward(gradient=m.tensor(g))
            return x.grad, w.grad
        check(run(lt), run(torch), **TOL)

    def test_backward_gradient_positional_and_scalar_gradient(self):
        def run(m):
            x = leaf(m)
            y = (x ** 2).mean()
            y.backward(m.tensor(2.5))
            return x.grad
        check(run(lt), run(torch), **TOL)

    def test_integer_and_bool_intermediates_cut_the_graph(self):
        def run(m):
            x = leaf(m)
            mask = (x > 0).float()
            idx = x.argmax(dim=1)
            y = (x * mask).sum() + x[m.arange(3), idx].sum()
            y.backward()
            return x.grad
        check(run(lt), run(torch), **TOL)


# ------------------------------------------------------------ detach / .data
@pytest.mark.usefixtures("env")
class TestDetach:
    def test_detach_cuts_the_graph(self):
        def run(m):
            x = leaf(m)
            y = x.exp()
            z = (y.detach() * y).sum()         # only one path to x
            z.backward()
            return x.grad
        check(run(lt), run(torch), **TOL)

    def test_detach_result_flags(self):
        x = leaf(lt)
        d = (x * 2).detach()
        assert not d.requires_grad and d.grad_fn is None and d.is_leaf
        check(d, torch.from_numpy(X) * 2)

    def test_data_cuts_the_graph(self):
        def run(m):
            x = leaf(m)
            z = (x.data * x).sum()
            z.backward()
            return x.grad
        check(run(lt), run(torch), **TOL)

    def test_data_is_an_alias_usable_for_manual_updates(self):
        def run(m):
            x = leaf(m)
            (x * x).sum().backward()
            x.data -= 0.1 * x.grad             # classic manual SGD, no error on a leaf
            assert x.requires_grad and x.is_leaf
            return x.detach().clone()
        check(run(lt), run(torch), **TOL)

    def test_detach_shares_storage(self):
        def run(m):
            x = leaf(m)
            d = x.detach()
            d.mul_(2)                          # visible through x, as in torch
            return x.detach().clone()
        check(run(lt), run(torch))


# ------------------------------------------------------------ grad modes
@pytest.mark.usefixtures("env")
class TestGradModes:
    def test_no_grad(self):
        x = leaf(lt)
        with lt.no_grad():
            y = x * 2
            z = (x @ leaf(lt, W)).relu().sum()
        assert not y.requires_grad and y.grad_fn is None
        assert not z.requires_grad and z.grad_fn is None
        assert (x * 2).requires_grad                   # restored after the block
        check(y, torch.from_numpy(X) * 2)

    def test_no_grad_as_decorator(self):
        @lt.no_grad()
        def f(t):
            return t * 3
        assert not f(leaf(lt)).requires_grad

    def test_enable_grad_inside_no_grad(self):
        x = leaf(lt)
        with lt.no_grad():
            with lt.enable_grad():
                y = x * 2
            z = x * 2
        assert y.requires_grad and not z.requires_grad
        y.sum().backward()
        check(x.grad, torch.full((3, 4), 2.0))

    @pytest.mark.parametrize("view", ["reshape", "transpose", "slice"])
    def test_a_view_made_with_grad_on_still_requires_grad_when_first_read_under_no_grad(self, view):
        """out = model(x).reshape(...); a metric under no_grad; then out's backward."""
        make = {"reshape": lambda t: t.reshape(2, 6), "transpose": lambda t: t.t(), "slice": lambda t: t[1:]}[view]

        def run(m):
            x = leaf(m)
            out = make(x * 2)
            with m.no_grad():
                flag = out.requires_grad
                (out > 0).float().mean()
            (out * out).sum().backward()
            return flag, x.grad
        (flag, grad), (torch_flag, torch_grad) = run(lt), run(torch)
        assert flag == torch_flag
        check(grad, torch_grad, **TOL)

    def test_a_view_made_under_no_grad_passes_no_gradient_when_read_with_grad_on(self):
        """A regression target taken as a view of the prediction under no_grad."""
        def run(m):
            x = leaf(m)
            y = x * 2
            with m.no_grad():
                target = y[:, 0]
            ((y[:, 1] - target) ** 2).sum().backward()
            return x.grad
        check(run(lt), run(torch), **TOL)

    def test_a_view_keeps_requiring_grad_after_its_base_changes_in_place_under_no_grad(self):
        """An optimizer-style update of w, then a logging read of w[0] under no_grad."""
        def run(m):
            w = leaf(m)
            v = w[0]
            with m.no_grad():
                w.mul_(2)
                v.tolist()
            assert v.requires_grad
            (v * 3).sum().backward()
            return w.grad
        check(run(lt), run(torch), **TOL)

    def test_set_grad_enabled(self):
        x = leaf(lt)
        with lt.set_grad_enabled(False):
            a = x * 2
            with lt.set_grad_enabled(True):
                b = x * 2
        assert not a.requires_grad and b.requires_grad
        lt.set_grad_enabled(False)
        try:
            c = x + 1
        finally:
            lt.set_grad_enabled(True)
        assert not c.requires_grad
        assert (x + 1).requires_grad

    def test_no_grad_restores_mode_after_exception(self):
        x = leaf(lt)
        with pytest.raises(ValueError):
            with lt.no_grad():
                raise ValueError("boom")
        assert (x * 2).requires_grad

    def test_inplace_on_leaf_allowed_under_no_grad(self):
        def run(m):
            x = leaf(m)
            with m.no_grad():
                x.add_(1)
                x[0] = 5.0
                x *= 2
            assert x.requires_grad and x.is_leaf
            (x * x).sum().backward()
            return x.detach().clone(), x.grad
        check(run(lt), run(torch), **TOL)


# ------------------------------------------------------------ lt.autograd.grad
@pytest.mark.usefixtures("env")
class TestAutogradGrad:
    def test_grad_returns_tuple_and_leaves_dot_grad_alone(self):
        def run(m):
            x, w = leaf(m), leaf(m, W)
            y = ((x @ w).tanh() ** 2).sum()
            gx, gw = m.autograd.grad(y, (x, w))
            assert x.grad is None and w.grad is None
            return gx, gw
        check(run(lt), run(torch), **TOL)

    def test_grad_single_input_and_grad_outputs(self):
        g = values((3, 4), seed=34)

        def run(m):
            x = leaf(m)
            y = x.exp() * x
            (gx,) = m.autograd.grad(y, x, grad_outputs=m.tensor(g))
            return gx
        check(run(lt), run(torch), **TOL)

    def test_grad_lists_of_outputs(self):
        g1, g2 = values((3, 4), seed=35), values((4,), seed=36)

        def run(m):
            x = leaf(m)
            y1, y2 = x.sin(), x.sum(0)
            return m.autograd.grad([y1, y2], [x], grad_outputs=[m.tensor(g1), m.tensor(g2)])
        check(run(lt), run(torch), **TOL)

    def test_retain_graph_allows_a_second_call(self):
        def run(m):
            x = leaf(m)
            y = (x.exp() * x).sum()
            (a,) = m.autograd.grad(y, x, retain_graph=True)
            (b,) = m.autograd.grad(y, x)
            return a, b
        check(run(lt), run(torch), **TOL)

    @pytest.mark.parametrize("name, f, d2", [
        ("x**3", lambda x: x ** 3, lambda x: 6 * x),
        ("sin(x)*x", lambda x: x.sin() * x, lambda x: 2 * np.cos(x) - x * np.sin(x)),
        ("exp(-x*x)", lambda x: (-(x * x)).exp(), lambda x: (4 * x * x - 2) * np.exp(-x * x)),
        ("tanh", lambda x: x.tanh(), lambda x: -2 * np.tanh(x) * (1 - np.tanh(x) ** 2)),
    ])
    def test_second_derivative(self, name, f, d2):
        def run(m):
            x = leaf(m)
            (g,) = m.autograd.grad(f(x).sum(), x, create_graph=True)
            assert g.requires_grad and g.grad_fn is not None
            (gg,) = m.autograd.grad(g.sum(), x)
            return g, gg
        (g, gg), (tg, tgg) = run(lt), run(torch)
        check(g, tg, **TOL)
        check(gg, tgg, **TOL)
        np.testing.assert_allclose(gg.numpy(), d2(X.astype(np.float64)), rtol=1e-3, atol=1e-4)

    def test_third_derivative(self):
        def run(m):
            x = leaf(m)
            (g,) = m.autograd.grad((x ** 4).sum(), x, create_graph=True)
            (gg,) = m.autograd.grad(g.sum(), x, create_graph=True)
            (ggg,) = m.autograd.grad(gg.sum(), x)
            return ggg
        check(run(lt), run(torch), rtol=1e-4, atol=1e-4)

    def test_gradient_penalty_mixed_second_order(self):
        """d/dw of |d f(x, w) / dx|^2: mixed second derivatives reach another leaf."""
        def run(m):
            x, w = leaf(m), leaf(m, W)
            f = (x @ w).tanh().sum()
            (gx,) = m.autograd.grad(f, x, create_graph=True)
            pen = (gx ** 2).sum()
            pen.backward()
            return w.grad, x.grad
        check(run(lt), run(torch), **TOL)

    @pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
    def test_a_second_backward_through_both_graphs(self):
        """The loss mixes the first graph (y) and the gradient's graph (gx): one backward
        walks both (the case LAZY=0 once broke)."""
        def run(m):
            x, w = leaf(m), leaf(m, W)
            y = (x @ w).tanh().sum()
            y.backward(create_graph=True)
            gx = x.grad
            x.grad, w.grad = None, None
            ((gx ** 2).sum() + y * 0.5).backward()
            return x.grad, w.grad
        check(run(lt), run(torch), **TOL)

    @pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
    def test_backward_create_graph_then_differentiate_grad(self):
        def run(m):
            x = leaf(m)
            (x.sin() * x).sum().backward(create_graph=True)
            g = x.grad
            assert g.requires_grad
            (gg,) = m.autograd.grad(g.sum(), x)
            return g.detach(), gg
        check(run(lt), run(torch), **TOL)


# ------------------------------------------------------------ hooks
@pytest.mark.usefixtures("env")
class TestHooks:
    def test_hook_modifies_gradient_of_non_leaf(self):
        def run(m):
            x = leaf(m)
            y = x * 3
            y.register_hook(lambda g: g * 2 + 1)
            (y.sin()).sum().backward()
            return x.grad
        check(run(lt), run(torch), **TOL)

    def test_hook_on_leaf_and_observing_hook(self):
        seen = {}

        def run(m):
            x = leaf(m)
            x.register_hook(lambda g: g.clamp(min=0))
            y = x.exp()
            y.register_hook(lambda g: seen.__setitem__(m.__name__, g.clone()))   # returns None
            (y * m.tensor(X)).sum().backward()
            return x.grad
        check(run(lt), run(torch), **TOL)
        check(seen["lazytensor"], seen["torch"], **TOL)

    def test_hook_handle_remove(self):
        def run(m):
            x = leaf(m)
            y = x * 2
            h = y.register_hook(lambda g: g * 100)
            h.remove()
            y.sum().backward()
            return x.grad
        check(run(lt), run(torch))


# ------------------------------------------------------------ errors
@pytest.mark.usefixtures("env")
class TestErrors:
    def test_backward_on_non_scalar_without_gradient(self):
        x = leaf(lt)
        y = x * 2
        with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
            y.backward()
        assert x.grad is None
        y.sum().backward()                              # graph still usable
        check(x.grad, torch.full((3, 4), 2.0))

    def test_autograd_grad_on_non_scalar_without_grad_outputs(self):
        x = leaf(lt)
        with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
            lt.autograd.grad(x * 2, x)

    def test_backward_on_tensor_without_grad(self):
        with pytest.raises(RuntimeError, match="does not require grad and does not have a grad_fn"):
            lt.tensor(X).sum().backward()

    def test_second_backward_without_retain_graph(self):
        x = leaf(lt)
        y = (x.exp() * x).sum()
        y.backward()
        g1 = x.grad.numpy().copy()
        with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
            y.backward()
        np.testing.assert_array_equal(x.grad.numpy(), g1)       # not half-updated
        (x * 2).sum().backward()                                 # x still usable
        np.testing.assert_allclose(x.grad.numpy(), g1 + 2, **TOL)

    def test_second_autograd_grad_without_retain_graph(self):
        x = leaf(lt)
        y = (x.sin() * x).sum()
        lt.autograd.grad(y, x)
        with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
            lt.autograd.grad(y, x)

    def test_an_op_on_a_value_whose_graph_was_freed_is_fine(self):
        """A gradient taken with create_graph, used, and printed after its backward (LAZY=0
        computed it at once): the op that reads it is fine, as in PyTorch."""
        x = leaf(lt)
        (gx,) = lt.autograd.grad((x.exp() * x).tanh().sum(), x, create_graph=True)
        (gx * gx).sum().backward()
        total = gx.sum()
        np.testing.assert_allclose(total.item(), gx.detach().numpy().sum(), rtol=1e-5)

    def test_retain_graph_then_second_backward_accumulates(self):
        def run(m):
            x = leaf(m)
            y = (x.exp() * x).sum()
            y.backward(retain_graph=True)
            y.backward()
            return x.grad
        check(run(lt), run(torch), **TOL)

    def test_saved_tensor_modified_in_place(self):
        x = leaf(lt)
        w = leaf(lt, X * 0.5)
        y = x * 2
        z = y.sin()                      # saves y
        loss = z.sum() + (w * 3).sum()   # an independent branch reaching w
        y.mul_(3)
        with pytest.raises(RuntimeError, match=r"(?s)modified by an inplace operation.*is at version 1; expected version 0"):
            loss.backward()
        assert x.grad is None and w.grad is None            # nothing half-updated
        check(y, torch.from_numpy(X) * 6, **TOL)             # tensors still usable
        (x * w).sum().backward()
        check(x.grad, torch.from_numpy(X) * 0.5, **TOL)

    def test_saved_output_modified_in_place(self):
        x = leaf(lt)
        w = leaf(lt, X * 0.5)
        (w * x).sum().backward()
        gw = w.grad.numpy().copy()
        y = (x * w).exp()                # exp saves its output
        y.add_(1)
        y.add_(1)
        with pytest.raises(RuntimeError, match=r"(?s)modified by an inplace operation.*is at version 2; expected version 0"):
            y.sum().backward()
        np.testing.assert_array_equal(w.grad.numpy(), gw)  # not half-updated

    def test_inplace_on_leaf_that_requires_grad(self):
        ops = {
            "add_": lambda x: x.add_(1),
            "mul_": lambda x: x.mul_(2),
            "iadd": lambda x: x.__iadd__(1),
            "setitem": lambda x: x.__setitem__(0, 1.0),
            "zero_": lambda x: x.zero_(),
            "clamp_": lambda x: x.clamp_(0, 1),
        }
        for name, op in ops.items():
            x = leaf(lt)
            with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place operation"):
                op(x)
            check(x, torch.from_numpy(X))                  # value unchanged
            assert x.requires_grad and x.is_leaf and x.grad_fn is None, name
            (x * 2).sum().backward()                         # still usable
            check(x.grad, torch.full((3, 4), 2.0))

    def test_inplace_on_view_of_leaf_that_requires_grad(self):
        x = leaf(lt)
        with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad is being used in an in-place operation"):
            x[0].add_(1)
        check(x, torch.from_numpy(X))

    def test_inplace_not_saved_is_fine(self):
        def run(m):
            x = leaf(m)
            y = x * 2                     # mul by a scalar saves nothing
            y.add_(1)
            y.mul_(x)                     # saves the old y (torch clones it)
            y.sum().backward()
            return x.grad, y.detach()
        check(run(lt), run(torch), **TOL)


# ------------------------------------------------------------ custom Function
def _relu_fn(autograd):
    class MyReLU(autograd.Function):
        """The PyTorch tutorial's custom ReLU, unchanged."""

        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return input.clamp(min=0)

        @staticmethod
        def backward(ctx, grad_output):
            input, = ctx.saved_tensors
            grad_input = grad_output.clone()
            grad_input[input < 0] = 0
            return grad_input
    return MyReLU


def _legendre_fn(autograd):
    class LegendrePolynomial3(autograd.Function):
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return 0.5 * (5 * input ** 3 - 3 * input)

        @staticmethod
        def backward(ctx, grad_output):
            input, = ctx.saved_tensors
            return grad_output * 1.5 * (5 * input ** 2 - 1)
    return LegendrePolynomial3


def tutorial_two_layer_net(torch, x, y, w1, w2, steps):
    """The tutorial's two-layer net with the custom ReLU; ``torch`` is lt or torch."""
    MyReLU = _relu_fn(torch.autograd)
    w1 = torch.tensor(w1, requires_grad=True)
    w2 = torch.tensor(w2, requires_grad=True)
    x, y = torch.tensor(x), torch.tensor(y)
    learning_rate = 1e-4
    losses = []
    for t in range(steps):
        relu = MyReLU.apply
        y_pred = relu(x.mm(w1)).mm(w2)
        loss = (y_pred - y).pow(2).sum()
        losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            w1 -= learning_rate * w1.grad
            w2 -= learning_rate * w2.grad
            w1.grad.zero_()
            w2.grad.zero_()
    return losses, w1.detach().numpy(), w2.detach().numpy()


def tutorial_legendre(torch, steps):
    """The tutorial's polynomial fit with LegendrePolynomial3."""
    LegendrePolynomial3 = _legendre_fn(torch.autograd)
    dtype = torch.float
    x = torch.linspace(-math.pi, math.pi, 2000, dtype=dtype)
    y = torch.sin(x)
    a = torch.full((), 0.0, dtype=dtype, requires_grad=True)
    b = torch.full((), -1.0, dtype=dtype, requires_grad=True)
    c = torch.full((), 0.0, dtype=dtype, requires_grad=True)
    d = torch.full((), 0.3, dtype=dtype, requires_grad=True)
    learning_rate = 5e-6
    losses = []
    for t in range(steps):
        P3 = LegendrePolynomial3.apply
        y_pred = a + b * P3(c + d * x)
        loss = (y_pred - y).pow(2).sum()
        losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            a -= learning_rate * a.grad
            b -= learning_rate * b.grad
            c -= learning_rate * c.grad
            d -= learning_rate * d.grad
            a.grad = None
            b.grad = None
            c.grad = None
            d.grad = None
    return losses, [v.item() for v in (a, b, c, d)]


@pytest.mark.usefixtures("env")
class TestCustomFunction:
    def test_custom_relu_matches_builtin(self):
        def run(m):
            x = leaf(m)
            y = _relu_fn(m.autograd).apply(x * 2 - 0.5)
            assert y.requires_grad and y.grad_fn is not None
            (y * m.tensor(X)).sum().backward()
            return y.detach(), x.grad
        check(run(lt), run(torch), **TOL)

    @staticmethod
    def _add_with_grads(m, grads_of):
        class Add(m.autograd.Function):
            @staticmethod
            def forward(ctx, x, b):
                return x + b

            @staticmethod
            def backward(ctx, g):
                return grads_of(m, g)
        return Add

    def test_a_gradient_of_the_broadcast_shape_is_summed_to_the_input(self):
        def run(m):
            x, b = m.ones(2, 3, requires_grad=True), m.ones(3, requires_grad=True)
            add = self._add_with_grads(m, lambda m, g: (g * 2, g * m.tensor(X[:2, :3])))
            add.apply(x, b).sum().backward()
            return x.grad, b.grad
        check(run(lt), run(torch), **TOL)

    def test_a_gradient_of_an_incompatible_shape_is_refused_and_grads_stay(self):
        x, b = lt.ones(2, 3, requires_grad=True), lt.ones(3, requires_grad=True)
        add = self._add_with_grads(lt, lambda m, g: (g, m.ones(4)))
        with pytest.raises(RuntimeError, match=r"Function AddBackward returned an invalid gradient at index 1 - "
                                               r"got \[4\] but expected shape compatible with \[3\]"):
            add.apply(x, b).sum().backward()
        assert x.grad is None and b.grad is None

    def test_tutorial_two_layer_net(self):
        x, y = values((16, 20), seed=41), values((16, 5), seed=42)
        w1, w2 = values((20, 10), seed=43), values((10, 5), seed=44)
        ltl, lw1, lw2 = tutorial_two_layer_net(lt, x, y, w1, w2, steps=5)
        tl, tw1, tw2 = tutorial_two_layer_net(torch, x, y, w1, w2, steps=5)
        np.testing.assert_allclose(ltl, tl, rtol=1e-4)
        assert tl[-1] < tl[0]
        np.testing.assert_allclose(lw1, tw1, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(lw2, tw2, rtol=1e-4, atol=1e-4)

    def test_tutorial_legendre_polynomial(self):
        ltl, lp = tutorial_legendre(lt, steps=5)
        tl, tp = tutorial_legendre(torch, steps=5)
        np.testing.assert_allclose(ltl, tl, rtol=1e-4)
        np.testing.assert_allclose(lp, tp, rtol=1e-4, atol=1e-6)

    def test_needs_input_grad_and_non_tensor_args(self):
        seen = {}

        def make(autograd, key):
            class ScaledMul(autograd.Function):
                @staticmethod
                def forward(ctx, a, b, scale):
                    seen[key] = tuple(ctx.needs_input_grad)
                    ctx.save_for_backward(a, b)
                    ctx.scale = scale
                    return a * b * scale

                @staticmethod
                def backward(ctx, grad):
                    a, b = ctx.saved_tensors
                    ga = grad * b * ctx.scale if ctx.needs_input_grad[0] else None
                    gb = grad * a * ctx.scale if ctx.needs_input_grad[1] else None
                    return ga, gb, None
            return ScaledMul

        def run(m):
            x, c = leaf(m), leaf(m, X * 0.5, requires_grad=False)
            y = make(m.autograd, m.__name__).apply(x, c, 3.0)
            y.sum().backward()
            return x.grad
        check(run(lt), run(torch), **TOL)
        assert seen["lazytensor"] == seen["torch"] == (True, False, False)

    def test_function_with_two_outputs_and_composition(self):
        def make(autograd):
            class SinCos(autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    ctx.save_for_backward(x)
                    return x.sin(), x.cos()

                @staticmethod
                def backward(ctx, gs, gc):
                    x, = ctx.saved_tensors
                    return gs * x.cos() - gc * x.sin()
            return SinCos

        def run(m):
            x = leaf(m)
            s, c = make(m.autograd).apply(x.exp() * 0.5)
            (s * 2 + c * c).sum().backward()
            return s.detach(), c.detach(), x.grad
        check(run(lt), run(torch), **TOL)

    def test_apply_under_no_grad(self):
        x = leaf(lt)
        with lt.no_grad():
            y = _relu_fn(lt.autograd).apply(x)
        assert not y.requires_grad


# ------------------------------------------------------------ gradcheck
GRADCHECK = {
    "sin_times_x": (lambda x: x.sin() * x, [(3, 4)]),
    "matmul_tanh": (lambda x, w: (x @ w).tanh(), [(3, 4), (4, 2)]),
    "softmax": (lambda x: x.softmax(-1), [(3, 4)]),
    "log_softmax": (lambda x: x.log_softmax(0), [(3, 4)]),
    "broadcast_div": (lambda x, y: x / (y.abs() + 1), [(3, 4), (4,)]),
    "reduce_var_norm": (lambda x: x.var(1) + x.norm(dim=0).sum(), [(3, 4)]),
    "logsumexp_cumsum": (lambda x: x.logsumexp(-1) + x.cumsum(0)[-1, :3], [(3, 4)]),
    "prod": (lambda x: x.prod(1), [(3, 4)]),
    "gather_index": (lambda x: x[lt.tensor([0, 2, 2])].gather(1, lt.tensor([[1], [0], [3]])), [(3, 4)]),
    "shape_ops": (lambda x: lt.cat([x.T.flip(0), x.roll(1, 1).T]).reshape(3, -1)[:, ::3], [(3, 4)]),
    "where_clamp": (lambda x: lt.where(x > 0, x.clamp(max=1.5), x.exp()), [(3, 4)]),
}


@pytest.fixture
def numpy_float64():
    with using("numpy", True) as e:
        yield e


def _f64(shape, seed):
    return lt.tensor(values(shape, "float64", seed=seed), dtype=lt.float64, requires_grad=True)


def test_gradcheck_passes(numpy_float64):
    from helpers import check_cases

    def body(case):
        fn, shapes = case
        inputs = tuple(_f64(s, seed) for seed, s in enumerate(shapes))
        assert lt.autograd.gradcheck(fn, inputs) is True
    check_cases(GRADCHECK, body)


def test_gradcheck_custom_function(numpy_float64):
    assert lt.autograd.gradcheck(_legendre_fn(lt.autograd).apply, (_f64((5,), 1),)) is True


def test_gradcheck_detects_a_wrong_backward(numpy_float64):
    class Wrong(lt.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad):
            x, = ctx.saved_tensors
            return grad * 3 * x               # should be 2 * x

    gradcheck = lt.autograd.gradcheck          # must exist
    try:
        ok = gradcheck(Wrong.apply, (_f64((4,), 2),))
    except RuntimeError as e:                  # torch raises GradcheckError (a RuntimeError)
        assert "Jacobian" in str(e) or "jacobian" in str(e) or "mismatch" in str(e).lower()
        return
    assert ok is False


def test_gradcheck_raise_exception_false_returns_false(numpy_float64):
    class Wrong(lt.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.exp()

        @staticmethod
        def backward(ctx, grad):
            return grad

    assert lt.autograd.gradcheck(Wrong.apply, (_f64((4,), 3),), raise_exception=False) is False


GRADGRADCHECK = {
    "elementwise": (lambda x, y: (x.sin() * y + x.exp() / (y * y + 1)).tanh(), [(3, 4), (3, 4)]),
    "broadcast_pow": (lambda x, y: (x.abs() + 1) ** y, [(3, 4), (4,)]),
    "reduce": (lambda x: x.var(1) + x.logsumexp(0).sum() + x.norm(), [(3, 4)]),
    "matmul": (lambda x, w: (x @ w).sigmoid(), [(3, 4), (4, 2)]),
    "softmax": (lambda x: x.softmax(-1) * x.log_softmax(0), [(3, 4)]),
}


def test_gradgradcheck(numpy_float64):
    from helpers import check_cases

    def body(case):
        fn, shapes = case
        inputs = tuple(_f64(s, seed) for seed, s in enumerate(shapes))
        assert lt.autograd.gradgradcheck(fn, inputs) is True
    check_cases(GRADGRADCHECK, body)


def test_a_custom_function_that_reads_its_input_on_the_host_passes_gradients_to_a_non_leaf():
    """The forward's output holds nothing of the input's graph (it was made from host values):
    the gradient still reaches the leaf behind the input."""
    class Doubled(lt.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return lt.tensor(x.numpy() * 2)

        @staticmethod
        def backward(ctx, grad):
            return grad * 2

    leaf = lt.ones(2, 3, requires_grad=True)
    Doubled.apply((leaf * 3).mT).sum().backward()
    assert leaf.grad.tolist() == [[6.0] * 3] * 2
