"""Uncertainty measures of ensembles and of Dirichlet (Prior Network) outputs."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from sklearn.utils import Bunch

__all__ = [
    "DIRICHLET_MEASURES",
    "ENSEMBLE_MEASURES",
    "dirichlet_uncertainty",
    "dirichlet_uncertainty_from_logits",
    "ensemble_uncertainty",
    "ensemble_uncertainty_from_logits",
]

ENSEMBLE_MEASURES = ("total", "data", "knowledge", "epkl", "mkl")
DIRICHLET_MEASURES = ENSEMBLE_MEASURES + ("differential_entropy", "precision")

# Floor applied to member probabilities inside the logarithms of epkl and mkl only:
# KL(p || q) is infinite when q has an exact zero where p has mass (one-hot members,
# softmax underflow). With the floor such a class contributes p_k * ln(p_k / 1e-12),
# at most ln(1e12) ~ 27.6 nats per unit of probability mass, so the measures stay
# finite and still rank disagreeing ensembles above agreeing ones.
_LOG_FLOOR = 1e-12
_LOG_LOG_FLOOR = math.log(_LOG_FLOOR)
# Smallest probability whose logarithm is taken in the entropies (p ln p ≈ 0 below).
_TINY = 1e-300

# Above this argument lnΓ and ψ are evaluated from their asymptotic (Stirling)
# series; below it from the same series at α + 1 + _SHIFT, brought back by the
# recurrences Γ(x + 1) = xΓ(x) and ψ(x + 1) = ψ(x) + 1/x. At an argument of 7 or
# more the first omitted terms are below 2e-13 (and below 1e-17 at 20), and the
# series avoids the catastrophic cancellation of lnΓ(αₖ) − lnΓ(α₀) for large α.
_ASYMPTOTIC = 20.0
_SHIFT = 6
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
# lnΓ(z) − [(z − ½) ln z − z + ½ ln 2π] = (1/z) Σⱼ _LGAMMA_SERIES[j] z⁻²ʲ and
# ψ(z) − [ln z − 1/(2z)] = (1/z²) Σⱼ _DIGAMMA_SERIES[j] z⁻²ʲ
# (Abramowitz & Stegun 6.1.41 and 6.3.18).
_LGAMMA_SERIES = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360)
_DIGAMMA_SERIES = (-1 / 12, 1 / 120, -1 / 252, 1 / 240, -1 / 132, 691 / 32760)


# --------------------------------------------------------------------------- #
# Conversion between numpy / torch and the float64 tensors the maths runs on
# --------------------------------------------------------------------------- #
def _to_float64(values: Any, name: str) -> tuple[torch.Tensor, Callable, float]:
    """Return ``values`` as a float64 tensor, a function that converts results
    back to the caller's type, and the machine epsilon of the input's dtype."""
    if isinstance(values, torch.Tensor):
        if values.is_complex() or values.dtype == torch.bool:
            raise TypeError(f"{name} must be real-valued, got dtype {values.dtype}.")
        if values.dtype in (torch.float32, torch.float64):
            out_dtype = values.dtype
        elif values.is_floating_point():
            # Half-precision types cannot represent the range of the measures
            # (e.g. precision above 65504 for float16): return float32.
            out_dtype = torch.float32
        else:
            out_dtype = torch.float64
        input_eps = (
            torch.finfo(values.dtype).eps
            if values.is_floating_point()
            else torch.finfo(torch.float64).eps
        )

        def restore(results: dict) -> Bunch:
            return Bunch(**{key: val.to(out_dtype) for key, val in results.items()})

        return values.to(torch.float64), restore, input_eps

    array = np.asarray(values)
    if array.dtype.kind not in "iuf":
        raise TypeError(
            f"{name} must be a numeric array or torch tensor, got dtype {array.dtype}."
        )
    input_eps = (
        float(np.finfo(array.dtype).eps)
        if array.dtype.kind == "f"
        else float(np.finfo(np.float64).eps)
    )

    def restore(results: dict) -> Bunch:
        return Bunch(
            **{key: val.detach().cpu().numpy() for key, val in results.items()}
        )

    # np.array copies, so the tensor never aliases (or warns about) the input.
    return torch.from_numpy(np.array(array, dtype=np.float64)), restore, input_eps


def _to_float64_with_axes(
    values: Any, name: str, axes: str
) -> tuple[torch.Tensor, Callable, float]:
    """:func:`_to_float64`, then check that ``values`` has the named ``axes``
    (e.g. ``"n_samples, n_classes"``)."""
    values, restore, input_eps = _to_float64(values, name)
    ndim = len(axes.split(","))
    if values.ndim != ndim:
        raise ValueError(
            f"{name} must have shape ({axes}); got an array with {values.ndim} "
            f"dimension(s), shape {tuple(values.shape)}."
        )
    return values, restore, input_eps


def _check_finite(tensor: torch.Tensor, name: str) -> None:
    # A finite sum proves every element finite (NaN and ±inf propagate); only if
    # it is not (or it overflowed) is the element-wise check needed.
    if math.isfinite(float(tensor.sum())):
        return
    if not bool(torch.isfinite(tensor).all()):
        raise ValueError(f"{name} contains NaN or infinite values.")


def _log_concentration_bound(out_is_float32: bool, n_classes: int) -> float:
    """Largest |ln αₖ| for which every measure is representable in the output.

    precision α₀ ≤ K·e^L and epkl = (K − 1)/α₀ ≤ e^L; the ``− 1`` leaves room for the
    sums of K terms of that size in the differential entropy.
    """
    dtype = torch.float32 if out_is_float32 else torch.float64
    return math.log(torch.finfo(dtype).max) - math.log(max(n_classes, 1)) - 1.0


# --------------------------------------------------------------------------- #
# Dirichlet closed forms, stable for α from ~1e-300 to ~1e300
# --------------------------------------------------------------------------- #
# Prediction calls these on every batch, so they are written for speed as well as
# accuracy: no lgamma/digamma calls (scalar loops in torch), few temporaries, and
# in-place updates (each new temporary costs an allocation and first-touch page
# faults on top of its arithmetic).
def _even_series(inv2: torch.Tensor, coefficients: tuple[float, ...]) -> torch.Tensor:
    """Σⱼ cⱼ inv2ʲ by Horner's rule, one fused multiply-add per step."""
    result = inv2 * coefficients[-1]
    result.add_(coefficients[-2])
    for c in coefficients[-3::-1]:
        torch.addcmul(inv2.new_tensor(c), result, inv2, out=result)
    return result


def _dirichlet_measures(log_alphas: torch.Tensor) -> dict:
    """All Dirichlet closed forms from log-concentrations, shape (n, K), float64.

    ``log_alphas`` must lie within ±_log_concentration_bound, so that exp(ln α)
    and α₀ are finite and normal.
    """
    k = log_alphas.shape[-1]
    # Class-major layout (K + 1, n): rows 0..K−1 for the αₖ, row K for α₀ (the
    # special functions are needed at both). Sums over classes add contiguous rows.
    log_x = log_alphas.new_empty((k + 1, log_alphas.shape[0]))
    x = torch.empty_like(log_x)
    log_x[:k] = log_alphas.T
    log_alphas, alphas = log_x[:k], x[:k]
    log_precision, precision = log_x[k], x[k]
    torch.exp(log_alphas, out=alphas)
    torch.sum(alphas, 0, out=precision)
    torch.log(precision, out=log_precision)
    mean = alphas / precision
    total = (mean * (log_precision - log_alphas)).sum(0)

    # 1.0 where x < 20, else 0.0: weights for lerp, which with weights exactly 0
    # or 1 selects exactly (sign and clamp are cheaper than torch.where or a
    # cast of a boolean mask).
    small = (_ASYMPTOTIC - x).sign_().clamp_(min=0.0)

    # Small x: u = x + 1 (≤ 21) is shifted up to z = u + 6, with
    # prod = u (u+1) … (u+5) = w (w+4) (w+6) = ((w + 10) w + 24) w for
    # w = u (u+5), and recip = Σᵢ 1/(u+i) = prod′/prod = (2u+5)(3w² + 20w + 24)/prod
    # (all terms positive: no cancellation), so that lnΓ(u) = lnΓ(z) − ln prod
    # and ψ(u) = ψ(z) − recip.
    c24 = x.new_tensor(24.0)
    u = x.clamp(max=_ASYMPTOTIC).add_(1.0)
    w = (u + 5.0).mul_(u)
    prod = w + 10.0
    torch.addcmul(c24, prod, w, out=prod).mul_(w)
    recip = (w * 3.0).add_(20.0)
    torch.addcmul(c24, recip, w, out=recip)
    recip.mul_(torch.add(x.new_tensor(5.0), u, alpha=2.0)).div_(prod)
    shifted = u + _SHIFT
    # One series evaluation: at the shifted argument for small x, at x itself
    # for large x.
    z = x.lerp(shifted, small)
    inv_z = torch.reciprocal(z)
    inv_z2 = inv_z * inv_z
    lgamma_series = _even_series(inv_z2, _LGAMMA_SERIES).mul_(inv_z)
    digamma_series = _even_series(inv_z2, _DIGAMMA_SERIES).mul_(inv_z2)
    log_shifted = torch.log(shifted)
    half_inv_z = inv_z.mul_(0.5)
    # ψ(x + 1): small x: ψ(z) − recip; large x: ψ(x) + 1/x.
    digamma_plus_one = (
        (log_x + half_inv_z)
        .lerp_((log_shifted - half_inv_z).sub_(recip), small)
        .add_(digamma_series)
    )
    inv_x = torch.reciprocal(x)
    # Remainders of Stirling's formulas at x itself (both vanish as x → ∞):
    # ψ(x) = ln x − 1/(2x) + digamma_rem, from ψ(x + 1) = ψ(x) + 1/x for small x;
    digamma_rem = digamma_series.lerp_(
        (digamma_plus_one - log_x).add_(inv_x, alpha=-0.5), small
    )
    # lnΓ(x) = (x − ½) ln x − x + ½ ln 2π + lgamma_rem; for small x, from
    # lnΓ(x) = lnΓ(z) − ln prod − ln x with z = x + 7:
    # lgamma_rem = (z − ½) ln z − (x + ½) ln x − 7 − ln prod + series. For large x
    # these terms are finite (x clamped at 20) and multiplied by 0.
    x_half = u.sub_(0.5)  # x + ½; u is not needed any more
    lgamma_rem = shifted.sub_(0.5).mul_(log_shifted)
    lgamma_rem.addcmul_(x_half, log_x, value=-1.0).sub_(prod.log_())
    lgamma_rem.sub_(_SHIFT + 1.0).mul_(small).add_(lgamma_series)

    digamma_rem_k, digamma_rem0 = digamma_rem[:k], digamma_rem[k]
    inv_precision = inv_x[k]
    data = digamma_plus_one[k] - (mean * digamma_plus_one[:k]).sum(0)
    data.clamp_(min=0.0)  # ≥ 0 exactly; rounding may dip below
    # KU = TU − DU rewritten with the ψ remainders: every term is O(1/α₀), so the
    # difference keeps full relative precision for large α₀ where TU − DU would
    # cancel; for α₀ < 1 the plain difference is the accurate one.
    knowledge_large = (
        (mean * digamma_rem_k)
        .sum(0)
        .add_(inv_precision, alpha=0.5 * (k - 1))
        .sub_(digamma_rem0)
    )
    knowledge = torch.where(log_precision > 0, knowledge_large, total - data)
    knowledge.clamp_(min=0.0)  # ≥ 0 exactly; rounding may dip below
    epkl = inv_precision * (k - 1)
    # mkl = Σ p̂ₖ[ln p̂ₖ − ψ(αₖ) + ψ(α₀)] = (K − 1)/α₀ − KU, as for ensembles.
    mkl = (epkl - knowledge).clamp_(min=0.0)

    # Differential entropy lnB(α) + (α₀ − K)ψ(α₀) − Σ(αₖ − 1)ψ(αₖ) with lnΓ and ψ
    # expanded around Stirling's formula: the O(α ln α) terms cancel analytically,
    # which keeps the result accurate for large α.
    per_class = (
        (alphas - 1.0)
        .mul_(digamma_rem_k)
        .add_(inv_x[:k], alpha=0.5)
        .sub_(lgamma_rem[:k])
        .sub_(log_alphas, alpha=0.5)
    )
    differential_entropy = (
        (precision - k)
        .mul_(digamma_rem0)
        .sub_(per_class.sum(0))
        .add_(log_precision, alpha=0.5 - k)
        .sub_(lgamma_rem[k])
        .add_(inv_precision, alpha=0.5 * k)
        .add_(0.5 * (k - 1) * (2.0 * _HALF_LOG_2PI + 1.0))
    )
    values = (total, data, knowledge, epkl, mkl, differential_entropy, precision)
    return dict(zip(DIRICHLET_MEASURES, values, strict=True))


# --------------------------------------------------------------------------- #
# Public functions
# --------------------------------------------------------------------------- #
def ensemble_uncertainty(member_probs: np.ndarray | torch.Tensor) -> Bunch:
    """Uncertainty measures of an ensemble from its members' probabilities.

    With π⁽ᵐ⁾ the probabilities of member m, π̄ their mean, H the entropy and
    m̄ₖ = (1/M) Σₘ ln πₖ⁽ᵐ⁾:

    - ``total`` = H[π̄] (entropy of the expected prediction),
    - ``data`` = (1/M) Σₘ H[π⁽ᵐ⁾] (expected entropy),
    - ``knowledge`` = total − data (mutual information between the label and
      the member),
    - ``epkl`` = mean over all M² ordered pairs of KL(π⁽ⁱ⁾ ‖ π⁽ʲ⁾)
      = −Σₖ π̄ₖ m̄ₖ − data (expected pairwise KL divergence),
    - ``mkl`` = (1/M) Σₘ KL(π̄ ‖ π⁽ᵐ⁾) = epkl − knowledge (reverse mutual
      information).

    Parameters
    ----------
    member_probs : ndarray or Tensor of shape (n_samples, n_members, n_classes)
        Each member's predicted class probabilities; each row must sum to 1
        (within 1e-3 for single or double precision) and is renormalised.

    Returns
    -------
    uncertainty : Bunch
        ``total``, ``data``, ``knowledge``, ``epkl`` and ``mkl``, each of shape
        (n_samples,), all ≥ 0, in nats. For numpy input (or any array-like) they
        are float64 numpy arrays; for a torch tensor they are tensors on its device,
        computed in float64 and returned in its dtype (float32 for half precision).

    See Also
    --------
    dirichlet_uncertainty : The same measures in closed form for a Dirichlet.

    Notes
    -----
    Entropies use 0·ln 0 = 0, so exact zeros and one-hot members are fine. In the
    logarithms of ``epkl`` and ``mkl`` only, probabilities are floored at 1e-12:
    a member that gives exactly zero probability to a class another member
    supports has infinite KL in theory, and contributes ln(1e12) ≈ 27.6 nats per
    unit of mass here instead.

    References
    ----------
    .. [1] A. Malinin, B. Mlodozeniec and M. Gales, "Ensemble Distribution
       Distillation", ICLR 2020, arXiv:1905.00076.
    .. [2] A. Malinin and M. Gales, "Reverse KL-Divergence Training of Prior
       Networks: Improved Uncertainty and Adversarial Robustness", NeurIPS 2019,
       arXiv:1905.13472 (epkl).
    .. [3] A. Malinin and M. Gales, "Uncertainty Estimation in Autoregressive
       Structured Prediction", ICLR 2021, arXiv:2002.07650 (mkl, the reverse
       mutual information).

    Examples
    --------
    >>> import numpy as np
    >>> from skend2.uncertainty import ensemble_uncertainty
    >>> member_probs = np.array([[[0.9, 0.1], [0.1, 0.9]],   # members disagree
    ...                          [[0.6, 0.4], [0.6, 0.4]]])  # members agree
    >>> u = ensemble_uncertainty(member_probs)
    >>> np.round(u.total, 3)
    array([0.693, 0.673])
    >>> np.round(u.knowledge, 3)
    array([0.368, 0.   ])
    """
    probs, restore, input_eps = _to_float64_with_axes(
        member_probs, "member_probs", "n_samples, n_members, n_classes"
    )
    if probs.shape[1] < 1 or probs.shape[2] < 1:
        raise ValueError(
            "member_probs needs at least one member and one class; got shape "
            f"{tuple(probs.shape)}."
        )
    _check_finite(probs, "member_probs")
    if bool((probs < 0).any()):
        raise ValueError("member_probs contains negative probabilities.")
    sums = probs.sum(-1)
    tol = max(1e-3, 4 * probs.shape[2] * input_eps)
    if bool(((sums - 1.0).abs() > tol).any()):
        worst = float((sums - 1.0).abs().max())
        raise ValueError(
            "member_probs must sum to 1 over the class axis (last axis); the "
            f"largest deviation is {worst:.3g}. Pass probabilities, not logits."
        )
    # Member-major layout (M, K, n), as in _ensemble_measures.
    probs = (probs / sums.unsqueeze(-1)).permute(1, 2, 0).contiguous()
    # Floored so that a zero probability times its log is 0 (as 0 ln 0 = 0).
    log_probs = probs.clamp(min=_TINY).log()
    return restore(_ensemble_measures(probs, log_probs))


def ensemble_uncertainty_from_logits(logits: np.ndarray | torch.Tensor) -> Bunch:
    """The ensemble uncertainty measures from the members' logits.

    The same measures as :func:`ensemble_uncertainty`, from logits instead of
    probabilities: one float64 log-softmax, so members whose softmax underflows
    (logits of ±1e4) still give finite measures.

    Parameters
    ----------
    logits : ndarray or Tensor of shape (n_samples, n_members, n_classes)
        Each member's logits, e.g.
        :meth:`skend2.DeepEnsembleClassifier.predict_member_logits`.

    Returns
    -------
    uncertainty : Bunch
        ``total``, ``data``, ``knowledge``, ``epkl`` and ``mkl``, each of shape
        (n_samples,), as numpy arrays or tensors like ``logits``.

    See Also
    --------
    ensemble_uncertainty : The same measures from probabilities.

    References
    ----------
    .. [1] A. Malinin, B. Mlodozeniec and M. Gales, "Ensemble Distribution
       Distillation", ICLR 2020, arXiv:1905.00076.

    Examples
    --------
    >>> import numpy as np
    >>> from skend2.uncertainty import ensemble_uncertainty_from_logits
    >>> logits = np.array([[[5.0, 0.0], [0.0, 5.0]]])  # two members disagree
    >>> u = ensemble_uncertainty_from_logits(logits)
    >>> round(float(u.knowledge[0]), 3), round(float(u.total[0]), 3)
    (0.653, 0.693)
    """
    values, restore, _ = _to_float64_with_axes(
        logits, "logits", "n_samples, n_members, n_classes"
    )
    return restore(_ensemble_uncertainty_from_logits(values))


def _ensemble_uncertainty_from_logits(logits: torch.Tensor) -> dict:
    """The ensemble measures from members' logits (n, M, K), as float64 tensors.

    For the estimators' predictions: one log-softmax, no re-validation of
    probabilities that are normalised by construction.
    """
    # One copy: float64 and member-major.
    logits = logits.permute(1, 2, 0).to(
        torch.float64, memory_format=torch.contiguous_format
    )
    _check_finite(logits, "logits")
    log_probs = torch.log_softmax(logits, dim=1)
    return _ensemble_measures(torch.exp(log_probs), log_probs)


def _ensemble_measures(probs: torch.Tensor, log_probs: torch.Tensor) -> dict:
    """The five ensemble measures, from float64 tensors of shape (M, K, n).

    Member-major layout: the means over members and sums over classes then add
    contiguous rows. ``log_probs`` must be finite; it is overwritten.
    """
    n_members = probs.shape[0]
    mean = probs.mean(dim=0)
    data = (probs * log_probs).flatten(0, 1).sum(0).div_(-n_members)
    # One member is its own mean: the same entropy, exactly (no knowledge).
    total = data.clone() if n_members == 1 else torch.special.entr(mean).sum(0)
    knowledge = (total - data).clamp_(min=0.0)
    # −Σₖ π̄ₖ m̄ₖ: the cross-entropy term shared by epkl and mkl.
    mean_log = log_probs.clamp_(min=_LOG_LOG_FLOOR).mean(dim=0)
    cross = (mean * mean_log).sum(0).neg_()
    epkl = (cross - data).clamp_(min=0.0)
    mkl = (cross - total).clamp_(min=0.0)
    values = (total, data, knowledge, epkl, mkl)
    return dict(zip(ENSEMBLE_MEASURES, values, strict=True))


def dirichlet_uncertainty_from_logits(
    logits: np.ndarray | torch.Tensor, offset: float = 0.0
) -> Bunch:
    """Dirichlet uncertainty measures from logits, with α = exp(z) + offset.

    Everything is computed from ln α in log space, so the logits of a Prior
    Network may be arbitrarily large: ln α is clipped to
    ±(ln(largest float of the output dtype) − ln K − 1), about ±708 − ln K in
    float64 and ±87.7 − ln K in float32, the range in which every measure is
    representable; values beyond are astronomically confident (or flat) anyway.

    Parameters
    ----------
    logits : ndarray or Tensor of shape (n_samples, n_classes)
        The network's outputs z; α = exp(z) + offset.
    offset : float, default=0.0
        Added to exp(z): 0 for the EnD² parametrisation, 1 for Proxy-Dirichlet
        (the loss's ``concentration_offset``).

    Returns
    -------
    uncertainty : Bunch
        The measures of :func:`dirichlet_uncertainty`.

    See Also
    --------
    dirichlet_uncertainty : The same measures from concentrations α.

    References
    ----------
    .. [1] A. Malinin, B. Mlodozeniec and M. Gales, "Ensemble Distribution
       Distillation", ICLR 2020, arXiv:1905.00076.
    .. [2] M. Ryabinin, A. Malinin and M. Gales, "Scaling Ensemble Distribution
       Distillation to Many Classes with Proxy Targets", NeurIPS 2021,
       arXiv:2105.06987.

    Examples
    --------
    >>> import numpy as np
    >>> from skend2.uncertainty import dirichlet_uncertainty_from_logits
    >>> u = dirichlet_uncertainty_from_logits(np.array([[1e4, 0.0, 0.0]]))
    >>> bool(np.isfinite(u.differential_entropy).all()), round(float(u.total[0]), 6)
    (True, 0.0)
    >>> u = dirichlet_uncertainty_from_logits([[0.0, 0.0]], offset=1.0)  # α = (2, 2)
    >>> round(float(u.epkl[0]), 3)
    0.25
    """
    log_values, restore, _ = _to_float64_with_axes(
        logits, "logits", "n_samples, n_classes"
    )
    _check_finite(log_values, "logits")
    try:
        offset = float(offset)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"offset must be a real number, got {offset!r}.") from exc
    if not math.isfinite(offset) or offset < 0:
        raise ValueError(f"offset must be finite and >= 0, got {offset}.")
    if offset > 0:
        # ln(exp(z) + c) without forming exp(z).
        log_values = torch.logaddexp(
            log_values, torch.full_like(log_values, math.log(offset))
        )
    return _dirichlet_from_log_alphas(log_values, restore, logits)


def dirichlet_uncertainty(alphas: np.ndarray | torch.Tensor) -> Bunch:
    """Closed-form uncertainty measures of Dirichlet distributions Dir(α).

    With α₀ = Σₖ αₖ, p̂ = α/α₀ and ψ the digamma function:

    - ``total`` = −Σₖ p̂ₖ ln p̂ₖ,
    - ``data`` = −Σₖ p̂ₖ [ψ(αₖ + 1) − ψ(α₀ + 1)],
    - ``knowledge`` = total − data,
    - ``epkl`` = (K − 1)/α₀,
    - ``mkl`` = Σₖ p̂ₖ [ln p̂ₖ − ψ(αₖ) + ψ(α₀)] = epkl − knowledge,
    - ``differential_entropy`` = Σₖ ln Γ(αₖ) − ln Γ(α₀) − Σₖ (αₖ − 1)[ψ(αₖ) − ψ(α₀)],
    - ``precision`` = α₀.

    Each of the first five equals the corresponding measure of
    :func:`ensemble_uncertainty` for an infinite ensemble whose members are drawn
    from Dir(α).

    Parameters
    ----------
    alphas : ndarray or Tensor of shape (n_samples, n_classes)
        Concentration parameters, all > 0.

    Returns
    -------
    uncertainty : Bunch
        ``total``, ``data``, ``knowledge``, ``epkl``, ``mkl``,
        ``differential_entropy`` and ``precision``, each of shape (n_samples,).
        All are ≥ 0 except the differential entropy, which is negative for
        concentrated Dirichlets. Types follow the input as in
        :func:`ensemble_uncertainty`.

    See Also
    --------
    dirichlet_uncertainty_from_logits : The same from logits, α = exp(z) + offset.
    ensemble_uncertainty : The ensemble counterparts.

    Notes
    -----
    Computed in float64 from ln α, with lnΓ and ψ from their asymptotic
    (Stirling) series: at α itself above 20, and at α + 7, brought back by the
    recurrences Γ(x + 1) = xΓ(x) and ψ(x + 1) = ψ(x) + 1/x, below. The results
    are accurate (to 1e-8 relative or better) for α from 1e-6 to 1e12 and beyond.
    ``data``, ``knowledge`` and ``mkl`` are clipped at 0 against rounding.

    References
    ----------
    .. [1] A. Malinin, B. Mlodozeniec and M. Gales, "Ensemble Distribution
       Distillation", ICLR 2020, arXiv:1905.00076.
    .. [2] A. Malinin and M. Gales, "Predictive Uncertainty Estimation via Prior
       Networks", NeurIPS 2018, arXiv:1802.10501.

    Examples
    --------
    >>> import numpy as np
    >>> from skend2.uncertainty import dirichlet_uncertainty
    >>> u = dirichlet_uncertainty(np.array([[1.0, 1.0, 1.0], [100.0, 1.0, 1.0]]))
    >>> np.round(u.epkl, 4)
    array([0.6667, 0.0196])
    >>> bool(np.allclose(u.total, u.data + u.knowledge))
    True
    """
    values, restore, _ = _to_float64_with_axes(alphas, "alphas", "n_samples, n_classes")
    _check_finite(values, "alphas")
    if bool((values <= 0).any()):
        raise ValueError(
            "alphas must be strictly positive concentration parameters; got "
            f"a minimum of {float(values.min()):.3g}."
        )
    return _dirichlet_from_log_alphas(torch.log(values), restore, alphas)


def _dirichlet_from_log_alphas(
    log_alphas: torch.Tensor, restore: Callable, original: Any
) -> Bunch:
    if log_alphas.shape[-1] < 1:
        raise ValueError("At least one class is needed; got n_classes=0.")
    out_is_float32 = (
        isinstance(original, torch.Tensor)
        and original.dtype != torch.float64
        and original.is_floating_point()
    )
    bound = _log_concentration_bound(out_is_float32, log_alphas.shape[-1])
    return restore(_dirichlet_measures(log_alphas.clamp(-bound, bound)))


# The regression measures (ensembles of Gaussians, Normal-Wishart Prior Networks)
# live in their own module and are public here, beside the classification ones.
from ._regression_measures import (  # noqa: E402
    gaussian_ensemble_uncertainty,
    normal_wishart_uncertainty,
    student_t_predictive,
)

__all__ += [
    "gaussian_ensemble_uncertainty",
    "normal_wishart_uncertainty",
    "student_t_predictive",
]
