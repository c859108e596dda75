"""Uncertainty of Gaussian ensembles and of Normal-Wishart (Prior Network) outputs.

The regression half of :mod:`skend2.uncertainty`. An ensemble member predicts a
Gaussian N(y | μ, diag(σ²)) over K targets; a regression Prior Network predicts
a Normal-Wishart NW(μ, Λ | m, L, κ, ν) = N(μ | m, (κΛ)⁻¹) · W(Λ | L, ν) over
those Gaussians (Malinin, Chervontsev, Provilkov & Gales, 2020). Here the
Wishart scale matrix L is diagonal, as the members' precisions are, and is
given by its diagonal; E[Λ] = νL. The closed forms below are written once, on
float64 tensors, and every estimator calls them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from sklearn.utils import Bunch

from .uncertainty import _check_finite, _to_float64

__all__ = [
    "gaussian_ensemble_uncertainty",
    "normal_wishart_uncertainty",
    "student_t_predictive",
]

#: Measures returned by both regression uncertainty functions (and by the
#: regressors' ``predict_uncertainty``), in this order.
REGRESSION_MEASURES = (
    "total",
    "data",
    "knowledge",
    "epkl",
    "total_variance",
    "data_variance",
    "knowledge_variance",
)

_LOG_2PI_E = math.log(2.0 * math.pi) + 1.0


def _as_tensors(names_values: dict[str, Any], axes: dict[str, int]):
    """float64 tensors of the inputs (shapes checked), and the converter back."""
    tensors, restore = {}, None
    for name, value in names_values.items():
        tensor, this_restore, _ = _to_float64(value, name)
        if tensor.ndim != axes[name]:
            raise ValueError(
                f"{name} must have {axes[name]} dimension(s); got shape "
                f"{tuple(tensor.shape)}."
            )
        _check_finite(tensor, name)
        tensors[name] = tensor
        restore = restore or this_restore
    return tensors, restore


# --------------------------------------------------------------------------- #
# Ensembles of Gaussians
# --------------------------------------------------------------------------- #
def _gaussian_ensemble_measures(means: torch.Tensor, variances: torch.Tensor) -> dict:
    """All ensemble measures from (n, M, K) means and variances, float64."""
    mean_of_variances = variances.mean(1)
    variance_of_means = means.var(1, correction=0)
    total_per_target = mean_of_variances + variance_of_means
    log_variances = torch.log(variances)
    data = 0.5 * (_LOG_2PI_E + log_variances).sum(-1).mean(1)
    # The entropy of a mixture of Gaussians has no closed form: the moment-matched
    # (diagonal) Gaussian's entropy bounds it from above, and is ≥ data by the
    # concavity of ln (so the knowledge term is ≥ 0).
    total = 0.5 * (_LOG_2PI_E + torch.log(total_per_target)).sum(-1)
    knowledge = (total - data).clamp(min=0.0)
    # EPKL: the mean of KL(N_i ‖ N_j) over all M² ordered pairs; the ln σ² terms
    # cancel in the mean.
    inv_var = torch.reciprocal(variances)  # (n, M, K)
    diff = means[:, :, None, :] - means[:, None, :, :]  # (n, i, j, K)
    ratio = variances[:, :, None, :] * inv_var[:, None, :, :]
    pairwise = 0.5 * (ratio + diff.square() * inv_var[:, None, :, :] - 1.0)
    epkl = pairwise.sum(-1).mean((1, 2)).clamp(min=0.0)
    return {
        "total": total,
        "data": data,
        "knowledge": knowledge,
        "epkl": epkl,
        "total_variance": total_per_target.sum(-1),
        "data_variance": mean_of_variances.sum(-1),
        "knowledge_variance": variance_of_means.sum(-1),
    }


def gaussian_ensemble_uncertainty(
    means: np.ndarray | torch.Tensor, variances: np.ndarray | torch.Tensor
) -> Bunch:
    """Uncertainty measures of an ensemble of Gaussian (heteroscedastic) regressors.

    Member m predicts N(y | μₘ, diag(σₘ²)) over K targets. Variance measures
    (law of total variance, summed over targets):

    - ``data_variance`` = Σₖ meanₘ σₘₖ²
    - ``knowledge_variance`` = Σₖ varₘ μₘₖ (the spread of the members' means)
    - ``total_variance`` = data + knowledge, the mixture's variance

    Entropy measures, in nats:

    - ``data`` = meanₘ H[N(μₘ, σₘ²)], exact
    - ``total`` = H of the moment-matched Gaussian N(meanₘ μₘ, total variance
      per target): the mixture's entropy has no closed form, and this is an
      upper bound on it (a Gaussian has the largest entropy for its variance)
    - ``knowledge`` = total − data ≥ 0, an upper bound on the mutual information
    - ``epkl`` = the mean of KL(Nᵢ ‖ Nⱼ) over all M² ordered pairs, exact

    Parameters
    ----------
    means : ndarray or Tensor of shape (n_samples, n_members, n_targets)
        The members' predicted means μₘ.
    variances : ndarray or Tensor of shape (n_samples, n_members, n_targets)
        The members' predicted variances σₘ² > 0.

    Returns
    -------
    uncertainty : Bunch
        ``total``, ``data``, ``knowledge``, ``epkl``, ``total_variance``,
        ``data_variance``, ``knowledge_variance``, each of shape (n_samples,);
        numpy in, numpy out (float64), or tensors for tensors.

    See Also
    --------
    normal_wishart_uncertainty : The same measures of a Normal-Wishart.

    References
    ----------
    .. [1] B. Lakshminarayanan, A. Pritzel and C. Blundell, "Simple and Scalable
       Predictive Uncertainty Estimation using Deep Ensembles", NeurIPS 2017.
    .. [2] A. Malinin, S. Chervontsev, I. Provilkov and M. Gales, "Regression
       Prior Networks", arXiv:2006.11590, 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from skend2.uncertainty import gaussian_ensemble_uncertainty
    >>> means = np.array([[[0.0], [2.0]]])  # one input, two members, one target
    >>> u = gaussian_ensemble_uncertainty(means, np.ones_like(means))
    >>> float(u.knowledge_variance[0]), float(u.data_variance[0]), float(u.epkl[0])
    (1.0, 1.0, 1.0)
    """
    tensors, restore = _as_tensors(
        {"means": means, "variances": variances}, {"means": 3, "variances": 3}
    )
    means, variances = tensors["means"], tensors["variances"]
    if means.shape != variances.shape:
        raise ValueError(
            "means and variances must have the same shape; got "
            f"{tuple(means.shape)} and {tuple(variances.shape)}."
        )
    if not bool((variances > 0).all()):
        raise ValueError("variances must be > 0.")
    return restore(_gaussian_ensemble_measures(means, variances))


# --------------------------------------------------------------------------- #
# Normal-Wishart
# --------------------------------------------------------------------------- #
def _multivariate_digamma_sum(half_nu: torch.Tensor, k: int) -> torch.Tensor:
    """Σᵢ₌₁ᴷ ψ(ν/2 + (1 − i)/2), the digamma part of E[ln |Λ|] under W(L, ν)."""
    return sum(torch.digamma(half_nu - 0.5 * i) for i in range(k))


def _normal_wishart_measures(
    mean: torch.Tensor, scale: torch.Tensor, kappa: torch.Tensor, nu: torch.Tensor
) -> dict:
    """All Normal-Wishart closed forms, float64; scale is diag(L), shape (n, K).

    Needs ν > K + 1 (finite variances). ``mean`` does not enter any measure.
    """
    k = scale.shape[-1]
    log_det_scale = torch.log(scale).sum(-1)
    inv_scale_trace = torch.reciprocal(scale).sum(-1)
    excess = nu - k - 1.0  # ν − K − 1 > 0
    # E[Λ⁻¹] = L⁻¹/(ν − K − 1); Var[μ] = E[(κΛ)⁻¹] (law of total variance).
    data_variance = inv_scale_trace / excess
    knowledge_variance = data_variance / kappa
    # E[H[N(y | μ, Λ⁻¹)]] = K/2 ln(2πe) − ½ E ln|Λ|, with
    # E ln|Λ| = Σᵢ ψ((ν + 1 − i)/2) + K ln 2 + ln|L|.
    expected_log_det = (
        _multivariate_digamma_sum(0.5 * nu, k) + k * math.log(2.0) + log_det_scale
    )
    data = 0.5 * k * _LOG_2PI_E - 0.5 * expected_log_det
    # The predictive is a Student-t with df = ν − K + 1 and scale matrix
    # Σ = (κ + 1)/(κ df) L⁻¹; its entropy is
    # ½ ln|Σ| + K/2 ln(df π) + lnΓ(df/2) − lnΓ((df+K)/2)
    #   + (df+K)/2 [ψ((df+K)/2) − ψ(df/2)].
    df = nu - k + 1.0
    log_det_sigma = k * (torch.log1p(kappa) - torch.log(kappa) - torch.log(df))
    log_det_sigma = log_det_sigma - log_det_scale
    half_df, half_dfk = 0.5 * df, 0.5 * (df + k)
    total = (
        0.5 * log_det_sigma
        + 0.5 * k * (torch.log(df) + math.log(math.pi))
        + torch.lgamma(half_df)
        - torch.lgamma(half_dfk)
        + half_dfk * (torch.digamma(half_dfk) - torch.digamma(half_df))
    )
    # The mutual information I[y, θ] = total − data ≥ 0: written as the sum of the
    # differences of like terms, so it keeps its precision when both are large.
    half_nu = 0.5 * nu
    knowledge = (
        0.5 * k * (torch.log1p(kappa) - torch.log(kappa) + math.log(math.pi))
        - 0.5 * k * (1.0 + math.log(2.0 * math.pi))
        + 0.5 * (_multivariate_digamma_sum(half_nu, k) + k * math.log(2.0))
        + torch.lgamma(half_df)
        - torch.lgamma(half_dfk)
        + half_dfk * (torch.digamma(half_dfk) - torch.digamma(half_df))
    ).clamp(min=0.0)
    # EPKL = E over two independent draws of KL(N(μ₁, Λ₁⁻¹) ‖ N(μ₂, Λ₂⁻¹))
    #      = K/2 [ν/(ν − K − 1) (1 + 1/κ) + 1/κ − 1].
    inv_kappa = torch.reciprocal(kappa)
    epkl = 0.5 * k * ((nu / excess) * (1.0 + inv_kappa) + inv_kappa - 1.0)
    return {
        "total": total,
        "data": data,
        "knowledge": knowledge,
        "epkl": epkl.clamp(min=0.0),
        "total_variance": data_variance + knowledge_variance,
        "data_variance": data_variance,
        "knowledge_variance": knowledge_variance,
    }


def _check_normal_wishart(mean, scale, kappa, nu) -> tuple[dict, Any]:
    tensors, restore = _as_tensors(
        {"mean": mean, "scale": scale, "kappa": kappa, "nu": nu},
        {"mean": 2, "scale": 2, "kappa": 1, "nu": 1},
    )
    mean, scale, kappa, nu = (tensors[k] for k in ("mean", "scale", "kappa", "nu"))
    if mean.shape != scale.shape:
        raise ValueError(
            "mean and scale must have the same shape (n_samples, n_targets); got "
            f"{tuple(mean.shape)} and {tuple(scale.shape)}."
        )
    for name, value in (("kappa", kappa), ("nu", nu)):
        if value.shape != mean.shape[:1]:
            raise ValueError(
                f"{name} must have shape (n_samples,) = ({mean.shape[0]},); got "
                f"{tuple(value.shape)}."
            )
    if not bool((scale > 0).all()) or not bool((kappa > 0).all()):
        raise ValueError("scale and kappa must be > 0.")
    k = mean.shape[1]
    if not bool((nu > k + 1).all()):
        raise ValueError(
            f"nu must be > n_targets + 1 = {k + 1} (finite predictive variance); "
            f"got a minimum of {float(nu.min())}."
        )
    return tensors, restore


def normal_wishart_uncertainty(
    mean: np.ndarray | torch.Tensor,
    scale: np.ndarray | torch.Tensor,
    kappa: np.ndarray | torch.Tensor,
    nu: np.ndarray | torch.Tensor,
) -> Bunch:
    """Closed-form uncertainty measures of Normal-Wishart distributions.

    NW(μ, Λ | m, L, κ, ν) = N(μ | m, (κΛ)⁻¹) W(Λ | L, ν) with diagonal L, over
    K targets (for K = 1, a Normal-Gamma). With df = ν − K + 1:

    - ``total`` = H[St(y | m, (κ + 1)/(κ df) L⁻¹, df)], the entropy of the
      Student-t predictive
    - ``data`` = E[H[N(y | μ, Λ⁻¹)]] = K/2 ln(2πe) − ½ E ln|Λ|, with
      E ln|Λ| = Σᵢ ψ((ν + 1 − i)/2) + K ln 2 + ln|L|
    - ``knowledge`` = total − data, the mutual information between y and (μ, Λ)
    - ``epkl`` = E[KL(N(μ₁, Λ₁⁻¹) ‖ N(μ₂, Λ₂⁻¹))] over two independent draws
      = K/2 [ν/(ν − K − 1)(1 + 1/κ) + 1/κ − 1]
    - ``data_variance`` = tr E[Λ⁻¹] = tr L⁻¹/(ν − K − 1),
      ``knowledge_variance`` = tr Var[μ] = data_variance/κ, and
      ``total_variance`` = their sum, the predictive's variance (trace).

    Parameters
    ----------
    mean : ndarray or Tensor of shape (n_samples, n_targets)
        The location m (the predictive mean).
    scale : ndarray or Tensor of shape (n_samples, n_targets)
        The diagonal of the Wishart scale matrix L > 0; E[Λ] = ν L.
    kappa : ndarray or Tensor of shape (n_samples,)
        The precision κ > 0 of the mean's distribution (its "pseudo-count").
    nu : ndarray or Tensor of shape (n_samples,)
        The Wishart's degrees of freedom ν > n_targets + 1.

    Returns
    -------
    uncertainty : Bunch
        The measures above, each of shape (n_samples,), in nats (entropies and
        KL) or squared target units (variances).

    See Also
    --------
    gaussian_ensemble_uncertainty : The same measures of an ensemble.
    student_t_predictive : The predictive distribution.

    References
    ----------
    .. [1] A. Malinin, S. Chervontsev, I. Provilkov and M. Gales, "Regression
       Prior Networks", arXiv:2006.11590, 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from skend2.uncertainty import normal_wishart_uncertainty
    >>> u = normal_wishart_uncertainty([[0.0]], [[0.5]], [1.0], [4.0])
    >>> float(u.data_variance[0]), float(u.knowledge_variance[0])
    (1.0, 1.0)
    >>> bool(np.isclose(u.total[0], u.data[0] + u.knowledge[0]))
    True
    """
    tensors, restore = _check_normal_wishart(mean, scale, kappa, nu)
    return restore(
        _normal_wishart_measures(
            tensors["mean"], tensors["scale"], tensors["kappa"], tensors["nu"]
        )
    )


def _student_t(mean, scale, kappa, nu) -> dict:
    k = scale.shape[-1]
    df = nu - k + 1.0
    factor = (1.0 + kappa) / (kappa * df)
    return {"loc": mean, "scale": torch.sqrt(factor[:, None] / scale), "df": df}


def student_t_predictive(
    mean: np.ndarray | torch.Tensor,
    scale: np.ndarray | torch.Tensor,
    kappa: np.ndarray | torch.Tensor,
    nu: np.ndarray | torch.Tensor,
) -> Bunch:
    """The Student-t predictive distribution of a Normal-Wishart.

    ∫ N(y | μ, Λ⁻¹) NW(μ, Λ) dμ dΛ = St(y | m, Σ, df) with df = ν − K + 1 and
    scale matrix Σ = (κ + 1)/(κ df) L⁻¹ (diagonal here). Each target's
    marginal is a univariate Student-t with ``loc``, ``scale`` and ``df``; its
    variance is scale² · df/(df − 2).

    Parameters
    ----------
    mean : ndarray or Tensor of shape (n_samples, n_targets)
        The location m.
    scale : ndarray or Tensor of shape (n_samples, n_targets)
        The diagonal of the Wishart scale matrix L > 0.
    kappa : ndarray or Tensor of shape (n_samples,)
        The precision κ > 0 of the mean's distribution.
    nu : ndarray or Tensor of shape (n_samples,)
        The Wishart's degrees of freedom ν > n_targets + 1.

    Returns
    -------
    predictive : Bunch
        ``loc`` (n_samples, n_targets), ``scale`` (n_samples, n_targets): the
        square roots of Σ's diagonal, and ``df`` (n_samples,).

    See Also
    --------
    normal_wishart_uncertainty : The measures of the same distribution.

    References
    ----------
    .. [1] A. Malinin, S. Chervontsev, I. Provilkov and M. Gales, "Regression
       Prior Networks", arXiv:2006.11590, 2020.

    Examples
    --------
    >>> from skend2.uncertainty import student_t_predictive
    >>> t = student_t_predictive([[1.0]], [[0.125]], [2.0], [3.0])
    >>> float(t.loc[0, 0]), float(t.scale[0, 0]), float(t.df[0])
    (1.0, 2.0, 3.0)
    """
    tensors, restore = _check_normal_wishart(mean, scale, kappa, nu)
    return restore(
        _student_t(tensors["mean"], tensors["scale"], tensors["kappa"], tensors["nu"])
    )
