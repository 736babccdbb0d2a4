"""Property test: random graphs of elementwise, reduction and movement ops on
random small shapes.  The same program runs through a pure-NumPy reference
interpreter and through lazytensor on every available device, with LAZY on
and off; all results must agree."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lazytensor as lt
from helpers import available_devices, using

MAX_DIM = 4
MAX_NDIM = 4


# ------------------------------------------------------------------ programs
# A program is (input shapes, steps, seed).  Input 0 is the starting value;
# binary steps name an extra input by index.  Each step is (op, args).

def _broadcastable(draw, shape):
    """A shape that broadcasts onto ``shape`` (some dims set to 1, maybe fewer dims)."""
    sub = tuple(d if draw(st.booleans()) else 1 for d in shape)
    drop = draw(st.integers(0, len(sub)))
    return sub[drop:]


@st.composite
def programs(draw):
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.integers(1, MAX_DIM)) for _ in range(ndim))
    inputs, steps, cur = [shape], [], shape
    for _ in range(draw(st.integers(1, 7))):
        ops = ["binary", "where", "exp", "permute", "flip", "slice", "reduce"]
        if any(d == 1 for d in cur) or len(cur) < MAX_NDIM:
            ops.append("expand")
        if cur[-1] <= 6:
            ops.append("pad")
        ops.append("reshape")
        op = draw(st.sampled_from(ops))
        if op == "binary":
            inputs.append(_broadcastable(draw, cur))
            steps.append((op, (draw(st.sampled_from(["add", "mul", "sub", "maximum"])),
                               len(inputs) - 1, draw(st.booleans()))))
        elif op == "where":
            inputs.append(_broadcastable(draw, cur))
            steps.append((op, (len(inputs) - 1,)))
        elif op == "exp":
            steps.append((op, ()))
        elif op == "permute":
            perm = tuple(draw(st.permutations(range(len(cur)))))
            steps.append((op, (perm,)))
            cur = tuple(cur[p] for p in perm)
        elif op == "flip":
            dims = tuple(sorted(draw(st.sets(st.integers(0, len(cur) - 1), min_size=1))))
            steps.append((op, (dims,)))
        elif op == "slice":
            dim = draw(st.integers(0, len(cur) - 1))
            start = draw(st.integers(0, cur[dim] - 1))
            stop = draw(st.integers(start + 1, cur[dim]))
            step = draw(st.integers(1, 2))
            steps.append((op, (dim, start, stop, step)))
            cur = cur[:dim] + (len(range(start, stop, step)),) + cur[dim + 1:]
        elif op == "reduce":
            dim = draw(st.integers(-len(cur), len(cur) - 1))
            keepdim = len(cur) == 1 or draw(st.booleans())
            steps.append((op, (draw(st.sampled_from(["sum", "max"])), dim, keepdim)))
            cur = cur[:dim % len(cur)] + ((1,) if keepdim else ()) + cur[dim % len(cur) + 1:]
        elif op == "expand":
            new = tuple(draw(st.integers(1, 3)) if d == 1 else d for d in cur)
            if len(cur) < MAX_NDIM and draw(st.booleans()):
                new = (draw(st.integers(1, 3)),) + new
            steps.append((op, (new,)))
            cur = new
        elif op == "pad":
            left, right = draw(st.integers(0, 2)), draw(st.integers(0, 2))
            value = draw(st.sampled_from([0.0, 1.5]))
            steps.append((op, (left, right, value)))
            cur = cur[:-1] + (cur[-1] + left + right,)
        elif op == "reshape":
            kind = draw(st.sampled_from(["flatten", "merge", "insert1"]))
            if kind == "merge" and len(cur) >= 2:
                i = draw(st.integers(0, len(cur) - 2))
                new = cur[:i] + (cur[i] * cur[i + 1],) + cur[i + 2:]
            elif kind == "insert1" and len(cur) < MAX_NDIM:
                i = draw(st.integers(0, len(cur)))
                new = cur[:i] + (1,) + cur[i:]
            else:
                new = (int(np.prod(cur)),)
            steps.append((op, (new,)))
            cur = new
    return inputs, steps, draw(st.integers(0, 2**31 - 1))


# -------------------------------------------------------------- interpreters
def _index(ndim, dim, a, b, s):
    idx = [slice(None)] * ndim
    idx[dim] = slice(a, b, s)
    return tuple(idx)


class NumpyRef:
    """Pure-NumPy semantics of each step (computed in float64)."""

    def input(self, a):
        return a.astype(np.float64)

    def binary(self, name, x, y):
        return {"add": np.add, "mul": np.multiply, "sub": np.subtract, "maximum": np.maximum}[name](x, y)

    def where(self, x, y):
        return np.where(x > 0, x, y)

    def exp(self, x):
        return np.exp(np.clip(x, -3, 3))

    def permute(self, x, perm):
        return np.transpose(x, perm)

    def flip(self, x, dims):
        return np.flip(x, dims)

    def slice(self, x, dim, a, b, s):
        return x[_index(x.ndim, dim, a, b, s)]

    def reduce(self, x, name, dim, keepdim):
        return {"sum": np.sum, "max": np.max}[name](x, axis=dim, keepdims=keepdim)

    def expand(self, x, shape):
        return np.broadcast_to(x, shape)

    def pad(self, x, left, right, value):
        return np.pad(x, [(0, 0)] * (x.ndim - 1) + [(left, right)], constant_values=value)

    def reshape(self, x, shape):
        return np.reshape(x, shape)

    def out(self, x):
        return np.asarray(x)


class LazyTensorOps:
    """The same steps through the lazytensor (PyTorch-shaped) API."""

    def input(self, a):
        return lt.tensor(a)

    def binary(self, name, x, y):
        if name == "maximum":
            return lt.maximum(x, y)
        return {"add": lambda: x + y, "mul": lambda: x * y, "sub": lambda: x - y}[name]()

    def where(self, x, y):
        return lt.where(x > 0, x, y)

    def exp(self, x):
        return x.clamp(-3, 3).exp()

    def permute(self, x, perm):
        return x.permute(*perm)

    def flip(self, x, dims):
        return x.flip(dims)

    def slice(self, x, dim, a, b, s):
        return x[_index(x.ndim, dim, a, b, s)]

    def reduce(self, x, name, dim, keepdim):
        if name == "sum":
            return x.sum(dim=dim, keepdim=keepdim)
        return x.max(dim=dim, keepdim=keepdim).values

    def expand(self, x, shape):
        return x.expand(*shape)

    def pad(self, x, left, right, value):
        return lt.nn.functional.pad(x, (left, right), value=value)

    def reshape(self, x, shape):
        return x.reshape(shape)

    def out(self, x):
        return x.numpy()


def run(program, ops):
    shapes, steps, seed = program
    rng = np.random.default_rng(seed)
    data = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    inputs = [ops.input(a) for a in data]
    x = inputs[0]
    for op, args in steps:
        if op == "binary":
            name, i, swap = args
            x = ops.binary(name, inputs[i], x) if swap else ops.binary(name, x, inputs[i])
        elif op == "where":
            x = ops.where(x, inputs[args[0]])
        else:
            x = getattr(ops, op)(x, *args)
    return ops.out(x)


def _configs():
    return [(d, lazy) for d in available_devices() for lazy in (True, False)]


@settings(max_examples=20, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(programs())
def test_random_programs_agree_with_numpy(program):
    ref = run(program, NumpyRef())
    atol = 1e-4 * (1 + float(np.abs(ref).max(initial=0)))
    for dev, lazy in _configs():
        with using(dev, lazy):
            got = run(program, LazyTensorOps())
        assert got.shape == ref.shape, f"{dev} lazy={lazy}: shape {got.shape} != {ref.shape}; {program}"
        assert got.dtype == np.float32, f"{dev} lazy={lazy}: dtype {got.dtype}"
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=atol,
                                   err_msg=f"{dev} lazy={lazy}; program={program}")


def test_interpreter_self_check():
    """The reference interpreter itself agrees with torch on a fixed program."""
    torch = pytest.importorskip("torch")
    program = ([(2, 3), (1, 3)], [("binary", ("mul", 1, False)), ("permute", ((1, 0),)),
                                   ("pad", (1, 0, 1.5)), ("reduce", ("max", 0, True)),
                                   ("expand", ((2, 3),)), ("exp", ())], 0)
    rng = np.random.default_rng(0)
    a, b = (torch.from_numpy(rng.standard_normal(s).astype(np.float32)) for s in [(2, 3), (1, 3)])
    ref = (a * b).permute(1, 0)
    ref = torch.nn.functional.pad(ref, (1, 0), value=1.5).max(dim=0, keepdim=True).values
    ref = ref.expand(2, 3).clamp(-3, 3).exp()
    np.testing.assert_allclose(run(program, NumpyRef()), ref.numpy(), rtol=1e-5)
