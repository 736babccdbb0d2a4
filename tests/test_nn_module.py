"""lt.nn.Module: registration, traversal, state_dict / load_state_dict errors, modes, to, zero_grad."""
import copy

import numpy as np
import pytest
import torch

import lazytensor as lt
from nn_helpers import needs_autograd


class Net(lt.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = lt.nn.Linear(3, 4)
        self.bn = lt.nn.BatchNorm1d(4)
        self.head = lt.nn.Sequential(lt.nn.ReLU(), lt.nn.Linear(4, 2))
        self.register_buffer("scale", lt.ones(2))
        self.register_buffer("cache", lt.zeros(2), persistent=False)

    def forward(self, x):
        return self.head(self.bn(self.fc(x))) * self.scale


class TorchNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(3, 4)
        self.bn = torch.nn.BatchNorm1d(4)
        self.head = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Linear(4, 2))
        self.register_buffer("scale", torch.ones(2))
        self.register_buffer("cache", torch.zeros(2), persistent=False)

    def forward(self, x):
        return self.head(self.bn(self.fc(x))) * self.scale


def test_parameter_is_a_tensor_sharing_storage():
    t = lt.zeros(2, 2)
    p = lt.nn.Parameter(t)
    assert isinstance(p, lt.Tensor) and p.requires_grad
    assert repr(p).startswith("Parameter containing:")
    with lt.no_grad():
        p.add_(1)
    assert np.all(t.numpy() == 1)
    assert not lt.nn.Parameter(lt.zeros(2), requires_grad=False).requires_grad


def test_a_parameter_of_a_detached_tensor_is_a_leaf_of_its_own():
    """Weight normalisation's split: g and v start as detached values of w (a parameter) and
    of its norm; each is a leaf whose gradient is its own, as in PyTorch."""
    import torch
    w_values = np.arange(1, 7, dtype=np.float32).reshape(2, 3)
    probe = np.arange(6, dtype=np.float32).reshape(2, 3)

    def grads(m):
        w = m.nn.Parameter(m.tensor(w_values))
        g = m.nn.Parameter(w.norm(dim=1, keepdim=True).detach())
        v = m.nn.Parameter(w.detach())
        (v * (g / v.norm(dim=1, keepdim=True)) * m.tensor(probe)).sum().backward()
        return g.grad.numpy(), v.grad.numpy(), w.grad
    (g, v, w_grad), (tg, tv, _) = grads(lt), grads(torch)
    np.testing.assert_allclose(g, tg, rtol=1e-5)
    np.testing.assert_allclose(v, tv, rtol=1e-5, atol=1e-6)
    assert w_grad is None


def test_named_parameters_and_buffers_match_torch_names():
    net, ref = Net(), TorchNet()
    assert [n for n, _ in net.named_parameters()] == [n for n, _ in ref.named_parameters()]
    assert [n for n, _ in net.named_buffers()] == [n for n, _ in ref.named_buffers()]
    assert list(net.state_dict()) == list(ref.state_dict())


def test_children_and_modules():
    net = Net()
    assert [type(m).__name__ for m in net.children()] == ["Linear", "BatchNorm1d", "Sequential"]
    assert [n for n, _ in net.named_modules()] == ["", "fc", "bn", "head", "head.0", "head.1"]


def test_load_state_dict_from_torch_matches_forward():
    net, ref = Net(), TorchNet()
    net.load_state_dict(ref.state_dict())  # torch tensors are accepted directly
    net.eval(), ref.eval()
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_allclose(net(lt.tensor(x)).numpy(), ref(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)


def test_load_state_dict_missing_key_is_named():
    net = Net()
    sd = net.state_dict()
    del sd["head.1.bias"]
    with pytest.raises(RuntimeError, match=r'Missing key\(s\) in state_dict: "head.1.bias"'):
        net.load_state_dict(sd)


def test_load_state_dict_unexpected_key_is_named():
    net = Net()
    sd = dict(net.state_dict())
    sd["fc.extra"] = lt.zeros(1)
    with pytest.raises(RuntimeError, match=r'Unexpected key\(s\) in state_dict: "fc.extra"'):
        net.load_state_dict(sd)


def test_load_state_dict_shape_mismatch_is_named():
    net = Net()
    sd = dict(net.state_dict())
    sd["fc.weight"] = lt.zeros(5, 3)
    with pytest.raises(RuntimeError, match=r"size mismatch for fc.weight: copying a param with shape "
                                           r"torch.Size\(\[5, 3\]\)"):
        net.load_state_dict(sd)


def test_load_state_dict_non_strict_reports_keys():
    net = Net()
    sd = dict(net.state_dict())
    del sd["scale"]
    sd["junk"] = lt.zeros(1)
    result = net.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["scale"] and result.unexpected_keys == ["junk"]


def test_load_state_dict_copies_values_in_place():
    net = Net()
    w = net.fc.weight
    net.load_state_dict({**net.state_dict(), "fc.weight": lt.ones(4, 3)})
    assert net.fc.weight is w and np.all(w.numpy() == 1)


def test_train_eval_propagate():
    net = Net()
    net.eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())


def test_apply_visits_every_module():
    seen = []
    Net().apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "BatchNorm1d", "ReLU", "Linear", "Sequential", "Net"]


def test_to_moves_parameters_and_buffers():
    net = Net().to("numpy")
    assert all(p.device == lt.device("numpy") for p in net.parameters())
    assert all(b.device == lt.device("numpy") for b in net.buffers())
    assert all(isinstance(p, lt.nn.Parameter) and p.requires_grad for p in net.parameters())
    net.to(lt.float64)
    assert net.fc.weight.dtype == lt.float64 and net.bn.num_batches_tracked.dtype == lt.int64


@needs_autograd
def test_zero_grad_sets_none():
    net = Net()
    net(lt.randn(4, 3)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_containers():
    seq = lt.nn.Sequential(lt.nn.Linear(2, 3), lt.nn.ReLU())
    assert len(seq) == 2 and isinstance(seq[0], lt.nn.Linear) and len(seq[:1]) == 1
    ml = lt.nn.ModuleList([lt.nn.Linear(2, 2) for _ in range(3)])
    ml.append(lt.nn.Tanh())
    assert len(ml) == 4 and len(list(ml.parameters())) == 6
    md = lt.nn.ModuleDict({"a": lt.nn.Linear(2, 2), "b": lt.nn.ReLU()})
    assert list(md.keys()) == ["a", "b"] and "a" in md
    assert [n for n, _ in md.named_parameters()] == ["a.weight", "a.bias"]


def test_repr_like_torch():
    assert repr(lt.nn.Sequential(lt.nn.Linear(2, 3))) == repr(torch.nn.Sequential(torch.nn.Linear(2, 3)))


def test_deepcopy_gives_independent_parameters():
    a = lt.nn.Linear(2, 2)
    b = copy.deepcopy(a)
    with lt.no_grad():
        b.weight.add_(1)
    assert not np.allclose(a.weight.numpy(), b.weight.numpy())
    assert isinstance(b.weight, lt.nn.Parameter) and b.weight.requires_grad


def test_forward_hook():
    m = lt.nn.Linear(2, 2)
    calls = []
    h = m.register_forward_hook(lambda mod, args, out: calls.append(tuple(out.shape)))
    m(lt.zeros(3, 2))
    h.remove()
    m(lt.zeros(3, 2))
    assert calls == [(3, 2)]
