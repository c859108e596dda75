"""Normal-Wishart and Gaussian-ensemble measures and the regression losses.

Closed forms against Monte Carlo (10⁵ samples drawn with scipy, fixed seeds,
2 % tolerance), against scipy's own densities and entropies, against their
identities, and finiteness over precisions from 1e-6 to 1e6.
"""

import numpy as np
import pytest
import torch
from scipy import integrate, stats
from scipy.special import digamma

from skend2._regression_losses import student_log_parameters
from skend2.regression import (
    GaussianNLLLoss,
    NormalWishartNLLLoss,
    gaussian_nll_loss,
    normal_wishart_nll_loss,
)
from skend2.uncertainty import (
    gaussian_ensemble_uncertainty,
    normal_wishart_uncertainty,
    student_t_predictive,
)

N_MC = 100_000


def _sample_normal_wishart(mean, scale, kappa, nu, n, seed):
    """(μ, Λ) ~ NW(m, diag(L), κ, ν) with scipy's Wishart, and y ~ N(μ, Λ⁻¹)."""
    rng = np.random.default_rng(seed)
    k = len(mean)
    wishart = stats.wishart(df=nu, scale=np.diag(scale))
    precision = wishart.rvs(n, random_state=seed).reshape(n, k, k)
    covariance = np.linalg.inv(precision)
    chol = np.linalg.cholesky(covariance)
    mu = mean + np.einsum("nij,nj->ni", chol, rng.standard_normal((n, k))) / np.sqrt(
        kappa
    )
    y = mu + np.einsum("nij,nj->ni", chol, rng.standard_normal((n, k)))
    return mu, precision, covariance, y


def _gaussian_kl(mu1, cov1, mu2, prec2):
    k = mu1.shape[-1]
    d = mu2 - mu1
    return 0.5 * (
        np.einsum("nij,nji->n", prec2, cov1)
        + np.einsum("ni,nij,nj->n", d, prec2, d)
        - k
        - np.linalg.slogdet(prec2)[1]
        - np.linalg.slogdet(cov1)[1]
    )


CASES = [
    # (mean, diag(L), κ, ν): one target (Normal-Gamma) and two, with sizeable
    # knowledge uncertainty (small κ, small ν).
    (np.array([0.5]), np.array([0.3]), 0.7, 8.0),
    (np.array([0.3, -1.0]), np.array([0.4, 2.0]), 0.5, 10.0),
]


@pytest.mark.parametrize("mean, scale, kappa, nu", CASES)
def test_normal_wishart_measures_match_monte_carlo(mean, scale, kappa, nu):
    k = len(mean)
    closed = normal_wishart_uncertainty(mean[None], scale[None], [kappa], [nu])
    mu, precision, covariance, y = _sample_normal_wishart(
        mean, scale, kappa, nu, N_MC, seed=0
    )
    t = student_t_predictive(mean[None], scale[None], [kappa], [nu])
    predictive = stats.multivariate_t(
        loc=t.loc[0], shape=np.diag(t.scale[0] ** 2), df=t.df[0]
    )
    total = -predictive.logpdf(y).mean()
    data = np.mean(
        0.5 * k * (np.log(2 * np.pi) + 1) + 0.5 * np.linalg.slogdet(covariance)[1]
    )
    half = N_MC // 2
    epkl = _gaussian_kl(
        mu[:half], covariance[:half], mu[half:], precision[half:]
    ).mean()
    monte_carlo = {
        "total": total,
        "data": data,
        "knowledge": total - data,
        "epkl": epkl,
        "total_variance": np.trace(np.cov(y.T).reshape(k, k)),
        "data_variance": np.trace(covariance.mean(0)),
        "knowledge_variance": np.trace(np.cov(mu.T).reshape(k, k)),
    }
    for name, value in monte_carlo.items():
        assert closed[name][0] == pytest.approx(value, rel=0.02), name


@pytest.mark.parametrize("mean, scale, kappa, nu", CASES)
def test_normal_wishart_identities(mean, scale, kappa, nu):
    u = normal_wishart_uncertainty(mean[None], scale[None], [kappa], [nu])
    np.testing.assert_allclose(u.total, u.data + u.knowledge, rtol=1e-12)
    np.testing.assert_allclose(
        u.total_variance, u.data_variance + u.knowledge_variance, rtol=1e-12
    )
    # The predictive variance is the Student-t's: scale² df/(df − 2), summed.
    t = student_t_predictive(mean[None], scale[None], [kappa], [nu])
    df = t.df[0]
    np.testing.assert_allclose(
        u.total_variance, (t.scale**2).sum(1) * df / (df - 2), rtol=1e-12
    )


def test_normal_gamma_against_scipy_high_precision():
    """One target: the Student-t entropy is scipy's; data by quadrature."""
    m, scale, kappa, nu = 1.5, 0.2, 2.0, 5.0
    u = normal_wishart_uncertainty([[m]], [[scale]], [kappa], [nu])
    t = student_t_predictive([[m]], [[scale]], [kappa], [nu])
    exact_total = stats.t(df=t.df[0], loc=m, scale=t.scale[0, 0]).entropy()
    assert u.total[0] == pytest.approx(exact_total, rel=1e-12)
    # λ ~ Gamma(ν/2, scale 2L): E[½ ln(2πe/λ)] by adaptive quadrature.
    gamma = stats.gamma(a=nu / 2, scale=2 * scale)
    exact_data, _ = integrate.quad(
        lambda lam: gamma.pdf(lam) * 0.5 * np.log(2 * np.pi * np.e / lam),
        0,
        np.inf,
        epsabs=1e-13,
        epsrel=1e-13,
    )
    assert u.data[0] == pytest.approx(exact_data, rel=1e-9)
    assert u.data[0] == pytest.approx(
        0.5 * np.log(2 * np.pi * np.e) - 0.5 * (digamma(nu / 2) + np.log(2 * scale)),
        rel=1e-12,
    )


def test_measures_finite_over_wide_ranges():
    values = np.logspace(-6, 6, 13)
    grid = np.array(np.meshgrid(values, values, values)).reshape(3, -1).T
    scale, kappa, excess = grid[:, :1], grid[:, 1], grid[:, 2]
    for k in (1, 3):
        u = normal_wishart_uncertainty(
            np.zeros((len(grid), k)), np.repeat(scale, k, 1), kappa, k + 1 + excess
        )
        for name, value in u.items():
            assert np.isfinite(value).all(), (k, name)
            assert (value >= 0).all() or name in ("total", "data"), (k, name)


def test_gaussian_ensemble_measures():
    rng = np.random.default_rng(0)
    means = rng.normal(size=(1, 4, 2))
    variances = rng.uniform(0.2, 2.0, size=(1, 4, 2))
    u = gaussian_ensemble_uncertainty(means, variances)
    np.testing.assert_allclose(u.total, u.data + u.knowledge, rtol=1e-12)
    np.testing.assert_allclose(
        u.total_variance, u.data_variance + u.knowledge_variance, rtol=1e-12
    )
    np.testing.assert_allclose(u.knowledge_variance, means[0].var(0).sum())
    # EPKL: every ordered pair's KL, with scipy's Gaussians.
    kls = []
    for i in range(4):
        for j in range(4):
            kls.append(
                _gaussian_kl(
                    means[0, i][None],
                    np.diag(variances[0, i])[None],
                    means[0, j][None],
                    np.diag(1 / variances[0, j])[None],
                )[0]
            )
    assert u.epkl[0] == pytest.approx(np.mean(kls), rel=1e-12)
    # The total is the moment-matched Gaussian's entropy: an upper bound on the
    # mixture's entropy (estimated by Monte Carlo), and above the data term.
    n = N_MC
    member = rng.integers(0, 4, n)
    y = means[0, member] + np.sqrt(variances[0, member]) * rng.standard_normal((n, 2))
    density = np.mean(
        [
            stats.multivariate_normal(means[0, m], np.diag(variances[0, m])).pdf(y)
            for m in range(4)
        ],
        axis=0,
    )
    mixture_entropy = -np.log(density).mean()
    assert u.data[0] < mixture_entropy < u.total[0]


def test_measure_input_errors():
    with pytest.raises(ValueError, match="nu must be > n_targets"):
        normal_wishart_uncertainty([[0.0]], [[1.0]], [1.0], [2.0])
    with pytest.raises(ValueError, match="> 0"):
        normal_wishart_uncertainty([[0.0]], [[-1.0]], [1.0], [4.0])
    with pytest.raises(ValueError, match="same shape"):
        normal_wishart_uncertainty([[0.0]], [[1.0, 1.0]], [1.0], [4.0])
    with pytest.raises(ValueError, match="NaN"):
        normal_wishart_uncertainty([[np.nan]], [[1.0]], [1.0], [4.0])
    with pytest.raises(TypeError):
        normal_wishart_uncertainty([["a"]], [[1.0]], [1.0], [4.0])
    with pytest.raises(ValueError, match="variances must be > 0"):
        gaussian_ensemble_uncertainty(np.zeros((1, 2, 1)), np.zeros((1, 2, 1)))
    with pytest.raises(ValueError, match="dimension"):
        gaussian_ensemble_uncertainty(np.zeros((2, 1)), np.ones((2, 1)))


# --- losses ---------------------------------------------------------------------


def _raw_members(means, variances):
    """Raw member outputs whose softplus(v) + 1e-6 gives ``variances``."""
    v = torch.as_tensor(variances, dtype=torch.float64) - 1e-6
    raw_variance = v + torch.log(-torch.expm1(-v))  # softplus⁻¹
    return torch.cat([torch.as_tensor(means, dtype=torch.float64), raw_variance], -1)


@pytest.mark.parametrize("k", [1, 2])
def test_normal_wishart_nll_is_minus_scipy_log_density(k):
    rng = np.random.default_rng(k)
    n_members = 3
    means = rng.normal(size=(2, n_members, k))
    variances = rng.uniform(0.1, 3.0, size=(2, n_members, k))
    student = torch.tensor(rng.normal(size=(2, 2 * k + 2)))
    loss = normal_wishart_nll_loss(
        student, _raw_members(means, variances), reduction="none"
    )
    m, log_scale, log_kappa, nu = (t.numpy() for t in student_log_parameters(student))
    for i in range(2):
        wishart = stats.wishart(df=nu[i], scale=np.diag(np.exp(log_scale[i])))
        log_densities = []
        for j in range(n_members):
            precision = np.diag(1 / variances[i, j])
            gaussian = stats.multivariate_normal(
                m[i], np.diag(variances[i, j]) / np.exp(log_kappa[i])
            )
            log_densities.append(
                gaussian.logpdf(means[i, j]) + wishart.logpdf(precision)
            )
        assert loss[i].item() == pytest.approx(-np.mean(log_densities), rel=1e-9)


def test_normal_wishart_nll_temperature():
    members = torch.randn(5, 4, 2, dtype=torch.float64)
    student = torch.randn(5, 4, dtype=torch.float64)
    hot = normal_wishart_nll_loss(student, members, temperature=3.0, reduction="none")
    # At T: members' variances × T, κ and ν − K − 1 from z/T, loss × T².
    heated = members.clone()
    heated[..., 1:] = _raw_members(
        members[..., :1], (torch.nn.functional.softplus(members[..., 1:]) + 1e-6) * 3
    )[..., 1:]
    scaled = student.clone()
    scaled[:, 2:] = student[:, 2:] / 3.0
    cold = normal_wishart_nll_loss(scaled, heated, reduction="none")
    torch.testing.assert_close(hot, 9.0 * cold)


@pytest.mark.parametrize("precision", [1e-6, 1e-3, 1.0, 1e3, 1e6])
def test_losses_and_gradients_finite_over_precisions(precision):
    k = 2
    variances = torch.full((4, 5, k), 1.0 / precision, dtype=torch.float64)
    means = torch.randn(4, 5, k, dtype=torch.float64)
    members = _raw_members(means, variances.clamp(min=2e-6)).float()
    for student_value in (-50.0, -5.0, 0.0, 5.0, 50.0):
        student = torch.full((4, 2 * k + 2), student_value, requires_grad=True)
        loss = normal_wishart_nll_loss(student, members, temperature=1.0)
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(student.grad).all()
    raw = torch.cat([means[:, 0], torch.full((4, k), np.log(1 / precision))], -1)
    raw = raw.float().requires_grad_()
    loss = gaussian_nll_loss(raw, torch.zeros(4, k))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(raw.grad).all()


def test_gaussian_nll_matches_scipy_and_fused_sum():
    rng = np.random.default_rng(0)
    means = rng.normal(size=(6, 1))
    variances = rng.uniform(0.1, 2.0, size=(6, 1))
    target = rng.normal(size=(6, 1))
    raw = _raw_members(means, variances)
    loss = gaussian_nll_loss(raw, torch.tensor(target), reduction="none")
    expected = -stats.norm(means[:, 0], np.sqrt(variances[:, 0])).logpdf(target[:, 0])
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-9)
    # Fused: the sum over members of each member's mean loss.
    outputs = torch.randn(8, 3, 4)
    targets = torch.randn(8, 3, 2)
    fused = GaussianNLLLoss()(outputs, targets)
    alone = sum(gaussian_nll_loss(outputs[:, m], targets[:, m]) for m in range(3))
    torch.testing.assert_close(fused, alone)


def test_loss_input_errors():
    with pytest.raises(ValueError, match="shape"):
        normal_wishart_nll_loss(torch.zeros(2, 3), torch.zeros(2, 5, 2))
    with pytest.raises(TypeError, match="torch.Tensor"):
        normal_wishart_nll_loss(np.zeros((2, 4)), torch.zeros(2, 5, 2))
    with pytest.raises(ValueError, match="temperature"):
        normal_wishart_nll_loss(torch.zeros(2, 4), torch.zeros(2, 5, 2), temperature=0)
    with pytest.raises(ValueError, match="reduction"):
        gaussian_nll_loss(torch.zeros(2, 2), torch.zeros(2, 1), reduction="max")
    with pytest.raises(ValueError, match="shape"):
        gaussian_nll_loss(torch.zeros(2, 3), torch.zeros(2, 1))
    criterion = NormalWishartNLLLoss(temperature=2.0)
    assert criterion(torch.zeros(2, 4), torch.zeros(2, 5, 2)).dtype == torch.float32
