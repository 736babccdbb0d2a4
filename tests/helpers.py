"""Helpers shared by the lazytensor tests.

The usual pattern is to write an operation once as ``fn(m, *tensors)``, where
``m`` is either the ``lazytensor`` or the ``torch`` module, run it on both, and
compare with :func:`check`.  Because lazytensor follows PyTorch's API, the
same lambda works for both libraries; torch is the reference.
"""
import contextlib
import functools
import types

import numpy as np
import torch

import lazytensor as lt

DEVICES = ["numpy", "cl"]

# Shapes reused across the suite so the OpenCL kernel cache gets hits.
SHAPE = (3, 4)
SHAPE3 = (2, 3, 4)

FLOAT_DTYPES = ("float16", "float32", "float64")
ALL_DTYPES = ("float32", "float64", "int32", "int64", "bool", "uint8")


# --------------------------------------------------------------------------
# devices and modes
# --------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def cl_unavailable_reason():
    """None if lt.device("cl") works, else a one-line reason."""
    try:
        lt.device("cl")
    except Exception as e:  # noqa: BLE001 - any failure means "no OpenCL"
        return f"{type(e).__name__}: {e}".splitlines()[0]
    return None


def available_devices():
    return [d for d in DEVICES if d != "cl" or cl_unavailable_reason() is None]


@contextlib.contextmanager
def using(device, lazy):
    """Temporarily set the default device and the LAZY mode."""
    import lazytensor.config as config

    prev_device = lt.get_default_device()
    prev_lazy = config.set_lazy(lazy)
    try:
        lt.set_default_device(device)
        yield types.SimpleNamespace(device=device, lazy=lazy)
    finally:
        lt.set_default_device(prev_device)
        config.set_lazy(prev_lazy)


# --------------------------------------------------------------------------
# dtypes
# --------------------------------------------------------------------------
def lt_dtype(name):
    return getattr(lt, name)


def torch_dtype(name):
    return getattr(torch, name)


# --------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------
def values(shape, dtype="float32", domain="any", seed=0):
    """Deterministic test data of a given shape, dtype and value domain.

    domains: "any" (normal * 2), "pos" (uniform [0.1, 3)), "unit" (uniform
    (-0.9, 0.9)), "nonzero" (|x| in [0.5, 3) with random sign), "halves"
    (multiples of 0.5 in [-3, 3], to probe rounding), "ints" (small
    integer-valued, with ties).
    """
    r = np.random.default_rng(seed)
    shape = tuple(shape)
    if dtype == "bool":
        return r.random(shape) < 0.5
    if dtype == "uint8":
        return r.integers(1, 6, shape).astype(np.uint8)
    if dtype in ("int8", "int16", "int32", "int64"):
        if domain in ("pos", "nonzero"):
            v = r.integers(1, 7, shape)
            if domain == "nonzero":
                v = v * r.choice([-1, 1], shape)
        else:
            v = r.integers(-6, 7, shape)
        return v.astype(dtype)
    if domain == "any":
        v = r.standard_normal(shape) * 2
    elif domain == "pos":
        v = r.uniform(0.1, 3.0, shape)
    elif domain == "unit":
        v = r.uniform(-0.9, 0.9, shape)
    elif domain == "nonzero":
        v = r.uniform(0.5, 3.0, shape) * r.choice([-1.0, 1.0], shape)
    elif domain == "halves":
        v = r.integers(-6, 7, shape) * 0.5
    elif domain == "ints":
        v = r.integers(-3, 4, shape).astype(np.float64)
    else:
        raise ValueError(domain)
    return np.asarray(v).astype(dtype)


def pair(array):
    """(lazytensor tensor, torch tensor) holding the same data."""
    array = np.asarray(array)
    return lt.tensor(array.copy()), torch.from_numpy(array.copy())


def to_numpy(x):
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    if isinstance(x, lt.Tensor):
        return x.numpy()
    return np.asarray(x)


# Views applied identically to lazytensor and torch tensors so that the
# library sees a real non-contiguous / broadcast / empty input.
#   name -> (base shape, fn(t) -> view)
LAYOUTS = {
    "contiguous": ((3, 4), lambda t: t),
    "transposed": ((4, 3), lambda t: t.transpose(0, 1)),
    "strided": ((3, 8), lambda t: t[:, ::2]),
    "zero_size": ((0, 3), lambda t: t),
    "scalar_0d": ((), lambda t: t),
}


def layout_pair(layout, dtype="float32", domain="any", seed=0):
    base_shape, view = LAYOUTS[layout]
    a, b = pair(values(base_shape, dtype, domain, seed))
    return view(a), view(b)


# --------------------------------------------------------------------------
# comparison
# --------------------------------------------------------------------------
def check(lt_result, reference, rtol=1e-5, atol=1e-6, check_dtype=True):
    """Compare a lazytensor result with a numpy / torch reference.

    Checks the shape exactly, the numpy dtype (lt.float32 <-> float32,
    lt.int64 <-> int64, lt.bool <-> bool, ...) and the values (exactly for
    integer and bool results, allclose with equal_nan for floats).
    Tuples / lists (e.g. from split, or (values, indices)) compare elementwise.
    """
    if isinstance(reference, (tuple, list)) and not isinstance(reference, torch.Size):
        assert isinstance(lt_result, (tuple, list)), (
            f"expected a sequence of {len(reference)} tensors, got {type(lt_result).__name__}")
        assert len(lt_result) == len(reference), (
            f"expected {len(reference)} results, got {len(lt_result)}")
        for i, (a, b) in enumerate(zip(lt_result, reference)):
            try:
                check(a, b, rtol=rtol, atol=atol, check_dtype=check_dtype)
            except AssertionError as e:
                raise AssertionError(f"result [{i}]: {e}") from None
        return
    assert isinstance(lt_result, lt.Tensor), (
        f"expected a lazytensor Tensor, got {type(lt_result).__name__}")
    got = lt_result.numpy()
    ref = to_numpy(reference)
    assert isinstance(got, np.ndarray), f".numpy() returned {type(got).__name__}"
    assert got.shape == ref.shape, f"shape {got.shape} != expected {ref.shape}"
    assert tuple(lt_result.shape) == ref.shape, (
        f".shape {tuple(lt_result.shape)} != expected {ref.shape}")
    if check_dtype:
        assert got.dtype == ref.dtype, f"dtype {got.dtype} != expected {ref.dtype}"
    if ref.dtype.kind in "biu" and got.dtype.kind in "biu":
        np.testing.assert_array_equal(got, ref)
    else:
        np.testing.assert_allclose(got.astype(np.float64), ref.astype(np.float64),
                                   rtol=rtol, atol=atol, equal_nan=True)


def compare(fn, *arrays, rtol=1e-5, atol=1e-6, check_dtype=True):
    """Run ``fn(m, *tensors)`` with m = lazytensor and m = torch on the same
    data and check that the results agree."""
    pairs = [pair(a) for a in arrays]
    lt_out = fn(lt, *[p[0] for p in pairs])
    torch_out = fn(torch, *[p[1] for p in pairs])
    check(lt_out, torch_out, rtol=rtol, atol=atol, check_dtype=check_dtype)
    return lt_out, torch_out


def check_cases(cases, body):
    """Run ``body(case)`` for every entry of ``cases`` (a dict name -> case,
    or a list whose items are their own names) and fail once, listing every
    case that failed, so that one broken op does not hide the others."""
    if not isinstance(cases, dict):
        cases = {repr(c): c for c in cases}
    failures = []
    for name, case in cases.items():
        try:
            body(case)
        except Exception as e:  # noqa: BLE001 - reported below
            msg = str(e).strip().splitlines()
            failures.append(f"  {name}: {type(e).__name__}: {msg[0] if msg else ''}"
                            + (f" ... {' '.join(m.strip() for m in msg[1:4])}" if len(msg) > 1 else ""))
    if failures:
        raise AssertionError(f"{len(failures)} of {len(cases)} cases failed:\n" + "\n".join(failures))


def not_eager_on_cl(env):
    """Large value-and-gradient tables compile a kernel per op and case with LAZY=0 on OpenCL
    (a minute cold on two cores), so there they run lazily only: numpy with LAZY=0 covers
    their eager path, OpenCL with LAZY=1 their kernels."""
    import pytest
    if env.device == "cl" and not env.lazy:
        pytest.skip("value-and-gradient tables: eager on numpy, lazy on OpenCL")



def check_dtype_table(env, dtype: str, tol: float, cases: dict, few, run) -> None:
    """A value-and-gradient table against torch in one dtype: `run(m, fn, arrays, dtype)` gives
    a case's outputs and gradients. float64 covers every case on numpy (LAZY=0 included) and
    float32 lazily the kernels of its own dtype; OpenCL runs the cases named in `few` (float32
    runs the same code as float64)."""
    import pytest
    not_eager_on_cl(env)
    if dtype == "float32" and not env.lazy or dtype == "float64" and env.device == "cl":
        pytest.skip("float64 covers the eager path, float32 lazily the kernels of its own dtype")

    def case(spec):
        fn, *arrays = spec
        want = run(torch, fn, arrays, getattr(torch, dtype))
        got = run(lt, fn, arrays, getattr(lt, dtype))
        for w, g in zip(want, got):
            assert g.dtype == w.dtype and g.shape == w.shape
            np.testing.assert_allclose(g, w, rtol=tol, atol=tol)
    check_cases({k: v for k, v in cases.items() if env.device != "cl" and dtype == "float64" or k in few}, case)