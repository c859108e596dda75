"""Regression losses: the members' Gaussian NLL and the EnD² Normal-Wishart NLL.

Also the two output parametrisations the losses and the regressors share: a
member's raw outputs (2K values) give a Gaussian's mean and variance; a
student's raw outputs (2K + 2 values) give a Normal-Wishart's m, L, κ and ν.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from .losses import _check_temperature

__all__ = [
    "GaussianNLLLoss",
    "NormalWishartNLLLoss",
    "gaussian_nll_loss",
    "normal_wishart_nll_loss",
]

# A member's variance is softplus(raw) + _MIN_VARIANCE (Lakshminarayanan et al.,
# 2017): precisions stay below 1e6 (in standardised target units).
_MIN_VARIANCE = 1e-6
# The student's ln κ, ln(ν − K − 1) and ln E[Λ] are soft-clamped to ±_LOG_BOUND
# (b·tanh(x/b): the identity near 0, smooth, with a non-zero gradient
# everywhere), so κ, ν and L stay in [e⁻²⁰, e²⁰] ≈ [2e-9, 5e8] and the loss is
# finite for any finite outputs.
_LOG_BOUND = 20.0
_LOG_2PI = math.log(2.0 * math.pi)


def _soft_clamp(x: torch.Tensor, bound: float = _LOG_BOUND) -> torch.Tensor:
    return bound * torch.tanh(x / bound)


def member_mean_variance(raw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A member's Gaussian from its raw outputs (..., 2K): means and variances."""
    k = raw.shape[-1] // 2
    return raw[..., :k], F.softplus(raw[..., k:]) + _MIN_VARIANCE


def student_log_parameters(
    raw: torch.Tensor, temperature: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A student's Normal-Wishart from its raw outputs z (..., 2K + 2).

    z = (m, s, z_κ, z_ν): m is the mean; E[Λ] = νL = exp(s) (diagonal) is the
    expected precision; at temperature T, κ = exp(z_κ/T) and
    ν = K + 1 + exp(z_ν/T) (ν > K + 1: finite predictive variance), as the
    Dirichlet's α = exp(z/T) of the classifiers.

    Returns
    -------
    mean, log_scale, log_kappa, nu : Tensor
        m (..., K), ln L (..., K), ln κ (...,) and ν (...,).
    """
    k = (raw.shape[-1] - 2) // 2
    mean = raw[..., :k]
    log_expected_precision = _soft_clamp(raw[..., k : 2 * k])
    log_kappa = _soft_clamp(raw[..., 2 * k] / temperature)
    nu = k + 1.0 + torch.exp(_soft_clamp(raw[..., 2 * k + 1] / temperature))
    log_scale = log_expected_precision - torch.log(nu)[..., None]
    return mean, log_scale, log_kappa, nu


def _check_tensor(name: str, value, ndim: int, axes: str) -> None:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}.")
    if not value.is_floating_point():
        raise TypeError(f"{name} must be floating point, got dtype {value.dtype}.")
    if value.ndim != ndim:
        raise ValueError(f"{name} must have shape ({axes}); got {tuple(value.shape)}.")


def _reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(
        f"reduction must be one of ('mean', 'sum', 'none'); got {reduction!r}."
    )


def gaussian_nll_loss(
    outputs: torch.Tensor, target: torch.Tensor, reduction: str = "mean"
) -> torch.Tensor:
    """Heteroscedastic Gaussian negative log-likelihood of one network's outputs.

    With mean μ and variance σ² = softplus(v) + 1e-6 from the outputs (μ, v),
    per input: L = Σₖ ½ [ln 2π + ln σₖ² + (yₖ − μₖ)²/σₖ²] (Lakshminarayanan et
    al., 2017).

    Parameters
    ----------
    outputs : Tensor of shape (batch_size, 2 * n_targets)
        The means, then the raw variances.
    target : Tensor of shape (batch_size, n_targets)
        The (standardised) targets.
    reduction : {"mean", "sum", "none"}, default="mean"
        Mean or sum over the batch, or the per-input losses.

    Returns
    -------
    loss : Tensor
        A scalar, or shape (batch_size,) for ``reduction="none"``.

    References
    ----------
    .. [1] B. Lakshminarayanan, A. Pritzel and C. Blundell, "Simple and Scalable
       Predictive Uncertainty Estimation using Deep Ensembles", NeurIPS 2017.

    Examples
    --------
    >>> import torch
    >>> from skend2.regression import gaussian_nll_loss
    >>> outputs = torch.tensor([[0.0, 100.0]])  # mean 0, variance ≈ 100
    >>> round(float(gaussian_nll_loss(outputs, torch.tensor([[0.0]]))), 3)
    3.222
    """
    _check_tensor("outputs", outputs, 2, "batch_size, 2 * n_targets")
    _check_tensor("target", target, 2, "batch_size, n_targets")
    if outputs.shape[0] != target.shape[0] or outputs.shape[1] != 2 * target.shape[1]:
        raise ValueError(
            "outputs must have shape (batch_size, 2 * n_targets) for a target of "
            f"shape (batch_size, n_targets); got {tuple(outputs.shape)} and "
            f"{tuple(target.shape)}."
        )
    mean, variance = member_mean_variance(outputs)
    squared_error = (target - mean) ** 2
    per_target = 0.5 * (_LOG_2PI + torch.log(variance) + squared_error / variance)
    return _reduce(per_target.sum(-1), reduction)


def normal_wishart_nll_loss(
    student_outputs: torch.Tensor,
    member_outputs: torch.Tensor,
    temperature: float = 1.0,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""EnD² for regression: NLL of the members' Gaussians under the student's NW.

    The members' means μₘ and precisions Λₘ = diag(1/σₘ²) are samples of the
    student's Normal-Wishart NW(m, L, κ, ν) (Malinin et al., 2020); per input,

        L = −T² · (1/M) Σₘ [ln N(μₘ | m, (κΛₘ)⁻¹) + ln W(Λₘ | L, ν)],

    where at temperature T the members' precisions are divided by T (broader
    members, as the classifiers' softened ones) and the student's κ and
    ν − K − 1 are exp(z/T); T² keeps gradient magnitudes comparable across
    temperatures, as for the classifiers. Computed in float64.

    Parameters
    ----------
    student_outputs : Tensor of shape (batch_size, 2 * n_targets + 2)
        The student's raw outputs (m, s, z_κ, z_ν), see
        :class:`~skend2.PriorNetworkRegressor`.
    member_outputs : Tensor of shape (batch_size, n_members, 2 * n_targets)
        The members' raw outputs (means, raw variances).
    temperature : float, default=1.0
        T > 0.
    reduction : {"mean", "sum", "none"}, default="mean"
        Mean or sum over the batch, or the per-input losses.

    Returns
    -------
    loss : Tensor
        A scalar, or shape (batch_size,) for ``reduction="none"``; float64.

    References
    ----------
    .. [1] A. Malinin, S. Chervontsev, I. Provilkov and M. Gales, "Regression
       Prior Networks", arXiv:2006.11590, 2020.

    Examples
    --------
    >>> import torch
    >>> from skend2.regression import normal_wishart_nll_loss
    >>> members = torch.zeros(4, 5, 2)  # 4 inputs, 5 members, 1 target
    >>> student = torch.zeros(4, 4, requires_grad=True)
    >>> loss = normal_wishart_nll_loss(student, members)
    >>> loss.backward()
    >>> bool(torch.isfinite(student.grad).all())
    True
    """
    _check_tensor("student_outputs", student_outputs, 2, "batch_size, 2K + 2")
    _check_tensor(
        "member_outputs", member_outputs, 3, "batch_size, n_members, 2 * n_targets"
    )
    k = member_outputs.shape[-1] // 2
    if (
        member_outputs.shape[-1] != 2 * k
        or student_outputs.shape[-1] != 2 * k + 2
        or student_outputs.shape[0] != member_outputs.shape[0]
        or k < 1
    ):
        raise ValueError(
            "student_outputs must have shape (batch_size, 2 * n_targets + 2) and "
            "member_outputs (batch_size, n_members, 2 * n_targets); got "
            f"{tuple(student_outputs.shape)} and {tuple(member_outputs.shape)}."
        )
    temperature = _check_temperature(temperature)
    raw = student_outputs.double()
    mean, log_scale, log_kappa, nu = student_log_parameters(raw, temperature)
    member_mean, member_variance = member_mean_variance(member_outputs.double())
    # Heated members: variances × T.
    log_precision = -torch.log(member_variance * temperature)  # (b, M, K)
    precision = torch.exp(log_precision)
    sum_log_precision = log_precision.sum(-1)  # ln|Λₘ|, (b, M)
    kappa = torch.exp(log_kappa)[:, None]
    # −ln N(μₘ | m, (κΛₘ)⁻¹)
    gaussian = (
        0.5 * k * (_LOG_2PI - log_kappa[:, None])
        - 0.5 * sum_log_precision
        + 0.5 * kappa * (precision * (member_mean - mean[:, None, :]) ** 2).sum(-1)
    )
    # −ln W(Λₘ | L, ν), with ln Γ_K(ν/2) = K(K−1)/4 ln π + Σⱼ lnΓ(ν/2 + (1−j)/2).
    nu_ = nu[:, None]
    log_multigamma = 0.25 * k * (k - 1) * math.log(math.pi) + sum(
        torch.lgamma(0.5 * nu - 0.5 * j) for j in range(k)
    )
    wishart = (
        -0.5 * (nu_ - k - 1.0) * sum_log_precision
        + 0.5 * (precision * torch.exp(-log_scale)[:, None, :]).sum(-1)
        + 0.5 * nu_ * k * math.log(2.0)
        + 0.5 * nu_ * log_scale.sum(-1)[:, None]
        + log_multigamma[:, None]
    )
    loss = (gaussian + wishart).mean(1) * temperature**2
    return _reduce(loss, reduction)


class GaussianNLLLoss(nn.Module):
    """The deep-ensemble members' loss: Gaussian NLL, summed over members.

    Outputs of shape (batch, M, 2K) are M members' (each with its own
    minibatch: targets (batch, M, K), or shared targets (batch, K)); the sum
    over members gives every member exactly the gradient of its own loss, so
    fused training matches training them one by one. Outputs of shape
    (batch, 2K) are one member's. See :func:`gaussian_nll_loss`.

    Examples
    --------
    >>> import torch
    >>> from skend2.regression import GaussianNLLLoss
    >>> GaussianNLLLoss()(torch.zeros(3, 5, 2), torch.zeros(3, 5, 1)).shape
    torch.Size([])
    """

    def __init__(self) -> None:
        super().__init__()

    def forward(self, outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Return the loss, summed over members and averaged over the batch.

        Parameters
        ----------
        outputs : Tensor of shape (batch, n_members, 2K) or (batch, 2K)
            Raw outputs of the members (or of one member), K targets.
        target : Tensor of shape (batch, n_members, K) or (batch, K)
            Standardised targets, per member or shared.

        Returns
        -------
        loss : Tensor
            A scalar.
        """
        if outputs.dim() == 2:
            return gaussian_nll_loss(outputs, target)
        batch, n_members, width = outputs.shape
        if target.dim() == 2:
            target = target[:, None, :].expand(batch, n_members, target.shape[-1])
        loss = gaussian_nll_loss(
            outputs.reshape(-1, width), target.reshape(-1, target.shape[-1])
        )
        return loss * n_members


class NormalWishartNLLLoss(nn.Module):
    """The EnD² regression loss as a torch module, with a settable temperature.

    The temperature is an attribute, changed in place by
    :class:`~skend2.annealing.AnnealingCallback`. See
    :func:`normal_wishart_nll_loss`.

    Parameters
    ----------
    temperature : float, default=1.0
        Initial temperature T > 0.

    Examples
    --------
    >>> import torch
    >>> from skend2.regression import NormalWishartNLLLoss
    >>> NormalWishartNLLLoss()(torch.zeros(3, 4), torch.zeros(3, 5, 2)).ndim
    0
    """

    def __init__(self, temperature: float = 1.0) -> None:
        super().__init__()
        self.temperature = temperature

    def forward(
        self, student_outputs: torch.Tensor, member_outputs: torch.Tensor
    ) -> torch.Tensor:
        """Return the mean loss over the batch at the current temperature.

        Parameters
        ----------
        student_outputs : Tensor of shape (batch_size, 2 * n_targets + 2)
            The student's raw outputs.
        member_outputs : Tensor of shape (batch_size, n_members, 2 * n_targets)
            The members' raw outputs.

        Returns
        -------
        loss : Tensor
            A scalar, in the student's dtype.
        """
        loss = normal_wishart_nll_loss(
            student_outputs, member_outputs, temperature=self.temperature
        )
        return loss.to(student_outputs.dtype)
