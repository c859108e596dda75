"""Metrics and scikit-learn scorers for calibration, rejection and OOD detection."""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import entropy
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    roc_auc_score,
)
from sklearn.metrics import get_scorer as _sklearn_get_scorer
from sklearn.pipeline import Pipeline
from sklearn.utils import Bunch
from sklearn.utils.validation import check_consistent_length, column_or_1d

__all__ = [
    "SCORERS",
    "distillation_nll",
    "distillation_nll_scorer",
    "ece_scorer",
    "evaluate_classifier",
    "expected_calibration_error",
    "get_scorer",
    "misclassification_detection_aupr",
    "misclassification_detection_auroc",
    "negative_log_likelihood",
    "ood_auroc_scorer",
    "ood_detection_aupr",
    "ood_detection_auroc",
    "prediction_rejection_ratio",
]


# ---------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------


def _check_scores(scores: ArrayLike, name: str) -> np.ndarray:
    """Return ``scores`` as a finite, non-empty 1-D float64 array."""
    arr = np.asarray(scores)
    if arr.ndim != 1:
        raise ValueError(
            f"{name} must be a 1-D array of shape (n_samples,), got shape {arr.shape}."
        )
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty.")
    try:
        arr = arr.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}.") from exc
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return arr


def _check_labels_1d(y: ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(
            f"{name} must be a 1-D array of shape (n_samples,), got shape {arr.shape}."
        )
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty.")
    return column_or_1d(arr)


def _check_proba(y_prob: ArrayLike, name: str = "y_prob") -> np.ndarray:
    arr = np.asarray(y_prob)
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array of shape (n_samples, n_classes), "
            f"got shape {arr.shape}."
        )
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    # float32 softmax outputs can exceed 1 by rounding; tolerate that much.
    if np.any(arr < -1e-6) or np.any(arr > 1.0 + 1e-6):
        raise ValueError(f"{name} must contain probabilities in [0, 1].")
    return np.clip(arr, 0.0, 1.0)


def _misclassified(y_true: ArrayLike, y_pred: ArrayLike) -> np.ndarray:
    y_true = _check_labels_1d(y_true, "y_true")
    y_pred = _check_labels_1d(y_pred, "y_pred")
    check_consistent_length(y_true, y_pred)
    return y_true != y_pred


def _misclassification_inputs(
    y_true: ArrayLike, y_pred: ArrayLike, uncertainty: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    errors = _misclassified(y_true, y_pred)
    uncertainty = _check_scores(uncertainty, "uncertainty")
    check_consistent_length(errors, uncertainty)
    n_errors = int(errors.sum())
    if n_errors == 0 or n_errors == errors.shape[0]:
        which = "none" if n_errors == 0 else "all"
        raise ValueError(
            f"Misclassification detection is undefined: {which} of the "
            f"{errors.shape[0]} inputs are misclassified (both correct and wrong "
            "predictions are needed)."
        )
    return errors, uncertainty


def _resolve_labels(
    y_true: np.ndarray, n_classes: int, labels: ArrayLike | None
) -> tuple[np.ndarray, np.ndarray]:
    """Map ``y_true`` to column indices of a probability matrix.

    Returns ``(labels, indices)`` where column ``k`` belongs to ``labels[k]``.
    """
    if labels is None:
        uniques = np.unique(y_true)
        is_integral = np.issubdtype(y_true.dtype, np.integer) or (
            np.issubdtype(y_true.dtype, np.floating) and np.all(np.mod(y_true, 1) == 0)
        )
        if (
            is_integral
            and not np.issubdtype(y_true.dtype, np.bool_)
            and uniques.min() >= 0
            and uniques.max() < n_classes
        ):
            # Integer labels index the columns directly, so a test set that
            # misses some classes is still understood (log_loss would fail here).
            labels = np.arange(n_classes)
        elif uniques.shape[0] == n_classes:
            # As sklearn.metrics.log_loss: sorted unique labels of y_true.
            labels = uniques
        else:
            raise ValueError(
                f"Cannot infer which of the {n_classes} columns of y_prob each of "
                f"the {uniques.shape[0]} distinct labels in y_true belongs to; "
                "pass labels (e.g. estimator.classes_)."
            )
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != n_classes:
        raise ValueError(
            f"labels must have one entry per column of y_prob ({n_classes}), "
            f"got shape {labels.shape}."
        )
    sorter = np.argsort(labels, kind="stable")
    sorted_labels = labels[sorter]
    if np.any(sorted_labels[1:] == sorted_labels[:-1]):
        raise ValueError("labels contains duplicate entries.")
    try:
        pos = np.clip(np.searchsorted(sorted_labels, y_true), 0, n_classes - 1)
        unknown = sorted_labels[pos] != y_true
    except TypeError as exc:  # e.g. string labels against integer y_true
        raise ValueError(
            f"y_true ({y_true.dtype}) cannot be compared with labels ({labels.dtype})."
        ) from exc
    if np.any(unknown):
        raise ValueError(
            f"y_true contains labels not in labels: {np.unique(y_true[unknown])[:5]}."
        )
    return labels, sorter[pos]


# ---------------------------------------------------------------------------
# Out-of-distribution detection
# ---------------------------------------------------------------------------


def _ood_labels_and_scores(
    in_scores: ArrayLike, out_scores: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    in_scores = _check_scores(in_scores, "in_scores")
    out_scores = _check_scores(out_scores, "out_scores")
    is_ood = np.concatenate(
        [np.zeros(in_scores.shape[0], dtype=int), np.ones(out_scores.shape[0], int)]
    )
    return is_ood, np.concatenate([in_scores, out_scores])


def ood_detection_auroc(in_scores: ArrayLike, out_scores: ArrayLike) -> float:
    """Area under the ROC curve for telling OOD inputs from in-distribution ones.

    Parameters
    ----------
    in_scores : array-like of shape (n_in,)
        Uncertainty of the in-distribution inputs (higher means more likely OOD).
    out_scores : array-like of shape (n_out,)
        Uncertainty of the out-of-distribution inputs.

    Returns
    -------
    auroc : float
        1 when every OOD input is more uncertain than every in-distribution input,
        0.5 for uninformative scores. Swapping which class is positive (and
        negating the scores) leaves the AUROC unchanged.

    See Also
    --------
    ood_detection_aupr : The area under the precision-recall curve.
    sklearn.metrics.roc_auc_score : The underlying computation.

    References
    ----------
    .. [1] A. Malinin, B. Mlodozeniec and M. Gales, "Ensemble Distribution
       Distillation", ICLR 2020, arXiv:1905.00076, Section 5.

    Examples
    --------
    >>> from skend2.metrics import ood_detection_auroc
    >>> ood_detection_auroc([0.1, 0.2, 0.3], [0.25, 0.9])
    0.8333...
    """
    is_ood, scores = _ood_labels_and_scores(in_scores, out_scores)
    return float(roc_auc_score(is_ood, scores))


def ood_detection_aupr(
    in_scores: ArrayLike, out_scores: ArrayLike, *, positive: str = "ood"
) -> float:
    """Area under the precision-recall curve (average precision) for OOD detection.

    Parameters
    ----------
    in_scores : array-like of shape (n_in,)
        Uncertainty of the in-distribution inputs (higher means more likely OOD).
    out_scores : array-like of shape (n_out,)
        Uncertainty of the out-of-distribution inputs.
    positive : {"ood", "in"}, default="ood"
        Which set is the positive class. ``"ood"`` ranks by uncertainty (AUPR-Out);
        ``"in"`` makes the in-distribution inputs positive and ranks by negated
        uncertainty (AUPR-In), as reported by the EnD² authors. Unlike the AUROC,
        the two differ, and their chance levels are the positive set's share.

    Returns
    -------
    aupr : float
        Average precision, :func:`sklearn.metrics.average_precision_score`.

    See Also
    --------
    ood_detection_auroc : The area under the ROC curve.

    References
    ----------
    .. [1] A. Malinin, B. Mlodozeniec and M. Gales, "Ensemble Distribution
       Distillation", ICLR 2020, arXiv:1905.00076.

    Examples
    --------
    >>> from skend2.metrics import ood_detection_aupr
    >>> in_u, out_u = [0.1, 0.5, 0.3, 0.2], [0.4, 0.9]
    >>> round(ood_detection_aupr(in_u, out_u), 3)
    0.833
    >>> round(ood_detection_aupr(in_u, out_u, positive="in"), 3)
    0.95
    """
    if positive not in ("ood", "in"):
        raise ValueError(f"positive must be 'ood' or 'in', got {positive!r}.")
    is_ood, scores = _ood_labels_and_scores(in_scores, out_scores)
    if positive == "in":
        return float(average_precision_score(1 - is_ood, -scores))
    return float(average_precision_score(is_ood, scores))


# ---------------------------------------------------------------------------
# Misclassification detection and rejection
# ---------------------------------------------------------------------------


def misclassification_detection_auroc(
    y_true: ArrayLike, y_pred: ArrayLike, uncertainty: ArrayLike
) -> float:
    """AUROC of detecting misclassified inputs by their uncertainty.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    uncertainty : array-like of shape (n_samples,)
        Uncertainty of each prediction (higher means more likely wrong), e.g. the
        total uncertainty.

    Returns
    -------
    auroc : float
        ROC AUC with the misclassified inputs as positives.

    Raises
    ------
    ValueError
        If the lengths differ, ``uncertainty`` is not finite, or all or none of
        the inputs are misclassified (the AUROC is then undefined).

    See Also
    --------
    misclassification_detection_aupr, prediction_rejection_ratio

    References
    ----------
    .. [1] A. Malinin, B. Mlodozeniec and M. Gales, "Ensemble Distribution
       Distillation", ICLR 2020, arXiv:1905.00076.

    Examples
    --------
    >>> from skend2.metrics import misclassification_detection_auroc
    >>> misclassification_detection_auroc(
    ...     [0, 1, 1, 0], [0, 1, 0, 1], [0.1, 0.2, 0.9, 0.4])
    1.0
    """
    errors, uncertainty = _misclassification_inputs(y_true, y_pred, uncertainty)
    return float(roc_auc_score(errors, uncertainty))


def misclassification_detection_aupr(
    y_true: ArrayLike, y_pred: ArrayLike, uncertainty: ArrayLike
) -> float:
    """Average precision of detecting misclassified inputs by their uncertainty.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    uncertainty : array-like of shape (n_samples,)
        Uncertainty of each prediction (higher means more likely wrong).

    Returns
    -------
    aupr : float
        :func:`sklearn.metrics.average_precision_score` with the misclassified
        inputs as positives (chance level: the error rate).

    Raises
    ------
    ValueError
        If the lengths differ, ``uncertainty`` is not finite, or all or none of
        the inputs are misclassified.

    See Also
    --------
    misclassification_detection_auroc, prediction_rejection_ratio

    References
    ----------
    .. [1] A. Malinin, B. Mlodozeniec and M. Gales, "Ensemble Distribution
       Distillation", ICLR 2020, arXiv:1905.00076.

    Examples
    --------
    >>> from skend2.metrics import misclassification_detection_aupr
    >>> misclassification_detection_aupr(
    ...     [0, 1, 1, 0], [0, 1, 0, 1], [0.1, 0.2, 0.9, 0.4])
    1.0
    """
    errors, uncertainty = _misclassification_inputs(y_true, y_pred, uncertainty)
    return float(average_precision_score(errors, uncertainty))


def prediction_rejection_ratio(
    y_true: ArrayLike, y_pred: ArrayLike, uncertainty: ArrayLike
) -> float:
    r"""Prediction rejection ratio (PRR) of an uncertainty measure.

    The most uncertain predictions are handed to an oracle first; the error rate of
    the whole set (rejected inputs count as correct) is traced against the fraction
    rejected. The PRR compares the area between this curve and the random-rejection
    curve with the same area for the oracle ordering.

    With :math:`e_i = 1[y_i \neq \hat y_i]`, :math:`E = \sum_i e_i` errors among
    :math:`n` inputs, and :math:`e_{(1)}, \dots, e_{(n)}` ordered by decreasing
    uncertainty (a stable sort, so ties keep their input order), the error rate
    after rejecting :math:`k` inputs is

    .. math::

        R(k) = \frac{1}{n} \sum_{j > k} e_{(j)}, \qquad k = 0, \dots, n,

    at rejection fraction :math:`k/n`. Random rejection gives
    :math:`R_\mathrm{rnd}(k) = \frac{E}{n}(1 - \frac{k}{n})` and the oracle
    :math:`R_\mathrm{orc}(k) = \max(E - k, 0)/n`. With :math:`A` the trapezoidal
    area under a curve over :math:`[0, 1]` (:math:`A_\mathrm{rnd} = E / 2n`,
    :math:`A_\mathrm{orc} = E^2 / 2n^2`),

    .. math::

        \mathrm{PRR} = \frac{A_\mathrm{rnd} - A}{A_\mathrm{rnd} - A_\mathrm{orc}}.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    uncertainty : array-like of shape (n_samples,)
        Uncertainty of each prediction; the most uncertain are rejected first.

    Returns
    -------
    prr : float
        1 for the oracle ordering, about 0 for a random one, negative for an
        ordering worse than random (the authors report it times 100).

    Raises
    ------
    ValueError
        If the lengths differ, ``uncertainty`` is not finite, or all or none of
        the inputs are misclassified (the ratio is then undefined).

    See Also
    --------
    misclassification_detection_auroc

    Notes
    -----
    This is the measure of the EnD² evaluation (``reject_class`` in Malinin's
    ``PriorNetworks`` code), written as a closed form: that code's curve drops the
    last rejection point, which changes results by :math:`O(1/n)`.

    References
    ----------
    .. [1] A. Malinin, "Uncertainty Estimation in Deep Learning with application
       to Spoken Language Assessment", PhD thesis, University of Cambridge, 2019.
    .. [2] A. Malinin, B. Mlodozeniec and M. Gales, "Ensemble Distribution
       Distillation", ICLR 2020, arXiv:1905.00076.

    Examples
    --------
    >>> from skend2.metrics import prediction_rejection_ratio
    >>> y_true, y_pred = [0, 0, 1, 1], [0, 1, 1, 0]
    >>> prediction_rejection_ratio(y_true, y_pred, [0.1, 0.8, 0.2, 0.9])
    1.0
    >>> prediction_rejection_ratio(y_true, y_pred, [0.9, 0.1, 0.8, 0.2])
    -1.0
    """
    errors, uncertainty = _misclassification_inputs(y_true, y_pred, uncertainty)
    n = errors.shape[0]
    n_errors = float(errors.sum())
    order = np.argsort(-uncertainty, kind="stable")
    rejected_errors = np.concatenate([[0.0], np.cumsum(errors[order], dtype=float)])
    curve = (n_errors - rejected_errors) / n  # R(k), k = 0..n
    # Trapezoid rule on the uniform grid k / n; curve[-1] is always 0.
    area = (curve.sum() - 0.5 * curve[0]) / n
    area_random = n_errors / (2.0 * n)
    area_oracle = n_errors**2 / (2.0 * n**2)
    return float((area_random - area) / (area_random - area_oracle))


# ---------------------------------------------------------------------------
# Calibration and likelihood
# ---------------------------------------------------------------------------


def expected_calibration_error(
    y_true: ArrayLike,
    y_prob: ArrayLike,
    *,
    n_bins: int = 15,
    labels: ArrayLike | None = None,
) -> float:
    r"""Top-label expected calibration error with equal-width confidence bins.

    .. math::

        \mathrm{ECE} = \sum_{b=1}^{B} \frac{|B_b|}{n}
        \left| \mathrm{acc}(B_b) - \mathrm{conf}(B_b) \right|,

    where the confidence of an input is its largest predicted probability, bin
    :math:`B_b` holds the inputs with confidence in
    :math:`((b - 1)/B, b/B]`, :math:`\mathrm{acc}` is the fraction of them whose
    top class is right and :math:`\mathrm{conf}` their mean confidence.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_prob : array-like of shape (n_samples, n_classes)
        Predicted probabilities; column ``k`` belongs to ``labels[k]``.
    n_bins : int, default=15
        Number of equal-width bins on [0, 1].
    labels : array-like of shape (n_classes,), default=None
        The label of each column of ``y_prob`` (pass ``estimator.classes_``).
        If None: ``range(n_classes)`` when ``y_true`` holds integers in
        ``[0, n_classes)`` (so a test set missing some classes works), otherwise
        the sorted unique labels of ``y_true``, as
        :func:`sklearn.metrics.log_loss` does, which then must number
        ``n_classes``.

    Returns
    -------
    ece : float
        In [0, 1]; 0 means perfectly calibrated top-label confidences.

    See Also
    --------
    negative_log_likelihood, ece_scorer

    References
    ----------
    .. [1] C. Guo, G. Pleiss, Y. Sun and K. Q. Weinberger, "On Calibration of
       Modern Neural Networks", ICML 2017, arXiv:1706.04599.
    .. [2] A. Malinin, B. Mlodozeniec and M. Gales, "Ensemble Distribution
       Distillation", ICLR 2020, arXiv:1905.00076.

    Examples
    --------
    >>> from skend2.metrics import expected_calibration_error
    >>> y_prob = [[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]]
    >>> round(expected_calibration_error([0, 1, 1], y_prob, n_bins=10), 4)
    0.4
    >>> round(expected_calibration_error(
    ...     ["cat", "dog", "dog"], y_prob, labels=["cat", "dog"], n_bins=10), 4)
    0.4
    """
    if (
        not isinstance(n_bins, numbers.Integral)
        or isinstance(n_bins, bool)
        or n_bins < 1
    ):
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}.")
    y_true = _check_labels_1d(y_true, "y_true")
    y_prob = _check_proba(y_prob)
    check_consistent_length(y_true, y_prob)
    _, true_index = _resolve_labels(y_true, y_prob.shape[1], labels)

    confidence = y_prob.max(axis=1)
    correct = (y_prob.argmax(axis=1) == true_index).astype(np.float64)
    # side="left" puts a confidence equal to an edge in the lower bin:
    # bins are (lower, upper] as in Guo et al.'s code.
    inner_edges = np.linspace(0.0, 1.0, n_bins + 1)[1:-1]
    bin_index = np.searchsorted(inner_edges, confidence, side="left")
    sum_correct = np.bincount(bin_index, weights=correct, minlength=n_bins)
    sum_confidence = np.bincount(bin_index, weights=confidence, minlength=n_bins)
    # |B_b|/n * |acc - conf| = |sum_correct - sum_conf| / n
    return float(np.abs(sum_correct - sum_confidence).sum() / y_true.shape[0])


def negative_log_likelihood(
    y_true: ArrayLike, y_prob: ArrayLike, labels: ArrayLike | None = None
) -> float:
    """Mean negative log-likelihood of the true labels (a thin ``log_loss`` wrapper).

    Calls :func:`sklearn.metrics.log_loss`, which clips the probabilities away
    from 0 and 1 itself. The only addition is the label handling shared with
    :func:`expected_calibration_error`: column ``k`` belongs to ``labels[k]``
    (even when ``labels`` is not sorted), and with ``labels=None`` integer labels
    in ``[0, n_classes)`` index the columns directly.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_prob : array-like of shape (n_samples, n_classes)
        Predicted probabilities; rows should sum to one.
    labels : array-like of shape (n_classes,), default=None
        The label of each column of ``y_prob``; see
        :func:`expected_calibration_error` for the default.

    Returns
    -------
    nll : float
        Mean over inputs of :math:`-\\ln p(y_i \\mid x_i)`, in nats.

    See Also
    --------
    sklearn.metrics.log_loss, expected_calibration_error

    References
    ----------
    .. [1] A. Malinin, B. Mlodozeniec and M. Gales, "Ensemble Distribution
       Distillation", ICLR 2020, arXiv:1905.00076.

    Examples
    --------
    >>> from skend2.metrics import negative_log_likelihood
    >>> round(negative_log_likelihood([0, 2], [[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]]), 4)
    0.4581
    """
    y_true = _check_labels_1d(y_true, "y_true")
    y_prob = _check_proba(y_prob)
    check_consistent_length(y_true, y_prob)
    labels, _ = _resolve_labels(y_true, y_prob.shape[1], labels)
    # log_loss assumes the columns in sorted label order (LabelBinarizer).
    order = np.argsort(labels, kind="stable")
    return float(log_loss(y_true, y_prob[:, order], labels=labels[order]))


# ---------------------------------------------------------------------------
# Distillation fidelity
# ---------------------------------------------------------------------------


def distillation_nll(
    member_logits: ArrayLike,
    student_logits: ArrayLike,
    *,
    concentration_offset: float = 0.0,
) -> float:
    r"""Held-out EnD² loss: Dirichlet NLL of the teacher's members under the student.

    The mean over inputs of
    :math:`-\frac{1}{M}\sum_m \ln \mathrm{Dir}(\pi^{(m)} \mid \alpha)` at
    temperature 1, with the members' probabilities smoothed towards uniform as in
    training; computed by :func:`skend2.losses.dirichlet_nll_loss` in float64.
    Lower means the student's Dirichlet explains the ensemble better.

    Parameters
    ----------
    member_logits : array-like of shape (n_samples, n_members, n_classes)
        The teacher members' logits.
    student_logits : array-like of shape (n_samples, n_classes)
        The student's logits :math:`z`.
    concentration_offset : float, default=0.0
        The student's concentrations are :math:`\alpha = e^z + \text{offset}`
        (0 for the EnD² loss, 1 for the Proxy-Dirichlet loss). The offset is
        folded into the logits passed to the loss as
        :math:`\ln(e^z + \text{offset})`.

    Returns
    -------
    nll : float
        Mean Dirichlet negative log-likelihood per input.

    See Also
    --------
    distillation_nll_scorer : The same as a ``GridSearchCV`` scorer.

    References
    ----------
    .. [1] A. Malinin, B. Mlodozeniec and M. Gales, "Ensemble Distribution
       Distillation", ICLR 2020, arXiv:1905.00076, Eq. 11.

    Examples
    --------
    >>> import numpy as np
    >>> from skend2.metrics import distillation_nll
    >>> member_logits = np.log([[[0.7, 0.2, 0.1], [0.6, 0.3, 0.1]]])
    >>> sharp = distillation_nll(member_logits, np.log([[65.0, 25.0, 10.0]]))
    >>> flat = distillation_nll(member_logits, np.log([[1.3, 0.5, 0.2]]))
    >>> bool(sharp < flat)
    True
    """
    member_logits = np.asarray(member_logits, dtype=np.float64)
    student_logits = np.asarray(student_logits, dtype=np.float64)
    if member_logits.ndim != 3:
        raise ValueError(
            "member_logits must have shape (n_samples, n_members, n_classes), "
            f"got {member_logits.shape}."
        )
    if student_logits.ndim != 2:
        raise ValueError(
            "student_logits must have shape (n_samples, n_classes), "
            f"got {student_logits.shape}."
        )
    if (
        member_logits.shape[0] != student_logits.shape[0]
        or member_logits.shape[2] != student_logits.shape[1]
    ):
        raise ValueError(
            f"member_logits {member_logits.shape} and student_logits "
            f"{student_logits.shape} disagree on n_samples or n_classes."
        )
    if member_logits.shape[0] == 0:
        raise ValueError("member_logits is empty.")
    if not (np.all(np.isfinite(member_logits)) and np.all(np.isfinite(student_logits))):
        raise ValueError("member_logits and student_logits must be finite.")
    if not np.isfinite(concentration_offset) or concentration_offset < 0:
        raise ValueError(
            "concentration_offset must be a finite number >= 0, "
            f"got {concentration_offset!r}."
        )

    import torch

    from skend2.losses import dirichlet_nll_loss

    if concentration_offset > 0:
        # alpha = exp(z) + offset  <=>  logits log(alpha), computed without overflow.
        student_logits = np.logaddexp(student_logits, np.log(concentration_offset))
    loss = dirichlet_nll_loss(
        torch.as_tensor(student_logits, dtype=torch.float64),
        torch.as_tensor(member_logits, dtype=torch.float64),
        temperature=1.0,
    )
    return float(loss)


# ---------------------------------------------------------------------------
# Estimator-level helpers and scorers
# ---------------------------------------------------------------------------


def _final_step(estimator: Any, X: Any) -> tuple[Any, Any]:
    """Unwrap (nested) Pipelines: the final estimator and ``X`` transformed for it."""
    while isinstance(estimator, Pipeline):
        if len(estimator) > 1:
            X = estimator[:-1].transform(X)
        estimator = estimator[-1]
    return estimator, X


def _uncertainties(estimator: Any, X: Any) -> Bunch:
    """``predict_uncertainty(X)``, or the predictive entropy as ``total``."""
    final, Xt = _final_step(estimator, X)
    if hasattr(final, "predict_uncertainty"):
        return final.predict_uncertainty(Xt)
    # Any probabilistic classifier: only the total uncertainty H[p] exists.
    return Bunch(total=entropy(estimator.predict_proba(X), axis=1))


def _one_uncertainty(estimator: Any, X: Any, measure: str) -> np.ndarray:
    final, Xt = _final_step(estimator, X)
    if hasattr(final, "predict_uncertainty"):
        return np.asarray(final.predict_uncertainty(Xt, measure=measure))
    if measure == "total":
        return entropy(estimator.predict_proba(X), axis=1)
    raise TypeError(
        f"{type(final).__name__} has no predict_uncertainty; only measure='total' "
        f"(the entropy of predict_proba) is available, got {measure!r}."
    )


def ece_scorer(estimator: Any, X: ArrayLike, y: ArrayLike) -> float:
    """Negated expected calibration error, a scorer for ``GridSearchCV``.

    Greater is better, as scikit-learn's scorers. Works with any fitted classifier
    with ``predict_proba`` and ``classes_`` (Pipelines included).

    Parameters
    ----------
    estimator : fitted classifier
        Provides ``predict_proba`` and ``classes_``.
    X : array-like of shape (n_samples, n_features)
        Inputs.
    y : array-like of shape (n_samples,)
        True labels.

    Returns
    -------
    score : float
        ``-expected_calibration_error(y, estimator.predict_proba(X),
        labels=estimator.classes_)`` with 15 bins.

    See Also
    --------
    expected_calibration_error

    References
    ----------
    .. [1] C. Guo, G. Pleiss, Y. Sun and K. Q. Weinberger, "On Calibration of
       Modern Neural Networks", ICML 2017, arXiv:1706.04599.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import cross_val_score
    >>> from skend2.metrics import ece_scorer
    >>> X, y = load_iris(return_X_y=True)
    >>> scores = cross_val_score(LogisticRegression(max_iter=500), X, y,
    ...                          scoring=ece_scorer, cv=3)
    >>> bool((scores <= 0).all())
    True
    """
    return -expected_calibration_error(
        y, estimator.predict_proba(X), labels=estimator.classes_
    )


def distillation_nll_scorer(estimator: Any, X: ArrayLike, y: Any = None) -> float:
    """Negated held-out distillation NLL of a Prior Network student.

    Greater is better. Uses ``estimator.teacher_.predict_member_logits(X)``,
    ``estimator.predict_logits(X)`` and ``estimator.concentration_offset_``
    (a Pipeline ending in such an estimator is unwrapped). ``y`` is ignored.

    Parameters
    ----------
    estimator : fitted PriorNetworkDistiller or Pipeline ending in one
        The student and its fitted teacher.
    X : array-like of shape (n_samples, n_features)
        Inputs.
    y : ignored
        Present for the scorer signature.

    Returns
    -------
    score : float
        ``-distillation_nll(member_logits, student_logits,
        concentration_offset=...)``.

    Raises
    ------
    TypeError
        If the estimator has no fitted ``teacher_`` or no ``predict_logits``.

    See Also
    --------
    distillation_nll

    References
    ----------
    .. [1] A. Malinin, B. Mlodozeniec and M. Gales, "Ensemble Distribution
       Distillation", ICLR 2020, arXiv:1905.00076.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skend2.metrics import distillation_nll_scorer
    >>> distillation_nll_scorer(LogisticRegression(), [[0.0]])
    Traceback (most recent call last):
    ...
    TypeError: distillation_nll_scorer needs a fitted distiller with a teacher_ ...
    """
    final, Xt = _final_step(estimator, X)
    teacher = getattr(final, "teacher_", None)
    if teacher is None or not hasattr(teacher, "predict_member_logits"):
        raise TypeError(
            "distillation_nll_scorer needs a fitted distiller with a teacher_ "
            "exposing predict_member_logits (e.g. PriorNetworkDistiller); got "
            f"{type(final).__name__}."
        )
    if not hasattr(final, "predict_logits"):
        raise TypeError(
            "distillation_nll_scorer needs a Dirichlet student with predict_logits "
            f"(PriorNetworkDistiller); {type(final).__name__} has none."
        )
    return -distillation_nll(
        teacher.predict_member_logits(Xt),
        final.predict_logits(Xt),
        concentration_offset=float(getattr(final, "concentration_offset_", 0.0)),
    )


class _OODAUROCScorer:
    """Scorer: OOD AUROC of one uncertainty measure against a fixed OOD set."""

    def __init__(self, X_ood: Any, measure: str) -> None:
        self.X_ood = X_ood
        self.measure = measure

    def __call__(self, estimator: Any, X: Any, y: Any = None) -> float:
        return ood_detection_auroc(
            _one_uncertainty(estimator, X, self.measure),
            _one_uncertainty(estimator, self.X_ood, self.measure),
        )

    def __repr__(self) -> str:
        return f"ood_auroc_scorer(X_ood=<{len(self.X_ood)} inputs>, " + (
            f"measure={self.measure!r})"
        )


def ood_auroc_scorer(
    X_ood: ArrayLike, measure: str = "knowledge"
) -> Callable[..., float]:
    """Make a scorer: OOD-detection AUROC of the scored inputs against ``X_ood``.

    The scorer computes ``ood_detection_auroc(u(X), u(X_ood))`` with
    ``u = estimator.predict_uncertainty(·, measure=measure)``; greater is better.
    Estimators without ``predict_uncertainty`` support ``measure="total"``
    (the entropy of ``predict_proba``); Pipelines are unwrapped.

    Parameters
    ----------
    X_ood : array-like of shape (n_ood, n_features)
        Fixed out-of-distribution inputs, in the estimator's input space.
    measure : str, default="knowledge"
        Uncertainty measure, a key of ``predict_uncertainty``'s Bunch.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y=None) -> float``, usable as ``scoring=`` in
        ``GridSearchCV`` or ``cross_validate`` (picklable).

    See Also
    --------
    ood_detection_auroc

    References
    ----------
    .. [1] A. Malinin, B. Mlodozeniec and M. Gales, "Ensemble Distribution
       Distillation", ICLR 2020, arXiv:1905.00076.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skend2.metrics import ood_auroc_scorer
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = LogisticRegression(max_iter=200).fit(X[y < 5] / 16, y[y < 5])
    >>> scorer = ood_auroc_scorer(X[y >= 5] / 16, measure="total")
    >>> 0.5 < scorer(clf, X[y < 5] / 16) <= 1.0
    True
    """
    if not isinstance(measure, str):
        raise TypeError(f"measure must be a string, got {type(measure).__name__}.")
    return _OODAUROCScorer(X_ood, measure)


SCORERS: dict[str, Callable[..., float]] = {
    "neg_expected_calibration_error": ece_scorer,
    "neg_distillation_nll": distillation_nll_scorer,
}
"""skend2's named scorers (greater is better); see :func:`get_scorer`."""


def get_scorer(name: str | Callable[..., float]) -> Callable[..., float]:
    """Scorer by name: one of :data:`SCORERS`, else scikit-learn's.

    Parameters
    ----------
    name : str or callable
        ``"neg_expected_calibration_error"``, ``"neg_distillation_nll"``, or
        anything :func:`sklearn.metrics.get_scorer` accepts (callables are
        passed to it unchanged).

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y) -> float``, greater is better.

    Examples
    --------
    >>> from skend2.metrics import ece_scorer, get_scorer
    >>> get_scorer("neg_expected_calibration_error") is ece_scorer
    True
    >>> get_scorer("accuracy")
    make_scorer(accuracy_score, response_method='predict')
    """
    if isinstance(name, str) and name in SCORERS:
        return SCORERS[name]
    return _sklearn_get_scorer(name)


# ---------------------------------------------------------------------------
# One-call evaluation
# ---------------------------------------------------------------------------


def evaluate_classifier(
    estimator: Any,
    X_test: ArrayLike,
    y_test: ArrayLike,
    X_ood: ArrayLike | None = None,
    *,
    measures: Iterable[str] | None = None,
) -> dict[str, float]:
    """Evaluate a fitted classifier as in the EnD² paper's tables.

    Parameters
    ----------
    estimator : fitted classifier
        Needs ``predict``, ``predict_proba`` and ``classes_``; its
        ``predict_uncertainty`` Bunch gives the uncertainty measures (without one,
        the entropy of ``predict_proba`` serves as the only measure, ``"total"``).
        A Pipeline ending in an skend2 estimator works.
    X_test : array-like of shape (n_samples, n_features)
        In-distribution test inputs.
    y_test : array-like of shape (n_samples,)
        Their labels.
    X_ood : array-like of shape (n_ood, n_features), default=None
        Out-of-distribution inputs; if given, OOD detection is scored.
    measures : iterable of str, default=None
        Uncertainty measures to score OOD detection with; None means all the
        estimator returns.

    Returns
    -------
    results : dict of str to float
        ``"error"`` (misclassification rate in %), ``"nll"``
        (:func:`negative_log_likelihood`), ``"ece"``
        (:func:`expected_calibration_error`, 15 bins), ``"brier"`` (mean over
        inputs of the squared distance between one-hot label and probabilities,
        summed over classes, in [0, 2]), ``"misclassification_auroc"``,
        ``"misclassification_aupr"`` and ``"prr"`` (using the total uncertainty;
        NaN with a warning when all or no predictions are wrong) and, with
        ``X_ood``, ``"ood_auroc_<measure>"`` and ``"ood_aupr_<measure>"`` (OOD
        positive) for each measure (``precision`` negated, so that higher always
        means more uncertain).

    See Also
    --------
    expected_calibration_error, prediction_rejection_ratio, ood_detection_auroc

    References
    ----------
    .. [1] A. Malinin, B. Mlodozeniec and M. Gales, "Ensemble Distribution
       Distillation", ICLR 2020, arXiv:1905.00076.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skend2.metrics import evaluate_classifier
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X / 16
    >>> clf = LogisticRegression(max_iter=200).fit(X[y < 5][::2], y[y < 5][::2])
    >>> res = evaluate_classifier(clf, X[y < 5][1::2], y[y < 5][1::2], X[y >= 5])
    >>> sorted(res)  # doctest: +NORMALIZE_WHITESPACE
    ['brier', 'ece', 'error', 'misclassification_aupr', 'misclassification_auroc',
     'nll', 'ood_aupr_total', 'ood_auroc_total', 'prr']
    >>> res["error"] < 5.0
    True
    """
    y_test = _check_labels_1d(y_test, "y_test")
    classes = np.asarray(estimator.classes_)
    proba = estimator.predict_proba(X_test)
    y_pred = np.asarray(estimator.predict(X_test))
    check_consistent_length(y_test, proba, y_pred)

    results: dict[str, float] = {
        "error": 100.0 * float(np.mean(y_pred != y_test)),
        "nll": negative_log_likelihood(y_test, proba, labels=classes),
        "ece": expected_calibration_error(y_test, proba, labels=classes),
        "brier": float(
            brier_score_loss(y_test, proba, labels=classes, scale_by_half=False)
        ),
    }

    test_uncertainty = _uncertainties(estimator, X_test)
    if "total" in test_uncertainty:
        total = np.asarray(test_uncertainty["total"])
    else:
        total = entropy(proba, axis=1)
    n_errors = int(np.sum(y_pred != y_test))
    if 0 < n_errors < y_test.shape[0]:
        results["misclassification_auroc"] = misclassification_detection_auroc(
            y_test, y_pred, total
        )
        results["misclassification_aupr"] = misclassification_detection_aupr(
            y_test, y_pred, total
        )
        results["prr"] = prediction_rejection_ratio(y_test, y_pred, total)
    else:
        warnings.warn(
            f"{n_errors} of {y_test.shape[0]} test predictions are wrong: "
            "misclassification AUROC/AUPR and PRR are undefined and set to NaN.",
            UserWarning,
            stacklevel=2,
        )
        for key in ("misclassification_auroc", "misclassification_aupr", "prr"):
            results[key] = float("nan")

    if X_ood is not None:
        ood_uncertainty = _uncertainties(estimator, X_ood)
        names = list(test_uncertainty) if measures is None else list(measures)
        missing = [m for m in names if m not in test_uncertainty]
        if missing:
            raise ValueError(
                f"Unknown uncertainty measure(s) {missing}; the estimator returns "
                f"{list(test_uncertainty)}."
            )
        for name in names:
            in_scores = np.asarray(test_uncertainty[name])
            out_scores = np.asarray(ood_uncertainty[name])
            if name == "precision":
                # A Dirichlet's precision grows with certainty: negate it so
                # that, like every other measure, higher means more uncertain.
                in_scores, out_scores = -in_scores, -out_scores
            results[f"ood_auroc_{name}"] = ood_detection_auroc(in_scores, out_scores)
            results[f"ood_aupr_{name}"] = ood_detection_aupr(in_scores, out_scores)
    return results
