"""Finite-difference checks of gradients (float64 recommended, as in PyTorch)."""
from __future__ import annotations

import numpy as np

from ..creation import tensor, zeros
from ..tensor_base import TensorBase
from .api import grad


class GradcheckError(RuntimeError):
    pass


def _as_tuple(x):
    return x if isinstance(x, tuple) else (x,)


def _outputs(fn, inputs):
    return [o for o in _as_tuple(fn(*inputs)) if isinstance(o, TensorBase)]


def _numeric_jacobian(fn, inputs, i: int, eps: float) -> np.ndarray:
    """d(all outputs, flattened) / d(inputs[i], flattened) by central differences."""
    x = inputs[i]
    base = x.numpy().astype(np.float64)
    columns = []
    for k in range(base.size):
        probes = []
        for step in (eps, -eps):
            moved = base.copy().reshape(-1)
            moved[k] += step
            args = list(inputs)
            args[i] = tensor(moved.reshape(base.shape), dtype=x.dtype, device=x.device,
                             requires_grad=x.requires_grad)
            probes.append(np.concatenate([o.numpy().astype(np.float64).reshape(-1) for o in _outputs(fn, args)]))
        columns.append((probes[0] - probes[1]) / (2 * eps))
    return np.stack(columns, axis=1) if columns else np.zeros((0, 0))


def _analytic_jacobian(fn, inputs, i: int) -> np.ndarray:
    outs = _outputs(fn, inputs)
    rows = []
    for o in outs:
        for k in range(o.numel()):
            seed = np.zeros(o.numel())
            seed[k] = 1.0
            g_out = tensor(seed.reshape(tuple(o.shape)), dtype=o.dtype, device=o.device)
            if not o.requires_grad:
                rows.append(np.zeros(inputs[i].numel()))
                continue
            (g,) = grad([o], [inputs[i]], [g_out], retain_graph=True, allow_unused=True)
            g = zeros(tuple(inputs[i].shape), dtype=inputs[i].dtype, device=inputs[i].device) if g is None else g
            rows.append(g.numpy().astype(np.float64).reshape(-1))
    return np.stack(rows, axis=0) if rows else np.zeros((0, 0))


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, **_ignored) -> bool:
    """Compare autograd's Jacobian with central differences for every input that requires grad."""
    inputs = _as_tuple(inputs)
    for i, x in enumerate(inputs):
        if not getattr(x, "requires_grad", False):
            continue
        numeric = _numeric_jacobian(fn, inputs, i, eps)
        analytic = _analytic_jacobian(fn, inputs, i)
        if not np.allclose(analytic, numeric, atol=atol, rtol=rtol):
            if raise_exception:
                raise GradcheckError(f"Jacobian mismatch for output 0 with respect to input {i},\n"
                                     f"numerical:{numeric}\nanalytical:{analytic}\n")
            return False
    return True


def gradgradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
                  raise_exception: bool = True, **_ignored) -> bool:
    """gradcheck of the first derivative (built with create_graph=True)."""
    inputs = _as_tuple(inputs)
    wrt = [x for x in inputs if isinstance(x, TensorBase) and x.requires_grad]

    def first_derivative(*args):
        outs = _outputs(fn, args)
        total = outs[0].sum()
        for o in outs[1:]:
            total = total + o.sum()
        needs = [a for a in args if isinstance(a, TensorBase) and a.requires_grad]
        return grad([total], needs, create_graph=True, allow_unused=True)

    return gradcheck(lambda *a: tuple(g for g in first_derivative(*a) if g is not None), tuple(inputs),
                     eps, atol, rtol, raise_exception) if wrt else True
