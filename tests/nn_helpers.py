"""Shared helpers for the nn / optim / state tests: copy a torch module's weights into a
lazytensor module, run both on the same data, compare outputs and gradients."""
import numpy as np
import pytest
import torch

import lazytensor as lt

needs_autograd = pytest.mark.skipif(not hasattr(lt, "no_grad"), reason="autograd not landed yet")
RTOL, ATOL = 1e-4, 1e-5


def to_lt(t, device=None, requires_grad=False):
    out = lt.tensor(t.detach().numpy().copy(), device=device)
    if requires_grad:
        out.requires_grad_(True)
    return out


def copy_weights(tmod, lmod):
    """Load torch's state_dict into the lazytensor module (through NumPy)."""
    lmod.load_state_dict({k: lt.tensor(v.detach().numpy().copy()) for k, v in tmod.state_dict().items()})
    return lmod


def assert_close(got, ref, rtol=RTOL, atol=ATOL, what="value"):
    g = got.numpy() if isinstance(got, lt.Tensor) else np.asarray(got)
    r = ref.detach().numpy() if isinstance(ref, torch.Tensor) else np.asarray(ref)
    assert g.shape == r.shape, f"{what}: shape {g.shape} != expected {r.shape}"
    np.testing.assert_allclose(g.astype(np.float64), r.astype(np.float64), rtol=rtol, atol=atol,
                               err_msg=what, equal_nan=True)


def data(shape, seed=0, scale=1.0):
    return torch.from_numpy(np.asarray(np.random.default_rng(seed).standard_normal(shape) * scale, dtype=np.float32))
