"""lazytensor: PyTorch's eager API, a lazy fusing compiler inside (OpenCL and NumPy backends)."""
from __future__ import annotations

import os as _os
from types import ModuleType as _ModuleType

from . import checks as _checks
from .torch_keywords import adapt_namespace as _adapt_torch_keywords
from . import config
from .config import debug
from .ir.dtype import DType as dtype
from .ir.dtype import bool_ as bool
from .ir.dtype import bfloat16, float16, float32, float64, int8, int16, int32, int64, promote, uint8
from .type_info import finfo, iinfo
from .tensor import Size, Tensor, device
from .tensor_base import realize
from .jit import jit
from . import viz  # noqa: F401
from .creation import (  # noqa: F401
    tensor, from_numpy, as_tensor, zeros, ones, empty, full, zeros_like, ones_like, empty_like,
    full_like, arange, linspace, eye, tril_indices, triu_indices, asarray, logspace, empty_strided, scalar_tensor,
)
from .windows import bartlett_window, blackman_window, hamming_window, hann_window, kaiser_window  # noqa: F401
from .elementwise import (  # noqa: F401
    add, sub, mul, div, floor_divide, remainder, fmod, pow, maximum, minimum, bitwise_and,
    bitwise_or, bitwise_xor, bitwise_not, eq, ne, lt, le, gt, ge, logical_and, logical_or,
    logical_xor, logical_not, exp, log, sqrt, sin, cos, tan, tanh, log1p, expm1, reciprocal, exp2,
    log2, log10, rsqrt, neg, abs, square, sign, floor, ceil, round, trunc, sigmoid, relu, erf, erfc, gelu,
    silu, softplus, clamp, lerp, where, isnan, isinf, isfinite, nan_to_num,
    mul as multiply, sub as subtract, div as divide, div as true_divide, neg as negative, abs as absolute, gt as greater, ge as greater_equal, lt as less, le as less_equal, ne as not_equal,
    clamp as clip, trunc as fix,
    asin, acos, atan, atan2, sinh, cosh, asinh, acosh, atanh,
    addcmul, addcdiv, frac, deg2rad, rad2deg, logit, logaddexp, logaddexp2, hypot, xlogy, fmax, fmin,
    clamp_min, clamp_max, isposinf, isneginf, copysign, signbit, heaviside, float_power, sign as sgn, isclose, allclose,
    asin as arcsin, acos as arccos, atan as arctan, atan2 as arctan2, asinh as arcsinh, acosh as arccosh,
    atanh as arctanh, positive, rsub,
)
from .movement import (  # noqa: F401
    transpose, t, squeeze, unsqueeze, flatten, unflatten, movedim, narrow, select, split, chunk,
    unbind, roll, tril, triu, cat, stack,
    swapaxes, transpose as swapdims, flip_fn as flip, cat as concat, concatenate,
    reshape_fn as reshape, permute_fn as permute,
    broadcast_to, broadcast_tensors, meshgrid, ravel, tile, atleast_1d, atleast_2d, atleast_3d, hstack, vstack,
    dstack, column_stack, diff, repeat_interleave, fliplr, flipud, rot90, narrow_copy, movedim as moveaxis,
    broadcast_shapes_fn as broadcast_shapes, vstack as row_stack, adjoint, as_strided,
)
from .copies import (  # noqa: F401
    alias_copy, detach_copy, diagonal_copy, expand_copy, permute_copy, select_copy, slice_copy, split_copy,
    split_with_sizes_copy, squeeze_copy, t_copy, transpose_copy, unbind_copy, unfold_copy, unsqueeze_copy, view_copy,
)
from .splitting import (  # noqa: F401
    tensor_split, hsplit, vsplit, dsplit, split_with_sizes, unsafe_split, unsafe_chunk, unsafe_split_with_sizes,
)
from .reduce import (  # noqa: F401
    sum, prod, mean, amax, amin, argmax, argmin, max, min, var, std, var_mean, std_mean, logsumexp,
    softmax, log_softmax, cumsum, cumprod, nansum, nanmean, count_nonzero, aminmax, trapezoid,
    cumulative_trapezoid, cov, corrcoef, trapezoid as trapz, cummax, cummin, logcumsumexp, histc,
    all_ as all, any_ as any, renorm,
)
from .histograms import histogram  # noqa: F401
from .indexing import (  # noqa: F401
    gather, take_along_dim, index_select, masked_fill, masked_select, scatter, scatter_add,
    take, index_add, index_copy, index_fill, scatter_reduce, select_scatter, slice_scatter, diagonal_scatter,
    index_put, index_reduce, masked_scatter, put, unravel_index, nonzero_static,
)
from .data_dependent import (  # noqa: F401
    nonzero, unique, unique_consecutive,
    bincount, argwhere,
)
from .products import (  # noqa: F401
    matmul, mm, bmm, dot, outer, diagonal, einsum, diag, trace,
    outer as ger, mv, addmm, addmv, addr, addbmm, baddbmm, tensordot, inner, vdot, kron, block_diag, cross, cdist,
    dist, cartesian_prod, vander, diag_embed, diagflat, combinations, chain_matmul,
)
from . import linalg  # noqa: F401
from .special_functions import digamma, erfinv, i0, lgamma, mvlgamma, polygamma, sinc  # noqa: F401
from .float_parts import frexp, ldexp, nextafter  # noqa: F401
from .integer_math import bitwise_left_shift, bitwise_right_shift, gcd, lcm  # noqa: F401
from .queries import (  # noqa: F401
    is_signed, is_false as is_complex, is_false as is_conj, is_false as is_neg, is_nonzero,
    is_same_size, isreal, itself as conj, itself as resolve_conj, itself as resolve_neg, itself as conj_physical,
    itself as real, imag, equal, angle,
)
from . import special  # noqa: F401
from . import distributions  # noqa: F401
from .elimination import cholesky, det, inv as inverse, logdet, slogdet  # noqa: F401
from .linalg import matrix_power, matrix_exp, nuclear_norm  # noqa: F401
from .matrix_norms import norm  # noqa: F401
from .lu import lu_unpack  # noqa: F401
from .pseudo_inverse import pinverse  # noqa: F401
from .spectral import qr_old as qr, svd_old as svd  # noqa: F401
from .triangular import cholesky_inverse, cholesky_solve, triangular_solve  # noqa: F401
from .conversion import (  # noqa: F401
    clone, detach, fill,
)
from .random import (  # noqa: F401
    Generator, bernoulli, manual_seed, initial_seed, rand, randn, randint, rand_like, randn_like, randint_like,
    normal, seed, get_rng_state, set_rng_state,
)
from .sorting import (  # noqa: F401
    randperm, sort, argsort, topk, multinomial,
    searchsorted, bucketize, isin, msort,
)
from .order import (  # noqa: F401
    kthvalue, median, nanmedian, mode, quantile, nanquantile,
)
from . import autograd, nn, optim  # noqa: F401
from .nn.functional import celu_, relu_, selu_  # noqa: F401
from .functional_aliases import (  # noqa: F401
    adaptive_avg_pool1d, avg_pool1d, batch_norm, bilinear, celu, channel_shuffle, conv1d, conv2d, conv3d,
    conv_transpose1d, conv_transpose2d, conv_transpose3d, cosine_similarity, dropout, embedding, group_norm,
    hardshrink, instance_norm, layer_norm, max_pool1d, max_pool2d, pairwise_distance, pixel_shuffle,
    pixel_unshuffle, prelu, rms_norm, selu, threshold, threshold_, kl_div, margin_ranking_loss, hinge_embedding_loss,
    triplet_margin_loss, cosine_embedding_loss, poisson_nll_loss, binary_cross_entropy_with_logits,
)

# torch's top-level in-place functions (torch.exp_(x)) are the Tensor methods
for _name in ("abs_ acos_ acosh_ addmv_ arccos_ arccosh_ arcsin_ arcsinh_ arctan_ arctanh_ asin_ asinh_ atan_ "
              "atanh_ ceil_ clamp_ clamp_max_ clamp_min_ clip_ cos_ cosh_ deg2rad_ detach_ erf_ erfc_ exp2_ exp_ "
              "expm1_ fill_ fix_ floor_ frac_ gcd_ i0_ index_put_ lcm_ ldexp_ log10_ log1p_ log2_ log_ logit_ "
              "nan_to_num_ neg_ negative_ rad2deg_ reciprocal_ round_ rsqrt_ sigmoid_ sin_ sinc_ sinh_ sqrt_ "
              "square_ tan_ tanh_ trunc_ xlogy_ zero_").split():
    globals()[_name] = getattr(Tensor, _name)
from . import accelerator, amp, backends, cuda, func, utils  # noqa: F401
from .amp import autocast  # noqa: F401
from .legacy import (  # noqa: F401
    BFloat16Tensor, BoolTensor, ByteTensor, CharTensor, DoubleTensor, FloatTensor, HalfTensor, IntTensor, LongTensor,
    ShortTensor, get_default_dtype,
    set_default_dtype,
)
from .serialization import load, save  # noqa: F401
from .printing import set_printoptions  # noqa: F401
from .switches import (  # noqa: F401
    are_deterministic_algorithms_enabled, get_float32_matmul_precision, is_deterministic_algorithms_warn_only_enabled,
    set_float32_matmul_precision, use_deterministic_algorithms,
)
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled, inference_mode  # noqa: F401
from .autograd import is_anomaly_check_nan_enabled, is_anomaly_enabled  # noqa: F401
from .elementwise import result_dtype
from .runtime.devices import default_device, get_device, set_default_device
from .runtime.stats import reset_stats, stats

half, float, double = float16, float32, float64
short, int, long = int16, int32, int64


def get_default_device() -> device:
    return device(default_device())


def synchronize(device=None) -> None:
    """Wait until every kernel queued on the device has finished (for timing); an index held
    in tensor data found out of range by then raises IndexError here."""
    get_device(str(device) if device is not None else default_device()).synchronize()
    _checks.raise_if_any()


def is_tensor(obj):
    return isinstance(obj, Tensor)


def numel(x: Tensor) -> int:
    return x.numel()


def result_type(a, b) -> dtype:
    return result_dtype(a, b)


def promote_types(a: dtype, b: dtype) -> dtype:
    return promote(a, b)


is_floating_point = Tensor.is_floating_point


def can_cast(from_: dtype, to: dtype) -> bool:
    """Whether type promotion may cast from_ to `to`: never down a kind (float to integer,
    integer to bool)."""
    return from_.category <= to.category


def get_num_threads() -> int:
    """The host threads lazytensor's devices use (the OpenCL runtime's pool: one per core)."""
    return _os.cpu_count() or 1


def set_num_threads(n: int) -> None:
    """Accepted for scripts that call it; the OpenCL runtime sizes its own thread pool."""


# one pool serves both kinds of parallelism PyTorch tells apart
get_num_interop_threads, set_num_interop_threads = get_num_threads, set_num_threads


def typename(obj) -> str:
    """A tensor's legacy type name ('lazytensor.FloatTensor'), else the object's qualified class name."""
    if isinstance(obj, Tensor):
        return obj.type()
    cls = type(obj)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def compile(model=None, **options):
    """torch.compile: a function is wrapped by lt.jit (replayed kernels); a Module is returned
    as it is (its ops fuse anyway); the options are accepted and ignored."""
    if model is None:
        return lambda m: compile(m, **options)
    from .nn.module import Module
    return model if isinstance(model, Module) else jit(model)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("lazytensor")
    except PackageNotFoundError:  # a source tree that was not installed
        return "0.0.0+unknown"


__version__ = _version()

_adapt_torch_keywords(globals())  # torch.matmul(input=a, other=b) spells arguments as PyTorch does

# `from lazytensor import *` gives what `from torch import *` would: every public name above
__all__ = [name for name, value in globals().items()
           if not name.startswith("_") and (not isinstance(value, _ModuleType)
                                            or name in ("nn", "optim", "autograd", "amp", "cuda", "backends", "utils"))]

from . import collector as _collector  # noqa: E402

_collector.freeze_import_time_objects()  # full collections stop walking every module (collector.py)
