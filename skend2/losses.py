"""Distillation losses: EnD (cross-entropy), EnD² (Dirichlet NLL), Proxy-Dirichlet."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

__all__ = [
    "DirichletNLLLoss",
    "EnsembleCrossEntropyLoss",
    "ProxyDirichletLoss",
    "dirichlet_nll_loss",
    "ensemble_cross_entropy_loss",
    "proxy_dirichlet_loss",
]

_REDUCTIONS = ("mean", "sum", "none")

# ln α = z/T inside [−1e6, 30] and grows only logarithmically outside, see
# _concentrations. Above, α ≈ 1.1e13 is far beyond any concentration a distilled
# ensemble needs; below, the NLL grows like −T² ln α, and bounding that linear
# growth keeps the loss within float32 range for any finite logits.
_MIN_LOG_CONCENTRATION = -1e6
_MAX_LOG_CONCENTRATION = 30.0

# Floor of the Proxy-Dirichlet denominator 2·Σ π̄ₖ(ln π̄ₖ − m̄ₖ): members that agree
# exactly give a target precision of (K − 1)·1e8 instead of infinity.
_MIN_PROXY_DENOMINATOR = 1e-8


# --------------------------------------------------------------------------- #
# Helpers
# --------------------------------------------------------------------------- #
def _check_temperature(temperature) -> float:
    """``temperature`` as a float, finite and > 0 (TypeError / ValueError)."""
    try:
        temperature = float(temperature)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"temperature must be a real number, got {temperature!r}."
        ) from exc
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be finite and > 0, got {temperature}.")
    return temperature


def _check_inputs(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    temperature: float,
    reduction: str,
) -> float:
    """Validate shapes and settings shared by all losses; return T as a float."""
    for name, value in (
        ("student_logits", student_logits),
        ("teacher_logits", teacher_logits),
    ):
        if not isinstance(value, torch.Tensor):
            raise TypeError(
                f"{name} must be a torch.Tensor, got {type(value).__name__}."
            )
        if not value.is_floating_point():
            raise TypeError(f"{name} must be floating point, got dtype {value.dtype}.")
    for name, value, axes in (
        ("student_logits", student_logits, "batch_size, n_classes"),
        ("teacher_logits", teacher_logits, "batch_size, n_members, n_classes"),
    ):
        if value.ndim != len(axes.split(",")):
            raise ValueError(
                f"{name} must have shape ({axes}); got shape {tuple(value.shape)}."
            )
    if teacher_logits.shape[0] != student_logits.shape[0]:
        raise ValueError(
            "student_logits and teacher_logits must have the same batch size; got "
            f"{student_logits.shape[0]} and {teacher_logits.shape[0]}."
        )
    if teacher_logits.shape[2] != student_logits.shape[1]:
        raise ValueError(
            "student_logits and teacher_logits must have the same number of "
            f"classes; got {student_logits.shape[1]} and {teacher_logits.shape[2]}."
        )
    if teacher_logits.shape[1] < 1 or student_logits.shape[1] < 1:
        raise ValueError(
            "At least one ensemble member and one class are needed; got teacher "
            f"shape {tuple(teacher_logits.shape)}."
        )
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}; got {reduction!r}.")
    return _check_temperature(temperature)


def _check_smoothing(smoothing: float, eps: float) -> tuple[float, float]:
    smoothing, eps = float(smoothing), float(eps)
    if not 0.0 <= smoothing <= 1.0:
        raise ValueError(f"smoothing must be in [0, 1], got {smoothing}.")
    if not (math.isfinite(eps) and eps >= 0.0):
        raise ValueError(f"eps must be finite and >= 0, got {eps}.")
    return smoothing, eps


def _compute_dtype(tensor: torch.Tensor) -> torch.dtype:
    # lnΓ of large concentrations loses all precision in float32 (as in the
    # authors' code, which works in double); Apple's MPS backend has no float64.
    return torch.float32 if tensor.device.type == "mps" else torch.float64


def _reduce(loss: torch.Tensor, reduction: str, dtype: torch.dtype) -> torch.Tensor:
    if reduction == "mean":
        loss = loss.mean()
    elif reduction == "sum":
        loss = loss.sum()
    return loss.to(dtype)


def _smoothed_log_members(
    teacher_logits: torch.Tensor,
    temperature: float,
    smoothing: float,
    eps: float,
) -> torch.Tensor:
    """ln((1 − ε)·softmax(ℓ/T) + ε/K + eps), per member, in log space.

    Log space keeps one-hot teachers and logits like ±1e4 exact and finite, and
    gives exactly ln softmax(ℓ/T) when smoothing = eps = 0.
    """
    n_classes = teacher_logits.shape[-1]
    log_probs = torch.log_softmax(teacher_logits / temperature, dim=-1)
    floor = smoothing / n_classes + eps
    log_floor = math.log(floor) if floor > 0 else -math.inf
    log_scale = math.log1p(-smoothing) if smoothing < 1 else -math.inf
    return torch.logaddexp(log_probs + log_scale, torch.full_like(log_probs, log_floor))


def _concentrations(scaled_logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """α = exp(x) and ln α for x = z/T, continued smoothly outside [−1e6, 30].

    Above c = 30, α = e^c·(1 + ln(1 + x − c)); below −1e6, ln α = −1e6 −
    ln(1 + (−1e6 − x)). Value and slope match exp at both ends, α keeps
    increasing with x (so gradients still point the right way) and the loss stays
    finite, with a finite non-zero gradient, for every finite logit. In between,
    α = exp(x) exactly.
    """
    low, high = _MIN_LOG_CONCENTRATION, _MAX_LOG_CONCENTRATION
    excess = torch.log1p((scaled_logits - high).clamp(min=0.0))
    deficit = torch.log1p((low - scaled_logits).clamp(min=0.0))
    log_alphas = torch.where(
        scaled_logits > high,
        high + torch.log1p(excess),
        torch.where(scaled_logits < low, low - deficit, scaled_logits),
    )
    alphas = torch.where(
        scaled_logits > high,
        math.exp(high) * (1.0 + excess),
        torch.exp(log_alphas.clamp(max=high)),
    )
    return alphas, log_alphas


# --------------------------------------------------------------------------- #
# Functional forms
# --------------------------------------------------------------------------- #
def dirichlet_nll_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    temperature: float = 1.0,
    smoothing: float = 1e-3,
    eps: float = 1e-8,
    reduction: str = "mean",
    ce_weight: float = 0.0,
) -> torch.Tensor:
    r"""EnD² loss: negative log-likelihood of the members' predictions under Dir(α).

    For one input, with member probabilities π⁽ᵐ⁾ = softmax(ℓ⁽ᵐ⁾/T), smoothed
    π ← (1 − ε)π + ε/K, m̄ₖ = (1/M) Σₘ ln(πₖ⁽ᵐ⁾ + eps) and α = exp(z/T),

        L = T² · [Σₖ ln Γ(αₖ) − ln Γ(α₀) − Σₖ (αₖ − 1) m̄ₖ]
          = −T² · (1/M) Σₘ ln Dir(π⁽ᵐ⁾ | α)   (for eps = 0).

    Parameters
    ----------
    student_logits : Tensor of shape (batch_size, n_classes)
        The Prior Network's logits z; α = exp(z/T).
    teacher_logits : Tensor of shape (batch_size, n_members, n_classes)
        The ensemble members' logits ℓ⁽ᵐ⁾ (a target: not differentiated through
        in practice, but not detached either).
    temperature : float, default=1.0
        T > 0: teacher and student logits are divided by T and the loss is
        multiplied by T² (Hinton et al.'s scaling, which keeps gradient magnitudes
        comparable across temperatures).
    smoothing : float, default=1e-3
        Amount ε of smoothing of member probabilities towards uniform, as in the
        authors' reference code: without it a near-one-hot member makes ln π
        arbitrarily negative and dominates the loss.
    eps : float, default=1e-8
        Added inside the logarithm, as in the reference code.
    reduction : {"mean", "sum", "none"}, default="mean"
        Mean or sum over the batch, or the per-input losses of shape (batch_size,).
    ce_weight : float, default=0.0
        Weight λ of the EnD cross-entropy to the ensemble's mean
        (:func:`ensemble_cross_entropy_loss`, same temperature) added to the
        likelihood: ``nll + λ·ce``. The likelihood alone can fail to fit the
        mean (on Fashion-MNIST a student misclassified ~10 % of its own
        training images); λ = 100 fixed that on the validation split
        (docs/benchmarks.md). 0 is the paper's loss.

    Returns
    -------
    loss : Tensor
        Scalar, or shape (batch_size,) for ``reduction="none"``, in the dtype of
        ``student_logits``.

    See Also
    --------
    DirichletNLLLoss : The module form, with a mutable ``temperature``.
    proxy_dirichlet_loss : The Proxy-Dirichlet alternative for many classes.

    Notes
    -----
    Computed in float64 (float32 on Apple MPS) and returned in the dtype of
    ``student_logits``. ln Γ(α) is evaluated as ln Γ(α + 1) − ln α, exact for
    tiny α, so large negative logits give a finite loss whose gradient with
    respect to z is about −T per class (pushing α up). Outside −1e6 ≤ z/T ≤ 30
    (α ≈ 1.1e13 at the top) ln α grows only logarithmically in z/T, so the loss
    and its gradient are finite for any finite logits; at predict time
    α = exp(z) exactly.
    The reference training also clips the gradient norm at 10; that is done by
    the estimator (:class:`skend2.PriorNetworkDistiller`), not here.

    References
    ----------
    .. [1] A. Malinin, B. Mlodozeniec and M. Gales, "Ensemble Distribution
       Distillation", ICLR 2020, arXiv:1905.00076.
    .. [2] G. Hinton, O. Vinyals and J. Dean, "Distilling the Knowledge in a
       Neural Network", arXiv:1503.02531 (temperature and T² scaling).

    Examples
    --------
    >>> import torch
    >>> from skend2.losses import dirichlet_nll_loss
    >>> teacher_logits = torch.tensor([[[2.0, 0.0, 0.0], [1.5, 0.5, 0.0]]])
    >>> student_logits = torch.zeros(1, 3, requires_grad=True)
    >>> loss = dirichlet_nll_loss(student_logits, teacher_logits)
    >>> loss.backward()
    >>> bool(torch.isfinite(loss)), tuple(student_logits.grad.shape)
    (True, (1, 3))
    """
    temperature = _check_inputs(student_logits, teacher_logits, temperature, reduction)
    smoothing, eps = _check_smoothing(smoothing, eps)
    dtype = _compute_dtype(student_logits)
    log_members = _smoothed_log_members(
        teacher_logits.to(dtype), temperature, smoothing, eps
    )
    mean_log_members = log_members.mean(dim=1)
    alphas, log_alphas = _concentrations(student_logits.to(dtype) / temperature)
    log_precision = torch.logsumexp(log_alphas, dim=-1)
    precision = alphas.sum(-1)
    # ln Γ(x) = ln Γ(x + 1) − ln x stays finite (≈ −ln x) when x underflows to 0.
    log_beta = (torch.lgamma(alphas + 1.0) - log_alphas).sum(-1) - (
        torch.lgamma(precision + 1.0) - log_precision
    )
    loss = log_beta - ((alphas - 1.0) * mean_log_members).sum(-1)
    if ce_weight:
        log_student = torch.log_softmax(student_logits.to(dtype) / temperature, -1)
        mean_probs = torch.softmax(teacher_logits.to(dtype) / temperature, -1).mean(1)
        loss = loss - float(ce_weight) * (mean_probs * log_student).sum(-1)
    return _reduce(temperature**2 * loss, reduction, student_logits.dtype)


def ensemble_cross_entropy_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    temperature: float = 1.0,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""EnD loss: cross-entropy between the student and the ensemble's mean.

    With π̄ = (1/M) Σₘ softmax(ℓ⁽ᵐ⁾/T),

        L = −T² · Σₖ π̄ₖ ln softmax(z/T)ₖ,

    which differs from KL(π̄ ‖ softmax(z/T)) by the constant entropy of π̄.

    Parameters
    ----------
    student_logits : Tensor of shape (batch_size, n_classes)
        The student's logits z.
    teacher_logits : Tensor of shape (batch_size, n_members, n_classes)
        The ensemble members' logits ℓ⁽ᵐ⁾.
    temperature : float, default=1.0
        T > 0 applied to teacher and student; the loss is multiplied by T².
    reduction : {"mean", "sum", "none"}, default="mean"
        Mean or sum over the batch, or the per-input losses of shape (batch_size,).

    Returns
    -------
    loss : Tensor
        Scalar, or shape (batch_size,) for ``reduction="none"``, in the dtype of
        ``student_logits`` (computed with log-softmax in float64, float32 on MPS).

    See Also
    --------
    EnsembleCrossEntropyLoss : The module form, with a mutable ``temperature``.

    References
    ----------
    .. [1] G. Hinton, O. Vinyals and J. Dean, "Distilling the Knowledge in a
       Neural Network", arXiv:1503.02531.
    .. [2] A. Malinin, B. Mlodozeniec and M. Gales, "Ensemble Distribution
       Distillation", ICLR 2020, arXiv:1905.00076 (EnD baseline).

    Examples
    --------
    >>> import torch
    >>> from skend2.losses import ensemble_cross_entropy_loss
    >>> teacher_logits = torch.log(torch.tensor([[[0.5, 0.5], [0.9, 0.1]]]))
    >>> student_logits = torch.log(torch.tensor([[0.7, 0.3]]))  # the ensemble mean
    >>> round(float(ensemble_cross_entropy_loss(student_logits, teacher_logits)), 4)
    0.6109
    """
    temperature = _check_inputs(student_logits, teacher_logits, temperature, reduction)
    dtype = _compute_dtype(student_logits)
    mean_probs = torch.softmax(teacher_logits.to(dtype) / temperature, dim=-1).mean(1)
    log_student = torch.log_softmax(student_logits.to(dtype) / temperature, dim=-1)
    loss = -(mean_probs * log_student).sum(-1)
    return _reduce(temperature**2 * loss, reduction, student_logits.dtype)


def proxy_dirichlet_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    temperature: float = 1.0,
    smoothing: float = 1e-3,
    eps: float = 1e-8,
    reduction: str = "mean",
    normalize: bool = True,
    ce_weight: float = 0.0,
) -> torch.Tensor:
    r"""Proxy-Dirichlet loss: reverse KL to a Dirichlet fitted to the ensemble.

    With smoothed tempered member probabilities π⁽ᵐ⁾ (as in
    :func:`dirichlet_nll_loss`), π̄ their mean and m̄ₖ = (1/M) Σₘ ln(πₖ⁽ᵐ⁾ + eps),
    the proxy target is Dir(β) with

        β̂₀ = (K − 1) / (2 Σₖ π̄ₖ (ln π̄ₖ − m̄ₖ)),   βₖ = π̄ₖ β̂₀ + 1,

    (β̂₀ matches the ensemble's mkl to the Dirichlet's, mkl ≈ (K − 1)/(2α₀)), and
    with α = exp(z/T) + 1 the loss is T² · KL[Dir(α) ‖ Dir(β)] / β₀, where
    KL = ln Γ(α₀) − Σ ln Γ(αₖ) − ln Γ(β₀) + Σ ln Γ(βₖ) + Σ (αₖ − βₖ)(ψ(αₖ) − ψ(α₀)).

    The division by the target precision β₀ (``normalize=True``, as the
    authors' ``rkl_proxy`` loss does) keeps every input's loss on the scale of a
    cross-entropy, −Σₖ π̄ₖ (ψ(αₖ) − ψ(α₀)) − H[Dir(α)]/β₀ up to a constant:
    without it, inputs on which the members agree (β̂₀ up to (K − 1)·1e8) weigh
    millions of times more than the others, and training fails (measured on
    the mlbench Vehicle set: 24.4 % test error against EnD²'s 20.8 %).

    Parameters
    ----------
    student_logits : Tensor of shape (batch_size, n_classes)
        The Prior Network's logits z; α = exp(z/T) + 1 (so
        ``concentration_offset`` = 1 at predict time).
    teacher_logits : Tensor of shape (batch_size, n_members, n_classes)
        The ensemble members' logits ℓ⁽ᵐ⁾; the target β is detached.
    temperature : float, default=1.0
        T > 0 applied to teacher and student; the loss is multiplied by T².
    smoothing : float, default=1e-3
        Smoothing of member probabilities towards uniform, as for EnD².
    eps : float, default=1e-8
        Added inside the logarithms of π̄ and m̄.
    reduction : {"mean", "sum", "none"}, default="mean"
        Mean or sum over the batch, or the per-input losses of shape (batch_size,).
    normalize : bool, default=True
        Divide each input's KL by its target precision β₀ (the authors'
        normalisation); ``False`` gives the plain reverse KL.
    ce_weight : float, default=0.0
        Weight λ of the cross-entropy from the ensemble's mean π̄ to the
        student's Dirichlet mean α/α₀ (same temperature) added to the loss:
        ``kl + λ·ce``, as ``ce_weight`` of :func:`dirichlet_nll_loss`. 0 is the
        authors' loss.

    Returns
    -------
    loss : Tensor
        Scalar, or shape (batch_size,) for ``reduction="none"``, ≥ 0 (clipped at 0
        against rounding), in the dtype of ``student_logits``.

    See Also
    --------
    ProxyDirichletLoss : The module form, with a mutable ``temperature``.
    dirichlet_nll_loss : The EnD² likelihood.

    Notes
    -----
    With many classes the EnD² gradient is dominated by the tail classes, whose
    m̄ₖ are very negative; the proxy target avoids that. The denominator of β̂₀
    is floored at 1e-8, so members that agree give a large but finite target
    precision (K − 1)·1e8. Concentrations above 1 + e^30 are continued as in
    :func:`dirichlet_nll_loss`, so the loss is finite for any finite logits,
    one-hot teachers included; as z → −∞, α → 1 and the gradient vanishes, as
    the parametrisation implies. Computed in float64 (float32 on MPS).

    References
    ----------
    .. [1] M. Ryabinin, A. Malinin and M. Gales, "Scaling Ensemble Distribution
       Distillation to Many Classes with Proxy Targets", NeurIPS 2021,
       arXiv:2105.06987.

    Examples
    --------
    >>> import torch
    >>> from skend2.losses import proxy_dirichlet_loss
    >>> teacher_logits = torch.tensor([[[2.0, 0.0, 0.0], [1.5, 0.5, 0.0]]])
    >>> loss = proxy_dirichlet_loss(torch.zeros(1, 3), teacher_logits)
    >>> bool(loss >= 0), loss.shape
    (True, torch.Size([]))
    """
    temperature = _check_inputs(student_logits, teacher_logits, temperature, reduction)
    smoothing, eps = _check_smoothing(smoothing, eps)
    dtype = _compute_dtype(student_logits)
    n_classes = student_logits.shape[-1]
    with torch.no_grad():
        log_members = _smoothed_log_members(
            teacher_logits.to(dtype), temperature, smoothing, 0.0
        )
        mean_probs = log_members.exp().mean(dim=1)
        mean_log_members = (
            torch.logaddexp(log_members, torch.full_like(log_members, math.log(eps)))
            if eps > 0
            else log_members
        ).mean(dim=1)
        # Σ π̄ₖ(ln(π̄ₖ + eps) − m̄ₖ) ≥ 0 by Jensen's inequality (ln is concave).
        spread = (mean_probs * (torch.log(mean_probs + eps) - mean_log_members)).sum(-1)
        target_precision = (n_classes - 1) / (2.0 * spread).clamp(
            min=_MIN_PROXY_DENOMINATOR
        )
        target = mean_probs * target_precision.unsqueeze(-1) + 1.0
        target_sum = target.sum(-1)

    alphas, _ = _concentrations(student_logits.to(dtype) / temperature)
    alphas = alphas + 1.0
    precision = alphas.sum(-1)
    kl = (
        torch.lgamma(precision)
        - torch.lgamma(alphas).sum(-1)
        - torch.lgamma(target_sum)
        + torch.lgamma(target).sum(-1)
        + (
            (alphas - target)
            * (torch.digamma(alphas) - torch.digamma(precision).unsqueeze(-1))
        ).sum(-1)
    )
    # KL ≥ 0; rounding of the lnΓ differences can dip just below near α = β.
    kl = kl.clamp(min=0.0)
    if normalize:
        kl = kl / target_sum
    if ce_weight:
        log_mean = torch.log(alphas) - torch.log(precision).unsqueeze(-1)
        kl = kl - float(ce_weight) * (mean_probs * log_mean).sum(-1)
    return _reduce(temperature**2 * kl, reduction, student_logits.dtype)


# --------------------------------------------------------------------------- #
# Module forms
# --------------------------------------------------------------------------- #
class _TemperedLoss(nn.Module):
    """Base of the loss modules: a mutable ``temperature`` and the reduction.

    A subclass names its functional form in ``_loss``; ``forward`` calls it
    with the settings stored at construction, read at call time (so that an
    annealing callback can change ``temperature`` in place).
    """

    concentration_offset: float = 0.0

    def __init__(self, **settings: Any) -> None:
        super().__init__()
        self._settings = tuple(settings)
        for name, value in settings.items():
            setattr(self, name, value)

    @staticmethod
    def _loss(
        student_logits: torch.Tensor, teacher_logits: torch.Tensor, **settings: Any
    ) -> torch.Tensor:
        raise NotImplementedError

    def forward(
        self, student_logits: torch.Tensor, teacher_logits: torch.Tensor
    ) -> torch.Tensor:
        settings = {name: getattr(self, name) for name in self._settings}
        return self._loss(student_logits, teacher_logits, **settings)

    def extra_repr(self) -> str:
        names = [
            n
            for n in ("temperature", "smoothing", "eps", "reduction")
            if hasattr(self, n)
        ]
        return ", ".join(f"{n}={getattr(self, n)!r}" for n in names)


class DirichletNLLLoss(_TemperedLoss):
    """EnD² loss module: Dirichlet NLL of the ensemble members' predictions.

    ``forward(student_logits, teacher_logits)`` returns
    :func:`dirichlet_nll_loss` with this module's settings. ``temperature`` is a
    plain attribute, changed in place by an annealing callback between epochs.

    Parameters
    ----------
    temperature : float, default=1.0
        T > 0: logits are divided by T, the loss multiplied by T².
    smoothing : float, default=1e-3
        Smoothing of member probabilities towards uniform (reference code).
    eps : float, default=1e-8
        Added inside the logarithm (reference code).
    reduction : {"mean", "sum", "none"}, default="mean"
        Reduction over the batch.
    ce_weight : float, default=0.0
        Weight of the EnD cross-entropy added to the likelihood (see
        :func:`dirichlet_nll_loss`); searchable as ``criterion__ce_weight``.

    Attributes
    ----------
    concentration_offset : float
        0.0: the student's concentrations are α = exp(z).

    See Also
    --------
    dirichlet_nll_loss : The functional form and the formula.

    References
    ----------
    .. [1] A. Malinin, B. Mlodozeniec and M. Gales, "Ensemble Distribution
       Distillation", ICLR 2020, arXiv:1905.00076.

    Examples
    --------
    >>> import torch
    >>> from skend2.losses import DirichletNLLLoss
    >>> criterion = DirichletNLLLoss()
    >>> criterion.temperature = 10.0  # what an annealing callback does
    >>> loss = criterion(torch.zeros(4, 3), torch.randn(4, 5, 3))
    >>> loss.shape
    torch.Size([])
    """

    concentration_offset = 0.0
    _loss = staticmethod(dirichlet_nll_loss)

    def __init__(
        self,
        temperature: float = 1.0,
        smoothing: float = 1e-3,
        eps: float = 1e-8,
        reduction: str = "mean",
        ce_weight: float = 0.0,
    ) -> None:
        super().__init__(
            temperature=temperature,
            smoothing=smoothing,
            eps=eps,
            reduction=reduction,
            ce_weight=ce_weight,
        )


class EnsembleCrossEntropyLoss(_TemperedLoss):
    """EnD loss module: cross-entropy to the ensemble's mean prediction.

    ``forward(student_logits, teacher_logits)`` returns
    :func:`ensemble_cross_entropy_loss` with this module's settings.

    Parameters
    ----------
    temperature : float, default=1.0
        T > 0: logits are divided by T, the loss multiplied by T².
    reduction : {"mean", "sum", "none"}, default="mean"
        Reduction over the batch.

    Attributes
    ----------
    concentration_offset : float
        0.0 (unused: the student is a plain classifier).

    See Also
    --------
    ensemble_cross_entropy_loss : The functional form and the formula.

    References
    ----------
    .. [1] G. Hinton, O. Vinyals and J. Dean, "Distilling the Knowledge in a
       Neural Network", arXiv:1503.02531.

    Examples
    --------
    >>> import torch
    >>> from skend2.losses import EnsembleCrossEntropyLoss
    >>> criterion = EnsembleCrossEntropyLoss(reduction="none")
    >>> criterion(torch.zeros(4, 3), torch.randn(4, 5, 3)).shape
    torch.Size([4])
    """

    concentration_offset = 0.0
    _loss = staticmethod(ensemble_cross_entropy_loss)

    def __init__(self, temperature: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(temperature=temperature, reduction=reduction)


class ProxyDirichletLoss(_TemperedLoss):
    """Proxy-Dirichlet loss module: reverse KL to a proxy Dirichlet target.

    ``forward(student_logits, teacher_logits)`` returns
    :func:`proxy_dirichlet_loss` with this module's settings.

    Parameters
    ----------
    temperature : float, default=1.0
        T > 0: logits are divided by T, the loss multiplied by T².
    smoothing : float, default=1e-3
        Smoothing of member probabilities towards uniform.
    eps : float, default=1e-8
        Added inside the logarithms.
    reduction : {"mean", "sum", "none"}, default="mean"
        Reduction over the batch.
    normalize : bool, default=True
        Divide each input's KL by its target precision (see
        :func:`proxy_dirichlet_loss`).
    ce_weight : float, default=0.0
        Weight of the cross-entropy to the ensemble's mean added to the loss
        (see :func:`proxy_dirichlet_loss`); ``criterion__ce_weight``.

    Attributes
    ----------
    concentration_offset : float
        1.0: the student's concentrations are α = exp(z) + 1.

    See Also
    --------
    proxy_dirichlet_loss : The functional form and the formulas.

    References
    ----------
    .. [1] M. Ryabinin, A. Malinin and M. Gales, "Scaling Ensemble Distribution
       Distillation to Many Classes with Proxy Targets", NeurIPS 2021,
       arXiv:2105.06987.

    Examples
    --------
    >>> import torch
    >>> from skend2.losses import ProxyDirichletLoss
    >>> ProxyDirichletLoss.concentration_offset
    1.0
    >>> loss = ProxyDirichletLoss()(torch.zeros(4, 3), torch.randn(4, 5, 3))
    >>> bool(loss >= 0)
    True
    """

    concentration_offset = 1.0
    _loss = staticmethod(proxy_dirichlet_loss)

    def __init__(
        self,
        temperature: float = 1.0,
        smoothing: float = 1e-3,
        eps: float = 1e-8,
        reduction: str = "mean",
        normalize: bool = True,
        ce_weight: float = 0.0,
    ) -> None:
        super().__init__(
            temperature=temperature,
            smoothing=smoothing,
            eps=eps,
            reduction=reduction,
            normalize=normalize,
            ce_weight=ce_weight,
        )
