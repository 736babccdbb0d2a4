"""lazytensor.distributions: parameters, log_prob, entropy, cdf/icdf and KL divergences against
torch.distributions on every device and LAZY mode; samples (drawn from lazytensor's own
generator) tested by their statistics; rsample's gradients; argument validation."""
import numpy as np
import pytest
import torch
import torch.distributions as TD

import lazytensor as lt
import lazytensor.distributions as D
from helpers import check, check_cases, not_eager_on_cl

pytestmark = pytest.mark.usefixtures("env")
F = np.float32

# name -> (family, positional parameters, keyword parameters, values for log_prob)
FAMILIES = {
    "Normal": ("Normal", (np.array([0.0, 1.5], F), np.array([1.0, 2.0], F)), {}, np.array([0.3, -1.0], F)),
    "Laplace": ("Laplace", (np.array([0.0, 1.5], F), np.array([1.0, 2.0], F)), {}, np.array([0.3, -1.0], F)),
    "Uniform": ("Uniform", (np.array([0.0, 1.5], F), np.array([1.0, 2.0], F)), {}, np.array([0.3, 1.7], F)),
    "Exponential": ("Exponential", (np.array([0.5, 3.0], F),), {}, np.array([0.3, 1.7], F)),
    "Bernoulli_probs": ("Bernoulli", (), {"probs": np.array([0.2, 0.9], F)}, np.array([1.0, 0.0], F)),
    "Bernoulli_logits": ("Bernoulli", (), {"logits": np.array([-2.0, 0.9], F)}, np.array([1.0, 0.0], F)),
    "Categorical_probs": ("Categorical", (), {"probs": np.array([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]], F)},
                          np.array([[2, 0], [1, 1]])),
    "Categorical_logits": ("Categorical", (), {"logits": np.array([[0.2, -0.3, 0.5], [0.1, 0.1, 0.8]], F)},
                           np.array([2, 0])),
    "OneHotCategorical": ("OneHotCategorical", (), {"logits": np.array([[0.2, -0.3, 0.5], [0.1, 0.1, 0.8]], F)},
                          np.array([[0, 0, 1], [1, 0, 0]], F)),
    "Gamma": ("Gamma", (np.array([0.5, 3.0], F), np.array([2.0, 1.0], F)), {}, np.array([0.3, 1.7], F)),
    "Beta": ("Beta", (np.array([0.5, 3.0], F), np.array([2.0, 1.0], F)), {}, np.array([0.3, 0.7], F)),
    "Dirichlet": ("Dirichlet", (np.array([[0.5, 3.0, 1.0]], F),), {}, np.array([[0.3, 0.2, 0.5]], F)),
    "Poisson": ("Poisson", (np.array([0.5, 3.0], F),), {}, np.array([0.0, 4.0], F)),
    "MVN_covariance": ("MultivariateNormal", (np.array([0.0, 1.0], F),),
                       {"covariance_matrix": np.array([[2.0, 0.5], [0.5, 1.0]], F)}, np.array([[0.3, 0.2], [1, -1]], F)),
    "MVN_precision": ("MultivariateNormal", (np.array([[0.0, 1.0], [2.0, -1.0]], F),),
                      {"precision_matrix": np.array([[2.0, 0.5], [0.5, 1.0]], F)}, np.array([0.3, 0.2], F)),
    "MVN_scale_tril": ("MultivariateNormal", (np.array([0.0, 1.0, 2.0], F),),
                       {"scale_tril": np.array([[2.0, 0, 0], [0.5, 1.0, 0], [-1.0, 0.3, 0.5]], F)},
                       np.array([0.3, 0.2, 1.0], F)),
}
NO_ENTROPY = {"Poisson"}  # torch has none for it


def _both(name, args, kwargs):
    """The family built alike in lazytensor and torch from the same numpy parameters."""
    def convert(module, a):
        return module.tensor(a) if isinstance(a, np.ndarray) else a
    return (getattr(D, name)(*[convert(lt, a) for a in args], **{k: convert(lt, v) for k, v in kwargs.items()}),
            getattr(TD, name)(*[convert(torch, a) for a in args], **{k: convert(torch, v) for k, v in kwargs.items()}))


def test_families_match_torch(env):
    not_eager_on_cl(env)
    """Shapes, moments, log_prob (broadcast against the batch) and entropy."""
    def case(c):
        name, args, kwargs, value = c
        ours, theirs = _both(name, args, kwargs)
        assert (ours.batch_shape, ours.event_shape) == (tuple(theirs.batch_shape), tuple(theirs.event_shape))
        for moment in ("mean", "variance", "stddev"):
            check(getattr(ours, moment), getattr(theirs, moment), rtol=1e-6, atol=1e-7)
        check(ours.log_prob(lt.tensor(value)), theirs.log_prob(torch.tensor(value)), rtol=1e-6, atol=1e-6)
        if name not in NO_ENTROPY:
            check(ours.entropy(), theirs.entropy(), rtol=1e-6, atol=1e-6)
    check_cases(FAMILIES, case)


CDFS = {"Normal": np.array([0.3, 2.5], F), "Laplace": np.array([-0.3, 2.5], F), "Uniform": np.array([0.5, 1.6], F),
        "Exponential": np.array([0.3, 1.7], F)}


def test_cdf_and_icdf_match_torch():
    def case(name):
        ours, theirs = _both(*FAMILIES[name][:3])
        value = CDFS[name]
        check(ours.cdf(lt.tensor(value)), theirs.cdf(torch.tensor(value)), rtol=1e-6, atol=1e-7)
        check(ours.icdf(lt.tensor([0.1, 0.8])), theirs.icdf(torch.tensor([0.1, 0.8])), rtol=1e-6, atol=1e-6)
    check_cases(list(CDFS), case)


KL_PAIRS = {
    "Normal": (("Normal", (np.array([0.0, 1.0], F), np.array([1.0, 2.0], F)), {}),
               ("Normal", (np.array([1.0, 1.0], F), np.array([3.0, 2.0], F)), {})),
    "Categorical": (("Categorical", (), {"probs": np.array([[0.2, 0.8, 0.0], [0.5, 0.25, 0.25]], F)}),
                    ("Categorical", (), {"logits": np.array([[0.0, 1.0, -1.0], [2.0, 0.0, 0.0]], F)})),
    "Bernoulli": (("Bernoulli", (), {"probs": np.array([0.0, 0.3, 1.0], F)}),
                  ("Bernoulli", (), {"logits": np.array([1.0, -2.0, 0.5], F)})),
    "Bernoulli_where_q_has_no_mass": (("Bernoulli", (), {"probs": np.array([0.5, 0.3, 0.0, 1.0], F)}),
                                      ("Bernoulli", (), {"probs": np.array([0.0, 1.0, 0.0, 1.0], F)})),
    "MultivariateNormal": (("MultivariateNormal", (np.array([0.0, 1.0], F),),
                            {"scale_tril": np.array([[2.0, 0.0], [0.5, 1.0]], F)}),
                           ("MultivariateNormal", (np.array([[1.0, 1.0], [0.0, 0.0]], F),),
                            {"covariance_matrix": np.array([[2.0, 0.3], [0.3, 1.0]], F)})),
}


def test_probabilities_of_0_and_1_are_clamped_by_their_dtypes_eps_as_torch():
    """A zero-probability class or outcome has torch's finite log-probability: its probability
    is taken as eps of its dtype (float64's is far smaller than float32's)."""
    import torch
    for m in (lt, torch):
        m.manual_seed(0)
    cases = {
        "Bernoulli_float64": lambda m: m.distributions.Bernoulli(m.tensor([1e-10, 1 - 1e-12], dtype=m.float64))
        .log_prob(m.tensor([1.0, 0.0], dtype=m.float64)),
        "Bernoulli_float32": lambda m: m.distributions.Bernoulli(m.tensor([1e-10, 0.0])).log_prob(m.tensor([1.0, 1.0])),
        "Categorical": lambda m: m.distributions.Categorical(probs=m.tensor([[0.0, 1.0, 0.0], [1e-9, 0.5, 0.5]]))
        .log_prob(m.tensor([0, 0])),
        "a_number_takes_the_tensors_dtype": lambda m: m.distributions.Uniform(
            m.tensor([0.0], dtype=m.float64), 1 + 1e-12).entropy(),
    }
    check_cases(cases, lambda fn: check(fn(lt), fn(torch), rtol=1e-6, atol=0))


def test_kl_divergence_of_independent_normals_sums_over_the_event_dims_as_torch():
    """The KL of a VAE's latent: Independent(Normal, 1) against a standard one."""
    import torch

    def kl(m):
        D = m.distributions
        p = D.Independent(D.Normal(m.tensor([[0.0, 1.0], [2.0, 3.0]]), m.tensor([[1.0, 2.0], [1.0, 0.5]])), 1)
        return D.kl_divergence(p, D.Independent(D.Normal(m.zeros(2, 2), m.ones(2, 2)), 1))
    check(kl(lt), kl(torch), rtol=1e-6, atol=1e-6)


def test_kl_divergence_matches_torch():
    """Zero where p is 0 (Categorical, Bernoulli), batches broadcast (MultivariateNormal)."""
    def case(pair):
        (p, tp), (q, tq) = (_both(*spec) for spec in pair)
        check(D.kl_divergence(p, q), TD.kl_divergence(tp, tq), rtol=1e-5, atol=1e-6)
    check_cases(KL_PAIRS, case)


N = 200_000


def _within(sample_stat, expected, standard_error, what):
    assert abs(sample_stat - expected) < 5 * standard_error, f"{what}: {sample_stat} vs {expected} (se {standard_error})"


SAMPLED = {
    "Normal": D.Normal(1.5, 2.0), "Uniform": D.Uniform(-1.0, 3.0), "Exponential": D.Exponential(0.5),
    "Laplace": D.Laplace(-1.0, 0.5), "Bernoulli": D.Bernoulli(probs=0.3),
}


def test_samples_have_the_family_mean_and_variance():
    """200k draws: the mean within 5 standard errors of the family's, and the variance too."""
    def case(dist):
        lt.manual_seed(1)
        x = dist.sample((N,))
        assert tuple(x.shape) == (N,) and not x.requires_grad
        mean, var = dist.mean.item(), dist.variance.item()
        _within(x.mean().item(), mean, (var / N) ** 0.5, "mean")
        fourth = ((x - mean) ** 4).mean().item()
        _within(x.var().item(), var, ((fourth - var * var) / N) ** 0.5, "variance")
    check_cases(SAMPLED, case)


def test_categorical_samples_follow_the_probabilities():
    lt.manual_seed(2)
    probs = np.array([[0.1, 0.6, 0.3], [0.5, 0.0, 0.5]], F)
    x = D.Categorical(probs=lt.tensor(probs)).sample((N // 2,))
    assert tuple(x.shape) == (N // 2, 2) and x.dtype == lt.int64
    counts = np.stack([np.bincount(x.numpy()[:, b], minlength=3) for b in range(2)]) / (N // 2)
    np.testing.assert_allclose(counts, probs, atol=5 * (0.25 / (N // 2)) ** 0.5)


def test_one_hot_and_multivariate_samples():
    lt.manual_seed(3)
    one_hot = D.OneHotCategorical(probs=lt.tensor([0.2, 0.8])).sample((N // 4,))
    assert tuple(one_hot.shape) == (N // 4, 2)
    assert (one_hot.sum(-1) == 1).all().item() and abs(one_hot[:, 1].mean().item() - 0.8) < 0.005
    cov = np.array([[2.0, 0.5], [0.5, 1.0]], F)
    x = D.MultivariateNormal(lt.tensor([1.0, -1.0]), covariance_matrix=lt.tensor(cov)).sample((N,)).numpy()
    np.testing.assert_allclose(x.mean(0), [1.0, -1.0], atol=5 * (2.0 / N) ** 0.5)
    np.testing.assert_allclose(np.cov(x.T), cov, atol=0.02)


def test_rsample_gradients_flow_to_the_parameters():
    """d mean(sample) / d loc = 1, d mean(sample) / d scale = mean(eps), as torch's reparameterisation."""
    loc, scale = lt.tensor([0.5], requires_grad=True), lt.tensor([2.0], requires_grad=True)
    x = D.Normal(loc, scale).rsample((1000,))
    eps = ((x.detach() - 0.5) / 2.0).mean().numpy()
    x.mean().backward()
    check(loc.grad, np.array([1.0], F), rtol=1e-6)
    check(scale.grad, eps.reshape(1), rtol=1e-5, atol=1e-6)
    tril = lt.tensor([[1.0, 0.0], [0.3, 2.0]], requires_grad=True)
    mvn_loc = lt.tensor([0.0, 1.0], requires_grad=True)
    D.MultivariateNormal(mvn_loc, scale_tril=tril).rsample((10,)).sum().backward()
    check(mvn_loc.grad, np.array([10.0, 10.0], F))
    assert tril.grad is not None


def test_log_prob_gradients_match_torch():
    def run(m, dists):
        loc = m.tensor([0.0, 1.0], requires_grad=True)
        cov = m.tensor([[2.0, 0.5], [0.5, 1.0]], requires_grad=True)
        conc = m.tensor([0.7, 3.0], requires_grad=True)
        total = dists.MultivariateNormal(loc, covariance_matrix=cov).log_prob(m.tensor([0.3, -0.2])) \
            + dists.Gamma(conc, 2.0).log_prob(m.tensor([0.5, 1.5])).sum() + dists.Beta(conc, conc * 2).entropy().sum()
        total.backward()
        return loc.grad, cov.grad, conc.grad
    check(list(run(lt, D)), list(run(torch, TD)), rtol=1e-5, atol=1e-6)


def test_independent_sums_the_reinterpreted_dims():
    base, tbase = _both("Normal", (np.zeros((3, 2), F), np.full((3, 2), 2.0, F)), {})
    ours, theirs = D.Independent(base, 1), TD.Independent(tbase, 1)
    assert (ours.batch_shape, ours.event_shape) == ((3,), (2,))
    value = np.array([[0.5, -1.0]] * 3, F)
    check(ours.log_prob(lt.tensor(value)), theirs.log_prob(torch.tensor(value)), rtol=1e-6)
    check(ours.entropy(), theirs.entropy(), rtol=1e-6)
    assert tuple(ours.rsample((4,)).shape) == (4, 3, 2)


BAD_ARGUMENTS = {
    "negative scale": (lambda: D.Normal(lt.tensor([0.0, 1.0]), lt.tensor([1.0, -1.0])),
                       r"Expected parameter scale \(Tensor of shape \(2,\)\) of distribution Normal.*GreaterThan"),
    "probs above 1": (lambda: D.Bernoulli(probs=lt.tensor([1.5])), r"parameter probs .*Interval"),
    "both probs and logits": (lambda: D.Categorical(probs=lt.tensor([0.5, 0.5]), logits=lt.tensor([0.0, 0.0])),
                              "Either `probs` or `logits`"),
    "value outside the support": (lambda: D.Exponential(1.0).log_prob(lt.tensor([-1.0])),
                                  r"Expected value argument \(Tensor of shape \(1,\)\) to be within the support"),
    "category out of range": (lambda: D.Categorical(logits=lt.tensor([0.0, 1.0])).log_prob(lt.tensor(2)),
                              "IntegerInterval"),
    "two matrices": (lambda: D.MultivariateNormal(lt.zeros(2), covariance_matrix=lt.eye(2), scale_tril=lt.eye(2)),
                     "Exactly one of"),
    "mismatched matrix": (lambda: D.MultivariateNormal(lt.zeros(3), covariance_matrix=lt.eye(2)),
                          r"loc of shape \(3,\) and covariance_matrix of shape \(2, 2\)"),
}


def test_bad_arguments_raise_value_error():
    def case(c):
        with pytest.raises(ValueError, match=c[1]):
            c[0]()
    check_cases(BAD_ARGUMENTS, case)


def test_unsupported_operations_say_so():
    with pytest.raises(NotImplementedError, match="Gamma.sample is not supported"):
        D.Gamma(1.0, 1.0).sample()
    with pytest.raises(NotImplementedError, match="Bernoulli has no reparameterised sample"):
        D.Bernoulli(probs=0.5).rsample()
    with pytest.raises(NotImplementedError, match="no KL.*Normal and q Laplace"):
        D.kl_divergence(D.Normal(0.0, 1.0), D.Laplace(0.0, 1.0))
