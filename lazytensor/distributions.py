"""`lazytensor.distributions`: torch.distributions' common families, built from tensor ops so
that log_prob, entropy and reparameterised samples fuse and have gradients like any other op.
Samples come from lazytensor's own generator (lazytensor/random.py), not torch's numbers."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable, Sequence

from .autodiff.grad_mode import no_grad
from .creation import arange, tensor as as_tensor
from .elementwise import erf, softplus, where, xlogy
from .elimination import cholesky, inv
from .movement import broadcast_tensors, stack
from .nn.functional import one_hot
from .random import rand, randn
from .special_functions import digamma, erfinv, lgamma
from .tensor_base import Size, TensorBase
from .type_info import finfo

if TYPE_CHECKING:
    from .tensor import Tensor

HALF_LOG_TWO_PI = 0.5 * math.log(2 * math.pi)


# ---- constraints: what a parameter or a value must satisfy (validate_args) -------------------

class Constraint:
    """A named elementwise check, as torch.distributions.constraints prints it."""

    def __init__(self, name: str, check: Callable[[Tensor], Tensor], event_dim: int = 0) -> None:
        self.name, self.check, self.event_dim = name, check, event_dim

    def __call__(self, value: Tensor) -> Tensor:
        return self.check(value)

    def __repr__(self) -> str:
        return self.name


def _simplex(v: Tensor) -> Tensor:
    return (v >= 0).all(-1) & ((v.sum(-1) - 1).abs() < 1e-6)


def _lower_cholesky(v: Tensor) -> Tensor:
    diagonal = v.diagonal(0, -2, -1)
    return ((v.tril() == v).all(-1).all(-1)) & (diagonal > 0).all(-1)


def _positive_definite(v: Tensor) -> Tensor:
    """Symmetric with a positive diagonal; cholesky refuses the rest when it runs."""
    return ((v - v.mT).abs() < 1e-6).all(-1).all(-1) & (v.diagonal(0, -2, -1) > 0).all(-1)


real = Constraint("Real()", lambda v: v == v)
positive = Constraint("GreaterThan(lower_bound=0.0)", lambda v: v > 0)
nonnegative = Constraint("GreaterThanEq(lower_bound=0.0)", lambda v: v >= 0)
unit_interval = Constraint("Interval(lower_bound=0.0, upper_bound=1.0)", lambda v: (v >= 0) & (v <= 1))
boolean = Constraint("Boolean()", lambda v: (v == 0) | (v == 1))
nonnegative_integer = Constraint("IntegerGreaterThan(lower_bound=0)", lambda v: (v >= 0) & (v == v.floor()))
simplex = Constraint("Simplex()", _simplex, 1)
real_vector = Constraint("IndependentConstraint(Real(), 1)", lambda v: (v == v).all(-1), 1)
lower_cholesky = Constraint("LowerCholesky()", _lower_cholesky, 2)
positive_definite = Constraint("PositiveDefinite()", _positive_definite, 2)


def _shape_text(x) -> str:
    return f"torch.Size({list(x.shape)})" if isinstance(x, TensorBase) else repr(x)


# ---- the base class ------------------------------------------------------------------------

class Distribution:
    """Batch and event shapes, argument validation and sampling shapes shared by every family."""
    arg_constraints: dict[str, Constraint] = {}
    support: Constraint | None = None
    has_rsample = False

    def __init__(self, batch_shape: Sequence[int] = (), event_shape: Sequence[int] = (),
                 validate_args: bool | None = None) -> None:
        self._batch_shape, self._event_shape = tuple(batch_shape), tuple(event_shape)
        self._validate_args = True if validate_args is None else validate_args
        if self._validate_args:
            for name, constraint in self.arg_constraints.items():
                value = self.__dict__[name] if name in self.__dict__ else getattr(self, name)
                self._check(constraint, value, f"Expected parameter {name} (Tensor of shape {{shape}}) of distribution "
                                               "{dist} to satisfy the constraint {constraint}")

    def _check(self, constraint: Constraint, value: Tensor, message: str) -> None:
        """Raise torch's ValueError where `value` breaks `constraint`; `message` names the
        shape, the distribution and the constraint by {shape}, {dist} and {constraint}."""
        if not constraint(value).all().item():
            raise ValueError(message.format(shape=tuple(value.shape), dist=repr(self), constraint=repr(constraint))
                             + f", but found invalid values:\n{value}")

    def _validate_sample(self, value: Tensor) -> None:
        if not isinstance(value, TensorBase):
            raise ValueError(f"The value argument to log_prob must be a Tensor, not {type(value).__name__}")
        if self._validate_args and self.support is not None:
            self._check(self.support, value, "Expected value argument (Tensor of shape {shape}) to be within the "
                                             "support ({constraint}) of the distribution {dist}")

    def __repr__(self) -> str:
        params = ", ".join(f"{k}: {_shape_text(self.__dict__[k])}" for k in self.arg_constraints if k in self.__dict__)
        return f"{type(self).__name__}({params})"

    @property
    def batch_shape(self) -> Size:
        return Size(self._batch_shape)

    @property
    def event_shape(self) -> Size:
        return Size(self._event_shape)

    @property
    def stddev(self) -> Tensor:
        return self.variance.sqrt()

    def _extended_shape(self, sample_shape: Sequence[int] = ()) -> tuple[int, ...]:
        return tuple(sample_shape) + self._batch_shape + self._event_shape

    def sample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """A sample without gradient: rsample's, where the family has one."""
        if not self.has_rsample:
            raise NotImplementedError(f"{type(self).__name__}.sample is not supported")
        with no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no reparameterised sample (rsample)")

    def sample_n(self, n: int) -> Tensor:
        return self.sample((n,))

    def cdf(self, value: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__}.cdf is not supported")

    def icdf(self, value: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__}.icdf is not supported")

    def perplexity(self) -> Tensor:
        return self.entropy().exp()


def _broadcast(*params) -> list[Tensor]:
    """Parameters as float tensors of one shape: numbers become tensors of the first float
    tensor's dtype and device, as torch's broadcast_all makes them."""
    like = next((p for p in params if isinstance(p, TensorBase) and p.dtype.is_floating_point), None)
    like = like if like is not None else next((p for p in params if isinstance(p, TensorBase)), None)
    device = like.device if like is not None else None
    dtype = like.dtype if like is not None and like.dtype.is_floating_point else None
    tensors = [p if isinstance(p, TensorBase) else as_tensor(float(p), dtype=dtype, device=device) for p in params]
    tensors = [t if t.dtype.is_floating_point else t.float() for t in tensors]
    return list(broadcast_tensors(*tensors))


def _uniform_like(shape: tuple[int, ...], like: Tensor) -> Tensor:
    return rand(shape, dtype=like.dtype, device=like.device)


# ---- location-scale and simple continuous families -------------------------------------------

class _LocationScale(Distribution):
    """A family given by a location (its mean) and a positive scale."""
    arg_constraints = {"loc": real, "scale": positive}
    support = real
    has_rsample = True

    def __init__(self, loc, scale, validate_args: bool | None = None) -> None:
        self.loc, self.scale = _broadcast(loc, scale)
        super().__init__(self.loc.shape, (), validate_args)

    mean = property(lambda self: self.loc)
    mode = property(lambda self: self.loc)


class Normal(_LocationScale):
    stddev = property(lambda self: self.scale)
    variance = property(lambda self: self.scale * self.scale)

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        eps = randn(self._extended_shape(sample_shape), dtype=self.loc.dtype, device=self.loc.device)
        return self.loc + eps * self.scale

    def log_prob(self, value: Tensor) -> Tensor:
        self._validate_sample(value)
        return -((value - self.loc) ** 2) / (2 * self.variance) - self.scale.log() - HALF_LOG_TWO_PI

    def entropy(self) -> Tensor:
        return 0.5 + HALF_LOG_TWO_PI + self.scale.log()

    def cdf(self, value: Tensor) -> Tensor:
        self._validate_sample(value)
        return 0.5 * (1 + erf((value - self.loc) / (self.scale * math.sqrt(2))))

    def icdf(self, value: Tensor) -> Tensor:
        return self.loc + self.scale * erfinv(2 * value - 1) * math.sqrt(2)


class Uniform(Distribution):
    arg_constraints = {"low": real, "high": real}
    has_rsample = True

    def __init__(self, low, high, validate_args: bool | None = None) -> None:
        self.low, self.high = _broadcast(low, high)
        super().__init__(self.low.shape, (), validate_args)
        if self._validate_args and not (self.low < self.high).all().item():
            raise ValueError(f"Uniform: expected low < high, got low {self.low} and high {self.high}")

    @property
    def support(self) -> Constraint:
        return Constraint(f"Interval(lower_bound={self.low}, upper_bound={self.high})",
                          lambda v: (v >= self.low) & (v < self.high))

    mean = property(lambda self: (self.high + self.low) / 2)
    variance = property(lambda self: (self.high - self.low) ** 2 / 12)

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        return self.low + _uniform_like(self._extended_shape(sample_shape), self.low) * (self.high - self.low)

    def log_prob(self, value: Tensor) -> Tensor:
        self._validate_sample(value)
        inside = ((self.low <= value) & (value < self.high)).to(self.low.dtype)
        return inside.log() - (self.high - self.low).log()

    def entropy(self) -> Tensor:
        return (self.high - self.low).log()

    def cdf(self, value: Tensor) -> Tensor:
        self._validate_sample(value)
        return ((value - self.low) / (self.high - self.low)).clamp(0, 1)

    def icdf(self, value: Tensor) -> Tensor:
        return value * (self.high - self.low) + self.low


class Exponential(Distribution):
    arg_constraints = {"rate": positive}
    support = nonnegative
    has_rsample = True

    def __init__(self, rate, validate_args: bool | None = None) -> None:
        (self.rate,) = _broadcast(rate)
        super().__init__(self.rate.shape, (), validate_args)

    mean = property(lambda self: self.rate.reciprocal())
    mode = property(lambda self: self.rate * 0)
    stddev = property(lambda self: self.rate.reciprocal())
    variance = property(lambda self: self.rate.pow(-2))

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        # -log(1 - u) for u in [0, 1): finite, as u never reaches 1
        return -(-_uniform_like(self._extended_shape(sample_shape), self.rate)).log1p() / self.rate

    def log_prob(self, value: Tensor) -> Tensor:
        self._validate_sample(value)
        return self.rate.log() - self.rate * value

    def entropy(self) -> Tensor:
        return 1.0 - self.rate.log()

    def cdf(self, value: Tensor) -> Tensor:
        self._validate_sample(value)
        return 1 - (-self.rate * value).exp()

    def icdf(self, value: Tensor) -> Tensor:
        return -(-value).log1p() / self.rate


class Laplace(_LocationScale):
    variance = property(lambda self: 2 * self.scale * self.scale)
    stddev = property(lambda self: math.sqrt(2) * self.scale)

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        # u in (-1, 1): the open end keeps log1p(-|u|) finite
        u = _uniform_like(self._extended_shape(sample_shape), self.loc) * (2 - 2 ** -23) + (2 ** -24 - 1)
        return self.loc - self.scale * u.sign() * (-u.abs()).log1p()

    def log_prob(self, value: Tensor) -> Tensor:
        self._validate_sample(value)
        return -(2 * self.scale).log() - (value - self.loc).abs() / self.scale

    def entropy(self) -> Tensor:
        return 1 + (2 * self.scale).log()

    def cdf(self, value: Tensor) -> Tensor:
        self._validate_sample(value)
        return 0.5 - 0.5 * (value - self.loc).sign() * (-(value - self.loc).abs() / self.scale).expm1()

    def icdf(self, value: Tensor) -> Tensor:
        term = value - 0.5
        return self.loc - self.scale * term.sign() * (-2 * term.abs()).log1p()


# ---- discrete families ------------------------------------------------------------------------

def _probs_or_logits(name: str, probs, logits) -> None:
    if (probs is None) == (logits is None):
        raise ValueError(f"{name}: Either `probs` or `logits` must be specified, but not both.")


def _clamp_probs(probs: Tensor) -> Tensor:
    """Probabilities kept in [eps, 1 - eps] of their dtype before a log, as torch's
    probs_to_logits: a probability of 0 or 1 has a finite logit."""
    eps = finfo(probs.dtype).eps
    return probs.clamp(eps, 1 - eps)


class Bernoulli(Distribution):
    support = boolean

    def __init__(self, probs=None, logits=None, validate_args: bool | None = None) -> None:
        _probs_or_logits("Bernoulli", probs, logits)
        if probs is not None:
            (self.probs,) = _broadcast(probs)
            self.arg_constraints = {"probs": unit_interval}
            clamped = _clamp_probs(self.probs)
            self.logits = clamped.log() - (-clamped).log1p()
        else:
            (self.logits,) = _broadcast(logits)
            self.arg_constraints = {"logits": real}
            self.probs = self.logits.sigmoid()
        super().__init__(self.probs.shape, (), validate_args)

    mean = property(lambda self: self.probs)
    variance = property(lambda self: self.probs * (1 - self.probs))

    def sample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        with no_grad():
            shape = self._extended_shape(sample_shape)
            return (_uniform_like(shape, self.probs) < self.probs.expand(shape)).to(self.probs.dtype)

    def log_prob(self, value: Tensor) -> Tensor:
        self._validate_sample(value)
        logits, value = broadcast_tensors(self.logits, value.to(self.logits.dtype))
        return value * logits - softplus(logits)

    def entropy(self) -> Tensor:
        return softplus(self.logits) - self.probs * self.logits


class Categorical(Distribution):
    """K categories along the last dim of probs (normalised) or logits (log-normalised)."""

    def __init__(self, probs=None, logits=None, validate_args: bool | None = None) -> None:
        _probs_or_logits("Categorical", probs, logits)
        given = probs if probs is not None else logits
        if not isinstance(given, TensorBase) or given.ndim < 1:
            raise ValueError(f"Categorical: `probs` or `logits` must be at least one-dimensional, got "
                             f"{_shape_text(given)}")
        if probs is not None:
            self.probs = probs / probs.sum(-1, keepdim=True)
            self.arg_constraints = {"probs": simplex}
            self.logits = _clamp_probs(self.probs).log()
        else:
            self.logits = logits - logits.logsumexp(-1, keepdim=True)
            self.arg_constraints = {"logits": real_vector}
            self.probs = self.logits.exp()
        self._num_events = given.shape[-1]
        super().__init__(given.shape[:-1], (), validate_args)

    @property
    def support(self) -> Constraint:
        k = self._num_events
        return Constraint(f"IntegerInterval(lower_bound=0, upper_bound={k - 1})",
                          lambda v: (v >= 0) & (v <= k - 1) & (v == v.floor()))

    param_shape = property(lambda self: tuple(self.probs.shape))
    mean = property(lambda self: self.probs.new_full(self._batch_shape, math.nan))
    variance = property(lambda self: self.probs.new_full(self._batch_shape, math.nan))
    mode = property(lambda self: self.probs.argmax(-1))

    def sample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """By the inverse CDF: the number of cumulative probabilities at or below a uniform draw."""
        with no_grad():
            shape = self._extended_shape(sample_shape)
            cumulative = self.probs.cumsum(-1).expand(shape + (self._num_events,))
            u = _uniform_like(shape, self.probs).unsqueeze(-1)
            return (cumulative <= u).long().sum(-1).clamp(max=self._num_events - 1)

    def log_prob(self, value: Tensor) -> Tensor:
        self._validate_sample(value)
        value = value.long().unsqueeze(-1)
        value, logits = broadcast_tensors(value, self.logits)
        return logits.gather(-1, value[..., :1]).squeeze(-1)

    def entropy(self) -> Tensor:
        logits = self.logits.clamp(min=-3.4028234663852886e38)  # -inf where p is 0: p log p is 0 there
        return -(self.probs * logits).sum(-1)

    def enumerate_support(self, expand: bool = True) -> Tensor:
        values = arange(self._num_events, device=self.probs.device).reshape((-1,) + (1,) * len(self._batch_shape))
        return values.expand((self._num_events,) + self._batch_shape) if expand else values


class OneHotCategorical(Distribution):
    """A Categorical whose samples and values are one-hot vectors (event shape (K,))."""
    support = Constraint("OneHot()", lambda v: boolean(v).all(-1) & (v.sum(-1) == 1), 1)

    def __init__(self, probs=None, logits=None, validate_args: bool | None = None) -> None:
        self._categorical = Categorical(probs, logits, validate_args)
        self.arg_constraints = {}
        super().__init__(self._categorical.batch_shape, self._categorical.param_shape[-1:], validate_args)

    probs = property(lambda self: self._categorical.probs)
    logits = property(lambda self: self._categorical.logits)
    mean = property(lambda self: self.probs)
    variance = property(lambda self: self.probs * (1 - self.probs))

    def sample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        return one_hot(self._categorical.sample(sample_shape), self._event_shape[0]).to(self.probs.dtype)

    def log_prob(self, value: Tensor) -> Tensor:
        self._validate_sample(value)
        return self._categorical.log_prob(value.argmax(-1))

    def entropy(self) -> Tensor:
        return self._categorical.entropy()


# ---- the multivariate normal ------------------------------------------------------------------

def solve_lower_triangular(L: Tensor, B: Tensor) -> Tensor:
    """X with L X = B for lower-triangular L (..., n, n) and B (..., n, m), by forward
    substitution: row i is (B_i - sum_j<i L_ij X_j) / L_ii, broadcast over batch dims."""
    rows = []
    for i in range(L.shape[-1]):
        done = (L[..., i, :i].unsqueeze(-1) * stack(rows, -2)).sum(-2) if rows else 0.0
        rows.append((B[..., i, :] - done) / L[..., i, i:i + 1])
    return stack(rows, -2)


def _mahalanobis(L: Tensor, x: Tensor) -> Tensor:
    """|L^-1 x|^2 along the last dim."""
    return (solve_lower_triangular(L, x.unsqueeze(-1)).squeeze(-1) ** 2).sum(-1)


class MultivariateNormal(Distribution):
    """loc with one of covariance_matrix, scale_tril or precision_matrix, kept as scale_tril."""
    arg_constraints = {"loc": real_vector, "covariance_matrix": positive_definite,
                       "precision_matrix": positive_definite, "scale_tril": lower_cholesky}
    support = real_vector
    has_rsample = True

    def __init__(self, loc: Tensor, covariance_matrix: Tensor | None = None, precision_matrix: Tensor | None = None,
                 scale_tril: Tensor | None = None, validate_args: bool | None = None) -> None:
        given = {k: v for k, v in (("covariance_matrix", covariance_matrix), ("precision_matrix", precision_matrix),
                                   ("scale_tril", scale_tril)) if v is not None}
        if len(given) != 1:
            raise ValueError("MultivariateNormal: Exactly one of covariance_matrix or precision_matrix or scale_tril "
                             f"may be specified, got {sorted(given) or 'none'}.")
        (name, matrix), = given.items()
        if loc.ndim < 1 or matrix.ndim < 2 or matrix.shape[-1] != matrix.shape[-2] or matrix.shape[-1] != loc.shape[-1]:
            raise ValueError(f"MultivariateNormal: loc of shape {tuple(loc.shape)} and {name} of shape "
                             f"{tuple(matrix.shape)} do not describe one event size (loc (..., n), {name} (..., n, n))")
        batch = tuple(broadcast_tensors(loc[..., :1], matrix[..., 0, :1])[0].shape[:-1])
        n = loc.shape[-1]
        self.loc = loc.expand(batch + (n,))
        # the given matrix, for the argument checks (the properties below derive every form)
        self.__dict__[name] = matrix.expand(batch + (n, n))
        self.arg_constraints = {"loc": real_vector, name: type(self).arg_constraints[name]}
        super().__init__(batch, (n,), validate_args)
        self._unbroadcasted_scale_tril = {"scale_tril": lambda m: m, "covariance_matrix": cholesky,
                                          "precision_matrix": lambda m: cholesky(inv(m))}[name](matrix)

    @property
    def scale_tril(self) -> Tensor:
        return self._unbroadcasted_scale_tril.expand(self._batch_shape + self._event_shape * 2)

    @property
    def covariance_matrix(self) -> Tensor:
        L = self._unbroadcasted_scale_tril
        return (L @ L.mT).expand(self._batch_shape + self._event_shape * 2)

    @property
    def precision_matrix(self) -> Tensor:
        return inv(self.covariance_matrix)

    mean = property(lambda self: self.loc)
    mode = property(lambda self: self.loc)
    variance = property(lambda self: (self._unbroadcasted_scale_tril ** 2).sum(-1).expand(
        self._batch_shape + self._event_shape))

    def _half_log_det(self) -> Tensor:
        return self._unbroadcasted_scale_tril.diagonal(0, -2, -1).log().sum(-1)

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        eps = randn(self._extended_shape(sample_shape), dtype=self.loc.dtype, device=self.loc.device)
        return self.loc + (self._unbroadcasted_scale_tril @ eps.unsqueeze(-1)).squeeze(-1)

    def log_prob(self, value: Tensor) -> Tensor:
        self._validate_sample(value)
        diff = value - self.loc
        L = self._unbroadcasted_scale_tril
        M = _mahalanobis(L.expand(tuple(diff.shape) + (diff.shape[-1],)), diff)
        n = self._event_shape[0]
        return -0.5 * (n * math.log(2 * math.pi) + M) - self._half_log_det()

    def entropy(self) -> Tensor:
        n = self._event_shape[0]
        out = 0.5 * n * (1.0 + math.log(2 * math.pi)) + self._half_log_det()
        return out.expand(self._batch_shape)


# ---- Independent ------------------------------------------------------------------------------

class Independent(Distribution):
    """The base distribution with its rightmost `reinterpreted_batch_ndims` batch dims read as event dims."""

    def __init__(self, base_distribution: Distribution, reinterpreted_batch_ndims: int,
                 validate_args: bool | None = None) -> None:
        batch = tuple(base_distribution.batch_shape)
        if not 0 <= reinterpreted_batch_ndims <= len(batch):
            raise ValueError(f"Independent: Expected reinterpreted_batch_ndims <= len(base_distribution.batch_shape), "
                             f"actual {reinterpreted_batch_ndims} vs {len(batch)}")
        self.base_dist, self.reinterpreted_batch_ndims = base_distribution, reinterpreted_batch_ndims
        cut = len(batch) - reinterpreted_batch_ndims
        super().__init__(batch[:cut], batch[cut:] + tuple(base_distribution.event_shape), validate_args)

    has_rsample = property(lambda self: self.base_dist.has_rsample)
    support = property(lambda self: self.base_dist.support)
    mean = property(lambda self: self.base_dist.mean)
    variance = property(lambda self: self.base_dist.variance)

    def _summed(self, x: Tensor) -> Tensor:
        n = self.reinterpreted_batch_ndims
        return x.sum(tuple(range(-n, 0))) if n else x

    def sample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        return self.base_dist.sample(sample_shape)

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        return self.base_dist.rsample(sample_shape)

    def log_prob(self, value: Tensor) -> Tensor:
        return self._summed(self.base_dist.log_prob(value))

    def entropy(self) -> Tensor:
        return self._summed(self.base_dist.entropy())


# ---- families with log_prob and entropy only (their exact samplers loop without bound) -------

class _NoSampler(Distribution):
    def sample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__}.sample is not supported: its exact samplers are "
                                  "rejection loops of unbounded length")


class Gamma(_NoSampler):
    arg_constraints = {"concentration": positive, "rate": positive}
    support = nonnegative

    def __init__(self, concentration, rate, validate_args: bool | None = None) -> None:
        self.concentration, self.rate = _broadcast(concentration, rate)
        super().__init__(self.concentration.shape, (), validate_args)

    mean = property(lambda self: self.concentration / self.rate)
    variance = property(lambda self: self.concentration / self.rate.pow(2))

    def log_prob(self, value: Tensor) -> Tensor:
        self._validate_sample(value)
        a, b = self.concentration, self.rate
        return xlogy(a, b) + xlogy(a - 1, value) - b * value - lgamma(a)

    def entropy(self) -> Tensor:
        a = self.concentration
        return a - self.rate.log() + lgamma(a) + (1.0 - a) * digamma(a)


def _log_beta(a: Tensor, b: Tensor) -> Tensor:
    return lgamma(a) + lgamma(b) - lgamma(a + b)


class Beta(_NoSampler):
    arg_constraints = {"concentration1": positive, "concentration0": positive}
    support = unit_interval

    def __init__(self, concentration1, concentration0, validate_args: bool | None = None) -> None:
        self.concentration1, self.concentration0 = _broadcast(concentration1, concentration0)
        super().__init__(self.concentration1.shape, (), validate_args)

    mean = property(lambda self: self.concentration1 / (self.concentration1 + self.concentration0))

    @property
    def variance(self) -> Tensor:
        total = self.concentration1 + self.concentration0
        return self.concentration1 * self.concentration0 / (total * total * (total + 1))

    def log_prob(self, value: Tensor) -> Tensor:
        self._validate_sample(value)
        a, b = self.concentration1, self.concentration0
        return xlogy(a - 1, value) + xlogy(b - 1, 1 - value) - _log_beta(a, b)

    def entropy(self) -> Tensor:
        a, b = self.concentration1, self.concentration0
        return _log_beta(a, b) - (a - 1) * digamma(a) - (b - 1) * digamma(b) + (a + b - 2) * digamma(a + b)


class Dirichlet(_NoSampler):
    arg_constraints = {"concentration": Constraint("IndependentConstraint(GreaterThan(lower_bound=0.0), 1)",
                                                   lambda v: (v > 0).all(-1), 1)}
    support = simplex

    def __init__(self, concentration: Tensor, validate_args: bool | None = None) -> None:
        if concentration.ndim < 1:
            raise ValueError(f"Dirichlet: `concentration` parameter must be at least one-dimensional, got shape "
                             f"{tuple(concentration.shape)}")
        self.concentration = concentration
        super().__init__(concentration.shape[:-1], concentration.shape[-1:], validate_args)

    mean = property(lambda self: self.concentration / self.concentration.sum(-1, keepdim=True))

    @property
    def variance(self) -> Tensor:
        total = self.concentration.sum(-1, keepdim=True)
        return self.concentration * (total - self.concentration) / (total * total * (total + 1))

    def log_prob(self, value: Tensor) -> Tensor:
        self._validate_sample(value)
        c = self.concentration
        return xlogy(c - 1, value).sum(-1) + lgamma(c.sum(-1)) - lgamma(c).sum(-1)

    def entropy(self) -> Tensor:
        c = self.concentration
        k, total = c.shape[-1], c.sum(-1)
        return lgamma(c).sum(-1) - lgamma(total) - (k - total) * digamma(total) - ((c - 1) * digamma(c)).sum(-1)


class Poisson(_NoSampler):
    arg_constraints = {"rate": nonnegative}
    support = nonnegative_integer

    def __init__(self, rate, validate_args: bool | None = None) -> None:
        (self.rate,) = _broadcast(rate)
        super().__init__(self.rate.shape, (), validate_args)

    mean = property(lambda self: self.rate)
    variance = property(lambda self: self.rate)

    def log_prob(self, value: Tensor) -> Tensor:
        self._validate_sample(value)
        rate, value = broadcast_tensors(self.rate, value.to(self.rate.dtype))
        return xlogy(value, rate) - rate - lgamma(value + 1)


# ---- KL divergence ----------------------------------------------------------------------------

_KL: dict[tuple[type, type], Callable[[Distribution, Distribution], Tensor]] = {}


def register_kl(type_p: type, type_q: type):
    """Decorator: fn(p, q) computes KL(p || q) for these two families."""
    def decorator(fn):
        _KL[type_p, type_q] = fn
        return fn
    return decorator


def kl_divergence(p: Distribution, q: Distribution) -> Tensor:
    """KL(p || q), for the pairs registered with register_kl: the most specific pair that
    matches (the nearest in p's and q's class hierarchies), as torch dispatches."""
    def distance(pair: tuple[type, type]) -> tuple[int, int]:
        return type(p).__mro__.index(pair[0]), type(q).__mro__.index(pair[1])
    matches = [pair for pair in _KL if isinstance(p, pair[0]) and isinstance(q, pair[1])]
    if matches:
        return _KL[min(matches, key=distance)](p, q)
    raise NotImplementedError(f"kl_divergence: no KL(p || q) is implemented for p {type(p).__name__} and "
                              f"q {type(q).__name__}")


@register_kl(Normal, Normal)
def _kl_normal_normal(p: Normal, q: Normal) -> Tensor:
    var_ratio = (p.scale / q.scale) ** 2
    t1 = ((p.loc - q.loc) / q.scale) ** 2
    return 0.5 * (var_ratio + t1 - 1 - var_ratio.log())


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p: Categorical, q: Categorical) -> Tensor:
    t = p.probs * (p.logits - q.logits)
    t = where(q.probs == 0, math.inf, t)  # mass where q has none: infinite divergence
    return where(p.probs == 0, 0.0, t).sum(-1)


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p: Bernoulli, q: Bernoulli) -> Tensor:
    # mass where q has none is an infinite divergence; no mass contributes nothing
    t1 = p.probs * (softplus(-q.logits) - softplus(-p.logits))
    t1 = where(p.probs == 0, 0.0, where(q.probs == 0, math.inf, t1))
    t2 = (1 - p.probs) * (softplus(q.logits) - softplus(p.logits))
    return t1 + where(p.probs == 1, 0.0, where(q.probs == 1, math.inf, t2))


@register_kl(MultivariateNormal, MultivariateNormal)
def _kl_mvn_mvn(p: MultivariateNormal, q: MultivariateNormal) -> Tensor:
    if p.event_shape != q.event_shape:
        raise ValueError(f"kl_divergence: MultivariateNormals of event shapes {p.event_shape} and {q.event_shape}")
    batch = tuple(broadcast_tensors(p.loc[..., 0], q.loc[..., 0])[0].shape)
    n = p.event_shape[0]
    Lq = q._unbroadcasted_scale_tril.expand(batch + (n, n))
    trace = (solve_lower_triangular(Lq, p._unbroadcasted_scale_tril.expand(batch + (n, n))) ** 2).sum((-2, -1))
    M = _mahalanobis(Lq, (q.loc - p.loc).expand(batch + (n,)))
    return q._half_log_det() - p._half_log_det() + 0.5 * (trace + M - n)


__all__ = ["Distribution", "Normal", "Uniform", "Exponential", "Laplace", "Bernoulli", "Categorical",
           "OneHotCategorical", "MultivariateNormal", "Independent", "Gamma", "Beta", "Dirichlet", "Poisson",
           "kl_divergence", "register_kl", "solve_lower_triangular"]


@register_kl(Independent, Independent)
def _kl_independent_independent(p: Independent, q: Independent) -> Tensor:
    """The base distributions' KL, summed over the dims read as event dims (a VAE's latent KL)."""
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise NotImplementedError(f"kl_divergence: Independent distributions reinterpreting {p.reinterpreted_batch_ndims} "
                                  f"and {q.reinterpreted_batch_ndims} batch dims")
    return p._summed(kl_divergence(p.base_dist, q.base_dist))
